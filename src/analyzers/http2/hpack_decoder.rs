//! The HPACK decoder (RFC 7541): integers with an N-bit prefix (§5.1), string literals
//! plain or Huffman-coded (§5.2, the code of Appendix B), the static table (Appendix A),
//! the dynamic table with its evictions and size updates (§4), and the five field
//! representations (§6). One decoder per direction of a connection; it must see every
//! header block of that direction in order.
//!
//! Ours rather than a crate's: `loona-hpack` (and `hpack`, which it forks) rebuilds its
//! Huffman table — nested hash maps of 257 codes — for every Huffman-coded string, which
//! was a quarter of the time of decrypting an HTTP/2 capture and held the HTTP/2 fuzz
//! target to 166 inputs a second. Here the Huffman code becomes a binary tree once per
//! process, and decoding walks it bit by bit into a reused buffer: no allocation per
//! field beyond the dynamic table's own entries. `loona-hpack` stays as the tests' and the
//! fuzz target's reference encoder and decoder.

use std::collections::VecDeque;
use std::fmt;
use std::sync::OnceLock;

/// Why a header block cannot be decoded (RFC 7541 §3: a COMPRESSION_ERROR).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// An index of 0, or past the static and dynamic tables.
    IndexOutOfBounds(usize),
    /// An integer longer than the decoder accepts (RFC 7541 §5.1 leaves the bound to
    /// the implementation).
    IntegerOverflow,
    /// The block ends inside a representation.
    Truncated,
    /// A Huffman string with the EOS symbol, padding longer than 7 bits, or padding
    /// that is not the EOS code's leading ones (RFC 7541 §5.2).
    InvalidHuffman,
    /// A dynamic table size update above the limit the receiver's
    /// SETTINGS_HEADER_TABLE_SIZE allows.
    TableSizeAboveLimit { size: usize, limit: usize },
    /// A block that ends with a dynamic table size update: no field follows the update
    /// it must precede (treated as a decoding error, as `loona-hpack` and nghttp2 do).
    TableSizeUpdateAtEnd,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::IndexOutOfBounds(i) => write!(f, "index {i} is in neither table"),
            DecodeError::IntegerOverflow => f.write_str("an integer is too long"),
            DecodeError::Truncated => f.write_str("the block ends inside a field"),
            DecodeError::InvalidHuffman => f.write_str("a Huffman-coded string is invalid"),
            DecodeError::TableSizeAboveLimit { size, limit } => write!(
                f,
                "dynamic table size update to {size} above the limit {limit}"
            ),
            DecodeError::TableSizeUpdateAtEnd => {
                f.write_str("the block ends with a dynamic table size update")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// RFC 7541 Appendix A.
const STATIC_TABLE: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// RFC 7541 Appendix B: (code, length in bits) of each symbol 0–255, then EOS (256).
const HUFFMAN_CODES: [(u32, u8); 257] = [
    (0x1ff8, 13),
    (0x7fffd8, 23),
    (0xfffffe2, 28),
    (0xfffffe3, 28),
    (0xfffffe4, 28),
    (0xfffffe5, 28),
    (0xfffffe6, 28),
    (0xfffffe7, 28),
    (0xfffffe8, 28),
    (0xffffea, 24),
    (0x3ffffffc, 30),
    (0xfffffe9, 28),
    (0xfffffea, 28),
    (0x3ffffffd, 30),
    (0xfffffeb, 28),
    (0xfffffec, 28),
    (0xfffffed, 28),
    (0xfffffee, 28),
    (0xfffffef, 28),
    (0xffffff0, 28),
    (0xffffff1, 28),
    (0xffffff2, 28),
    (0x3ffffffe, 30),
    (0xffffff3, 28),
    (0xffffff4, 28),
    (0xffffff5, 28),
    (0xffffff6, 28),
    (0xffffff7, 28),
    (0xffffff8, 28),
    (0xffffff9, 28),
    (0xffffffa, 28),
    (0xffffffb, 28),
    (0x14, 6),
    (0x3f8, 10),
    (0x3f9, 10),
    (0xffa, 12),
    (0x1ff9, 13),
    (0x15, 6),
    (0xf8, 8),
    (0x7fa, 11),
    (0x3fa, 10),
    (0x3fb, 10),
    (0xf9, 8),
    (0x7fb, 11),
    (0xfa, 8),
    (0x16, 6),
    (0x17, 6),
    (0x18, 6),
    (0x0, 5),
    (0x1, 5),
    (0x2, 5),
    (0x19, 6),
    (0x1a, 6),
    (0x1b, 6),
    (0x1c, 6),
    (0x1d, 6),
    (0x1e, 6),
    (0x1f, 6),
    (0x5c, 7),
    (0xfb, 8),
    (0x7ffc, 15),
    (0x20, 6),
    (0xffb, 12),
    (0x3fc, 10),
    (0x1ffa, 13),
    (0x21, 6),
    (0x5d, 7),
    (0x5e, 7),
    (0x5f, 7),
    (0x60, 7),
    (0x61, 7),
    (0x62, 7),
    (0x63, 7),
    (0x64, 7),
    (0x65, 7),
    (0x66, 7),
    (0x67, 7),
    (0x68, 7),
    (0x69, 7),
    (0x6a, 7),
    (0x6b, 7),
    (0x6c, 7),
    (0x6d, 7),
    (0x6e, 7),
    (0x6f, 7),
    (0x70, 7),
    (0x71, 7),
    (0x72, 7),
    (0xfc, 8),
    (0x73, 7),
    (0xfd, 8),
    (0x1ffb, 13),
    (0x7fff0, 19),
    (0x1ffc, 13),
    (0x3ffc, 14),
    (0x22, 6),
    (0x7ffd, 15),
    (0x3, 5),
    (0x23, 6),
    (0x4, 5),
    (0x24, 6),
    (0x5, 5),
    (0x25, 6),
    (0x26, 6),
    (0x27, 6),
    (0x6, 5),
    (0x74, 7),
    (0x75, 7),
    (0x28, 6),
    (0x29, 6),
    (0x2a, 6),
    (0x7, 5),
    (0x2b, 6),
    (0x76, 7),
    (0x2c, 6),
    (0x8, 5),
    (0x9, 5),
    (0x2d, 6),
    (0x77, 7),
    (0x78, 7),
    (0x79, 7),
    (0x7a, 7),
    (0x7b, 7),
    (0x7ffe, 15),
    (0x7fc, 11),
    (0x3ffd, 14),
    (0x1ffd, 13),
    (0xffffffc, 28),
    (0xfffe6, 20),
    (0x3fffd2, 22),
    (0xfffe7, 20),
    (0xfffe8, 20),
    (0x3fffd3, 22),
    (0x3fffd4, 22),
    (0x3fffd5, 22),
    (0x7fffd9, 23),
    (0x3fffd6, 22),
    (0x7fffda, 23),
    (0x7fffdb, 23),
    (0x7fffdc, 23),
    (0x7fffdd, 23),
    (0x7fffde, 23),
    (0xffffeb, 24),
    (0x7fffdf, 23),
    (0xffffec, 24),
    (0xffffed, 24),
    (0x3fffd7, 22),
    (0x7fffe0, 23),
    (0xffffee, 24),
    (0x7fffe1, 23),
    (0x7fffe2, 23),
    (0x7fffe3, 23),
    (0x7fffe4, 23),
    (0x1fffdc, 21),
    (0x3fffd8, 22),
    (0x7fffe5, 23),
    (0x3fffd9, 22),
    (0x7fffe6, 23),
    (0x7fffe7, 23),
    (0xffffef, 24),
    (0x3fffda, 22),
    (0x1fffdd, 21),
    (0xfffe9, 20),
    (0x3fffdb, 22),
    (0x3fffdc, 22),
    (0x7fffe8, 23),
    (0x7fffe9, 23),
    (0x1fffde, 21),
    (0x7fffea, 23),
    (0x3fffdd, 22),
    (0x3fffde, 22),
    (0xfffff0, 24),
    (0x1fffdf, 21),
    (0x3fffdf, 22),
    (0x7fffeb, 23),
    (0x7fffec, 23),
    (0x1fffe0, 21),
    (0x1fffe1, 21),
    (0x3fffe0, 22),
    (0x1fffe2, 21),
    (0x7fffed, 23),
    (0x3fffe1, 22),
    (0x7fffee, 23),
    (0x7fffef, 23),
    (0xfffea, 20),
    (0x3fffe2, 22),
    (0x3fffe3, 22),
    (0x3fffe4, 22),
    (0x7ffff0, 23),
    (0x3fffe5, 22),
    (0x3fffe6, 22),
    (0x7ffff1, 23),
    (0x3ffffe0, 26),
    (0x3ffffe1, 26),
    (0xfffeb, 20),
    (0x7fff1, 19),
    (0x3fffe7, 22),
    (0x7ffff2, 23),
    (0x3fffe8, 22),
    (0x1ffffec, 25),
    (0x3ffffe2, 26),
    (0x3ffffe3, 26),
    (0x3ffffe4, 26),
    (0x7ffffde, 27),
    (0x7ffffdf, 27),
    (0x3ffffe5, 26),
    (0xfffff1, 24),
    (0x1ffffed, 25),
    (0x7fff2, 19),
    (0x1fffe3, 21),
    (0x3ffffe6, 26),
    (0x7ffffe0, 27),
    (0x7ffffe1, 27),
    (0x3ffffe7, 26),
    (0x7ffffe2, 27),
    (0xfffff2, 24),
    (0x1fffe4, 21),
    (0x1fffe5, 21),
    (0x3ffffe8, 26),
    (0x3ffffe9, 26),
    (0xffffffd, 28),
    (0x7ffffe3, 27),
    (0x7ffffe4, 27),
    (0x7ffffe5, 27),
    (0xfffec, 20),
    (0xfffff3, 24),
    (0xfffed, 20),
    (0x1fffe6, 21),
    (0x3fffe9, 22),
    (0x1fffe7, 21),
    (0x1fffe8, 21),
    (0x7ffff3, 23),
    (0x3fffea, 22),
    (0x3fffeb, 22),
    (0x1ffffee, 25),
    (0x1ffffef, 25),
    (0xfffff4, 24),
    (0xfffff5, 24),
    (0x3ffffea, 26),
    (0x7ffff4, 23),
    (0x3ffffeb, 26),
    (0x7ffffe6, 27),
    (0x3ffffec, 26),
    (0x3ffffed, 26),
    (0x7ffffe7, 27),
    (0x7ffffe8, 27),
    (0x7ffffe9, 27),
    (0x7ffffea, 27),
    (0x7ffffeb, 27),
    (0xffffffe, 28),
    (0x7ffffec, 27),
    (0x7ffffed, 27),
    (0x7ffffee, 27),
    (0x7ffffef, 27),
    (0x7fffff0, 27),
    (0x3ffffee, 26),
    (0x3fffffff, 30),
];

const EOS: u16 = 256;

/// The Huffman code as a binary tree: node `n`'s children are `tree[n][bit]`; a value
/// with [`LEAF`] set is a symbol, 0 means no code goes that way.
struct HuffmanTree {
    nodes: Vec<[u16; 2]>,
}

const LEAF: u16 = 0x8000;

impl HuffmanTree {
    fn get() -> &'static HuffmanTree {
        static TREE: OnceLock<HuffmanTree> = OnceLock::new();
        TREE.get_or_init(|| {
            let mut nodes = vec![[0u16; 2]];
            for (symbol, &(code, len)) in HUFFMAN_CODES.iter().enumerate() {
                let mut at = 0usize;
                for i in (0..len).rev() {
                    let bit = ((code >> i) & 1) as usize;
                    if i == 0 {
                        nodes[at][bit] = LEAF | symbol as u16;
                    } else {
                        if nodes[at][bit] == 0 {
                            nodes.push([0, 0]);
                            nodes[at][bit] = (nodes.len() - 1) as u16;
                        }
                        at = usize::from(nodes[at][bit]);
                    }
                }
            }
            HuffmanTree { nodes }
        })
    }

    /// Decodes `bytes` onto the end of `out`.
    fn decode(&self, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
        let mut at = 0usize;
        // Bits walked since the last symbol, and whether all of them were ones: what
        // is left at the end must be a short run of ones (the EOS code's start).
        let mut pending_bits = 0u32;
        let mut all_ones = true;
        for &byte in bytes {
            for i in (0..8).rev() {
                let bit = usize::from((byte >> i) & 1);
                let next = self.nodes.get(at).map_or(0, |n| n[bit]);
                pending_bits += 1;
                all_ones &= bit == 1;
                if next & LEAF != 0 {
                    let symbol = next & !LEAF;
                    if symbol == EOS {
                        return Err(DecodeError::InvalidHuffman);
                    }
                    out.push(symbol as u8);
                    at = 0;
                    pending_bits = 0;
                    all_ones = true;
                } else if next == 0 {
                    return Err(DecodeError::InvalidHuffman);
                } else {
                    at = usize::from(next);
                }
            }
        }
        if pending_bits > 7 || !all_ones {
            return Err(DecodeError::InvalidHuffman);
        }
        Ok(())
    }
}

