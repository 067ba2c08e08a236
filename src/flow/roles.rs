//! Who is client: the sender of a SYN, else the receiver of a SYN-ACK, else — for a
//! capture that began mid-connection — a guess from the ports (the payload may
//! correct it later, see `analyzers`). Zeek's orig/resp; docs/design.md "Who is the
//! client".

use super::key::Endpoint;
use crate::decode::Segment;
use crate::report::model::RoleSource;

/// Ports a server plausibly listens on, beyond the well-known range below 1024; used
/// only when no SYN says who the client was.
const LIKELY_SERVER_PORTS: &[u16] = &[
    1080, 1433, 1521, 2049, 3000, 3128, 3306, 4443, 5000, 5432, 5672, 5900, 6379, 6443, 8000, 8008,
    8080, 8081, 8088, 8443, 8888, 9000, 9090, 9200, 9443, 11211, 27017,
];

fn likely_server_port(port: u16) -> bool {
    port < 1024 || LIKELY_SERVER_PORTS.contains(&port)
}

/// Decides the client for a connection whose first packet goes `src` → `dst`.
/// Returns (client, server, how it was decided, whether the first packet came from
/// the server).
pub fn assign_roles(
    src: Endpoint,
    dst: Endpoint,
    seg: &Segment<'_>,
) -> (Endpoint, Endpoint, RoleSource, bool) {
    if seg.flags.syn() && !seg.flags.ack() {
        return (src, dst, RoleSource::Syn, false);
    }
    if seg.flags.syn() && seg.flags.ack() {
        return (dst, src, RoleSource::SynAck, true);
    }
    // Mid-stream: exactly one plausible server port decides; otherwise the lower
    // port is the server (ephemeral ports are high); equal ports keep the first sender
    // as client.
    let src_server = match (likely_server_port(src.port), likely_server_port(dst.port)) {
        (true, false) => true,
        (false, true) => false,
        _ => src.port < dst.port,
    };
    if src_server {
        (dst, src, RoleSource::Ports, true)
    } else {
        (src, dst, RoleSource::Ports, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::table::tests_support::*;

    /// The roles `assign_roles` gives a connection whose first captured packet is
    /// `p`: (client port, server port, how decided, first packet from the server).
    fn roles_of(p: Pkt) -> (u16, u16, RoleSource, bool) {
        let frame = p.bytes();
        let seg = decode(LinkType::ETHERNET, &frame, frame.len() as u32).expect("decodes");
        let (src, dst) = (Endpoint::from(seg.src), Endpoint::from(seg.dst));
        let (client, server, source, flipped) = assign_roles(src, dst, &seg);
        (client.port, server.port, source, flipped)
    }

    #[test]
    fn roles_follow_the_syn_then_the_syn_ack_then_the_ports() {
        let (c, s) = (([10, 0, 0, 1], 40000), ([10, 0, 0, 2], 5432));
        // A SYN's sender is the client whatever the ports.
        let syn = pkt(false, 7, 0.0).syn().between(c, s);
        assert_eq!(roles_of(syn), (5432, 40000, RoleSource::Syn, false));
        // A SYN-ACK first: its sender is the server, and the history starts flipped.
        let synack = pkt(false, 7, 0.0).syn().ack(1).between(c, s);
        assert_eq!(roles_of(synack), (40000, 5432, RoleSource::SynAck, true));
        // Mid-stream: the one plausible server port (5432) decides.
        let data = pkt(false, 7, 0.0).ack(1).data(b"x").between(c, s);
        assert_eq!(roles_of(data), (40000, 5432, RoleSource::Ports, true));
        // Neither port plausible: the lower one is the server.
        let (hi, lo) = (([10, 0, 0, 1], 50001), ([10, 0, 0, 2], 40001));
        let data = pkt(true, 7, 0.0).ack(1).data(b"x").between(hi, lo);
        assert_eq!(roles_of(data), (50001, 40001, RoleSource::Ports, false));
        // Equal ports keep the first sender as client.
        let (a, b) = (([10, 0, 0, 1], 7000), ([10, 0, 0, 2], 7000));
        let data = pkt(false, 7, 0.0).ack(1).data(b"x").between(a, b);
        assert_eq!(roles_of(data), (7000, 7000, RoleSource::Ports, false));
    }
}
