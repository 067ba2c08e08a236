//! The layered analyzer tree of one connection, as Zeek's: the root is the protocol
//! detected on the reassembled stream, and a node may hand the bytes it does not
//! interpret itself to a child — HTTP, once a `CONNECT` succeeded, hands the tunnel's
//! bytes to a TLS child; TLS, given keys, hands what it decrypts to an HTTP/1.x or
//! HTTP/2 child (`inner`), fed the plaintext the TLS analyzer drains after each chunk.
//!
//! Not for: detection (`detect`), roles, or reassembly; the tree receives in-order
//! chunks with the direction already named by role.

use super::http::{HttpAnalyzer, HttpSummary};
use super::http2::Http2Summary;
use super::reassembly::{Chunk, Origin};
use super::tls::{looks_like_tls, TlsAnalyzer, TlsSummary};
use super::tls_decrypt::Inner;
use crate::flow::key::Direction;
use crate::report::model::{Http2Via, Protocol};

/// One protocol analyzer and the child it feeds.
#[derive(Debug)]
pub(super) enum Node {
    /// HTTP/1.x; `tunnel` follows the bytes of a `CONNECT` tunnel when they are TLS.
    Http {
        http: Box<HttpAnalyzer>,
        tunnel: Option<Box<Node>>,
    },
    /// TLS; `inner` reads what it decrypts (HTTP/1.x, or HTTP/2 under ALPN `h2`).
    Tls {
        tls: Box<TlsAnalyzer>,
        inner: Option<Box<Node>>,
    },
    /// HTTP/2 in clear text ("prior knowledge"): its frames are not parsed yet.
    Http2,
}

/// What the analyzers of a tree learnt, layer by layer, for the connection's record.
#[derive(Debug, Default)]
pub(super) struct Layers {
    pub http: Option<HttpSummary>,
    pub tls: Option<TlsSummary>,
    /// HTTP/2 frames and streams, from h2c or from decrypted TLS.
    #[allow(dead_code)] // filled once the HTTP/2 node is wired (issue 15, in progress)
    pub http2: Option<Http2Summary>,
}

impl Node {
    pub fn http(http: HttpAnalyzer) -> Self {
        Node::Http {
            http: Box::new(http),
            tunnel: None,
        }
    }

    pub fn tls(tls: TlsAnalyzer) -> Self {
        Node::Tls {
            tls: Box::new(tls),
            inner: None,
        }
    }

    /// HTTP/2, reached by `via`: the root for h2c, a child of TLS for ALPN `h2`.
    pub fn http2(via: Http2Via) -> Self {
        let _ = via;
        Node::Http2
    }

    /// The protocol this node speaks, as the record names it.
    pub fn protocol(&self) -> Protocol {
        match self {
            Node::Http { .. } => Protocol::Http,
            Node::Tls { .. } => Protocol::Tls,
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
            Node::Tls { tls, inner } => {
                let fin = matches!(chunk, Chunk::Fin);
                tls.on_chunk(dir, chunk, origin);
                tls.drain_plaintext(|kind, dir, bytes, origin| {
                    inner
                        .get_or_insert_with(|| {
                            Box::new(match kind {
                                Inner::Http1 => Node::http(HttpAnalyzer::default()),
                                Inner::Http2 => Node::http2(Http2Via::Tls),
                            })
                        })
                        .on_chunk(dir, Chunk::Data(bytes), origin)
                });
                if let (Some(inner), true) = (inner, fin) {
                    inner.on_chunk(dir, Chunk::Fin, origin);
                }
            }
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
            Node::Tls { tls, inner } => {
                let summary = tls.finish();
                // What a failed decryption read so far is dropped with it: the
                // connection falls back to the exchanges inferred from record sizes.
                let decrypted = summary.info.decrypted;
                layers.tls.get_or_insert(summary);
                if let (Some(inner), true) = (inner, decrypted) {
                    inner.finish(layers);
                }
            }
            Node::Http2 => {}
        }
    }
}

#[cfg(test)]
mod tests {
    //! The tree through a whole connection built with etherparse: HTTP at the root,
    //! TLS as its child once a CONNECT tunnel opens.
    use crate::flow::table::tests_support::tls_hello as hello;
    use crate::flow::table::tests_support::{capture, Conv};
    use crate::report::model::Protocol;

    #[test]
    fn tls_inside_a_connect_tunnel_is_a_child_of_http() {
        let mut c = Conv::open_to(40000, ([10, 0, 0, 2], 3128), 0.0);
        c.request(
            0.1,
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        )
        .response(0.2, "HTTP/1.1 200 Connection established\r\n\r\n")
        .request(0.3, hello(1))
        .response(0.4, hello(2));
        let r = &capture(&[&c])[0];
        // The root names the connection; the child adds its layer to the record.
        assert_eq!(r.protocol, Protocol::Http);
        assert_eq!(r.tunnel.as_ref().map(|t| t.kind), Some("connect"));
        let tls = r.tls.as_ref().expect("the tunnel's TLS");
        // Packets: SYN, SYN-ACK, ACK, CONNECT, 200, its ACK, then the ClientHello.
        assert_eq!(tls.client_hello_packet, Some(7));
        assert_eq!(tls.version.as_deref(), Some("TLS 1.2"));
        // The exchanges are the HTTP ones read, not TLS ones inferred.
        assert_eq!(r.requests, 1);
        assert!(!r.requests_inferred);
        let exchanges: Vec<_> = r.exchanges().collect();
        assert_eq!(exchanges.len(), 1);
        assert_eq!(exchanges[0].method(), Some("CONNECT"));
        assert!(!exchanges[0].inferred());
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }
}
