//! The live connections of one input. A connection leaves the table — handed to the
//! caller as a finished record — when it has been closed (both FINs, or an RST) and
//! quiet for [`CLOSE_LINGER`] of capture time, when a new SYN reuses its 4-tuple, or
//! at the end of the input. Memory therefore grows with connections alive at once,
//! never with the length of the capture.

use super::key::{Endpoint, FlowKey};
use super::tcp::Connection;
use crate::decode::Segment;
use crate::report::model::ConnectionRecord;
use crate::time::Timestamp;
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::BinaryHeap;

/// How long a closed connection waits for stragglers (the last ACK, a repeated FIN,
/// an RST answering a late segment) before it is finished. Zeek waits 5 s
/// (`tcp_close_delay`); connscope waits longer so late retransmissions still land on
/// the right connection, as they do in Wireshark, which never expires streams.
pub const CLOSE_LINGER_NANOS: i64 = 15_000_000_000;

/// One live connection, as a live display shows it.
#[derive(Clone, Debug)]
pub struct LiveRow {
    pub id: u64,
    pub client: Endpoint,
    pub server: Endpoint,
    pub age_s: f64,
    pub idle_s: f64,
    pub packets: u64,
    pub closed: bool,
}

/// Connections to look at again at a capture time, earliest first (ties by id, so the
/// order is the same on every run). A heap, not a queue: a deadline pushed back when
/// a straggler arrives must not wait behind later ones.
#[derive(Default)]
struct Deadlines(BinaryHeap<Reverse<(Timestamp, u64, KeyOrd)>>);

/// A flow key that sorts as equal to every other: deadlines order by time and id only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct KeyOrd(FlowKey);

impl PartialOrd for KeyOrd {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for KeyOrd {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl Deadlines {
    fn push(&mut self, at: Timestamp, key: FlowKey, id: u64) {
        self.0.push(Reverse((at, id, KeyOrd(key))));
    }

    /// The earliest entry due at `now`, if any.
    fn pop_due(&mut self, now: Timestamp) -> Option<(FlowKey, u64)> {
        let Reverse((at, _, _)) = self.0.peek()?;
        if *at > now {
            return None;
        }
        let Reverse((_, id, KeyOrd(key))) = self.0.pop()?;
        Some((key, id))
    }
}

pub struct ConnectionTable {
    input: usize,
    next_id: u64,
    /// Boxed: the map's spare slots then cost a pointer, not a whole connection.
    live: FxHashMap<FlowKey, Box<Connection>>,
    /// Closed connections in order of when they may be finished: (deadline, key, id).
    closing: Deadlines,
    /// Connections opened by a SYN, in order of when an unanswered one is given up.
    attempts: Deadlines,
    syn_timeout_nanos: i64,
}

/// How long an unanswered SYN is waited on, by default (Zeek's `tcp_SYN_timeout` is 5 s;
/// 10 s also covers the 6 s first retry of older stacks).
pub const SYN_TIMEOUT_NANOS: i64 = 10_000_000_000;

impl ConnectionTable {
    /// A table for input `input` whose first connection gets id `first_id`.
    pub fn new(input: usize, first_id: u64) -> Self {
        ConnectionTable {
            input,
            next_id: first_id,
            live: FxHashMap::default(),
            closing: Deadlines::default(),
            attempts: Deadlines::default(),
            syn_timeout_nanos: SYN_TIMEOUT_NANOS,
        }
    }

    /// Gives up on a connection attempt (SYNs, nothing back) after `nanos` of capture
    /// time without a packet — longer while the client keeps retrying — and finishes it
    /// then, as Zeek's `S0`, so a SYN flood's state does not pile up.
    pub fn with_syn_timeout(mut self, nanos: i64) -> Self {
        self.syn_timeout_nanos = nanos;
        self
    }

    /// The id the next new connection will get.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    pub fn live_connections(&self) -> usize {
        self.live.len()
    }

