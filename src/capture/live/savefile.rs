//! The `--write` file: the classic pcap format (what libpcap's `pcap_dump` writes,
//! microsecond timestamps, host byte order), written to a file connscope opened itself.
//!
//! Why not libpcap's dumper: it opens the file by name, and `connscope live` must open
//! the file while still root and then give it away (`privilege`); handing libpcap an
//! already open descriptor takes `unsafe` code, which this crate forbids. The format
//! is a 24-byte header and a 16-byte header per packet, so writing it here is smaller
//! than any workaround.

use super::LinkType;
use std::fs::File;
use std::io::{self, BufWriter, Write};

/// libpcap's largest snapshot length, which it writes when asked for 0 or more.
const MAXIMUM_SNAPLEN: u32 = 262_144;

/// A pcap file being written, packet by packet.
pub struct Savefile {
    out: BufWriter<File>,
    /// The first write error: later packets are not written, `flush` reports it.
    failed: Option<io::Error>,
}

impl Savefile {
    /// Starts the file with the pcap header for `link_type` (a DLT from
    /// `pcap_datalink`) and `snaplen` as requested.
    pub fn new(file: File, link_type: LinkType, snaplen: i32) -> Savefile {
        let snaplen = u32::try_from(snaplen)
            .ok()
            .filter(|&s| s > 0 && s <= MAXIMUM_SNAPLEN)
            .unwrap_or(MAXIMUM_SNAPLEN);
        let mut header = [0u8; 24];
        header[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_ne_bytes());
        header[4..6].copy_from_slice(&2u16.to_ne_bytes());
        header[6..8].copy_from_slice(&4u16.to_ne_bytes());
        // thiszone and sigfigs: always 0.
        header[16..20].copy_from_slice(&snaplen.to_ne_bytes());
        header[20..24].copy_from_slice(&file_link_type(link_type).to_ne_bytes());
        let mut out = BufWriter::new(file);
        let failed = out.write_all(&header).err();
        Savefile { out, failed }
    }

    /// Appends one packet: its capture time, captured bytes and length on the wire.
    pub fn write(&mut self, secs: i64, micros: u32, data: &[u8], orig_len: u32) {
        if self.failed.is_some() {
            return;
        }
        let mut header = [0u8; 16];
        // The classic format has 32-bit seconds; libpcap truncates the same way.
        header[0..4].copy_from_slice(&(secs as u32).to_ne_bytes());
        header[4..8].copy_from_slice(&micros.to_ne_bytes());
        header[8..12].copy_from_slice(&(data.len() as u32).to_ne_bytes());
        header[12..16].copy_from_slice(&orig_len.to_ne_bytes());
        if let Err(e) = self
            .out
            .write_all(&header)
            .and_then(|()| self.out.write_all(data))
        {
            self.failed = Some(e);
        }
    }

    /// Writes out what is buffered; the first error of the whole file if there was one.
    pub fn flush(&mut self) -> io::Result<()> {
        match self.failed.take() {
            Some(e) => Err(e),
            None => self.out.flush(),
        }
    }
}

/// The LINKTYPE_ number a file carries for a DLT_ number, where they differ (libpcap's
/// `dlt_to_linktype`): the few DLTs whose numbers vary between systems.
fn file_link_type(dlt: LinkType) -> u32 {
    match dlt.0 {
        11 => 100, // DLT_ATM_RFC1483 → LINKTYPE_ATM_RFC1483
        #[cfg(not(target_os = "openbsd"))]
        12 => 101, // DLT_RAW → LINKTYPE_RAW
        #[cfg(target_os = "openbsd")]
        14 => 101, // DLT_RAW on OpenBSD
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::file::{read_packets, Source};
    use std::ops::ControlFlow;

    #[test]
    fn a_written_savefile_reads_back_packet_for_packet() {
        let frame = etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 80, 1, 1024)
            .syn();
        let mut data = Vec::new();
        frame.write(&mut data, &[]).expect("build");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.pcap");
        let mut file = Savefile::new(File::create(&path).expect("create"), LinkType(1), 0);
        file.write(1_700_000_000, 123_456, &data, data.len() as u32);
        file.write(1_700_000_001, 7, &data[..20], data.len() as u32);
        file.flush().expect("flush");
        drop(file);
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(bytes.len(), 24 + 16 + data.len() + 16 + 20);
        assert_eq!(&bytes[16..20], &MAXIMUM_SNAPLEN.to_ne_bytes());
        let mut seen = Vec::new();
        read_packets(&Source::Path(path), Default::default(), |packet| {
            seen.push((packet.link_type, packet.data.to_vec(), packet.orig_len));
            ControlFlow::Continue(())
        })
        .expect("a pcap file");
        assert_eq!(
            seen,
            vec![
                (LinkType(1), data.clone(), data.len() as u32),
                (LinkType(1), data[..20].to_vec(), data.len() as u32),
            ]
        );
    }

    #[test]
    fn raw_ip_is_written_with_its_file_link_type() {
        assert_eq!(file_link_type(LinkType(1)), 1);
        assert_eq!(file_link_type(LinkType(113)), 113);
        assert_eq!(file_link_type(LinkType(11)), 100);
        #[cfg(target_os = "linux")]
        assert_eq!(file_link_type(LinkType(12)), 101);
    }
}
