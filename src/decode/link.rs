//! Link layers: find where the network layer starts and which protocol it is.
//!
//! Ethernet and 802.1Q/802.1ad tags are read with `etherparse`'s header slices. The
//! rest are read by hand because etherparse has no parser for them (or, for Linux
//! cooked v1, one that rejects the ARPHRD types libpcap really writes), and each is a
//! few fixed bytes: Linux cooked v1/v2 (SLL/SLL2, `tcpdump -i any`), BSD loopback
//! NULL/LOOP (a 4-byte address family), NFLOG (a TLV list), MPLS label stacks, PPP
//! (RFC 1661, in HDLC-like framing RFC 1662, over Ethernet RFC 2516), Cisco HDLC,
//! 802.11 data frames (IEEE 802.11-2020 §9.2, bare or behind radiotap, Prism or AVS
//! headers) and the wrappers that name an inner link type (Apple's PKTAP, PPI). Not for IP or anything above it (`ip.rs`).
//! Formats: <https://www.tcpdump.org/linktypes.html>.
//!
//! Every frame that is not decoded gets a precise [`Skip`]: `Truncated` only when the
//! bytes really end inside a header.

use super::Skip;
use crate::capture::LinkType;
use etherparse::{Ethernet2HeaderSlice, SingleVlanHeaderSlice};

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
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
/// Ethertypes of protocols that never carry IP (ARP, RARP, LLDP, 802.1X, LACP, PPPoE
/// discovery, Ethernet loopback, IPX, AppleTalk/AARP, PTP, flow control, IEEE 1905,
/// the two local-experimental values, DEC MOP, Realtek's switch protocols, 802.11
/// TDLS action frames). A frame of one of these is plain `NotIp`; any other non-IP
/// ethertype is reported by number, since it may be an encapsulation connscope
/// cannot look inside.
const NOT_IP_ETHERTYPES: [u16; 19] = [
    0x0806, 0x8035, 0x88cc, 0x888e, 0x8809, 0x8863, 0x9000, 0x8137, 0x8138, 0x809b, 0x80f3, 0x88f7,
    0x8808, 0x893a, 0x88b5, 0x88b6, 0x6002, 0x8899, 0x890d,
];
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

/// Linux `if_arp.h` hardware types a cooked header can name whose payload is not
/// told by an ethertype, or is 802.11.
const ARPHRD_CAN: u16 = 280;
const ARPHRD_FRAD: u16 = 770;
const ARPHRD_IEEE80211: u16 = 801;
const ARPHRD_IEEE80211_RADIOTAP: u16 = 803;
const ARPHRD_NETLINK: u16 = 824;
/// Hardware types of IP-only devices (PPP 512, raw IP 519, Android cellular 530,
/// IPIP 768, IP6IP6 769, loopback 772, SIT 776, GRE 778, IP6GRE 823, tun "none"
/// 65534): when the protocol field is not an ethertype, the packet is IP and its
/// version nibble says which.
const ARPHRD_IP_ONLY: [u16; 11] = [512, 519, 530, 768, 769, 772, 776, 778, 823, 0xfffe, 0xffff];
/// libpcap's `sll.h` pseudo-protocols below 0x0600 (not ethertypes).
const LINUX_SLL_P_802_3: u16 = 0x0001;
const LINUX_SLL_P_802_2: u16 = 0x0004;
const LINUX_SLL_P_PPPHDLC: u16 = 0x0007;

/// PPP protocol numbers (RFC 1661 §2, IANA "PPP DLL Protocol Numbers").
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
const PPP_MPLS: u16 = 0x0281;
const PPP_MPLS_MULTICAST: u16 = 0x0283;

/// Cisco HDLC address bytes: unicast and multicast.
const CHDLC_UNICAST: u8 = 0x0f;
const CHDLC_MULTICAST: u8 = 0x8f;

/// Apple PKTAP record type of a captured packet (the other kind is metadata).
const PKTAP_REC_PACKET: u32 = 1;

pub fn strip(link_type: LinkType, frame: &[u8]) -> Result<Network<'_>, Skip> {
    match link_type {
        LinkType::PKTAP => pktap(frame),
        LinkType::PPI => ppi(frame),
        other => strip_inner(other, frame),
    }
}

