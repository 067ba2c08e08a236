//! The live connections of one input. A connection leaves the table — handed to the
//! caller as a finished record — when it has been closed (both FINs, or an RST) and
//! quiet for [`CLOSE_LINGER_NANOS`] of capture time (longer while a side keeps
//! retransmitting with back-off), when a new SYN reuses its 4-tuple, or at the end
//! of the input. Only a SYN with a new ISN, or that quiet time, starts a new
//! connection on a 4-tuple: stray packets of a closed connection belong to it.
//! Memory therefore grows with connections alive at once, never with the length of
//! the capture.

use super::key::{Endpoint, FlowKey};
use super::payload::{Origin, PayloadFactory};
use super::tcp::Connection;
use crate::decode::Segment;
use crate::report::model::ConnectionRecord;
use crate::time::Timestamp;
use std::collections::hash_map::Entry;
use std::collections::HashMap;

mod deadlines;
#[cfg(test)]
mod stack_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod tests_support;

use deadlines::Deadlines;

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
    /// Makes each new connection's payload analyzer.
    payload: Box<dyn PayloadFactory>,
}

/// How long an unanswered SYN is waited on, by default (Zeek's `tcp_SYN_timeout` is 5 s;
/// 10 s also covers the 6 s first retry of older stacks).
pub const SYN_TIMEOUT_NANOS: i64 = 10_000_000_000;

impl ConnectionTable {
    /// A table for input `input` whose first connection gets id `first_id`; each
    /// connection's payload goes to an analyzer made by `payload`.
    pub fn new(input: usize, first_id: u64, payload: impl PayloadFactory + 'static) -> Self {
        ConnectionTable {
            input,
            next_id: first_id,
            live: FlowMap::default(),
            closing: Deadlines::default(),
            attempts: Deadlines::default(),
            syn_timeout_nanos: SYN_TIMEOUT_NANOS,
            payload: Box::new(payload),
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
            let first = Origin { packet: number, ts };
            let conn = Connection::new(id, self.input, (src, dst), seg, first, &*self.payload);
            Box::new(conn)
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
