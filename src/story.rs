//! The story of a connection: its record turned into numbered phases in time order —
//! handshake, each exchange and how long after the previous one it reused the
//! connection, idle periods with their keep-alive probes grouped, retransmission
//! bursts, zero windows, and the close — the walkthrough one would otherwise write by
//! hand from Wireshark. Derived here once; `report::timeline` only prints it.

use crate::findings::secs;
use crate::flow::key::Direction;
use crate::report::model::{
    CloseHow, ConnectionRecord, DecryptionStatus, Exchange, HandshakeOutcome, Phase, PhaseKind,
    Probe, Protocol, TcpEventKind, Timeline,
};
use crate::time::Timestamp;

mod http2;

/// Events closer together than this form one burst.
const BURST_GAP_S: f64 = 1.0;

struct Draft {
    kind: PhaseKind,
    time: Timestamp,
    duration_s: Option<f64>,
    first_packet: Option<u64>,
    last_packet: Option<u64>,
    text: String,
}

fn packets(first: Option<u64>, last: Option<u64>) -> (Option<u64>, Option<u64>) {
    (first, last.or(first))
}

pub fn timeline(c: &ConnectionRecord) -> Timeline {
    let mut drafts = Vec::new();
    handshake(c, &mut drafts);
    tls_handshake(c, &mut drafts);
    // Without exchanges a TLS connection's handshake phase tells what happened; other
    // connections without exchanges show their data.
    if c.requests_inferred || c.exchanges().len() > 0 {
        exchanges(c, &mut drafts);
    } else {
        data(c, &mut drafts);
    }
    http2::phases(c, &mut drafts);
    tcp_events(c, &mut drafts);
    close(c, &mut drafts);
    // Stable order: by time, then by kind, so a close after an exchange at the same
    // instant stays after it.
    drafts.sort_by_key(|d| (d.time, d.kind));
    let phases = drafts
        .into_iter()
        .enumerate()
        .map(|(i, d)| Phase {
            index: i as u32 + 1,
            kind: d.kind,
            time: d.time,
            offset_s: d.time.secs_since(c.start),
            duration_s: d.duration_s,
            first_packet: d.first_packet,
            last_packet: d.last_packet,
            text: d.text,
        })
        .collect();
    Timeline {
        connection: c.id,
        input: c.input,
        client: c.client,
        server: c.server,
        start: c.start,
        phases,
    }
}

fn handshake(c: &ConnectionRecord, out: &mut Vec<Draft>) {
    let Some(h) = &c.handshake else {
        out.push(Draft {
            kind: PhaseKind::Handshake,
            time: c.start,
            duration_s: None,
            first_packet: Some(c.first_packet),
            last_packet: Some(c.first_packet),
            // Only the absence is known: the SYN may predate the capture or be lost.
            text: "no handshake captured: the connection was already open at its first captured \
                   packet (opened before the capture started, or its SYN was lost)"
                .into(),
        });
        return;
    };
    let retries = match h.syn_retries {
        0 => String::new(),
        n => format!(
            ", after {n} SYN {}",
            if n == 1 { "retry" } else { "retries" }
        ),
    };
    let text = match h.outcome {
        HandshakeOutcome::Completed if h.completed_off_capture => {
            format!("TCP handshake completed (SYN-ACK not captured){retries}")
        }
        HandshakeOutcome::Completed => format!(
            "TCP handshake (SYN, SYN-ACK, ACK){retries}, RTT {}",
            h.rtt_ms.map_or("-".into(), |ms| format!("{ms:.3} ms"))
        ),
        HandshakeOutcome::NoFinalAck => {
            format!("SYN answered by SYN-ACK{retries}; the client's ACK was not captured")
        }
        HandshakeOutcome::SynMissed => {
            "handshake seen from the SYN-ACK on (the SYN was not captured)".into()
        }
        HandshakeOutcome::Refused => format!("SYN refused by the server's RST{retries}"),
        HandshakeOutcome::Unanswered => format!("SYN never answered{retries}"),
    };
    let first = h.syn_packet.or(h.synack_packet);
    let last = h
        .ack_packet
        .or(h.refused_packet)
        .or(h.synack_packet)
        .or(first);
    let duration_s = h.rtt_ms.map(|ms| ms / 1000.0);
    out.push(Draft {
        kind: PhaseKind::Handshake,
        time: c.start,
        duration_s,
        first_packet: first,
        last_packet: last,
        text,
    });
}

