//! One direction's HTTP/2 frame cutter: [`FrameReader`] takes the byte stream as TCP
//! reassembly hands it over, in pieces of any size, and yields checked frames
//! (`super::frame`). Only payloads that must be read whole are buffered, each bounded;
//! DATA payloads are counted and skipped.

use super::frame::{
    data_frame, flags, parse_payload, Frame, FrameError, FrameHeader, FrameType,
    DEFAULT_MAX_FRAME_SIZE, HEADER_LEN, MAX_BUFFERED_PAYLOAD, MAX_MAX_FRAME_SIZE, PREFACE,
};

/// Buffer capacity kept between frames; a larger one is freed after use.
const KEPT_CAPACITY: usize = 64 * 1024;

/// Where the reader is in the byte stream.
#[derive(Clone, Copy, Debug)]
enum State {
    /// Client side only: this many preface bytes matched so far.
    Preface { matched: usize },
    /// This many header bytes are in `head`.
    Header { have: usize },
    /// Buffering a non-DATA payload into `buf`.
    Payload { header: FrameHeader },
    /// A PADDED DATA frame: waiting for its pad length octet.
    DataPad { header: FrameHeader },
    /// Counting past a DATA payload or an unknown frame.
    Skip {
        header: FrameHeader,
        remaining: u32,
        pad_len: Option<u8>,
    },
    /// A framing error was returned; nothing more is read.
    Failed,
}

/// What `advance` found, without borrowing (so `next` can borrow afterwards).
enum Step {
    NeedMore,
    /// The whole payload lies in the input at this range.
    FromInput(FrameHeader, usize, usize),
    /// The whole payload is in `buf`.
    FromBuf(FrameHeader),
    Data(FrameHeader, Option<u8>),
    Unknown(FrameHeader),
}

/// One direction's frame cutter.
#[derive(Debug)]
pub struct FrameReader {
    state: State,
    head: [u8; HEADER_LEN],
    buf: Vec<u8>,
    /// The receiver's SETTINGS_MAX_FRAME_SIZE, as far as seen.
    max_frame_size: u32,
    /// Bytes consumed so far (for messages and tests).
    offset: u64,
}

impl FrameReader {
    /// The client → server direction: the preface comes first.
    pub fn client() -> Self {
        Self::with_state(State::Preface { matched: 0 })
    }

    /// The server → client direction: frames from the first byte (its preface is a
    /// SETTINGS frame, §3.4).
    pub fn server() -> Self {
        Self::with_state(State::Header { have: 0 })
    }

    fn with_state(state: State) -> Self {
        FrameReader {
            state,
            head: [0; HEADER_LEN],
            buf: Vec::new(),
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            offset: 0,
        }
    }

    /// The receiving side advertised SETTINGS_MAX_FRAME_SIZE (already range-checked).
    pub fn set_max_frame_size(&mut self, max: u32) {
        self.max_frame_size = max.clamp(DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE);
    }

