//! Link layers: find where the network layer starts and which protocol it is.
//!
//! Ethernet, 802.1Q/802.1ad tags and Linux cooked v1 headers are read with
//! `etherparse`'s header slices. Three headers are read by hand because etherparse
//! has no parser for them, and each is a few fixed bytes: Linux cooked v2 (SLL2,
//! `tcpdump -i any` since libpcap 1.10), BSD loopback NULL/LOOP (a 4-byte address
//! family), NFLOG (a TLV list), plus MPLS label stacks seen on carrier links.
//! Formats: <https://www.tcpdump.org/linktypes.html>.

use super::Skip;
use crate::capture::LinkType;
use etherparse::{Ethernet2HeaderSlice, LinuxSllHeaderSlice, SingleVlanHeaderSlice};

/// The network-layer part of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network<'a> {
    /// IPv4 or IPv6, told apart by the version nibble.
    Ip(&'a [u8]),
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const ETHERTYPE_QINQ_OLD2: u16 = 0x9200;
const ETHERTYPE_MPLS: u16 = 0x8847;
const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
/// More tags than this is not a real frame.
const MAX_TAGS: usize = 8;

/// BSD address-family values for IPv4 and the three IPv6 values BSDs use.
const AF_INET: u32 = 2;
const AF_INET6_BSD: [u32; 3] = [24, 28, 30];
/// Linux address families in NFLOG headers.
const NFPROTO_IPV4: u8 = 2;
const NFPROTO_IPV6: u8 = 10;
/// NFULA_PAYLOAD: the TLV that holds the packet.
const NFULA_PAYLOAD: u16 = 9;

pub fn strip(link_type: LinkType, frame: &[u8]) -> Result<Network<'_>, Skip> {
    match link_type {
        LinkType::ETHERNET => ethernet(frame),
        LinkType::RAW
        | LinkType::RAW_OPENBSD
        | LinkType::RAW_BSDOS
        | LinkType::IPV4
        | LinkType::IPV6 => Ok(Network::Ip(frame)),
        LinkType::NULL => bsd_loopback(frame, false),
        LinkType::LOOP => bsd_loopback(frame, true),
        LinkType::LINUX_SLL => {
            let sll = LinuxSllHeaderSlice::from_slice(frame).map_err(|_| Skip::Truncated)?;
            let rest = frame.get(sll.slice().len()..).ok_or(Skip::Truncated)?;
            let protocol = u16::from_be_bytes([sll.slice()[14], sll.slice()[15]]);
            by_ethertype(protocol, rest)
        }
        LinkType::LINUX_SLL2 => {
            // protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8)
            let header = frame.get(..20).ok_or(Skip::Truncated)?;
            let protocol = u16::from_be_bytes([header[0], header[1]]);
            by_ethertype(protocol, &frame[20..])
        }
        LinkType::NFLOG => nflog(frame),
        other => Err(Skip::UnsupportedLinkType(other)),
    }
}

pub fn ethernet(frame: &[u8]) -> Result<Network<'_>, Skip> {
    let eth = Ethernet2HeaderSlice::from_slice(frame).map_err(|_| Skip::Truncated)?;
    let mut ether_type = eth.ether_type();
    let mut rest = &frame[eth.slice().len()..];
    for _ in 0..MAX_TAGS {
        match ether_type.0 {
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD | ETHERTYPE_QINQ_OLD2 => {
                let tag = SingleVlanHeaderSlice::from_slice(rest).map_err(|_| Skip::Truncated)?;
                ether_type = tag.ether_type();
                rest = &rest[tag.slice().len()..];
            }
            // IEEE 802.3 length field: LLC, and with SNAP (AA AA 03, OUI) a real type.
            len if len <= 1500 => {
                return match rest.get(..8) {
                    Some([0xaa, 0xaa, 0x03, _, _, _, t0, t1]) => {
                        by_ethertype(u16::from_be_bytes([*t0, *t1]), &rest[8..])
                    }
                    Some(_) => Err(Skip::NotIp),
                    None => Err(Skip::Truncated),
                };
            }
            _ => return by_ethertype(ether_type.0, rest),
        }
    }
    Err(Skip::Malformed)
}

fn by_ethertype(ether_type: u16, rest: &[u8]) -> Result<Network<'_>, Skip> {
    match ether_type {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Ok(Network::Ip(rest)),
        ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => mpls(rest),
        _ => Err(Skip::NotIp),
    }
}

/// RFC 3032: 4-byte label entries until the bottom-of-stack bit; what follows has no
/// type field, so IP is recognised by its version nibble.
fn mpls(mut rest: &[u8]) -> Result<Network<'_>, Skip> {
    for _ in 0..MAX_TAGS {
        let entry = rest.get(..4).ok_or(Skip::Truncated)?;
        let bottom = entry[2] & 0x01 != 0;
        rest = &rest[4..];
        if bottom {
            return match rest.first().map(|b| b >> 4) {
                Some(4) | Some(6) => Ok(Network::Ip(rest)),
                Some(_) => Err(Skip::NotIp),
                None => Err(Skip::Truncated),
            };
        }
    }
    Err(Skip::Malformed)
}

