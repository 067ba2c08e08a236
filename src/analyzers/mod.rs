//! Stream analyzers: each connection's two byte streams, reassembled in order
//! (`reassembly`), handed to the protocol they turn out to carry, in a layered
//! analyzer tree (`tree`) as Zeek's: HTTP/1.x (`http`), TLS (`tls`), and, as a child
//! of HTTP, the TLS inside a `CONNECT` tunnel or the HTTP/2 after `Upgrade: h2c`.
//! HTTP/2 (`http2`) with prior knowledge is recognised by its preface.
//!
//! The protocol is recognised by content, never by port (`detect`). A capture that
//! starts mid-connection is given a few chunks to show a message start before the
//! connection is called `unknown`.
//!
//! Where no SYN said who the client is, the payload may say it instead: a request
//! line from the side taken for the server, or a status line from the side taken for
//! the client, means the port guess was wrong. [`Streams`] then reads the directions
//! the other way round and asks its connection to swap roles
//! (`take_role_reversal`).
//!
//! `flow/` sees [`Streams`] only as its `PayloadAnalyzer` (`flow::payload`) and the
//! [`AppRecord`] it ends with: what a protocol found stays inside this module.

pub mod detect;
pub mod http;
pub mod http2;
pub mod reassembly;
mod record;
pub mod tls;
mod tls_certificate;
mod tls_decrypt;
mod tree;

use crate::decode::Segment;
use crate::decrypt::SharedKeys;
use crate::flow::key::{Direction, PerSide};
pub use crate::flow::payload::{AppRecord, Origin, TcpEnd};
use crate::flow::payload::{PayloadAnalyzer, PayloadFactory};
use crate::report::model::{Http2Via, Protocol};
use detect::{detect, Detected};
use http::HttpAnalyzer;
use reassembly::{Chunk, Reassembler};
use record::{app_record, with_http2};
use std::rc::Rc;
use tls::TlsAnalyzer;
use tree::{Layers, Node};

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
    /// A recognised protocol: the root of the analyzer tree.
    Tree(Node),
    /// Payload that no analyzer recognises, from this packet on.
    Unknown { first: Option<u64> },
}

/// The stream side of one connection.
#[derive(Debug)]
pub struct Streams {
    reassembly: PerSide<Reassembler>,
    app: App,
    roles: Roles,
    /// The input's TLS keys, for a TLS root to decrypt with.
    keys: Option<SharedKeys>,
}

/// Whether the payload may still decide who is client.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Roles {
    /// Guessed from ports: the first message start seen may reverse them.
    #[default]
    Guessed,
    /// A SYN or SYN-ACK said who is client; the payload never overrides it.
    Fixed,
    /// The payload showed the guess was backwards: directions are read reversed until
    /// the connection swaps its roles.
    Reversed,
}

impl Default for Streams {
    fn default() -> Self {
        Streams {
            reassembly: PerSide::default(),
            app: App::Undecided {
                chunks: PerSide::default(),
                first: None,
            },
            roles: Roles::Guessed,
            keys: None,
        }
    }
}

impl Streams {
    /// Streams of a connection whose roles a SYN or SYN-ACK decided (`fixed`), or
    /// ports only.
    pub fn new(fixed: bool) -> Self {
        Streams {
            roles: if fixed { Roles::Fixed } else { Roles::Guessed },
            ..Streams::default()
        }
    }

    /// [`Streams::new`], boxed as flow's payload analyzer: the factory the driver
    /// gives the connection table (`flow::payload::PayloadFactory`).
    pub fn boxed(fixed: bool) -> Box<dyn PayloadAnalyzer> {
        Box::new(Streams::new(fixed))
    }

    /// The factory for one input whose TLS connections decrypt with `keys`.
    pub fn factory(keys: &SharedKeys) -> impl PayloadFactory + 'static {
        let keys = Rc::clone(keys);
        move |fixed: bool| -> Box<dyn PayloadAnalyzer> {
            Box::new(Streams {
                keys: Some(Rc::clone(&keys)),
                ..Streams::new(fixed)
            })
        }
    }
}

impl PayloadAnalyzer for Streams {
    fn fix_roles(&mut self) {
        if self.roles == Roles::Guessed {
            self.roles = Roles::Fixed;
        }
    }

    fn take_role_reversal(&mut self) -> bool {
        if self.roles != Roles::Reversed {
            return false;
        }
        let PerSide { client, server } = &mut self.reassembly;
        std::mem::swap(client, server);
        // Decided once: the payload does not flip the roles back and forth.
        self.roles = Roles::Fixed;
        true
    }

