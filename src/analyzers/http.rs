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
//! HTTP at all (`analyzers::mod`).

use super::reassembly::{Chunk, Origin};
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

const METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
    b"PROPFIND ",
    b"PROPPATCH ",
    b"MKCOL ",
    b"COPY ",
    b"MOVE ",
    b"LOCK ",
    b"UNLOCK ",
    b"SEARCH ",
    b"REPORT ",
];

/// Whether `bytes` begins like a request line, for recognising HTTP on a connection
/// not yet known to carry it: a known method, or a whole first line of the form
/// `TOKEN SP target SP HTTP/1.x`.
pub fn looks_like_request(bytes: &[u8]) -> bool {
    let known = METHODS.iter().any(|m| {
        let n = m.len().min(bytes.len());
        // The method, then a space (or, malformed, the line end).
        n > 0
            && (bytes[..n] == m[..n]
                || (n == m.len()
                    && bytes[..n - 1] == m[..n - 1]
                    && matches!(bytes[n - 1], b'\r' | b'\n')))
    });
    known || {
        let line = first_line(bytes);
        line.is_some_and(|l| {
            parse_request_line(l).is_some_and(|r| r.version != LineVersion::Http09)
        })
    }
}

/// Whether `bytes` could begin a request on a connection already known to be HTTP:
/// a method token (any, e.g. `CCM_POST`) followed by a space, or the start of one.
fn could_be_request(bytes: &[u8]) -> bool {
    let token = bytes.iter().take_while(|&&b| is_tchar(b)).count();
    token > 0
        && token <= MAX_METHOD
        && (matches!(bytes.get(token), Some(b' ' | b'\r' | b'\n')) || token == bytes.len())
}

/// RFC 9110 §5.6.2 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Longest method token accepted.
const MAX_METHOD: usize = 32;

/// The first line of `bytes` without its line end, once it is complete.
fn first_line(bytes: &[u8]) -> Option<&[u8]> {
    let end = bytes.iter().position(|&b| b == b'\n')?;
    let line = &bytes[..end];
    Some(line.strip_suffix(b"\r").unwrap_or(line))
}

/// A request line read leniently, where httparse (strict, RFC 9112) refuses it:
/// unusual but real clients send `OPTIONS HTTP/1.1` (no target), `GET /HTTP/1.1`
/// (no space), targets with spaces, and HTTP/0.9's `GET /` with no version.
#[derive(Debug, PartialEq, Eq)]
struct RequestLine<'a> {
    method: &'a str,
    target: &'a str,
    version: LineVersion<'a>,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum LineVersion<'a> {
    /// HTTP/1.x with this minor version.
    Http1(u8),
    /// No version: HTTP/0.9, whose request is one line and response a bare body.
    Http09,
    /// A malformed version such as `HTTP/1.`: framed like HTTP/1.x, reported as sent.
    Other(&'a str),
}

fn parse_request_line(line: &[u8]) -> Option<RequestLine<'_>> {
    let line = std::str::from_utf8(line).ok()?;
    let is_known = |m: &str| {
        METHODS
            .iter()
            .any(|known| known.strip_suffix(b" ") == Some(m.as_bytes()))
    };
    let Some((method, rest)) = line.split_once(' ') else {
        // A bare known method (`OPTIONS`, then header fields): no target, no version.
        return is_known(line).then_some(RequestLine {
            method: line,
            target: "",
            version: LineVersion::Other(""),
        });
    };
    if method.is_empty() || method.len() > MAX_METHOD || !method.bytes().all(is_tchar) {
        return None;
    }
    let rest = rest.trim();
    for (suffix, minor) in [("HTTP/1.1", 1u8), ("HTTP/1.0", 0u8)] {
        if let Some(target) = rest.strip_suffix(suffix) {
            return Some(RequestLine {
                method,
                target: target.trim_end(),
                version: LineVersion::Http1(minor),
            });
        }
    }
    if let Some((target, version)) = rest.rsplit_once(" HTTP/") {
        if version.len() <= 4 && !version.contains(' ') {
            let full = &rest[target.len() + 1..];
            return Some(RequestLine {
                method,
                target: target.trim_end(),
                version: LineVersion::Other(full),
            });
        }
    }
    // Without a version only a known method makes it an HTTP/0.9 request; anything
    // else is stray data (`T / HTTP` after a request is cruft, not a request).
    if !is_known(method) || rest.contains("HTTP/") || rest.bytes().any(|b| b.is_ascii_control()) {
        return None;
    }
    Some(RequestLine {
        method,
        target: rest,
        version: LineVersion::Http09,
    })
}

/// Whether `bytes` begins like a status line (`HTTP/1.`).
pub fn looks_like_response(bytes: &[u8]) -> bool {
    let n = bytes.len().min(7);
    n > 0 && bytes[..n] == b"HTTP/1."[..n]
}

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

fn clip(text: &str) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_string();
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

