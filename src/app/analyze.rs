//! Capture files in, one report out: each input through the driver (several on their
//! own cores when nothing is streamed), its connections sent to the destination, its
//! findings and server rollup made from their digests, its warnings said on standard
//! error; ids numbered across inputs in input order, so parallel runs print the same
//! bytes as sequential ones.

use super::config::Tracking;
use super::driver::{drive, PacketFilter, Run};
use super::error::AppError;
use super::sink::{Destination, InputSink, Kept, ToWriter};
use crate::analyzers::Streams;
use crate::capture::file::Source;
use crate::capture::PacketSource;
use crate::decrypt::InputKeys;
use crate::findings::{self, Digest, Digests};
use crate::flow::table::ConnectionTable;
use crate::report::json;
use crate::report::model::{InputReport, Report, SCHEMA};
use crate::report::servers;
use crate::report::spill::Spill;
use crate::report::table::{self, RowWidths};
use crate::report::zeek_logs::ZeekLogs;
use crate::time::Timestamp;
use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Mutex};

/// How inputs are read, and where their diagnostics go.
#[derive(Clone, Debug)]
pub struct Reading<'a> {
    pub tracking: Tracking,
    /// A BPF expression: only matching packets are analysed.
    pub filter: Option<&'a str>,
    /// Where errors and warnings go: standard error, or these lines, to be printed
    /// later in order (inputs analysed in parallel).
    pub diagnostics: Option<&'a Mutex<Vec<String>>>,
    /// `--zeek-logs`: every finished connection is also written there, inputs one
    /// after the other (so the logs' order and uids do not depend on threads).
    pub zeek: Option<&'a Mutex<ZeekLogs>>,
}

impl<'a> Reading<'a> {
    pub fn of(tracking: &Tracking) -> Self {
        Reading {
            tracking: tracking.clone(),
            filter: None,
            diagnostics: None,
            zeek: None,
        }
    }

    /// An error or warning line for the user.
    pub fn say(&self, line: String) {
        match self.diagnostics.map(|d| d.lock()) {
            Some(Ok(mut lines)) => lines.push(line),
            _ => crate::say!("{line}"),
        }
    }
}

/// The whole analysis of some inputs, in order.
pub struct Analysis {
    /// With [`Destination::Keep`], the connections and findings too; otherwise
    /// everything but them.
    pub report: Report,
    /// With a spilling destination: each input's connections (or their rows), in
    /// input order.
    pub spills: Vec<Spill>,
    /// With [`Destination::Rows`]: each input's column widths.
    pub widths: Vec<RowWidths>,
    /// With a spilling destination: each input's findings (or their paragraphs).
    pub finding_spills: Vec<Spill>,
    /// An input could not be read at all.
    pub input_error: bool,
    /// Writing the output failed (a closed pipe, a full disk).
    pub write_error: Option<io::Error>,
}

/// One input, read.
struct InputResult {
    run: Run,
    report: InputReport,
    kept: Kept,
}

/// Finished connections in flight between the reading thread and the writing one.
const PIPELINE_DEPTH: usize = 256;

