//! The human renderer: for each input, a summary line and a table with one row per
//! connection (comfy-table). Reads only the report model.

use super::fit::{fitted, flex_text, shorten, CLOSE};
use super::model::{
    CloseHow, ConnectionRecord, Finding, Http2Via, HttpExchange, InputReport, Protocol, Report,
    ServerSummary, Severity,
};
use super::spill::Spill;
use super::style::Paint;
use crate::flow::key::Direction;
use anstyle::Style;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};
use std::io::{self, Write};
use unicode_width::UnicodeWidthStr;

pub use super::fit::{Columns, COLUMN_NAMES};

/// The `state` column's index.
const STATE: usize = 13;

/// The tables of a report held whole in memory, through the same `write_input` as the
/// spilled path: what the renderer tests read.
#[cfg(test)]
fn write_tables(out: &mut impl Write, report: &Report, terminal: bool) -> io::Result<()> {
    let columns = Columns::for_stdout(terminal);
    for index in 0..report.inputs.len() {
        let rows: Vec<ConnectionRow> = report
            .connections
            .iter()
            .filter(|c| c.input == index)
            .map(ConnectionRow::of)
            .collect();
        let mut widths = RowWidths::default();
        rows.iter().for_each(|r| widths.add(r));
        let largest_id = rows.iter().map(|r| r.id).max().unwrap_or(0);
        let findings: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.input == index)
            .map(finding_text)
            .collect();
        write_input(
            out,
            report,
            index,
            (&widths, largest_id),
            (terminal, &columns, Paint::OFF),
            |each| rows.iter().try_for_each(&mut *each),
            |each| findings.iter().try_for_each(|f| each(f)),
        )?;
    }
    Ok(())
}

/// One input's connection rows and finding paragraphs, parked in spill files while the
/// input was read (see `report::spill`).
pub struct SpilledInput {
    pub rows: Spill,
    pub widths: RowWidths,
    pub findings: Spill,
}

impl SpilledInput {
    /// Each input's rows, widths and findings, side by side.
    pub fn zip(rows: Vec<Spill>, widths: Vec<RowWidths>, findings: Vec<Spill>) -> Vec<Self> {
        rows.into_iter()
            .zip(widths)
            .zip(findings)
            .map(|((rows, widths), findings)| SpilledInput {
                rows,
                widths,
                findings,
            })
            .collect()
    }
}

/// The tables of a report whose connections and findings were spilled, input by input.
pub fn write_spilled_tables(
    out: &mut impl Write,
    report: &Report,
    inputs: &mut [SpilledInput],
    terminal: bool,
    columns: &Columns,
    paint: Paint,
) -> io::Result<()> {
    for (index, spilled) in inputs.iter_mut().enumerate() {
        let SpilledInput {
            rows,
            widths,
            findings,
        } = spilled;
        let largest_id = rows.largest_id().unwrap_or(0);
        // One row read back at a time, into the same cells.
        let mut row = ConnectionRow::default();
        write_input(
            out,
            report,
            index,
            (widths, largest_id),
            (terminal, columns, paint),
            |each| {
                rows.for_each_raw_in_order(|id, bytes| {
                    row.decode(id, bytes)?;
                    each(&row)
                })
            },
            |each| {
                findings.for_each_in_order(|text| {
                    let paragraph: String = serde_json::from_str(text)?;
                    each(&paragraph)
                })
            },
        )?;
    }
    Ok(())
}

/// An input: its summary line, connection table, server table and findings.
fn write_input(
    out: &mut impl Write,
    report: &Report,
    index: usize,
    (widths, largest_id): (&RowWidths, u64),
    (terminal, columns, paint): (bool, &Columns, Paint),
    rows: impl FnMut(&mut dyn FnMut(&ConnectionRow) -> io::Result<()>) -> io::Result<()>,
    mut findings: impl FnMut(&mut dyn FnMut(&str) -> io::Result<()>) -> io::Result<()>,
) -> io::Result<()> {
    if index > 0 {
        writeln!(out)?;
    }
    writeln!(out, "{}", summary_line(&report.inputs[index]))?;
    if widths.rows == 0 {
        return Ok(());
    }
    write_connection_rows(out, (widths, largest_id), (columns, paint), rows)?;
    if widths.inferred {
        writeln!(
            out,
            "~ exchanges inferred from encrypted TLS records (see docs/tls.md)"
        )?;
    }
    let servers: Vec<&ServerSummary> = report.servers.iter().filter(|s| s.input == index).collect();
    if servers.iter().any(|s| s.http_connections > 0) {
        writeln!(out, "{}", server_table(&servers, terminal))?;
    }
    let mut heading = true;
    findings(&mut |paragraph| {
        if std::mem::take(&mut heading) {
            writeln!(out, "\nFindings:")?;
        }
        write_finding(out, paragraph, paint)
    })
}

