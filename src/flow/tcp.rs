//! One TCP connection, followed packet by packet: who is client, the handshake,
//! keep-alive probes and their answers, retransmissions, zero windows, idle gaps, the
//! close, and Zeek's state and history (delegated to `zeek`).
//!
//! Keep-alive probes, keep-alive ACKs, zero-window probes, retransmissions and the
//! initial RTT follow Wireshark's `packet-tcp.c` rules so the figures match what users
//! see there; the handshake and close follow RFC 9293 §3.5–3.6, and a challenge ACK
//! answering a SYN (RFC 5961 §4) is set aside. Not for payload meaning (`analyzers`).

use super::handshake::HandshakeTrack;
use super::key::{Direction, Endpoint, PerSide};
use super::payload::{Origin, PayloadAnalyzer, PayloadFactory, TcpEnd};
use super::roles::assign_roles;
use super::seq::SeqNumber;
use super::zeek::ZeekConn;
use crate::decode::Segment;
use crate::report::model::{
    Close, CloseHow, ConnectionRecord, Encapsulation, FlagCounts, Idle, IdlePeriod, KeepAlive,
    PacketRef, Probe, RoleSource, TcpEvent, TcpEventKind,
};
use crate::time::Timestamp;

/// Gaps between payloads at least this long are listed as idle periods.
const IDLE_PERIOD_MIN_S: f64 = 1.0;
/// At most this many retransmission / zero-window events are listed per connection.
const MAX_TCP_EVENTS: usize = 64;
/// At most this many idle periods are kept per connection; the rest are counted.
const MAX_IDLE_PERIODS: usize = 100;

/// `base`, or three times the last gap between retransmissions if longer: a sender
/// backing off doubles its wait (RFC 6298 §5.5), and the third covers timer slack
/// and jitter (Linux's SYN retries come 1, 2, 4, 8, 16, 32 s apart, give or take).
pub(crate) fn backoff_patience(base: i64, last_gap: i64) -> i64 {
    base.max(last_gap.saturating_mul(3))
}

/// Wireshark's per-direction analysis state (`tcp_analyze_seq_info` and friends).
#[derive(Clone, Copy, Debug, Default)]
struct WireSide {
    /// Sequence number of the first segment seen from this side.
    base_seq: Option<SeqNumber>,
    /// Highest sequence number + segment length seen: the next expected.
    next_seq: Option<SeqNumber>,
    last_ack: u32,
    last_window: u16,
    last_was_probe: bool,
    seen_fin: bool,
    seen_rst: bool,
    /// Sequence number the FIN occupies, once sent.
    fin_at: Option<SeqNumber>,
    /// The peer acknowledged the FIN.
    fin_acked: bool,
}

/// A connection being tracked.
#[derive(Debug)]
pub struct Connection {
    pub id: u64,
    pub input: usize,
    pub client: Endpoint,
    pub server: Endpoint,
    roles: RoleSource,
    first_packet: u64,
    last_packet: u64,
    start: Timestamp,
    last_ts: Timestamp,
    /// Time between the last two packets, in nanoseconds: a peer retransmitting with
    /// back-off (a FIN nobody acknowledges) is waited on for a multiple of it.
    last_gap: i64,
    packets: PerSide<u64>,
    payload_bytes: PerSide<u64>,
    wire: PerSide<WireSide>,
    handshake: HandshakeTrack,
    probes: Vec<Probe>,
    /// Index into `probes` of each side's latest probe still waiting for an answer.
    open_probe: PerSide<Option<usize>>,
    keepalive_acks: u64,
    flags: FlagCounts,
    retransmissions: PerSide<u64>,
    zero_windows: PerSide<u64>,
    tcp_events: Vec<TcpEvent>,
    tcp_events_dropped: u64,
    last_payload: Option<(Timestamp, u64)>,
    idle: Option<Idle>,
    close: Option<Close>,
    zeek: ZeekConn,
    /// The payload's analyzer, which flow/ hands every segment to.
    payload: Box<dyn PayloadAnalyzer>,
    /// The tunnel the first packet came in, if any.
    encapsulation: Option<Encapsulation>,
}

