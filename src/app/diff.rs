//! `connscope diff BEFORE AFTER`: read both sides (a capture is analysed, a JSON report
//! read as it is), compare them (`crate::diff`), print the change in words and a table,
//! or as JSON.

use super::analyze::{analyze_files, Reading};
use super::config::Tracking;
use super::error::AppError;
use super::sink::Destination;
use super::EXIT_OK;
use crate::cli::ViewFormat;
use crate::diff::{compare, render, Side};
use crate::report::json;
use std::io::{self, Read, Write};

/// The two sides and how to show their difference.
#[derive(Debug)]
pub struct DiffConfig {
    pub before: String,
    pub after: String,
    pub format: ViewFormat,
    pub tracking: Tracking,
    pub stdout_terminal: bool,
}

/// Reads one side: a JSON report when the file starts with `{`, else a capture.
fn load(path: &str, tracking: &Tracking) -> Result<Side, AppError> {
    let unreadable = |e: String| AppError::Input(format!("{path}: {e}"));
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| unreadable(e.to_string()))?;
    if head[..n].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        let text = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
        let doc: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| unreadable(format!("not valid JSON: {e}")))?;
        return Side::from_json(path, &doc).map_err(AppError::Input);
    }
    let analysis = analyze_files(
        &[path.to_string()],
        &Reading::of(tracking),
        Destination::Keep,
    )?;
    if analysis.input_error {
        return Err(unreadable("could not be analysed".into()));
    }
    Ok(Side::from_report(path, &analysis.report))
}

pub fn run(config: &DiffConfig) -> Result<u8, AppError> {
    let before = load(&config.before, &config.tracking)?;
    let after = load(&config.after, &config.tracking)?;
    let diff = compare(&before, &after);
    let mut out = io::BufWriter::new(io::stdout().lock());
    let written = match config.format {
        ViewFormat::Json => json::write_value(&mut out, &diff),
        ViewFormat::Table => out.write_all(render::text(&diff, config.stdout_terminal).as_bytes()),
    };
    super::finish_output(written.and_then(|()| out.flush()), EXIT_OK)
}
