//! HTTPS with key logs, through the whole binary: `--keylog`, `SSLKEYLOGFILE`, keys
//! embedded in a pcapng, and what happens when the keys are wrong, missing or the
//! capture is cut. The expected requests are what tshark decrypts from the same files
//! (`tshark -o tls.keylog_file:K -r P -Y http`; counts in
//! fixtures/decrypted-requests.json).

mod common;

use common::{connscope, json, record_starts, root, stderr};
use serde_json::Value;
use std::process::Command;

/// `(method, target, status, request packet)` of every exchange of a connection.
type Exchange = (String, String, Option<u64>, Option<u64>);

fn exchanges(conn: &Value) -> Vec<Exchange> {
    conn["http"]
        .as_array()
        .expect("http[]")
        .iter()
        .map(|x| {
            (
                x["method"].as_str().unwrap_or("").to_string(),
                x["target"].as_str().unwrap_or("").to_string(),
                x["status"].as_u64(),
                x["request_packet"].as_u64(),
            )
        })
        .collect()
}

fn get(request_packet: u64, status: u64) -> Exchange {
    ("GET".into(), "/".into(), Some(status), Some(request_packet))
}

/// `connscope analyze -f json --keylog fixtures/NAME.keylog fixtures/NAME.pcap`.
fn analyze_with_keys(name: &str) -> Value {
    let out = connscope(&[
        "analyze",
        "-f",
        "json",
        "--keylog",
        &format!("fixtures/{name}.keylog"),
        &format!("fixtures/{name}.pcap"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
    assert_eq!(stderr(&out), "", "{name}: no warning expected");
    json(&out)
}

fn connections(doc: &Value) -> &Vec<Value> {
    doc["connections"].as_array().expect("connections")
}

/// Every connection decrypted, read like cleartext HTTP: no `~`, no inference.
fn assert_decrypted(name: &str, conn: &Value) {
    let tls = &conn["tls"];
    assert_eq!(tls["decrypted"], true, "{name}: {tls}");
    assert_eq!(tls["decryption"]["status"], "decrypted", "{name}");
    assert_eq!(tls["decryption"]["failed_packet"], Value::Null, "{name}");
    assert_eq!(conn["requests_inferred"], false, "{name}");
    assert_eq!(conn["protocol"], "tls", "{name}");
    assert!(conn["warnings"].as_array().expect("warnings").is_empty());
}

#[test]
fn every_http1_fixture_with_its_key_log_gives_the_requests_tshark_decrypts() {
    // $ tshark -o tls.keylog_file:fixtures/N.keylog -r fixtures/N.pcap -Y http
    // gives, per fixture, these requests (frame numbers) and responses.
    let expected: &[(&str, &[&[Exchange]])] = &[
        ("tls12-aes256", &[&[get(10, 200)]]),
        ("tls12-cbc", &[&[get(10, 200)]]),
        ("tls12-cbc-etm", &[&[get(10, 200)]]),
        ("tls12-chacha", &[&[get(10, 200)]]),
        ("tls12-resume", &[&[get(10, 200)], &[get(26, 200)]]),
        (
            "tls12-reuse",
            &[&[get(10, 200), get(14, 200), get(17, 200)]],
        ),
        ("tls13-aes256", &[&[get(9, 200)]]),
        ("tls13-chacha", &[&[get(13, 200)]]),
        ("tls13-reuse", &[&[get(9, 200), get(14, 200), get(17, 200)]]),
    ];
    let truth: Value = serde_json::from_slice(
        &std::fs::read(root().join("fixtures/decrypted-requests.json")).expect("truth"),
    )
    .expect("truth JSON");
    for (name, per_connection) in expected {
        let doc = analyze_with_keys(name);
        let conns = connections(&doc);
        assert_eq!(conns.len(), per_connection.len(), "{name}");
        for (i, (conn, want)) in conns.iter().zip(per_connection.iter()).enumerate() {
            assert_decrypted(name, conn);
            assert_eq!(
                exchanges(conn),
                want.to_vec(),
                "{name} connection {}",
                i + 1
            );
            assert_eq!(conn["requests"], want.len() as u64, "{name}");
            if let Some(count) = truth[format!("{name}.pcap")][(i + 1).to_string()].as_u64() {
                assert_eq!(want.len() as u64, count, "{name}: decrypted-requests.json");
            }
        }
        // The table shows them without the `~` of inferred exchanges.
        let table = connscope(&[
            "analyze",
            "--keylog",
            &format!("fixtures/{name}.keylog"),
            &format!("fixtures/{name}.pcap"),
        ]);
        let text = String::from_utf8_lossy(&table.stdout);
        assert!(!text.contains("exchanges inferred"), "{name}:\n{text}");
    }
}

#[test]
fn the_certificate_and_alpn_come_from_the_handshake() {
    // TLS 1.3: both are encrypted; decrypting the server's flight reads them.
    let doc = analyze_with_keys("tls13-h2");
    let conn = &connections(&doc)[0];
    assert_eq!(conn["tls"]["decrypted"], true);
    assert_eq!(conn["tls"]["alpn"], "h2");
    assert_eq!(
        conn["tls"]["certificate"]["subject"], "CN=connscope.test",
        "{}",
        conn["tls"]
    );
    assert_eq!(
        conn["tls"]["certificate"]["san"],
        serde_json::json!(["connscope.test"])
    );
    // TLS 1.2 sends the certificate in the clear.
    let doc = analyze_with_keys("tls12-aes256");
    let cert = &connections(&doc)[0]["tls"]["certificate"];
    assert_eq!(cert["subject"], "CN=localhost");
    assert_eq!(cert["issuer"], "CN=localhost");
}

#[test]
fn keys_embedded_in_a_pcapng_are_used_without_a_flag() {
    // $ connscope analyze -f json fixtures/tls13-reuse-dsb.pcapng
    let out = connscope(&["analyze", "-f", "json", "fixtures/tls13-reuse-dsb.pcapng"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&out);
    let conn = &connections(&doc)[0];
    assert_decrypted("tls13-reuse-dsb", conn);
    assert_eq!(
        exchanges(conn),
        vec![get(9, 200), get(14, 200), get(17, 200)]
    );
}

#[test]
fn sslkeylogfile_is_read_when_no_flag_is_given() {
    // $ SSLKEYLOGFILE=fixtures/tls13-reuse.keylog connscope analyze -f json fixtures/tls13-reuse.pcap
    let run = |env: &str, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_connscope"))
            .args(args)
            .env("SSLKEYLOGFILE", env)
            .current_dir(root())
            .output()
            .expect("run")
    };
    let out = run(
        "fixtures/tls13-reuse.keylog",
        &["analyze", "-f", "json", "fixtures/tls13-reuse.pcap"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_decrypted("SSLKEYLOGFILE", &connections(&json(&out))[0]);
    // A flag wins over the environment, which is then not read at all.
    let out = run(
        "fixtures/no-such.keylog",
        &[
            "analyze",
            "-f",
            "json",
            "--keylog",
            "fixtures/tls13-reuse.keylog",
            "fixtures/tls13-reuse.pcap",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_decrypted("--keylog over SSLKEYLOGFILE", &connections(&json(&out))[0]);
}

#[test]
fn without_keys_nothing_is_said_about_decryption() {
    let out = connscope(&["analyze", "-f", "json", "fixtures/tls13-reuse.pcap"]);
    let doc = json(&out);
    let conn = &connections(&doc)[0];
    assert_eq!(conn["tls"]["decrypted"], false);
    assert!(conn["tls"].get("decryption").is_none());
    assert!(conn["tls"].get("certificate").is_none());
    assert_eq!(conn["requests_inferred"], true);
}

/// Analyses `pcap` with `keylog`, expecting one connection that fell back to the
/// inferred exchanges with `status`; returns it and standard error.
fn fallback(pcap: &str, keylog: &str, status: &str) -> (Value, String) {
    let out = connscope(&["analyze", "-f", "json", "--keylog", keylog, pcap]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&out);
    let conn = connections(&doc)[0].clone();
    let tls = &conn["tls"];
    assert_eq!(tls["decrypted"], false, "{tls}");
    assert_eq!(tls["decryption"]["status"], status, "{tls}");
    assert_eq!(conn["requests_inferred"], true);
    assert!(conn["http"].as_array().expect("http").is_empty());
    let warnings = conn["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "one warning: {warnings:?}");
    assert_eq!(
        warnings[0]["packet"], tls["decryption"]["failed_packet"],
        "the warning names the first packet"
    );
    (conn, stderr(&out))
}

#[test]
fn a_key_log_for_another_capture_is_one_warning_and_the_inferred_view() {
    let (conn, err) = fallback(
        "fixtures/tls13-reuse.pcap",
        "fixtures/tls12-reuse.keylog",
        "no_key",
    );
    // Packet 6 is the ServerHello, where the key is looked up.
    assert_eq!(conn["tls"]["decryption"]["failed_packet"], 6);
    assert_eq!(conn["requests"], 3, "the inferred exchanges remain");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("connection 1: TLS not decrypted from packet 6: no key"),
        "{err}"
    );
}

#[test]
fn a_wrong_secret_fails_to_authenticate() {
    // The right client randoms, the secrets altered: the first encrypted record does
    // not authenticate.
    let text = std::fs::read_to_string(root().join("fixtures/tls13-reuse.keylog")).expect("keys");
    let altered: String = text
        .lines()
        .map(|line| {
            let mut fields: Vec<String> = line.split(' ').map(str::to_string).collect();
            if let Some(secret) = fields.get_mut(2) {
                let flipped = if secret.starts_with('0') { "1" } else { "0" };
                secret.replace_range(..1, flipped);
            }
            fields.join(" ") + "\n"
        })
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = dir.path().join("wrong.keylog");
    std::fs::write(&keys, altered).expect("write");
    let (conn, _) = fallback(
        "fixtures/tls13-reuse.pcap",
        keys.to_str().expect("utf-8"),
        "authentication_failed",
    );
    let failed = conn["tls"]["decryption"]["failed_packet"]
        .as_u64()
        .expect("packet");
    assert!(
        (6..=8).contains(&failed),
        "the server's first encrypted record: {failed}"
    );
    assert_eq!(conn["requests"], 3);
}

#[test]
fn a_capture_cut_inside_a_record_falls_back() {
    // fixtures/tls12-reuse.pcap up to packet 11 (the first response), whose bytes are
    // cut in half as a snap length would.
    let bytes = std::fs::read(root().join("fixtures/tls12-reuse.pcap")).expect("read");
    let starts = record_starts(&bytes);
    let (at, next) = (starts[10], starts[11]);
    let mut cut = bytes[..next].to_vec();
    let caplen = (next - at - 16) as u32;
    cut[at + 8..at + 12].copy_from_slice(&(caplen / 2).to_le_bytes());
    cut.truncate(at + 16 + caplen as usize / 2);
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("cut.pcap");
    std::fs::write(&pcap, cut).expect("write");
    let (conn, _) = fallback(
        pcap.to_str().expect("utf-8"),
        "fixtures/tls12-reuse.keylog",
        "capture_loss",
    );
    assert_eq!(conn["tls"]["decryption"]["failed_packet"], 11);
    // The client's Finished and its request were read before.
    assert_eq!(conn["tls"]["decryption"]["records"]["client"], 2);
}

#[test]
fn garbage_lines_cost_one_warning_per_file_and_the_rest_is_used() {
    let good = std::fs::read_to_string(root().join("fixtures/tls13-reuse.keylog")).expect("keys");
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = dir.path().join("keys.txt");
    std::fs::write(
        &keys,
        format!("# a comment\nhello world\n{good}CLIENT_RANDOM zz 00\n"),
    )
    .expect("write");
    let path = keys.to_str().expect("utf-8");
    let out = connscope(&[
        "analyze",
        "-f",
        "json",
        "--keylog",
        path,
        "fixtures/tls13-reuse.pcap",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert_eq!(
        err,
        format!(
            "connscope: warning: {path}: 2 lines not understood (first: line 2: unknown label)\n"
        )
    );
    assert_decrypted("garbage", &connections(&json(&out))[0]);
    // Quiet: the warning is not said.
    let out = connscope(&[
        "analyze",
        "-q",
        "--keylog",
        path,
        "fixtures/tls13-reuse.pcap",
    ]);
    assert_eq!(stderr(&out), "");
}

#[test]
fn an_unreadable_key_log_is_a_usage_error() {
    for command in ["analyze", "http", "servers", "timeline"] {
        let out = connscope(&[
            command,
            "--keylog",
            "fixtures/no-such.keylog",
            "fixtures/tls13-reuse.pcap",
        ]);
        assert_eq!(out.status.code(), Some(2), "{command}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(
                "connscope: error: fixtures/no-such.keylog: cannot read the TLS key log"
            ),
            "{err}"
        );
    }
}

#[test]
fn check_and_http_read_the_decrypted_requests() {
    let out = connscope(&[
        "check",
        "--keylog",
        "fixtures/tls12-reuse.keylog",
        "fixtures/tls12-reuse.pcap",
        "-e",
        "requests == 3",
        "-e",
        "requests_per_connection >= 3",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = connscope(&[
        "http",
        "-f",
        "json",
        "--keylog",
        "fixtures/tls12-reuse.keylog",
        "fixtures/tls12-reuse.pcap",
    ]);
    let rows = json(&out);
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 3, "{rows:?}");
}
