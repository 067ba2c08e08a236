//! The one place that wires the stages together: for each input, read packets
//! (`capture`), decode them (`decode`), follow connections (`flow`), and hand the
//! finished records to the chosen renderer (`report`).

use crate::capture::file::{read_packets, CaptureError, ReadSummary, Source};
use crate::check;
use crate::cli::{
    nanos, CheckArgs, Cli, Command, Format, InputArgs, TimelineArgs, TrackingArgs, ViewFormat,
};
use crate::decode::{Decoder, Skip};
use crate::findings::{self, Digest, Digests};
use crate::flow::table::ConnectionTable;
use crate::report::model::{
    ConnectionRecord, Finding, InputReport, Report, Timeline, WarningRecord, SCHEMA,
};
use crate::report::pager::PagedStdout;
use crate::report::spill::Spill;
use crate::report::style::Console;
use crate::report::table::{ConnectionRow, RowWidths, SpilledInput};
use crate::report::zeek_logs::ZeekLogs;
use crate::report::{json, servers, table, timeline};
use crate::story;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// What a build without the `live` feature says when asked to capture.
#[cfg(not(feature = "live"))]
pub const NO_LIVE: &str = "this connscope was built without live capture. Install libpcap's headers and build \
with the `live` feature: `sudo apt-get install libpcap-dev && cargo install --path . --features live` \
(or `cargo build --release --features live`)";

#[cfg(feature = "live")]
fn list_interfaces() -> u8 {
    match crate::capture::live::interfaces() {
        Ok(list) => {
            for i in list {
                let mut flags = Vec::new();
                if i.up {
                    flags.push("up");
                }
                if i.loopback {
                    flags.push("loopback");
                }
                println!(
                    "{:<16} {:<10} {}{}",
                    i.name,
                    flags.join(","),
                    i.addresses.join(" "),
                    i.description
                        .map(|d| format!("  ({d})"))
                        .unwrap_or_default()
                );
            }
            EXIT_OK
        }
        Err(message) => {
            crate::say!("connscope: error: {message}");
            EXIT_ERROR
        }
    }
}

/// Exit codes.
pub const EXIT_OK: u8 = 0;
pub const EXIT_CHECK_FAILED: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

