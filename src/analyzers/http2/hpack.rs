//! Header blocks (RFC 9113 §4.3, RFC 7541): HEADERS or PUSH_PROMISE fragments and the
//! CONTINUATION frames that finish them are assembled into one block, then decoded by
//! one HPACK decoder per direction, whose dynamic table must see every block in order.
//!
//! The decoding itself is `hpack_decoder`'s (static and dynamic table, Huffman, table
//! size updates); this module adds what an analyzer of captured traffic needs on
//! top: bounded buffering, the SETTINGS_HEADER_TABLE_SIZE limit, keeping only the
//! fields the report uses, and "poisoning": once one block of a direction cannot be
//! decoded, the dynamic table is unknown, so every later block of that direction is
//! unreadable too (RFC 7541 §2.2 — the decoder state is shared by all streams).
//!
//! Not for: stream state (that is `conversation`), or validating header semantics
//! beyond what the report needs (RFC 9113 §8.2 field validity is the peer's concern).

use super::hpack_decoder::{DecodeError, Decoder};
use std::fmt;

/// The largest header block (all fragments together) the analyzer assembles. Real
/// requests and responses stay far below; a larger block poisons the direction.
pub const MAX_HEADER_BLOCK: usize = 256 * 1024;

/// The most dynamic table memory the analyzer grants a peer, whatever
/// SETTINGS_HEADER_TABLE_SIZE says (RFC 7541 §4.2 lets the decoder bound it).
pub const MAX_TABLE_SIZE: usize = 1024 * 1024;

/// SETTINGS_HEADER_TABLE_SIZE's initial value (RFC 9113 §6.5.2).
pub const DEFAULT_TABLE_SIZE: usize = 4096;

/// The longest pseudo-header value kept; the rest is cut (the report shows paths, it
/// does not replay them).
pub const MAX_KEPT_VALUE: usize = 8 * 1024;

/// Why a direction's header blocks could not be read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HpackError {
    /// The HPACK decoder rejected the block (RFC 7541 §3: a COMPRESSION_ERROR).
    Decode(DecodeError),
    /// The fragments added up to more than [`MAX_HEADER_BLOCK`].
    BlockTooLarge { len: usize },
    /// A CONTINUATION came without a block to continue, or for another stream
    /// (RFC 9113 §6.10: PROTOCOL_ERROR).
    UnexpectedContinuation { stream: u32 },
    /// A block was still open when another frame came (RFC 9113 §6.10: "MUST be
    /// followed by a CONTINUATION frame").
    ContinuationMissing { stream: u32 },
}

impl fmt::Display for HpackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HpackError::Decode(e) => write!(f, "HPACK decoding failed: {e}"),
            HpackError::BlockTooLarge { len } => write!(
                f,
                "header block of {len} bytes exceeds the analyzer's {MAX_HEADER_BLOCK}"
            ),
            HpackError::UnexpectedContinuation { stream } => {
                write!(
                    f,
                    "CONTINUATION on stream {stream} without an open header block"
                )
            }
            HpackError::ContinuationMissing { stream } => write!(
                f,
                "header block on stream {stream} not finished by CONTINUATION"
            ),
        }
    }
}

impl std::error::Error for HpackError {}

/// The fields of one decoded header block that the report uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderFields {
    pub method: Option<String>,
    pub scheme: Option<String>,
    pub authority: Option<String>,
    pub path: Option<String>,
    /// `:status`, when it is three digits.
    pub status: Option<u16>,
    /// The `Host` field, which a request may carry instead of `:authority` (RFC 9113
    /// §8.3.1, e.g. one translated from HTTP/1.1).
    pub host: Option<String>,
    /// Regular (non-pseudo) fields in the block.
    pub regular: u32,
    /// The decoded size of the block as RFC 9113 §6.5.2 counts it for
    /// SETTINGS_MAX_HEADER_LIST_SIZE: name + value + 32 per field.
    pub list_size: u64,
}

impl HeaderFields {
    fn add(&mut self, name: &[u8], value: &[u8]) {
        self.list_size += (name.len() + value.len() + 32) as u64;
        let slot = match name {
            b":method" => &mut self.method,
            b":scheme" => &mut self.scheme,
            b":authority" => &mut self.authority,
            b":path" => &mut self.path,
            b":status" => {
                // Three ASCII digits (RFC 9110 §15); `str::parse` would also take
                // "+30" for 30.
                self.status = Some(value)
                    .filter(|v| v.len() == 3 && v.iter().all(u8::is_ascii_digit))
                    .map(|v| v.iter().fold(0, |n, d| n * 10 + u16::from(d - b'0')));
                return;
            }
            b"host" => {
                self.regular += 1;
                &mut self.host
            }
            _ => {
                self.regular += 1;
                return;
            }
        };
        let kept = value.get(..MAX_KEPT_VALUE).unwrap_or(value);
        *slot = Some(String::from_utf8_lossy(kept).into_owned());
    }
}

