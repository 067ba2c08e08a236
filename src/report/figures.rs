//! The figures a finding carries beside its message, typed per kind: part of the JSON
//! contract (docs/findings.md lists them with each kind; the schema,
//! docs/connscope.report-1.schema.json, holds them to it). A finding's JSON object has
//! its common fields, then its figures' keys in alphabetical order.
//!
//! Not for deciding anything: the rules in `findings/` compute the numbers; these
//! types only say which numbers each kind has and how they are written.

use super::model::FindingKind;
use crate::flow::key::Direction;
use serde::{Serialize, Serializer};

/// Seconds to the millisecond: `5.0`, `3.503`.
fn round3<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((v * 1e3).round() / 1e3)
}

/// A finding's figures: one variant per kind, each with its own struct, and `Merged`
/// for many findings of one kind shown as one. Serialised as the struct's fields, so
/// flattened into the finding; every struct's fields are declared in alphabetical
/// order, the order the JSON has always had.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Figures {
    ConnectionReused(Reused),
    NewConnectionWhileIdle(WhileIdle),
    ParallelConnections(Parallel),
    ServerIdleClose(ServerIdleClose),
    ConnectionCloseHeader(PreventedBy),
    Http10NoKeepalive(PreventedBy),
    NoReuse(Count),
    IdleReset(IdleReset),
    KeepaliveUnanswered(Unanswered),
    HandshakeFailed(HandshakeFailed),
    IdleOpenConnection(Idle),
    ServerRequestCap(RequestCap),
    StaleConnectionReset(Retry),
    ConnectionChurn(Churn),
    TlsHandshakeFailed(TlsFailed),
    H2GoawayReconnect(H2Reconnect),
    H2ParallelConnections(H2Parallel),
    Merged(Merged),
}

impl Figures {
    /// The kind these figures belong to; `None` for a merge, which has its kind's.
    pub fn kind(&self) -> Option<FindingKind> {
        Some(match self {
            Figures::ConnectionReused(_) => FindingKind::ConnectionReused,
            Figures::NewConnectionWhileIdle(_) => FindingKind::NewConnectionWhileIdle,
            Figures::ParallelConnections(_) => FindingKind::ParallelConnections,
            Figures::ServerIdleClose(_) => FindingKind::ServerIdleClose,
            Figures::ConnectionCloseHeader(_) => FindingKind::ConnectionCloseHeader,
            Figures::Http10NoKeepalive(_) => FindingKind::Http10NoKeepalive,
            Figures::NoReuse(_) => FindingKind::NoReuse,
            Figures::IdleReset(_) => FindingKind::IdleReset,
            Figures::KeepaliveUnanswered(_) => FindingKind::KeepaliveUnanswered,
            Figures::HandshakeFailed(_) => FindingKind::HandshakeFailed,
            Figures::IdleOpenConnection(_) => FindingKind::IdleOpenConnection,
            Figures::ServerRequestCap(_) => FindingKind::ServerRequestCap,
            Figures::StaleConnectionReset(_) => FindingKind::StaleConnectionReset,
            Figures::ConnectionChurn(_) => FindingKind::ConnectionChurn,
            Figures::TlsHandshakeFailed(_) => FindingKind::TlsHandshakeFailed,
            Figures::H2GoawayReconnect(_) => FindingKind::H2GoawayReconnect,
            Figures::H2ParallelConnections(_) => FindingKind::H2ParallelConnections,
            Figures::Merged(_) => return None,
        })
    }

    /// The word-valued figures, which say why (`by`, `outcome`): findings of one kind
    /// are merged only with those of the same cause. In key order.
    pub fn cause(&self) -> Cause {
        match self {
            Figures::ConnectionCloseHeader(p) | Figures::Http10NoKeepalive(p) => Cause {
                by: Some(p.by),
                outcome: None,
            },
            Figures::IdleReset(r) => Cause {
                by: Some(r.by),
                outcome: None,
            },
            Figures::HandshakeFailed(h) => Cause {
                by: None,
                outcome: Some(h.outcome),
            },
            Figures::TlsHandshakeFailed(t) => Cause {
                by: t.by,
                outcome: None,
            },
            Figures::H2GoawayReconnect(r) => Cause {
                by: Some(r.by),
                outcome: None,
            },
            Figures::Merged(m) => Cause {
                by: m.by,
                outcome: m.outcome,
            },
            _ => Cause::default(),
        }
    }

