//! IPv4/IPv6 (with extension headers) and the TCP header, through etherparse's lax
//! slices: a packet cut by the snap length still yields its headers, and the IP
//! length fields tell how much payload was on the wire. Fragments go to the
//! reassembler, tunnel payloads back through here for the packet inside.

use super::fragment::{FragKey, Fragment, Outcome, Reassembler};
use super::link::{self, Network};
use super::tunnel::{self, Inner, Tunnel};
use super::{Segment, Skip, TcpFlags};
use crate::time::Timestamp;
use etherparse::err::ip::LaxHeaderSliceError;
use etherparse::{IpNumber, LaxIpSlice, LenSource, TcpOptionElement, TcpSlice};
use std::net::SocketAddr;

/// Encapsulation layers followed before a packet is given up as `TunnelTooDeep`: real
/// networks nest two or three (VXLAN over GRE over IPsec); more is an attack.
pub const MAX_TUNNEL_DEPTH: u8 = 4;

/// What decoding one captured packet carries from layer to layer.
pub(super) struct Ctx<'a> {
    /// Where fragments go; None when there is no reassembler or it was already used
    /// for this packet (a reassembled datagram is not reassembled again).
    pub frags: Option<&'a mut Reassembler>,
    pub ts: Timestamp,
    /// The outermost tunnel seen so far, with its layer count.
    pub tunnel: Option<Tunnel>,
}

impl Ctx<'_> {
    /// Decoding without fragment reassembly.
    pub fn stateless() -> Self {
        Ctx {
            frags: None,
            ts: Timestamp::from_nanos(0),
            tunnel: None,
        }
    }
}

pub(super) fn decode_ip<'a>(
    bytes: &'a [u8],
    uncaptured: usize,
    ctx: &mut Ctx<'a>,
) -> Result<Segment<'a>, Skip> {
    let (ip, ext_error) = LaxIpSlice::from_slice(bytes).map_err(|e| match e {
        LaxHeaderSliceError::Len(_) => Skip::Truncated,
        LaxHeaderSliceError::Content(_) => Skip::Malformed,
    })?;
    if ext_error.is_some() {
        return Err(Skip::Truncated);
    }
    let payload = ip.payload();
    if payload.fragmented {
        return reassemble(&ip, bytes, uncaptured, ctx);
    }
    if payload.ip_number != IpNumber::TCP {
        let layer = tunnel::layer(payload.ip_number.0, payload.payload)?;
        let layers = ctx.tunnel.map_or(1, |t| t.layers.saturating_add(1));
        if layers > MAX_TUNNEL_DEPTH {
            return Err(Skip::TunnelTooDeep);
        }
        ctx.tunnel = Some(match ctx.tunnel {
            Some(outer) => Tunnel { layers, ..outer },
            None => Tunnel {
                kind: layer.kind,
                outer_src: ip.source_addr(),
                outer_dst: ip.destination_addr(),
                id: layer.id,
                layers,
            },
        });
        let inner = match layer.inner {
            Inner::Ip(inner) => inner,
            Inner::Ethernet(frame) => {
                let Network::Ip(inner) = link::ethernet(frame)?;
                inner
            }
        };
        // A cut outer packet cuts what it carries by as much; a whole one, nothing.
        let inner_uncaptured = if payload.incomplete { uncaptured } else { 0 };
        return decode_ip(inner, inner_uncaptured, ctx);
    }
    // What the IP header says the transport part measured on the wire: the declared
    // IP length minus everything before the payload (header, options, extensions).
    let headers_len = (payload.payload.as_ptr() as usize).saturating_sub(bytes.as_ptr() as usize);
    let wire_len = match &ip {
        LaxIpSlice::Ipv4(v4) => usize::from(v4.header().total_len()),
        LaxIpSlice::Ipv6(v6) => 40 + usize::from(v6.header().payload_length()),
    }
    .saturating_sub(headers_len);
    let wire_len = if payload.len_source == LenSource::Slice && !payload.incomplete {
        payload.payload.len()
    } else {
        // An IP length longer than the frame on the wire is a lie, not a snap-length
        // cut; like Wireshark, believe the frame.
        wire_len.min(payload.payload.len() + uncaptured)
    };
    let tcp = match TcpSlice::from_slice(payload.payload) {
        Ok(tcp) => tcp,
        Err(etherparse::err::tcp::HeaderSliceError::Len(_)) => {
            return fixed_header_only(&ip, payload.payload, wire_len, ctx.tunnel);
        }
        Err(etherparse::err::tcp::HeaderSliceError::Content(_)) => return Err(Skip::Malformed),
    };
    let header_len = tcp.header_slice().len();
    let window_scale = if tcp.syn() {
        tcp.options_iterator().find_map(|opt| match opt {
            Ok(TcpOptionElement::WindowScale(shift)) => Some(shift),
            _ => None,
        })
    } else {
        None
    };
    let mut flags = 0u8;
    for (set, bit) in [
        (tcp.fin(), TcpFlags::FIN),
        (tcp.syn(), TcpFlags::SYN),
        (tcp.rst(), TcpFlags::RST),
        (tcp.psh(), TcpFlags::PSH),
        (tcp.ack(), TcpFlags::ACK),
    ] {
        if set {
            flags |= bit;
        }
    }
    let payload_len = wire_len.saturating_sub(header_len).max(tcp.payload().len());
    Ok(Segment {
        src: SocketAddr::new(ip.source_addr(), tcp.source_port()),
        dst: SocketAddr::new(ip.destination_addr(), tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: TcpFlags(flags),
        window: tcp.window_size(),
        window_scale,
        payload: tcp.payload(),
        payload_len: u32::try_from(payload_len).unwrap_or(u32::MAX),
        tunnel: ctx.tunnel,
    })
}

