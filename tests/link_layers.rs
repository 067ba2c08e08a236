//! Link layers and capture-file containers, run through the binary: the Linux cooked
//! v1 loopback fixture (bug 1: every ARPHRD but Ethernet was counted as truncated),
//! zstd and lz4 captures, compressions connscope does not read, and skip reasons
//! warned once per input. Regenerate the golden files with
//! `UPDATE_GOLDEN=1 cargo test --test link_layers`.

mod common;

use common::{check_golden, connscope, json, root, stderr, stdout};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, bytes).expect("write temp");
    path
}

/// The JSON report of one input, without what names the file itself.
fn report_without_path(path: &str) -> (Value, Value) {
    let mut doc = json(&connscope(&["analyze", "-f", "json", path]));
    let format = doc["inputs"][0]["format"].take();
    doc["inputs"][0]["path"] = Value::Null;
    for c in doc["connections"].as_array_mut().expect("connections") {
        c["input"] = Value::Null;
    }
    (doc, format)
}

#[test]
fn sll_loopback_fixture_gives_its_connections_and_requests() {
    let out = connscope(&["analyze", "-f", "json", "fixtures/curl-http10-sll.pcap"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stderr(&out), "");
    let doc = json(&out);
    let input = &doc["inputs"][0];
    assert_eq!(input["link_types"][0], "LINUX_SLL");
    assert_eq!(input["packets"], 24);
    assert_eq!(input["tcp_packets"], 24, "{input}");
    assert_eq!(input["skipped"], serde_json::json!({}));
    let seen: Vec<(String, u64, String, String, u64)> = doc["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .flat_map(|c| {
            let client = c["client"]["ip"].as_str().unwrap_or("?").to_string();
            let port = c["server"]["port"].as_u64().unwrap_or(0);
            let state = c["conn_state"].as_str().unwrap_or("?").to_string();
            c["http"].as_array().expect("http").iter().map(move |h| {
                (
                    client.clone(),
                    port,
                    state.clone(),
                    format!("{} {}", h["method"], h["target"]),
                    h["status"].as_u64().unwrap_or(0),
                )
            })
        })
        .collect();
    let expected = |ip: &str| {
        (
            ip.to_string(),
            8086,
            "SF".to_string(),
            "\"GET\" \"/go.mod\"".to_string(),
            200,
        )
    };
    assert_eq!(seen, vec![expected("127.0.0.1"), expected("::1")]);
    let table = connscope(&["analyze", "fixtures/curl-http10-sll.pcap"]);
    check_golden("curl-http10-sll.pcap.table.txt", &stdout(&table));
    let http = connscope(&["http", "fixtures/curl-http10-sll.pcap"]);
    check_golden("curl-http10-sll.pcap.http.txt", &stdout(&http));
}

#[test]
fn zstd_and_lz4_captures_give_the_same_report_as_the_plain_file() {
    let plain_path = "fixtures/go-keepalive-reuse.pcap";
    let bytes = std::fs::read(root().join(plain_path)).expect("fixture");
    let zst =
        ruzstd::encoding::compress_to_vec(&bytes[..], ruzstd::encoding::CompressionLevel::Fastest);
    let mut lz4 = lz4_flex::frame::FrameEncoder::new(Vec::new());
    lz4.write_all(&bytes).expect("lz4");
    let lz4 = lz4.finish().expect("lz4");
    let (plain, format) = report_without_path(plain_path);
    assert_eq!(format, "pcap");
    assert_eq!(plain["connections"].as_array().map(Vec::len), Some(1));
    for (name, compressed, expected_format) in [
        ("keepalive.pcap.zst", zst, "pcap+zstd"),
        // Named without a hint: the magic bytes decide.
        ("keepalive-lz4.cap", lz4, "pcap+lz4"),
    ] {
        let path = temp_file(name, &compressed);
        let (report, format) = report_without_path(path.to_str().expect("utf-8"));
        assert_eq!(format, expected_format);
        assert!(
            report == plain,
            "{name}: report differs from the plain file's"
        );
    }
}

