//! Findings: plain-English diagnoses over the finished connections of one input —
//! was a connection reused, and if not, why not. Each rule has a stable `kind`, cites
//! the connections and packet numbers that show it, and stays silent when the
//! evidence is missing. The kinds are documented with examples in docs/findings.md.
//!
//! Rules read a [`Digest`] of each finished connection, made from the report model
//! (`ConnectionRecord`), so what they say can be checked against the table, the JSON and
//! the capture in Wireshark.

pub mod digest;

use crate::flow::key::Direction;
use crate::report::model::{
    CloseHow, ConnectionRecord, Finding, FindingKind, HandshakeOutcome, HttpEndReason, Severity,
};
use crate::time::Timestamp;
use digest::{Attempt, Chunked, ExchangeDigest};
pub use digest::{Digest, Digests};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Tunable thresholds.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// `idle_open_connection`: an open connection quiet for at least this long at the
    /// end of the capture.
    pub idle_open_s: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { idle_open_s: 10.0 }
    }
}

/// `idle_reset`: quiet for at least this long before the RST.
const IDLE_RESET_MIN_S: f64 = 1.0;
/// `server_request_cap`: a server close this soon after the last response is "right after".
const RIGHT_AFTER_S: f64 = 1.0;
/// `stale_connection_reset`: the retry must follow within this long.
const RETRY_WITHIN_S: f64 = 30.0;
/// Probe spacing below this is not reported as an interval ("every 0.0 ms").
pub const PROBE_RHYTHM_MIN_S: f64 = 0.1;
/// `connection_churn`: at least this many connections to one server.
const CHURN_MIN_CONNECTIONS: usize = 3;

/// A duration for people: `45.0 s`, `120 s`, `250 ms`, `0.3 ms`; beyond a few hours
/// (captures spliced from days apart) in hours or days.
pub fn secs(s: f64) -> String {
    if s >= 2.0 * 86_400.0 {
        format!("{:.1} days", s / 86_400.0)
    } else if s >= 3.0 * 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s >= 100.0 {
        format!("{s:.0} s")
    } else if s >= 1.0 {
        format!("{s:.1} s")
    } else if s >= 0.01 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{:.1} ms", s * 1000.0)
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn side(dir: Direction) -> &'static str {
    dir.as_str()
}

fn figures(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// One input's connections, indexed once so that the rules which look for "the same
/// client talking to the same server again" stay close to linear.
struct Ctx<'a> {
    /// By id (= order of first packet), failed attempts apart.
    conns: Vec<&'a Digest>,
    /// Connection attempts that failed at the SYN and carried nothing else.
    attempts: &'a Chunked<Attempt>,
    /// Every connection by client host, then id: one sorted list rather than a map of
    /// lists, so a flood of one-packet connections from random sources stays small.
    by_client: Vec<&'a Digest>,
}

impl<'a> Ctx<'a> {
    fn new(conns: Vec<&'a Digest>, attempts: &'a Chunked<Attempt>) -> Self {
        let mut by_client = conns.clone();
        by_client.sort_by_key(|c| (c.client.ip, c.id));
        Ctx {
            conns,
            attempts,
            by_client,
        }
    }

    /// Each client host's connections, by id, hosts in address order.
    fn clients(&self) -> impl Iterator<Item = &[&'a Digest]> {
        self.by_client.chunk_by(|a, b| a.client.ip == b.client.ip)
    }

    /// Same server: the same endpoint, or the same port under a shared name (HTTP
    /// `Host` or TLS SNI) — one service behind several addresses.
    fn same_server(&self, a: &Digest, b: &Digest) -> bool {
        a.server == b.server
            || a.server.port == b.server.port
                && a.hosts.iter().any(|x| {
                    b.hosts
                        .iter()
                        .any(|y| digest::host_name(x) == digest::host_name(y))
                })
    }

    /// The same client host's connections, by id.
    fn same_client(&self, c: &Digest) -> &[&'a Digest] {
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
    fn next_connection(&self, a: &Digest, after: Timestamp) -> Option<&'a Digest> {
        let peers = self.same_client(a);
        let from = peers.partition_point(|c| c.id <= a.id);
        peers[from..]
            .iter()
            .copied()
            .find(|b| b.start >= after && self.same_server(a, b))
    }
}

/// "requests", or for TLS "encrypted exchanges".
fn requests_word(c: &Digest, n: usize) -> String {
    if c.requests_inferred {
        plural(
            n,
            "encrypted exchange (inferred)",
            "encrypted exchanges (inferred)",
        )
    } else {
        plural(n, "request", "requests")
    }
}

fn busy_at(xs: &[ExchangeDigest], t: Timestamp) -> bool {
    xs.iter().any(|x| {
        x.request_start()
            .is_some_and(|start| start <= t && t <= x.end())
    })
}

/// The last exchange whose response ended before `t`.
fn last_done_before(xs: &[ExchangeDigest], t: Timestamp) -> Option<&ExchangeDigest> {
    xs.iter()
        .rev()
        .find(|x| x.response_complete && x.response_end().is_some_and(|e| e < t))
}

fn open_at(c: &Digest, t: Timestamp) -> bool {
    c.start < t && c.close.time.is_none_or(|closed| closed > t)
}

fn rtt_ms(c: &Digest) -> Option<f64> {
    c.handshake.as_ref().and_then(|h| h.rtt_ms)
}

/// Diagnoses one input's connections (any order); findings come out sorted by their
/// first connection id, then kind.
pub fn diagnose(
    input: usize,
    conns: &[ConnectionRecord],
    capture_end: Option<Timestamp>,
    settings: &Settings,
) -> Vec<Finding> {
    let digests: Digests = conns
        .iter()
        .filter(|c| c.input == input)
        .map(Digest::of)
        .collect();
    let mut out = Vec::new();
    diagnose_digests(input, &digests, capture_end, settings, &mut |f| out.push(f));
    out.sort_by_key(order);
    out
}

/// Where a finding is listed: by its first connection id, then kind. Sorting is stable,
/// so findings of one kind about one connection keep the order they were made in.
pub fn order(f: &Finding) -> (u64, FindingKind) {
    (f.connections.first().copied().unwrap_or(0), f.kind)
}

