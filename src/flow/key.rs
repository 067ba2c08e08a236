//! Connection identity: the canonical 4-tuple and the two roles in it.
//!
//! Both directions of a connection map to one [`FlowKey`]; which end is the client is
//! decided once per connection (in `tcp`), after which everything is named by role —
//! client and server, Zeek's orig and resp — never source and destination.

use serde::Serialize;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// One end of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl From<SocketAddr> for Endpoint {
    fn from(addr: SocketAddr) -> Self {
        Endpoint {
            ip: addr.ip(),
            port: addr.port(),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

/// The unordered pair of endpoints, stored lower endpoint first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub low: Endpoint,
    pub high: Endpoint,
}

impl FlowKey {
    /// The key for a packet from `src` to `dst`, and whether `src` is the low end.
    pub fn new(src: Endpoint, dst: Endpoint) -> (FlowKey, bool) {
        if src <= dst {
            (
                FlowKey {
                    low: src,
                    high: dst,
                },
                true,
            )
        } else {
            (
                FlowKey {
                    low: dst,
                    high: src,
                },
                false,
            )
        }
    }
}

/// The role of a packet's sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Client,
    Server,
}

impl Direction {
    pub fn index(self) -> usize {
        match self {
            Direction::Client => 0,
            Direction::Server => 1,
        }
    }

    pub fn other(self) -> Direction {
        match self {
            Direction::Client => Direction::Server,
            Direction::Server => Direction::Client,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Client => "client",
            Direction::Server => "server",
        }
    }
}

/// Two values, one per role.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PerSide<T> {
    pub client: T,
    pub server: T,
}

impl<T> PerSide<T> {
    pub fn get(&self, dir: Direction) -> &T {
        match dir {
            Direction::Client => &self.client,
            Direction::Server => &self.server,
        }
    }

    pub fn get_mut(&mut self, dir: Direction) -> &mut T {
        match dir {
            Direction::Client => &mut self.client,
            Direction::Server => &mut self.server,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(s: &str) -> Endpoint {
        Endpoint::from(s.parse::<SocketAddr>().expect("addr"))
    }

    #[test]
    fn both_directions_give_one_key() {
        let (k1, a_low) = FlowKey::new(ep("10.0.0.2:80"), ep("10.0.0.1:40000"));
        let (k2, b_low) = FlowKey::new(ep("10.0.0.1:40000"), ep("10.0.0.2:80"));
        assert_eq!(k1, k2);
        assert_ne!(a_low, b_low);
    }

    #[test]
    fn same_address_different_ports() {
        let (k1, _) = FlowKey::new(ep("127.0.0.1:8080"), ep("127.0.0.1:5000"));
        let (k2, _) = FlowKey::new(ep("127.0.0.1:5000"), ep("127.0.0.1:8080"));
        assert_eq!(k1, k2);
        assert_eq!(k1.low.port, 5000);
    }

    #[test]
    fn ipv6_display_is_bracketed() {
        assert_eq!(ep("[::1]:443").to_string(), "[::1]:443");
    }
}
