//! Community ID flow hash, version 1 (<https://github.com/corelight/community-id-spec>):
//! the string Zeek, Suricata, Arkime and Wireshark print for a flow, so connscope's
//! rows can be joined with theirs.

use super::key::Endpoint;
use base64::Engine;
use sha1::{Digest, Sha1};
use std::net::IpAddr;

const TCP: u8 = 6;
const SEED: u16 = 0;

fn ip_bytes(ip: IpAddr, out: &mut Vec<u8>) {
    match ip {
        IpAddr::V4(v4) => out.extend_from_slice(&v4.octets()),
        IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
    }
}

/// `1:` + base64(SHA-1(seed, lower endpoint's address, the other's, protocol, 0,
/// ports in the same order)); the lower endpoint orders by address, then port.
pub fn community_id(a: Endpoint, b: Endpoint) -> String {
    let (first, second) = if (a.ip, a.port) <= (b.ip, b.port) {
        (a, b)
    } else {
        (b, a)
    };
    let mut input = Vec::with_capacity(2 + 32 + 2 + 4);
    input.extend_from_slice(&SEED.to_be_bytes());
    ip_bytes(first.ip, &mut input);
    ip_bytes(second.ip, &mut input);
    input.push(TCP);
    input.push(0);
    input.extend_from_slice(&first.port.to_be_bytes());
    input.extend_from_slice(&second.port.to_be_bytes());
    let digest = Sha1::digest(&input);
    format!(
        "1:{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(s: &str) -> Endpoint {
        Endpoint::from(s.parse::<std::net::SocketAddr>().expect("addr"))
    }

    #[test]
    fn matches_the_spec_baseline() {
        // From the community-id-spec baseline: tcp 128.232.110.120:34855 -> 66.35.250.204:80.
        let id = community_id(ep("128.232.110.120:34855"), ep("66.35.250.204:80"));
        assert_eq!(id, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
        // Direction does not matter.
        assert_eq!(
            community_id(ep("66.35.250.204:80"), ep("128.232.110.120:34855")),
            id
        );
    }

    #[test]
    fn loopback_flows_match_the_reference_implementation() {
        // Values from the `communityid` Python package (the spec's reference code).
        assert_eq!(
            community_id(ep("127.0.0.1:36710"), ep("127.0.0.1:8080")),
            "1:LqqDAKOFeiQdQg2csRGb6zEVb80="
        );
        assert_eq!(
            community_id(ep("[::1]:45350"), ep("[::1]:8081")),
            "1:jdYIk1uv9BhQa8xgAuMIJx6a3pU="
        );
    }
}