pub fn run(cli: Cli) -> u8 {
    if let Some(threads) = cli.threads {
        // Only fails when a pool exists already; the default one then serves.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .build_global();
    }
    let console = Console::for_stdout(cli.color, cli.no_pager);
    match cli.command {
        Command::Analyze(args) => {
            let columns = match args.columns.as_deref().map(table::Columns::parse) {
                None => None,
                Some(Ok(columns)) => Some(columns),
                Some(Err(message)) => {
                    crate::say!("connscope: error: {message}");
                    return EXIT_ERROR;
                }
            };
            run_view(
                &args.input,
                View::Connections(args.format),
                args.filter.as_deref(),
                columns,
                args.zeek_logs.as_deref(),
                console,
            )
        }
        Command::Http(args) => run_view(
            &args.input,
            View::Http(args.format),
            None,
            None,
            None,
            console,
        ),
        Command::Servers(args) => run_view(
            &args.input,
            View::Servers(args.format),
            None,
            None,
            None,
            console,
        ),
        Command::Check(args) => run_check(&args),
        Command::Completions(args) => crate::cli_docs::run_completions(&args),
        Command::Man(args) => crate::cli_docs::run_man(&args),
        #[cfg(feature = "live")]
        Command::Live(args) => crate::live::run(&args),
        #[cfg(feature = "live")]
        Command::Interfaces => list_interfaces(),
        #[cfg(not(feature = "live"))]
        Command::Live(_) | Command::Interfaces => {
            crate::say!("connscope: error: {NO_LIVE}");
            EXIT_ERROR
        }
        Command::Timeline(args) => {
            let selection = match Selection::from_args(&args) {
                Ok(selection) => selection,
                Err(message) => {
                    crate::say!("connscope: error: {message}");
                    return EXIT_ERROR;
                }
            };
            run_view(
                &args.input,
                View::Timeline(args.format, selection),
                None,
                None,
                None,
                console,
            )
        }
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
    source: &Source,
    mut table: ConnectionTable,
    show_progress: bool,
    mut keep: impl FnMut(&crate::capture::RawPacket<'_>) -> bool,
    mut on_connection: impl FnMut(ConnectionRecord) -> ControlFlow<()>,
) -> InputOutcome {
    let bytes_read = Arc::new(AtomicU64::new(0));
    let progress = show_progress.then(|| progress_bar(source)).flatten();
    let mut skipped: BTreeMap<Skip, u64> = BTreeMap::new();
    let mut decoder = Decoder::default();
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
        if !keep(packet) {
            *skipped.entry(Skip::Filtered).or_default() += 1;
            return if stopped.get() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            };
        }
        match decoder.decode(packet.link_type, packet.data, packet.orig_len, packet.ts) {
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
    decoder.finish(&mut skipped);
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
        if let Some(message) = skip.warning(*count) {
            warnings.push(WarningRecord {
                packet: None,
                message,
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
        first_time: summary.first_ts,
        last_time: summary.last_ts,
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

/// What a command prints from the analysed inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
enum View {
    Connections(Format),
    Http(ViewFormat),
    Servers(ViewFormat),
    /// Format, which connections.
    Timeline(ViewFormat, Selection),
}

/// Which connections `timeline` shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Selection {
    ids: Vec<u64>,
    /// (address or name, port); an empty address matches any.
    server: Option<(String, u16)>,
    host: Option<String>,
}

impl Selection {
    fn from_args(args: &TimelineArgs) -> Result<Selection, String> {
        let server = match &args.server {
            None => None,
            Some(text) => {
                let (host, port) = text.rsplit_once(':').ok_or_else(|| {
                    format!("--server {text:?}: expected HOST:PORT, [IPv6]:PORT or :PORT")
                })?;
                let port = port
                    .parse::<u16>()
                    .map_err(|_| format!("--server {text:?}: {port:?} is not a port number"))?;
                Some((
                    host.trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_string(),
                    port,
                ))
            }
        };
        Ok(Selection {
            ids: args.connections.clone(),
            server,
            host: args.host.clone(),
        })
    }

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

    fn matches(&self, c: &ConnectionRecord) -> bool {
        let hosts = || {
            c.http
                .iter()
                .filter_map(|x| x.host.as_deref())
                .map(|h| host_name(h).to_string())
        };
        (self.ids.is_empty() || self.ids.contains(&c.id))
            && self.server.as_ref().is_none_or(|(host, port)| {
                c.server.port == *port
                    && (host.is_empty()
                        || c.server.ip.to_string() == *host
                        || hosts().any(|h| h.eq_ignore_ascii_case(host)))
            })
            && self
                .host
                .as_ref()
                .is_none_or(|want| hosts().any(|h| h.eq_ignore_ascii_case(want)))
    }
}

/// `example.com:8080` → `example.com`; `[::1]:80` → `::1`.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Connection warnings printed to standard error per input; the rest are counted.
const STDERR_CONNECTION_WARNINGS: usize = 20;

/// How inputs are read and connections followed.
#[derive(Clone, Copy, Debug)]
pub struct Tracking<'a> {
    /// No progress bar and no warnings on standard error.
    pub quiet: bool,
    /// `idle_open_connection`'s threshold, in seconds.
    pub idle_threshold: f64,
    /// Seconds before an unanswered connection attempt is given up.
    pub syn_timeout: f64,
    /// A BPF expression: only matching packets are analysed.
    pub filter: Option<&'a str>,
    /// Where errors and warnings go: standard error, or these lines, to be printed
    /// later in order (inputs analysed in parallel).
    pub diagnostics: Option<&'a std::sync::Mutex<Vec<String>>>,
    /// `--zeek-logs`: every finished connection is also written there, inputs one
    /// after the other (so the logs' order and uids do not depend on threads).
    pub zeek: Option<&'a std::sync::Mutex<ZeekLogs>>,
}

impl Tracking<'_> {
    /// An error or warning line for the user.
    fn say(&self, line: String) {
        match self.diagnostics.map(|d| d.lock()) {
            Some(Ok(mut lines)) => lines.push(line),
            _ => crate::say!("{line}"),
        }
    }
}

impl<'a> Tracking<'a> {
    pub fn of(quiet: bool, args: &TrackingArgs, filter: Option<&'a str>) -> Self {
        Tracking {
            quiet,
            idle_threshold: args.idle_threshold,
            syn_timeout: args.syn_timeout,
            filter,
            diagnostics: None,
            zeek: None,
        }
    }
}

/// What becomes of each connection as it finishes.
pub enum Output<'a> {
    /// Kept in the report, for the views that lay them all out (tables, timelines,
    /// `check`).
    Keep,
    /// Written at once as a JSONL line; each input's findings follow its connections.
    Lines(&'a mut (dyn Write + Send)),
    /// Parked in a spill file for the JSON document (see `report::spill`).
    Document,
    /// Parked in a spill file as rows of the connection table.
    Table,
}

/// The whole analysis of some inputs, in order.
pub struct Analysis {
    /// With `Output::Keep`, the connections too; otherwise everything but them.
    pub report: Report,
    /// With `Output::Document` or `Output::Table`: each input's connections (or
    /// their rows), in input order.
    pub spills: Vec<Spill>,
    /// With `Output::Table`: each input's column widths.
    pub widths: Vec<RowWidths>,
    /// With `Output::Document` or `Output::Table`: each input's findings (or their
    /// paragraphs), in input order.
    pub finding_spills: Vec<Spill>,
    /// An input could not be read at all.
    pub input_error: bool,
    /// Writing the output failed (a closed pipe, a full disk).
    pub write_error: Option<io::Error>,
}

/// One input, read: its connections' digests for the findings, and the connections
/// themselves wherever the output wants them.
struct InputResult {
    outcome: InputOutcome,
    records: Vec<ConnectionRecord>,
    digests: Digests,
    spill: Option<Spill>,
    widths: Option<RowWidths>,
    /// The first connection warnings, by connection id, and how many there were.
    warnings: Vec<(u64, String)>,
    warning_count: usize,
    write_error: Option<io::Error>,
}

/// One input's findings: in the report, or parked until they are written in order.
enum Found {
    Kept(Vec<Finding>),
    Spilled(Spill),
}

/// Whether a parallel worker parks connections in a spill file, and as what.
#[derive(Clone, Copy)]
enum Parked {
    No,
    Records,
    Rows,
}

/// How one input's connections are handled as they finish.
enum Each<'a> {
    Keep,
    Lines(&'a mut (dyn Write + Send), &'a str),
    Spill,
    Rows,
}

/// Where one input's connections go as they finish, and what is kept of them.
struct Sink<'a> {
    each: Each<'a>,
    spill: Option<Spill>,
    widths: Option<RowWidths>,
    records: Vec<ConnectionRecord>,
    digests: Digests,
    warnings: Vec<(u64, String)>,
    warning_count: usize,
    write_error: Option<io::Error>,
    scratch: Vec<u8>,
    /// `--zeek-logs`, and the input's path for the uids.
    zeek: Option<(&'a std::sync::Mutex<ZeekLogs>, &'a str)>,
}

impl<'a> Sink<'a> {
    fn new(each: Each<'a>) -> Result<Self, String> {
        let spill = if matches!(each, Each::Spill | Each::Rows) {
            let spill = Spill::new()
                .map_err(|e| format!("cannot create a temporary file for the report: {e}"))?;
            Some(spill)
        } else {
            None
        };
        Ok(Sink {
            widths: matches!(each, Each::Rows).then(RowWidths::default),
            spill,
            each,
            records: Vec::new(),
            digests: Digests::default(),
            warnings: Vec::new(),
            warning_count: 0,
            write_error: None,
            scratch: Vec::new(),
            zeek: None,
        })
    }

    /// Takes a finished connection; `Break` when the output failed.
    fn take(&mut self, record: ConnectionRecord) -> ControlFlow<()> {
        self.warning_count += record.warnings.len();
        for w in &record.warnings {
            if self.warnings.len() < STDERR_CONNECTION_WARNINGS {
                self.warnings.push((record.id, w.message.clone()));
            }
        }
        if let Some((logs, input)) = self.zeek {
            let written = match logs.lock() {
                Ok(mut logs) => logs.write(input, &record),
                Err(_) => Err(io::Error::other("the Zeek log writer failed earlier")),
            };
            if let Err(e) = written {
                self.write_error = Some(e);
                return ControlFlow::Break(());
            }
        }
        let written = match (&mut self.each, &mut self.spill) {
            (Each::Keep, _) => {
                self.records.push(record);
                return ControlFlow::Continue(());
            }
            (Each::Lines(out, file), _) => {
                // Serialised into a buffer first: serde_json's many small writes then
                // go to a Vec, not through `dyn Write`.
                self.scratch.clear();
                json::write_line(&mut self.scratch, file, &record)
                    .and_then(|()| out.write_all(&self.scratch))
            }
            (Each::Spill, Some(spill)) => spill.push_connection(&record),
            (Each::Rows, Some(spill)) => {
                let row = ConnectionRow::of(&record);
                if let Some(w) = &mut self.widths {
                    w.add(&row);
                }
                spill.push((row.id, 0), &row)
            }
            (Each::Spill | Each::Rows, None) => Ok(()),
        };
        self.digests.push(Digest::of(&record));
        match written {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.write_error = Some(e);
                ControlFlow::Break(())
            }
        }
    }
}

