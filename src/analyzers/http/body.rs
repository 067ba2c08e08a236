//! Message bodies of one HTTP connection (RFC 9112 §6–§7): Content-Length, chunked
//! transfer coding with trailers, or until the connection closes; body bytes are
//! counted, never stored. Also what a gap or a FIN does to the message in flight, and
//! the search for the next message start after framing was lost.

use super::*;

impl HttpAnalyzer {
    pub(super) fn count_body(&mut self, dir: Direction, n: u64) {
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

    pub(super) fn body_bytes(
        &mut self,
        dir: Direction,
        body: Body,
        bytes: &[u8],
        origin: Origin,
    ) -> usize {
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

    pub(super) fn chunked_bytes(
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
    pub(super) fn resync_bytes(&mut self, dir: Direction, bytes: &[u8], origin: Origin) -> usize {
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

    pub(super) fn on_gap(&mut self, dir: Direction, len: u64, origin: Origin) {
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

    pub(super) fn on_fin(&mut self, dir: Direction, origin: Origin) {
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
}
