//! Connection tracking driven by real packet bytes: each test builds frames with
//! etherparse's `PacketBuilder`, decodes them as the pipeline does, and checks the
//! finished records.
use super::tests_support::*;
use crate::flow::key::Direction;
use crate::report::model::{CloseHow, HandshakeOutcome, RoleSource};

#[test]
fn handshake_packets_and_rtt() {
    let conns = track(&handshake(100, 500));
    assert_eq!(conns.len(), 1);
    let c = &conns[0];
    assert_eq!(c.roles, RoleSource::Syn);
    assert_eq!(c.client.port, 40000);
    let hs = c.handshake.as_ref().expect("handshake");
    assert_eq!(
        (hs.syn_packet, hs.synack_packet, hs.ack_packet),
        (Some(1), Some(2), Some(3))
    );
    assert_eq!(hs.outcome, HandshakeOutcome::Completed);
    assert!((hs.rtt_ms.expect("rtt") - 20.0).abs() < 1e-6);
    assert!((hs.syn_to_synack_ms.expect("syn→synack") - 10.0).abs() < 1e-6);
    assert_eq!(c.close.how, CloseHow::Open);
    assert_eq!(c.conn_state, "S1");
}

#[test]
fn syn_retries_and_unanswered() {
    let conns = track(&[
        pkt(true, 7, 0.0).syn(),
        pkt(true, 7, 1.0).syn(),
        pkt(true, 7, 3.0).syn(),
    ]);
    let hs = conns[0].handshake.as_ref().expect("handshake");
    assert_eq!(hs.syn_retries, 2);
    assert_eq!(hs.outcome, HandshakeOutcome::Unanswered);
    assert_eq!(conns[0].conn_state, "S0");
    assert_eq!(conns[0].retransmissions.client, 2);
}

#[test]
fn refused_by_rst() {
    let conns = track(&[pkt(true, 7, 0.0).syn(), pkt(false, 0, 0.001).rst().ack(8)]);
    let c = &conns[0];
    let hs = c.handshake.as_ref().expect("handshake");
    assert_eq!(hs.outcome, HandshakeOutcome::Refused);
    assert_eq!(hs.refused_packet, Some(2));
    assert_eq!(
        (c.close.how, c.close.by, c.close.packet),
        (CloseHow::Rst, Some(Direction::Server), Some(2))
    );
    assert_eq!(c.conn_state, "REJ");
}

/// An established connection that sent a request and got a response, then idled.
fn exchange() -> Vec<Pkt> {
    let mut p = handshake(100, 500);
    p.push(pkt(true, 101, 0.1).ack(501).data(b"GET / HTTP/1.1\r\n\r\n"));
    p.push(
        pkt(false, 501, 0.2)
            .ack(119)
            .data(b"HTTP/1.1 200 OK\r\n\r\n"),
    );
    p.push(pkt(true, 119, 0.3).ack(520));
    p
}

#[test]
fn keepalive_probe_len0_and_its_ack() {
    let mut p = exchange();
    p.push(pkt(true, 118, 15.3).ack(520)); // probe: seq = next - 1, no payload
    p.push(pkt(false, 520, 15.3001).ack(119)); // keep-alive ACK
    p.push(pkt(true, 118, 30.3).ack(520));
    p.push(pkt(false, 520, 30.3001).ack(119));
    let c = &track(&p)[0];
    let probes = &c.keepalive.probes;
    assert_eq!(probes.len(), 2);
    assert_eq!(probes[0].packet, 7);
    assert_eq!(probes[0].from, Direction::Client);
    assert!(probes.iter().all(|pr| pr.acked));
    assert_eq!(probes[1].ack_packet, Some(10));
    assert_eq!(c.keepalive.acks, 2);
    assert_eq!(
        c.retransmissions.client, 0,
        "probes are not retransmissions"
    );
    // Zeek adds nothing for a 0-byte probe.
    assert_eq!(c.history, "ShADda");
}

