//! Per-direction stream reassembly: turns one side's TCP segments, in whatever order
//! they were captured, into in-order [`Chunk`]s for the protocol analyzers.
//!
//! Retransmitted and overlapping bytes are delivered once; segments that arrive ahead
//! of a hole are held (copied, within [`MAX_HELD_BYTES`]) until it fills; a hole that
//! never fills — capture loss, or a payload the snap length cut — becomes a
//! [`Chunk::Gap`] so the analyzer can resynchronise instead of stalling. In-order
//! payload is passed through borrowed, never copied. RFC 9293 §3.10.7.4.

use crate::flow::seq::SeqNumber;

/// Bytes one direction may hold out of order before the earliest hole is given up.
pub const MAX_HELD_BYTES: usize = 256 * 1024;
/// Segments one direction may hold out of order.
const MAX_HELD_SEGMENTS: usize = 128;

/// Where a delivered chunk came from (defined by flow/, which hands segments on).
pub use crate::flow::payload::Origin;

/// What the stream delivers, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    Data(&'a [u8]),
    /// This many bytes of the stream were never seen.
    Gap(u64),
    /// The sender's FIN: no more data will follow.
    Fin,
}

#[derive(Debug)]
struct Held {
    seq: SeqNumber,
    bytes: Vec<u8>,
    /// Bytes on the wire beyond `bytes` (cut by the snap length).
    missing: u32,
    fin: bool,
    origin: Origin,
}

#[derive(Debug, Default)]
pub struct Reassembler {
    next: Option<SeqNumber>,
    held: Vec<Held>,
    held_bytes: usize,
    fin_delivered: bool,
}

