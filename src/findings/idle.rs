//! Idle connections: reset after a quiet spell (an idle timeout somewhere), TCP
//! keep-alive probes nobody answered (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6), and
//! connections still open, quiet, when the capture ended.

use super::ctx::Ctx;
use super::digest::Digest;
use super::{plural, secs, side, Emit, Found, Settings};
use crate::flow::key::Direction;
use crate::report::figures::{Figures, Idle, IdleReset, Unanswered};
use crate::report::model::{CloseHow, HandshakeOutcome, HttpEndReason};
use crate::time::Timestamp;

/// `idle_reset`: quiet for at least this long before the RST.
pub(super) const IDLE_RESET_MIN_S: f64 = 1.0;

pub(super) fn idle_reset(ctx: &Ctx<'_>, emit: &mut Emit<'_>) {
    let conns = &ctx.conns;
    for c in conns {
        let (CloseHow::Rst, Some(by), Some(at), Some(packet)) =
            (c.close.how, c.close.by, c.close.time, c.close.packet)
        else {
            continue;
        };
        let established = c
            .handshake
            .as_ref()
            .is_none_or(|h| h.outcome == HandshakeOutcome::Completed);
        let outstanding = c
            .http_end
            .is_some_and(|e| e.reason == HttpEndReason::ClosedDuringExchange);
        let Some(last) = c.last_payload() else {
            continue;
        };
        let quiet = at.secs_since(last.time);
        // A reset that gives up on unanswered keep-alive probes is the prober's verdict
        // on a dead peer (`keepalive_unanswered`), not an idle timeout.
        let gave_up = c
            .probes
            .iter()
            .any(|p| p.from == by && !p.acked && p.time <= at);
        if !established || outstanding || gave_up || quiet < IDLE_RESET_MIN_S {
            continue;
        }
        let who = match by {
            Direction::Server => "the server, or a middlebox in front of it (NAT, firewall, load balancer),",
            Direction::Client => "the client (a pool discarding it with an abortive close), or a middlebox on its side,",
        };
        let message = format!(
            "An RST from the {} ended connection {} to {} after it had carried no data either way for {} \
             (nothing was sent into it): {who} dropped the idle connection — an idle timeout of about {}.",
            side(by),
            c.id,
            c.server,
            secs(quiet),
            secs(quiet)
        );
        emit(Found {
            connections: vec![c.id],
            packets: vec![last.packet, packet],
            message,
            figures: Figures::IdleReset(IdleReset { by, idle_s: quiet }),
        });
    }
}

pub(super) fn keepalive_unanswered(ctx: &Ctx<'_>, emit: &mut Emit<'_>) {
    let conns = &ctx.conns;
    for c in conns {
        let unanswered: Vec<_> = c.probes.iter().filter(|p| !p.acked).collect();
        let Some(last) = unanswered.last() else {
            continue;
        };
        let prober = last.from;
        let then = match (c.close.how, c.close.by, c.close.time) {
            (CloseHow::Rst, Some(by), Some(t)) if by == prober && t >= last.time => {
                format!(
                    "then the {} reset the connection (packet {})",
                    side(by),
                    c.close.packet.unwrap_or(0)
                )
            }
            (CloseHow::Open, _, _) => {
                "then the capture ended with no FIN or RST captured on the connection".to_string()
            }
            (how, Some(by), Some(_)) => format!(
                "the connection was later closed ({} by the {})",
                how.as_str().to_uppercase(),
                side(by)
            ),
            _ => "nothing followed".to_string(),
        };
        let message = format!(
            "{} from the {} on connection {} got no answer — the peer ({}) is gone or unreachable; {then}.",
            plural(unanswered.len(), "TCP keep-alive probe", "TCP keep-alive probes"),
            side(prober),
            c.id,
            match prober {
                Direction::Client => c.server,
                Direction::Server => c.client,
            }
        );
        let mut packets: Vec<u64> = unanswered.iter().map(|p| p.packet).collect();
        packets.extend(c.close.packet.filter(|_| c.close.how == CloseHow::Rst));
        emit(Found {
            connections: vec![c.id],
            packets,
            message,
            figures: Figures::KeepaliveUnanswered(Unanswered {
                unanswered: unanswered.len(),
            }),
        });
    }
}

