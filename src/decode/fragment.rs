//! IP fragment reassembly (RFC 791 §3.2 for IPv4, RFC 8200 §4.5 for IPv6), bounded
//! in memory and time, so a TCP segment sent in fragments is tracked like any other.
//!
//! A datagram is identified by (source, destination, protocol, identification).
//! Fragments may arrive in any order; where two overlap, the bytes that arrived first
//! are kept (Linux and Zeek behave alike; RFC 5722 has IPv6 overlaps dropped, but a
//! capture analyser should show what the receiver most likely saw). At most
//! [`MAX_PENDING`] datagrams holding at most [`MAX_HELD_BYTES`] wait at once, each for
//! at most [`TIMEOUT_NANOS`] of capture time from its first fragment (Linux's
//! `ipfrag_time`); a datagram given up — timed out, pushed out by newer ones,
//! contradictory, or unfinished at the end of the input — is counted, never an error.
//!
//! Why not etherparse's `defrag::IpDefragPool`: it lets a later fragment overwrite an
//! earlier one (last wins), has no cap on pending datagrams, and hands back only the
//! payload, not a packet the rest of `decode` can read again.
//!
//! Not for deciding what a fragment is (`ip` reads the headers and hands over a
//! [`Fragment`]); nothing here reads past the slices it is given.

use crate::time::Timestamp;
use std::collections::HashMap;
use std::net::IpAddr;

/// Datagrams waiting for fragments at once; a new one beyond this pushes out the oldest.
pub const MAX_PENDING: usize = 1024;
/// Bytes of data all pending datagrams may hold together; beyond it the oldest go.
/// Without it, 1024 datagrams each stretched to 64 KiB by one far fragment would
/// hold 64 MiB.
pub const MAX_HELD_BYTES: usize = 8 << 20;
/// How long a datagram waits for its missing fragments, from its first one.
pub const TIMEOUT_NANOS: i64 = 30_000_000_000;
/// The largest IP datagram: IPv4's total length and IPv6's payload length are 16 bits.
const MAX_DATAGRAM: usize = 65_535;
/// Separate byte ranges one datagram may hold before it is given up: bounds the range
/// list against a flood of tiny disjoint fragments.
const MAX_RANGES: usize = 64;
/// Spare buffers kept for reuse, so steady fragmented traffic stops allocating.
const MAX_SPARE: usize = 8;

/// What identifies the datagram a fragment belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub id: u32,
}

/// One fragment, as `ip` read it from the headers.
#[derive(Clone, Copy, Debug)]
pub(super) struct Fragment<'b> {
    pub key: FragKey,
    /// Offset of this fragment's data in the datagram's data, in bytes.
    pub offset: usize,
    /// More fragments follow (the MF / M flag).
    pub more: bool,
    /// Everything before the fragment's data that the reassembled packet keeps: the
    /// IPv4 header, or the IPv6 header and extension headers before the fragment
    /// header. Used from the fragment at offset 0 only.
    pub header: &'b [u8],
    /// IPv6: where in `header` the next-header byte naming the fragment header is,
    /// rewritten to [`FragKey::protocol`] in the reassembled packet. None for IPv4.
    pub next_header_at: Option<usize>,
    /// The fragment's data as captured (may be cut short by the snap length).
    pub data: &'b [u8],
    /// The fragment's data length on the wire.
    pub wire_len: usize,
}

/// What became of a fragment.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outcome<'a> {
    /// Held until the rest arrives.
    Pending,
    /// The datagram is whole: the rebuilt IP packet (as far as it was captured) and
    /// how many of its bytes the capture did not have.
    Complete(&'a [u8], usize),
    /// The fragment contradicts its datagram (beyond 65,535 bytes, too scattered):
    /// the datagram is given up.
    Malformed,
}

