//! HTTP/1.x over one connection: request and response heads (httparse), body framing
//! by Content-Length, chunked transfer coding with trailers, or end of connection;
//! pipelined requests paired with responses in order; interim 1xx responses; tunnels
//! after 101 Switching Protocols or a successful CONNECT. RFC 9110, RFC 9112.
//!
//! Fed in-order [`Chunk`]s per direction by the reassembler. Body bytes are counted,
//! never stored; a head is buffered only until it is complete (at most
//! [`MAX_HEAD_BYTES`]). Damage — a gap in the stream, a malformed head, a bad chunk
//! size — is a warning, after which the parser looks for the next message start
//! instead of giving up on the connection. Not for deciding that a connection is
//! HTTP at all (`analyzers::detect`).
//!
//! One idea per file: [`parse`] reads bytes (request and status lines, header
//! fields, where a head ends), `message` follows heads and pairs requests with
//! responses, `body` frames bodies (length, chunked, until close) and gaps, and
//! [`end`] gives the verdict on the conversation once the connection is over.

mod body;
pub mod end;
mod message;
pub mod parse;
#[cfg(test)]
mod tests;

use crate::analyzers::reassembly::{Chunk, Origin};
use crate::flow::key::Direction;
use crate::report::model::{
    text, HttpEnd, HttpEndReason, HttpExchange, KeepAliveHeader, Text, Tunnel, WarningRecord,
};

/// A head (request or status line plus fields) longer than this is malformed.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Header fields parsed per head; more is malformed.
const MAX_HEADERS: usize = 128;
/// A chunk-size line or trailer section longer than this is malformed.
const MAX_CHUNK_LINE: usize = 4096;
/// Longest `host` / `target` / `reason` kept, in bytes.
const MAX_TEXT: usize = 2048;
/// Warnings kept per connection.
const MAX_WARNINGS: usize = 16;

