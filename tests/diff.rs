//! `connscope diff` and `check --baseline` on the recorded before/after pair
//! (fixtures/record-diff.sh): the same Go program, first leaving each response body
//! open (7 connections), then draining each (1 connection for all 7 requests).
//! Regenerate the golden files with `UPDATE_GOLDEN=1 cargo test --test diff`.

mod common;

use common::{check_golden, connscope, json, stderr, stdout};

const BEFORE: &str = "fixtures/go-diff-before.pcap";
const AFTER: &str = "fixtures/go-diff-after.pcap";

#[test]
fn diff_of_the_pair_in_words_and_a_table() {
    // $ connscope diff fixtures/go-diff-before.pcap fixtures/go-diff-after.pcap
    let out = connscope(&["diff", BEFORE, AFTER]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(
        "connections to 127.0.0.1:8080: 7 → 1; requests per connection 1.0 → 7.0; reused connections 0 → 1; handshakes 7 → 1; `connection_churn` gone; `new_connection_while_idle` gone; `connection_reused` new."
    ), "{text}");
    check_golden("go-diff.diff.txt", &text);
}

#[test]
fn diff_as_json() {
    let out = connscope(&["diff", "-f", "json", BEFORE, AFTER]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["schema"], "connscope.diff/1");
    let server = &doc["servers"][0];
    assert_eq!(server["server"], "127.0.0.1:8080");
    assert_eq!(server["before"]["connections"], 7);
    assert_eq!(server["after"]["connections"], 1);
    assert_eq!(server["after"]["requests_per_connection"], 7.0);
    assert_eq!(doc["disappeared"][1], "new_connection_while_idle");
    check_golden("go-diff.diff.json", &stdout(&out));
}

#[test]
fn json_reports_compare_like_their_captures() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut paths = Vec::new();
    for (name, capture) in [("before.json", BEFORE), ("after.json", AFTER)] {
        let out = connscope(&["analyze", "-f", "json", capture]);
        let path = dir.path().join(name);
        std::fs::write(&path, &out.stdout).expect("write report");
        paths.push(path.to_string_lossy().into_owned());
    }
    let from_json = json(&connscope(&["diff", "-f", "json", &paths[0], &paths[1]]));
    let from_pcap = json(&connscope(&["diff", "-f", "json", BEFORE, AFTER]));
    for key in [
        "summary",
        "servers",
        "total",
        "appeared",
        "disappeared",
        "findings",
    ] {
        assert_eq!(from_json[key], from_pcap[key], "{key}");
    }
    // Mixed: a JSON report before, a capture after.
    let mixed = json(&connscope(&["diff", "-f", "json", &paths[0], AFTER]));
    assert_eq!(mixed["summary"], from_pcap["summary"]);
}

#[test]
fn the_same_capture_twice_is_no_change() {
    let out = connscope(&["diff", AFTER, AFTER]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out)
        .contains("No change: 1 connection to 1 server, 7 requests, the same findings."));
}

#[test]
fn diff_input_errors_exit_2() {
    let out = connscope(&["diff", BEFORE, "fixtures/no-such.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no-such.pcap"), "{}", stderr(&out));
    let dir = tempfile::tempdir().expect("tmp");
    let other = dir.path().join("other.json");
    std::fs::write(&other, "{\"schema\": \"something/else\"}").expect("write");
    let out = connscope(&["diff", other.to_str().expect("utf-8"), AFTER]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a connscope JSON report"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn check_baseline_fails_when_connections_grow() {
    // $ connscope check fixtures/go-diff-before.pcap --baseline fixtures/go-diff-after.pcap \
    //     --expect 'connections <= baseline.connections'
    let out = connscope(&[
        "check",
        BEFORE,
        "--baseline",
        AFTER,
        "--expect",
        "connections(server=127.0.0.1:8080) <= baseline.connections",
        "--expect",
        "requests == baseline.requests",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("FAIL  connections(server=127.0.0.1:8080) <= baseline.connections  observed 7 (baseline 1)"), "{text}");
    assert!(
        text.contains("PASS  requests == baseline.requests"),
        "{text}"
    );
    assert!(text.contains("why: new_connection_while_idle"), "{text}");
    // The fix: after against before passes.
    let out = connscope(&[
        "check",
        AFTER,
        "--baseline",
        BEFORE,
        "--expect",
        "connections <= baseline.connections",
        "--expect",
        "requests_per_connection >= baseline.requests_per_connection",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn baseline_expressions_need_a_baseline() {
    let out = connscope(&[
        "check",
        AFTER,
        "--expect",
        "connections <= baseline.connections",
    ]);
    // A usage error, before any capture is read.
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("give it with --baseline BEFORE"),
        "{}",
        stderr(&out)
    );
    let out = connscope(&[
        "check",
        AFTER,
        "--baseline",
        BEFORE,
        "--expect",
        "connections <= baseline.conections",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown baseline metric"),
        "{}",
        stderr(&out)
    );
}
