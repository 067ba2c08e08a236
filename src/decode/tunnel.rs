//! Tunnels: recognising an encapsulation inside an IP payload and finding the packet
//! it carries, so the inner TCP connection is tracked (keyed by its own 4-tuple, as
//! Zeek does) while the outer endpoints stay on the record as [`Tunnel`].
//!
//! IP in IP (RFC 2003, RFC 4213: protocols 4 and 41), GRE (RFC 2784 with the key and
//! sequence fields of RFC 2890), ERSPAN types I–III inside GRE
//! (draft-foschiano-erspan), VXLAN (RFC 7348, UDP port 4789) and Geneve (RFC 8926,
//! UDP port 6081). Only the header fields needed to reach the inner packet are read;
//! etherparse parses none of these headers, and each is a handful of fixed bytes.
//! Not for the inner Ethernet frame (that is `link::ethernet`) nor the depth limit
//! (the caller in `ip` counts layers).

use super::Skip;
use std::net::IpAddr;

/// The kind of encapsulation around a connection's packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TunnelKind {
    /// IPv4 or IPv6 directly inside IPv4 or IPv6 (4in4, 6in4, 4in6, 6in6).
    IpInIp,
    Gre,
    /// ERSPAN mirrored traffic inside GRE.
    Erspan,
    Vxlan,
    Geneve,
}

impl TunnelKind {
    /// Stable snake_case name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            TunnelKind::IpInIp => "ip_in_ip",
            TunnelKind::Gre => "gre",
            TunnelKind::Erspan => "erspan",
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::Geneve => "geneve",
        }
    }
}

/// The outermost encapsulation of a packet, and how many layers there were in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tunnel {
    pub kind: TunnelKind,
    /// The outer IP header's source and destination.
    pub outer_src: IpAddr,
    pub outer_dst: IpAddr,
    /// The virtual network id: VXLAN/Geneve VNI, GRE key, or ERSPAN session id.
    pub id: Option<u32>,
    /// Encapsulation layers around the inner packet (1 for a plain tunnel).
    pub layers: u8,
}

/// What an encapsulation carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Inner<'a> {
    /// An IPv4 or IPv6 packet.
    Ip(&'a [u8]),
    /// An Ethernet frame (possibly VLAN-tagged).
    Ethernet(&'a [u8]),
}

/// One recognised encapsulation layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Layer<'a> {
    pub kind: TunnelKind,
    pub id: Option<u32>,
    pub inner: Inner<'a>,
}

const PROTO_IPV4: u8 = 4;
const PROTO_UDP: u8 = 17;
const PROTO_IPV6: u8 = 41;
const PROTO_GRE: u8 = 47;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
/// Transparent Ethernet bridging (NVGRE, Geneve's usual payload).
const ETHERTYPE_TEB: u16 = 0x6558;
const ETHERTYPE_ERSPAN_2: u16 = 0x88be;
const ETHERTYPE_ERSPAN_3: u16 = 0x22eb;

const PORT_VXLAN: u16 = 4789;
const PORT_GENEVE: u16 = 6081;

/// The encapsulation in an IP payload of protocol `protocol`, or `NotTcp` when the
/// payload is some other non-TCP protocol (the skip it always was).
pub(super) fn layer(protocol: u8, payload: &[u8]) -> Result<Layer<'_>, Skip> {
    match protocol {
        PROTO_IPV4 | PROTO_IPV6 => Ok(Layer {
            kind: TunnelKind::IpInIp,
            id: None,
            inner: Inner::Ip(payload),
        }),
        PROTO_GRE => gre(payload),
        PROTO_UDP => udp(payload),
        _ => Err(Skip::NotTcp),
    }
}

