//! `analyze --zeek-logs DIR`: the conn.log, http.log and ssl.log written for real
//! captures, checked field by field against the JSON report of the same run, and read
//! by a Zeek log reader from PyPI when one is installed (tests/zeek/check_logs.py).

mod common;

use common::{connscope, json, stderr};
use connscope::report::zeek_logs;
use connscope::time::Timestamp;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

/// One Zeek TSV log: its `#` directives and its rows, by field name.
struct Log {
    directives: HashMap<String, String>,
    fields: Vec<String>,
    rows: Vec<HashMap<String, String>>,
}

fn read_log(path: &Path) -> Log {
    let text = std::fs::read_to_string(path).expect("log readable");
    let mut log = Log {
        directives: HashMap::new(),
        fields: Vec::new(),
        rows: Vec::new(),
    };
    for line in text.lines() {
        if let Some(directive) = line.strip_prefix('#') {
            let (key, value) = directive
                .split_once('\t')
                .or_else(|| directive.split_once(' '))
                .expect("a directive and its value");
            if key == "fields" {
                log.fields = value.split('\t').map(str::to_string).collect();
            }
            log.directives.insert(key.to_string(), value.to_string());
            continue;
        }
        let cells: Vec<&str> = line.split('\t').collect();
        assert_eq!(cells.len(), log.fields.len(), "{path:?}: {line}");
        log.rows.push(
            log.fields
                .iter()
                .cloned()
                .zip(cells.iter().map(|c| c.to_string()))
                .collect(),
        );
    }
    log
}

