//! The HTTP/2 part of a connection's story (RFC 9113): streams that overlap drawn as
//! one multiplexed stretch, the SETTINGS each side announced, PINGs and their answers
//! (HTTP/2's own keep-alive, beside TCP's probes), GOAWAY (who ended the HTTP
//! conversation) and RST_STREAM. Reads the connection's `http2{}` block and its
//! exchanges; the parent module orders and numbers the phases.

use super::{secs, Draft};
use crate::flow::key::Direction;
use crate::report::model::{ConnectionRecord, Exchange, Http2Ping, Http2Via, PhaseKind};
use crate::time::Timestamp;

/// More PINGs (or resets) than this from one side are told as one phase.
const EACH_UP_TO: usize = 4;

/// How a stream reused the connection, said after its exchange: opened while others
/// were still open (multiplexed), or after the connection had gone quiet.
pub(super) fn reuse_text(x: Exchange<'_>, open: &[u32], quiet_since: Option<Timestamp>) -> String {
    let start = x.request_start().or(x.response_start());
    match (open, start, quiet_since) {
        ([], Some(start), Some(quiet)) => format!(
            "; a new stream on this connection {} after the last one ended",
            secs(start.secs_since(quiet))
        ),
        ([], _, _) => String::new(),
        ([one], _, _) => format!("; opened while stream {one} was still open (multiplexed)"),
        (many, _, _) => format!(
            "; opened while streams {} were still open (multiplexed)",
            ids(many)
        ),
    }
}

fn ids(streams: &[u32]) -> String {
    let shown: Vec<String> = streams.iter().take(8).map(u32::to_string).collect();
    match streams.len() {
        n if n > 8 => format!("{}, … ({n} in all)", shown.join(", ")),
        _ => shown.join(", "),
    }
}

/// The HTTP/2 phases of `c`: multiplexed stretches, SETTINGS, PINGs, GOAWAYs, resets.
pub(super) fn phases(c: &ConnectionRecord, out: &mut Vec<Draft>) {
    let Some(h2) = &c.http2 else { return };
    multiplexed(c, out);
    for (i, s) in h2.settings.iter().enumerate() {
        let mut said = Vec::new();
        if let Some(n) = s.max_concurrent_streams {
            said.push(format!("at most {n} concurrent streams"));
        }
        if let Some(n) = s.initial_window_size {
            said.push(format!("initial window {n} B"));
        }
        if let Some(n) = s.max_frame_size {
            said.push(format!("frames up to {n} B"));
        }
        if s.enable_push == Some(0) {
            said.push("no server push".into());
        }
        let begins = match (i, h2.via) {
            (0, Http2Via::PriorKnowledge) => "HTTP/2 begins (h2c, prior knowledge): ",
            (0, Http2Via::Upgrade) => "HTTP/2 begins (h2c, after Upgrade): ",
            (0, Http2Via::Tls) => "HTTP/2 begins (ALPN h2): ",
            _ => "",
        };
        let what = if said.is_empty() {
            "defaults".to_string()
        } else {
            said.join(", ")
        };
        let acked = if s.ack_packet.is_some() {
            "acknowledged"
        } else {
            "no acknowledgement captured"
        };
        out.push(Draft {
            kind: PhaseKind::Handshake,
            time: s.time,
            duration_s: None,
            first_packet: Some(s.packet),
            last_packet: s.ack_packet.or(Some(s.packet)),
            text: format!("{begins}{} SETTINGS: {what}; {acked}", s.from.as_str()),
        });
    }
    for from in [Direction::Client, Direction::Server] {
        let pings: Vec<&Http2Ping> = h2.pings.iter().filter(|p| p.from == from).collect();
        if pings.len() > EACH_UP_TO {
            out.push(ping_group(&pings));
        } else {
            out.extend(pings.into_iter().map(ping));
        }
    }
    for g in &h2.goaways {
        let debug = g
            .debug
            .as_deref()
            .filter(|d| !d.is_empty())
            .map(|d| format!(" \"{d}\""))
            .unwrap_or_default();
        out.push(Draft {
            kind: PhaseKind::Close,
            time: g.time,
            duration_s: None,
            first_packet: Some(g.packet),
            last_packet: Some(g.packet),
            text: format!(
                "{} sent GOAWAY ({}, last stream {}){debug}: it ended the HTTP/2 conversation",
                g.from.as_str(),
                g.error,
                g.last_stream_id
            ),
        });
    }
    for from in [Direction::Client, Direction::Server] {
        let resets: Vec<_> = h2.resets.iter().filter(|r| r.from == from).collect();
        let (Some(first), Some(last)) = (resets.first(), resets.last()) else {
            continue;
        };
        if resets.len() > EACH_UP_TO {
            let streams: Vec<u32> = resets.iter().map(|r| r.stream_id).collect();
            out.push(Draft {
                kind: PhaseKind::Alert,
                time: first.time,
                duration_s: Some(last.time.secs_since(first.time)),
                first_packet: Some(first.packet),
                last_packet: Some(last.packet),
                text: format!(
                    "{} reset {} streams (RST_STREAM): {}",
                    from.as_str(),
                    resets.len(),
                    ids(&streams)
                ),
            });
            continue;
        }
        for r in resets {
            out.push(Draft {
                kind: PhaseKind::Alert,
                time: r.time,
                duration_s: None,
                first_packet: Some(r.packet),
                last_packet: Some(r.packet),
                text: format!(
                    "{} reset stream {} (RST_STREAM {})",
                    from.as_str(),
                    r.stream_id,
                    r.error
                ),
            });
        }
    }
}

