//! The floor: the least any tool must do to count TCP connections in a capture —
//! walk the file with pcap-parser, decode with etherparse, count 4-tuples in a HashMap.
//! `benches/compare` times connscope against it.
//!
//!     cargo bench --bench floor -- FILE.pcap
#![forbid(unsafe_code)]

use etherparse::{LaxSlicedPacket, TransportSlice};
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError};
use std::collections::HashMap;
use std::fs::File;
use std::net::IpAddr;
use std::time::Instant;

fn main() {
    let Some(path) = std::env::args().skip(1).find(|a| !a.starts_with('-')) else {
        eprintln!("usage: cargo bench --bench floor -- FILE.pcap");
        return;
    };
    let started = Instant::now();
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let Ok(mut reader) = LegacyPcapReader::new(1 << 20, file) else {
        eprintln!("{path}: not a classic pcap file");
        std::process::exit(2);
    };
    let mut flows: HashMap<(IpAddr, u16, IpAddr, u16), u64> = HashMap::new();
    let mut packets = 0u64;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                if let PcapBlockOwned::Legacy(b) = block {
                    packets += 1;
                    if let Some(key) = flow_of(b.data) {
                        *flows.entry(key).or_default() += 1;
                    }
                }
                reader.consume_noshift(offset); // refill shifts what is left
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "floor: {packets} packets, {} 4-tuples in {secs:.3} s ({:.2} Mpkt/s)",
        flows.len(),
        packets as f64 / secs / 1e6
    );
}

/// The canonical 4-tuple of a TCP packet on Ethernet.
fn flow_of(data: &[u8]) -> Option<(IpAddr, u16, IpAddr, u16)> {
    let p = LaxSlicedPacket::from_ethernet(data).ok()?;
    let Some(TransportSlice::Tcp(tcp)) = &p.transport else {
        return None;
    };
    let (src, dst) = match p.net.as_ref()? {
        etherparse::LaxNetSlice::Ipv4(v4) => (
            IpAddr::from(v4.header().source_addr()),
            IpAddr::from(v4.header().destination_addr()),
        ),
        etherparse::LaxNetSlice::Ipv6(v6) => (
            IpAddr::from(v6.header().source_addr()),
            IpAddr::from(v6.header().destination_addr()),
        ),
        _ => return None,
    };
    let a = (src, tcp.source_port());
    let b = (dst, tcp.destination_port());
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    Some((lo.0, lo.1, hi.0, hi.1))
}
