//! Reads capture files with `pcap-parser`, in pure Rust: classic pcap (either byte
//! order, micro- or nanosecond timestamps), pcapng (several sections, several
//! interfaces each with its own link type, `if_tsresol` and `if_tsoffset`), either one
//! compressed with gzip, zstd or lz4 (detected by magic bytes, not by name, as
//! Wireshark 4.2 does), from a path or from stdin. Decompression is pure Rust
//! (`flate2`'s miniz backend, `ruzstd`, `lz4_flex`), so no C library is needed.
//!
//! Not for decoding packets (that is `decode`). Damage inside a file is not an error:
//! reading stops at the damage and the [`ReadSummary`] carries a warning naming the
//! packet, so everything before it is still analysed. Only a file that cannot be
//! opened, or is no capture at all, is a [`CaptureError`].

use super::{LinkType, RawPacket};
use crate::time::Timestamp;
use flate2::bufread::MultiGzDecoder;
use pcap_parser::pcapng::{Block, SecretsType};
use pcap_parser::{create_reader, PcapBlockOwned, PcapError};
use ruzstd::decoding::{FrameDecoder, StreamingDecoder};
use std::collections::BTreeSet;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Room for the largest record we accept; a record claiming more is corruption.
const READ_BUFFER: usize = 4 << 20;
/// At most this many warnings are kept per file; the rest are counted.
const MAX_WARNINGS: usize = 20;
/// The first four bytes of a pcap file (both byte orders, micro- and nanosecond) and of
/// a pcapng section header block.
const CAPTURE_MAGICS: [[u8; 4]; 5] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x0a, 0x0d, 0x0d, 0x0a],
];
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// RFC 8878 §3.1.1: a Zstandard frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// The LZ4 frame format's magic number, little-endian 0x184D2204.
const LZ4_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];
/// Compressed formats recognised only to say so: decompress them first.
const OTHER_COMPRESSIONS: [(&[u8], &str, &str); 7] = [
    (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], "xz", "xz -d"),
    (b"BZh", "bzip2", "bzip2 -d"),
    (&[0x02, 0x21, 0x4c, 0x18], "legacy lz4", "lz4 -d"),
    (&[0x1f, 0x9d], "compress (.Z)", "uncompress"),
    (b"LZIP", "lzip", "lzip -d"),
    (&[b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c], "7-Zip", "7z x"),
    (&[b'P', b'K', 0x03, 0x04], "zip", "unzip"),
];

/// How a capture file is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Zstd,
    Lz4,
}

impl Compression {
    /// Names the decompressor in a read error, whose own words rarely do.
    fn prefix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => "gzip: ",
            Compression::Zstd => "zstd: ",
            Compression::Lz4 => "lz4: ",
        }
    }
}

/// A capture to read: a file, or standard input (`-` on the command line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Path(PathBuf),
    Stdin,
    /// A capture already in memory, with a name for messages (tests, fuzzing).
    Bytes(String, std::sync::Arc<[u8]>),
}

impl Source {
    pub fn from_arg(arg: &str) -> Source {
        if arg == "-" {
            Source::Stdin
        } else {
            Source::Path(PathBuf::from(arg))
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Path(p) => write!(f, "{}", p.display()),
            Source::Stdin => f.write_str("<stdin>"),
            Source::Bytes(name, _) => f.write_str(name),
        }
    }
}

/// Why a capture could not be read at all.
#[derive(Debug)]
pub enum CaptureError {
    Open {
        source: Source,
        error: io::Error,
    },
    Empty {
        source: Source,
    },
    NotACapture {
        source: Source,
    },
    TruncatedHeader {
        source: Source,
    },
    Read {
        source: Source,
        error: String,
    },
    /// Compressed with something connscope does not decompress (xz, bzip2, …).
    UnsupportedCompression {
        source: Source,
        format: &'static str,
        command: &'static str,
    },
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Open { source, error } => write!(f, "{source}: cannot open: {error}"),
            CaptureError::Empty { source } => write!(f, "{source}: file is empty, not a capture"),
            CaptureError::NotACapture { source } => write!(
                f,
                "{source}: not a pcap or pcapng capture (unrecognised file header)"
            ),
            CaptureError::TruncatedHeader { source } => write!(
                f,
                "{source}: the file ends inside its pcap or pcapng file header (truncated capture)"
            ),
            CaptureError::Read { source, error } => write!(f, "{source}: cannot read: {error}"),
            CaptureError::UnsupportedCompression {
                source,
                format,
                command,
            } => write!(
                f,
                "{source}: {format}-compressed; connscope reads gzip, zstd and lz4 captures \
                 (decompress it first: {command})"
            ),
        }
    }
}

