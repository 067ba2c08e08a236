//! The binary, run as a user would: golden outputs for every recorded fixture, and
//! the promises about bad input, standard input, several files and closed pipes.
//! Regenerate the golden files with `UPDATE_GOLDEN=1 cargo test --test cli`.

mod common;

use common::{check_golden, connscope, json, root, stderr, stdout};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const FIXTURES: &[&str] = &[
    "go-keepalive-reuse.pcap",
    "go-held-body.pcap",
    "curl-refused.pcap",
    "curl-http10-any.pcap",
    "curl-connection-close.pcap",
    "go-two-servers.pcap",
    "go-server-idle-close.pcap",
    "go-parallel.pcap",
    "go-request-cap.pcap",
    "py-idle-reset.pcap",
    "py-stale-reset.pcap",
    "curl-no-reuse.pcap",
    "curl-http10-twice.pcap",
    "py-keepalive-lost.pcap",
    "tls13-reuse.pcap",
    "tls12-reuse.pcap",
    "tls13-h2.pcap",
    "tls12-resume.pcap",
    "tls12-bad-cert.pcap",
    "vxlan-frag.pcap",
    "vxlan6.pcap",
    "curl-one-direction.pcap",
];

/// The four seed scenarios, whose timelines are golden too.
const SCENARIOS: &[&str] = &[
    "go-keepalive-reuse.pcap",
    "go-held-body.pcap",
    "go-two-servers.pcap",
    "go-server-idle-close.pcap",
];

