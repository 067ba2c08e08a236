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
    // /tmp: the file is made by root, then given to the user connscope becomes.
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
    // Made by root, then handed over: it belongs to the unprivileged user.
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

/// Bit numbers of the two capabilities connscope keeps after dropping root.
const CAP_DAC_READ_SEARCH: u32 = 2;
const CAP_SYS_PTRACE: u32 = 19;

/// A folder only root may enter (0700): where the bug of issue 18 showed, connscope
/// became nobody before creating its `--write` file there and failed.
fn root_only_dir(name: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    dir
}

/// A server that answers one request per connection and closes it.
fn serve_and_close() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut head = [0u8; 512];
            let _ = stream.read(&mut head);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    port
}

/// A separate client process (python3) making `n` connections of about 5 ms each,
/// one after another, then staying alive a moment: (its pid, its name).
fn short_connections(port: u16, n: u32) -> Option<(u32, String)> {
    let script = r#"
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /%d HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % i)
    while s.recv(4096):
        pass
    time.sleep(0.005)
    s.close()
print("done", flush=True)
time.sleep(1.5)
"#;
    let mut child = Command::new("python3")
        .args(["-c", script, &port.to_string(), &n.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take()?)
        .read_line(&mut line)
        .ok()?;
    let pid = child.id();
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    std::thread::spawn(move || child.wait());
    (line.trim() == "done").then(|| (pid, name.trim().to_string()))
}

/// The pid of the running `connscope live` whose filter names `port`.
fn connscope_pid(port: u16) -> Option<u32> {
    let marker = format!("tcp port {port}");
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (comm.trim() == "connscope" && cmdline.contains(&marker)).then_some(pid)
        })
}

/// `/proc/PID/status` of the capturing connscope says it dropped to `uid`/`gid`
/// with no groups and only the two kept capabilities.
fn assert_dropped(pid: u32, uid: u32, gid: u32) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    assert_eq!(
        field("Uid:"),
        format!("{uid} {uid} {uid} {uid}"),
        "{status}"
    );
    assert_eq!(
        field("Gid:"),
        format!("{gid} {gid} {gid} {gid}"),
        "{status}"
    );
    assert_eq!(field("Groups:"), "", "{status}");
    let kept = format!(
        "{:016x}",
        (1u64 << CAP_SYS_PTRACE) | (1u64 << CAP_DAC_READ_SEARCH)
    );
    for set in ["CapPrm:", "CapEff:", "CapBnd:"] {
        assert_eq!(field(set), kept, "{set} {status}");
    }
    for set in ["CapInh:", "CapAmb:"] {
        assert_eq!(field(set), "0000000000000000", "{set} {status}");
    }
}

/// Runs `connscope live` (through `prefix`, e.g. sudo) on lo with `--write` into a
/// root-only folder while a client process makes short connections; checks the drop,
/// the file and that every connection names the client. `uid`/`gid`: whom connscope
/// should become.
fn capture_as(prefix: &[&str], dir_name: &str, uid: u32, gid: u32) {
    let port = serve_and_close();
    let dir = root_only_dir(dir_name);
    let written = dir.join("live.pcap");
    let filter = format!("tcp port {port}");
    let mut command = Command::new(
        prefix
            .first()
            .copied()
            .unwrap_or(env!("CARGO_BIN_EXE_connscope")),
    );
    if !prefix.is_empty() {
        command
            .args(&prefix[1..])
            .arg(env!("CARGO_BIN_EXE_connscope"));
    }
    let child = command
        .args([
            "live",
            "-i",
            "lo",
            "--duration",
            "5",
            "--format",
            "json",
            "-w",
        ])
        .arg(&written)
        .arg(&filter)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn connscope live");
    std::thread::sleep(Duration::from_millis(1500));
    let pid = connscope_pid(port).expect("connscope is running");
    assert_dropped(pid, uid, gid);
    let (client_pid, client_name) = short_connections(port, 5).expect("python3 client");
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("keeping only CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH"),
        "{stderr}"
    );
    let live: Value = serde_json::from_slice(&out.stdout).expect("json report");
    let conns = live["connections"].as_array().expect("connections");
    assert_eq!(conns.len(), 5, "{live}");
    for c in conns {
        assert_eq!(c["requests"], 1, "{c}");
        assert_eq!(
            c["process"]["pid"].as_u64(),
            Some(u64::from(client_pid)),
            "{c}"
        );
        assert_eq!(
            c["process"]["name"].as_str(),
            Some(client_name.as_str()),
            "{c}"
        );
    }
    // Written in the root-only folder, and given to the unprivileged user.
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&written).expect("the --write file");
    assert_eq!((meta.uid(), meta.gid()), (uid, gid));
    let again = Command::new(env!("CARGO_BIN_EXE_connscope"))
        .args(["analyze", "-f", "json"])
        .arg(&written)
        .output()
        .expect("analyze");
    let again: Value = serde_json::from_slice(&again.stdout).expect("json");
    assert_eq!(strip(again), strip(live));
    let _ = std::fs::remove_dir_all(&dir);
}

fn running_as_root() -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false);
    if !root {
        eprintln!("live: not root, so there is no privilege to drop; skipped");
    }
    root
}

/// Issue 18: as plain root (no sudo), `-w` into a root-owned folder failed with
/// "Permission denied", and every connection's process was empty after the drop.
#[test]
fn live_write_into_a_root_owned_directory_and_process_names_as_plain_root() {
    if !running_as_root() || !can_capture() {
        return;
    }
    let nobody = Command::new("id")
        .args(["-u", "nobody"])
        .output()
        .expect("id");
    let uid: u32 = String::from_utf8_lossy(&nobody.stdout)
        .trim()
        .parse()
        .unwrap_or(65534);
    let nobody = Command::new("id")
        .args(["-g", "nobody"])
        .output()
        .expect("id");
    let gid: u32 = String::from_utf8_lossy(&nobody.stdout)
        .trim()
        .parse()
        .unwrap_or(65534);
    // No SUDO_* from whoever ran the tests: plain root.
    capture_as(
        &["env", "-u", "SUDO_UID", "-u", "SUDO_GID", "-u", "SUDO_USER"],
        "root-only-plain",
        uid,
        gid,
    );
}

/// Issue 18, under sudo: a user runs `sudo connscope live -w …`; connscope becomes
/// that user. Needs a user that may sudo without a password (.ci/run makes
/// `connscope-ci`; `CONNSCOPE_SUDO_USER` names another).
#[test]
fn live_write_into_a_root_owned_directory_and_process_names_under_sudo() {
    if !running_as_root() || !can_capture() {
        return;
    }
    let user = std::env::var("CONNSCOPE_SUDO_USER").unwrap_or_else(|_| "connscope-ci".into());
    let ready = Command::new("sudo")
        .args(["-n", "-u", &user, "sudo", "-n", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        eprintln!(
            "live: no sudo, or user {user} may not run `sudo -n`; skipped (.ci/run sets it up)"
        );
        return;
    }
    let id = |flag: &str| -> u32 {
        let out = Command::new("id").args([flag, &user]).output().expect("id");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("an id")
    };
    capture_as(
        &["sudo", "-n", "-u", &user, "sudo", "-n"],
        "root-only-sudo",
        id("-u"),
        id("-g"),
    );
}