    /// Packet numbers a merge counted but could not keep; 0 for any other finding.
    pub fn packets_dropped(&self) -> u64 {
        match self {
            Figures::Merged(m) => m.packets_dropped,
            _ => 0,
        }
    }
}

/// Why findings of one kind happened, in words; what they are merged by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cause {
    pub by: Option<Direction>,
    pub outcome: Option<HandshakeFailure>,
}

impl Cause {
    /// `(name, word)` pairs in key order: `[("by", "server")]`.
    pub fn words(&self) -> Vec<(&'static str, &'static str)> {
        let by = self.by.map(|by| ("by", by.as_str()));
        let outcome = self.outcome.map(|o| ("outcome", o.as_str()));
        by.into_iter().chain(outcome).collect()
    }
}

/// How a TCP handshake failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HandshakeFailure {
    /// The server answered the SYN with an RST.
    Refused,
    /// No answer to the SYN.
    Unanswered,
}

impl HandshakeFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            HandshakeFailure::Refused => "refused",
            HandshakeFailure::Unanswered => "unanswered",
        }
    }
}

/// `connection_reused`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reused {
    /// Keep-alive probes the client sent while it idled; absent without any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_probes: Option<usize>,
    /// HTTP/2: the most streams open at once; absent for HTTP/1.x and TLS without keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent_streams: Option<u32>,
    /// The longest idle gap it survived.
    #[serde(serialize_with = "round3")]
    pub max_idle_s: f64,
    /// Requests (HTTP/2: streams) the connection carried.
    pub requests: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_probes: Option<usize>,
}

/// `new_connection_while_idle`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WhileIdle {
    /// The id of the connection left idle.
    pub idle_connection: u64,
    #[serde(serialize_with = "round3")]
    pub idle_for_s: f64,
}

/// `parallel_connections`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Parallel {
    /// The most connections busy at once.
    pub peak: usize,
}

/// `server_idle_close`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServerIdleClose {
    /// The server's `Keep-Alive: timeout=`, when it sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advertised_timeout_s: Option<u64>,
    #[serde(serialize_with = "round3")]
    pub idle_s: f64,
    pub next_connection: u64,
}

/// `connection_close_header` and `http10_no_keepalive`: who prevented reuse, on how
/// many connections.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PreventedBy {
    pub by: Direction,
    pub count: usize,
}

/// `no_reuse`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Count {
    pub count: usize,
}

/// `idle_reset`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IdleReset {
    pub by: Direction,
    #[serde(serialize_with = "round3")]
    pub idle_s: f64,
}

/// `keepalive_unanswered`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Unanswered {
    pub unanswered: usize,
}

/// `handshake_failed`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HandshakeFailed {
    pub outcome: HandshakeFailure,
    pub syn_retries: u32,
}

/// `idle_open_connection`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Idle {
    #[serde(serialize_with = "round3")]
    pub idle_s: f64,
}

/// `server_request_cap`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RequestCap {
    /// Requests each connection carried before the server closed it.
    pub requests: u64,
}

/// `stale_connection_reset`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Retry {
    pub retry_connection: u64,
}

/// `connection_churn`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Churn {
    /// Connections to the server (not `connections`: every finding has that field).
    pub count: usize,
    pub handshakes_saved: usize,
    pub requests: u64,
}

/// `tls_handshake_failed`: who ended it, `null` when the capture does not say.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TlsFailed {
    pub by: Option<Direction>,
}

/// `h2_goaway_reconnect`: who ended the HTTP/2 conversation, how, and the connection
/// that replaced it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct H2Reconnect {
    pub by: Direction,
    /// The GOAWAY's error code (`NO_ERROR` …); null when the server closed the idle
    /// connection without one.
    pub error: Option<String>,
    /// Since the connection's last response (or its start) to the GOAWAY or close.
    #[serde(serialize_with = "round3")]
    pub idle_s: f64,
    /// The GOAWAY's last stream id; null without a GOAWAY.
    pub last_stream_id: Option<u32>,
    pub next_connection: u64,
}

/// `h2_parallel_connections`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct H2Parallel {
    /// The most streams any of the connections had open at once.
    pub max_concurrent_streams: u32,
    /// The most of these HTTP/2 connections open at once.
    pub peak: usize,
}

