//! What a closed connection leaves in the table once it has been reported before the
//! end of its linger (live capture, [`super::ConnectionTable::report_closed_after`]):
//! enough to tell its stragglers from a new connection on the same 4-tuple, and
//! nothing of its record. About a twentieth of the connection it replaces, so a
//! capture of thousands of short connections a second holds the last 15 s of them
//! in a few megabytes.

use crate::decode::Segment;
use crate::flow::key::Endpoint;
use crate::flow::seq::SeqNumber;
use crate::flow::tcp::{backoff_patience, Connection};
use crate::time::Timestamp;

/// A reported connection still lingering: its id (to match its deadline), the time of
/// its last packet and the gap before it (a side backing off is waited on longer),
/// and the sequence space each end of the 4-tuple used.
#[derive(Clone, Copy, Debug)]
pub(super) struct Tombstone {
    pub(super) id: u64,
    last_ts: Timestamp,
    last_gap: i64,
    /// `(first sequence number, next expected)` of the key's low end, then high end.
    sides: [Option<(SeqNumber, SeqNumber)>; 2],
}

impl Tombstone {
    /// What `conn`, whose 4-tuple has `low` as its lower end, leaves behind.
    pub(super) fn of(conn: &Connection, low: Endpoint) -> Self {
        let (low_side, high_side) = if conn.client == low {
            (conn.client, conn.server)
        } else {
            (conn.server, conn.client)
        };
        Tombstone {
            id: conn.id,
            last_ts: conn.last_ts(),
            last_gap: conn.last_gap(),
            sides: [
                conn.sequence_space(low_side),
                conn.sequence_space(high_side),
            ],
        }
    }

    fn side(&self, from_low: bool) -> Option<(SeqNumber, SeqNumber)> {
        self.sides[usize::from(!from_low)]
    }

    /// A SYN whose ISN differs from the one that end started with opens a new
    /// connection (the rule of `Connection::is_reused_by`).
    pub(super) fn is_reused_by(&self, from_low: bool, seg: &Segment<'_>) -> bool {
        seg.flags.syn()
            && !seg.flags.ack()
            && matches!(self.side(from_low), Some((base, _)) if base != SeqNumber(seg.seq))
    }

    /// No SYN, and a sequence number inside what that end already sent (the rule of
    /// `Connection::is_straggler`).
    pub(super) fn is_straggler(&self, from_low: bool, seg: &Segment<'_>) -> bool {
        let seq = SeqNumber(seg.seq);
        !seg.flags.syn()
            && matches!(self.side(from_low), Some((base, next)) if seq >= base && seq <= next)
    }

    /// A straggler arrived at `ts`: the linger counts again from it.
    pub(super) fn on_packet(&mut self, ts: Timestamp) {
        self.last_gap = ts.as_nanos().saturating_sub(self.last_ts.as_nanos());
        self.last_ts = self.last_ts.max(ts);
    }

    /// When the linger of `base` nanoseconds (longer for a side backing off) ends.
    pub(super) fn quiet_until(&self, base: i64) -> Timestamp {
        let patience = backoff_patience(base, self.last_gap);
        Timestamp::from_nanos(self.last_ts.as_nanos().saturating_add(patience))
    }
}