impl Connection {
    /// The connection `seg`, sent from `src` to `dst` in packet `first`, opens; its
    /// payload goes to an analyzer `payload` makes.
    pub fn new(
        id: u64,
        input: usize,
        (src, dst): (Endpoint, Endpoint),
        seg: &Segment<'_>,
        first: Origin,
        payload: &dyn PayloadFactory,
    ) -> Self {
        let Origin { packet: number, ts } = first;
        let (client, server, roles, flipped) = assign_roles(src, dst, seg);
        let encapsulation = seg.tunnel.map(|t| Encapsulation {
            kind: t.kind.name(),
            outer: if flipped {
                [t.outer_dst, t.outer_src]
            } else {
                [t.outer_src, t.outer_dst]
            },
            id: t.id,
            layers: t.layers,
        });
        Connection {
            id,
            input,
            client,
            server,
            roles,
            first_packet: number,
            last_packet: number,
            start: ts,
            last_ts: ts,
            last_gap: 0,
            packets: PerSide::default(),
            payload_bytes: PerSide::default(),
            wire: PerSide::default(),
            handshake: HandshakeTrack::default(),
            probes: Vec::new(),
            open_probe: PerSide::default(),
            keepalive_acks: 0,
            flags: FlagCounts::default(),
            retransmissions: PerSide::default(),
            zero_windows: PerSide::default(),
            tcp_events: Vec::new(),
            tcp_events_dropped: 0,
            last_payload: None,
            idle: None,
            close: None,
            zeek: ZeekConn::new(flipped),
            payload: payload.make(roles != RoleSource::Ports),
            encapsulation,
        }
    }

    /// Which role sent a packet from `src`.
    pub fn direction_of(&self, src: Endpoint) -> Direction {
        if src == self.client {
            Direction::Client
        } else {
            Direction::Server
        }
    }

    pub fn last_ts(&self) -> Timestamp {
        self.last_ts
    }

    pub fn first_ts(&self) -> Timestamp {
        self.start
    }

    pub fn packet_count(&self) -> u64 {
        self.packets.client + self.packets.server
    }

    /// A connection attempt nobody answered yet: SYNs from the client and nothing at
    /// all from the server (Zeek's `S0`). An ACK from the client after its SYN proves
    /// the handshake completed off capture, so such a connection is no attempt.
    pub fn is_unanswered_attempt(&self) -> bool {
        self.handshake.syn.is_some()
            && self.packets.server == 0
            && self.handshake.off_capture.is_none()
    }

    /// How long after its last SYN an unanswered attempt is given up: `base`, or
    /// longer for a client that is still retrying. TCP doubles the wait before each
    /// retry (RFC 6298 §5.5), so the next SYN is due about twice the last gap later;
    /// [`backoff_patience`] allows for timer slack.
    pub fn attempt_patience(&self, base: i64) -> i64 {
        backoff_patience(base, self.handshake.last_syn_gap)
    }

    /// How long after its last packet a closed connection waits for stragglers:
    /// `base`, or longer while a side keeps retransmitting (a FIN nobody
    /// acknowledges is resent with the same doubling back-off as a SYN).
    pub fn linger_patience(&self, base: i64) -> i64 {
        backoff_patience(base, self.last_gap)
    }

    /// The time between the last two packets, in nanoseconds (see
    /// [`Connection::linger_patience`]).
    pub fn last_gap(&self) -> i64 {
        self.last_gap
    }

    /// The sequence space `end` has used so far: its first sequence number and the
    /// next expected; None if it has sent nothing. What a closed connection's
    /// tombstone keeps to recognise its stragglers.
    pub fn sequence_space(&self, end: Endpoint) -> Option<(SeqNumber, SeqNumber)> {
        let side = self.wire.get(self.direction_of(end));
        side.base_seq.zip(side.next_seq)
    }

