//! HTTP/2 framing (RFC 9113 §3.4, §4, §6): the client connection preface, the 9-byte
//! frame header, and a checked view of every frame type defined there.
//!
//! [`FrameReader`] cuts one direction's byte stream into frames however TCP reassembly
//! chunks it: a frame may split anywhere. Only the payloads that must be read whole
//! (HEADERS, SETTINGS, GOAWAY, …) are buffered, each bounded; DATA payloads are counted
//! and skipped, never stored (STYLE rule 10). Unknown frame types are skipped (RFC 9113
//! §4.1: "Implementations MUST ignore and discard frames of unknown types").
//!
//! This module knows nothing about streams or header compression: that is
//! `conversation` (stream life, RFC 9113 §5.1) and `hpack` (RFC 7541).

use std::fmt;

pub use super::reader::FrameReader;

/// The client connection preface (RFC 9113 §3.4), sent before the client's SETTINGS.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Length of the frame header (RFC 9113 §4.1).
pub const HEADER_LEN: usize = 9;

/// SETTINGS_MAX_FRAME_SIZE's initial value (RFC 9113 §6.5.2): what a receiver accepts
/// until it advertises more.
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;

/// The largest SETTINGS_MAX_FRAME_SIZE allowed (2^24 − 1, RFC 9113 §6.5.2).
pub const MAX_MAX_FRAME_SIZE: u32 = 16_777_215;

/// The most payload bytes of one non-DATA frame this reader buffers. A peer may allow
/// frames up to 16 MiB, but the only large non-DATA frames are header blocks, which the
/// analyzer caps at this size anyway (`hpack::MAX_HEADER_BLOCK`), and GOAWAY debug data.
pub const MAX_BUFFERED_PAYLOAD: u32 = 256 * 1024;

/// A frame type (RFC 9113 §11.2 registry); unknown values survive as themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FrameType(pub u8);

impl FrameType {
    pub const DATA: FrameType = FrameType(0x0);
    pub const HEADERS: FrameType = FrameType(0x1);
    pub const PRIORITY: FrameType = FrameType(0x2);
    pub const RST_STREAM: FrameType = FrameType(0x3);
    pub const SETTINGS: FrameType = FrameType(0x4);
    pub const PUSH_PROMISE: FrameType = FrameType(0x5);
    pub const PING: FrameType = FrameType(0x6);
    pub const GOAWAY: FrameType = FrameType(0x7);
    pub const WINDOW_UPDATE: FrameType = FrameType(0x8);
    pub const CONTINUATION: FrameType = FrameType(0x9);

    /// The registry name, or `None` for a type RFC 9113 does not define.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            FrameType::DATA => "DATA",
            FrameType::HEADERS => "HEADERS",
            FrameType::PRIORITY => "PRIORITY",
            FrameType::RST_STREAM => "RST_STREAM",
            FrameType::SETTINGS => "SETTINGS",
            FrameType::PUSH_PROMISE => "PUSH_PROMISE",
            FrameType::PING => "PING",
            FrameType::GOAWAY => "GOAWAY",
            FrameType::WINDOW_UPDATE => "WINDOW_UPDATE",
            FrameType::CONTINUATION => "CONTINUATION",
            _ => return None,
        })
    }
}

impl fmt::Display for FrameType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "type 0x{:02x}", self.0),
        }
    }
}

/// Frame flags (RFC 9113 §6); which bits mean what depends on the frame type.
pub mod flags {
    pub const END_STREAM: u8 = 0x1;
    /// SETTINGS and PING use bit 0 as ACK.
    pub const ACK: u8 = 0x1;
    pub const END_HEADERS: u8 = 0x4;
    pub const PADDED: u8 = 0x8;
    pub const PRIORITY: u8 = 0x20;
}