/// RFC 2784 / RFC 2890: flags and version (2 bytes), protocol type (2), then the
/// checksum+reserved word (C), key (K) and sequence number (S) when their bits are set.
fn gre(bytes: &[u8]) -> Result<Layer<'_>, Skip> {
    let fixed = bytes.get(..4).ok_or(Skip::Truncated)?;
    let (flags, version) = (fixed[0], fixed[1] & 0x07);
    let protocol = u16::from_be_bytes([fixed[2], fixed[3]]);
    let (checksum, routing, key, sequence) = (
        flags & 0x80 != 0,
        flags & 0x40 != 0,
        flags & 0x20 != 0,
        flags & 0x10 != 0,
    );
    // Version 1 is PPTP's enhanced GRE (PPP inside); RFC 1701 source routing is
    // obsolete. Neither carries a packet we decode.
    if version != 0 || routing {
        return Err(Skip::NotTcp);
    }
    let mut offset = 4;
    if checksum {
        offset += 4;
    }
    let key_value = if key {
        let k = bytes.get(offset..offset + 4).ok_or(Skip::Truncated)?;
        offset += 4;
        Some(u32::from_be_bytes([k[0], k[1], k[2], k[3]]))
    } else {
        None
    };
    if sequence {
        offset += 4;
    }
    let rest = bytes.get(offset..).ok_or(Skip::Truncated)?;
    let gre = |inner| {
        Ok(Layer {
            kind: TunnelKind::Gre,
            id: key_value,
            inner,
        })
    };
    match protocol {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => gre(Inner::Ip(rest)),
        ETHERTYPE_TEB => gre(Inner::Ethernet(rest)),
        // Type I has no ERSPAN header and no GRE sequence number; type II has both.
        ETHERTYPE_ERSPAN_2 if !sequence => erspan(rest, 0, None),
        ETHERTYPE_ERSPAN_2 => {
            let h = rest.get(..8).ok_or(Skip::Truncated)?;
            erspan(rest, 8, Some(session_id(h)))
        }
        ETHERTYPE_ERSPAN_3 => {
            // Type III: 12 bytes, then an 8-byte platform subheader when O is set.
            let h = rest.get(..12).ok_or(Skip::Truncated)?;
            let len = if h[11] & 0x01 != 0 { 20 } else { 12 };
            erspan(rest, len, Some(session_id(h)))
        }
        _ => Err(Skip::NotTcp),
    }
}

/// The 10-bit session id in the second 16-bit word of ERSPAN II and III headers.
fn session_id(header: &[u8]) -> u32 {
    u32::from(header[2] & 0x03) << 8 | u32::from(header[3])
}

fn erspan(rest: &[u8], header_len: usize, session: Option<u32>) -> Result<Layer<'_>, Skip> {
    Ok(Layer {
        kind: TunnelKind::Erspan,
        id: session,
        inner: Inner::Ethernet(rest.get(header_len..).ok_or(Skip::Truncated)?),
    })
}

/// UDP to the VXLAN or Geneve port; any other UDP stays `NotTcp`. The payload ends
/// where the UDP length says (or at the end of what was captured).
fn udp(bytes: &[u8]) -> Result<Layer<'_>, Skip> {
    let Some(h) = bytes.get(..8) else {
        return Err(Skip::NotTcp);
    };
    let dst_port = u16::from_be_bytes([h[2], h[3]]);
    let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
    let end = if len >= 8 {
        len.min(bytes.len())
    } else {
        bytes.len()
    };
    let payload = &bytes[8..end];
    match dst_port {
        PORT_VXLAN => vxlan(payload),
        PORT_GENEVE => geneve(payload),
        _ => Err(Skip::NotTcp),
    }
}

/// RFC 7348: flags (I = 0x08 says the VNI is valid), 24 reserved bits, 24-bit VNI,
/// 8 reserved bits; then an Ethernet frame. Without the I flag it is not VXLAN.
fn vxlan(bytes: &[u8]) -> Result<Layer<'_>, Skip> {
    let h = bytes.get(..8).ok_or(Skip::Truncated)?;
    if h[0] & 0x08 == 0 {
        return Err(Skip::NotTcp);
    }
    Ok(Layer {
        kind: TunnelKind::Vxlan,
        id: Some(u32::from_be_bytes([0, h[4], h[5], h[6]])),
        inner: Inner::Ethernet(&bytes[8..]),
    })
}

