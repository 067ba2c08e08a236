//! The human renderer: for each input, a summary line and a table with one row per
//! connection (comfy-table). Reads only the report model.

use super::model::{
    CloseHow, ConnectionRecord, HttpExchange, InputReport, Report, ServerSummary, Severity,
};
use crate::flow::key::Direction;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};
use std::io::{self, Write};

pub fn write_tables(out: &mut impl Write, report: &Report, terminal: bool) -> io::Result<()> {
    for (index, input) in report.inputs.iter().enumerate() {
        if index > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}", summary_line(input))?;
        let rows: Vec<&ConnectionRecord> = report
            .connections
            .iter()
            .filter(|c| c.input == index)
            .collect();
        if rows.is_empty() {
            continue;
        }
        writeln!(out, "{}", connection_table(&rows, terminal))?;
        if rows.iter().any(|c| c.requests_inferred && c.requests > 0) {
            writeln!(
                out,
                "~ exchanges inferred from encrypted TLS records (see docs/tls.md)"
            )?;
        }
        let servers: Vec<&ServerSummary> =
            report.servers.iter().filter(|s| s.input == index).collect();
        if servers.iter().any(|s| s.http_connections > 0) {
            writeln!(out, "{}", server_table(&servers, terminal))?;
        }
        write_findings(out, report, index)?;
    }
    Ok(())
}

/// The findings of one input, one paragraph each.
fn write_findings(out: &mut impl Write, report: &Report, input: usize) -> io::Result<()> {
    let found: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.input == input)
        .collect();
    if found.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nFindings:")?;
    for f in found {
        let packets: Vec<String> = f.packets.iter().map(u64::to_string).collect();
        writeln!(
            out,
            "- [{}] {}: {}{}",
            match f.severity {
                Severity::Info => "info",
                Severity::Warning => "warning",
            },
            f.kind.as_str(),
            f.message,
            if packets.is_empty() {
                String::new()
            } else {
                format!(" (packets {})", packets.join(", "))
            }
        )?;
    }
    Ok(())
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
    let mut table = new_table(
        terminal,
        vec![
            "conn",
            "#",
            "time",
            "method",
            "host + target",
            "status",
            "ttfb ms",
            "req bytes",
            "resp bytes",
            "idle before",
        ],
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
        table.add_row(vec![
            right(conn.id),
            right(x.index),
            Cell::new(opt(time)),
            Cell::new(x.method.as_deref().unwrap_or("-")),
            Cell::new(if target.is_empty() {
                "-".into()
            } else {
                target
            }),
            Cell::new(status),
            right(opt(x.ttfb_ms.map(|ms| format!("{ms:.3}")))),
            right(x.request_body_bytes),
            right(x.response_body_bytes),
            right(opt(x.idle_before_s.map(|s| format!("{s:.3}s")))),
        ]);
    }
    table
}

fn server_table(servers: &[&ServerSummary], terminal: bool) -> Table {
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
                s.hosts.join(" ")
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

fn summary_line(input: &InputReport) -> String {
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
        ", {} packets, {} TCP",
        input.packets, input.tcp_packets
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

fn probes_cell(conn: &ConnectionRecord) -> String {
    let probes = &conn.keepalive.probes;
    if probes.is_empty() {
        return "-".into();
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
    cell
}

fn close_cell(conn: &ConnectionRecord) -> String {
    match (conn.close.how, conn.close.by) {
        (CloseHow::Open, _) => "open".into(),
        (how, Some(by)) => format!("{} by {}", how.as_str(), side_short(by)),
        (how, None) => how.as_str().into(),
    }
}

fn connection_table(rows: &[&ConnectionRecord], terminal: bool) -> Table {
    let mut table = new_table(
        terminal,
        vec![
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
            "state",
        ],
    );
    for conn in rows {
        let rtt = conn
            .handshake
            .as_ref()
            .and_then(|h| h.rtt_ms)
            .map(|ms| format!("{ms:.3}"))
            .unwrap_or_else(|| "-".into());
        // `~` marks exchanges inferred from encrypted traffic.
        let inferred = if conn.requests_inferred { "~" } else { "" };
        let requests = match (conn.requests, conn.reused) {
            (0, _) => "-".to_string(),
            (n, true) => format!("{inferred}{n} reused"),
            (n, false) => format!("{inferred}{n}"),
        };
        let host = conn
            .tls
            .as_ref()
            .and_then(|t| t.sni.clone())
            .or_else(|| conn.http.iter().find_map(|x| x.host.clone()))
            .unwrap_or_else(|| "-".into());
        table.add_row(vec![
            right(conn.id),
            Cell::new(conn.client),
            Cell::new(conn.server),
            Cell::new(conn.start.time_of_day()),
            right(format!("{:.3}s", conn.duration_s)),
            right(format!("{}/{}", conn.packets.client, conn.packets.server)),
            right(format!(
                "{}/{}",
                conn.payload_bytes.client, conn.payload_bytes.server
            )),
            right(rtt),
            Cell::new(if conn.protocol == "none" {
                "-"
            } else {
                conn.protocol
            }),
            Cell::new(host),
            right(requests),
            Cell::new(probes_cell(conn)),
            Cell::new(close_cell(conn)),
            Cell::new(format!("{} {}", conn.conn_state, conn.history)),
        ]);
    }
    table
}
