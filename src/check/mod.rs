//! `connscope check`: expectations about captures, evaluated like tests — for CI
//! pipelines that must fail when a change breaks connection reuse. `expr` is the
//! language, `suite` the `connscope.toml` file, `junit` the XML report; this file
//! evaluates expectations against the report model and prints the results.

pub mod expr;
pub mod junit;
pub mod suite;

use crate::flow::key::Direction;
use crate::report::model::{CloseHow, ConnectionRecord, HandshakeOutcome, Report, Severity};
use expr::{Expectation, Metric, Selector};
use serde::Serialize;

/// The verdict on one expectation for one capture.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub capture: String,
    pub expectation: String,
    pub passed: bool,
    /// What was measured, in words: `2`, `none`, `1 finding`.
    pub observed: String,
    /// For a failure: the connections and packets that make it fail.
    pub connections: Vec<u64>,
    pub packets: Vec<u64>,
    /// For a failure: findings about those connections that explain it.
    pub why: Vec<String>,
}

pub fn selects(sel: &Selector, c: &ConnectionRecord) -> bool {
    sel.server.as_ref().is_none_or(|(host, port)| {
        c.server.port == *port
            && (host.is_empty()
                || c.server.ip.to_string() == *host
                || crate::host::addressed_as(c, host))
    }) && sel.port.is_none_or(|p| c.server.port == p)
        && sel
            .host
            .as_ref()
            .is_none_or(|h| crate::host::addressed_as(c, h))
        && sel
            .client
            .as_ref()
            .is_none_or(|ip| c.client.ip.to_string() == *ip)
}

fn side_ok(sel: &Selector, from: Direction) -> bool {
    sel.from.is_none_or(|f| f == from)
}

/// Evaluates one parsed expectation on the report of one capture.
pub fn evaluate(capture: &str, text: &str, exp: &Expectation, report: &Report) -> Outcome {
    let mut out = Outcome {
        capture: capture.to_string(),
        expectation: text.to_string(),
        passed: false,
        observed: String::new(),
        connections: Vec::new(),
        packets: Vec::new(),
        why: Vec::new(),
    };
    match exp {
        Expectation::Finding {
            kind,
            selector,
            absent,
        } => {
            let found: Vec<_> = report
                .findings
                .iter()
                .filter(|f| f.kind == *kind)
                .filter(|f| {
                    f.connections.iter().any(|id| {
                        report
                            .connections
                            .iter()
                            .any(|c| c.id == *id && selects(selector, c))
                    })
                })
                .collect();
            out.passed = found.is_empty() == *absent;
            out.observed = match found.len() {
                0 => "not found".into(),
                1 => "1 finding".into(),
                n => format!("{n} findings"),
            };
            if !out.passed && *absent {
                for f in &found {
                    out.connections.extend(&f.connections);
                    out.packets.extend(&f.packets);
                    out.why.push(format!("{}: {}", f.kind.as_str(), f.message));
                }
            }
        }
        Expectation::Compare {
            metric,
            selector,
            op,
            value,
            baseline,
        } => {
            if baseline.is_some() {
                // `connscope check --baseline` evaluates these (crate::diff::baseline).
                out.observed = "needs --baseline BEFORE".into();
                return out;
            }
            let conns: Vec<&ConnectionRecord> = report
                .connections
                .iter()
                .filter(|c| selects(selector, c))
                .collect();
            let (observed, evidence) = measure(*metric, selector, &conns, report);
            out.passed = observed.is_some_and(|v| op.holds(v, *value));
            out.observed = observed.map_or_else(|| "none".to_string(), format_number);
            if !out.passed {
                for (id, packets) in evidence {
                    out.connections.push(id);
                    out.packets.extend(packets);
                }
                // Warning findings about the connections involved say why.
                for f in report
                    .findings
                    .iter()
                    .filter(|f| f.severity == Severity::Warning)
                {
                    if f.connections.iter().any(|id| out.connections.contains(id)) {
                        out.why.push(format!("{}: {}", f.kind.as_str(), f.message));
                    }
                }
            }
        }
    }
    out.connections.sort_unstable();
    out.connections.dedup();
    out.packets.sort_unstable();
    out.packets.dedup();
    out
}

fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.3}")
    }
}

/// Evidence: (connection id, the packets that show it).
pub type Evidence = Vec<(u64, Vec<u64>)>;