impl std::error::Error for CaptureError {}

/// Something wrong inside a capture that did not stop it from being analysed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The packet the warning is about, when it is about one.
    pub packet: Option<u64>,
    pub message: String,
}

/// What was learnt about a file while reading it.
#[derive(Clone, Debug, Default)]
pub struct ReadSummary {
    /// `pcap`, `pcap-nsec`, `pcapng`, with `+gzip`, `+zstd` or `+lz4` when compressed.
    pub format: String,
    pub link_types: BTreeSet<LinkType>,
    pub packets: u64,
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
    pub warnings: Vec<Warning>,
    /// Warnings beyond [`MAX_WARNINGS`], counted but not kept.
    pub warnings_dropped: u64,
    /// True when reading stopped early because of damage.
    pub truncated: bool,
}

impl ReadSummary {
    fn warn(&mut self, packet: Option<u64>, message: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(Warning { packet, message });
        } else {
            self.warnings_dropped += 1;
        }
    }
}

/// Turns a read error into the end of the input, keeping the error to report: the
/// packets before the damage (a gzip stream that ends early, a disk error) are still
/// analysed, where `pcap-parser` would flatten the error to `ReadError` and stop.
struct ErrorKeepingReader<R> {
    inner: R,
    last_error: Arc<Mutex<Option<String>>>,
}

impl<R: Read> Read for ErrorKeepingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    if let Ok(mut slot) = self.last_error.lock() {
                        *slot = Some(e.to_string());
                    }
                    return Ok(0);
                }
                ok => return ok,
            }
        }
    }
}

/// Counts the bytes read from the file itself (before decompression), for a progress
/// bar measured against the file size.
struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Per-interface facts a pcapng packet needs to be understood.
#[derive(Clone, Copy, Debug)]
struct Interface {
    link_type: LinkType,
    units_per_sec: u64,
    offset_secs: i64,
    snaplen: u32,
}

/// What went wrong with a file's clock, told once per input when reading ends: a
/// warning per packet would drown the rest, and one is enough to distrust durations.
#[derive(Default)]
struct Clock {
    /// The first packet stamped earlier than the one before it, and by how much (ns).
    first_backwards: Option<(u64, i64)>,
    backwards: u64,
    /// The first packet whose timestamp no clock can mean, its interface, raw value
    /// and that interface's resolution and offset.
    first_garbage: Option<(u64, u32, u64, Interface)>,
    garbage: u64,
}

impl Clock {
    fn step(&mut self, number: u64, before: Timestamp, now: Timestamp) {
        if now < before {
            self.backwards += 1;
            let by = before.as_nanos().saturating_sub(now.as_nanos());
            self.first_backwards.get_or_insert((number, by));
        }
    }

    fn garbage(&mut self, number: u64, if_id: u32, raw: u64, iface: Interface) {
        self.garbage += 1;
        self.first_garbage
            .get_or_insert((number, if_id, raw, iface));
    }

    fn warn(&self, summary: &mut ReadSummary) {
        if let Some((number, if_id, raw, iface)) = self.first_garbage {
            summary.warn(
                Some(number),
                format!(
                    "packet {number}: timestamp {raw} on interface {if_id} (units of 1/{} s, \
                     if_tsoffset {} s) is past what any clock can mean; {} such packets were \
                     given the time of the packet before",
                    iface.units_per_sec, iface.offset_secs, self.garbage
                ),
            );
        }
        if let Some((number, by)) = self.first_backwards {
            summary.warn(
                Some(number),
                format!(
                    "packet {number}: time goes backwards by {:.6} s; {} in all \
                     earlier than the one before (durations count to the latest time seen)",
                    by as f64 / 1e9,
                    match self.backwards {
                        1 => "1 packet".to_string(),
                        n => format!("{n} packets"),
                    }
                ),
            );
        }
    }
}

/// Timestamp units per second from pcapng's `if_tsresol`: 10^n, or 2^n when the high
/// bit is set. Computed here because pcap-parser 0.17 rejects every binary
/// resolution (it range-checks the byte with the flag bit still set).
fn units_per_sec(tsresol: u8) -> Option<u64> {
    let exponent = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(exponent)
    } else {
        1u64.checked_shl(exponent).filter(|_| exponent < 64)
    }
}

