//! The report model: the serde types that are the JSON contract
//! (`connscope.report/1`, documented field by field in `docs/json.md`). Fields may be
//! added; none is renamed or removed. Renderers print only what is here.

use crate::flow::key::{Direction, Endpoint, PerSide};
use crate::time::Timestamp;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

pub const SCHEMA: &str = "connscope.report/1";

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

/// Seconds and milliseconds are printed rounded to the microsecond, so the JSON does
/// not carry float noise such as `0.30000000000000004`.
fn round6<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((v * 1e6).round() / 1e6)
}

fn round3_opt<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_f64((v * 1e3).round() / 1e3),
        None => s.serialize_none(),
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub inputs: Vec<InputReport>,
    pub connections: Vec<ConnectionRecord>,
}

#[derive(Clone, Debug, Serialize)]
pub struct InputReport {
    pub path: String,
    /// `pcap`, `pcap-nsec`, `pcapng`, with `+gzip`; null when the file was unreadable.
    pub format: Option<String>,
    pub link_types: Vec<String>,
    pub packets: u64,
    pub tcp_packets: u64,
    /// Packets without a usable TCP segment, by reason.
    pub skipped: BTreeMap<String, u64>,
    pub connections: u64,
    pub warnings: Vec<WarningRecord>,
    /// Why the input could not be read at all.
    pub error: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct WarningRecord {
    pub packet: Option<u64>,
    pub message: String,
}

/// How the client was identified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleSource {
    /// It sent the SYN.
    Syn,
    /// The other side sent a SYN-ACK (the SYN was not captured).
    SynAck,
    /// No handshake seen: decided by port numbers (see docs/design.md).
    Ports,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HandshakeOutcome {
    /// SYN, SYN-ACK and the client's ACK were all seen.
    Completed,
    /// SYN and SYN-ACK seen, the client's ACK not (yet).
    NoFinalAck,
    /// The SYN-ACK was seen but not the SYN (capture started just after it).
    SynMissed,
    /// The server answered the SYN with an RST.
    Refused,
    /// Nothing answered the SYN.
    Unanswered,
}

#[derive(Clone, Debug, Serialize)]
pub struct Handshake {
    pub syn_packet: Option<u64>,
    pub synack_packet: Option<u64>,
    pub ack_packet: Option<u64>,
    /// SYN → SYN-ACK → ACK, Wireshark's `tcp.analysis.initial_rtt`, in ms.
    #[serde(serialize_with = "round3_opt")]
    pub rtt_ms: Option<f64>,
    #[serde(serialize_with = "round3_opt")]
    pub syn_to_synack_ms: Option<f64>,
    #[serde(serialize_with = "round3_opt")]
    pub synack_to_ack_ms: Option<f64>,
    pub syn_retries: u32,
    pub synack_retries: u32,
    pub refused_packet: Option<u64>,
    pub outcome: HandshakeOutcome,
}

#[derive(Clone, Debug, Serialize)]
pub struct Probe {
    pub packet: u64,
    pub time: Timestamp,
    pub from: Direction,
    pub acked: bool,
    pub ack_packet: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct KeepAlive {
    pub probes: Vec<Probe>,
    /// Keep-alive ACKs by Wireshark's rule (`tcp.analysis.keep_alive_ack`).
    pub acks: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Idle {
    /// The longest time between two payload-carrying segments (probes excluded).
    #[serde(serialize_with = "round6")]
    pub max_s: f64,
    pub from_packet: u64,
    pub to_packet: u64,
    /// Every such gap of at least 1 s, in order (the first 100).
    pub periods: Vec<IdlePeriod>,
    /// Gaps of at least 1 s beyond the first 100, counted only.
    pub periods_dropped: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct IdlePeriod {
    pub from_packet: u64,
    pub to_packet: u64,
    #[serde(serialize_with = "round6")]
    pub duration_s: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CloseHow {
    Fin,
    Rst,
    Open,
}

impl CloseHow {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseHow::Fin => "fin",
            CloseHow::Rst => "rst",
            CloseHow::Open => "open",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Close {
    /// Kind of the first closing segment seen.
    pub how: CloseHow,
    pub by: Option<Direction>,
    pub packet: Option<u64>,
    pub time: Option<Timestamp>,
    pub both_fins: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FlagCounts {
    /// SYN without ACK.
    pub syn: u64,
    /// SYN with ACK.
    pub synack: u64,
    pub fin: u64,
    pub rst: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ConnectionRecord {
    pub id: u64,
    pub input: usize,
    pub client: Endpoint,
    pub server: Endpoint,
    pub roles: RoleSource,
    pub first_packet: u64,
    pub last_packet: u64,
    pub start: Timestamp,
    pub end: Timestamp,
    #[serde(serialize_with = "round6")]
    pub duration_s: f64,
    pub packets: PerSide<u64>,
    pub payload_bytes: PerSide<u64>,
    pub handshake: Option<Handshake>,
    pub keepalive: KeepAlive,
    /// Segments carrying each control flag, both directions together.
    pub flags: FlagCounts,
    pub retransmissions: PerSide<u64>,
    pub zero_windows: PerSide<u64>,
    pub idle: Option<Idle>,
    pub close: Close,
    pub conn_state: &'static str,
    pub history: String,
    pub community_id: String,
}
