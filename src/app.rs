//! The one place that wires the stages together: for each input, read packets
//! (`capture`), decode them (`decode`), follow connections (`flow`), and hand the
//! finished records to the chosen renderer (`report`).

use crate::capture::file::{read_packets, CaptureError, ReadSummary, Source};
use crate::cli::{AnalyzeArgs, Cli, Command, Format};
use crate::decode::{decode, Skip};
use crate::flow::table::ConnectionTable;
use crate::report::model::{ConnectionRecord, InputReport, Report, WarningRecord, SCHEMA};
use crate::report::{json, table};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Exit codes: 0 ok, 2 usage or input error (1, a failed check, comes with `check`).
pub const EXIT_OK: u8 = 0;
pub const EXIT_ERROR: u8 = 2;

pub fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Analyze(args) => analyze(&args),
    }
}

/// The result of analysing one input.
pub struct InputOutcome {
    pub report: InputReport,
    /// The id the next input's first connection gets.
    pub next_id: u64,
    /// The reader could not open or recognise the input.
    pub error: Option<CaptureError>,
}

/// Analyses one capture. `on_connection` receives each connection as it finishes and
/// may stop the analysis early (a closed output pipe) by returning `Break`.
pub fn analyze_input(
    index: usize,
    source: &Source,
    first_id: u64,
    show_progress: bool,
    mut on_connection: impl FnMut(ConnectionRecord) -> ControlFlow<()>,
) -> InputOutcome {
    let bytes_read = Arc::new(AtomicU64::new(0));
    let progress = show_progress.then(|| progress_bar(source)).flatten();
    let mut table = ConnectionTable::new(index, first_id);
    let mut skipped: BTreeMap<Skip, u64> = BTreeMap::new();
    let mut tcp_packets = 0u64;
    let mut connections = 0u64;
    let stopped = std::cell::Cell::new(false);
    let mut finished = |record: ConnectionRecord| {
        connections += 1;
        if !stopped.get() && on_connection(record).is_break() {
            stopped.set(true);
        }
    };
    let result = read_packets(source, Arc::clone(&bytes_read), |packet| {
        if let Some(bar) = &progress {
            if packet.number % PROGRESS_EVERY == 0 {
                bar.set_position(bytes_read.load(Ordering::Relaxed));
            }
        }
        match decode(packet.link_type, packet.data, packet.orig_len) {
            Ok(segment) => {
                tcp_packets += 1;
                table.on_segment(&segment, packet.number, packet.ts, &mut finished);
            }
            Err(skip) => *skipped.entry(skip).or_default() += 1,
        }
        if stopped.get() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let next_id = table.next_id();
    table.finish_all(&mut finished);
    let (summary, error) = match result {
        Ok(summary) => (summary, None),
        Err(e) => (ReadSummary::default(), Some(e)),
    };
    let mut warnings: Vec<WarningRecord> = summary
        .warnings
        .iter()
        .map(|w| WarningRecord {
            packet: w.packet,
            message: w.message.clone(),
        })
        .collect();
    for (skip, count) in &skipped {
        if let Skip::UnsupportedLinkType(lt) = skip {
            warnings.push(WarningRecord {
                packet: None,
                message: format!(
                    "link type {} is not one connscope decodes; its {count} packets were skipped",
                    lt.0
                ),
            });
        }
    }
    if summary.warnings_dropped > 0 {
        warnings.push(WarningRecord {
            packet: None,
            message: format!("{} more warnings not shown", summary.warnings_dropped),
        });
    }
    let report = InputReport {
        path: source.to_string(),
        format: error.is_none().then(|| summary.format.clone()),
        link_types: summary.link_types.iter().map(|lt| lt.name()).collect(),
        packets: summary.packets,
        tcp_packets,
        skipped: skipped.into_iter().map(|(k, v)| (k.key(), v)).collect(),
        connections,
        warnings,
        error: error.as_ref().map(|e| e.to_string()),
    };
    InputOutcome {
        report,
        next_id,
        error,
    }
}

/// Packets between progress-bar updates.
const PROGRESS_EVERY: u64 = 16_384;
/// Files smaller than this read too fast for a progress bar to help.
const PROGRESS_MIN_BYTES: u64 = 32 << 20;

/// A progress bar on standard error for a large file, sized in file bytes.
fn progress_bar(source: &Source) -> Option<ProgressBar> {
    let Source::Path(path) = source else {
        return None;
    };
    let size = std::fs::metadata(path).ok()?.len();
    if size < PROGRESS_MIN_BYTES {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(source.to_string());
    Some(bar)
}

fn analyze(args: &AnalyzeArgs) -> u8 {
    let show_progress = !args.quiet && io::stderr().is_terminal();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut report = Report {
        schema: SCHEMA,
        inputs: Vec::new(),
        connections: Vec::new(),
    };
    let mut next_id = 1;
    let mut code = EXIT_OK;
    let mut write_error: Option<io::Error> = None;
    for (index, arg) in args.files.iter().enumerate() {
        let source = Source::from_arg(arg);
        let outcome = analyze_input(index, &source, next_id, show_progress, |record| {
            if args.format == Format::Jsonl {
                if let Err(e) = json::write_line(&mut out, &record) {
                    write_error = Some(e);
                    return ControlFlow::Break(());
                }
            } else {
                report.connections.push(record);
            }
            ControlFlow::Continue(())
        });
        next_id = outcome.next_id;
        if let Some(e) = &outcome.error {
            eprintln!("connscope: error: {e}");
            code = EXIT_ERROR;
        }
        if !args.quiet {
            for w in &outcome.report.warnings {
                eprintln!("connscope: warning: {}: {}", outcome.report.path, w.message);
            }
        }
        report.inputs.push(outcome.report);
        if write_error.is_some() {
            break;
        }
    }
    let written = match (write_error, args.format) {
        (Some(e), _) => Err(e),
        (None, Format::Jsonl) => Ok(()),
        (None, Format::Json) => json::write_report(&mut out, &report),
        (None, Format::Table) => table::write_tables(&mut out, &report, io::stdout().is_terminal()),
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => code,
        // `connscope … | head`: the reader left, which is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => code,
        Err(e) => {
            eprintln!("connscope: error: writing output: {e}");
            EXIT_ERROR
        }
    }
}