/// A header block that has started but not ended (END_HEADERS not yet seen).
#[derive(Debug)]
struct Pending {
    stream: u32,
    buf: Vec<u8>,
    /// Past [`MAX_HEADER_BLOCK`]: the fragments are counted, not kept.
    overflow: usize,
}

/// What a finished header block gave.
#[derive(Debug, PartialEq, Eq)]
pub enum BlockOutcome {
    /// The block ended and decoded.
    Decoded(HeaderFields),
    /// The block ended but this direction's headers are unreadable (now or earlier).
    Unreadable,
}

/// One direction's header blocks: assembly and the HPACK decoder.
pub struct HeaderBlocks {
    decoder: Decoder,
    pending: Option<Pending>,
    /// Set by the first block that could not be decoded; later blocks are skipped.
    poisoned: Option<HpackError>,
}

impl fmt::Debug for HeaderBlocks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeaderBlocks")
            .field("pending", &self.pending)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

impl Default for HeaderBlocks {
    fn default() -> Self {
        HeaderBlocks {
            decoder: Decoder::new(DEFAULT_TABLE_SIZE),
            pending: None,
            poisoned: None,
        }
    }
}

impl HeaderBlocks {
    /// The receiver of this direction advertised SETTINGS_HEADER_TABLE_SIZE: the most
    /// its peer's encoder may set the table to (RFC 7541 §4.2). The table itself only
    /// changes when the encoder says so with a size update in a block.
    pub fn set_table_limit(&mut self, size: u32) {
        let size = usize::try_from(size).unwrap_or(MAX_TABLE_SIZE);
        self.decoder.set_limit(size.min(MAX_TABLE_SIZE));
    }

    /// Why this direction's headers are unreadable, if they are.
    pub fn poisoned(&self) -> Option<HpackError> {
        self.poisoned
    }

    /// Whether a block is open, waiting for CONTINUATION on that stream.
    pub fn open_stream(&self) -> Option<u32> {
        self.pending.as_ref().map(|p| p.stream)
    }

    /// A HEADERS or PUSH_PROMISE fragment starts a block. Returns the outcome when
    /// `end_headers` finishes it at once.
    pub fn start(
        &mut self,
        stream: u32,
        fragment: &[u8],
        end_headers: bool,
    ) -> Result<Option<BlockOutcome>, HpackError> {
        if let Some(open) = &self.pending {
            return Err(HpackError::ContinuationMissing {
                stream: open.stream,
            });
        }
        if end_headers {
            // The common case: one frame, decoded straight from the frame payload.
            return Ok(Some(self.decode(fragment)));
        }
        let mut pending = Pending {
            stream,
            buf: Vec::new(),
            overflow: 0,
        };
        append(&mut pending, fragment);
        self.pending = Some(pending);
        Ok(None)
    }

    /// A CONTINUATION fragment. Returns the outcome when `end_headers` finishes the
    /// block.
    pub fn continuation(
        &mut self,
        stream: u32,
        fragment: &[u8],
        end_headers: bool,
    ) -> Result<Option<BlockOutcome>, HpackError> {
        let Some(pending) = self.pending.as_mut().filter(|p| p.stream == stream) else {
            return Err(HpackError::UnexpectedContinuation { stream });
        };
        append(pending, fragment);
        if !end_headers {
            return Ok(None);
        }
        let Some(pending) = self.pending.take() else {
            return Err(HpackError::UnexpectedContinuation { stream });
        };
        if pending.overflow > 0 {
            let len = pending.buf.len() + pending.overflow;
            self.poison(HpackError::BlockTooLarge { len });
            return Ok(Some(BlockOutcome::Unreadable));
        }
        Ok(Some(self.decode(&pending.buf)))
    }

