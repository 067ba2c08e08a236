//! Closes that ended reuse: the server's idle timeout, `Connection: close` and
//! HTTP/1.0 (RFC 9112 §9.6, §9.3), a per-connection request cap, and the pool race
//! where a request went into a connection the server had just dropped (RFC 9112 §9.3.1
//! on retrying).

use super::ctx::{last_done_before, list, Ctx};
use super::digest::{self, Digest};
use super::idle::IDLE_RESET_MIN_S;
use super::{plural, secs, side, Emit, Found};
use crate::flow::key::{Direction, Endpoint};
use crate::report::figures::{Figures, PreventedBy, RequestCap, Retry, ServerIdleClose};
use crate::report::model::{CloseHow, HttpEndReason};
use std::collections::BTreeMap;

/// `server_request_cap`: a server close this soon after the last response is "right after".
const RIGHT_AFTER_S: f64 = 1.0;
/// `stale_connection_reset`: the retry must follow within this long.
const RETRY_WITHIN_S: f64 = 30.0;

pub(super) fn server_idle_close(ctx: &Ctx<'_>, emit: &mut Emit<'_>) {
    let conns = &ctx.conns;
    for a in conns {
        let Some(end) = a.http_end else { continue };
        // An HTTP/2 connection's idle close is `h2_goaway_reconnect`'s.
        if end.reason != HttpEndReason::ServerClosedIdle || a.http2().is_some() {
            continue;
        }
        let (Some(closed), Some(close_packet)) = (a.close.time, a.close.packet) else {
            continue;
        };
        let Some(last) = last_done_before(&a.exchanges, closed) else {
            continue;
        };
        let idle = last.response_end().map_or(0.0, |e| closed.secs_since(e));
        let Some(b) = ctx.next_connection(a, closed) else {
            continue;
        };
        let Some(next_request) = &b.exchanges.first().and_then(|x| x.request_start()) else {
            continue;
        };
        let interval = last.request_start().map(|s| next_request.secs_since(s));
        let advertised = last.keep_alive_timeout();
        let mut message = format!(
            "The server closed connection {} ({} by {}) after it sat idle for {}; the client's next request \
             to it{} needed a new connection ({}). The server's keep-alive timeout (about {}) is shorter than \
             the client's request interval.",
            a.id,
            a.close.how.as_str().to_uppercase(),
            side(Direction::Server),
            secs(idle),
            interval.map(|s| format!(", {} after the previous one,", secs(s))).unwrap_or_default(),
            b.id,
            secs(idle)
        );
        if let Some(timeout) = advertised {
            let agrees = (idle - timeout as f64).abs() <= (timeout as f64 * 0.1).max(1.0);
            message.push_str(&format!(
                " The server had advertised Keep-Alive: timeout={timeout}, which {} the close observed.",
                if agrees { "agrees with" } else { "does not match" }
            ));
        }
        emit(Found {
            connections: vec![a.id, b.id],
            packets: vec![close_packet, b.first_packet],
            message,
            figures: Figures::ServerIdleClose(ServerIdleClose {
                advertised_timeout_s: advertised,
                idle_s: idle,
                next_connection: b.id,
            }),
        });
    }
}

