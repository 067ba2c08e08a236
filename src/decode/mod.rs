//! Decoding: link layer → IP → TCP, producing our own [`Segment`] or a typed
//! [`Skip`] reason. The only module that reads raw packet bytes (and the only one that
//! imports `etherparse`): it checks lengths once, so nothing downstream can index out
//! of bounds (smoltcp's "checked view, then plain Repr" idea).
//!
//! RFC 791 (IPv4), RFC 8200 (IPv6 and its extension headers), RFC 9293 (TCP header).
//! Not for TCP semantics (`flow`) or payload meaning (`analyzers`).

mod fragment;
mod ip;
mod link;
mod tunnel;

pub use ip::MAX_TUNNEL_DEPTH;
pub use tunnel::{Tunnel, TunnelKind};

use crate::capture::LinkType;
use crate::time::Timestamp;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;

/// TCP control flags, as on the wire (RFC 9293 §3.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;

    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

/// One TCP segment, decoded: the plain representation every later stage works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    /// The raw (unscaled) window field.
    pub window: u16,
    /// Window-scale shift from the options, present only on SYNs that carry it.
    pub window_scale: Option<u8>,
    /// Payload bytes that were captured (fewer than `payload_len` when the snap length
    /// cut the packet).
    pub payload: &'a [u8],
    /// Payload length according to the IP header: what was on the wire.
    pub payload_len: u32,
    /// The encapsulation the segment arrived in, if it was tunnelled.
    pub tunnel: Option<Tunnel>,
}

/// Why a packet carries no TCP segment we can use. Counted per input, never an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Skip {
    /// The file's link type is not one connscope decodes.
    UnsupportedLinkType(LinkType),
    // Link-layer reasons (decode/link.rs), kept in one block for easy merging.
    /// A Linux cooked capture (SLL/SLL2) from a device whose frames are not network
    /// packets connscope decodes (netlink, CAN, Frame Relay), by ARPHRD number.
    UnsupportedArphrd(u16),
    /// An ethertype that is neither IP nor a known non-IP protocol: possibly an
    /// encapsulation connscope cannot look inside.
    UnsupportedEthertype(u16),
    /// A PPP network-layer protocol other than IP and MPLS (IPX, bridged frames,
    /// Van Jacobson compressed TCP, …).
    UnsupportedPppProtocol(u16),
    /// An 802.11 data frame with the Protected bit: encrypted, and there are no keys.
    Encrypted80211,
    /// An 802.11 A-MSDU (several packets aggregated in one frame), not split here.
    UnsupportedAmsdu,
    // End of link-layer reasons.
    /// A link-layer frame carrying something other than IP (ARP, LLDP, …).
    NotIp,
    /// IP carrying something other than TCP (UDP, ICMP, …).
    NotTcp,
    /// An IP fragment held for reassembly (the one completing its datagram yields
    /// the segment instead), or any fragment when decoding without reassembly.
    IpFragment,
    /// The capture cut the packet before the end of its headers.
    Truncated,
    /// Headers that contradict themselves (bad IHL, data offset past the end, …).
    Malformed,
    /// Left out by `analyze --filter`.
    Filtered,
    // Tunnels and fragment reassembly.
    /// More encapsulation layers than [`MAX_TUNNEL_DEPTH`].
    TunnelTooDeep,
    /// An IP datagram whose fragments never all arrived (timed out, pushed out by
    /// newer ones, or unfinished at the end of the input). Counts datagrams, not
    /// packets: each of its fragments was already counted as `IpFragment`.
    FragmentsIncomplete,
}

impl Skip {
    /// Stable snake_case name used as a key in JSON (`inputs[].skipped`).
    pub fn key(self) -> String {
        match self {
            Skip::UnsupportedLinkType(lt) => format!("unsupported_link_type_{}", lt.0),
            Skip::UnsupportedArphrd(n) => format!("unsupported_arphrd_{n}"),
            Skip::UnsupportedEthertype(t) => format!("unsupported_ethertype_0x{t:04x}"),
            Skip::UnsupportedPppProtocol(p) => format!("unsupported_ppp_protocol_0x{p:04x}"),
            Skip::Encrypted80211 => "encrypted_802_11".into(),
            Skip::UnsupportedAmsdu => "unsupported_802_11_amsdu".into(),
            Skip::NotIp => "not_ip".into(),
            Skip::NotTcp => "not_tcp".into(),
            Skip::IpFragment => "ip_fragment".into(),
            Skip::Truncated => "truncated".into(),
            Skip::Malformed => "malformed".into(),
            Skip::Filtered => "filtered".into(),
            Skip::TunnelTooDeep => "tunnel_too_deep".into(),
            Skip::FragmentsIncomplete => "ip_fragments_incomplete".into(),
        }
    }
}