/// An HTTP/2 error code (RFC 9113 §7); unknown codes survive ("MUST NOT trigger any
/// special behavior").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    pub const NO_ERROR: ErrorCode = ErrorCode(0x0);
    pub const PROTOCOL_ERROR: ErrorCode = ErrorCode(0x1);
    pub const INTERNAL_ERROR: ErrorCode = ErrorCode(0x2);
    pub const FLOW_CONTROL_ERROR: ErrorCode = ErrorCode(0x3);
    pub const SETTINGS_TIMEOUT: ErrorCode = ErrorCode(0x4);
    pub const STREAM_CLOSED: ErrorCode = ErrorCode(0x5);
    pub const FRAME_SIZE_ERROR: ErrorCode = ErrorCode(0x6);
    pub const REFUSED_STREAM: ErrorCode = ErrorCode(0x7);
    pub const CANCEL: ErrorCode = ErrorCode(0x8);
    pub const COMPRESSION_ERROR: ErrorCode = ErrorCode(0x9);
    pub const CONNECT_ERROR: ErrorCode = ErrorCode(0xa);
    pub const ENHANCE_YOUR_CALM: ErrorCode = ErrorCode(0xb);
    pub const INADEQUATE_SECURITY: ErrorCode = ErrorCode(0xc);
    pub const HTTP_1_1_REQUIRED: ErrorCode = ErrorCode(0xd);

    /// The registry name, or `None` for a code RFC 9113 does not define.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0 => "NO_ERROR",
            0x1 => "PROTOCOL_ERROR",
            0x2 => "INTERNAL_ERROR",
            0x3 => "FLOW_CONTROL_ERROR",
            0x4 => "SETTINGS_TIMEOUT",
            0x5 => "STREAM_CLOSED",
            0x6 => "FRAME_SIZE_ERROR",
            0x7 => "REFUSED_STREAM",
            0x8 => "CANCEL",
            0x9 => "COMPRESSION_ERROR",
            0xa => "CONNECT_ERROR",
            0xb => "ENHANCE_YOUR_CALM",
            0xc => "INADEQUATE_SECURITY",
            0xd => "HTTP_1_1_REQUIRED",
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "0x{:x}", self.0),
        }
    }
}

/// A SETTINGS parameter identifier (RFC 9113 §6.5.2, §11.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SettingId(pub u16);

impl SettingId {
    pub const HEADER_TABLE_SIZE: SettingId = SettingId(0x1);
    pub const ENABLE_PUSH: SettingId = SettingId(0x2);
    pub const MAX_CONCURRENT_STREAMS: SettingId = SettingId(0x3);
    pub const INITIAL_WINDOW_SIZE: SettingId = SettingId(0x4);
    pub const MAX_FRAME_SIZE: SettingId = SettingId(0x5);
    pub const MAX_HEADER_LIST_SIZE: SettingId = SettingId(0x6);
}

/// The 9-byte frame header (RFC 9113 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length (24 bits).
    pub length: u32,
    pub kind: FrameType,
    pub flags: u8,
    /// Stream identifier with the reserved bit cleared ("MUST be ignored when
    /// receiving").
    pub stream: u32,
}

impl FrameHeader {
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> FrameHeader {
        let [l0, l1, l2, kind, flags, s0, s1, s2, s3] = *bytes;
        FrameHeader {
            length: u32::from_be_bytes([0, l0, l1, l2]),
            kind: FrameType(kind),
            flags,
            stream: u32::from_be_bytes([s0 & 0x7f, s1, s2, s3]),
        }
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// HEADERS' and PRIORITY's (deprecated, RFC 9113 §5.3.2) priority fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Priority {
    pub exclusive: bool,
    pub depends_on: u32,
    /// The wire value; the weight is this plus one.
    pub weight: u8,
}

/// A SETTINGS payload: 6-byte (identifier, value) pairs, checked to be whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettingsList<'a>(&'a [u8]);

impl<'a> SettingsList<'a> {
    pub fn iter(&self) -> impl Iterator<Item = (SettingId, u32)> + 'a {
        self.0.chunks_exact(6).map(|c| match *c {
            [i0, i1, v0, v1, v2, v3] => (
                SettingId(u16::from_be_bytes([i0, i1])),
                u32::from_be_bytes([v0, v1, v2, v3]),
            ),
            // chunks_exact yields only 6-byte chunks.
            _ => (SettingId(0), 0),
        })
    }
}