fn ping(p: &Http2Ping) -> Draft {
    let answer = match p.rtt_ms {
        Some(ms) => format!("answered in {}", secs(ms / 1000.0)),
        None if p.ack_packet.is_some() => "answered".to_string(),
        None => "unanswered".to_string(),
    };
    Draft {
        kind: PhaseKind::Keepalive,
        time: p.time,
        duration_s: p.rtt_ms.map(|ms| ms / 1000.0),
        first_packet: Some(p.packet),
        last_packet: p.ack_packet.or(Some(p.packet)),
        text: format!(
            "{} PING, {answer} — HTTP/2's own keep-alive",
            p.from.as_str()
        ),
    }
}

fn ping_group(pings: &[&Http2Ping]) -> Draft {
    let (first, last) = (pings[0], pings[pings.len() - 1]);
    let answered = pings.iter().filter(|p| p.ack_packet.is_some()).count();
    let every = last.time.secs_since(first.time) / (pings.len() - 1) as f64;
    let mut rtts: Vec<f64> = pings.iter().filter_map(|p| p.rtt_ms).collect();
    rtts.sort_by(f64::total_cmp);
    let answers = match answered {
        a if a == pings.len() => "all answered".to_string(),
        0 => "none answered".to_string(),
        a => format!("{a} of {} answered", pings.len()),
    };
    let median = rtts
        .get(rtts.len() / 2)
        .map(|ms| format!(", median answer {}", secs(ms / 1000.0)))
        .unwrap_or_default();
    Draft {
        kind: PhaseKind::Keepalive,
        time: first.time,
        duration_s: Some(last.time.secs_since(first.time)),
        first_packet: Some(first.packet),
        last_packet: last.ack_packet.or(Some(last.packet)),
        text: format!(
            "{} PINGs from the {} every {}, {answers}{median} — HTTP/2's own keep-alive",
            pings.len(),
            first.from.as_str(),
            secs(every)
        ),
    }
}

