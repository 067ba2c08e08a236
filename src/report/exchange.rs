//! One view of a connection's exchanges, whatever carried them: HTTP messages parsed
//! from the stream, or request/response bursts inferred from TLS record sizes. The
//! findings digest, the timeline, the check language and the renderers all read a
//! connection's exchanges through [`ConnectionRecord::exchanges`], so none of them
//! needs to know which protocol produced them or to convert one shape into another.
//!
//! An inferred exchange has no readable content: no method, target or status; its
//! "request" is the client's burst and its "response" the server's.

use super::model::{ConnectionRecord, HttpExchange, KeepAliveHeader, TlsExchange};
use crate::time::Timestamp;

/// One request and its response, as seen or inferred.
///
/// HTTP/2 streams are `Http` exchanges too (with a [`Exchange::stream_id`]); unlike
/// HTTP/1.x ones they may overlap in time on one connection.
#[derive(Clone, Copy, Debug)]
pub enum Exchange<'a> {
    /// Parsed from HTTP/1.x messages or an HTTP/2 stream, in cleartext or decrypted.
    Http(&'a HttpExchange),
    /// Inferred from a client burst of TLS application data and the server burst
    /// that answered it; `sni` is the connection's server name.
    Tls {
        exchange: &'a TlsExchange,
        sni: Option<&'a str>,
    },
}

impl<'a> Exchange<'a> {
    /// The parsed HTTP exchange, when this one was read rather than inferred.
    pub fn http(self) -> Option<&'a HttpExchange> {
        match self {
            Exchange::Http(x) => Some(x),
            Exchange::Tls { .. } => None,
        }
    }

    /// Whether the exchange was inferred from encrypted traffic.
    pub fn inferred(self) -> bool {
        matches!(self, Exchange::Tls { .. })
    }

    /// Its place on the connection, from 1.
    pub fn index(self) -> u64 {
        match self {
            Exchange::Http(x) => x.index,
            Exchange::Tls { exchange, .. } => exchange.index,
        }
    }

    /// The HTTP `Host`, or the TLS server name.
    pub fn host(self) -> Option<&'a str> {
        match self {
            Exchange::Http(x) => x.host.as_deref(),
            Exchange::Tls { sni, .. } => sni,
        }
    }

    pub fn method(self) -> Option<&'a str> {
        self.http().and_then(|x| x.method.as_deref())
    }

    pub fn target(self) -> Option<&'a str> {
        self.http().and_then(|x| x.target.as_deref())
    }

    pub fn status(self) -> Option<u16> {
        self.http().and_then(|x| x.status)
    }

    /// The HTTP/2 stream that carried it; None for HTTP/1.x and inferred exchanges.
    pub fn stream_id(self) -> Option<u32> {
        self.http().and_then(|x| x.stream_id)
    }

    /// The server's `Keep-Alive` parameters (HTTP only).
    pub fn keep_alive(self) -> Option<KeepAliveHeader> {
        self.http().and_then(|x| x.keep_alive)
    }

    pub fn request_packet(self) -> Option<u64> {
        match self {
            Exchange::Http(x) => x.request_packet,
            Exchange::Tls { exchange, .. } => Some(exchange.client_packet),
        }
    }

    pub fn response_packet(self) -> Option<u64> {
        match self {
            Exchange::Http(x) => x.response_packet,
            Exchange::Tls { exchange, .. } => exchange.server_packet,
        }
    }

    pub fn request_start(self) -> Option<Timestamp> {
        match self {
            Exchange::Http(x) => x.request_start,
            Exchange::Tls { exchange, .. } => Some(exchange.start),
        }
    }

    /// For an inferred exchange the client's burst is taken to end where it starts:
    /// record sizes do not say where one request ends.
    pub fn request_end(self) -> Option<Timestamp> {
        match self {
            Exchange::Http(x) => x.request_end,
            Exchange::Tls { exchange, .. } => Some(exchange.start),
        }
    }

    pub fn request_end_packet(self) -> Option<u64> {
        match self {
            Exchange::Http(x) => x.request_end_packet,
            Exchange::Tls { exchange, .. } => Some(exchange.client_packet),
        }
    }

    pub fn response_start(self) -> Option<Timestamp> {
        match self {
            Exchange::Http(x) => x.response_start,
            Exchange::Tls { exchange, .. } => exchange.server_packet.map(|_| exchange.start),
        }
    }

    pub fn response_end(self) -> Option<Timestamp> {
        match self {
            Exchange::Http(x) => x.response_end,
            Exchange::Tls { exchange, .. } => Some(exchange.end),
        }
    }

    pub fn response_end_packet(self) -> Option<u64> {
        match self {
            Exchange::Http(x) => x.response_end_packet,
            Exchange::Tls { exchange, .. } => Some(exchange.end_packet),
        }
    }

    /// Body bytes (HTTP) or application-data bytes (TLS) the client sent.
    pub fn request_bytes(self) -> u64 {
        match self {
            Exchange::Http(x) => x.request_body_bytes,
            Exchange::Tls { exchange, .. } => exchange.client_bytes,
        }
    }

    /// Body bytes (HTTP) or application-data bytes (TLS) the server sent.
    pub fn response_bytes(self) -> u64 {
        match self {
            Exchange::Http(x) => x.response_body_bytes,
            Exchange::Tls { exchange, .. } => exchange.server_bytes,
        }
    }

    /// The previous exchange's end → this one's start; None for the first.
    pub fn idle_before_s(self) -> Option<f64> {
        match self {
            Exchange::Http(x) => x.idle_before_s,
            Exchange::Tls { exchange, .. } => exchange.idle_before_s,
        }
    }

    /// Whether the whole response was seen (for an inferred one: whether the server
    /// answered at all).
    pub fn response_complete(self) -> bool {
        match self {
            Exchange::Http(x) => x.response_complete,
            Exchange::Tls { exchange, .. } => exchange.server_packet.is_some(),
        }
    }
}

