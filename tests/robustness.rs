//! Damaged captures, as strangers send them: every fixture (and every capture in
//! ../shared/captures when present) cut at record boundaries and inside records, and
//! mutated with a fixed seed. Nothing may panic or hang; what came before the damage is
//! still reported, with a warning that names the packet.

mod common;

use connscope::app::driver::analyze_input;
use connscope::capture::file::Source;
use connscope::flow::table::ConnectionTable;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn captures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    let mut walk = vec![root.join("fixtures"), root.join("../shared/captures/zeek")];
    while let Some(dir) = walk.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk.push(p);
            } else if p
                .extension()
                .is_some_and(|x| x == "pcap" || x == "pcapng" || x == "gz")
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A small deterministic generator (xorshift64*), so every run mutates alike.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Analyses `bytes` fully (connections, findings); returns the packets read, the
/// warnings, and whether it was readable at all.
fn analyse(name: &str, bytes: Vec<u8>) -> (u64, Vec<String>, bool) {
    let source = Source::Bytes(name.to_string(), Arc::from(bytes));
    let mut records = Vec::new();
    let table = ConnectionTable::new(0, 1, connscope::analyzers::Streams::boxed);
    let (report, run) = analyze_input(&source, table, |r| {
        records.push(r);
        ControlFlow::Continue(())
    });
    let found = connscope::findings::diagnose(0, &records, report.last_time, &Default::default());
    for c in &records {
        let _ = connscope::story::timeline(c);
        serde_json::to_string(c).expect("serialises");
    }
    serde_json::to_string(&found).expect("serialises");
    let warnings = report.warnings.iter().map(|w| w.message.clone()).collect();
    (report.packets, warnings, run.error.is_none())
}

#[test]
fn cut_captures_report_what_came_before() {
    let mut variants = 0;
    for path in captures() {
        let bytes = std::fs::read(&path).expect("read");
        let name = path.display().to_string();
        let (full_packets, _, _) = analyse(&name, bytes.clone());
        let starts = common::record_starts(&bytes);
        // At every record boundary of small files (a sample of larger ones, whose every
        // cut is analysed in full): no warning, exactly the records before the cut.
        let samples = if bytes.len() > 100_000 { 4 } else { 40 };
        let step = (starts.len() / samples).max(1);
        for (i, &at) in starts.iter().enumerate().step_by(step) {
            let (packets, mut warnings, ok) = analyse(&name, bytes[..at].to_vec());
            // Warnings about the packets themselves (clocks going backwards, a datagram
            // whose later fragments the cut left out) are not about the file's damage.
            warnings
                .retain(|w| !w.contains("time goes backwards") && !w.contains("never reassembled"));
            variants += 1;
            assert!(ok, "{name} cut at {at}");
            assert_eq!(packets, i as u64, "{name} cut at record {}", i + 1);
            assert!(
                warnings.is_empty(),
                "{name} cut at a boundary: {warnings:?}"
            );
            // Inside the record: the records before it, and a warning naming this one.
            let inside = at + 9.min(bytes.len() - at - 1);
            if inside > at {
                let (packets, warnings, _) = analyse(&name, bytes[..inside].to_vec());
                variants += 1;
                assert_eq!(packets, i as u64, "{name} cut inside record {}", i + 1);
                assert!(
                    warnings
                        .iter()
                        .any(|w| w.starts_with(&format!("packet {}:", i + 1))),
                    "{name} cut inside record {}: {warnings:?}",
                    i + 1
                );
            }
        }
        assert!(full_packets >= starts.len() as u64);
    }
    assert!(variants > 100, "only {variants} variants");
}

#[test]
fn mutated_captures_never_panic() {
    let mut rng = Rng(0x5eed_c0de);
    let mut variants = 0;
    for path in captures() {
        let bytes = std::fs::read(&path).expect("read");
        let rounds = if bytes.len() > 100_000 { 2 } else { 8 };
        for _ in 0..rounds {
            let mut damaged = bytes.clone();
            match rng.below(3) {
                // Flip bytes anywhere (headers included).
                0 => {
                    for _ in 0..1 + rng.below(30) {
                        let at = rng.below(damaged.len());
                        damaged[at] = rng.next() as u8;
                    }
                }
                // Drop a slice from the middle.
                1 if damaged.len() > 64 => {
                    let at = 24 + rng.below(damaged.len() - 40);
                    let len = 1 + rng.below(64.min(damaged.len() - at));
                    damaged.drain(at..at + len);
                }
                // Duplicate a slice (records out of step).
                _ => {
                    let at = rng.below(damaged.len());
                    let len = rng.below(200.min(damaged.len() - at));
                    let copy = damaged[at..at + len].to_vec();
                    damaged.splice(at..at, copy);
                }
            }
            analyse(&path.display().to_string(), damaged);
            variants += 1;
        }
    }
    assert!(variants > 50, "only {variants} variants");
}
