//! Why a command could not do its work: one typed error for the whole app, each variant
//! worded the way the user reads it after `connscope: error: `. Rendered once, by
//! `main`. Not for trouble inside a capture (damage is data: counted and reported) nor
//! for an unreadable input among several (reported, and the others go on).

use crate::report::zeek_logs::ZeekLogError;
use std::io;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AppError {
    /// A flag's value makes no sense (`--columns nope`, `--server x`).
    #[error("{0}")]
    Flag(String),
    /// `check` was given neither captures with expectations nor a suite.
    #[error("check needs capture files and at least one --expect, or --suite FILE")]
    CheckWithoutPlan,
    /// A `check --suite` file could not be read or understood.
    #[error("{0}")]
    Suite(String),
    /// An expectation does not parse: the rendered error points at the mistake.
    #[error("invalid expectation for {file}:\n{rendered}")]
    Expectation { file: String, rendered: String },
    /// `timeline --conn` named connections the capture does not have.
    #[error("{0}")]
    NoSuchConnection(String),
    #[cfg(feature = "live")]
    #[error(transparent)]
    Live(#[from] crate::capture::live::LiveError),
    #[cfg(feature = "live")]
    #[error(transparent)]
    Privileges(#[from] crate::privilege::PrivilegeError),
    #[cfg(not(feature = "live"))]
    #[error("{NO_LIVE}")]
    NoLive,
    #[cfg(not(feature = "live"))]
    #[error("--filter needs libpcap's BPF compiler: {NO_LIVE}")]
    FilterNeedsLive,
    #[error(transparent)]
    ZeekLogs(#[from] ZeekLogError),
    #[error("cannot create a temporary file for the {what}: {cause}")]
    SpillCreate {
        what: &'static str,
        cause: io::Error,
    },
    #[error("cannot write the findings to a temporary file: {0}")]
    SpillFindings(io::Error),
    #[error("the writing thread failed")]
    WriterThread,
    #[error("{path}: cannot write JUnit XML: {cause}")]
    Junit { path: String, cause: io::Error },
    #[error("writing output: {0}")]
    Output(io::Error),
    /// An input that is neither a capture nor a report connscope can read (`diff`).
    #[error("{0}")]
    Input(String),
    /// A `--keylog` (or `SSLKEYLOGFILE`) file that cannot be read.
    #[error("{path}: cannot read the TLS key log: {cause}")]
    KeyLog { path: String, cause: io::Error },
    #[error("{path}: cannot write: {cause}")]
    WriteFile { path: String, cause: io::Error },
    /// `check --baseline BEFORE`: the baseline capture could not be analysed.
    #[error("baseline {0}: could not be analysed")]
    Baseline(String),
    /// An expectation compares with `baseline.METRIC` but no `--baseline` was given.
    #[error("{expectation:?} compares with the baseline: give it with --baseline BEFORE")]
    BaselineMissing { expectation: String },
}

/// What a build without the `live` feature says when asked to capture.
#[cfg(not(feature = "live"))]
pub const NO_LIVE: &str = "this connscope was built without live capture. Install libpcap's headers and build \
with the `live` feature: `sudo apt-get install libpcap-dev && cargo install --path . --features live` \
(or `cargo build --release --features live`)";