impl Skip {
    /// The warning an input gets once for all its packets skipped for this reason, or
    /// `None` for reasons that are ordinary traffic (ARP, UDP, …) or plain damage
    /// (truncated, malformed), which the `skipped` counts already tell.
    pub fn warning(self, count: u64) -> Option<String> {
        match self {
            // Worded as before: scripts and tests read this line.
            Skip::UnsupportedLinkType(lt) => Some(format!(
                "link type {} is not one connscope decodes; its {count} {} skipped",
                lt.0,
                if count == 1 {
                    "packet was"
                } else {
                    "packets were"
                }
            )),
            Skip::UnsupportedArphrd(_)
            | Skip::UnsupportedEthertype(_)
            | Skip::UnsupportedPppProtocol(_)
            | Skip::Encrypted80211
            | Skip::UnsupportedAmsdu
            | Skip::TunnelTooDeep => Some(format!(
                "{count} {} skipped: {self}",
                if count == 1 { "packet" } else { "packets" }
            )),
            Skip::FragmentsIncomplete => Some(format!(
                "{count} IP {} never reassembled: fragments missing from the capture",
                if count == 1 {
                    "datagram was"
                } else {
                    "datagrams were"
                }
            )),
            Skip::NotIp
            | Skip::NotTcp
            | Skip::IpFragment
            | Skip::Truncated
            | Skip::Malformed
            | Skip::Filtered => None,
        }
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::UnsupportedLinkType(lt) => write!(f, "unsupported link type {}", lt.0),
            Skip::UnsupportedArphrd(n) => {
                write!(f, "Linux cooked capture with ARPHRD {n} is not decoded")
            }
            Skip::UnsupportedEthertype(t) => write!(f, "ethertype 0x{t:04x} is not decoded"),
            Skip::UnsupportedPppProtocol(p) => write!(f, "PPP protocol 0x{p:04x} is not decoded"),
            Skip::Encrypted80211 => {
                f.write_str("802.11 frames with the Protected bit are encrypted (no keys)")
            }
            Skip::UnsupportedAmsdu => f.write_str("802.11 A-MSDU aggregates are not decoded"),
            Skip::NotIp => f.write_str("not IP"),
            Skip::NotTcp => f.write_str("not TCP"),
            Skip::IpFragment => f.write_str("IP fragment"),
            Skip::Truncated => f.write_str("truncated headers"),
            Skip::Malformed => f.write_str("malformed headers"),
            Skip::Filtered => f.write_str("filtered out"),
            Skip::TunnelTooDeep => f.write_str("tunnels nested too deep"),
            Skip::FragmentsIncomplete => f.write_str("IP datagram with fragments missing"),
        }
    }
}

/// Decodes one captured frame of the given link type down to its TCP segment, without
/// fragment reassembly (fragments are `Skip::IpFragment`); see [`Decoder`].
/// `orig_len` is the frame's length on the wire, of which `frame` may be a prefix.
pub fn decode(link_type: LinkType, frame: &[u8], orig_len: u32) -> Result<Segment<'_>, Skip> {
    let link::Network::Ip(network) = link::strip(link_type, frame)?;
    let uncaptured = (orig_len as usize).saturating_sub(frame.len());
    ip::decode_ip(network, uncaptured, &mut ip::Ctx::stateless())
}

/// Decoding with state across packets: IP fragments are reassembled, and the segment
/// of a completed datagram borrows the decoder until the next packet.
#[derive(Default)]
pub struct Decoder {
    frags: fragment::Reassembler,
}