/// Finished connections in flight between the reading thread and the writing one.
const PIPELINE_DEPTH: usize = 256;

fn run_input<'a>(
    index: usize,
    arg: &'a str,
    first_id: u64,
    show_progress: bool,
    track: &Tracking<'a>,
    each: Each<'a>,
) -> Result<InputResult, String> {
    let mut keep = packet_filter(track.filter)?;
    // With a core to spare, connections are serialised, digested and written on a
    // second thread while the first reads on: a pipeline, so one large file uses two
    // cores. The writer takes them in the order they finished, so the output is the
    // same. Only where serialising is the heavy part (JSON): for table rows, handing
    // records across threads costs more than it saves (docs/performance.md).
    let pipelined =
        matches!(each, Each::Lines(..) | Each::Spill) && rayon::current_num_threads() > 1;
    let mut sink = Sink::new(each)?;
    sink.zeek = track.zeek.map(|logs| (logs, arg));
    let table = ConnectionTable::new(index, first_id).with_syn_timeout(nanos(track.syn_timeout));
    let source = Source::from_arg(arg);
    let (outcome, sink) = if pipelined {
        std::thread::scope(|scope| {
            let (to_writer, finished) = std::sync::mpsc::sync_channel(PIPELINE_DEPTH);
            let writer = scope.spawn(move || {
                for record in finished {
                    if sink.take(record).is_break() {
                        break; // dropping the receiver stops the reader
                    }
                }
                sink
            });
            let outcome =
                analyze_input(
                    &source,
                    table,
                    show_progress,
                    &mut keep,
                    |record| match to_writer.send(record) {
                        Ok(()) => ControlFlow::Continue(()),
                        Err(_) => ControlFlow::Break(()),
                    },
                );
            drop(to_writer);
            match writer.join() {
                Ok(sink) => Ok((outcome, sink)),
                Err(_) => Err("the writing thread failed".to_string()),
            }
        })?
    } else {
        let outcome = analyze_input(&source, table, show_progress, &mut keep, |record| {
            sink.take(record)
        });
        (outcome, sink)
    };
    Ok(InputResult {
        outcome,
        records: sink.records,
        digests: sink.digests,
        spill: sink.spill,
        widths: sink.widths,
        warnings: sink.warnings,
        warning_count: sink.warning_count,
        write_error: sink.write_error,
    })
}

