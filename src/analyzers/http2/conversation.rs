//! One HTTP/2 connection seen from the wire (RFC 9113 §5, §6): both directions' frames
//! in capture order become exchanges (one per stream), SETTINGS, PINGs with their
//! ACKs, GOAWAYs and warnings.
//!
//! Bytes arrive per direction as TCP reassembly hands them, each chunk with the packet
//! and capture time that completed it; a frame is dated by the chunk holding its last
//! byte. Malformed traffic is data (STYLE rule 2): a framing error becomes a warning
//! with its packet number and the connection is no longer parsed; an HPACK failure
//! makes that direction's headers unreadable but frames are still counted.
//!
//! Not for: TLS (the bytes here are plaintext), the HTTP/1.1 side of `Upgrade: h2c`
//! (the caller hands over the request and the bytes after the 101:
//! [`Conversation::upgraded`]), or flow-control accounting.

use super::frame::{
    ErrorCode, Frame, FrameError, FrameReader, FrameType, SettingId, SettingsList,
    DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE,
};
use super::hpack::{BlockOutcome, HeaderBlocks, HeaderFields, HpackError};
use crate::analyzers::reassembly::{Chunk, Origin};
use crate::flow::key::{Direction, PerSide};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The most exchanges kept per connection; later streams are counted only.
pub const MAX_EXCHANGES: usize = 10_000;
/// The most PINGs, SETTINGS frames, GOAWAYs and warnings kept per connection, each.
pub const MAX_RECORDS: usize = 1_000;
/// The longest GOAWAY debug text kept.
pub const MAX_DEBUG_TEXT: usize = 256;

/// A stream reset (RFC 9113 §6.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reset {
    pub by: Direction,
    pub error: ErrorCode,
    pub at: Origin,
}

/// One stream: a request and its response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exchange {
    pub stream: u32,
    pub method: Option<String>,
    pub scheme: Option<String>,
    pub authority: Option<String>,
    pub path: Option<String>,
    /// The final (non-1xx) status.
    pub status: Option<u16>,
    /// Interim 1xx statuses, in order.
    pub interim: Vec<u16>,
    /// DATA bytes (without padding) each way.
    pub request_body: u64,
    pub response_body: u64,
    /// The request HEADERS (or the PUSH_PROMISE of a pushed stream).
    pub request_at: Option<Origin>,
    /// The first response HEADERS, interim or not: time to first byte.
    pub response_at: Option<Origin>,
    /// END_STREAM from the client, from the server.
    pub request_end: Option<Origin>,
    pub response_end: Option<Origin>,
    pub reset: Option<Reset>,
    /// Promised by the server (PUSH_PROMISE on this stream id).
    pub pushed: bool,
    /// A header block of this stream could not be decoded.
    pub headers_unreadable: bool,
}

impl Exchange {
    /// Closed: END_STREAM both ways, or reset (RFC 9113 §5.1).
    pub fn is_closed(&self) -> bool {
        self.reset.is_some() || (self.request_end.is_some() && self.response_end.is_some())
    }

    /// Milliseconds from the request HEADERS to the first response HEADERS.
    pub fn ttfb_millis(&self) -> Option<f64> {
        Some(self.response_at?.ts.millis_since(self.request_at?.ts))
    }
}

/// The SETTINGS parameters one side announced (RFC 9113 §6.5.2); `None` = not sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SettingsValues {
    pub header_table_size: Option<u32>,
    pub enable_push: Option<u32>,
    pub max_concurrent_streams: Option<u32>,
    pub initial_window_size: Option<u32>,
    pub max_frame_size: Option<u32>,
    pub max_header_list_size: Option<u32>,
    /// Parameters of identifiers RFC 9113 does not define (ignored, §6.5.2).
    pub unknown: u32,
}

/// One non-ACK SETTINGS frame and when the peer acknowledged it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettingsRecord {
    pub by: Direction,
    pub at: Origin,
    pub values: SettingsValues,
    pub acked_at: Option<Origin>,
}

/// A PING and its ACK: HTTP/2's own keep-alive (e.g. Go's `ReadIdleTimeout` health
/// check).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PingRecord {
    pub by: Direction,
    pub at: Origin,
    pub data: [u8; 8],
    pub acked_at: Option<Origin>,
}

impl PingRecord {
    /// Milliseconds from the PING to its ACK.
    pub fn rtt_millis(&self) -> Option<f64> {
        self.acked_at.map(|ack| ack.ts.millis_since(self.at.ts))
    }
}

/// A GOAWAY (RFC 9113 §6.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoAwayRecord {
    pub by: Direction,
    pub at: Origin,
    /// The highest stream the sender may have processed.
    pub last_stream: u32,
    pub error: ErrorCode,
    /// The debug data, lossily as text, cut at [`MAX_DEBUG_TEXT`] bytes.
    pub debug: String,
}

/// What went wrong, by concern.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Http2Error {
    /// The framing broke: the connection is not parsed further.
    Frame(FrameError),
    /// The header blocks broke: this direction's headers are unreadable from here on.
    Hpack(HpackError),
    /// The first frame of a direction was not SETTINGS (RFC 9113 §3.4).
    NoInitialSettings { kind: FrameType },
    /// A SETTINGS value out of range (RFC 9113 §6.5.2: PROTOCOL_ERROR or
    /// FLOW_CONTROL_ERROR): the connection is not parsed further.
    BadSetting { id: SettingId, value: u32 },
    /// The client opened an even-numbered stream (RFC 9113 §5.1.1).
    EvenClientStream { stream: u32 },
    /// Bytes of this direction were not captured: frame boundaries are lost, so the
    /// connection is not parsed further.
    Gap { bytes: u64 },
}

