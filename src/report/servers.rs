//! The per-server rollup: for each input and server endpoint, how many connections
//! were opened and how many requests they carried — the reuse ratio at a glance.
//! Derived once into the model, so the table and JSON print the same figures.

use super::model::{ConnectionRecord, ServerSummary};
use crate::findings::{Digest, Digests};
use crate::flow::key::Endpoint;
use std::collections::{BTreeMap, BTreeSet};

/// A server's figures as they add up.
struct Server<'a> {
    summary: ServerSummary,
    hosts: BTreeSet<&'a str>,
    first_id: u64,
}

/// Counts connection `id` to `server`.
fn count<'m, 'a>(
    servers: &'m mut BTreeMap<Endpoint, Server<'a>>,
    input: usize,
    server: Endpoint,
    id: u64,
) -> &'m mut Server<'a> {
    let s = servers.entry(server).or_insert_with(|| Server {
        summary: ServerSummary {
            input,
            server,
            hosts: Vec::new(),
            connections: 0,
            http_connections: 0,
            requests: 0,
            requests_per_connection: None,
            reused_connections: 0,
            connection_ids: Vec::new(),
        },
        hosts: BTreeSet::new(),
        first_id: id,
    });
    s.first_id = s.first_id.min(id);
    s.summary.connections += 1;
    s.summary.connection_ids.push(id);
    s
}

/// The rollup of one input's connections, from their digests (any order).
pub fn rollup_digests(input: usize, connections: &Digests) -> Vec<ServerSummary> {
    let mut by_server: BTreeMap<Endpoint, Server<'_>> = BTreeMap::new();
    for a in connections.attempts.iter() {
        count(&mut by_server, input, a.server, a.id);
    }
    for conn in connections.connections.iter() {
        let s = count(&mut by_server, input, conn.server, conn.id);
        s.summary.http_connections += u64::from(conn.carries_requests);
        s.summary.requests += conn.requests;
        s.summary.reused_connections += u64::from(conn.requests >= 2);
        s.hosts.extend(conn.hosts.iter().map(|h| &**h));
    }
    // Servers in the order their first connection started.
    let mut servers: Vec<Server<'_>> = by_server.into_values().collect();
    servers.sort_by_key(|s| s.first_id);
    servers
        .into_iter()
        .map(
            |Server {
                 mut summary, hosts, ..
             }| {
                summary.connection_ids.sort_unstable();
                summary.hosts = hosts.into_iter().map(str::to_string).collect();
                summary.requests_per_connection = (summary.http_connections > 0)
                    .then(|| summary.requests as f64 / summary.http_connections as f64);
                summary
            },
        )
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
