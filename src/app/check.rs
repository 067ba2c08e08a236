//! `connscope check`: analyse each capture of the (already parsed) plan on its own
//! core, judge its expectations in order, print the verdicts (and JUnit XML), exit 1
//! when any failed.

use super::analyze::{analyze_files, Analysis, Reading};
use super::config::CheckConfig;
use super::error::AppError;
use super::sink::Destination;
use super::{EXIT_CHECK_FAILED, EXIT_ERROR, EXIT_OK};
use crate::check;
use crate::cli::ViewFormat;
use crate::report::json;
use std::io::{self, BufWriter, Write};

pub fn run(config: &CheckConfig) -> Result<u8, AppError> {
    // `--baseline BEFORE`: analysed first, so a bad baseline stops before any capture.
    let baseline = match &config.baseline {
        None => None,
        Some(path) => {
            let reading = Reading::of(&config.tracking);
            let analysis = analyze_files(std::slice::from_ref(path), &reading, Destination::Keep)?;
            if analysis.input_error {
                return Err(AppError::Baseline(path.clone()));
            }
            Some(analysis.report)
        }
    };
    // Each capture on its own core; errors and warnings printed afterwards in order.
    let analysed: Vec<(Vec<String>, Result<Analysis, AppError>)> = {
        use rayon::prelude::*;
        config
            .plan
            .par_iter()
            .map(|(file, _)| {
                let lines = std::sync::Mutex::new(Vec::new());
                let reading = Reading {
                    diagnostics: Some(&lines),
                    ..Reading::of(&config.tracking)
                };
                let analysis =
                    analyze_files(std::slice::from_ref(file), &reading, Destination::Keep);
                (lines.into_inner().unwrap_or_default(), analysis)
            })
            .collect()
    };
    let mut outcomes = Vec::new();
    for ((file, expectations), (lines, analysis)) in config.plan.iter().zip(analysed) {
        for line in lines {
            crate::say!("{line}");
        }
        let analysis = analysis?;
        if analysis.input_error {
            return Ok(EXIT_ERROR);
        }
        for (text, exp) in expectations {
            outcomes.push(match &baseline {
                Some(before) => {
                    crate::diff::baseline::evaluate(file, text, exp, &analysis.report, before)
                }
                None => check::evaluate(file, text, exp, &analysis.report),
            });
        }
    }
    if let Some(path) = &config.junit {
        std::fs::write(path, check::junit::render(&outcomes)).map_err(|cause| AppError::Junit {
            path: path.clone(),
            cause,
        })?;
    }
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let written = match config.format {
        ViewFormat::Json => json::write_value(&mut out, &outcomes),
        ViewFormat::Table => out.write_all(check::render_text(&outcomes).as_bytes()),
    };
    let code = if outcomes.iter().all(|o| o.passed) {
        EXIT_OK
    } else {
        EXIT_CHECK_FAILED
    };
    super::finish_output(written.and_then(|()| out.flush()), code)
}