impl fmt::Display for Http2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Http2Error::Frame(e) => e.fmt(f),
            Http2Error::Hpack(e) => {
                write!(
                    f,
                    "{e}; this direction's headers are unreadable from here on"
                )
            }
            Http2Error::NoInitialSettings { kind } if *kind == FrameType::SETTINGS => {
                f.write_str("the first frame is a SETTINGS acknowledgement, not SETTINGS")
            }
            Http2Error::NoInitialSettings { kind } => {
                write!(f, "the first frame is {kind}, not SETTINGS")
            }
            Http2Error::BadSetting { id, value } => {
                write!(
                    f,
                    "SETTINGS parameter 0x{:x} has invalid value {value}",
                    id.0
                )
            }
            Http2Error::EvenClientStream { stream } => {
                write!(f, "the client opened even-numbered stream {stream}")
            }
            Http2Error::Gap { bytes } => {
                write!(f, "{bytes} bytes not captured: HTTP/2 framing lost")
            }
        }
    }
}

impl std::error::Error for Http2Error {}

/// A problem, where it was seen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Warning {
    pub dir: Direction,
    pub packet: u64,
    pub error: Http2Error,
}

/// Frame counts of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameCounts {
    pub frames: u64,
    pub data: u64,
    pub headers: u64,
    pub window_updates: u64,
    pub priority: u64,
    pub unknown: u64,
    /// DATA payload bytes (with padding) — what flow control counts.
    pub data_payload: u64,
}

/// Everything learnt about one HTTP/2 connection.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Http2Summary {
    /// One per stream that carried HEADERS or was promised, by stream id.
    pub exchanges: Vec<Exchange>,
    /// Streams beyond [`MAX_EXCHANGES`], counted only.
    pub exchanges_dropped: u64,
    /// Streams opened (HEADERS on a new stream, or promised).
    pub streams_opened: u64,
    /// The most streams open at once.
    pub max_concurrent: u32,
    pub settings: Vec<SettingsRecord>,
    pub pings: Vec<PingRecord>,
    pub goaways: Vec<GoAwayRecord>,
    pub warnings: Vec<Warning>,
    pub frames: PerSide<FrameCounts>,
    /// Parsing stopped at this warning's packet (a framing error or a gap).
    pub stopped: bool,
}

/// One HTTP/2 connection, fed both directions in capture order.
#[derive(Debug)]
pub struct Conversation {
    /// Apart from the rest so a frame borrowed from a reader's buffer can be handled
    /// without copying it.
    readers: PerSide<FrameReader>,
    conn: Connection,
}

/// Everything but the frame readers.
#[derive(Debug, Default)]
struct Connection {
    blocks: PerSide<HeaderBlocks>,
    /// The first frame (which must be SETTINGS) has been seen, per direction.
    started: PerSide<bool>,
    streams: BTreeMap<u32, Exchange>,
    /// Streams open now (§5.1 "open" or "half-closed"), for the concurrency peak.
    open: BTreeSet<u32>,
    /// The server's header block in progress is a PUSH_PROMISE's, for this stream.
    promise_block: Option<u32>,
    summary: Http2Summary,
}

impl Default for Conversation {
    fn default() -> Self {
        Conversation {
            readers: PerSide {
                client: FrameReader::client(),
                server: FrameReader::server(),
            },
            conn: Connection::default(),
        }
    }
}

/// The HTTP/1.1 request that asked for `Upgrade: h2c` and the 101 that granted it
/// (RFC 7540 §3.2): the request becomes stream 1, whose response comes as HTTP/2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpgradeRequest {
    pub method: Option<String>,
    /// The `Host` header.
    pub host: Option<String>,
    pub target: Option<String>,
    /// The request's first and last byte.
    pub start: Origin,
    pub end: Origin,
    /// The 101 Switching Protocols response.
    pub switched: Origin,
}

impl Conversation {
    /// A connection that switched to HTTP/2 after `Upgrade: h2c`: stream 1 is open,
    /// half-closed by the client (its request was sent whole as HTTP/1.1, RFC 7540
    /// §3.2), and the 101 was its first (interim) response. The client's next bytes
    /// are the preface, the server's a SETTINGS frame, as with prior knowledge.
    pub fn upgraded(request: UpgradeRequest) -> Self {
        let mut conv = Conversation::default();
        let exchange = Exchange {
            stream: 1,
            method: request.method,
            scheme: Some("http".to_string()),
            authority: request.host,
            path: request.target,
            interim: vec![101],
            request_at: Some(request.start),
            request_end: Some(request.end),
            response_at: Some(request.switched),
            ..Exchange::default()
        };
        let conn = &mut conv.conn;
        conn.streams.insert(1, exchange);
        conn.open.insert(1);
        conn.summary.streams_opened = 1;
        conn.note_concurrency();
        conv
    }

    /// Framing was lost (a framing error or a gap): no later byte will be read.
    pub fn is_stopped(&self) -> bool {
        self.conn.summary.stopped
    }

