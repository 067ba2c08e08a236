//! What every rule reads: one input's connections indexed once (by id, by client
//! host), and the small questions rules ask of them — is it open at this moment, busy,
//! which exchange ended last — with the words findings share.

use super::digest::{Attempt, Chunked, Digest, ExchangeDigest};
use super::plural;
use crate::time::Timestamp;

/// One input's connections, indexed once so that the rules which look for "the same
/// client talking to the same server again" stay close to linear.
pub(super) struct Ctx<'a> {
    /// By id (= order of first packet), failed attempts apart.
    pub(super) conns: Vec<&'a Digest>,
    /// Connection attempts that failed at the SYN and carried nothing else.
    pub(super) attempts: &'a Chunked<Attempt>,
    /// Every connection by client host, then id: one sorted list rather than a map of
    /// lists, so a flood of one-packet connections from random sources stays small.
    by_client: Vec<&'a Digest>,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(conns: Vec<&'a Digest>, attempts: &'a Chunked<Attempt>) -> Self {
        let mut by_client = conns.clone();
        by_client.sort_by_key(|c| (c.client.ip, c.id));
        Ctx {
            conns,
            attempts,
            by_client,
        }
    }

    /// Each client host's connections, by id, hosts in address order.
    pub(super) fn clients(&self) -> impl Iterator<Item = &[&'a Digest]> {
        self.by_client.chunk_by(|a, b| a.client.ip == b.client.ip)
    }

    /// Same server: the same endpoint, or the same port under a shared name (HTTP
    /// `Host` or TLS SNI) — one service behind several addresses.
    pub(super) fn same_server(&self, a: &Digest, b: &Digest) -> bool {
        a.server == b.server
            || a.server.port == b.server.port
                && a.hosts.iter().any(|x| {
                    b.hosts
                        .iter()
                        .any(|y| crate::host::name(x) == crate::host::name(y))
                })
    }

    /// The same client host's connections, by id.
    pub(super) fn same_client(&self, c: &Digest) -> &[&'a Digest] {
        let from = self
            .by_client
            .partition_point(|d| d.client.ip < c.client.ip);
        let to = self
            .by_client
            .partition_point(|d| d.client.ip <= c.client.ip);
        &self.by_client[from..to]
    }

    /// The first later connection from the same client host to the same server that
    /// started at or after `after`.
    pub(super) fn next_connection(&self, a: &Digest, after: Timestamp) -> Option<&'a Digest> {
        let peers = self.same_client(a);
        let from = peers.partition_point(|c| c.id <= a.id);
        peers[from..]
            .iter()
            .copied()
            .find(|b| b.start >= after && self.same_server(a, b))
    }
}

/// "requests", for HTTP/2 "HTTP/2 streams", or for TLS "encrypted exchanges".
pub(super) fn requests_word(c: &Digest, n: usize) -> String {
    if c.http2().is_some() {
        plural(n, "HTTP/2 stream", "HTTP/2 streams")
    } else if c.requests_inferred {
        plural(
            n,
            "encrypted exchange (inferred)",
            "encrypted exchanges (inferred)",
        )
    } else {
        plural(n, "request", "requests")
    }
}

pub(super) fn busy_at(xs: &[ExchangeDigest], t: Timestamp) -> bool {
    xs.iter().any(|x| {
        x.request_start()
            .is_some_and(|start| start <= t && t <= x.end())
    })
}

/// The last exchange whose response ended before `t`.
pub(super) fn last_done_before(xs: &[ExchangeDigest], t: Timestamp) -> Option<&ExchangeDigest> {
    xs.iter()
        .rev()
        .find(|x| x.response_complete && x.response_end().is_some_and(|e| e < t))
}

pub(super) fn open_at(c: &Digest, t: Timestamp) -> bool {
    c.start < t && c.close.time.is_none_or(|closed| closed > t)
}

pub(super) fn rtt_ms(c: &Digest) -> Option<f64> {
    c.handshake.as_ref().and_then(|h| h.rtt_ms)
}

pub(super) fn list(ids: &[u64]) -> String {
    if ids.len() <= 8 {
        ids.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        format!(
            "{}, … {}",
            ids[..5]
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            ids[ids.len() - 1]
        )
    }
}
