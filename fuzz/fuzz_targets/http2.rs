//! The HTTP/2 analyzer on arbitrary input, in two modes chosen by the first byte.
//!
//! Streams (bit 1 clear): two byte streams in an arbitrary interleaving, with gaps and
//! FINs (`connscope_fuzz::replay`), into one `Conversation`, then `finish()`; bit 0
//! puts a valid client preface in front so fuzzing gets past it. The same input is fed
//! to a second `Conversation` with every chunk cut into fuzzer-chosen pieces (each
//! piece keeps its chunk's packet): both must end with the same summary, since how
//! TCP happened to segment the bytes is no business of HTTP/2. The summary must also
//! keep its bounds (records, kept text) and its own arithmetic.
//!
//! HPACK (bit 1 set): a sequence of header blocks (2-byte length each) decoded in order
//! by one direction's `HeaderBlocks`, whole, and again cut into a HEADERS fragment and
//! CONTINUATION fragments at fuzzer-chosen points; both must agree, and agree with the
//! fields a reference reading takes from the raw `loona-hpack` decoding of the block.
#![no_main]

use connscope::analyzers::http2::conversation::{MAX_DEBUG_TEXT, MAX_EXCHANGES, MAX_RECORDS};
use connscope::analyzers::http2::hpack::{
    BlockOutcome, HeaderBlocks, HeaderFields, DEFAULT_TABLE_SIZE, MAX_KEPT_VALUE, MAX_TABLE_SIZE,
};
use connscope::analyzers::http2::{Conversation, Http2Summary, PREFACE};
use connscope::analyzers::reassembly::{Chunk, Origin};
use connscope::flow::key::Direction;
use connscope::time::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [mode, knob, rest @ ..] = data else {
        return;
    };
    if mode & 2 == 0 {
        streams(mode & 1 == 1, *knob, rest);
    } else if let [split, blocks @ ..] = rest {
        hpack(*knob, *split, blocks);
    }
});

/// Piece lengths for cutting a chunk, from a seed the fuzzer picks (xorshift64*).
struct Cuts(u64);

impl Cuts {
    fn new(seed: u8, salt: u64) -> Cuts {
        Cuts((u64::from(seed) << 32 | salt) ^ 0x9e37_79b9_7f4a_7c15)
    }

    fn next(&mut self, max: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        1 + (r >> 33) as usize % max.max(1)
    }

    /// `bytes` in pieces of at least one byte.
    fn pieces<'a>(&mut self, mut bytes: &'a [u8], mut each: impl FnMut(&'a [u8])) {
        while !bytes.is_empty() {
            let (piece, rest) = bytes.split_at(self.next(bytes.len()));
            each(piece);
            bytes = rest;
        }
    }
}

fn streams(preface: bool, seed: u8, data: &[u8]) {
    let mut whole = Conversation::default();
    let mut cut = Conversation::default();
    let mut cuts = Cuts::new(seed, 0);
    if preface {
        let origin = Origin {
            packet: 0,
            ts: Timestamp::from_nanos(0),
        };
        whole.on_chunk(Direction::Client, Chunk::Data(PREFACE), origin);
        cuts.pieces(PREFACE, |p| {
            cut.on_chunk(Direction::Client, Chunk::Data(p), origin)
        });
    }
    connscope_fuzz::replay(data, |dir, chunk, origin| {
        match chunk {
            Chunk::Data(bytes) => {
                whole.on_chunk(dir, Chunk::Data(bytes), origin);
                cuts.pieces(bytes, |p| cut.on_chunk(dir, Chunk::Data(p), origin));
            }
            Chunk::Gap(n) => {
                whole.on_chunk(dir, Chunk::Gap(n), origin);
                cut.on_chunk(dir, Chunk::Gap(n), origin);
            }
            Chunk::Fin => {
                whole.on_chunk(dir, Chunk::Fin, origin);
                cut.on_chunk(dir, Chunk::Fin, origin);
            }
        }
        // The live view and the final summary come from the same streams.
        assert!(whole.exchanges().count() <= MAX_EXCHANGES);
    });
    let whole = whole.finish();
    let cut = cut.finish();
    check_summary(&whole);
    assert_eq!(whole, cut, "segmentation changed the summary");
}

fn check_summary(s: &Http2Summary) {
    assert!(s.exchanges.len() <= MAX_EXCHANGES);
    assert_eq!(
        s.streams_opened,
        s.exchanges.len() as u64 + s.exchanges_dropped,
        "every opened stream is kept or counted as dropped"
    );
    assert!(s.exchanges.windows(2).all(|w| w[0].stream < w[1].stream));
    assert!(s.max_concurrent as usize <= s.exchanges.len());
    for records in [
        s.settings.len(),
        s.pings.len(),
        s.goaways.len(),
        s.warnings.len(),
    ] {
        assert!(records <= MAX_RECORDS);
    }
    assert!(s
        .goaways
        .iter()
        .all(|g| g.debug.chars().count() <= MAX_DEBUG_TEXT));
    for e in &s.exchanges {
        for text in [&e.method, &e.scheme, &e.authority, &e.path]
            .into_iter()
            .flatten()
        {
            assert!(text.chars().count() <= MAX_KEPT_VALUE);
        }
        assert!(e.interim.iter().all(|s| (100..200).contains(s)));
        assert!(e
            .status
            .is_none_or(|s| !(100..200).contains(&s) && s <= 999));
        if e.pushed {
            assert!(e.request_at.is_some() && e.request_end.is_some());
        }
    }
    for p in &s.pings {
        if let Some(ack) = p.acked_at {
            assert!(
                ack.packet >= p.at.packet,
                "a PING answered before it was sent"
            );
        }
    }
    for r in &s.settings {
        if let Some(ack) = r.acked_at {
            assert!(
                ack.packet >= r.at.packet,
                "SETTINGS acknowledged before it was sent"
            );
        }
    }
}