/// A TCP header whose options the snap length cut: the fixed 20 bytes still say
/// ports, sequence numbers, flags and window, which is all tracking needs (Wireshark
/// too dissects such a packet, flagging "packet size limited during capture").
fn fixed_header_only<'a>(
    ip: &LaxIpSlice<'a>,
    bytes: &'a [u8],
    wire_len: usize,
    tunnel: Option<Tunnel>,
) -> Result<Segment<'a>, Skip> {
    let h = bytes.get(..20).ok_or(Skip::Truncated)?;
    let data_offset = usize::from(h[12] >> 4) * 4;
    if data_offset < 20 {
        return Err(Skip::Malformed);
    }
    let word = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let payload_len = wire_len.saturating_sub(data_offset);
    Ok(Segment {
        src: SocketAddr::new(ip.source_addr(), u16::from_be_bytes([h[0], h[1]])),
        dst: SocketAddr::new(ip.destination_addr(), u16::from_be_bytes([h[2], h[3]])),
        seq: word(4),
        ack: word(8),
        flags: TcpFlags(h[13] & 0x1f),
        window: u16::from_be_bytes([h[14], h[15]]),
        window_scale: None,
        payload: &[],
        payload_len: u32::try_from(payload_len).unwrap_or(u32::MAX),
        tunnel,
    })
}

/// Protocols whose fragments are worth reassembling: TCP, and what may carry TCP
/// (IP in IP, GRE, UDP for VXLAN/Geneve). Others stay skipped without costing memory.
fn worth_reassembling(protocol: u8) -> bool {
    matches!(protocol, 4 | 6 | 17 | 41 | 47)
}

/// Hands a fragment to the reassembler; when it completes its datagram, decodes the
/// rebuilt packet in its place.
fn reassemble<'a>(
    ip: &LaxIpSlice<'a>,
    bytes: &'a [u8],
    uncaptured: usize,
    ctx: &mut Ctx<'a>,
) -> Result<Segment<'a>, Skip> {
    let frag = match ip {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            let header = h.slice();
            let data = ip.payload().payload;
            let wire_len = usize::from(h.total_len()).saturating_sub(header.len());
            Fragment {
                key: FragKey {
                    src: ip.source_addr(),
                    dst: ip.destination_addr(),
                    protocol: h.protocol().0,
                    id: u32::from(h.identification()),
                },
                offset: usize::from(h.fragments_offset().byte_offset()),
                more: h.more_fragments(),
                header,
                next_header_at: None,
                data,
                // A length field longer than the frame on the wire is a lie (as in
                // `decode_ip`): believe the frame.
                wire_len: wire_len.min(data.len() + uncaptured),
            }
        }
        LaxIpSlice::Ipv6(_) => ipv6_fragment(ip, bytes, uncaptured)?,
    };
    if !worth_reassembling(frag.key.protocol) {
        return Err(Skip::NotTcp);
    }
    let Some(frags) = ctx.frags.take() else {
        return Err(Skip::IpFragment);
    };
    match frags.add(&frag, ctx.ts) {
        Outcome::Pending => Err(Skip::IpFragment),
        Outcome::Malformed => Err(Skip::Malformed),
        Outcome::Complete(datagram, missing) => decode_ip(datagram, missing, ctx),
    }
}

/// Walks the IPv6 extension headers to the fragment header (RFC 8200 §4.5): the
/// headers before it are the unfragmentable part the rebuilt packet keeps.
fn ipv6_fragment<'a>(
    ip: &LaxIpSlice<'a>,
    bytes: &'a [u8],
    uncaptured: usize,
) -> Result<Fragment<'a>, Skip> {
    const HOP_BY_HOP: u8 = 0;
    const ROUTING: u8 = 43;
    const FRAGMENT: u8 = 44;
    const AUTH: u8 = 51;
    const DEST_OPTS: u8 = 60;
    let fixed = bytes.get(..40).ok_or(Skip::Truncated)?;
    let end = 40 + usize::from(u16::from_be_bytes([fixed[4], fixed[5]]));
    let (mut next, mut next_at, mut at) = (fixed[6], 6usize, 40usize);
    for _ in 0..8 {
        match next {
            HOP_BY_HOP | ROUTING | DEST_OPTS | AUTH => {
                let h = bytes.get(at..at + 2).ok_or(Skip::Truncated)?;
                let len = if next == AUTH {
                    (usize::from(h[1]) + 2) * 4
                } else {
                    (usize::from(h[1]) + 1) * 8
                };
                (next, next_at) = (h[0], at);
                at += len;
            }
            FRAGMENT => {
                let f = bytes.get(at..at + 8).ok_or(Skip::Truncated)?;
                let data_start = at + 8;
                let captured_end = end.min(bytes.len());
                let data = bytes.get(data_start..captured_end).unwrap_or(&[]);
                let wire_len = end.saturating_sub(data_start);
                return Ok(Fragment {
                    key: FragKey {
                        src: ip.source_addr(),
                        dst: ip.destination_addr(),
                        protocol: f[0],
                        id: u32::from_be_bytes([f[4], f[5], f[6], f[7]]),
                    },
                    offset: usize::from(u16::from_be_bytes([f[2], f[3]]) & 0xfff8),
                    more: f[3] & 0x01 != 0,
                    header: &bytes[..at],
                    next_header_at: Some(next_at),
                    data,
                    wire_len: wire_len.min(data.len() + uncaptured),
                });
            }
            _ => break,
        }
    }
    Err(Skip::Malformed)
}