    /// Follows one segment; connections that finish are passed to `finished`.
    pub fn on_segment(
        &mut self,
        seg: &Segment<'_>,
        number: u64,
        ts: Timestamp,
        finished: &mut impl FnMut(ConnectionRecord),
    ) {
        self.expire(ts, finished);
        let src = Endpoint::from(seg.src);
        let dst = Endpoint::from(seg.dst);
        let (key, _) = FlowKey::new(src, dst);
        let fresh = |id: u64, attempts: &mut Deadlines| {
            if seg.flags.syn() && !seg.flags.ack() {
                let due =
                    Timestamp::from_nanos(ts.as_nanos().saturating_add(self.syn_timeout_nanos));
                attempts.push(due, key, id);
            }
            Box::new(Connection::new(id, self.input, src, dst, seg, number, ts))
        };
        // One hash lookup per packet: the entry is found once and reused.
        let conn = match self.live.entry(key) {
            Entry::Occupied(entry) => {
                let entry = entry.into_mut();
                if entry.is_reused_by(entry.direction_of(src), seg) {
                    // A new connection on the same 4-tuple: the old one is finished.
                    let id = self.next_id;
                    self.next_id += 1;
                    let old = std::mem::replace(entry, fresh(id, &mut self.attempts));
                    finished(old.into_record());
                }
                entry
            }
            Entry::Vacant(slot) => {
                let id = self.next_id;
                self.next_id += 1;
                slot.insert(fresh(id, &mut self.attempts))
            }
        };
        let was_closed = conn.is_closed();
        let dir = conn.direction_of(src);
        conn.on_segment(dir, seg, number, ts);
        if !was_closed && conn.is_closed() {
            self.closing.push(
                Timestamp::from_nanos(ts.as_nanos().saturating_add(CLOSE_LINGER_NANOS)),
                key,
                conn.id,
            );
        }
    }

    /// Finishes closed connections whose linger has passed at capture time `now`, and
    /// connection attempts nobody answered within the SYN timeout.
    fn expire(&mut self, now: Timestamp, finished: &mut impl FnMut(ConnectionRecord)) {
        while let Some((key, id)) = self.attempts.pop_due(now) {
            let Some(conn) = self.live.get(&key) else {
                continue;
            };
            if conn.id != id || !conn.is_unanswered_attempt() {
                continue; // replaced, or answered: no longer an attempt
            }
            let patience = conn.attempt_patience(self.syn_timeout_nanos);
            let quiet_until =
                Timestamp::from_nanos(conn.last_ts().as_nanos().saturating_add(patience));
            if quiet_until > now {
                // The client retried the SYN: wait again from the last one.
                self.attempts.push(quiet_until, key, id);
            } else if let Some(conn) = self.live.remove(&key) {
                let mut record = conn.into_record();
                record.timed_out = true;
                finished(record);
            }
        }
        while let Some((key, id)) = self.closing.pop_due(now) {
            let Some(conn) = self.live.get(&key) else {
                continue;
            };
            if conn.id != id {
                continue; // already replaced by a reuse of the 4-tuple
            }
            let quiet_until =
                Timestamp::from_nanos(conn.last_ts().as_nanos().saturating_add(CLOSE_LINGER_NANOS));
            if quiet_until > now {
                // Stragglers arrived: wait again from the last one.
                self.closing.push(quiet_until, key, id);
            } else if let Some(conn) = self.live.remove(&key) {
                finished(conn.into_record());
            }
        }
    }

    /// Finishes connections that have seen no packet for `timeout_nanos` of capture
    /// time before `now`, marked as timed out (Zeek's `tcp_inactivity_timeout`). Live
    /// capture calls this so a long run's memory stays bounded.
    pub fn expire_idle(
        &mut self,
        now: Timestamp,
        timeout_nanos: i64,
        finished: &mut impl FnMut(ConnectionRecord),
    ) {
        let stale: Vec<(u64, FlowKey)> = self
            .live
            .iter()
            .filter(|(_, c)| c.last_ts().as_nanos().saturating_add(timeout_nanos) < now.as_nanos())
            .map(|(k, c)| (c.id, *k))
            .collect();
        let mut stale = stale;
        stale.sort_unstable_by_key(|(id, _)| *id);
        for (_, key) in stale {
            if let Some(conn) = self.live.remove(&key) {
                let mut record = conn.into_record();
                record.timed_out = true;
                finished(record);
            }
        }
    }

    /// A summary of every live connection, by id, for a live display.
    pub fn live_view(&self, now: Timestamp) -> Vec<LiveRow> {
        let mut rows: Vec<LiveRow> = self
            .live
            .values()
            .map(|c| LiveRow {
                id: c.id,
                client: c.client,
                server: c.server,
                age_s: now.secs_since(c.first_ts()),
                idle_s: now.secs_since(c.last_ts()),
                packets: c.packet_count(),
                closed: c.is_closed(),
            })
            .collect();
        rows.sort_unstable_by_key(|r| r.id);
        rows
    }

