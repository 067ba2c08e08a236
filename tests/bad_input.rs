//! Every bad input in the table of docs/robustness.md ("What users see"), made here and
//! given to `connscope analyze`: the first line on standard error and the exit code
//! must be exactly the documented ones, and every row must have a test.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use std::process::Command;

/// The documented rows: input name → (first line on standard error, exit code).
fn documented() -> BTreeMap<String, (String, i32)> {
    let doc = std::fs::read_to_string(common::root().join("docs/robustness.md"))
        .expect("docs/robustness.md");
    let table = doc
        .split("## What users see")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("a `## What users see` section");
    table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            assert_eq!(cells.len(), 4, "row: {l}");
            let name = cells[0].trim_matches('`').to_string();
            let line = cells[2].trim_matches('`').replace("\\|", "|");
            let code = cells[3].parse().expect("exit code");
            (name, (line, code))
        })
        .collect()
}

fn fixture() -> Vec<u8> {
    std::fs::read(common::root().join("fixtures/go-keepalive-reuse.pcap")).expect("fixture")
}

/// Makes the input named `name` in `dir`; false when this machine cannot (a
/// permission test run as root without `setpriv`).
fn make(dir: &Path, name: &str) -> bool {
    let path = dir.join(name);
    let pcap = fixture();
    let third = common::record_starts(&pcap)[2];
    let write = |bytes: &[u8]| std::fs::write(&path, bytes).expect("write input");
    match name {
        "missing.pcap" => {}
        "a-directory" => std::fs::create_dir_all(&path).expect("mkdir"),
        "notes.txt" => write(b"hello, this is text and not a capture file at all\n"),
        "empty.pcap" => write(b""),
        "cut-in-header.pcap" => write(&pcap[..12]),
        "cut-in-record.pcap" => write(&pcap[..third + 16 + 10]),
        "over-snaplen.pcap" => {
            let mut b = pcap.clone();
            b[16..20].copy_from_slice(&64u32.to_le_bytes());
            write(&b);
        }
        "absurd-length.pcap" => {
            let mut b = pcap.clone();
            b[third + 8..third + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
            write(&b);
        }
        "linktype-147.pcap" => {
            let mut b = pcap.clone();
            b[20..24].copy_from_slice(&147u32.to_le_bytes());
            write(&b);
        }
        "cut.pcap.gz" => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&pcap).expect("gzip");
            let gz = gz.finish().expect("gzip");
            write(&gz[..gz.len() / 2]);
        }
        "locked.pcap" => {
            use std::os::unix::fs::PermissionsExt;
            write(&pcap);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).expect("chmod");
            return !is_root() || setpriv().is_some();
        }
        other => panic!("docs/robustness.md lists `{other}`, which this test cannot make"),
    }
    true
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn setpriv() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin/setpriv");
    path.exists().then_some(path)
}

#[test]
fn every_bad_input_gets_its_documented_line_and_exit_code() {
    let rows = documented();
    assert!(rows.len() >= 11, "the table lost rows: {rows:?}");
    // Under the system's temporary directory, with a copy of the binary, so that the
    // permission row can run as `nobody`, who may not enter the build directory.
    let dir = std::env::temp_dir().join(format!("connscope-bad-input-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let binary = dir.join("connscope");
    std::fs::copy(env!("CARGO_BIN_EXE_connscope"), &binary).expect("copy the binary");
    {
        use std::os::unix::fs::PermissionsExt;
        for (path, mode) in [(&dir, 0o755), (&binary, 0o755)] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
    }
    for (name, (line, code)) in &rows {
        if !make(&dir, name) {
            eprintln!("skipped {name}: needs a user other than root, and setpriv is missing");
            continue;
        }
        // Root reads any file: the permission row runs as nobody.
        let mut cmd = if name == "locked.pcap" && is_root() {
            let mut c = Command::new(setpriv().expect("setpriv"));
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&binary);
            c
        } else {
            Command::new(&binary)
        };
        let out = cmd
            .args(["analyze", "-f", "json", name])
            .current_dir(&dir)
            .output()
            .expect("run connscope");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.lines().next().unwrap_or(""),
            line,
            "{name}: whole stderr:\n{stderr}"
        );
        assert_eq!(out.status.code(), Some(*code), "{name}: {stderr}");
        if *code == 0 {
            // What was read before the damage is still reported.
            let report: serde_json::Value =
                serde_json::from_slice(&out.stdout).expect("a JSON report");
            assert!(report["inputs"][0]["packets"].as_u64() > Some(0), "{name}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
