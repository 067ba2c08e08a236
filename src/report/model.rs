//! The report model: the serde types that are the JSON contract
//! (`connscope.report/1`, documented field by field in `docs/json.md`). Fields may be
//! added; none is renamed or removed. Renderers print only what is here.

pub use super::exchange::{Exchange, Exchanges};
pub use super::figures::Figures;
pub use super::finding::{Finding, FindingKind, Severity};
use crate::flow::key::{Direction, Endpoint, PerSide};
use crate::time::Timestamp;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

pub const SCHEMA: &str = "connscope.report/1";

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Formatted on the stack: no String per timestamp.
        self.with_rfc3339(|text| s.serialize_str(text))
    }
}

/// Seconds and milliseconds are printed rounded to the microsecond, so the JSON does
/// not carry float noise such as `0.30000000000000004`.
fn round6<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((v * 1e6).round() / 1e6)
}

fn round6_opt<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_f64((v * 1e6).round() / 1e6),
        None => s.serialize_none(),
    }
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
    /// Per input and server endpoint: connections and the requests they carried.
    pub servers: Vec<ServerSummary>,
    /// Plain-English diagnoses, each backed by connection ids and packet numbers.
    pub findings: Vec<Finding>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ServerSummary {
    pub input: usize,
    pub server: Endpoint,
    /// HTTP `Host` values and TLS SNI names sent to this endpoint, sorted.
    pub hosts: Vec<String>,
    pub connections: u64,
    /// Connections that carried requests: HTTP, or TLS (exchanges inferred).
    pub http_connections: u64,
    pub requests: u64,
    /// Requests per HTTP connection; null without HTTP connections.
    #[serde(serialize_with = "round3_opt")]
    pub requests_per_connection: Option<f64>,
    /// Connections that carried two or more requests.
    pub reused_connections: u64,
    /// Connections in order: their ids.
    pub connection_ids: Vec<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct InputReport {
    pub path: String,
    /// `pcap`, `pcap-nsec`, `pcapng`, with `+gzip`, `+zstd` or `+lz4`; null when the
    /// file was unreadable.
    pub format: Option<String>,
    pub link_types: Vec<String>,
    pub packets: u64,
    /// Capture time of the first and last packet; null without packets.
    pub first_time: Option<Timestamp>,
    pub last_time: Option<Timestamp>,
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
    /// No handshake seen: it sent HTTP requests, or the other side responses
    /// (overriding the port guess).
    Payload,
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
    /// The handshake completed but its SYN-ACK was not captured (a one-direction
    /// capture): the client's ACK or the server's packets prove it. Omitted when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub completed_off_capture: bool,
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
    /// When the gap began (the last payload before it).
    pub start: Timestamp,
    pub from_packet: u64,
    pub to_packet: u64,
    #[serde(serialize_with = "round6")]
    pub duration_s: f64,
}

/// A packet and its time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PacketRef {
    pub packet: u64,
    pub time: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TcpEventKind {
    Retransmission,
    ZeroWindow,
    /// Wireshark's `tcp.analysis.zero_window_probe`: 1 byte sent into a zero window.
    ZeroWindowProbe,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TcpEvent {
    pub packet: u64,
    pub time: Timestamp,
    pub from: Direction,
    pub kind: TcpEventKind,
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
    /// The graceful close finished: both sides sent a FIN and each FIN was acknowledged.
    pub completed: bool,
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
    /// Retransmissions and zero windows one by one, in order (the first 64).
    pub tcp_events: Vec<TcpEvent>,
    /// Such events beyond the first 64, counted only.
    pub tcp_events_dropped: u64,
    pub idle: Option<Idle>,
    /// The last segment that carried payload (keep-alive probes excluded).
    pub last_payload: Option<PacketRef>,
    pub close: Close,
    pub conn_state: &'static str,
    pub history: String,
    pub community_id: String,
    /// What the payload is: `http`, `http2`, `tls`, `unknown`, or `none` (no payload).
    pub protocol: Protocol,
    /// HTTP requests seen on this connection.
    pub requests: u64,
    /// Two or more requests rode on this connection.
    pub reused: bool,
    /// The HTTP exchanges, in order.
    pub http: Vec<HttpExchange>,
    /// Who ended the HTTP conversation and why; null for non-HTTP connections.
    pub http_end: Option<HttpEnd>,
    /// The longest `idle_before_s` of its exchanges.
    #[serde(serialize_with = "round6_opt")]
    pub max_request_gap_s: Option<f64>,
    /// Set when the connection became a tunnel (101 Switching Protocols, CONNECT).
    pub tunnel: Option<Tunnel>,
    /// The network tunnel the packets came in; left out when there was none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encapsulation: Option<Encapsulation>,
    /// `requests` counts exchanges inferred from encrypted traffic (TLS), not parsed requests.
    pub requests_inferred: bool,
    /// TLS handshake and inferred exchanges; null for connections that are not TLS.
    pub tls: Option<TlsInfo>,
    /// HTTP/2 framing (cleartext h2c, or h2 inside decrypted TLS); left out when the
    /// connection did not speak HTTP/2 or its frames could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http2: Option<Http2Info>,
    /// Bytes of each direction's stream never captured (loss or snap length).
    pub missed_bytes: PerSide<u64>,
    /// Malformed or surprising traffic on this connection.
    pub warnings: Vec<WarningRecord>,
    /// Live capture only: the local process that owned the connection's socket when it
    /// was first seen (Linux); null for files and when it could not be found.
    pub process: Option<ProcessInfo>,
    /// Tracking stopped because the connection was idle longer than `--idle-timeout`
    /// (live capture); it may still have been open.
    pub timed_out: bool,
}

/// What a connection's payload turned out to be, recognised by content (see
/// `analyzers::detect`). Serialised as the lower-case word the JSON always carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// No payload crossed.
    #[default]
    None,
    /// Payload that no analyzer recognises.
    Unknown,
    Http,
    /// HTTP/2 with prior knowledge (its frames are not parsed yet).
    Http2,
    Tls,
}

impl Protocol {
    /// The word the JSON and the table print.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::None => "none",
            Protocol::Unknown => "unknown",
            Protocol::Http => "http",
            Protocol::Http2 => "http2",
            Protocol::Tls => "tls",
        }
    }

    /// Whether the connection's exchanges are inferred from encrypted record sizes
    /// rather than read from parsed messages.
    pub fn infers_exchanges(self) -> bool {
        self == Protocol::Tls
    }

    /// Whether the protocol's exchanges are requests the findings count: HTTP/1.x,
    /// HTTP/2 streams, and TLS (inferred, or read from decrypted plaintext).
    pub fn carries_requests(self) -> bool {
        matches!(self, Protocol::Http | Protocol::Http2 | Protocol::Tls)
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProcessInfo {
    pub pid: u32,
    pub name: String,
}

/// A short protocol word (method, version, reason phrase, `Connection` value): the
/// common ones borrowed from a fixed list, the rest owned, so most exchanges allocate
/// nothing for them.
pub type Text = std::borrow::Cow<'static, str>;

/// `word` as [`Text`].
pub fn text(word: &str) -> Text {
    const COMMON: [&str; 24] = [
        "GET",
        "POST",
        "HEAD",
        "PUT",
        "DELETE",
        "OPTIONS",
        "PATCH",
        "CONNECT",
        "HTTP/1.1",
        "HTTP/1.0",
        "HTTP/0.9",
        "OK",
        "Created",
        "No Content",
        "Partial Content",
        "Moved Permanently",
        "Found",
        "Not Modified",
        "Bad Request",
        "Not Found",
        "Internal Server Error",
        "keep-alive",
        "close",
        "Keep-Alive",
    ];
    match COMMON.iter().find(|c| **c == word) {
        Some(common) => Text::Borrowed(common),
        None => Text::Owned(word.to_string()),
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct HttpExchange {
    /// 1 for the first request on the connection, 2 for the next …
    pub index: u64,
    /// Null for a response whose request was not captured.
    pub method: Option<Text>,
    pub host: Option<String>,
    pub target: Option<String>,
    /// The request's version, `HTTP/1.1` or `HTTP/1.0`.
    pub version: Option<Text>,
    pub status: Option<u16>,
    pub reason: Option<Text>,
    pub response_version: Option<Text>,
    /// Interim (1xx) statuses before the final response, e.g. `[100]`.
    pub interim: Vec<u16>,
    pub request_packet: Option<u64>,
    pub response_packet: Option<u64>,
    pub request_start: Option<Timestamp>,
    pub request_end: Option<Timestamp>,
    /// The packet carrying the request's last byte.
    pub request_end_packet: Option<u64>,
    pub response_start: Option<Timestamp>,
    pub response_end: Option<Timestamp>,
    /// The packet carrying the response's last byte.
    pub response_end_packet: Option<u64>,
    /// Request end → first response byte, in ms.
    #[serde(serialize_with = "round3_opt")]
    pub ttfb_ms: Option<f64>,
    pub request_body_bytes: u64,
    pub response_body_bytes: u64,
    pub request_connection: Option<Text>,
    pub response_connection: Option<Text>,
    /// The response's `Keep-Alive: timeout=N, max=M`.
    pub keep_alive: Option<KeepAliveHeader>,
    /// Previous exchange's end → this request's start; null for the first.
    #[serde(serialize_with = "round6_opt")]
    pub idle_before_s: Option<f64>,
    /// The final response was seen to its end.
    pub response_complete: bool,
    /// The HTTP/2 stream that carried the exchange; absent for HTTP/1.x.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct KeepAliveHeader {
    pub timeout: Option<u64>,
    pub max: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Tunnel {
    pub packet: u64,
    /// `upgrade` (101) or `connect`.
    pub kind: &'static str,
    /// The `Upgrade` header of a 101, e.g. `websocket`.
    pub protocol: Option<String>,
}

/// The network tunnel (IP in IP, GRE, ERSPAN, VXLAN, Geneve) a connection's packets
/// were carried in, as its first packet showed; the connection itself is the inner one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Encapsulation {
    /// `ip_in_ip`, `gre`, `erspan`, `vxlan` or `geneve`: the outermost layer.
    pub kind: &'static str,
    /// The outermost IP header's addresses, the client side's tunnel endpoint first.
    pub outer: [std::net::IpAddr; 2],
    /// VXLAN/Geneve VNI, GRE key or ERSPAN session id, when the header has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    /// Encapsulation layers around the connection's packets (1 unless nested).
    pub layers: u8,
}

/// Why the HTTP conversation ended.
///
/// HTTP/2 has no `Connection: close`: its first GOAWAY (by either side, any error code)
/// ends the conversation (`ClientGoaway`, `ServerGoaway`); without one the TCP close
/// decides as for HTTP/1.x, `ClosedDuringExchange` while any stream still waited for
/// its response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpEndReason {
    /// The client's last request said `Connection: close`.
    ClientConnectionClose,
    /// The server's last response said `Connection: close`.
    ServerConnectionClose,
    /// HTTP/1.0 without `Connection: keep-alive`.
    Http10NoKeepAlive,
    /// The server closed the connection while no request was outstanding.
    ServerClosedIdle,
    /// The client closed the connection while no request was outstanding.
    ClientClosedIdle,
    /// The connection closed while a request waited for its response.
    ClosedDuringExchange,
    /// The connection became a tunnel.
    Tunnel,
    /// HTTP/2: the client sent the first GOAWAY.
    ClientGoaway,
    /// HTTP/2: the server sent the first GOAWAY (a graceful shutdown, an idle timeout,
    /// a per-connection stream limit, or an error).
    ServerGoaway,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct HttpEnd {
    pub by: Option<Direction>,
    pub reason: HttpEndReason,
}

/// The story of one connection, phase by phase (`connscope timeline`).
#[derive(Clone, Debug, Serialize)]
pub struct Timeline {
    pub connection: u64,
    pub input: usize,
    pub client: Endpoint,
    pub server: Endpoint,
    pub start: Timestamp,
    pub phases: Vec<Phase>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseKind {
    Handshake,
    Exchange,
    Data,
    Idle,
    Keepalive,
    Retransmissions,
    ZeroWindow,
    Tunnel,
    Alert,
    Close,
}

#[derive(Clone, Debug, Serialize)]
pub struct Phase {
    /// 1, 2, 3 … in time order.
    pub index: u32,
    pub kind: PhaseKind,
    pub time: Timestamp,
    /// Seconds since the connection's first packet.
    #[serde(serialize_with = "round6")]
    pub offset_s: f64,
    #[serde(serialize_with = "round6_opt")]
    pub duration_s: Option<f64>,
    pub first_packet: Option<u64>,
    pub last_packet: Option<u64>,
    /// What happened, in words.
    pub text: String,
}

/// What a TLS connection shows without keys (RFC 8446, RFC 5246).
#[derive(Clone, Debug, Default, Serialize)]
pub struct TlsInfo {
    /// Server Name Indication from the ClientHello.
    pub sni: Option<String>,
    /// ALPN protocols the client offered, in its order.
    pub alpn_offered: Vec<String>,
    /// Versions the client offered (`supported_versions`, else the ClientHello version).
    pub versions_offered: Vec<String>,
    /// Resumption the client offered.
    pub resumption_offered: ResumptionOffer,
    /// The negotiated version (TLS 1.3 through `supported_versions`).
    pub version: Option<String>,
    /// The chosen cipher suite's IANA name (or `0x….` when unknown).
    pub cipher: Option<String>,
    /// The protocol the server chose by ALPN, when visible (TLS 1.2; encrypted in TLS 1.3).
    pub alpn: Option<String>,
    /// Whether the server accepted resumption: TLS 1.2 session id echo, TLS 1.3 PSK.
    pub resumed: Option<bool>,
    pub client_hello_packet: Option<u64>,
    pub server_hello_packet: Option<u64>,
    pub handshake_start: Option<Timestamp>,
    /// The first application data: the end of the handshake.
    pub handshake_end: Option<Timestamp>,
    #[serde(serialize_with = "round3_opt")]
    pub handshake_ms: Option<f64>,
    /// Both sides finished the handshake (TLS 1.2: each sent ChangeCipherSpec; TLS 1.3:
    /// the client's Finished was seen), or application data flowed.
    pub handshake_complete: bool,
    /// The first alert seen in clear text (a fatal one during the handshake means it failed).
    pub alert: Option<TlsAlert>,
    /// Application-data bursts grouped into request/response exchanges (inferred).
    pub exchanges: Vec<TlsExchange>,
    /// With ALPN h2, HTTP/2 multiplexes streams on the connection, so exchanges are an estimate.
    pub exchanges_estimated: bool,
    /// The application data was decrypted with a key log: the connection's `http[]`
    /// holds the real exchanges read from the plaintext, and `exchanges` above stays
    /// the inference for comparison.
    pub decrypted: bool,
    /// What decryption did; left out when no key log was given for the input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decryption: Option<TlsDecryption>,
    /// The server certificate's subject and names, read from the decrypted handshake
    /// (TLS 1.3) or the clear one (TLS 1.2); left out when not seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<TlsCertificate>,
}

/// The outcome of decrypting one TLS connection with the key logs given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TlsDecryption {
    pub status: DecryptionStatus,
    /// Records decrypted and authenticated, per direction.
    pub records: PerSide<u64>,
    /// The first packet where decryption failed or stopped, with `status` saying why.
    pub failed_packet: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecryptionStatus {
    /// Every record seen was decrypted.
    Decrypted,
    /// The key logs have no secrets for this connection's client random.
    NoKey,
    /// The negotiated cipher suite (or version) is not one connscope decrypts.
    UnsupportedCipher,
    /// A record failed to authenticate (wrong key, or corrupted bytes).
    AuthenticationFailed,
    /// Capture loss inside the encrypted stream: records after the gap cannot be read.
    CaptureLoss,
    /// The handshake needed to derive keys (ClientHello or ServerHello) was not captured.
    NoHandshake,
}

/// What the server's certificate says about whom it belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TlsCertificate {
    /// The subject's distinguished name, RFC 4514 style (`CN=example.com,O=…`).
    pub subject: Option<String>,
    /// DNS names and IP addresses from subjectAltName, in certificate order.
    pub san: Vec<String>,
    pub issuer: Option<String>,
}

/// HTTP/2 on one connection (RFC 9113): how it was reached, its streams and the
/// frames that manage the connection rather than carry requests.
#[derive(Clone, Debug, Serialize)]
pub struct Http2Info {
    pub via: Http2Via,
    /// Streams opened by either side (client requests and server pushes).
    pub streams_opened: u64,
    /// The most streams open at the same time: multiplexing at its peak.
    pub max_concurrent_streams: u32,
    /// Every SETTINGS frame that is not an acknowledgement.
    pub settings: Vec<Http2Settings>,
    /// PINGs (HTTP/2's own keep-alive, e.g. Go's `ReadIdleTimeout` health checks).
    pub pings: Vec<Http2Ping>,
    /// GOAWAYs: who ended the HTTP/2 conversation, and where.
    pub goaways: Vec<Http2GoAway>,
    /// RST_STREAMs: streams cancelled or refused.
    pub resets: Vec<Http2Reset>,
    /// Frames sent by each side.
    pub frames: PerSide<u64>,
    /// Exchanges beyond the per-connection bound, counted but not listed.
    pub exchanges_dropped: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Http2Via {
    /// Cleartext with the connection preface first ("prior knowledge", h2c).
    PriorKnowledge,
    /// Cleartext after `Upgrade: h2c` and a 101.
    Upgrade,
    /// Inside TLS, chosen by ALPN `h2`.
    Tls,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Http2Settings {
    pub from: Direction,
    pub packet: u64,
    pub time: Timestamp,
    pub max_concurrent_streams: Option<u32>,
    pub initial_window_size: Option<u32>,
    pub max_frame_size: Option<u32>,
    pub header_table_size: Option<u32>,
    pub enable_push: Option<u32>,
    pub max_header_list_size: Option<u32>,
    /// The packet of the peer's SETTINGS acknowledgement.
    pub ack_packet: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Http2Ping {
    pub from: Direction,
    pub packet: u64,
    pub time: Timestamp,
    /// The packet of the PING with the ACK flag that answered it.
    pub ack_packet: Option<u64>,
    #[serde(serialize_with = "round3_opt")]
    pub rtt_ms: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Http2GoAway {
    pub from: Direction,
    pub packet: u64,
    pub time: Timestamp,
    /// The highest stream the sender may still process; later ones must be retried.
    pub last_stream_id: u32,
    /// The error code's RFC 9113 name (`NO_ERROR` for a graceful shutdown).
    pub error: String,
    /// Opaque debug data, as text where printable.
    pub debug: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Http2Reset {
    pub stream_id: u32,
    pub from: Direction,
    pub packet: u64,
    pub time: Timestamp,
    pub error: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ResumptionOffer {
    /// A non-empty legacy session id (TLS 1.2 resumption, or TLS 1.3 middlebox compatibility).
    pub session_id: bool,
    /// A non-empty `session_ticket` extension.
    pub ticket: bool,
    /// A `pre_shared_key` extension (TLS 1.3 resumption).
    pub psk: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct TlsAlert {
    pub from: Direction,
    pub packet: u64,
    pub time: Timestamp,
    /// `warning`, `fatal`, or `encrypted` when only the record type is visible.
    pub level: String,
    pub description: String,
}

/// A client burst of application data and the server burst that answered it.
#[derive(Clone, Debug, Serialize)]
pub struct TlsExchange {
    pub index: u64,
    pub client_packet: u64,
    pub server_packet: Option<u64>,
    pub start: Timestamp,
    pub end: Timestamp,
    /// The packet carrying the exchange's last record.
    pub end_packet: u64,
    /// Application-data record bytes each way (ciphertext, record headers excluded).
    pub client_bytes: u64,
    pub server_bytes: u64,
    /// Previous exchange's end → this one's start; null for the first.
    #[serde(serialize_with = "round6_opt")]
    pub idle_before_s: Option<f64>,
}

impl HttpExchange {
    /// An exchange with nothing known yet but its place on the connection.
    pub fn blank(index: u64) -> Self {
        HttpExchange {
            index,
            method: None,
            host: None,
            target: None,
            version: None,
            status: None,
            reason: None,
            response_version: None,
            interim: Vec::new(),
            request_packet: None,
            response_packet: None,
            request_start: None,
            request_end: None,
            request_end_packet: None,
            response_start: None,
            response_end: None,
            response_end_packet: None,
            ttfb_ms: None,
            request_body_bytes: 0,
            response_body_bytes: 0,
            request_connection: None,
            response_connection: None,
            keep_alive: None,
            idle_before_s: None,
            response_complete: false,
            stream_id: None,
        }
    }
}
