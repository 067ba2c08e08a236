//! The per-server rollup: for each input and server endpoint, how many connections
//! were opened and how many requests they carried — the reuse ratio at a glance.
//! Derived once into the model, so the table and JSON print the same figures.

use super::model::{ConnectionRecord, ServerSummary};
use std::collections::{BTreeMap, BTreeSet};

pub fn rollup(connections: &[ConnectionRecord]) -> Vec<ServerSummary> {
    // Keyed by (input, first connection id) order: servers appear in the order their
    // first connection started.
    let mut order: Vec<(usize, crate::flow::key::Endpoint)> = Vec::new();
    let mut by_server: BTreeMap<
        (usize, crate::flow::key::Endpoint),
        (ServerSummary, BTreeSet<String>),
    > = BTreeMap::new();
    let mut sorted: Vec<&ConnectionRecord> = connections.iter().collect();
    sorted.sort_by_key(|c| c.id);
    for conn in sorted {
        let key = (conn.input, conn.server);
        let (summary, hosts) = by_server.entry(key).or_insert_with(|| {
            order.push(key);
            (
                ServerSummary {
                    input: conn.input,
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
        if matches!(conn.protocol, "http" | "tls") {
            summary.http_connections += 1;
        }
        summary.requests += conn.requests;
        summary.reused_connections += u64::from(conn.reused);
        hosts.extend(conn.http.iter().filter_map(|x| x.host.clone()));
        hosts.extend(conn.tls.as_ref().and_then(|t| t.sni.clone()));
    }
    order
        .into_iter()
        .filter_map(|key| by_server.remove(&key))
        .map(|(mut summary, hosts)| {
            summary.hosts = hosts.into_iter().collect();
            summary.requests_per_connection = (summary.http_connections > 0)
                .then(|| summary.requests as f64 / summary.http_connections as f64);
            summary
        })
        .collect()
}