/// Every link type but the wrappers (PKTAP, PPI), which hold one of these and must
/// not nest.
fn strip_inner(link_type: LinkType, frame: &[u8]) -> Result<Network<'_>, Skip> {
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
            // type(2) ARPHRD(2) address length(2) address(8) protocol(2)
            let header = frame.get(..16).ok_or(Skip::Truncated)?;
            let arphrd = u16::from_be_bytes([header[2], header[3]]);
            let protocol = u16::from_be_bytes([header[14], header[15]]);
            linux_cooked(arphrd, protocol, &frame[16..])
        }
        LinkType::LINUX_SLL2 => {
            // protocol(2) reserved(2) ifindex(4) ARPHRD(2) pkttype(1) halen(1) addr(8)
            let header = frame.get(..20).ok_or(Skip::Truncated)?;
            let protocol = u16::from_be_bytes([header[0], header[1]]);
            let arphrd = u16::from_be_bytes([header[8], header[9]]);
            linux_cooked(arphrd, protocol, &frame[20..])
        }
        LinkType::NFLOG => nflog(frame),
        LinkType::PPP => ppp(frame),
        LinkType::PPP_HDLC => match frame.first() {
            // The same link type holds Cisco PPP with HDLC framing (RFC 1547).
            Some(&CHDLC_UNICAST) | Some(&CHDLC_MULTICAST) => cisco_hdlc(frame),
            _ => ppp(frame),
        },
        LinkType::PPP_ETHER => pppoe(frame),
        LinkType::C_HDLC => cisco_hdlc(frame),
        LinkType::IEEE802_11 => ieee802_11(frame),
        LinkType::IEEE802_11_RADIOTAP => radiotap(frame),
        LinkType::IEEE802_11_PRISM | LinkType::IEEE802_11_AVS => prism_or_avs(frame),
        // A direction byte (0 sent, 1 received), then PPP as above.
        LinkType::PPP_PPPD => ppp(frame.get(1..).ok_or(Skip::Truncated)?),
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
            len if len <= 1500 => return llc(rest),
            _ => return by_ethertype(ether_type.0, rest),
        }
    }
    Err(Skip::Malformed)
}

/// 802.2 LLC: only SNAP with an ethertype OUI (RFC 1042's 00-00-00, or 802.1H's
/// 00-00-F8) names an ethertype; any other OUI's protocol id is that vendor's own
/// number (CDP, STP, …), none of them IP.
fn llc(rest: &[u8]) -> Result<Network<'_>, Skip> {
    match rest.get(..8) {
        Some([0xaa, 0xaa, 0x03, 0, 0, 0 | 0xf8, t0, t1]) => {
            by_ethertype(u16::from_be_bytes([*t0, *t1]), &rest[8..])
        }
        Some(_) => Err(Skip::NotIp),
        // Too short for SNAP, but a bare LLC header (DSAP SSAP control) is no IP either.
        None if rest.len() >= 3 && rest[..2] != [0xaa, 0xaa] => Err(Skip::NotIp),
        None => Err(Skip::Truncated),
    }
}

fn by_ethertype(ether_type: u16, rest: &[u8]) -> Result<Network<'_>, Skip> {
    match ether_type {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Ok(Network::Ip(rest)),
        ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => mpls(rest),
        ETHERTYPE_PPPOE_SESSION => pppoe(rest),
        t if NOT_IP_ETHERTYPES.contains(&t) => Err(Skip::NotIp),
        // Below 0x0600 a "type" is an 802.3 length, never a protocol.
        t if t < 0x0600 => Err(Skip::NotIp),
        t => Err(Skip::UnsupportedEthertype(t)),
    }
}

/// IP recognised by its version nibble, for headers that do not say which IP.
fn ip_by_version(rest: &[u8]) -> Result<Network<'_>, Skip> {
    match rest.first().map(|b| b >> 4) {
        Some(4) | Some(6) => Ok(Network::Ip(rest)),
        Some(_) => Err(Skip::NotIp),
        None => Err(Skip::Truncated),
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
            return ip_by_version(rest);
        }
    }
    Err(Skip::Malformed)
}

