//! Reuse: was a connection kept and used again, and where a client opened new ones
//! instead, was that pooling under load or a connection left idle (RFC 9112 §9.3,
//! persistence).

use super::ctx::{busy_at, last_done_before, list, open_at, requests_word, rtt_ms, Ctx};
use super::digest::Digest;
use super::{plural, secs, side, Emit, Found, PROBE_RHYTHM_MIN_S};
use crate::flow::key::{Direction, Endpoint};
use crate::report::figures::{Churn, Count, Figures, Parallel, Reused, WhileIdle};
use crate::report::model::{CloseHow, HttpEndReason};
use crate::time::Timestamp;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// `connection_churn`: at least this many connections to one server.
const CHURN_MIN_CONNECTIONS: usize = 3;

/// Median spacing of consecutive probes from one side, in seconds.
fn probe_interval(c: &Digest, from: Direction) -> Option<f64> {
    let times: Vec<Timestamp> = c
        .probes
        .iter()
        .filter(|p| p.from == from)
        .map(|p| p.time)
        .collect();
    let mut gaps: Vec<f64> = times.windows(2).map(|w| w[1].secs_since(w[0])).collect();
    if gaps.is_empty() {
        return None;
    }
    gaps.sort_by(f64::total_cmp);
    Some(gaps[gaps.len() / 2])
}

pub(super) fn connection_reused(ctx: &Ctx<'_>, emit: &mut Emit<'_>) {
    let conns = &ctx.conns;
    for c in conns.iter().filter(|c| c.requests >= 2) {
        let gap = c.max_request_gap_s;
        // HTTP/2 reuses a connection by opening streams on it, one after another or at once.
        let streams = c.http2().map(|h| h.max_concurrent);
        let at_once = match streams {
            Some(n) if n >= 2 => format!(" (up to {n} at once)"),
            Some(_) => " (one after another)".to_string(),
            None => String::new(),
        };
        // Streams that followed each other at once never left the connection idle.
        let gaps = if streams.is_some() && gap < 0.001 {
            String::new()
        } else {
            format!(" across idle gaps of up to {}", secs(gap))
        };
        let mut message = format!(
            "{}{at_once} rode on connection {} to {}, which was kept open and reused{gaps}.",
            requests_word(c, c.requests as usize),
            c.id,
            c.server,
        );
        let mut figs = Reused {
            client_probes: None,
            max_concurrent_streams: streams,
            max_idle_s: gap,
            requests: c.requests,
            server_probes: None,
        };
        for from in [Direction::Client, Direction::Server] {
            let n = c.probes.iter().filter(|p| p.from == from).count();
            if n == 0 {
                continue;
            }
            // Probes bunched closer than this are no keep-alive timer's rhythm.
            let every = probe_interval(c, from)
                .filter(|s| *s >= PROBE_RHYTHM_MIN_S)
                .map(|s| format!(" every {}", secs(s)))
                .unwrap_or_default();
            let answered = c
                .probes
                .iter()
                .filter(|p| p.from == from && p.acked)
                .count();
            message.push_str(&format!(
                " While it idled, the {} sent {}{every} ({} answered).",
                side(from),
                plural(n, "TCP keep-alive probe", "TCP keep-alive probes"),
                if answered == n {
                    "all".to_string()
                } else {
                    format!("{answered} of {n}")
                }
            ));
            let probes = match from {
                Direction::Client => &mut figs.client_probes,
                Direction::Server => &mut figs.server_probes,
            };
            *probes = Some(n);
        }
        let packets = c
            .exchanges
            .iter()
            .filter_map(|x| x.request_packet())
            .collect();
        emit(Found {
            connections: vec![c.id],
            packets,
            message,
            figures: Figures::ConnectionReused(figs),
        });
    }
}