fn run_input<'a>(
    index: usize,
    arg: &'a str,
    first_id: u64,
    show_progress: bool,
    reading: &Reading<'a>,
    destination: Destination<'a>,
) -> Result<InputResult, AppError> {
    let mut filter = PacketFilter::new(reading.filter)?;
    // With a core to spare, connections are serialised, digested and written on a
    // second thread while the first reads on: a pipeline, so one large file uses two
    // cores. The writer takes them in the order they finished, so the output is the
    // same. Only where serialising is the heavy part (JSON): for table rows, handing
    // records across threads costs more than it saves (docs/performance.md).
    let pipelined = destination.serialises() && rayon::current_num_threads() > 1;
    let mut sink = InputSink::new(destination, arg, reading.zeek)?;
    let keys = InputKeys::shared(Arc::clone(&reading.tracking.keys.log));
    let table = ConnectionTable::new(index, first_id, Streams::factory(&keys))
        .with_syn_timeout(reading.tracking.syn_timeout_nanos);
    let mut source = PacketSource::File(Source::from_arg(arg));
    let run = if pipelined {
        std::thread::scope(|scope| {
            let (to_writer, finished) = std::sync::mpsc::sync_channel(PIPELINE_DEPTH);
            let writer = scope.spawn(|| {
                use super::driver::Sink;
                for record in finished {
                    if sink.finished(record).is_break() {
                        break; // dropping the receiver stops the reader
                    }
                }
            });
            let mut to_writer = ToWriter(to_writer);
            let run = drive(
                &mut source,
                table,
                &mut filter,
                show_progress,
                Some(&keys),
                &mut to_writer,
            );
            drop(to_writer);
            writer.join().map_err(|_| AppError::WriterThread)?;
            Ok::<_, AppError>(run)
        })?
    } else {
        drive(
            &mut source,
            table,
            &mut filter,
            show_progress,
            Some(&keys),
            &mut sink,
        )
    };
    Ok(InputResult {
        report: run.input_report(source.name()),
        run,
        kept: sink.finish(),
    })
}

/// Analyses `files` in order into one report with its findings and per-server rollup,
/// printing errors and warnings on standard error. Several files are analysed in
/// parallel, one per core, unless each connection is streamed as it finishes.
pub fn analyze_files(
    files: &[String],
    reading: &Reading<'_>,
    mut destination: Destination<'_>,
) -> Result<Analysis, AppError> {
    PacketFilter::new(reading.filter)?; // a usage error before any file is read
    let quiet = reading.tracking.quiet;
    let mut analysis = Analysis {
        report: Report {
            schema: SCHEMA,
            inputs: Vec::new(),
            connections: Vec::new(),
            servers: Vec::new(),
            findings: Vec::new(),
        },
        spills: Vec::new(),
        widths: Vec::new(),
        finding_spills: Vec::new(),
        input_error: false,
        write_error: None,
    };
    let settings = findings::Settings {
        idle_open_s: reading.tracking.idle_threshold,
    };
    // Several files without a stream to feed: each is analysed on its own core, with
    // connection ids from 1; the merge below renumbers them in input order, so the
    // output is byte-identical to a sequential run.
    let streaming = matches!(destination, Destination::Stream { .. });
    let parallel = !streaming && files.len() > 1 && reading.zeek.is_none();
    let mut done: Vec<Result<InputResult, AppError>> = if parallel {
        use rayon::prelude::*;
        let parked: Vec<Destination<'_>> = files.iter().map(|_| destination.parked()).collect();
        files
            .par_iter()
            .zip(parked)
            .enumerate()
            .map(|(index, (arg, parked))| run_input(index, arg, 1, false, reading, parked))
            .collect()
    } else {
        Vec::new()
    };
    done.reverse();
    let mut next_id = 1;
    for (index, arg) in files.iter().enumerate() {
        let result = match done.pop() {
            Some(result) => result,
            None => {
                let show_progress = !quiet && io::stderr().is_terminal();
                let here = match &mut destination {
                    Destination::Stream { out, flush } => Destination::Stream {
                        out: &mut **out,
                        flush: *flush,
                    },
                    other => other.parked(),
                };
                run_input(index, arg, next_id, show_progress, reading, here)
            }
        };
        let InputResult {
            mut run,
            report: input_report,
            kept: mut sink,
        } = result?;
        let offset = if parallel { next_id - 1 } else { 0 };
        if offset > 0 {
            for record in &mut sink.records {
                record.id += offset;
            }
            sink.digests.renumber(offset);
            for (id, _) in &mut sink.warnings {
                *id += offset;
            }
            if let Some(spill) = &mut sink.spill {
                spill.number_after(offset);
            }
        }
        run.next_id += offset;
        if analysis.write_error.is_none() {
            analysis.write_error = sink.write_error.take();
        }
        // Said before the findings are written, as a terminal showing both expects.
        if let Some(e) = &run.error {
            reading.say(format!("connscope: error: {e}"));
            analysis.input_error = true;
        }
        if !quiet {
            print_warnings(reading, &input_report, &sink.warnings, sink.warning_count);
        }
        let digests = std::mem::take(&mut sink.digests);
        let digests = if digests.is_empty() {
            sink.records.iter().map(Digest::of).collect()
        } else {
            digests
        };
        diagnose_input(
            index,
            arg,
            &digests,
            input_report.last_time,
            &settings,
            &mut destination,
            &mut analysis,
        )?;
        analysis
            .report
            .servers
            .extend(servers::rollup_digests(index, &digests));
        drop(digests);
        next_id = run.next_id;
        analysis.report.connections.append(&mut sink.records);
        analysis.spills.extend(sink.spill.take());
        analysis.widths.extend(sink.widths.take());
        analysis.report.inputs.push(input_report);
        if analysis.write_error.is_some() {
            break;
        }
    }
    Ok(analysis)
}