/// RFC 8926: version (2 bits, must be 0) and options length in 4-byte words (6 bits),
/// O/C flags, protocol type (an EtherType), 24-bit VNI, reserved; then the options.
fn geneve(bytes: &[u8]) -> Result<Layer<'_>, Skip> {
    let h = bytes.get(..8).ok_or(Skip::Truncated)?;
    if h[0] >> 6 != 0 {
        return Err(Skip::NotTcp);
    }
    let options = usize::from(h[0] & 0x3f) * 4;
    let rest = bytes.get(8 + options..).ok_or(Skip::Truncated)?;
    let inner = match u16::from_be_bytes([h[2], h[3]]) {
        ETHERTYPE_TEB => Inner::Ethernet(rest),
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Inner::Ip(rest),
        _ => return Err(Skip::NotTcp),
    };
    Ok(Layer {
        kind: TunnelKind::Geneve,
        id: Some(u32::from_be_bytes([0, h[4], h[5], h[6]])),
        inner,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::LinkType;
    use crate::decode::{decode, Segment, MAX_TUNNEL_DEPTH};
    use etherparse::{IpNumber, PacketBuilder};

    const OUTER_A: [u8; 4] = [192, 0, 2, 1];
    const OUTER_B: [u8; 4] = [192, 0, 2, 2];
    const OUTER_A6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const OUTER_B6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

    /// The tunnelled connection: 172.16.0.1:40000 → 172.16.0.2:80, a request.
    fn inner_ipv4() -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ipv4([172, 16, 0, 1], [172, 16, 0, 2], 64)
            .tcp(40000, 80, 1000, 65535)
            .ack(5)
            .write(&mut out, b"GET / HTTP/1.1\r\n\r\n")
            .expect("build");
        out
    }

    fn inner_ipv6() -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 64)
            .tcp(40000, 443, 7, 65535)
            .syn()
            .write(&mut out, b"")
            .expect("build");
        out
    }

    /// The inner packet in an Ethernet frame with one 802.1Q tag.
    fn inner_ethernet_vlan() -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([3; 6], [4; 6])
            .single_vlan(100.try_into().expect("vlan id"))
            .ipv4([172, 16, 0, 1], [172, 16, 0, 2], 64)
            .tcp(40000, 80, 1000, 65535)
            .ack(5)
            .write(&mut out, b"GET / HTTP/1.1\r\n\r\n")
            .expect("build");
        out
    }

    fn over_ipv4(protocol: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(OUTER_A, OUTER_B, 64)
            .write(&mut out, IpNumber(protocol), payload)
            .expect("build");
        out
    }

    fn over_ipv6(protocol: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv6(OUTER_A6, OUTER_B6, 64)
            .write(&mut out, IpNumber(protocol), payload)
            .expect("build");
        out
    }

    fn over_udp(port: u16, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(OUTER_A, OUTER_B, 64)
            .udp(51000, port)
            .write(&mut out, payload)
            .expect("build");
        out
    }

    fn decoded(frame: &[u8]) -> Result<Segment<'_>, Skip> {
        decode(LinkType::ETHERNET, frame, frame.len() as u32)
    }

    /// The inner IPv4 connection came through, with the given outermost tunnel.
    fn assert_inner_v4(frame: &[u8], kind: TunnelKind, id: Option<u32>) {
        let seg = decoded(frame).expect("inner TCP");
        assert_eq!(seg.src, "172.16.0.1:40000".parse().unwrap());
        assert_eq!(seg.dst, "172.16.0.2:80".parse().unwrap());
        assert_eq!(seg.payload, b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(seg.payload_len, 18);
        let tunnel = seg.tunnel.expect("tunnel recorded");
        assert_eq!(tunnel.kind, kind);
        assert_eq!(tunnel.id, id);
        assert_eq!(tunnel.layers, 1);
        assert_eq!(tunnel.outer_src, IpAddr::from(OUTER_A));
        assert_eq!(tunnel.outer_dst, IpAddr::from(OUTER_B));
    }

    #[test]
    fn ip_in_ip_all_four_combinations_yield_the_inner_connection() {
        let seg4in4 = over_ipv4(4, &inner_ipv4());
        assert_inner_v4(&seg4in4, TunnelKind::IpInIp, None);
        let v6in4 = over_ipv4(41, &inner_ipv6());
        let v4in6 = over_ipv6(4, &inner_ipv4());
        let v6in6 = over_ipv6(41, &inner_ipv6());
        for (frame, outer_src) in [
            (&v6in4, IpAddr::from(OUTER_A)),
            (&v4in6, IpAddr::from(OUTER_A6)),
            (&v6in6, IpAddr::from(OUTER_A6)),
        ] {
            let seg = decoded(frame).expect("inner TCP");
            let tunnel = seg.tunnel.expect("tunnel");
            assert_eq!(tunnel.kind, TunnelKind::IpInIp);
            assert_eq!(tunnel.outer_src, outer_src);
            assert!(matches!(seg.dst.port(), 80 | 443));
        }
    }

    #[test]
    fn plain_tcp_has_no_tunnel() {
        let mut frame = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(OUTER_A, OUTER_B, 64)
            .tcp(1, 2, 3, 4)
            .write(&mut frame, b"")
            .expect("build");
        assert_eq!(decoded(&frame).expect("tcp").tunnel, None);
    }

    #[test]
    fn gre_with_checksum_key_and_sequence_carries_ipv4() {
        // C, K and S set: 4 fixed + checksum word + key + sequence = 16 bytes.
        let mut gre = vec![
            0xb0, 0x00, 0x08, 0x00, 0xaa, 0xbb, 0, 0, 0, 0, 0, 42, 0, 0, 0, 9,
        ];
        gre.extend_from_slice(&inner_ipv4());
        assert_inner_v4(&over_ipv4(47, &gre), TunnelKind::Gre, Some(42));
    }

    #[test]
    fn gre_transparent_ethernet_bridging_carries_a_vlan_tagged_frame() {
        let mut gre = vec![0x00, 0x00, 0x65, 0x58];
        gre.extend_from_slice(&inner_ethernet_vlan());
        assert_inner_v4(&over_ipv4(47, &gre), TunnelKind::Gre, None);
    }

    #[test]
    fn gre_version_1_pptp_is_not_tcp() {
        let mut gre = vec![0x30, 0x01, 0x88, 0x0b, 0, 0, 0, 0, 0, 0, 0, 1];
        gre.extend_from_slice(&inner_ipv4());
        assert_eq!(decoded(&over_ipv4(47, &gre)), Err(Skip::NotTcp));
    }

    #[test]
    fn erspan_type_ii_skips_its_8_byte_header() {
        // GRE with S (type II always has a sequence number), then ERSPAN II:
        // version 1, VLAN 0, session id 0x155.
        let mut gre = vec![0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 1];
        gre.extend_from_slice(&[0x10, 0x00, 0x01, 0x55, 0, 0, 0, 0]);
        gre.extend_from_slice(&inner_ethernet_vlan());
        assert_inner_v4(&over_ipv4(47, &gre), TunnelKind::Erspan, Some(0x155));
    }

    #[test]
    fn erspan_type_i_has_no_header() {
        let mut gre = vec![0x00, 0x00, 0x88, 0xbe];
        gre.extend_from_slice(&inner_ethernet_vlan());
        assert_inner_v4(&over_ipv4(47, &gre), TunnelKind::Erspan, None);
    }

    #[test]
    fn erspan_type_iii_with_platform_subheader() {
        let mut gre = vec![0x10, 0x00, 0x22, 0xeb, 0, 0, 0, 1];
        // version 2, session 7, timestamp, then SGT/flags with O set (last bit).
        gre.extend_from_slice(&[0x20, 0x00, 0x00, 0x07, 1, 2, 3, 4, 0, 0, 0, 0x01]);
        gre.extend_from_slice(&[0xff; 8]); // platform-specific subheader
        gre.extend_from_slice(&inner_ethernet_vlan());
        assert_inner_v4(&over_ipv4(47, &gre), TunnelKind::Erspan, Some(7));
        // Without O the Ethernet frame follows the 12 bytes directly.
        let mut gre = vec![0x10, 0x00, 0x22, 0xeb, 0, 0, 0, 1];
        gre.extend_from_slice(&[0x20, 0x00, 0x00, 0x07, 1, 2, 3, 4, 0, 0, 0, 0x00]);
        gre.extend_from_slice(&inner_ethernet_vlan());
        assert_inner_v4(&over_ipv4(47, &gre), TunnelKind::Erspan, Some(7));
    }

    #[test]
    fn vxlan_gives_the_vni_and_the_inner_ethernet_frame() {
        let mut vxlan = vec![0x08, 0, 0, 0, 0x00, 0x00, 0x2a, 0];
        vxlan.extend_from_slice(&inner_ethernet_vlan());
        assert_inner_v4(&over_udp(4789, &vxlan), TunnelKind::Vxlan, Some(42));
    }

    #[test]
    fn vxlan_without_the_i_flag_and_other_udp_stay_not_tcp() {
        let mut vxlan = vec![0x00, 0, 0, 0, 0x00, 0x00, 0x2a, 0];
        vxlan.extend_from_slice(&inner_ethernet_vlan());
        assert_eq!(decoded(&over_udp(4789, &vxlan)), Err(Skip::NotTcp));
        assert_eq!(decoded(&over_udp(53, &inner_ipv4())), Err(Skip::NotTcp));
    }

    #[test]
    fn geneve_options_are_skipped() {
        // Options length 2 words (8 bytes), protocol 0x6558, VNI 0x010203.
        let mut geneve = vec![0x02, 0x00, 0x65, 0x58, 0x01, 0x02, 0x03, 0];
        geneve.extend_from_slice(&[0x01, 0x02, 0x03, 0x01, 9, 9, 9, 9]);
        geneve.extend_from_slice(&inner_ethernet_vlan());
        assert_inner_v4(&over_udp(6081, &geneve), TunnelKind::Geneve, Some(0x010203));
    }

    #[test]
    fn nested_tunnels_keep_the_outermost_and_count_layers() {
        // VXLAN inside GRE inside IP in IP.
        let mut vxlan = vec![0x08, 0, 0, 0, 0, 0, 5, 0];
        vxlan.extend_from_slice(&inner_ethernet_vlan());
        let mut udp_packet = Vec::new();
        PacketBuilder::ipv4([10, 9, 9, 1], [10, 9, 9, 2], 64)
            .udp(1, 4789)
            .write(&mut udp_packet, &vxlan)
            .expect("build");
        let mut gre = vec![0, 0, 0x08, 0x00];
        gre.extend_from_slice(&udp_packet);
        let mut gre_packet = Vec::new();
        PacketBuilder::ipv4([10, 8, 8, 1], [10, 8, 8, 2], 64)
            .write(&mut gre_packet, IpNumber(47), &gre)
            .expect("build");
        let frame = over_ipv4(4, &gre_packet);
        let seg = decoded(&frame).expect("inner TCP");
        assert_eq!(seg.dst, "172.16.0.2:80".parse().unwrap());
        let tunnel = seg.tunnel.expect("tunnel");
        assert_eq!(tunnel.kind, TunnelKind::IpInIp);
        assert_eq!(tunnel.outer_src, IpAddr::from(OUTER_A));
        assert_eq!(tunnel.layers, 3);
    }

    #[test]
    fn tunnels_nested_beyond_the_limit_are_skipped_not_followed() {
        let wrap = |inner: &[u8]| {
            let mut out = Vec::new();
            PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .write(&mut out, IpNumber(4), inner)
                .expect("build");
            out
        };
        let mut packet = inner_ipv4();
        for _ in 0..MAX_TUNNEL_DEPTH {
            packet = wrap(&packet);
        }
        let seg = decode(LinkType::RAW, &packet, packet.len() as u32).expect("at the limit");
        assert_eq!(seg.tunnel.map(|t| t.layers), Some(MAX_TUNNEL_DEPTH));
        packet = wrap(&packet);
        assert_eq!(
            decode(LinkType::RAW, &packet, packet.len() as u32),
            Err(Skip::TunnelTooDeep)
        );
    }

    #[test]
    fn cut_tunnel_headers_are_truncated() {
        let mut vxlan = vec![0x08, 0, 0, 0, 0, 0, 5, 0];
        vxlan.extend_from_slice(&inner_ethernet_vlan());
        let frame = over_udp(4789, &vxlan);
        // Cut inside the VXLAN header, then inside the inner Ethernet header.
        let full = frame.len() as u32;
        assert_eq!(
            decode(LinkType::ETHERNET, &frame[..14 + 20 + 8 + 4], full),
            Err(Skip::Truncated)
        );
        assert_eq!(
            decode(LinkType::ETHERNET, &frame[..14 + 20 + 8 + 8 + 10], full),
            Err(Skip::Truncated)
        );
        let gre = [0xb0, 0x00, 0x08, 0x00, 0xaa, 0xbb];
        assert_eq!(decoded(&over_ipv4(47, &gre)), Err(Skip::Truncated));
    }

    #[test]
    fn snap_length_cut_inside_the_tunnel_keeps_the_inner_wire_length() {
        let mut vxlan = vec![0x08, 0, 0, 0, 0, 0, 5, 0];
        vxlan.extend_from_slice(&inner_ethernet_vlan());
        let frame = over_udp(4789, &vxlan);
        let cut = &frame[..frame.len() - 10];
        let seg = decode(LinkType::ETHERNET, cut, frame.len() as u32).expect("tcp");
        assert_eq!(seg.payload_len, 18);
        assert_eq!(seg.payload.len(), 8);
    }

    proptest::proptest! {
        /// Any bytes after a tunnel header decode to a segment or a skip, never a panic.
        #[test]
        fn arbitrary_tunnel_payloads_never_panic(
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..120),
            kind in 0usize..5,
        ) {
            let frame = match kind {
                0 => over_ipv4(47, &body),
                1 => over_udp(4789, &[&[0x08, 0, 0, 0, 0, 0, 1, 0][..], &body].concat()),
                2 => over_udp(6081, &body),
                3 => over_ipv6(41, &body),
                _ => over_ipv4(47, &[&[0x10, 0, 0x22, 0xeb, 0, 0, 0, 1][..], &body].concat()),
            };
            let _ = decoded(&frame);
        }
    }
}