/// Zstandard, frame after frame: a file may hold several (RFC 8878 §3.1; `pzstd` and
/// `zstd -T` write them), where ruzstd's `StreamingDecoder` reads one.
struct ZstdFrames<R: BufRead> {
    /// `None` only while one frame's decoder is handed to the next.
    frame: Option<StreamingDecoder<R, FrameDecoder>>,
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(frame) = self.frame.as_mut() else {
                return Ok(0);
            };
            let n = frame.read(buf)?;
            if n > 0 || buf.is_empty() || frame.get_mut().fill_buf()?.is_empty() {
                return Ok(n);
            }
            // One frame ended and more bytes follow: the next frame.
            if let Some(done) = self.frame.take() {
                let (source, decoder) = done.into_parts();
                self.frame = Some(
                    StreamingDecoder::new_with_decoder(source, decoder)
                        .map_err(io::Error::other)?,
                );
            }
        }
    }
}

/// LZ4 frame after frame: `lz4_flex`'s decoder ends each read at a frame's end mark
/// and starts the next frame only when asked again, which `pcap-parser` takes for the
/// end of the file.
struct Lz4Frames<R: BufRead>(lz4_flex::frame::FrameDecoder<R>);

/// Empty frames in a row taken as the end rather than read forever.
const MAX_EMPTY_FRAMES: usize = 1024;

impl<R: BufRead> Read for Lz4Frames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        for _ in 0..MAX_EMPTY_FRAMES {
            let n = self.0.read(buf)?;
            if n > 0 || buf.is_empty() || self.0.get_mut().fill_buf()?.is_empty() {
                return Ok(n);
            }
        }
        Ok(0)
    }
}

/// Opens `source` and returns a reader positioned at its first byte, decompressing
/// transparently, plus how it was compressed.
fn open(
    source: &Source,
    bytes_read: Arc<AtomicU64>,
) -> Result<(Box<dyn Read + Send>, Compression), CaptureError> {
    let raw: Box<dyn Read + Send> = match source {
        Source::Path(path) => Box::new(File::open(path).map_err(|error| CaptureError::Open {
            source: source.clone(),
            error,
        })?),
        Source::Stdin => Box::new(io::stdin()),
        Source::Bytes(_, bytes) => Box::new(io::Cursor::new(std::sync::Arc::clone(bytes))),
    };
    let raw = CountingReader {
        inner: raw,
        count: bytes_read,
    };
    let mut buffered = BufReader::with_capacity(1 << 16, raw);
    let head = buffered.fill_buf().map_err(|e| CaptureError::Read {
        source: source.clone(),
        error: e.to_string(),
    })?;
    if head.is_empty() {
        return Err(CaptureError::Empty {
            source: source.clone(),
        });
    }
    if head.starts_with(&GZIP_MAGIC) {
        return Ok((Box::new(MultiGzDecoder::new(buffered)), Compression::Gzip));
    }
    if head.starts_with(&LZ4_MAGIC) {
        let frames = Lz4Frames(lz4_flex::frame::FrameDecoder::new(buffered));
        return Ok((Box::new(frames), Compression::Lz4));
    }
    if head.starts_with(&ZSTD_MAGIC) {
        let frame = StreamingDecoder::new(buffered).map_err(|e| CaptureError::Read {
            source: source.clone(),
            error: format!("zstd: {e}"),
        })?;
        let frames = ZstdFrames { frame: Some(frame) };
        return Ok((Box::new(frames), Compression::Zstd));
    }
    if let Some((_, format, command)) = OTHER_COMPRESSIONS
        .iter()
        .find(|(magic, _, _)| head.starts_with(magic))
    {
        return Err(CaptureError::UnsupportedCompression {
            source: source.clone(),
            format,
            command,
        });
    }
    Ok((Box::new(buffered), Compression::None))
}