pub(super) fn idle_open_connection(
    conns: &[&Digest],
    capture_end: Option<Timestamp>,
    settings: &Settings,
    emit: &mut Emit<'_>,
) {
    let Some(end) = capture_end else { return };
    // An attempt nobody answered is not a connection anyone holds open:
    // `handshake_failed` reports it. Nor is a SYN-ACK the client never acknowledged
    // with nothing sent after it (a half-open scan probe, a client that gave up).
    let failed = |c: &Digest| {
        c.handshake.as_ref().is_some_and(|h| match h.outcome {
            HandshakeOutcome::Unanswered | HandshakeOutcome::Refused => true,
            HandshakeOutcome::NoFinalAck => c.last_payload().is_none(),
            _ => false,
        })
    };
    for c in conns
        .iter()
        .filter(|c| c.close.how == CloseHow::Open && !failed(c))
    {
        let quiet_since = c.last_payload().map_or(c.start, |p| p.time);
        let quiet = end.secs_since(quiet_since);
        if quiet < settings.idle_open_s {
            continue;
        }
        let probes_after = c.probes.iter().filter(|p| p.time >= quiet_since).count();
        let what = if probes_after > 0 {
            format!(
                "only {} crossed it",
                plural(probes_after, "keep-alive probe", "keep-alive probes")
            )
        } else {
            "nothing crossed it".to_string()
        };
        let message = format!(
            "No FIN or RST of connection {} to {} was captured, and it had carried no data for the \
             capture's last {} ({what}): a connection a pool holds for reuse, or one that leaked.",
            c.id,
            c.server,
            secs(quiet)
        );
        let mut packets: Vec<u64> = c.last_payload().map(|p| p.packet).into_iter().collect();
        if packets.last() != Some(&c.last_packet) {
            packets.push(c.last_packet);
        }
        emit(Found {
            connections: vec![c.id],
            packets,
            message,
            figures: Figures::IdleOpenConnection(Idle { idle_s: quiet }),
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::findings::test_support::*;
    use crate::report::model::FindingKind;

    #[test]
    fn unanswered_probes_then_reset() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(0.2, OK);
        a.client_probe(10.0, false)
            .client_probe(11.0, false)
            .rst(true, 12.0);
        let found = run(&[&a], 12.0);
        let f = find(&found, FindingKind::KeepaliveUnanswered);
        assert_eq!(figure(f, "unanswered"), 2);
        assert!(
            f.message.contains("then the client reset the connection"),
            "{}",
            f.message
        );
    }

    #[test]
    fn idle_open_connection_at_the_end() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET)
            .response(0.2, OK)
            .client_probe(5.0, true);
        let found = run(&[&a], 30.0);
        let f = find(&found, FindingKind::IdleOpenConnection);
        assert!(
            f.message.contains("only 1 keep-alive probe crossed it"),
            "{}",
            f.message
        );
        // Built on an absence: says what was not captured rather than "still open".
        assert!(
            f.message
                .starts_with("No FIN or RST of connection 1 to 10.0.0.2:80 was captured"),
            "{}",
            f.message
        );
        assert!(run(&[&a], 5.0)
            .iter()
            .all(|f| f.kind != FindingKind::IdleOpenConnection));
    }

    #[test]
    fn an_unacknowledged_synack_is_not_an_idle_open_connection() {
        let mut a = Conv::open(40000, 0.0);
        a.packets.truncate(2); // SYN, SYN-ACK; the client never acknowledges
        let found = run(&[&a], 60.0);
        assert!(
            found
                .iter()
                .all(|f| f.kind != FindingKind::IdleOpenConnection),
            "{:?}",
            kinds(&found)
        );
    }

    /// The bug: "packets 1076, 1076" when the last payload was the last packet.
    #[test]
    fn idle_open_connection_lists_a_packet_once() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET);
        let found = run(&[&a], 30.0);
        let f = find(&found, FindingKind::IdleOpenConnection);
        assert_eq!(f.packets, vec![4], "{f:?}");
    }

    #[test]
    fn idle_reset_after_a_quiet_spell() {
        // Reset after 5 s of silence: an idle timeout somewhere.
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(0.2, OK).rst(false, 5.2);
        let found = run(&[&a], 6.0);
        let f = find(&found, FindingKind::IdleReset);
        assert_eq!(figure(f, "idle_s"), 5.0);
        assert_eq!(figure(f, "by"), "server");
        // Half a second of quiet is no idle timeout.
        let mut b = Conv::open(40000, 0.0);
        b.request(0.1, GET).response(0.2, OK).rst(false, 0.7);
        assert!(!kinds(&run(&[&b], 6.0)).contains(&"idle_reset"));
    }
}