/// Diagnoses one input's connections from their digests (any order), handing each
/// finding to `each` as it is made, rule by rule: sort them with [`order`].
pub fn diagnose_digests(
    input: usize,
    conns: &Digests,
    capture_end: Option<Timestamp>,
    settings: &Settings,
    each: &mut dyn FnMut(Finding),
) {
    let mut sorted: Vec<&Digest> = conns.connections.iter().collect();
    sorted.sort_by_key(|c| c.id);
    let ctx = Ctx::new(sorted, &conns.attempts);
    let mut servers = Servers::new(&ctx);
    // Those of one kind about one server host and cause are merged when there are many
    // (a port scan is one finding, not 997). So that memory does not grow with the
    // findings, a rule runs twice: once to count its groups, once to hand on the
    // findings of small groups as they are made and fold the others into a bounded
    // merge.
    let mut rule = |run: &mut dyn FnMut(&mut Push<'_>)| {
        let mut sizes: BTreeMap<GroupKey, usize> = BTreeMap::new();
        let mut total = 0usize;
        run(&mut |_, _, connections: Vec<u64>, _, _, figs| {
            total += 1;
            *sizes
                .entry(group_key(&mut servers, &connections, &figs))
                .or_default() += 1;
        });
        let mut merging: BTreeMap<GroupKey, Merging> = BTreeMap::new();
        run(
            &mut |kind, severity, connections: Vec<u64>, packets: Vec<u64>, message, figs| {
                debug_assert!(
                    !figures_collide(&figs),
                    "{kind:?}: a figure reuses a finding field's name"
                );
                let finding = Finding {
                    kind,
                    severity,
                    input,
                    connections,
                    packets,
                    message,
                    figures: figs,
                };
                if total <= AGGREGATE_ABOVE {
                    return each(finding);
                }
                let key = group_key(&mut servers, &finding.connections, &finding.figures);
                if sizes.get(&key).copied().unwrap_or(0) <= AGGREGATE_ABOVE {
                    return each(finding);
                }
                let server = finding.connections.first().and_then(|id| servers.of(*id));
                merging.entry(key).or_default().add(server, finding);
            },
        );
        for ((host, cause), group) in merging {
            if let Some(merged) = merge(host, &cause, group, servers.conns) {
                each(merged);
            }
        }
    };
    rule(&mut |p| connection_reused(&ctx, p));
    rule(&mut |p| new_connection_while_idle(&ctx, p));
    rule(&mut |p| parallel_connections(&ctx, p));
    rule(&mut |p| server_idle_close(&ctx, p));
    rule(&mut |p| header_prevented_reuse(&ctx, p));
    rule(&mut |p| no_reuse(&ctx, p));
    rule(&mut |p| idle_reset(&ctx, p));
    rule(&mut |p| keepalive_unanswered(&ctx, p));
    rule(&mut |p| handshake_failed(&ctx, p));
    rule(&mut |p| idle_open_connection(&ctx.conns, capture_end, settings, p));
    rule(&mut |p| server_request_cap(&ctx, p));
    rule(&mut |p| stale_connection_reset(&ctx, p));
    rule(&mut |p| connection_churn(&ctx, p));
    rule(&mut |p| tls_handshake_failed(&ctx, p));
}

/// The fields every finding has: a kind's figures must not reuse their names, or the
/// JSON object would carry a key twice.
const FINDING_FIELDS: [&str; 6] = [
    "kind",
    "severity",
    "input",
    "connections",
    "packets",
    "message",
];

fn figures_collide(figs: &Map<String, Value>) -> bool {
    FINDING_FIELDS.iter().any(|f| figs.contains_key(*f))
}

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
    attempt_index: Option<Vec<(u64, crate::flow::key::Endpoint)>>,
}

impl<'c> Servers<'c> {
    fn new(ctx: &'c Ctx<'c>) -> Self {
        Servers {
            conns: &ctx.conns,
            attempts: ctx.attempts,
            attempt_index: None,
        }
    }