/// The exchanges of one connection, in order.
#[derive(Clone, Debug)]
pub enum Exchanges<'a> {
    Http(std::slice::Iter<'a, HttpExchange>),
    Tls {
        exchanges: std::slice::Iter<'a, TlsExchange>,
        sni: Option<&'a str>,
    },
}

impl<'a> Iterator for Exchanges<'a> {
    type Item = Exchange<'a>;

    fn next(&mut self) -> Option<Exchange<'a>> {
        match self {
            Exchanges::Http(list) => list.next().map(Exchange::Http),
            Exchanges::Tls { exchanges, sni } => exchanges.next().map(|exchange| Exchange::Tls {
                exchange,
                sni: *sni,
            }),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Exchanges::Http(list) => list.size_hint(),
            Exchanges::Tls { exchanges, .. } => exchanges.size_hint(),
        }
    }
}

impl DoubleEndedIterator for Exchanges<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Exchanges::Http(list) => list.next_back().map(Exchange::Http),
            Exchanges::Tls { exchanges, sni } => {
                exchanges.next_back().map(|exchange| Exchange::Tls {
                    exchange,
                    sni: *sni,
                })
            }
        }
    }
}

impl ExactSizeIterator for Exchanges<'_> {}

impl ConnectionRecord {
    /// The connection's exchanges: those inferred from TLS records when the
    /// connection is TLS and was not decrypted, else the parsed ones — HTTP/1.x,
    /// HTTP/2 streams, or either read from decrypted TLS (empty for other protocols).
    /// A TLS session inside an HTTP `CONNECT` tunnel keeps the HTTP exchanges: the
    /// tunnel's request is what was read.
    pub fn exchanges(&self) -> Exchanges<'_> {
        match (&self.tls, self.requests_inferred) {
            (Some(tls), true) => Exchanges::Tls {
                exchanges: tls.exchanges.iter(),
                sni: tls.sni.as_deref(),
            },
            _ => Exchanges::Http(self.http.iter()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_nanos(s * 1_000_000_000)
    }

    fn burst(index: u64, server_packet: Option<u64>) -> TlsExchange {
        TlsExchange {
            index,
            client_packet: 10 * index,
            server_packet,
            start: at(index as i64),
            end: at(index as i64 + 1),
            end_packet: 10 * index + 3,
            client_bytes: 100,
            server_bytes: server_packet.map_or(0, |_| 900),
            idle_before_s: (index > 1).then_some(0.5),
        }
    }

    #[test]
    fn an_inferred_exchange_reads_as_a_request_and_its_answer() {
        let bursts = [burst(1, Some(11)), burst(2, None)];
        let mut view = Exchanges::Tls {
            exchanges: bursts.iter(),
            sni: Some("api.example"),
        };
        assert_eq!(view.len(), 2);
        let first = view.next().expect("first");
        assert!(first.inferred() && first.http().is_none());
        assert_eq!(first.host(), Some("api.example"));
        assert_eq!((first.method(), first.status()), (None, None));
        assert_eq!(
            (first.request_packet(), first.response_packet()),
            (Some(10), Some(11))
        );
        // The client's burst is taken to end where it starts.
        assert_eq!(first.request_end(), Some(at(1)));
        assert_eq!(first.response_start(), Some(at(1)));
        assert_eq!(
            (first.response_end(), first.response_end_packet()),
            (Some(at(2)), Some(13))
        );
        assert_eq!((first.request_bytes(), first.response_bytes()), (100, 900));
        assert!(first.response_complete());
        // Unanswered: no response start, not complete.
        let last = view.next_back().expect("last");
        assert_eq!(last.index(), 2);
        assert_eq!(last.response_start(), None);
        assert!(!last.response_complete());
        assert_eq!(last.idle_before_s(), Some(0.5));
        assert!(view.next().is_none());
    }

    #[test]
    fn a_parsed_exchange_reads_its_own_fields() {
        let mut x = HttpExchange::blank(1);
        x.method = Some("GET".into());
        x.status = Some(204);
        x.request_packet = Some(4);
        x.request_body_bytes = 7;
        let list = [x];
        let got: Vec<Exchange<'_>> = Exchanges::Http(list.iter()).collect();
        assert_eq!(got.len(), 1);
        assert!(!got[0].inferred());
        assert_eq!((got[0].method(), got[0].status()), (Some("GET"), Some(204)));
        assert_eq!(
            (got[0].request_packet(), got[0].request_bytes()),
            (Some(4), 7)
        );
        assert_eq!(got[0].host(), None);
    }
}

#[cfg(test)]
pub(crate) mod h2_support {
    //! HTTP/2 connections for the renderers' and rules' tests: a real conversation
    //! built packet by packet (etherparse) — the h2c preface, or a TLS handshake and
    //! encrypted records — and then given the streams, SETTINGS, PINGs and GOAWAYs the
    //! HTTP/2 node reports for it (`http[]` with stream ids, `http2{}`), so downstream
    //! code is tested on the model's contract.
    use crate::flow::key::{Direction, PerSide};
    use crate::flow::table::tests_support::{capture, tls_hello, Conv};
    use crate::report::model::{
        ConnectionRecord, DecryptionStatus, Http2GoAway, Http2Info, Http2Ping, Http2Settings,
        Http2Via, HttpExchange, Protocol, TlsDecryption,
    };
    use crate::time::Timestamp;

