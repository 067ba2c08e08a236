//! Stream analyzers: each connection's two byte streams, reassembled in order
//! (`reassembly`), handed to the protocol they turn out to carry (`http`, `tls`).
//!
//! The protocol is recognised by content, never by port: a request line from the
//! client or a status line from the server makes the connection HTTP; a handshake
//! record (`16 03 0x`) makes it TLS. A capture that
//! starts mid-connection is given a few chunks to show a message start before the
//! connection is called `unknown`.

pub mod http;
pub mod http2;
pub mod reassembly;
pub mod tls;

use crate::decode::Segment;
use crate::flow::key::{Direction, PerSide};
use http::{looks_like_request, looks_like_response, HttpAnalyzer, HttpSummary};
use reassembly::{Chunk, Origin, Reassembler};
use tls::{looks_like_tls, TlsAnalyzer, TlsSummary};

/// Data chunks per direction inspected before giving up on recognising a protocol.
const DETECT_CHUNKS: u32 = 4;

/// What a connection carries, as far as the analyzers can tell.
#[derive(Debug)]
enum App {
    /// No payload seen yet (or not enough to decide).
    Undecided {
        chunks: PerSide<u32>,
        /// The packet of the first payload, to point at when none is recognised.
        first: Option<u64>,
    },
    /// HTTP, and once a CONNECT tunnel carries TLS, the TLS inside it.
    Http(Box<HttpAnalyzer>, Option<Box<TlsAnalyzer>>),
    Tls(Box<TlsAnalyzer>),
    /// Payload that no analyzer recognises, from this packet on.
    Unknown {
        first: Option<u64>,
    },
}

/// The stream side of one connection.
#[derive(Debug)]
pub struct Streams {
    reassembly: PerSide<Reassembler>,
    app: App,
}

impl Default for Streams {
    fn default() -> Self {
        Streams {
            reassembly: PerSide::default(),
            app: App::Undecided {
                chunks: PerSide::default(),
                first: None,
            },
        }
    }
}

/// What the analyzers learnt about a connection.
#[derive(Debug, Default)]
pub struct StreamSummary {
    /// `http`, `tls`, `unknown`, or `none` when no payload crossed.
    pub protocol: &'static str,
    pub http: Option<HttpSummary>,
    pub tls: Option<TlsSummary>,
    /// For `unknown`: the packet of the first payload.
    pub unrecognised_from: Option<u64>,
}

impl Streams {
    /// Feeds one segment sent by `dir`. RST payloads are not stream data.
    pub fn on_segment(&mut self, dir: Direction, seg: &Segment<'_>, origin: Origin) {
        if seg.flags.rst() || matches!(self.app, App::Unknown { .. }) {
            return;
        }
        let Streams { reassembly, app } = self;
        if seg.flags.ack() {
            let other = dir.other();
            reassembly
                .get_mut(other)
                .on_peer_ack(seg.ack, &mut |chunk, origin| {
                    deliver(app, other, chunk, origin)
                });
        }
        reassembly.get_mut(dir).segment(
            seg.seq,
            seg.flags.syn(),
            seg.flags.fin(),
            seg.payload,
            seg.payload_len,
            origin,
            &mut |chunk, origin| deliver(app, dir, chunk, origin),
        );
    }

    /// The connection ended: flush what reassembly still holds, then summarise.
    pub fn finish(mut self) -> StreamSummary {
        for dir in [Direction::Client, Direction::Server] {
            let Streams { reassembly, app } = &mut self;
            reassembly
                .get_mut(dir)
                .finish(&mut |chunk, origin| deliver(app, dir, chunk, origin));
        }
        match self.app {
            App::Undecided { chunks, .. } if chunks.client + chunks.server == 0 => StreamSummary {
                protocol: "none",
                ..StreamSummary::default()
            },
            App::Undecided { first, .. } | App::Unknown { first } => StreamSummary {
                protocol: "unknown",
                unrecognised_from: first,
                ..StreamSummary::default()
            },
            App::Http(analyzer, inner) => StreamSummary {
                protocol: "http",
                http: Some(analyzer.finish()),
                tls: inner.map(|t| t.finish()),
                unrecognised_from: None,
            },
            App::Tls(analyzer) => StreamSummary {
                protocol: "tls",
                http: None,
                tls: Some(analyzer.finish()),
                unrecognised_from: None,
            },
        }
    }
}

fn deliver(app: &mut App, dir: Direction, chunk: Chunk<'_>, origin: Origin) {
    if let App::Undecided { chunks, first } = app {
        let Chunk::Data(bytes) = chunk else { return };
        first.get_or_insert(origin.packet);
        if looks_like_tls(bytes) {
            // A handshake record from either side: the client's ClientHello, or the
            // server's flight when the ClientHello was not captured.
            let mut analyzer = TlsAnalyzer::default();
            if dir == Direction::Server && *chunks.get(Direction::Client) > 0 {
                analyzer.skip_direction(
                    Direction::Client,
                    origin,
                    "the client's first bytes were not a TLS handshake record (an SSLv2-format ClientHello?); its records are not followed",
                );
            }
            *app = App::Tls(Box::new(analyzer));
            if let App::Tls(analyzer) = app {
                analyzer.on_chunk(dir, chunk, origin);
            }
            return;
        }
        let is_start = match dir {
            Direction::Client => looks_like_request(bytes),
            Direction::Server => looks_like_response(bytes),
        };
        if is_start {
            let mut analyzer = HttpAnalyzer::default();
            // The other direction may already have sent data we did not parse.
            if *chunks.get(dir.other()) > 0 {
                analyzer.start_resync(dir.other());
            }
            *app = App::Http(Box::new(analyzer), None);
        } else {
            let seen = chunks.get_mut(dir);
            *seen += 1;
            if chunks.client + chunks.server >= DETECT_CHUNKS {
                *app = App::Unknown { first: *first };
            }
            return;
        }
    }
    match app {
        App::Http(analyzer, inner) => {
            // Inside a CONNECT tunnel the bytes are the tunnelled protocol's: follow TLS.
            if analyzer.in_connect_tunnel() {
                if inner.is_none()
                    && dir == Direction::Client
                    && matches!(chunk, Chunk::Data(b) if looks_like_tls(b))
                {
                    *inner = Some(Box::default());
                }
                if let Some(tls) = inner {
                    tls.on_chunk(dir, chunk, origin);
                    return;
                }
            }
            analyzer.on_chunk(dir, chunk, origin)
        }
        App::Tls(analyzer) => analyzer.on_chunk(dir, chunk, origin),
        App::Undecided { .. } | App::Unknown { .. } => {}
    }
}