/// One frame, checked (smoltcp's "Repr": plain values, borrowing the payload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// DATA (§6.1): only lengths; the payload itself is never kept.
    Data {
        stream: u32,
        end_stream: bool,
        /// Application bytes: the payload less the pad length octet and the padding.
        data_len: u32,
        /// Flow-controlled bytes: the whole payload (§6.9.1 counts padding too).
        payload_len: u32,
    },
    Headers {
        stream: u32,
        end_stream: bool,
        end_headers: bool,
        priority: Option<Priority>,
        fragment: &'a [u8],
    },
    Priority {
        stream: u32,
        priority: Priority,
    },
    RstStream {
        stream: u32,
        error: ErrorCode,
    },
    Settings {
        ack: bool,
        settings: SettingsList<'a>,
    },
    PushPromise {
        stream: u32,
        promised: u32,
        end_headers: bool,
        fragment: &'a [u8],
    },
    Ping {
        ack: bool,
        data: [u8; 8],
    },
    GoAway {
        last_stream: u32,
        error: ErrorCode,
        debug: &'a [u8],
    },
    WindowUpdate {
        stream: u32,
        increment: u32,
    },
    Continuation {
        stream: u32,
        end_headers: bool,
        fragment: &'a [u8],
    },
    /// A type RFC 9113 does not define, skipped unread.
    Unknown {
        header: FrameHeader,
    },
}

impl Frame<'_> {
    pub fn kind(&self) -> FrameType {
        match self {
            Frame::Data { .. } => FrameType::DATA,
            Frame::Headers { .. } => FrameType::HEADERS,
            Frame::Priority { .. } => FrameType::PRIORITY,
            Frame::RstStream { .. } => FrameType::RST_STREAM,
            Frame::Settings { .. } => FrameType::SETTINGS,
            Frame::PushPromise { .. } => FrameType::PUSH_PROMISE,
            Frame::Ping { .. } => FrameType::PING,
            Frame::GoAway { .. } => FrameType::GOAWAY,
            Frame::WindowUpdate { .. } => FrameType::WINDOW_UPDATE,
            Frame::Continuation { .. } => FrameType::CONTINUATION,
            Frame::Unknown { header } => header.kind,
        }
    }
}

/// Why a byte stream stopped being HTTP/2 framing. Each is a connection error for the
/// receiver (RFC 9113 §5.4.1), so the analyzer stops reading the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The client's first 24 bytes are not the preface (§3.4); `at` is the first
    /// byte that differs.
    BadPreface { at: usize },
    /// A frame that belongs to a stream came with stream 0 (§6: PROTOCOL_ERROR).
    NeedsStream { kind: FrameType },
    /// A connection-level frame came with a stream identifier (§6: PROTOCOL_ERROR).
    NeedsNoStream { kind: FrameType, stream: u32 },
    /// A payload length the type does not allow (§6: FRAME_SIZE_ERROR).
    BadLength { kind: FrameType, length: u32 },
    /// Padding at least as long as the payload (§6.1, §6.2: PROTOCOL_ERROR).
    PaddingTooLong {
        kind: FrameType,
        pad_len: u8,
        length: u32,
    },
    /// Longer than the receiver's SETTINGS_MAX_FRAME_SIZE (§4.2: FRAME_SIZE_ERROR).
    TooLarge {
        kind: FrameType,
        length: u32,
        max: u32,
    },
    /// Legal, but longer than this analyzer buffers ([`MAX_BUFFERED_PAYLOAD`]).
    TooLargeToBuffer { kind: FrameType, length: u32 },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FrameError::BadPreface { at } => {
                write!(f, "not the HTTP/2 client preface (differs at byte {at})")
            }
            FrameError::NeedsStream { kind } => write!(f, "{kind} frame on stream 0"),
            FrameError::NeedsNoStream { kind, stream } => {
                write!(f, "{kind} frame on stream {stream}, must be stream 0")
            }
            FrameError::BadLength { kind, length } => {
                write!(f, "{kind} frame with invalid length {length}")
            }
            FrameError::PaddingTooLong {
                kind,
                pad_len,
                length,
            } => write!(
                f,
                "{kind} frame padding {pad_len} does not fit its {length}-byte payload"
            ),
            FrameError::TooLarge { kind, length, max } => write!(
                f,
                "{kind} frame of {length} bytes exceeds SETTINGS_MAX_FRAME_SIZE {max}"
            ),
            FrameError::TooLargeToBuffer { kind, length } => write!(
                f,
                "{kind} frame of {length} bytes is larger than the analyzer buffers ({MAX_BUFFERED_PAYLOAD})"
            ),
        }
    }
}