    /// The client connection preface (RFC 9113 §3.4).
    pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    pub(crate) fn at(s: f64) -> Timestamp {
        Timestamp::from_nanos((s * 1e9) as i64)
    }

    /// One stream: id, request start and response end, in seconds.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Stream(pub u32, pub f64, pub f64);

    /// A TLS record of `content_type` with `len` body bytes.
    fn record(content_type: u8, len: usize) -> Vec<u8> {
        let mut r = vec![content_type, 3, 3];
        r.extend_from_slice(&(len as u16).to_be_bytes());
        r.resize(5 + len, 0xee);
        r
    }

    /// The packets of an HTTP/2 conversation on client port `port` opened at `open`:
    /// h2c (the preface first) or TLS, with bytes each way at each stream's start and
    /// end, closed by the client at `close` if given.
    pub(crate) fn conv(
        port: u16,
        open: f64,
        tls: bool,
        streams: &[Stream],
        close: Option<f64>,
    ) -> Conv {
        let server = ([10, 0, 0, 2], if tls { 443 } else { 80 });
        let mut c = Conv::open_to(port, server, open);
        if tls {
            c.request(open + 0.003, tls_hello(1))
                .response(open + 0.004, tls_hello(2))
                .request(open + 0.005, record(20, 1))
                .response(open + 0.006, record(20, 1));
        } else {
            c.request(open + 0.003, PREFACE);
        }
        let mut edges: Vec<(f64, bool)> = streams
            .iter()
            .flat_map(|s| [(s.1, true), (s.2, false)])
            .collect();
        edges.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (t, from_client) in edges {
            let bytes = if tls { record(23, 60) } else { vec![0; 60] };
            if from_client {
                c.request(t, bytes);
            } else {
                c.response(t, bytes);
            }
        }
        if let Some(t) = close {
            c.fin(true, t);
        }
        c
    }

