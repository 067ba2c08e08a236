//! `connscope diff BEFORE AFTER`: did the fix work? Two captures (or two JSON reports,
//! `connscope.report/1`) of the same program are reduced to per-server figures —
//! connections, requests, requests per connection, reused connections, TCP handshakes
//! — and the findings each has; the change is said in plain words, shown as a table,
//! or written as JSON (`connscope.diff/1`). `baseline` judges `check --baseline` expectations.
//! Figures are read from the report model (or its JSON), never re-derived from packets.

pub mod baseline;
pub mod render;

use crate::report::model::Report;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub const SCHEMA: &str = "connscope.diff/1";

/// One server's figures on one side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Figures {
    pub connections: u64,
    /// Connections that carried requests (the denominator of requests per connection).
    pub http_connections: u64,
    pub requests: u64,
    /// Requests per connection that carried requests; null without any.
    pub requests_per_connection: Option<f64>,
    /// Connections that carried two or more requests.
    pub reused_connections: u64,
    /// Connections that opened with a SYN: TCP handshakes the client paid for.
    pub handshakes: u64,
}

impl Figures {
    fn add(&mut self, other: &Figures) {
        self.connections += other.connections;
        self.http_connections += other.http_connections;
        self.requests += other.requests;
        self.reused_connections += other.reused_connections;
        self.handshakes += other.handshakes;
        self.settle();
    }

    fn settle(&mut self) {
        self.requests_per_connection = (self.http_connections > 0)
            .then(|| (self.requests as f64 / self.http_connections as f64 * 1e3).round() / 1e3);
    }
}

/// What one side (a capture or a JSON report) says, reduced for comparing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Side {
    /// The file it came from.
    pub source: String,
    /// By server endpoint (`IP:PORT`), all inputs together.
    pub servers: BTreeMap<String, Figures>,
    /// Findings by kind: how many.
    pub findings: BTreeMap<String, u64>,
}

impl Side {
    /// From an analysed report.
    pub fn from_report(source: &str, report: &Report) -> Side {
        let mut side = Side {
            source: source.to_string(),
            ..Side::default()
        };
        for s in &report.servers {
            let f = side.servers.entry(s.server.to_string()).or_default();
            f.add(&Figures {
                connections: s.connections,
                http_connections: s.http_connections,
                requests: s.requests,
                reused_connections: s.reused_connections,
                ..Figures::default()
            });
        }
        for c in &report.connections {
            if c.handshake.as_ref().is_some_and(|h| h.syn_packet.is_some()) {
                let f = side.servers.entry(c.server.to_string()).or_default();
                f.add(&Figures {
                    handshakes: 1,
                    ..Figures::default()
                });
            }
        }
        for f in &report.findings {
            *side
                .findings
                .entry(f.kind.as_str().to_string())
                .or_default() += 1;
        }
        side
    }

    /// From a `connscope analyze --format json` document.
    pub fn from_json(source: &str, doc: &Value) -> Result<Side, String> {
        let schema = doc.get("schema").and_then(Value::as_str);
        if schema != Some(crate::report::model::SCHEMA) {
            return Err(format!(
                "{source}: not a connscope JSON report (schema {:?}, expected {:?})",
                schema.unwrap_or("missing"),
                crate::report::model::SCHEMA
            ));
        }
        let list = |key: &str| -> Result<&Vec<Value>, String> {
            doc.get(key)
                .and_then(Value::as_array)
                .ok_or_else(|| format!("{source}: the report has no `{key}` list"))
        };
        let num = |v: &Value, key: &str| v.get(key).and_then(Value::as_u64).unwrap_or(0);
        let mut side = Side {
            source: source.to_string(),
            ..Side::default()
        };
        for s in list("servers")? {
            let server = endpoint(s.get("server"))
                .ok_or_else(|| format!("{source}: a server without an endpoint"))?;
            side.servers.entry(server).or_default().add(&Figures {
                connections: num(s, "connections"),
                http_connections: num(s, "http_connections"),
                requests: num(s, "requests"),
                reused_connections: num(s, "reused_connections"),
                ..Figures::default()
            });
        }
        for c in list("connections")? {
            let syn = c
                .get("handshake")
                .and_then(|h| h.get("syn_packet"))
                .is_some_and(|p| !p.is_null());
            if let (true, Some(server)) = (syn, endpoint(c.get("server"))) {
                side.servers.entry(server).or_default().add(&Figures {
                    handshakes: 1,
                    ..Figures::default()
                });
            }
        }
        for f in list("findings")? {
            if let Some(kind) = f.get("kind").and_then(Value::as_str) {
                *side.findings.entry(kind.to_string()).or_default() += 1;
            }
        }
        Ok(side)
    }