/// One input's findings: into the report, straight onto the stream after the input's
/// connections, or spilled as they are made — as document items or table paragraphs —
/// to be written in order.
pub fn diagnose_input(
    index: usize,
    arg: &str,
    digests: &Digests,
    capture_end: Option<Timestamp>,
    settings: &findings::Settings,
    destination: &mut Destination<'_>,
    analysis: &mut Analysis,
) -> Result<(), AppError> {
    if let Destination::Keep = destination {
        let mut found = Vec::new();
        findings::diagnose_digests(index, digests, capture_end, settings, &mut |f| {
            found.push(f)
        });
        found.sort_by_key(findings::order);
        analysis.report.findings.extend(found);
        return Ok(());
    }
    let mut spill = Spill::new().map_err(|cause| AppError::SpillCreate {
        what: "findings",
        cause,
    })?;
    let mut made = 0u64;
    let mut failed = None;
    findings::diagnose_digests(index, digests, capture_end, settings, &mut |f| {
        // Listed by first connection and kind, then in the order made.
        let (first, kind) = findings::order(&f);
        let key = (first, (kind as u64) << 32 | made);
        made += 1;
        let pushed = match destination {
            Destination::Stream { .. } => spill.push(key, &json::Line::finding(arg, &f)),
            Destination::Rows => spill.push(key, &table::finding_text(&f)),
            Destination::Document { pretty: true } => spill.push_nested(key, &f),
            _ => spill.push(key, &f),
        };
        failed = failed.take().or(pushed.err());
    });
    if let Some(e) = failed {
        return Err(AppError::SpillFindings(e));
    }
    match destination {
        Destination::Stream { out, .. } => {
            if analysis.write_error.is_none() {
                analysis.write_error = spill
                    .for_each_in_order(|line| {
                        out.write_all(line.as_bytes())?;
                        out.write_all(b"\n")
                    })
                    .err();
            }
        }
        _ => analysis.finding_spills.push(spill),
    }
    Ok(())
}

/// An input's warnings, and its connections' (the first few), on standard error.
fn print_warnings(
    reading: &Reading<'_>,
    input: &InputReport,
    connection_warnings: &[(u64, String)],
    count: usize,
) {
    let path = &input.path;
    for w in &input.warnings {
        reading.say(format!("connscope: warning: {path}: {}", w.message));
    }
    for (id, message) in connection_warnings {
        reading.say(format!(
            "connscope: warning: {path}: connection {id}: {message}"
        ));
    }
    if count > connection_warnings.len() {
        let more = count - connection_warnings.len();
        reading.say(format!(
            "connscope: warning: {path}: {more} more connection warning{} (see the JSON report)",
            if more == 1 { "" } else { "s" }
        ));
    }
}