/// A finding's paragraph, its `[severity]` tag coloured when colour is on.
fn write_finding(out: &mut impl Write, paragraph: &str, paint: Paint) -> io::Result<()> {
    let tagged = [Severity::Warning, Severity::Info]
        .into_iter()
        .find_map(|s| {
            let rest = paragraph
                .strip_prefix("- ")?
                .strip_prefix(severity_tag(s))?;
            Some((s, rest))
        });
    match tagged {
        Some((severity, rest)) if paint.is_on() => {
            let style = paint.severity(severity);
            writeln!(out, "- {style}{}{style:#}{rest}", severity_tag(severity))
        }
        _ => writeln!(out, "{paragraph}"),
    }
}

fn severity_tag(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "[info]",
        Severity::Warning => "[warning]",
    }
}

/// A finding lists at most this many packets in the table (the JSON has them all).
const PACKETS_SHOWN: usize = 12;

/// A finding as one paragraph of the table output.
pub fn finding_text(f: &Finding) -> String {
    let mut packets: Vec<String> = f
        .packets
        .iter()
        .take(PACKETS_SHOWN)
        .map(u64::to_string)
        .collect();
    // A merged finding counts the packets it could not keep.
    let dropped = f.figures.packets_dropped();
    let more = (f.packets.len().saturating_sub(PACKETS_SHOWN) as u64).saturating_add(dropped);
    if more > 0 {
        packets.push(format!("… and {more} more"));
    }
    format!(
        "- {} {}: {}{}",
        severity_tag(f.severity),
        f.kind.as_str(),
        f.message,
        if packets.is_empty() {
            String::new()
        } else {
            format!(" (packets {})", packets.join(", "))
        }
    )
}

/// `connscope http`: one row per exchange.
pub fn write_http(out: &mut impl Write, report: &Report, terminal: bool) -> io::Result<()> {
    for (index, input) in report.inputs.iter().enumerate() {
        if index > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}", summary_line(input))?;
        let rows: Vec<(&ConnectionRecord, &HttpExchange)> = report
            .connections
            .iter()
            .filter(|c| c.input == index)
            .flat_map(|c| c.http.iter().map(move |x| (c, x)))
            .collect();
        if rows.is_empty() {
            writeln!(out, "no HTTP exchanges")?;
            continue;
        }
        writeln!(out, "{}", http_table(&rows, terminal))?;
    }
    Ok(())
}

/// `connscope servers`: one row per server endpoint.
pub fn write_servers(out: &mut impl Write, report: &Report, terminal: bool) -> io::Result<()> {
    for (index, input) in report.inputs.iter().enumerate() {
        if index > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}", summary_line(input))?;
        let servers: Vec<&ServerSummary> =
            report.servers.iter().filter(|s| s.input == index).collect();
        if !servers.is_empty() {
            writeln!(out, "{}", server_table(&servers, terminal))?;
        }
    }
    Ok(())
}

fn new_table(terminal: bool, header: Vec<&str>) -> Table {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    if !terminal {
        table.force_no_tty();
    }
    table.set_content_arrangement(if terminal {
        ContentArrangement::Dynamic
    } else {
        ContentArrangement::Disabled
    });
    table.set_header(header);
    table
}

