//! `connscope live`: the analysis of `analyze`, on packets as they arrive, through the
//! same driver and sinks. On a terminal a table of connections refreshes about once a
//! second; in a pipe each connection is a JSON line when it finishes. Finished
//! connections leave memory as they do for files (streamed, or spilled for the final
//! document or table), so a day-long capture's memory stays bounded. Ctrl-C or SIGTERM
//! ends the capture cleanly: the final report (connections still open reported as
//! open), the `--write` file flushed, libpcap's drop counts. Root is dropped right
//! after the capture opens.

use super::analyze::{diagnose_input, Analysis};
use super::config::{Env, Tracking};
use super::driver::{drive, PacketFilter, Sink};
use super::error::AppError;
use super::sink::{Destination, InputSink};
use super::EXIT_OK;
use crate::analyzers::Streams;
use crate::capture::live::{Live, LiveOptions};
use crate::capture::PacketSource;
use crate::cli::{LiveArgs, LiveFormat};
use crate::decode::Segment;
use crate::decrypt::InputKeys;
use crate::findings;
use crate::flow::key::Endpoint;
use crate::flow::table::{ConnectionTable, LiveRow};
use crate::report::model::{
    ConnectionRecord, InputReport, ProcessInfo, Report, WarningRecord, SCHEMA,
};
use crate::report::style::Paint;
use crate::report::table::{Columns, SpilledInput};
use crate::report::{json, servers, table};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, Table};
use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const REFRESH: Duration = Duration::from_secs(1);

/// A closed connection is reported once it has been quiet this long (capture time),
/// not at the end of its 15 s linger: at thousands of short connections a second the
/// table then holds the full state of a few seconds of them, and the rest of each
/// linger costs a tombstone of a few dozen bytes (`flow::table`). Stragglers later
/// than this (a FIN resent after a lost ACK) are counted in a warning, not in the
/// record already written. Zeek reports a closed connection after 5 s.
const REPORT_CLOSED_AFTER_NANOS: i64 = 2_000_000_000;

/// How the run shows itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A refreshing table on a terminal, the final table at the end.
    Display,
    Final(LiveFormat),
}

/// `connscope live`, decided.
#[derive(Debug)]
pub struct LiveConfig {
    pub args: LiveArgs,
    pub mode: Mode,
    pub tracking: Tracking,
    /// The BPF filter: the words after the flags, joined.
    pub filter: Option<String>,
    pub idle_timeout_nanos: i64,
    pub stdout_terminal: bool,
    /// Colour of the final table (`--color`, `NO_COLOR`).
    pub paint: Paint,
}

impl LiveConfig {
    pub fn of(args: LiveArgs, env: &Env, paint: Paint) -> Result<LiveConfig, AppError> {
        let mode = match args.format {
            Some(format) => Mode::Final(format),
            None if env.stdout_terminal => Mode::Display,
            None => Mode::Final(LiveFormat::Jsonl),
        };
        Ok(LiveConfig {
            mode,
            tracking: Tracking::of(args.quiet, &args.tracking, env)?,
            filter: (!args.filter.is_empty()).then(|| args.filter.join(" ")),
            idle_timeout_nanos: (args.idle_timeout * 1e9) as i64,
            stdout_terminal: env.stdout_terminal,
            paint,
            args,
        })
    }
}

/// Which process owns each open connection's socket, while it is open.
struct Owners {
    #[cfg(target_os = "linux")]
    map: crate::process::ProcessMap,
    by_connection: HashMap<u64, ProcessInfo>,
}

impl Owners {
    fn new() -> Self {
        Owners {
            #[cfg(target_os = "linux")]
            map: crate::process::ProcessMap::default(),
            by_connection: HashMap::new(),
        }
    }

    /// Notes the owner of a connection first seen as `src` → `dst`: the side whose
    /// socket is local (the sender first, which for a SYN is the client).
    #[allow(unused_variables)]
    fn first_seen(&mut self, id: u64, src: Endpoint, dst: Endpoint) {
        #[cfg(target_os = "linux")]
        if let Some(owner) = self
            .map
            .lookup(src, dst)
            .or_else(|| self.map.lookup(dst, src))
        {
            self.by_connection.insert(id, owner);
        }
    }
}

/// What live capture adds to a file's sink: the owners, `--pid`/`--process`, when to
/// stop, the refreshing display.
struct LiveSink<'a> {
    inner: InputSink<'a>,
    config: &'a LiveConfig,
    owners: Owners,
    stop: Arc<AtomicBool>,
    started: Instant,
    last_refresh: Instant,
    /// Connections kept (after `--pid`/`--process`).
    kept: u64,
    out: Option<&'a mut dyn Write>,
}