    /// A chunk as the reassembler delivers it.
    pub fn on_chunk(&mut self, dir: Direction, chunk: Chunk<'_>, origin: Origin) {
        match chunk {
            Chunk::Data(bytes) => self.on_data(dir, bytes, origin),
            Chunk::Gap(bytes) => self.conn.stop(dir, origin, Http2Error::Gap { bytes }),
            // The sender is done; a frame it left unfinished simply never completes.
            Chunk::Fin => {}
        }
    }

    /// Bytes of one direction, in order.
    pub fn on_data(&mut self, dir: Direction, mut bytes: &[u8], origin: Origin) {
        while !bytes.is_empty() && !self.conn.summary.stopped {
            let (used, frame) = match self.readers.get_mut(dir).next(bytes) {
                Ok(step) => step,
                Err(e) => {
                    self.conn.stop(dir, origin, Http2Error::Frame(e));
                    return;
                }
            };
            let mut peer_max_frame = None;
            if let Some(frame) = frame {
                peer_max_frame = self.conn.on_frame(dir, &frame, origin);
            }
            // What this side announced bounds the frames the other side may send.
            if let Some(max) = peer_max_frame {
                self.readers.get_mut(dir.other()).set_max_frame_size(max);
            }
            bytes = bytes.get(used..).unwrap_or_default();
            if used == 0 {
                break;
            }
        }
    }

    /// The exchanges so far, by stream id.
    pub fn exchanges(&self) -> impl Iterator<Item = &Exchange> {
        self.conn.streams.values()
    }

    /// The connection ended (or the capture did).
    pub fn finish(self) -> Http2Summary {
        let mut summary = self.conn.summary;
        summary.exchanges = self.conn.streams.into_values().collect();
        summary
    }
}

impl Connection {
    fn warn(&mut self, dir: Direction, origin: Origin, error: Http2Error) {
        if self.summary.warnings.len() < MAX_RECORDS {
            self.summary.warnings.push(Warning {
                dir,
                packet: origin.packet,
                error,
            });
        }
    }

    fn stop(&mut self, dir: Direction, origin: Origin, error: Http2Error) {
        if !self.summary.stopped {
            self.warn(dir, origin, error);
            self.summary.stopped = true;
        }
    }

    /// Handles one frame; returns the SETTINGS_MAX_FRAME_SIZE it announced, if any.
    fn on_frame(&mut self, dir: Direction, frame: &Frame<'_>, origin: Origin) -> Option<u32> {
        let counts = self.summary.frames.get_mut(dir);
        counts.frames += 1;
        let first = !std::mem::replace(self.started.get_mut(dir), true);
        // RFC 9113 §3.4: each side's preface ends with (client) or is (server) a
        // SETTINGS frame, "the first frame ... sent in the HTTP/2 connection".
        if first && !matches!(frame, Frame::Settings { ack: false, .. }) {
            let kind = frame.kind();
            self.stop(dir, origin, Http2Error::NoInitialSettings { kind });
            return None;
        }
        // A header block must be finished by CONTINUATION before anything else
        // (RFC 9113 §6.10: otherwise a connection PROTOCOL_ERROR).
        if let Some(stream) = self.blocks.get(dir).open_stream() {
            if !matches!(frame, Frame::Continuation { .. }) {
                let e = HpackError::ContinuationMissing { stream };
                self.stop(dir, origin, Http2Error::Hpack(e));
                return None;
            }
        }
        match *frame {
            Frame::Data {
                stream,
                end_stream,
                data_len,
                payload_len,
            } => {
                counts.data += 1;
                counts.data_payload += u64::from(payload_len);
                if let Some(ex) = self.streams.get_mut(&stream) {
                    match dir {
                        Direction::Client => ex.request_body += u64::from(data_len),
                        Direction::Server => ex.response_body += u64::from(data_len),
                    }
                }
                if end_stream {
                    self.end_stream(dir, stream, origin);
                }
            }
            Frame::Headers {
                stream,
                end_stream,
                end_headers,
                fragment,
                ..
            } => {
                counts.headers += 1;
                let outcome = self
                    .blocks
                    .get_mut(dir)
                    .start(stream, fragment, end_headers);
                self.open_stream(dir, stream, origin, false);
                self.on_block(dir, stream, outcome, origin);
                if end_stream {
                    self.end_stream(dir, stream, origin);
                }
            }
            Frame::PushPromise {
                promised,
                end_headers,
                fragment,
                ..
            } => {
                // The block belongs to the promised stream (its request), not to the
                // stream of the request it was pushed for.
                let outcome = self
                    .blocks
                    .get_mut(dir)
                    .start(promised, fragment, end_headers);
                self.open_stream(dir, promised, origin, true);
                self.promise_block = Some(promised);
                self.on_block(dir, promised, outcome, origin);
            }
            Frame::Continuation {
                stream,
                end_headers,
                fragment,
            } => {
                let blocks = self.blocks.get_mut(dir);
                // PUSH_PROMISE blocks are kept under the promised stream's id.
                let target = blocks.open_stream().unwrap_or(stream);
                let outcome = blocks.continuation(target, fragment, end_headers);
                self.on_block(dir, target, outcome, origin);
            }
            Frame::Priority { .. } => counts.priority += 1,
            Frame::WindowUpdate { .. } => counts.window_updates += 1,
            Frame::Unknown { .. } => counts.unknown += 1,
            Frame::RstStream { stream, error } => {
                if let Some(ex) = self.streams.get_mut(&stream) {
                    ex.reset.get_or_insert(Reset {
                        by: dir,
                        error,
                        at: origin,
                    });
                }
                self.open.remove(&stream);
            }
            Frame::Settings { ack: true, .. } => {
                // The ACK answers the peer's oldest unacknowledged SETTINGS (§6.5.3).
                let peer = dir.other();
                if let Some(rec) = self
                    .summary
                    .settings
                    .iter_mut()
                    .find(|r| r.by == peer && r.acked_at.is_none())
                {
                    rec.acked_at = Some(origin);
                }
            }
            Frame::Settings {
                ack: false,
                settings,
            } => return self.on_settings(dir, settings, origin),
            Frame::Ping { ack: true, data } => {
                // The ACK echoes the PING's data (§6.7); answer the latest such.
                let peer = dir.other();
                if let Some(rec) = self
                    .summary
                    .pings
                    .iter_mut()
                    .rev()
                    .find(|p| p.by == peer && p.acked_at.is_none() && p.data == data)
                {
                    rec.acked_at = Some(origin);
                }
            }
            Frame::Ping { ack: false, data } => {
                if self.summary.pings.len() < MAX_RECORDS {
                    self.summary.pings.push(PingRecord {
                        by: dir,
                        at: origin,
                        data,
                        acked_at: None,
                    });
                }
            }
            Frame::GoAway {
                last_stream,
                error,
                debug,
            } => {
                if self.summary.goaways.len() < MAX_RECORDS {
                    let debug = debug.get(..MAX_DEBUG_TEXT).unwrap_or(debug);
                    self.summary.goaways.push(GoAwayRecord {
                        by: dir,
                        at: origin,
                        last_stream,
                        error,
                        debug: String::from_utf8_lossy(debug).into_owned(),
                    });
                }
            }
        }
        None
    }