    /// What the HTTP/2 node reports for `streams` on `c` (and, for TLS, decryption).
    pub(crate) fn speak(c: &mut ConnectionRecord, streams: &[Stream]) {
        let tls = c.tls.is_some();
        let mut http = Vec::new();
        let mut previous_end: Option<f64> = None;
        for (i, s) in streams.iter().enumerate() {
            let mut x = HttpExchange::blank(i as u64 + 1);
            x.method = Some("GET".into());
            x.host = Some("api.example".into());
            x.target = Some(format!("/item/{}", s.0));
            x.version = Some("HTTP/2".into());
            x.response_version = Some("HTTP/2".into());
            x.status = Some(200);
            x.request_packet = Some(c.first_packet + 3 + 2 * i as u64);
            x.request_end_packet = x.request_packet;
            x.response_packet = Some(c.first_packet + 4 + 2 * i as u64);
            x.response_end_packet = x.response_packet;
            x.request_start = Some(at(s.1));
            x.request_end = Some(at(s.1));
            x.response_start = Some(at(s.2));
            x.response_end = Some(at(s.2));
            x.ttfb_ms = Some((s.2 - s.1) * 1000.0);
            x.response_body_bytes = 40;
            x.response_complete = true;
            x.idle_before_s = previous_end.map(|e| (s.1 - e).max(0.0));
            x.stream_id = Some(s.0);
            previous_end = Some(previous_end.map_or(s.2, |e: f64| e.max(s.2)));
            http.push(x);
        }
        let mut edges: Vec<(f64, i32)> =
            streams.iter().flat_map(|s| [(s.1, 1), (s.2, -1)]).collect();
        edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut open = 0;
        let mut peak = 0;
        for (_, d) in edges {
            open += d;
            peak = peak.max(open);
        }
        c.requests = streams.len() as u64;
        c.reused = streams.len() >= 2;
        c.requests_inferred = false;
        c.max_request_gap_s = http.iter().filter_map(|x| x.idle_before_s).reduce(f64::max);
        c.http = http;
        if let Some(t) = &mut c.tls {
            t.decrypted = true;
            t.alpn = Some("h2".into());
            t.decryption = Some(TlsDecryption {
                status: DecryptionStatus::Decrypted,
                records: PerSide {
                    client: streams.len() as u64 + 1,
                    server: streams.len() as u64 + 1,
                },
                failed_packet: None,
            });
        } else {
            c.protocol = Protocol::Http2;
        }
        c.http2 = Some(Http2Info {
            via: if tls {
                Http2Via::Tls
            } else {
                Http2Via::PriorKnowledge
            },
            streams_opened: streams.len() as u64,
            max_concurrent_streams: peak as u32,
            settings: vec![Http2Settings {
                from: Direction::Server,
                packet: c.first_packet + 4,
                time: c.start,
                max_concurrent_streams: Some(100),
                initial_window_size: Some(65_535),
                max_frame_size: None,
                header_table_size: None,
                enable_push: None,
                max_header_list_size: None,
                ack_packet: Some(c.first_packet + 5),
            }],
            pings: Vec::new(),
            goaways: Vec::new(),
            resets: Vec::new(),
            frames: PerSide {
                client: 3 + streams.len() as u64,
                server: 3 + 2 * streams.len() as u64,
            },
            exchanges_dropped: 0,
        });
    }

    /// A client PING at `t` answered after `rtt_ms`.
    pub(crate) fn ping(c: &mut ConnectionRecord, from: Direction, t: f64, rtt_ms: Option<f64>) {
        let packet = c.last_packet;
        if let Some(h2) = &mut c.http2 {
            h2.pings.push(Http2Ping {
                from,
                packet,
                time: at(t),
                ack_packet: rtt_ms.map(|_| packet + 1),
                rtt_ms,
            });
        }
    }

    /// A GOAWAY at `t`.
    pub(crate) fn goaway(c: &mut ConnectionRecord, from: Direction, t: f64, last_stream_id: u32) {
        let packet = c.last_packet;
        if let Some(h2) = &mut c.http2 {
            h2.goaways.push(Http2GoAway {
                from,
                packet,
                time: at(t),
                last_stream_id,
                error: "NO_ERROR".into(),
                debug: None,
            });
        }
    }

    /// Records of several HTTP/2 conversations captured together, each given its
    /// streams.
    pub(crate) fn records(convs: &[(&Conv, &[Stream])]) -> Vec<ConnectionRecord> {
        let only: Vec<&Conv> = convs.iter().map(|(c, _)| *c).collect();
        let mut records = capture(&only);
        for (r, (_, streams)) in records.iter_mut().zip(convs) {
            speak(r, streams);
        }
        records
    }
}