    fn total(&self) -> Figures {
        let mut total = Figures::default();
        for f in self.servers.values() {
            total.add(f);
        }
        total
    }
}

/// An endpoint as the JSON writes it: `{"ip": "…", "port": N}`, as `IP:PORT`.
fn endpoint(v: Option<&Value>) -> Option<String> {
    let v = v?;
    let ip: std::net::IpAddr = v.get("ip")?.as_str()?.parse().ok()?;
    let port = u16::try_from(v.get("port")?.as_u64()?).ok()?;
    Some(std::net::SocketAddr::new(ip, port).to_string())
}

#[derive(Clone, Debug, Serialize)]
pub struct ServerChange {
    pub server: String,
    /// Null when the server does not appear on that side.
    pub before: Option<Figures>,
    pub after: Option<Figures>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FindingChange {
    pub kind: String,
    pub before: u64,
    pub after: u64,
}

/// The comparison: the JSON document of `diff --format json`.
#[derive(Clone, Debug, Serialize)]
pub struct Diff {
    pub schema: &'static str,
    pub before: String,
    pub after: String,
    /// The change in words, one paragraph.
    pub summary: String,
    pub servers: Vec<ServerChange>,
    pub total: ServerChange,
    /// Kinds found after but not before.
    pub appeared: Vec<String>,
    /// Kinds found before but not after.
    pub disappeared: Vec<String>,
    /// Every kind on either side, with its counts.
    pub findings: Vec<FindingChange>,
}

pub fn compare(before: &Side, after: &Side) -> Diff {
    let names: BTreeSet<&String> = before.servers.keys().chain(after.servers.keys()).collect();
    let servers: Vec<ServerChange> = names
        .into_iter()
        .map(|s| ServerChange {
            server: s.clone(),
            before: before.servers.get(s).copied(),
            after: after.servers.get(s).copied(),
        })
        .collect();
    let kinds: BTreeSet<&String> = before
        .findings
        .keys()
        .chain(after.findings.keys())
        .collect();
    let findings: Vec<FindingChange> = kinds
        .into_iter()
        .map(|k| FindingChange {
            kind: k.clone(),
            before: before.findings.get(k).copied().unwrap_or(0),
            after: after.findings.get(k).copied().unwrap_or(0),
        })
        .collect();
    let appeared = findings
        .iter()
        .filter(|f| f.before == 0)
        .map(|f| f.kind.clone())
        .collect();
    let disappeared = findings
        .iter()
        .filter(|f| f.after == 0)
        .map(|f| f.kind.clone())
        .collect();
    let mut diff = Diff {
        schema: SCHEMA,
        before: before.source.clone(),
        after: after.source.clone(),
        summary: String::new(),
        servers,
        total: ServerChange {
            server: "all servers".into(),
            before: Some(before.total()),
            after: Some(after.total()),
        },
        appeared,
        disappeared,
        findings,
    };
    diff.summary = words(&diff);
    diff
}

/// `1.0`, `7.0`, `2.333`: requests per connection as people read it.
pub fn ratio(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if (v * 10.0).fract() == 0.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
    }
}