/// `Connection: close` and HTTP/1.0 without keep-alive: grouped per client host,
/// server and reason, reported only where another connection followed.
pub(super) fn header_prevented_reuse(ctx: &Ctx<'_>, emit: &mut Emit<'_>) {
    let conns = &ctx.conns;
    let mut groups: BTreeMap<(std::net::IpAddr, Endpoint, Direction, bool), Vec<&Digest>> =
        BTreeMap::new();
    for a in conns {
        let Some(end) = a.http_end else { continue };
        let Some(by) = end.by else { continue };
        let http10 = match end.reason {
            HttpEndReason::ClientConnectionClose | HttpEndReason::ServerConnectionClose => false,
            HttpEndReason::Http10NoKeepAlive => true,
            _ => continue,
        };
        let Some(after) = a.close.time.or(Some(a.end)) else {
            continue;
        };
        if ctx.next_connection(a, after).is_none() {
            continue;
        }
        groups
            .entry((a.client.ip, a.server, by, http10))
            .or_default()
            .push(a);
    }
    for ((client, server, by, http10), group) in groups {
        let ids: Vec<u64> = group.iter().map(|c| c.id).collect();
        let packets: Vec<u64> = group
            .iter()
            .filter_map(|c| {
                let x = &c.exchanges.last()?;
                match by {
                    Direction::Client => x.request_packet(),
                    Direction::Server => x.response_packet(),
                }
            })
            .collect();
        let n = ids.len();
        let (of, why): (fn(PreventedBy) -> Figures, String) = if http10 {
            (
                Figures::Http10NoKeepalive,
                format!(
                    "the {} spoke HTTP/1.0 without Connection: keep-alive, and HTTP/1.0 closes after each response",
                    side(by)
                ),
            )
        } else {
            (
                Figures::ConnectionCloseHeader,
                format!("the {} sent Connection: close", side(by)),
            )
        };
        let message = format!(
            "Reuse was prevented on {} from {client} to {server}: {why}, so the next request needed a new connection.",
            if n == 1 { format!("connection {}", ids[0]) } else { format!("{n} connections ({})", list(&ids)) },
        );
        emit(Found {
            connections: ids,
            packets,
            message,
            figures: of(PreventedBy { by, count: n }),
        });
    }
}

pub(super) fn server_request_cap(ctx: &Ctx<'_>, emit: &mut Emit<'_>) {
    let conns = &ctx.conns;
    let mut groups: BTreeMap<(Endpoint, u64), Vec<&Digest>> = BTreeMap::new();
    for c in conns.iter().filter(|c| c.requests >= 2) {
        let Some(end) = c.http_end else { continue };
        let Some(last) = &c.exchanges.last() else {
            continue;
        };
        let right_after = match end.reason {
            HttpEndReason::ServerConnectionClose => true,
            HttpEndReason::ServerClosedIdle => match (c.close.time, last.response_end()) {
                (Some(closed), Some(done)) => closed.secs_since(done) < RIGHT_AFTER_S,
                _ => false,
            },
            _ => false,
        };
        if right_after {
            groups.entry((c.server, c.requests)).or_default().push(c);
        }
    }
    for ((server, n), group) in groups.into_iter().filter(|(_, g)| g.len() >= 2) {
        let ids: Vec<u64> = group.iter().map(|c| c.id).collect();
        let advertised_max = group.iter().find_map(|c| c.keep_alive_max());
        let message = format!(
            "The server {server} itself closed {} right after {n} requests each, without the client asking for \
             Connection: close: a per-connection request limit{}.",
            plural(ids.len(), "connection", "connections"),
            match advertised_max {
                Some(m) => format!(" (it advertised Keep-Alive: max={m})"),
                None => " (a Keep-Alive max or a server setting)".to_string(),
            }
        );
        let packets = group.iter().filter_map(|c| c.close.packet).collect();
        emit(Found {
            connections: ids,
            packets,
            message,
            figures: Figures::ServerRequestCap(RequestCap { requests: n }),
        });
    }
}