pub(super) fn new_connection_while_idle(ctx: &Ctx<'_>, emit: &mut Emit<'_>) {
    let mut found = Vec::new();
    for peers in ctx.clients() {
        // Sweep this client's connections in order, keeping those still open.
        let mut open: Vec<&Digest> = Vec::new();
        for b in peers {
            let t = b.start;
            open.retain(|a| a.close.time.is_none_or(|closed| closed > t));
            if b.carries_requests {
                // The earlier connection to the same server that had been idle longest;
                // between two HTTP/2 connections that is `h2_parallel_connections`.
                let idle = open
                    .iter()
                    .filter(|a| a.http2().is_none() || b.http2().is_none())
                    .filter(|a| ctx.same_server(a, b) && open_at(a, t) && !busy_at(&a.exchanges, t))
                    .filter_map(|a| last_done_before(&a.exchanges, t).map(|x| (*a, x)))
                    .max_by(|(_, x), (_, y)| y.response_end().cmp(&x.response_end()));
                if let Some(pair) = idle {
                    found.push((*b, pair));
                }
            }
            open.push(b);
        }
    }
    found.sort_by_key(|(b, _)| b.id);
    for (b, idle) in found {
        let t = b.start;
        let (a, last) = idle;
        let since = last.response_end().map_or(0.0, |e| t.secs_since(e));
        let until = match (a.close.how, a.close.time) {
            (CloseHow::Open, _) | (_, None) => {
                "sat idle (no FIN or RST of it was captured before the capture ended)".to_string()
            }
            (_, Some(closed)) => {
                format!(
                    "sat idle and open (it stayed open another {}, until {})",
                    secs(closed.secs_since(t)),
                    closed.time_of_day()
                )
            }
        };
        // Only a captured SYN shows the client opening the connection then; without
        // one, its first packet is merely the first one seen.
        let opened = if b
            .handshake
            .as_ref()
            .is_some_and(|h| h.syn_packet().is_some())
        {
            format!(
                "At {} the client {} opened connection {}",
                t.time_of_day(),
                b.client.ip,
                b.id
            )
        } else {
            format!(
                "At {} the client {} used connection {} (its SYN was not captured: it was already open \
                 when the capture started, or the SYN was lost)",
                t.time_of_day(),
                b.client.ip,
                b.id
            )
        };
        let message = format!(
            "{opened} to {} although connection {} to the same server had \
             finished its last exchange {} earlier and {until}. The idle connection \
             was not handed back to the client's connection pool. Typical causes: a response body that was \
             not read to the end and closed (in Go, resp.Body), a new HTTP client or transport created per \
             request, or a pool limit on idle connections.",
            b.server,
            a.id,
            secs(since)
        );
        let mut packets: Vec<u64> = last.response_end_packet().into_iter().collect();
        packets.push(b.first_packet);
        emit(Found {
            connections: vec![a.id, b.id],
            packets,
            message,
            figures: Figures::NewConnectionWhileIdle(WhileIdle {
                idle_connection: a.id,
                idle_for_s: since,
            }),
        });
    }
}

pub(super) fn parallel_connections(ctx: &Ctx<'_>, emit: &mut Emit<'_>) {
    let conns = &ctx.conns;
    let mut by_server: BTreeMap<_, Vec<&Digest>> = BTreeMap::new();
    // Busy HTTP/2 connections could still multiplex: `h2_parallel_connections` judges them.
    for c in conns
        .iter()
        .filter(|c| c.carries_requests && c.http2().is_none())
    {
        by_server.entry(c.server).or_default().push(c);
    }
    for (server, group) in by_server {
        // Sweep the busy intervals: +1 at a request's start, -1 at its response's end.
        let mut edges: Vec<(Timestamp, i32, u64)> = Vec::new();
        for c in &group {
            for x in &c.exchanges {
                if let Some(start) = x.request_start() {
                    edges.push((start, 1, c.id));
                    edges.push((x.end(), -1, c.id));
                }
            }
        }
        edges.sort_by_key(|&(t, delta, id)| (t, delta, id));
        let mut busy: BTreeMap<u64, i32> = BTreeMap::new();
        let mut peak: Option<(usize, Timestamp, Vec<u64>)> = None;
        for (t, delta, id) in edges {
            let n = busy.entry(id).or_default();
            *n += delta;
            if *n <= 0 {
                busy.remove(&id);
            }
            if busy.len() >= 2 && peak.as_ref().is_none_or(|(p, _, _)| busy.len() > *p) {
                peak = Some((busy.len(), t, busy.keys().copied().collect()));
            }
        }
        let Some((count, at, ids)) = peak else {
            continue;
        };
        let message = format!(
            "{count} connections to {server} each had a request outstanding at {} (connections {}). \
             Busy connections are not idle, so opening another is normal connection pooling, not a reuse \
             failure.",
            at.time_of_day(),
            ids.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
        );
        let packets = ids
            .iter()
            .filter_map(|id| group.iter().find(|c| c.id == *id))
            .filter_map(|c| {
                c.exchanges
                    .iter()
                    .find(|x| x.request_start().is_some_and(|s| s <= at) && x.end() >= at)
                    .and_then(|x| x.request_packet())
            })
            .collect();
        emit(Found {
            connections: ids,
            packets,
            message,
            figures: Figures::ParallelConnections(Parallel { peak: count }),
        });
    }
}