impl std::error::Error for FrameError {}

fn need_stream(header: &FrameHeader) -> Result<u32, FrameError> {
    match header.stream {
        0 => Err(FrameError::NeedsStream { kind: header.kind }),
        s => Ok(s),
    }
}

fn need_no_stream(header: &FrameHeader) -> Result<(), FrameError> {
    match header.stream {
        0 => Ok(()),
        stream => Err(FrameError::NeedsNoStream {
            kind: header.kind,
            stream,
        }),
    }
}

fn bad_length(header: &FrameHeader) -> FrameError {
    FrameError::BadLength {
        kind: header.kind,
        length: header.length,
    }
}

fn be_u32(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?))
}

/// Strips the pad length octet and the padding of a PADDED frame (§6.1, §6.2, §6.6).
fn unpad<'a>(header: &FrameHeader, payload: &'a [u8]) -> Result<&'a [u8], FrameError> {
    if !header.has(flags::PADDED) {
        return Ok(payload);
    }
    let Some((&pad_len, rest)) = payload.split_first() else {
        return Err(bad_length(header));
    };
    // "If the length of the padding is the length of the frame payload or greater,
    // the recipient MUST treat this as a connection error of type PROTOCOL_ERROR."
    let keep = rest.len().checked_sub(usize::from(pad_len));
    match keep.and_then(|keep| rest.get(..keep)) {
        Some(body) => Ok(body),
        None => Err(FrameError::PaddingTooLong {
            kind: header.kind,
            pad_len,
            length: header.length,
        }),
    }
}

/// DATA from its header and, when PADDED, its first payload byte: all the reader
/// needs, since the body itself is skipped.
pub fn data_frame(header: &FrameHeader, pad_len: Option<u8>) -> Result<Frame<'static>, FrameError> {
    let stream = need_stream(header)?;
    let data_len = if header.has(flags::PADDED) {
        let Some(pad_len) = pad_len else {
            return Err(bad_length(header));
        };
        // The pad length octet plus the padding must leave room (§6.1).
        match header.length.checked_sub(1 + u32::from(pad_len)) {
            Some(len) => len,
            None => {
                return Err(FrameError::PaddingTooLong {
                    kind: header.kind,
                    pad_len,
                    length: header.length,
                })
            }
        }
    } else {
        header.length
    };
    Ok(Frame::Data {
        stream,
        end_stream: header.has(flags::END_STREAM),
        data_len,
        payload_len: header.length,
    })
}

fn priority_fields(bytes: &[u8]) -> Option<Priority> {
    let dep = be_u32(bytes)?;
    Some(Priority {
        exclusive: dep & 0x8000_0000 != 0,
        depends_on: dep & 0x7fff_ffff,
        weight: *bytes.get(4)?,
    })
}