fn hpack(knob: u8, seed: u8, mut data: &[u8]) {
    // The table limit the receiver announced: none (the default), or anything up to
    // and past the analyzer's own cap.
    let limit = match knob {
        0 => None,
        0xff => Some(u32::MAX),
        k => Some(u32::from(k) << 8),
    };
    let mut whole = HeaderBlocks::default();
    let mut cut = HeaderBlocks::default();
    let mut reference = loona_hpack::Decoder::new();
    reference.set_max_allowed_table_size(DEFAULT_TABLE_SIZE);
    if let Some(size) = limit {
        whole.set_table_limit(size);
        cut.set_table_limit(size);
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        reference.set_max_allowed_table_size(size.min(MAX_TABLE_SIZE));
    }
    let mut cuts = Cuts::new(seed, 1);
    let mut broken = false;
    let mut stream = 1;
    while let [hi, lo, rest @ ..] = data {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
        let (block, tail) = rest.split_at(len);
        data = tail;

        let one = whole.start(stream, block, true);
        let Ok(Some(one)) = one else {
            panic!("a whole block gave {one:?}");
        };
        let mut fragments = Vec::new();
        cuts.pieces(block, |p| fragments.push(p));
        let many = match fragments.split_first() {
            None => cut.start(stream, &[], true),
            Some((first, [])) => cut.start(stream, first, true),
            Some((first, more)) => {
                assert_eq!(cut.start(stream, first, false), Ok(None));
                let (last, middle) = more.split_last().expect("two or more");
                for piece in middle {
                    assert_eq!(cut.continuation(stream, piece, false), Ok(None));
                }
                cut.continuation(stream, last, true)
            }
        };
        assert_eq!(
            many,
            Ok(Some(clone(&one))),
            "CONTINUATION cuts changed the block"
        );
        assert_eq!(whole.poisoned(), cut.poisoned());
        assert_eq!(whole.open_stream(), None);

        // The reference: every field as loona-hpack gives it, read plainly. Once a
        // block fails the dynamic table is unknown, so every later block is unreadable.
        let mut fields = ReferenceFields::default();
        if !broken {
            broken = reference
                .decode_with_cb(block, |name, value| fields.add(&name, &value))
                .is_err();
        }
        match (&one, broken) {
            (BlockOutcome::Decoded(got), false) => fields.compare(got),
            (BlockOutcome::Unreadable, true) => assert!(whole.poisoned().is_some()),
            (got, _) => panic!("block read as {got:?}; reference broken: {broken}"),
        }
        stream += 2;
    }
}

fn clone(outcome: &BlockOutcome) -> BlockOutcome {
    match outcome {
        BlockOutcome::Decoded(fields) => BlockOutcome::Decoded(fields.clone()),
        BlockOutcome::Unreadable => BlockOutcome::Unreadable,
    }
}

/// The pseudo-header fields of a block, the last of each name winning, as raw bytes.
#[derive(Default)]
struct ReferenceFields {
    method: Option<Vec<u8>>,
    scheme: Option<Vec<u8>>,
    authority: Option<Vec<u8>>,
    path: Option<Vec<u8>>,
    status: Option<Vec<u8>>,
    regular: u32,
    list_size: u64,
}

impl ReferenceFields {
    fn add(&mut self, name: &[u8], value: &[u8]) {
        self.list_size += (name.len() + value.len() + 32) as u64;
        let slot = match name {
            b":method" => &mut self.method,
            b":scheme" => &mut self.scheme,
            b":authority" => &mut self.authority,
            b":path" => &mut self.path,
            b":status" => &mut self.status,
            _ => {
                self.regular += 1;
                return;
            }
        };
        *slot = Some(value.to_vec());
    }

    fn compare(&self, got: &HeaderFields) {
        let text = |v: &Option<Vec<u8>>| {
            v.as_ref().map(|v| {
                let kept = &v[..v.len().min(MAX_KEPT_VALUE)];
                String::from_utf8_lossy(kept).into_owned()
            })
        };
        assert_eq!(got.method, text(&self.method));
        assert_eq!(got.scheme, text(&self.scheme));
        assert_eq!(got.authority, text(&self.authority));
        assert_eq!(got.path, text(&self.path));
        // RFC 9110 §15: a status code is three digits.
        let status = self
            .status
            .as_ref()
            .filter(|v| v.len() == 3 && v.iter().all(u8::is_ascii_digit))
            .map(|v| v.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0')));
        assert_eq!(got.status, status, "from {:?}", self.status);
        assert_eq!((got.regular, got.list_size), (self.regular, self.list_size));
    }
}
