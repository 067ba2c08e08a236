//! The HTTP analyzer fed two arbitrary byte streams in an arbitrary interleaving, with
//! gaps and FINs.
#![no_main]

use connscope::analyzers::http::HttpAnalyzer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut http = HttpAnalyzer::default();
    connscope_fuzz::replay(data, |dir, chunk, origin| http.on_chunk(dir, chunk, origin));
    let _ = serde_json::to_string(&http.finish().exchanges);
});