struct Pending {
    first_ts: Timestamp,
    /// Arrival order, to break ties in eviction the same way on every run.
    seq: u64,
    /// What the fragments carry (IPv6 writes it into the rebuilt header).
    protocol: u8,
    header: Vec<u8>,
    next_header_at: Option<usize>,
    data: Vec<u8>,
    /// Byte ranges of `data` received so far: sorted, disjoint, not touching.
    ranges: Vec<(usize, usize)>,
    /// The data length, once the last fragment (MF clear) has arrived.
    end: Option<usize>,
    /// The first data offset the capture did not have (a fragment cut by snap length).
    cut_at: usize,
}

/// Pending datagrams and the last one completed. The completed packet lives here until
/// the next fragment arrives, so the segment decoded from it can borrow it.
#[derive(Default)]
pub struct Reassembler {
    /// Keyed by whoever sends the fragments, so hashed with a random seed (foldhash,
    /// as the connection table) lest crafted keys pile into one bucket. Nothing
    /// printed depends on its order: eviction picks by time, then arrival.
    pending: HashMap<FragKey, Pending, foldhash::fast::RandomState>,
    /// The earliest time a pending datagram times out (meaningless when none pend).
    next_deadline: i64,
    seq: u64,
    done: Vec<u8>,
    spare: Vec<Vec<u8>>,
    given_up: u64,
    /// Data bytes the pending datagrams hold, bounded by [`MAX_HELD_BYTES`].
    held: usize,
}

impl Reassembler {
    /// Gives up datagrams whose time ran out by capture time `now`. Cheap when none did.
    pub fn expire(&mut self, now: Timestamp) {
        if self.pending.is_empty() || now.as_nanos() < self.next_deadline {
            return;
        }
        let before = self.pending.len();
        let (spare, held) = (&mut self.spare, &mut self.held);
        self.pending.retain(|_, p| {
            let alive = p.first_ts.as_nanos().saturating_add(TIMEOUT_NANOS) > now.as_nanos();
            if !alive {
                *held -= p.data.len();
                if spare.len() < MAX_SPARE {
                    spare.push(std::mem::take(&mut p.data));
                }
            }
            alive
        });
        self.given_up += (before - self.pending.len()) as u64;
        self.next_deadline = self.earliest_deadline();
    }

    /// Datagrams given up since the last call, counting every one still pending as
    /// given up too (the input ended).
    pub fn finish(&mut self) -> u64 {
        self.given_up += self.pending.len() as u64;
        self.pending.clear();
        self.held = 0;
        std::mem::take(&mut self.given_up)
    }

    fn earliest_deadline(&self) -> i64 {
        self.pending
            .values()
            .map(|p| p.first_ts.as_nanos().saturating_add(TIMEOUT_NANOS))
            .min()
            .unwrap_or(i64::MAX)
    }