fn exchange_text(x: Exchange<'_>) -> String {
    let Some(x) = x.http() else {
        let mut text = format!(
            "encrypted exchange {} (inferred): {} B up, {} B down",
            x.index(),
            x.request_bytes(),
            x.response_bytes()
        );
        if let (Some(start), Some(end)) = (x.request_start(), x.response_end()) {
            text.push_str(&format!(" in {}", secs(end.secs_since(start))));
        }
        return text;
    };
    let request = match (&x.method, &x.target) {
        // Origin form (`/path`) is shown after the host; authority form (CONNECT) alone.
        (Some(m), Some(t)) if t.starts_with('/') => {
            format!("{m} {}{t}", x.host.as_deref().unwrap_or(""))
        }
        (Some(m), Some(t)) => format!("{m} {t}"),
        (Some(m), None) => m.to_string(),
        _ => "a response without a captured request".into(),
    };
    let response = match (x.status, &x.reason) {
        (Some(s), Some(r)) if !r.is_empty() => format!("{s} {r}"),
        (Some(s), _) => s.to_string(),
        (None, _) => "no response".into(),
    };
    let mut text = match x.stream_id {
        Some(id) => format!(
            "HTTP/2 stream {id} (exchange {}): {request} → {response}",
            x.index
        ),
        None => format!("HTTP exchange {}: {request} → {response}", x.index),
    };
    if !x.interim.is_empty() {
        let interim: Vec<String> = x.interim.iter().map(u16::to_string).collect();
        text.push_str(&format!(" (after {})", interim.join(", ")));
    }
    let took = match (x.request_start.or(x.response_start), x.response_end) {
        (Some(start), Some(end)) => Some(secs(end.secs_since(start))),
        _ => None,
    };
    match (x.status.is_some() && !x.response_complete, took) {
        // A cut-off response has no duration, only how much of it was seen.
        (true, Some(took)) => {
            text.push_str(&format!(", response incomplete (captured for {took})"))
        }
        (true, None) => text.push_str(", response incomplete"),
        (false, Some(took)) => text.push_str(&format!(" in {took}")),
        (false, None) => {}
    }
    text.push_str(&format!(
        ", {} B up, {} B down",
        x.request_body_bytes, x.response_body_bytes
    ));
    text
}

fn exchanges(c: &ConnectionRecord, out: &mut Vec<Draft>) {
    let encrypted = c.requests_inferred;
    let mut previous_end: Option<(Timestamp, u64)> = None;
    // HTTP/2 streams may overlap: those still open, and when the last one ended.
    let mut open_streams: Vec<(u32, Timestamp)> = Vec::new();
    for x in c.exchanges() {
        let start = x.request_start().or(x.response_start()).unwrap_or(c.start);
        if let Some(id) = x.stream_id() {
            open_streams.retain(|&(_, end)| end > start);
            let open: Vec<u32> = open_streams.iter().map(|&(id, _)| id).collect();
            let quiet_since = previous_end.map(|(end, _)| end).filter(|e| *e <= start);
            if let (true, Some((end, end_packet))) = (open.is_empty(), previous_end) {
                idle(c, end, Some(end_packet), start, x.request_packet(), out);
            }
            let mut text = exchange_text(x);
            text.push_str(&http2::reuse_text(x, &open, quiet_since));
            push_exchange(x, start, text, out);
            let end = x.response_end().or(x.request_end()).unwrap_or(c.end);
            open_streams.push((id, end));
            let end_packet = x.response_end_packet().or(x.response_packet());
            if let Some(packet) = end_packet {
                if previous_end.is_none_or(|(latest, _)| end >= latest) {
                    previous_end = Some((end, packet));
                }
            }
            continue;
        }
        if let (Some((end, end_packet)), Some(gap)) = (previous_end, x.idle_before_s()) {
            idle(c, end, Some(end_packet), start, x.request_packet(), out);
            let mut text = exchange_text(x);
            text.push_str(&format!(
                "; reuses this connection {} after exchange {}",
                secs(gap),
                x.index().saturating_sub(1)
            ));
            push_exchange(x, start, text, out);
        } else {
            push_exchange(x, start, exchange_text(x), out);
        }
        if let (Some(end), Some(packet)) = (
            x.response_end(),
            x.response_end_packet().or(x.response_packet()),
        ) {
            previous_end = Some((end, packet));
        }
    }
    if let (Some(t), false) = (&c.tunnel, encrypted) {
        out.push(Draft {
            kind: PhaseKind::Tunnel,
            time: c
                .exchanges()
                .next_back()
                .and_then(Exchange::response_start)
                .unwrap_or(c.start),
            duration_s: None,
            first_packet: Some(t.packet),
            last_packet: Some(c.last_packet),
            text: format!(
                "the connection becomes {} tunnel{}: no more HTTP is parsed",
                match t.kind {
                    "upgrade" => "an upgrade",
                    "connect" => "a CONNECT",
                    other => other,
                },
                t.protocol
                    .as_deref()
                    .map(|p| format!(" ({p})"))
                    .unwrap_or_default()
            ),
        });
        return;
    }
    // After the last exchange: idle until the close or the end of the capture.
    if let Some((end, packet)) = previous_end {
        let until = c.close.time.unwrap_or(c.end);
        idle(c, end, Some(packet), until, c.close.packet, out);
    }
}

