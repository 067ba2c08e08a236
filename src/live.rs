//! `connscope live`: the analysis of `analyze`, on packets as they arrive. On a
//! terminal a table of connections refreshes about once a second; in a pipe each
//! connection is a JSON line when it finishes. Ctrl-C or SIGTERM ends the capture
//! cleanly: the final report (connections still open reported as open), the `--write`
//! file flushed, libpcap's drop counts. Root is dropped once the capture and the
//! `--write` file are open (`privilege`).

use crate::app::{EXIT_ERROR, EXIT_OK};
use crate::capture::live::{Live, LiveOptions, Next};
use crate::cli::{LiveArgs, LiveFormat};
use crate::decode::{Decoder, Skip};
use crate::findings;
use crate::flow::key::Endpoint;
use crate::flow::table::{ConnectionTable, LiveRow};
use crate::report::model::{
    ConnectionRecord, InputReport, ProcessInfo, Report, WarningRecord, SCHEMA,
};
use crate::report::{json, servers, table};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, Table};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufWriter, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const REFRESH: Duration = Duration::from_secs(1);

/// How the run shows itself.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A refreshing table on a terminal, the final table at the end.
    Display,
    Final(LiveFormat),
}

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

pub fn run(args: &LiveArgs) -> u8 {
    let filter = (!args.filter.is_empty()).then(|| args.filter.join(" "));
    let opts = LiveOptions {
        interface: args.interface.clone(),
        filter: filter.clone(),
        snaplen: args.snaplen,
        promisc: args.promisc,
    };
    let mut live = match Live::open(&opts) {
        Ok(live) => live,
        Err(message) => {
            crate::say!("connscope: error: {message}");
            return EXIT_ERROR;
        }
    };
    match crate::privilege::open_then_drop(&mut live, args.write.as_deref(), args.keep_privileges) {
        Ok(Some(who)) if !args.quiet => {
            crate::say!("connscope: capturing on {} as {who}", live.interface)
        }
        Ok(_) => {}
        Err(message) => {
            crate::say!("connscope: error: {message}");
            return EXIT_ERROR;
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    // Ctrl-C and SIGTERM end the capture; the loop notices within one read timeout.
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));

    let terminal = io::stdout().is_terminal();
    let mode = match args.format {
        Some(format) => Mode::Final(format),
        None if terminal => Mode::Display,
        None => Mode::Final(LiveFormat::Jsonl),
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let input_name = format!("live:{}", live.interface);
    let mut table =
        ConnectionTable::new(0, 1).with_syn_timeout(crate::cli::nanos(args.tracking.syn_timeout));
    let mut owners = Owners::new();
    let mut records: Vec<ConnectionRecord> = Vec::new();
    let mut skipped: BTreeMap<Skip, u64> = BTreeMap::new();
    let mut decoder = Decoder::default();
    let mut tcp_packets = 0u64;
    let (mut first_ts, mut last_ts) = (None, None);
    let mut warnings = Vec::new();
    let started = Instant::now();
    let mut last_refresh = Instant::now();
    let mut write_failed = false;
    let idle_timeout = (args.idle_timeout * 1e9) as i64;
    let keep = |r: &ConnectionRecord| {
        args.pid
            .is_none_or(|pid| r.process.as_ref().is_some_and(|p| p.pid == pid))
            && args
                .process
                .as_ref()
                .is_none_or(|name| r.process.as_ref().is_some_and(|p| &p.name == name))
    };

    loop {
        if stop.load(Ordering::SeqCst)
            || args
                .duration
                .is_some_and(|d| started.elapsed().as_secs_f64() >= d)
            || args.count.is_some_and(|n| live.packets() >= n)
        {
            break;
        }
        let mut finished = Vec::new();
        match live.next_packet() {
            Next::Packet(packet) => {
                first_ts.get_or_insert(packet.ts);
                last_ts = Some(packet.ts);
                match decoder.decode(packet.link_type, packet.data, packet.orig_len, packet.ts) {
                    Ok(segment) => {
                        tcp_packets += 1;
                        let before = table.next_id();
                        table.on_segment(&segment, packet.number, packet.ts, &mut |r| {
                            finished.push(r)
                        });
                        if table.next_id() > before {
                            owners.first_seen(
                                before,
                                Endpoint::from(segment.src),
                                Endpoint::from(segment.dst),
                            );
                        }
                    }
                    Err(skip) => *skipped.entry(skip).or_default() += 1,
                }
            }
            Next::Idle => {}
            Next::Ended(message) => {
                // The interface went down, or libpcap gave up: report what we have.
                crate::say!("connscope: warning: {message}");
                warnings.push(WarningRecord {
                    packet: None,
                    message,
                });
                break;
            }
        }
        if last_refresh.elapsed() >= REFRESH {
            last_refresh = Instant::now();
            if let Some(now) = last_ts {
                table.expire_idle(now, idle_timeout, &mut |r| finished.push(r));
            }
            if mode == Mode::Display {
                let rows = last_ts.map(|now| table.live_view(now)).unwrap_or_default();
                let status = status_line(&mut live, records.len(), rows.len());
                let _ = write!(
                    out,
                    "\x1b[2J\x1b[H{status}\n{}\n",
                    live_table(&rows, &owners)
                );
                let _ = out.flush();
            }
        }
        for mut record in finished {
            record.process = owners.by_connection.remove(&record.id);
            if !keep(&record) {
                continue;
            }
            if mode == Mode::Final(LiveFormat::Jsonl) && !write_failed {
                write_failed = json::write_line(&mut out, &input_name, &record)
                    .and_then(|()| out.flush())
                    .is_err();
            }
            records.push(record);
        }
        if write_failed {
            break; // the reader of the stream went away
        }
    }

    decoder.finish(&mut skipped);
    let mut rest = Vec::new();
    table.finish_all(&mut |r| rest.push(r));
    for mut record in rest {
        record.process = owners.by_connection.remove(&record.id);
        if keep(&record) {
            if mode == Mode::Final(LiveFormat::Jsonl) && !write_failed {
                write_failed = json::write_line(&mut out, &input_name, &record).is_err();
            }
            records.push(record);
        }
    }
    if let Err(message) = live.flush() {
        crate::say!("connscope: error: {message}");
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
    records.sort_by_key(|r| r.id);
    let settings = findings::Settings {
        idle_open_s: args.tracking.idle_threshold,
    };
    let found = findings::diagnose(0, &records, last_ts, &settings);
    let input = InputReport {
        path: input_name.clone(),
        format: Some("live".into()),
        link_types: vec![live.link_type.name()],
        packets: live.packets(),
        first_time: first_ts,
        last_time: last_ts,
        tcp_packets,
        skipped: skipped.into_iter().map(|(k, v)| (k.key(), v)).collect(),
        connections: records.len() as u64,
        warnings,
        error: None,
    };
    let report = Report {
        schema: SCHEMA,
        inputs: vec![input],
        servers: servers::rollup(&records),
        connections: records,
        findings: found,
    };
    let written = match mode {
        Mode::Final(LiveFormat::Jsonl) => report
            .findings
            .iter()
            .try_for_each(|f| json::write_finding_line(&mut out, &input_name, f)),
        Mode::Final(LiveFormat::Json) => json::write_report(&mut out, &report),
        Mode::Final(LiveFormat::Table) | Mode::Display => {
            table::write_tables(&mut out, &report, terminal)
        }
    };
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            crate::say!("connscope: error: writing output: {e}");
            EXIT_ERROR
        }
        _ => EXIT_OK,
    }
}

fn status_line(live: &mut Live, finished: usize, open: usize) -> String {
    let drops = live.stats().map_or(0, |(_, d, i)| d + i);
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
