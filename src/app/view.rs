//! `analyze`, `http`, `servers` and `timeline`: analyse the captures, then print the
//! one view asked for. The connection table and the JSON document are written from
//! what was spilled while reading; the other views lay out the kept report.

use super::analyze::{analyze_files, Reading};
use super::config::{Selection, View, ViewConfig};
use super::error::AppError;
use super::sink::Destination;
use super::{EXIT_ERROR, EXIT_OK};
use crate::cli::{Format, ViewFormat};
use crate::report::model::{ConnectionRecord, Timeline};
use crate::report::pager::PagedStdout;
use crate::report::table::SpilledInput;
use crate::report::zeek_logs::ZeekLogs;
use crate::report::{json, table, timeline};
use crate::story;
use std::io::{BufWriter, Write};

pub fn run(config: &ViewConfig) -> Result<u8, AppError> {
    // Not locked: the JSONL stream may be written from a second thread. A stream is
    // watched as it comes, so it is never paged.
    let console = config.console;
    let paged = console.page && !matches!(config.view, View::Connections(Format::Jsonl, _));
    let mut out = BufWriter::with_capacity(1 << 16, PagedStdout::new(paged));
    let destination = match config.view {
        View::Connections(Format::Jsonl, _) => Destination::Stream {
            out: &mut out,
            flush: false,
        },
        View::Connections(Format::Json, _) => Destination::Document { pretty: false },
        View::Connections(Format::Table, _) => Destination::Rows,
        _ => Destination::Keep,
    };
    let zeek_logs = match &config.zeek_logs {
        Some(dir) => Some(std::sync::Mutex::new(ZeekLogs::create(dir)?)),
        None => None,
    };
    let reading = Reading {
        filter: config.filter.as_deref(),
        zeek: zeek_logs.as_ref(),
        ..Reading::of(&config.tracking)
    };
    let analysis = analyze_files(&config.files, &reading, destination)?;
    if let Some(logs) = zeek_logs.and_then(|logs| logs.into_inner().ok()) {
        let inputs = &analysis.report.inputs;
        let first = inputs.iter().filter_map(|i| i.first_time).min();
        let last = inputs.iter().filter_map(|i| i.last_time).max();
        logs.finish(first, last)?;
    }
    let mut spills = analysis.spills;
    let mut finding_spills = analysis.finding_spills;
    let report = analysis.report;
    let mut code = if analysis.input_error {
        EXIT_ERROR
    } else {
        EXIT_OK
    };
    let terminal = config.stdout_terminal;
    let written = match (analysis.write_error, &config.view) {
        (Some(e), _) => Err(e),
        (None, View::Connections(Format::Jsonl, _)) => Ok(()),
        // The page and the chart are drawn by `picture`, where `Config` sends them.
        (None, View::Connections(Format::Html | Format::Svg, _)) => Ok(()),
        (None, View::Connections(Format::Json, _)) => {
            json::write_document(&mut out, &report, &mut spills, &mut finding_spills)
        }
        (None, View::Connections(Format::Table, columns)) => {
            let mut inputs = SpilledInput::zip(spills, analysis.widths, finding_spills);
            table::write_spilled_tables(
                &mut out,
                &report,
                &mut inputs,
                terminal,
                columns,
                console.paint,
            )
        }
        (None, View::Http(ViewFormat::Table)) => table::write_http(&mut out, &report, terminal),
        (None, View::Http(ViewFormat::Json)) => json::write_http(&mut out, &report),
        (None, View::Servers(ViewFormat::Table)) => {
            table::write_servers(&mut out, &report, terminal)
        }
        (None, View::Servers(ViewFormat::Json)) => json::write_value(&mut out, &report.servers),
        (None, View::Timeline { format, selection }) => {
            if let Some(line) = selection.missing(&report.connections) {
                crate::say!("connscope: error: {}", AppError::NoSuchConnection(line));
                code = EXIT_ERROR;
            }
            let timelines: Vec<Timeline> = report
                .connections
                .iter()
                .filter(|c| selection.matches(c))
                .map(story::timeline)
                .collect();
            match format {
                ViewFormat::Json => json::write_value(&mut out, &timelines),
                ViewFormat::Table => timeline::write_timelines(
                    &mut out,
                    &report.inputs,
                    &timelines,
                    timeline::Style {
                        terminal,
                        paint: console.paint,
                    },
                ),
            }
        }
    };
    super::finish_output(written.and_then(|()| out.flush()), code)
}

impl Selection {
    /// The `--conn` ids no connection has, said in one line: asking for a connection
    /// that is not there is a usage error, not an empty answer.
    fn missing(&self, conns: &[ConnectionRecord]) -> Option<String> {
        let missing: Vec<String> = self
            .ids
            .iter()
            .filter(|id| !conns.iter().any(|c| c.id == **id))
            .map(u64::to_string)
            .collect();
        if missing.is_empty() {
            return None;
        }
        let ids = || conns.iter().map(|c| c.id);
        let range = match (ids().min(), ids().max()) {
            (Some(first), Some(last)) if first == last => {
                format!("its only connection is {first}")
            }
            (Some(first), Some(last)) => format!("its connections are {first} to {last}"),
            _ => "it has no TCP connections".to_string(),
        };
        Some(format!(
            "--conn {}: no such connection in the capture ({range})",
            missing.join(", ")
        ))
    }

    /// A `Host` header (any port) or the TLS SNI names the host, as `check host=` reads it.
    fn matches(&self, c: &ConnectionRecord) -> bool {
        (self.ids.is_empty() || self.ids.contains(&c.id))
            && self.server.as_ref().is_none_or(|(host, port)| {
                c.server.port == *port
                    && (host.is_empty()
                        || c.server.ip.to_string() == *host
                        || crate::host::addressed_as(c, host))
            })
            && self
                .host
                .as_ref()
                .is_none_or(|want| crate::host::addressed_as(c, want))
    }
}
