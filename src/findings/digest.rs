//! What the findings need to remember of a finished connection, and nothing more.
//!
//! The rules look across connections ("the same client opened another one while this
//! one idled"), so they run once an input is read; keeping every full
//! `ConnectionRecord` until then would make memory grow with the file. A `Digest` is
//! made the moment a connection finishes — about a fifth of a record, most of it the
//! exchanges' times and packet numbers — and the record itself goes to the output.

use crate::flow::key::{Direction, Endpoint};
use crate::report::model::{
    Close, ConnectionRecord, Exchange, HandshakeOutcome, HttpEnd, HttpExchange, PacketRef, Probe,
    TlsAlert,
};
use crate::time::Timestamp;
use std::collections::HashSet;
use std::sync::Arc;

/// Packet numbers start at 1, so 0 stands for "none" in the compact fields.
const NO_PACKET: u64 = 0;
/// `i64::MIN` nanoseconds stands for "no time" in the compact fields.
const NO_TIME: i64 = i64::MIN;
const NO_TIMEOUT: u32 = u32::MAX;

fn packet(p: Option<u64>) -> u64 {
    p.unwrap_or(NO_PACKET)
}

fn packet_opt(p: u64) -> Option<u64> {
    (p != NO_PACKET).then_some(p)
}

fn time(t: Option<Timestamp>) -> i64 {
    t.map_or(NO_TIME, Timestamp::as_nanos)
}

fn time_opt(t: i64) -> Option<Timestamp> {
    (t != NO_TIME).then(|| Timestamp::from_nanos(t))
}

/// One request/response exchange (HTTP, or inferred from TLS), as times and packets.
#[derive(Clone, Debug)]
pub struct ExchangeDigest {
    request_start: i64,
    /// When the exchange stopped keeping the connection busy.
    end: i64,
    response_end: i64,
    request_packet: u64,
    response_packet: u64,
    response_end_packet: u64,
    /// The response's `Keep-Alive: timeout=`.
    keep_alive_timeout: u32,
    pub response_complete: bool,
}

impl ExchangeDigest {
    fn of(x: Exchange<'_>, close_time: Option<Timestamp>, conn_end: Timestamp) -> Self {
        let end = if x.response_complete() {
            x.response_end().unwrap_or(conn_end)
        } else {
            close_time.unwrap_or(conn_end)
        };
        ExchangeDigest {
            request_start: time(x.request_start()),
            end: end.as_nanos(),
            response_end: time(x.response_end()),
            request_packet: packet(x.request_packet()),
            response_packet: packet(x.response_packet()),
            response_end_packet: packet(x.response_end_packet()),
            keep_alive_timeout: x
                .keep_alive()
                .and_then(|k| k.timeout)
                .map_or(NO_TIMEOUT, |t| u32::try_from(t).unwrap_or(NO_TIMEOUT - 1)),
            response_complete: x.response_complete(),
        }
    }

    pub fn request_start(&self) -> Option<Timestamp> {
        time_opt(self.request_start)
    }

    /// The response's end if it completed, else when the connection closed (or its
    /// last packet).
    pub fn end(&self) -> Timestamp {
        Timestamp::from_nanos(self.end)
    }

    pub fn response_end(&self) -> Option<Timestamp> {
        time_opt(self.response_end)
    }

    pub fn request_packet(&self) -> Option<u64> {
        packet_opt(self.request_packet)
    }

    pub fn response_packet(&self) -> Option<u64> {
        packet_opt(self.response_packet)
    }

    pub fn response_end_packet(&self) -> Option<u64> {
        packet_opt(self.response_end_packet)
    }

    pub fn keep_alive_timeout(&self) -> Option<u64> {
        (self.keep_alive_timeout != NO_TIMEOUT).then_some(u64::from(self.keep_alive_timeout))
    }
}

/// The handshake's figures the rules use.
#[derive(Clone, Copy, Debug)]
pub struct HandshakeDigest {
    pub outcome: HandshakeOutcome,
    pub syn_retries: u32,
    syn_packet: u64,
    refused_packet: u64,
    pub rtt_ms: Option<f64>,
}