/// Analyses `files` in order into one report with its findings and per-server rollup,
/// printing errors and warnings on standard error. Several files are analysed in
/// parallel, one per core, unless each connection is streamed as it finishes.
pub fn analyze_files(
    files: &[String],
    track: &Tracking<'_>,
    mut output: Output<'_>,
) -> Result<Analysis, String> {
    let Tracking {
        quiet,
        idle_threshold,
        filter,
        ..
    } = *track;
    let _ = packet_filter(filter)?; // a bad filter is a usage error before any file is read
    let mut report = Report {
        schema: SCHEMA,
        inputs: Vec::new(),
        connections: Vec::new(),
        servers: Vec::new(),
        findings: Vec::new(),
    };
    let settings = findings::Settings {
        idle_open_s: idle_threshold,
    };
    let mut spills = Vec::new();
    let mut widths = Vec::new();
    let mut finding_spills = Vec::new();
    let mut input_error = false;
    let mut write_error: Option<io::Error> = None;
    // Several files without a stream to feed: each is analysed on its own core, with
    // connection ids from 1; the merge below renumbers them in input order, so the
    // output is byte-identical to a sequential run.
    let streaming = matches!(output, Output::Lines(_));
    let parallel = !streaming && files.len() > 1 && track.zeek.is_none();
    // What a worker does with each connection (it has no stream to write to).
    let parked = match output {
        Output::Document => Parked::Records,
        Output::Table => Parked::Rows,
        _ => Parked::No,
    };
    let mut done: Vec<Result<InputResult, String>> = if parallel {
        use rayon::prelude::*;
        files
            .par_iter()
            .enumerate()
            .map(|(index, arg)| {
                let each = match parked {
                    Parked::Records => Each::Spill,
                    Parked::Rows => Each::Rows,
                    Parked::No => Each::Keep,
                };
                run_input(index, arg, 1, false, track, each)
            })
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
                let each = match &mut output {
                    Output::Keep => Each::Keep,
                    Output::Lines(out) => Each::Lines(&mut **out, arg),
                    Output::Document => Each::Spill,
                    Output::Table => Each::Rows,
                };
                run_input(index, arg, next_id, show_progress, track, each)
            }
        };
        let mut input = result?;
        let offset = if parallel { next_id - 1 } else { 0 };
        if offset > 0 {
            for record in &mut input.records {
                record.id += offset;
            }
            input.digests.renumber(offset);
            for (id, _) in &mut input.warnings {
                *id += offset;
            }
            if let Some(spill) = &mut input.spill {
                spill.renumber(offset);
            }
            if let Some(widths) = &mut input.widths {
                widths.renumber(offset);
            }
        }
        let mut outcome = input.outcome;
        outcome.next_id += offset;
        if input.digests.is_empty() {
            input.digests = input.records.iter().map(Digest::of).collect();
        }
        let found = diagnose_input(
            index,
            arg,
            &input.digests,
            outcome.report.last_time,
            &settings,
            &output,
        )?;
        report
            .servers
            .extend(servers::rollup_digests(index, &input.digests));
        drop(input.digests);
        if let Some(e) = &outcome.error {
            track.say(format!("connscope: error: {e}"));
            input_error = true;
        }
        if !quiet {
            print_warnings(track, &outcome.report, &input.warnings, input.warning_count);
        }
        write_error = write_error.or(input.write_error);
        match (found, &mut output) {
            (Found::Kept(found), _) => report.findings.extend(found),
            (Found::Spilled(mut spill), Output::Lines(out)) => {
                if write_error.is_none() {
                    write_error = spill
                        .for_each_in_order(|line| {
                            out.write_all(line.as_bytes())?;
                            out.write_all(b"\n")
                        })
                        .err();
                }
            }
            (Found::Spilled(spill), _) => finding_spills.push(spill),
        }
        next_id = outcome.next_id;
        report.connections.extend(input.records);
        spills.extend(input.spill);
        widths.extend(input.widths);
        report.inputs.push(outcome.report);
        if write_error.is_some() {
            break;
        }
    }
    Ok(Analysis {
        report,
        spills,
        widths,
        finding_spills,
        input_error,
        write_error,
    })
}

