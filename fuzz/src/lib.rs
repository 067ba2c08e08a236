//! Shared by the stream fuzz targets: turns fuzz input into an interleaving of the two
//! directions' chunks — data, gaps and FINs — as reassembly would deliver them.

use connscope::analyzers::reassembly::{Chunk, Origin};
use connscope::flow::key::Direction;
use connscope::time::Timestamp;

/// Each step: a control byte (bit 0 the direction, bits 1–2 the kind, the rest a length),
/// then that many bytes of data.
pub fn replay(data: &[u8], mut on_chunk: impl FnMut(Direction, Chunk<'_>, Origin)) {
    let mut rest = data;
    let mut packet = 0u64;
    while let Some((&control, tail)) = rest.split_first() {
        let dir = if control & 1 == 0 {
            Direction::Client
        } else {
            Direction::Server
        };
        let len = usize::from(control >> 3).min(tail.len());
        packet += 1;
        let origin = Origin {
            packet,
            ts: Timestamp::from_nanos(packet as i64),
        };
        match (control >> 1) & 3 {
            0 | 1 => on_chunk(dir, Chunk::Data(&tail[..len]), origin),
            2 => on_chunk(dir, Chunk::Gap(len as u64 + 1), origin),
            _ => on_chunk(dir, Chunk::Fin, origin),
        }
        rest = &tail[len..];
    }
}