/// Checks a whole frame payload against its header (RFC 9113 §6). `payload` must be
/// exactly `header.length` bytes.
pub fn parse_payload<'a>(header: &FrameHeader, payload: &'a [u8]) -> Result<Frame<'a>, FrameError> {
    if usize::try_from(header.length).ok() != Some(payload.len()) {
        return Err(bad_length(header));
    }
    match header.kind {
        FrameType::DATA => data_frame(header, payload.first().copied()),
        FrameType::HEADERS => {
            let stream = need_stream(header)?;
            let body = unpad(header, payload)?;
            let (priority, fragment) = if header.has(flags::PRIORITY) {
                let priority = priority_fields(body).ok_or_else(|| bad_length(header))?;
                (Some(priority), body.get(5..).unwrap_or_default())
            } else {
                (None, body)
            };
            Ok(Frame::Headers {
                stream,
                end_stream: header.has(flags::END_STREAM),
                end_headers: header.has(flags::END_HEADERS),
                priority,
                fragment,
            })
        }
        FrameType::PRIORITY => {
            let stream = need_stream(header)?;
            match (payload.len(), priority_fields(payload)) {
                (5, Some(priority)) => Ok(Frame::Priority { stream, priority }),
                _ => Err(bad_length(header)),
            }
        }
        FrameType::RST_STREAM => {
            let stream = need_stream(header)?;
            match (payload.len(), be_u32(payload)) {
                (4, Some(code)) => Ok(Frame::RstStream {
                    stream,
                    error: ErrorCode(code),
                }),
                _ => Err(bad_length(header)),
            }
        }
        FrameType::SETTINGS => {
            need_no_stream(header)?;
            let ack = header.has(flags::ACK);
            // An ACK carries nothing; otherwise whole 6-byte parameters (§6.5).
            if (ack && !payload.is_empty()) || payload.len() % 6 != 0 {
                return Err(bad_length(header));
            }
            Ok(Frame::Settings {
                ack,
                settings: SettingsList(payload),
            })
        }
        FrameType::PUSH_PROMISE => {
            let stream = need_stream(header)?;
            let body = unpad(header, payload)?;
            let promised = be_u32(body).ok_or_else(|| bad_length(header))? & 0x7fff_ffff;
            Ok(Frame::PushPromise {
                stream,
                promised,
                end_headers: header.has(flags::END_HEADERS),
                fragment: body.get(4..).unwrap_or_default(),
            })
        }
        FrameType::PING => {
            need_no_stream(header)?;
            let data: [u8; 8] = payload.try_into().map_err(|_| bad_length(header))?;
            Ok(Frame::Ping {
                ack: header.has(flags::ACK),
                data,
            })
        }
        FrameType::GOAWAY => {
            need_no_stream(header)?;
            match (be_u32(payload), payload.get(4..8).and_then(be_u32)) {
                (Some(last), Some(code)) => Ok(Frame::GoAway {
                    last_stream: last & 0x7fff_ffff,
                    error: ErrorCode(code),
                    debug: payload.get(8..).unwrap_or_default(),
                }),
                _ => Err(bad_length(header)),
            }
        }
        FrameType::WINDOW_UPDATE => match (payload.len(), be_u32(payload)) {
            // A zero increment is a (stream) PROTOCOL_ERROR for the receiver, which
            // answers with RST_STREAM and goes on: the analyzer keeps the value and
            // goes on too rather than stopping the connection over it.
            (4, Some(inc)) => Ok(Frame::WindowUpdate {
                stream: header.stream,
                increment: inc & 0x7fff_ffff,
            }),
            _ => Err(bad_length(header)),
        },
        FrameType::CONTINUATION => Ok(Frame::Continuation {
            stream: need_stream(header)?,
            end_headers: header.has(flags::END_HEADERS),
            fragment: payload,
        }),
        _ => Ok(Frame::Unknown { header: *header }),
    }
}

/// A tiny frame encoder for tests (RFC 9113 §4.1 layout); the analyzer never writes.
#[cfg(test)]
pub(crate) mod encode {
    use super::*;