/// One dynamic table entry.
#[derive(Debug)]
struct Entry {
    name: Box<[u8]>,
    value: Box<[u8]>,
}

impl Entry {
    /// RFC 7541 §4.1: name + value + 32.
    fn size(&self) -> usize {
        self.name.len() + self.value.len() + 32
    }
}

/// One direction's HPACK decoding context.
#[derive(Debug)]
pub struct Decoder {
    /// Newest first: index 62 is `dynamic[0]`.
    dynamic: VecDeque<Entry>,
    size: usize,
    /// The table's current maximum size, as the encoder last set it.
    max_size: usize,
    /// The most the encoder may set it to (SETTINGS_HEADER_TABLE_SIZE).
    limit: usize,
    name_buf: Vec<u8>,
    value_buf: Vec<u8>,
}

impl Decoder {
    pub fn new(limit: usize) -> Self {
        Decoder {
            dynamic: VecDeque::new(),
            size: 0,
            max_size: limit,
            limit,
            name_buf: Vec::new(),
            value_buf: Vec::new(),
        }
    }

    /// The receiver advertised SETTINGS_HEADER_TABLE_SIZE: the largest size update the
    /// encoder may send from now on.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Decodes one whole header block, calling `field(name, value)` for each field in
    /// order. On an error the table's state is unknown: the caller stops decoding this
    /// direction.
    pub fn decode(
        &mut self,
        mut block: &[u8],
        mut field: impl FnMut(&[u8], &[u8]),
    ) -> Result<(), DecodeError> {
        let mut ends_in_update = false;
        while let Some(&first) = block.first() {
            ends_in_update = first & 0xe0 == 0x20;
            if first & 0x80 != 0 {
                // §6.1 Indexed Header Field.
                let index = integer(&mut block, 7)?;
                let (name, value) = Self::lookup(&self.dynamic, index)?;
                field(name, value);
            } else if first & 0xc0 == 0x40 {
                // §6.2.1 Literal with Incremental Indexing.
                self.literal(&mut block, 6)?;
                field(&self.name_buf, &self.value_buf);
                self.insert();
            } else if first & 0xe0 == 0x20 {
                // §6.3 Dynamic Table Size Update. RFC 7541 §4.2 wants it at the start
                // of a block; one later is still read, as the peer's decoder (and
                // loona-hpack, the reference) reads it: the table must follow the
                // endpoints', not judge them.
                let size = integer(&mut block, 5)?;
                if size > self.limit {
                    return Err(DecodeError::TableSizeAboveLimit {
                        size,
                        limit: self.limit,
                    });
                }
                self.max_size = size;
                self.evict_to(size);
            } else {
                // §6.2.2 without indexing (0000), §6.2.3 never indexed (0001).
                self.literal(&mut block, 4)?;
                field(&self.name_buf, &self.value_buf);
            }
        }
        if ends_in_update {
            return Err(DecodeError::TableSizeUpdateAtEnd);
        }
        Ok(())
    }

