//! The layered analyzer tree of one connection, as Zeek's: the root is the protocol
//! detected on the reassembled stream, and a node may hand the bytes it does not
//! interpret itself to a child — HTTP, once a `CONNECT` succeeded, hands the tunnel's
//! bytes to a TLS child, and once a `101` switched to `h2c`, to an HTTP/2 child whose
//! stream 1 is the request that asked for it; TLS, given keys, hands what it decrypts
//! to an HTTP/1.x or HTTP/2 child (`inner`), fed the plaintext the TLS analyzer drains
//! after each chunk.
//!
//! Not for: detection (`detect`), roles, or reassembly; the tree receives in-order
//! chunks with the direction already named by role.

use super::http::{HttpAnalyzer, HttpSummary};
use super::http2::{Conversation, Http2Summary, UpgradeRequest};
use super::reassembly::{Chunk, Origin};
use super::tls::{looks_like_tls, TlsAnalyzer, TlsSummary};
use super::tls_decrypt::Inner;
use crate::flow::key::Direction;
use crate::report::model::{Http2Via, HttpExchange, Protocol};

/// One protocol analyzer and the child it feeds.
#[derive(Debug)]
pub(super) enum Node {
    /// HTTP/1.x; `tunnel` follows the bytes after a `CONNECT` (when they are TLS) or
    /// after a 101 to `h2c` (HTTP/2).
    Http {
        http: Box<HttpAnalyzer>,
        tunnel: Option<Box<Node>>,
    },
    /// TLS; `inner` reads what it decrypts (HTTP/1.x, or HTTP/2 under ALPN `h2`).
    Tls {
        tls: Box<TlsAnalyzer>,
        inner: Option<Box<Node>>,
    },
    /// HTTP/2, reached by `via`: its frames, streams and connection management.
    Http2 {
        conversation: Box<Conversation>,
        via: Http2Via,
    },
}

/// What the analyzers of a tree learnt, layer by layer, for the connection's record.
#[derive(Debug, Default)]
pub(super) struct Layers {
    pub http: Option<HttpSummary>,
    pub tls: Option<TlsSummary>,
    /// HTTP/2 frames and streams, from h2c or from decrypted TLS.
    pub http2: Option<Http2Layer>,
}

/// What an HTTP/2 node read, and how the connection came to speak HTTP/2.
#[derive(Debug)]
pub(super) struct Http2Layer {
    pub summary: Http2Summary,
    pub via: Http2Via,
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
        Node::Http2 {
            conversation: Box::default(),
            via,
        }
    }

    /// The HTTP/2 child of an HTTP/1.1 connection that a 101 switched to `h2c`.
    fn h2c_upgrade(request: &HttpExchange) -> Self {
        let origin = |packet: Option<u64>, ts| {
            Some(Origin {
                packet: packet?,
                ts: ts?,
            })
        };
        let start = origin(request.request_packet, request.request_start);
        let switched = origin(request.response_packet, request.response_start);
        let conversation = match (start, switched) {
            (Some(start), Some(switched)) => Conversation::upgraded(UpgradeRequest {
                method: request.method.as_deref().map(str::to_string),
                host: request.host.clone(),
                target: request.target.clone(),
                start,
                end: origin(request.request_end_packet, request.request_end).unwrap_or(start),
                switched,
            }),
            // A 101 whose request was not captured: the streams after it still count.
            _ => Conversation::default(),
        };
        Node::Http2 {
            conversation: Box::new(conversation),
            via: Http2Via::Upgrade,
        }
    }

    /// The protocol this node speaks, as the record names it: a connection that
    /// switched to `h2c` speaks HTTP/2.
    pub fn protocol(&self) -> Protocol {
        match self {
            Node::Http {
                tunnel: Some(child),
                ..
            } if matches!(**child, Node::Http2 { .. }) => Protocol::Http2,
            Node::Http { .. } => Protocol::Http,
            Node::Tls { .. } => Protocol::Tls,
            Node::Http2 { .. } => Protocol::Http2,
        }
    }

    /// Whether the tree wants no more bytes: its HTTP/2 framing was lost, so nothing
    /// in it will parse them.
    pub fn is_deaf(&self) -> bool {
        match self {
            Node::Http2 { conversation, .. } => conversation.is_stopped(),
            Node::Http {
                tunnel: Some(child),
                ..
            } => child.is_deaf(),
            Node::Http { .. } | Node::Tls { .. } => false,
        }
    }

    /// One in-order chunk sent by `dir`.
    pub fn on_chunk(&mut self, dir: Direction, chunk: Chunk<'_>, origin: Origin) {
        match self {
            Node::Http { http, tunnel } => {
                let mut chunk = chunk;
                if tunnel.is_none() {
                    // Gaps and FINs are the HTTP parser's until a child exists.
                    let Chunk::Data(bytes) = chunk else {
                        http.on_chunk(dir, chunk, origin);
                        return;
                    };
                    let used = http.on_chunk(dir, Chunk::Data(bytes), origin);
                    if !http.in_tunnel() {
                        return;
                    }
                    // The bytes after a 101 or CONNECT's answer in the same chunk are
                    // the tunnel's: an h2c server sends its SETTINGS right behind it.
                    let rest = bytes.get(used..).unwrap_or_default();
                    *tunnel = tunnel_child(http, dir, rest);
                    if rest.is_empty() {
                        return;
                    }
                    chunk = Chunk::Data(rest);
                }
                // Without a child, a tunnel's bytes are not read.
                if let Some(child) = tunnel {
                    child.on_chunk(dir, chunk, origin);
                }
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
            Node::Http2 { conversation, .. } => conversation.on_chunk(dir, chunk, origin),
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
            Node::Http2 { conversation, via } => {
                layers.http2.get_or_insert(Http2Layer {
                    summary: conversation.finish(),
                    via,
                });
            }
        }
    }
}