pub use end::http_end;
use parse::*;
pub use parse::{looks_like_request, looks_like_response};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChunkPhase {
    /// Reading a chunk-size line into `line`.
    Size,
    /// Inside chunk data: bytes left.
    Data(u64),
    /// After chunk data: expecting CRLF.
    DataEnd,
    /// After the last chunk: trailer lines until an empty one.
    Trailers,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Body {
    Length(u64),
    Chunked(ChunkPhase),
    UntilClose,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for (or inside) a head.
    Head,
    Body(Body),
    /// Lost framing: looking for the next message start.
    Resync,
    /// The rest of the connection is not HTTP (a tunnel).
    Tunnel,
}

/// One direction's parser.
#[derive(Debug)]
struct Side {
    phase: Phase,
    /// Head bytes so far, or (in `Resync`) a window searched for a message start, or
    /// (in chunked bodies) the current size or trailer line.
    buf: Vec<u8>,
    /// Exchange that the current message belongs to.
    current: Option<usize>,
    /// Start of the current head.
    head_origin: Option<Origin>,
    last_origin: Option<Origin>,
    missed_bytes: u64,
}

impl Side {
    fn new() -> Self {
        Side {
            phase: Phase::Head,
            buf: Vec::new(),
            current: None,
            head_origin: None,
            last_origin: None,
            missed_bytes: 0,
        }
    }
}

/// The HTTP analyzer of one connection.
#[derive(Debug)]
pub struct HttpAnalyzer {
    client: Side,
    server: Side,
    exchanges: Vec<HttpExchange>,
    /// Index of the first exchange still waiting for its final response.
    next_response: usize,
    tunnel: Option<Tunnel>,
    warnings: Vec<WarningRecord>,
    warnings_dropped: u64,
}

impl Default for HttpAnalyzer {
    fn default() -> Self {
        HttpAnalyzer {
            client: Side::new(),
            server: Side::new(),
            exchanges: Vec::new(),
            next_response: 0,
            tunnel: None,
            warnings: Vec::new(),
            warnings_dropped: 0,
        }
    }
}

/// What the analyzer learnt, for the connection's record.
#[derive(Debug, Default)]
pub struct HttpSummary {
    pub exchanges: Vec<HttpExchange>,
    pub tunnel: Option<Tunnel>,
    pub warnings: Vec<WarningRecord>,
    pub missed_bytes: (u64, u64),
    /// Whether the last exchange still waited for (part of) its response at the end.
    pub outstanding: bool,
}

impl HttpAnalyzer {
    fn warn(&mut self, packet: u64, message: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(WarningRecord {
                packet: Some(packet),
                message,
            });
        } else {
            self.warnings_dropped += 1;
        }
    }

    fn side(&mut self, dir: Direction) -> &mut Side {
        match dir {
            Direction::Client => &mut self.client,
            Direction::Server => &mut self.server,
        }
    }

    /// Whether the connection has become a CONNECT tunnel (whose content may be TLS).
    pub fn in_connect_tunnel(&self) -> bool {
        self.tunnel.as_ref().is_some_and(|t| t.kind == "connect")
    }

    /// Starts the direction in resync mode: the capture began inside a message.
    pub fn start_resync(&mut self, dir: Direction) {
        self.side(dir).phase = Phase::Resync;
    }

    /// Whether the connection has become a tunnel (101, or a successful CONNECT): its
    /// later bytes are not HTTP/1.x.
    pub fn in_tunnel(&self) -> bool {
        self.tunnel.is_some()
    }

    /// The HTTP/1.1 request a `101 Switching Protocols` to `h2c` answered: the
    /// connection speaks HTTP/2 from the byte after the 101 (RFC 7540 §3.2).
    pub fn h2c_upgrade(&self) -> Option<&HttpExchange> {
        let tunnel = self.tunnel.as_ref()?;
        let h2c = tunnel.kind == "upgrade"
            && tunnel
                .protocol
                .as_deref()
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("h2c"));
        h2c.then(|| self.exchanges.iter().rev().find(|x| x.status == Some(101)))
            .flatten()
    }

    /// Feeds one in-order chunk of direction `dir`. Returns how many of a data
    /// chunk's bytes were HTTP/1.x: once the connection turns into a tunnel (101, or
    /// a successful CONNECT) the rest of the chunk is the tunnel's, for the caller.
    pub fn on_chunk(&mut self, dir: Direction, chunk: Chunk<'_>, origin: Origin) -> usize {
        match chunk {
            Chunk::Data(bytes) => {
                self.side(dir).last_origin = Some(origin);
                let mut rest = bytes;
                // Each step consumes part of `rest` or switches phase; a step that does
                // neither twice running would loop, so it ends the chunk instead.
                let mut idle_steps = 0;
                while !rest.is_empty() && idle_steps < 2 && self.side(dir).phase != Phase::Tunnel {
                    let used = self.step(dir, rest, origin);
                    idle_steps = if used == 0 { idle_steps + 1 } else { 0 };
                    rest = &rest[used.min(rest.len())..];
                }
                bytes.len() - rest.len()
            }
            Chunk::Gap(len) => {
                self.on_gap(dir, len, origin);
                0
            }
            Chunk::Fin => {
                self.on_fin(dir, origin);
                0
            }
        }
    }

    /// Consumes a prefix of `bytes` according to the phase; returns its length.
    fn step(&mut self, dir: Direction, bytes: &[u8], origin: Origin) -> usize {
        let phase = self.side(dir).phase;
        match phase {
            Phase::Tunnel => bytes.len(),
            Phase::Head => self.head_bytes(dir, bytes, origin),
            Phase::Resync => self.resync_bytes(dir, bytes, origin),
            Phase::Body(body) => self.body_bytes(dir, body, bytes, origin),
        }
    }

    /// The end of the connection: what was learnt.
    pub fn finish(mut self) -> HttpSummary {
        // A head still incomplete when the capture ended was cut like one a gap cuts.
        for dir in [Direction::Client, Direction::Server] {
            let side = self.side(dir);
            if side.phase == Phase::Head && !side.buf.is_empty() {
                let head = std::mem::take(&mut side.buf);
                let start = side.head_origin.or(side.last_origin);
                if let Some(start) = start {
                    self.cut_head(dir, &head, start);
                }
            }
        }
        if let Phase::Body(Body::UntilClose) = self.server.phase {
            let last = self.server.last_origin;
            if let Some(origin) = last {
                self.message_done(Direction::Server, origin);
            }
        }
        if self.warnings_dropped > 0 {
            self.warnings.push(WarningRecord {
                packet: None,
                message: format!("{} more HTTP warnings not shown", self.warnings_dropped),
            });
        }
        let outstanding = self
            .exchanges
            .last()
            .is_some_and(|x| x.method.is_some() && !x.response_complete);
        HttpSummary {
            missed_bytes: (self.client.missed_bytes, self.server.missed_bytes),
            exchanges: self.exchanges,
            tunnel: self.tunnel,
            warnings: self.warnings,
            outstanding,
        }
    }
}

/// What one direction carries: requests from the client, responses from the server.
fn message_noun(dir: Direction) -> &'static str {
    match dir {
        Direction::Client => "request",
        Direction::Server => "response",
    }
}

fn side_reuse(side: &mut Side, mut line: Vec<u8>) {
    if side.buf.capacity() == 0 {
        line.clear();
        side.buf = line;
    }
}

/// Appends an exchange, growing the list one slot at a time while it is short: most
/// connections carry a few requests, and a live connection's spare slots (an exchange
/// is a few hundred bytes) are what a busy capture's memory is made of. Longer lists
/// double as usual.
fn push_exchange(exchanges: &mut Vec<HttpExchange>, x: HttpExchange) {
    const EXACT_UP_TO: usize = 8;
    if exchanges.len() == exchanges.capacity() && exchanges.len() < EXACT_UP_TO {
        exchanges.reserve_exact(1);
    }
    exchanges.push(x);
}