    /// Adds one fragment arriving at capture time `ts`.
    pub(super) fn add(&mut self, frag: &Fragment<'_>, ts: Timestamp) -> Outcome<'_> {
        let Some(frag_end) = frag.offset.checked_add(frag.wire_len) else {
            self.give_up(&frag.key);
            return Outcome::Malformed;
        };
        if frag_end > MAX_DATAGRAM {
            self.give_up(&frag.key);
            return Outcome::Malformed;
        }
        if !self.pending.contains_key(&frag.key) {
            if self.pending.len() >= MAX_PENDING {
                self.evict_oldest();
            }
            if self.pending.is_empty() {
                self.next_deadline = i64::MAX;
            }
            let deadline = ts.as_nanos().saturating_add(TIMEOUT_NANOS);
            self.next_deadline = self.next_deadline.min(deadline);
            let mut data = self.spare.pop().unwrap_or_default();
            data.clear();
            let fresh = Pending {
                first_ts: ts,
                seq: self.seq,
                protocol: frag.key.protocol,
                header: Vec::new(),
                next_header_at: None,
                data,
                ranges: Vec::new(),
                end: None,
                cut_at: usize::MAX,
            };
            self.seq += 1;
            self.pending.insert(frag.key, fresh);
        }
        let Some(p) = self.pending.get_mut(&frag.key) else {
            return Outcome::Pending;
        };
        let before = p.data.len();
        let inserted = p.insert(frag);
        let (grown, complete) = (p.data.len() - before, p.is_complete());
        self.held += grown;
        if let Insert::Malformed = inserted {
            self.give_up(&frag.key);
            return Outcome::Malformed;
        }
        while self.held > MAX_HELD_BYTES && self.evict_oldest() != Some(frag.key) {}
        if !complete {
            return Outcome::Pending;
        }
        let Some(mut p) = self.remove(&frag.key) else {
            return Outcome::Pending;
        };
        let missing = p.rebuild(&mut self.done);
        p.data.clear();
        if self.spare.len() < MAX_SPARE {
            self.spare.push(p.data);
        }
        match missing {
            Some(missing) => Outcome::Complete(&self.done, missing),
            None => {
                self.given_up += 1;
                Outcome::Malformed
            }
        }
    }

    fn remove(&mut self, key: &FragKey) -> Option<Pending> {
        let p = self.pending.remove(key)?;
        self.held -= p.data.len();
        Some(p)
    }

    fn give_up(&mut self, key: &FragKey) {
        if self.remove(key).is_some() {
            self.given_up += 1;
        }
    }

    /// Makes room: the datagram that started first goes (ties: the one seen first).
    /// Returns its key, None when nothing was pending.
    fn evict_oldest(&mut self) -> Option<FragKey> {
        let oldest = self
            .pending
            .iter()
            .min_by_key(|(_, p)| (p.first_ts, p.seq))
            .map(|(k, _)| *k)?;
        self.give_up(&oldest);
        Some(oldest)
    }
}

enum Insert {
    Ok,
    Malformed,
}

impl Pending {
    /// Copies the fragment's bytes into the gaps it fills, first arrival winning.
    fn insert(&mut self, frag: &Fragment<'_>) -> Insert {
        let (start, mut end) = (frag.offset, frag.offset + frag.wire_len);
        if !frag.more {
            match self.end {
                // Two different last fragments: the first one stands.
                Some(known) if known != end => {}
                _ => self.end = Some(end),
            }
        }
        if let Some(known) = self.end {
            end = end.min(known);
        }
        if start >= end {
            return Insert::Ok;
        }
        if frag.offset == 0 && self.header.is_empty() {
            self.header.extend_from_slice(frag.header);
            self.next_header_at = frag.next_header_at;
        }
        if self.data.len() < end {
            self.data.resize(end, 0);
        }
        let captured_end = start + frag.data.len().min(end - start);
        if captured_end < end {
            self.cut_at = self.cut_at.min(captured_end);
        }
        // Fill only the gaps between ranges already received.
        let mut at = start;
        for &(r_start, r_end) in self.ranges.iter().chain(std::iter::once(&(end, end))) {
            if r_end <= at {
                continue;
            }
            if r_start >= end {
                copy(&mut self.data, frag, at, end);
                break;
            }
            copy(&mut self.data, frag, at, r_start.max(at));
            at = r_end;
            if at >= end {
                break;
            }
        }
        merge(&mut self.ranges, start, end);
        if self.ranges.len() > MAX_RANGES {
            Insert::Malformed
        } else {
            Insert::Ok
        }
    }

    fn is_complete(&self) -> bool {
        !self.header.is_empty()
            && self
                .end
                .is_some_and(|end| self.ranges.as_slice() == [(0, end)])
    }

