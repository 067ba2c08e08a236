//! IPv4/IPv6 (with extension headers) and the TCP header, through etherparse's lax
//! slices: a packet cut by the snap length still yields its headers, and the IP
//! length fields tell how much payload was on the wire.

use super::link::Network;
use super::{Segment, Skip, TcpFlags};
use etherparse::err::ip::LaxHeaderSliceError;
use etherparse::{IpNumber, LaxIpSlice, LenSource, TcpOptionElement, TcpSlice};
use std::net::SocketAddr;

pub fn decode_ip(network: Network<'_>, uncaptured: usize) -> Result<Segment<'_>, Skip> {
    let Network::Ip(bytes) = network;
    let (ip, ext_error) = LaxIpSlice::from_slice(bytes).map_err(|e| match e {
        LaxHeaderSliceError::Len(_) => Skip::Truncated,
        LaxHeaderSliceError::Content(_) => Skip::Malformed,
    })?;
    if ext_error.is_some() {
        return Err(Skip::Truncated);
    }
    let payload = ip.payload();
    if payload.fragmented {
        return Err(Skip::IpFragment);
    }
    if payload.ip_number != IpNumber::TCP {
        return Err(Skip::NotTcp);
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
            return fixed_header_only(&ip, payload.payload, wire_len);
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
    })
}

/// A TCP header whose options the snap length cut: the fixed 20 bytes still say
/// ports, sequence numbers, flags and window, which is all tracking needs (Wireshark
/// too dissects such a packet, flagging "packet size limited during capture").
fn fixed_header_only<'a>(
    ip: &LaxIpSlice<'a>,
    bytes: &'a [u8],
    wire_len: usize,
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
    })
}
