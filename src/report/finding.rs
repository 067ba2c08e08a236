//! A finding as the report carries it (`findings[]` in the JSON): its kind — the one
//! list of kind names, read by the check language, the JSON, the schema and
//! docs/findings.md — its severity, the connections and packets that show it, its
//! message and its typed figures.
//!
//! Not for making findings: the rules in `findings/` do that.

use super::figures::Figures;
use serde::{Serialize, Serializer};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
}

/// Declares [`FindingKind`] from one list of (variant, name, severity): the enum, its name,
/// [`FindingKind::ALL`] and parsing all come from here, so the check language, the
/// JSON, the schema and docs/findings.md (both held to it by tests) cannot drift apart.
macro_rules! finding_kinds {
    ($($variant:ident => $name:literal, $severity:ident;)+) => {
        /// Stable identifiers of the findings (documented in docs/findings.md).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum FindingKind {
            $($variant,)+
        }

        impl FindingKind {
            /// Every kind, in the order the rules run and the docs list them.
            pub const ALL: &'static [FindingKind] = &[$(FindingKind::$variant,)+];

            /// The stable name: in JSON, in the table, in `check` expressions.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(FindingKind::$variant => $name,)+
                }
            }

            /// Every finding of a kind has the same severity.
            pub fn severity(self) -> Severity {
                match self {
                    $(FindingKind::$variant => Severity::$severity,)+
                }
            }
        }
    };
}

finding_kinds! {
    ConnectionReused => "connection_reused", Info;
    NewConnectionWhileIdle => "new_connection_while_idle", Warning;
    ParallelConnections => "parallel_connections", Info;
    ServerIdleClose => "server_idle_close", Warning;
    ConnectionCloseHeader => "connection_close_header", Warning;
    Http10NoKeepalive => "http10_no_keepalive", Warning;
    NoReuse => "no_reuse", Warning;
    IdleReset => "idle_reset", Warning;
    KeepaliveUnanswered => "keepalive_unanswered", Warning;
    HandshakeFailed => "handshake_failed", Warning;
    IdleOpenConnection => "idle_open_connection", Info;
    ServerRequestCap => "server_request_cap", Warning;
    StaleConnectionReset => "stale_connection_reset", Warning;
    ConnectionChurn => "connection_churn", Info;
    TlsHandshakeFailed => "tls_handshake_failed", Warning;
    H2GoawayReconnect => "h2_goaway_reconnect", Warning;
    H2ParallelConnections => "h2_parallel_connections", Warning;
}

impl FindingKind {
    /// The kind of this name, if there is one.
    pub fn from_name(name: &str) -> Option<FindingKind> {
        FindingKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == name)
    }
}

impl Serialize for FindingKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    pub input: usize,
    /// The connections the finding is about, by id.
    pub connections: Vec<u64>,
    /// Packet numbers that show it, to look up in Wireshark.
    pub packets: Vec<u64>,
    pub message: String,
    /// Kind-specific figures (documented per kind in docs/findings.md).
    #[serde(flatten)]
    pub figures: Figures,
}
