//! Message heads of one HTTP connection: buffering a head until it is complete,
//! parsing requests and responses, pairing each response with its request in order
//! (pipelining, interim 1xx), tunnels after 101 or CONNECT, and heads the capture cut.

use super::*;

impl HttpAnalyzer {
    pub(super) fn head_bytes(&mut self, dir: Direction, bytes: &[u8], origin: Origin) -> usize {
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

    pub(super) fn parse_head(&mut self, dir: Direction, head: &[u8], end: Origin) {
        let start = self.side(dir).head_origin.unwrap_or(end);
        match dir {
            Direction::Client => self.parse_request(head, start, end),
            Direction::Server => self.parse_response(head, start, end),
        }
    }

    pub(super) fn parse_request(&mut self, head: &[u8], start: Origin, end: Origin) {
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

    pub(super) fn parse_response(&mut self, head: &[u8], start: Origin, end: Origin) {
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
    pub(super) fn message_done(&mut self, dir: Direction, origin: Origin) {
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

    /// A head the capture cut short (a gap, or the snap length): its start line, when
    /// captured whole, still says which request or response it was. Its fields and
    /// body framing are lost, so the direction resynchronises after it.
    pub(super) fn cut_head(&mut self, dir: Direction, head: &[u8], start: Origin) {
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
}