    /// Writes the whole datagram into `out`: the first fragment's header with its
    /// lengths and fragment fields rewritten, then the data as far as it was captured.
    /// Returns how many data bytes were not captured, or None if the result would be
    /// longer than an IP packet can be.
    fn rebuild(&self, out: &mut Vec<u8>) -> Option<usize> {
        let end = self.end?;
        let captured = end.min(self.cut_at);
        out.clear();
        out.extend_from_slice(&self.header);
        match self.next_header_at {
            None => {
                // IPv4: total length, then clear MF and the offset, keeping DF.
                let total = u16::try_from(self.header.len() + end).ok()?;
                out.get_mut(2..4)?.copy_from_slice(&total.to_be_bytes());
                let flags = out.get_mut(6..8)?;
                flags[0] &= 0x40;
                flags[1] = 0;
            }
            Some(at) => {
                // IPv6: the payload length, and the next-header byte that named the
                // fragment header now names what the fragments carried.
                let payload = u16::try_from(self.header.len().checked_sub(40)? + end).ok()?;
                out.get_mut(4..6)?.copy_from_slice(&payload.to_be_bytes());
                *out.get_mut(at)? = self.protocol;
            }
        }
        out.extend_from_slice(self.data.get(..captured)?);
        Some(end - captured)
    }
}

/// Copies the fragment's captured bytes for datagram range `from..to` into `data`.
fn copy(data: &mut [u8], frag: &Fragment<'_>, from: usize, to: usize) {
    if from >= to {
        return;
    }
    let (lo, hi) = (from - frag.offset, to - frag.offset);
    let hi_captured = hi.min(frag.data.len());
    if lo < hi_captured {
        data[from..from + (hi_captured - lo)].copy_from_slice(&frag.data[lo..hi_captured]);
    }
}

/// Adds `start..end` to a sorted list of disjoint ranges, joining any it touches.
fn merge(ranges: &mut Vec<(usize, usize)>, start: usize, end: usize) {
    let (mut start, mut end) = (start, end);
    ranges.retain(|&(s, e)| {
        if s <= end && start <= e {
            start = start.min(s);
            end = end.max(e);
            false
        } else {
            true
        }
    });
    let at = ranges.partition_point(|&(s, _)| s < start);
    ranges.insert(at, (start, end));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::LinkType;
    use crate::decode::{decode, Decoder, Segment, Skip, TunnelKind};
    use etherparse::{IpFragOffset, IpNumber, Ipv4Header, Ipv6Header, PacketBuilder};
    use std::collections::BTreeMap;

    /// 100 payload bytes, each its own index, so any misplaced byte shows.
    fn payload() -> Vec<u8> {
        (0..100u8).collect()
    }

    /// A whole IPv4 TCP packet split into its header and the transport bytes
    /// (20 TCP header + 100 payload = 120) that fragments share out.
    fn v4_datagram(id: u16) -> (Ipv4Header, Vec<u8>) {
        let mut out = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 80, 1000, 65535)
            .ack(5)
            .write(&mut out, &payload())
            .expect("build");
        let (mut header, rest) = Ipv4Header::from_slice(&out).expect("header");
        header.identification = id;
        (header, rest.to_vec())
    }

    /// Transport bytes `start..end` as one fragment; `bytes` replaces their content.
    fn v4_fragment(header: &Ipv4Header, bytes: &[u8], start: usize, more: bool) -> Vec<u8> {
        let mut h = header.clone();
        h.more_fragments = more;
        h.fragment_offset = IpFragOffset::try_new((start / 8) as u16).expect("offset");
        h.total_len = (20 + bytes.len()) as u16;
        h.header_checksum = h.calc_header_checksum();
        let mut out = h.to_bytes().to_vec();
        out.extend_from_slice(bytes);
        out
    }

    fn split_v4(id: u16, cuts: &[usize]) -> Vec<Vec<u8>> {
        let (header, transport) = v4_datagram(id);
        let mut bounds = vec![0];
        bounds.extend_from_slice(cuts);
        bounds.push(transport.len());
        bounds
            .windows(2)
            .map(|w| {
                let more = w[1] < transport.len();
                v4_fragment(&header, &transport[w[0]..w[1]], w[0], more)
            })
            .collect()
    }

    fn feed<'a>(d: &'a mut Decoder, packet: &'a [u8], secs: i64) -> Result<Segment<'a>, Skip> {
        let ts = Timestamp::from_nanos(secs * 1_000_000_000);
        d.decode(LinkType::RAW, packet, packet.len() as u32, ts)
    }

    fn assert_whole(seg: Result<Segment<'_>, Skip>) {
        let seg = seg.expect("reassembled segment");
        assert_eq!(seg.src, "10.0.0.1:40000".parse().unwrap());
        assert_eq!(seg.dst, "10.0.0.2:80".parse().unwrap());
        assert_eq!(seg.seq, 1000);
        assert_eq!(seg.payload, payload().as_slice());
        assert_eq!(seg.payload_len, 100);
    }

