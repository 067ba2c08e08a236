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
