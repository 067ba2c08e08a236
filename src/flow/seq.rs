//! TCP sequence numbers: 32-bit values compared modulo 2³² (RFC 9293 §3.4), so that a
//! connection crossing the wrap keeps its order. Comparing raw `u32`s is a bug.

use std::cmp::Ordering;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// Signed distance from `other` to `self`; positive when `self` is later.
    pub fn diff(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    pub fn plus(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n))
    }

    pub fn minus(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(n))
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_across_the_wrap() {
        let before = SeqNumber(u32::MAX - 10);
        let after = before.plus(20);
        assert_eq!(after.0, 9);
        assert!(after > before);
        assert!(before < after);
        assert_eq!(after.diff(before), 20);
        assert_eq!(before.diff(after), -20);
        assert_eq!(after.minus(20), before);
    }
}