    /// A non-ACK SETTINGS; returns its SETTINGS_MAX_FRAME_SIZE for the peer's reader.
    fn on_settings(
        &mut self,
        dir: Direction,
        list: SettingsList<'_>,
        origin: Origin,
    ) -> Option<u32> {
        let mut seen = SettingsValues::default();
        for (id, value) in list.iter() {
            // Ranges from RFC 9113 §6.5.2; a value outside is a connection error.
            let valid = match id {
                SettingId::ENABLE_PUSH => value <= 1,
                SettingId::INITIAL_WINDOW_SIZE => value <= 0x7fff_ffff,
                SettingId::MAX_FRAME_SIZE => {
                    (DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&value)
                }
                _ => true,
            };
            if !valid {
                self.stop(dir, origin, Http2Error::BadSetting { id, value });
                return None;
            }
            let slot = match id {
                SettingId::HEADER_TABLE_SIZE => &mut seen.header_table_size,
                SettingId::ENABLE_PUSH => &mut seen.enable_push,
                SettingId::MAX_CONCURRENT_STREAMS => &mut seen.max_concurrent_streams,
                SettingId::INITIAL_WINDOW_SIZE => &mut seen.initial_window_size,
                SettingId::MAX_FRAME_SIZE => &mut seen.max_frame_size,
                SettingId::MAX_HEADER_LIST_SIZE => &mut seen.max_header_list_size,
                _ => {
                    seen.unknown += 1;
                    continue;
                }
            };
            *slot = Some(value);
        }
        // What this side announces bounds what the *other* side may send: its HPACK
        // encoder's table here, its frame sizes in the caller.
        if let Some(size) = seen.header_table_size {
            self.blocks.get_mut(dir.other()).set_table_limit(size);
        }
        if self.summary.settings.len() < MAX_RECORDS {
            self.summary.settings.push(SettingsRecord {
                by: dir,
                at: origin,
                values: seen,
                acked_at: None,
            });
        }
        seen.max_frame_size
    }

    /// HEADERS (or PUSH_PROMISE) names a stream: the first time, the stream opens.
    fn open_stream(&mut self, dir: Direction, stream: u32, origin: Origin, pushed: bool) {
        if self.streams.contains_key(&stream) {
            return;
        }
        // A server's HEADERS on a stream never opened: a capture that missed it, or a
        // broken peer; it still becomes an exchange so its response is reported.
        self.summary.streams_opened += 1;
        if self.streams.len() >= MAX_EXCHANGES {
            self.summary.exchanges_dropped += 1;
            return;
        }
        if dir == Direction::Client && stream % 2 == 0 {
            // Client-initiated streams are odd (RFC 9113 §5.1.1); a peer would call
            // this a PROTOCOL_ERROR, the analyzer notes it and reads on.
            self.warn(dir, origin, Http2Error::EvenClientStream { stream });
        }
        let request_at = (dir == Direction::Client || pushed).then_some(origin);
        self.streams.insert(
            stream,
            Exchange {
                stream,
                request_at,
                // A promised request has no body: the client never sends on the
                // stream (RFC 9113 §5.1, reserved (remote) → half-closed (local)).
                request_end: pushed.then_some(origin),
                pushed,
                ..Exchange::default()
            },
        );
        // Promised streams are "reserved", not open, until the server's HEADERS
        // (RFC 9113 §5.1); they count toward concurrency from their first HEADERS.
        if !pushed {
            self.open.insert(stream);
            self.note_concurrency();
        }
    }

    fn note_concurrency(&mut self) {
        let open = u32::try_from(self.open.len()).unwrap_or(u32::MAX);
        self.summary.max_concurrent = self.summary.max_concurrent.max(open);
    }