    fn of(&mut self, id: u64) -> Option<crate::flow::key::Endpoint> {
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
type GroupKey = (Option<std::net::IpAddr>, Vec<(String, String)>);

fn group_key(
    servers: &mut Servers<'_>,
    connections: &[u64],
    figs: &Map<String, Value>,
) -> GroupKey {
    let server = connections.first().and_then(|id| servers.of(*id));
    let cause = figs
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
        .collect();
    (server.map(|s| s.ip), cause)
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
    fn add(&mut self, server: Option<crate::flow::key::Endpoint>, f: Finding) {
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
fn merge(
    host: Option<std::net::IpAddr>,
    cause: &[(String, String)],
    group: Merging,
    conns: &[&Digest],
) -> Option<Finding> {
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
            Some(port) => crate::flow::key::Endpoint { ip, port: *port }.to_string(),
            None => ip.to_string(),
        },
        None => "one server".to_string(),
    };
    let why = if cause.is_empty() {
        String::new()
    } else {
        let words: Vec<String> = cause.iter().map(|(k, v)| format!("{k} {v}")).collect();
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
    let mut figs: Map<String, Value> = cause
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    if !open_ports.is_empty() {
        figs.insert("open_ports".into(), json!(open_ports));
    }
    figs.insert("aggregated".into(), json!(n));
    figs.insert("server_ports".into(), json!(ports.len()));
    figs.insert("connection_count".into(), json!(total_ids));
    figs.insert("connections_dropped".into(), json!(total_ids - ids.len()));
    figs.insert(
        "packets_dropped".into(),
        json!(total_packets - packets.len()),
    );
    Some(Finding {
        kind: first.kind,
        severity: first.severity,
        input: first.input,
        connections: ids,
        packets,
        message,
        figures: figs,
    })
}

type Push<'a> =
    dyn FnMut(FindingKind, Severity, Vec<u64>, Vec<u64>, String, Map<String, Value>) + 'a;

/// Median spacing of consecutive probes from one side, in seconds.
fn probe_interval(c: &Digest, from: Direction) -> Option<f64> {
    let times: Vec<Timestamp> = c
        .probes
        .iter()
        .filter(|p| p.from == from)
        .map(|p| p.time)
        .collect();
    let mut gaps: Vec<f64> = times.windows(2).map(|w| w[1].secs_since(w[0])).collect();
    if gaps.is_empty() {
        return None;
    }
    gaps.sort_by(f64::total_cmp);
    Some(gaps[gaps.len() / 2])
}

fn connection_reused(ctx: &Ctx<'_>, push: &mut Push<'_>) {
    let conns = &ctx.conns;
    for c in conns.iter().filter(|c| c.requests >= 2) {
        let gap = c.max_request_gap_s;
        let mut message = format!(
            "{} rode on connection {} to {}, which was kept open and reused across idle gaps of up to {}.",
            requests_word(c, c.requests as usize),
            c.id,
            c.server,
            secs(gap)
        );
        let mut figs = vec![
            ("requests", json!(c.requests)),
            ("max_idle_s", json!((gap * 1e3).round() / 1e3)),
        ];
        for from in [Direction::Client, Direction::Server] {
            let n = c.probes.iter().filter(|p| p.from == from).count();
            if n == 0 {
                continue;
            }
            // Probes bunched closer than this are no keep-alive timer's rhythm.
            let every = probe_interval(c, from)
                .filter(|s| *s >= PROBE_RHYTHM_MIN_S)
                .map(|s| format!(" every {}", secs(s)))
                .unwrap_or_default();
            let answered = c
                .probes
                .iter()
                .filter(|p| p.from == from && p.acked)
                .count();
            message.push_str(&format!(
                " While it idled, the {} sent {}{every} ({} answered).",
                side(from),
                plural(n, "TCP keep-alive probe", "TCP keep-alive probes"),
                if answered == n {
                    "all".to_string()
                } else {
                    format!("{answered} of {n}")
                }
            ));
            figs.push((
                if from == Direction::Client {
                    "client_probes"
                } else {
                    "server_probes"
                },
                json!(n),
            ));
        }
        let packets = c
            .exchanges
            .iter()
            .filter_map(|x| x.request_packet())
            .collect();
        push(
            FindingKind::ConnectionReused,
            Severity::Info,
            vec![c.id],
            packets,
            message,
            figures(&figs),
        );
    }
}

fn new_connection_while_idle(ctx: &Ctx<'_>, push: &mut Push<'_>) {
    let mut found = Vec::new();
    for peers in ctx.clients() {
        // Sweep this client's connections in order, keeping those still open.
        let mut open: Vec<&Digest> = Vec::new();
        for b in peers {
            let t = b.start;
            open.retain(|a| a.close.time.is_none_or(|closed| closed > t));
            if b.carries_requests {
                // The earlier connection to the same server that had been idle longest.
                let idle = open
                    .iter()
                    .filter(|a| ctx.same_server(a, b) && open_at(a, t) && !busy_at(&a.exchanges, t))
                    .filter_map(|a| last_done_before(&a.exchanges, t).map(|x| (*a, x)))
                    .max_by(|(_, x), (_, y)| y.response_end().cmp(&x.response_end()));
                if let Some(pair) = idle {
                    found.push((*b, pair));
                }
            }
            open.push(b);
        }
    }
    found.sort_by_key(|(b, _)| b.id);
    for (b, idle) in found {
        let t = b.start;
        let (a, last) = idle;
        let since = last.response_end().map_or(0.0, |e| t.secs_since(e));
        let until = match (a.close.how, a.close.time) {
            (CloseHow::Open, _) | (_, None) => {
                "sat idle (no FIN or RST of it was captured before the capture ended)".to_string()
            }
            (_, Some(closed)) => {
                format!(
                    "sat idle and open (it stayed open another {}, until {})",
                    secs(closed.secs_since(t)),
                    closed.time_of_day()
                )
            }
        };
        // Only a captured SYN shows the client opening the connection then; without
        // one, its first packet is merely the first one seen.
        let opened = if b
            .handshake
            .as_ref()
            .is_some_and(|h| h.syn_packet().is_some())
        {
            format!(
                "At {} the client {} opened connection {}",
                t.time_of_day(),
                b.client.ip,
                b.id
            )
        } else {
            format!(
                "At {} the client {} used connection {} (its SYN was not captured: it was already open \
                 when the capture started, or the SYN was lost)",
                t.time_of_day(),
                b.client.ip,
                b.id
            )
        };
        let message = format!(
            "{opened} to {} although connection {} to the same server had \
             finished its last exchange {} earlier and {until}. The idle connection \
             was not handed back to the client's connection pool. Typical causes: a response body that was \
             not read to the end and closed (in Go, resp.Body), a new HTTP client or transport created per \
             request, or a pool limit on idle connections.",
            b.server,
            a.id,
            secs(since)
        );
        let mut packets: Vec<u64> = last.response_end_packet().into_iter().collect();
        packets.push(b.first_packet);
        push(
            FindingKind::NewConnectionWhileIdle,
            Severity::Warning,
            vec![a.id, b.id],
            packets,
            message,
            figures(&[
                ("idle_connection", json!(a.id)),
                ("idle_for_s", json!((since * 1e3).round() / 1e3)),
            ]),
        );
    }
}

fn parallel_connections(ctx: &Ctx<'_>, push: &mut Push<'_>) {
    let conns = &ctx.conns;
    let mut by_server: BTreeMap<_, Vec<&Digest>> = BTreeMap::new();
    for c in conns.iter().filter(|c| c.carries_requests) {
        by_server.entry(c.server).or_default().push(c);
    }
    for (server, group) in by_server {
        // Sweep the busy intervals: +1 at a request's start, -1 at its response's end.
        let mut edges: Vec<(Timestamp, i32, u64)> = Vec::new();
        for c in &group {
            for x in &c.exchanges {
                if let Some(start) = x.request_start() {
                    edges.push((start, 1, c.id));
                    edges.push((x.end(), -1, c.id));
                }
            }
        }
        edges.sort_by_key(|&(t, delta, id)| (t, delta, id));
        let mut busy: BTreeMap<u64, i32> = BTreeMap::new();
        let mut peak: Option<(usize, Timestamp, Vec<u64>)> = None;
        for (t, delta, id) in edges {
            let n = busy.entry(id).or_default();
            *n += delta;
            if *n <= 0 {
                busy.remove(&id);
            }
            if busy.len() >= 2 && peak.as_ref().is_none_or(|(p, _, _)| busy.len() > *p) {
                peak = Some((busy.len(), t, busy.keys().copied().collect()));
            }
        }
        let Some((count, at, ids)) = peak else {
            continue;
        };
        let message = format!(
            "{count} connections to {server} each had a request outstanding at {} (connections {}). \
             Busy connections are not idle, so opening another is normal connection pooling, not a reuse \
             failure.",
            at.time_of_day(),
            ids.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
        );
        let packets = ids
            .iter()
            .filter_map(|id| group.iter().find(|c| c.id == *id))
            .filter_map(|c| {
                c.exchanges
                    .iter()
                    .find(|x| x.request_start().is_some_and(|s| s <= at) && x.end() >= at)
                    .and_then(|x| x.request_packet())
            })
            .collect();
        push(
            FindingKind::ParallelConnections,
            Severity::Info,
            ids,
            packets,
            message,
            figures(&[("peak", json!(count))]),
        );
    }
}

fn server_idle_close(ctx: &Ctx<'_>, push: &mut Push<'_>) {
    let conns = &ctx.conns;
    for a in conns {
        let Some(end) = a.http_end else { continue };
        if end.reason != HttpEndReason::ServerClosedIdle {
            continue;
        }
        let (Some(closed), Some(close_packet)) = (a.close.time, a.close.packet) else {
            continue;
        };
        let Some(last) = last_done_before(&a.exchanges, closed) else {
            continue;
        };
        let idle = last.response_end().map_or(0.0, |e| closed.secs_since(e));
        let Some(b) = ctx.next_connection(a, closed) else {
            continue;
        };
        let Some(next_request) = &b.exchanges.first().and_then(|x| x.request_start()) else {
            continue;
        };
        let interval = last.request_start().map(|s| next_request.secs_since(s));
        let advertised = last.keep_alive_timeout();
        let mut message = format!(
            "The server closed connection {} ({} by {}) after it sat idle for {}; the client's next request \
             to it{} needed a new connection ({}). The server's keep-alive timeout (about {}) is shorter than \
             the client's request interval.",
            a.id,
            a.close.how.as_str().to_uppercase(),
            side(Direction::Server),
            secs(idle),
            interval.map(|s| format!(", {} after the previous one,", secs(s))).unwrap_or_default(),
            b.id,
            secs(idle)
        );
        if let Some(timeout) = advertised {
            let agrees = (idle - timeout as f64).abs() <= (timeout as f64 * 0.1).max(1.0);
            message.push_str(&format!(
                " The server had advertised Keep-Alive: timeout={timeout}, which {} the close observed.",
                if agrees { "agrees with" } else { "does not match" }
            ));
        }
        let mut figs = vec![
            ("idle_s", json!((idle * 1e3).round() / 1e3)),
            ("next_connection", json!(b.id)),
        ];
        if let Some(timeout) = advertised {
            figs.push(("advertised_timeout_s", json!(timeout)));
        }
        push(
            FindingKind::ServerIdleClose,
            Severity::Warning,
            vec![a.id, b.id],
            vec![close_packet, b.first_packet],
            message,
            figures(&figs),
        );
    }
}

/// `Connection: close` and HTTP/1.0 without keep-alive: grouped per client host,
/// server and reason, reported only where another connection followed.
fn header_prevented_reuse(ctx: &Ctx<'_>, push: &mut Push<'_>) {
    let conns = &ctx.conns;
    let mut groups: BTreeMap<
        (
            std::net::IpAddr,
            crate::flow::key::Endpoint,
            Direction,
            bool,
        ),
        Vec<&Digest>,
    > = BTreeMap::new();
    for a in conns {
        let Some(end) = a.http_end else { continue };
        let Some(by) = end.by else { continue };
        let http10 = match end.reason {
            HttpEndReason::ClientConnectionClose | HttpEndReason::ServerConnectionClose => false,
            HttpEndReason::Http10NoKeepAlive => true,
            _ => continue,
        };
        let Some(after) = a.close.time.or(Some(a.end)) else {
            continue;
        };
        if ctx.next_connection(a, after).is_none() {
            continue;
        }
        groups
            .entry((a.client.ip, a.server, by, http10))
            .or_default()
            .push(a);
    }
    for ((client, server, by, http10), group) in groups {
        let ids: Vec<u64> = group.iter().map(|c| c.id).collect();
        let packets: Vec<u64> = group
            .iter()
            .filter_map(|c| {
                let x = &c.exchanges.last()?;
                match by {
                    Direction::Client => x.request_packet(),
                    Direction::Server => x.response_packet(),
                }
            })
            .collect();
        let n = ids.len();
        let (kind, why) = if http10 {
            (
                FindingKind::Http10NoKeepalive,
                format!(
                    "the {} spoke HTTP/1.0 without Connection: keep-alive, and HTTP/1.0 closes after each response",
                    side(by)
                ),
            )
        } else {
            (
                FindingKind::ConnectionCloseHeader,
                format!("the {} sent Connection: close", side(by)),
            )
        };
        let message = format!(
            "Reuse was prevented on {} from {client} to {server}: {why}, so the next request needed a new connection.",
            if n == 1 { format!("connection {}", ids[0]) } else { format!("{n} connections ({})", list(&ids)) },
        );
        push(
            kind,
            Severity::Warning,
            ids,
            packets,
            message,
            figures(&[("by", json!(side(by))), ("count", json!(n))]),
        );
    }
}

fn list(ids: &[u64]) -> String {
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

fn no_reuse(ctx: &Ctx<'_>, push: &mut Push<'_>) {
    let conns = &ctx.conns;
    let mut groups: BTreeMap<(std::net::IpAddr, crate::flow::key::Endpoint), Vec<&Digest>> =
        BTreeMap::new();
    for c in conns {
        let plain_client_close = c.requests == 1
            && c.http_end
                .is_some_and(|e| e.reason == HttpEndReason::ClientClosedIdle);
        if plain_client_close {
            groups.entry((c.client.ip, c.server)).or_default().push(c);
        }
    }
    for ((client, server), group) in groups {
        // In sequence: each opened after the previous one closed.
        let sequential = group
            .windows(2)
            .all(|w| w[0].close.time.is_some_and(|closed| closed <= w[1].start));
        if group.len() < 2 || !sequential {
            continue;
        }
        let ids: Vec<u64> = group.iter().map(|c| c.id).collect();
        let packets = group.iter().filter_map(|c| c.close.packet).collect();
        let message = format!(
            "{} from {client} to {server} each carried a single request and were closed by the client \
             with no protocol reason (no Connection: close, not HTTP/1.0), one after another: connections {}. \
             Typically a new HTTP client, or a new process, per request.",
            plural(ids.len(), "connection", "connections"),
            list(&ids)
        );
        push(
            FindingKind::NoReuse,
            Severity::Warning,
            ids,
            packets,
            message,
            figures(&[("count", json!(group.len()))]),
        );
    }
}

fn idle_reset(ctx: &Ctx<'_>, push: &mut Push<'_>) {
    let conns = &ctx.conns;
    for c in conns {
        let (CloseHow::Rst, Some(by), Some(at), Some(packet)) =
            (c.close.how, c.close.by, c.close.time, c.close.packet)
        else {
            continue;
        };
        let established = c
            .handshake
            .as_ref()
            .is_none_or(|h| h.outcome == HandshakeOutcome::Completed);
        let outstanding = c
            .http_end
            .is_some_and(|e| e.reason == HttpEndReason::ClosedDuringExchange);
        let Some(last) = c.last_payload() else {
            continue;
        };
        let quiet = at.secs_since(last.time);
        // A reset that gives up on unanswered keep-alive probes is the prober's verdict
        // on a dead peer (`keepalive_unanswered`), not an idle timeout.
        let gave_up = c
            .probes
            .iter()
            .any(|p| p.from == by && !p.acked && p.time <= at);
        if !established || outstanding || gave_up || quiet < IDLE_RESET_MIN_S {
            continue;
        }
        let who = match by {
            Direction::Server => "the server, or a middlebox in front of it (NAT, firewall, load balancer),",
            Direction::Client => "the client (a pool discarding it with an abortive close), or a middlebox on its side,",
        };
        let message = format!(
            "An RST from the {} ended connection {} to {} after it had carried no data either way for {} \
             (nothing was sent into it): {who} dropped the idle connection — an idle timeout of about {}.",
            side(by),
            c.id,
            c.server,
            secs(quiet),
            secs(quiet)
        );
        push(
            FindingKind::IdleReset,
            Severity::Warning,
            vec![c.id],
            vec![last.packet, packet],
            message,
            figures(&[
                ("idle_s", json!((quiet * 1e3).round() / 1e3)),
                ("by", json!(side(by))),
            ]),
        );
    }
}

fn keepalive_unanswered(ctx: &Ctx<'_>, push: &mut Push<'_>) {
    let conns = &ctx.conns;
    for c in conns {
        let unanswered: Vec<_> = c.probes.iter().filter(|p| !p.acked).collect();
        let Some(last) = unanswered.last() else {
            continue;
        };
        let prober = last.from;
        let then = match (c.close.how, c.close.by, c.close.time) {
            (CloseHow::Rst, Some(by), Some(t)) if by == prober && t >= last.time => {
                format!(
                    "then the {} reset the connection (packet {})",
                    side(by),
                    c.close.packet.unwrap_or(0)
                )
            }
            (CloseHow::Open, _, _) => {
                "then the capture ended with no FIN or RST captured on the connection".to_string()
            }
            (how, Some(by), Some(_)) => format!(
                "the connection was later closed ({} by the {})",
                how.as_str().to_uppercase(),
                side(by)
            ),
            _ => "nothing followed".to_string(),
        };
        let message = format!(
            "{} from the {} on connection {} got no answer — the peer ({}) is gone or unreachable; {then}.",
            plural(unanswered.len(), "TCP keep-alive probe", "TCP keep-alive probes"),
            side(prober),
            c.id,
            match prober {
                Direction::Client => c.server,
                Direction::Server => c.client,
            }
        );
        let mut packets: Vec<u64> = unanswered.iter().map(|p| p.packet).collect();
        packets.extend(c.close.packet.filter(|_| c.close.how == CloseHow::Rst));
        push(
            FindingKind::KeepaliveUnanswered,
            Severity::Warning,
            vec![c.id],
            packets,
            message,
            figures(&[("unanswered", json!(unanswered.len()))]),
        );
    }
}

fn handshake_failed(ctx: &Ctx<'_>, push: &mut Push<'_>) {
    /// An attempt: id, SYN retries, SYN packet, RST packet.
    type Tried = (u64, u32, Option<u64>, Option<u64>);
    let mut groups: BTreeMap<(crate::flow::key::Endpoint, bool), Vec<Tried>> = BTreeMap::new();
    for c in &ctx.conns {
        let Some(h) = &c.handshake else { continue };
        let refused = match h.outcome {
            HandshakeOutcome::Refused => true,
            HandshakeOutcome::Unanswered => false,
            _ => continue,
        };
        let tried = (c.id, h.syn_retries, h.syn_packet(), h.refused_packet());
        groups.entry((c.server, refused)).or_default().push(tried);
    }
    for a in ctx.attempts.iter() {
        let tried = (a.id, a.syn_retries, a.syn_packet(), a.refused_packet());
        groups.entry((a.server, a.refused)).or_default().push(tried);
    }
    for ((server, refused), mut group) in groups {
        group.sort_unstable_by_key(|t| t.0);
        let ids: Vec<u64> = group.iter().map(|t| t.0).collect();
        let retries: u32 = group.iter().map(|t| t.1).fold(0, u32::saturating_add);
        let packets = group.iter().flat_map(|t| [t.2, t.3]).flatten().collect();
        drop(group);
        let what = if refused {
            "was refused: the server answered the SYN with an RST (nothing listening on that port, or a firewall rejecting)".to_string()
        } else {
            format!(
                "got no answer to its SYN{} (the server is down, unreachable, or a firewall drops the packets)",
                if retries > 0 { format!(" despite {}", plural(retries as usize, "retry", "retries")) } else { String::new() }
            )
        };
        let message = format!(
            "{} to {server} {what}.",
            if ids.len() == 1 {
                format!("Connection {}", ids[0])
            } else {
                format!("{} connection attempts ({})", ids.len(), list(&ids))
            }
        );
        push(
            FindingKind::HandshakeFailed,
            Severity::Warning,
            ids,
            packets,
            message,
            figures(&[
                (
                    "outcome",
                    json!(if refused { "refused" } else { "unanswered" }),
                ),
                ("syn_retries", json!(retries)),
            ]),
        );
    }
}

fn idle_open_connection(
    conns: &[&Digest],
    capture_end: Option<Timestamp>,
    settings: &Settings,
    push: &mut Push<'_>,
) {
    let Some(end) = capture_end else { return };
    // An attempt nobody answered is not a connection anyone holds open:
    // `handshake_failed` reports it. Nor is a SYN-ACK the client never acknowledged
    // with nothing sent after it (a half-open scan probe, a client that gave up).
    let failed = |c: &Digest| {
        c.handshake.as_ref().is_some_and(|h| match h.outcome {
            HandshakeOutcome::Unanswered | HandshakeOutcome::Refused => true,
            HandshakeOutcome::NoFinalAck => c.last_payload().is_none(),
            _ => false,
        })
    };
    for c in conns
        .iter()
        .filter(|c| c.close.how == CloseHow::Open && !failed(c))
    {
        let quiet_since = c.last_payload().map_or(c.start, |p| p.time);
        let quiet = end.secs_since(quiet_since);
        if quiet < settings.idle_open_s {
            continue;
        }
        let probes_after = c.probes.iter().filter(|p| p.time >= quiet_since).count();
        let what = if probes_after > 0 {
            format!(
                "only {} crossed it",
                plural(probes_after, "keep-alive probe", "keep-alive probes")
            )
        } else {
            "nothing crossed it".to_string()
        };
        let message = format!(
            "No FIN or RST of connection {} to {} was captured, and it had carried no data for the \
             capture's last {} ({what}): a connection a pool holds for reuse, or one that leaked.",
            c.id,
            c.server,
            secs(quiet)
        );
        let mut packets: Vec<u64> = c.last_payload().map(|p| p.packet).into_iter().collect();
        if packets.last() != Some(&c.last_packet) {
            packets.push(c.last_packet);
        }
        push(
            FindingKind::IdleOpenConnection,
            Severity::Info,
            vec![c.id],
            packets,
            message,
            figures(&[("idle_s", json!((quiet * 1e3).round() / 1e3))]),
        );
    }
}

fn server_request_cap(ctx: &Ctx<'_>, push: &mut Push<'_>) {
    let conns = &ctx.conns;
    let mut groups: BTreeMap<(crate::flow::key::Endpoint, u64), Vec<&Digest>> = BTreeMap::new();
    for c in conns.iter().filter(|c| c.requests >= 2) {
        let Some(end) = c.http_end else { continue };
        let Some(last) = &c.exchanges.last() else {
            continue;
        };
        let right_after = match end.reason {
            HttpEndReason::ServerConnectionClose => true,
            HttpEndReason::ServerClosedIdle => match (c.close.time, last.response_end()) {
                (Some(closed), Some(done)) => closed.secs_since(done) < RIGHT_AFTER_S,
                _ => false,
            },
            _ => false,
        };
        if right_after {
            groups.entry((c.server, c.requests)).or_default().push(c);
        }
    }
    for ((server, n), group) in groups.into_iter().filter(|(_, g)| g.len() >= 2) {
        let ids: Vec<u64> = group.iter().map(|c| c.id).collect();
        let advertised_max = group.iter().find_map(|c| c.keep_alive_max());
        let message = format!(
            "The server {server} itself closed {} right after {n} requests each, without the client asking for \
             Connection: close: a per-connection request limit{}.",
            plural(ids.len(), "connection", "connections"),
            match advertised_max {
                Some(m) => format!(" (it advertised Keep-Alive: max={m})"),
                None => " (a Keep-Alive max or a server setting)".to_string(),
            }
        );
        let packets = group.iter().filter_map(|c| c.close.packet).collect();
        push(
            FindingKind::ServerRequestCap,
            Severity::Warning,
            ids,
            packets,
            message,
            figures(&[("requests", json!(n))]),
        );
    }
}

fn stale_connection_reset(ctx: &Ctx<'_>, push: &mut Push<'_>) {
    let conns = &ctx.conns;
    for a in conns {
        let Some(last) = a.rare().and_then(|r| r.unanswered_reuse.as_ref()) else {
            continue;
        };
        let (Some(closed), true) = (a.close.time, last.idle_before_s >= IDLE_RESET_MIN_S) else {
            continue;
        };
        let sent = last.sent;
        let retry = ctx.same_client(a).iter().find(|b| {
            b.id > a.id
                && ctx.same_server(a, b)
                && b.start >= sent
                && b.start.secs_since(closed) <= RETRY_WITHIN_S
                && b.first_request
                    == digest::request_line_hash(
                        last.line.method.as_deref(),
                        last.line.target.as_deref(),
                    )
        });
        let Some(b) = retry else { continue };
        let message = format!(
            "The client sent {} {} on connection {} after it had sat idle for {}, and got {} from the server \
             instead of a response; it sent the request again on a new connection ({}). The classic pool race: \
             the server had already dropped the idle connection.",
            last.line.method.as_deref().unwrap_or("a request"),
            last.line.target.as_deref().unwrap_or(""),
            a.id,
            secs(last.idle_before_s),
            if a.close.how == CloseHow::Rst { "an RST" } else { "a FIN" },
            b.id
        );
        let packets = [
            last.line.packet,
            a.close.packet,
            b.exchanges.first().and_then(|x| x.request_packet()),
        ]
        .into_iter()
        .flatten()
        .collect();
        push(
            FindingKind::StaleConnectionReset,
            Severity::Warning,
            vec![a.id, b.id],
            packets,
            message,
            figures(&[("retry_connection", json!(b.id))]),
        );
    }
}

fn connection_churn(ctx: &Ctx<'_>, push: &mut Push<'_>) {
    let conns = &ctx.conns;
    let mut by_server: BTreeMap<crate::flow::key::Endpoint, Vec<&Digest>> = BTreeMap::new();
    for c in conns
        .iter()
        .filter(|c| c.carries_requests && c.requests > 0)
    {
        by_server.entry(c.server).or_default().push(c);
    }
    for (server, group) in by_server {
        let requests: u64 = group.iter().map(|c| c.requests).sum();
        if group.len() < CHURN_MIN_CONNECTIONS || requests > group.len() as u64 {
            continue;
        }
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let span = last.start.secs_since(first.start);
        let saved = group.len() - 1;
        let rtts: Vec<f64> = group.iter().filter_map(|c| rtt_ms(c)).collect();
        let mean_rtt = (!rtts.is_empty()).then(|| rtts.iter().sum::<f64>() / rtts.len() as f64);
        let message = format!(
            "{} connections to {server} in {} carried {requests} requests: none was reused. Reusing one \
             connection would have saved {} handshakes{}.",
            group.len(),
            secs(span),
            saved,
            mean_rtt.map(|ms| format!(" (≈ {:.1} ms of round trips)", ms * saved as f64)).unwrap_or_default()
        );
        let ids: Vec<u64> = group.iter().map(|c| c.id).collect();
        let packets = group.iter().map(|c| c.first_packet).collect();
        push(
            FindingKind::ConnectionChurn,
            Severity::Info,
            ids,
            packets,
            message,
            figures(&[
                ("count", json!(group.len())),
                ("requests", json!(requests)),
                ("handshakes_saved", json!(saved)),
            ]),
        );
    }
}

fn tls_handshake_failed(ctx: &Ctx<'_>, push: &mut Push<'_>) {
    for c in &ctx.conns {
        let Some(t) = c.rare().and_then(|r| r.tls_failure.as_ref()) else {
            continue;
        };
        let (why, packets, by) = match &t.alert {
            Some(a) if a.level == "fatal" => (
                format!(
                    "the {} sent a fatal alert, {}",
                    a.from.as_str(),
                    a.description
                ),
                vec![a.packet],
                Some(a.from),
            ),
            _ => match (c.close.how, c.close.by, c.close.packet) {
                (CloseHow::Open, _, _) => continue, // still in progress at the end of the capture
                (how, Some(by), Some(packet)) => (
                    format!(
                        "the {} closed the connection ({}) before the handshake completed",
                        by.as_str(),
                        how.as_str().to_uppercase()
                    ),
                    vec![packet],
                    Some(by),
                ),
                _ => continue,
            },
        };
        let message = format!(
            "The TLS handshake on connection {} to {}{} failed: {why}.",
            c.id,
            c.server,
            t.sni
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default()
        );
        let mut packets = packets;
        packets.push(t.client_hello_packet);
        push(
            FindingKind::TlsHandshakeFailed,
            Severity::Warning,
            vec![c.id],
            packets,
            message,
            figures(&[("by", json!(by.map(Direction::as_str)))]),
        );
    }
}

#[cfg(test)]
mod tests {
    //! Each rule on conversations built packet by packet (etherparse), tracked and
    //! analysed exactly as a capture would be.
    use super::*;
    use crate::flow::table::tests_support::{capture, Conv};

    const GET: &str = "GET / HTTP/1.1\r\nHost: api.example\r\n\r\n";
    const OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

    fn kinds(found: &[Finding]) -> Vec<&'static str> {
        found.iter().map(|f| f.kind.as_str()).collect()
    }

    fn run(convs: &[&Conv], end: f64) -> Vec<Finding> {
        let records = capture(convs);
        diagnose(
            0,
            &records,
            Some(Timestamp::from_nanos((end * 1e9) as i64)),
            &Settings::default(),
        )
    }

    fn find(found: &[Finding], kind: FindingKind) -> &Finding {
        found
            .iter()
            .find(|f| f.kind == kind)
            .unwrap_or_else(|| panic!("no {kind:?} in {:?}", kinds(found)))
    }

    #[test]
    fn reused_connection_with_probes() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(0.2, OK);
        a.client_probe(15.2, true).client_probe(30.2, true);
        a.request(45.2, GET).response(45.3, OK).fin(true, 46.0);
        let found = run(&[&a], 46.0);
        assert_eq!(kinds(&found), vec!["connection_reused"]);
        let f = &found[0];
        assert!(
            f.message.contains("2 requests rode on connection 1"),
            "{}",
            f.message
        );
        assert!(
            f.message
                .contains("2 TCP keep-alive probes every 15.0 s (all answered)"),
            "{}",
            f.message
        );
        assert_eq!(f.figures["client_probes"], 2);
    }

    #[test]
    fn new_connection_while_idle_and_not_for_another_server() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(0.2, OK).fin(true, 9.0);
        let mut b = Conv::open(40001, 2.0);
        b.request(2.1, GET).response(2.2, OK).fin(true, 3.0);
        let found = run(&[&a, &b], 9.0);
        let f = find(&found, FindingKind::NewConnectionWhileIdle);
        assert_eq!(f.connections, vec![1, 2]);
        assert_eq!(f.severity, Severity::Warning);
        assert!(
            f.message
                .contains("finished its last exchange 1.8 s earlier"),
            "{}",
            f.message
        );
        // The same timing against a different server (and Host) is no reuse failure.
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(0.2, OK).fin(true, 9.0);
        let mut b = Conv::open_to(40001, ([10, 0, 0, 3], 80), 2.0);
        b.request(2.1, "GET / HTTP/1.1\r\nHost: other.example\r\n\r\n")
            .response(2.2, OK)
            .fin(true, 3.0);
        let found = run(&[&a, &b], 9.0);
        assert!(
            !kinds(&found).contains(&"new_connection_while_idle"),
            "{:?}",
            kinds(&found)
        );
    }

    #[test]
    fn parallel_connections_are_not_idle() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(1.0, OK).fin(true, 2.0);
        let mut b = Conv::open(40001, 0.3);
        b.request(0.5, GET).response(0.8, OK).fin(true, 2.0);
        let found = run(&[&a, &b], 2.0);
        let f = find(&found, FindingKind::ParallelConnections);
        assert_eq!(f.figures["peak"], 2);
        assert_eq!(f.connections, vec![1, 2]);
        assert!(!kinds(&found).contains(&"new_connection_while_idle"));
    }