/// The TLS handshake: ClientHello to the first application data, what was negotiated,
/// and an alert when one was visible.
fn tls_handshake(c: &ConnectionRecord, out: &mut Vec<Draft>) {
    let Some(t) = &c.tls else { return };
    let Some(start) = t.handshake_start else {
        return;
    };
    let mut parts = vec![format!(
        "{} handshake",
        t.version.as_deref().unwrap_or("TLS")
    )];
    if let Some(sni) = &t.sni {
        parts.push(format!("SNI {sni}"));
    }
    if let Some(cipher) = &t.cipher {
        parts.push(cipher.clone());
    }
    if let Some(alpn) = &t.alpn {
        parts.push(format!("ALPN {alpn}"));
    } else if !t.alpn_offered.is_empty() {
        parts.push(format!("ALPN offered {}", t.alpn_offered.join(",")));
    }
    if t.resumed == Some(true) {
        parts.push("resumed session".into());
    }
    let mut text = parts.join(", ");
    match (t.handshake_complete, t.handshake_ms) {
        (true, Some(ms)) => text.push_str(&format!(", {}", secs(ms / 1000.0))),
        (false, _) => text.push_str(", never completed"),
        _ => {}
    }
    match &t.decryption {
        _ if t.decrypted => text.push_str(", decrypted with the key log"),
        Some(d) => text.push_str(&format!(
            ", not decrypted: {}",
            decryption_failure(d.status)
        )),
        None => {}
    }
    if t.exchanges_estimated && !t.decrypted {
        text.push_str(" (HTTP/2 possible: exchanges are an estimate)");
    }
    out.push(Draft {
        kind: PhaseKind::Handshake,
        time: start,
        duration_s: t.handshake_ms.map(|ms| ms / 1000.0),
        first_packet: t.client_hello_packet,
        last_packet: t
            .exchanges
            .first()
            .map(|x| x.client_packet)
            .or(t.server_hello_packet),
        text,
    });
    if let Some(alert) = &t.alert {
        out.push(Draft {
            kind: PhaseKind::Alert,
            time: alert.time,
            duration_s: None,
            first_packet: Some(alert.packet),
            last_packet: Some(alert.packet),
            // An encrypted alert shows only its record type: no level to name.
            text: if alert.level == "encrypted" {
                format!(
                    "the {} sends an encrypted TLS alert: {}",
                    alert.from.as_str(),
                    alert
                        .description
                        .strip_prefix("encrypted ")
                        .unwrap_or(&alert.description)
                )
            } else {
                format!(
                    "the {} sends a TLS alert: {} {}",
                    alert.from.as_str(),
                    alert.level,
                    alert.description
                )
            },
        });
    }
}

/// Why a connection with key logs given was not (wholly) decrypted, in words.
fn decryption_failure(status: DecryptionStatus) -> &'static str {
    match status {
        DecryptionStatus::Decrypted => "decrypted",
        DecryptionStatus::NoKey => "the key log has no secrets for this connection",
        DecryptionStatus::UnsupportedCipher => "its cipher suite is not one connscope decrypts",
        DecryptionStatus::AuthenticationFailed => {
            "a record failed to authenticate (wrong key, or damaged bytes)"
        }
        DecryptionStatus::CaptureLoss => "capture loss inside the encrypted stream",
        DecryptionStatus::NoHandshake => "its handshake was not captured",
    }
}

