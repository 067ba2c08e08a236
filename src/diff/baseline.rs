//! `connscope check CAPTURE… --baseline BEFORE --expect 'connections <= baseline.connections'`:
//! expectations whose right side is a figure of another capture, so CI can fail a
//! change that brings connection churn back. The baseline metric is measured with the
//! same selector as the left side. Other expectations are judged as `check` does.

use crate::app::{analyze_files, Output, Tracking, EXIT_CHECK_FAILED, EXIT_ERROR, EXIT_OK};
use crate::check::expr::{self, Expectation};
use crate::check::{self, Outcome};
use crate::cli::{CheckArgs, ViewFormat};
use crate::report::model::{ConnectionRecord, Report};
use std::io::{self, BufWriter, Write};

/// Judges one expectation on `report`, a `baseline.` one against `baseline`.
pub fn evaluate(
    capture: &str,
    text: &str,
    exp: &Expectation,
    report: &Report,
    baseline: &Report,
) -> Outcome {
    let Expectation::Compare {
        metric,
        selector,
        op,
        baseline: Some(against),
        ..
    } = exp
    else {
        return check::evaluate(capture, text, exp, report);
    };
    let conns: Vec<&ConnectionRecord> = baseline
        .connections
        .iter()
        .filter(|c| check::selects(selector, c))
        .collect();
    let (value, _) = check::measure(*against, selector, &conns, baseline);
    let Some(value) = value else {
        let mut out = check::evaluate(capture, text, exp, report);
        out.observed = "no baseline figure (nothing to measure in the baseline)".into();
        return out;
    };
    let concrete = Expectation::Compare {
        metric: *metric,
        selector: selector.clone(),
        op: *op,
        value,
        baseline: None,
    };
    let mut out = check::evaluate(capture, text, &concrete, report);
    let shown = if value.fract() == 0.0 {
        format!("{value}")
    } else {
        format!("{value:.3}")
    };
    out.observed = format!("{} (baseline {shown})", out.observed);
    out
}

/// `connscope check --baseline`: usage errors first, then the baseline, then each
/// capture; prints as `check` does. Exit 0 all passed, 1 one failed, 2 an error.
pub fn run_check(args: &CheckArgs) -> u8 {
    let Some(baseline_path) = &args.baseline else {
        return EXIT_ERROR;
    };
    if args.files.is_empty() || args.expect.is_empty() {
        crate::say!(
            "connscope: error: check --baseline needs capture files and at least one --expect"
        );
        return EXIT_ERROR;
    }
    let mut expectations = Vec::new();
    for text in &args.expect {
        match expr::parse(text) {
            Ok(exp) => expectations.push((text, exp)),
            Err(e) => {
                crate::say!("connscope: error: invalid expectation:\n{}", e.render(text));
                return EXIT_ERROR;
            }
        }
    }
    let track = Tracking::of(args.quiet, &args.tracking, None);
    let analyse =
        |path: &String| match analyze_files(std::slice::from_ref(path), &track, Output::Keep) {
            Ok(a) if !a.input_error => Ok(a.report),
            Ok(_) => Err(format!("{path}: could not be analysed")),
            Err(message) => Err(message),
        };
    let baseline = match analyse(baseline_path) {
        Ok(report) => report,
        Err(message) => {
            crate::say!("connscope: error: baseline {message}");
            return EXIT_ERROR;
        }
    };
    let mut outcomes = Vec::new();
    for file in &args.files {
        let report = match analyse(file) {
            Ok(report) => report,
            Err(message) => {
                crate::say!("connscope: error: {message}");
                return EXIT_ERROR;
            }
        };
        for (text, exp) in &expectations {
            outcomes.push(evaluate(file, text, exp, &report, &baseline));
        }
    }
    if let Some(path) = &args.junit {
        if let Err(e) = std::fs::write(path, check::junit::render(&outcomes)) {
            crate::say!("connscope: error: {path}: cannot write JUnit XML: {e}");
            return EXIT_ERROR;
        }
    }
    let mut out = BufWriter::new(io::stdout().lock());
    let written = match args.format {
        ViewFormat::Json => crate::report::json::write_value(&mut out, &outcomes),
        ViewFormat::Table => out.write_all(check::render_text(&outcomes).as_bytes()),
    };
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            crate::say!("connscope: error: writing output: {e}");
            EXIT_ERROR
        }
        _ if outcomes.iter().all(|o| o.passed) => EXIT_OK,
        _ => EXIT_CHECK_FAILED,
    }
}