pub(super) fn no_reuse(ctx: &Ctx<'_>, emit: &mut Emit<'_>) {
    let conns = &ctx.conns;
    let mut groups: BTreeMap<(IpAddr, Endpoint), Vec<&Digest>> = BTreeMap::new();
    for c in conns {
        let plain_client_close = c.requests == 1
            && c.http_end
                .is_some_and(|e| e.reason == HttpEndReason::ClientClosedIdle);
        if plain_client_close {
            groups.entry((c.client.ip, c.server)).or_default().push(c);
        }
    }
    for ((client, server), group) in groups {
        // In sequence: each opened after the previous one closed.
        let sequential = group
            .windows(2)
            .all(|w| w[0].close.time.is_some_and(|closed| closed <= w[1].start));
        if group.len() < 2 || !sequential {
            continue;
        }
        let ids: Vec<u64> = group.iter().map(|c| c.id).collect();
        let packets = group.iter().filter_map(|c| c.close.packet).collect();
        let message = format!(
            "{} from {client} to {server} each carried a single request and were closed by the client \
             with no protocol reason (no Connection: close, not HTTP/1.0), one after another: connections {}. \
             Typically a new HTTP client, or a new process, per request.",
            plural(ids.len(), "connection", "connections"),
            list(&ids)
        );
        emit(Found {
            connections: ids,
            packets,
            message,
            figures: Figures::NoReuse(Count { count: group.len() }),
        });
    }
}

