//! HTTP/2 (RFC 9113): what its connections mean for reuse. One connection carries
//! many streams at once, so a second connection to the same server is waste unless
//! the first was full (its `SETTINGS_MAX_CONCURRENT_STREAMS`) or going away; and a
//! `GOAWAY` (§6.8) — or a server closing the idle connection without one — ends the
//! conversation, so the client's next request pays for a new handshake.
//!
//! Not for HTTP/1.x connections: `reuse` and `close` judge those.

use super::ctx::{busy_at, last_done_before, list, open_at, Ctx};
use super::digest::Digest;
use super::{secs, side, Emit, Found};
use crate::flow::key::Direction;
use crate::report::figures::{Figures, H2Parallel, H2Reconnect};
use crate::report::model::ConnectionRecord;
use crate::time::Timestamp;
use std::collections::BTreeMap;

/// The first GOAWAY of a connection.
#[derive(Clone, Debug)]
pub struct GoAwayDigest {
    pub from: Direction,
    pub packet: u64,
    pub time: Timestamp,
    pub last_stream_id: u32,
    /// The error code's RFC 9113 name.
    pub error: Box<str>,
}

/// What the HTTP/2 rules remember of a connection that spoke HTTP/2.
#[derive(Clone, Debug)]
pub struct Http2Digest {
    /// The most streams open at once.
    pub max_concurrent: u32,
    /// The server's last `SETTINGS_MAX_CONCURRENT_STREAMS`: a client at this limit may
    /// rightly open another connection.
    pub server_stream_limit: Option<u32>,
    pub goaway: Option<GoAwayDigest>,
}

impl Http2Digest {
    /// The digest of `c`'s HTTP/2 (kept with the digest's rare parts: few connections
    /// have one); None when it did not speak HTTP/2.
    pub fn of(c: &ConnectionRecord) -> Option<Http2Digest> {
        let h2 = c.http2.as_ref()?;
        Some(Http2Digest {
            max_concurrent: h2.max_concurrent_streams,
            server_stream_limit: h2
                .settings
                .iter()
                .filter(|s| s.from == Direction::Server)
                .filter_map(|s| s.max_concurrent_streams)
                .next_back(),
            goaway: h2.goaways.first().map(|g| GoAwayDigest {
                from: g.from,
                packet: g.packet,
                time: g.time,
                last_stream_id: g.last_stream_id,
                error: g.error.as_str().into(),
            }),
        })
    }
}

/// How an HTTP/2 conversation ended: by whom, when, at which packet, and the GOAWAY
/// if one was sent.
struct Ending<'a> {
    by: Direction,
    time: Timestamp,
    packet: u64,
    goaway: Option<&'a GoAwayDigest>,
}

/// The GOAWAY that ended `a`'s HTTP/2, or else the server closing it while no stream
/// was open (`server_idle_close` leaves HTTP/2 connections to this rule).
fn ending<'a>(a: &'a Digest, h2: &'a Http2Digest) -> Option<Ending<'a>> {
    if let Some(g) = &h2.goaway {
        return Some(Ending {
            by: g.from,
            time: g.time,
            packet: g.packet,
            goaway: Some(g),
        });
    }
    let (Some(time), Some(packet)) = (a.close.time, a.close.packet) else {
        return None;
    };
    let idle_close = a.close.by == Some(Direction::Server) && !busy_at(&a.exchanges, time);
    idle_close.then_some(Ending {
        by: Direction::Server,
        time,
        packet,
        goaway: None,
    })
}

/// `h2_goaway_reconnect`: an HTTP/2 connection ended by a GOAWAY (or an idle close),
/// and the same client's next request to the server needed a new connection.
pub(super) fn goaway_reconnect(ctx: &Ctx<'_>, emit: &mut Emit<'_>) {
    for a in &ctx.conns {
        let Some(h2) = a.http2() else {
            continue;
        };
        let Some(end) = ending(a, h2) else { continue };
        let Some(b) = ctx
            .next_connection(a, end.time)
            .filter(|b| b.carries_requests)
        else {
            continue;
        };
        let idle_since = last_done_before(&a.exchanges, end.time)
            .and_then(|x| x.response_end())
            .unwrap_or(a.start);
        let idle = end.time.secs_since(idle_since);
        let idled = if idle >= 1.0 {
            format!(" after it sat idle for {}", secs(idle))
        } else {
            String::new()
        };
        let what = match end.goaway {
            Some(g) => format!(
                "The {} sent GOAWAY ({}, last stream {}) on HTTP/2 connection {}{idled}: it ended the \
                 HTTP/2 conversation",
                side(end.by),
                g.error,
                g.last_stream_id,
                a.id
            ),
            None => format!(
                "The server closed HTTP/2 connection {} ({}){idled} without a GOAWAY",
                a.id,
                a.close.how.as_str().to_uppercase()
            ),
        };
        let why = match (end.by, idle >= 1.0) {
            (Direction::Client, _) => {
                " The client gave up a connection that could have carried it: a client that closes \
                 idle connections early, or a new HTTP client per request."
                    .to_string()
            }
            (Direction::Server, true) => format!(
                " The server's idle timeout (about {}) is shorter than the client's request interval; \
                 a longer server idle timeout would have kept the connection.",
                secs(idle)
            ),
            (Direction::Server, false) => " The server ended a busy connection: a shutdown or \
                 restart, or a limit on a connection's age or streams."
                .to_string(),
        };
        let message = format!(
            "{what}; the client's next request to {} needed a new connection ({}), with its own \
             handshakes.{why}",
            a.server, b.id
        );
        emit(Found {
            connections: vec![a.id, b.id],
            packets: vec![end.packet, b.first_packet],
            message,
            figures: Figures::H2GoawayReconnect(H2Reconnect {
                by: end.by,
                error: end.goaway.map(|g| g.error.to_string()),
                idle_s: idle,
                last_stream_id: end.goaway.map(|g| g.last_stream_id),
                next_connection: b.id,
            }),
        });
    }
}

