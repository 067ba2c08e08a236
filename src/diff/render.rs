//! `connscope diff`'s command: read both sides (a capture is analysed, a JSON report
//! read), compare, and print the paragraph and table, or the JSON document.

use super::{compare, ratio, Diff, Figures, Side};
use crate::app::{analyze_files, Output, Tracking, EXIT_ERROR, EXIT_OK};
use crate::cli::{DiffArgs, ViewFormat};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, Table};
use std::io::{self, IsTerminal, Read, Write};

/// Reads one side: a JSON report when the file starts with `{`, else a capture.
pub fn load(path: &str, track: &Tracking<'_>) -> Result<Side, String> {
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| format!("{path}: {e}"))?;
    if head[..n].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        let text = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
        let doc: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| format!("{path}: not valid JSON: {e}"))?;
        return Side::from_json(path, &doc);
    }
    let analysis = analyze_files(&[path.to_string()], track, Output::Keep)?;
    if analysis.input_error {
        return Err(format!("{path}: could not be analysed"));
    }
    Ok(Side::from_report(path, &analysis.report))
}

pub fn run(args: &DiffArgs) -> u8 {
    let track = Tracking::of(args.quiet, &args.tracking, None);
    let sides = load(&args.before, &track).and_then(|b| Ok((b, load(&args.after, &track)?)));
    let (before, after) = match sides {
        Ok(sides) => sides,
        Err(message) => {
            crate::say!("connscope: error: {message}");
            return EXIT_ERROR;
        }
    };
    let diff = compare(&before, &after);
    let mut out = io::BufWriter::new(io::stdout().lock());
    let written = match args.format {
        ViewFormat::Json => crate::report::json::write_value(&mut out, &diff),
        ViewFormat::Table => out.write_all(text(&diff, io::stdout().is_terminal()).as_bytes()),
    };
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            crate::say!("connscope: error: writing output: {e}");
            EXIT_ERROR
        }
        _ => EXIT_OK,
    }
}

fn change(before: Option<String>, after: Option<String>) -> Cell {
    let text = match (before, after) {
        (Some(b), Some(a)) if a == b => a,
        (Some(b), Some(a)) => format!("{b} → {a}"),
        (Some(b), None) => format!("{b} → -"),
        (None, Some(a)) => format!("- → {a}"),
        (None, None) => "-".into(),
    };
    Cell::new(text).set_alignment(CellAlignment::Right)
}

/// The paragraph, the per-server table and the findings by kind.
pub fn text(diff: &Diff, terminal: bool) -> String {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    if !terminal {
        table.force_no_tty();
    }
    table.set_header(vec![
        "server",
        "connections",
        "requests",
        "requests/conn",
        "reused conns",
        "handshakes",
    ]);
    let field = |f: &Option<Figures>, get: fn(&Figures) -> String| f.as_ref().map(get);
    for s in diff.servers.iter().chain(std::iter::once(&diff.total)) {
        let (b, a) = (&s.before, &s.after);
        table.add_row(vec![
            Cell::new(&s.server),
            change(
                field(b, |f| f.connections.to_string()),
                field(a, |f| f.connections.to_string()),
            ),
            change(
                field(b, |f| f.requests.to_string()),
                field(a, |f| f.requests.to_string()),
            ),
            change(
                field(b, |f| ratio(f.requests_per_connection)),
                field(a, |f| ratio(f.requests_per_connection)),
            ),
            change(
                field(b, |f| f.reused_connections.to_string()),
                field(a, |f| f.reused_connections.to_string()),
            ),
            change(
                field(b, |f| f.handshakes.to_string()),
                field(a, |f| f.handshakes.to_string()),
            ),
        ]);
    }
    let mut out = format!(
        "{} → {}\n{}\n\n{table}\n",
        diff.before, diff.after, diff.summary
    );
    if !diff.findings.is_empty() {
        out.push_str("\nFindings (before → after):\n");
        for f in &diff.findings {
            let mark = match (f.before, f.after) {
                (0, _) => "  new",
                (_, 0) => " gone",
                _ => "     ",
            };
            out.push_str(&format!("{mark}  {}: {} → {}\n", f.kind, f.before, f.after));
        }
    }
    out
}