/// The change in plain words: `connections to 127.0.0.1:8080: 7 → 1; requests per
/// connection 1.0 → 7.0; `new_connection_while_idle` gone.`
fn words(diff: &Diff) -> String {
    let mut parts: Vec<String> = Vec::new();
    for s in &diff.servers {
        match (&s.before, &s.after) {
            (Some(b), Some(a)) if b == a => {}
            (Some(b), Some(a)) => {
                let mut bits = vec![format!(
                    "connections to {}: {} → {}",
                    s.server, b.connections, a.connections
                )];
                let changes = [
                    (
                        "requests",
                        b.requests != a.requests,
                        b.requests.to_string(),
                        a.requests.to_string(),
                    ),
                    (
                        "requests per connection",
                        b.requests_per_connection != a.requests_per_connection,
                        ratio(b.requests_per_connection),
                        ratio(a.requests_per_connection),
                    ),
                    (
                        "reused connections",
                        b.reused_connections != a.reused_connections,
                        b.reused_connections.to_string(),
                        a.reused_connections.to_string(),
                    ),
                    (
                        "handshakes",
                        b.handshakes != a.handshakes,
                        b.handshakes.to_string(),
                        a.handshakes.to_string(),
                    ),
                ];
                for (name, changed, was, is) in changes {
                    if changed {
                        bits.push(format!("{name} {was} → {is}"));
                    }
                }
                parts.push(bits.join("; "));
            }
            (Some(b), None) => parts.push(format!(
                "{} no longer contacted (was {} connection{})",
                s.server,
                b.connections,
                if b.connections == 1 { "" } else { "s" }
            )),
            (None, Some(a)) => parts.push(format!(
                "new server {}: {} connection{}, {} request{}",
                s.server,
                a.connections,
                if a.connections == 1 { "" } else { "s" },
                a.requests,
                if a.requests == 1 { "" } else { "s" }
            )),
            (None, None) => {}
        }
    }
    parts.extend(diff.disappeared.iter().map(|k| format!("`{k}` gone")));
    parts.extend(diff.appeared.iter().map(|k| format!("`{k}` new")));
    if parts.is_empty() {
        let t = diff.total.after.unwrap_or_default();
        return format!(
            "No change: {} connection{} to {} server{}, {} request{}, the same findings.",
            t.connections,
            if t.connections == 1 { "" } else { "s" },
            diff.servers.len(),
            if diff.servers.len() == 1 { "" } else { "s" },
            t.requests,
            if t.requests == 1 { "" } else { "s" }
        );
    }
    let mut text = parts.join("; ");
    text.push('.');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn side(source: &str, servers: &[(&str, u64, u64, u64)], findings: &[&str]) -> Side {
        let mut s = Side {
            source: source.into(),
            ..Side::default()
        };
        for (server, conns, requests, reused) in servers {
            let mut f = Figures {
                connections: *conns,
                http_connections: *conns,
                requests: *requests,
                reused_connections: *reused,
                handshakes: *conns,
                ..Figures::default()
            };
            f.settle();
            s.servers.insert(server.to_string(), f);
        }
        for k in findings {
            *s.findings.entry(k.to_string()).or_default() += 1;
        }
        s
    }

    #[test]
    fn the_change_in_plain_words() {
        let before = side(
            "a",
            &[("127.0.0.1:8080", 7, 7, 0), ("10.0.0.1:80", 1, 1, 0)],
            &["new_connection_while_idle"],
        );
        let after = side(
            "b",
            &[("127.0.0.1:8080", 1, 7, 1), ("10.0.0.2:443", 2, 2, 0)],
            &[],
        );
        let d = compare(&before, &after);
        assert_eq!(
            d.summary,
            "10.0.0.1:80 no longer contacted (was 1 connection); new server 10.0.0.2:443: 2 connections, 2 requests; \
connections to 127.0.0.1:8080: 7 → 1; requests per connection 1.0 → 7.0; reused connections 0 → 1; handshakes 7 → 1; \
`new_connection_while_idle` gone."
        );
        assert_eq!(d.disappeared, vec!["new_connection_while_idle"]);
        assert!(d.appeared.is_empty());
        assert_eq!(d.total.before.map(|t| t.connections), Some(8));
    }

    #[test]
    fn a_json_report_reduces_like_the_model() {
        let doc = json!({
            "schema": "connscope.report/1",
            "servers": [{"server": {"ip": "::1", "port": 8081}, "connections": 2, "http_connections": 2, "requests": 3, "reused_connections": 1}],
            "connections": [
                {"server": {"ip": "::1", "port": 8081}, "handshake": {"syn_packet": 1}},
                {"server": {"ip": "::1", "port": 8081}, "handshake": {"syn_packet": null}}
            ],
            "findings": [{"kind": "connection_reused"}]
        });
        let s = Side::from_json("r.json", &doc).expect("reads");
        let f = s.servers["[::1]:8081"];
        assert_eq!((f.connections, f.requests, f.handshakes), (2, 3, 1));
        assert_eq!(f.requests_per_connection, Some(1.5));
        assert_eq!(s.findings["connection_reused"], 1);
        let wrong = Side::from_json("x.json", &json!({"schema": "other/1"}));
        assert!(wrong.is_err_and(|e| e.contains("not a connscope JSON report")));
        assert!(Side::from_json("y.json", &json!({"schema": "connscope.report/1"})).is_err());
    }
}