impl Sink for LiveSink<'_> {
    fn finished(&mut self, mut record: ConnectionRecord) -> ControlFlow<()> {
        record.process = self.owners.by_connection.remove(&record.id);
        let args = &self.config.args;
        let owner = record.process.as_ref();
        let wanted = args
            .pid
            .is_none_or(|pid| owner.is_some_and(|p| p.pid == pid))
            && (args.process.as_ref()).is_none_or(|n| owner.is_some_and(|p| &p.name == n));
        if !wanted {
            return ControlFlow::Continue(());
        }
        self.kept += 1;
        self.inner.finished(record)
    }

    fn opened(&mut self, id: u64, segment: &Segment<'_>) {
        self.owners
            .first_seen(id, Endpoint::from(segment.src), Endpoint::from(segment.dst));
    }

    fn pause(&mut self, live: &mut Live, table: &mut ConnectionTable) -> ControlFlow<()> {
        let args = &self.config.args;
        if self.stop.load(Ordering::SeqCst)
            || (args.duration).is_some_and(|d| self.started.elapsed().as_secs_f64() >= d)
            || args.count.is_some_and(|n| live.packets() >= n)
        {
            return ControlFlow::Break(());
        }
        if self.last_refresh.elapsed() < REFRESH {
            return ControlFlow::Continue(());
        }
        self.last_refresh = Instant::now();
        let now = live.last_ts();
        let mut expired = Vec::new();
        if let Some(now) = now {
            table.expire_idle(now, self.config.idle_timeout_nanos, &mut |r| {
                expired.push(r)
            });
        }
        for record in expired {
            self.finished(record)?;
        }
        if let Some(out) = self.out.as_mut() {
            let rows = now.map(|now| table.live_view(now)).unwrap_or_default();
            let drops = live.stats().map_or(0, |(_, d, i)| d + i);
            let _ = write!(
                out,
                "\x1b[2J\x1b[H{}\n{}\n",
                status_line(live, drops, self.kept, rows.len()),
                live_table(&rows, &self.owners)
            );
            let _ = out.flush();
        }
        ControlFlow::Continue(())
    }
}

