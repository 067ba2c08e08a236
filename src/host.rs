//! Host names and ports as people and protocols write them: `host`, `host:port`,
//! `[v6]:port`, `[v6]` and a bare `v6` — one reading for the HTTP `Host` header
//! (RFC 9110 §7.2: `uri-host [ ":" port ]`, an IPv6 literal in brackets, RFC 3986
//! §3.2.2), the `--server`/`server=` flags and the names a connection was addressed by
//! (its `Host` headers and its TLS SNI, RFC 6066 §3, which has no port).
//!
//! Not for resolving names, nor for validating them: a name is compared as written,
//! ignoring ASCII case (RFC 4343).

use crate::report::model::ConnectionRecord;
use std::fmt;

/// `host[:port]` split into its parts; the host has no brackets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostPort<'a> {
    pub host: &'a str,
    pub port: Option<u16>,
}

impl<'a> HostPort<'a> {
    /// Reads text whose port is optional (a `Host` header): `example.com:8080`,
    /// `example.com`, `[::1]:80`, `[::1]`, `::1`. An address with more than one colon
    /// and no brackets is a bare IPv6 address, not an address and a port. A port that
    /// is not a number (or not one below 65 536) leaves the text whole, as a host.
    pub fn parse(text: &'a str) -> Self {
        if let Some((host, port)) = bracketed(text) {
            return HostPort { host, port };
        }
        match text.split_once(':') {
            Some((host, port)) if !port.contains(':') => match port_number(port) {
                Some(port) => HostPort { host, port },
                None => HostPort {
                    host: text,
                    port: None,
                },
            },
            // No colon, or a bare IPv6 address.
            _ => HostPort {
                host: text,
                port: None,
            },
        }
    }

    /// Reads text whose port is required (`--server`, `server=`): `HOST:PORT`,
    /// `[IPv6]:PORT` or `:PORT` (any address). Without brackets the port is what
    /// follows the last colon, so `::1:80` is `::1` port 80.
    pub fn parse_with_port(text: &'a str) -> Result<(&'a str, u16), PortError> {
        let (host, port) = match bracketed(text) {
            Some((host, Some(port))) => return Ok((host, port)),
            Some((_, None)) => return Err(PortError::Missing),
            None => text.rsplit_once(':').ok_or(PortError::Missing)?,
        };
        match port.parse::<u16>() {
            Ok(port) => Ok((host, port)),
            Err(_) => Err(PortError::NotANumber(port.to_string())),
        }
    }
}

/// Why `HOST:PORT` text has no usable port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortError {
    /// No `:PORT` at all.
    Missing,
    /// What follows the colon is not a port number.
    NotANumber(String),
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortError::Missing => write!(f, "expected HOST:PORT, [IPv6]:PORT or :PORT"),
            PortError::NotANumber(port) => write!(f, "{port:?} is not a port number"),
        }
    }
}

/// `[v6]` or `[v6]:port`, with the port `None` when absent; `None` when the text does
/// not open with a bracket. What follows `]` other than `:port` is ignored.
fn bracketed(text: &str) -> Option<(&str, Option<u16>)> {
    let rest = text.strip_prefix('[')?;
    Some(match rest.split_once(']') {
        Some((host, after)) => (
            host,
            after.strip_prefix(':').and_then(port_number).flatten(),
        ),
        None => (rest, None),
    })
}

/// A `Host` header's port: digits only (an empty port means the default, RFC 3986
/// §3.2.3, so none).
fn port_number(text: &str) -> Option<Option<u16>> {
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.is_empty() {
        return Some(None);
    }
    text.parse::<u16>().ok().map(Some)
}

/// The host part of `host[:port]`: `example.com:8080` → `example.com`, `[::1]:80` →
/// `::1`, `::1` → `::1`.
pub fn name(text: &str) -> &str {
    HostPort::parse(text).host
}

/// The names a connection was addressed by, without ports: its HTTP `Host` values and
/// its TLS SNI, as sent (repeats included).
pub fn names(c: &ConnectionRecord) -> impl Iterator<Item = &str> {
    c.http
        .iter()
        .filter_map(|x| x.host.as_deref())
        .chain(c.tls.as_ref().and_then(|t| t.sni.as_deref()))
        .map(name)
}

/// Whether a connection was addressed by `want` (ASCII case ignored): in a `Host`
/// header (any port) or as the TLS SNI. `check host=`, `check server=NAME:PORT`,
/// `timeline --host` and `timeline --server NAME:PORT` all ask this.
pub fn addressed_as(c: &ConnectionRecord, want: &str) -> bool {
    names(c).any(|h| h.eq_ignore_ascii_case(want))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(host: &str, port: Option<u16>) -> HostPort<'_> {
        HostPort { host, port }
    }

    #[test]
    fn host_header_forms() {
        assert_eq!(HostPort::parse("example.com"), hp("example.com", None));
        assert_eq!(
            HostPort::parse("example.com:8080"),
            hp("example.com", Some(8080))
        );
        assert_eq!(HostPort::parse("example.com:"), hp("example.com", None));
        assert_eq!(HostPort::parse("[::1]:80"), hp("::1", Some(80)));
        assert_eq!(HostPort::parse("[::1]"), hp("::1", None));
        assert_eq!(HostPort::parse("[fe80::1]:"), hp("fe80::1", None));
        assert_eq!(HostPort::parse("10.0.0.1:443"), hp("10.0.0.1", Some(443)));
    }

    /// The bug the old findings stripper had: `::1` lost its last group as a "port".
    #[test]
    fn a_bare_ipv6_address_keeps_its_last_group() {
        assert_eq!(HostPort::parse("::1"), hp("::1", None));
        assert_eq!(HostPort::parse("fe80::1:80"), hp("fe80::1:80", None));
        assert_ne!(name("::1"), name("::2"));
    }

    #[test]
    fn a_port_that_is_not_a_number_is_part_of_the_host() {
        assert_eq!(
            HostPort::parse("example.com:http"),
            hp("example.com:http", None)
        );
        assert_eq!(
            HostPort::parse("example.com:99999"),
            hp("example.com:99999", None)
        );
        assert_eq!(HostPort::parse(""), hp("", None));
        assert_eq!(HostPort::parse("[::1"), hp("::1", None));
    }

    #[test]
    fn flags_need_a_port() {
        assert_eq!(
            HostPort::parse_with_port("127.0.0.1:8080"),
            Ok(("127.0.0.1", 8080))
        );
        assert_eq!(HostPort::parse_with_port(":443"), Ok(("", 443)));
        assert_eq!(HostPort::parse_with_port("[::1]:80"), Ok(("::1", 80)));
        assert_eq!(HostPort::parse_with_port("::1:80"), Ok(("::1", 80)));
        assert_eq!(
            HostPort::parse_with_port("api.example:443"),
            Ok(("api.example", 443))
        );
        assert_eq!(
            HostPort::parse_with_port("example.com"),
            Err(PortError::Missing)
        );
        assert_eq!(HostPort::parse_with_port("[::1]"), Err(PortError::Missing));
        assert_eq!(
            HostPort::parse_with_port("host:x"),
            Err(PortError::NotANumber("x".into()))
        );
        assert_eq!(
            HostPort::parse_with_port("host:70000")
                .unwrap_err()
                .to_string(),
            "\"70000\" is not a port number"
        );
    }
}
