//! The narrow interface through which a connection hands its payload on: flow/ knows
//! TCP only, so it defines what it passes to the payload analyzers and what it takes
//! back, and the analyzers (a later stage) implement it. The driver gives the
//! connection table a [`PayloadFactory`]; each connection owns one analyzer.

use super::key::{Direction, PerSide};
use crate::decode::Segment;
use crate::report::model::{
    Close, Http2Info, HttpEnd, HttpExchange, Protocol, TlsInfo, Tunnel, WarningRecord,
};
use crate::time::Timestamp;

/// Where a segment's bytes came from: the packet to point at, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    pub packet: u64,
    pub ts: Timestamp,
}

/// What the connection's TCP side tells the payload analyzer at the end.
#[derive(Clone, Copy, Debug)]
pub struct TcpEnd<'a> {
    pub close: &'a Close,
    pub server_port: u16,
}

/// The application-layer part of a connection's record, copied in as it is: the
/// connection never reads a protocol's internals.
#[derive(Debug, Default)]
pub struct AppRecord {
    pub protocol: Protocol,
    /// Requests parsed (HTTP, HTTP/2, decrypted TLS), or exchanges inferred (TLS
    /// without keys).
    pub requests: u64,
    /// `requests` and the exchanges come from encrypted record sizes, not messages.
    pub requests_inferred: bool,
    pub http: Vec<HttpExchange>,
    pub http_end: Option<HttpEnd>,
    pub max_request_gap_s: Option<f64>,
    pub tunnel: Option<Tunnel>,
    pub tls: Option<TlsInfo>,
    pub http2: Option<Http2Info>,
    pub missed_bytes: PerSide<u64>,
    pub warnings: Vec<WarningRecord>,
}

/// One connection's payload analysis, fed every segment of the connection.
pub trait PayloadAnalyzer: std::fmt::Debug {
    /// A SYN went by: it, not the payload, says who is client.
    fn fix_roles(&mut self);

    /// Feeds one segment sent by `dir`.
    fn on_segment(&mut self, dir: Direction, seg: &Segment<'_>, origin: Origin);

    /// Whether the payload showed the roles reversed. When it returns true the caller
    /// must swap every per-direction figure it holds; the analyzer has swapped its own.
    fn take_role_reversal(&mut self) -> bool;

    /// The connection ended: delivers what is still held. May reverse the roles (see
    /// [`PayloadAnalyzer::take_role_reversal`]); called before
    /// [`PayloadAnalyzer::finish`].
    fn flush(&mut self);

    /// The connection ended as `tcp` says: the payload's part of the record.
    fn finish(self: Box<Self>, tcp: TcpEnd<'_>) -> AppRecord;
}

/// Makes each connection's payload analyzer. The analyzers may carry context of their
/// own (an input's TLS keys) that flow/ never looks at; a plain function
/// `fn(bool) -> Box<dyn PayloadAnalyzer>` is a factory too.
pub trait PayloadFactory {
    /// The analyzer of a new connection; `roles_fixed` says whether a SYN or SYN-ACK
    /// decided who is client (otherwise ports guessed it, and the payload may correct
    /// it).
    fn make(&self, roles_fixed: bool) -> Box<dyn PayloadAnalyzer>;
}

impl<F: Fn(bool) -> Box<dyn PayloadAnalyzer>> PayloadFactory for F {
    fn make(&self, roles_fixed: bool) -> Box<dyn PayloadAnalyzer> {
        self(roles_fixed)
    }
}