    fn end_stream(&mut self, dir: Direction, stream: u32, origin: Origin) {
        let Some(ex) = self.streams.get_mut(&stream) else {
            return;
        };
        let slot = match dir {
            Direction::Client => &mut ex.request_end,
            Direction::Server => &mut ex.response_end,
        };
        slot.get_or_insert(origin);
        if ex.is_closed() {
            self.open.remove(&stream);
        }
    }

    /// A header block finished (or failed) on `stream`.
    fn on_block(
        &mut self,
        dir: Direction,
        stream: u32,
        outcome: Result<Option<BlockOutcome>, HpackError>,
        origin: Origin,
    ) {
        let outcome = match outcome {
            Ok(Some(outcome)) => outcome,
            Ok(None) => return,
            Err(e) => {
                // Block sequencing is framing: RFC 9113 §6.10 makes it a connection
                // error, and the block boundaries are no longer known.
                self.stop(dir, origin, Http2Error::Hpack(e));
                return;
            }
        };
        let fields = match outcome {
            BlockOutcome::Decoded(fields) => Some(fields),
            BlockOutcome::Unreadable => {
                let poisoned = self.blocks.get(dir).poisoned();
                // Warn once, at the block that broke the direction.
                let already = self
                    .summary
                    .warnings
                    .iter()
                    .any(|w| w.dir == dir && matches!(w.error, Http2Error::Hpack(_)));
                if let (Some(e), false) = (poisoned, already) {
                    self.warn(dir, origin, Http2Error::Hpack(e));
                }
                None
            }
        };
        // Only a finished block ends a PUSH_PROMISE (CONTINUATIONs may follow it).
        let promised_by_server =
            dir == Direction::Server && self.promise_block.take() == Some(stream);
        let Some(ex) = self.streams.get_mut(&stream) else {
            return;
        };
        let response = dir == Direction::Server && !promised_by_server;
        if response && ex.response_at.is_none() {
            // The first response HEADERS, readable or not: time to first byte.
            ex.response_at = Some(origin);
            if ex.pushed && !ex.is_closed() {
                // The pushed stream now opens (reserved → half-closed, §5.1).
                self.open.insert(stream);
                self.note_concurrency();
            }
        }
        let Some(ex) = self.streams.get_mut(&stream) else {
            return;
        };
        let Some(fields) = fields else {
            ex.headers_unreadable = true;
            return;
        };
        match dir {
            Direction::Client => apply_request(ex, fields),
            Direction::Server if promised_by_server => {
                // A PUSH_PROMISE's block: the request the server pushes for.
                apply_request(ex, fields)
            }
            Direction::Server => {
                match fields.status {
                    Some(s @ 100..=199) => ex.interim.push(s),
                    Some(s) if ex.status.is_none() => ex.status = Some(s),
                    // Trailers (no :status) or a repeated final status.
                    _ => {}
                }
            }
        }
    }
}

fn apply_request(ex: &mut Exchange, fields: HeaderFields) {
    // Trailers carry no pseudo-headers; keep the request's.
    if fields.method.is_some() {
        ex.method = fields.method;
        ex.scheme = fields.scheme;
        ex.authority = fields.authority.or(fields.host);
        ex.path = fields.path;
    }
}

#[cfg(test)]
mod tests {
    use super::super::frame::encode::{frame, settings};
    use super::super::frame::{flags, FrameType, PREFACE};
    use super::*;
    use crate::time::Timestamp;

    fn at(packet: u64, millis: i64) -> Origin {
        Origin {
            packet,
            ts: Timestamp::from_nanos(millis * 1_000_000),
        }
    }

    /// Both directions' HPACK encoders, so header blocks index each other's entries
    /// as a real peer's would.
    struct Peers {
        client: loona_hpack::Encoder<'static>,
        server: loona_hpack::Encoder<'static>,
    }

    impl Peers {
        fn new() -> Self {
            Peers {
                client: loona_hpack::Encoder::new(),
                server: loona_hpack::Encoder::new(),
            }
        }

        fn request(&mut self, stream: u32, method: &str, path: &str, end: bool) -> Vec<u8> {
            let block = self.client.encode([
                (&b":method"[..], method.as_bytes()),
                (b":scheme", b"http"),
                (b":authority", b"example.test"),
                (b":path", path.as_bytes()),
                (b"user-agent", b"test"),
            ]);
            let fl = flags::END_HEADERS | if end { flags::END_STREAM } else { 0 };
            frame(FrameType::HEADERS, fl, stream, &block)
        }

        fn response(&mut self, stream: u32, status: &str, end: bool) -> Vec<u8> {
            let block = self
                .server
                .encode([(&b":status"[..], status.as_bytes()), (b"server", b"t")]);
            let fl = flags::END_HEADERS | if end { flags::END_STREAM } else { 0 };
            frame(FrameType::HEADERS, fl, stream, &block)
        }
    }

    fn client_start() -> Vec<u8> {
        let mut b = PREFACE.to_vec();
        b.extend(settings(&[
            (SettingId::ENABLE_PUSH, 0),
            (SettingId::INITIAL_WINDOW_SIZE, 1 << 20),
        ]));
        b
    }

    fn server_start() -> Vec<u8> {
        settings(&[
            (SettingId::MAX_CONCURRENT_STREAMS, 250),
            (SettingId::MAX_FRAME_SIZE, 1 << 20),
            (SettingId::HEADER_TABLE_SIZE, 8192),
        ])
    }

    fn ack() -> Vec<u8> {
        frame(FrameType::SETTINGS, flags::ACK, 0, &[])
    }