fn finding_kinds(doc: &Value) -> Vec<String> {
    doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["kind"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn golden_table_and_json_for_every_fixture() {
    for fixture in FIXTURES {
        let path = format!("fixtures/{fixture}");
        let table = connscope(&["analyze", &path]);
        assert_eq!(
            table.status.code(),
            Some(0),
            "{fixture}: {}",
            stderr(&table)
        );
        check_golden(&format!("{fixture}.table.txt"), &stdout(&table));
        let doc = connscope(&["analyze", "--format", "json", &path]);
        assert_eq!(doc.status.code(), Some(0));
        check_golden(&format!("{fixture}.json"), &stdout(&doc));
    }
}

#[test]
fn golden_table_and_json_decrypted_with_a_key_log() {
    // $ connscope analyze --keylog fixtures/tls12-reuse.keylog fixtures/tls12-reuse.pcap
    let args = [
        "--keylog",
        "fixtures/tls12-reuse.keylog",
        "fixtures/tls12-reuse.pcap",
    ];
    let table = connscope(&[&["analyze"][..], &args].concat());
    assert_eq!(table.status.code(), Some(0), "{}", stderr(&table));
    check_golden("tls12-reuse.pcap.keylog.table.txt", &stdout(&table));
    let doc = connscope(&[&["analyze", "--format", "json"][..], &args].concat());
    assert_eq!(doc.status.code(), Some(0));
    check_golden("tls12-reuse.pcap.keylog.json", &stdout(&doc));
}

#[test]
fn golden_table_json_and_timeline_of_http2_decrypted_with_a_key_log() {
    // Go clients over TLS 1.3 with h2 (fixtures/record-https.sh): four streams at once
    // then one after an idle second; an idle GOAWAY then a new connection; health-check
    // PINGs in an idle gap.
    for fixture in ["go-h2-concurrent", "go-h2-goaway", "go-h2-ping"] {
        // $ connscope analyze --keylog fixtures/<f>.keylog fixtures/<f>.pcap
        let keylog = format!("fixtures/{fixture}.keylog");
        let pcap = format!("fixtures/{fixture}.pcap");
        let args = ["--keylog", keylog.as_str(), pcap.as_str()];
        for (view, golden) in [
            (&["analyze"][..], "table.txt"),
            (&["analyze", "--format", "json"][..], "json"),
            (&["timeline", "--color", "never"][..], "timeline.txt"),
        ] {
            let out = connscope(&[view, &args[..]].concat());
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            check_golden(&format!("{fixture}.pcap.keylog.{golden}"), &stdout(&out));
        }
    }
}

#[test]
fn golden_timelines_for_the_seed_scenarios() {
    for fixture in SCENARIOS {
        // $ connscope timeline fixtures/<scenario>.pcap
        let out = connscope(&[
            "timeline",
            "--color",
            "never",
            &format!("fixtures/{fixture}"),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        check_golden(&format!("{fixture}.timeline.txt"), &stdout(&out));
    }
}

#[test]
fn seed_scenarios_give_the_right_findings() {
    let doc = |f: &str| {
        json(&connscope(&[
            "analyze",
            "-f",
            "json",
            &format!("fixtures/{f}"),
        ]))
    };
    // 1. One connection reused across sleeps, probes in the gaps.
    let reuse = doc("go-keepalive-reuse.pcap");
    assert_eq!(finding_kinds(&reuse), vec!["connection_reused"]);
    let message = reuse["findings"][0]["message"].as_str().expect("message");
    assert!(
        message.contains("6 TCP keep-alive probes every 1.0 s (all answered)"),
        "{message}"
    );
    // 2. The held body: a new connection while the first sat idle.
    let held = doc("go-held-body.pcap");
    assert_eq!(finding_kinds(&held), vec!["new_connection_while_idle"]);
    assert_eq!(
        held["findings"][0]["connections"],
        serde_json::json!([1, 2])
    );
    assert_eq!(held["findings"][0]["severity"], "warning");
    // 3. The same program against two servers: nothing wrong.
    let two = doc("go-two-servers.pcap");
    assert!(finding_kinds(&two).is_empty(), "{:?}", finding_kinds(&two));
    // 4. The server's idle timeout is shorter than the client's sleep.
    let idle = doc("go-server-idle-close.pcap");
    let kinds = finding_kinds(&idle);
    assert_eq!(
        kinds.iter().filter(|k| *k == "server_idle_close").count(),
        2,
        "{kinds:?}"
    );
    let f = idle["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["kind"] == "server_idle_close")
        .expect("finding");
    assert_eq!(f["connections"], serde_json::json!([1, 2]));
    assert!(f["packets"].as_array().is_some_and(|p| p.len() == 2));
}

#[test]
fn every_finding_kind_on_a_recorded_capture() {
    let expected: &[(&str, &[&str])] = &[
        ("go-keepalive-reuse.pcap", &["connection_reused"]),
        ("go-held-body.pcap", &["new_connection_while_idle"]),
        ("go-parallel.pcap", &["parallel_connections"]),
        (
            "go-server-idle-close.pcap",
            &["server_idle_close", "connection_churn", "server_idle_close"],
        ),
        ("curl-connection-close.pcap", &["connection_close_header"]),
        ("curl-http10-twice.pcap", &["http10_no_keepalive"]),
        ("curl-no-reuse.pcap", &["no_reuse", "connection_churn"]),
        ("py-idle-reset.pcap", &["idle_reset"]),
        ("py-keepalive-lost.pcap", &["keepalive_unanswered"]),
        ("curl-refused.pcap", &["handshake_failed"]),
        (
            "go-request-cap.pcap",
            &[
                "connection_reused",
                "connection_close_header",
                "server_request_cap",
                "connection_reused",
            ],
        ),
        (
            "py-stale-reset.pcap",
            &["connection_reused", "stale_connection_reset"],
        ),
    ];
    for (fixture, kinds) in expected {
        let doc = json(&connscope(&[
            "analyze",
            "-f",
            "json",
            &format!("fixtures/{fixture}"),
        ]));
        assert_eq!(&finding_kinds(&doc), kinds, "{fixture}");
    }
    // idle_open_connection: the keep-alive capture cut while the connection idles.
    let doc = json(&connscope(&[
        "analyze",
        "-f",
        "json",
        "--idle-threshold",
        "2",
        "fixtures/go-keepalive-cut.pcap",
    ]));
    assert_eq!(
        finding_kinds(&doc),
        vec!["connection_reused", "idle_open_connection"]
    );
    let doc = json(&connscope(&[
        "analyze",
        "-f",
        "json",
        "fixtures/go-keepalive-cut.pcap",
    ]));
    assert_eq!(
        finding_kinds(&doc),
        vec!["connection_reused"],
        "3 s of quiet is under the default 10 s"
    );
    let doc = json(&connscope(&[
        "analyze",
        "-f",
        "json",
        "--idle-threshold",
        "0.5",
        "fixtures/go-keepalive-reuse.pcap",
    ]));
    assert_eq!(
        finding_kinds(&doc),
        vec!["connection_reused"],
        "a closed connection is not idle-open"
    );
}

#[test]
fn timeline_selection_and_colour() {
    let out = connscope(&[
        "timeline",
        "--conn",
        "2",
        "fixtures/go-server-idle-close.pcap",
    ]);
    let text = stdout(&out);
    assert!(text.starts_with("Connection 2: "), "{text}");
    assert!(!text.contains("Connection 1:"));
    let out = connscope(&[
        "timeline",
        "--server",
        ":8082",
        "fixtures/go-two-servers.pcap",
    ]);
    assert!(stdout(&out).starts_with("Connection 2: 127.0.0.1:"));
    let out = connscope(&[
        "timeline",
        "--host",
        "nowhere.example",
        "fixtures/go-two-servers.pcap",
    ]);
    assert_eq!(stdout(&out), "no connection matches\n");
    let plain = connscope(&["timeline", "fixtures/go-keepalive-reuse.pcap"]);
    assert!(!stdout(&plain).contains('\u{1b}'), "no colour in a pipe");
    let coloured = connscope(&[
        "timeline",
        "--color",
        "always",
        "fixtures/go-keepalive-reuse.pcap",
    ]);
    assert!(stdout(&coloured).contains("\u{1b}["), "colour when asked");
    let phases: Value = serde_json::from_slice(
        &connscope(&["timeline", "-f", "json", "fixtures/go-keepalive-reuse.pcap"]).stdout,
    )
    .expect("json");
    let kinds: Vec<&str> = phases[0]["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .filter_map(|p| p["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        vec![
            "handshake",
            "exchange",
            "idle",
            "keepalive",
            "exchange",
            "idle",
            "keepalive",
            "exchange",
            "close"
        ]
    );
    let bad = connscope(&[
        "timeline",
        "--server",
        "nope",
        "fixtures/go-keepalive-reuse.pcap",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn golden_http_and_servers_views() {
    // $ connscope http fixtures/go-keepalive-reuse.pcap
    let http = connscope(&["http", "fixtures/go-keepalive-reuse.pcap"]);
    assert_eq!(http.status.code(), Some(0));
    check_golden("go-keepalive-reuse.pcap.http.txt", &stdout(&http));
    // $ connscope servers fixtures/go-held-body.pcap fixtures/curl-connection-close.pcap
    let servers = connscope(&[
        "servers",
        "fixtures/go-held-body.pcap",
        "fixtures/curl-connection-close.pcap",
    ]);
    assert_eq!(servers.status.code(), Some(0));
    check_golden("servers.txt", &stdout(&servers));
    let rows: Value = serde_json::from_slice(
        &connscope(&["http", "-f", "json", "fixtures/go-keepalive-reuse.pcap"]).stdout,
    )
    .expect("json rows");
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), 3);
    assert!(rows
        .iter()
        .all(|r| r["connection"] == 1 && r["method"] == "GET" && r["status"] == 200));
    assert_eq!(rows[1]["index"], 2);
}

#[test]
fn reuse_and_why_not() {
    // One connection carried all three requests, 3.5 s apart.
    let doc = json(&connscope(&[
        "analyze",
        "-f",
        "json",
        "fixtures/go-keepalive-reuse.pcap",
    ]));
    let c = &doc["connections"][0];
    assert_eq!(
        (
            c["protocol"].as_str(),
            c["requests"].as_u64(),
            c["reused"].as_bool()
        ),
        (Some("http"), Some(3), Some(true))
    );
    let gap = c["max_request_gap_s"].as_f64().expect("gap");
    assert!((3.4..3.7).contains(&gap), "{gap}");
    assert_eq!(
        c["http"][1]["idle_before_s"].as_f64().map(|g| g > 3.4),
        Some(true)
    );
    // Held body: two connections, one request each.
    let doc = json(&connscope(&[
        "analyze",
        "-f",
        "json",
        "fixtures/go-held-body.pcap",
    ]));
    assert!(doc["connections"]
        .as_array()
        .expect("conns")
        .iter()
        .all(|c| c["requests"] == 1 && c["reused"] == false));
    assert_eq!(doc["servers"][0]["connections"], 2);
    assert_eq!(doc["servers"][0]["requests"], 2);
    // Connection: close from the client ends each connection after one request.
    let doc = json(&connscope(&[
        "analyze",
        "-f",
        "json",
        "fixtures/curl-connection-close.pcap",
    ]));
    for c in doc["connections"].as_array().expect("conns") {
        assert_eq!(c["http_end"]["reason"], "client_connection_close");
        assert_eq!(c["http_end"]["by"], "client");
    }
    // HTTP/1.0 without keep-alive: the server ends it.
    let doc = json(&connscope(&[
        "analyze",
        "-f",
        "json",
        "fixtures/curl-http10-any.pcap",
    ]));
    for c in doc["connections"].as_array().expect("conns") {
        assert_eq!(c["http_end"]["reason"], "http10_no_keep_alive");
        assert_eq!(c["http"][0]["response_version"], "HTTP/1.0");
    }
}

#[test]
fn keepalive_fixture_tells_the_story() {
    // $ connscope analyze --format json fixtures/go-keepalive-reuse.pcap
    let doc = json(&connscope(&[
        "analyze",
        "--format",
        "json",
        "fixtures/go-keepalive-reuse.pcap",
    ]));
    let conns = doc["connections"].as_array().expect("connections");
    assert_eq!(conns.len(), 1, "one connection, reused");
    let c = &conns[0];
    assert_eq!(c["server"]["port"], 8080);
    assert_eq!(c["handshake"]["outcome"], "completed");
    let probes = c["keepalive"]["probes"].as_array().expect("probes");
    assert!(
        probes.len() >= 4,
        "probes in both 3.5 s gaps, got {}",
        probes.len()
    );
    assert!(probes
        .iter()
        .all(|p| p["from"] == "client" && p["acked"] == true));
    assert_eq!(c["keepalive"]["acks"].as_u64(), Some(probes.len() as u64));
    assert_eq!(c["close"]["how"], "fin");
    assert_eq!(c["close"]["by"], "client");
    assert_eq!(c["conn_state"], "SF");
    assert!(c["idle"]["max_s"].as_f64().expect("idle") > 3.0);
}

#[test]
fn held_body_fixture_has_two_connections_to_one_server() {
    let doc = json(&connscope(&[
        "analyze",
        "-f",
        "json",
        "fixtures/go-held-body.pcap",
    ]));
    let conns = doc["connections"].as_array().expect("connections");
    assert_eq!(conns.len(), 2);
    assert_eq!(conns[0]["server"], conns[1]["server"]);
    assert_ne!(conns[0]["client"]["port"], conns[1]["client"]["port"]);
}

#[test]
fn refused_connection() {
    let doc = json(&connscope(&[
        "analyze",
        "-f",
        "json",
        "fixtures/curl-refused.pcap",
    ]));
    let c = &doc["connections"][0];
    assert_eq!(c["handshake"]["outcome"], "refused");
    assert_eq!(c["close"]["how"], "rst");
    assert_eq!(c["close"]["by"], "server");
    assert_eq!(c["conn_state"], "REJ");
}

#[test]
fn pcapng_and_gzip_read_the_same_as_pcap() {
    let strip = |mut v: Value| {
        v["inputs"][0]["path"] = Value::Null;
        v["inputs"][0]["format"] = Value::Null;
        v
    };
    let pcap = strip(json(&connscope(&[
        "analyze",
        "-f",
        "json",
        "fixtures/curl-http10-any.pcap",
    ])));
    let pcapng = json(&connscope(&[
        "analyze",
        "-f",
        "json",
        "fixtures/curl-http10-any.pcapng",
    ]));
    assert_eq!(pcapng["inputs"][0]["format"], "pcapng");
    assert_eq!(pcapng["inputs"][0]["link_types"][0], "LINUX_SLL2");
    assert_eq!(strip(pcapng), pcap);
    let plain = strip(json(&connscope(&[
        "analyze",
        "-f",
        "json",
        "fixtures/go-keepalive-reuse.pcap",
    ])));
    let gz = json(&connscope(&[
        "analyze",
        "-f",
        "json",
        "fixtures/go-keepalive-reuse.pcap.gz",
    ]));
    assert_eq!(gz["inputs"][0]["format"], "pcap+gzip");
    assert_eq!(strip(gz), plain);
}

#[test]
fn reads_standard_input() {
    // $ connscope analyze -f json - < fixtures/go-held-body.pcap
    let bytes = std::fs::read(root().join("fixtures/go-held-body.pcap")).expect("fixture");
    let mut child = Command::new(env!("CARGO_BIN_EXE_connscope"))
        .args(["analyze", "-f", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&bytes)
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    let doc = json(&out);
    assert_eq!(doc["inputs"][0]["path"], "<stdin>");
    assert_eq!(doc["connections"].as_array().map(Vec::len), Some(2));
}

#[test]
fn several_files_are_reported_in_order_with_increasing_ids() {
    let doc = json(&connscope(&[
        "analyze",
        "-f",
        "json",
        "fixtures/curl-refused.pcap",
        "fixtures/go-held-body.pcap",
    ]));
    let inputs = doc["inputs"].as_array().expect("inputs");
    assert_eq!(inputs[0]["path"], "fixtures/curl-refused.pcap");
    assert_eq!(inputs[1]["path"], "fixtures/go-held-body.pcap");
    let ids: Vec<(u64, u64)> = doc["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .map(|c| {
            (
                c["id"].as_u64().unwrap_or(0),
                c["input"].as_u64().unwrap_or(9),
            )
        })
        .collect();
    assert_eq!(ids, vec![(1, 0), (2, 1), (3, 1)]);
}

#[test]
fn jsonl_streams_one_connection_per_line() {
    let out = connscope(&[
        "analyze",
        "--format",
        "jsonl",
        "fixtures/curl-http10-any.pcap",
        "fixtures/go-held-body.pcap",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let connections: Vec<&Value> = lines.iter().filter(|l| l["type"] == "connection").collect();
    assert_eq!(connections.len(), 4);
    assert!(connections.iter().all(|c| c["community_id"]
        .as_str()
        .is_some_and(|s| s.starts_with("1:"))));
    // The held-body capture's finding follows its connections.
    let findings: Vec<&Value> = lines.iter().filter(|l| l["type"] == "finding").collect();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["kind"], "new_connection_while_idle");
    assert_eq!(
        lines.last().map(|l| &l["type"]),
        Some(&Value::from("finding"))
    );
}

#[test]
fn missing_file_is_one_clear_line_and_the_rest_still_runs() {
    let out = connscope(&[
        "analyze",
        "fixtures/no-such.pcap",
        "fixtures/curl-refused.pcap",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("connscope: error: fixtures/no-such.pcap: cannot open: "),
        "{err}"
    );
    assert!(stdout(&out).contains("fixtures/curl-refused.pcap: pcap EN10MB, 2 packets"));
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write temp");
    path
}

#[test]
fn a_file_that_is_no_capture() {
    let path = temp_file(
        "not-a-capture.txt",
        b"hello, this is text and not a capture file at all\n",
    );
    let out = connscope(&["analyze", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not-a-capture.txt: not a pcap or pcapng capture"),
        "{}",
        stderr(&out)
    );
    let empty = temp_file("empty.pcap", b"");
    let out = connscope(&["analyze", empty.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("empty.pcap: file is empty"));
}

#[test]
fn truncated_capture_reports_what_was_read_and_names_the_packet() {
    let bytes = std::fs::read(root().join("fixtures/go-keepalive-reuse.pcap")).expect("fixture");
    // Cut 10 bytes into the last record's data.
    let cut = bytes.len() - 30;
    let path = temp_file("truncated.pcap", &bytes[..cut]);
    let out = connscope(&["analyze", "-f", "json", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0));
    let doc = json(&out);
    let input = &doc["inputs"][0];
    assert_eq!(input["packets"], 27);
    let warning = input["warnings"][0]["message"].as_str().expect("a warning");
    assert!(
        warning.starts_with("packet 28: the file ends in the middle of its record"),
        "{warning}"
    );
    assert_eq!(input["warnings"][0]["packet"], 28);
    assert!(stderr(&out).contains("truncated.pcap: packet 28:"));
    assert_eq!(doc["connections"].as_array().map(Vec::len), Some(1));
}

#[test]
fn corrupt_record_length_stops_with_a_warning() {
    let mut bytes = std::fs::read(root().join("fixtures/go-held-body.pcap")).expect("fixture");
    // Record 1's header starts at 24; its captured length is at 24 + 8.
    let first_len = u32::from_le_bytes([bytes[32], bytes[33], bytes[34], bytes[35]]) as usize;
    let second = 24 + 16 + first_len;
    bytes[second + 8..second + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    let path = temp_file("corrupt.pcap", &bytes);
    let out = connscope(&["analyze", "-f", "json", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0));
    let doc = json(&out);
    assert_eq!(doc["inputs"][0]["packets"], 1);
    let warning = doc["inputs"][0]["warnings"][0]["message"]
        .as_str()
        .expect("warning");
    assert!(
        warning.starts_with("packet 2: record claims more than"),
        "{warning}"
    );
    assert_eq!(doc["connections"].as_array().map(Vec::len), Some(1));
}

#[test]
fn closed_pipe_exits_quietly() {
    // $ connscope analyze fixtures/go-keepalive-reuse.pcap | (exit immediately)
    let mut child = Command::new(env!("CARGO_BIN_EXE_connscope"))
        .args([
            "analyze",
            "--format",
            "jsonl",
            "fixtures/go-keepalive-reuse.pcap",
            "fixtures/go-held-body.pcap",
        ])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stderr(&out), "");
}

#[test]
fn help_shows_examples_and_bad_flags_name_the_flag() {
    let help = connscope(&["analyze", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(stdout(&help).contains("connscope analyze capture.pcap"));
    let bad = connscope(&["analyze", "--format", "xml", "fixtures/curl-refused.pcap"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--format"), "{}", stderr(&bad));
}

#[test]
fn unknown_link_type_is_counted_and_named() {
    let mut bytes = std::fs::read(root().join("fixtures/curl-refused.pcap")).expect("fixture");
    bytes[20..24].copy_from_slice(&147u32.to_le_bytes()); // LINKTYPE_USER0
    let path = temp_file("user0.pcap", &bytes);
    let out = connscope(&["analyze", "-f", "json", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0));
    let doc = json(&out);
    assert_eq!(doc["inputs"][0]["skipped"]["unsupported_link_type_147"], 2);
    let warning = doc["inputs"][0]["warnings"][0]["message"]
        .as_str()
        .expect("warning");
    assert_eq!(
        warning,
        "link type 147 is not one connscope decodes; its 2 packets were skipped"
    );
    assert!(stderr(&out).contains("user0.pcap: link type 147"));
}

#[test]
fn tls_exchanges_equal_the_requests_tshark_decrypts() {
    // fixtures/decrypted-requests.json: per TLS fixture and connection, the HTTP requests
    // tshark counts after decrypting with the client's logged keys (fixtures/*.keylog).
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/decrypted-requests.json")).expect("truth"),
    )
    .expect("json");
    let truth = truth.as_object().expect("object");
    assert_eq!(truth.len(), 5);
    for (pcap, per_connection) in truth {
        let doc = json(&connscope(&[
            "analyze",
            "-f",
            "json",
            &format!("fixtures/{pcap}"),
        ]));
        for c in doc["connections"].as_array().expect("connections") {
            let id = c["id"].to_string();
            let real = per_connection.get(&id).and_then(Value::as_u64).unwrap_or(0);
            assert_eq!(c["requests"].as_u64(), Some(real), "{pcap} connection {id}");
            assert_eq!(c["requests_inferred"], true);
            assert_eq!(c["protocol"], "tls");
        }
    }
}

#[test]
fn tls_handshake_facts() {
    let doc = |f: &str| {
        json(&connscope(&[
            "analyze",
            "-f",
            "json",
            &format!("fixtures/{f}"),
        ]))
    };
    let t13 = doc("tls13-reuse.pcap");
    let tls = &t13["connections"][0]["tls"];
    assert_eq!(tls["sni"], "connscope.test");
    assert_eq!(tls["version"], "TLS 1.3");
    assert_eq!(tls["cipher"], "TLS_AES_128_GCM_SHA256");
    assert_eq!(tls["handshake_complete"], true);
    assert_eq!(t13["connections"][0]["reused"], true);
    assert_eq!(finding_kinds(&t13), vec!["connection_reused"]);
    let h2 = doc("tls13-h2.pcap");
    assert_eq!(
        h2["connections"][0]["tls"]["alpn_offered"],
        serde_json::json!(["h2", "http/1.1"])
    );
    assert_eq!(h2["connections"][0]["tls"]["exchanges_estimated"], true);
    let resume = doc("tls12-resume.pcap");
    assert_eq!(resume["connections"][0]["tls"]["resumed"], false);
    assert_eq!(resume["connections"][1]["tls"]["resumed"], true);
    assert_eq!(resume["connections"][0]["tls"]["version"], "TLS 1.2");
    let bad = doc("tls12-bad-cert.pcap");
    let alert = &bad["connections"][0]["tls"]["alert"];
    assert_eq!(
        (
            alert["from"].as_str(),
            alert["level"].as_str(),
            alert["description"].as_str()
        ),
        (Some("client"), Some("fatal"), Some("bad_certificate"))
    );
    assert_eq!(finding_kinds(&bad), vec!["tls_handshake_failed"]);
}

#[cfg(not(feature = "live"))]
#[test]
fn without_the_live_feature_live_says_how_to_get_it() {
    for args in [
        &["live", "-i", "lo"][..],
        &["interfaces"][..],
        &[
            "analyze",
            "--filter",
            "port 80",
            "fixtures/curl-refused.pcap",
        ][..],
    ] {
        let out = connscope(args);
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert!(
            err.contains("cargo install --path . --features live"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1);
    }
}

#[test]
fn several_files_in_parallel_match_one_thread_byte_for_byte() {
    let files = [
        "fixtures/go-keepalive-reuse.pcap",
        "fixtures/go-held-body.pcap",
        "fixtures/tls12-resume.pcap",
        "fixtures/curl-connection-close.pcap",
        "fixtures/py-stale-reset.pcap",
    ];
    for format in ["json", "table"] {
        let mut parallel = vec!["--threads", "4", "analyze", "-f", format];
        parallel.extend(files);
        let mut single = vec!["--threads", "1", "analyze", "-f", format];
        single.extend(files);
        let (a, b) = (connscope(&parallel), connscope(&single));
        assert_eq!(a.status.code(), Some(0));
        assert_eq!(stdout(&a), stdout(&b), "{format}");
    }
    // And the streamed (sequential) path agrees with the parallel one on the connections.
    let mut jsonl = vec!["analyze", "-f", "jsonl"];
    jsonl.extend(files);
    let streamed: Vec<Value> = stdout(&connscope(&jsonl))
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        .filter(|v| v["type"] == "connection")
        .map(|mut v| {
            if let Some(o) = v.as_object_mut() {
                o.remove("type");
                o.remove("file");
            }
            v
        })
        .collect();
    let mut doc = vec!["analyze", "-f", "json"];
    doc.extend(files);
    let mut from_doc: Vec<Value> = json(&connscope(&doc))["connections"]
        .as_array()
        .expect("conns")
        .clone();
    let mut streamed_sorted = streamed;
    streamed_sorted.sort_by_key(|v| v["id"].as_u64());
    from_doc.sort_by_key(|v| v["id"].as_u64());
    assert_eq!(streamed_sorted, from_doc);
}