/// The child for a tunnel that has just opened (or is open without one yet), given
/// the first bytes it carries: HTTP/2 after a 101 to `h2c`, TLS when the client's
/// first bytes in a `CONNECT` tunnel are a ClientHello.
fn tunnel_child(http: &HttpAnalyzer, dir: Direction, bytes: &[u8]) -> Option<Box<Node>> {
    if let Some(request) = http.h2c_upgrade() {
        return Some(Box::new(Node::h2c_upgrade(request)));
    }
    let tls = http.in_connect_tunnel() && dir == Direction::Client && looks_like_tls(bytes);
    tls.then(|| Box::new(Node::tls(TlsAnalyzer::default())))
}

#[cfg(test)]
mod tests {
    //! The tree through a whole connection built with etherparse: HTTP at the root,
    //! TLS as its child once a CONNECT tunnel opens, HTTP/2 once a 101 switched to h2c.
    use crate::flow::table::tests_support::tls_hello as hello;
    use crate::flow::table::tests_support::{capture, Conv};
    use crate::report::model::{Http2Via, HttpEndReason, Protocol};

    /// An HTTP/2 frame of `kind` on `stream` (RFC 9113 §4.1).
    fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        use crate::analyzers::http2::frame::{encode, FrameType};
        encode::frame(FrameType(kind), flags, stream, payload)
    }

    #[test]
    fn h2c_upgrade_is_an_http2_child_of_http() {
        const SETTINGS: u8 = 0x4;
        const HEADERS: u8 = 0x1;
        const DATA: u8 = 0x0;
        const GOAWAY: u8 = 0x7;
        const END_STREAM: u8 = 0x1;
        const END_HEADERS: u8 = 0x4;
        let mut server_hpack = loona_hpack::Encoder::new();
        let mut client_hpack = loona_hpack::Encoder::new();
        // The 101, the server's SETTINGS and stream 1's response in one segment, as
        // fixtures/scenario/h2c_upgrade_server.py writes them.
        let mut switched =
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
                .to_vec();
        switched.extend(h2_frame(SETTINGS, 0, 0, &[]));
        let ok = server_hpack.encode([(&b":status"[..], &b"200"[..])]);
        switched.extend(h2_frame(HEADERS, END_HEADERS, 1, &ok));
        switched.extend(h2_frame(DATA, END_STREAM, 1, b"hello\n"));
        let mut preface = crate::analyzers::http2::PREFACE.to_vec();
        preface.extend(h2_frame(SETTINGS, 0, 0, &[]));
        let get = client_hpack.encode([
            (&b":method"[..], &b"GET"[..]),
            (b":scheme", b"http"),
            (b":authority", b"example.test"),
            (b":path", b"/second"),
        ]);
        preface.extend(h2_frame(HEADERS, END_HEADERS | END_STREAM, 3, &get));
        let not_found = server_hpack.encode([(&b":status"[..], &b"404"[..])]);
        let mut goaway = 3u32.to_be_bytes().to_vec();
        goaway.extend(0u32.to_be_bytes());

        let mut c = Conv::open_to(40000, ([10, 0, 0, 2], 80), 0.0);
        c.request(
            0.1,
            "GET /first HTTP/1.1\r\nHost: example.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n",
        )
        .response(0.2, switched)
        .request(0.3, preface)
        .response(0.4, h2_frame(HEADERS, END_HEADERS | END_STREAM, 3, &not_found))
        .response(0.5, h2_frame(GOAWAY, 0, 0, &goaway));
        let r = &capture(&[&c])[0];
        assert_eq!(r.protocol, Protocol::Http2);
        assert_eq!(r.tunnel.as_ref().map(|t| t.kind), Some("upgrade"));
        let h2 = r.http2.as_ref().expect("the HTTP/2 child's layer");
        assert_eq!(h2.via, Http2Via::Upgrade);
        assert_eq!((h2.streams_opened, h2.frames.server), (2, 5));
        let rows: Vec<_> = r
            .http
            .iter()
            .map(|x| {
                (
                    x.index,
                    x.stream_id,
                    x.version.as_deref(),
                    x.target.as_deref(),
                    x.interim.clone(),
                    x.status,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (
                    1,
                    Some(1),
                    Some("HTTP/1.1"),
                    Some("/first"),
                    vec![101],
                    Some(200)
                ),
                (
                    2,
                    Some(3),
                    Some("HTTP/2"),
                    Some("/second"),
                    vec![],
                    Some(404)
                ),
            ]
        );
        // Packets: SYN, SYN-ACK, ACK, the upgrade request (4), the 101 (5).
        assert_eq!(r.http[0].request_packet, Some(4));
        assert_eq!(r.http[0].response_packet, Some(5));
        assert_eq!(r.http[0].response_body_bytes, 6);
        assert!(r.http[0].response_complete);
        assert_eq!((r.requests, r.requests_inferred), (2, false));
        assert_eq!(
            r.http_end.map(|e| e.reason),
            Some(HttpEndReason::ServerGoaway)
        );
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn a_websocket_upgrade_is_no_http2() {
        let mut c = Conv::open_to(40000, ([10, 0, 0, 2], 80), 0.0);
        c.request(
            0.1,
            "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        )
        .response(
            0.2,
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x02hi",
        )
        .request(0.3, h2_frame(0x4, 0, 0, &[]));
        let r = &capture(&[&c])[0];
        assert_eq!(r.protocol, Protocol::Http);
        assert!(r.http2.is_none());
        assert_eq!(r.http.len(), 1);
        assert_eq!(r.http_end.map(|e| e.reason), Some(HttpEndReason::Tunnel));
    }

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