    fn on_segment(&mut self, dir: Direction, seg: &Segment<'_>, origin: Origin) {
        let deaf = match &self.app {
            App::Unknown { .. } => true,
            App::Tree(node) => node.is_deaf(),
            App::Undecided { .. } => false,
        };
        // RST payloads are not stream data.
        if seg.flags.rst() || deaf {
            return;
        }
        let Streams {
            reassembly,
            app,
            roles,
            keys,
        } = self;
        let keys = keys.as_ref();
        if seg.flags.ack() {
            let other = dir.other();
            reassembly
                .get_mut(other)
                .on_peer_ack(seg.ack, &mut |chunk, origin| {
                    deliver(app, roles, keys, other, chunk, origin)
                });
        }
        reassembly.get_mut(dir).segment(
            seg.seq,
            seg.flags.syn(),
            seg.flags.fin(),
            seg.payload,
            seg.payload_len,
            origin,
            &mut |chunk, origin| deliver(app, roles, keys, dir, chunk, origin),
        );
    }

    fn flush(&mut self) {
        for dir in [Direction::Client, Direction::Server] {
            let Streams {
                reassembly,
                app,
                roles,
                keys,
            } = self;
            let keys = keys.as_ref();
            reassembly
                .get_mut(dir)
                .finish(&mut |chunk, origin| deliver(app, roles, keys, dir, chunk, origin));
        }
    }

    fn finish(self: Box<Self>, tcp: TcpEnd<'_>) -> AppRecord {
        let mut streams = *self;
        streams.flush();
        match streams.app {
            App::Undecided { chunks, .. } if chunks.client + chunks.server == 0 => {
                app_record(Protocol::None, None, None, None, tcp)
            }
            App::Undecided { first, .. } | App::Unknown { first } => {
                app_record(Protocol::Unknown, None, None, first, tcp)
            }
            App::Tree(node) => {
                let protocol = node.protocol();
                let mut layers = Layers::default();
                node.finish(&mut layers);
                let mut record = app_record(protocol, layers.http, layers.tls, None, tcp);
                if let Some(http2) = layers.http2 {
                    with_http2(&mut record, http2, tcp);
                }
                record
            }
        }
    }
}

fn deliver(
    app: &mut App,
    roles: &mut Roles,
    keys: Option<&SharedKeys>,
    dir: Direction,
    chunk: Chunk<'_>,
    origin: Origin,
) {
    // Until the connection swaps its roles, it still names directions the old way.
    let mut dir = if *roles == Roles::Reversed {
        dir.other()
    } else {
        dir
    };
    if let App::Undecided { chunks, first } = app {
        let Chunk::Data(bytes) = chunk else { return };
        first.get_or_insert(origin.packet);
        let detected = detect(dir, bytes);
        // A message start only the other side sends: the port guess was backwards.
        let reversed = *roles == Roles::Guessed
            && matches!(
                detected,
                Detected::Tls { other_side: true } | Detected::Http { other_side: true }
            );
        if reversed {
            *roles = Roles::Reversed;
            let PerSide { client, server } = chunks;
            std::mem::swap(client, server);
            dir = dir.other();
        }
        let root = match detected {
            // A handshake record from either side: the client's ClientHello, or the
            // server's flight when the ClientHello was not captured.
            Detected::Tls { .. } => {
                let mut analyzer = TlsAnalyzer::with_keys(keys);
                if dir == Direction::Server && *chunks.get(Direction::Client) > 0 {
                    analyzer.skip_direction(
                        Direction::Client,
                        origin,
                        "the client's first bytes were not a TLS handshake record (an SSLv2-format ClientHello?); its records are not followed",
                    );
                }
                Node::tls(analyzer)
            }
            Detected::Http2 => Node::http2(Http2Via::PriorKnowledge),
            Detected::TlsMidStream => Node::tls(TlsAnalyzer::mid_stream(dir, keys, origin)),
            Detected::Http { other_side } if !other_side || reversed => {
                let mut analyzer = HttpAnalyzer::default();
                // The other direction may already have sent data we did not parse.
                if *chunks.get(dir.other()) > 0 {
                    analyzer.start_resync(dir.other());
                }
                Node::http(analyzer)
            }
            Detected::Http { .. } | Detected::Nothing => {
                *chunks.get_mut(dir) += 1;
                if chunks.client + chunks.server >= DETECT_CHUNKS {
                    *app = App::Unknown { first: *first };
                }
                return;
            }
        };
        *app = App::Tree(root);
    }
    if let App::Tree(node) = app {
        node.on_chunk(dir, chunk, origin);
    }
}

#[cfg(test)]
mod tests {
    //! Whole connections built with etherparse, tracked as the pipeline does, to see
    //! which protocol the streams settle on.
    use super::tls::looks_like_tls_records;
    use crate::flow::table::tests_support::tls_hello as hello;
    use crate::flow::table::tests_support::*;
    use crate::report::model::Protocol;

    const H2_SETTINGS: &[u8] = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00";

