//! The expectation language of `connscope check`: a metric with an optional selector,
//! a comparison and a number — `requests(host=api.example.com) >= 3` — or a finding
//! kind that must (or, after `no`, must not) occur — `no new_connection_while_idle`.
//! A syntax error names the column where it went wrong and what would fit there.
//!
//! ```text
//! expectation := metric [ "(" selectors ")" ] op number
//!              | [ "no" ] finding [ "(" selectors ")" ]
//! selectors   := selector { "," selector }
//! selector    := ("server" | "port" | "host" | "client" | "from") "=" value
//! op          := "==" | "!=" | "<" | "<=" | ">" | ">="
//! ```

use crate::report::model::FindingKind;
use std::fmt;

/// What can be measured over the selected connections (docs/ci.md defines each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Connections,
    Requests,
    RequestsPerConnection,
    ReusedConnections,
    KeepaliveProbes,
    UnansweredProbes,
    Resets,
    Retransmissions,
    MaxIdleS,
    MaxRequestGapS,
    HandshakeFailures,
    Findings,
    StreamsPerConnection,
    Decrypted,
}

pub const METRICS: &[(&str, Metric)] = &[
    ("connections", Metric::Connections),
    ("requests", Metric::Requests),
    ("requests_per_connection", Metric::RequestsPerConnection),
    ("reused_connections", Metric::ReusedConnections),
    ("keepalive_probes", Metric::KeepaliveProbes),
    ("unanswered_probes", Metric::UnansweredProbes),
    ("resets", Metric::Resets),
    ("retransmissions", Metric::Retransmissions),
    ("max_idle_s", Metric::MaxIdleS),
    ("max_request_gap_s", Metric::MaxRequestGapS),
    ("handshake_failures", Metric::HandshakeFailures),
    ("findings", Metric::Findings),
    ("streams_per_connection", Metric::StreamsPerConnection),
    ("decrypted", Metric::Decrypted),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn holds(self, observed: f64, expected: f64) -> bool {
        match self {
            Op::Eq => observed == expected,
            Op::Ne => observed != expected,
            Op::Lt => observed < expected,
            Op::Le => observed <= expected,
            Op::Gt => observed > expected,
            Op::Ge => observed >= expected,
        }
    }
}

/// Which connections (or probes) an expectation looks at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    /// `server=IP:PORT`: (address, port); the address may be empty (`:443`).
    pub server: Option<(String, u16)>,
    pub port: Option<u16>,
    /// HTTP Host (port ignored) or TLS SNI.
    pub host: Option<String>,
    pub client: Option<String>,
    /// `from=client|server`, for probes and retransmissions.
    pub from: Option<crate::flow::key::Direction>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expectation {
    Compare {
        metric: Metric,
        selector: Selector,
        op: Op,
        value: f64,
        /// `baseline.METRIC` on the right (`check --baseline`): compare with that
        /// metric measured on the baseline capture, same selector; `value` is unused.
        baseline: Option<Metric>,
    },
    Finding {
        kind: FindingKind,
        selector: Selector,
        /// `no kind`: must not occur.
        absent: bool,
    },
}

/// A syntax error: where, what went wrong, what would fit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 0-based character column.
    pub column: usize,
    pub message: String,
    pub expected: Vec<String>,
}