    /// Whether `seg` from `src` answers this connection's SYN (a SYN-ACK or RST
    /// acknowledging its ISN): it continues the attempt however late it comes.
    pub fn is_answer_to_syn(&self, src: Endpoint, seg: &Segment<'_>) -> bool {
        self.direction_of(src) == Direction::Server
            && seg.flags.ack()
            && matches!(self.handshake.syn, Some((_, _, isn)) if SeqNumber(seg.ack) == isn.plus(1))
    }

    /// Whether `seg` from `src` is the client's SYN again with the same ISN: a retry
    /// of this attempt, not a new connection.
    pub fn is_syn_retry(&self, src: Endpoint, seg: &Segment<'_>) -> bool {
        self.direction_of(src) == Direction::Client
            && seg.flags.syn()
            && !seg.flags.ack()
            && matches!(self.handshake.syn, Some((_, _, isn)) if SeqNumber(seg.seq) == isn)
    }

    /// Whether `seg` from `src` is a straggler of this closed connection: no SYN,
    /// and its sequence number inside what that side already sent (a retransmitted
    /// FIN, a late ACK, an RST answering a late segment).
    pub fn is_straggler(&self, src: Endpoint, seg: &Segment<'_>) -> bool {
        let side = self.wire.get(self.direction_of(src));
        let seq = SeqNumber(seg.seq);
        !seg.flags.syn()
            && matches!((side.base_seq, side.next_seq), (Some(base), Some(next)) if seq >= base && seq <= next)
    }

    /// Both FINs, or an RST: nothing more is expected but stragglers.
    pub fn is_closed(&self) -> bool {
        let (c, s) = (&self.wire.client, &self.wire.server);
        (c.seen_fin && s.seen_fin) || c.seen_rst || s.seen_rst
    }

    /// Whether `seg` opens a new connection on this 4-tuple rather than continuing this
    /// one: a SYN whose initial sequence number differs from the one this side started
    /// with (Wireshark's `tcp.stream` port-reuse rule; Zeek's `IsReuse` is alike).
    pub fn is_reused_by(&self, dir: Direction, seg: &Segment<'_>) -> bool {
        seg.flags.syn()
            && !seg.flags.ack()
            && matches!(self.wire.get(dir).base_seq, Some(base) if base != SeqNumber(seg.seq))
    }

