//! The per-server rollup: for each input and server endpoint, how many connections
//! were opened and how many requests they carried — the reuse ratio at a glance.
//! Derived once into the model, so the table and JSON print the same figures.

use super::model::{ConnectionRecord, ServerSummary};
use crate::findings::{Digest, Digests};
use std::collections::{BTreeMap, BTreeSet};

/// The rollup of one input's connections, from their digests (any order).
pub fn rollup_digests(input: usize, connections: &Digests) -> Vec<ServerSummary> {
    // Servers appear in the order their first connection started.
    let mut order: Vec<crate::flow::key::Endpoint> = Vec::new();
    let mut by_server: BTreeMap<crate::flow::key::Endpoint, (ServerSummary, BTreeSet<&str>)> =
        BTreeMap::new();
    let mut sorted: Vec<&Digest> = connections.iter().collect();
    sorted.sort_by_key(|c| c.id);
    for conn in sorted {
        let (summary, hosts) = by_server.entry(conn.server).or_insert_with(|| {
            order.push(conn.server);
            (
                ServerSummary {
                    input,
                    server: conn.server,
                    hosts: Vec::new(),
                    connections: 0,
                    http_connections: 0,
                    requests: 0,
                    requests_per_connection: None,
                    reused_connections: 0,
                    connection_ids: Vec::new(),
                },
                BTreeSet::new(),
            )
        });
        summary.connections += 1;
        summary.connection_ids.push(conn.id);
        summary.http_connections += u64::from(conn.carries_requests);
        summary.requests += conn.requests;
        summary.reused_connections += u64::from(conn.requests >= 2);
        hosts.extend(conn.hosts.iter().map(|h| &**h));
    }
    order
        .into_iter()
        .filter_map(|key| by_server.remove(&key))
        .map(|(mut summary, hosts)| {
            summary.hosts = hosts.into_iter().map(str::to_string).collect();
            summary.requests_per_connection = (summary.http_connections > 0)
                .then(|| summary.requests as f64 / summary.http_connections as f64);
            summary
        })
        .collect()
}

/// The rollup of full records, input by input.
pub fn rollup(connections: &[ConnectionRecord]) -> Vec<ServerSummary> {
    let mut by_input: BTreeMap<usize, Digests> = BTreeMap::new();
    for c in connections {
        by_input.entry(c.input).or_default().push(Digest::of(c));
    }
    by_input
        .iter()
        .flat_map(|(input, digests)| rollup_digests(*input, digests))
        .collect()
}