    /// Finishes every connection still live (the input ended), in id order.
    pub fn finish_all(self, finished: &mut impl FnMut(ConnectionRecord)) {
        let mut rest: Vec<Box<Connection>> = self.live.into_values().collect();
        rest.sort_by_key(|c| c.id);
        for conn in rest {
            finished(conn.into_record());
        }
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    //! Builders shared by the table's tests: packets made with etherparse's
    //! `PacketBuilder`, decoded and tracked exactly as the pipeline does.
    pub use super::*;
    pub use crate::capture::LinkType;
    pub use crate::decode::decode;
    use etherparse::PacketBuilder;

    const CLIENT: ([u8; 4], u16) = ([10, 0, 0, 1], 40000);
    const SERVER: ([u8; 4], u16) = ([10, 0, 0, 2], 80);

    /// One packet to build: who sends, flags, seq, ack, window, payload, time (s).
    pub struct Pkt {
        pub from_client: bool,
        syn: bool,
        ack: Option<u32>,
        fin: bool,
        rst: bool,
        seq: u32,
        window: u16,
        payload: Vec<u8>,
        pub at: f64,
        client: ([u8; 4], u16),
        server: ([u8; 4], u16),
    }

    pub fn pkt(from_client: bool, seq: u32, at: f64) -> Pkt {
        Pkt {
            from_client,
            syn: false,
            ack: None,
            fin: false,
            rst: false,
            seq,
            window: 1000,
            payload: Vec::new(),
            at,
            client: CLIENT,
            server: SERVER,
        }
    }

    impl Pkt {
        pub fn syn(mut self) -> Self {
            self.syn = true;
            self
        }
        pub fn ack(mut self, ack: u32) -> Self {
            self.ack = Some(ack);
            self
        }
        pub fn fin(mut self) -> Self {
            self.fin = true;
            self
        }
        pub fn rst(mut self) -> Self {
            self.rst = true;
            self
        }
        pub fn data(mut self, payload: &[u8]) -> Self {
            self.payload = payload.to_vec();
            self
        }
        /// Between these endpoints instead of the default pair.
        pub fn between(mut self, client: ([u8; 4], u16), server: ([u8; 4], u16)) -> Self {
            self.client = client;
            self.server = server;
            self
        }
        pub fn bytes(&self) -> Vec<u8> {
            let (src, dst) = if self.from_client {
                (self.client, self.server)
            } else {
                (self.server, self.client)
            };
            let mut b = PacketBuilder::ethernet2([1; 6], [2; 6])
                .ipv4(src.0, dst.0, 64)
                .tcp(src.1, dst.1, self.seq, self.window);
            if self.syn {
                b = b.syn();
            }
            if let Some(ack) = self.ack {
                b = b.ack(ack);
            }
            if self.fin {
                b = b.fin();
            }
            if self.rst {
                b = b.rst();
            }
            let mut out = Vec::new();
            b.write(&mut out, &self.payload).expect("build packet");
            out
        }
    }

    /// Feeds `packets` to `table`, returning what finished and when (by packet number).
    pub fn feed(table: &mut ConnectionTable, packets: &[Pkt]) -> Vec<(u64, ConnectionRecord)> {
        let mut done = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            let frame = p.bytes();
            let seg = decode(LinkType::ETHERNET, &frame, frame.len() as u32).expect("decodes");
            let ts = Timestamp::from_nanos((p.at * 1e9) as i64);
            let n = i as u64 + 1;
            table.on_segment(&seg, n, ts, &mut |r| done.push((n, r)));
        }
        done
    }

    pub fn track(packets: &[Pkt]) -> Vec<ConnectionRecord> {
        let mut table = ConnectionTable::new(0, 1);
        let mut done: Vec<ConnectionRecord> = feed(&mut table, packets)
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        table.finish_all(&mut |r| done.push(r));
        done.sort_by_key(|r| r.id);
        done
    }

    pub fn handshake(isn_c: u32, isn_s: u32) -> Vec<Pkt> {
        vec![
            pkt(true, isn_c, 0.0).syn(),
            pkt(false, isn_s, 0.010).syn().ack(isn_c + 1),
            pkt(true, isn_c + 1, 0.020).ack(isn_s + 1),
        ]
    }

