//! `connscope check` as a CI pipeline runs it: exit codes, the lines it prints, the
//! suite file, JUnit XML read back, and every metric, selector and operator on the
//! recorded fixtures.

mod common;

use common::{connscope, root, stdout};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

fn text(out: &Output) -> String {
    stdout(out)
}

/// Checks one expectation on one fixture; returns (passed, observed).
fn judge(fixture: &str, expectation: &str) -> (bool, String) {
    let out = connscope(&[
        "check",
        "-f",
        "json",
        &format!("fixtures/{fixture}"),
        "--expect",
        expectation,
    ]);
    let results: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{expectation}: {}", String::from_utf8_lossy(&out.stderr)));
    let r = &results[0];
    let passed = r["passed"].as_bool().expect("passed");
    assert_eq!(
        out.status.code(),
        Some(if passed { 0 } else { 1 }),
        "{expectation}"
    );
    (passed, r["observed"].as_str().unwrap_or("").to_string())
}

#[test]
fn reuse_fixture_passes_and_held_body_fails_with_the_reason() {
    // $ connscope check fixtures/go-keepalive-reuse.pcap --expect 'connections == 1'
    let ok = connscope(&[
        "check",
        "fixtures/go-keepalive-reuse.pcap",
        "--expect",
        "connections == 1",
    ]);
    assert_eq!(ok.status.code(), Some(0));
    assert_eq!(
        text(&ok),
        "fixtures/go-keepalive-reuse.pcap\n  PASS  connections == 1  observed 1\n1 passed, 0 failed\n"
    );
    // $ connscope check fixtures/go-held-body.pcap --expect 'connections == 1'
    let bad = connscope(&[
        "check",
        "fixtures/go-held-body.pcap",
        "--expect",
        "connections == 1",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    let lines: Vec<String> = text(&bad).lines().map(str::to_string).collect();
    assert_eq!(
        lines[1],
        "  FAIL  connections == 1  observed 2 — connections 1, 2; packets 1, 10"
    );
    assert!(
        lines[2].starts_with("        why: new_connection_while_idle: At "),
        "{}",
        lines[2]
    );
    assert_eq!(lines.last().map(String::as_str), Some("0 passed, 1 failed"));
}

#[test]
fn every_metric_on_the_fixtures() {
    let cases: &[(&str, &str, &str)] = &[
        ("go-keepalive-reuse.pcap", "connections == 1", "1"),
        ("go-keepalive-reuse.pcap", "requests == 3", "3"),
        (
            "go-keepalive-reuse.pcap",
            "requests_per_connection >= 3",
            "3",
        ),
        ("go-keepalive-reuse.pcap", "reused_connections == 1", "1"),
        ("go-keepalive-reuse.pcap", "keepalive_probes == 6", "6"),
        ("py-keepalive-lost.pcap", "unanswered_probes == 3", "3"),
        ("py-idle-reset.pcap", "resets == 1", "1"),
        ("go-keepalive-reuse.pcap", "retransmissions == 0", "0"),
        ("go-keepalive-reuse.pcap", "max_idle_s > 3.5", "3.503"),
        ("go-keepalive-reuse.pcap", "max_request_gap_s < 4", "3.503"),
        ("curl-refused.pcap", "handshake_failures == 1", "1"),
        ("go-held-body.pcap", "findings == 1", "1"),
        ("go-parallel.pcap", "requests_per_connection == 1", "1"),
        ("curl-refused.pcap", "requests_per_connection >= 1", "none"),
        // Without keys nothing is decrypted, and ALPN h2 alone shows no streams.
        ("tls13-h2.pcap", "decrypted == 0", "0"),
        ("tls13-h2.pcap", "streams_per_connection >= 1", "none"),
    ];
    for (fixture, expectation, observed) in cases {
        let (passed, seen) = judge(fixture, expectation);
        assert_eq!(&seen, observed, "{fixture}: {expectation}");
        assert_eq!(passed, *observed != "none", "{fixture}: {expectation}");
    }
}

#[test]
fn every_selector() {
    let cases: &[(&str, &str, bool)] = &[
        (
            "go-two-servers.pcap",
            "connections(server=127.0.0.1:8082) == 1",
            true,
        ),
        (
            "go-two-servers.pcap",
            "connections(server=:8080) == 1",
            true,
        ),
        (
            "go-two-servers.pcap",
            "connections(server=127.0.0.1:9) == 0",
            true,
        ),
        ("go-two-servers.pcap", "connections(port=8082) == 1", true),
        (
            "tls13-reuse.pcap",
            "requests(host=connscope.test) == 3",
            true,
        ),
        (
            "go-keepalive-reuse.pcap",
            "requests(host=127.0.0.1) == 3",
            true,
        ),
        (
            "go-keepalive-reuse.pcap",
            "connections(client=127.0.0.1) == 1",
            true,
        ),
        (
            "go-keepalive-reuse.pcap",
            "connections(client=10.9.9.9) == 0",
            true,
        ),
        (
            "go-keepalive-reuse.pcap",
            "keepalive_probes(from=client) > 0",
            true,
        ),
        (
            "go-keepalive-reuse.pcap",
            "keepalive_probes(from=server) > 0",
            false,
        ),
        (
            "curl-http10-any.pcap",
            "connections(server=[::1]:8081) == 1",
            true,
        ),
        (
            "go-held-body.pcap",
            "new_connection_while_idle(port=8080)",
            true,
        ),
        (
            "go-held-body.pcap",
            "no new_connection_while_idle(port=9999)",
            true,
        ),
    ];
    for (fixture, expectation, should_pass) in cases {
        assert_eq!(
            judge(fixture, expectation).0,
            *should_pass,
            "{fixture}: {expectation}"
        );
    }
}

#[test]
fn every_operator() {
    for (op, should_pass) in [
        ("==", true),
        ("!=", false),
        ("<", false),
        ("<=", true),
        (">", false),
        (">=", true),
    ] {
        let expectation = format!("connections {op} 1");
        assert_eq!(
            judge("go-keepalive-reuse.pcap", &expectation).0,
            should_pass,
            "{expectation}"
        );
    }
}

#[test]
fn findings_present_and_absent() {
    assert!(judge("go-keepalive-reuse.pcap", "connection_reused").0);
    assert!(!judge("go-held-body.pcap", "connection_reused").0);
    assert!(judge("go-two-servers.pcap", "no new_connection_while_idle").0);
    let (passed, observed) = judge("go-held-body.pcap", "no new_connection_while_idle");
    assert!(!passed);
    assert_eq!(observed, "1 finding");
}

#[test]
fn syntax_errors_point_at_the_column() {
    // $ connscope check fixtures/go-held-body.pcap --expect 'requests(hots=x) > 1'
    let out = connscope(&[
        "check",
        "fixtures/go-held-body.pcap",
        "--expect",
        "requests(hots=x) > 1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "connscope: error: invalid expectation for fixtures/go-held-body.pcap:\n  requests(hots=x) > 1\n           ^ unknown selector \"hots\"; expected server, port, host, client, from\n"
    );
    assert_eq!(
        text(&out),
        "",
        "nothing is checked when an expectation is invalid"
    );
    let out = connscope(&[
        "check",
        "fixtures/go-held-body.pcap",
        "--expect",
        "conections == 1",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("(did you mean connections?)"));
    let out = connscope(&["check", "fixtures/go-held-body.pcap"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "no expectation is a usage error"
    );
}

#[test]
fn input_errors_exit_2() {
    let out = connscope(&[
        "check",
        "fixtures/none.pcap",
        "--expect",
        "connections == 1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fixtures/none.pcap: cannot open"));
}

#[test]
fn the_projects_own_suite_passes_and_junit_reads_back() {
    let junit = Path::new(env!("CARGO_TARGET_TMPDIR")).join("connscope-junit.xml");
    // $ connscope check --suite connscope.toml --junit results.xml
    let out = connscope(&[
        "check",
        "--suite",
        "connscope.toml",
        "--junit",
        junit.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).ends_with("18 passed, 0 failed\n"));
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    let doc = roxmltree::Document::parse(&xml).expect("valid XML");
    let suites = doc.root_element();
    assert_eq!(suites.tag_name().name(), "testsuites");
    assert_eq!(suites.attribute("tests"), Some("18"));
    assert_eq!(suites.attribute("failures"), Some("0"));
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    assert_eq!(cases, 18);
}

#[test]
fn a_failing_suite_and_its_junit_failure() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("suite");
    std::fs::create_dir_all(&dir).expect("dir");
    let fixture = root().join("fixtures/go-held-body.pcap");
    std::fs::copy(&fixture, dir.join("held.pcap")).expect("copy");
    std::fs::write(
        dir.join("connscope.toml"),
        "expect = [\"resets == 0\"]\n\n[[capture]]\nfile = \"held.pcap\"\nexpect = [\"connections == 1\", \"no new_connection_while_idle\"]\n",
    )
    .expect("suite");
    let junit = dir.join("out.xml");
    let out = connscope(&[
        "check",
        "--suite",
        dir.join("connscope.toml").to_str().expect("utf-8"),
        "--junit",
        junit.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).ends_with("1 passed, 2 failed\n"),
        "{}",
        text(&out)
    );
    let xml = std::fs::read_to_string(&junit).expect("junit");
    let doc = roxmltree::Document::parse(&xml).expect("valid XML");
    let failures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert_eq!(failures.len(), 2);
    let message = failures[0].attribute("message").expect("message");
    assert_eq!(message, "observed 2; connections 1, 2; packets 1, 10");
    assert!(failures[1]
        .text()
        .is_some_and(|t| t.contains("why: new_connection_while_idle")));
    let case_names: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert_eq!(
        case_names,
        vec![
            "resets == 0",
            "connections == 1",
            "no new_connection_while_idle"
        ]
    );
    // A suite that is not TOML, or names no capture, is a usage error.
    std::fs::write(dir.join("bad.toml"), "[[capture]\n").expect("bad");
    let out = connscope(&[
        "check",
        "--suite",
        dir.join("bad.toml").to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// The bug: `timeline --host` read only HTTP `Host` headers while `check host=` also
/// reads the TLS SNI, so a TLS connection `check` selected was "no connection matches"
/// in the timeline. Both now ask one question: did a `Host` header (port ignored) or
/// the SNI name this host, ASCII case ignored.
#[test]
fn timeline_host_ignored_the_sni_that_check_host_uses() {
    // $ connscope check fixtures/tls13-reuse.pcap --expect 'connections(host=connscope.test) == 1'
    assert_eq!(
        judge("tls13-reuse.pcap", "connections(host=connscope.test) == 1"),
        (true, "1".to_string())
    );
    for flags in [
        ["--host", "connscope.test"],
        ["--host", "CONNSCOPE.test"],
        ["--server", "connscope.test:8443"],
    ] {
        // $ connscope timeline --host connscope.test fixtures/tls13-reuse.pcap
        let out = connscope(&["timeline", flags[0], flags[1], "fixtures/tls13-reuse.pcap"]);
        assert_eq!(out.status.code(), Some(0), "{flags:?}");
        let shown = text(&out);
        assert!(
            shown.starts_with("Connection 1: 127.0.0.1:54520 → 127.0.0.1:8443"),
            "{flags:?}: {shown}"
        );
        assert!(shown.contains("SNI connscope.test"), "{flags:?}: {shown}");
    }
    // A name neither carries still matches nothing, in both.
    let out = connscope(&[
        "timeline",
        "--host",
        "other.test",
        "fixtures/tls13-reuse.pcap",
    ]);
    assert_eq!(text(&out), "no connection matches\n");
    assert_eq!(
        judge("tls13-reuse.pcap", "connections(host=other.test) == 0"),
        (true, "0".to_string())
    );
}