impl Decoder {
    /// Decodes one frame captured at `ts` (see [`decode`]).
    pub fn decode<'a>(
        &'a mut self,
        link_type: LinkType,
        frame: &'a [u8],
        orig_len: u32,
        ts: Timestamp,
    ) -> Result<Segment<'a>, Skip> {
        self.frags.expire(ts);
        let link::Network::Ip(network) = link::strip(link_type, frame)?;
        let uncaptured = (orig_len as usize).saturating_sub(frame.len());
        let mut ctx = ip::Ctx {
            frags: Some(&mut self.frags),
            ts,
            tunnel: None,
        };
        ip::decode_ip(network, uncaptured, &mut ctx)
    }

    /// The input ended: adds the datagrams given up (including those still
    /// incomplete) to `skipped`.
    pub fn finish(&mut self, skipped: &mut BTreeMap<Skip, u64>) {
        let given_up = self.frags.finish();
        if given_up > 0 {
            *skipped.entry(Skip::FragmentsIncomplete).or_default() += given_up;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn ethernet_ipv4(payload: &[u8]) -> Vec<u8> {
        let builder = PacketBuilder::ethernet2([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 80, 1000, 65535)
            .ack(77)
            .psh();
        let mut out = Vec::new();
        builder.write(&mut out, payload).expect("build");
        out
    }

    #[test]
    fn decodes_ethernet_ipv4_tcp() {
        let frame = ethernet_ipv4(b"GET / HTTP/1.1\r\n\r\n");
        let seg = decode(LinkType::ETHERNET, &frame, frame.len() as u32).expect("tcp");
        assert_eq!(seg.src, "10.0.0.1:40000".parse().unwrap());
        assert_eq!(seg.dst, "10.0.0.2:80".parse().unwrap());
        assert_eq!(seg.seq, 1000);
        assert_eq!(seg.ack, 77);
        assert!(seg.flags.ack() && !seg.flags.syn());
        assert_eq!(seg.payload, b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(seg.payload_len, 18);
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        let mut frame = ethernet_ipv4(b"");
        frame.extend_from_slice(&[0u8; 6]); // pad to the 60-byte minimum
        let seg = decode(LinkType::ETHERNET, &frame, frame.len() as u32).expect("tcp");
        assert_eq!(seg.payload_len, 0);
        assert!(seg.payload.is_empty());
    }

    #[test]
    fn snap_length_cut_keeps_wire_length() {
        let frame = ethernet_ipv4(&[b'x'; 100]);
        let cut = &frame[..frame.len() - 60];
        let seg = decode(LinkType::ETHERNET, cut, frame.len() as u32).expect("tcp");
        assert_eq!(seg.payload_len, 100);
        assert_eq!(seg.payload.len(), 40);
    }

    #[test]
    fn cut_inside_tcp_header_is_truncated() {
        let frame = ethernet_ipv4(b"");
        assert_eq!(
            decode(LinkType::ETHERNET, &frame[..14 + 20 + 10], 60),
            Err(Skip::Truncated)
        );
    }

    #[test]
    fn options_cut_by_snap_length_still_decode() {
        let builder = PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 25, 7, 5840)
            .syn()
            .options(&[
                etherparse::TcpOptionElement::MaximumSegmentSize(1460),
                etherparse::TcpOptionElement::WindowScale(7),
            ])
            .expect("options");
        let mut out = Vec::new();
        builder.write(&mut out, b"").expect("build");
        let cut = &out[..20 + 22];
        let seg = decode(LinkType::RAW, cut, out.len() as u32).expect("fixed header is enough");
        assert!(seg.flags.syn());
        assert_eq!(seg.seq, 7);
        assert_eq!(seg.payload_len, 0);
    }

    #[test]
    fn ip_length_beyond_the_frame_is_not_believed() {
        // IPv4 total length claims 6 bytes more than the frame had on the wire.
        let mut frame = ethernet_ipv4(&[b'y'; 50]);
        let total = u16::from_be_bytes([frame[16], frame[17]]) + 6;
        frame[16..18].copy_from_slice(&total.to_be_bytes());
        let seg = decode(LinkType::ETHERNET, &frame, frame.len() as u32).expect("tcp");
        assert_eq!(seg.payload_len, 50);
    }

    #[test]
    fn llc_snap_frames_carry_ip() {
        let full = ethernet_ipv4(b"hi");
        let mut frame = full[..12].to_vec();
        let ip = &full[14..];
        frame.extend_from_slice(&((ip.len() + 8) as u16).to_be_bytes());
        frame.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
        frame.extend_from_slice(ip);
        let seg = decode(LinkType::ETHERNET, &frame, frame.len() as u32).expect("tcp");
        assert_eq!(seg.payload, b"hi");
    }

    #[test]
    fn udp_is_not_tcp() {
        let builder = PacketBuilder::ipv6([1; 16], [2; 16], 64).udp(53, 53);
        let mut out = Vec::new();
        builder.write(&mut out, b"q").expect("build");
        assert_eq!(
            decode(LinkType::RAW, &out, out.len() as u32),
            Err(Skip::NotTcp)
        );
    }

    #[test]
    fn unknown_link_type_is_a_skip() {
        assert_eq!(
            decode(LinkType(147), &[0u8; 40], 40),
            Err(Skip::UnsupportedLinkType(LinkType(147)))
        );
    }
}
