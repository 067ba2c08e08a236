//! Live capture end to end (feature `live`, as root): capture on `lo` while a local
//! HTTP server answers a client making three keep-alive requests on one connection.
//! Without root (or without CAP_NET_RAW) the tests say so and return.
#![cfg(feature = "live")]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn can_capture() -> bool {
    let out = Command::new(env!("CARGO_BIN_EXE_connscope"))
        .args([
            "live",
            "-i",
            "lo",
            "--count",
            "0",
            "--format",
            "json",
            "--keep-privileges",
            "-q",
        ])
        .output()
        .expect("run");
    let ok = out.status.success();
    if !ok {
        eprintln!(
            "live: cannot capture here ({}); skipped",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    ok
}

/// A tiny HTTP/1.1 server: keep-alive, a fixed body, on 127.0.0.1.
fn serve() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut stream = stream;
                loop {
                    let mut line = String::new();
                    // Read one request head.
                    let mut head_done = false;
                    while let Ok(n) = reader.read_line(&mut line) {
                        if n == 0 {
                            return;
                        }
                        if line.ends_with("\r\n\r\n") {
                            head_done = true;
                            break;
                        }
                    }
                    if !head_done {
                        return;
                    }
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
                }
            });
        }
    });
    port
}

/// Three requests on one connection, 200 ms apart.
fn client(port: u16) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    for i in 0..3 {
        s.write_all(format!("GET /{i} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
            .expect("send");
        let mut buf = [0u8; 43];
        s.read_exact(&mut buf).expect("response");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn start(args: &[&str]) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_connscope"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn connscope live");
    std::thread::sleep(Duration::from_millis(1500)); // let libpcap open the interface
    child
}

fn strip(mut doc: Value) -> Value {
    for c in doc["connections"].as_array_mut().expect("connections") {
        c["process"] = Value::Null;
        c["input"] = Value::Null;
    }
    doc["connections"].clone()
}

#[test]
fn live_capture_of_three_keepalive_requests() {
    if !can_capture() {
        return;
    }
    let port = serve();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let written = dir.join("live-three.pcap");
    let filter = format!("tcp port {port}");
    let child = start(&[
        "live",
        "-i",
        "lo",
        "--duration",
        "3",
        "--format",
        "json",
        "--keep-privileges",
        "-q",
        "-w",
        written.to_str().expect("utf-8"),
        &filter,
    ]);
    client(port);
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let live: Value = serde_json::from_slice(&out.stdout).expect("json report");
    let conns = live["connections"].as_array().expect("connections");
    assert_eq!(conns.len(), 1, "{live}");
    let c = &conns[0];
    assert_eq!(c["requests"], 3);
    assert_eq!(c["reused"], true);
    assert_eq!(c["server"]["port"], port);
    // The client is this test process: its pid and name.
    assert_eq!(
        c["process"]["pid"].as_u64(),
        Some(u64::from(std::process::id()))
    );
    let exe = std::env::current_exe().expect("exe");
    let name: String = exe
        .file_name()
        .expect("name")
        .to_string_lossy()
        .chars()
        .take(15)
        .collect();
    assert_eq!(c["process"]["name"].as_str(), Some(name.as_str()));
    assert_eq!(live["inputs"][0]["path"], "live:lo");
    // The --write file, analysed again, gives the same connections.
    let again = Command::new(env!("CARGO_BIN_EXE_connscope"))
        .args(["analyze", "-f", "json"])
        .arg(&written)
        .output()
        .expect("analyze");
    let again: Value = serde_json::from_slice(&again.stdout).expect("json");
    assert_eq!(strip(again), strip(live));
}

#[test]
fn sigterm_stops_cleanly_with_a_final_report_and_drops_root() {
    if !can_capture() {
        return;
    }
    let port = serve();
    // A folder the unprivileged user may write to: root is dropped before the file is made.
    let written =
        std::env::temp_dir().join(format!("connscope-live-term-{}.pcap", std::process::id()));
    let _ = std::fs::remove_file(&written);
    let filter = format!("tcp port {port}");
    let child = start(&[
        "live",
        "-i",
        "lo",
        "--format",
        "jsonl",
        "-w",
        written.to_str().expect("utf-8"),
        &filter,
    ]);
    client(port);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl"))
        .collect();
    let conn = lines
        .iter()
        .find(|l| l["type"] == "connection")
        .expect("a connection line");
    assert_eq!(conn["requests"], 3);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("dropped by the kernel (ps_drop)"),
        "{stderr}"
    );
    // Root was dropped before the file was created: it belongs to the unprivileged user.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let uid = std::fs::metadata(&written).expect("written").uid();
        let expected = std::env::var("SUDO_UID")
            .ok()
            .and_then(|u| u.parse().ok())
            .unwrap_or(65534);
        assert_eq!(uid, expected);
    }
    let _ = std::fs::remove_file(&written);
}

#[test]
fn a_bad_interface_and_a_bad_filter_are_one_clear_line() {
    if !can_capture() {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_connscope"))
        .args(["live", "-i", "nosuch0"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("connscope: error: nosuch0: no such interface; the interfaces are: "),
        "{err}"
    );
    assert!(err.contains("lo"));
    let out = Command::new(env!("CARGO_BIN_EXE_connscope"))
        .args(["live", "-i", "lo", "--keep-privileges", "tcp", "port"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .starts_with("connscope: error: invalid BPF filter \"tcp port\": "));
}
