//! Fitting tables to a terminal's width: which of the connection table's columns a
//! terminal shows (`--columns`, or as many as fit, the most telling first), and
//! shortening a cell in the middle rather than letting comfy-table wrap every column.
//! Off a terminal every column is shown whole.

use comfy_table::Table;
use std::io;
use unicode_width::UnicodeWidthStr;

/// Which columns of the connection table are shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Columns {
    /// Every column (not a terminal: pipes, files, golden outputs).
    All,
    /// As many as fit this many terminal columns, the most telling first.
    Fit(usize),
    /// These, by index in [`COLUMN_NAMES`], in table order (`--columns`).
    Chosen(Vec<usize>),
}

/// The names `--columns` takes, in table order: `id`, then one per cell.
pub const COLUMN_NAMES: [&str; 14] = [
    "id",
    "client",
    "server",
    "start",
    "duration",
    "packets",
    "bytes",
    "rtt",
    "proto",
    "host",
    "requests",
    "keep-alive",
    "close",
    "state",
];

/// The order in which a narrow terminal gives columns room: who talked to whom, how
/// many requests rode on it and how it ended first; counters last.
const FIT_PRIORITY: [usize; 14] = [0, 1, 2, 10, 12, 8, 9, 4, 3, 13, 11, 7, 5, 6];

impl Columns {
    /// `--columns id,client,server` or `--columns all`: names in any order, shown in
    /// table order.
    pub fn parse(text: &str) -> Result<Columns, String> {
        if text.trim() == "all" {
            return Ok(Columns::All);
        }
        let mut chosen = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let index = COLUMN_NAMES
                .iter()
                .position(|c| *c == name)
                .ok_or_else(|| {
                    format!(
                        "--columns: no column {name:?}; the columns are {} (or `all`)",
                        COLUMN_NAMES.join(",")
                    )
                })?;
            chosen.push(index);
        }
        if chosen.is_empty() {
            return Err("--columns: name at least one column, or `all`".into());
        }
        chosen.sort_unstable();
        chosen.dedup();
        Ok(Columns::Chosen(chosen))
    }

    /// The columns for standard output: all unless it is a terminal, whose width
    /// comes from the TTY, else from `COLUMNS`, else 80.
    pub fn for_stdout(terminal: bool) -> Columns {
        if !terminal {
            return Columns::All;
        }
        let tty = terminal_size::terminal_size_of(io::stdout()).map(|(w, _)| usize::from(w.0));
        let env = || {
            std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.trim().parse::<usize>().ok())
        };
        Columns::Fit(tty.filter(|w| *w > 0).or_else(env).unwrap_or(80))
    }

    /// The shown columns in table order, each with the width it gets, given every
    /// column's text width. Only `Fit` narrows a column (its cells are then shortened
    /// in the middle, see [`shorten`]).
    pub(super) fn pick(&self, widths: &[usize]) -> Vec<(usize, usize)> {
        let natural = |i: usize| widths.get(i).copied().unwrap_or(0);
        let Columns::Fit(room) = self else {
            let shown: Vec<usize> = match self {
                Columns::Chosen(chosen) => chosen.clone(),
                _ => (0..widths.len()).collect(),
            };
            return shown.into_iter().map(|i| (i, natural(i))).collect();
        };
        // Each column takes its text, a space either side and a rule; the table one more.
        let need = |w: usize| w + 3;
        let mut width: Vec<usize> = (0..widths.len()).map(natural).collect();
        if let Some(host) = width.get_mut(HOST) {
            *host = (*host).min(HOST_MAX);
        }
        // Who talked to whom, how many requests and how it ended are always shown:
        // long (IPv6) endpoints are shortened to make room for them.
        let others = need(width[0]) + need(width[REQUESTS]) + need(width[CLOSE]) + 1;
        if others + need(width[1]) + need(width[2]) > *room {
            let each = (room.saturating_sub(others + 6) / 2).max(ENDPOINT_MIN);
            width[1] = width[1].min(each);
            width[2] = width[2].min(each);
        }
        let mut used = 1;
        let mut shown = Vec::new();
        for i in FIT_PRIORITY {
            if used + need(width[i]) <= *room || i <= 2 {
                used += need(width[i]);
                shown.push(i);
            }
        }
        shown.sort_unstable();
        shown.into_iter().map(|i| (i, width[i])).collect()
    }
}