/// Linux cooked headers (v1 and v2 share the meaning of their fields): for almost
/// every ARPHRD type the protocol field is an ethertype (libpcap copies the kernel's
/// `skb->protocol`), whatever the device is — loopback, PPP, tunnels, cellular.
/// The exceptions are devices whose frames are not network-layer packets (netlink,
/// CAN, Frame Relay) and 802.11, whose frames carry their own header.
fn linux_cooked(arphrd: u16, protocol: u16, rest: &[u8]) -> Result<Network<'_>, Skip> {
    match arphrd {
        ARPHRD_IEEE80211 => return ieee802_11(rest),
        ARPHRD_IEEE80211_RADIOTAP => return radiotap(rest),
        ARPHRD_NETLINK | ARPHRD_CAN | ARPHRD_FRAD => return Err(Skip::UnsupportedArphrd(arphrd)),
        _ => {}
    }
    match protocol {
        p if p >= 0x0600 => by_ethertype(p, rest),
        LINUX_SLL_P_802_2 => llc(rest),
        LINUX_SLL_P_PPPHDLC => ppp(rest),
        // Novell "raw" 802.3: IPX only.
        LINUX_SLL_P_802_3 => Err(Skip::NotIp),
        // Raw-IP devices (tun, rmnet, SIT) may leave the protocol 0 or ETH_P_ALL.
        _ if ARPHRD_IP_ONLY.contains(&arphrd) => ip_by_version(rest),
        _ => Err(Skip::UnsupportedArphrd(arphrd)),
    }
}

/// PPP (RFC 1661) as libpcap writes it: optionally the RFC 1662 address/control
/// bytes FF 03, then the protocol field, one byte long when compressed (RFC 1661
/// §6.5: an odd first byte).
fn ppp(frame: &[u8]) -> Result<Network<'_>, Skip> {
    let rest = match frame {
        [0xff, 0x03, rest @ ..] => rest,
        _ => frame,
    };
    match rest {
        [p, body @ ..] if p & 1 == 1 => ppp_protocol(u16::from(*p), body),
        [p0, p1, body @ ..] => ppp_protocol(u16::from_be_bytes([*p0, *p1]), body),
        _ => Err(Skip::Truncated),
    }
}

fn ppp_protocol(protocol: u16, body: &[u8]) -> Result<Network<'_>, Skip> {
    match protocol {
        PPP_IPV4 | PPP_IPV6 => Ok(Network::Ip(body)),
        PPP_MPLS | PPP_MPLS_MULTICAST => mpls(body),
        // 0x8000–0xbfff network control protocols (IPCP, IPV6CP, …), 0xc000 and up
        // link-layer control (LCP, PAP, CHAP, LQR): PPP's own signalling.
        p if p >= 0x8000 => Err(Skip::NotIp),
        p => Err(Skip::UnsupportedPppProtocol(p)),
    }
}

/// PPPoE session stage (RFC 2516 §4): ver/type 0x11, code 0, session id, length,
/// then a PPP protocol field without address/control bytes.
fn pppoe(rest: &[u8]) -> Result<Network<'_>, Skip> {
    let header = rest.get(..8).ok_or(Skip::Truncated)?;
    if header[0] != 0x11 || header[1] != 0 {
        return Err(Skip::Malformed);
    }
    let protocol = u16::from_be_bytes([header[6], header[7]]);
    ppp_protocol(protocol, &rest[8..])
}

/// Cisco HDLC: address (0x0f unicast, 0x8f multicast), control 0, then an ethertype
/// (SLARP, Cisco's keepalive, is 0x8035 and so "not IP").
fn cisco_hdlc(frame: &[u8]) -> Result<Network<'_>, Skip> {
    let header = frame.get(..4).ok_or(Skip::Truncated)?;
    by_ethertype(u16::from_be_bytes([header[2], header[3]]), &frame[4..])
}

