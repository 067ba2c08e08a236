//! The HTML report (`connscope report`, `analyze --format html`) and the chart alone
//! (`--format svg`): one self-contained file — inline CSS, SVG and a little script for
//! details on click, filtering, zoom and linking findings to lanes; no network, so it
//! opens from a mail attachment. Per input: the summary line and warnings, the
//! swimlane chart (`chart`, on the time axis of `axis`), the findings beside it, and
//! the server rollup. Everything shown comes from the report model.
//! Not for streaming: the page needs every connection, so it holds the report.

mod axis;
mod chart;

use crate::report::model::{Finding, Report, Severity};
use crate::report::table::{finding_text, summary_line};
use chart::Chart;
use std::borrow::Cow;
use std::fmt::Write as _;

const PAGE_CSS: &str = include_str!("page.css");
const PAGE_JS: &str = include_str!("page.js");
/// Connections a finding links to one by one; the rest are counted.
const LINKS_PER_FINDING: usize = 24;

/// Text made safe for HTML and SVG, attribute values included.
pub fn esc(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The whole page.
pub fn page(report: &Report) -> String {
    let mut out = String::with_capacity(64 << 10);
    let names: Vec<&str> = report.inputs.iter().map(|i| i.path.as_str()).collect();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" content=\"connscope {}\">\n<title>connscope: {}</title>\n<style>\n{PAGE_CSS}{}\n</style>\n</head>\n<body>\n",
        env!("CARGO_PKG_VERSION"),
        esc(&names.join(", ")),
        chart::CHART_CSS
    );
    out.push_str("<header><h1>connscope report</h1>\n<div class=\"controls\" role=\"toolbar\" aria-label=\"chart controls\"><label>Filter lanes <input id=\"filter\" type=\"search\" placeholder=\"address, port or id\"></label> <span class=\"zoom\">Zoom <button type=\"button\" data-zoom=\"0.5\" aria-label=\"zoom out\">−</button><button type=\"button\" data-zoom=\"1\">fit</button><button type=\"button\" data-zoom=\"2\" aria-label=\"zoom in\">+</button></span> <button type=\"button\" id=\"clear\">clear highlight</button></div></header>\n<main>\n");
    for (n, input) in report.inputs.iter().enumerate() {
        section(&mut out, report, n, &summary_line(input), &input.warnings);
    }
    out.push_str("</main>\n<div id=\"details\" role=\"status\" aria-live=\"polite\">Click any mark in a chart (or focus a lane and press Enter) to see what it is and its packet numbers.</div>\n");
    let _ = write!(out, "<script>\n{PAGE_JS}</script>\n</body>\n</html>\n");
    out
}

fn section(
    out: &mut String,
    report: &Report,
    n: usize,
    summary: &str,
    warnings: &[crate::report::model::WarningRecord],
) {
    let path = &report.inputs[n].path;
    let _ = write!(
        out,
        "<section class=\"input\" id=\"input-{n}\">\n<h2>{}</h2>\n<p class=\"summary\">{}</p>\n",
        esc(path),
        esc(summary)
    );
    if !warnings.is_empty() {
        out.push_str("<details class=\"warnings\" open><summary>Warnings</summary><ul>\n");
        for w in warnings {
            let at = w
                .packet
                .map(|p| format!("packet {p}: "))
                .unwrap_or_default();
            let _ = writeln!(out, "<li>{at}{}</li>", esc(&w.message));
        }
        out.push_str("</ul></details>\n");
    }
    let chart = Chart::new(report, n);
    out.push_str("<div class=\"layout\">\n<figure class=\"chart\"><div class=\"chart-wrap\">\n");
    chart.write_svg(out, &format!("Connections in {path}"), false);
    let _ = write!(
        out,
        "</div>\n<figcaption>{}</figcaption></figure>\n",
        esc(&chart.caption())
    );
    let findings: Vec<&Finding> = report.findings.iter().filter(|f| f.input == n).collect();
    let _ = writeln!(
        out,
        "<aside class=\"findings\" aria-label=\"findings\"><h3>Findings ({})</h3>",
        findings.len()
    );
    if findings.is_empty() {
        out.push_str("<p>None.</p>\n");
    } else {
        out.push_str("<ol>\n");
        for f in findings {
            finding(out, &chart, f);
        }
        out.push_str("</ol>\n");
    }
    out.push_str("</aside>\n</div>\n");
    servers(out, report, n);
    out.push_str("</section>\n");
}