    fn given_up(d: &mut Decoder) -> u64 {
        let mut skipped = BTreeMap::new();
        d.finish(&mut skipped);
        skipped
            .get(&Skip::FragmentsIncomplete)
            .copied()
            .unwrap_or(0)
    }

    #[test]
    fn in_order_ipv4_fragments_yield_one_segment() {
        let frags = split_v4(7, &[40, 80]);
        let mut d = Decoder::default();
        assert_eq!(feed(&mut d, &frags[0], 0), Err(Skip::IpFragment));
        assert_eq!(feed(&mut d, &frags[1], 0), Err(Skip::IpFragment));
        assert_whole(feed(&mut d, &frags[2], 0));
        assert_eq!(given_up(&mut d), 0);
    }

    #[test]
    fn out_of_order_ipv4_fragments_fill_the_holes() {
        let frags = split_v4(7, &[24, 64, 96]);
        let mut d = Decoder::default();
        for i in [3, 1, 0] {
            assert_eq!(feed(&mut d, &frags[i], 0), Err(Skip::IpFragment));
        }
        assert_whole(feed(&mut d, &frags[2], 0));
    }

    #[test]
    fn overlapping_fragments_keep_the_bytes_that_arrived_first() {
        let (header, transport) = v4_datagram(9);
        let first = v4_fragment(&header, &transport[..64], 0, true);
        // A second copy of 56..120 whose overlapping bytes 56..64 (payload 36..44)
        // were rewritten: the first arrival's bytes must stay.
        let mut forged = transport[56..].to_vec();
        forged[..8].copy_from_slice(b"XXXXXXXX");
        let second = v4_fragment(&header, &forged, 56, false);
        let mut d = Decoder::default();
        assert_eq!(feed(&mut d, &first, 0), Err(Skip::IpFragment));
        assert_whole(feed(&mut d, &second, 0));
        // The other way round the forged bytes arrived first, and they stay.
        let mut d = Decoder::default();
        assert_eq!(feed(&mut d, &second, 0), Err(Skip::IpFragment));
        let seg = feed(&mut d, &first, 0).expect("reassembled");
        assert_eq!(&seg.payload[36..44], b"XXXXXXXX");
        assert_eq!(seg.payload[44], 44);
    }

    #[test]
    fn duplicate_fragments_change_nothing() {
        let frags = split_v4(3, &[64]);
        let mut d = Decoder::default();
        assert_eq!(feed(&mut d, &frags[0], 0), Err(Skip::IpFragment));
        assert_eq!(feed(&mut d, &frags[0], 0), Err(Skip::IpFragment));
        assert_whole(feed(&mut d, &frags[1], 0));
    }

    #[test]
    fn a_missing_fragment_times_out_and_is_counted() {
        let frags = split_v4(11, &[40, 80]);
        let mut d = Decoder::default();
        assert_eq!(feed(&mut d, &frags[0], 0), Err(Skip::IpFragment));
        assert_eq!(feed(&mut d, &frags[2], 1), Err(Skip::IpFragment));
        // 31 s after the first fragment its datagram was given up: the late middle
        // fragment starts a new one, which the end of the input gives up too.
        assert_eq!(feed(&mut d, &frags[1], 31), Err(Skip::IpFragment));
        assert_eq!(d.frags.given_up, 1, "the timeout counted one datagram");
        assert_eq!(given_up(&mut d), 2);
        // Within the 30 s the same fragments complete it.
        let mut d = Decoder::default();
        assert_eq!(feed(&mut d, &frags[0], 0), Err(Skip::IpFragment));
        assert_eq!(feed(&mut d, &frags[2], 1), Err(Skip::IpFragment));
        assert_whole(feed(&mut d, &frags[1], 29));
    }