/// An 802.11 MAC frame (IEEE 802.11-2020 §9.2.3): only data frames carry packets.
/// Frame control byte 0: version (2 bits), type (2), subtype (4, its top bit = QoS,
/// its bit 2 = no data); byte 1 flags: ToDS 0x01, FromDS 0x02, Protected 0x40,
/// +HTC/Order 0x80. The header is 24 bytes, 30 with the fourth address (ToDS and
/// FromDS both set: a wireless bridge), +2 for QoS control, +4 for HT control (QoS
/// frames with the Order bit); then LLC/SNAP.
fn ieee802_11(frame: &[u8]) -> Result<Network<'_>, Skip> {
    let fc = frame.get(..2).ok_or(Skip::Truncated)?;
    let (kind, subtype, flags) = ((fc[0] >> 2) & 0x3, fc[0] >> 4, fc[1]);
    if fc[0] & 0x3 != 0 || kind != 2 {
        // A newer protocol version, or management/control frames: no IP inside.
        return Err(Skip::NotIp);
    }
    if subtype & 0x4 != 0 {
        // Null data frames (power-save signalling): nothing to carry.
        return Err(Skip::NotIp);
    }
    if flags & 0x40 != 0 {
        return Err(Skip::Encrypted80211);
    }
    let qos = subtype & 0x8 != 0;
    let mut len = 24;
    if flags & 0x03 == 0x03 {
        len += 6;
    }
    if qos {
        len += 2;
        if flags & 0x80 != 0 {
            len += 4;
        }
    }
    let rest = frame.get(len..).ok_or(Skip::Truncated)?;
    // QoS control bit 7: an A-MSDU, several subframes each with its own header.
    if qos && frame[len - 2] & 0x80 != 0 {
        return Err(Skip::UnsupportedAmsdu);
    }
    llc(rest)
}

/// Radiotap (<https://www.radiotap.org>): version 0, pad, little-endian total header
/// length, present bitmaps and fields we do not need; the 802.11 frame follows.
fn radiotap(frame: &[u8]) -> Result<Network<'_>, Skip> {
    let header = frame.get(..4).ok_or(Skip::Truncated)?;
    if header[0] != 0 {
        return Err(Skip::Malformed);
    }
    let len = usize::from(u16::from_le_bytes([header[2], header[3]]));
    if len < 8 {
        return Err(Skip::Malformed);
    }
    ieee802_11(frame.get(len..).ok_or(Skip::Truncated)?)
}

/// Monitor-mode headers older than radiotap: AVS (big-endian magic 0x8021100x, then
/// its big-endian length) and Prism (message code, then its little-endian length).
/// Drivers wrote either under either link type, so the magic decides.
fn prism_or_avs(frame: &[u8]) -> Result<Network<'_>, Skip> {
    let header = frame.get(..8).ok_or(Skip::Truncated)?;
    let magic = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let len = if magic & 0xffff_fff0 == 0x8021_1000 {
        u32::from_be_bytes([header[4], header[5], header[6], header[7]])
    } else {
        u32::from_le_bytes([header[4], header[5], header[6], header[7]])
    };
    let len = usize::try_from(len).map_err(|_| Skip::Malformed)?;
    if len < 8 {
        return Err(Skip::Malformed);
    }
    ieee802_11(frame.get(len..).ok_or(Skip::Truncated)?)
}

/// PPI (CACE's Per-Packet Information, used by Kismet and airodump): version,
/// flags, little-endian header length and data link type, then fields and the frame.
fn ppi(frame: &[u8]) -> Result<Network<'_>, Skip> {
    let header = frame.get(..8).ok_or(Skip::Truncated)?;
    if header[0] != 0 {
        return Err(Skip::Malformed);
    }
    let len = usize::from(u16::from_le_bytes([header[2], header[3]]));
    let inner = LinkType(u32::from_le_bytes([
        header[4], header[5], header[6], header[7],
    ]));
    if len < 8 || inner == LinkType::PPI || inner == LinkType::PKTAP {
        return Err(Skip::Malformed);
    }
    strip_inner(inner, frame.get(len..).ok_or(Skip::Truncated)?)
}