    pub fn on_segment(&mut self, dir: Direction, seg: &Segment<'_>, number: u64, ts: Timestamp) {
        self.last_gap = ts.as_nanos().saturating_sub(self.last_ts.as_nanos());
        self.last_packet = number;
        // The latest time seen, not the last packet's: in a capture whose clock steps
        // back (the reader warns) a duration must not go negative (bug 11).
        self.last_ts = self.last_ts.max(ts);
        *self.packets.get_mut(dir) += 1;
        *self.payload_bytes.get_mut(dir) += u64::from(seg.payload_len);

        let flags = seg.flags;
        self.flags.syn += u64::from(flags.syn() && !flags.ack());
        self.flags.synack += u64::from(flags.syn() && flags.ack());
        self.flags.fin += u64::from(flags.fin());
        self.flags.rst += u64::from(flags.rst());
        self.time_initial_rtt(dir, seg, ts);
        if self.is_challenge_exchange(dir, seg) {
            // Neither packet belongs to this attempt's sequence space: kept out of
            // sequence tracking and reassembly, so a retried SYN continues the attempt
            // as if they had not happened. Zeek's history still shows them, as Zeek's.
            if flags.rst() && self.close.is_none() {
                // The attempt ends here, unless the client retries its SYN.
                self.close = Some(Close {
                    how: CloseHow::Rst,
                    by: Some(dir),
                    packet: Some(number),
                    time: Some(ts),
                    both_fins: false,
                    completed: false,
                });
                self.handshake.challenge_reset = true;
            }
            self.zeek
                .on_segment(dir, flags, seg.seq, seg.window, seg.payload_len);
            return;
        }
        if self.handshake.challenge_reset && dir == Direction::Client && flags.syn() {
            // The retried SYN: the reset only cleared the server's stale state. Zeek
            // would log the retry as a new connection (its `IsReuse`); its state
            // starts again here so conn_state and history describe the session.
            self.handshake.challenge_reset = false;
            self.close = None;
            self.zeek = ZeekConn::new(false);
        }
        let seq = SeqNumber(seg.seq);
        let control = flags.syn() || flags.fin() || flags.rst();
        let peer_last_was_probe = self.wire.get(dir.other()).last_was_probe;
        // The peer advertised a zero window (it has sent, so its window is known).
        let peer_window_zero = {
            let peer = self.wire.get(dir.other());
            peer.next_seq.is_some() && peer.last_window == 0
        };
        let side = self.wire.get_mut(dir);
        side.base_seq.get_or_insert(seq);

        // Keep-alive probe: 0 or 1 byte at one before the next expected sequence number.
        let is_probe =
            !control && seg.payload_len <= 1 && side.next_seq.map(|n| n.minus(1)) == Some(seq);
        // Zero-window probe (Wireshark's `tcp.analysis.zero_window_probe`): 1 byte at
        // the next expected sequence number into the peer's zero window. The receiver
        // does not accept the byte, so it does not advance the sequence: the next
        // real segment sends it again and is no retransmission.
        let is_zero_window_probe =
            !control && seg.payload_len == 1 && peer_window_zero && side.next_seq == Some(seq);
        // Keep-alive ACK: repeats this side's previous ACK and window right after the
        // peer's probe.
        let is_probe_ack = !control
            && seg.payload_len == 0
            && flags.ack()
            && seg.window != 0
            && seg.window == side.last_window
            && side.next_seq == Some(seq)
            && seg.ack == side.last_ack
            && peer_last_was_probe;
        // Retransmission: occupies sequence space but does not advance it.
        let occupies = seg.payload_len > 0 || flags.syn() || flags.fin();
        let is_retransmission =
            occupies && !is_probe && matches!(side.next_seq, Some(n) if seq < n);
        let seg_len = seg.payload_len + u32::from(flags.syn()) + u32::from(flags.fin());
        let end = seq.plus(seg_len);
        if !is_zero_window_probe && side.next_seq.is_none_or(|n| end > n) {
            side.next_seq = Some(end);
        }
        side.last_ack = seg.ack;
        side.last_window = seg.window;
        side.last_was_probe = is_probe;
        side.seen_fin |= flags.fin();
        side.seen_rst |= flags.rst();
        if flags.fin() {
            side.fin_at.get_or_insert(seq.plus(seg.payload_len));
        }
        if flags.ack() {
            let peer = self.wire.get_mut(dir.other());
            if peer.fin_at.is_some_and(|fin| SeqNumber(seg.ack) > fin) {
                peer.fin_acked = true;
            }
        }

        if is_retransmission {
            *self.retransmissions.get_mut(dir) += 1;
            self.event(number, ts, dir, TcpEventKind::Retransmission);
        }
        if seg.window == 0 && !control {
            *self.zero_windows.get_mut(dir) += 1;
            self.event(number, ts, dir, TcpEventKind::ZeroWindow);
        }
        if is_zero_window_probe {
            self.event(number, ts, dir, TcpEventKind::ZeroWindowProbe);
        }
        if is_probe {
            self.probes.push(Probe {
                packet: number,
                time: ts,
                from: dir,
                acked: false,
                ack_packet: None,
            });
            *self.open_probe.get_mut(dir) = Some(self.probes.len() - 1);
        }
        if is_probe_ack {
            self.keepalive_acks += 1;
        }
        if flags.ack() {
            // Any ACK from the peer that covers the probed byte answers the probe.
            if let Some(index) = *self.open_probe.get(dir.other()) {
                if let Some(probe) = self.probes.get_mut(index) {
                    let probed = self.wire.get(dir.other()).next_seq.unwrap_or(seq);
                    if SeqNumber(seg.ack) >= probed || is_probe_ack {
                        probe.acked = true;
                        probe.ack_packet = Some(number);
                        *self.open_probe.get_mut(dir.other()) = None;
                    }
                }
            }
        }

        self.track_handshake(dir, seg, number, ts);

        if seg.payload_len > 0 && !is_probe && !flags.rst() {
            if let Some((prev_ts, prev_packet)) = self.last_payload {
                let gap = ts.secs_since(prev_ts);
                let idle = self.idle.get_or_insert_with(|| Idle {
                    max_s: gap,
                    from_packet: prev_packet,
                    to_packet: number,
                    periods: Vec::new(),
                    periods_dropped: 0,
                });
                if gap > idle.max_s {
                    (idle.max_s, idle.from_packet, idle.to_packet) = (gap, prev_packet, number);
                }
                if gap >= IDLE_PERIOD_MIN_S {
                    if idle.periods.len() < MAX_IDLE_PERIODS {
                        idle.periods.push(IdlePeriod {
                            start: prev_ts,
                            from_packet: prev_packet,
                            to_packet: number,
                            duration_s: gap,
                        });
                    } else {
                        idle.periods_dropped += 1;
                    }
                }
            }
            self.last_payload = Some((ts, number));
        }

        if self.close.is_none() && (flags.fin() || flags.rst()) {
            self.close = Some(Close {
                how: if flags.rst() {
                    CloseHow::Rst
                } else {
                    CloseHow::Fin
                },
                by: Some(dir),
                packet: Some(number),
                time: Some(ts),
                both_fins: false,
                completed: false,
            });
        }

        self.zeek
            .on_segment(dir, flags, seg.seq, seg.window, seg.payload_len);
        if flags.syn() {
            self.payload.fix_roles();
        }
        self.payload
            .on_segment(dir, seg, Origin { packet: number, ts });
        if self.payload.take_role_reversal() {
            self.swap_roles();
        }
    }