impl ParseError {
    /// The expression, a caret under the column, and the message: three lines.
    pub fn render(&self, text: &str) -> String {
        let mut out = format!("  {text}\n  {}^ {}", " ".repeat(self.column), self.message);
        if !self.expected.is_empty() {
            out.push_str(&format!("; expected {}", self.expected.join(", ")));
        }
        out
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column + 1, self.message)
    }
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn skip_space(&mut self) {
        while self.text[self.pos..].starts_with(' ') || self.text[self.pos..].starts_with('\t') {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_space();
        self.text[self.pos..].chars().next()
    }

    fn column(&self) -> usize {
        self.text[..self.pos].chars().count()
    }

    fn word(&mut self) -> (usize, &'a str) {
        self.skip_space();
        let start = self.pos;
        let len = self.text[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.text.len() - start);
        self.pos += len;
        (
            self.text[..start].chars().count(),
            &self.text[start..start + len],
        )
    }

    fn error(&self, column: usize, message: impl Into<String>, expected: &[&str]) -> ParseError {
        ParseError {
            column,
            message: message.into(),
            expected: expected.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// The candidate within edit distance 2 of `word`, if one is.
fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let distance = |a: &str, b: &str| {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let next = (prev + usize::from(ca != *cb))
                    .min(row[j] + 1)
                    .min(row[j + 1] + 1);
                prev = row[j + 1];
                row[j + 1] = next;
            }
        }
        row[b.len()]
    };
    candidates
        .iter()
        .map(|c| (distance(word, c), *c))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, c)| c)
}

const SELECTOR_KEYS: &[&str] = &["server", "port", "host", "client", "from"];
const OPS: &[&str] = &["==", "!=", "<", "<=", ">", ">="];

pub fn parse(text: &str) -> Result<Expectation, ParseError> {
    let mut lx = Lexer { text, pos: 0 };
    let (col, mut name) = lx.word();
    let mut absent = false;
    let mut name_col = col;
    if name == "no" {
        absent = true;
        let (c, n) = lx.word();
        name_col = c;
        name = n;
        if FindingKind::from_name(name).is_none() {
            let kinds: Vec<&str> = FindingKind::ALL.iter().map(|k| k.as_str()).collect();
            return Err(lx.error(
                name_col,
                format!("`no` takes a finding kind, not {:?}", name),
                &kinds,
            ));
        }
    }
    if name.is_empty() {
        let mut fits: Vec<&str> = METRICS.iter().map(|(n, _)| *n).collect();
        fits.push("no <finding>");
        return Err(lx.error(name_col, "expected a metric or a finding", &fits));
    }
    let metric = METRICS.iter().find(|(n, _)| *n == name).map(|(_, m)| *m);
    let finding = FindingKind::from_name(name);
    if metric.is_none() && finding.is_none() {
        let mut fits: Vec<&str> = METRICS.iter().map(|(n, _)| *n).collect();
        fits.extend(FindingKind::ALL.iter().map(|k| k.as_str()));
        let hint = closest(name, &fits)
            .map(|m| format!(" (did you mean {m}?)"))
            .unwrap_or_default();
        return Err(lx.error(
            name_col,
            format!("unknown metric or finding {name:?}{hint}"),
            &fits,
        ));
    }
    let selector = if lx.peek() == Some('(') {
        lx.pos += 1;
        parse_selectors(&mut lx)?
    } else {
        Selector::default()
    };
    let metric = match (metric, finding) {
        (_, Some(kind)) => {
            if lx.peek().is_some() {
                return Err(lx.error(
                    lx.column(),
                    "nothing may follow a finding",
                    &["end of expression"],
                ));
            }
            return Ok(Expectation::Finding {
                kind,
                selector,
                absent,
            });
        }
        (Some(metric), None) => metric,
        (None, None) => {
            return Err(lx.error(name_col, format!("unknown metric or finding {name:?}"), &[]))
        }
    };
    lx.skip_space();
    let op_col = lx.column();
    let rest = &lx.text[lx.pos..];
    let op = [
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
    ]
    .iter()
    .find(|(s, _)| rest.starts_with(s));
    let Some((symbol, op)) = op else {
        return Err(lx.error(op_col, "expected a comparison", OPS));
    };
    lx.pos += symbol.len();
    lx.skip_space();
    let value_col = lx.column();
    if lx.text[lx.pos..].starts_with("baseline.") {
        lx.pos += "baseline.".len();
        let (col, name) = lx.word();
        let names: Vec<&str> = METRICS.iter().map(|(n, _)| *n).collect();
        let Some((_, against)) = METRICS.iter().find(|(n, _)| *n == name) else {
            return Err(lx.error(col, format!("unknown baseline metric {name:?}"), &names));
        };
        if lx.peek().is_some() {
            let rest = "unexpected text after the baseline metric";
            return Err(lx.error(lx.column(), rest, &["end of expression"]));
        }
        let (op, baseline, value) = (*op, Some(*against), 0.0);
        return Ok(Expectation::Compare {
            metric,
            selector,
            op,
            value,
            baseline,
        });
    }
    let end = lx.text[lx.pos..]
        .find(' ')
        .map_or(lx.text.len(), |i| lx.pos + i);
    let number = &lx.text[lx.pos..end];
    let value: f64 = number
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| {
            lx.error(
                value_col,
                format!("{number:?} is not a number"),
                &["a number such as 1, 3 or 0.5"],
            )
        })?;
    lx.pos = end;
    if lx.peek().is_some() {
        return Err(lx.error(
            lx.column(),
            "unexpected text after the number",
            &["end of expression"],
        ));
    }
    Ok(Expectation::Compare {
        metric,
        selector,
        op: *op,
        value,
        baseline: None,
    })
}