/// Each stretch where streams overlapped: which streams, and the most open at once.
fn multiplexed(c: &ConnectionRecord, out: &mut Vec<Draft>) {
    // (start, end, stream, first packet, last packet) of each stream.
    type Span = (Timestamp, Timestamp, u32, Option<u64>, Option<u64>);
    let mut spans: Vec<Span> = c
        .exchanges()
        .filter_map(|x| {
            let start = x.request_start().or(x.response_start())?;
            let end = x.response_end().or(x.request_end()).unwrap_or(c.end);
            let last = x.response_end_packet().or(x.response_packet());
            Some((start, end, x.stream_id()?, x.request_packet(), last))
        })
        .collect();
    spans.sort_by_key(|s| (s.0, s.2));
    let mut i = 0;
    while i < spans.len() {
        // One stretch: streams each starting before the stretch so far has ended.
        let mut end = spans[i].1;
        let mut j = i + 1;
        while j < spans.len() && spans[j].0 < end {
            end = end.max(spans[j].1);
            j += 1;
        }
        let stretch = &spans[i..j];
        i = j;
        if stretch.len() < 2 {
            continue;
        }
        let mut edges: Vec<(Timestamp, i32)> =
            stretch.iter().flat_map(|s| [(s.0, 1), (s.1, -1)]).collect();
        edges.sort();
        let (mut open, mut peak) = (0, 0);
        for (_, d) in edges {
            open += d;
            peak = peak.max(open);
        }
        let streams: Vec<u32> = stretch.iter().map(|s| s.2).collect();
        let start = stretch[0].0;
        out.push(Draft {
            kind: PhaseKind::Exchange,
            time: start,
            duration_s: Some(end.secs_since(start)),
            first_packet: stretch[0].3,
            last_packet: stretch.iter().filter_map(|s| s.4).max(),
            text: if peak as usize == streams.len() {
                format!(
                    "streams {} open at once ({peak} concurrent): HTTP/2 multiplexes them on this \
                     one connection",
                    ids(&streams)
                )
            } else {
                format!(
                    "streams {} overlap, up to {peak} open at once: HTTP/2 multiplexes them on \
                     this one connection",
                    ids(&streams)
                )
            },
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::flow::key::Direction;
    use crate::report::exchange::h2_support::{conv, goaway, ping, records, Stream};
    use crate::report::model::{ConnectionRecord, PhaseKind};
    use crate::story::timeline;

    fn texts(c: &ConnectionRecord) -> Vec<(PhaseKind, String)> {
        timeline(c)
            .phases
            .into_iter()
            .map(|p| (p.kind, p.text))
            .collect()
    }

    fn said(t: &[(PhaseKind, String)], start: &str) -> String {
        t.iter()
            .find(|(_, x)| x.starts_with(start))
            .map(|(_, x)| x.clone())
            .unwrap_or_else(|| panic!("no phase starting {start:?} in {t:#?}"))
    }

    /// A Go client's three requests at once on one h2 connection in decrypted TLS, a
    /// fourth later; PINGs while idle; the server's GOAWAY.
    #[test]
    fn concurrent_streams_pings_and_goaway_read_as_one_reused_http2_connection() {
        let streams = [
            Stream(1, 1.0, 1.3),
            Stream(3, 1.0, 1.2),
            Stream(5, 1.1, 1.4),
            Stream(7, 4.0, 4.1),
        ];
        let a = conv(40000, 0.0, true, &streams, Some(9.0));
        let mut recs = records(&[(&a, &streams)]);
        let c = &mut recs[0];
        ping(c, Direction::Client, 2.5, Some(0.2));
        ping(c, Direction::Client, 3.5, None);
        goaway(c, Direction::Server, 8.0, 7);
        let t = texts(c);
        let tls = t
            .iter()
            .find(|(k, x)| *k == PhaseKind::Handshake && x.starts_with("TLS"))
            .map(|(_, x)| x.as_str());
        assert!(
            tls.is_some_and(
                |x| x.contains(", ALPN h2,") && x.ends_with(", decrypted with the key log")
            ),
            "{t:#?}"
        );
        assert_eq!(
            said(&t, "streams "),
            "streams 1, 3, 5 open at once (3 concurrent): HTTP/2 multiplexes them on this one \
             connection"
        );
        assert!(
            said(
                &t,
                "HTTP/2 stream 3 (exchange 2): GET api.example/item/3 → 200"
            )
            .ends_with("; opened while stream 1 was still open (multiplexed)"),
            "{t:#?}"
        );
        assert!(
            said(&t, "HTTP/2 stream 5 (exchange 3)")
                .ends_with("; opened while streams 1, 3 were still open (multiplexed)"),
            "{t:#?}"
        );
        assert!(
            said(&t, "HTTP/2 stream 7 (exchange 4)")
                .ends_with("; a new stream on this connection 2.6 s after the last one ended"),
            "{t:#?}"
        );
        assert_eq!(
            said(&t, "client PING, answered"),
            "client PING, answered in 0.2 ms — HTTP/2's own keep-alive"
        );
        assert_eq!(
            said(&t, "client PING, un"),
            "client PING, unanswered — HTTP/2's own keep-alive"
        );
        assert_eq!(
            said(&t, "HTTP/2 begins"),
            "HTTP/2 begins (ALPN h2): server SETTINGS: at most 100 concurrent streams, initial \
             window 65535 B; acknowledged"
        );
        assert_eq!(
            said(&t, "server sent GOAWAY"),
            "server sent GOAWAY (NO_ERROR, last stream 7): it ended the HTTP/2 conversation"
        );
        // Nothing is told as inferred once decrypted.
        assert!(!t.iter().any(|(_, x)| x.contains("inferred")), "{t:#?}");
    }

    #[test]
    fn many_pings_from_one_side_are_one_phase() {
        let streams = [Stream(1, 1.0, 1.1)];
        let a = conv(40000, 0.0, false, &streams, Some(80.0));
        let mut recs = records(&[(&a, &streams)]);
        let c = &mut recs[0];
        for i in 0..5 {
            ping(c, Direction::Client, 15.0 * (i + 1) as f64, Some(0.3));
        }
        let t = texts(c);
        assert_eq!(
            said(&t, "5 PINGs"),
            "5 PINGs from the client every 15.0 s, all answered, median answer 0.3 ms — HTTP/2's \
             own keep-alive"
        );
        assert_eq!(
            said(&t, "HTTP/2 begins"),
            "HTTP/2 begins (h2c, prior knowledge): server SETTINGS: at most 100 concurrent \
             streams, initial window 65535 B; acknowledged"
        );
    }
}
