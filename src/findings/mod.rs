//! Findings: plain-English diagnoses over the finished connections of one input —
//! was a connection reused, and if not, why not. Each rule has a stable kind
//! ([`FindingKind`], the one list of their names), cites the connections and packet
//! numbers that show it, and stays silent when the evidence is missing. The kinds are
//! documented with examples in docs/findings.md.
//!
//! Rules read a [`Digest`] of each finished connection, made from the report model
//! (`ConnectionRecord`), so what they say can be checked against the table, the JSON and
//! the capture in Wireshark. They are grouped by theme: `reuse`, `close`, `idle`,
//! `handshake`, `http2`; `merge` folds many findings of one kind into one.

mod close;
mod ctx;
pub mod digest;
mod handshake;
mod http2;
mod idle;
mod merge;
mod reuse;

use crate::flow::key::Direction;
use crate::report::figures::Figures;
use crate::report::model::{ConnectionRecord, Finding, FindingKind};
use crate::time::Timestamp;
pub use digest::{Digest, Digests};

/// Tunable thresholds.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// `idle_open_connection`: an open connection quiet for at least this long at the
    /// end of the capture.
    pub idle_open_s: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { idle_open_s: 10.0 }
    }
}

/// Probe spacing below this is not reported as an interval ("every 0.0 ms").
pub const PROBE_RHYTHM_MIN_S: f64 = 0.1;

/// A duration for people: `45.0 s`, `120 s`, `250 ms`, `0.3 ms`; beyond a few hours
/// (captures spliced from days apart) in hours or days.
pub fn secs(s: f64) -> String {
    if s >= 2.0 * 86_400.0 {
        format!("{:.1} days", s / 86_400.0)
    } else if s >= 3.0 * 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s >= 100.0 {
        format!("{s:.0} s")
    } else if s >= 1.0 {
        format!("{s:.1} s")
    } else if s >= 0.01 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{:.1} ms", s * 1000.0)
    }
}

pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub(crate) fn side(dir: Direction) -> &'static str {
    dir.as_str()
}

/// What a rule found; its kind and severity follow from its figures, so a rule cannot
/// make a finding whose figures belong to another kind.
pub(crate) struct Found {
    /// The connections it is about, by id.
    pub connections: Vec<u64>,
    /// Packet numbers that show it.
    pub packets: Vec<u64>,
    pub message: String,
    pub figures: Figures,
}

impl Found {
    /// The finding, for input `input`; `None` for merged figures, which only the merge
    /// makes.
    fn into_finding(self, input: usize) -> Option<Finding> {
        let kind = self.figures.kind()?;
        Some(Finding {
            kind,
            severity: kind.severity(),
            input,
            connections: self.connections,
            packets: self.packets,
            message: self.message,
            figures: self.figures,
        })
    }
}

/// Where a rule hands each finding as it makes it.
pub(crate) type Emit<'a> = dyn FnMut(Found) + 'a;

/// Diagnoses one input's connections (any order); findings come out sorted by their
/// first connection id, then kind.
pub fn diagnose(
    input: usize,
    conns: &[ConnectionRecord],
    capture_end: Option<Timestamp>,
    settings: &Settings,
) -> Vec<Finding> {
    let digests: Digests = conns
        .iter()
        .filter(|c| c.input == input)
        .map(Digest::of)
        .collect();
    let mut out = Vec::new();
    diagnose_digests(input, &digests, capture_end, settings, &mut |f| out.push(f));
    out.sort_by_key(order);
    out
}

/// Where a finding is listed: by its first connection id, then kind. Sorting is stable,
/// so findings of one kind about one connection keep the order they were made in.
pub fn order(f: &Finding) -> (u64, FindingKind) {
    (f.connections.first().copied().unwrap_or(0), f.kind)
}