fn right(text: impl ToString) -> Cell {
    Cell::new(text.to_string()).set_alignment(CellAlignment::Right)
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

fn http_table(rows: &[(&ConnectionRecord, &HttpExchange)], terminal: bool) -> Table {
    // `host + target` is the column that gives way; a stream column comes before it.
    let streams = rows.iter().any(|(_, x)| x.stream_id.is_some());
    fitted(terminal, 4 + usize::from(streams), |flex| {
        http_table_with(rows, terminal, flex)
    })
}

fn http_table_with(
    rows: &[(&ConnectionRecord, &HttpExchange)],
    terminal: bool,
    flex: Option<usize>,
) -> Table {
    // HTTP/2 exchanges name their stream; a table of HTTP/1.x ones has no such column.
    let streams = rows.iter().any(|(_, x)| x.stream_id.is_some());
    let mut header = vec!["conn", "#"];
    if streams {
        header.push("stream");
    }
    let mut table = new_table(
        terminal,
        [
            header,
            vec![
                "time",
                "method",
                "host + target",
                "status",
                "ttfb ms",
                "req bytes",
                "resp bytes",
                "idle before",
            ],
        ]
        .concat(),
    );
    for (conn, x) in rows {
        let time = x
            .request_start
            .or(x.response_start)
            .map(|t| t.time_of_day());
        let target = match x.target.as_deref() {
            Some(t) if !t.starts_with('/') => t.to_string(),
            t => format!("{}{}", x.host.as_deref().unwrap_or(""), t.unwrap_or("")),
        };
        let mut status = opt(x.status);
        if !x.response_complete && x.status.is_some() {
            status.push_str(" (incomplete)");
        }
        let mut cells = vec![right(conn.id), right(x.index)];
        if streams {
            cells.push(right(opt(x.stream_id)));
        }
        cells.extend([
            Cell::new(opt(time)),
            Cell::new(x.method.as_deref().unwrap_or("-")),
            Cell::new(if target.is_empty() {
                "-".into()
            } else {
                flex_text(target, flex)
            }),
            Cell::new(status),
            right(opt(x.ttfb_ms.map(|ms| format!("{ms:.3}")))),
            right(x.request_body_bytes),
            right(x.response_body_bytes),
            right(opt(x.idle_before_s.map(|s| format!("{s:.3}s")))),
        ]);
        table.add_row(cells);
    }
    table
}

fn server_table(servers: &[&ServerSummary], terminal: bool) -> Table {
    fitted(terminal, 1, |flex| {
        server_table_with(servers, terminal, flex)
    })
}

fn server_table_with(servers: &[&ServerSummary], terminal: bool, flex: Option<usize>) -> Table {
    let mut table = new_table(
        terminal,
        vec![
            "server",
            "hosts",
            "connections",
            "requests",
            "requests/conn",
            "reused conns",
            "connection ids",
        ],
    );
    for s in servers {
        let ids: Vec<String> = s.connection_ids.iter().map(u64::to_string).collect();
        let ids = if ids.len() > 12 {
            format!(
                "{} … {}",
                ids[..6].join(" "),
                ids[ids.len() - 3..].join(" ")
            )
        } else {
            ids.join(" ")
        };
        table.add_row(vec![
            Cell::new(s.server),
            Cell::new(if s.hosts.is_empty() {
                "-".into()
            } else {
                flex_text(s.hosts.join(" "), flex)
            }),
            right(s.connections),
            right(s.requests),
            right(opt(s.requests_per_connection.map(|r| format!("{r:.2}")))),
            right(s.reused_connections),
            Cell::new(ids),
        ]);
    }
    table
}

pub fn summary_line(input: &InputReport) -> String {
    let Some(format) = &input.format else {
        return format!(
            "{}: not analysed ({})",
            input.path,
            input.error.as_deref().unwrap_or("unreadable")
        );
    };
    let mut line = format!("{}: {format}", input.path);
    if !input.link_types.is_empty() {
        line.push_str(&format!(" {}", input.link_types.join("+")));
    }
    line.push_str(&format!(
        ", {} packet{}, {} TCP",
        input.packets,
        if input.packets == 1 { "" } else { "s" },
        input.tcp_packets
    ));
    if !input.skipped.is_empty() {
        let parts: Vec<String> = input
            .skipped
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        line.push_str(&format!(" (skipped {})", parts.join(", ")));
    }
    line.push_str(&format!(
        ", {} connection{}",
        input.connections,
        if input.connections == 1 { "" } else { "s" }
    ));
    if !input.warnings.is_empty() {
        line.push_str(&format!(
            ", {} warning{}",
            input.warnings.len(),
            if input.warnings.len() == 1 { "" } else { "s" }
        ));
    }
    line
}

fn side_short(dir: Direction) -> &'static str {
    match dir {
        Direction::Client => "client",
        Direction::Server => "server",
    }
}

/// The `keep-alive` cell: TCP keep-alive probes by side, then HTTP/2's own keep-alive,
/// its PINGs (e.g. Go's `ReadIdleTimeout` health checks), which keep a connection
/// alive the same way one layer up.
fn probes_cell(conn: &ConnectionRecord) -> String {
    let tcp = tcp_probes_cell(conn);
    let pings = conn.http2.as_ref().map_or(&[][..], |h| &h.pings[..]);
    if pings.is_empty() {
        return tcp.unwrap_or_else(|| "-".into());
    }
    let unanswered = pings.iter().filter(|p| p.ack_packet.is_none()).count();
    let mut cell = match pings.len() {
        1 => "1 h2 PING".to_string(),
        n => format!("{n} h2 PINGs"),
    };
    if unanswered > 0 {
        cell.push_str(&format!(" ({unanswered} unanswered)"));
    }
    match tcp {
        Some(tcp) => format!("{tcp}; {cell}"),
        None => cell,
    }
}

fn tcp_probes_cell(conn: &ConnectionRecord) -> Option<String> {
    let probes = &conn.keepalive.probes;
    if probes.is_empty() {
        return None;
    }
    let from_client = probes
        .iter()
        .filter(|p| p.from == Direction::Client)
        .count();
    let from_server = probes.len() - from_client;
    let mut parts = Vec::new();
    if from_client > 0 {
        parts.push(format!("{from_client} client"));
    }
    if from_server > 0 {
        parts.push(format!("{from_server} server"));
    }
    let unanswered = probes.iter().filter(|p| !p.acked).count();
    let mut cell = parts.join(", ");
    if unanswered > 0 {
        cell.push_str(&format!(" ({unanswered} unanswered)"));
    }
    Some(cell)
}