fn parse_selectors(lx: &mut Lexer<'_>) -> Result<Selector, ParseError> {
    let mut sel = Selector::default();
    loop {
        let (col, key) = lx.word();
        if !SELECTOR_KEYS.contains(&key) {
            return Err(lx.error(col, format!("unknown selector {key:?}"), SELECTOR_KEYS));
        }
        if lx.peek() != Some('=') {
            return Err(lx.error(lx.column(), format!("expected `=` after {key}"), &["="]));
        }
        lx.pos += 1;
        lx.skip_space();
        let value_col = lx.column();
        let end = lx.text[lx.pos..]
            .find([',', ')'])
            .map_or(lx.text.len(), |i| lx.pos + i);
        let value = lx.text[lx.pos..end].trim();
        if value.is_empty() {
            return Err(lx.error(value_col, format!("{key}= needs a value"), &[]));
        }
        let bad = |what: &str| lx.error(value_col, format!("{value:?} is not {what}"), &[]);
        match key {
            "server" => {
                let (host, port) =
                    crate::host::HostPort::parse_with_port(value).map_err(|e| match e {
                        crate::host::PortError::Missing => bad("IP:PORT, [IPv6]:PORT or :PORT"),
                        crate::host::PortError::NotANumber(_) => {
                            bad("IP:PORT (the port is not a number)")
                        }
                    })?;
                sel.server = Some((host.to_string(), port));
            }
            "port" => sel.port = Some(value.parse().map_err(|_| bad("a port number"))?),
            "host" => sel.host = Some(value.to_string()),
            "client" => {
                sel.client = Some(
                    value
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_string(),
                )
            }
            _ => {
                sel.from = Some(match value {
                    "client" => crate::flow::key::Direction::Client,
                    "server" => crate::flow::key::Direction::Server,
                    _ => {
                        return Err(lx.error(
                            value_col,
                            format!("from={value:?}"),
                            &["client", "server"],
                        ))
                    }
                })
            }
        }
        lx.pos = end;
        match lx.peek() {
            Some(',') => lx.pos += 1,
            Some(')') => {
                lx.pos += 1;
                return Ok(sel);
            }
            _ => return Err(lx.error(lx.column(), "expected `,` or `)`", &[",", ")"])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_comparisons_with_selectors() {
        assert_eq!(
            parse("connections(server=127.0.0.1:8080) <= 2"),
            Ok(Expectation::Compare {
                metric: Metric::Connections,
                selector: Selector {
                    server: Some(("127.0.0.1".into(), 8080)),
                    ..Selector::default()
                },
                op: Op::Le,
                value: 2.0,
                baseline: None,
            })
        );
        let Ok(Expectation::Compare { selector, op, .. }) =
            parse("keepalive_probes(from=client, port=443)>0")
        else {
            panic!("parse")
        };
        assert_eq!(selector.from, Some(crate::flow::key::Direction::Client));
        assert_eq!(selector.port, Some(443));
        assert_eq!(op, Op::Gt);
        assert!(
            matches!(parse("max_idle_s < 60"), Ok(Expectation::Compare { value, .. }) if value == 60.0)
        );
        let Ok(Expectation::Compare { selector, .. }) = parse("requests(server=[::1]:8081) >= 1")
        else {
            panic!()
        };
        assert_eq!(selector.server, Some(("::1".into(), 8081)));
    }

    #[test]
    fn parses_baseline_metrics_on_the_right() {
        let parsed = parse("connections(port=8080) <= baseline.connections");
        let Ok(Expectation::Compare {
            metric, baseline, ..
        }) = parsed
        else {
            panic!("{parsed:?}")
        };
        assert_eq!(
            (metric, baseline),
            (Metric::Connections, Some(Metric::Connections))
        );
        let Err(e) = parse("requests >= baseline.requets") else {
            panic!("a misspelt baseline metric parsed")
        };
        assert_eq!(e.column, 21);
        assert!(parse("requests >= baseline.requests 3").is_err());
    }

    #[test]
    fn parses_findings_present_and_absent() {
        assert_eq!(
            parse("no new_connection_while_idle"),
            Ok(Expectation::Finding {
                kind: FindingKind::NewConnectionWhileIdle,
                selector: Selector::default(),
                absent: true
            })
        );
        assert!(matches!(
            parse("connection_reused(host=api.example.com)"),
            Ok(Expectation::Finding { absent: false, .. })
        ));
    }

    #[test]
    fn every_operator() {
        for (text, op) in [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<", Op::Lt),
            ("<=", Op::Le),
            (">", Op::Gt),
            (">=", Op::Ge),
        ] {
            assert!(
                matches!(parse(&format!("resets {text} 0")), Ok(Expectation::Compare { op: o, .. }) if o == op)
            );
        }
        assert!(Op::Ge.holds(3.0, 3.0) && !Op::Gt.holds(3.0, 3.0) && Op::Ne.holds(1.0, 2.0));
    }

    #[test]
    fn errors_point_at_the_column_and_list_what_fits() {
        let e = parse("conections == 1").expect_err("typo");
        assert_eq!(e.column, 0);
        assert!(e.expected.contains(&"connections".to_string()));
        assert_eq!(e.render("conections == 1").lines().nth(1), Some("  ^ unknown metric or finding \"conections\" (did you mean connections?); expected connections, requests, requests_per_connection, reused_connections, keepalive_probes, unanswered_probes, resets, retransmissions, max_idle_s, max_request_gap_s, handshake_failures, findings, streams_per_connection, decrypted, connection_reused, new_connection_while_idle, parallel_connections, server_idle_close, connection_close_header, http10_no_keepalive, no_reuse, idle_reset, keepalive_unanswered, handshake_failed, idle_open_connection, server_request_cap, stale_connection_reset, connection_churn, tls_handshake_failed, h2_goaway_reconnect, h2_parallel_connections"));
        let e = parse("connections =< 1").expect_err("op");
        assert_eq!((e.column, e.expected.len()), (12, 6));
        let e = parse("connections == one").expect_err("number");
        assert_eq!(e.column, 15);
        let e = parse("requests(hots=x) > 1").expect_err("selector");
        assert_eq!(e.column, 9);
        assert_eq!(e.expected, vec!["server", "port", "host", "client", "from"]);
        let e = parse("requests(port=http) > 1").expect_err("port");
        assert_eq!(e.column, 14);
        let e = parse("no connections").expect_err("no + metric");
        assert_eq!(e.column, 3);
        let e = parse("requests(from=both) > 1").expect_err("from");
        assert_eq!(e.expected, vec!["client", "server"]);
        let e = parse("requests > 1 extra").expect_err("trailing");
        assert_eq!(e.column, 13);
        assert_eq!(parse("").expect_err("empty").column, 0);
        assert!(parse("requests(host=x").is_err());
    }
}
