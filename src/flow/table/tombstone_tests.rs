//! Closed connections reported early, as live capture does: the record leaves after
//! the quiet time, a tombstone absorbs the rest of the linger's stragglers.

use super::tests_support::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

/// A request and its response, both FINs and the last ACK within 0.07 s; then the
/// server's FIN again at `late` (its last ACK lost, say).
fn closed_exchange_then_a_late_fin(late: f64) -> Vec<Pkt> {
    let (c, s) = (101 + REQUEST.len() as u32, 501 + RESPONSE.len() as u32);
    let mut p = handshake(100, 500);
    p.push(pkt(true, 101, 0.03).ack(501).data(REQUEST));
    p.push(pkt(false, 501, 0.04).ack(c).data(RESPONSE));
    p.push(pkt(true, c, 0.05).ack(s).fin());
    p.push(pkt(false, s, 0.06).ack(c + 1).fin());
    p.push(pkt(true, c + 1, 0.07).ack(s + 1));
    p.push(pkt(false, s, late).ack(c + 1).fin());
    p
}

/// A packet of another connection at `at`: it moves capture time on.
fn tick(at: f64) -> Pkt {
    pkt(true, 1, at)
        .ack(1)
        .between(([10, 0, 0, 9], 5555), ([10, 0, 0, 2], 80))
}

fn early_table(late: &Arc<AtomicU64>) -> ConnectionTable {
    ConnectionTable::new(0, 1, Streams::boxed).report_closed_after(2_000_000_000, Arc::clone(late))
}

#[test]
fn a_closed_connection_is_reported_after_its_quiet_time_and_its_stragglers_absorbed() {
    let mut packets = closed_exchange_then_a_late_fin(5.0);
    packets.insert(8, tick(3.0)); // after the last ACK, before the late FIN
    packets.push(tick(6.0));
    let late = Arc::new(AtomicU64::new(0));
    let mut table = early_table(&late);
    let done = feed(&mut table, &packets);
    // Reported when the packet at 3.0 s showed 2 s of quiet: before the late FIN.
    assert_eq!(done.len(), 1);
    let (when, early) = &done[0];
    assert_eq!((*when, early.id), (9, 1));
    assert_eq!(late.load(Ordering::Relaxed), 1, "the late FIN is counted");
    assert_eq!(table.tombstones(), 1);
    assert_eq!(
        table.live_connections(),
        1,
        "no phantom connection for the late FIN"
    );

    // The same packets in a file: the record waits out the linger and counts the FIN.
    let full = track(&packets);
    assert_eq!(full.len(), 2);
    let full = &full[0];
    assert_eq!((early.packets.client, early.packets.server), (5, 3));
    assert_eq!((full.packets.client, full.packets.server), (5, 4));
    assert_eq!(early.end.as_nanos(), 70_000_000);
    assert_eq!(full.end.as_nanos(), 5_000_000_000);
    // Everything the stragglers do not touch is the same.
    assert_eq!(early.requests, 1);
    let json = |r: &ConnectionRecord| serde_json::to_value(&r.http).expect("serialises");
    assert_eq!(json(early), json(full));
    assert_eq!(early.close, full.close);
    assert!(early.close.completed);
    assert_eq!(early.conn_state, full.conn_state);
}

#[test]
fn a_straggler_within_the_quiet_time_is_in_the_record() {
    let late = Arc::new(AtomicU64::new(0));
    let mut table = early_table(&late);
    let mut packets = closed_exchange_then_a_late_fin(1.5);
    packets.push(tick(6.0)); // 3 × the 1.43 s gap before the late FIN has passed
    let done = feed(&mut table, &packets);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].1.packets.server, 4);
    assert_eq!(late.load(Ordering::Relaxed), 0);
    let full = track(&packets);
    assert_eq!(done[0].1.packets, full[0].packets);
    assert_eq!(done[0].1.history, full[0].history);
}

#[test]
fn a_new_syn_on_a_tombstone_opens_a_new_connection() {
    let late = Arc::new(AtomicU64::new(0));
    let mut table = early_table(&late);
    let mut packets = closed_exchange_then_a_late_fin(5.0);
    packets.insert(8, tick(3.0));
    // The client's port comes round again with a new ISN.
    packets.push(pkt(true, 9_000, 6.0).syn());
    packets.push(pkt(false, 7_000, 6.01).syn().ack(9_001));
    let done = feed(&mut table, &packets);
    assert_eq!(done.len(), 1);
    assert_eq!(table.tombstones(), 0);
    assert_eq!(late.load(Ordering::Relaxed), 1);
    let mut rest = Vec::new();
    table.finish_all(&mut |r| rest.push(r));
    let reused: Vec<_> = rest
        .iter()
        .filter(|r| r.server.port == 80 && r.client.port == 40000)
        .collect();
    assert_eq!(reused.len(), 1);
    assert_eq!(reused[0].id, 3);
    assert_eq!((reused[0].packets.client, reused[0].packets.server), (1, 1));
}

#[test]
fn a_tombstone_leaves_when_the_linger_ends() {
    let late = Arc::new(AtomicU64::new(0));
    let mut table = early_table(&late);
    let mut packets = closed_exchange_then_a_late_fin(5.0);
    packets.insert(8, tick(3.0));
    packets.push(tick(19.0)); // the late FIN's linger runs to 20 s
    let done = feed(&mut table, &packets);
    assert_eq!((done.len(), table.tombstones()), (1, 1));
    feed(&mut table, &[tick(20.5)]);
    assert_eq!(table.tombstones(), 0);
    // Past the linger a stray packet is a connection of its own, as in a file.
    let before = table.next_id();
    let c = 101 + REQUEST.len() as u32;
    feed(&mut table, &[pkt(true, c + 1, 21.0).ack(9)]);
    assert_eq!(table.next_id(), before + 1);
    assert_eq!(late.load(Ordering::Relaxed), 1);
}