fn close_cell(conn: &ConnectionRecord) -> String {
    match (conn.close.how, conn.close.by) {
        (CloseHow::Open, _) => "open".into(),
        (how, Some(by)) => format!("{} by {}", how.as_str(), side_short(by)),
        (how, None) => how.as_str().into(),
    }
}

/// The `proto` cell: the protocol, and HTTP/2 where its frames were read — `tls/h2`
/// inside decrypted TLS, `h2c` in cleartext. ALPN `h2` alone (no keys) stays `tls`: the
/// streams were not seen.
fn proto_cell(conn: &ConnectionRecord) -> &'static str {
    match (conn.protocol, conn.http2.as_ref().map(|h| h.via)) {
        (Protocol::Tls, Some(_)) => "tls/h2",
        (_, Some(Http2Via::PriorKnowledge | Http2Via::Upgrade)) => "h2c",
        (_, Some(Http2Via::Tls)) => "tls/h2",
        (Protocol::None, None) => "-",
        (other, None) => other.as_str(),
    }
}

/// The connection table's columns after `id`: header, and whether cells are
/// right-aligned.
const COLUMNS: [(&str, bool); 13] = [
    ("client", false),
    ("server", false),
    ("start", false),
    ("duration", true),
    ("packets c/s", true),
    ("bytes c/s", true),
    ("rtt ms", true),
    ("proto", false),
    ("host / sni", false),
    ("requests", true),
    ("keep-alive", false),
    ("close", false),
    ("state", false),
];

/// A connection's row in the table, made when it finishes so that the record itself
/// need not be kept; its id is apart, so inputs analysed in parallel can be numbered
/// afterwards.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectionRow {
    pub id: u64,
    pub cells: [String; 13],
    /// Its exchanges were inferred from encrypted TLS records (the `~` in `requests`).
    pub inferred: bool,
}

impl ConnectionRow {
    pub fn of(conn: &ConnectionRecord) -> Self {
        let rtt = conn
            .handshake
            .as_ref()
            .and_then(|h| h.rtt_ms)
            .map(|ms| format!("{ms:.3}"))
            .unwrap_or_else(|| "-".into());
        // `~` marks exchanges inferred from encrypted traffic.
        let inferred = if conn.requests_inferred { "~" } else { "" };
        let mut requests = match (conn.requests, conn.reused) {
            (0, _) => "-".to_string(),
            (n, true) => format!("{inferred}{n} reused"),
            (n, false) => format!("{inferred}{n}"),
        };
        // HTTP/2 multiplexing: how many streams were open at once, at the peak.
        if let Some(at_once) = conn
            .http2
            .as_ref()
            .map(|h| h.max_concurrent_streams)
            .filter(|&n| n > 1)
        {
            requests.push_str(&format!(" ({at_once} at once)"));
        }
        let host = conn
            .tls
            .as_ref()
            .and_then(|t| t.sni.clone())
            .or_else(|| conn.http.iter().find_map(|x| x.host.clone()))
            .unwrap_or_else(|| "-".into());
        ConnectionRow {
            id: conn.id,
            cells: [
                conn.client.to_string(),
                conn.server.to_string(),
                conn.start.time_of_day(),
                format!("{:.3}s", conn.duration_s),
                format!("{}/{}", conn.packets.client, conn.packets.server),
                format!(
                    "{}/{}",
                    conn.payload_bytes.client, conn.payload_bytes.server
                ),
                rtt,
                proto_cell(conn).to_string(),
                host,
                requests,
                probes_cell(conn),
                close_cell(conn),
                format!("{} {}", conn.conn_state, conn.history),
            ],
            inferred: conn.requests_inferred && conn.requests > 0,
        }
    }

    /// The row's cells and flag as bytes for a spill file (the id is the spill's key):
    /// each cell's length (4 bytes, little-endian) and text, then the flag.
    pub fn encode(&self, bytes: &mut Vec<u8>) {
        bytes.clear();
        for cell in &self.cells {
            bytes.extend_from_slice(&(cell.len() as u32).to_le_bytes());
            bytes.extend_from_slice(cell.as_bytes());
        }
        bytes.push(u8::from(self.inferred));
    }

