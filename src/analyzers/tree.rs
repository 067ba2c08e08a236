//! The layered analyzer tree of one connection, as Zeek's: the root is the protocol
//! detected on the reassembled stream, and a node may hand the bytes it does not
//! interpret itself to a child — HTTP, once a `CONNECT` succeeded, hands the tunnel's
//! bytes to a TLS child. Step 3 adds TLS → decrypted bytes → HTTP/1.x or HTTP/2 the
//! same way: a child under the TLS node, fed what the decryptor returns.
//!
//! Not for: detection (`detect`), roles, or reassembly; the tree receives in-order
//! chunks with the direction already named by role.

use super::http::{HttpAnalyzer, HttpSummary};
use super::reassembly::{Chunk, Origin};
use super::tls::{looks_like_tls, TlsAnalyzer, TlsSummary};
use crate::flow::key::Direction;
use crate::report::model::Protocol;

/// One protocol analyzer and the child it feeds.
#[derive(Debug)]
pub(super) enum Node {
    /// HTTP/1.x; `tunnel` follows the bytes of a `CONNECT` tunnel when they are TLS.
    Http {
        http: Box<HttpAnalyzer>,
        tunnel: Option<Box<Node>>,
    },
    Tls(Box<TlsAnalyzer>),
    /// HTTP/2 in clear text ("prior knowledge"): its frames are not parsed yet.
    Http2,
}

/// What the analyzers of a tree learnt, layer by layer, for the connection's record.
#[derive(Debug, Default)]
pub(super) struct Layers {
    pub http: Option<HttpSummary>,
    pub tls: Option<TlsSummary>,
}

impl Node {
    pub fn http(http: HttpAnalyzer) -> Self {
        Node::Http {
            http: Box::new(http),
            tunnel: None,
        }
    }

    pub fn tls(tls: TlsAnalyzer) -> Self {
        Node::Tls(Box::new(tls))
    }

    /// The protocol this node speaks, as the record names it.
    pub fn protocol(&self) -> Protocol {
        match self {
            Node::Http { .. } => Protocol::Http,
            Node::Tls(_) => Protocol::Tls,
            Node::Http2 => Protocol::Http2,
        }
    }

    /// Whether the tree wants no more bytes (nothing in it parses them).
    pub fn is_deaf(&self) -> bool {
        matches!(self, Node::Http2)
    }

    /// One in-order chunk sent by `dir`.
    pub fn on_chunk(&mut self, dir: Direction, chunk: Chunk<'_>, origin: Origin) {
        match self {
            Node::Http { http, tunnel } => {
                // Inside a CONNECT tunnel the bytes are the tunnelled protocol's: a
                // ClientHello starts a TLS child, which gets the rest.
                if http.in_connect_tunnel() {
                    if tunnel.is_none()
                        && dir == Direction::Client
                        && matches!(chunk, Chunk::Data(b) if looks_like_tls(b))
                    {
                        *tunnel = Some(Box::new(Node::tls(TlsAnalyzer::default())));
                    }
                    if let Some(child) = tunnel {
                        child.on_chunk(dir, chunk, origin);
                        return;
                    }
                }
                http.on_chunk(dir, chunk, origin)
            }
            Node::Tls(tls) => tls.on_chunk(dir, chunk, origin),
            Node::Http2 => {}
        }
    }

    /// The connection ended: every node, root first, adds what it learnt.
    pub fn finish(self, layers: &mut Layers) {
        match self {
            Node::Http { http, tunnel } => {
                layers.http.get_or_insert(http.finish());
                if let Some(child) = tunnel {
                    child.finish(layers);
                }
            }
            Node::Tls(tls) => {
                layers.tls.get_or_insert(tls.finish());
            }
            Node::Http2 => {}
        }
    }
}