pub fn measure(
    metric: Metric,
    sel: &Selector,
    conns: &[&ConnectionRecord],
    report: &Report,
) -> (Option<f64>, Evidence) {
    let first = |c: &ConnectionRecord| (c.id, vec![c.first_packet]);
    match metric {
        Metric::Connections => (
            Some(conns.len() as f64),
            conns.iter().map(|c| first(c)).collect(),
        ),
        Metric::Requests => {
            let n: u64 = conns.iter().map(|c| c.requests).sum();
            (Some(n as f64), with_requests(conns))
        }
        Metric::RequestsPerConnection => {
            let carrying: Vec<&&ConnectionRecord> =
                conns.iter().filter(|c| c.requests > 0).collect();
            let n: u64 = carrying.iter().map(|c| c.requests).sum();
            let v = (!carrying.is_empty()).then(|| n as f64 / carrying.len() as f64);
            (v, with_requests(conns))
        }
        Metric::ReusedConnections => {
            let reused: Vec<&&ConnectionRecord> = conns.iter().filter(|c| c.reused).collect();
            (
                Some(reused.len() as f64),
                conns.iter().map(|c| first(c)).collect(),
            )
        }
        Metric::KeepaliveProbes | Metric::UnansweredProbes => {
            let mut evidence = Vec::new();
            let mut n = 0;
            for c in conns {
                let probes: Vec<u64> = c
                    .keepalive
                    .probes
                    .iter()
                    .filter(|p| {
                        side_ok(sel, p.from) && (metric == Metric::KeepaliveProbes || !p.acked)
                    })
                    .map(|p| p.packet)
                    .collect();
                n += probes.len();
                if !probes.is_empty() {
                    evidence.push((c.id, probes));
                }
            }
            (Some(n as f64), evidence)
        }
        Metric::Resets => {
            let reset: Evidence = conns
                .iter()
                .filter(|c| {
                    c.close.how == CloseHow::Rst && c.close.by.is_some_and(|by| side_ok(sel, by))
                })
                .map(|c| (c.id, c.close.packet.into_iter().collect()))
                .collect();
            (Some(reset.len() as f64), reset)
        }
        Metric::Retransmissions => {
            let mut evidence = Vec::new();
            let mut n = 0;
            for c in conns {
                let count = [
                    (Direction::Client, c.retransmissions.client),
                    (Direction::Server, c.retransmissions.server),
                ]
                .iter()
                .filter(|(d, _)| side_ok(sel, *d))
                .map(|(_, n)| n)
                .sum::<u64>();
                n += count;
                if count > 0 {
                    evidence.push((
                        c.id,
                        c.tcp_events
                            .iter()
                            .filter(|e| side_ok(sel, e.from))
                            .map(|e| e.packet)
                            .collect(),
                    ));
                }
            }
            (Some(n as f64), evidence)
        }
        Metric::MaxIdleS => {
            let max = conns
                .iter()
                .filter_map(|c| c.idle.as_ref().map(|i| (c, i)))
                .max_by(|a, b| a.1.max_s.total_cmp(&b.1.max_s));
            match max {
                Some((c, idle)) => (
                    Some(idle.max_s),
                    vec![(c.id, vec![idle.from_packet, idle.to_packet])],
                ),
                None => (Some(0.0), Vec::new()),
            }
        }
        Metric::MaxRequestGapS => {
            let max = conns
                .iter()
                .filter_map(|c| c.max_request_gap_s.map(|g| (c, g)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            match max {
                Some((c, gap)) => (Some(gap), vec![first(c)]),
                None => (Some(0.0), Vec::new()),
            }
        }
        Metric::HandshakeFailures => {
            let failed: Evidence = conns
                .iter()
                .filter_map(|c| c.handshake.as_ref().map(|h| (c, h)))
                .filter(|(_, h)| {
                    matches!(
                        h.outcome,
                        HandshakeOutcome::Refused | HandshakeOutcome::Unanswered
                    )
                })
                .map(|(c, h)| {
                    (
                        c.id,
                        h.syn_packet.into_iter().chain(h.refused_packet).collect(),
                    )
                })
                .collect();
            (Some(failed.len() as f64), failed)
        }
        Metric::StreamsPerConnection => {
            // The busiest HTTP/2 connection: "this client multiplexes" holds when one
            // connection carried many streams, whatever the others did.
            let busiest = conns
                .iter()
                .filter_map(|c| c.http2.as_ref().map(|h| (c, h.streams_opened)))
                .max_by_key(|&(c, n)| (n, std::cmp::Reverse(c.id)));
            match busiest {
                Some((c, n)) => (Some(n as f64), with_requests(&[*c])),
                None => (None, Vec::new()),
            }
        }
        Metric::Decrypted => {
            let decrypted: Evidence = conns
                .iter()
                .filter(|c| c.tls.as_ref().is_some_and(|t| t.decrypted))
                .map(|c| first(c))
                .collect();
            (Some(decrypted.len() as f64), decrypted)
        }
        Metric::Findings => {
            let ids: Vec<u64> = conns.iter().map(|c| c.id).collect();
            let found: Vec<_> = report
                .findings
                .iter()
                .filter(|f| {
                    f.severity == Severity::Warning
                        && f.connections.iter().any(|id| ids.contains(id))
                })
                .collect();
            let evidence = found
                .iter()
                .map(|f| {
                    (
                        f.connections.first().copied().unwrap_or(0),
                        f.packets.clone(),
                    )
                })
                .collect();
            (Some(found.len() as f64), evidence)
        }
    }
}

fn with_requests(conns: &[&ConnectionRecord]) -> Evidence {
    conns
        .iter()
        .map(|c| {
            // A decrypted connection's inferred bursts are the same requests again.
            let packets = c.http.iter().filter_map(|x| x.request_packet).chain(
                c.tls
                    .iter()
                    .filter(|t| !t.decrypted)
                    .flat_map(|t| t.exchanges.iter().map(|x| x.client_packet)),
            );
            (c.id, packets.collect())
        })
        .collect()
}

/// Human output: per capture, one line per expectation, then `N passed, M failed`.
pub fn render_text(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    let mut capture: Option<&str> = None;
    let width = outcomes
        .iter()
        .map(|o| o.expectation.chars().count())
        .max()
        .unwrap_or(0);
    for o in outcomes {
        if capture != Some(o.capture.as_str()) {
            out.push_str(&format!("{}\n", o.capture));
            capture = Some(&o.capture);
        }
        let mut line = format!(
            "  {}  {:width$}  observed {}",
            if o.passed { "PASS" } else { "FAIL" },
            o.expectation,
            o.observed
        );
        if !o.passed && !o.connections.is_empty() {
            line.push_str(&format!(" — connections {}", list(&o.connections)));
            if !o.packets.is_empty() {
                line.push_str(&format!("; packets {}", list(&o.packets)));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if !o.passed {
            for why in &o.why {
                out.push_str(&format!("        why: {why}\n"));
            }
        }
    }
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    out.push_str(&format!(
        "{} passed, {failed} failed\n",
        outcomes.len() - failed
    ));
    out
}

fn list(ids: &[u64]) -> String {
    let shown: Vec<String> = ids.iter().take(12).map(u64::to_string).collect();
    if ids.len() > 12 {
        format!("{} … ({} in all)", shown.join(", "), ids.len())
    } else {
        shown.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::exchange::h2_support::{conv, records, Stream};
    use crate::report::model::SCHEMA;

    /// Decrypted h2 with three streams, h2c with one, and a plain HTTP/1.1 connection.
    fn report() -> Report {
        let three = [
            Stream(1, 1.0, 1.5),
            Stream(3, 1.1, 1.2),
            Stream(5, 3.0, 3.1),
        ];
        let one = [Stream(1, 2.0, 2.1)];
        let a = conv(40000, 0.0, true, &three, Some(4.0));
        let b = conv(40001, 1.9, false, &one, Some(4.0));
        let mut connections = records(&[(&a, &three), (&b, &one)]);
        let mut plain = crate::flow::table::tests_support::Conv::open(40002, 5.0);
        plain
            .request(5.1, "GET / HTTP/1.1\r\nHost: api.example\r\n\r\n")
            .response(5.2, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        let mut more = crate::flow::table::tests_support::capture(&[&plain]);
        more[0].id = 3;
        connections.extend(more);
        Report {
            schema: SCHEMA,
            inputs: Vec::new(),
            connections,
            servers: Vec::new(),
            findings: Vec::new(),
        }
    }

    fn check(text: &str, report: &Report) -> Outcome {
        let exp = expr::parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        evaluate("h2.pcap", text, &exp, report)
    }

    #[test]
    fn streams_per_connection_is_the_busiest_http2_connections_streams() {
        let report = report();
        let o = check("streams_per_connection >= 3", &report);
        assert_eq!((o.passed, o.observed.as_str()), (true, "3"), "{o:?}");
        // A failure names the busiest connection and its requests.
        let o = check("streams_per_connection > 3", &report);
        assert_eq!(
            (o.passed, o.connections.as_slice()),
            (false, &[1][..]),
            "{o:?}"
        );
        assert_eq!(o.packets.len(), 3, "{o:?}");
        // Only the h2c connection: one stream.
        let o = check("streams_per_connection(port=80) >= 2", &report);
        assert_eq!((o.passed, o.observed.as_str()), (false, "1"), "{o:?}");
        // No HTTP/2 at all: none, which fails every comparison.
        let http1 = report.clone_without_http2();
        let o = check("streams_per_connection < 100", &http1);
        assert_eq!((o.passed, o.observed.as_str()), (false, "none"), "{o:?}");
    }

    #[test]
    fn decrypted_counts_the_connections_read_with_keys() {
        let report = report();
        let o = check("decrypted == 1", &report);
        assert!(o.passed, "{o:?}");
        let o = check("decrypted > 1", &report);
        assert_eq!(
            (o.passed, o.connections.as_slice()),
            (false, &[1][..]),
            "{o:?}"
        );
        let o = check("decrypted(port=80) == 0", &report);
        assert!(o.passed, "{o:?}");
        // A decrypted connection's evidence is its requests, not also its inferred bursts.
        let o = check("requests(port=443) > 3", &report);
        assert_eq!((o.passed, o.observed.as_str()), (false, "3"), "{o:?}");
        assert_eq!(o.packets.len(), 3, "{o:?}");
    }

    impl Report {
        fn clone_without_http2(&self) -> Report {
            Report {
                schema: self.schema,
                inputs: Vec::new(),
                connections: self
                    .connections
                    .iter()
                    .filter(|c| c.http2.is_none())
                    .cloned()
                    .collect(),
                servers: Vec::new(),
                findings: Vec::new(),
            }
        }
    }
}