/// One input's findings: kept for the report, or spilled as they are made — as JSONL
/// lines, table paragraphs or document items — to be written in order.
fn diagnose_input(
    index: usize,
    arg: &str,
    digests: &Digests,
    capture_end: Option<crate::time::Timestamp>,
    settings: &findings::Settings,
    output: &Output<'_>,
) -> Result<Found, String> {
    if let Output::Keep = output {
        let mut found = Vec::new();
        findings::diagnose_digests(index, digests, capture_end, settings, &mut |f| {
            found.push(f)
        });
        found.sort_by_key(findings::order);
        return Ok(Found::Kept(found));
    }
    let mut spill = Spill::new()
        .map_err(|e| format!("cannot create a temporary file for the findings: {e}"))?;
    let mut made = 0u64;
    let mut failed = None;
    findings::diagnose_digests(index, digests, capture_end, settings, &mut |f| {
        // Listed by first connection and kind, then in the order made.
        let (first, kind) = findings::order(&f);
        let key = (first, (kind as u64) << 32 | made);
        made += 1;
        let pushed = match output {
            Output::Lines(_) => spill.push(key, &json::Line::finding(arg, &f)),
            Output::Table => spill.push(key, &table::finding_text(&f)),
            _ => spill.push(key, &f),
        };
        failed = failed.take().or(pushed.err());
    });
    match failed {
        Some(e) => Err(format!(
            "cannot write the findings to a temporary file: {e}"
        )),
        None => Ok(Found::Spilled(spill)),
    }
}

