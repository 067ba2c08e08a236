//! The app: flags in, a validated [`Config`](config::Config) built once, the command
//! run, an exit code out. Every command that reads packets goes through the one
//! driver (`driver`); where finished connections go is one decision (`sink`).
//!
//! ```text
//! cli → config ─┬─ view (analyze, http, servers, timeline) ─┐
//!               ├─ check                                     ├─ analyze → driver → sink
//!               └─ live ──────────────────────────────────────────────── driver → sink
//! ```

pub mod analyze;
pub mod check;
pub mod config;
pub mod diff;
pub mod driver;
pub mod error;
#[cfg(feature = "live")]
pub mod live;
pub mod picture;
pub mod sink;
pub mod view;

use crate::cli::Cli;
use config::{Config, Env, Task};
pub use error::AppError;
use std::io;

/// Exit codes.
pub const EXIT_OK: u8 = 0;
pub const EXIT_CHECK_FAILED: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

/// Runs the command the flags name; an error is for `main` to say.
pub fn run(cli: Cli) -> Result<u8, AppError> {
    let config = Config::new(cli, Env::of_process())?;
    if let Some(threads) = config.threads {
        // Only fails when a pool exists already; the default one then serves.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global();
    }
    if let Some(tracking) = config.task.tracking().filter(|t| !t.quiet) {
        for warning in &tracking.keys.warnings {
            crate::say!("connscope: warning: {warning}");
        }
    }
    match &config.task {
        Task::View(view) => view::run(view),
        Task::Check(check) => check::run(check),
        Task::Picture(picture) => picture::run(picture),
        Task::Diff(diff) => diff::run(diff),
        #[cfg(feature = "live")]
        Task::Live(live) => live::run(live),
        #[cfg(feature = "live")]
        Task::Interfaces => list_interfaces(),
        Task::Completions(args) => Ok(crate::cli_docs::run_completions(args)),
        Task::Man(args) => Ok(crate::cli_docs::run_man(args)),
    }
}

/// The exit code once the output is written: a reader that left (`connscope … | head`)
/// is not an error, any other failure to write is.
fn finish_output(written: io::Result<()>, code: u8) -> Result<u8, AppError> {
    match written {
        Ok(()) => Ok(code),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(code),
        Err(e) => Err(AppError::Output(e)),
    }
}

#[cfg(feature = "live")]
fn list_interfaces() -> Result<u8, AppError> {
    for i in crate::capture::live::interfaces()? {
        let mut flags = Vec::new();
        if i.up {
            flags.push("up");
        }
        if i.loopback {
            flags.push("loopback");
        }
        println!(
            "{:<16} {:<10} {}{}",
            i.name,
            flags.join(","),
            i.addresses.join(" "),
            i.description
                .map(|d| format!("  ({d})"))
                .unwrap_or_default()
        );
    }
    Ok(EXIT_OK)
}
