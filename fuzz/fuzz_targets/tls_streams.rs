//! The TLS analyzer fed two arbitrary byte streams in an arbitrary interleaving, with
//! gaps and FINs.
#![no_main]

use connscope::analyzers::tls::TlsAnalyzer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut tls = TlsAnalyzer::default();
    connscope_fuzz::replay(data, |dir, chunk, origin| tls.on_chunk(dir, chunk, origin));
    let _ = serde_json::to_string(&tls.finish().info);
});