#[test]
fn keepalive_probe_len1_windows_style() {
    let mut p = exchange();
    p.push(pkt(true, 118, 15.3).ack(520).data(&[0])); // 1 garbage byte at next - 1
    p.push(pkt(false, 520, 15.3001).ack(119));
    let c = &track(&p)[0];
    assert_eq!(c.keepalive.probes.len(), 1);
    assert!(c.keepalive.probes[0].acked);
    assert_eq!(c.keepalive.acks, 1);
    assert_eq!(c.retransmissions.client, 0);
    // For Zeek a 1-byte probe does not advance the sequence: a retransmission.
    assert_eq!(c.history, "ShADdTa");
}

#[test]
fn unanswered_probe() {
    let mut p = exchange();
    p.push(pkt(true, 118, 15.3).ack(520));
    p.push(pkt(true, 118, 16.3).ack(520));
    let c = &track(&p)[0];
    assert_eq!(c.keepalive.probes.len(), 2);
    assert!(c.keepalive.probes.iter().all(|pr| !pr.acked));
    assert_eq!(c.keepalive.acks, 0);
}

#[test]
fn retransmission_is_not_a_probe() {
    let mut p = exchange();
    p.push(
        pkt(false, 501, 0.5)
            .ack(119)
            .data(b"HTTP/1.1 200 OK\r\n\r\n"),
    );
    let c = &track(&p)[0];
    assert!(c.keepalive.probes.is_empty());
    assert_eq!(c.retransmissions.server, 1);
}

#[test]
fn close_linger_deadline_at_the_end_of_time_does_not_overflow() {
    // A damaged capture's timestamp near i64::MAX nanoseconds (year 2262): the
    // linger deadline after the close saturates instead of overflowing (which
    // panicked in debug builds on pcapplusplus-pcapng-example.pcapng).
    let late = 9_223_372_030.0;
    let mut p: Vec<Pkt> = handshake(100, 900)
        .into_iter()
        .map(|mut x| {
            x.at += late;
            x
        })
        .collect();
    p.push(pkt(true, 101, late + 0.1).ack(901).fin());
    p.push(pkt(false, 901, late + 0.2).ack(102).fin());
    p.push(pkt(true, 102, late + 0.3).ack(902));
    p.push(pkt(true, 102, late + 0.4).ack(902));
    let records = track(&p);
    assert_eq!(records.len(), 1);
    assert!(records[0].close.both_fins);
}

#[test]
fn fin_close_by_server_then_client_rst_is_fin_by_server() {
    let mut p = exchange();
    p.push(pkt(false, 520, 1.0).ack(119).fin());
    p.push(pkt(true, 119, 1.1).ack(521).rst());
    let c = &track(&p)[0];
    assert_eq!(
        (c.close.how, c.close.by, c.close.packet),
        (CloseHow::Fin, Some(Direction::Server), Some(7))
    );
    assert!(!c.close.both_fins);
    assert_eq!(c.flags.fin, 1);
    assert_eq!(c.flags.rst, 1);
}

#[test]
fn idle_gap_is_the_longest_between_payloads() {
    let mut p = exchange();
    p.push(
        pkt(true, 119, 45.1)
            .ack(520)
            .data(b"GET /2 HTTP/1.1\r\n\r\n"),
    );
    let c = &track(&p)[0];
    let idle = c.idle.as_ref().expect("idle");
    assert_eq!((idle.from_packet, idle.to_packet), (5, 7));
    assert!((idle.max_s - 44.9).abs() < 1e-6);
    assert_eq!(
        idle.periods.len(),
        1,
        "only the 44.9 s gap is an idle period"
    );
    assert_eq!(
        (idle.periods[0].from_packet, idle.periods[0].to_packet),
        (5, 7)
    );
}

