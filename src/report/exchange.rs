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
#[derive(Clone, Copy, Debug)]
pub enum Exchange<'a> {
    /// Parsed from HTTP/1.x messages.
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
