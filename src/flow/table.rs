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
use std::collections::VecDeque;

/// How long a closed connection waits for stragglers (the last ACK, a repeated FIN,
/// an RST answering a late segment) before it is finished. Zeek waits 5 s
/// (`tcp_close_delay`); connscope waits longer so late retransmissions still land on
/// the right connection, as they do in Wireshark, which never expires streams.
pub const CLOSE_LINGER_NANOS: i64 = 15_000_000_000;

pub struct ConnectionTable {
    input: usize,
    next_id: u64,
    live: FxHashMap<FlowKey, Connection>,
    /// Closed connections in order of when they may be finished: (deadline, key, id).
    closing: VecDeque<(Timestamp, FlowKey, u64)>,
}

impl ConnectionTable {
    /// A table for input `input` whose first connection gets id `first_id`.
    pub fn new(input: usize, first_id: u64) -> Self {
        ConnectionTable {
            input,
            next_id: first_id,
            live: FxHashMap::default(),
            closing: VecDeque::new(),
        }
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
        if let Some(conn) = self.live.get(&key) {
            let dir = conn.direction_of(src);
            if conn.is_reused_by(dir, seg) {
                if let Some(old) = self.live.remove(&key) {
                    finished(old.into_record());
                }
            }
        }
        let conn = self.live.entry(key).or_insert_with(|| {
            let id = self.next_id;
            self.next_id += 1;
            Connection::new(id, self.input, src, dst, seg, number, ts)
        });
        let was_closed = conn.is_closed();
        let dir = conn.direction_of(src);
        conn.on_segment(dir, seg, number, ts);
        if !was_closed && conn.is_closed() {
            self.closing.push_back((
                Timestamp::from_nanos(ts.as_nanos() + CLOSE_LINGER_NANOS),
                key,
                conn.id,
            ));
        }
    }

    /// Finishes closed connections whose linger has passed at capture time `now`.
    fn expire(&mut self, now: Timestamp, finished: &mut impl FnMut(ConnectionRecord)) {
        while let Some(&(deadline, key, id)) = self.closing.front() {
            if deadline > now {
                break;
            }
            self.closing.pop_front();
            let Some(conn) = self.live.get(&key) else {
                continue;
            };
            if conn.id != id {
                continue; // already replaced by a reuse of the 4-tuple
            }
            let quiet_until = Timestamp::from_nanos(conn.last_ts().as_nanos() + CLOSE_LINGER_NANOS);
            if quiet_until > now {
                // Stragglers arrived: wait again from the last one.
                self.closing.push_back((quiet_until, key, id));
            } else if let Some(conn) = self.live.remove(&key) {
                finished(conn.into_record());
            }
        }
    }

    /// Finishes every connection still live (the input ended), in id order.
    pub fn finish_all(self, finished: &mut impl FnMut(ConnectionRecord)) {
        let mut rest: Vec<Connection> = self.live.into_values().collect();
        rest.sort_by_key(|c| c.id);
        for conn in rest {
            finished(conn.into_record());
        }
    }
}