    #[test]
    fn h2_preface_is_not_an_http1_request() {
        let mut c = Conv::open_to(40000, ([10, 0, 0, 2], 8080), 0.0);
        c.request(0.1, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
            .response(0.2, std::str::from_utf8(H2_SETTINGS).expect("ascii"));
        let records = capture(&[&c]);
        let r = &records[0];
        assert_eq!(r.protocol, Protocol::Http2);
        assert_eq!(r.requests, 0);
        assert!(r.http.is_empty());
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    /// A TLS record of `content_type` with `len` body bytes.
    fn record(content_type: u8, len: usize) -> Vec<u8> {
        let mut r = vec![content_type, 3, 3];
        r.extend_from_slice(&(len as u16).to_be_bytes());
        r.resize(5 + len, 0xee);
        r
    }

    /// Payload packets of one conversation from its middle: (from client, bytes, time),
    /// each acknowledging everything the peer sent before.
    fn mid_conversation(port: u16, sends: &[(bool, &[u8], f64)]) -> Vec<Pkt> {
        let (client, server) = (([10, 0, 0, 1], 40000), ([10, 0, 0, 2], port));
        let (mut c_next, mut s_next) = (1_000u32, 9_000u32);
        let mut packets = Vec::new();
        for &(from_client, bytes, at) in sends {
            let (seq, ack) = if from_client {
                (c_next, s_next)
            } else {
                (s_next, c_next)
            };
            packets.push(
                pkt(from_client, seq, at)
                    .ack(ack)
                    .data(bytes)
                    .between(client, server),
            );
            let next = if from_client {
                &mut c_next
            } else {
                &mut s_next
            };
            *next += bytes.len() as u32;
        }
        packets
    }

    #[test]
    fn tls_application_data_mid_stream_is_tls() {
        let mut reply = record(23, 3000);
        reply.extend(record(23, 500));
        let (first, rest) = reply.split_at(1400);
        let (request, second_request, second_reply) =
            (record(23, 200), record(23, 180), record(23, 900));
        // Captured after the handshake, on a port that says nothing (8443 would). The
        // server's first captured bytes are the tail of a record whose start was lost:
        // they are skipped until a record boundary.
        let packets = mid_conversation(
            4000,
            &[
                (false, &[0xab; 700], 0.5),
                (true, &request, 1.0),
                (false, first, 1.1),
                (false, rest, 1.2),
                (true, &second_request, 5.0),
                (false, &second_reply, 5.1),
            ],
        );
        let records = track(&packets);
        let r = &records[0];
        assert_eq!(r.protocol, Protocol::Tls);
        assert!(r.requests_inferred);
        assert_eq!(r.requests, 2);
        let tls = r.tls.as_ref().expect("tls");
        assert_eq!(
            (tls.exchanges[0].client_bytes, tls.exchanges[0].server_bytes),
            (200, 3500)
        );
        assert_eq!(tls.handshake_start, None);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn random_bytes_are_not_tls_records() {
        assert!(looks_like_tls_records(&record(23, 10)));
        assert!(looks_like_tls_records(&[23, 3, 3, 0x40, 0x00]));
        // A second header inside the chunk must be plausible too.
        let mut two = record(23, 3);
        two.extend_from_slice(b"GET / HTTP/1.1");
        assert!(!looks_like_tls_records(&two));
        assert!(!looks_like_tls_records(&[23, 3, 3, 0xff, 0xff]));
        assert!(!looks_like_tls_records(&[25, 3, 3, 0, 1]));
        assert!(!looks_like_tls_records(&[23, 3, 3]));
    }

    #[test]
    fn tls_client_hello_from_the_guessed_server_swaps_roles() {
        // No SYN captured; port 40000 is lower than 50000, so it is taken for the
        // server, but it sends the ClientHello.
        let (client_hello, server_hello) = (hello(1), hello(2));
        let (request, reply) = (record(23, 300), record(23, 2000));
        let packets = mid_conversation(
            50000,
            &[
                (true, &client_hello, 0.0),
                (false, &server_hello, 0.1),
                (true, &record(20, 1), 0.2),
                (false, &record(20, 1), 0.3),
                (true, &request, 0.4),
                (false, &reply, 0.5),
            ],
        );
        let records = track(&packets);
        let r = &records[0];
        assert_eq!(r.roles, crate::report::model::RoleSource::Payload);
        assert_eq!((r.client.port, r.server.port), (40000, 50000));
        assert_eq!(r.protocol, Protocol::Tls);
        let tls = r.tls.as_ref().expect("tls");
        assert_eq!(tls.client_hello_packet, Some(1));
        assert_eq!(tls.version.as_deref(), Some("TLS 1.2"));
        assert_eq!(r.requests, 1);
        assert_eq!(r.packets.client, 3);
    }
}