pub(super) fn stale_connection_reset(ctx: &Ctx<'_>, emit: &mut Emit<'_>) {
    let conns = &ctx.conns;
    for a in conns {
        let Some(last) = a.rare().and_then(|r| r.unanswered_reuse.as_ref()) else {
            continue;
        };
        let (Some(closed), true) = (a.close.time, last.idle_before_s >= IDLE_RESET_MIN_S) else {
            continue;
        };
        let sent = last.sent;
        let retry = ctx.same_client(a).iter().find(|b| {
            b.id > a.id
                && ctx.same_server(a, b)
                && b.start >= sent
                && b.start.secs_since(closed) <= RETRY_WITHIN_S
                && b.first_request
                    == digest::request_line_hash(
                        last.line.method.as_deref(),
                        last.line.target.as_deref(),
                    )
        });
        let Some(b) = retry else { continue };
        let message = format!(
            "The client sent {} {} on connection {} after it had sat idle for {}, and got {} from the server \
             instead of a response; it sent the request again on a new connection ({}). The classic pool race: \
             the server had already dropped the idle connection.",
            last.line.method.as_deref().unwrap_or("a request"),
            last.line.target.as_deref().unwrap_or(""),
            a.id,
            secs(last.idle_before_s),
            if a.close.how == CloseHow::Rst { "an RST" } else { "a FIN" },
            b.id
        );
        let packets = [
            last.line.packet,
            a.close.packet,
            b.exchanges.first().and_then(|x| x.request_packet()),
        ]
        .into_iter()
        .flatten()
        .collect();
        emit(Found {
            connections: vec![a.id, b.id],
            packets,
            message,
            figures: Figures::StaleConnectionReset(Retry {
                retry_connection: b.id,
            }),
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::findings::test_support::*;
    use crate::report::model::FindingKind;

    #[test]
    fn server_idle_close_with_advertised_timeout() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET)
            .response(
                0.2,
                "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n",
            )
            .fin(false, 5.2);
        let mut b = Conv::open(40001, 10.0);
        b.request(10.1, GET).response(10.2, OK);
        let found = run(&[&a, &b], 11.0);
        let f = find(&found, FindingKind::ServerIdleClose);
        assert_eq!(f.connections, vec![1, 2]);
        assert!(
            f.message.contains("after it sat idle for 5.0 s"),
            "{}",
            f.message
        );
        assert!(
            f.message.contains("Keep-Alive: timeout=5, which agrees"),
            "{}",
            f.message
        );
        assert_eq!(figure(f, "advertised_timeout_s"), 5);
    }

    #[test]
    fn connection_close_and_http10_name_the_side() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            .response(0.2, OK)
            .fin(false, 0.3);
        let mut b = Conv::open(40001, 1.0);
        b.request(1.1, GET)
            .response(1.2, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
            .fin(false, 1.3);
        let mut c = Conv::open(40002, 2.0);
        c.request(2.1, GET).response(2.2, OK);
        let found = run(&[&a, &b, &c], 3.0);
        let close = find(&found, FindingKind::ConnectionCloseHeader);
        assert_eq!(close.connections, vec![1]);
        assert!(close.message.contains("the client sent Connection: close"));
        let http10 = find(&found, FindingKind::Http10NoKeepalive);
        assert_eq!(http10.connections, vec![2]);
        assert_eq!(figure(http10, "by"), "server");
    }

    #[test]
    fn server_request_cap() {
        let close = "HTTP/1.1 200 OK\r\nConnection: close\r\nKeep-Alive: max=2\r\nContent-Length: 0\r\n\r\n";
        let mut convs = Vec::new();
        for i in 0..2u16 {
            let at = f64::from(i) * 3.0;
            let mut c = Conv::open(40000 + i, at);
            c.request(at + 0.1, GET)
                .response(at + 0.2, OK)
                .request(at + 0.3, GET)
                .response(at + 0.4, close)
                .fin(false, at + 0.5);
            convs.push(c);
        }
        let refs: Vec<&Conv> = convs.iter().collect();
        let found = run(&refs, 7.0);
        let f = find(&found, FindingKind::ServerRequestCap);
        assert_eq!(figure(f, "requests"), 2);
        assert!(f.message.contains("Keep-Alive: max=2"), "{}", f.message);
    }

    #[test]
    fn stale_connection_reset_then_a_retry() {
        // A request sent into an idle connection the server had dropped, then retried.
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET)
            .response(0.2, OK)
            .request(10.0, GET)
            .rst(false, 10.001);
        let mut b = Conv::open(40001, 10.01);
        b.request(10.02, GET).response(10.03, OK);
        let found = run(&[&a, &b], 11.0);
        let f = find(&found, FindingKind::StaleConnectionReset);
        assert_eq!(f.connections, vec![1, 2]);
        assert!(
            !kinds(&found).contains(&"idle_reset"),
            "something was sent into it"
        );
    }
}