/// Many findings of one kind about one server host and cause, shown as one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Merged {
    /// How many findings were merged.
    pub aggregated: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<Direction>,
    /// Every connection the merged findings named (`connections` keeps the first 1000).
    pub connection_count: usize,
    pub connections_dropped: usize,
    /// For a port scan: ports that answered with a SYN-ACK never acknowledged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub open_ports: Vec<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<HandshakeFailure>,
    pub packets_dropped: u64,
    pub server_ports: usize,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::Value;

    /// Figures of every kind with every optional figure present, and a merge.
    pub(crate) fn every_kind() -> Vec<Figures> {
        let by = Direction::Server;
        vec![
            Figures::ConnectionReused(Reused {
                client_probes: Some(1),
                max_concurrent_streams: Some(3),
                max_idle_s: 1.5,
                requests: 2,
                server_probes: Some(1),
            }),
            Figures::NewConnectionWhileIdle(WhileIdle {
                idle_connection: 1,
                idle_for_s: 0.5,
            }),
            Figures::ParallelConnections(Parallel { peak: 2 }),
            Figures::ServerIdleClose(ServerIdleClose {
                advertised_timeout_s: Some(5),
                idle_s: 5.0,
                next_connection: 2,
            }),
            Figures::ConnectionCloseHeader(PreventedBy { by, count: 1 }),
            Figures::Http10NoKeepalive(PreventedBy { by, count: 1 }),
            Figures::NoReuse(Count { count: 2 }),
            Figures::IdleReset(IdleReset { by, idle_s: 5.0 }),
            Figures::KeepaliveUnanswered(Unanswered { unanswered: 2 }),
            Figures::HandshakeFailed(HandshakeFailed {
                outcome: HandshakeFailure::Refused,
                syn_retries: 0,
            }),
            Figures::IdleOpenConnection(Idle { idle_s: 10.0 }),
            Figures::ServerRequestCap(RequestCap { requests: 2 }),
            Figures::StaleConnectionReset(Retry {
                retry_connection: 2,
            }),
            Figures::ConnectionChurn(Churn {
                count: 3,
                handshakes_saved: 2,
                requests: 3,
            }),
            Figures::TlsHandshakeFailed(TlsFailed { by: Some(by) }),
            Figures::H2GoawayReconnect(H2Reconnect {
                by,
                error: Some("NO_ERROR".into()),
                idle_s: 30.0,
                last_stream_id: Some(5),
                next_connection: 2,
            }),
            Figures::H2ParallelConnections(H2Parallel {
                max_concurrent_streams: 1,
                peak: 2,
            }),
            Figures::Merged(Merged {
                aggregated: 6,
                by: Some(by),
                connection_count: 6,
                connections_dropped: 0,
                open_ports: vec![22],
                outcome: Some(HandshakeFailure::Unanswered),
                packets_dropped: 0,
                server_ports: 6,
            }),
        ]
    }

    pub(crate) fn keys(f: &Figures) -> Vec<String> {
        match serde_json::to_value(f) {
            Ok(Value::Object(map)) => map.keys().cloned().collect(),
            other => panic!("figures are not an object: {other:?}"),
        }
    }

    #[test]
    fn every_kind_has_its_figures_and_each_figures_struct_one_kind() {
        let kinds: Vec<FindingKind> = every_kind().iter().filter_map(Figures::kind).collect();
        assert_eq!(kinds, FindingKind::ALL);
    }

    /// The bug this guards against: `connection_churn` once wrote its count under
    /// `connections`, so its JSON object had that key twice.
    #[test]
    fn no_figure_reuses_a_finding_field_and_keys_come_in_alphabetical_order() {
        const FINDING_FIELDS: [&str; 6] = [
            "kind",
            "severity",
            "input",
            "connections",
            "packets",
            "message",
        ];
        for f in every_kind() {
            let mut written = Vec::new();
            let mut out = serde_json::Serializer::new(&mut written);
            f.serialize(&mut out).expect("figures serialise");
            let text = String::from_utf8(written).expect("utf-8");
            let keys = keys(&f);
            let mut sorted = keys.clone();
            sorted.sort();
            // serde_json's map sorts keys; the text shows the declared order.
            let order: Vec<usize> = keys
                .iter()
                .map(|k| text.find(&format!("\"{k}\":")).expect("key written"))
                .collect();
            assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
            assert!(
                keys.iter().all(|k| !FINDING_FIELDS.contains(&k.as_str())),
                "{text}"
            );
        }
    }

    #[test]
    fn numbers_are_written_as_they_always_were() {
        let f = Figures::ConnectionReused(Reused {
            client_probes: None,
            max_concurrent_streams: None,
            max_idle_s: 3.502_6,
            requests: 3,
            server_probes: Some(6),
        });
        assert_eq!(
            serde_json::to_string(&f).expect("serialise"),
            r#"{"max_idle_s":3.503,"requests":3,"server_probes":6}"#
        );
        let f = Figures::IdleReset(IdleReset {
            by: Direction::Client,
            idle_s: 5.0,
        });
        assert_eq!(
            serde_json::to_string(&f).expect("serialise"),
            r#"{"by":"client","idle_s":5.0}"#
        );
        let f = Figures::TlsHandshakeFailed(TlsFailed { by: None });
        assert_eq!(
            serde_json::to_string(&f).expect("serialise"),
            r#"{"by":null}"#
        );
    }

    #[test]
    fn the_cause_is_the_word_valued_figures() {
        let words: Vec<Vec<(&str, &str)>> =
            every_kind().iter().map(|f| f.cause().words()).collect();
        assert_eq!(words[0], []);
        assert_eq!(words[4], [("by", "server")]);
        assert_eq!(words[9], [("outcome", "refused")]);
        assert_eq!(words[15], [("by", "server")]);
        assert_eq!(words[17], [("by", "server"), ("outcome", "unanswered")]);
    }

    fn read(path: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// docs/findings.md has one `## \`kind\` (severity)` section per kind, in the
    /// order of [`FindingKind::ALL`], and none for a kind that does not exist.
    #[test]
    fn every_kind_is_documented_and_nothing_else_is() {
        let docs = read("docs/findings.md");
        let documented: Vec<&str> = docs.lines().filter_map(|l| l.strip_prefix("## ")).collect();
        let expected: Vec<String> = FindingKind::ALL
            .iter()
            .map(|k| {
                let severity = match k.severity() {
                    super::super::model::Severity::Info => "info",
                    super::super::model::Severity::Warning => "warning",
                };
                format!("`{}` ({severity})", k.as_str())
            })
            .collect();
        assert_eq!(documented, expected);
        // Each kind's figures are named in its section.
        for f in every_kind() {
            let Some(kind) = f.kind() else { continue };
            let start = docs
                .find(&format!("## `{}`", kind.as_str()))
                .expect("section");
            let section = &docs[start..];
            let end = section[3..].find("\n## ").map_or(section.len(), |e| e + 3);
            for key in keys(&f) {
                assert!(
                    section[..end].contains(&format!("`{key}`")),
                    "docs/findings.md, {kind}: figure `{key}` is not documented"
                );
            }
        }
    }

    /// The JSON schema lists exactly these kinds, and allows each kind's figures.
    #[test]
    fn the_schema_lists_every_kind_and_its_figures() {
        let schema: Value =
            serde_json::from_str(&read("docs/connscope.report-1.schema.json")).expect("schema");
        let finding = &schema["$defs"]["finding"];
        let names: Vec<&str> = finding["properties"]["kind"]["enum"]
            .as_array()
            .expect("kind enum")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let all: Vec<&str> = FindingKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names, all);
        // Each kind's figures: the `then` of the one `if` that names it.
        let rules = finding["allOf"].as_array().expect("allOf");
        for f in every_kind() {
            let Some(kind) = f.kind() else { continue };
            let names_it = |rule: &&Value| {
                let k = &rule["if"]["properties"]["kind"];
                k["const"] == kind.as_str()
                    || k["enum"]
                        .as_array()
                        .is_some_and(|e| e.iter().any(|n| n == kind.as_str()))
            };
            let matching: Vec<&Value> = rules.iter().filter(names_it).collect();
            assert_eq!(matching.len(), 1, "schema, {kind}: {matching:?}");
            let target = matching[0]["then"]["$ref"].as_str().expect("$ref");
            let name = target
                .strip_prefix("#/$defs/figures/")
                .expect("a figures definition");
            let properties = &schema["$defs"]["figures"][name]["properties"];
            for key in keys(&f) {
                assert!(
                    properties.get(&key).is_some(),
                    "schema, {kind}: figure `{key}` is not allowed"
                );
            }
        }
    }
}