    /// Reads back what [`ConnectionRow::encode`] wrote, into this row's cells.
    pub fn decode(&mut self, id: u64, mut bytes: &[u8]) -> io::Result<()> {
        let damaged = || io::Error::new(io::ErrorKind::InvalidData, "a damaged table row");
        self.id = id;
        for cell in &mut self.cells {
            let (len, rest) = bytes.split_first_chunk::<4>().ok_or_else(damaged)?;
            let len = u32::from_le_bytes(*len) as usize;
            let text = rest.get(..len).ok_or_else(damaged)?;
            cell.clear();
            cell.push_str(std::str::from_utf8(text).map_err(|_| damaged())?);
            bytes = &rest[len..];
        }
        self.inferred = match bytes {
            [flag] => *flag != 0,
            _ => return Err(damaged()),
        };
        Ok(())
    }
}

/// The widths of the connection table's cells, widened as rows go by (the id column's
/// comes from the largest id, known once the inputs are numbered).
#[derive(Clone, Copy, Debug)]
pub struct RowWidths {
    cells: [usize; 13],
    pub rows: usize,
    /// A row counts exchanges inferred from TLS.
    pub inferred: bool,
}

impl Default for RowWidths {
    fn default() -> Self {
        RowWidths {
            cells: COLUMNS.map(|(header, _)| header.width()),
            rows: 0,
            inferred: false,
        }
    }
}

impl RowWidths {
    pub fn add(&mut self, row: &ConnectionRow) {
        for (w, cell) in self.cells.iter_mut().zip(&row.cells) {
            *w = (*w).max(cell.width());
        }
        self.rows += 1;
        self.inferred |= row.inferred;
    }

    /// Every column's width, the id's first.
    fn all(&self, largest_id: u64) -> impl Iterator<Item = usize> + '_ {
        std::iter::once(largest_id.to_string().len().max("id".len())).chain(self.cells)
    }
}

