//! The key log parser on arbitrary text, and the pcapng Decryption Secrets Block body
//! parser on arbitrary bytes in both byte orders: no panic, bounded memory.
#![no_main]

use connscope::decrypt::KeyLog;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut log = KeyLog::new();
    let summary = log.add_text(data);
    // Every connection in the log came from at least one accepted line.
    assert!(log.len() as u64 <= summary.secrets);
    let _ = log.add_dsb_body(data, false);
    let _ = log.add_dsb_body(data, true);
});
