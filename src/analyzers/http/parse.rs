//! Byte-level HTTP/1.x reading (RFC 9112 §2–§5): whether bytes begin a request or a
//! status line, the request line, header-field helpers, body framing from the fields,
//! and where a head ends or the next message starts. Pure functions: no state, no
//! allocation beyond the short texts they return.

use super::*;

pub(super) const METHODS: &[&[u8]] = &[
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
pub(super) fn could_be_request(bytes: &[u8]) -> bool {
    let token = bytes.iter().take_while(|&&b| is_tchar(b)).count();
    token > 0
        && token <= MAX_METHOD
        && (matches!(bytes.get(token), Some(b' ' | b'\r' | b'\n')) || token == bytes.len())
}

/// RFC 9110 §5.6.2 token characters.
pub(super) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Longest method token accepted.
pub(super) const MAX_METHOD: usize = 32;

/// The first line of `bytes` without its line end, once it is complete.
pub(super) fn first_line(bytes: &[u8]) -> Option<&[u8]> {
    let end = bytes.iter().position(|&b| b == b'\n')?;
    let line = &bytes[..end];
    Some(line.strip_suffix(b"\r").unwrap_or(line))
}

/// A request line read leniently, where httparse (strict, RFC 9112) refuses it:
/// unusual but real clients send `OPTIONS HTTP/1.1` (no target), `GET /HTTP/1.1`
/// (no space), targets with spaces, and HTTP/0.9's `GET /` with no version.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct RequestLine<'a> {
    pub(super) method: &'a str,
    pub(super) target: &'a str,
    pub(super) version: LineVersion<'a>,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(super) enum LineVersion<'a> {
    /// HTTP/1.x with this minor version.
    Http1(u8),
    /// No version: HTTP/0.9, whose request is one line and response a bare body.
    Http09,
    /// A malformed version such as `HTTP/1.`: framed like HTTP/1.x, reported as sent.
    Other(&'a str),
}

pub(super) fn parse_request_line(line: &[u8]) -> Option<RequestLine<'_>> {
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

pub(super) fn clip(text: &str) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_string();
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

pub(super) fn header<'a>(headers: &'a [httparse::Header<'_>], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

pub(super) fn header_text(headers: &[httparse::Header<'_>], name: &str) -> Option<Text> {
    header(headers, name).map(|v| match std::str::from_utf8(v) {
        Ok(v) if v.len() <= MAX_TEXT => text(v.trim()),
        _ => Text::Owned(clip(String::from_utf8_lossy(v).trim())),
    })
}

/// Short protocol words as [`Text`], clipped like any other text.
pub(super) fn short_text(word: &str) -> Text {
    if word.len() <= MAX_TEXT {
        text(word)
    } else {
        Text::Owned(clip(word))
    }
}

pub(super) fn has_token(value: &[u8], token: &str) -> bool {
    value.split(|&b| b == b',').any(|t| {
        String::from_utf8_lossy(t)
            .trim()
            .eq_ignore_ascii_case(token)
    })
}

/// Body framing from Transfer-Encoding and Content-Length (RFC 9112 §6.3); `Err` names
/// the problem when the fields contradict each other.
pub(super) fn framing(headers: &[httparse::Header<'_>], otherwise: Body) -> Result<Body, String> {
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
pub(super) fn transfer_coding_not_chunked(headers: &[httparse::Header<'_>]) -> bool {
    header(headers, "transfer-encoding").is_some_and(|te| {
        let last = te.rsplit(|&b| b == b',').next().unwrap_or(te);
        !String::from_utf8_lossy(last)
            .trim()
            .eq_ignore_ascii_case("chunked")
    })
}

pub(super) fn keep_alive_header(headers: &[httparse::Header<'_>]) -> Option<KeepAliveHeader> {
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

pub(super) fn version_text(minor: Option<u8>) -> Option<Text> {
    minor.map(|m| match m {
        1 => Text::Borrowed("HTTP/1.1"),
        0 => Text::Borrowed("HTTP/1.0"),
        m => Text::Owned(format!("HTTP/1.{m}")),
    })
}

/// End of a head: the index just past CRLFCRLF (or LFLF).
pub(super) fn find_head_end(buf: &[u8]) -> Option<usize> {
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
pub(super) fn find_message_start(buf: &[u8], dir: Direction) -> Option<usize> {
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
pub(super) fn parse_status_line(line: &[u8]) -> Option<(u8, u16, &str)> {
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
pub(super) fn is_status_line_start(bytes: &[u8]) -> bool {
    match bytes {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor, b' ', a, b, c, end, ..] => {
            minor.is_ascii_digit()
                && [a, b, c].iter().all(|d| d.is_ascii_digit())
                && matches!(end, b' ' | b'\r' | b'\n')
        }
        _ => false,
    }
}
