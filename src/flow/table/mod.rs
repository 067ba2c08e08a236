//! The live connections of one input. A connection leaves the table — handed to the
//! caller as a finished record — when it has been closed (both FINs, or an RST) and
//! quiet for [`CLOSE_LINGER_NANOS`] of capture time (longer while a side keeps
//! retransmitting with back-off), when a new SYN reuses its 4-tuple, or at the end
//! of the input. Only a SYN with a new ISN, or that quiet time, starts a new
//! connection on a 4-tuple: stray packets of a closed connection belong to it.
//! Memory therefore grows with connections alive at once, never with the length of
//! the capture.
//!
//! Live capture may report a closed connection sooner
//! ([`ConnectionTable::report_closed_after`]): its record leaves once the connection
//! has been quiet that long, and a [`tombstone::Tombstone`] of a few dozen bytes sits
//! out the rest of the linger, so stragglers are still told from a new connection on
//! the 4-tuple (they are counted, not added to the record already written).

use super::key::{Endpoint, FlowKey};
use super::payload::{Origin, PayloadFactory};
use super::tcp::Connection;
use crate::decode::Segment;
use crate::report::model::ConnectionRecord;
use crate::time::Timestamp;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

mod deadlines;
#[cfg(test)]
mod stack_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod tests_support;
mod tombstone;
#[cfg(test)]
mod tombstone_tests;

use deadlines::Deadlines;
use tombstone::Tombstone;

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
    /// Reported early: see [`ConnectionTable::report_closed_after`].
    early: Option<Early>,
}

/// Closed connections reported before the end of their linger, and what is left of
/// them until it ends.
struct Early {
    /// Quiet time after which a closed connection is reported.
    after_nanos: i64,
    reported: FlowMap<Tombstone>,
    /// Tombstones in order of when their linger ends.
    deadlines: Deadlines,
    /// Packets that landed on a tombstone: counted, in no record.
    late_packets: Arc<AtomicU64>,
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
            early: None,
        }
    }

    /// Reports a closed connection once it has been quiet for `nanos` of capture time
    /// (longer while a side backs off) instead of at the end of its
    /// [`CLOSE_LINGER_NANOS`]: a live capture of many short connections then holds
    /// the full state of a few seconds of them, not of fifteen. The rest of the
    /// linger a tombstone keeps the connection's sequence space; packets that land
    /// on it are added to `late_packets`, not to the record. Files do not use this:
    /// their records count every straggler.
    pub fn report_closed_after(mut self, nanos: i64, late_packets: Arc<AtomicU64>) -> Self {
        self.early = Some(Early {
            after_nanos: nanos.min(CLOSE_LINGER_NANOS),
            reported: FlowMap::default(),
            deadlines: Deadlines::default(),
            late_packets,
        });
        self
    }

    /// How long a closed connection stays whole before it is finished.
    fn close_wait(&self) -> i64 {
        self.early
            .as_ref()
            .map_or(CLOSE_LINGER_NANOS, |e| e.after_nanos)
    }

    /// Reported connections still sitting out their linger.
    pub fn tombstones(&self) -> usize {
        self.early.as_ref().map_or(0, |e| e.reported.len())
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
        let (key, from_low) = FlowKey::new(src, dst);
        self.expire(ts, (key, src, seg), finished);
        if let Some(early) = &mut self.early {
            if early.absorbs(key, from_low, seg, ts) {
                return;
            }
        }
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
            let wait = self
                .early
                .as_ref()
                .map_or(CLOSE_LINGER_NANOS, |e| e.after_nanos);
            self.closing.push(
                Timestamp::from_nanos(ts.as_nanos().saturating_add(wait)),
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
        if let Some(early) = &mut self.early {
            early.expire(now, arriving_key, arriving_key.low == src, seg);
        }
        let close_wait = self.close_wait();
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
            let patience = conn.linger_patience(close_wait);
            let quiet_until =
                Timestamp::from_nanos(conn.last_ts().as_nanos().saturating_add(patience));
            if quiet_until > now {
                // Stragglers arrived: wait again from the last one.
                self.closing.push(quiet_until, key, id);
            } else if let Some(conn) = self.live.remove(&key) {
                if let Some(early) = &mut self.early {
                    early.bury(key, &conn);
                }
                finished(conn.into_record());
            }
        }
        if let Some((key, id)) = kept_attempt {
            let due = Timestamp::from_nanos(now.as_nanos().saturating_add(self.syn_timeout_nanos));
            self.attempts.push(due, key, id);
        }
        if let Some((key, id)) = kept {
            let due = Timestamp::from_nanos(now.as_nanos().saturating_add(close_wait));
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

impl Early {
    /// Whether a packet of `key` (sent from its low end if `from_low`) lands on a
    /// tombstone: a straggler of a reported connection, counted and dropped. A SYN
    /// with a new ISN instead ends the tombstone and opens a new connection.
    fn absorbs(&mut self, key: FlowKey, from_low: bool, seg: &Segment<'_>, ts: Timestamp) -> bool {
        if self.reported.is_empty() {
            return false;
        }
        let Entry::Occupied(mut entry) = self.reported.entry(key) else {
            return false;
        };
        if entry.get().is_reused_by(from_low, seg) {
            entry.remove();
            return false;
        }
        entry.get_mut().on_packet(ts);
        self.late_packets.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// `conn`, being reported, leaves a tombstone until its linger ends.
    fn bury(&mut self, key: FlowKey, conn: &Connection) {
        let tombstone = Tombstone::of(conn, key.low);
        self.deadlines
            .push(tombstone.quiet_until(CLOSE_LINGER_NANOS), key, tombstone.id);
        self.reported.insert(key, tombstone);
    }

    /// Ends the tombstones whose linger has passed at `now`, but not that of the
    /// packet arriving (of `arriving_key`, from its low end if `from_low`) if it is
    /// one of its stragglers.
    fn expire(&mut self, now: Timestamp, arriving_key: FlowKey, from_low: bool, seg: &Segment<'_>) {
        let mut kept = None;
        while let Some((key, id)) = self.deadlines.pop_due(now) {
            let Some(tombstone) = self.reported.get(&key) else {
                continue;
            };
            if tombstone.id != id {
                continue; // replaced: the 4-tuple was reused and reported again
            }
            if key == arriving_key && tombstone.is_straggler(from_low, seg) {
                kept = Some((key, id));
                continue;
            }
            let quiet_until = tombstone.quiet_until(CLOSE_LINGER_NANOS);
            if quiet_until > now {
                self.deadlines.push(quiet_until, key, id);
            } else {
                self.reported.remove(&key);
            }
        }
        if let Some((key, id)) = kept {
            let due = Timestamp::from_nanos(now.as_nanos().saturating_add(CLOSE_LINGER_NANOS));
            self.deadlines.push(due, key, id);
        }
    }
}
