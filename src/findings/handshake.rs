//! Handshakes that failed: TCP's (a SYN refused with an RST or never answered, RFC 9293
//! §3.5) grouped per server, and TLS's (a fatal alert or a close before the handshake
//! completed, RFC 8446 §6).

use super::ctx::{list, Ctx};
use super::{plural, Emit, Found};
use crate::flow::key::Endpoint;
use crate::report::figures::{Figures, HandshakeFailed, HandshakeFailure, TlsFailed};
use crate::report::model::{CloseHow, HandshakeOutcome};
use std::collections::BTreeMap;

pub(super) fn handshake_failed(ctx: &Ctx<'_>, emit: &mut Emit<'_>) {
    /// An attempt: id, SYN retries, SYN packet, RST packet.
    type Tried = (u64, u32, Option<u64>, Option<u64>);
    let mut groups: BTreeMap<(Endpoint, bool), Vec<Tried>> = BTreeMap::new();
    for c in &ctx.conns {
        let Some(h) = &c.handshake else { continue };
        let refused = match h.outcome {
            HandshakeOutcome::Refused => true,
            HandshakeOutcome::Unanswered => false,
            _ => continue,
        };
        let tried = (c.id, h.syn_retries, h.syn_packet(), h.refused_packet());
        groups.entry((c.server, refused)).or_default().push(tried);
    }
    for a in ctx.attempts.iter() {
        let tried = (a.id, a.syn_retries, a.syn_packet(), a.refused_packet());
        groups.entry((a.server, a.refused)).or_default().push(tried);
    }
    for ((server, refused), mut group) in groups {
        group.sort_unstable_by_key(|t| t.0);
        let ids: Vec<u64> = group.iter().map(|t| t.0).collect();
        let retries: u32 = group.iter().map(|t| t.1).fold(0, u32::saturating_add);
        let packets = group.iter().flat_map(|t| [t.2, t.3]).flatten().collect();
        drop(group);
        let what = if refused {
            "was refused: the server answered the SYN with an RST (nothing listening on that port, or a firewall rejecting)".to_string()
        } else {
            format!(
                "got no answer to its SYN{} (the server is down, unreachable, or a firewall drops the packets)",
                if retries > 0 { format!(" despite {}", plural(retries as usize, "retry", "retries")) } else { String::new() }
            )
        };
        let message = format!(
            "{} to {server} {what}.",
            if ids.len() == 1 {
                format!("Connection {}", ids[0])
            } else {
                format!("{} connection attempts ({})", ids.len(), list(&ids))
            }
        );
        emit(Found {
            connections: ids,
            packets,
            message,
            figures: Figures::HandshakeFailed(HandshakeFailed {
                outcome: if refused {
                    HandshakeFailure::Refused
                } else {
                    HandshakeFailure::Unanswered
                },
                syn_retries: retries,
            }),
        });
    }
}