    fn decode(&mut self, block: &[u8]) -> BlockOutcome {
        if self.poisoned.is_some() {
            return BlockOutcome::Unreadable;
        }
        if block.len() > MAX_HEADER_BLOCK {
            self.poison(HpackError::BlockTooLarge { len: block.len() });
            return BlockOutcome::Unreadable;
        }
        let mut fields = HeaderFields::default();
        match self
            .decoder
            .decode(block, |name, value| fields.add(name, value))
        {
            Ok(()) => BlockOutcome::Decoded(fields),
            Err(e) => {
                self.poison(HpackError::Decode(e));
                BlockOutcome::Unreadable
            }
        }
    }

    fn poison(&mut self, why: HpackError) {
        self.poisoned.get_or_insert(why);
    }
}

fn append(pending: &mut Pending, fragment: &[u8]) {
    let room = MAX_HEADER_BLOCK.saturating_sub(pending.buf.len());
    if pending.overflow == 0 && fragment.len() <= room {
        pending.buf.extend_from_slice(fragment);
    } else {
        pending.overflow += fragment.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    fn decoded(outcome: Result<Option<BlockOutcome>, HpackError>) -> HeaderFields {
        match outcome {
            Ok(Some(BlockOutcome::Decoded(fields))) => fields,
            other => panic!("expected a decoded block, got {other:?}"),
        }
    }

    fn request(
        method: &str,
        scheme: &str,
        path: &str,
        authority: &str,
    ) -> (String, String, String, String) {
        (method.into(), scheme.into(), path.into(), authority.into())
    }

    fn pseudo(f: &HeaderFields) -> (String, String, String, String) {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        (s(&f.method), s(&f.scheme), s(&f.path), s(&f.authority))
    }

    /// RFC 7541 C.3 (requests, no Huffman) and C.4 (the same, Huffman): three blocks
    /// through one decoder, the later ones indexing what the earlier ones added.
    #[test]
    fn rfc7541_c3_c4_request_sequences() {
        for blocks in [
            [
                "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                "8286 84be 5808 6e6f 2d63 6163 6865",
                "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
            ],
            [
                "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
                "8286 84be 5886 a8eb 1064 9cbf",
                "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
            ],
        ] {
            let mut blocks_in = HeaderBlocks::default();
            let first = decoded(blocks_in.start(1, &hex(blocks[0]), true));
            assert_eq!(
                pseudo(&first),
                request("GET", "http", "/", "www.example.com")
            );
            assert_eq!((first.regular, first.list_size), (0, 180));
            let second = decoded(blocks_in.start(3, &hex(blocks[1]), true));
            // :authority comes from the dynamic table (index 62, "be").
            assert_eq!(
                pseudo(&second),
                request("GET", "http", "/", "www.example.com")
            );
            // cache-control: no-cache = 13 + 8 + 32.
            assert_eq!((second.regular, second.list_size), (1, 180 + 53));
            let third = decoded(blocks_in.start(5, &hex(blocks[2]), true));
            assert_eq!(
                pseudo(&third),
                request("GET", "https", "/index.html", "www.example.com")
            );
            // GET 42 + https 44 + /index.html 48 + :authority 57, and
            // custom-key: custom-value = 10 + 12 + 32.
            assert_eq!((third.regular, third.list_size), (1, 191 + 54));
            assert_eq!(blocks_in.poisoned(), None);
        }
    }

    /// RFC 7541 C.5 (responses, no Huffman) and C.6 (Huffman) with a 256-byte table:
    /// each response evicts the oldest entries. The examples assume the table is 256
    /// bytes; on HTTP/2 that takes SETTINGS_HEADER_TABLE_SIZE 256 and the encoder's
    /// size update (`3f e1 01`), prepended to the first block here.
    #[test]
    fn rfc7541_c5_c6_response_sequences_evict() {
        for blocks in [
            [
                "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                "4803 3330 37c1 c0bf",
                "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
            ],
            [
                "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
                "4883 640e ffc1 c0bf",
                "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
            ],
        ] {
            let mut dir = HeaderBlocks::default();
            dir.set_table_limit(256);
            let mut first = hex("3fe101");
            first.extend(hex(blocks[0]));
            let r1 = decoded(dir.start(1, &first, true));
            // :status 302 (42) + cache-control (52) + date (65) + location (63).
            assert_eq!((r1.status, r1.regular, r1.list_size), (Some(302), 3, 222));
            let r2 = decoded(dir.start(3, &hex(blocks[1]), true));
            assert_eq!((r2.status, r2.regular, r2.list_size), (Some(307), 3, 222));
            let r3 = decoded(dir.start(5, &hex(blocks[2]), true));
            // + content-encoding: gzip (52) + the 56-byte set-cookie (98).
            assert_eq!((r3.status, r3.regular, r3.list_size), (Some(200), 5, 372));
            // After C.5.3 the table holds three entries (set-cookie, content-encoding,
            // date): index 64 exists, index 65 was evicted. Without eviction (a 4096-byte
            // table) 65 would still be cache-control.
            let newest = decoded(dir.start(7, &[0xbe], true));
            assert_eq!(newest.list_size, 98);
            assert_eq!(decoded(dir.start(9, &[0xc0], true)).list_size, 65);
            assert_eq!(
                dir.start(11, &[0xc1], true),
                Ok(Some(BlockOutcome::Unreadable))
            );
            assert_eq!(
                dir.poisoned(),
                Some(HpackError::Decode(DecodeError::IndexOutOfBounds(65)))
            );
            // Poisoned: even a static-table-only block is no longer trusted.
            assert_eq!(dir.start(13, &[0x88], true), Ok(Some(BlockOutcome::Unreadable)));
        }
    }

    #[test]
    fn size_update_above_settings_limit_is_rejected() {
        let mut dir = HeaderBlocks::default();
        // 4097 > the default SETTINGS_HEADER_TABLE_SIZE of 4096: 3f e2 1f.
        assert_eq!(
            dir.start(1, &hex("3fe21f 82"), true),
            Ok(Some(BlockOutcome::Unreadable))
        );
        assert_eq!(
            dir.poisoned(),
            Some(HpackError::Decode(DecodeError::TableSizeAboveLimit {
                size: 4097,
                limit: 4096
            }))
        );
        let mut raised = HeaderBlocks::default();
        raised.set_table_limit(8192);
        let fields = decoded(raised.start(1, &hex("3fe21f 82"), true));
        assert_eq!(fields.method.as_deref(), Some("GET"));
    }

    #[test]
    fn continuation_assembles_split_block() {
        let block = hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d");
        for cut in 0..=block.len() {
            for cut2 in cut..=block.len() {
                let mut dir = HeaderBlocks::default();
                assert_eq!(dir.start(1, &block[..cut], false), Ok(None));
                assert_eq!(dir.open_stream(), Some(1));
                assert_eq!(dir.continuation(1, &block[cut..cut2], false), Ok(None));
                let f = decoded(dir.continuation(1, &block[cut2..], true));
                assert_eq!(pseudo(&f), request("GET", "http", "/", "www.example.com"));
                assert_eq!(dir.open_stream(), None);
            }
        }
    }

    #[test]
    fn continuation_sequencing_errors() {
        let mut dir = HeaderBlocks::default();
        assert_eq!(
            dir.continuation(1, &[0x82], true),
            Err(HpackError::UnexpectedContinuation { stream: 1 })
        );
        assert_eq!(dir.start(1, &[0x82], false), Ok(None));
        assert_eq!(
            dir.continuation(3, &[0x84], true),
            Err(HpackError::UnexpectedContinuation { stream: 3 })
        );
        assert_eq!(
            dir.start(3, &[0x82], true),
            Err(HpackError::ContinuationMissing { stream: 1 })
        );
    }

    #[test]
    fn oversized_block_poisons_without_buffering_past_cap() {
        let mut dir = HeaderBlocks::default();
        let chunk = vec![0u8; 100 * 1024];
        assert_eq!(dir.start(1, &chunk, false), Ok(None));
        assert_eq!(dir.continuation(1, &chunk, false), Ok(None));
        assert_eq!(dir.continuation(1, &chunk, false), Ok(None));
        assert_eq!(
            dir.continuation(1, &[], true),
            Ok(Some(BlockOutcome::Unreadable))
        );
        assert_eq!(
            dir.poisoned(),
            Some(HpackError::BlockTooLarge { len: 300 * 1024 })
        );
    }

    /// Found by the http2 fuzz target: `:status: +30` read as status 30.
    #[test]
    fn a_status_with_a_plus_sign_is_no_status() {
        let mut fields = HeaderFields::default();
        fields.add(b":status", b"+30");
        assert_eq!(fields.status, None);
        fields.add(b":status", b"404");
        assert_eq!(fields.status, Some(404));
    }

    #[test]
    fn status_must_be_three_digits() {
        let mut dir = HeaderBlocks::default();
        // Literal without indexing, name index 8 (:status), value "2000".
        let f = decoded(dir.start(1, &hex("08 04 32303030"), true));
        assert_eq!(f.status, None);
        let f = decoded(dir.start(3, &hex("08 03 313031"), true));
        assert_eq!(f.status, Some(101));
    }
}