    /// An index into the static table (1–61) or the dynamic one (62…).
    fn lookup(dynamic: &VecDeque<Entry>, index: usize) -> Result<(&[u8], &[u8]), DecodeError> {
        match index {
            0 => Err(DecodeError::IndexOutOfBounds(0)),
            1..=61 => Ok(STATIC_TABLE[index - 1]),
            _ => dynamic
                .get(index - 62)
                .map(|e| (&*e.name, &*e.value))
                .ok_or(DecodeError::IndexOutOfBounds(index)),
        }
    }

    /// A literal field: an indexed name (prefix bits) or a literal one, then the value,
    /// into `name_buf` and `value_buf`.
    fn literal(&mut self, block: &mut &[u8], prefix: u8) -> Result<(), DecodeError> {
        let index = integer(block, prefix)?;
        self.name_buf.clear();
        if index == 0 {
            string(block, &mut self.name_buf)?;
        } else {
            let (name, _) = Self::lookup(&self.dynamic, index)?;
            self.name_buf.extend_from_slice(name);
        }
        self.value_buf.clear();
        string(block, &mut self.value_buf)
    }

    /// Adds the last literal to the dynamic table (§4.4: an entry larger than the table
    /// empties it and is not added).
    fn insert(&mut self) {
        let entry = Entry {
            name: self.name_buf.as_slice().into(),
            value: self.value_buf.as_slice().into(),
        };
        let size = entry.size();
        if size > self.max_size {
            self.dynamic.clear();
            self.size = 0;
            return;
        }
        self.evict_to(self.max_size - size);
        self.size += size;
        self.dynamic.push_front(entry);
    }