fn header<'a>(headers: &'a [httparse::Header<'_>], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

fn header_text(headers: &[httparse::Header<'_>], name: &str) -> Option<Text> {
    header(headers, name).map(|v| match std::str::from_utf8(v) {
        Ok(v) if v.len() <= MAX_TEXT => text(v.trim()),
        _ => Text::Owned(clip(String::from_utf8_lossy(v).trim())),
    })
}

/// Short protocol words as [`Text`], clipped like any other text.
fn short_text(word: &str) -> Text {
    if word.len() <= MAX_TEXT {
        text(word)
    } else {
        Text::Owned(clip(word))
    }
}

fn has_token(value: &[u8], token: &str) -> bool {
    value.split(|&b| b == b',').any(|t| {
        String::from_utf8_lossy(t)
            .trim()
            .eq_ignore_ascii_case(token)
    })
}

/// Body framing from Transfer-Encoding and Content-Length (RFC 9112 §6.3); `Err` names
/// the problem when the fields contradict each other.
fn framing(headers: &[httparse::Header<'_>], otherwise: Body) -> Result<Body, String> {
    if let Some(te) = header(headers, "transfer-encoding") {
        let last = te.rsplit(|&b| b == b',').next().unwrap_or(te);
        return if String::from_utf8_lossy(last)
            .trim()
            .eq_ignore_ascii_case("chunked")
        {
            Ok(Body::Chunked(ChunkPhase::Size))
        } else {
            Ok(otherwise)
        };
    }
    let mut length: Option<u64> = None;
    for h in headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
    {
        for part in h.value.split(|&b| b == b',') {
            let text = String::from_utf8_lossy(part);
            let value: u64 = text
                .trim()
                .parse()
                .map_err(|_| format!("invalid Content-Length {:?}", text.trim()))?;
            match length {
                Some(previous) if previous != value => {
                    return Err(format!(
                        "conflicting Content-Length values {previous} and {value}"
                    ))
                }
                _ => length = Some(value),
            }
        }
    }
    Ok(length.map_or(otherwise, Body::Length))
}

/// A Transfer-Encoding whose final coding is not `chunked`.
fn transfer_coding_not_chunked(headers: &[httparse::Header<'_>]) -> bool {
    header(headers, "transfer-encoding").is_some_and(|te| {
        let last = te.rsplit(|&b| b == b',').next().unwrap_or(te);
        !String::from_utf8_lossy(last)
            .trim()
            .eq_ignore_ascii_case("chunked")
    })
}

fn keep_alive_header(headers: &[httparse::Header<'_>]) -> Option<KeepAliveHeader> {
    let value = header(headers, "keep-alive")?;
    let text = String::from_utf8_lossy(value);
    let mut parsed = KeepAliveHeader {
        timeout: None,
        max: None,
    };
    for part in text.split(',') {
        if let Some((key, val)) = part.split_once('=') {
            let val = val.trim().parse().ok();
            match key.trim().to_ascii_lowercase().as_str() {
                "timeout" => parsed.timeout = val,
                "max" => parsed.max = val,
                _ => {}
            }
        }
    }
    Some(parsed)
}

fn version_text(minor: Option<u8>) -> Option<Text> {
    minor.map(|m| match m {
        1 => Text::Borrowed("HTTP/1.1"),
        0 => Text::Borrowed("HTTP/1.0"),
        m => Text::Owned(format!("HTTP/1.{m}")),
    })
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

    /// Feeds one in-order chunk of direction `dir`.
    pub fn on_chunk(&mut self, dir: Direction, chunk: Chunk<'_>, origin: Origin) {
        match chunk {
            Chunk::Data(bytes) => {
                self.side(dir).last_origin = Some(origin);
                let mut rest = bytes;
                // Each step consumes part of `rest` or switches phase; a step that does
                // neither twice running would loop, so it ends the chunk instead.
                let mut idle_steps = 0;
                while !rest.is_empty() && idle_steps < 2 {
                    let used = self.step(dir, rest, origin);
                    idle_steps = if used == 0 { idle_steps + 1 } else { 0 };
                    rest = &rest[used.min(rest.len())..];
                }
            }
            Chunk::Gap(len) => self.on_gap(dir, len, origin),
            Chunk::Fin => self.on_fin(dir, origin),
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

    fn head_bytes(&mut self, dir: Direction, bytes: &[u8], origin: Origin) -> usize {
        let side = self.side(dir);
        if side.buf.is_empty() {
            // Stray line ends between messages are allowed (RFC 9112 §2.2).
            let skip = bytes
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            if skip > 0 {
                return skip;
            }
            side.head_origin = Some(origin);
        }
        if dir == Direction::Server && self.server.buf.is_empty() && !looks_like_response(bytes) {
            let waiting = self.exchanges.get(self.next_response);
            if waiting.is_some_and(|x| x.version.as_deref() == Some("HTTP/0.9")) {
                // An HTTP/0.9 response is the bare body, ended by the close.
                let index = self.next_response;
                let x = &mut self.exchanges[index];
                x.response_packet = Some(origin.packet);
                x.response_start = Some(origin.ts);
                x.ttfb_ms = x.request_end.map(|r| origin.ts.millis_since(r));
                self.next_response = index + 1;
                self.server.current = Some(index);
                self.server.phase = Phase::Body(Body::UntilClose);
                return 0;
            }
        }
        if self.side(dir).buf.is_empty() {
            // The whole head in one chunk, the common case: parsed where it lies, so an
            // idle connection holds no head buffer.
            if let Some(end) = find_head_end(&bytes[..bytes.len().min(MAX_HEAD_BYTES)]) {
                self.parse_head(dir, &bytes[..end], origin);
                return end;
            }
        }
        let side = self.side(dir);
        let searched_from = side.buf.len().saturating_sub(3);
        let room = MAX_HEAD_BYTES.saturating_sub(side.buf.len());
        let take = bytes.len().min(room.max(1));
        side.buf.extend_from_slice(&bytes[..take]);
        let end = find_head_end(&side.buf[searched_from..]).map(|e| e + searched_from);
        match end {
            Some(end) => {
                // Give back what follows the head: it is body or the next message.
                let overshoot = side.buf.len() - end;
                side.buf.truncate(end);
                let head = std::mem::take(&mut self.side(dir).buf);
                self.parse_head(dir, &head, origin);
                take - overshoot
            }
            None if side.buf.len() >= MAX_HEAD_BYTES => {
                side.buf.clear();
                side.phase = Phase::Resync;
                let what = message_noun(dir);
                self.warn(
                    origin.packet,
                    format!("{what} head longer than {MAX_HEAD_BYTES} bytes; skipped"),
                );
                take
            }
            None => {
                // Not a message start at all: resynchronise rather than buffer garbage.
                let plausible = match dir {
                    Direction::Client => could_be_request(&side.buf),
                    Direction::Server => looks_like_response(&side.buf),
                };
                // HTTP/0.9: a request line without a version is the whole request.
                if plausible && dir == Direction::Client {
                    if let Some(line) = first_line(&side.buf) {
                        if parse_request_line(line)
                            .is_some_and(|r| r.version == LineVersion::Http09)
                        {
                            let end =
                                line.len() + if side.buf[line.len()] == b'\r' { 2 } else { 1 };
                            let overshoot = side.buf.len() - end;
                            side.buf.truncate(end);
                            let head = std::mem::take(&mut self.side(dir).buf);
                            self.parse_head(dir, &head, origin);
                            return take - overshoot;
                        }
                    }
                }
                if !plausible {
                    side.buf.clear();
                    side.phase = Phase::Resync;
                    let what = message_noun(dir);
                    self.warn(
                        origin.packet,
                        format!("data where an HTTP {what} should start; looking for the next one"),
                    );
                }
                take
            }
        }
    }

    fn parse_head(&mut self, dir: Direction, head: &[u8], end: Origin) {
        let start = self.side(dir).head_origin.unwrap_or(end);
        match dir {
            Direction::Client => self.parse_request(head, start, end),
            Direction::Server => self.parse_response(head, start, end),
        }
    }

    fn parse_request(&mut self, head: &[u8], start: Origin, end: Origin) {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let strict = req.parse(head);
        let (method, target, version, fields): (
            Text,
            Option<String>,
            Text,
            &[httparse::Header<'_>],
        ) = match strict {
            Ok(_) => (
                short_text(req.method.unwrap_or("")),
                req.path.map(clip),
                version_text(req.version).unwrap_or_default(),
                &*req.headers,
            ),
            Err(e) => {
                let lenient = first_line(head).and_then(parse_request_line);
                let Some(line) = lenient else {
                    self.client.phase = Phase::Resync;
                    self.warn(
                        start.packet,
                        format!("malformed request head ({e}); looking for the next request"),
                    );
                    return;
                };
                if e == httparse::Error::TooManyHeaders {
                    self.warn(
                        start.packet,
                        format!(
                            "request has more than {MAX_HEADERS} header fields; they were not read (assuming no body)"
                        ),
                    );
                }
                let version = match line.version {
                    LineVersion::Http1(minor) => version_text(Some(minor)).unwrap_or_default(),
                    LineVersion::Http09 => Text::Borrowed("HTTP/0.9"),
                    LineVersion::Other(other) => short_text(other),
                };
                (
                    short_text(line.method),
                    Some(clip(line.target)),
                    version,
                    &[],
                )
            }
        };
        // Fields of a leniently read head, parsed on their own (best effort).
        let mut extra = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let fields: &[httparse::Header<'_>] = if strict.is_ok() {
            fields
        } else {
            let after_line = head
                .iter()
                .position(|&b| b == b'\n')
                .map_or(head.len(), |p| p + 1);
            match httparse::parse_headers(&head[after_line..], &mut extra) {
                Ok(httparse::Status::Complete((_, parsed))) => parsed,
                _ => &[],
            }
        };
        if header(fields, "transfer-encoding").is_some()
            && header(fields, "content-length").is_some()
        {
            self.warn(
                start.packet,
                "request has both Transfer-Encoding and Content-Length (a request-smuggling pattern); following RFC 9112, Transfer-Encoding decides".into(),
            );
        }
        let body = match framing(fields, Body::Length(0)) {
            Ok(Body::Length(0)) if transfer_coding_not_chunked(fields) => {
                self.warn(
                    start.packet,
                    "request Transfer-Encoding does not end in chunked, so its length is unknown (RFC 9112 §6.3); assuming no body".into(),
                );
                Body::Length(0)
            }
            Ok(body) => body,
            Err(problem) => {
                self.warn(
                    start.packet,
                    format!("request: {problem}; body length unknown"),
                );
                Body::Length(0)
            }
        };
        let previous_end = self
            .exchanges
            .last()
            .and_then(|x| x.response_end.or(x.request_end));
        let exchange = HttpExchange {
            method: Some(method),
            host: header_text(fields, "host").map(Text::into_owned),
            target,
            version: Some(version),
            request_packet: Some(start.packet),
            request_start: Some(start.ts),
            request_end: Some(end.ts),
            request_end_packet: Some(end.packet),
            request_connection: header_text(fields, "connection"),
            idle_before_s: previous_end.map(|prev| start.ts.secs_since(prev)),
            ..HttpExchange::blank(self.exchanges.len() as u64 + 1)
        };
        push_exchange(&mut self.exchanges, exchange);
        self.client.current = Some(self.exchanges.len() - 1);
        self.client.phase = match body {
            Body::Length(0) => Phase::Head,
            other => Phase::Body(other),
        };
    }

    fn parse_response(&mut self, head: &[u8], start: Origin, end: Origin) {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        let mut config = httparse::ParserConfig::default();
        config
            .allow_obsolete_multiline_headers_in_responses(true)
            .allow_spaces_after_header_name_in_responses(true)
            .allow_multiple_spaces_in_response_status_delimiters(true)
            .ignore_invalid_headers_in_responses(true);
        if let Err(e) = config.parse_response(&mut resp, head) {
            self.server.phase = Phase::Resync;
            self.warn(
                start.packet,
                format!("malformed response head ({e}); looking for the next response"),
            );
            return;
        }
        let status = resp.code.unwrap_or(0);
        // Which request this answers: the oldest still waiting, or a response with no
        // request seen (the capture began after it was sent).
        let index = if self.next_response < self.exchanges.len() {
            self.next_response
        } else {
            let blank = HttpExchange::blank(self.exchanges.len() as u64 + 1);
            push_exchange(&mut self.exchanges, blank);
            self.exchanges.len() - 1
        };
        let method = self.exchanges[index].method.clone().unwrap_or_default();
        if (100..200).contains(&status) && status != 101 {
            // Interim response (100 Continue, 103 Early Hints): the final one follows.
            let x = &mut self.exchanges[index];
            x.interim.push(status);
            if x.response_packet.is_none() {
                x.response_packet = Some(start.packet);
                x.response_start = Some(start.ts);
                x.ttfb_ms = x.request_end.map(|r| start.ts.millis_since(r));
            }
            self.server.phase = Phase::Head;
            return;
        }
        let upgrade = status == 101;
        let connect = method.eq_ignore_ascii_case("CONNECT") && (200..300).contains(&status);
        let no_body = method.eq_ignore_ascii_case("HEAD") || status == 204 || status == 304;
        let body = if upgrade || connect || no_body {
            Body::Length(0)
        } else {
            match framing(resp.headers, Body::UntilClose) {
                Ok(body) => body,
                Err(problem) => {
                    self.warn(
                        start.packet,
                        format!(
                            "response: {problem}; reading the body to the end of the connection"
                        ),
                    );
                    Body::UntilClose
                }
            }
        };
        let x = &mut self.exchanges[index];
        x.status = Some(status);
        x.reason = resp.reason.map(short_text);
        x.response_version = version_text(resp.version);
        if x.response_packet.is_none() {
            x.response_packet = Some(start.packet);
            x.response_start = Some(start.ts);
            x.ttfb_ms = x.request_end.map(|r| start.ts.millis_since(r));
        }
        x.response_end = Some(end.ts);
        x.response_end_packet = Some(end.packet);
        x.response_connection = header_text(resp.headers, "connection");
        x.keep_alive = keep_alive_header(resp.headers);
        self.next_response = index + 1;
        self.server.current = Some(index);
        if upgrade || connect {
            x.response_complete = true;
            self.tunnel = Some(Tunnel {
                packet: start.packet,
                kind: if upgrade { "upgrade" } else { "connect" },
                protocol: if upgrade {
                    header_text(resp.headers, "upgrade").map(Text::into_owned)
                } else {
                    None
                },
            });
            self.client.phase = Phase::Tunnel;
            self.server.phase = Phase::Tunnel;
            return;
        }
        match body {
            Body::Length(0) => {
                x.response_complete = true;
                self.server.phase = Phase::Head;
            }
            other => self.server.phase = Phase::Body(other),
        }
    }

    /// Marks the current message of `dir` complete at `origin`.
    fn message_done(&mut self, dir: Direction, origin: Origin) {
        let side = self.side(dir);
        side.phase = Phase::Head;
        if let Some(x) = side.current.and_then(|i| self.exchanges.get_mut(i)) {
            match dir {
                Direction::Client => {
                    x.request_end = Some(origin.ts);
                    x.request_end_packet = Some(origin.packet);
                }
                Direction::Server => {
                    x.response_end = Some(origin.ts);
                    x.response_end_packet = Some(origin.packet);
                    x.response_complete = true;
                }
            }
        }
    }

    fn count_body(&mut self, dir: Direction, n: u64) {
        if let Some(x) = self
            .side(dir)
            .current
            .and_then(|i| self.exchanges.get_mut(i))
        {
            match dir {
                Direction::Client => x.request_body_bytes += n,
                Direction::Server => x.response_body_bytes += n,
            }
        }
    }

    fn body_bytes(&mut self, dir: Direction, body: Body, bytes: &[u8], origin: Origin) -> usize {
        match body {
            Body::UntilClose => {
                self.count_body(dir, bytes.len() as u64);
                if let Some(x) = self.server.current.and_then(|i| self.exchanges.get_mut(i)) {
                    x.response_end = Some(origin.ts);
                    x.response_end_packet = Some(origin.packet);
                }
                bytes.len()
            }
            Body::Length(left) => {
                let take = (bytes.len() as u64).min(left);
                self.count_body(dir, take);
                let left = left - take;
                if left == 0 {
                    self.message_done(dir, origin);
                } else {
                    self.side(dir).phase = Phase::Body(Body::Length(left));
                }
                take as usize
            }
            Body::Chunked(phase) => self.chunked_bytes(dir, phase, bytes, origin),
        }
    }

    fn chunked_bytes(
        &mut self,
        dir: Direction,
        phase: ChunkPhase,
        bytes: &[u8],
        origin: Origin,
    ) -> usize {
        match phase {
            ChunkPhase::Data(left) => {
                let take = (bytes.len() as u64).min(left);
                self.count_body(dir, take);
                let next = if take == left {
                    ChunkPhase::DataEnd
                } else {
                    ChunkPhase::Data(left - take)
                };
                self.side(dir).phase = Phase::Body(Body::Chunked(next));
                take as usize
            }
            ChunkPhase::DataEnd => {
                // CRLF after chunk data; a bare LF is tolerated.
                let side = self.side(dir);
                match bytes[0] {
                    b'\r' => 1,
                    b'\n' => {
                        side.phase = Phase::Body(Body::Chunked(ChunkPhase::Size));
                        1
                    }
                    _ => {
                        side.phase = Phase::Resync;
                        self.warn(
                            origin.packet,
                            "chunk data not followed by CRLF; looking for the next message".into(),
                        );
                        0
                    }
                }
            }
            ChunkPhase::Size | ChunkPhase::Trailers => {
                let side = self.side(dir);
                let (line_end, take) = match bytes.iter().position(|&b| b == b'\n') {
                    Some(at) => (true, at + 1),
                    None => (false, bytes.len()),
                };
                side.buf.extend_from_slice(&bytes[..take]);
                if side.buf.len() > MAX_CHUNK_LINE {
                    side.buf.clear();
                    side.phase = Phase::Resync;
                    self.warn(
                        origin.packet,
                        "chunk-size or trailer line too long; looking for the next message".into(),
                    );
                    return take;
                }
                if !line_end {
                    return take;
                }
                let line = std::mem::take(&mut side.buf);
                if phase == ChunkPhase::Trailers {
                    if line == b"\r\n" || line == b"\n" {
                        self.message_done(dir, origin);
                    }
                    side_reuse(self.side(dir), line);
                    return take;
                }
                // Leading zeros are valid hex (RFC 9112 §7.1) but count against
                // httparse's 16-digit limit: drop them first.
                let zeros = line.iter().take_while(|&&b| b == b'0').count();
                let digits = if line.get(zeros).is_some_and(u8::is_ascii_hexdigit) {
                    &line[zeros..]
                } else {
                    &line[zeros.saturating_sub(1)..]
                };
                match httparse::parse_chunk_size(digits) {
                    Ok(httparse::Status::Complete((_, 0))) => {
                        self.side(dir).phase = Phase::Body(Body::Chunked(ChunkPhase::Trailers));
                    }
                    Ok(httparse::Status::Complete((_, size))) => {
                        self.side(dir).phase = Phase::Body(Body::Chunked(ChunkPhase::Data(size)));
                    }
                    Ok(httparse::Status::Partial) | Err(_) => {
                        let shown = String::from_utf8_lossy(&line[..line.len().min(40)])
                            .trim()
                            .to_string();
                        self.side(dir).phase = Phase::Resync;
                        self.warn(
                            origin.packet,
                            format!("invalid chunk size {shown:?}; looking for the next message"),
                        );
                    }
                }
                side_reuse(self.side(dir), line);
                take
            }
        }
    }

    /// Searches for the next message start; consumes everything before it.
    fn resync_bytes(&mut self, dir: Direction, bytes: &[u8], origin: Origin) -> usize {
        let side = self.side(dir);
        // Keep a short tail so a start split across chunks is still found.
        const TAIL: usize = 16;
        let from_tail = side.buf.len();
        side.buf.extend_from_slice(bytes);
        let found = find_message_start(&side.buf, dir);
        match found {
            Some(at) => {
                // `at` may lie in the tail kept from before; the head restarts there.
                let head_prefix: Vec<u8> = side.buf[at..from_tail.max(at)].to_vec();
                let consumed = at.saturating_sub(from_tail);
                side.buf.clear();
                side.phase = Phase::Head;
                side.buf.extend_from_slice(&head_prefix);
                side.head_origin = Some(origin);
                consumed
            }
            None => {
                let keep = side.buf.len().min(TAIL);
                let cut = side.buf.len() - keep;
                side.buf.drain(..cut);
                bytes.len()
            }
        }
    }

    fn on_gap(&mut self, dir: Direction, len: u64, origin: Origin) {
        let side = self.side(dir);
        side.missed_bytes += len;
        match side.phase {
            Phase::Tunnel | Phase::Resync => {
                side.buf.clear();
            }
            Phase::Body(Body::UntilClose) => self.count_body(dir, len),
            Phase::Body(Body::Length(left)) if len <= left => {
                // The gap fell inside a body of known length: framing survives.
                self.count_body(dir, len);
                if len == left {
                    self.message_done(dir, origin);
                } else {
                    self.side(dir).phase = Phase::Body(Body::Length(left - len));
                }
            }
            Phase::Body(Body::Chunked(ChunkPhase::Data(left))) if len < left => {
                self.count_body(dir, len);
                self.side(dir).phase = Phase::Body(Body::Chunked(ChunkPhase::Data(left - len)));
            }
            Phase::Head if side.buf.is_empty() => {
                side.phase = Phase::Resync;
                self.warn(
                    origin.packet,
                    format!("{len} bytes missing from the capture; looking for the next message"),
                );
            }
            _ => {
                let head_in_progress = side.phase == Phase::Head;
                let head_origin = side.head_origin.unwrap_or(origin);
                let head = std::mem::take(&mut side.buf);
                side.phase = Phase::Resync;
                if head_in_progress {
                    self.cut_head(dir, &head, head_origin);
                }
                side_reuse(self.side(dir), head);
                self.warn(origin.packet, format!("{len} bytes missing from the capture inside a message; looking for the next one"));
            }
        }
    }

    /// A head the capture cut short (a gap, or the snap length): its start line, when
    /// captured whole, still says which request or response it was. Its fields and
    /// body framing are lost, so the direction resynchronises after it.
    fn cut_head(&mut self, dir: Direction, head: &[u8], start: Origin) {
        let line = first_line(head);
        match dir {
            Direction::Server => {
                let status = line.and_then(parse_status_line);
                // It answered the oldest waiting request; the next response found
                // answers the request after it.
                let index = if self.next_response < self.exchanges.len() {
                    self.next_response
                } else if status.is_some() {
                    let blank = HttpExchange::blank(self.exchanges.len() as u64 + 1);
                    push_exchange(&mut self.exchanges, blank);
                    self.exchanges.len() - 1
                } else {
                    return;
                };
                let x = &mut self.exchanges[index];
                if x.response_packet.is_none() {
                    x.response_packet = Some(start.packet);
                    x.response_start = Some(start.ts);
                    x.ttfb_ms = x.request_end.map(|r| start.ts.millis_since(r));
                }
                if let Some((minor, code, reason)) = status {
                    x.status = Some(code);
                    x.reason = Some(short_text(reason));
                    x.response_version = version_text(Some(minor));
                }
                self.next_response = index + 1;
                self.server.current = Some(index);
            }
            Direction::Client => {
                let Some(request) = line.and_then(parse_request_line) else {
                    return;
                };
                let version = match request.version {
                    LineVersion::Http1(minor) => version_text(Some(minor)).unwrap_or_default(),
                    LineVersion::Http09 => return, // a one-line request is never cut
                    LineVersion::Other(other) => short_text(other),
                };
                let previous_end = self
                    .exchanges
                    .last()
                    .and_then(|x| x.response_end.or(x.request_end));
                let exchange = HttpExchange {
                    method: Some(short_text(request.method)),
                    target: Some(clip(request.target)),
                    version: Some(version),
                    request_packet: Some(start.packet),
                    request_start: Some(start.ts),
                    idle_before_s: previous_end.map(|prev| start.ts.secs_since(prev)),
                    ..HttpExchange::blank(self.exchanges.len() as u64 + 1)
                };
                push_exchange(&mut self.exchanges, exchange);
                self.client.current = Some(self.exchanges.len() - 1);
            }
        }
    }

    fn on_fin(&mut self, dir: Direction, origin: Origin) {
        let phase = self.side(dir).phase;
        let last = self.side(dir).last_origin.unwrap_or(origin);
        match phase {
            Phase::Body(Body::UntilClose) => self.message_done(dir, last),
            Phase::Body(Body::Length(left)) => {
                let what = message_noun(dir);
                self.warn(
                    origin.packet,
                    format!("connection closed with {left} {what} body bytes still to come"),
                );
                self.side(dir).phase = Phase::Tunnel;
            }
            Phase::Body(Body::Chunked(_)) => {
                let what = message_noun(dir);
                self.warn(
                    origin.packet,
                    format!("connection closed inside a chunked {what} body"),
                );
                self.side(dir).phase = Phase::Tunnel;
            }
            Phase::Head if !self.side(dir).buf.is_empty() => {
                let what = message_noun(dir);
                self.warn(
                    origin.packet,
                    format!("connection closed inside a {what} head"),
                );
            }
            _ => {}
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

/// End of a head: the index just past CRLFCRLF (or LFLF).
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < buf.len() {
        if buf[i] == b'\n' {
            if buf.get(i + 1) == Some(&b'\n') {
                return Some(i + 2);
            }
            if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

/// The first position where a request line (client) or status line (server) begins.
/// At the start of a line a method or `HTTP/1.` is enough; elsewhere — right after a
/// binary body whose last byte is not a line end (a JPEG ends `FF D9`) — only a whole
/// status line start (`HTTP/1.x NNN `) or a whole request line of a known method and
/// an HTTP/1.x version counts, so text inside a body is not taken for a message.
fn find_message_start(buf: &[u8], dir: Direction) -> Option<usize> {
    (0..buf.len()).find(|&i| {
        let rest = &buf[i..];
        let at_line_start = i == 0 || buf[i - 1] == b'\n';
        match dir {
            Direction::Client if at_line_start => {
                METHODS.iter().any(|m| rest.starts_with(m))
                    || first_line(rest)
                        .and_then(parse_request_line)
                        .is_some_and(|r| r.version != LineVersion::Http09)
            }
            Direction::Client => {
                METHODS.iter().any(|m| rest.starts_with(m))
                    && first_line(rest)
                        .and_then(parse_request_line)
                        .is_some_and(|r| matches!(r.version, LineVersion::Http1(_)))
            }
            Direction::Server if at_line_start => rest.starts_with(b"HTTP/1."),
            Direction::Server => is_status_line_start(rest),
        }
    })
}

/// A status line `HTTP/1.x NNN reason`: the minor version, the code, the reason.
fn parse_status_line(line: &[u8]) -> Option<(u8, u16, &str)> {
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let (&minor, rest) = rest.split_first()?;
    let rest = rest.strip_prefix(b" ")?;
    let digits = rest.get(..3)?;
    if !minor.is_ascii_digit() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = digits
        .iter()
        .fold(0u16, |code, d| code * 10 + u16::from(d - b'0'));
    let reason = std::str::from_utf8(&rest[3..]).ok()?.trim();
    Some((minor - b'0', code, reason))
}

/// `HTTP/1.x NNN` followed by a space or line end.
fn is_status_line_start(bytes: &[u8]) -> bool {
    match bytes {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor, b' ', a, b, c, end, ..] => {
            minor.is_ascii_digit()
                && [a, b, c].iter().all(|d| d.is_ascii_digit())
                && matches!(end, b' ' | b'\r' | b'\n')
        }
        _ => false,
    }
}

/// Who ended the HTTP conversation, and why (see `HttpEndReason`).
pub fn http_end(summary: &HttpSummary, closed_by: Option<Direction>) -> Option<HttpEnd> {
    let last = summary.exchanges.last()?;
    if summary.tunnel.is_some() {
        return Some(HttpEnd {
            by: None,
            reason: HttpEndReason::Tunnel,
        });
    }
    let says_close = |v: &Option<Text>| {
        v.as_deref()
            .is_some_and(|v| has_token(v.as_bytes(), "close"))
    };
    let says_keep_alive = |v: &Option<Text>| {
        v.as_deref()
            .is_some_and(|v| has_token(v.as_bytes(), "keep-alive"))
    };
    if says_close(&last.request_connection) {
        return Some(HttpEnd {
            by: Some(Direction::Client),
            reason: HttpEndReason::ClientConnectionClose,
        });
    }
    if says_close(&last.response_connection) {
        return Some(HttpEnd {
            by: Some(Direction::Server),
            reason: HttpEndReason::ServerConnectionClose,
        });
    }
    let http10_request =
        last.version.as_deref() == Some("HTTP/1.0") && !says_keep_alive(&last.request_connection);
    let http10_response = last.response_version.as_deref() == Some("HTTP/1.0")
        && !says_keep_alive(&last.response_connection);
    if http10_request || http10_response {
        return Some(HttpEnd {
            by: Some(if http10_response {
                Direction::Server
            } else {
                Direction::Client
            }),
            reason: HttpEndReason::Http10NoKeepAlive,
        });
    }
    let by = closed_by?;
    let reason = match (summary.outstanding, by) {
        (true, _) => HttpEndReason::ClosedDuringExchange,
        (false, Direction::Server) => HttpEndReason::ServerClosedIdle,
        (false, Direction::Client) => HttpEndReason::ClientClosedIdle,
    };
    Some(HttpEnd {
        by: Some(by),
        reason,
    })
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
#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    /// Feeds `(direction, bytes)` messages, each split into pieces of `split` bytes
    /// (one packet each, one second apart), then FINs from both sides.
    fn run_split(messages: &[(Direction, &[u8])], split: usize, fin: bool) -> HttpSummary {
        let mut http = HttpAnalyzer::default();
        let mut packet = 0u64;
        for (dir, bytes) in messages {
            for piece in bytes.chunks(split.max(1)) {
                packet += 1;
                let origin = Origin {
                    packet,
                    ts: Timestamp::from_nanos(packet as i64 * 1_000_000_000),
                };
                http.on_chunk(*dir, Chunk::Data(piece), origin);
            }
        }
        if fin {
            for dir in [Direction::Client, Direction::Server] {
                packet += 1;
                let origin = Origin {
                    packet,
                    ts: Timestamp::from_nanos(packet as i64 * 1_000_000_000),
                };
                http.on_chunk(dir, Chunk::Fin, origin);
            }
        }
        http.finish()
    }

    fn run(messages: &[(Direction, &[u8])]) -> HttpSummary {
        run_split(messages, usize::MAX, false)
    }

    use Direction::{Client as C, Server as S};

    /// (method, status, request body, response body, complete) of one exchange.
    type View = (Option<Text>, Option<u16>, u64, u64, bool);

    fn view(summary: &HttpSummary) -> Vec<View> {
        summary
            .exchanges
            .iter()
            .map(|x| {
                (
                    x.method.clone(),
                    x.status,
                    x.request_body_bytes,
                    x.response_body_bytes,
                    x.response_complete,
                )
            })
            .collect()
    }

    fn get(m: &str, s: u16, req: u64, resp: u64) -> View {
        (Some(text(m)), Some(s), req, resp, true)
    }

    const REQ: &[u8] = b"GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n";
    const RESP_CL: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nKeep-Alive: timeout=5, max=100\r\n\r\nhello";
    const RESP_CHUNKED: &[u8] =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\nX-Trailer: t\r\n\r\n";

    #[test]
    fn content_length_and_fields() {
        let s = run(&[(C, REQ), (S, RESP_CL)]);
        assert_eq!(view(&s), vec![get("GET", 200, 0, 5)]);
        let x = &s.exchanges[0];
        assert_eq!(x.host.as_deref(), Some("example.com"));
        assert_eq!(x.target.as_deref(), Some("/a"));
        assert_eq!(x.version.as_deref(), Some("HTTP/1.1"));
        assert_eq!(x.reason.as_deref(), Some("OK"));
        assert_eq!(
            x.keep_alive,
            Some(KeepAliveHeader {
                timeout: Some(5),
                max: Some(100)
            })
        );
        assert_eq!((x.request_packet, x.response_packet), (Some(1), Some(2)));
        assert_eq!(x.ttfb_ms, Some(1000.0));
        assert!(s.warnings.is_empty());
    }

    #[test]
    fn any_split_gives_the_same_exchanges() {
        let post = b"POST /up HTTP/1.1\r\nContent-Length: 7\r\n\r\npayload";
        let messages: Vec<(Direction, &[u8])> = vec![
            (C, REQ),
            (S, RESP_CHUNKED),
            (C, post),
            (S, RESP_CL),
            (C, REQ),
            (S, b"HTTP/1.1 204 No Content\r\n\r\n"),
        ];
        let whole = view(&run(&messages));
        assert_eq!(
            whole,
            vec![
                get("GET", 200, 0, 6),
                get("POST", 200, 7, 5),
                get("GET", 204, 0, 0)
            ]
        );
        for split in 1..40 {
            assert_eq!(
                view(&run_split(&messages, split, false)),
                whole,
                "split {split}"
            );
        }
    }

    #[test]
    fn pipelined_requests_pair_in_order() {
        let s = run(&[
            (C, REQ),
            (C, b"GET /b HTTP/1.1\r\n\r\n"),
            (S, RESP_CL),
            (S, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
        ]);
        assert_eq!(view(&s), vec![get("GET", 200, 0, 5), get("GET", 404, 0, 0)]);
        assert_eq!(s.exchanges[1].target.as_deref(), Some("/b"));
        assert_eq!(s.exchanges[1].response_packet, Some(4));
    }

    #[test]
    fn head_and_304_have_no_body() {
        let s = run(&[
            (C, b"HEAD / HTTP/1.1\r\n\r\n"),
            (S, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
            (C, REQ),
            (
                S,
                b"HTTP/1.1 304 Not Modified\r\nContent-Length: 1000\r\n\r\n",
            ),
            (C, REQ),
            (S, RESP_CL),
        ]);
        assert_eq!(
            view(&s),
            vec![
                get("HEAD", 200, 0, 0),
                get("GET", 304, 0, 0),
                get("GET", 200, 0, 5)
            ]
        );
    }

    #[test]
    fn continue_100_is_interim() {
        let s = run(&[
            (
                C,
                b"PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
            ),
            (S, b"HTTP/1.1 100 Continue\r\n\r\n"),
            (C, b"abc"),
            (S, b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
        ]);
        assert_eq!(view(&s), vec![get("PUT", 201, 3, 0)]);
        assert_eq!(s.exchanges[0].interim, vec![100]);
        assert_eq!(
            s.exchanges[0].response_packet,
            Some(2),
            "the first response byte is the 100"
        );
    }

    #[test]
    fn close_delimited_body_ends_at_fin() {
        let s = run_split(
            &[(C, REQ), (S, b"HTTP/1.0 200 OK\r\n\r\nuntil the end")],
            4,
            true,
        );
        assert_eq!(view(&s), vec![get("GET", 200, 0, 13)]);
        let x = &s.exchanges[0];
        assert!(x.response_end.is_some());
        let end = http_end(&s, Some(Direction::Server)).expect("end");
        assert_eq!(end.reason, HttpEndReason::Http10NoKeepAlive);
        assert_eq!(end.by, Some(Direction::Server));
    }

    #[test]
    fn upgrade_and_connect_become_tunnels() {
        let s = run(&[
            (
                C,
                b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            ),
            (
                S,
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
            ),
            (C, b"\x81\x85binary frames GET / HTTP/1.1\r\n\r\n"),
        ]);
        assert_eq!(s.exchanges.len(), 1);
        let tunnel = s.tunnel.as_ref().expect("tunnel");
        assert_eq!(
            (tunnel.kind, tunnel.protocol.as_deref()),
            ("upgrade", Some("websocket"))
        );
        assert_eq!(
            http_end(&s, None).map(|e| e.reason),
            Some(HttpEndReason::Tunnel)
        );
        let s = run(&[
            (C, b"CONNECT example.com:443 HTTP/1.1\r\n\r\n"),
            (S, b"HTTP/1.1 200 Connection established\r\n\r\n"),
            (C, b"\x16\x03\x01 tls bytes"),
        ]);
        assert_eq!(s.tunnel.as_ref().map(|t| t.kind), Some("connect"));
        assert_eq!(s.exchanges[0].target.as_deref(), Some("example.com:443"));
    }

    #[test]
    fn idle_before_and_connection_headers() {
        let s = run(&[
            (C, REQ),
            (S, RESP_CL),
            (C, b"GET /2 HTTP/1.1\r\nConnection: close\r\n\r\n"),
            (
                S,
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            ),
        ]);
        assert_eq!(s.exchanges[0].idle_before_s, None);
        assert_eq!(s.exchanges[1].idle_before_s, Some(1.0));
        assert_eq!(s.exchanges[1].request_connection.as_deref(), Some("close"));
        let end = http_end(&s, Some(Direction::Server)).expect("end");
        assert_eq!(
            (end.by, end.reason),
            (
                Some(Direction::Client),
                HttpEndReason::ClientConnectionClose
            )
        );
    }

    #[test]
    fn gap_inside_a_body_keeps_framing() {
        let mut http = HttpAnalyzer::default();
        let o = |packet| Origin {
            packet,
            ts: Timestamp::from_nanos(packet as i64),
        };
        http.on_chunk(C, Chunk::Data(REQ), o(1));
        http.on_chunk(
            S,
            Chunk::Data(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"),
            o(2),
        );
        http.on_chunk(S, Chunk::Gap(80), o(3));
        http.on_chunk(S, Chunk::Data(b"0123456789"), o(4));
        http.on_chunk(C, Chunk::Data(REQ), o(5));
        http.on_chunk(S, Chunk::Data(RESP_CL), o(6));
        let s = http.finish();
        assert_eq!(
            view(&s),
            vec![get("GET", 200, 0, 100), get("GET", 200, 0, 5)]
        );
        assert_eq!(s.missed_bytes, (0, 80));
    }

    #[test]
    fn gap_inside_a_head_resynchronises_at_the_next_response() {
        let mut http = HttpAnalyzer::default();
        let o = |packet| Origin {
            packet,
            ts: Timestamp::from_nanos(packet as i64),
        };
        http.on_chunk(C, Chunk::Data(REQ), o(1));
        http.on_chunk(C, Chunk::Data(REQ), o(2));
        http.on_chunk(S, Chunk::Data(b"HTTP/1.1 200 OK\r\nContent-"), o(3));
        http.on_chunk(S, Chunk::Gap(500), o(4));
        http.on_chunk(
            S,
            Chunk::Data(
                b"tail of something\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            ),
            o(5),
        );
        let s = http.finish();
        assert_eq!(s.exchanges.len(), 2);
        assert_eq!(
            s.exchanges[0].status,
            Some(200),
            "its status line was captured, the rest of its head lost"
        );
        assert!(!s.exchanges[0].response_complete);
        assert_eq!(s.exchanges[0].response_packet, Some(3));
        assert_eq!(s.exchanges[1].status, Some(404));
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert_eq!(s.warnings[0].packet, Some(4));
    }

    #[test]
    fn hostile_inputs_warn_and_do_not_stall() {
        // A 1 MB header line.
        let mut huge = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
        huge.extend(std::iter::repeat_n(b'a', 1 << 20));
        let s = run_split(
            &[(C, &huge), (C, b"\r\n\r\n"), (C, REQ), (S, RESP_CL)],
            1460,
            false,
        );
        assert!(
            s.warnings[0].message.contains("longer than 65536 bytes"),
            "{:?}",
            s.warnings
        );
        assert_eq!(s.exchanges.len(), 1, "the next request is still found");
        // A chunk size that overflows, then a valid response.
        let s = run(&[
            (C, REQ),
            (
                S,
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n",
            ),
            (C, REQ),
            (S, RESP_CL),
        ]);
        assert!(
            s.warnings[0].message.starts_with("invalid chunk size"),
            "{:?}",
            s.warnings
        );
        assert_eq!(
            s.exchanges.iter().filter(|x| x.status == Some(200)).count(),
            2
        );
        // Conflicting Content-Length.
        let s = run(&[
            (C, REQ),
            (
                S,
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            ),
        ]);
        assert!(s.warnings[0]
            .message
            .contains("conflicting Content-Length values 5 and 6"));
        // 10 000 header fields.
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..10_000 {
            many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        let s = run(&[(C, &many), (C, REQ), (S, RESP_CL)]);
        assert!(!s.warnings.is_empty());
        // … and in fewer bytes than the head limit.
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        many.extend(b"X:v\r\n".repeat(10_000));
        many.extend_from_slice(b"\r\n");
        let s = run(&[(C, &many), (C, REQ), (S, RESP_CL)]);
        assert!(
            s.warnings[0]
                .message
                .contains("more than 128 header fields"),
            "{:?}",
            s.warnings
        );
        assert_eq!(s.exchanges.len(), 2);
        // A request never answered.
        let s = run(&[(C, REQ)]);
        assert!(s.outstanding);
        assert_eq!(s.exchanges[0].status, None);
    }

    #[test]
    fn smuggling_patterns_are_named() {
        let s = run(&[(
            C,
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 50\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
        )]);
        assert!(s.warnings[0]
            .message
            .contains("both Transfer-Encoding and Content-Length"));
        assert_eq!(s.exchanges.len(), 2);
        assert_eq!(s.exchanges[1].target.as_deref(), Some("/smuggled"));
    }

    #[test]
    fn lenient_request_lines() {
        assert_eq!(
            parse_request_line(b"OPTIONS HTTP/1.1"),
            Some(RequestLine {
                method: "OPTIONS",
                target: "",
                version: LineVersion::Http1(1)
            })
        );
        assert_eq!(
            parse_request_line(b"GET /HTTP/1.1"),
            Some(RequestLine {
                method: "GET",
                target: "/",
                version: LineVersion::Http1(1)
            })
        );
        assert_eq!(
            parse_request_line(b"GET /"),
            Some(RequestLine {
                method: "GET",
                target: "/",
                version: LineVersion::Http09
            })
        );
        assert_eq!(
            parse_request_line(b"CCM_POST / HTTP/1."),
            Some(RequestLine {
                method: "CCM_POST",
                target: "/",
                version: LineVersion::Other("HTTP/1.")
            })
        );
        assert_eq!(parse_request_line(b"T / HTTP"), None);
        assert_eq!(parse_request_line(b"\x16\x03\x01\x02\x00"), None);
    }

    #[test]
    fn http09_response_is_the_bare_body() {
        let s = run_split(&[(C, b"GET /\r\n"), (S, b"<html>old</html>")], 5, true);
        assert_eq!(s.exchanges.len(), 1);
        let x = &s.exchanges[0];
        assert_eq!(x.version.as_deref(), Some("HTTP/0.9"));
        assert_eq!(x.response_body_bytes, 16);
        assert!(x.response_complete);
    }
    #[test]
    fn resync_finds_head_right_after_binary_body() {
        // The capture starts inside a JPEG body (the server direction resynchronises);
        // the body ends `FF D9` and the next status line follows with no line end.
        let mut http = HttpAnalyzer::default();
        http.start_resync(S);
        let o = |packet| Origin {
            packet,
            ts: Timestamp::from_nanos(packet as i64),
        };
        http.on_chunk(C, Chunk::Data(REQ), o(1));
        // The status line is split across packets right after the body's end.
        http.on_chunk(S, Chunk::Data(b"\x12\x34\xff\xd9HTTP/1.1 2"), o(2));
        http.on_chunk(
            S,
            Chunk::Data(b"00 OK\r\nContent-Length: 2\r\n\r\nok"),
            o(3),
        );
        // Every later response on the connection is found too.
        http.on_chunk(C, Chunk::Data(REQ), o(4));
        http.on_chunk(
            S,
            Chunk::Data(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"),
            o(5),
        );
        let s = http.finish();
        assert_eq!(
            view(&s),
            vec![get("GET", 200, 0, 2), get("GET", 200, 0, 1)],
            "{:?}",
            s.warnings
        );
    }

    #[test]
    fn resync_mid_line_needs_a_whole_start_line() {
        // Inside a body, `HTTP/1.1` without a status code or a method without a version
        // is text, not a message start.
        assert_eq!(find_message_start(b"xxHTTP/1.1 is a version", S), None);
        assert_eq!(find_message_start(b"xxHTTP/1.1 200 OK\r\n", S), Some(2));
        assert_eq!(find_message_start(b"\xd9GET the milk\n", C), None);
        assert_eq!(find_message_start(b"\xd9GET /a HTTP/1.1\r\n", C), Some(1));
        assert_eq!(find_message_start(b"x\nGET the milk\n", C), Some(2));
    }
    #[test]
    fn request_then_cruft_counts_one_request() {
        // Zeek's http-11-request-then-cruft.pcap: one request with bare-LF line ends,
        // then `T / HTTP` lines that are no request (unknown method, no version),
        // which nginx answers with 400 and a close.
        let s = run_split(
            &[
                (C, b"GET / HTTP/1.1\nHost: zeek.org\n\n"),
                (
                    S,
                    b"HTTP/1.1 301 Moved Permanently\r\nContent-Length: 3\r\n\r\nabc",
                ),
                (C, b"T / HTTP\n\n"),
                (
                    S,
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno",
                ),
                (C, b"T / HTTP\n\nT / HTTP\n\n"),
            ],
            15,
            true,
        );
        let requests = s.exchanges.iter().filter(|x| x.method.is_some()).count();
        assert_eq!(requests, 1, "{:?}", s.exchanges);
        let statuses: Vec<_> = s.exchanges.iter().map(|x| x.status).collect();
        assert_eq!(statuses, vec![Some(301), Some(400)]);
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    }
    #[test]
    fn head_cut_by_the_snap_length_keeps_its_start_line() {
        // pcapplusplus-pcapng-example.pcapng: a 128-byte snap length cuts a response
        // head (no request captured); its status line was captured whole.
        let mut http = HttpAnalyzer::default();
        let o = |packet| Origin {
            packet,
            ts: Timestamp::from_nanos(packet as i64),
        };
        http.on_chunk(
            S,
            Chunk::Data(b"HTTP/1.1 200 OK\r\nServer: x\r\nContent-"),
            o(1),
        );
        http.on_chunk(S, Chunk::Gap(1168), o(1));
        // A request head cut the same way still counts as a request.
        http.on_chunk(
            C,
            Chunk::Data(b"POST /up HTTP/1.1\r\nHost: a\r\nCookie: "),
            o(2),
        );
        http.on_chunk(C, Chunk::Gap(700), o(2));
        // A head cut inside its start line says nothing.
        http.on_chunk(C, Chunk::Data(b"GET /a"), o(3));
        http.on_chunk(C, Chunk::Gap(700), o(3));
        // One the end of the capture cut is a request all the same.
        http.on_chunk(C, Chunk::Data(b"GET /b HTTP/1.1\r\nHost: a\r\n"), o(4));
        let s = http.finish();
        assert_eq!(s.exchanges.len(), 3, "{:?}", s.exchanges);
        assert_eq!(s.exchanges[2].target.as_deref(), Some("/b"));
        assert_eq!(s.exchanges[2].request_packet, Some(4));
        let (response, request) = (&s.exchanges[0], &s.exchanges[1]);
        assert_eq!(response.status, Some(200));
        assert_eq!(response.reason.as_deref(), Some("OK"));
        assert_eq!(response.response_packet, Some(1));
        assert!(!response.response_complete);
        assert_eq!(request.method.as_deref(), Some("POST"));
        assert_eq!(request.target.as_deref(), Some("/up"));
        assert_eq!(request.status, None);
        assert_eq!(
            parse_status_line(b"HTTP/1.0 404 Not Found"),
            Some((0, 404, "Not Found"))
        );
        assert_eq!(parse_status_line(b"HTTP/1.1 2x0 OK"), None);
    }
}
