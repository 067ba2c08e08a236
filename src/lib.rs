//! connscope: how many TCP connections a capture holds, which requests rode on which,
//! when each idled, who probed it and who closed it.
//!
//! One streaming pass, data flowing one way:
//! `capture` (files) → `decode` (link → IP → TCP) → `flow` (per-connection tracking)
//! → `report` (one model; table, JSON and JSONL renderers read it).
#![forbid(unsafe_code)]

/// Writes a line to standard error, ignoring failure: `eprintln!` panics when standard
/// error is a closed pipe (`connscope … 2>&1 | head`), and a message that cannot be
/// shown is no reason to stop.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod analyzers;
pub mod app;
pub mod capture;
pub mod check;
pub mod cli;
pub mod cli_docs;
pub mod decode;
pub mod decrypt;
pub mod diff;
pub mod findings;
pub mod flow;
pub mod host;
#[cfg(feature = "live")]
pub mod privilege;
#[cfg(all(feature = "live", target_os = "linux"))]
pub mod process;
pub mod report;
pub mod story;
pub mod time;
