//! The human renderer: for each input, a summary line and a table with one row per
//! connection (comfy-table). Reads only the report model.

use super::model::{CloseHow, ConnectionRecord, InputReport, Report};
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
    }
    Ok(())
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
    table.set_header(vec![
        "id",
        "client",
        "server",
        "start",
        "duration",
        "packets c/s",
        "bytes c/s",
        "rtt ms",
        "keep-alive",
        "close",
        "state",
    ]);
    for conn in rows {
        let rtt = conn
            .handshake
            .as_ref()
            .and_then(|h| h.rtt_ms)
            .map(|ms| format!("{ms:.3}"))
            .unwrap_or_else(|| "-".into());
        table.add_row(vec![
            Cell::new(conn.id).set_alignment(CellAlignment::Right),
            Cell::new(conn.client),
            Cell::new(conn.server),
            Cell::new(conn.start.time_of_day()),
            Cell::new(format!("{:.3}s", conn.duration_s)).set_alignment(CellAlignment::Right),
            Cell::new(format!("{}/{}", conn.packets.client, conn.packets.server))
                .set_alignment(CellAlignment::Right),
            Cell::new(format!(
                "{}/{}",
                conn.payload_bytes.client, conn.payload_bytes.server
            ))
            .set_alignment(CellAlignment::Right),
            Cell::new(rtt).set_alignment(CellAlignment::Right),
            Cell::new(probes_cell(conn)),
            Cell::new(close_cell(conn)),
            Cell::new(format!("{} {}", conn.conn_state, conn.history)),
        ]);
    }
    table
}
