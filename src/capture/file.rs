//! Reads capture files with `pcap-parser`, in pure Rust: classic pcap (either byte
//! order, micro- or nanosecond timestamps), pcapng (several sections, several
//! interfaces each with its own link type, `if_tsresol` and `if_tsoffset`), either one
//! gzip-compressed (detected by magic bytes, not by name), from a path or from stdin.
//!
//! Not for decoding packets (that is `decode`). Damage inside a file is not an error:
//! reading stops at the damage and the [`ReadSummary`] carries a warning naming the
//! packet, so everything before it is still analysed. Only a file that cannot be
//! opened, or is no capture at all, is a [`CaptureError`].

use super::{LinkType, RawPacket};
use crate::time::Timestamp;
use flate2::bufread::MultiGzDecoder;
use pcap_parser::pcapng::Block;
use pcap_parser::{create_reader, PcapBlockOwned, PcapError};
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
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A capture to read: a file, or standard input (`-` on the command line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Path(PathBuf),
    Stdin,
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
        }
    }
}

/// Why a capture could not be read at all.
#[derive(Debug)]
pub enum CaptureError {
    Open { source: Source, error: io::Error },
    Empty { source: Source },
    NotACapture { source: Source },
    Read { source: Source, error: String },
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
            CaptureError::Read { source, error } => write!(f, "{source}: cannot read: {error}"),
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
    /// `pcap`, `pcap-nsec`, `pcapng`, with `+gzip` when compressed.
    pub format: String,
    pub link_types: BTreeSet<LinkType>,
    pub packets: u64,
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

/// Keeps the underlying I/O error, which `pcap-parser` flattens to `ReadError`.
struct ErrorKeepingReader<R> {
    inner: R,
    last_error: Arc<Mutex<Option<String>>>,
}

impl<R: Read> Read for ErrorKeepingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let result = self.inner.read(buf);
        if let Err(e) = &result {
            if let Ok(mut slot) = self.last_error.lock() {
                *slot = Some(e.to_string());
            }
        }
        result
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

/// Opens `source` and returns a reader positioned at its first byte, gunzipping
/// transparently, plus whether it was compressed.
fn open(
    source: &Source,
    bytes_read: Arc<AtomicU64>,
) -> Result<(Box<dyn Read + Send>, bool), CaptureError> {
    let raw: Box<dyn Read + Send> = match source {
        Source::Path(path) => Box::new(File::open(path).map_err(|error| CaptureError::Open {
            source: source.clone(),
            error,
        })?),
        Source::Stdin => Box::new(io::stdin()),
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
        Ok((Box::new(MultiGzDecoder::new(buffered)), true))
    } else {
        Ok((Box::new(buffered), false))
    }
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
    let (input, gzip) = open(source, bytes_read)?;
    let last_error = Arc::new(Mutex::new(None));
    let input = ErrorKeepingReader {
        inner: input,
        last_error: Arc::clone(&last_error),
    };
    let io_error = || last_error.lock().ok().and_then(|e| e.clone());
    let mut reader = match create_reader(READ_BUFFER, input) {
        Ok(r) => r,
        Err(PcapError::Eof) => {
            return Err(CaptureError::Empty {
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
                        None
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        let units_per_sec = idb.ts_resolution().unwrap_or_else(|| {
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
                                let secs = (raw / units) as i64 + iface.offset_secs;
                                let ts = Timestamp::from_parts(secs, raw % units, units);
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
                    last_ts = ts;
                    let raw = RawPacket {
                        number: next_number,
                        ts,
                        link_type: iface.link_type,
                        data,
                        orig_len,
                    };
                    if visit(&raw).is_break() {
                        break;
                    }
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                stalls += 1;
                let refilled = reader.refill();
                if refilled.is_err() || stalls > 2 {
                    summary.truncated = true;
                    let why = io_error().unwrap_or_else(|| "read failed".into());
                    summary.warn(
                        Some(next_number),
                        format!("packet {next_number}: cannot read further: {why}; analysed the {} packets before it", summary.packets),
                    );
                    break;
                }
            }
            Err(PcapError::UnexpectedEof) => {
                summary.truncated = true;
                let why = match io_error() {
                    Some(e) => format!("the compressed stream is damaged ({e})"),
                    None => "the file ends in the middle of its record (truncated capture)".into(),
                };
                summary.warn(
                    Some(next_number),
                    format!(
                        "packet {next_number}: {why}; analysed the {} packets before it",
                        summary.packets
                    ),
                );
                break;
            }
            Err(PcapError::BufferTooSmall) => {
                summary.truncated = true;
                summary.warn(
                    Some(next_number),
                    format!(
                        "packet {next_number}: record claims more than {} bytes, so the file is corrupt from here; analysed the {} packets before it",
                        READ_BUFFER, summary.packets
                    ),
                );
                break;
            }
            Err(PcapError::ReadError) => {
                summary.truncated = true;
                let why = io_error().unwrap_or_else(|| "read failed".into());
                summary.warn(
                    Some(next_number),
                    format!("packet {next_number}: cannot read further: {why}; analysed the {} packets before it", summary.packets),
                );
                break;
            }
            Err(e) => {
                summary.truncated = true;
                let what = match e {
                    PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
                        format!("malformed record ({kind:?})")
                    }
                    other => format!("{other:?}"),
                };
                summary.warn(
                    Some(next_number),
                    format!("packet {next_number}: {what}, so the file is corrupt from here; analysed the {} packets before it", summary.packets),
                );
                break;
            }
        }
    }
    summary.format = if gzip {
        format!("{format}+gzip")
    } else {
        format.to_string()
    };
    Ok(summary)
}