fn push_exchange(x: Exchange<'_>, start: Timestamp, text: String, out: &mut Vec<Draft>) {
    let end = x.response_end().or(x.request_end());
    let (first, last) = packets(
        x.request_packet().or(x.response_packet()),
        x.response_end_packet()
            .or(x.response_packet())
            .or(x.request_end_packet()),
    );
    out.push(Draft {
        kind: PhaseKind::Exchange,
        time: start,
        duration_s: end.map(|e| e.secs_since(start)),
        first_packet: first,
        last_packet: last,
        text,
    });
}

/// An idle stretch from `from` to `to`, with the keep-alive probes inside it grouped.
fn idle(
    c: &ConnectionRecord,
    from: Timestamp,
    from_packet: Option<u64>,
    to: Timestamp,
    to_packet: Option<u64>,
    out: &mut Vec<Draft>,
) {
    let length = to.secs_since(from);
    let probes: Vec<&Probe> = c
        .keepalive
        .probes
        .iter()
        .filter(|p| p.time > from && p.time <= to)
        .collect();
    if length < 1.0 && probes.is_empty() {
        return;
    }
    out.push(Draft {
        kind: PhaseKind::Idle,
        time: from,
        duration_s: Some(length),
        first_packet: from_packet,
        last_packet: to_packet,
        text: format!("idle for {}", secs(length)),
    });
    for from_side in [Direction::Client, Direction::Server] {
        let group: Vec<&&Probe> = probes.iter().filter(|p| p.from == from_side).collect();
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let answered = group.iter().filter(|p| p.acked).count();
        let spacing = match group.len() {
            n if n >= 2 => last.time.secs_since(first.time) / (n - 1) as f64,
            _ => 0.0,
        };
        let every = if spacing >= crate::findings::PROBE_RHYTHM_MIN_S {
            format!(" every {}", secs(spacing))
        } else {
            String::new()
        };
        let answers = match (answered, group.len()) {
            (a, n) if a == n && n == 1 => "answered".to_string(),
            (a, n) if a == n => "all answered".to_string(),
            (0, 1) => "unanswered".to_string(),
            (0, _) => "none answered".to_string(),
            (a, n) => format!("{a} of {n} answered"),
        };
        let text = if group.len() == 1 {
            format!(
                "TCP keep-alive probe from the {}, {answers}",
                from_side.as_str()
            )
        } else {
            format!(
                "{} TCP keep-alive probes from the {}{every}, {answers}",
                group.len(),
                from_side.as_str()
            )
        };
        out.push(Draft {
            kind: PhaseKind::Keepalive,
            time: first.time,
            duration_s: Some(last.time.secs_since(first.time)),
            first_packet: Some(first.packet),
            last_packet: last.ack_packet.or(Some(last.packet)),
            text,
        });
    }
}

/// Non-HTTP payload: data between the idle periods.
fn data(c: &ConnectionRecord, out: &mut Vec<Draft>) {
    let Some(last) = c.last_payload else {
        // No payload at all: idle from the handshake to the close or the end.
        let from = c
            .handshake
            .as_ref()
            .and_then(|h| h.ack_packet)
            .unwrap_or(c.first_packet);
        let since = c.start;
        idle(
            c,
            since,
            Some(from),
            c.close.time.unwrap_or(c.end),
            c.close.packet.or(Some(c.last_packet)),
            out,
        );
        return;
    };
    let mut periods = c
        .idle
        .as_ref()
        .map(|i| i.periods.clone())
        .unwrap_or_default();
    periods.sort_by_key(|p| p.from_packet);
    let what = if c.protocol == Protocol::Unknown {
        "data (protocol not recognised)"
    } else {
        "data"
    };
    out.push(Draft {
        kind: PhaseKind::Data,
        time: c.start,
        duration_s: Some(last.time.secs_since(c.start)),
        first_packet: Some(c.first_packet),
        last_packet: Some(last.packet),
        text: format!(
            "{what}: {} B from the client, {} B from the server",
            c.payload_bytes.client, c.payload_bytes.server
        ),
    });
    for p in periods {
        let to = Timestamp::from_nanos(
            p.start
                .as_nanos()
                .saturating_add((p.duration_s * 1e9) as i64),
        );
        idle(c, p.start, Some(p.from_packet), to, Some(p.to_packet), out);
    }
}