    /// The payload showed the port guess backwards (requests came from the side taken
    /// for the server): client and server trade places, and with them every figure kept
    /// per direction, so the record reads as if the roles had been known from the
    /// first packet. Only for connections without a SYN (the streams never ask
    /// otherwise).
    fn swap_roles(&mut self) {
        fn swap<T>(pair: &mut PerSide<T>) {
            std::mem::swap(&mut pair.client, &mut pair.server);
        }
        std::mem::swap(&mut self.client, &mut self.server);
        self.roles = RoleSource::Payload;
        swap(&mut self.packets);
        swap(&mut self.payload_bytes);
        swap(&mut self.wire);
        swap(&mut self.open_probe);
        swap(&mut self.retransmissions);
        swap(&mut self.zero_windows);
        for probe in &mut self.probes {
            probe.from = probe.from.other();
        }
        for event in &mut self.tcp_events {
            event.from = event.from.other();
        }
        if let Some(close) = &mut self.close {
            close.by = close.by.map(Direction::other);
        }
        self.zeek.flip_roles();
        if let Some(tunnel) = &mut self.encapsulation {
            tunnel.outer.swap(0, 1);
        }
    }

    /// Wireshark's `tcp.analysis.initial_rtt`: from the most recent SYN (without
    /// ACK) to the first segment after it with ACK and without SYN, in either
    /// direction — the client's ACK completing the handshake, or the server's RST-ACK
    /// refusing it. Set once per connection. One departure: the client's own RST
    /// giving up an unanswered attempt is no round trip (Wireshark computes one but
    /// shows it only on later packets, of which there are none).
    fn time_initial_rtt(&mut self, dir: Direction, seg: &Segment<'_>, ts: Timestamp) {
        let hs = &mut self.handshake;
        let own_reset = seg.flags.rst() && dir == Direction::Client;
        if seg.flags.syn() && !seg.flags.ack() {
            hs.mru_syn = Some(ts);
        } else if seg.flags.ack() && !seg.flags.syn() && !own_reset && hs.initial_rtt_ms.is_none() {
            hs.initial_rtt_ms = hs.mru_syn.map(|syn| ts.millis_since(syn));
        }
    }