#[test]
fn port_reuse_with_new_isn_starts_a_new_connection() {
    let mut p = exchange();
    p.push(pkt(true, 119, 1.0).ack(520).fin());
    p.push(pkt(false, 520, 1.01).ack(120).fin());
    p.push(pkt(true, 120, 1.02).ack(521));
    // Same 4-tuple, new ISN, well inside the close linger.
    p.extend(handshake(90_000, 70_000).into_iter().map(|mut q| {
        q.at += 2.0;
        q
    }));
    let conns = track(&p);
    assert_eq!(conns.len(), 2);
    assert_eq!(conns[0].last_packet, 9);
    assert_eq!(conns[1].first_packet, 10);
    assert_eq!(conns[0].conn_state, "SF");
    assert!(conns[0].close.both_fins);
}

#[test]
fn syn_retransmission_is_the_same_connection() {
    let conns = track(&[
        pkt(true, 7, 0.0).syn(),
        pkt(true, 7, 1.0).syn(),
        pkt(false, 70, 1.001).syn().ack(8),
    ]);
    assert_eq!(conns.len(), 1);
}

#[test]
fn unanswered_syns_are_given_up_after_the_syn_timeout() {
    let other = |at: f64, port: u16| {
        pkt(true, 1, at)
            .syn()
            .between(([10, 0, 0, 9], port), ([10, 0, 0, 2], 80))
    };
    let mut table = ConnectionTable::new(0, 1, Streams::boxed).with_syn_timeout(5_000_000_000);
    let done = feed(
        &mut table,
        &[
            pkt(true, 7, 0.0).syn(),
            pkt(true, 7, 1.0).syn(), // a retry: the wait starts again
            other(5.5, 1000),        // 4.5 s after the retry: still waited on
            other(6.5, 1001),        // 5.5 s after it: given up
        ],
    );
    assert_eq!(done.len(), 1);
    let (when, r) = &done[0];
    assert_eq!(*when, 4);
    assert_eq!(r.conn_state, "S0");
    assert!(r.timed_out);
    assert_eq!(r.handshake.as_ref().map(|h| h.syn_retries), Some(1));
    // The two later attempts are still live, not yet due.
    assert_eq!(table.live_connections(), 2);
}

#[test]
fn a_client_backing_off_is_waited_on_as_long_as_its_retries_need() {
    // Linux's SYN retries: 1, 2, 4, 8 s apart; the last gap is longer than the
    // 5 s timeout but within twice the gap before it.
    let syns: Vec<Pkt> = [0.0, 1.0, 3.0, 7.0, 15.0]
        .iter()
        .map(|&at| pkt(true, 7, at).syn())
        .collect();
    let mut table = ConnectionTable::new(0, 1, Streams::boxed).with_syn_timeout(5_000_000_000);
    let done = feed(&mut table, &syns);
    assert!(done.is_empty(), "split: {done:?}");
    let mut done = Vec::new();
    table.finish_all(&mut |r| done.push(r));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].handshake.as_ref().map(|h| h.syn_retries), Some(4));
}