fn tcp_events(c: &ConnectionRecord, out: &mut Vec<Draft>) {
    for (kind, phase, what) in [
        (
            TcpEventKind::Retransmission,
            PhaseKind::Retransmissions,
            "retransmission",
        ),
        (
            TcpEventKind::ZeroWindow,
            PhaseKind::ZeroWindow,
            "zero-window advertisement",
        ),
    ] {
        let events: Vec<_> = c.tcp_events.iter().filter(|e| e.kind == kind).collect();
        let mut i = 0;
        while i < events.len() {
            let mut j = i;
            while j + 1 < events.len()
                && events[j + 1].time.secs_since(events[j].time) < BURST_GAP_S
            {
                j += 1;
            }
            let burst = &events[i..=j];
            let n = burst.len();
            let clients = burst.iter().filter(|e| e.from == Direction::Client).count();
            let from = match (clients, n - clients) {
                (_, 0) => "from the client".to_string(),
                (0, _) => "from the server".to_string(),
                (a, b) => format!("({a} from the client, {b} from the server)"),
            };
            out.push(Draft {
                kind: phase,
                time: burst[0].time,
                duration_s: Some(burst[n - 1].time.secs_since(burst[0].time)),
                first_packet: Some(burst[0].packet),
                last_packet: Some(burst[n - 1].packet),
                text: format!("{n} {what}{} {from}", if n == 1 { "" } else { "s" }),
            });
            i = j + 1;
        }
    }
}

/// What the timeline says of a connection without a captured FIN or RST: the capture
/// shows no close, which is not proof that none happened.
const OPEN_AT_END: &str = "no FIN or RST captured: still open when the capture ends";

fn close(c: &ConnectionRecord, out: &mut Vec<Draft>) {
    let last_exchange_end = c
        .http
        .iter()
        .filter_map(|x| x.response_end.or(x.request_end))
        .max();
    let (Some(by), Some(time)) = (c.close.by, c.close.time) else {
        out.push(Draft {
            kind: PhaseKind::Close,
            time: c.end,
            duration_s: None,
            first_packet: Some(c.last_packet),
            last_packet: Some(c.last_packet),
            text: OPEN_AT_END.into(),
        });
        return;
    };
    let after = last_exchange_end
        .filter(|e| *e <= time)
        .map(|e| format!(", {} after the last exchange", secs(time.secs_since(e))))
        .unwrap_or_default();
    let text = match c.close.how {
        CloseHow::Fin if c.close.both_fins => format!(
            "the {} closes with FIN{after}; the {} closes too",
            by.as_str(),
            by.other().as_str()
        ),
        CloseHow::Fin => format!(
            "the {} closes with FIN{after}; no FIN from the {} was captured",
            by.as_str(),
            by.other().as_str()
        ),
        CloseHow::Rst => format!("the {} resets the connection (RST){after}", by.as_str()),
        CloseHow::Open => OPEN_AT_END.into(),
    };
    out.push(Draft {
        kind: PhaseKind::Close,
        time,
        duration_s: Some(c.end.secs_since(time)),
        first_packet: c.close.packet,
        last_packet: Some(c.last_packet),
        text,
    });
}

#[cfg(test)]
mod tests {
    //! Timelines of conversations built packet by packet (etherparse), read for what
    //! they claim.
    use super::*;
    use crate::flow::table::tests_support::tls_hello as hello;
    use crate::flow::table::tests_support::{capture, Conv};

    const GET: &str = "GET / HTTP/1.1\r\nHost: api.example\r\n\r\n";
    const OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

    fn texts(conv: &Conv) -> Vec<String> {
        let records = capture(&[conv]);
        timeline(&records[0])
            .phases
            .into_iter()
            .map(|p| p.text)
            .collect()
    }