/// Indices of columns [`Columns::pick`] treats specially.
const REQUESTS: usize = 10;
pub(super) const CLOSE: usize = 12;
/// The `host / sni` column's index, and the width a terminal gives it at most.
const HOST: usize = 9;
const HOST_MAX: usize = 32;
/// An endpoint column is never narrowed below this.
const ENDPOINT_MIN: usize = 14;

/// `text` in at most `width` columns: cut in the middle with `…`, so an endpoint keeps
/// its port and a name its domain.
pub(super) fn shorten(text: &str, width: usize) -> std::borrow::Cow<'_, str> {
    if text.width() <= width {
        return text.into();
    }
    let chars: Vec<char> = text.chars().collect();
    let keep = width.saturating_sub(1);
    let head = keep / 2;
    let tail = keep - head;
    let mut out: String = chars.iter().take(head).collect();
    out.push('…');
    out.extend(&chars[chars.len().saturating_sub(tail)..]);
    out.into()
}

/// A table with one free-text column (`flex`) that fits the terminal: when it would be
/// wider, that column's cells are shortened in the middle to leave the others whole,
/// instead of comfy-table wrapping every column. `build` makes the table with the
/// flexible column's width, or whole; off a terminal the table is always whole.
pub(super) fn fitted(terminal: bool, flex: usize, build: impl Fn(Option<usize>) -> Table) -> Table {
    match Columns::for_stdout(terminal) {
        Columns::Fit(room) => fit_to(room, flex, build),
        _ => build(None),
    }
}

/// [`fitted`] for a terminal `room` columns wide.
pub(super) fn fit_to(room: usize, flex: usize, build: impl Fn(Option<usize>) -> Table) -> Table {
    let table = build(None);
    let widths: Vec<usize> = table
        .column_max_content_widths()
        .into_iter()
        .map(usize::from)
        .collect();
    let total = 1 + widths.iter().map(|w| w + 3).sum::<usize>();
    let Some(flex_width) = widths.get(flex) else {
        return table;
    };
    if total <= room {
        return table;
    }
    let others = total - flex_width;
    build(Some(room.saturating_sub(others).max(FLEX_MIN)))
}

/// A flexible column is never shortened below this.
const FLEX_MIN: usize = 16;

/// `text`, shortened to `width` when one is given.
pub(super) fn flex_text(text: String, width: Option<usize>) -> String {
    match width {
        Some(w) => shorten(&text, w).into_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Widths as the table measures them: id, then the 13 cells.
    const WIDE: [usize; 14] = [2, 48, 32, 15, 9, 11, 12, 7, 5, 40, 10, 12, 13, 8];

    fn total(picked: &[(usize, usize)]) -> usize {
        1 + picked.iter().map(|(_, w)| w + 3).sum::<usize>()
    }

    #[test]
    fn ipv6_endpoints_are_shortened_so_requests_and_close_fit_80_columns() {
        let picked = Columns::Fit(80).pick(&WIDE);
        let shown: Vec<usize> = picked.iter().map(|(i, _)| *i).collect();
        assert_eq!(shown, [0, 1, 2, 10, 12]);
        assert!(total(&picked) <= 80, "{picked:?}");
        assert_eq!(
            shorten("[2a01:cb01:2049:8b07:991d:ec85:28df:f629]:40028", 19),
            "[2a01:cb0…29]:40028"
        );
        assert_eq!(shorten("10.0.0.1:80", 19), "10.0.0.1:80");
    }

    #[test]
    fn a_wide_terminal_gets_every_column_and_a_pipe_all_of_them_unshortened() {
        let picked = Columns::Fit(300).pick(&WIDE);
        assert_eq!(picked.len(), 14);
        assert_eq!(picked[HOST], (HOST, HOST_MAX));
        let all = Columns::All.pick(&WIDE);
        assert_eq!(all.iter().map(|(_, w)| *w).collect::<Vec<_>>(), WIDE);
    }

    #[test]
    fn columns_parse_names_and_all() {
        assert_eq!(
            Columns::parse("close, id,requests"),
            Ok(Columns::Chosen(vec![0, 10, 12]))
        );
        assert_eq!(Columns::parse("all"), Ok(Columns::All));
        assert!(Columns::parse("").is_err());
        assert!(Columns::parse("id,nope").is_err());
    }
}