/// Whether `a` could have carried `b`'s first request: open, not going away, and not
/// at the server's limit of concurrent streams when `b` opened.
fn could_multiplex(a: &Digest, h2: &Http2Digest, b: &Digest) -> bool {
    let t = b.start;
    let going_away = h2.goaway.as_ref().is_some_and(|g| g.time <= t);
    let busy = a
        .exchanges
        .iter()
        .filter(|x| {
            x.request_start()
                .is_some_and(|start| start <= t && t <= x.end())
        })
        .count();
    let full = h2
        .server_stream_limit
        .is_some_and(|limit| busy >= limit as usize);
    open_at(a, t) && !going_away && !full
}

/// `h2_parallel_connections`: two or more HTTP/2 connections from one client host to
/// one server open at the same time, where the first could have multiplexed the
/// other's requests; one finding per client host and server.
pub(super) fn parallel_connections(ctx: &Ctx<'_>, emit: &mut Emit<'_>) {
    let mut found: Vec<Found> = Vec::new();
    for peers in ctx.clients() {
        let h2: Vec<(&Digest, &Http2Digest)> = peers
            .iter()
            .filter_map(|c| c.http2().map(|h| (*c, h)))
            .collect();
        // The connections opened although an earlier one could have carried them, by
        // the earliest such connection's server.
        let mut groups: BTreeMap<u64, Vec<&Digest>> = BTreeMap::new();
        for (i, (b, _)) in h2.iter().enumerate() {
            let first = h2[..i]
                .iter()
                .find(|(a, ah)| ctx.same_server(a, b) && could_multiplex(a, ah, b));
            if let Some((a, _)) = first {
                let root = groups
                    .iter()
                    .find(|(_, g)| g.iter().any(|c| c.id == a.id))
                    .map_or(a.id, |(root, _)| *root);
                let group = groups.entry(root).or_insert_with(|| vec![*a]);
                group.push(b);
            }
        }
        for group in groups.into_values() {
            let peak = group
                .iter()
                .map(|b| {
                    group
                        .iter()
                        .filter(|a| a.id <= b.id && open_at_or_start(a, b))
                        .count()
                })
                .max()
                .unwrap_or(0);
            let most_streams = group
                .iter()
                .filter_map(|c| c.http2().map(|h| h.max_concurrent))
                .max()
                .unwrap_or(0);
            let limit = group
                .iter()
                .filter_map(|c| c.http2().and_then(|h| h.server_stream_limit))
                .min();
            let ids: Vec<u64> = group.iter().map(|c| c.id).collect();
            let (Some(first), Some(client)) = (group.first(), group.first().map(|c| c.client.ip))
            else {
                continue;
            };
            let message = format!(
                "The client {client} had {peak} HTTP/2 connections to {} open at the same time \
                 (connections {}), although one HTTP/2 connection multiplexes many streams: the \
                 busiest carried {most_streams} at once{}. Each extra connection costs its own TCP \
                 and TLS handshakes and starts with a small congestion window. Typical causes: a \
                 new HTTP client or transport per request (in Go, a new http.Transport), or \
                 requests sent before the first connection's handshake finished to a client that \
                 dials for each.",
                first.server,
                list(&ids),
                limit
                    .map(|l| format!(" and the server allows {l}"))
                    .unwrap_or_default()
            );
            found.push(Found {
                connections: ids,
                packets: group.iter().map(|c| c.first_packet).collect(),
                message,
                figures: Figures::H2ParallelConnections(H2Parallel {
                    max_concurrent_streams: most_streams,
                    peak,
                }),
            });
        }
    }
    found.sort_by_key(|f| f.connections.first().copied());
    for f in found {
        emit(f);
    }
}