pub(super) fn tls_handshake_failed(ctx: &Ctx<'_>, emit: &mut Emit<'_>) {
    for c in &ctx.conns {
        let Some(t) = c.rare().and_then(|r| r.tls_failure.as_ref()) else {
            continue;
        };
        let (why, packets, by) = match &t.alert {
            Some(a) if a.level == "fatal" => (
                format!(
                    "the {} sent a fatal alert, {}",
                    a.from.as_str(),
                    a.description
                ),
                vec![a.packet],
                Some(a.from),
            ),
            _ => match (c.close.how, c.close.by, c.close.packet) {
                (CloseHow::Open, _, _) => continue, // still in progress at the end of the capture
                (how, Some(by), Some(packet)) => (
                    format!(
                        "the {} closed the connection ({}) before the handshake completed",
                        by.as_str(),
                        how.as_str().to_uppercase()
                    ),
                    vec![packet],
                    Some(by),
                ),
                _ => continue,
            },
        };
        let message = format!(
            "The TLS handshake on connection {} to {}{} failed: {why}.",
            c.id,
            c.server,
            t.sni
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default()
        );
        let mut packets = packets;
        packets.push(t.client_hello_packet);
        emit(Found {
            connections: vec![c.id],
            packets,
            message,
            figures: Figures::TlsHandshakeFailed(TlsFailed { by }),
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::findings::test_support::*;
    use crate::flow::table::tests_support::pkt;
    use crate::report::model::FindingKind;
    use serde_json::Value;

    #[test]
    fn failed_handshakes_grouped_per_server() {
        let mut a = Conv::open(40000, 0.0);
        a.packets.truncate(1); // SYN only
        let mut b = Conv::open(40001, 1.0);
        b.packets.truncate(1);
        b.packets.push(
            crate::flow::table::tests_support::pkt(false, 0, 1.001)
                .rst()
                .ack(40_001_001)
                .between(([10, 0, 0, 1], 40001), ([10, 0, 0, 2], 80)),
        );
        let found = run(&[&a, &b], 2.0);
        let outcomes: Vec<Value> = found
            .iter()
            .filter(|f| f.kind == FindingKind::HandshakeFailed)
            .map(|f| figure(f, "outcome"))
            .collect();
        assert_eq!(outcomes, vec!["unanswered", "refused"]);
    }

    #[test]
    fn an_unanswered_syn_is_a_failed_handshake_not_an_idle_open_connection() {
        let mut a = Conv::open(40000, 0.0);
        a.packets.truncate(1); // SYN only
        let found = run(&[&a], 60.0);
        assert_eq!(kinds(&found), vec!["handshake_failed"]);
    }

    /// A minimal TLS 1.2 record holding a ClientHello that names `sni`.
    fn client_hello(sni: &str) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]); // random
        body.push(0); // session id
        body.extend_from_slice(&[0, 2, 0xc0, 0x2f]); // one cipher suite
        body.extend_from_slice(&[1, 0]); // null compression
        let name_len = sni.len() as u16;
        let mut exts = vec![0, 0]; // server_name
        exts.extend_from_slice(&(name_len + 5).to_be_bytes());
        exts.extend_from_slice(&(name_len + 3).to_be_bytes());
        exts.push(0); // host_name
        exts.extend_from_slice(&name_len.to_be_bytes());
        exts.extend_from_slice(sni.as_bytes());
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        let mut message = vec![1]; // client_hello
        message.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        message.extend_from_slice(&body);
        let mut record = vec![22, 3, 1];
        record.extend_from_slice(&(message.len() as u16).to_be_bytes());
        record.extend_from_slice(&message);
        record
    }

    #[test]
    fn tls_handshake_failed_on_a_fatal_alert() {
        let (client, server) = (([10, 0, 0, 1], 40000), ([10, 0, 0, 2], 443));
        let mut a = Conv::open_to(40000, server, 0.0);
        let hello = client_hello("api.example");
        let (c, s) = (40_000_001, 500_001);
        a.packets.push(
            pkt(true, c, 0.1)
                .ack(s)
                .data(&hello)
                .between(client, server),
        );
        // A fatal (2) handshake_failure (40) alert.
        let alert = [21, 3, 3, 0, 2, 2, 40];
        let acked = c + hello.len() as u32;
        a.packets.push(
            pkt(false, s, 0.2)
                .ack(acked)
                .data(&alert)
                .between(client, server),
        );
        let found = run(&[&a], 1.0);
        let f = find(&found, FindingKind::TlsHandshakeFailed);
        assert_eq!(
            f.message,
            "The TLS handshake on connection 1 to 10.0.0.2:443 (api.example) failed: the server \
             sent a fatal alert, handshake_failure."
        );
        assert_eq!(f.packets, vec![5, 4]);
        assert_eq!(figure(f, "by"), "server");
        // The same hello answered by a ServerHello-less close is still in progress only
        // while the connection is open.
        let mut open = Conv::open_to(40000, server, 0.0);
        open.packets.push(
            pkt(true, c, 0.1)
                .ack(s)
                .data(&hello)
                .between(client, server),
        );
        assert!(run(&[&open], 1.0)
            .iter()
            .all(|f| f.kind != FindingKind::TlsHandshakeFailed));
    }
}