/// An input's warnings, and its connections' (the first few), on standard error.
fn print_warnings(
    track: &Tracking<'_>,
    input: &InputReport,
    connection_warnings: &[(u64, String)],
    count: usize,
) {
    let path = &input.path;
    for w in &input.warnings {
        track.say(format!("connscope: warning: {path}: {}", w.message));
    }
    for (id, message) in connection_warnings {
        track.say(format!(
            "connscope: warning: {path}: connection {id}: {message}"
        ));
    }
    if count > connection_warnings.len() {
        let more = count - connection_warnings.len();
        track.say(format!(
            "connscope: warning: {path}: {more} more connection warning{} (see the JSON report)",
            if more == 1 { "" } else { "s" }
        ));
    }
}

/// Decides which packets are analysed.
type Keep = Box<dyn FnMut(&crate::capture::RawPacket<'_>) -> bool>;

/// The packets `analyze --filter` keeps: a BPF expression compiled by libpcap.
#[cfg(feature = "live")]
fn packet_filter(filter: Option<&str>) -> Result<Keep, String> {
    match filter {
        None => Ok(Box::new(|_| true)),
        Some(expression) => {
            let mut bpf = crate::capture::live::BpfFilter::new(expression)?;
            Ok(Box::new(move |p| bpf.matches(p)))
        }
    }
}

#[cfg(not(feature = "live"))]
fn packet_filter(filter: Option<&str>) -> Result<Keep, String> {
    match filter {
        None => Ok(Box::new(|_| true)),
        Some(_) => Err(format!("--filter needs libpcap's BPF compiler: {NO_LIVE}")),
    }
}

/// `columns`: the connection table's `--columns`, when given; `zeek`: the directory for
/// `--zeek-logs`, when given.
fn run_view(
    input: &InputArgs,
    view: View,
    filter: Option<&str>,
    columns: Option<table::Columns>,
    zeek: Option<&Path>,
    console: Console,
) -> u8 {
    // Not locked: the JSONL stream may be written from a second thread. A stream is
    // watched as it comes, so it is never paged.
    let paged = console.page && view != View::Connections(Format::Jsonl);
    let mut out = BufWriter::with_capacity(1 << 16, PagedStdout::new(paged));
    let output = match view {
        View::Connections(Format::Jsonl) => Output::Lines(&mut out),
        View::Connections(Format::Json) => Output::Document,
        View::Connections(Format::Table) => Output::Table,
        _ => Output::Keep,
    };
    let zeek_logs = match zeek.map(ZeekLogs::create).transpose() {
        Ok(logs) => logs.map(std::sync::Mutex::new),
        Err(e) => {
            crate::say!("connscope: error: {e}");
            return EXIT_ERROR;
        }
    };
    let track = Tracking {
        zeek: zeek_logs.as_ref(),
        ..Tracking::of(input.quiet, &input.tracking, filter)
    };
    let analysis = match analyze_files(&input.files, &track, output) {
        Ok(analysis) => analysis,
        Err(message) => {
            crate::say!("connscope: error: {message}");
            return EXIT_ERROR;
        }
    };
    if let Some(logs) = zeek_logs.and_then(|logs| logs.into_inner().ok()) {
        let inputs = &analysis.report.inputs;
        let first = inputs.iter().filter_map(|i| i.first_time).min();
        let last = inputs.iter().filter_map(|i| i.last_time).max();
        if let Err(e) = logs.finish(first, last) {
            crate::say!("connscope: error: {e}");
            return EXIT_ERROR;
        }
    }
    let mut spills = analysis.spills;
    let widths = analysis.widths;
    let mut finding_spills = analysis.finding_spills;
    let report = analysis.report;
    let write_error = analysis.write_error;
    let mut code = if analysis.input_error {
        EXIT_ERROR
    } else {
        EXIT_OK
    };

    let terminal = console.terminal;
    let written = match (write_error, view) {
        (Some(e), _) => Err(e),
        (None, View::Connections(Format::Jsonl)) => Ok(()),
        (None, View::Connections(Format::Json)) => {
            json::write_document(&mut out, &report, &mut spills, &mut finding_spills)
        }
        (None, View::Connections(Format::Table)) => {
            let mut inputs: Vec<SpilledInput> = spills
                .into_iter()
                .zip(widths)
                .zip(finding_spills)
                .map(|((rows, widths), findings)| SpilledInput {
                    rows,
                    widths,
                    findings,
                })
                .collect();
            let columns = columns.unwrap_or_else(|| table::Columns::for_stdout(terminal));
            table::write_spilled_tables(
                &mut out,
                &report,
                &mut inputs,
                terminal,
                &columns,
                console.paint,
            )
        }
        (None, View::Http(ViewFormat::Table)) => table::write_http(&mut out, &report, terminal),
        (None, View::Http(ViewFormat::Json)) => json::write_http(&mut out, &report),
        (None, View::Servers(ViewFormat::Table)) => {
            table::write_servers(&mut out, &report, terminal)
        }
        (None, View::Servers(ViewFormat::Json)) => json::write_value(&mut out, &report.servers),
        (None, View::Timeline(format, selection)) => {
            if let Some(line) = selection.missing(&report.connections) {
                crate::say!("connscope: error: {line}");
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
    match written.and_then(|()| out.flush()) {
        Ok(()) => code,
        // `connscope … | head`: the reader left, which is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => code,
        Err(e) => {
            crate::say!("connscope: error: writing output: {e}");
            EXIT_ERROR
        }
    }
}

/// `connscope check`: parse every expectation first (a typo is a usage error before any
/// capture is read), then analyse each capture and judge its expectations.
fn run_check(args: &CheckArgs) -> u8 {
    let plan: Vec<(String, Vec<String>)> = match &args.suite {
        Some(path) => match check::suite::load(std::path::Path::new(path)) {
            Ok(plan) => plan,
            Err(message) => {
                crate::say!("connscope: error: {message}");
                return EXIT_ERROR;
            }
        },
        None => {
            if args.files.is_empty() || args.expect.is_empty() {
                crate::say!("connscope: error: check needs capture files and at least one --expect, or --suite FILE");
                return EXIT_ERROR;
            }
            args.files
                .iter()
                .map(|f| (f.clone(), args.expect.clone()))
                .collect()
        }
    };
    let mut parsed = Vec::new();
    for (file, texts) in &plan {
        let mut expectations = Vec::new();
        for text in texts {
            match check::expr::parse(text) {
                Ok(exp) => expectations.push((text.clone(), exp)),
                Err(e) => {
                    crate::say!(
                        "connscope: error: invalid expectation for {file}:\n{}",
                        e.render(text)
                    );
                    return EXIT_ERROR;
                }
            }
        }
        parsed.push((file, expectations));
    }
    // Each capture on its own core; errors and warnings printed afterwards in order.
    let analysed: Vec<(Vec<String>, Result<Analysis, String>)> = {
        use rayon::prelude::*;
        parsed
            .par_iter()
            .map(|(file, _)| {
                let lines = std::sync::Mutex::new(Vec::new());
                let track = Tracking {
                    diagnostics: Some(&lines),
                    ..Tracking::of(args.quiet, &args.tracking, None)
                };
                let analysis = analyze_files(std::slice::from_ref(*file), &track, Output::Keep);
                (lines.into_inner().unwrap_or_default(), analysis)
            })
            .collect()
    };
    let mut outcomes = Vec::new();
    for ((file, expectations), (lines, analysis)) in parsed.iter().zip(analysed) {
        for line in lines {
            crate::say!("{line}");
        }
        let analysis = match analysis {
            Ok(analysis) if !analysis.input_error => analysis,
            Ok(_) => return EXIT_ERROR,
            Err(message) => {
                crate::say!("connscope: error: {message}");
                return EXIT_ERROR;
            }
        };
        for (text, exp) in expectations {
            outcomes.push(check::evaluate(file, text, exp, &analysis.report));
        }
    }
    if let Some(path) = &args.junit {
        if let Err(e) = std::fs::write(path, check::junit::render(&outcomes)) {
            crate::say!("connscope: error: {path}: cannot write JUnit XML: {e}");
            return EXIT_ERROR;
        }
    }
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let written = match args.format {
        ViewFormat::Json => json::write_value(&mut out, &outcomes),
        ViewFormat::Table => out.write_all(check::render_text(&outcomes).as_bytes()),
    };
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            crate::say!("connscope: error: writing output: {e}");
            EXIT_ERROR
        }
        _ if outcomes.iter().all(|o| o.passed) => EXIT_OK,
        _ => EXIT_CHECK_FAILED,
    }
}