pub fn run(config: &LiveConfig) -> Result<u8, AppError> {
    let args = &config.args;
    let opts = LiveOptions {
        interface: args.interface.clone(),
        filter: config.filter.clone(),
        snaplen: args.snaplen,
        promisc: args.promisc,
    };
    let mut live = Live::open(&opts)?;
    // What needs root (the capture, the --write file) is open before root is given up.
    let dropped =
        crate::privilege::open_then_drop(&mut live, args.write.as_deref(), args.keep_privileges)?;
    if let (Some(who), false) = (dropped, args.quiet) {
        crate::say!("connscope: capturing on {} as {who}", live.interface)
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    // Ctrl-C and SIGTERM end the capture; the loop notices within one read timeout.
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));

    let mut out = BufWriter::new(io::stdout());
    // The refreshing display, written apart from the report's writer.
    let mut display = BufWriter::new(io::stdout());
    let input_name = format!("live:{}", live.interface);
    let link_type = live.link_type;
    let mut sink = LiveSink {
        inner: InputSink::new(destination(config.mode, &mut out), &input_name, None)?,
        config,
        owners: Owners::new(),
        stop,
        started: Instant::now(),
        last_refresh: Instant::now(),
        kept: 0,
        out: (config.mode == Mode::Display).then_some(&mut display as &mut dyn Write),
    };
    let keys = InputKeys::shared(Arc::clone(&config.tracking.keys.log));
    let late_packets = Arc::new(AtomicU64::new(0));
    let table = ConnectionTable::new(0, 1, Streams::factory(&keys))
        .with_syn_timeout(config.tracking.syn_timeout_nanos)
        .report_closed_after(REPORT_CLOSED_AFTER_NANOS, Arc::clone(&late_packets));
    let mut source = PacketSource::Live(live);
    let run = drive(
        &mut source,
        table,
        &mut PacketFilter::default(),
        false,
        Some(&keys),
        &mut sink,
    );
    let LiveSink {
        inner, kept: count, ..
    } = sink;
    let mut kept = inner.finish();
    let PacketSource::Live(mut live) = source else {
        unreachable!("a live run's source stays live");
    };
    let mut warnings: Vec<WarningRecord> = (run.summary.warnings.iter())
        .map(|w| WarningRecord {
            packet: w.packet,
            message: w.message.clone(),
        })
        .collect();
    let late = late_packets.load(Ordering::Relaxed);
    if late > 0 {
        warnings.push(WarningRecord {
            packet: None,
            message: format!(
                "{late} packets came after their connection, closed and quiet for {} s, had been reported: they are in no connection's figures",
                REPORT_CLOSED_AFTER_NANOS / 1_000_000_000
            ),
        });
    }
    for w in &warnings {
        crate::say!("connscope: warning: {}", w.message);
    }
    if let Err(e) = live.flush() {
        crate::say!("connscope: error: {e}");
    }
    if let Some((received, dropped, if_dropped)) = live.stats() {
        let message = format!("libpcap: {received} packets received, {dropped} dropped by the kernel (ps_drop), {if_dropped} dropped by the interface (ps_ifdrop)");
        if !args.quiet {
            crate::say!("connscope: {message}");
        }
        if dropped + if_dropped > 0 {
            warnings.push(WarningRecord {
                packet: None,
                message,
            });
        }
    }
    let input = InputReport {
        path: input_name.clone(),
        format: Some("live".into()),
        link_types: vec![link_type.name()],
        packets: live.packets(),
        first_time: run.summary.first_ts,
        last_time: run.summary.last_ts,
        tcp_packets: run.tcp_packets,
        skipped: run.skipped.iter().map(|(k, v)| (k.key(), *v)).collect(),
        connections: count,
        warnings,
        error: None,
    };
    let mut analysis = Analysis {
        report: Report {
            schema: SCHEMA,
            inputs: Vec::new(),
            servers: servers::rollup_digests(0, &kept.digests),
            connections: Vec::new(),
            findings: Vec::new(),
        },
        spills: kept.spill.take().into_iter().collect(),
        widths: kept.widths.take().into_iter().collect(),
        finding_spills: Vec::new(),
        input_error: false,
        write_error: kept.write_error.take(),
    };
    let settings = findings::Settings {
        idle_open_s: config.tracking.idle_threshold,
    };
    let last_ts = input.last_time;
    analysis.report.inputs.push(input);
    diagnose_input(
        0,
        &input_name,
        &kept.digests,
        last_ts,
        &settings,
        &mut destination(config.mode, &mut out),
        &mut analysis,
    )?;
    let report = &analysis.report;
    let written = match (analysis.write_error, config.mode) {
        (Some(e), _) => Err(e),
        (None, Mode::Final(LiveFormat::Jsonl)) => Ok(()),
        (None, Mode::Final(LiveFormat::Json)) => json::write_document(
            &mut out,
            report,
            &mut analysis.spills,
            &mut analysis.finding_spills,
        ),
        (None, Mode::Final(LiveFormat::Table) | Mode::Display) => {
            let terminal = config.stdout_terminal;
            let mut inputs =
                SpilledInput::zip(analysis.spills, analysis.widths, analysis.finding_spills);
            let columns = Columns::for_stdout(terminal);
            table::write_spilled_tables(
                &mut out,
                report,
                &mut inputs,
                terminal,
                &columns,
                config.paint,
            )
        }
    };
    super::finish_output(written.and_then(|()| out.flush()), EXIT_OK)
}

/// Where the connections of a live run go, by how it shows itself.
fn destination(mode: Mode, out: &mut (dyn Write + Send)) -> Destination<'_> {
    match mode {
        Mode::Final(LiveFormat::Jsonl) => Destination::Stream { out, flush: true },
        Mode::Final(LiveFormat::Json) => Destination::Document { pretty: true },
        Mode::Final(LiveFormat::Table) | Mode::Display => Destination::Rows,
    }
}

fn status_line(live: &Live, drops: u32, finished: u64, open: usize) -> String {
    format!(
        "connscope live on {}: {} packets, {open} connections open, {finished} finished, {drops} dropped — Ctrl-C for the report",
        live.interface,
        live.packets()
    )
}

fn live_table(rows: &[LiveRow], owners: &Owners) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "id", "client", "server", "process", "age", "state", "packets",
    ]);
    for r in rows {
        let state = if r.closed {
            "closed".to_string()
        } else if r.age_s < 1.0 {
            "new".to_string()
        } else if r.idle_s >= 1.0 {
            format!("idle {:.0} s", r.idle_s)
        } else {
            "active".to_string()
        };
        let process = owners
            .by_connection
            .get(&r.id)
            .map_or_else(|| "-".to_string(), |p| format!("{} ({})", p.name, p.pid));
        t.add_row(vec![
            Cell::new(r.id).set_alignment(CellAlignment::Right),
            Cell::new(r.client),
            Cell::new(r.server),
            Cell::new(process),
            Cell::new(format!("{:.0} s", r.age_s)).set_alignment(CellAlignment::Right),
            Cell::new(state),
            Cell::new(r.packets).set_alignment(CellAlignment::Right),
        ]);
    }
    t
}
