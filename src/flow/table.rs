//! The live connections of one input. A connection leaves the table — handed to the
//! caller as a finished record — when it has been closed (both FINs, or an RST) and
//! quiet for [`CLOSE_LINGER_NANOS`] of capture time (longer while a side keeps
//! retransmitting with back-off), when a new SYN reuses its 4-tuple, or at the end
//! of the input. Only a SYN with a new ISN, or that quiet time, starts a new
//! connection on a 4-tuple: stray packets of a closed connection belong to it.
//! Memory therefore grows with connections alive at once, never with the length of
//! the capture.

use super::key::{Endpoint, FlowKey};
use super::tcp::Connection;
use crate::decode::Segment;
use crate::report::model::ConnectionRecord;
use crate::time::Timestamp;
use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, HashMap};

/// The 4-tuple map's hasher: the keys are chosen by whoever sends packets, so the
/// hash is seeded at random per table (foldhash), lest a crafted capture pile every
/// connection into one bucket. Nothing printed depends on it: ids follow first
/// packets and every walk over the map is sorted by id.
type FlowMap<V> = HashMap<FlowKey, V, foldhash::fast::RandomState>;

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
    live: FlowMap<Box<Connection>>,
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
            live: FlowMap::default(),
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
        let src = Endpoint::from(seg.src);
        let dst = Endpoint::from(seg.dst);
        let (key, _) = FlowKey::new(src, dst);
        self.expire(ts, (key, src, seg), finished);
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
    /// connection attempts nobody answered within the SYN timeout. `arriving` is the
    /// packet about to be tracked: however late, it does not let its own connection
    /// expire if it answers that connection's SYN or is a straggler of its close (a
    /// new connection would guess its roles and report a phantom).
    fn expire(
        &mut self,
        now: Timestamp,
        arriving: (FlowKey, Endpoint, &Segment<'_>),
        finished: &mut impl FnMut(ConnectionRecord),
    ) {
        let (arriving_key, src, seg) = arriving;
        let (mut kept, mut kept_attempt) = (None, None);
        while let Some((key, id)) = self.attempts.pop_due(now) {
            let Some(conn) = self.live.get(&key) else {
                continue;
            };
            if conn.id != id || !conn.is_unanswered_attempt() {
                continue; // replaced, or answered: no longer an attempt
            }
            if key == arriving_key && conn.is_answer_to_syn(src, seg) {
                continue; // answered now: no longer an attempt
            }
            if key == arriving_key && conn.is_syn_retry(src, seg) {
                // The same ISN again: the same attempt, however late; waited on
                // again from this SYN once it is tracked.
                kept_attempt = Some((key, id));
                continue;
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
            if key == arriving_key && conn.is_straggler(src, seg) {
                // Looked at again after the straggler (pushing it now would pop it
                // again in this loop).
                kept = Some((key, id));
                continue;
            }
            let patience = conn.linger_patience(CLOSE_LINGER_NANOS);
            let quiet_until =
                Timestamp::from_nanos(conn.last_ts().as_nanos().saturating_add(patience));
            if quiet_until > now {
                // Stragglers arrived: wait again from the last one.
                self.closing.push(quiet_until, key, id);
            } else if let Some(conn) = self.live.remove(&key) {
                finished(conn.into_record());
            }
        }
        if let Some((key, id)) = kept_attempt {
            let due = Timestamp::from_nanos(now.as_nanos().saturating_add(self.syn_timeout_nanos));
            self.attempts.push(due, key, id);
        }
        if let Some((key, id)) = kept {
            let due = Timestamp::from_nanos(now.as_nanos().saturating_add(CLOSE_LINGER_NANOS));
            self.closing.push(due, key, id);
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
        pub fn window(mut self, window: u16) -> Self {
            self.window = window;
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
        assert_eq!(c.protocol, crate::report::model::Protocol::Http);
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
        assert_eq!(c.protocol, crate::report::model::Protocol::Unknown);
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

    /// `p` inside VXLAN (VNI 7) between two tunnel endpoints.
    fn in_vxlan(p: &Pkt, from_vtep: [u8; 4], to_vtep: [u8; 4]) -> Vec<u8> {
        let mut payload = vec![0x08, 0, 0, 0, 0, 0, 7, 0];
        payload.extend_from_slice(&p.bytes());
        let mut out = Vec::new();
        etherparse::PacketBuilder::ethernet2([9; 6], [8; 6])
            .ipv4(from_vtep, to_vtep, 64)
            .udp(50000, 4789)
            .write(&mut out, &payload)
            .expect("build");
        out
    }

    #[test]
    fn tunnelled_connection_is_keyed_by_inner_tuple_with_outer_endpoints_by_role() {
        let (vtep_client, vtep_server) = ([198, 51, 100, 1], [198, 51, 100, 2]);
        let hs = handshake(100, 900);
        // The SYN-ACK arrives first: the server's side of the tunnel sent it, yet the
        // client's tunnel endpoint is listed first.
        let frames = [
            in_vxlan(&hs[1], vtep_server, vtep_client),
            in_vxlan(&hs[2], vtep_client, vtep_server),
        ];
        let mut table = ConnectionTable::new(0, 1);
        let mut done = Vec::new();
        for (i, frame) in frames.iter().enumerate() {
            let seg = decode(LinkType::ETHERNET, frame, frame.len() as u32).expect("inner");
            let ts = Timestamp::from_nanos(i as i64 * 1_000_000);
            table.on_segment(&seg, i as u64 + 1, ts, &mut |r| done.push(r));
        }
        table.finish_all(&mut |r| done.push(r));
        assert_eq!(done.len(), 1, "one inner connection");
        let record = &done[0];
        assert_eq!(record.client.to_string(), "10.0.0.1:40000");
        let encapsulation = record.encapsulation.as_ref().expect("encapsulation");
        assert_eq!(encapsulation.kind, "vxlan");
        assert_eq!(encapsulation.id, Some(7));
        assert_eq!(
            encapsulation.outer,
            [
                std::net::IpAddr::from(vtep_client),
                std::net::IpAddr::from(vtep_server)
            ]
        );
        let json = serde_json::to_value(record).expect("json");
        assert_eq!(
            json["encapsulation"],
            serde_json::json!({"kind": "vxlan", "outer": ["198.51.100.1", "198.51.100.2"], "id": 7, "layers": 1})
        );
    }

    #[test]
    fn untunnelled_record_has_no_encapsulation_key() {
        let records = track(&handshake(1, 2));
        let json = serde_json::to_value(&records[0]).expect("json");
        assert!(json.get("encapsulation").is_none());
    }
}
