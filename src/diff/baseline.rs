//! `connscope check CAPTURE… --baseline BEFORE --expect 'connections <= baseline.connections'`:
//! expectations whose right side is a figure of another capture, so CI can fail a
//! change that brings connection churn back. The baseline metric is measured with the
//! same selector as the left side. Other expectations are judged as `check` does.

use crate::check::expr::Expectation;
use crate::check::{self, Outcome};
use crate::report::model::{ConnectionRecord, Report};

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