impl HandshakeDigest {
    pub fn syn_packet(&self) -> Option<u64> {
        packet_opt(self.syn_packet)
    }

    pub fn refused_packet(&self) -> Option<u64> {
        packet_opt(self.refused_packet)
    }
}

/// A request line: what a retry on a new connection repeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLine {
    pub method: Option<Box<str>>,
    pub target: Option<Box<str>>,
    pub packet: Option<u64>,
}

/// The last HTTP exchange of a connection the server closed after a reuse: a
/// `stale_connection_reset` candidate.
#[derive(Clone, Debug)]
pub struct UnansweredReuse {
    pub line: RequestLine,
    pub sent: Timestamp,
    pub idle_before_s: f64,
}

/// What a TLS connection whose handshake did not complete shows.
#[derive(Clone, Debug)]
pub struct TlsFailure {
    pub client_hello_packet: u64,
    pub alert: Option<TlsAlert>,
    pub sni: Option<Box<str>>,
}

/// Parts few connections have, boxed so the common digest stays small.
#[derive(Clone, Debug, Default)]
pub struct Rare {
    pub unanswered_reuse: Option<UnansweredReuse>,
    pub tls_failure: Option<TlsFailure>,
    /// HTTP/2's concurrency, SETTINGS and GOAWAY, for the `http2` rules.
    pub http2: Option<super::http2::Http2Digest>,
}

impl Rare {
    fn is_empty(&self) -> bool {
        self.unanswered_reuse.is_none() && self.tls_failure.is_none() && self.http2.is_none()
    }
}

/// A request line as a number: a retry repeats the line, so equal lines give equal
/// numbers. SipHash with fixed keys, so the same capture gives the same findings.
pub fn request_line_hash(method: Option<&str>, target: Option<&str>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    (method, target).hash(&mut h);
    h.finish()
}

/// A finished connection as the findings see it.
#[derive(Clone, Debug)]
pub struct Digest {
    pub id: u64,
    pub client: Endpoint,
    pub server: Endpoint,
    pub first_packet: u64,
    pub last_packet: u64,
    pub start: Timestamp,
    pub end: Timestamp,
    pub close: Close,
    /// HTTP, or TLS with inferred exchanges.
    pub carries_requests: bool,
    pub requests_inferred: bool,
    pub requests: u64,
    /// The longest `idle_before_s` of its exchanges; 0 without any.
    pub max_request_gap_s: f64,
    pub http_end: Option<HttpEnd>,
    pub handshake: Option<HandshakeDigest>,
    /// The last segment that carried payload: packet and time.
    last_payload: (u64, i64),
    /// HTTP `Host` values and the TLS SNI, as sent, sorted, without repeats. Shared
    /// with every digest of the input that names the same (interned by
    /// [`Digests::push`]), so the usual connection costs no allocation for them.
    pub hosts: Arc<[Box<str>]>,
    pub exchanges: Box<[ExchangeDigest]>,
    pub probes: Box<[Probe]>,
    /// The first `Keep-Alive: max=` the server advertised.
    keep_alive_max: u32,
    /// [`request_line_hash`] of the first HTTP request; 0 without one.
    pub first_request: u64,
    pub rare: Option<Box<Rare>>,
}