    /// Bytes of the stream consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads from `input` until one frame completes or the input runs out. Returns the
    /// bytes consumed and the frame, if one completed; call again with the rest.
    pub fn next<'s>(
        &'s mut self,
        input: &'s [u8],
    ) -> Result<(usize, Option<Frame<'s>>), FrameError> {
        let (used, step) = match self.advance(input) {
            Ok(done) => done,
            Err(e) => {
                self.state = State::Failed;
                return Err(e);
            }
        };
        self.offset += used as u64;
        let frame = match step {
            Step::NeedMore => return Ok((used, None)),
            Step::FromInput(header, start, end) => {
                parse_payload(&header, input.get(start..end).unwrap_or_default())
            }
            Step::FromBuf(header) => parse_payload(&header, &self.buf),
            Step::Data(header, pad) => data_frame(&header, pad),
            Step::Unknown(header) => Ok(Frame::Unknown { header }),
        };
        match frame {
            Ok(frame) => Ok((used, Some(frame))),
            Err(e) => {
                self.state = State::Failed;
                Err(e)
            }
        }
    }

    fn advance(&mut self, input: &[u8]) -> Result<(usize, Step), FrameError> {
        let mut pos = 0;
        loop {
            let rest = input.get(pos..).unwrap_or_default();
            match self.state {
                // After a connection error nothing is framing any more (§5.4.1).
                State::Failed => return Ok((input.len(), Step::NeedMore)),
                // §3.4: the client's first 24 bytes are the preface, exactly.
                State::Preface { matched } => {
                    let want = PREFACE.get(matched..).unwrap_or_default();
                    let n = want.len().min(rest.len());
                    if let Some(i) = (0..n).find(|&i| want.get(i) != rest.get(i)) {
                        return Err(FrameError::BadPreface { at: matched + i });
                    }
                    pos += n;
                    self.state = if matched + n == PREFACE.len() {
                        State::Header { have: 0 }
                    } else {
                        State::Preface {
                            matched: matched + n,
                        }
                    };
                }
                // §4.1: every frame starts with the same 9-byte header.
                State::Header { have } => {
                    let n = (HEADER_LEN - have).min(rest.len());
                    if let (Some(dst), Some(src)) =
                        (self.head.get_mut(have..have + n), rest.get(..n))
                    {
                        dst.copy_from_slice(src);
                    }
                    pos += n;
                    if have + n < HEADER_LEN {
                        self.state = State::Header { have: have + n };
                        return Ok((pos, Step::NeedMore));
                    }
                    let header = FrameHeader::parse(&self.head);
                    self.state = self.on_header(header)?;
                    if let State::Payload { .. } = self.state {
                        // Zero-copy when the whole payload is already here.
                        let len = header.length as usize;
                        if input.len().saturating_sub(pos) >= len {
                            self.state = State::Header { have: 0 };
                            return Ok((pos + len, Step::FromInput(header, pos, pos + len)));
                        }
                        // Give back what one large frame made the buffer grow to.
                        if self.buf.capacity() > KEPT_CAPACITY {
                            self.buf = Vec::new();
                        }
                        self.buf.clear();
                    }
                    if let State::Skip {
                        header,
                        remaining: 0,
                        pad_len,
                    } = self.state
                    {
                        self.state = State::Header { have: 0 };
                        return Ok((pos, finished_skip(header, pad_len)));
                    }
                }
                // §4.2: a payload is read whole before it is interpreted.
                State::Payload { header } => {
                    let want = (header.length as usize).saturating_sub(self.buf.len());
                    let n = want.min(rest.len());
                    self.buf
                        .extend_from_slice(rest.get(..n).unwrap_or_default());
                    pos += n;
                    if n < want {
                        return Ok((pos, Step::NeedMore));
                    }
                    self.state = State::Header { have: 0 };
                    return Ok((pos, Step::FromBuf(header)));
                }
                // §6.1: a PADDED DATA frame's first octet is the pad length.
                State::DataPad { header } => {
                    let Some(&pad) = rest.first() else {
                        return Ok((pos, Step::NeedMore));
                    };
                    pos += 1;
                    // Check the padding now, before skipping a body it cannot fit.
                    data_frame(&header, Some(pad))?;
                    let remaining = header.length.saturating_sub(1);
                    if remaining == 0 {
                        self.state = State::Header { have: 0 };
                        return Ok((pos, Step::Data(header, Some(pad))));
                    }
                    self.state = State::Skip {
                        header,
                        remaining,
                        pad_len: Some(pad),
                    };
                }
                // §6.1 DATA bodies are counted only; §4.1 unknown types are ignored.
                State::Skip {
                    header,
                    remaining,
                    pad_len,
                } => {
                    let n = (remaining as usize).min(rest.len());
                    pos += n;
                    let remaining = remaining - n as u32;
                    if remaining > 0 {
                        self.state = State::Skip {
                            header,
                            remaining,
                            pad_len,
                        };
                        return Ok((pos, Step::NeedMore));
                    }
                    self.state = State::Header { have: 0 };
                    return Ok((pos, finished_skip(header, pad_len)));
                }
            }
            if pos >= input.len() {
                return Ok((pos, Step::NeedMore));
            }
        }
    }

    /// The state after a complete frame header.
    fn on_header(&self, header: FrameHeader) -> Result<State, FrameError> {
        if header.length > self.max_frame_size {
            return Err(FrameError::TooLarge {
                kind: header.kind,
                length: header.length,
                max: self.max_frame_size,
            });
        }
        Ok(match header.kind {
            FrameType::DATA if header.has(flags::PADDED) && header.length > 0 => {
                State::DataPad { header }
            }
            FrameType::DATA => {
                // Checked now (stream 0, an empty PADDED frame) rather than after
                // the body has been skipped.
                data_frame(&header, None)?;
                State::Skip {
                    header,
                    remaining: header.length,
                    pad_len: None,
                }
            }
            kind if kind.name().is_some() => {
                if header.length > MAX_BUFFERED_PAYLOAD {
                    return Err(FrameError::TooLargeToBuffer {
                        kind,
                        length: header.length,
                    });
                }
                State::Payload { header }
            }
            _ => State::Skip {
                header,
                remaining: header.length,
                pad_len: None,
            },
        })
    }
}

fn finished_skip(header: FrameHeader, pad_len: Option<u8>) -> Step {
    if header.kind == FrameType::DATA {
        Step::Data(header, pad_len)
    } else {
        Step::Unknown(header)
    }
}
