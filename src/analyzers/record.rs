//! What the analyzer tree contributes to a connection's record: the protocol, the
//! exchanges and how many requests they count, the verdict on the HTTP conversation,
//! TLS, and the warnings of every layer — gathered into flow's `AppRecord`, which
//! `flow/`, knowing TCP only, copies in without reading any protocol's internals.

use super::http::{http_end, HttpSummary};
use super::tls::TlsSummary;
use crate::flow::key::{Direction, PerSide};
use crate::flow::payload::{AppRecord, TcpEnd};
use crate::report::model::{Close, HttpEnd, HttpEndReason, HttpExchange, Protocol, WarningRecord};

/// Ports where HTTP or TLS is expected: other payload there is worth a warning.
const WEB_PORTS: [u16; 7] = [80, 443, 8000, 8008, 8080, 8443, 8888];

/// The record part from what each layer learnt. `unrecognised_from`: for `unknown`,
/// the packet of the first payload.
pub(super) fn app_record(
    protocol: Protocol,
    http: Option<HttpSummary>,
    tls: Option<TlsSummary>,
    unrecognised_from: Option<u64>,
    tcp: TcpEnd<'_>,
) -> AppRecord {
    let http_end = http.as_ref().and_then(|h| http_end(h, tcp.close.by));
    let http = http.unwrap_or_default();
    // Decrypted TLS: `http` holds the exchanges read from the plaintext (HTTP/1.x; an
    // HTTP/2 child's streams are mapped in by the HTTP/2 layer), the inferred ones stay
    // in `tls.exchanges` for comparison.
    let decrypted = tls.as_ref().is_some_and(|t| t.info.decrypted);
    let requests_inferred = protocol.infers_exchanges() && !decrypted;
    let inferred = tls.as_ref().filter(|_| requests_inferred);
    let (requests, max_request_gap_s) = match inferred {
        Some(t) => (
            t.info.exchanges.len() as u64,
            longest(t.info.exchanges.iter().filter_map(|x| x.idle_before_s)),
        ),
        None => (
            http.exchanges.iter().filter(|x| x.method.is_some()).count() as u64,
            longest(http.exchanges.iter().filter_map(|x| x.idle_before_s)),
        ),
    };
    let mut warnings = http.warnings;
    if let Some(t) = &tls {
        warnings.extend(t.warnings.iter().cloned());
    }
    if let Some(w) = closed_before_response(&http.exchanges, http_end, tcp.close) {
        warnings.push(w);
    }
    // Traffic on a web port that is neither HTTP nor TLS is worth a word: a
    // tunnel, another protocol, or garbage aimed at the server.
    if let (Some(packet), true) = (unrecognised_from, WEB_PORTS.contains(&tcp.server_port)) {
        warnings.push(WarningRecord {
            packet: Some(packet),
            message: format!(
                "the payload on port {} is neither HTTP nor TLS; not analysed",
                tcp.server_port
            ),
        });
    }
    AppRecord {
        protocol,
        requests,
        requests_inferred,
        http_end,
        max_request_gap_s,
        tunnel: http.tunnel,
        tls: tls.map(|t| t.info),
        http2: None,
        missed_bytes: PerSide {
            client: http.missed_bytes.0,
            server: http.missed_bytes.1,
        },
        warnings,
        http: http.exchanges,
    }
}

fn longest(gaps: impl Iterator<Item = f64>) -> Option<f64> {
    gaps.fold(None, |max: Option<f64>, gap| {
        Some(max.map_or(gap, |m| m.max(gap)))
    })
}

/// A request the connection closed on before any answer came.
fn closed_before_response(
    exchanges: &[HttpExchange],
    end: Option<HttpEnd>,
    close: &Close,
) -> Option<WarningRecord> {
    let (end, last) = (end?, exchanges.last()?);
    if end.reason != HttpEndReason::ClosedDuringExchange || last.response_packet.is_some() {
        return None;
    }
    Some(WarningRecord {
        packet: last.request_packet,
        message: format!(
            "the request{} got no response before the connection was closed ({} by the {})",
            last.request_packet
                .map(|p| format!(" at packet {p}"))
                .unwrap_or_default(),
            close.how.as_str().to_uppercase(),
            end.by.map_or("-", Direction::as_str),
        ),
    })
}