    #[test]
    fn pending_datagrams_are_bounded_and_the_oldest_go_first() {
        let mut d = Decoder::default();
        let extra = 10;
        for id in 0..(MAX_PENDING + extra) as u16 {
            let first = &split_v4(id, &[64])[0];
            assert_eq!(feed(&mut d, first, 0), Err(Skip::IpFragment));
        }
        assert_eq!(d.frags.pending.len(), MAX_PENDING);
        assert_eq!(d.frags.given_up, extra as u64);
        // Datagram 0 was pushed out; the newest one still completes.
        let last = split_v4((MAX_PENDING + extra - 1) as u16, &[64]);
        assert_whole(feed(&mut d, &last[1], 0));
        let first = split_v4(0, &[64]);
        assert_eq!(feed(&mut d, &first[1], 0), Err(Skip::IpFragment));
    }

    #[test]
    fn far_fragments_cannot_hold_more_than_the_byte_budget() {
        // Each datagram's only fragment sits near the 64 KiB end, so each would hold
        // ~64 KiB of buffer: the byte budget, not the datagram count, pushes out the
        // oldest.
        let mut d = Decoder::default();
        let (header, _) = v4_datagram(0);
        for id in 0..300u16 {
            let mut h = header.clone();
            h.identification = id;
            let far = v4_fragment(&h, &[1u8; 8], 65_000, true);
            assert_eq!(feed(&mut d, &far, 0), Err(Skip::IpFragment));
            assert!(d.frags.held <= MAX_HELD_BYTES);
        }
        let pending = d.frags.pending.len();
        assert!(pending < 300 && pending > 100, "{pending} pending");
        assert_eq!(d.frags.given_up, 300 - pending as u64);
        assert_eq!(
            d.frags.held,
            d.frags
                .pending
                .values()
                .map(|p| p.data.len())
                .sum::<usize>()
        );
    }

    #[test]
    fn a_datagram_longer_than_65535_bytes_is_malformed_not_a_panic() {
        let (header, _) = v4_datagram(5);
        let tail = v4_fragment(&header, &[0u8; 64], 65_528, false);
        let mut d = Decoder::default();
        assert_eq!(feed(&mut d, &tail, 0), Err(Skip::Malformed));
        assert_eq!(given_up(&mut d), 0);
    }

    #[test]
    fn without_a_decoder_fragments_are_still_skipped() {
        let frags = split_v4(7, &[64]);
        for f in &frags {
            assert_eq!(
                decode(LinkType::RAW, f, f.len() as u32),
                Err(Skip::IpFragment)
            );
        }
    }

    #[test]
    fn icmp_fragments_are_not_held() {
        let (mut header, transport) = v4_datagram(1);
        header.protocol = IpNumber::ICMP;
        let f = v4_fragment(&header, &transport[..64], 0, true);
        let mut d = Decoder::default();
        assert_eq!(feed(&mut d, &f, 0), Err(Skip::NotTcp));
        assert!(d.frags.pending.is_empty());
    }

    #[test]
    fn a_fragment_cut_by_the_snap_length_keeps_the_wire_length() {
        let frags = split_v4(21, &[64]);
        let mut d = Decoder::default();
        assert_eq!(feed(&mut d, &frags[0], 0), Err(Skip::IpFragment));
        let last = &frags[1];
        let cut = &last[..last.len() - 16];
        let ts = Timestamp::from_nanos(0);
        let seg = d
            .decode(LinkType::RAW, cut, last.len() as u32, ts)
            .expect("segment");
        assert_eq!(seg.payload_len, 100);
        assert_eq!(seg.payload, &payload()[..84]);
    }

