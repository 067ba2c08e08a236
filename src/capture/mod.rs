//! Where packets come from: a capture file (`file`) or a live interface (`live`), both
//! behind one [`PacketSource`] that yields [`RawPacket`]s numbered from 1 in capture
//! order, as Wireshark numbers frames. What is done with the packets is the driver's
//! business (`app::driver`), not this module's.
//!
//! Nothing from `pcap-parser` leaves this module: downstream code sees our own
//! [`LinkType`], [`Timestamp`] and byte slices.

pub mod file;
#[cfg(feature = "live")]
pub mod live;

use crate::time::Timestamp;
use file::{CaptureError, ReadSummary, Source};
use std::fmt;
use std::ops::ControlFlow;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// A link-layer header type from the tcpdump.org registry. A newtype rather than an
/// enum so that values we do not decode survive to be reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const PPP: LinkType = LinkType(9);
    /// OpenBSD's DLT_RAW value, seen in old captures.
    pub const RAW_OPENBSD: LinkType = LinkType(12);
    /// BSD/OS's DLT_RAW value.
    pub const RAW_BSDOS: LinkType = LinkType(14);
    /// PPP in HDLC-like framing (RFC 1662), or Cisco PPP.
    pub const PPP_HDLC: LinkType = LinkType(50);
    /// PPPoE session packets without their Ethernet header.
    pub const PPP_ETHER: LinkType = LinkType(51);
    pub const RAW: LinkType = LinkType(101);
    /// Cisco HDLC.
    pub const C_HDLC: LinkType = LinkType(104);
    pub const IEEE802_11: LinkType = LinkType(105);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// 802.11 behind a Prism monitor-mode header (or an AVS header, told by its magic).
    pub const IEEE802_11_PRISM: LinkType = LinkType(119);
    pub const IEEE802_11_RADIOTAP: LinkType = LinkType(127);
    /// 802.11 behind an AVS monitor-mode header.
    pub const IEEE802_11_AVS: LinkType = LinkType(163);
    /// pppd's PPP in HDLC-like framing, after a direction byte.
    pub const PPP_PPPD: LinkType = LinkType(166);
    /// Per-Packet Information: a header naming the link type that follows.
    pub const PPI: LinkType = LinkType(192);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const NFLOG: LinkType = LinkType(239);
    /// Apple PKTAP: a metadata header, then a frame of another link type.
    pub const PKTAP: LinkType = LinkType(258);
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// The short name tcpdump and Wireshark use (`EN10MB`, `LINUX_SLL2`, …).
    pub fn name(self) -> String {
        let known = match self {
            LinkType::NULL => "NULL",
            LinkType::ETHERNET => "EN10MB",
            LinkType::RAW_OPENBSD | LinkType::RAW_BSDOS | LinkType::RAW => "RAW",
            LinkType::LOOP => "LOOP",
            LinkType::LINUX_SLL => "LINUX_SLL",
            LinkType::IPV4 => "IPV4",
            LinkType::IPV6 => "IPV6",
            LinkType::NFLOG => "NFLOG",
            LinkType::LINUX_SLL2 => "LINUX_SLL2",
            LinkType::PPP => "PPP",
            LinkType::PPP_HDLC => "PPP_HDLC",
            LinkType::PPP_ETHER => "PPP_ETHER",
            LinkType::C_HDLC => "C_HDLC",
            LinkType::IEEE802_11 => "IEEE802_11",
            LinkType::IEEE802_11_RADIOTAP => "IEEE802_11_RADIOTAP",
            LinkType::PKTAP => "PKTAP",
            LinkType::IEEE802_11_PRISM => "IEEE802_11_PRISM",
            LinkType::IEEE802_11_AVS => "IEEE802_11_AVS",
            LinkType::PPP_PPPD => "PPP_PPPD",
            LinkType::PPI => "PPI",
            LinkType(other) => return format!("LINKTYPE_{other}"),
        };
        known.to_string()
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// One captured packet, borrowed from the reader's buffer.
#[derive(Clone, Copy, Debug)]
pub struct RawPacket<'a> {
    /// 1-based position in its file, counting packet records only.
    pub number: u64,
    pub ts: Timestamp,
    pub link_type: LinkType,
    /// The captured bytes (possibly fewer than were on the wire).
    pub data: &'a [u8],
    /// Length on the wire.
    pub orig_len: u32,
}

/// Where the packets of one run come from.
pub enum PacketSource {
    /// A capture file, or standard input (`-`).
    File(Source),
    /// An open interface: packets until the caller says stop or the interface goes.
    #[cfg(feature = "live")]
    Live(live::Live),
}

/// What a source hands its reader.
pub enum Event<'p, 'a> {
    Packet(&'p RawPacket<'a>),
    /// A file's embedded TLS key log (pcapng Decryption Secrets Block): its keys are
    /// for the packets after it.
    TlsKeyLog(&'a [u8]),
    /// A live source is about to wait for the next packet: a chance to refresh a
    /// display, expire idle connections or stop. Files never pause.
    #[cfg(feature = "live")]
    Pause(&'p mut live::Live),
}

impl PacketSource {
    /// The name the report gives this input: the file's path, or `live:IFACE`.
    pub fn name(&self) -> String {
        match self {
            PacketSource::File(source) => source.to_string(),
            #[cfg(feature = "live")]
            PacketSource::Live(live) => format!("live:{}", live.interface),
        }
    }

    /// Hands every packet to `visit`, in order, until the source ends or `visit`
    /// returns `Break`. `bytes_read` counts the file bytes taken so far (progress).
    pub fn for_each(
        &mut self,
        bytes_read: Arc<AtomicU64>,
        mut visit: impl FnMut(Event<'_, '_>) -> ControlFlow<()>,
    ) -> Result<ReadSummary, CaptureError> {
        match self {
            PacketSource::File(source) => file::read_items(source, bytes_read, |item| match item {
                file::Item::Packet(packet) => visit(Event::Packet(packet)),
                file::Item::TlsKeyLog(text) => visit(Event::TlsKeyLog(text)),
            }),
            #[cfg(feature = "live")]
            PacketSource::Live(live) => Ok(live.for_each(visit)),
        }
    }
}