/// `a` is open when `b` starts (or is `b`).
fn open_at_or_start(a: &Digest, b: &Digest) -> bool {
    a.id == b.id || open_at(a, b.start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::test_support::{figure, find, kinds};
    use crate::findings::{diagnose, Settings};
    use crate::report::exchange::h2_support::{at, conv, goaway, records, Stream};
    use crate::report::model::{Finding, FindingKind};

    fn run(records: &[ConnectionRecord], end: f64) -> Vec<Finding> {
        diagnose(0, records, Some(at(end)), &Settings::default())
    }

    #[test]
    fn a_goaway_after_idle_then_a_new_connection_is_a_reconnect() {
        let first = [Stream(1, 1.0, 1.1)];
        let second = [Stream(1, 32.0, 32.1)];
        let a = conv(40000, 0.0, true, &first, Some(31.2));
        let b = conv(40001, 31.9, true, &second, Some(33.0));
        let mut recs = records(&[(&a, &first), (&b, &second)]);
        goaway(&mut recs[0], Direction::Server, 31.1, 1);
        let found = run(&recs, 33.0);
        let f = find(&found, FindingKind::H2GoawayReconnect);
        assert_eq!(f.connections, vec![1, 2]);
        assert!(
            f.message.starts_with(
                "The server sent GOAWAY (NO_ERROR, last stream 1) on HTTP/2 connection 1 after \
                 it sat idle for 30.0 s: it ended the HTTP/2 conversation; the client's next \
                 request to 10.0.0.2:443 needed a new connection (2)"
            ),
            "{}",
            f.message
        );
        assert_eq!(figure(f, "error"), "NO_ERROR");
        assert_eq!(figure(f, "last_stream_id"), 1);
        assert_eq!(figure(f, "idle_s"), 30.0);
        assert_eq!(figure(f, "by"), "server");
        // Two HTTP/2 connections one after the other are not parallel.
        assert!(
            !kinds(&found).contains(&"h2_parallel_connections"),
            "{found:?}"
        );
    }

    #[test]
    fn an_idle_close_without_goaway_is_a_reconnect_too_but_a_client_close_is_not() {
        let first = [Stream(1, 1.0, 1.1)];
        let second = [Stream(1, 12.0, 12.1)];
        let mut a = conv(40000, 0.0, false, &first, None);
        a.fin(false, 11.1);
        let b = conv(40001, 11.9, false, &second, Some(13.0));
        let mut recs = records(&[(&a, &first), (&b, &second)]);
        // Said once, by this rule, even where the analyzer names the idle close.
        recs[0].http_end = Some(crate::report::model::HttpEnd {
            by: Some(Direction::Server),
            reason: crate::report::model::HttpEndReason::ServerClosedIdle,
        });
        let found = run(&recs, 13.0);
        assert!(!kinds(&found).contains(&"server_idle_close"), "{found:?}");
        let f = find(&found, FindingKind::H2GoawayReconnect);
        assert!(
            f.message
                .starts_with("The server closed HTTP/2 connection 1 (FIN) after it sat idle for 10.0 s without a GOAWAY"),
            "{}",
            f.message
        );
        assert_eq!(figure(f, "error"), serde_json::Value::Null);
        // The client closing its own idle connection is not the server's doing.
        let a = conv(40000, 0.0, false, &first, Some(11.1));
        let recs = records(&[(&a, &first), (&b, &second)]);
        assert!(!kinds(&run(&recs, 13.0)).contains(&"h2_goaway_reconnect"));
    }

    #[test]
    fn two_http2_connections_open_at_once_could_have_been_one() {
        // Two connections each carrying one stream at a time, both open from 1 s to 5 s.
        let first = [Stream(1, 0.5, 0.6), Stream(3, 2.0, 2.1)];
        let second = [Stream(1, 1.5, 1.6)];
        let a = conv(40000, 0.0, true, &first, Some(5.0));
        let b = conv(40001, 1.0, true, &second, Some(5.0));
        let recs = records(&[(&a, &first), (&b, &second)]);
        let found = run(&recs, 6.0);
        let f = find(&found, FindingKind::H2ParallelConnections);
        assert_eq!(f.connections, vec![1, 2]);
        assert_eq!(figure(f, "peak"), 2);
        assert_eq!(figure(f, "max_concurrent_streams"), 1);
        assert!(
            f.message
                .contains("had 2 HTTP/2 connections to 10.0.0.2:443 open at the same time"),
            "{}",
            f.message
        );
        assert!(f.message.contains("the server allows 100"), "{}", f.message);
        // HTTP/1.x's rules leave HTTP/2 pairs to this one.
        assert!(
            !kinds(&found).contains(&"new_connection_while_idle"),
            "{found:?}"
        );
        assert!(
            !kinds(&found).contains(&"parallel_connections"),
            "{found:?}"
        );
    }

    #[test]
    fn a_second_connection_is_no_waste_when_the_first_was_full_or_going_away() {
        let first = [Stream(1, 0.5, 3.0), Stream(3, 0.6, 3.0)];
        let second = [Stream(1, 1.5, 1.6)];
        let a = conv(40000, 0.0, true, &first, Some(5.0));
        let b = conv(40001, 1.0, true, &second, Some(5.0));
        // The server allows two streams, and both were open when the second dialled.
        let mut recs = records(&[(&a, &first), (&b, &second)]);
        if let Some(h2) = &mut recs[0].http2 {
            h2.settings[0].max_concurrent_streams = Some(2);
        }
        assert!(!kinds(&run(&recs, 6.0)).contains(&"h2_parallel_connections"));
        // A GOAWAY before the second connection: the first may take no new streams.
        let mut recs = records(&[(&a, &first), (&b, &second)]);
        goaway(&mut recs[0], Direction::Server, 0.9, 3);
        let found = run(&recs, 6.0);
        assert!(
            !kinds(&found).contains(&"h2_parallel_connections"),
            "{found:?}"
        );
    }

    #[test]
    fn streams_all_at_once_were_never_idle_between() {
        let streams = [
            Stream(1, 1.0, 1.5),
            Stream(3, 1.0, 1.2),
            Stream(5, 1.0, 1.1),
        ];
        let a = conv(40000, 0.0, false, &streams, Some(4.0));
        let found = run(&records(&[(&a, &streams)]), 4.0);
        let f = find(&found, FindingKind::ConnectionReused);
        assert_eq!(
            f.message,
            "3 HTTP/2 streams (up to 3 at once) rode on connection 1 to 10.0.0.2:80, which was \
             kept open and reused."
        );
    }

    #[test]
    fn reuse_under_http2_counts_streams_and_says_how_many_at_once() {
        let streams = [
            Stream(1, 1.0, 1.5),
            Stream(3, 1.1, 1.2),
            Stream(5, 3.0, 3.1),
        ];
        let a = conv(40000, 0.0, true, &streams, Some(4.0));
        let recs = records(&[(&a, &streams)]);
        let found = run(&recs, 4.0);
        let f = find(&found, FindingKind::ConnectionReused);
        assert!(
            f.message.starts_with(
                "3 HTTP/2 streams (up to 2 at once) rode on connection 1 to 10.0.0.2:443, which \
                 was kept open and reused across idle gaps of up to 1.5 s."
            ),
            "{}",
            f.message
        );
        assert_eq!(figure(f, "requests"), 3);
        assert_eq!(figure(f, "max_concurrent_streams"), 2);
    }

    /// The HTTP/2 connections and every finding about them are what the published
    /// schema allows (`http2{}`, `stream_id`, `tls.decryption`, the new kinds' figures).
    #[test]
    fn http2_connections_and_their_findings_match_the_schema() {
        let first = [Stream(1, 1.0, 1.1), Stream(3, 1.05, 1.2)];
        let second = [Stream(1, 1.5, 1.6)];
        let third = [Stream(1, 40.0, 40.1)];
        let a = conv(40000, 0.0, true, &first, Some(31.3));
        let b = conv(40001, 1.4, true, &second, Some(5.0));
        let c = conv(40002, 39.9, true, &third, Some(41.0));
        let mut recs = records(&[(&a, &first), (&b, &second), (&c, &third)]);
        goaway(&mut recs[0], Direction::Server, 31.2, 3);
        crate::report::exchange::h2_support::ping(&mut recs[0], Direction::Client, 20.0, Some(0.2));
        let found = run(&recs, 41.0);
        assert_eq!(
            kinds(&found),
            [
                "connection_reused",
                "h2_goaway_reconnect",
                "h2_parallel_connections"
            ]
        );
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs/connscope.report-1.schema.json");
        let text = std::fs::read_to_string(path).expect("the schema");
        let schema: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let validator = |def: &str| {
            let one = serde_json::json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$ref": format!("#/$defs/{def}"),
                "$defs": schema["$defs"].clone(),
            });
            jsonschema::draft202012::new(&one).expect("the schema compiles")
        };
        let (connection, finding) = (validator("connection"), validator("finding"));
        for r in &recs {
            let value = serde_json::to_value(r).expect("serialise");
            assert!(value["http2"].is_object() && value["http"][0]["stream_id"] == 1);
            let errors: Vec<String> = connection
                .iter_errors(&value)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{errors:?}");
        }
        for f in &found {
            let value = serde_json::to_value(f).expect("serialise");
            let errors: Vec<String> = finding.iter_errors(&value).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{}: {errors:?}", f.kind);
        }
    }
}