    const C: Direction = Direction::Client;
    const S: Direction = Direction::Server;

    /// A whole conversation: two overlapping requests, an interim 103, a POST body, a
    /// reset, a PING round trip and the server's GOAWAY.
    fn scripted() -> Vec<(Direction, Vec<u8>, Origin)> {
        let mut p = Peers::new();
        let mut post = p.request(3, "POST", "/upload", false);
        post.extend(frame(FrameType::DATA, flags::END_STREAM, 3, &[1; 300]));
        let mut resp1 = p.response(1, "103", false);
        resp1.extend(p.response(1, "200", false));
        resp1.extend(frame(FrameType::DATA, 0, 1, &[2; 1000]));
        resp1.extend(frame(FrameType::DATA, flags::END_STREAM, 1, &[2; 24]));
        let mut goaway = 5u32.to_be_bytes().to_vec();
        goaway.extend_from_slice(&0u32.to_be_bytes());
        goaway.extend_from_slice(b"bye");
        vec![
            (C, client_start(), at(4, 0)),
            (S, server_start(), at(6, 1)),
            (C, ack(), at(8, 2)),
            (S, ack(), at(9, 2)),
            (C, p.request(1, "GET", "/index.html", true), at(10, 3)),
            (C, post, at(11, 4)),
            (S, resp1, at(12, 10)),
            (S, p.response(3, "201", true), at(13, 11)),
            (C, p.request(5, "GET", "/slow", true), at(14, 12)),
            (
                C,
                frame(FrameType::RST_STREAM, 0, 5, &8u32.to_be_bytes()),
                at(15, 13),
            ),
            (S, frame(FrameType::PING, 0, 0, b"pingpong"), at(16, 1000)),
            (
                C,
                frame(FrameType::PING, flags::ACK, 0, b"pingpong"),
                at(17, 1003),
            ),
            (S, frame(FrameType::GOAWAY, 0, 0, &goaway), at(18, 2000)),
        ]
    }

    fn run(script: &[(Direction, Vec<u8>, Origin)]) -> Http2Summary {
        let mut conv = Conversation::default();
        for (dir, bytes, origin) in script {
            conv.on_chunk(*dir, Chunk::Data(bytes), *origin);
        }
        conv.finish()
    }

    #[test]
    fn test_scripted_conversation() {
        let s = run(&scripted());
        assert_eq!(s.warnings, []);
        assert!(!s.stopped);
        assert_eq!(s.streams_opened, 3);
        let ids: Vec<_> = s.exchanges.iter().map(|e| e.stream).collect();
        assert_eq!(ids, [1, 3, 5]);
        let get = &s.exchanges[0];
        assert_eq!(get.method.as_deref(), Some("GET"));
        assert_eq!(get.path.as_deref(), Some("/index.html"));
        assert_eq!(get.authority.as_deref(), Some("example.test"));
        assert_eq!(get.scheme.as_deref(), Some("http"));
        assert_eq!(
            (get.interim.as_slice(), get.status),
            (&[103][..], Some(200))
        );
        assert_eq!((get.request_body, get.response_body), (0, 1024));
        assert_eq!(get.request_at.map(|o| o.packet), Some(10));
        // TTFB is the 103, the first response HEADERS: 3 ms → 10 ms.
        assert_eq!(get.response_at.map(|o| o.packet), Some(12));
        assert_eq!(get.ttfb_millis(), Some(7.0));
        assert_eq!(s.exchanges[2].ttfb_millis(), None);
        assert_eq!(get.request_end.map(|o| o.packet), Some(10));
        assert_eq!(get.response_end.map(|o| o.packet), Some(12));
        let post = &s.exchanges[1];
        assert_eq!(post.method.as_deref(), Some("POST"));
        assert_eq!((post.request_body, post.status), (300, Some(201)));
        let reset = &s.exchanges[2];
        assert_eq!(reset.path.as_deref(), Some("/slow"));
        assert_eq!(
            reset.reset,
            Some(Reset {
                by: C,
                error: ErrorCode::CANCEL,
                at: at(15, 13)
            })
        );
        assert_eq!(reset.status, None);
        // Streams 1 and 3 overlap (3 opens at packet 11, 1 closes at 12); 5 opens
        // after both closed.
        assert_eq!(s.max_concurrent, 2);
        // SETTINGS each way, each acknowledged by the other side.
        assert_eq!(s.settings.len(), 2);
        assert_eq!(s.settings[0].by, C);
        assert_eq!(s.settings[0].values.initial_window_size, Some(1 << 20));
        assert_eq!(s.settings[0].acked_at.map(|o| o.packet), Some(9));
        assert_eq!(s.settings[1].values.max_concurrent_streams, Some(250));
        assert_eq!(s.settings[1].values.max_frame_size, Some(1 << 20));
        assert_eq!(s.settings[1].acked_at.map(|o| o.packet), Some(8));
        // The server's PING, answered by the client 3 ms later.
        assert_eq!(s.pings.len(), 1);
        assert_eq!(s.pings[0].by, S);
        assert_eq!(s.pings[0].rtt_millis(), Some(3.0));
        assert_eq!(
            s.goaways,
            [GoAwayRecord {
                by: S,
                at: at(18, 2000),
                last_stream: 5,
                error: ErrorCode::NO_ERROR,
                debug: "bye".into()
            }]
        );
        assert_eq!(s.frames.client.frames, 8);
        assert_eq!(s.frames.server.frames, 9);
        assert_eq!(s.frames.server.data, 2);
    }