fn finding(out: &mut String, chart: &Chart<'_>, f: &Finding) {
    let (class, word) = match f.severity {
        Severity::Info => ("info", "info"),
        Severity::Warning => ("warning", "warning"),
    };
    let targets: Vec<String> = f.connections.iter().map(|id| chart.anchor(*id)).collect();
    let _ = write!(
        out,
        "<li class=\"finding {class}\" data-kind=\"{}\" data-targets=\"{}\"><span class=\"badge\">{word}</span> <code>{}</code> <span class=\"message\">{}</span>",
        f.kind.as_str(),
        targets.join(" "),
        f.kind.as_str(),
        esc(&f.message)
    );
    if !f.connections.is_empty() {
        out.push_str("<br><span class=\"links\">connections: ");
        for (id, target) in f.connections.iter().zip(&targets).take(LINKS_PER_FINDING) {
            let _ = write!(
                out,
                "<a class=\"finding-link\" href=\"#{target}\" data-conn=\"{id}\">{id}</a> "
            );
        }
        if f.connections.len() > LINKS_PER_FINDING {
            let _ = write!(out, "and {} more", f.connections.len() - LINKS_PER_FINDING);
        }
        out.push_str("</span>");
    }
    // The packet list as the table prints it.
    let text = finding_text(f);
    if let Some(packets) = text.rfind("(packets ").map(|at| &text[at..]) {
        let _ = write!(out, " <span class=\"packets\">{}</span>", esc(packets));
    }
    out.push_str("</li>\n");
}

fn servers(out: &mut String, report: &Report, n: usize) {
    out.push_str("<h3>Servers</h3>\n<table class=\"servers\"><thead><tr><th scope=\"col\">server</th><th scope=\"col\">hosts</th><th scope=\"col\">connections</th><th scope=\"col\">requests</th><th scope=\"col\">requests/conn</th><th scope=\"col\">reused conns</th></tr></thead><tbody>\n");
    for s in report.servers.iter().filter(|s| s.input == n) {
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.server.to_string()),
            esc(&s.hosts.join(", ")),
            s.connections,
            s.requests,
            s.requests_per_connection
                .map_or_else(|| "-".to_string(), |r| format!("{r:.2}")),
            s.reused_connections
        );
    }
    out.push_str("</tbody></table>\n");
}

/// The charts alone, one under the other, as one SVG document.
pub fn svg(report: &Report) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    if report.inputs.len() == 1 {
        Chart::new(report, 0).write_svg(
            &mut out,
            &format!("Connections in {}", report.inputs[0].path),
            true,
        );
        return out;
    }
    // Several inputs: each chart nested at its own height.
    let mut body = String::new();
    let mut y = 0.0;
    let mut width: f64 = 0.0;
    for (n, input) in report.inputs.iter().enumerate() {
        let mut one = String::new();
        Chart::new(report, n).write_svg(&mut one, &format!("Connections in {}", input.path), true);
        let (w, h) = size_of(&one);
        let _ = writeln!(body, "<g transform=\"translate(0,{y})\">{one}</g>");
        y += h + 16.0;
        width = width.max(w);
    }
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{y}\" viewBox=\"0 0 {width} {y}\">\n{body}</svg>\n"
    );
    out
}

/// The `width` and `height` attributes of the first element of `svg`.
fn size_of(svg: &str) -> (f64, f64) {
    let attr = |name: &str| {
        svg.split_once(&format!(" {name}=\""))
            .and_then(|(_, rest)| rest.split('"').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    (attr("width"), attr("height"))
}