    /// The bug: "the capture starts in the middle of this connection" for a connection
    /// first seen minutes into the capture; only the SYN's absence is known.
    #[test]
    fn a_missing_handshake_is_said_as_an_absence() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(0.2, OK);
        a.packets.drain(..3);
        let t = texts(&a);
        assert!(
            t[0].starts_with("no handshake captured: the connection was already open"),
            "{t:?}"
        );
        assert!(t[0].contains("or its SYN was lost"), "{t:?}");
        assert!(!t.iter().any(|x| x.contains("middle of")), "{t:?}");
    }

    /// The bug: "still open" and "never sends its FIN" claimed from what was not captured.
    #[test]
    fn a_close_not_captured_is_said_as_an_absence() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(0.2, OK);
        let t = texts(&a);
        assert_eq!(
            t.last().map(String::as_str),
            Some("no FIN or RST captured: still open when the capture ends")
        );
    }

    /// The bug: "response incomplete in 0.0 ms" — a cut-off response has no duration.
    #[test]
    fn a_cut_off_response_says_how_long_it_was_captured() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(
            0.2,
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a little",
        );
        let t = texts(&a);
        let x = t
            .iter()
            .find(|x| x.starts_with("HTTP exchange 1"))
            .expect("the exchange");
        assert!(
            x.contains("→ 200 OK, response incomplete (captured for 100 ms)"),
            "{x}"
        );
    }

    /// The bug: "becomes a upgrade tunnel".
    #[test]
    fn an_upgrade_tunnel_takes_an() {
        let mut a = Conv::open(40000, 0.0);
        a.request(
            0.1,
            "GET /ws HTTP/1.1\r\nHost: api.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        )
        .response(
            0.2,
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        );
        let t = texts(&a);
        assert!(
            t.iter().any(|x| x
                == "the connection becomes an upgrade tunnel (websocket): no more HTTP is parsed"),
            "{t:?}"
        );
    }

    #[test]
    fn probes_bunched_together_have_no_interval() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(0.2, OK);
        a.client_probe(5.0, true).client_probe(5.0001, true);
        let t = texts(&a);
        let probes = t
            .iter()
            .find(|x| x.contains("keep-alive probes"))
            .expect("the probes");
        assert_eq!(
            probes,
            "2 TCP keep-alive probes from the client, all answered"
        );
    }

    /// A TLS record of `content_type` with `len` body bytes.
    fn record(content_type: u8, len: usize) -> Vec<u8> {
        let mut r = vec![content_type, 3, 3];
        r.extend_from_slice(&(len as u16).to_be_bytes());
        r.resize(5 + len, 0xee);
        r
    }

    #[test]
    fn tls_exchanges_are_told_as_inferred_and_reuse_is_said() {
        let mut a = Conv::open_to(40000, ([10, 0, 0, 2], 443), 0.0);
        a.request(0.1, hello(1))
            .response(0.2, hello(2))
            .request(0.3, record(20, 1))
            .response(0.4, record(20, 1))
            .request(1.0, record(23, 300))
            .response(1.5, record(23, 2000))
            .request(6.0, record(23, 100))
            .response(6.25, record(23, 500));
        let t = texts(&a);
        let exchanges: Vec<&String> = t
            .iter()
            .filter(|x| x.starts_with("encrypted exchange"))
            .collect();
        assert_eq!(exchanges.len(), 2, "{t:?}");
        assert_eq!(
            exchanges[0],
            "encrypted exchange 1 (inferred): 300 B up, 2000 B down in 500 ms"
        );
        assert!(
            exchanges[1].starts_with("encrypted exchange 2 (inferred): 100 B up, 500 B down"),
            "{}",
            exchanges[1]
        );
        assert!(
            exchanges[1].contains("reuses this connection 4.5 s after exchange 1"),
            "{}",
            exchanges[1]
        );
        // Encrypted exchanges never read as HTTP.
        assert!(!t.iter().any(|x| x.starts_with("HTTP exchange")), "{t:?}");
    }

    #[test]
    fn payload_no_analyzer_knows_is_data_not_recognised() {
        let mut a = Conv::open_to(40000, ([10, 0, 0, 2], 22), 0.0);
        a.response(0.1, "SSH-2.0-OpenSSH_9.6\r\n")
            .request(0.2, "SSH-2.0-client\r\n")
            .response(0.3, [0x5au8; 40])
            .request(0.4, [0x17u8; 30]);
        let t = texts(&a);
        assert!(
            t.iter().any(|x| x
                == "data (protocol not recognised): 46 B from the client, 61 B from the server"),
            "{t:?}"
        );
        assert!(!t.iter().any(|x| x.contains("exchange")), "{t:?}");
    }
}