    /// One TCP conversation written as a script: each call adds the packets a real
    /// client and server would send, keeping sequence numbers right.
    pub struct Conv {
        client: ([u8; 4], u16),
        server: ([u8; 4], u16),
        c_next: u32,
        s_next: u32,
        pub packets: Vec<Pkt>,
    }

    impl Conv {
        /// A completed handshake starting at `at`, from client port `port` to the
        /// default server.
        pub fn open(port: u16, at: f64) -> Conv {
            Conv::open_to(port, SERVER, at)
        }

        pub fn open_to(port: u16, server: ([u8; 4], u16), at: f64) -> Conv {
            let client = (CLIENT.0, port);
            let (ci, si) = (u32::from(port) * 1000, 500_000);
            let packets = vec![
                pkt(true, ci, at).syn().between(client, server),
                pkt(false, si, at + 0.001)
                    .syn()
                    .ack(ci + 1)
                    .between(client, server),
                pkt(true, ci + 1, at + 0.002)
                    .ack(si + 1)
                    .between(client, server),
            ];
            Conv {
                client,
                server,
                c_next: ci + 1,
                s_next: si + 1,
                packets,
            }
        }

        fn add(&mut self, p: Pkt) -> &mut Self {
            self.packets.push(p.between(self.client, self.server));
            self
        }

        pub fn request(&mut self, at: f64, text: &str) -> &mut Self {
            let p = pkt(true, self.c_next, at)
                .ack(self.s_next)
                .data(text.as_bytes());
            self.c_next += text.len() as u32;
            self.add(p)
        }

        pub fn response(&mut self, at: f64, text: &str) -> &mut Self {
            let p = pkt(false, self.s_next, at)
                .ack(self.c_next)
                .data(text.as_bytes());
            self.s_next += text.len() as u32;
            self.add(p);
            let ack = pkt(true, self.c_next, at + 0.0001).ack(self.s_next);
            self.add(ack)
        }

        /// `at` a keep-alive probe from the client, answered unless `answered` is false.
        pub fn client_probe(&mut self, at: f64, answered: bool) -> &mut Self {
            let p = pkt(true, self.c_next - 1, at).ack(self.s_next);
            self.add(p);
            if answered {
                let a = pkt(false, self.s_next, at + 0.0001).ack(self.c_next);
                self.add(a);
            }
            self
        }

        pub fn fin(&mut self, from_client: bool, at: f64) -> &mut Self {
            let (c, s) = (self.c_next, self.s_next);
            let first = if from_client {
                pkt(true, c, at).ack(s).fin()
            } else {
                pkt(false, s, at).ack(c).fin()
            };
            let second = if from_client {
                pkt(false, s, at + 0.0001).ack(c + 1).fin()
            } else {
                pkt(true, c, at + 0.0001).ack(s + 1).fin()
            };
            self.add(first);
            self.add(second);
            self.c_next += 1;
            self.s_next += 1;
            self
        }

        pub fn rst(&mut self, from_client: bool, at: f64) -> &mut Self {
            let p = if from_client {
                pkt(true, self.c_next, at).rst()
            } else {
                pkt(false, self.s_next, at).rst()
            };
            self.add(p)
        }
    }

    /// The records of several conversations captured together, packets in time order.
    pub fn capture(convs: &[&Conv]) -> Vec<ConnectionRecord> {
        let mut all: Vec<&Pkt> = convs.iter().flat_map(|c| c.packets.iter()).collect();
        all.sort_by(|a, b| a.at.total_cmp(&b.at));
        let mut table = ConnectionTable::new(0, 1);
        let mut done = Vec::new();
        for (i, p) in all.iter().enumerate() {
            let frame = p.bytes();
            let seg = decode(LinkType::ETHERNET, &frame, frame.len() as u32).expect("decodes");
            let ts = Timestamp::from_nanos((p.at * 1e9) as i64);
            table.on_segment(&seg, i as u64 + 1, ts, &mut |r| done.push(r));
        }
        table.finish_all(&mut |r| done.push(r));
        done.sort_by_key(|r| r.id);
        done
    }
}

#[cfg(test)]
mod tests {
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
        let mut table = ConnectionTable::new(0, 1).with_syn_timeout(5_000_000_000);
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
        let mut table = ConnectionTable::new(0, 1).with_syn_timeout(5_000_000_000);
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
        let mut table = ConnectionTable::new(0, 1).with_syn_timeout(5_000_000_000);
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
        let mut table = ConnectionTable::new(0, 1).with_syn_timeout(1_000_000_000);
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
    fn closed_connections_leave_the_table_after_the_linger() {
        let mut table = ConnectionTable::new(0, 1);
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
}

#[cfg(test)]
mod http_tests {
    //! HTTP through the whole stack — packets, reassembly, analyzer — on built bytes.
    use super::tests_support::*;

