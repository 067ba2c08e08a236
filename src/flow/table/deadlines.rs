//! Deadlines of the connection table: connections to look at again at a capture time
//! (a closed one's linger, an unanswered attempt's timeout), earliest first.

use crate::flow::key::FlowKey;
use crate::time::Timestamp;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Connections to look at again at a capture time, earliest first (ties by id, so the
/// order is the same on every run). A heap, not a queue: a deadline pushed back when
/// a straggler arrives must not wait behind later ones.
#[derive(Default)]
pub(super) struct Deadlines(BinaryHeap<Reverse<(Timestamp, u64, KeyOrd)>>);

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
    pub(super) fn push(&mut self, at: Timestamp, key: FlowKey, id: u64) {
        self.0.push(Reverse((at, id, KeyOrd(key))));
    }

    /// The earliest entry due at `now`, if any.
    pub(super) fn pop_due(&mut self, now: Timestamp) -> Option<(FlowKey, u64)> {
        let Reverse((at, _, _)) = self.0.peek()?;
        if *at > now {
            return None;
        }
        let Reverse((_, id, KeyOrd(key))) = self.0.pop()?;
        Some((key, id))
    }
}
