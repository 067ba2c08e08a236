//! At scale: a capture made by `../shared/benchdata/make-bench-pcap` (thousands of
//! interleaved IPv4/IPv6 connections, keep-alive reuse, probes, FIN/RST closes,
//! retransmissions) must give exactly the generator's ground truth. Skipped with a
//! note when the generator or python3 is not present.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn generate(size_mb: &str, seed: &str) -> Option<(std::path::PathBuf, Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let generator = root.join("../shared/benchdata/make-bench-pcap");
    if !generator.exists() {
        eprintln!(
            "generated_truth: {} not present; skipped",
            generator.display()
        );
        return None;
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("generated");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join(format!("bench-{size_mb}mb-seed{seed}.pcap"));
    let truth_path = dir.join(format!("bench-{size_mb}mb-seed{seed}.pcap.truth.json"));
    if !truth_path.exists() {
        let status = Command::new("python3")
            .arg(&generator)
            .args(["--size-mb", size_mb, "--seed", seed, "--out"])
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .status();
        match status {
            Ok(s) if s.success() => {}
            other => {
                eprintln!("generated_truth: generator did not run ({other:?}); skipped");
                return None;
            }
        }
    }
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(&truth_path).expect("truth")).expect("json");
    Some((out, truth))
}

#[test]
fn totals_equal_the_generators_truth() {
    let Some((pcap, truth)) = generate("20", "7") else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_connscope"))
        .args(["analyze", "--quiet", "--format", "jsonl"])
        .arg(&pcap)
        .output()
        .expect("run connscope");
    assert_eq!(out.status.code(), Some(0));
    let conns: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("jsonl"))
        .filter(|v| v["type"] == "connection")
        .collect();
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let sum = |f: &dyn Fn(&Value) -> u64| conns.iter().map(f).sum::<u64>();
    let mut histogram: BTreeMap<String, u64> = BTreeMap::new();
    for c in &conns {
        *histogram.entry(c["requests"].to_string()).or_default() += 1;
    }
    let ours = [
        ("connections", conns.len() as u64),
        (
            "connections_ipv6",
            conns
                .iter()
                .filter(|c| {
                    c["client"]["ip"]
                        .as_str()
                        .is_some_and(|ip| ip.contains(':'))
                })
                .count() as u64,
        ),
        // The generator counts opening SYNs; repeats of one are retransmissions.
        (
            "syn_packets",
            conns
                .iter()
                .filter(|c| !c["handshake"]["syn_packet"].is_null())
                .count() as u64,
        ),
        (
            "handshakes_completed",
            conns
                .iter()
                .filter(|c| c["handshake"]["outcome"] == "completed")
                .count() as u64,
        ),
        ("http_requests", sum(&|c| n(&c["requests"]))),
        (
            "http_responses_complete",
            sum(&|c| {
                c["http"].as_array().map_or(0, |xs| {
                    xs.iter().filter(|x| x["response_complete"] == true).count() as u64
                })
            }),
        ),
        (
            "connections_reused_2plus_requests",
            conns.iter().filter(|c| c["reused"] == true).count() as u64,
        ),
        (
            "keepalive_probes",
            sum(&|c| {
                c["keepalive"]["probes"]
                    .as_array()
                    .map_or(0, |p| p.len() as u64)
            }),
        ),
        ("keepalive_acks", sum(&|c| n(&c["keepalive"]["acks"]))),
        (
            "closed_fin",
            conns.iter().filter(|c| c["close"]["how"] == "fin").count() as u64,
        ),
        (
            "closed_fin_server_first",
            conns
                .iter()
                .filter(|c| c["close"]["how"] == "fin" && c["close"]["by"] == "server")
                .count() as u64,
        ),
        (
            "closed_rst",
            conns.iter().filter(|c| c["close"]["how"] == "rst").count() as u64,
        ),
        (
            "open_at_end",
            conns.iter().filter(|c| c["close"]["how"] == "open").count() as u64,
        ),
        (
            "retransmitted_packets",
            sum(&|c| n(&c["retransmissions"]["client"]) + n(&c["retransmissions"]["server"])),
        ),
    ];
    let mut wrong = Vec::new();
    for (key, value) in ours {
        if truth[key].as_u64() != Some(value) {
            wrong.push(format!("{key}: connscope {value}, truth {}", truth[key]));
        }
    }
    let truth_histogram: BTreeMap<String, u64> = truth["requests_per_connection_histogram"]
        .as_object()
        .expect("histogram")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
        .collect();
    if histogram != truth_histogram {
        wrong.push(format!(
            "requests per connection: {histogram:?}, truth {truth_histogram:?}"
        ));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(conns
        .iter()
        .all(|c| c["warnings"].as_array().is_some_and(Vec::is_empty)));
}