    pub fn frame(kind: FrameType, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut out = len.to_be_bytes()[1..].to_vec();
        out.push(kind.0);
        out.push(flags);
        out.extend_from_slice(&stream.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    pub fn settings(params: &[(SettingId, u32)]) -> Vec<u8> {
        let mut payload = Vec::new();
        for (id, value) in params {
            payload.extend_from_slice(&id.0.to_be_bytes());
            payload.extend_from_slice(&value.to_be_bytes());
        }
        frame(FrameType::SETTINGS, 0, 0, &payload)
    }

    pub fn padded(pad: u8, body: &[u8]) -> Vec<u8> {
        let mut payload = vec![pad];
        payload.extend_from_slice(body);
        payload.extend(std::iter::repeat_n(0, usize::from(pad)));
        payload
    }
}

#[cfg(test)]
mod tests {
    use super::encode::*;
    use super::*;
    use proptest::prelude::*;

    /// An owned copy of what a frame said, to compare across buffer splits.
    fn describe(frame: &Frame<'_>) -> String {
        format!("{frame:?}")
    }

    /// Feeds `bytes` in the given pieces; returns each frame's description, or the error.
    fn read_all(mut reader: FrameReader, pieces: &[&[u8]]) -> Result<Vec<String>, FrameError> {
        let mut out = Vec::new();
        for piece in pieces {
            let mut rest: &[u8] = piece;
            loop {
                let (used, frame) = reader.next(rest)?;
                if let Some(frame) = frame {
                    out.push(describe(&frame));
                }
                rest = &rest[used..];
                if rest.is_empty() {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// One frame of every type RFC 9113 defines, plus an unknown one, as a client
    /// would send them (after the preface).
    fn every_frame_type() -> Vec<u8> {
        let mut b = PREFACE.to_vec();
        b.extend(settings(&[
            (SettingId::MAX_CONCURRENT_STREAMS, 100),
            (SettingId::INITIAL_WINDOW_SIZE, 1 << 20),
        ]));
        b.extend(frame(FrameType::SETTINGS, flags::ACK, 0, &[]));
        // HEADERS, padded and with priority, not ending the block.
        let mut hp = vec![0x80, 0, 0, 3, 15];
        hp.extend_from_slice(&[0x82, 0x86]);
        b.extend(frame(
            FrameType::HEADERS,
            flags::PADDED | flags::PRIORITY,
            1,
            &padded(2, &hp),
        ));
        b.extend(frame(
            FrameType::CONTINUATION,
            flags::END_HEADERS,
            1,
            &[0x84],
        ));
        b.extend(frame(
            FrameType::DATA,
            flags::PADDED | flags::END_STREAM,
            1,
            &padded(3, b"hello"),
        ));
        b.extend(frame(FrameType::DATA, 0, 1, b"plain"));
        b.extend(frame(FrameType::PRIORITY, 0, 3, &[0, 0, 0, 1, 200]));
        b.extend(frame(FrameType::RST_STREAM, 0, 1, &8u32.to_be_bytes()));
        b.extend(frame(
            FrameType::PUSH_PROMISE,
            flags::END_HEADERS,
            1,
            &[0, 0, 0, 2, 0x82],
        ));
        b.extend(frame(FrameType::PING, 0, 0, b"12345678"));
        b.extend(frame(FrameType::PING, flags::ACK, 0, b"12345678"));
        let mut goaway = 7u32.to_be_bytes().to_vec();
        goaway.extend_from_slice(&0xbu32.to_be_bytes());
        goaway.extend_from_slice(b"calm");
        b.extend(frame(FrameType::GOAWAY, 0, 0, &goaway));
        b.extend(frame(
            FrameType::WINDOW_UPDATE,
            0,
            0,
            &65_535u32.to_be_bytes(),
        ));
        b.extend(frame(FrameType(0xfa), 0xff, 9, b"ignore me"));
        b.extend(frame(FrameType::DATA, 0, 1, b""));
        b
    }

    #[test]
    fn test_parse_every_frame_type() {
        let bytes = every_frame_type();
        let mut reader = FrameReader::client();
        let mut frames = Vec::new();
        let mut rest: &[u8] = &bytes;
        while !rest.is_empty() {
            let (used, frame) = reader.next(rest).expect("valid");
            if let Some(f) = frame {
                frames.push(match f {
                    // Borrowed slices compared by content below.
                    Frame::Headers { fragment, .. } => (f.kind(), describe(&f), fragment.to_vec()),
                    _ => (f.kind(), describe(&f), Vec::new()),
                });
            }
            rest = &rest[used..];
        }
        let kinds: Vec<_> = frames.iter().map(|f| f.0).collect();
        assert_eq!(
            kinds,
            [
                FrameType::SETTINGS,
                FrameType::SETTINGS,
                FrameType::HEADERS,
                FrameType::CONTINUATION,
                FrameType::DATA,
                FrameType::DATA,
                FrameType::PRIORITY,
                FrameType::RST_STREAM,
                FrameType::PUSH_PROMISE,
                FrameType::PING,
                FrameType::PING,
                FrameType::GOAWAY,
                FrameType::WINDOW_UPDATE,
                FrameType(0xfa),
                FrameType::DATA,
            ]
        );
        assert_eq!(reader.offset(), bytes.len() as u64);
        // HEADERS: padding and the priority fields stripped from the fragment.
        assert_eq!(frames[2].2, [0x82, 0x86]);
        assert!(frames[2]
            .1
            .contains("priority: Some(Priority { exclusive: true, depends_on: 3, weight: 15 })"));
        assert!(frames[2].1.contains("end_headers: false"));
        // DATA: 5 application bytes of a 1 + 5 + 3 payload.
        assert!(frames[4]
            .1
            .contains("end_stream: true, data_len: 5, payload_len: 9"));
        assert!(frames[5].1.contains("data_len: 5, payload_len: 5"));
        assert!(frames[7].1.contains("error: ErrorCode(8)"));
        assert!(frames[8].1.contains("promised: 2"));
        assert!(frames[10].1.contains("ack: true"));
        assert!(frames[11]
            .1
            .contains("last_stream: 7, error: ErrorCode(11), debug: [99, 97, 108, 109]"));
        assert!(frames[12].1.contains("increment: 65535"));
        assert!(frames[14].1.contains("data_len: 0"));
    }

    #[test]
    fn settings_values_and_error_names() {
        let bytes = settings(&[(SettingId::MAX_FRAME_SIZE, 1 << 20), (SettingId(0x99), 1)]);
        let header = FrameHeader::parse(bytes[..9].try_into().expect("9"));
        let Ok(Frame::Settings {
            ack: false,
            settings,
        }) = parse_payload(&header, &bytes[9..])
        else {
            panic!("settings");
        };
        assert_eq!(
            settings.iter().collect::<Vec<_>>(),
            [(SettingId::MAX_FRAME_SIZE, 1 << 20), (SettingId(0x99), 1)]
        );
        assert_eq!(ErrorCode(0xb).to_string(), "ENHANCE_YOUR_CALM");
        assert_eq!(ErrorCode(0x1234).to_string(), "0x1234");
        assert_eq!(FrameType(0xfa).to_string(), "type 0xfa");
    }

    proptest! {
        /// Frames split anywhere — every byte boundary, in any number of pieces — read
        /// the same as the stream in one piece.
        #[test]
        fn splits_anywhere(cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12)) {
            let bytes = every_frame_type();
            let whole = read_all(FrameReader::client(), &[&bytes]).expect("valid");
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
            points.sort_unstable();
            let mut pieces = Vec::new();
            let mut start = 0;
            for p in points {
                pieces.push(&bytes[start..p]);
                start = p;
            }
            pieces.push(&bytes[start..]);
            prop_assert_eq!(read_all(FrameReader::client(), &pieces).expect("valid"), whole);
        }
    }

    #[test]
    fn split_at_every_single_boundary() {
        let bytes = every_frame_type();
        let whole = read_all(FrameReader::client(), &[&bytes]).expect("valid");
        assert_eq!(whole.len(), 15);
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(
                read_all(FrameReader::client(), &[a, b]).expect("valid"),
                whole,
                "cut at {cut}"
            );
        }
        // And one byte at a time.
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(
            read_all(FrameReader::client(), &singles).expect("valid"),
            whole
        );
    }

    fn first_error(reader: FrameReader, bytes: &[u8]) -> FrameError {
        read_all(reader, &[bytes]).expect_err("an error")
    }

    #[test]
    fn test_malformed_frames() {
        let on = |kind, flags, stream, payload: &[u8]| {
            first_error(FrameReader::server(), &frame(kind, flags, stream, payload))
        };
        assert_eq!(
            first_error(FrameReader::client(), b"GET / HTTP/1.1\r\n"),
            FrameError::BadPreface { at: 0 }
        );
        assert_eq!(
            first_error(FrameReader::client(), b"PRI * HTTP/2.0\r\n\r\nXX"),
            FrameError::BadPreface { at: 18 }
        );
        assert_eq!(
            on(FrameType::DATA, 0, 0, b"x"),
            FrameError::NeedsStream {
                kind: FrameType::DATA
            }
        );
        assert_eq!(
            on(FrameType::DATA, flags::PADDED, 1, &[5, 1, 2]),
            FrameError::PaddingTooLong {
                kind: FrameType::DATA,
                pad_len: 5,
                length: 3
            }
        );
        assert_eq!(
            on(FrameType::DATA, flags::PADDED, 1, &[]),
            FrameError::BadLength {
                kind: FrameType::DATA,
                length: 0
            }
        );
        assert_eq!(
            on(FrameType::HEADERS, flags::PADDED, 1, &[1]),
            FrameError::PaddingTooLong {
                kind: FrameType::HEADERS,
                pad_len: 1,
                length: 1
            }
        );
        assert_eq!(
            on(FrameType::HEADERS, flags::PRIORITY, 1, &[0, 0]),
            FrameError::BadLength {
                kind: FrameType::HEADERS,
                length: 2
            }
        );
        assert_eq!(
            on(FrameType::SETTINGS, 0, 1, &[]),
            FrameError::NeedsNoStream {
                kind: FrameType::SETTINGS,
                stream: 1
            }
        );
        assert_eq!(
            on(FrameType::SETTINGS, 0, 0, &[0; 5]),
            FrameError::BadLength {
                kind: FrameType::SETTINGS,
                length: 5
            }
        );
        assert_eq!(
            on(FrameType::SETTINGS, flags::ACK, 0, &[0; 6]),
            FrameError::BadLength {
                kind: FrameType::SETTINGS,
                length: 6
            }
        );
        assert_eq!(
            on(FrameType::PING, 0, 0, &[0; 7]),
            FrameError::BadLength {
                kind: FrameType::PING,
                length: 7
            }
        );
        assert_eq!(
            on(FrameType::GOAWAY, 0, 0, &[0; 7]),
            FrameError::BadLength {
                kind: FrameType::GOAWAY,
                length: 7
            }
        );
        assert_eq!(
            on(FrameType::RST_STREAM, 0, 1, &[0; 5]),
            FrameError::BadLength {
                kind: FrameType::RST_STREAM,
                length: 5
            }
        );
        assert_eq!(
            on(FrameType::PRIORITY, 0, 1, &[0; 4]),
            FrameError::BadLength {
                kind: FrameType::PRIORITY,
                length: 4
            }
        );
        assert_eq!(
            on(FrameType::WINDOW_UPDATE, 0, 0, &[0; 3]),
            FrameError::BadLength {
                kind: FrameType::WINDOW_UPDATE,
                length: 3
            }
        );
        assert_eq!(
            on(FrameType::CONTINUATION, 0, 0, &[]),
            FrameError::NeedsStream {
                kind: FrameType::CONTINUATION
            }
        );
        assert_eq!(
            on(FrameType::PUSH_PROMISE, 0, 1, &[0, 0]),
            FrameError::BadLength {
                kind: FrameType::PUSH_PROMISE,
                length: 2
            }
        );
        // Over the default SETTINGS_MAX_FRAME_SIZE: caught from the header alone.
        let mut big = frame(FrameType::DATA, 0, 1, &[]);
        big[..3].copy_from_slice(&[0, 0x40, 0x01]);
        assert_eq!(
            first_error(FrameReader::server(), &big),
            FrameError::TooLarge {
                kind: FrameType::DATA,
                length: 16_385,
                max: 16_384
            }
        );
    }

    #[test]
    fn data_is_counted_not_buffered() {
        // A 1 MiB DATA frame once the receiver allowed 1 MiB frames.
        let mut reader = FrameReader::server();
        reader.set_max_frame_size(1 << 20);
        let body = vec![7u8; 1 << 20];
        let bytes = frame(FrameType::DATA, flags::END_STREAM, 1, &body);
        let frames = read_all(reader, &bytes.chunks(1000).collect::<Vec<_>>()).expect("valid");
        assert_eq!(frames.len(), 1);
        assert!(frames[0].contains("data_len: 1048576"));
        // A HEADERS frame that large is refused rather than buffered.
        let mut reader = FrameReader::server();
        reader.set_max_frame_size(1 << 20);
        let bytes = frame(FrameType::HEADERS, 0, 1, &body);
        assert_eq!(
            read_all(reader, &[&bytes[..20]]).expect_err("too large"),
            FrameError::TooLargeToBuffer {
                kind: FrameType::HEADERS,
                length: 1 << 20
            }
        );
    }

    #[test]
    fn after_an_error_nothing_more_is_read() {
        let mut reader = FrameReader::server();
        let bad = frame(FrameType::PING, 0, 0, &[0; 3]);
        assert!(reader.next(&bad).is_err());
        let ping = frame(FrameType::PING, 0, 0, &[0; 8]);
        assert_eq!(reader.next(&ping), Ok((ping.len(), None)));
    }
}