    /// Whether `seg` is half of a challenge-ACK exchange answering the client's SYN
    /// (RFC 5961 §4; RFC 9293 §3.10.7.3): the server still holds an older connection
    /// on this 4-tuple and answers the SYN with a bare ACK of that connection's
    /// numbers; the client, in SYN-SENT, resets that with `seq` = the ACK number and
    /// then sends its SYN again. Records the challenge when it sees one.
    fn is_challenge_exchange(&mut self, dir: Direction, seg: &Segment<'_>) -> bool {
        let flags = seg.flags;
        let hs = &mut self.handshake;
        let Some((_, _, isn)) = hs.syn else {
            return false;
        };
        if hs.synack.is_some() || hs.ack.is_some() || hs.off_capture.is_some() {
            return false;
        }
        match dir {
            Direction::Server => {
                let challenge = flags.ack()
                    && !flags.syn()
                    && !flags.rst()
                    && !flags.fin()
                    && seg.payload_len == 0
                    && SeqNumber(seg.ack) != isn.plus(1);
                if challenge {
                    hs.challenge_ack = Some(seg.ack);
                }
                challenge
            }
            Direction::Client => flags.rst() && hs.challenge_ack == Some(seg.seq),
        }
    }

    fn event(&mut self, packet: u64, time: Timestamp, from: Direction, kind: TcpEventKind) {
        if self.tcp_events.len() < MAX_TCP_EVENTS {
            self.tcp_events.push(TcpEvent {
                packet,
                time,
                from,
                kind,
            });
        } else {
            self.tcp_events_dropped += 1;
        }
    }

    fn track_handshake(&mut self, dir: Direction, seg: &Segment<'_>, number: u64, ts: Timestamp) {
        let flags = seg.flags;
        let hs = &mut self.handshake;
        match (dir, flags.syn(), flags.ack(), flags.rst()) {
            // RFC 9293 §3.5: the client's SYN opens; a repeat with the same ISN is a retry.
            (Direction::Client, true, false, false) => {
                match hs.syn {
                    None => hs.syn = Some((number, ts, SeqNumber(seg.seq))),
                    Some(_) if hs.synack.is_none() => hs.syn_retries += 1,
                    Some(_) => {}
                }
                if hs.synack.is_none() {
                    if let Some(previous) = hs.last_syn_ts {
                        hs.last_syn_gap = ts.as_nanos().saturating_sub(previous.as_nanos());
                    }
                    hs.last_syn_ts = Some(ts);
                }
            }
            // The server's SYN-ACK answers it; repeats are retries.
            (Direction::Server, true, true, false) => match hs.synack {
                None => hs.synack = Some((number, ts, SeqNumber(seg.seq))),
                Some(_) if hs.ack.is_none() => hs.synack_retries += 1,
                Some(_) => {}
            },
            // The client's first ACK of the server's ISN completes the handshake.
            // Without a captured SYN-ACK, any ACK from the client after its SYN
            // proves the SYN-ACK came (RFC 9293 §3.10.7.3: SYN-SENT answers nothing
            // else with a bare ACK).
            (Direction::Client, false, true, false) => match (hs.ack, hs.synack) {
                (None, Some((_, _, isn))) if SeqNumber(seg.ack) == isn.plus(1) => {
                    hs.ack = Some((number, ts));
                }
                (_, None) if hs.syn.is_some() && hs.refused_by.is_none() => {
                    hs.off_capture.get_or_insert((number, Direction::Client));
                }
                _ => {}
            },
            // A server segment acknowledging the SYN, other than a SYN-ACK or RST,
            // means the handshake completed with its SYN-ACK off capture.
            (Direction::Server, false, true, false) => {
                if let (Some((_, _, isn)), None) = (hs.syn, hs.synack) {
                    if SeqNumber(seg.ack) > isn {
                        hs.off_capture.get_or_insert((number, Direction::Server));
                    }
                }
            }
            // An RST from the server before any SYN-ACK refuses the connection.
            (Direction::Server, _, _, true)
                if hs.syn.is_some() && hs.synack.is_none() && hs.refused_by.is_none() =>
            {
                hs.refused_by = Some(number);
            }
            _ => {}
        }
    }