#[test]
fn the_wild_zst_capture_reads_like_its_pcapng() {
    let wild = std::env::var_os("CONNSCOPE_CAPTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/captures"))
        .join("wild");
    let zst = wild.join("pcapplusplus-pcapng-example.pcapng.zst");
    if !zst.exists() {
        eprintln!("link_layers: {} not present; skipped", zst.display());
        return;
    }
    let (from_zst, format) = report_without_path(zst.to_str().expect("utf-8"));
    assert_eq!(format, "pcapng+zstd");
    let plain = wild.join("pcapplusplus-pcapng-example.pcapng");
    let (from_plain, _) = report_without_path(plain.to_str().expect("utf-8"));
    assert!(from_zst["connections"]
        .as_array()
        .is_some_and(|c| !c.is_empty()));
    assert!(
        from_zst == from_plain,
        "the .zst report differs from the .pcapng's"
    );
}

#[test]
fn an_xz_capture_is_one_clear_line_and_exit_2() {
    let path = temp_file("capture.pcap.xz", b"\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4\x46");
    let out = connscope(&["analyze", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("capture.pcap.xz: xz-compressed; connscope reads gzip, zstd and lz4 captures (decompress it first: xz -d)"),
        "{err}"
    );
}

/// A classic pcap of Linux cooked v1 frames, one per `frames` entry.
fn sll_pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 113] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out[4..8].copy_from_slice(&[2, 0, 4, 0]);
    for (i, frame) in frames.iter().enumerate() {
        for v in [
            1_700_000_000 + i as u32,
            0,
            frame.len() as u32,
            frame.len() as u32,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(frame);
    }
    out
}

fn sll_frame(arphrd: u16, protocol: u16, body: &[u8]) -> Vec<u8> {
    let mut frame = vec![0, 0];
    frame.extend_from_slice(&arphrd.to_be_bytes());
    frame.extend_from_slice(&[0; 10]);
    frame.extend_from_slice(&protocol.to_be_bytes());
    frame.extend_from_slice(body);
    frame
}

#[test]
fn skip_reasons_that_are_not_truncation_are_named_once_per_input() {
    let mut tcp = Vec::new();
    etherparse::PacketBuilder::ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
        .tcp(40000, 80, 1, 1000)
        .syn()
        .write(&mut tcp, b"")
        .expect("build");
    let mut frames = vec![sll_frame(772, 0x0800, &tcp)];
    frames.extend((0..3).map(|_| sll_frame(824, 0x0000, &[0u8; 20])));
    frames.extend((0..2).map(|_| sll_frame(772, 0x88e5, &[0u8; 20])));
    frames.push(sll_frame(772, 0x0806, &[0u8; 28]));
    let path = temp_file("netlink.pcap", &sll_pcap(&frames));
    let out = connscope(&["analyze", "-f", "json", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0));
    let doc = json(&out);
    let input = &doc["inputs"][0];
    assert_eq!(input["tcp_packets"], 1);
    assert_eq!(
        input["skipped"],
        serde_json::json!({
            "unsupported_arphrd_824": 3,
            "unsupported_ethertype_0x88e5": 2,
            "not_ip": 1,
        })
    );
    let warnings: Vec<&str> = input["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(|w| w["message"].as_str())
        .collect();
    assert_eq!(
        warnings,
        vec![
            "3 packets skipped: Linux cooked capture with ARPHRD 824 is not decoded",
            "2 packets skipped: ethertype 0x88e5 is not decoded",
        ]
    );
    let err = stderr(&out);
    assert_eq!(err.matches("ARPHRD 824").count(), 1, "{err}");
    assert!(err.contains("netlink.pcap: 3 packets skipped: Linux cooked capture with ARPHRD 824"));
}