/// `2026-11-30T00:48:07.527446Z` → nanoseconds since the epoch (Hinnant's
/// days_from_civil), so the test does not trust connscope's own formatting.
fn nanos(rfc3339: &str) -> i64 {
    let num = |s: &str| s.parse::<i64>().expect("digits");
    let (date, time) = rfc3339.trim_end_matches('Z').split_once('T').expect("T");
    let d: Vec<i64> = date.split('-').map(num).collect();
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms.split(':').map(num).collect();
    let (y, m, day) = (d[0] - i64::from(d[1] <= 2), d[1], d[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let frac_nanos = num(&format!("{frac:0<9}")[..9]);
    (days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]) * 1_000_000_000 + frac_nanos
}

/// Zeek's time column: epoch seconds, six decimals.
fn zeek_time(rfc3339: &str) -> String {
    let micros = (nanos(rfc3339) + 500).div_euclid(1000);
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Runs `analyze -f json --zeek-logs DIR files…`: the report and the three logs.
fn run(files: &[&str], dir: &Path) -> (Value, Log, Log, Log) {
    let dir_arg = dir.to_string_lossy().into_owned();
    let mut args = vec!["analyze", "-q", "-f", "json", "--zeek-logs", &dir_arg];
    args.extend_from_slice(files);
    let out = connscope(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    (
        json(&out),
        read_log(&dir.join("conn.log")),
        read_log(&dir.join("http.log")),
        read_log(&dir.join("ssl.log")),
    )
}

/// Every JSON connection has its conn.log row with the same facts, http.log rows for
/// its requests and an ssl.log row when it was TLS, all under the uid documented in
/// `zeek_logs::uid`.
fn check_against_report(report: &Value, conn: &Log, http: &Log, ssl: &Log) {
    let connections = report["connections"].as_array().expect("connections");
    assert_eq!(conn.rows.len(), connections.len());
    let mut http_rows = 0;
    let mut ssl_rows = 0;
    for c in connections {
        let input = report["inputs"][c["input"].as_u64().expect("input") as usize]["path"]
            .as_str()
            .expect("path");
        let start = c["start"].as_str().expect("start");
        let uid = zeek_logs::uid(
            input,
            c["id"].as_u64().expect("id"),
            Timestamp::from_nanos(nanos(start)),
        );
        let row = conn
            .rows
            .iter()
            .find(|r| r["uid"] == uid)
            .unwrap_or_else(|| panic!("no conn.log row for connection {} ({uid})", c["id"]));
        let want = [
            ("ts", zeek_time(start)),
            ("id.orig_h", text(&c["client"]["ip"])),
            ("id.orig_p", text(&c["client"]["port"])),
            ("id.resp_h", text(&c["server"]["ip"])),
            ("id.resp_p", text(&c["server"]["port"])),
            ("proto", "tcp".to_string()),
            (
                "duration",
                format!("{:.6}", c["duration_s"].as_f64().expect("duration")),
            ),
            ("orig_bytes", text(&c["payload_bytes"]["client"])),
            ("resp_bytes", text(&c["payload_bytes"]["server"])),
            ("conn_state", text(&c["conn_state"])),
            ("history", text(&c["history"])),
            ("orig_pkts", text(&c["packets"]["client"])),
            ("resp_pkts", text(&c["packets"]["server"])),
            ("community_id", text(&c["community_id"])),
            ("local_orig", "-".to_string()),
            ("tunnel_parents", "-".to_string()),
        ];
        for (field, value) in want {
            assert_eq!(row[field], value, "connection {} {field}", c["id"]);
        }
        let service = match (c["tls"].is_null(), c["http"].as_array().map(Vec::len)) {
            (false, Some(0)) => "ssl",
            (true, Some(n)) if n > 0 => "http",
            (true, _) => "-",
            (false, _) => "ssl,http",
        };
        assert_eq!(row["service"], service, "connection {} service", c["id"]);

        let requests: Vec<_> = http.rows.iter().filter(|r| r["uid"] == uid).collect();
        let exchanges = c["http"].as_array().expect("http");
        assert_eq!(requests.len(), exchanges.len(), "connection {}", c["id"]);
        http_rows += requests.len();
        for (r, x) in requests.iter().zip(exchanges) {
            let version = text(&x["version"]).replace("HTTP/", "");
            let want = [
                ("trans_depth", text(&x["index"])),
                ("method", text(&x["method"])),
                ("host", text(&x["host"])),
                ("uri", text(&x["target"])),
                ("version", version),
                ("status_code", text(&x["status"])),
                ("status_msg", text(&x["reason"])),
                ("request_body_len", text(&x["request_body_bytes"])),
                ("response_body_len", text(&x["response_body_bytes"])),
                ("id.orig_p", text(&c["client"]["port"])),
                ("tags", "(empty)".to_string()),
                ("user_agent", "-".to_string()),
            ];
            for (field, value) in want {
                assert_eq!(r[field], value, "connection {} request {field}", c["id"]);
            }
            // A response whose request was not captured is logged at its own time.
            let ts = x["request_start"]
                .as_str()
                .or(x["response_start"].as_str())
                .unwrap_or(start);
            assert_eq!(r["ts"], zeek_time(ts));
        }

        let hellos: Vec<_> = ssl.rows.iter().filter(|r| r["uid"] == uid).collect();
        let tls = &c["tls"];
        assert_eq!(hellos.len(), usize::from(!tls.is_null()), "{}", c["id"]);
        ssl_rows += hellos.len();
        if let Some(s) = hellos.first() {
            let version = match tls["version"].as_str() {
                Some("TLS 1.2") => "TLSv12".to_string(),
                Some("TLS 1.3") => "TLSv13".to_string(),
                _ => text(&tls["version"]),
            };
            let bool = |v: &Value| if v.as_bool() == Some(true) { "T" } else { "F" };
            let want = [
                ("version", version),
                ("cipher", text(&tls["cipher"])),
                ("server_name", text(&tls["sni"])),
                ("resumed", bool(&tls["resumed"]).to_string()),
                ("established", bool(&tls["handshake_complete"]).to_string()),
                ("next_protocol", text(&tls["alpn"])),
                ("curve", "-".to_string()),
            ];
            for (field, value) in want {
                assert_eq!(s[field], value, "connection {} ssl {field}", c["id"]);
            }
        }
    }
    assert_eq!(
        http.rows.len(),
        http_rows,
        "no http.log row without its connection"
    );
    assert_eq!(
        ssl.rows.len(),
        ssl_rows,
        "no ssl.log row without its connection"
    );
}

#[test]
fn http_captures_agree_with_the_report() {
    // The bundled fixtures' targets have no `%`: the uri is the target as it is.
    for fixture in [
        "fixtures/go-keepalive-reuse.pcap",
        "fixtures/curl-http10-twice.pcap",
        "fixtures/curl-refused.pcap",
        "fixtures/go-parallel.pcap",
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let (report, conn, http, ssl) = run(&[fixture], dir.path());
        check_against_report(&report, &conn, &http, &ssl);
        assert!(
            !http.rows.is_empty() || fixture.contains("refused"),
            "{fixture}"
        );
    }
}

#[test]
fn tls_captures_agree_with_the_report() {
    for fixture in [
        "fixtures/tls13-reuse.pcap",
        "fixtures/tls12-resume.pcap",
        "fixtures/tls12-bad-cert.pcap",
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let (report, conn, http, ssl) = run(&[fixture], dir.path());
        check_against_report(&report, &conn, &http, &ssl);
        assert!(!ssl.rows.is_empty(), "{fixture}");
    }
}

#[test]
fn headers_are_zeeks_with_capture_times() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (report, conn, http, ssl) = run(&["fixtures/go-keepalive-reuse.pcap"], dir.path());
    let first = report["inputs"][0]["first_time"].as_str().expect("first");
    let last = report["inputs"][0]["last_time"].as_str().expect("last");
    // `%Y-%m-%d-%H-%M-%S` of the first and last packets, never the wall clock.
    let civil = |t: &str| t[..19].replace(['T', ':'], "-");
    for (log, path) in [(&conn, "conn"), (&http, "http"), (&ssl, "ssl")] {
        assert_eq!(log.directives["separator"], "\\x09");
        assert_eq!(log.directives["set_separator"], ",");
        assert_eq!(log.directives["empty_field"], "(empty)");
        assert_eq!(log.directives["unset_field"], "-");
        assert_eq!(log.directives["path"], path);
        assert_eq!(log.directives["open"], civil(first));
        assert_eq!(log.directives["close"], civil(last));
        assert_eq!(
            log.directives["types"].split('\t').count(),
            log.fields.len(),
            "{path}"
        );
    }
    let raw = std::fs::read_to_string(dir.path().join("conn.log")).expect("conn.log");
    assert!(raw.starts_with("#separator \\x09\n#set_separator\t,\n"));
    assert!(raw.ends_with(&format!("#close\t{}\n", civil(last))));
    assert_eq!(
        conn.fields.join(" "),
        "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration \
         orig_bytes resp_bytes conn_state local_orig local_resp missed_bytes history \
         orig_pkts orig_ip_bytes resp_pkts resp_ip_bytes tunnel_parents community_id"
    );
}

#[test]
fn logs_are_deterministic_and_span_several_inputs() {
    let files = [
        "fixtures/tls13-reuse.pcap",
        "fixtures/go-keepalive-reuse.pcap",
    ];
    let a = tempfile::tempdir().expect("temp dir");
    let b = tempfile::tempdir().expect("temp dir");
    let (report, conn, http, ssl) = run(&files, a.path());
    run(&files, b.path());
    for name in ["conn.log", "http.log", "ssl.log"] {
        let one = std::fs::read(a.path().join(name)).expect("log");
        let two = std::fs::read(b.path().join(name)).expect("log");
        assert_eq!(one, two, "{name} differs between two runs");
    }
    check_against_report(&report, &conn, &http, &ssl);
    assert!(!http.rows.is_empty() && !ssl.rows.is_empty());
}

/// Zeek's own trace of odd URIs (`http-non-printable-characters.pcap`, in
/// ../shared/captures/zeek when present): the uri is percent-decoded, then escaped.
#[test]
fn uris_are_logged_decoded_and_escaped_as_zeek_does() {
    let trace =
        common::root().join("../shared/captures/zeek/http/http-non-printable-characters.pcap");
    if !trace.exists() {
        eprintln!("skipped: {} not found", trace.display());
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, _, http, _) = run(&[&trace.to_string_lossy()], dir.path());
    let uris: Vec<&str> = http.rows.iter().map(|r| r["uri"].as_str()).collect();
    assert_eq!(
        uris,
        [
            "/regular_file.html",
            "/printable_\u{1f604}",
            "/non_printable_\\x07",
            "/non_printable_literal_\\\\x07",
        ]
    );
}

/// The logs as a Zeek pipeline reads them: parsezeeklogs (PyPI), when installed.
#[test]
fn a_zeek_log_reader_from_pypi_reads_them() {
    let script = common::root().join("tests/zeek/check_logs.py");
    let available = Command::new("python3")
        .args(["-c", "import parsezeeklogs"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        eprintln!("skipped: python3 with parsezeeklogs not found (pip install parsezeeklogs)");
        return;
    }
    for files in [
        &[
            "fixtures/go-keepalive-reuse.pcap",
            "fixtures/tls12-resume.pcap",
        ][..],
        &["fixtures/tls13-h2.pcap"][..],
        &["fixtures/curl-connection-close.pcap"][..],
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let dir_arg = dir.path().to_string_lossy().into_owned();
        let mut args = vec!["analyze", "-q", "-f", "json", "--zeek-logs", &dir_arg];
        args.extend_from_slice(files);
        let out = connscope(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let report = dir.path().join("report.json");
        std::fs::write(&report, &out.stdout).expect("write report");
        let checked = Command::new("python3")
            .arg(&script)
            .arg(dir.path())
            .arg(&report)
            .output()
            .expect("run python3");
        let said = String::from_utf8_lossy(&checked.stdout);
        assert!(
            checked.status.success(),
            "{files:?}: {said}{}",
            String::from_utf8_lossy(&checked.stderr)
        );
        assert!(said.contains("check_logs: ok"), "{said}");
    }
}

/// Zeek's own test traces (../shared/captures/zeek, when present) against the rows in
/// Zeek's own baselines (zeek/zeek testing/btest/Baseline): the fields connscope fills
/// hold what Zeek wrote.
#[test]
fn rows_match_zeeks_own_baselines() {
    let traces = common::root().join("../shared/captures/zeek");
    if !traces.exists() {
        eprintln!("skipped: {} not found", traces.display());
        return;
    }
    // scripts.base.protocols.http.100-continue/http.log
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = traces.join("http/100-continue.pcap");
    let (_, _, http, _) = run(&[&trace.to_string_lossy()], dir.path());
    let row = http.rows.first().expect("one request");
    for (field, zeek) in [
        ("ts", "1237440095.634312"),
        ("id.orig_h", "192.168.3.103"),
        ("id.orig_p", "54102"),
        ("id.resp_h", "128.146.216.51"),
        ("id.resp_p", "80"),
        ("trans_depth", "1"),
        ("method", "POST"),
        ("host", "www.osu.edu"),
        ("uri", "/"),
        ("request_body_len", "2001"),
        ("response_body_len", "60731"),
        ("status_code", "200"),
        ("status_msg", "OK"),
        ("info_code", "100"),
        ("tags", "(empty)"),
    ] {
        assert_eq!(row[field], zeek, "100-continue http.log {field}");
    }
    // scripts.base.protocols.ssl.tls-1.2/ssl.log
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = traces.join("tls/tls1.2.pcap");
    let (_, _, _, ssl) = run(&[&trace.to_string_lossy()], dir.path());
    let row = ssl.rows.first().expect("one TLS connection");
    for (field, zeek) in [
        ("ts", "1357328848.549370"),
        ("id.orig_p", "56637"),
        ("id.resp_h", "68.233.76.12"),
        ("version", "TLSv12"),
        ("cipher", "TLS_RSA_WITH_RC4_128_MD5"),
        ("last_alert", "-"),
    ] {
        assert_eq!(row[field], zeek, "tls1.2 ssl.log {field}");
    }
}

/// A log that cannot be written (a full disk, here /dev/full) is an error naming it.
#[cfg(unix)]
#[test]
fn a_failed_write_is_an_error_naming_the_log() {
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    std::os::unix::fs::symlink("/dev/full", dir.path().join("conn.log")).expect("symlink");
    let dir_arg = dir.path().to_string_lossy().into_owned();
    let out = connscope(&[
        "analyze",
        "-q",
        "--zeek-logs",
        &dir_arg,
        "fixtures/go-keepalive-reuse.pcap",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let said = stderr(&out);
    assert!(
        said.contains("conn.log") && said.contains("No space left"),
        "{said}"
    );
}