    /// Any split of either direction's bytes gives the same summary as whole chunks.
    #[test]
    fn byte_at_a_time_equals_whole() {
        let script = scripted();
        let whole = run(&script);
        let mut conv = Conversation::default();
        for (dir, bytes, origin) in &script {
            for b in bytes.chunks(1) {
                conv.on_chunk(*dir, Chunk::Data(b), *origin);
            }
        }
        assert_eq!(conv.finish(), whole);
    }

    #[test]
    fn unanswered_ping_and_client_ping() {
        let script = vec![
            (C, client_start(), at(1, 0)),
            (S, server_start(), at(2, 0)),
            (C, frame(FrameType::PING, 0, 0, &[1; 8]), at(3, 15_000)),
            (C, frame(FrameType::PING, 0, 0, &[2; 8]), at(4, 30_000)),
            (
                S,
                frame(FrameType::PING, flags::ACK, 0, &[2; 8]),
                at(5, 30_001),
            ),
        ];
        let s = run(&script);
        assert_eq!(s.pings.len(), 2);
        assert_eq!(s.pings[0].acked_at, None);
        assert_eq!(s.pings[1].acked_at, Some(at(5, 30_001)));
    }

    #[test]
    fn bad_frame_stops_with_packet_number() {
        let mut p = Peers::new();
        let mut script = vec![
            (C, client_start(), at(1, 0)),
            (S, server_start(), at(2, 0)),
            // PING with a 7-byte payload: FRAME_SIZE_ERROR.
            (C, frame(FrameType::PING, 0, 0, &[0; 7]), at(3, 0)),
        ];
        script.push((C, p.request(1, "GET", "/", true), at(4, 0)));
        let s = run(&script);
        assert!(s.stopped);
        assert_eq!(
            s.warnings,
            [Warning {
                dir: C,
                packet: 3,
                error: Http2Error::Frame(FrameError::BadLength {
                    kind: FrameType::PING,
                    length: 7
                })
            }]
        );
        assert_eq!(s.exchanges, []);
    }

    #[test]
    fn not_http2_and_missing_settings() {
        let mut conv = Conversation::default();
        conv.on_chunk(C, Chunk::Data(b"GET / HTTP/1.1\r\n\r\n"), at(1, 0));
        let s = conv.finish();
        assert_eq!(
            s.warnings[0].error,
            Http2Error::Frame(FrameError::BadPreface { at: 0 })
        );
        let mut conv = Conversation::default();
        conv.on_chunk(
            S,
            Chunk::Data(&frame(FrameType::PING, 0, 0, &[0; 8])),
            at(2, 0),
        );
        let s = conv.finish();
        assert_eq!(
            s.warnings[0].error,
            Http2Error::NoInitialSettings {
                kind: FrameType::PING
            }
        );
        let mut conv = Conversation::default();
        conv.on_chunk(C, Chunk::Gap(100), at(3, 0));
        assert_eq!(
            conv.finish().warnings[0].error,
            Http2Error::Gap { bytes: 100 }
        );
    }

    #[test]
    fn bad_settings_value_stops() {
        let script = vec![(S, settings(&[(SettingId::MAX_FRAME_SIZE, 100)]), at(7, 0))];
        let s = run(&script);
        assert!(s.stopped);
        assert_eq!(
            s.warnings[0].error,
            Http2Error::BadSetting {
                id: SettingId::MAX_FRAME_SIZE,
                value: 100
            }
        );
    }

    /// A header block the decoder cannot read poisons that direction: later requests
    /// are still counted as exchanges, with unreadable headers; the other direction
    /// is unaffected.
    #[test]
    fn lost_hpack_state_poisons_one_direction() {
        let mut p = Peers::new();
        let script = vec![
            (C, client_start(), at(1, 0)),
            (S, server_start(), at(2, 0)),
            // Index 70 does not exist in an empty dynamic table.
            (
                C,
                frame(
                    FrameType::HEADERS,
                    flags::END_HEADERS | flags::END_STREAM,
                    1,
                    &[0xc6],
                ),
                at(3, 0),
            ),
            (S, p.response(1, "200", true), at(4, 0)),
            (C, p.request(3, "GET", "/", true), at(5, 0)),
            (S, p.response(3, "404", true), at(6, 0)),
        ];
        let s = run(&script);
        assert!(!s.stopped);
        assert_eq!(s.warnings.len(), 1);
        assert_eq!((s.warnings[0].dir, s.warnings[0].packet), (C, 3));
        assert!(matches!(
            s.warnings[0].error,
            Http2Error::Hpack(HpackError::Decode(_))
        ));
        assert_eq!(s.exchanges.len(), 2);
        assert!(s
            .exchanges
            .iter()
            .all(|e| e.headers_unreadable && e.method.is_none()));
        assert_eq!(s.exchanges[1].status, Some(404));
        assert_eq!(s.frames.client.headers, 2);
    }