/// The connection table, written row by row as the rows are read (comfy-table's look,
/// the bytes it writes when not on a terminal), with only the chosen columns: a row
/// never wraps, so a terminal shows one line per connection.
fn write_connection_rows(
    out: &mut impl Write,
    (widths, largest_id): (&RowWidths, u64),
    (columns, paint): (&Columns, Paint),
    mut rows: impl FnMut(&mut dyn FnMut(&ConnectionRow) -> io::Result<()>) -> io::Result<()>,
) -> io::Result<()> {
    let all: Vec<usize> = widths.all(largest_id).collect();
    let picked = columns.pick(&all);
    let shown: Vec<usize> = picked.iter().map(|&(i, _)| i).collect();
    let widths: Vec<usize> = picked.iter().map(|&(_, w)| w).collect();
    let rule = |out: &mut dyn Write, left: &str, line: &str, joint: &str, end: &str| {
        let parts: Vec<String> = widths.iter().map(|w| line.repeat(w + 2)).collect();
        writeln!(out, "{left}{}{end}", parts.join(joint))
    };
    let line = |out: &mut dyn Write, cells: &mut dyn Iterator<Item = (&str, bool, Style)>| {
        out.write_all("│".as_bytes())?;
        for (i, ((text, right_aligned, style), w)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                out.write_all("┆".as_bytes())?;
            }
            let text = shorten(text, *w);
            let pad = " ".repeat(w.saturating_sub(text.width()));
            // Colour off: an empty style, which writes nothing.
            if right_aligned {
                write!(out, " {pad}{style}{text}{style:#} ")?;
            } else {
                write!(out, " {style}{text}{style:#}{pad} ")?;
            }
        }
        out.write_all("│\n".as_bytes())
    };
    rule(out, "┌", "─", "┬", "┐")?;
    let header = |i: usize| {
        if i == 0 {
            "id"
        } else {
            COLUMNS[i - 1].0
        }
    };
    line(
        out,
        &mut shown.iter().map(|&i| (header(i), false, Style::new())),
    )?;
    rule(out, "╞", "═", "╪", "╡")?;
    rows(&mut |row| {
        let id = row.id.to_string();
        let cell = |i: usize| match i {
            0 => (id.as_str(), true, Style::new()),
            i => {
                let text = row.cells[i - 1].as_str();
                let style = match i {
                    CLOSE => paint.close(text),
                    STATE => paint.conn_state(text),
                    _ => Style::new(),
                };
                (text, COLUMNS[i - 1].1, style)
            }
        };
        line(&mut *out, &mut shown.iter().map(|&i| cell(i)))
    })?;
    rule(out, "└", "─", "┴", "┘")?;
    if let Columns::Fit(room) = columns {
        if shown.len() < all.len() {
            let hidden: Vec<&str> = (0..all.len())
                .filter(|i| !shown.contains(i))
                .map(|i| COLUMN_NAMES[i])
                .collect();
            writeln!(
                out,
                "(to fit {room} columns, not shown: {}; --columns all shows every column)",
                hidden.join(", ")
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fit::fit_to;

    #[test]
    fn a_long_url_is_shortened_so_the_http_table_fits_instead_of_wrapping() {
        let url = format!("example.com/{}", "a".repeat(200));
        let build = |flex: Option<usize>| {
            let mut t = new_table(false, vec!["conn", "host + target", "status"]);
            t.add_row(vec![
                Cell::new("1"),
                Cell::new(flex_text(url.clone(), flex)),
                Cell::new("200"),
            ]);
            t
        };
        let table = fit_to(80, 1, build).to_string();
        assert!(table.lines().all(|l| l.width() <= 80), "{table}");
        assert_eq!(table.lines().count(), 5, "{table}");
        assert!(
            table.contains("example.com/aaa") && table.contains('…'),
            "{table}"
        );
        // Room enough: whole.
        assert!(fit_to(300, 1, build).to_string().contains(&url));
    }

    /// The bug: a SYN scan's finding listed a thousand packet numbers in one paragraph.
    #[test]
    fn a_finding_lists_its_first_packets_and_counts_the_rest() {
        let figures = crate::report::figures::Figures::Merged(crate::report::figures::Merged {
            aggregated: 6,
            by: None,
            connection_count: 6,
            connections_dropped: 0,
            open_ports: Vec::new(),
            outcome: None,
            packets_dropped: 5,
            server_ports: 1,
        });
        let f = Finding {
            kind: crate::report::model::FindingKind::HandshakeFailed,
            severity: Severity::Warning,
            input: 0,
            connections: vec![1],
            packets: (1..=20).collect(),
            message: "m".into(),
            figures,
        };
        assert_eq!(
            finding_text(&f),
            "- [warning] handshake_failed: m (packets 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, \
             … and 13 more)"
        );
    }

    /// A report of two connections captured together, built from real packets: one
    /// carrying two requests and closed by the client's FIN, one whose single request
    /// the server answered with a reset.
    fn two_connection_report() -> Report {
        use crate::flow::table::tests_support::{capture, Conv};
        let mut reused = Conv::open(40000, 0.0);
        reused
            .request(0.010, "GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n")
            .response(0.020, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .request(1.010, "GET /b HTTP/1.1\r\nHost: example.com\r\n\r\n")
            .response(1.030, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            .fin(true, 2.0);
        let mut reset = Conv::open(40001, 0.5);
        reset
            .request(0.510, "GET /c HTTP/1.1\r\nHost: example.com\r\n\r\n")
            .rst(false, 0.520);
        let connections = capture(&[&reused, &reset]);
        let packets = (reused.packets.len() + reset.packets.len()) as u64;
        let servers = crate::report::servers::rollup(&connections);
        let findings = vec![Finding {
            kind: crate::report::model::FindingKind::ConnectionReused,
            severity: Severity::Info,
            input: 0,
            connections: vec![1],
            packets: vec![4, 8],
            message: "connection 1 carried 2 requests".into(),
            figures: crate::report::figures::Figures::ConnectionReused(
                crate::report::figures::Reused {
                    client_probes: None,
                    max_concurrent_streams: None,
                    max_idle_s: 0.0,
                    requests: 2,
                    server_probes: None,
                },
            ),
        }];
        Report {
            schema: crate::report::model::SCHEMA,
            inputs: vec![InputReport {
                path: "two.pcap".into(),
                format: Some("pcap".into()),
                link_types: vec!["EN10MB".into()],
                packets,
                first_time: Some(connections[0].start),
                last_time: Some(connections[0].end),
                tcp_packets: packets,
                skipped: Default::default(),
                connections: connections.len() as u64,
                warnings: Vec::new(),
                error: None,
            }],
            connections,
            servers,
            findings,
        }
    }

    fn rendered(write: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        write(&mut out).expect("render into memory");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn the_table_shows_each_connection_its_requests_how_it_closed_and_the_findings() {
        let report = two_connection_report();
        let text = rendered(|out| write_tables(out, &report, false));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0], "two.pcap: pcap EN10MB, 16 packets, 16 TCP, 2 connections",
            "{text}"
        );
        let cells = |line: &str| -> Vec<String> {
            line.trim_matches('│')
                .split('┆')
                .map(|c| c.trim().to_string())
                .collect()
        };
        assert_eq!(
            cells(lines[2]),
            [
                "id",
                "client",
                "server",
                "start",
                "duration",
                "packets c/s",
                "bytes c/s",
                "rtt ms",
                "proto",
                "host / sni",
                "requests",
                "keep-alive",
                "close",
                "state"
            ]
        );
        let first = cells(lines[4]);
        assert_eq!(first[..3], ["1", "10.0.0.1:40000", "10.0.0.2:80"]);
        assert_eq!(first[4], "2.000s");
        assert_eq!(
            first[8..],
            [
                "http",
                "example.com",
                "2 reused",
                "-",
                "fin by client",
                "SF ShADdFf"
            ]
        );
        let second = cells(lines[5]);
        assert_eq!(second[..3], ["2", "10.0.0.1:40001", "10.0.0.2:80"]);
        assert_eq!(
            second[8..],
            [
                "http",
                "example.com",
                "1",
                "-",
                "rst by server",
                "RSTR ShADr"
            ]
        );
        assert!(lines[6].starts_with('└'), "{text}");
        // The per-server table, then the findings.
        let server_row = text
            .lines()
            .find(|l| l.starts_with("│ 10.0.0.2:80"))
            .map(cells);
        assert_eq!(
            server_row.as_deref(),
            Some(
                &["10.0.0.2:80", "example.com", "2", "3", "1.50", "1", "1 2"].map(String::from)[..]
            ),
            "{text}"
        );
        assert!(
            text.ends_with(
                "\nFindings:\n- [info] connection_reused: connection 1 carried 2 requests \
                 (packets 4, 8)\n"
            ),
            "{text}"
        );
    }

    /// The cells of each row of a rendered comfy-table grid, header first.
    fn table_rows(text: &str) -> Vec<Vec<&str>> {
        text.lines()
            .filter(|l| l.starts_with('│'))
            .map(|l| l.trim_matches('│').split('┆').map(str::trim).collect())
            .collect()
    }

    #[test]
    fn the_http_view_lists_each_exchange_on_its_connection() {
        let report = two_connection_report();
        let text = rendered(|out| write_http(out, &report, false));
        let rows = table_rows(&text);
        assert_eq!(
            rows[0][..6],
            ["conn", "#", "time", "method", "host + target", "status"]
        );
        let exchanges: Vec<[&str; 4]> =
            rows[1..].iter().map(|r| [r[0], r[1], r[4], r[5]]).collect();
        assert_eq!(
            exchanges,
            [
                ["1", "1", "example.com/a", "200"],
                ["1", "2", "example.com/b", "404"],
                ["2", "1", "example.com/c", "-"],
            ]
        );
    }

    #[test]
    fn the_servers_view_counts_connections_and_requests_per_server() {
        let report = two_connection_report();
        let text = rendered(|out| write_servers(out, &report, false));
        let rows = table_rows(&text);
        assert_eq!(
            rows,
            [
                vec![
                    "server",
                    "hosts",
                    "connections",
                    "requests",
                    "requests/conn",
                    "reused conns",
                    "connection ids"
                ],
                vec!["10.0.0.2:80", "example.com", "2", "3", "1.50", "1", "1 2"],
            ]
        );
    }

    /// Colour only adds escape codes around the words: taken out, the bytes are those
    /// of a pipe.
    #[test]
    fn colour_wraps_close_state_and_severity_and_changes_no_word() {
        let report = two_connection_report();
        let render = |paint: Paint| {
            let rows: Vec<ConnectionRow> =
                report.connections.iter().map(ConnectionRow::of).collect();
            let mut widths = RowWidths::default();
            rows.iter().for_each(|r| widths.add(r));
            let findings: Vec<String> = report.findings.iter().map(finding_text).collect();
            rendered(|out| {
                write_input(
                    out,
                    &report,
                    0,
                    (&widths, rows.iter().map(|r| r.id).max().unwrap_or(0)),
                    (false, &Columns::All, paint),
                    |each| rows.iter().try_for_each(&mut *each),
                    |each| findings.iter().try_for_each(|f| each(f)),
                )
            })
        };
        let plain = render(Paint::OFF);
        assert!(!plain.contains('\x1b'));
        assert_eq!(plain, rendered(|out| write_tables(out, &report, false)));
        let coloured = render(Paint::new(true));
        assert!(
            coloured.contains("\x1b[32mfin by client\x1b[0m"),
            "{coloured}"
        );
        assert!(
            coloured.contains("\x1b[31mrst by server\x1b[0m"),
            "{coloured}"
        );
        assert!(coloured.contains("\x1b[32mSF ShADdFf\x1b[0m"), "{coloured}");
        assert!(
            coloured.contains("- \x1b[2m[info]\x1b[0m connection_reused:"),
            "{coloured}"
        );
        let stripped = coloured
            .split('\x1b')
            .enumerate()
            .map(|(i, part)| {
                if i == 0 {
                    part
                } else {
                    part.split_once('m').map_or(part, |(_, rest)| rest)
                }
            })
            .collect::<String>();
        assert_eq!(stripped, plain);
    }

    #[test]
    fn a_row_comes_back_from_its_bytes_and_damaged_bytes_are_an_error() {
        let row = ConnectionRow {
            id: 0,
            cells: std::array::from_fn(|i| format!("cell {i} é")),
            inferred: true,
        };
        let mut bytes = Vec::new();
        row.encode(&mut bytes);
        let mut back = ConnectionRow::default();
        back.decode(42, &bytes).expect("decodes");
        assert_eq!(back.id, 42);
        assert_eq!(back.cells, row.cells);
        assert!(back.inferred);
        for cut in [0, 3, 10, bytes.len() - 1] {
            assert!(back.decode(1, &bytes[..cut]).is_err(), "cut at {cut}");
        }
        bytes.push(0);
        assert!(back.decode(1, &bytes).is_err());
    }

    #[test]
    fn the_inferred_flag_is_typed_not_read_from_the_requests_cell() {
        let mut widths = RowWidths::default();
        let mut row = ConnectionRow::default();
        row.cells[9] = "~3".into();
        widths.add(&row);
        assert!(!widths.inferred, "a `~` in a cell says nothing");
        row.inferred = true;
        widths.add(&row);
        assert!(widths.inferred);
        assert_eq!(widths.rows, 2);
    }

    /// A report of `connections` alone (one input, no findings).
    fn report_of(connections: Vec<ConnectionRecord>) -> Report {
        let mut report = two_connection_report();
        report.inputs[0].connections = connections.len() as u64;
        report.servers = crate::report::servers::rollup(&connections);
        report.connections = connections;
        report.findings.clear();
        report
    }

    /// Two HTTP/2 connections: h2 in decrypted TLS with three streams, two at once,
    /// and h2c with one.
    fn h2_report() -> Report {
        use crate::report::exchange::h2_support::{conv, records, Stream};
        let tls = [
            Stream(1, 1.0, 1.5),
            Stream(3, 1.1, 1.2),
            Stream(5, 3.0, 3.1),
        ];
        let h2c = [Stream(1, 2.0, 2.1)];
        let a = conv(40000, 0.0, true, &tls, Some(4.0));
        let b = conv(40001, 1.9, false, &h2c, Some(4.0));
        report_of(records(&[(&a, &tls), (&b, &h2c)]))
    }

    #[test]
    fn decrypted_and_h2c_connections_show_http2_and_their_streams_without_a_tilde() {
        let report = h2_report();
        let text = rendered(|out| write_tables(out, &report, false));
        let rows = table_rows(&text);
        let proto = rows[0].iter().position(|c| *c == "proto").expect("proto");
        let requests = rows[0]
            .iter()
            .position(|c| *c == "requests")
            .expect("requests");
        assert_eq!(
            (rows[1][proto], rows[1][requests]),
            ("tls/h2", "3 reused (2 at once)"),
            "{text}"
        );
        assert_eq!((rows[2][proto], rows[2][requests]), ("h2c", "1"), "{text}");
        // Nothing was inferred, so no footnote either.
        assert!(!text.contains('~'), "{text}");
        // Without keys the same connection stays `tls` with inferred exchanges.
        let mut no_keys = h2_report();
        let c = &mut no_keys.connections[0];
        c.http2 = None;
        c.http.clear();
        c.requests_inferred = true;
        let text = rendered(|out| write_tables(out, &no_keys, false));
        let rows = table_rows(&text);
        assert_eq!(rows[1][proto], "tls", "{text}");
        assert!(rows[1][requests].starts_with('~'), "{text}");
    }

    #[test]
    fn the_http_view_names_each_http2_stream_and_adds_nothing_for_http1() {
        let report = h2_report();
        let text = rendered(|out| write_http(out, &report, false));
        let rows = table_rows(&text);
        assert_eq!(rows[0][..4], ["conn", "#", "stream", "time"], "{text}");
        let streams: Vec<(&str, &str, &str)> =
            rows[1..].iter().map(|r| (r[0], r[1], r[2])).collect();
        assert_eq!(
            streams,
            [
                ("1", "1", "1"),
                ("1", "2", "3"),
                ("1", "3", "5"),
                ("2", "1", "1")
            ]
        );
        assert!(rows[2][4..].contains(&"api.example/item/3"), "{text}");
        // HTTP/1.x alone: no stream column.
        let text = rendered(|out| write_http(out, &two_connection_report(), false));
        assert!(!text.contains("stream"), "{text}");
    }

    #[test]
    fn the_servers_view_counts_http2_connections_and_their_streams_as_requests() {
        let report = h2_report();
        let text = rendered(|out| write_servers(out, &report, false));
        let rows = table_rows(&text);
        // Two servers (443 and 80): each an HTTP connection, streams as requests.
        assert_eq!(
            rows[1][..6],
            ["10.0.0.2:443", "api.example", "1", "3", "3.00", "1"]
        );
        assert_eq!(
            rows[2][..6],
            ["10.0.0.2:80", "api.example", "1", "1", "1.00", "0"]
        );
    }
}