    #[test]
    fn server_idle_close_with_advertised_timeout() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET)
            .response(
                0.2,
                "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n",
            )
            .fin(false, 5.2);
        let mut b = Conv::open(40001, 10.0);
        b.request(10.1, GET).response(10.2, OK);
        let found = run(&[&a, &b], 11.0);
        let f = find(&found, FindingKind::ServerIdleClose);
        assert_eq!(f.connections, vec![1, 2]);
        assert!(
            f.message.contains("after it sat idle for 5.0 s"),
            "{}",
            f.message
        );
        assert!(
            f.message.contains("Keep-Alive: timeout=5, which agrees"),
            "{}",
            f.message
        );
        assert_eq!(f.figures["advertised_timeout_s"], 5);
    }

    #[test]
    fn connection_close_and_http10_name_the_side() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            .response(0.2, OK)
            .fin(false, 0.3);
        let mut b = Conv::open(40001, 1.0);
        b.request(1.1, GET)
            .response(1.2, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
            .fin(false, 1.3);
        let mut c = Conv::open(40002, 2.0);
        c.request(2.1, GET).response(2.2, OK);
        let found = run(&[&a, &b, &c], 3.0);
        let close = find(&found, FindingKind::ConnectionCloseHeader);
        assert_eq!(close.connections, vec![1]);
        assert!(close.message.contains("the client sent Connection: close"));
        let http10 = find(&found, FindingKind::Http10NoKeepalive);
        assert_eq!(http10.connections, vec![2]);
        assert_eq!(http10.figures["by"], "server");
    }

    #[test]
    fn no_reuse_one_request_per_connection_closed_by_client() {
        let mut convs = Vec::new();
        for i in 0..3u16 {
            let at = f64::from(i) * 2.0;
            let mut c = Conv::open(40000 + i, at);
            c.request(at + 0.1, GET)
                .response(at + 0.2, OK)
                .fin(true, at + 0.3);
            convs.push(c);
        }
        let refs: Vec<&Conv> = convs.iter().collect();
        let found = run(&refs, 7.0);
        let f = find(&found, FindingKind::NoReuse);
        assert_eq!(f.connections, vec![1, 2, 3]);
        let churn = find(&found, FindingKind::ConnectionChurn);
        assert_eq!(churn.figures["handshakes_saved"], 2);
    }

    #[test]
    fn idle_reset_and_stale_connection_reset() {
        // Reset after 5 s of silence: an idle timeout somewhere.
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(0.2, OK).rst(false, 5.2);
        let found = run(&[&a], 6.0);
        let f = find(&found, FindingKind::IdleReset);
        assert_eq!(f.figures["idle_s"], 5.0);
        // A request sent into an idle connection the server had dropped, then retried.
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET)
            .response(0.2, OK)
            .request(10.0, GET)
            .rst(false, 10.001);
        let mut b = Conv::open(40001, 10.01);
        b.request(10.02, GET).response(10.03, OK);
        let found = run(&[&a, &b], 11.0);
        let f = find(&found, FindingKind::StaleConnectionReset);
        assert_eq!(f.connections, vec![1, 2]);
        assert!(
            !kinds(&found).contains(&"idle_reset"),
            "something was sent into it"
        );
    }

    #[test]
    fn unanswered_probes_then_reset() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(0.2, OK);
        a.client_probe(10.0, false)
            .client_probe(11.0, false)
            .rst(true, 12.0);
        let found = run(&[&a], 12.0);
        let f = find(&found, FindingKind::KeepaliveUnanswered);
        assert_eq!(f.figures["unanswered"], 2);
        assert!(
            f.message.contains("then the client reset the connection"),
            "{}",
            f.message
        );
    }

    #[test]
    fn failed_handshakes_grouped_per_server() {
        let mut a = Conv::open(40000, 0.0);
        a.packets.truncate(1); // SYN only
        let mut b = Conv::open(40001, 1.0);
        b.packets.truncate(1);
        b.packets.push(
            crate::flow::table::tests_support::pkt(false, 0, 1.001)
                .rst()
                .ack(40_001_001)
                .between(([10, 0, 0, 1], 40001), ([10, 0, 0, 2], 80)),
        );
        let found = run(&[&a, &b], 2.0);
        let outcomes: Vec<&Value> = found
            .iter()
            .filter(|f| f.kind == FindingKind::HandshakeFailed)
            .map(|f| &f.figures["outcome"])
            .collect();
        assert_eq!(outcomes, vec!["unanswered", "refused"]);
    }

    #[test]
    fn an_unanswered_syn_is_a_failed_handshake_not_an_idle_open_connection() {
        let mut a = Conv::open(40000, 0.0);
        a.packets.truncate(1); // SYN only
        let found = run(&[&a], 60.0);
        assert_eq!(kinds(&found), vec!["handshake_failed"]);
    }

    #[test]
    fn idle_open_connection_at_the_end() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET)
            .response(0.2, OK)
            .client_probe(5.0, true);
        let found = run(&[&a], 30.0);
        let f = find(&found, FindingKind::IdleOpenConnection);
        assert!(
            f.message.contains("only 1 keep-alive probe crossed it"),
            "{}",
            f.message
        );
        // Built on an absence: says what was not captured rather than "still open".
        assert!(
            f.message
                .starts_with("No FIN or RST of connection 1 to 10.0.0.2:80 was captured"),
            "{}",
            f.message
        );
        assert!(run(&[&a], 5.0)
            .iter()
            .all(|f| f.kind != FindingKind::IdleOpenConnection));
    }

    #[test]
    fn server_request_cap() {
        let close = "HTTP/1.1 200 OK\r\nConnection: close\r\nKeep-Alive: max=2\r\nContent-Length: 0\r\n\r\n";
        let mut convs = Vec::new();
        for i in 0..2u16 {
            let at = f64::from(i) * 3.0;
            let mut c = Conv::open(40000 + i, at);
            c.request(at + 0.1, GET)
                .response(at + 0.2, OK)
                .request(at + 0.3, GET)
                .response(at + 0.4, close)
                .fin(false, at + 0.5);
            convs.push(c);
        }
        let refs: Vec<&Conv> = convs.iter().collect();
        let found = run(&refs, 7.0);
        let f = find(&found, FindingKind::ServerRequestCap);
        assert_eq!(f.figures["requests"], 2);
        assert!(f.message.contains("Keep-Alive: max=2"), "{}", f.message);
    }

    /// The bug: `connection_churn` wrote its count under `connections`, the name of the
    /// ids every finding has, so its JSON object had that key twice.
    #[test]
    fn connection_churn_count_is_not_a_second_connections_key() {
        let mut convs = Vec::new();
        for i in 0..3u16 {
            let at = f64::from(i) * 2.0;
            let mut c = Conv::open(40000 + i, at);
            c.request(at + 0.1, GET).response(at + 0.2, OK);
            c.fin(true, at + 0.3);
            convs.push(c);
        }
        let refs: Vec<&Conv> = convs.iter().collect();
        for f in run(&refs, 7.0) {
            assert!(
                !figures_collide(&f.figures),
                "{:?}: {:?}",
                f.kind,
                f.figures
            );
        }
        let found = run(&refs, 7.0);
        assert_eq!(
            find(&found, FindingKind::ConnectionChurn).figures["count"],
            3
        );
    }

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
        assert_eq!(f.figures["aggregated"], 40);
        assert_eq!(f.figures["server_ports"], 40);
        assert_eq!(f.figures["connection_count"], 80);
        assert_eq!(f.figures["outcome"], "unanswered");
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
        assert_eq!(f.figures["open_ports"], json!([22]));
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
        assert_eq!(f.figures["connections_dropped"], 200);
        assert_eq!(f.figures["packets_dropped"], 200);
    }

    #[test]
    fn a_connection_without_a_captured_syn_is_used_not_opened() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(0.2, OK);
        let mut b = Conv::open(40001, 2.0);
        b.request(2.1, GET).response(2.2, OK);
        b.packets.drain(..3); // the capture missed its handshake
        let found = run(&[&a, &b], 9.0);
        let f = find(&found, FindingKind::NewConnectionWhileIdle);
        assert!(
            f.message.contains(
                "the client 10.0.0.1 used connection 2 (its SYN was not captured: it was already \
                 open when the capture started, or the SYN was lost)"
            ),
            "{}",
            f.message
        );
        assert!(!f.message.contains("opened connection 2"), "{}", f.message);
        // Connection 1 was never seen closing: the finding says that, not "still open".
        assert!(
            f.message
                .contains("sat idle (no FIN or RST of it was captured before the capture ended)"),
            "{}",
            f.message
        );
    }

    #[test]
    fn an_unacknowledged_synack_is_not_an_idle_open_connection() {
        let mut a = Conv::open(40000, 0.0);
        a.packets.truncate(2); // SYN, SYN-ACK; the client never acknowledges
        let found = run(&[&a], 60.0);
        assert!(
            found
                .iter()
                .all(|f| f.kind != FindingKind::IdleOpenConnection),
            "{:?}",
            kinds(&found)
        );
    }

    #[test]
    fn durations_of_days_are_not_written_in_seconds() {
        assert_eq!(secs(184_280_859.0), "2132.9 days");
        assert_eq!(secs(4.0 * 3600.0), "4.0 h");
        assert_eq!(secs(120.0), "120 s");
    }

    /// The bug: two probes in the same instant were "sent every 0.0 ms".
    #[test]
    fn probes_in_one_burst_have_no_rhythm() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(0.2, OK);
        a.client_probe(5.0, true).client_probe(5.0001, true);
        a.request(9.0, GET).response(9.1, OK).fin(true, 9.5);
        let found = run(&[&a], 10.0);
        let f = find(&found, FindingKind::ConnectionReused);
        assert!(!f.message.contains(" every "), "{}", f.message);
    }

    /// The bug: "packets 1076, 1076" when the last payload was the last packet.
    #[test]
    fn idle_open_connection_lists_a_packet_once() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET);
        let found = run(&[&a], 30.0);
        let f = find(&found, FindingKind::IdleOpenConnection);
        assert_eq!(f.packets, vec![4], "{f:?}");
    }

    #[test]
    fn nothing_is_invented_for_a_plain_single_request() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(0.2, OK).fin(true, 0.3);
        assert!(run(&[&a], 1.0).is_empty());
    }
}
