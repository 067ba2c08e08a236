//! Many findings of one kind become one: those about one server host and cause (a port
//! scan is one `handshake_failed`, not 997). So that memory does not grow with the
//! findings, each rule runs twice — once to count its groups, once to hand on the
//! findings of small groups as they are made and fold the others into a bounded merge
//! that keeps numbers only.
//!
//! Not for deciding what is a finding: the rules do that; this only groups what they
//! found.

use super::ctx::Ctx;
use super::digest::{Attempt, Chunked, Digest};
use super::{order, plural, Emit, Found};
use crate::flow::key::Endpoint;
use crate::report::figures::{Cause, Figures, Merged};
use crate::report::model::{Finding, FindingKind, HandshakeOutcome};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Failed handshakes to at least this many ports of one host read as a port scan.
const SCAN_MIN_PORTS: usize = 10;
/// More findings than this of one kind about one server host and cause are merged
/// into one.
const AGGREGATE_ABOVE: usize = 5;
/// A merged finding names this many of its connections in its message…
const AGGREGATE_NAMED: usize = 5;
/// … and keeps at most this many connection ids and packet numbers in the JSON.
const AGGREGATE_KEPT: usize = 1000;

/// The server endpoint of each connection id, failed attempts included; the attempts'
/// index is built only when a rule made enough findings to need it.
struct Servers<'c> {
    conns: &'c [&'c Digest],
    attempts: &'c Chunked<Attempt>,
    attempt_index: Option<Vec<(u64, Endpoint)>>,
}

impl<'c> Servers<'c> {
    fn new(ctx: &'c Ctx<'c>) -> Self {
        Servers {
            conns: &ctx.conns,
            attempts: ctx.attempts,
            attempt_index: None,
        }
    }

    fn of(&mut self, id: u64) -> Option<Endpoint> {
        if let Ok(i) = self.conns.binary_search_by_key(&id, |c| c.id) {
            return Some(self.conns[i].server);
        }
        let attempts = self.attempts;
        let index = self.attempt_index.get_or_insert_with(|| {
            let mut index: Vec<_> = attempts.iter().map(|a| (a.id, a.server)).collect();
            index.sort_unstable_by_key(|(id, _)| *id);
            index
        });
        index
            .binary_search_by_key(&id, |(id, _)| *id)
            .ok()
            .map(|i| index[i].1)
    }
}

/// What findings are merged by: the server host of their first connection, and the
/// cause (the kind's word-valued figures, such as `outcome` or `by`).
type GroupKey = (Option<IpAddr>, Cause);

fn group_key(servers: &mut Servers<'_>, connections: &[u64], figures: &Figures) -> GroupKey {
    let server = connections.first().and_then(|id| servers.of(*id));
    (server.map(|s| s.ip), figures.cause())
}

/// A group of findings being merged: its size, the finding about its earliest
/// connection (which speaks for the group), and the ids, packets and ports it names.
/// Only numbers are kept per finding, never their messages.
#[derive(Default)]
struct Merging {
    count: usize,
    first: Option<Finding>,
    ids: Vec<u64>,
    packets: Vec<u64>,
    ports: Vec<u16>,
}

impl Merging {
    fn add(&mut self, server: Option<Endpoint>, f: Finding) {
        self.count += 1;
        self.ids.extend_from_slice(&f.connections);
        self.packets.extend_from_slice(&f.packets);
        if let Some(s) = server {
            self.ports.push(s.port);
        }
        if self
            .first
            .as_ref()
            .is_none_or(|first| order(&f) < order(first))
        {
            self.first = Some(f);
        }
    }
}