impl Reassembler {
    /// Feeds one segment of this direction. `payload` is what was captured,
    /// `wire_len` how long the payload was on the wire.
    #[allow(clippy::too_many_arguments)]
    pub fn segment(
        &mut self,
        seq: u32,
        syn: bool,
        fin: bool,
        payload: &[u8],
        wire_len: u32,
        origin: Origin,
        sink: &mut impl FnMut(Chunk<'_>, Origin),
    ) {
        let mut start = SeqNumber(seq).plus(u32::from(syn));
        let next = *self.next.get_or_insert(start);
        if wire_len == 0 && !fin {
            return;
        }
        let captured = payload.len().min(wire_len as usize);
        let mut payload = &payload[..captured];
        let mut missing = wire_len - captured as u32;
        let behind = next.diff(start);
        if behind > 0 {
            // Starts before what was already delivered: skip the old part.
            let behind = behind as u32;
            if behind >= wire_len {
                if fin && !self.fin_delivered && behind == wire_len {
                    self.fin_delivered = true;
                    sink(Chunk::Fin, origin);
                }
                return;
            }
            if (behind as usize) < payload.len() {
                payload = &payload[behind as usize..];
            } else {
                missing -= behind - payload.len() as u32;
                payload = &[];
            }
            start = next;
        }
        if start == next {
            self.deliver(payload, missing, fin, origin, sink);
            self.drain(sink);
        } else {
            self.hold(start, payload, missing, fin, origin, sink);
        }
    }

    fn deliver(
        &mut self,
        payload: &[u8],
        missing: u32,
        fin: bool,
        origin: Origin,
        sink: &mut impl FnMut(Chunk<'_>, Origin),
    ) {
        let len = payload.len() as u32 + missing;
        if !payload.is_empty() {
            sink(Chunk::Data(payload), origin);
        }
        if missing > 0 {
            sink(Chunk::Gap(u64::from(missing)), origin);
        }
        self.next = self.next.map(|n| n.plus(len));
        if fin && !self.fin_delivered {
            self.fin_delivered = true;
            sink(Chunk::Fin, origin);
        }
    }

    fn hold(
        &mut self,
        start: SeqNumber,
        payload: &[u8],
        missing: u32,
        fin: bool,
        origin: Origin,
        sink: &mut impl FnMut(Chunk<'_>, Origin),
    ) {
        if self
            .held
            .iter()
            .any(|h| h.seq == start && h.bytes.len() >= payload.len())
        {
            return; // a retransmission of something already held
        }
        self.held_bytes += payload.len();
        self.held.push(Held {
            seq: start,
            bytes: payload.to_vec(),
            missing,
            fin,
            origin,
        });
        // Too much waiting on one hole: the hole will not fill, give it up.
        while self.held_bytes > MAX_HELD_BYTES || self.held.len() > MAX_HELD_SEGMENTS {
            if !self.skip_to_earliest(sink) {
                break;
            }
            self.drain(sink);
        }
    }

    /// Declares the hole before the earliest held segment lost. Returns false when
    /// nothing is held.
    fn skip_to_earliest(&mut self, sink: &mut impl FnMut(Chunk<'_>, Origin)) -> bool {
        let Some(next) = self.next else { return false };
        let Some(earliest) = self.held.iter().min_by_key(|h| h.seq.diff(next)) else {
            return false;
        };
        let gap = earliest.seq.diff(next);
        if gap > 0 {
            sink(Chunk::Gap(gap as u64), earliest.origin);
        }
        self.next = Some(earliest.seq);
        true
    }

    /// Delivers held segments that now continue the stream.
    fn drain(&mut self, sink: &mut impl FnMut(Chunk<'_>, Origin)) {
        while let Some(next) = self.next {
            let Some(index) = self.held.iter().position(|h| h.seq.diff(next) <= 0) else {
                return;
            };
            let held = self.held.swap_remove(index);
            self.held_bytes -= held.bytes.len();
            let behind = next.diff(held.seq) as u32;
            let total = held.bytes.len() as u32 + held.missing;
            if behind >= total {
                if held.fin && behind == total && !self.fin_delivered {
                    self.fin_delivered = true;
                    sink(Chunk::Fin, held.origin);
                }
                continue;
            }
            let (payload, missing) = if (behind as usize) < held.bytes.len() {
                (&held.bytes[behind as usize..], held.missing)
            } else {
                (
                    &held.bytes[..0],
                    held.missing - (behind - held.bytes.len() as u32),
                )
            };
            self.deliver(payload, missing, held.fin, held.origin, sink);
        }
    }

    /// The peer acknowledged everything before `ack`. A hole below it will never be
    /// filled in this capture — the receiver got those bytes, the capture did not — so
    /// it is given up at once rather than when the buffer overflows or the connection
    /// ends (Zeek decides content gaps the same way).
    pub fn on_peer_ack(&mut self, ack: u32, sink: &mut impl FnMut(Chunk<'_>, Origin)) {
        let ack = SeqNumber(ack);
        while let Some(next) = self.next {
            if self.held.is_empty() || ack.diff(next) <= 0 {
                return;
            }
            let Some(earliest) = self.held.iter().map(|h| h.seq).min_by_key(|s| s.diff(next))
            else {
                return;
            };
            // Only the part of the hole the peer acknowledged is known lost.
            let lost_to = if earliest.diff(ack) <= 0 {
                earliest
            } else {
                ack
            };
            let gap = lost_to.diff(next);
            if gap <= 0 {
                return;
            }
            let origin = self
                .held
                .iter()
                .find(|h| h.seq == earliest)
                .map(|h| h.origin);
            if let Some(origin) = origin {
                sink(Chunk::Gap(gap as u64), origin);
            }
            self.next = Some(lost_to);
            self.drain(sink);
            if lost_to != earliest {
                return;
            }
        }
    }

    /// The connection ended: deliver whatever is still held, with gaps between.
    pub fn finish(&mut self, sink: &mut impl FnMut(Chunk<'_>, Origin)) {
        while self.skip_to_earliest(sink) {
            self.drain(sink);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    fn origin(packet: u64) -> Origin {
        Origin {
            packet,
            ts: Timestamp::from_nanos(packet as i64),
        }
    }

    /// Appends a delivered chunk as text: data as is, gaps as `[gap N]`, the FIN as `|`.
    fn render(out: &mut String, c: Chunk<'_>) {
        match c {
            Chunk::Data(d) => out.push_str(std::str::from_utf8(d).expect("utf-8")),
            Chunk::Gap(n) => out.push_str(&format!("[gap {n}]")),
            Chunk::Fin => out.push('|'),
        }
    }

    /// Feeds (seq, payload, fin) segments; returns the delivered stream as text with
    /// gaps as `[gap N]` and the FIN as `|`.
    fn run(isn: u32, segments: &[(u32, &str, bool)]) -> String {
        let mut r = Reassembler::default();
        let mut out = String::new();
        let mut sink = |c: Chunk<'_>, _: Origin| render(&mut out, c);
        r.segment(isn, true, false, b"", 0, origin(0), &mut sink);
        for (i, (offset, text, fin)) in segments.iter().enumerate() {
            let seq = isn.wrapping_add(1).wrapping_add(*offset);
            r.segment(
                seq,
                false,
                *fin,
                text.as_bytes(),
                text.len() as u32,
                origin(i as u64 + 1),
                &mut sink,
            );
        }
        r.finish(&mut sink);
        out
    }

    #[test]
    fn in_order() {
        assert_eq!(
            run(100, &[(0, "GET ", false), (4, "/ HTTP/1.1", true)]),
            "GET / HTTP/1.1|"
        );
    }

    #[test]
    fn retransmission_and_overlap_are_used_once() {
        assert_eq!(
            run(
                100,
                &[(0, "abcd", false), (0, "abcd", false), (2, "cdef", false)]
            ),
            "abcdef"
        );
    }

    #[test]
    fn out_of_order_waits_for_the_hole() {
        assert_eq!(
            run(100, &[(4, "efgh", true), (0, "abcd", false)]),
            "abcdefgh|"
        );
    }

    #[test]
    fn a_hole_that_never_fills_becomes_a_gap_at_the_end() {
        assert_eq!(
            run(100, &[(0, "ab", false), (5, "fg", false)]),
            "ab[gap 3]fg"
        );
    }

    #[test]
    fn wraps_around_sequence_space() {
        assert_eq!(
            run(u32::MAX - 2, &[(0, "abcd", false), (4, "ef", false)]),
            "abcdef"
        );
    }

    #[test]
    fn snap_length_cut_is_a_gap_of_the_missing_bytes() {
        let mut r = Reassembler::default();
        let mut out = Vec::new();
        let mut sink = |c: Chunk<'_>, _: Origin| {
            out.push(match c {
                Chunk::Data(d) => format!("data {}", d.len()),
                Chunk::Gap(n) => format!("gap {n}"),
                Chunk::Fin => "fin".into(),
            })
        };
        r.segment(1, false, false, b"head", 1000, origin(1), &mut sink);
        r.segment(1001, false, false, b"next", 4, origin(2), &mut sink);
        assert_eq!(out, vec!["data 4", "gap 996", "data 4"]);
    }

    #[test]
    fn a_hole_the_peer_acknowledged_is_given_up_at_once() {
        let mut r = Reassembler::default();
        let mut out = String::new();
        let mut sink = |c: Chunk<'_>, _: Origin| render(&mut out, c);
        r.segment(0, false, false, b"ab", 2, origin(1), &mut sink);
        r.segment(5, false, false, b"fg", 2, origin(2), &mut sink);
        // The peer has only acknowledged up to 2: the hole may still be retransmitted.
        r.on_peer_ack(2, &mut sink);
        // Now it acknowledges past the hole: bytes 2..5 were delivered, not captured.
        r.on_peer_ack(7, &mut sink);
        assert_eq!(out, "ab[gap 3]fg");
    }

    #[test]
    fn too_much_held_gives_up_the_hole() {
        let mut r = Reassembler::default();
        let mut gaps = 0;
        let mut data = 0usize;
        let mut sink = |c: Chunk<'_>, _: Origin| match c {
            Chunk::Data(d) => data += d.len(),
            Chunk::Gap(_) => gaps += 1,
            Chunk::Fin => {}
        };
        r.segment(0, false, false, b"x", 1, origin(1), &mut sink);
        let block = vec![b'y'; 1000];
        // Byte 1 never arrives; 300 KB queue up behind it.
        for i in 0..300u32 {
            r.segment(
                2 + i * 1000,
                false,
                false,
                &block,
                1000,
                origin(2 + u64::from(i)),
                &mut sink,
            );
        }
        assert_eq!(gaps, 1);
        assert!(
            data > 250_000,
            "delivered once the hole was given up: {data}"
        );
        assert!(r.held_bytes <= MAX_HELD_BYTES);
    }
}