pub(super) fn connection_churn(ctx: &Ctx<'_>, emit: &mut Emit<'_>) {
    let conns = &ctx.conns;
    let mut by_server: BTreeMap<Endpoint, Vec<&Digest>> = BTreeMap::new();
    for c in conns
        .iter()
        .filter(|c| c.carries_requests && c.requests > 0)
    {
        by_server.entry(c.server).or_default().push(c);
    }
    for (server, group) in by_server {
        let requests: u64 = group.iter().map(|c| c.requests).sum();
        if group.len() < CHURN_MIN_CONNECTIONS || requests > group.len() as u64 {
            continue;
        }
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let span = last.start.secs_since(first.start);
        let saved = group.len() - 1;
        let rtts: Vec<f64> = group.iter().filter_map(|c| rtt_ms(c)).collect();
        let mean_rtt = (!rtts.is_empty()).then(|| rtts.iter().sum::<f64>() / rtts.len() as f64);
        let message = format!(
            "{} connections to {server} in {} carried {requests} requests: none was reused. Reusing one \
             connection would have saved {} handshakes{}.",
            group.len(),
            secs(span),
            saved,
            mean_rtt.map(|ms| format!(" (≈ {:.1} ms of round trips)", ms * saved as f64)).unwrap_or_default()
        );
        let ids: Vec<u64> = group.iter().map(|c| c.id).collect();
        let packets = group.iter().map(|c| c.first_packet).collect();
        emit(Found {
            connections: ids,
            packets,
            message,
            figures: Figures::ConnectionChurn(Churn {
                count: group.len(),
                handshakes_saved: saved,
                requests,
            }),
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::findings::test_support::*;
    use crate::report::model::{FindingKind, Severity};

    #[test]
    fn reused_connection_with_probes() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(0.2, OK);
        a.client_probe(15.2, true).client_probe(30.2, true);
        a.request(45.2, GET).response(45.3, OK).fin(true, 46.0);
        let found = run(&[&a], 46.0);
        assert_eq!(kinds(&found), vec!["connection_reused"]);
        let f = &found[0];
        assert!(
            f.message.contains("2 requests rode on connection 1"),
            "{}",
            f.message
        );
        assert!(
            f.message
                .contains("2 TCP keep-alive probes every 15.0 s (all answered)"),
            "{}",
            f.message
        );
        assert_eq!(figure(f, "client_probes"), 2);
    }

    #[test]
    fn new_connection_while_idle_and_not_for_another_server() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(0.2, OK).fin(true, 9.0);
        let mut b = Conv::open(40001, 2.0);
        b.request(2.1, GET).response(2.2, OK).fin(true, 3.0);
        let found = run(&[&a, &b], 9.0);
        let f = find(&found, FindingKind::NewConnectionWhileIdle);
        assert_eq!(f.connections, vec![1, 2]);
        assert_eq!(f.severity, Severity::Warning);
        assert!(
            f.message
                .contains("finished its last exchange 1.8 s earlier"),
            "{}",
            f.message
        );
        // The same timing against a different server (and Host) is no reuse failure.
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(0.2, OK).fin(true, 9.0);
        let mut b = Conv::open_to(40001, ([10, 0, 0, 3], 80), 2.0);
        b.request(2.1, "GET / HTTP/1.1\r\nHost: other.example\r\n\r\n")
            .response(2.2, OK)
            .fin(true, 3.0);
        let found = run(&[&a, &b], 9.0);
        assert!(
            !kinds(&found).contains(&"new_connection_while_idle"),
            "{:?}",
            kinds(&found)
        );
    }

    #[test]
    fn parallel_connections_are_not_idle() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(1.0, OK).fin(true, 2.0);
        let mut b = Conv::open(40001, 0.3);
        b.request(0.5, GET).response(0.8, OK).fin(true, 2.0);
        let found = run(&[&a, &b], 2.0);
        let f = find(&found, FindingKind::ParallelConnections);
        assert_eq!(figure(f, "peak"), 2);
        assert_eq!(f.connections, vec![1, 2]);
        assert!(!kinds(&found).contains(&"new_connection_while_idle"));
    }

    #[test]
    fn no_reuse_one_request_per_connection_closed_by_client() {
        let mut convs = Vec::new();
        for i in 0..3u16 {
            let at = f64::from(i) * 2.0;
            let mut c = Conv::open(40000 + i, at);
            c.request(at + 0.1, GET)
                .response(at + 0.2, OK)
                .fin(true, at + 0.3);
            convs.push(c);
        }
        let refs: Vec<&Conv> = convs.iter().collect();
        let found = run(&refs, 7.0);
        let f = find(&found, FindingKind::NoReuse);
        assert_eq!(f.connections, vec![1, 2, 3]);
        let churn = find(&found, FindingKind::ConnectionChurn);
        assert_eq!(figure(churn, "handshakes_saved"), 2);
    }

    /// The bug: `connection_churn` wrote its count under `connections`, the name of the
    /// ids every finding has, so its JSON object had that key twice.
    #[test]
    fn connection_churn_count_is_not_a_second_connections_key() {
        let mut convs = Vec::new();
        for i in 0..3u16 {
            let at = f64::from(i) * 2.0;
            let mut c = Conv::open(40000 + i, at);
            c.request(at + 0.1, GET).response(at + 0.2, OK);
            c.fin(true, at + 0.3);
            convs.push(c);
        }
        let refs: Vec<&Conv> = convs.iter().collect();
        for f in run(&refs, 7.0) {
            let json = serde_json::to_string(&f).expect("serialises");
            assert_eq!(json.matches("\"connections\":").count(), 1, "{json}");
        }
        let found = run(&refs, 7.0);
        assert_eq!(
            figure(find(&found, FindingKind::ConnectionChurn), "count"),
            3
        );
    }

    #[test]
    fn a_connection_without_a_captured_syn_is_used_not_opened() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(0.2, OK);
        let mut b = Conv::open(40001, 2.0);
        b.request(2.1, GET).response(2.2, OK);
        b.packets.drain(..3); // the capture missed its handshake
        let found = run(&[&a, &b], 9.0);
        let f = find(&found, FindingKind::NewConnectionWhileIdle);
        assert!(
            f.message.contains(
                "the client 10.0.0.1 used connection 2 (its SYN was not captured: it was already \
                 open when the capture started, or the SYN was lost)"
            ),
            "{}",
            f.message
        );
        assert!(!f.message.contains("opened connection 2"), "{}", f.message);
        // Connection 1 was never seen closing: the finding says that, not "still open".
        assert!(
            f.message
                .contains("sat idle (no FIN or RST of it was captured before the capture ended)"),
            "{}",
            f.message
        );
    }

    /// The bug: two probes in the same instant were "sent every 0.0 ms".
    #[test]
    fn probes_in_one_burst_have_no_rhythm() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(0.2, OK);
        a.client_probe(5.0, true).client_probe(5.0001, true);
        a.request(9.0, GET).response(9.1, OK).fin(true, 9.5);
        let found = run(&[&a], 10.0);
        let f = find(&found, FindingKind::ConnectionReused);
        assert!(!f.message.contains(" every "), "{}", f.message);
    }
}