impl Digest {
    pub fn of(c: &ConnectionRecord) -> Self {
        let mut hosts: Vec<Box<str>> = Vec::new();
        for name in c
            .exchanges()
            .filter_map(Exchange::host)
            .chain(c.tls.as_ref().and_then(|t| t.sni.as_deref()))
        {
            if !hosts.iter().any(|h| **h == *name) {
                hosts.push(name.into());
            }
        }
        let line = |x: &HttpExchange| RequestLine {
            method: x.method.as_deref().map(Into::into),
            target: x.target.as_deref().map(Into::into),
            packet: x.request_packet,
        };
        let unanswered_reuse = c.exchanges().next_back().and_then(|last| {
            let last = last.http()?;
            let sent = last.request_start?;
            let idle_before_s = last.idle_before_s?;
            let candidate = last.index >= 2
                && last.status.is_none()
                && c.close.by == Some(Direction::Server)
                && c.close.time.is_some_and(|closed| closed >= sent);
            candidate.then(|| UnansweredReuse {
                line: line(last),
                sent,
                idle_before_s,
            })
        });
        let tls_failure = c.tls.as_ref().and_then(|t| {
            let hello = t.client_hello_packet?;
            (!t.handshake_complete).then(|| TlsFailure {
                client_hello_packet: hello,
                alert: t.alert.clone(),
                sni: t.sni.as_deref().map(Into::into),
            })
        });
        hosts.sort_unstable();
        let rare = Rare {
            unanswered_reuse,
            tls_failure,
            http2: super::http2::Http2Digest::of(c),
        };
        Digest {
            id: c.id,
            client: c.client,
            server: c.server,
            first_packet: c.first_packet,
            last_packet: c.last_packet,
            start: c.start,
            end: c.end,
            close: c.close,
            carries_requests: c.protocol.carries_requests() || c.http2.is_some(),
            requests_inferred: c.requests_inferred,
            requests: c.requests,
            max_request_gap_s: c.max_request_gap_s.unwrap_or(0.0),
            http_end: c.http_end,
            handshake: c.handshake.as_ref().map(|h| HandshakeDigest {
                outcome: h.outcome,
                syn_retries: h.syn_retries,
                syn_packet: packet(h.syn_packet),
                refused_packet: packet(h.refused_packet),
                rtt_ms: h.rtt_ms,
            }),
            last_payload: c
                .last_payload
                .map_or((NO_PACKET, NO_TIME), |p| (p.packet, p.time.as_nanos())),
            hosts: hosts.into(),
            exchanges: c
                .exchanges()
                .map(|x| ExchangeDigest::of(x, c.close.time, c.end))
                .collect(),
            probes: c.keepalive.probes.iter().cloned().collect(),
            keep_alive_max: c
                .exchanges()
                .find_map(|x| x.keep_alive().and_then(|k| k.max))
                .map_or(NO_TIMEOUT, |m| u32::try_from(m).unwrap_or(NO_TIMEOUT - 1)),
            first_request: c
                .exchanges()
                .next()
                .and_then(Exchange::http)
                .map_or(0, |x| {
                    request_line_hash(x.method.as_deref(), x.target.as_deref())
                }),
            rare: (!rare.is_empty()).then(|| Box::new(rare)),
        }
    }

    pub fn rare(&self) -> Option<&Rare> {
        self.rare.as_deref()
    }

    /// The connection's HTTP/2, if it spoke it.
    pub fn http2(&self) -> Option<&super::http2::Http2Digest> {
        self.rare().and_then(|r| r.http2.as_ref())
    }

    pub fn last_payload(&self) -> Option<PacketRef> {
        let (packet, time) = self.last_payload;
        (packet != NO_PACKET).then(|| PacketRef {
            packet,
            time: Timestamp::from_nanos(time),
        })
    }

    pub fn keep_alive_max(&self) -> Option<u64> {
        (self.keep_alive_max != NO_TIMEOUT).then_some(u64::from(self.keep_alive_max))
    }
}

/// A connection attempt that failed at the SYN — unanswered or refused — with nothing
/// else on it: all that `handshake_failed` and the server rollup need, in 56 bytes, so
/// a SYN flood of a million sources is held in tens of megabytes.
#[derive(Clone, Copy, Debug)]
pub struct Attempt {
    pub id: u64,
    pub server: Endpoint,
    pub refused: bool,
    pub syn_retries: u32,
    syn_packet: u64,
    refused_packet: u64,
}

impl Attempt {
    /// The attempt `d` is, if it is nothing more.
    fn of(d: &Digest) -> Option<Attempt> {
        let h = d.handshake.as_ref()?;
        let refused = match h.outcome {
            HandshakeOutcome::Refused => true,
            HandshakeOutcome::Unanswered => false,
            _ => return None,
        };
        let bare = d.exchanges.is_empty()
            && d.probes.is_empty()
            && d.hosts.is_empty()
            && d.rare.is_none()
            && d.last_payload().is_none()
            && !d.carries_requests;
        bare.then_some(Attempt {
            id: d.id,
            server: d.server,
            refused,
            syn_retries: h.syn_retries,
            syn_packet: h.syn_packet,
            refused_packet: h.refused_packet,
        })
    }