#[test]
fn a_syn_flood_holds_only_the_attempts_of_the_last_timeout() {
    // 20 000 SYNs from distinct sources, 1 000 a second, none answered.
    let mut table = ConnectionTable::new(0, 1, Streams::boxed).with_syn_timeout(5_000_000_000);
    let mut finished = Vec::new();
    let mut most_live = 0;
    for i in 0..20_000u32 {
        let src = [11, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        let frame = pkt(true, i, f64::from(i) / 1000.0)
            .syn()
            .between((src, 1024 + (i % 60_000) as u16), ([10, 0, 0, 2], 80))
            .bytes();
        let seg = decode(LinkType::ETHERNET, &frame, frame.len() as u32).expect("decodes");
        let ts = Timestamp::from_nanos(i64::from(i) * 1_000_000);
        table.on_segment(&seg, u64::from(i) + 1, ts, &mut |r| finished.push(r));
        most_live = most_live.max(table.live_connections());
    }
    assert!(most_live <= 5_001, "{most_live} attempts live at once");
    let given_up = finished.len();
    table.finish_all(&mut |r| finished.push(r));
    assert_eq!(given_up, 15_000);
    assert_eq!(finished.len(), 20_000);
    assert!(finished.iter().all(|r| r.conn_state == "S0"));
}

#[test]
fn answered_syns_are_not_given_up() {
    let mut table = ConnectionTable::new(0, 1, Streams::boxed).with_syn_timeout(1_000_000_000);
    let mut p = vec![pkt(true, 7, 0.0).syn(), pkt(false, 70, 0.5).syn().ack(8)];
    p.push(
        pkt(true, 1, 30.0)
            .syn()
            .between(([10, 0, 0, 9], 1000), ([10, 0, 0, 2], 80)),
    );
    let done = feed(&mut table, &p);
    assert!(done.is_empty(), "the answered attempt stays: {done:?}");
}

#[test]
fn midstream_start_uses_ports() {
    // The capture starts with the server's data: no SYN anywhere.
    let conns = track(&[
        pkt(false, 900, 0.0).ack(50).data(b"tail of a response"),
        pkt(true, 50, 0.01).ack(918),
    ]);
    let c = &conns[0];
    assert_eq!(c.roles, RoleSource::Ports);
    assert_eq!(c.server.port, 80);
    assert!(c.handshake.is_none());
    assert_eq!(c.conn_state, "OTH");
    assert!(c.history.starts_with('^'));
}

#[test]
fn challenge_ack_reconnect_does_not_poison_sequence_tracking() {
    // The server still holds an old connection on this 4-tuple: it answers the
    // SYN with a bare ACK of the old numbers (RFC 5961 §4), the client resets
    // that with seq = its ACK number, then retries the SYN with the same ISN.
    let mut p = vec![
        pkt(true, 100, 0.0).syn(),
        pkt(false, 3_000_000_000, 0.001).ack(2_000_000_000),
        pkt(true, 2_000_000_000, 0.002).rst(),
        pkt(true, 100, 1.0).syn(),
        pkt(false, 500, 1.001).syn().ack(101),
        pkt(true, 101, 1.002).ack(501),
    ];
    p.push(pkt(true, 101, 1.1).ack(501).data(b"GET / HTTP/1.1\r\n\r\n"));
    p.push(
        pkt(false, 501, 1.2)
            .ack(119)
            .data(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    );
    p.push(pkt(true, 119, 1.3).ack(539));
    let conns = track(&p);
    assert_eq!(conns.len(), 1, "{conns:?}");
    let c = &conns[0];
    let hs = c.handshake.as_ref().expect("handshake");
    assert_eq!(hs.outcome, HandshakeOutcome::Completed);
    assert_eq!(hs.syn_retries, 1);
    assert_eq!((c.history.as_str(), c.conn_state), ("ShADd", "S1"));
    assert_eq!(c.retransmissions.client, 1, "only the retried SYN");
    assert_eq!(c.retransmissions.server, 0);
    assert_eq!(c.close.how, CloseHow::Open, "the RST was the challenge's");
    assert_eq!(c.flags.rst, 1);
    assert_eq!((c.missed_bytes.client, c.missed_bytes.server), (0, 0));
    assert_eq!(c.requests, 1);
    assert_eq!(c.http[0].status, Some(200));
}

#[test]
fn challenge_ack_without_a_retry_is_a_reset_attempt_as_zeek_says() {
    // Zeek's syn-then-ack-then-rst.pcap: no SYN follows, so the client's RST
    // ends the attempt; Zeek's history keeps the challenge ACK and the RST.
    let conns = track(&[
        pkt(true, 0, 0.0).syn(),
        pkt(false, 0, 0.0003).ack(0),
        pkt(true, 0, 0.0005).rst(),
    ]);
    assert_eq!(conns.len(), 1);
    let c = &conns[0];
    assert_eq!(
        (c.close.how, c.close.by),
        (CloseHow::Rst, Some(Direction::Client))
    );
    assert_eq!((c.history.as_str(), c.conn_state), ("SaR", "RSTOS0"));
}

/// Packets of another connection, to move capture time on as a busy capture does.
fn background(from: f64, to: f64) -> Vec<Pkt> {
    let mut c = Conv::open(50_000, from);
    let mut at = from + 1.0;
    while at < to {
        c.request(at, "x");
        at += 1.0;
    }
    c.packets
}

fn in_time_order(mut p: Vec<Pkt>) -> Vec<Pkt> {
    p.sort_by(|a, b| a.at.total_cmp(&b.at));
    p
}

fn on_port(records: &[ConnectionRecord], port: u16) -> Vec<&ConnectionRecord> {
    records.iter().filter(|r| r.client.port == port).collect()
}

#[test]
fn phantom_connection_from_fins_retransmitted_with_backoff() {
    // The server closes; the client's FIN is never acknowledged and is resent
    // 1, 2, 4, 8, 16 and 32 s apart (ndpi-wechat.pcap's connection 43).
    let mut c = Conv::open(40_000, 0.0);
    c.request(0.1, "GET / HTTP/1.1\r\n\r\n");
    let mut p = c.packets;
    p.push(pkt(false, 500_001, 1.0).ack(40_000_019).fin());
    p.push(pkt(true, 40_000_019, 1.001).ack(500_002));
    for at in [2.0, 3.0, 5.0, 9.0, 17.0, 33.0, 65.0] {
        p.push(pkt(true, 40_000_019, at).ack(500_002).fin());
    }
    p.extend(background(0.5, 80.0));
    let all = track(&in_time_order(p));
    let ours = on_port(&all, 40_000);
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(ours[0].packets.client, 11);
    assert!(ours[0].close.both_fins);
    assert_eq!(ours[0].roles, RoleSource::Syn);
}

#[test]
fn phantom_connection_from_a_straggler_after_an_early_rst() {
    // The client resets; a segment the server had in flight comes 30 s later,
    // the only packet in the capture by then.
    let mut p = exchange();
    p.push(pkt(true, 119, 1.0).ack(520).rst());
    p.push(pkt(false, 520, 31.0).ack(119).data(b"late"));
    let conns = track(&p);
    assert_eq!(conns.len(), 1, "{conns:?}");
    assert_eq!(conns[0].packets.server, 3);
    assert_eq!(conns[0].close.how, CloseHow::Rst);
}

#[test]
fn phantom_connection_from_a_syn_retried_after_a_long_backoff() {
    // ndpi-sites.pcapng: the sixth retry comes 33.5 s after the fifth, more than
    // twice the 16.1 s before it; the SYN-ACK then answers it.
    let mut p: Vec<Pkt> = [0.0, 1.0, 3.1, 7.1, 15.3, 31.4, 64.9]
        .iter()
        .map(|&at| pkt(true, 7, at).syn())
        .collect();
    p.push(pkt(false, 70, 65.0).syn().ack(8));
    p.push(pkt(true, 8, 65.001).ack(71));
    p.extend(background(0.5, 70.0));
    let all = track(&in_time_order(p));
    let ours = on_port(&all, 40_000);
    assert_eq!(ours.len(), 1, "{ours:?}");
    let hs = ours[0].handshake.as_ref().expect("handshake");
    assert_eq!(hs.outcome, HandshakeOutcome::Completed);
    assert_eq!(hs.syn_retries, 6);
    assert!(!ours[0].timed_out);
}

#[test]
fn phantom_connection_from_a_syn_retried_long_after_the_timeout() {
    // Nothing else in the capture: the retry is the first packet after the
    // deadline, and its ISN says it is the same attempt.
    let conns = track(&[
        pkt(true, 7, 0.0).syn(),
        pkt(true, 7, 1.0).syn(),
        pkt(true, 7, 60.0).syn(),
        pkt(false, 70, 60.01).syn().ack(8),
    ]);
    assert_eq!(conns.len(), 1, "{conns:?}");
    assert_eq!(conns[0].handshake.as_ref().map(|h| h.syn_retries), Some(2));
}

#[test]
fn phantom_connection_from_a_late_answer_to_a_syn() {
    // pcapplusplus-pcapng-example.pcapng: the SYN-ACK's time is far after the
    // SYN's (a broken clock), yet it acknowledges the SYN's ISN.
    let conns = track(&[
        pkt(true, 7, 0.0).syn(),
        pkt(false, 70, 500.0).syn().ack(8),
        pkt(true, 8, 500.001).ack(71),
    ]);
    assert_eq!(conns.len(), 1, "{conns:?}");
    assert_eq!(conns[0].roles, RoleSource::Syn);
    assert_eq!(
        conns[0].handshake.as_ref().map(|h| h.outcome),
        Some(HandshakeOutcome::Completed)
    );
}

#[test]
fn one_direction_capture_completes_the_handshake_off_capture() {
    // Only the client's side was captured: SYN, its ACK, requests past the
    // SYN timeout.
    let mut p = vec![pkt(true, 100, 0.0).syn(), pkt(true, 101, 0.02).ack(501)];
    let mut seq = 101;
    for at in [0.1, 12.0, 25.0] {
        let req = b"GET / HTTP/1.1\r\n\r\n";
        p.push(pkt(true, seq, at).ack(501).data(req));
        seq += req.len() as u32;
    }
    let conns = track(&p);
    assert_eq!(conns.len(), 1, "{conns:?}");
    let c = &conns[0];
    assert!(!c.timed_out);
    assert_eq!(c.requests, 3);
    let hs = c.handshake.as_ref().expect("handshake");
    assert_eq!(hs.outcome, HandshakeOutcome::Completed);
    assert!(hs.completed_off_capture);
    assert_eq!((hs.synack_packet, hs.ack_packet), (None, Some(2)));
    let json = serde_json::to_value(hs).expect("json");
    assert_eq!(json["completed_off_capture"], true);
    // The findings are built from that: a reused connection, no failed handshake.
    let found = crate::findings::diagnose(0, &conns, None, &Default::default());
    let kinds: Vec<&str> = found.iter().map(|f| f.kind.as_str()).collect();
    assert!(kinds.contains(&"connection_reused"), "{kinds:?}");
    assert!(!kinds.contains(&"handshake_failed"), "{kinds:?}");
}

#[test]
fn one_direction_capture_server_side_proves_the_handshake() {
    // The client's SYN, then only the server's side: its SYN-ACK is missing but
    // its data acknowledges the SYN.
    let conns = track(&[
        pkt(true, 100, 0.0).syn(),
        pkt(false, 501, 0.2)
            .ack(119)
            .data(b"HTTP/1.1 200 OK\r\n\r\n"),
    ]);
    let hs = conns[0].handshake.as_ref().expect("handshake");
    assert_eq!(hs.outcome, HandshakeOutcome::Completed);
    assert!(hs.completed_off_capture);
    assert_eq!(hs.ack_packet, None);
}

#[test]
fn complete_handshake_is_not_marked_off_capture() {
    let conns = track(&handshake(100, 500));
    let hs = conns[0].handshake.as_ref().expect("handshake");
    assert!(!hs.completed_off_capture);
    let json = serde_json::to_value(hs).expect("json");
    assert!(json.get("completed_off_capture").is_none());
}

#[test]
fn zero_window_probe_is_not_followed_by_a_false_retransmission() {
    let mut p = exchange();
    p.push(pkt(false, 520, 0.4).ack(119).window(0)); // the server's window closes
    p.push(pkt(true, 119, 0.6).ack(520).data(b"G")); // zero-window probe
    p.push(pkt(false, 520, 0.6001).ack(119).window(0)); // not accepted
    p.push(pkt(true, 119, 1.0).ack(520).data(b"G")); // probe again
    p.push(pkt(false, 520, 1.0001).ack(119).window(0));
    p.push(pkt(false, 520, 1.5).ack(119)); // window opens
    p.push(
        pkt(true, 119, 1.6)
            .ack(520)
            .data(b"GET /2 HTTP/1.1\r\n\r\n"),
    );
    let c = &track(&p)[0];
    assert_eq!(c.retransmissions.client, 0, "{:?}", c.tcp_events);
    assert!(c.keepalive.probes.is_empty(), "not keep-alive probes");
    assert_eq!(c.zero_windows.server, 3);
    let probes: Vec<u64> = c
        .tcp_events
        .iter()
        .filter(|e| e.kind == crate::report::model::TcpEventKind::ZeroWindowProbe)
        .map(|e| e.packet)
        .collect();
    assert_eq!(probes, [8, 10]);
}

#[test]
fn initial_rtt_is_from_the_syn_resent_after_the_synack() {
    // The first SYN-ACK is lost on its way; the SYN is resent 2 s later and
    // answered at once (Wireshark: 2.19 ms, from the most recent SYN).
    let conns = track(&[
        pkt(true, 7, 0.0).syn(),
        pkt(false, 70, 0.0011).syn().ack(8),
        pkt(true, 7, 2.0).syn(),
        pkt(false, 70, 2.0011).syn().ack(8),
        pkt(true, 8, 2.00219).ack(71),
    ]);
    let hs = conns[0].handshake.as_ref().expect("handshake");
    let rtt = hs.rtt_ms.expect("rtt");
    assert!((rtt - 2.19).abs() < 1e-3, "{rtt}");
}

#[test]
fn initial_rtt_of_a_refused_syn() {
    // Wireshark times the RST-ACK: the first segment with ACK after the SYN.
    let conns = track(&[pkt(true, 7, 0.0).syn(), pkt(false, 0, 0.0005).rst().ack(8)]);
    let hs = conns[0].handshake.as_ref().expect("handshake");
    assert_eq!(hs.outcome, HandshakeOutcome::Refused);
    let rtt = hs.rtt_ms.expect("rtt");
    assert!((rtt - 0.5).abs() < 1e-6, "{rtt}");
}

#[test]
fn close_at_the_last_representable_time_does_not_overflow() {
    // pcapplusplus-pcapng-example.pcapng: broken timestamps saturate at the end
    // of i64 nanoseconds; a close there must not overflow its deadline.
    let end = 1e12; // seconds: saturates to i64::MAX nanoseconds
    let conns = track(&[
        pkt(true, 7, end).syn(),
        pkt(false, 0, end).rst().ack(8),
        pkt(true, 9, end)
            .syn()
            .between(([10, 0, 0, 1], 40001), ([10, 0, 0, 2], 80)),
    ]);
    assert_eq!(conns.len(), 2);
    assert_eq!(
        conns[0].handshake.as_ref().map(|h| h.outcome),
        Some(HandshakeOutcome::Refused)
    );
}

#[test]
fn closed_connections_leave_the_table_after_the_linger() {
    let mut table = ConnectionTable::new(0, 1, Streams::boxed);
    let mut p = exchange();
    p.push(pkt(true, 119, 1.0).ack(520).rst());
    let mut done: Vec<ConnectionRecord> =
        feed(&mut table, &p).into_iter().map(|(_, r)| r).collect();
    assert_eq!(table.live_connections(), 1);
    // A packet of another connection 20 s later expires the closed one.
    let mut frame = pkt(true, 1, 21.0).syn().bytes();
    frame[14 + 20 + 1] ^= 1; // another client port
    let seg = decode(LinkType::ETHERNET, &frame, frame.len() as u32).expect("decodes");
    table.on_segment(&seg, 8, Timestamp::from_nanos(21_000_000_000), &mut |r| {
        done.push(r)
    });
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].close.how, CloseHow::Rst);
    assert_eq!(table.live_connections(), 1);
}