/// Diagnoses one input's connections from their digests (any order), handing each
/// finding to `each` as it is made, rule by rule: sort them with [`order`].
/// Diagnoses one input's connections from their digests (any order), handing each
/// finding to `each` as it is made, rule by rule: sort them with [`order`].
pub fn diagnose_digests(
    input: usize,
    conns: &Digests,
    capture_end: Option<Timestamp>,
    settings: &Settings,
    each: &mut dyn FnMut(Finding),
) {
    let mut sorted: Vec<&Digest> = conns.connections.iter().collect();
    sorted.sort_by_key(|c| c.id);
    let ctx = ctx::Ctx::new(sorted, &conns.attempts);
    let mut rules = merge::Merger::new(&ctx, input, each);
    // In the order of FindingKind::ALL, which the docs follow.
    rules.rule(&mut |e| reuse::connection_reused(&ctx, e));
    rules.rule(&mut |e| reuse::new_connection_while_idle(&ctx, e));
    rules.rule(&mut |e| reuse::parallel_connections(&ctx, e));
    rules.rule(&mut |e| close::server_idle_close(&ctx, e));
    rules.rule(&mut |e| close::header_prevented_reuse(&ctx, e));
    rules.rule(&mut |e| reuse::no_reuse(&ctx, e));
    rules.rule(&mut |e| idle::idle_reset(&ctx, e));
    rules.rule(&mut |e| idle::keepalive_unanswered(&ctx, e));
    rules.rule(&mut |e| handshake::handshake_failed(&ctx, e));
    rules.rule(&mut |e| idle::idle_open_connection(&ctx.conns, capture_end, settings, e));
    rules.rule(&mut |e| close::server_request_cap(&ctx, e));
    rules.rule(&mut |e| close::stale_connection_reset(&ctx, e));
    rules.rule(&mut |e| reuse::connection_churn(&ctx, e));
    rules.rule(&mut |e| handshake::tls_handshake_failed(&ctx, e));
    rules.rule(&mut |e| http2::goaway_reconnect(&ctx, e));
    rules.rule(&mut |e| http2::parallel_connections(&ctx, e));
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Rules run on conversations built packet by packet (etherparse), tracked and
    //! analysed exactly as a capture would be.
    use super::*;
    pub(crate) use crate::flow::table::tests_support::{capture, Conv};
    use serde_json::Value;

    pub(crate) const GET: &str = "GET / HTTP/1.1\r\nHost: api.example\r\n\r\n";
    pub(crate) const OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

    pub(crate) fn kinds(found: &[Finding]) -> Vec<&'static str> {
        found.iter().map(|f| f.kind.as_str()).collect()
    }

    /// Every finding about these conversations, the capture ending at `end` seconds.
    pub(crate) fn run(convs: &[&Conv], end: f64) -> Vec<Finding> {
        let records = capture(convs);
        diagnose(
            0,
            &records,
            Some(Timestamp::from_nanos((end * 1e9) as i64)),
            &Settings::default(),
        )
    }

    pub(crate) fn find(found: &[Finding], kind: FindingKind) -> &Finding {
        found
            .iter()
            .find(|f| f.kind == kind)
            .unwrap_or_else(|| panic!("no {kind:?} in {:?}", kinds(found)))
    }

    /// One figure as the JSON has it.
    pub(crate) fn figure(f: &Finding, key: &str) -> Value {
        serde_json::to_value(&f.figures)
            .ok()
            .and_then(|v| v.get(key).cloned())
            .unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn durations_of_days_are_not_written_in_seconds() {
        assert_eq!(secs(184_280_859.0), "2132.9 days");
        assert_eq!(secs(4.0 * 3600.0), "4.0 h");
        assert_eq!(secs(120.0), "120 s");
    }

    #[test]
    fn nothing_is_invented_for_a_plain_single_request() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(0.2, OK).fin(true, 0.3);
        assert!(run(&[&a], 1.0).is_empty());
    }

    /// Every kind's finding, as a rule makes it, has its kind's severity.
    #[test]
    fn each_kind_has_one_severity() {
        let mut a = Conv::open(40000, 0.0);
        a.request(0.1, GET).response(0.2, OK).fin(true, 9.0);
        let mut b = Conv::open(40001, 2.0);
        b.request(2.1, GET).response(2.2, OK).fin(true, 3.0);
        let found = run(&[&a, &b], 9.0);
        assert!(!found.is_empty());
        for f in &found {
            assert_eq!(f.severity, f.kind.severity(), "{f:?}");
            assert_eq!(f.figures.kind(), Some(f.kind), "{f:?}");
        }
    }
}