    pub fn syn_packet(&self) -> Option<u64> {
        packet_opt(self.syn_packet)
    }

    pub fn refused_packet(&self) -> Option<u64> {
        packet_opt(self.refused_packet)
    }
}

/// Items kept in chunks of fixed size: the list grows without ever copying itself, so
/// it never briefly needs twice its memory.
#[derive(Debug)]
pub struct Chunked<T> {
    chunks: Vec<Vec<T>>,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked { chunks: Vec::new() }
    }
}

impl<T> Chunked<T> {
    const CHUNK: usize = 4096;

    pub fn push(&mut self, item: T) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < Self::CHUNK => chunk.push(item),
            _ => {
                let mut chunk = Vec::with_capacity(Self::CHUNK);
                chunk.push(item);
                self.chunks.push(chunk);
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.chunks.iter_mut().flatten()
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }
}

/// An input's digests: failed attempts apart, in their compact form; the names they
/// carry interned.
#[derive(Default)]
pub struct Digests {
    pub connections: Chunked<Digest>,
    pub attempts: Chunked<Attempt>,
    /// Every set of host names a digest carries, once.
    host_sets: HashSet<Arc<[Box<str>]>>,
}

impl Digests {
    pub fn push(&mut self, mut d: Digest) {
        match Attempt::of(&d) {
            Some(attempt) => self.attempts.push(attempt),
            None => {
                match self.host_sets.get(&*d.hosts) {
                    Some(known) => d.hosts = Arc::clone(known),
                    None => {
                        self.host_sets.insert(Arc::clone(&d.hosts));
                    }
                }
                self.connections.push(d);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.connections.is_empty() && self.attempts.is_empty()
    }

    /// Numbers the input's connections after `offset` earlier ones.
    pub fn renumber(&mut self, offset: u64) {
        for d in self.connections.iter_mut() {
            d.id += offset;
        }
        for a in self.attempts.iter_mut() {
            a.id += offset;
        }
    }
}

impl FromIterator<Digest> for Digests {
    fn from_iter<I: IntoIterator<Item = Digest>>(iter: I) -> Self {
        let mut all = Digests::default();
        for d in iter {
            all.push(d);
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_is_much_smaller_than_a_record() {
        // A SYN flood of a million connections is held in about a quarter gigabyte.
        assert!(std::mem::size_of::<Digest>() <= 264);
        assert!(std::mem::size_of::<Digest>() * 4 < std::mem::size_of::<ConnectionRecord>());
        assert!(std::mem::size_of::<ExchangeDigest>() <= 56);
        assert!(std::mem::size_of::<Attempt>() <= 56);
    }

    #[test]
    fn a_set_of_host_names_is_held_once_per_input() {
        use crate::flow::table::tests_support::{capture, Conv};
        let request = "GET / HTTP/1.1\r\nHost: example.org\r\n\r\n";
        let response = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, request)
            .response(0.2, response)
            .fin(true, 0.3);
        let mut b = Conv::open(40001, 1.0);
        b.request(1.1, request)
            .response(1.2, response)
            .fin(true, 1.3);
        let mut other = Conv::open(40002, 2.0);
        other
            .request(2.1, "GET / HTTP/1.1\r\nHost: example.net\r\n\r\n")
            .response(2.2, response)
            .fin(true, 2.3);
        let digests: Digests = capture(&[&a, &b, &other]).iter().map(Digest::of).collect();
        let sets: Vec<&Arc<[Box<str>]>> = digests.connections.iter().map(|d| &d.hosts).collect();
        assert_eq!(sets.len(), 3);
        assert_eq!(&*sets[0][0], "example.org");
        assert!(Arc::ptr_eq(sets[0], sets[1]), "the same names, one copy");
        assert_eq!(&*sets[2][0], "example.net");
        assert!(!Arc::ptr_eq(sets[0], sets[2]));
        // Held by the input's set and the two digests.
        assert_eq!(Arc::strong_count(sets[0]), 3);
    }
}