/// One finding standing for `group`: every connection and packet (up to
/// [`AGGREGATE_KEPT`] of each, the rest counted), the first few ids named.
fn merge(host: Option<IpAddr>, cause: Cause, group: Merging, conns: &[&Digest]) -> Option<Finding> {
    let Merging {
        count: n,
        first,
        mut ids,
        mut packets,
        mut ports,
    } = group;
    ports.sort_unstable();
    ports.dedup();
    ids.sort_unstable();
    ids.dedup();
    packets.sort_unstable();
    packets.dedup();
    let (total_ids, total_packets) = (ids.len(), packets.len());
    ids.truncate(AGGREGATE_KEPT);
    packets.truncate(AGGREGATE_KEPT);
    let first = first?;
    let named: Vec<String> = ids
        .iter()
        .take(AGGREGATE_NAMED)
        .map(u64::to_string)
        .collect();
    let more = total_ids.saturating_sub(AGGREGATE_NAMED);
    let about = match host {
        Some(ip) if ports.len() > 1 => format!("{ip} ({} ports)", ports.len()),
        Some(ip) => match ports.first() {
            Some(port) => Endpoint { ip, port: *port }.to_string(),
            None => ip.to_string(),
        },
        None => "one server".to_string(),
    };
    let words: Vec<String> = cause
        .words()
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let why = if words.is_empty() {
        String::new()
    } else {
        format!(", {}", words.join(", "))
    };
    let mut message = format!(
        "{n} {} findings about {about}{why}, shown as one: {} ({}{}). The first: {}",
        first.kind.as_str(),
        plural(total_ids, "connection", "connections"),
        named.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        },
        first.message
    );
    let mut open_ports = Vec::new();
    if let (FindingKind::HandshakeFailed, true, Some(ip)) =
        (first.kind, ports.len() >= SCAN_MIN_PORTS, host)
    {
        message.push_str(
            " Failed attempts to this many ports of one host are what a port scan (or a client \
             hunting for a service) looks like.",
        );
        // A scan's finds: ports that answered with a SYN-ACK the scanner never
        // acknowledged (a half-open probe), which no other finding reports.
        open_ports = conns
            .iter()
            .filter(|c| c.server.ip == ip && c.last_payload().is_none())
            .filter(|c| {
                c.handshake
                    .as_ref()
                    .is_some_and(|h| h.outcome == HandshakeOutcome::NoFinalAck)
            })
            .map(|c| c.server.port)
            .collect();
        open_ports.sort_unstable();
        open_ports.dedup();
        if !open_ports.is_empty() {
            let list: Vec<String> = open_ports.iter().map(u16::to_string).collect();
            message.push_str(&format!(
                " {} answered with a SYN-ACK that the client never acknowledged (open, probed \
                 half-open): {}.",
                if open_ports.len() == 1 {
                    "One port"
                } else {
                    "These ports"
                },
                list.join(", ")
            ));
        }
    }
    let figures = Figures::Merged(Merged {
        aggregated: n,
        by: cause.by,
        connection_count: total_ids,
        connections_dropped: total_ids - ids.len(),
        open_ports,
        outcome: cause.outcome,
        packets_dropped: (total_packets - packets.len()) as u64,
        server_ports: ports.len(),
    });
    Some(Finding {
        kind: first.kind,
        severity: first.severity,
        input: first.input,
        connections: ids,
        packets,
        message,
        figures,
    })
}

/// Runs rules for one input, merging where a rule found many of a kind, and hands each
/// finding on.
pub(super) struct Merger<'c, 'e> {
    input: usize,
    servers: Servers<'c>,
    each: &'e mut dyn FnMut(Finding),
}

impl<'c, 'e> Merger<'c, 'e> {
    pub(super) fn new(ctx: &'c Ctx<'c>, input: usize, each: &'e mut dyn FnMut(Finding)) -> Self {
        Merger {
            input,
            servers: Servers::new(ctx),
            each,
        }
    }

