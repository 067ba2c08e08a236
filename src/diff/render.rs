//! `connscope diff`'s text: the change in plain words, the per-server table and the
//! findings by kind. (Reading the two sides is the command's, in `app::diff`.)

use super::{ratio, Diff, Figures};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, Table};

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
