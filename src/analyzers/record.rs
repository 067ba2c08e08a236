//! What the analyzer tree contributes to a connection's record: the protocol, the
//! exchanges and how many requests they count, the verdict on the HTTP conversation,
//! TLS, and the warnings of every layer — gathered into flow's `AppRecord`, which
//! `flow/`, knowing TCP only, copies in without reading any protocol's internals.

use super::http::{http_end, HttpSummary};
use super::http2::{http2_end, http2_record};
use super::tls::TlsSummary;
use super::tree::Http2Layer;
use crate::flow::key::{Direction, PerSide};
use crate::flow::payload::{AppRecord, TcpEnd};
use crate::report::model::{
    Close, Http2Via, HttpEnd, HttpEndReason, HttpExchange, Protocol, WarningRecord,
};

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

/// Adds what an HTTP/2 node read (h2c, or h2 inside decrypted TLS) to the record the
/// other layers made: its streams are the connection's exchanges and requests (read,
/// not inferred), GOAWAY or the close ends the conversation (`http2_end`), and its
/// `http2{}` block and warnings join the record. After `Upgrade: h2c`, stream 1 takes
/// the place of the HTTP/1.1 exchange the 101 answered; exchanges read before it stay.
pub(super) fn with_http2(record: &mut AppRecord, layer: Http2Layer, tcp: TcpEnd<'_>) {
    let (exchanges, info, warnings) = http2_record(layer.summary, layer.via);
    let upgraded = record.http.last().is_some_and(|x| x.status == Some(101));
    if layer.via == Http2Via::Upgrade && upgraded {
        record.http.pop();
    }
    let before = record.http.len() as u64;
    record.http_end = http2_end(&info, &exchanges, tcp.close.by);
    let first_new = record.http.len();
    record.http.extend(exchanges.into_iter().map(|mut x| {
        x.index += before;
        x
    }));
    record.requests = record.http.iter().filter(|x| x.method.is_some()).count() as u64;
    record.requests_inferred = false;
    record.max_request_gap_s = longest(record.http.iter().filter_map(|x| x.idle_before_s));
    record.warnings.extend(warnings);
    let unanswered: Vec<&HttpExchange> = record.http[first_new..]
        .iter()
        .filter(|x| x.method.is_some() && x.response_packet.is_none())
        .filter(|x| !info.resets.iter().any(|r| Some(r.stream_id) == x.stream_id))
        .collect();
    if let (Some(end), Some(first)) = (record.http_end, unanswered.first()) {
        if end.reason == HttpEndReason::ClosedDuringExchange {
            let streams: Vec<String> = unanswered
                .iter()
                .filter_map(|x| x.stream_id.map(|s| s.to_string()))
                .collect();
            record.warnings.push(WarningRecord {
                packet: first.request_packet,
                message: format!(
                    "{} HTTP/2 request{} (stream {}) got no response before the connection was closed ({} by the {})",
                    unanswered.len(),
                    if unanswered.len() == 1 { "" } else { "s" },
                    streams.join(", "),
                    tcp.close.how.as_str().to_uppercase(),
                    end.by.map_or("-", Direction::as_str),
                ),
            });
        }
    }
    record.http2 = Some(info);
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