    #[test]
    fn continuation_and_push_promise() {
        let mut p = Peers::new();
        let req = p.request(1, "GET", "/page", true);
        // Re-cut the HEADERS block into HEADERS + two CONTINUATIONs.
        let block = &req[9..];
        let mut c = client_start();
        c.extend(frame(FrameType::HEADERS, flags::END_STREAM, 1, &block[..2]));
        c.extend(frame(FrameType::CONTINUATION, 0, 1, &block[2..5]));
        c.extend(frame(
            FrameType::CONTINUATION,
            flags::END_HEADERS,
            1,
            &block[5..],
        ));
        let promise_block = p.server.encode([
            (&b":method"[..], &b"GET"[..]),
            (b":scheme", b"http"),
            (b":authority", b"example.test"),
            (b":path", b"/style.css"),
        ]);
        let mut pp = 2u32.to_be_bytes().to_vec();
        pp.extend_from_slice(&promise_block);
        let mut s_bytes = server_start();
        s_bytes.extend(frame(FrameType::PUSH_PROMISE, flags::END_HEADERS, 1, &pp));
        s_bytes.extend(p.response(1, "200", true));
        s_bytes.extend(p.response(2, "200", false));
        s_bytes.extend(frame(FrameType::DATA, flags::END_STREAM, 2, &[0; 10]));
        let s = run(&[(C, c, at(1, 0)), (S, s_bytes, at(2, 5))]);
        assert_eq!(s.warnings, []);
        assert_eq!(s.exchanges.len(), 2);
        assert_eq!(s.exchanges[0].path.as_deref(), Some("/page"));
        let pushed = &s.exchanges[1];
        assert!(pushed.pushed);
        assert_eq!(pushed.path.as_deref(), Some("/style.css"));
        assert_eq!((pushed.status, pushed.response_body), (Some(200), 10));
        assert!(pushed.is_closed());
    }

    #[test]
    fn interleaved_frame_inside_header_block_stops() {
        let mut c = client_start();
        c.extend(frame(FrameType::HEADERS, 0, 1, &[0x82]));
        c.extend(frame(FrameType::PING, 0, 0, &[0; 8]));
        let s = run(&[(C, c, at(9, 0))]);
        assert!(s.stopped);
        assert_eq!(
            s.warnings[0].error,
            Http2Error::Hpack(HpackError::ContinuationMissing { stream: 1 })
        );
    }

    #[test]
    fn even_client_stream_is_noted_and_read_on() {
        let mut p = Peers::new();
        let mut c = client_start();
        c.extend(p.request(2, "GET", "/even", true));
        let s = run(&[(C, c, at(5, 0))]);
        assert!(!s.stopped);
        assert_eq!(
            s.warnings,
            [Warning {
                dir: C,
                packet: 5,
                error: Http2Error::EvenClientStream { stream: 2 }
            }]
        );
        assert_eq!(s.exchanges[0].path.as_deref(), Some("/even"));
    }

    /// A promised stream reset before its response never counted as open, and the
    /// reset does not lower the count of the streams that are.
    #[test]
    fn reset_promise_does_not_skew_concurrency() {
        let mut p = Peers::new();
        let mut c = client_start();
        c.extend(p.request(1, "GET", "/a", true));
        c.extend(p.request(3, "GET", "/b", true));
        let promise = p
            .server
            .encode([(&b":method"[..], &b"GET"[..]), (b":path", b"/p")]);
        let mut pp = 2u32.to_be_bytes().to_vec();
        pp.extend_from_slice(&promise);
        let mut sv = server_start();
        sv.extend(frame(FrameType::PUSH_PROMISE, flags::END_HEADERS, 1, &pp));
        let script = vec![
            (C, c, at(1, 0)),
            (S, sv, at(2, 0)),
            (
                C,
                frame(FrameType::RST_STREAM, 0, 2, &8u32.to_be_bytes()),
                at(3, 0),
            ),
            (C, p.request(5, "GET", "/c", true), at(4, 0)),
        ];
        let s = run(&script);
        assert_eq!(s.streams_opened, 4);
        // 1, 3 and 5 all await responses: three open at once; the promise never opened.
        assert_eq!(s.max_concurrent, 3);
        assert_eq!(s.exchanges[1].reset.map(|r| r.by), Some(C));
    }

    proptest::proptest! {
        /// Arbitrary bytes either way, after a valid start or not, never panic, and
        /// whatever stops the parse is reported once as the last warning.
        #[test]
        fn arbitrary_bytes_never_panic(
            chunks in proptest::collection::vec(
                (proptest::bool::ANY, proptest::collection::vec(proptest::num::u8::ANY, 0..64)),
                0..24,
            ),
            start in proptest::bool::ANY,
        ) {
            let mut conv = Conversation::default();
            if start {
                conv.on_chunk(C, Chunk::Data(&client_start()), at(0, 0));
                conv.on_chunk(S, Chunk::Data(&server_start()), at(0, 0));
            }
            for (i, (client, bytes)) in chunks.iter().enumerate() {
                let dir = if *client { C } else { S };
                conv.on_chunk(dir, Chunk::Data(bytes), at(i as u64 + 1, 0));
            }
            let s = conv.finish();
            proptest::prop_assert!(!s.stopped || !s.warnings.is_empty());
        }

        /// The scripted conversation with one byte changed never panics either.
        #[test]
        fn mutated_conversation_never_panics(pick in proptest::num::usize::ANY, byte in proptest::num::u8::ANY) {
            let mut script = scripted();
            let total: usize = script.iter().map(|(_, b, _)| b.len()).sum();
            let mut at_byte = pick % total;
            for (_, bytes, _) in &mut script {
                if at_byte < bytes.len() {
                    bytes[at_byte] = byte;
                    break;
                }
                at_byte -= bytes.len();
            }
            let s = run(&script);
            // Every stream opened is an exchange (none dropped at this size).
            proptest::prop_assert_eq!(s.streams_opened, s.exchanges.len() as u64);
        }
    }
}
