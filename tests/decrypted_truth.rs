//! Every HTTPS and HTTP/2 fixture read as tshark 4.0 reads it with the same keys:
//! fixtures/decrypted-exchanges.json (written by fixtures/decrypt-truth.py from
//! `tshark -o tls.keylog_file:NAME.keylog`) lists each connection's exchanges — stream,
//! method, path, authority, status — and its HTTP/2 PINGs, GOAWAYs and RST_STREAMs.
//! connscope, given the capture's key log (`--keylog`; a `*-dsb.pcapng` carries its
//! keys inside; h2c needs none), must list the same exchanges in the same order on the
//! same connections, and say it decrypted them.

mod common;

use common::{connscope, json, stderr};
use serde_json::Value;
use std::path::Path;

fn truth() -> serde_json::Map<String, Value> {
    let path = common::root().join("fixtures/decrypted-exchanges.json");
    let text = std::fs::read_to_string(path).expect("read decrypted-exchanges.json");
    match serde_json::from_str(&text).expect("parse decrypted-exchanges.json") {
        Value::Object(map) => map,
        other => panic!("decrypted-exchanges.json is not an object: {other}"),
    }
}

/// `analyze -f json` of one fixture, with its key log when it has one.
fn analyse(capture: &str) -> Value {
    let path = format!("fixtures/{capture}");
    let keylog = format!(
        "fixtures/{}.keylog",
        capture
            .trim_end_matches(".pcapng")
            .trim_end_matches(".pcap")
    );
    let mut args = vec!["analyze", "-q", "-f", "json"];
    if common::root().join(&keylog).exists() {
        args.extend(["--keylog", keylog.as_str()]);
    }
    args.push(path.as_str());
    let out = connscope(&args);
    assert!(out.status.success(), "{capture}: {}", stderr(&out));
    json(&out)
}

/// One exchange as the truth file writes it.
fn exchange_of(x: &Value) -> Value {
    serde_json::json!({
        "stream": x["stream_id"],
        "method": x["method"],
        "path": x["target"],
        "authority": x["host"],
        "status": x["status"],
    })
}

/// RFC 9113 §7's name of an error code, as connscope writes it.
fn error_name(code: u64) -> String {
    const NAMES: [&str; 14] = [
        "NO_ERROR",
        "PROTOCOL_ERROR",
        "INTERNAL_ERROR",
        "FLOW_CONTROL_ERROR",
        "SETTINGS_TIMEOUT",
        "STREAM_CLOSED",
        "FRAME_SIZE_ERROR",
        "REFUSED_STREAM",
        "CANCEL",
        "COMPRESSION_ERROR",
        "CONNECT_ERROR",
        "ENHANCE_YOUR_CALM",
        "INADEQUATE_SECURITY",
        "HTTP_1_1_REQUIRED",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|c| NAMES.get(c))
        .map_or_else(|| format!("0x{code:x}"), |n| n.to_string())
}

#[test]
fn every_decrypted_fixture_lists_the_exchanges_tshark_decrypts() {
    let truth = truth();
    assert!(truth.len() >= 20, "truth covers {} captures", truth.len());
    let mut failures = Vec::new();
    for (capture, connections) in &truth {
        if !Path::new(&common::root().join("fixtures").join(capture)).exists() {
            failures.push(format!("{capture}: in the truth file but not in fixtures/"));
            continue;
        }
        let report = analyse(capture);
        let conns = report["connections"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let Value::Object(connections) = connections else {
            panic!("{capture}: truth is not an object");
        };
        for (id, expected) in connections {
            let Some(conn) = conns
                .iter()
                .find(|c| c["id"].as_u64().map(|n| n.to_string()).as_deref() == Some(id.as_str()))
            else {
                failures.push(format!("{capture}: no connection {id}"));
                continue;
            };
            let ours: Vec<Value> = conn["http"]
                .as_array()
                .map(|xs| xs.iter().map(exchange_of).collect())
                .unwrap_or_default();
            if Value::Array(ours.clone()) != expected["exchanges"] {
                failures.push(format!(
                    "{capture} connection {id}: exchanges\n  connscope {}\n  tshark    {}",
                    Value::Array(ours),
                    expected["exchanges"]
                ));
            }
            if conn["protocol"] == "tls" && conn["tls"]["decrypted"] != true {
                failures.push(format!(
                    "{capture} connection {id}: not decrypted ({})",
                    conn["tls"]["decryption"]
                ));
            }
            if conn["protocol"] == "tls" && conn["requests_inferred"] != false {
                failures.push(format!(
                    "{capture} connection {id}: requests still inferred"
                ));
            }
            let Some(h2) = expected.get("http2") else {
                continue;
            };
            let ours = &conn["http2"];
            let pings = h2["ping"].as_u64().unwrap_or(0) - h2["ping_ack"].as_u64().unwrap_or(0);
            let our_pings = ours["pings"].as_array().map_or(0, Vec::len) as u64;
            let answered = ours["pings"].as_array().map_or(0, |p| {
                p.iter().filter(|p| !p["ack_packet"].is_null()).count()
            }) as u64;
            if (our_pings, answered) != (pings, h2["ping_ack"].as_u64().unwrap_or(0)) {
                failures.push(format!(
                    "{capture} connection {id}: PINGs {our_pings} ({answered} answered), tshark {pings} ({} ACKs)",
                    h2["ping_ack"]
                ));
            }
            let goaways: Vec<Value> = h2["goaway"]
                .as_array()
                .map(|g| {
                    g.iter()
                        .map(|g| {
                            serde_json::json!({
                                "from": g["from"],
                                "last_stream_id": g["last_stream_id"],
                                "error": error_name(g["error"].as_u64().unwrap_or(u64::MAX)),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            let our_goaways: Vec<Value> = ours["goaways"]
                .as_array()
                .map(|g| {
                    g.iter()
                        .map(|g| {
                            serde_json::json!({
                                "from": g["from"],
                                "last_stream_id": g["last_stream_id"],
                                "error": g["error"],
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            if goaways != our_goaways {
                failures.push(format!(
                    "{capture} connection {id}: GOAWAYs {our_goaways:?}, tshark {goaways:?}"
                ));
            }
            let resets = ours["resets"].as_array().map_or(0, Vec::len) as u64;
            if resets != h2["rst_stream"].as_u64().unwrap_or(0) {
                failures.push(format!(
                    "{capture} connection {id}: {resets} RST_STREAMs, tshark {}",
                    h2["rst_stream"]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