    #[test]
    fn retransmitted_segment_inside_a_body_is_used_once() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n";
        let mut p = handshake(100, 500);
        p.push(pkt(true, 101, 0.1).ack(501).data(b"GET / HTTP/1.1\r\n\r\n"));
        p.push(pkt(false, 501, 0.2).ack(119).data(head));
        let body_at = 501 + head.len() as u32;
        p.push(pkt(false, body_at, 0.3).ack(119).data(b"0123456789"));
        p.push(pkt(false, body_at, 0.5).ack(119).data(b"0123456789")); // retransmission
        p.push(pkt(false, body_at + 10, 0.6).ack(119).data(b"abcdefghij"));
        let c = &track(&p)[0];
        assert_eq!(c.protocol, "http");
        assert_eq!(c.retransmissions.server, 1);
        assert_eq!(c.http.len(), 1);
        assert_eq!(c.http[0].response_body_bytes, 20);
        assert!(c.http[0].response_complete);
        assert_eq!(c.missed_bytes.server, 0);
    }

    #[test]
    fn lost_segment_inside_a_body_is_counted_and_framing_survives() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n";
        let mut p = handshake(100, 500);
        p.push(pkt(true, 101, 0.1).ack(501).data(b"GET / HTTP/1.1\r\n\r\n"));
        p.push(pkt(false, 501, 0.2).ack(119).data(head));
        let body_at = 501 + head.len() as u32;
        p.push(pkt(false, body_at, 0.3).ack(119).data(b"0123456789"));
        // body_at + 10 .. + 20 was never captured.
        p.push(pkt(false, body_at + 20, 0.4).ack(119).data(b"abcdefghij"));
        p.push(
            pkt(true, 119, 5.0)
                .ack(body_at + 30)
                .data(b"GET /2 HTTP/1.1\r\n\r\n"),
        );
        p.push(
            pkt(false, body_at + 30, 5.1)
                .ack(138)
                .data(b"HTTP/1.1 204 No Content\r\n\r\n"),
        );
        let c = &track(&p)[0];
        assert_eq!(c.requests, 2);
        assert!(c.reused);
        assert_eq!(c.missed_bytes.server, 10);
        assert_eq!(c.http[0].response_body_bytes, 30);
        assert_eq!(c.http[1].status, Some(204));
        let gap = c.http[1].idle_before_s.expect("idle before 2nd");
        assert!((gap - 4.6).abs() < 1e-6, "{gap}");
        assert_eq!(c.max_request_gap_s, Some(gap));
    }

    #[test]
    fn binary_garbage_on_port_80_is_unknown_not_http() {
        let mut p = handshake(100, 500);
        p.push(
            pkt(true, 101, 0.1)
                .ack(501)
                .data(&[0x8e, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00]),
        );
        p.push(
            pkt(false, 501, 0.2)
                .ack(108)
                .data(&[0x00, 0xff, 0x13, 0x37]),
        );
        p.push(pkt(true, 108, 0.3).ack(505).data(&[0xde, 0xad]));
        p.push(pkt(false, 505, 0.4).ack(110).data(b"\x00\x01"));
        let c = &track(&p)[0];
        assert_eq!(c.protocol, "unknown");
        assert_eq!(c.requests, 0);
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert_eq!(c.warnings[0].packet, Some(4));
        assert_eq!(
            c.warnings[0].message,
            "the payload on port 80 is neither HTTP nor TLS; not analysed"
        );
    }

    #[test]
    fn server_idle_close_is_named() {
        let mut p = handshake(100, 500);
        p.push(pkt(true, 101, 0.1).ack(501).data(b"GET / HTTP/1.1\r\n\r\n"));
        p.push(
            pkt(false, 501, 0.2)
                .ack(119)
                .data(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        );
        p.push(pkt(false, 539, 5.2).ack(119).fin());
        let c = &track(&p)[0];
        let end = c.http_end.expect("http end");
        assert_eq!(end.by, Some(crate::flow::key::Direction::Server));
        assert_eq!(
            end.reason,
            crate::report::model::HttpEndReason::ServerClosedIdle
        );
    }
}