/// DLT_NULL stores the address family in the capturing host's byte order; DLT_LOOP
/// always in network order. A NULL value above 0xffff was written by a host of the
/// other endianness, so it is swapped back.
fn bsd_loopback(frame: &[u8], network_order: bool) -> Result<Network<'_>, Skip> {
    let header = frame.get(..4).ok_or(Skip::Truncated)?;
    let bytes = [header[0], header[1], header[2], header[3]];
    let family = if network_order {
        u32::from_be_bytes(bytes)
    } else {
        let le = u32::from_le_bytes(bytes);
        if le > 0xffff {
            le.swap_bytes()
        } else {
            le
        }
    };
    if family == AF_INET || AF_INET6_BSD.contains(&family) {
        Ok(Network::Ip(&frame[4..]))
    } else {
        Err(Skip::NotIp)
    }
}

/// NFLOG: family(1) version(1) resource id(2), then TLVs of length(2, host order,
/// little-endian on every Linux we meet) type(2) value, each padded to 4 bytes.
fn nflog(frame: &[u8]) -> Result<Network<'_>, Skip> {
    let header = frame.get(..4).ok_or(Skip::Truncated)?;
    if header[0] != NFPROTO_IPV4 && header[0] != NFPROTO_IPV6 {
        return Err(Skip::NotIp);
    }
    let mut offset = 4usize;
    while let Some(tlv) = frame.get(offset..offset + 4) {
        let len = usize::from(u16::from_le_bytes([tlv[0], tlv[1]]));
        let kind = u16::from_le_bytes([tlv[2], tlv[3]]) & 0x7fff;
        if len < 4 {
            return Err(Skip::Malformed);
        }
        if kind == NFULA_PAYLOAD {
            // A value cut by the snap length still holds the headers we need.
            let end = (offset + len).min(frame.len());
            return Ok(Network::Ip(&frame[offset + 4..end]));
        }
        offset += (len + 3) & !3;
    }
    Err(Skip::NotIp)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: &[u8] = &[0x45, 0, 0, 20];

    fn with_header(header: &[u8]) -> Vec<u8> {
        [header, IP].concat()
    }

    #[test]
    fn vlan_and_qinq_tags_are_stripped() {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[
            0x88, 0xa8, 0, 10, 0x81, 0x00, 0, 20, 0x81, 0x00, 0, 30, 0x08, 0x00,
        ]);
        frame.extend_from_slice(IP);
        assert_eq!(strip(LinkType::ETHERNET, &frame), Ok(Network::Ip(IP)));
    }

    #[test]
    fn mpls_stack_then_ipv4() {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x88, 0x47, 0, 1, 0, 64, 0, 2, 1, 64]);
        frame.extend_from_slice(IP);
        assert_eq!(strip(LinkType::ETHERNET, &frame), Ok(Network::Ip(IP)));
    }

    #[test]
    fn arp_is_not_ip() {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x06, 0, 1]);
        assert_eq!(strip(LinkType::ETHERNET, &frame), Err(Skip::NotIp));
    }

    #[test]
    fn bsd_null_in_both_byte_orders_and_loop() {
        let le = with_header(&[2, 0, 0, 0]);
        let be = with_header(&[0, 0, 0, 2]);
        let v6 = with_header(&[30, 0, 0, 0]);
        assert_eq!(strip(LinkType::NULL, &le), Ok(Network::Ip(IP)));
        assert_eq!(strip(LinkType::NULL, &be), Ok(Network::Ip(IP)));
        assert_eq!(strip(LinkType::NULL, &v6), Ok(Network::Ip(IP)));
        assert_eq!(strip(LinkType::LOOP, &be), Ok(Network::Ip(IP)));
        assert_eq!(
            strip(LinkType::NULL, &with_header(&[7, 0, 0, 0])),
            Err(Skip::NotIp)
        );
    }

    #[test]
    fn linux_cooked_v1_and_v2() {
        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
        sll.extend_from_slice(IP);
        assert_eq!(strip(LinkType::LINUX_SLL, &sll), Ok(Network::Ip(IP)));
        let mut sll2 = vec![
            0x86, 0xdd, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
        ];
        sll2.extend_from_slice(IP);
        assert_eq!(strip(LinkType::LINUX_SLL2, &sll2), Ok(Network::Ip(IP)));
        assert_eq!(
            strip(LinkType::LINUX_SLL2, &sll2[..10]),
            Err(Skip::Truncated)
        );
    }

    #[test]
    fn nflog_finds_the_payload_tlv() {
        let mut frame = vec![2, 0, 0, 0];
        frame.extend_from_slice(&[8, 0, 1, 0, 0, 0, 0, 0]); // packet header TLV
        frame.extend_from_slice(&[5, 0, 10, 0, 0x61, 0, 0, 0]); // prefix, padded
        frame.extend_from_slice(&[8, 0, 9, 0]);
        frame.extend_from_slice(IP);
        assert_eq!(strip(LinkType::NFLOG, &frame), Ok(Network::Ip(IP)));
    }

    #[test]
    fn raw_ip_link_types() {
        for lt in [
            LinkType::RAW,
            LinkType::IPV4,
            LinkType::IPV6,
            LinkType::RAW_OPENBSD,
        ] {
            assert_eq!(strip(lt, IP), Ok(Network::Ip(IP)));
        }
    }
}
