//! The verdict on an HTTP conversation once its connection is over: who ended it and
//! why (`Connection: close`, HTTP/1.0 without keep-alive, a tunnel, or a close with
//! or without an exchange in flight).

use super::*;

/// Who ended the HTTP conversation, and why (see `HttpEndReason`).
pub fn http_end(summary: &HttpSummary, closed_by: Option<Direction>) -> Option<HttpEnd> {
    let last = summary.exchanges.last()?;
    if summary.tunnel.is_some() {
        return Some(HttpEnd {
            by: None,
            reason: HttpEndReason::Tunnel,
        });
    }
    let says_close = |v: &Option<Text>| {
        v.as_deref()
            .is_some_and(|v| has_token(v.as_bytes(), "close"))
    };
    let says_keep_alive = |v: &Option<Text>| {
        v.as_deref()
            .is_some_and(|v| has_token(v.as_bytes(), "keep-alive"))
    };
    if says_close(&last.request_connection) {
        return Some(HttpEnd {
            by: Some(Direction::Client),
            reason: HttpEndReason::ClientConnectionClose,
        });
    }
    if says_close(&last.response_connection) {
        return Some(HttpEnd {
            by: Some(Direction::Server),
            reason: HttpEndReason::ServerConnectionClose,
        });
    }
    let http10_request =
        last.version.as_deref() == Some("HTTP/1.0") && !says_keep_alive(&last.request_connection);
    let http10_response = last.response_version.as_deref() == Some("HTTP/1.0")
        && !says_keep_alive(&last.response_connection);
    if http10_request || http10_response {
        return Some(HttpEnd {
            by: Some(if http10_response {
                Direction::Server
            } else {
                Direction::Client
            }),
            reason: HttpEndReason::Http10NoKeepAlive,
        });
    }
    let by = closed_by?;
    let reason = match (summary.outstanding, by) {
        (true, _) => HttpEndReason::ClosedDuringExchange,
        (false, Direction::Server) => HttpEndReason::ServerClosedIdle,
        (false, Direction::Client) => HttpEndReason::ClientClosedIdle,
    };
    Some(HttpEnd {
        by: Some(by),
        reason,
    })
}