    /// Runs one rule twice: to count its groups, then to hand on or merge.
    pub(super) fn rule(&mut self, run: &mut dyn FnMut(&mut Emit<'_>)) {
        let servers = &mut self.servers;
        let each = &mut *self.each;
        let input = self.input;
        let mut sizes: BTreeMap<GroupKey, usize> = BTreeMap::new();
        let mut total = 0usize;
        run(&mut |found: Found| {
            total += 1;
            *sizes
                .entry(group_key(servers, &found.connections, &found.figures))
                .or_default() += 1;
        });
        let mut merging: BTreeMap<GroupKey, Merging> = BTreeMap::new();
        run(&mut |found: Found| {
            let Some(finding) = found.into_finding(input) else {
                return;
            };
            if total <= AGGREGATE_ABOVE {
                return each(finding);
            }
            let key = group_key(servers, &finding.connections, &finding.figures);
            if sizes.get(&key).copied().unwrap_or(0) <= AGGREGATE_ABOVE {
                return each(finding);
            }
            let server = finding.connections.first().and_then(|id| servers.of(*id));
            merging.entry(key).or_default().add(server, finding);
        });
        for ((host, cause), group) in merging {
            if let Some(merged) = merge(host, cause, group, servers.conns) {
                each(merged);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::test_support::*;
    use serde_json::json;

    /// SYNs to `ports` ports of one host, each port tried twice (from two client
    /// ports), never answered.
    fn scan(ports: u16) -> Vec<Conv> {
        (0..ports)
            .flat_map(|i| {
                [0, 1].map(|again| {
                    let at = f64::from(i) * 0.001 + f64::from(again) * 3.0;
                    let from = 20000 + i + again * ports;
                    let mut c = Conv::open_to(from, ([10, 0, 0, 9], 1 + i), at);
                    c.packets.truncate(1); // the SYN only
                    c
                })
            })
            .collect()
    }

    #[test]
    fn a_port_scan_is_one_finding_not_one_per_port() {
        let mut convs = scan(40);
        // Port 22 answers; the scanner never completes the handshake.
        let mut open = Conv::open_to(30000, ([10, 0, 0, 9], 22), 0.5);
        open.packets.truncate(2);
        convs.push(open);
        let refs: Vec<&Conv> = convs.iter().collect();
        let found = run(&refs, 20.0);
        assert_eq!(kinds(&found), vec!["handshake_failed"], "{found:#?}");
        let f = &found[0];
        assert_eq!(figure(f, "aggregated"), 40);
        assert_eq!(figure(f, "server_ports"), 40);
        assert_eq!(figure(f, "connection_count"), 80);
        assert_eq!(figure(f, "outcome"), "unanswered");
        assert_eq!(f.connections.len(), 80);
        assert_eq!(f.connections[..3], [1, 2, 3]);
        assert!(
            f.message.starts_with(
                "40 handshake_failed findings about 10.0.0.9 (40 ports), outcome unanswered, \
                 shown as one: 80 connections (1, 2, 3, 4, 5 and 75 more)."
            ),
            "{}",
            f.message
        );
        assert!(f.message.contains("port scan"), "{}", f.message);
        assert!(
            f.message.ends_with(
                "One port answered with a SYN-ACK that the client never acknowledged (open, \
                 probed half-open): 22."
            ),
            "{}",
            f.message
        );
        assert_eq!(figure(f, "open_ports"), json!([22]));
        // A few are left as they are.
        let convs = scan(AGGREGATE_ABOVE as u16);
        let refs: Vec<&Conv> = convs.iter().collect();
        assert_eq!(run(&refs, 20.0).len(), AGGREGATE_ABOVE);
    }

    #[test]
    fn a_merged_finding_keeps_ids_and_packets_bounded() {
        let convs = scan(600);
        let refs: Vec<&Conv> = convs.iter().collect();
        let found = run(&refs, 20.0);
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!(f.connections.len(), AGGREGATE_KEPT);
        assert_eq!(f.packets.len(), AGGREGATE_KEPT);
        assert_eq!(figure(f, "connections_dropped"), 200);
        assert_eq!(figure(f, "packets_dropped"), 200);
    }
}