    /// IPv6 with a destination-options header before the fragment header, which the
    /// rebuilt packet keeps (RFC 8200 §4.5: the unfragmentable part).
    fn v6_fragments(cut: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        PacketBuilder::ipv6([0x20; 16], [0x30; 16], 64)
            .tcp(40000, 80, 1000, 65535)
            .ack(5)
            .write(&mut out, &payload())
            .expect("build");
        let transport = out[40..].to_vec();
        let dest_opts = [44u8, 0, 1, 4, 0, 0, 0, 0]; // next: fragment; PadN
        [(0, cut, true), (cut, transport.len(), false)]
            .iter()
            .map(|&(start, end, more)| {
                let chunk = &transport[start..end];
                let header = Ipv6Header {
                    payload_length: (8 + 8 + chunk.len()) as u16,
                    next_header: IpNumber(60),
                    hop_limit: 64,
                    source: [0x20; 16],
                    destination: [0x30; 16],
                    ..Default::default()
                };
                let mut p = header.to_bytes().to_vec();
                p.extend_from_slice(&dest_opts);
                let off = (start as u16) | u16::from(more);
                p.extend_from_slice(&[6, 0]);
                p.extend_from_slice(&off.to_be_bytes());
                p.extend_from_slice(&0xdead_beefu32.to_be_bytes());
                p.extend_from_slice(chunk);
                p
            })
            .collect()
    }

    #[test]
    fn ipv6_fragment_header_fragments_reassemble() {
        let frags = v6_fragments(56);
        let mut d = Decoder::default();
        assert_eq!(feed(&mut d, &frags[1], 0), Err(Skip::IpFragment));
        let seg = feed(&mut d, &frags[0], 0).expect("reassembled");
        assert_eq!(seg.dst.port(), 80);
        assert_eq!(seg.payload, payload().as_slice());
        assert_eq!(seg.payload_len, 100);
    }

    #[test]
    fn a_fragmented_tunnel_packet_is_reassembled_then_decapsulated() {
        // IPv4 in IPv4, the outer packet fragmented.
        let mut inner = Vec::new();
        PacketBuilder::ipv4([172, 16, 0, 1], [172, 16, 0, 2], 64)
            .tcp(40000, 80, 1000, 65535)
            .write(&mut inner, &payload())
            .expect("build");
        let mut outer = Vec::new();
        PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
            .write(&mut outer, IpNumber(4), &inner)
            .expect("build");
        let (mut header, rest) = Ipv4Header::from_slice(&outer).expect("header");
        header.identification = 77;
        let a = v4_fragment(&header, &rest[..72], 0, true);
        let b = v4_fragment(&header, &rest[72..], 72, false);
        let mut d = Decoder::default();
        assert_eq!(feed(&mut d, &b, 0), Err(Skip::IpFragment));
        let seg = feed(&mut d, &a, 0).expect("inner segment");
        assert_eq!(seg.payload, payload().as_slice());
        assert_eq!(seg.tunnel.map(|t| t.kind), Some(TunnelKind::IpInIp));
    }

    #[test]
    fn the_finished_buffer_is_reused_across_datagrams() {
        let mut d = Decoder::default();
        for id in 0..3 {
            let frags = split_v4(id, &[64]);
            assert_eq!(feed(&mut d, &frags[0], 0), Err(Skip::IpFragment));
            assert_whole(feed(&mut d, &frags[1], 0));
        }
        assert!(d.frags.pending.is_empty());
        assert_eq!(
            d.frags.spare.len(),
            1,
            "one data buffer recycled, not three"
        );
    }

    proptest::proptest! {
        /// Fragments with any offsets, lengths and flags, in any order, never panic
        /// and never leave more than the bound pending.
        #[test]
        fn arbitrary_fragments_never_panic(
            pieces in proptest::collection::vec(
                (0u16..8192, 0usize..200, proptest::bool::ANY, 0u16..4), 1..40),
        ) {
            let (header, _) = v4_datagram(0);
            let mut d = Decoder::default();
            for (i, (offset, len, more, id)) in pieces.into_iter().enumerate() {
                let mut h = header.clone();
                h.identification = id;
                let bytes = vec![i as u8; len];
                let f = v4_fragment(&h, &bytes, usize::from(offset) * 8, more);
                let _ = feed(&mut d, &f, i as i64);
            }
            proptest::prop_assert!(d.frags.pending.len() <= 4);
            let held: usize = d.frags.pending.values().map(|p| p.data.len()).sum();
            proptest::prop_assert_eq!(d.frags.held, held);
        }
    }
}
