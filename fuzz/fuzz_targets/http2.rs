//! The HTTP/2 analyzer fed two arbitrary byte streams in an arbitrary interleaving, with
//! gaps and FINs. A valid preface is put in front half the time so fuzzing gets past it.
#![no_main]

use connscope::analyzers::http2::{Conversation, PREFACE};
use connscope::analyzers::reassembly::{Chunk, Origin};
use connscope::flow::key::Direction;
use connscope::time::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut conv = Conversation::default();
    if data.first().is_some_and(|b| b & 1 == 1) {
        let origin = Origin { packet: 0, ts: Timestamp::from_nanos(0) };
        conv.on_chunk(Direction::Client, Chunk::Data(PREFACE), origin);
    }
    connscope_fuzz::replay(data, |dir, chunk, origin| conv.on_chunk(dir, chunk, origin));
    let summary = conv.finish();
    let _ = format!("{summary:?}");
});