    fn evict_to(&mut self, target: usize) {
        while self.size > target {
            match self.dynamic.pop_back() {
                Some(e) => self.size -= e.size(),
                None => {
                    self.size = 0;
                    break;
                }
            }
        }
    }
}

/// §5.1: an integer with an N-bit prefix, taken from the front of `block`.
fn integer(block: &mut &[u8], prefix: u8) -> Result<usize, DecodeError> {
    let (&first, rest) = block.split_first().ok_or(DecodeError::Truncated)?;
    *block = rest;
    let mask = ((1u16 << prefix) - 1) as u8;
    let mut value = usize::from(first & mask);
    if value < usize::from(mask) {
        return Ok(value);
    }
    // Continuation bytes, 7 bits each; more than four would exceed 2^28 — far above
    // any table index, string length or table size a header block can carry here.
    for shift in (0..5).map(|k| k * 7) {
        let (&byte, rest) = block.split_first().ok_or(DecodeError::Truncated)?;
        *block = rest;
        if shift == 28 {
            return Err(DecodeError::IntegerOverflow);
        }
        value += usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::IntegerOverflow)
}

/// §5.2: a string literal, plain or Huffman-coded, appended to `out`.
fn string(block: &mut &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
    let huffman = block.first().ok_or(DecodeError::Truncated)? & 0x80 != 0;
    let len = integer(block, 7)?;
    if len > block.len() {
        return Err(DecodeError::Truncated);
    }
    let (bytes, rest) = block.split_at(len);
    *block = rest;
    if huffman {
        HuffmanTree::get().decode(bytes, out)
    } else {
        out.extend_from_slice(bytes);
        Ok(())
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

    fn fields(d: &mut Decoder, block: &[u8]) -> Result<Vec<(String, String)>, DecodeError> {
        let mut out = Vec::new();
        d.decode(block, |n, v| {
            out.push((
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            ))
        })?;
        Ok(out)
    }

    #[test]
    fn rfc7541_c1_integers() {
        // C.1.1: 10 with a 5-bit prefix; C.1.2: 1337; C.1.3: 42 at an octet boundary.
        assert_eq!(integer(&mut &[0x0a][..], 5), Ok(10));
        assert_eq!(integer(&mut &[0x1f, 0x9a, 0x0a][..], 5), Ok(1337));
        assert_eq!(integer(&mut &[0x2a][..], 8), Ok(42));
        assert_eq!(
            integer(&mut &[0x1f, 0x9a][..], 5),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            integer(&mut &[0x1f, 0xff, 0xff, 0xff, 0xff, 0x0f][..], 5),
            Err(DecodeError::IntegerOverflow)
        );
    }

    #[test]
    fn rfc7541_c4_huffman_requests_share_the_dynamic_table() {
        let mut d = Decoder::new(4096);
        let first =
            fields(&mut d, &hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff")).expect("C.4.1");
        assert_eq!(
            first,
            [
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                (":authority", "www.example.com")
            ]
            .map(|(n, v)| (n.to_string(), v.to_string()))
        );
        let second = fields(&mut d, &hex("8286 84be 5886 a8eb 1064 9cbf")).expect("C.4.2");
        assert_eq!(
            second.last(),
            Some(&("cache-control".into(), "no-cache".into()))
        );
        assert_eq!(second[3], (":authority".into(), "www.example.com".into()));
        let third = fields(
            &mut d,
            &hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"),
        )
        .expect("C.4.3");
        assert_eq!(third[2], (":path".into(), "/index.html".into()));
        assert_eq!(third[4], ("custom-key".into(), "custom-value".into()));
        // Table after C.4.3: custom-key (54), cache-control (53), :authority (57).
        assert_eq!(d.size, 164);
    }

    #[test]
    fn rfc7541_c6_huffman_responses_evict_at_256_bytes() {
        let mut d = Decoder::new(256);
        let blocks = [
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
            "4883 640e ff c1 c0 bf",
            "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        ];
        let mut last = Vec::new();
        for b in blocks {
            last = fields(&mut d, &hex(b)).expect("C.6");
        }
        assert_eq!(last[0], (":status".into(), "200".into()));
        assert_eq!(
            last[5],
            (
                "set-cookie".into(),
                "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1".into()
            )
        );
        assert_eq!(d.size, 215);
        assert_eq!(d.dynamic.len(), 3);
    }

    #[test]
    fn bad_blocks_are_errors_not_panics() {
        let mut d = Decoder::new(4096);
        assert_eq!(
            fields(&mut d, &[0x80]),
            Err(DecodeError::IndexOutOfBounds(0))
        );
        assert_eq!(
            fields(&mut d, &[0xbe]),
            Err(DecodeError::IndexOutOfBounds(62))
        );
        // A literal whose value claims 5 bytes with 1 left.
        assert_eq!(
            fields(&mut d, &[0x40, 0x01, b'a', 0x05, b'b']),
            Err(DecodeError::Truncated)
        );
        // Huffman: a whole byte of padding ones, and padding that is not all ones.
        assert_eq!(
            fields(&mut d, &[0x00, 0x01, b'a', 0x82, 0x1f, 0xff]),
            Err(DecodeError::InvalidHuffman)
        );
        assert_eq!(
            fields(&mut d, &[0x00, 0x01, b'a', 0x81, 0x00]),
            Err(DecodeError::InvalidHuffman)
        );
        // A size update above the limit, and one after a field.
        assert_eq!(
            fields(&mut Decoder::new(100), &[0x3f, 0xe1, 0x1f]),
            Err(DecodeError::TableSizeAboveLimit {
                size: 4096,
                limit: 100
            })
        );
        assert_eq!(
            fields(&mut d, &[0x82, 0x20]),
            Err(DecodeError::TableSizeUpdateAtEnd)
        );
        // A size update after a field is read, as the endpoints' decoders read it.
        assert_eq!(fields(&mut d, &[0x82, 0x20, 0x84]).map(|f| f.len()), Ok(2));
    }

    #[test]
    fn every_symbol_round_trips_through_the_huffman_code() {
        // Encode each byte value with the table, pad with ones, decode.
        for symbol in 0..=255u8 {
            let (code, len) = HUFFMAN_CODES[usize::from(symbol)];
            let bits = u64::from(code) << (64 - u32::from(len));
            let bytes = usize::from(len).div_ceil(8);
            let padded = bits | (u64::MAX >> u32::from(len));
            let encoded: Vec<u8> = padded.to_be_bytes()[..bytes].to_vec();
            let mut out = Vec::new();
            HuffmanTree::get()
                .decode(&encoded, &mut out)
                .expect("decodes");
            assert_eq!(out, [symbol], "symbol {symbol}");
        }
    }
}

#[cfg(test)]
mod reference {
    //! Ours against `loona-hpack` on blocks its encoder makes from arbitrary fields
    //! (Huffman on and off, indexing in the dynamic table) and on arbitrary bytes:
    //! where the reference decodes a block, ours gives the same fields.
    use super::*;
    use proptest::prelude::*;

    fn ours(d: &mut Decoder, block: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        d.decode(block, |n, v| out.push((n.to_vec(), v.to_vec())))
            .ok()
            .map(|()| out)
    }

    fn theirs(
        d: &mut loona_hpack::Decoder<'static>,
        block: &[u8],
    ) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
        d.decode(block).ok().map(|v| {
            v.into_iter()
                .map(|(n, v)| (n.to_vec(), v.to_vec()))
                .collect()
        })
    }

    proptest! {
        #[test]
        fn encoded_blocks_decode_as_the_reference_decodes_them(
            blocks in prop::collection::vec(
                prop::collection::vec(
                    (prop::sample::select(vec![
                        b":method".to_vec(), b":path".to_vec(), b":authority".to_vec(),
                        b":status".to_vec(), b"user-agent".to_vec(), b"x-custom".to_vec(),
                    ]), prop::collection::vec(any::<u8>(), 0..40)),
                    0..8,
                ),
                1..6,
            )
        ) {
            let mut encoder = loona_hpack::Encoder::new();
            let mut mine = Decoder::new(4096);
            let mut reference = loona_hpack::Decoder::new();
            for fields in &blocks {
                let block = encoder.encode(fields.iter().map(|(n, v)| (&n[..], &v[..])));
                let want = theirs(&mut reference, &block);
                prop_assert!(want.is_some());
                prop_assert_eq!(ours(&mut mine, &block), want);
            }
        }

        #[test]
        fn arbitrary_bytes_never_decode_differently(
            blocks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 1..4)
        ) {
            let mut mine = Decoder::new(4096);
            let mut reference = loona_hpack::Decoder::new();
            reference.set_max_allowed_table_size(4096);
            for block in &blocks {
                let want = theirs(&mut reference, block);
                let got = ours(&mut mine, block);
                prop_assert_eq!(&got, &want);
                if got.is_none() {
                    break;
                }
            }
        }
    }
}
