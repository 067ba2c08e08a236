//! Running the binary as a user would, for the integration tests.
#![allow(dead_code)] // each test crate uses some of these

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `connscope ARGS…` from the repository root.
pub fn connscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_connscope"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run connscope")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8 stdout")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("utf-8 stderr")
}

pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// Offsets where classic-pcap records start (none for other formats).
pub fn record_starts(bytes: &[u8]) -> Vec<usize> {
    if bytes.len() < 24 || bytes[..4] != [0xd4, 0xc3, 0xb2, 0xa1] {
        return Vec::new();
    }
    let mut starts = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        starts.push(at);
        let len = u32::from_le_bytes([bytes[at + 8], bytes[at + 9], bytes[at + 10], bytes[at + 11]])
            as usize;
        at += 16 + len;
    }
    starts
}

/// Compares `actual` with tests/golden/NAME; `UPDATE_GOLDEN=1` rewrites the file instead.
pub fn check_golden(name: &str, actual: &str) {
    let path = root().join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden file {}; run with UPDATE_GOLDEN=1",
            path.display()
        )
    });
    assert_eq!(actual, expected, "output differs from {}", path.display());
}