    /// The finished connection as the report shows it.
    pub fn into_record(mut self) -> ConnectionRecord {
        // Bytes still held may be the first to show who the client is.
        self.payload.flush();
        if self.payload.take_role_reversal() {
            self.swap_roles();
        }
        let handshake = self.handshake.record();
        let mut close = self.close.unwrap_or(Close {
            how: CloseHow::Open,
            by: None,
            packet: None,
            time: None,
            both_fins: false,
            completed: false,
        });
        close.both_fins = self.wire.client.seen_fin && self.wire.server.seen_fin;
        close.completed = self.wire.client.fin_acked && self.wire.server.fin_acked;
        let community_id = super::community_id::community_id(self.client, self.server);
        let app = self.payload.finish(TcpEnd {
            close: &close,
            server_port: self.server.port,
        });
        ConnectionRecord {
            id: self.id,
            input: self.input,
            client: self.client,
            server: self.server,
            roles: self.roles,
            first_packet: self.first_packet,
            last_packet: self.last_packet,
            start: self.start,
            end: self.last_ts,
            duration_s: self.last_ts.secs_since(self.start),
            packets: self.packets,
            payload_bytes: self.payload_bytes,
            handshake,
            keepalive: KeepAlive {
                probes: self.probes,
                acks: self.keepalive_acks,
            },
            flags: self.flags,
            retransmissions: self.retransmissions,
            zero_windows: self.zero_windows,
            tcp_events: self.tcp_events,
            tcp_events_dropped: self.tcp_events_dropped,
            idle: self.idle,
            last_payload: self
                .last_payload
                .map(|(time, packet)| PacketRef { packet, time }),
            close,
            conn_state: self.zeek.conn_state(),
            history: self.zeek.history().to_string(),
            community_id,
            protocol: app.protocol,
            requests: app.requests,
            reused: app.requests >= 2,
            http_end: app.http_end,
            max_request_gap_s: app.max_request_gap_s,
            tunnel: app.tunnel,
            encapsulation: self.encapsulation,
            requests_inferred: app.requests_inferred,
            tls: app.tls,
            http2: app.http2,
            missed_bytes: app.missed_bytes,
            warnings: app.warnings,
            http: app.http,
            process: None,
            timed_out: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::flow::key::Direction;
    use crate::flow::table::tests_support::*;
    use crate::report::model::{ConnectionRecord, HttpEndReason, Protocol, RoleSource};

    /// A keep-alive HTTP conversation captured after its handshake (the first three
    /// packets dropped), between a client on `client_port` and a server on
    /// `server_port`.
    fn mid_connection(client_port: u16, server_port: u16) -> ConnectionRecord {
        let mut c = Conv::open_to(client_port, ([10, 0, 0, 2], server_port), 0.0);
        c.request(1.0, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
            .response(1.1, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .client_probe(30.0, true)
            .request(40.0, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
            .response(40.1, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            .fin(false, 50.0);
        c.packets.drain(..3);
        let mut records = capture(&[&c]);
        assert_eq!(records.len(), 1);
        records.remove(0)
    }

    /// The record as JSON without what names the endpoints, to compare two captures of
    /// the same conversation on different ports.
    fn figures(record: &ConnectionRecord) -> serde_json::Value {
        let mut value = serde_json::to_value(record).expect("serialises");
        let object = value.as_object_mut().expect("an object");
        for key in ["client", "server", "roles", "community_id", "http"] {
            object.remove(key);
        }
        value
    }

    #[test]
    fn roles_guessed_from_ports_are_corrected_by_the_payload() {
        // Ports alone guess backwards here: the lower port (8868) is taken for the
        // server, so the client's requests would come from the "server".
        let swapped = mid_connection(8868, 31600);
        assert_eq!(swapped.roles, RoleSource::Payload);
        assert_eq!((swapped.client.port, swapped.server.port), (8868, 31600));
        assert_eq!(swapped.requests, 2);
        assert_eq!(swapped.http[1].status, Some(404));
        // Every per-direction figure reads as for the same conversation on ports
        // whose guess is right.
        let truthful = mid_connection(40000, 80);
        assert_eq!(truthful.roles, RoleSource::Ports);
        assert_eq!(figures(&swapped), figures(&truthful));
        assert_eq!(swapped.keepalive.probes[0].from, Direction::Client);
        assert_eq!(swapped.close.by, Some(Direction::Server));
        assert_eq!(swapped.packets.client, truthful.packets.client);
        assert_eq!(swapped.history, truthful.history);
        assert!(!swapped.history.starts_with('^'), "{}", swapped.history);
    }

    #[test]
    fn roles_from_a_syn_are_never_overridden_by_the_payload() {
        // The SYN's sender answers with a status line: odd, but it is the client.
        let mut c = Conv::open_to(8868, ([10, 0, 0, 2], 31600), 0.0);
        c.response(1.0, "GET / HTTP/1.1\r\n\r\n");
        let records = capture(&[&c]);
        assert_eq!(records[0].roles, RoleSource::Syn);
        assert_eq!(records[0].client.port, 8868);
        assert_eq!(records[0].requests, 0);
    }

    /// Bug 11: a capture whose clock steps back gave a negative `duration_s`.
    #[test]
    fn timestamps_that_go_backwards_never_give_a_negative_duration() {
        let conns = track(&[
            pkt(true, 100, 10.0).syn(),
            pkt(false, 500, 10.5).syn().ack(101),
            pkt(true, 101, 11.0).ack(501),
            // The clock steps back 5 s (an NTP jump, interfaces merged out of order).
            pkt(true, 101, 6.0).ack(501).data(b"GET / HTTP/1.1\r\n\r\n"),
        ]);
        assert_eq!(conns.len(), 1);
        let c = &conns[0];
        assert!(c.duration_s >= 0.0, "duration {}", c.duration_s);
        assert_eq!(c.duration_s, 1.0, "first packet to the latest time seen");
        assert_eq!(c.end.as_nanos(), 11_000_000_000);
    }

    #[test]
    fn a_connection_without_payload_carries_no_protocol() {
        let mut c = Conv::open(40000, 0.0);
        c.fin(true, 1.0);
        let r = &capture(&[&c])[0];
        assert_eq!(r.protocol, Protocol::None);
        assert_eq!(
            (r.requests, r.reused, r.requests_inferred),
            (0, false, false)
        );
        assert!(r.http.is_empty() && r.tls.is_none() && r.http_end.is_none());
        // Both FINs; the server's FIN acknowledges the client's, but no ACK of the
        // server's FIN was captured, so the close is not complete.
        assert!(r.close.both_fins);
        assert!(!r.close.completed);
        assert_eq!(r.close.by, Some(Direction::Client));
        assert_eq!(r.conn_state, "SF");
    }

    #[test]
    fn two_requests_make_a_reused_connection_with_its_longest_gap() {
        let mut c = Conv::open(40000, 0.0);
        c.request(1.0, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
            .response(1.1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .request(4.1, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
            .response(4.2, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .fin(false, 9.0);
        let r = &capture(&[&c])[0];
        assert_eq!(r.protocol, Protocol::Http);
        assert_eq!((r.requests, r.reused), (2, true));
        // Response end 1.1 → next request 4.1.
        let gap = r.max_request_gap_s.expect("a gap");
        assert!((gap - 3.0).abs() < 1e-6, "{gap}");
        assert_eq!(
            r.http_end.map(|e| e.reason),
            Some(HttpEndReason::ServerClosedIdle)
        );
    }

    #[test]
    fn a_request_cut_off_by_the_close_is_warned_about() {
        let mut c = Conv::open(40000, 0.0);
        c.request(1.0, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            .rst(false, 2.0);
        let r = &capture(&[&c])[0];
        assert_eq!(
            r.http_end.map(|e| e.reason),
            Some(HttpEndReason::ClosedDuringExchange)
        );
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert_eq!(
            r.warnings[0].message,
            "the request at packet 4 got no response before the connection was closed (RST by the server)"
        );
    }
}