/// Apple PKTAP (macOS `tcpdump -i pktap`, `-k`): a header whose first fields are its
/// own length, a record type and the link type of the frame that follows, in the
/// writing host's byte order — little-endian on every Mac.
fn pktap(frame: &[u8]) -> Result<Network<'_>, Skip> {
    let header = frame.get(..12).ok_or(Skip::Truncated)?;
    let word = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let (len, record_type, inner) = (word(0), word(4), LinkType(word(8)));
    if record_type != PKTAP_REC_PACKET {
        return Err(Skip::NotIp);
    }
    let len = usize::try_from(len).map_err(|_| Skip::Malformed)?;
    if len < 12 || inner == LinkType::PKTAP || inner == LinkType::PPI {
        return Err(Skip::Malformed);
    }
    strip_inner(inner, frame.get(len..).ok_or(Skip::Truncated)?)
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

    /// A real IPv4/TCP packet (no link header) carrying `payload`.
    fn ipv4_tcp(payload: &[u8]) -> Vec<u8> {
        let builder = etherparse::PacketBuilder::ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
            .tcp(40000, 8000, 1, 65535)
            .ack(1)
            .psh();
        let mut out = Vec::new();
        builder.write(&mut out, payload).expect("build");
        out
    }

    fn ipv6_tcp() -> Vec<u8> {
        let builder =
            etherparse::PacketBuilder::ipv6([0; 16], [0; 16], 64).tcp(40000, 8000, 1, 65535);
        let mut out = Vec::new();
        builder.write(&mut out, b"x").expect("build");
        out
    }

    /// A Linux cooked v1 header as libpcap writes it for an outgoing packet.
    fn sll_v1(arphrd: u16, protocol: u16) -> Vec<u8> {
        let mut h = vec![0, 4];
        h.extend_from_slice(&arphrd.to_be_bytes());
        h.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        h.extend_from_slice(&protocol.to_be_bytes());
        h
    }

    fn sll_v2(arphrd: u16, protocol: u16) -> Vec<u8> {
        let mut h = protocol.to_be_bytes().to_vec();
        h.extend_from_slice(&[0, 0, 0, 0, 0, 1]);
        h.extend_from_slice(&arphrd.to_be_bytes());
        h.extend_from_slice(&[4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        h
    }

    /// Bug 1: every ARPHRD type but Ethernet was counted as `truncated`.
    #[test]
    fn sll_loopback_arphrd_is_decoded() {
        let ip = ipv4_tcp(b"GET / HTTP/1.1\r\n\r\n");
        // loopback, PPP, Android cellular, SIT, tun ("none"), Ethernet
        for arphrd in [772u16, 512, 530, 776, 65534, 1] {
            let frame = [sll_v1(arphrd, ETHERTYPE_IPV4), ip.clone()].concat();
            let segment = crate::decode::decode(LinkType::LINUX_SLL, &frame, frame.len() as u32)
                .unwrap_or_else(|skip| panic!("ARPHRD {arphrd}: {skip}"));
            assert_eq!(segment.payload, b"GET / HTTP/1.1\r\n\r\n");
            assert_eq!(segment.dst.port(), 8000);
            let frame2 = [sll_v2(arphrd, ETHERTYPE_IPV4), ip.clone()].concat();
            assert_eq!(
                strip(LinkType::LINUX_SLL2, &frame2),
                Ok(Network::Ip(&ip[..]))
            );
        }
    }

    #[test]
    fn sll_raw_ip_device_without_ethertype_reads_the_version_nibble() {
        let v6 = ipv6_tcp();
        for arphrd in [65534u16, 776, 519] {
            let frame = [sll_v1(arphrd, 0), v6.clone()].concat();
            assert_eq!(strip(LinkType::LINUX_SLL, &frame), Ok(Network::Ip(&v6[..])));
        }
        // Protocol 0 on an Ethernet device is no IP-only device: said by number.
        let frame = [sll_v1(1, 0), v6.clone()].concat();
        assert_eq!(
            strip(LinkType::LINUX_SLL, &frame),
            Err(Skip::UnsupportedArphrd(1))
        );
    }

    #[test]
    fn sll_skips_say_why_and_only_short_headers_are_truncated() {
        let ip = ipv4_tcp(b"");
        let netlink = [sll_v1(824, 0x0000), ip.clone()].concat();
        assert_eq!(
            strip(LinkType::LINUX_SLL, &netlink),
            Err(Skip::UnsupportedArphrd(824))
        );
        let netlink2 = [sll_v2(824, 0x0000), ip.clone()].concat();
        assert_eq!(
            strip(LinkType::LINUX_SLL2, &netlink2),
            Err(Skip::UnsupportedArphrd(824))
        );
        let arp = [sll_v1(772, 0x0806), ip.clone()].concat();
        assert_eq!(strip(LinkType::LINUX_SLL, &arp), Err(Skip::NotIp));
        let odd = [sll_v1(772, 0x88e5), ip.clone()].concat();
        assert_eq!(
            strip(LinkType::LINUX_SLL, &odd),
            Err(Skip::UnsupportedEthertype(0x88e5))
        );
        assert_eq!(
            strip(LinkType::LINUX_SLL, &sll_v1(772, 0x0800)[..15]),
            Err(Skip::Truncated)
        );
    }

    #[test]
    fn unknown_ethertype_is_named_and_vendor_snap_is_not_ip() {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x12, 0x34, 0x45, 0, 0, 20]);
        assert_eq!(
            strip(LinkType::ETHERNET, &frame),
            Err(Skip::UnsupportedEthertype(0x1234))
        );
        // CDP: SNAP with Cisco's OUI; its protocol id 0x2000 is no ethertype.
        let mut cdp = vec![0u8; 12];
        cdp.extend_from_slice(&[0, 40, 0xaa, 0xaa, 0x03, 0, 0, 0x0c, 0x20, 0x00, 1, 2]);
        assert_eq!(strip(LinkType::ETHERNET, &cdp), Err(Skip::NotIp));
    }

    #[test]
    fn ppp_with_and_without_hdlc_framing() {
        let ip = ipv4_tcp(b"hi");
        let v6 = ipv6_tcp();
        // FF 03 0021 (RFC 1662 framing), bare 0021, compressed 21, IPv6 0057.
        for (link_type, header, body) in [
            (LinkType::PPP, vec![0xff, 0x03, 0x00, 0x21], &ip),
            (LinkType::PPP, vec![0x00, 0x21], &ip),
            (LinkType::PPP, vec![0x21], &ip),
            (LinkType::PPP, vec![0xff, 0x03, 0x00, 0x57], &v6),
            (LinkType::PPP_HDLC, vec![0xff, 0x03, 0x00, 0x21], &ip),
        ] {
            let frame = [header.clone(), body.clone()].concat();
            assert_eq!(
                strip(link_type, &frame),
                Ok(Network::Ip(&body[..])),
                "{header:02x?}"
            );
        }
        let lcp = [vec![0xff, 0x03, 0xc0, 0x21], vec![1, 1, 0, 4]].concat();
        assert_eq!(strip(LinkType::PPP, &lcp), Err(Skip::NotIp));
        let ipx = [vec![0xff, 0x03, 0x00, 0x2b], vec![0; 30]].concat();
        assert_eq!(
            strip(LinkType::PPP, &ipx),
            Err(Skip::UnsupportedPppProtocol(0x002b))
        );
        assert_eq!(
            strip(LinkType::PPP, &[0xff, 0x03, 0x00]),
            Err(Skip::Truncated)
        );
    }

    #[test]
    fn pppoe_session_over_ethernet() {
        let ip = ipv4_tcp(b"hi");
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x88, 0x64, 0x11, 0x00, 0x12, 0x34]);
        frame.extend_from_slice(&((ip.len() + 2) as u16).to_be_bytes());
        frame.extend_from_slice(&[0x00, 0x21]);
        frame.extend_from_slice(&ip);
        let segment = crate::decode::decode(LinkType::ETHERNET, &frame, frame.len() as u32)
            .expect("PPPoE carries TCP");
        assert_eq!(segment.payload, b"hi");
        // PPP_ETHER (51) is the same without the Ethernet header.
        assert_eq!(
            strip(LinkType::PPP_ETHER, &frame[14..]),
            Ok(Network::Ip(&ip[..]))
        );
        // Discovery stage (0x8863) never carries IP.
        let mut discovery = frame.clone();
        discovery[13] = 0x63;
        assert_eq!(strip(LinkType::ETHERNET, &discovery), Err(Skip::NotIp));
    }

    #[test]
    fn cisco_hdlc_carries_an_ethertype() {
        let v6 = ipv6_tcp();
        let frame = [vec![0x0f, 0x00, 0x86, 0xdd], v6.clone()].concat();
        assert_eq!(strip(LinkType::C_HDLC, &frame), Ok(Network::Ip(&v6[..])));
        // PPP_HDLC (50) also holds Cisco framing, told by the address byte.
        assert_eq!(strip(LinkType::PPP_HDLC, &frame), Ok(Network::Ip(&v6[..])));
        let slarp = [vec![0x8f, 0x00, 0x80, 0x35], vec![0; 20]].concat();
        assert_eq!(strip(LinkType::C_HDLC, &slarp), Err(Skip::NotIp));
    }

    /// An 802.11 data frame: frame control, duration, 3 or 4 addresses, sequence
    /// control, QoS control when `qos`, then LLC/SNAP and `ip`.
    fn wifi(flags: u8, qos: bool, ip: &[u8]) -> Vec<u8> {
        let fc0 = if qos { 0x88 } else { 0x08 };
        let mut frame = vec![fc0, flags, 0, 0];
        frame.extend_from_slice(&[0x11; 18]);
        frame.extend_from_slice(&[0, 0]);
        if flags & 0x03 == 0x03 {
            frame.extend_from_slice(&[0x22; 6]);
        }
        if qos {
            frame.extend_from_slice(&[0, 0]);
            if flags & 0x80 != 0 {
                frame.extend_from_slice(&[0; 4]);
            }
        }
        frame.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
        frame.extend_from_slice(ip);
        frame
    }

    #[test]
    fn ieee802_11_data_frames_qos_and_four_addresses() {
        let ip = ipv4_tcp(b"wifi");
        for (flags, qos) in [
            (0x01, false),
            (0x02, true),
            (0x03, false),
            (0x03, true),
            (0x82, true),
        ] {
            let frame = wifi(flags, qos, &ip);
            assert_eq!(
                strip(LinkType::IEEE802_11, &frame),
                Ok(Network::Ip(&ip[..])),
                "flags {flags:#x} qos {qos}"
            );
        }
        let protected = wifi(0x41, false, &ip);
        assert_eq!(
            strip(LinkType::IEEE802_11, &protected),
            Err(Skip::Encrypted80211)
        );
        let beacon = [vec![0x80, 0x00], vec![0; 40]].concat();
        assert_eq!(strip(LinkType::IEEE802_11, &beacon), Err(Skip::NotIp));
        let mut amsdu = wifi(0x01, true, &ip);
        amsdu[24] = 0x80;
        assert_eq!(
            strip(LinkType::IEEE802_11, &amsdu),
            Err(Skip::UnsupportedAmsdu)
        );
        assert_eq!(
            strip(LinkType::IEEE802_11, &wifi(0x03, true, &ip)[..28]),
            Err(Skip::Truncated)
        );
    }

    #[test]
    fn radiotap_header_is_skipped_by_its_length() {
        let ip = ipv4_tcp(b"wifi");
        // version 0, pad, length 12 (LE), present = flags + rate, flags, rate, padding
        let radiotap_header = vec![0, 0, 12, 0, 0x06, 0, 0, 0, 0x10, 0x02, 0, 0];
        let frame = [radiotap_header, wifi(0x01, true, &ip)].concat();
        assert_eq!(
            strip(LinkType::IEEE802_11_RADIOTAP, &frame),
            Ok(Network::Ip(&ip[..]))
        );
        assert_eq!(
            strip(LinkType::IEEE802_11_RADIOTAP, &frame[..10]),
            Err(Skip::Truncated)
        );
        let mut bad_version = frame.clone();
        bad_version[0] = 1;
        assert_eq!(
            strip(LinkType::IEEE802_11_RADIOTAP, &bad_version),
            Err(Skip::Malformed)
        );
    }

    #[test]
    fn ppi_prism_and_avs_headers_before_802_11() {
        let ip = ipv4_tcp(b"wifi");
        let wifi_frame = wifi(0x01, true, &ip);
        // PPI: version 0, flags 0, length 8 + one 12-byte field, DLT 105 (802.11).
        let mut ppi_frame = vec![0, 0, 20, 0, 105, 0, 0, 0];
        ppi_frame.extend_from_slice(&[2, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        ppi_frame.extend_from_slice(&wifi_frame);
        assert_eq!(strip(LinkType::PPI, &ppi_frame), Ok(Network::Ip(&ip[..])));
        let mut nested = ppi_frame.clone();
        nested[4] = 192;
        assert_eq!(strip(LinkType::PPI, &nested), Err(Skip::Malformed));
        // Prism: message code 0x44, little-endian length 144.
        let mut prism = vec![0x44, 0, 0, 0, 144, 0, 0, 0];
        prism.resize(144, 0);
        let prism_frame = [prism, wifi_frame.clone()].concat();
        assert_eq!(
            strip(LinkType::IEEE802_11_PRISM, &prism_frame),
            Ok(Network::Ip(&ip[..]))
        );
        // AVS: magic 0x80211001, big-endian length 64; found under either link type.
        let mut avs = vec![0x80, 0x21, 0x10, 0x01, 0, 0, 0, 64];
        avs.resize(64, 0);
        let avs_frame = [avs, wifi_frame].concat();
        for lt in [LinkType::IEEE802_11_AVS, LinkType::IEEE802_11_PRISM] {
            assert_eq!(strip(lt, &avs_frame), Ok(Network::Ip(&ip[..])));
        }
        assert_eq!(
            strip(LinkType::IEEE802_11_AVS, &avs_frame[..40]),
            Err(Skip::Truncated)
        );
    }

    /// Bad input is never a panic: every link type, on every prefix of noise and of
    /// frames that are nearly right.
    #[test]
    fn no_link_type_panics_on_any_bytes() {
        let link_types = [
            0u32, 1, 9, 12, 14, 50, 51, 101, 104, 105, 108, 113, 119, 127, 163, 166, 192, 228, 229,
            239, 258, 276,
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut noise = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as u8
        };
        let ip = ipv4_tcp(b"x");
        let mut seeds: Vec<Vec<u8>> = vec![
            wifi(0x83, true, &ip),
            [
                vec![0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                wifi(0x01, true, &ip),
            ]
            .concat(),
            [
                sll_v1(772, 0x8864),
                vec![0x11, 0, 0, 1, 0, 30, 0, 0x21],
                ip.clone(),
            ]
            .concat(),
            [
                vec![0, 0, 8, 0, 1, 0, 0, 0],
                vec![0; 12],
                vec![0x88, 0x64],
                ip.clone(),
            ]
            .concat(),
        ];
        for _ in 0..200 {
            let len = usize::from(noise()) % 120;
            seeds.push((0..len).map(|_| noise()).collect());
        }
        for seed in &seeds {
            for cut in 0..=seed.len() {
                for &lt in &link_types {
                    let _ = strip(LinkType(lt), &seed[..cut]);
                }
            }
        }
    }

    #[test]
    fn pppd_direction_byte_then_ppp() {
        let ip = ipv4_tcp(b"hi");
        let frame = [vec![1, 0xff, 0x03, 0x00, 0x21], ip.clone()].concat();
        assert_eq!(strip(LinkType::PPP_PPPD, &frame), Ok(Network::Ip(&ip[..])));
        assert_eq!(strip(LinkType::PPP_PPPD, &[]), Err(Skip::Truncated));
    }

    #[test]
    fn pktap_header_then_the_inner_link_type() {
        let ip = ipv4_tcp(b"mac");
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x08, 0x00]);
        eth.extend_from_slice(&ip);
        // length 108, record type 1 (packet), DLT 1 (Ethernet), then 96 bytes of
        // interface name, pid, command name, … that connscope does not need.
        let mut header = Vec::new();
        for word in [108u32, 1, 1] {
            header.extend_from_slice(&word.to_le_bytes());
        }
        header.resize(108, 0);
        let frame = [header.clone(), eth].concat();
        assert_eq!(strip(LinkType::PKTAP, &frame), Ok(Network::Ip(&ip[..])));
        let mut nested = frame.clone();
        nested[8..12].copy_from_slice(&258u32.to_le_bytes());
        assert_eq!(strip(LinkType::PKTAP, &nested), Err(Skip::Malformed));
        let mut inner_unknown = frame.clone();
        inner_unknown[8..12].copy_from_slice(&147u32.to_le_bytes());
        assert_eq!(
            strip(LinkType::PKTAP, &inner_unknown),
            Err(Skip::UnsupportedLinkType(LinkType(147)))
        );
        assert_eq!(strip(LinkType::PKTAP, &frame[..50]), Err(Skip::Truncated));
    }
}
