//! The TLS analyzer fed two arbitrary byte streams in an arbitrary interleaving, with
//! gaps and FINs.
#![no_main]

use connscope::analyzers::tls::TlsAnalyzer;
use connscope::analyzers::reassembly::{Chunk, Origin};
use connscope::flow::key::Direction;
use connscope::time::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut tls = TlsAnalyzer::default();
    let mut rest = data;
    let mut packet = 0u64;
    // Each step: a control byte (direction, kind, length), then that many bytes.
    while let Some((&control, tail)) = rest.split_first() {
        let dir = if control & 1 == 0 { Direction::Client } else { Direction::Server };
        let len = usize::from(control >> 3).min(tail.len());
        packet += 1;
        let origin = Origin { packet, ts: Timestamp::from_nanos(packet as i64) };
        match (control >> 1) & 3 {
            0 | 1 => tls.on_chunk(dir, Chunk::Data(&tail[..len]), origin),
            2 => tls.on_chunk(dir, Chunk::Gap(len as u64 + 1), origin),
            _ => tls.on_chunk(dir, Chunk::Fin, origin),
        }
        rest = &tail[len..];
    }
    let summary = tls.finish();
    let _ = serde_json::to_string(&summary.info);
});