/// Reads every packet of `source` in order and hands each to `visit`, which may stop
/// the read early by returning `ControlFlow::Break`. `bytes_read` counts the bytes
/// taken from the file so far, for progress reporting.
pub fn read_packets<F>(
    source: &Source,
    bytes_read: Arc<AtomicU64>,
    mut visit: F,
) -> Result<ReadSummary, CaptureError>
where
    F: FnMut(&RawPacket<'_>) -> ControlFlow<()>,
{
    read_items(source, bytes_read, |item| match item {
        Item::Packet(packet) => visit(packet),
        Item::TlsKeyLog(_) => ControlFlow::Continue(()),
    })
}

/// What a capture file holds besides the format's bookkeeping.
pub enum Item<'p, 'a> {
    Packet(&'p RawPacket<'a>),
    /// The NSS key log text of a pcapng Decryption Secrets Block (secrets type `TLSK`,
    /// as `editcap --inject-secrets tls,keys.txt` writes): it applies to the packets
    /// after it.
    TlsKeyLog(&'a [u8]),
}

/// [`read_packets`], with the key logs a pcapng file embeds handed to `visit` in their
/// place among the packets.
pub fn read_items<F>(
    source: &Source,
    bytes_read: Arc<AtomicU64>,
    mut visit: F,
) -> Result<ReadSummary, CaptureError>
where
    F: FnMut(Item<'_, '_>) -> ControlFlow<()>,
{
    let (input, compression) = open(source, bytes_read)?;
    // The first bytes, to tell a capture cut inside its header from something else.
    let mut input = BufReader::with_capacity(4096, input);
    // A decompressor that fails on its first block (a cut .lz4 file) fails here.
    let head = input.fill_buf().map_err(|e| CaptureError::Read {
        source: source.clone(),
        error: format!("{}{e}", compression.prefix()),
    })?;
    let starts_like_a_capture = CAPTURE_MAGICS
        .iter()
        .any(|magic| !head.is_empty() && magic.starts_with(&head[..head.len().min(4)]));
    let last_error = Arc::new(Mutex::new(None));
    let input = ErrorKeepingReader {
        inner: input,
        last_error: Arc::clone(&last_error),
    };
    let io_error = || last_error.lock().ok().and_then(|e| e.clone());
    let mut reader = match create_reader(READ_BUFFER, input) {
        Ok(r) => r,
        Err(PcapError::Eof) | Err(PcapError::Incomplete(_)) if io_error().is_some() => {
            return Err(CaptureError::Read {
                source: source.clone(),
                error: io_error().unwrap_or_default(),
            })
        }
        Err(PcapError::Eof) => {
            return Err(CaptureError::Empty {
                source: source.clone(),
            })
        }
        Err(PcapError::Incomplete(_)) if starts_like_a_capture => {
            return Err(CaptureError::TruncatedHeader {
                source: source.clone(),
            })
        }
        Err(PcapError::ReadError) => {
            return Err(CaptureError::Read {
                source: source.clone(),
                error: io_error().unwrap_or_else(|| "read failed".into()),
            })
        }
        Err(_) => {
            return Err(CaptureError::NotACapture {
                source: source.clone(),
            })
        }
    };

    let mut summary = ReadSummary::default();
    let mut format = "pcap";
    // Classic pcap: one link type, snap length and resolution for the whole file.
    let mut legacy = Interface {
        link_type: LinkType::ETHERNET,
        units_per_sec: 1_000_000,
        offset_secs: 0,
        snaplen: 0,
    };
    // pcapng: the interfaces of the current section, by interface id.
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut last_ts = Timestamp::default();
    let mut clock = Clock::default();
    // The previous packet's time within this section: a new section (files joined
    // with `cat`, mergecap's output) may start earlier without anything being wrong.
    let mut section_ts: Option<Timestamp> = None;
    let mut stalls = 0u32;

    loop {
        let next_number = summary.packets + 1;
        match reader.next() {
            Ok((offset, block)) => {
                stalls = 0;
                // What the block says, reduced to a packet to visit (if any).
                let packet: Option<(Interface, Timestamp, &[u8], u32)> = match block {
                    PcapBlockOwned::LegacyHeader(header) => {
                        if header.is_nanosecond_precision() {
                            format = "pcap-nsec";
                            legacy.units_per_sec = 1_000_000_000;
                        }
                        legacy.link_type = LinkType(header.network.0 as u32);
                        legacy.snaplen = header.snaplen;
                        None
                    }
                    PcapBlockOwned::Legacy(record) => {
                        let ts = Timestamp::from_parts(
                            i64::from(record.ts_sec),
                            u64::from(record.ts_usec),
                            legacy.units_per_sec,
                        );
                        Some((legacy, ts, record.data, record.origlen))
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                        format = "pcapng";
                        interfaces.clear();
                        section_ts = None;
                        None
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        let units_per_sec = units_per_sec(idb.if_tsresol).unwrap_or_else(|| {
                            summary.warn(
                                None,
                                format!(
                                    "interface {}: invalid if_tsresol {}, assuming microseconds",
                                    interfaces.len(),
                                    idb.if_tsresol
                                ),
                            );
                            1_000_000
                        });
                        interfaces.push(Interface {
                            link_type: LinkType(idb.linktype.0 as u32),
                            units_per_sec,
                            offset_secs: idb.if_tsoffset,
                            snaplen: idb.snaplen,
                        });
                        None
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        match interfaces.get(epb.if_id as usize) {
                            Some(iface) => {
                                let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                                let units = iface.units_per_sec.max(1);
                                let ts = i64::try_from(raw / units)
                                    .ok()
                                    .and_then(|secs| secs.checked_add(iface.offset_secs))
                                    .and_then(|secs| {
                                        Timestamp::checked_from_parts(secs, raw % units, units)
                                    });
                                let ts = ts.unwrap_or_else(|| {
                                    // Out of range for any clock: keep the time before.
                                    clock.garbage(next_number, epb.if_id, raw, *iface);
                                    last_ts
                                });
                                Some((*iface, ts, epb.data, epb.origlen))
                            }
                            None => {
                                // Counted as a packet so later numbers match Wireshark's.
                                summary.packets += 1;
                                summary.warn(
                                    Some(next_number),
                                    format!(
                                        "packet {next_number}: refers to interface {} which the section never described; skipped",
                                        epb.if_id
                                    ),
                                );
                                None
                            }
                        }
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => match interfaces.first() {
                        // Simple packets carry no timestamp: keep the previous one.
                        Some(iface) => Some((*iface, last_ts, spb.data, spb.origlen)),
                        None => {
                            summary.packets += 1;
                            summary.warn(
                                Some(next_number),
                                format!("packet {next_number}: simple packet block before any interface description; skipped"),
                            );
                            None
                        }
                    },
                    PcapBlockOwned::NG(Block::DecryptionSecrets(dsb))
                        if dsb.secrets_type == SecretsType::TlsKeyLog =>
                    {
                        // The data is padded to 32 bits; the length says where it ends.
                        let len = usize::try_from(dsb.secrets_len).unwrap_or(usize::MAX);
                        let text = dsb.data.get(..len).unwrap_or(dsb.data);
                        if visit(Item::TlsKeyLog(text)).is_break() {
                            break;
                        }
                        None
                    }
                    PcapBlockOwned::NG(_) => None,
                };
                if let Some((iface, ts, data, orig_len)) = packet {
                    summary.packets += 1;
                    summary.link_types.insert(iface.link_type);
                    if iface.snaplen != 0 && data.len() as u64 > u64::from(iface.snaplen) {
                        summary.warn(
                            Some(next_number),
                            format!(
                                "packet {next_number}: captured length {} exceeds the snap length {}",
                                data.len(),
                                iface.snaplen
                            ),
                        );
                    }
                    if let Some(before) = section_ts {
                        clock.step(next_number, before, ts);
                    }
                    section_ts = Some(ts);
                    last_ts = ts;
                    summary.first_ts.get_or_insert(ts);
                    summary.last_ts = Some(summary.last_ts.map_or(ts, |t| t.max(ts)));
                    let raw = RawPacket {
                        number: next_number,
                        ts,
                        link_type: iface.link_type,
                        data,
                        orig_len,
                    };
                    if visit(Item::Packet(&raw)).is_break() {
                        break;
                    }
                }
                // Without shifting the buffer: `consume` moves the unread rest to the
                // front whenever half the buffer is used, which copies the whole file
                // once more; `refill` shifts only the few bytes of a record cut by the
                // buffer's end.
                reader.consume_noshift(offset);
            }
            Err(e) => {
                // Owned, so the reader is free to refill while we decide.
                let why = match e.to_owned_vec() {
                    PcapError::Eof => match io_error() {
                        // The input broke off between two records.
                        Some(e) => format!("cannot read further ({e})"),
                        None => break,
                    },
                    PcapError::Incomplete(_) => {
                        stalls += 1;
                        if reader.refill().is_ok() && stalls <= 2 {
                            continue;
                        }
                        format!("cannot read further: {}", io_error().unwrap_or_else(|| "read failed".into()))
                    }
                    PcapError::UnexpectedEof => match io_error() {
                        Some(e) => format!("cannot read further ({e})"),
                        None => "the file ends in the middle of its record (truncated capture)".into(),
                    },
                    PcapError::BufferTooSmall => format!(
                        "record claims more than {READ_BUFFER} bytes, so the file is corrupt from here"
                    ),
                    PcapError::ReadError => {
                        format!("cannot read further: {}", io_error().unwrap_or_else(|| "read failed".into()))
                    }
                    PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
                        format!("malformed record ({kind:?}), so the file is corrupt from here")
                    }
                    other => format!("{other:?}, so the file is corrupt from here"),
                };
                summary.truncated = true;
                summary.warn(
                    Some(next_number),
                    format!(
                        "packet {next_number}: {why}; analysed the {} packets before it",
                        summary.packets
                    ),
                );
                break;
            }
        }
    }
    clock.warn(&mut summary);
    summary.format = match compression {
        Compression::None => format.to_string(),
        Compression::Gzip => format!("{format}+gzip"),
        Compression::Zstd => format!("{format}+zstd"),
        Compression::Lz4 => format!("{format}+lz4"),
    };
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Writes `bytes` to a fresh temporary file and returns it as a source.
    fn source(name: &str, bytes: &[u8]) -> Source {
        let path = std::env::temp_dir().join(format!("connscope-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).expect("write temp");
        Source::Path(path)
    }

    /// (number, ts nanos, link type, data) of one packet.
    type Seen = (u64, i64, LinkType, Vec<u8>);

    fn read_all(src: &Source) -> (ReadSummary, Vec<Seen>) {
        let mut seen = Vec::new();
        let summary = read_packets(src, Arc::new(AtomicU64::new(0)), |p| {
            seen.push((p.number, p.ts.as_nanos(), p.link_type, p.data.to_vec()));
            ControlFlow::Continue(())
        })
        .expect("readable");
        (summary, seen)
    }

    fn classic(
        big_endian: bool,
        nanos: bool,
        link_type: u32,
        records: &[(u32, u32, &[u8])],
    ) -> Vec<u8> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let u32b = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let u16b = |v: u16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut out = Vec::new();
        out.extend_from_slice(&u32b(magic));
        out.extend_from_slice(&u16b(2));
        out.extend_from_slice(&u16b(4));
        out.extend_from_slice(&u32b(0));
        out.extend_from_slice(&u32b(0));
        out.extend_from_slice(&u32b(65535));
        out.extend_from_slice(&u32b(link_type));
        for (sec, frac, data) in records {
            out.extend_from_slice(&u32b(*sec));
            out.extend_from_slice(&u32b(*frac));
            out.extend_from_slice(&u32b(data.len() as u32));
            out.extend_from_slice(&u32b(data.len() as u32));
            out.extend_from_slice(data);
        }
        out
    }

    fn block(kind: u32, body: &[u8]) -> Vec<u8> {
        let padded = body.len().div_ceil(4) * 4;
        let total = (12 + padded) as u32;
        let mut out = Vec::new();
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&total.to_le_bytes());
        out.extend_from_slice(body);
        out.resize(8 + padded, 0);
        out.extend_from_slice(&total.to_le_bytes());
        out
    }

    fn section_header() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes());
        block(0x0a0d_0d0a, &body)
    }

    fn interface(link_type: u16, tsresol: Option<u8>) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&link_type.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
        if let Some(r) = tsresol {
            body.extend_from_slice(&9u16.to_le_bytes()); // if_tsresol
            body.extend_from_slice(&1u16.to_le_bytes());
            body.extend_from_slice(&[r, 0, 0, 0]);
            body.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
        }
        block(1, &body)
    }

    fn enhanced(if_id: u32, ts: u64, data: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&if_id.to_le_bytes());
        body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(ts as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        block(6, &body)
    }

    #[test]
    fn classic_pcap_in_both_byte_orders() {
        for big_endian in [false, true] {
            let bytes = classic(
                big_endian,
                false,
                1,
                &[(10, 250_000, b"abc"), (11, 0, b"de")],
            );
            let (summary, packets) = read_all(&source(&format!("be{big_endian}.pcap"), &bytes));
            assert_eq!(summary.format, "pcap");
            assert_eq!(summary.packets, 2);
            assert_eq!(
                packets[0],
                (1, 10_250_000_000, LinkType::ETHERNET, b"abc".to_vec())
            );
            assert_eq!(packets[1].0, 2);
        }
    }

    #[test]
    fn nanosecond_pcap() {
        let bytes = classic(false, true, 101, &[(1, 123_456_789, b"x")]);
        let (summary, packets) = read_all(&source("ns.pcap", &bytes));
        assert_eq!(summary.format, "pcap-nsec");
        assert_eq!(packets[0].1, 1_123_456_789);
        assert_eq!(packets[0].2, LinkType::RAW);
    }

    #[test]
    fn pcapng_with_sections_and_interfaces_of_different_link_types() {
        let mut bytes = section_header();
        bytes.extend(interface(1, None)); // Ethernet, microseconds
        bytes.extend(interface(101, Some(9))); // raw IP, nanoseconds
        bytes.extend(enhanced(0, 2_500_000, b"eth"));
        bytes.extend(enhanced(1, 3_000_000_007, b"raw"));
        // A second section redefines interface 0 as Linux cooked v2 in 2^-10 s units.
        bytes.extend(section_header());
        bytes.extend(interface(276, Some(0x80 | 10)));
        bytes.extend(enhanced(0, 1536, b"sll2"));
        let (summary, packets) = read_all(&source("multi.pcapng", &bytes));
        assert_eq!(summary.format, "pcapng");
        assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
        let view: Vec<(u64, i64, LinkType)> = packets.iter().map(|p| (p.0, p.1, p.2)).collect();
        assert_eq!(
            view,
            vec![
                (1, 2_500_000_000, LinkType::ETHERNET),
                (2, 3_000_000_007, LinkType::RAW),
                (3, 1_500_000_000, LinkType::LINUX_SLL2),
            ]
        );
        assert_eq!(summary.link_types.len(), 3);
    }

    #[test]
    fn pcapng_packet_for_an_undescribed_interface_is_skipped_with_a_warning() {
        let mut bytes = section_header();
        bytes.extend(interface(1, None));
        bytes.extend(enhanced(3, 0, b"?"));
        bytes.extend(enhanced(0, 0, b"ok"));
        let (summary, packets) = read_all(&source("badif.pcapng", &bytes));
        assert_eq!(summary.packets, 2);
        assert_eq!(packets.len(), 1);
        assert_eq!(packets[0].0, 2, "numbering counts the skipped packet");
        assert_eq!(summary.warnings[0].packet, Some(1));
    }

    #[test]
    fn gzip_is_detected_by_magic_not_name() {
        let bytes = classic(false, false, 1, &[(1, 0, b"abc")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&bytes).expect("gzip");
        let compressed = gz.finish().expect("gzip");
        let (summary, packets) = read_all(&source("compressed.cap", &compressed));
        assert_eq!(summary.format, "pcap+gzip");
        assert_eq!(packets.len(), 1);
    }

    fn zstd(bytes: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(bytes, ruzstd::encoding::CompressionLevel::Fastest)
    }

    fn lz4(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
        encoder.write_all(bytes).expect("lz4");
        encoder.finish().expect("lz4")
    }

    #[test]
    fn zstd_and_lz4_read_the_same_packets_as_the_plain_file() {
        let records: Vec<(u32, u32, Vec<u8>)> = (0..300u32)
            .map(|i| (i, i * 7, vec![i as u8; 40 + (i as usize % 90)]))
            .collect();
        let borrowed: Vec<(u32, u32, &[u8])> =
            records.iter().map(|(s, f, d)| (*s, *f, &d[..])).collect();
        let bytes = classic(false, false, 1, &borrowed);
        let (plain_summary, plain) = read_all(&source("plain.pcap", &bytes));
        assert_eq!(plain.len(), 300);
        // Several frames one after another, as `pzstd` writes and `cat a.zst b.zst`
        // makes: all of them are read, not just the first.
        let (head, tail) = bytes.split_at(5000);
        for (name, compressed, format) in [
            ("one.zst", zstd(&bytes), "pcap+zstd"),
            ("frames.zst", [zstd(head), zstd(tail)].concat(), "pcap+zstd"),
            ("one.lz4", lz4(&bytes), "pcap+lz4"),
            ("frames.lz4", [lz4(head), lz4(tail)].concat(), "pcap+lz4"),
        ] {
            let (summary, packets) = read_all(&source(name, &compressed));
            assert_eq!(summary.format, format, "{name}");
            // Compared compactly: a failure prints counts, not every byte.
            assert_eq!(packets.len(), plain.len(), "{name}: {:?}", summary.warnings);
            assert!(packets == plain, "{name}: packets differ");
            assert_eq!(summary.warnings, plain_summary.warnings, "{name}");
        }
    }

    #[test]
    fn other_compressions_are_named_as_errors() {
        for (name, head, said) in [
            ("c.pcap.xz", &b"\xfd7zXZ\x00rest"[..], "xz-compressed"),
            ("c.pcap.bz2", &b"BZh91AY&SY"[..], "bzip2-compressed"),
            (
                "c.pcap.lz4",
                &[0x02, 0x21, 0x4c, 0x18, 0, 0][..],
                "legacy lz4-compressed",
            ),
        ] {
            let src = source(name, head);
            let err = read_packets(&src, Arc::new(AtomicU64::new(0)), |_| {
                ControlFlow::Continue(())
            })
            .expect_err(name);
            assert!(matches!(err, CaptureError::UnsupportedCompression { .. }));
            let text = err.to_string();
            assert!(text.starts_with(&format!("{src}: {said};")), "{text}");
        }
    }

    #[test]
    fn a_compressed_file_cut_in_its_first_block_is_a_read_error_not_empty() {
        let bytes = classic(false, false, 1, &[(1, 0, &[9u8; 3000])]);
        let compressed = lz4(&bytes);
        let cut = &compressed[..compressed.len() / 2];
        let err = read_packets(&source("cut.lz4", cut), Arc::new(AtomicU64::new(0)), |_| {
            ControlFlow::Continue(())
        })
        .expect_err("cut");
        assert!(err.to_string().contains("cannot read: lz4: "), "{err}");
    }

    /// Bug 11: time going backwards gave negative durations and no warning.
    #[test]
    fn timestamps_that_go_backwards_warn_once_naming_the_first_packet() {
        let bytes = classic(
            false,
            false,
            1,
            &[
                (10, 0, b"a"),
                (12, 0, b"b"),
                (11, 250_000, b"c"),
                (9, 0, b"d"),
                (13, 0, b"e"),
            ],
        );
        let (summary, packets) = read_all(&source("backwards.pcap", &bytes));
        assert_eq!(packets.len(), 5);
        let messages: Vec<&str> = summary
            .warnings
            .iter()
            .map(|w| w.message.as_str())
            .collect();
        assert_eq!(
            messages,
            vec![
                "packet 3: time goes backwards by 0.750000 s; 2 packets in all earlier than \
                 the one before (durations count to the latest time seen)"
            ]
        );
        assert_eq!(summary.warnings[0].packet, Some(3));
        assert_eq!(summary.last_ts, Some(Timestamp::from_nanos(13_000_000_000)));
    }

    /// An interface description with `if_tsresol` and `if_tsoffset` options.
    fn interface_with_offset(tsresol: u8, offset_secs: i64) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
        body.extend_from_slice(&9u16.to_le_bytes()); // if_tsresol
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&[tsresol, 0, 0, 0]);
        body.extend_from_slice(&14u16.to_le_bytes()); // if_tsoffset
        body.extend_from_slice(&8u16.to_le_bytes());
        body.extend_from_slice(&offset_secs.to_le_bytes());
        body.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
        block(1, &body)
    }

    /// Bug 11: a garbage interface timestamp was silently clamped to 2262.
    #[test]
    fn garbage_interface_timestamp_is_not_clamped_to_2262() {
        let mut bytes = section_header();
        // Interface 0 says seconds (if_tsresol 0) but its clock counts microseconds;
        // interface 1 has an offset that overflows any time.
        bytes.extend(interface_with_offset(6, 0));
        bytes.extend(interface_with_offset(0, 0));
        bytes.extend(interface_with_offset(6, i64::MAX - 5));
        bytes.extend(enhanced(0, 1_700_000_000_000_000, b"good"));
        bytes.extend(enhanced(1, 1_700_000_001_000_000, b"seconds?"));
        bytes.extend(enhanced(2, 1_000_000, b"offset"));
        bytes.extend(enhanced(0, 1_700_000_002_000_000, b"good"));
        let (summary, packets) = read_all(&source("garbage-ts.pcapng", &bytes));
        let times: Vec<i64> = packets.iter().map(|p| p.1).collect();
        let good = 1_700_000_000_000_000_000;
        assert_eq!(times, vec![good, good, good, good + 2_000_000_000]);
        assert_eq!(summary.warnings.len(), 1, "{:?}", summary.warnings);
        assert_eq!(summary.warnings[0].packet, Some(2));
        assert_eq!(
            summary.warnings[0].message,
            "packet 2: timestamp 1700000001000000 on interface 1 (units of 1/1 s, if_tsoffset \
             0 s) is past what any clock can mean; 2 such packets were given the time of the \
             packet before"
        );
        assert!(summary.last_ts < Some(Timestamp::from_nanos(i64::MAX / 2)));
    }

    #[test]
    fn record_longer_than_snaplen_warns_and_is_kept() {
        let mut bytes = classic(false, false, 1, &[(1, 0, &[7u8; 100])]);
        bytes[16..20].copy_from_slice(&64u32.to_le_bytes()); // snaplen 64
        let (summary, packets) = read_all(&source("snap.pcap", &bytes));
        assert_eq!(packets.len(), 1);
        assert_eq!(
            summary.warnings[0].message,
            "packet 1: captured length 100 exceeds the snap length 64"
        );
    }

    #[test]
    fn missing_and_unrecognised_files_are_errors() {
        let missing = Source::Path(PathBuf::from("/nonexistent/connscope.pcap"));
        let err = read_packets(&missing, Arc::new(AtomicU64::new(0)), |_| {
            ControlFlow::Continue(())
        })
        .expect_err("missing");
        assert!(err
            .to_string()
            .starts_with("/nonexistent/connscope.pcap: cannot open:"));
        let text = source("text.pcap", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let err = read_packets(&text, Arc::new(AtomicU64::new(0)), |_| {
            ControlFlow::Continue(())
        })
        .expect_err("text");
        assert!(matches!(err, CaptureError::NotACapture { .. }));
    }
}
