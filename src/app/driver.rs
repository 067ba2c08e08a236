//! THE packet loop, for files and live capture alike: a [`PacketSource`] → the packet
//! filter → `decode` → the connection table (`flow`) → a [`Sink`] that takes each
//! connection as it finishes. Every command that reads packets (`analyze`, `http`,
//! `servers`, `timeline`, `check`, `live`) goes through [`drive`].
//!
//! Not for what becomes of the connections (`sink`, the commands) nor for how packets
//! are read (`capture`).

use crate::capture::file::{CaptureError, ReadSummary, Source};
use crate::capture::{Event, PacketSource, RawPacket};
use crate::decode::{Decoder, Segment, Skip};
use crate::decrypt::SharedKeys;
use crate::flow::table::ConnectionTable;
use crate::report::model::{ConnectionRecord, InputReport, WarningRecord};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::error::AppError;

/// Where the driver hands what it sees.
pub trait Sink {
    /// A connection that finished; `Break` stops reading (a closed output pipe).
    fn finished(&mut self, record: ConnectionRecord) -> ControlFlow<()>;

    /// The first packet of connection `id` (live capture asks who owns the socket).
    fn opened(&mut self, _id: u64, _segment: &Segment<'_>) {}

    /// A live capture waits for its next packet: refresh a display, expire idle
    /// connections (handing them to [`Sink::finished`]) or stop with `Break`.
    #[cfg(feature = "live")]
    fn pause(
        &mut self,
        _live: &mut crate::capture::live::Live,
        _table: &mut ConnectionTable,
    ) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

/// Which packets are analysed: all, or those a BPF expression keeps (`--filter`).
#[derive(Default)]
pub struct PacketFilter {
    #[cfg(feature = "live")]
    bpf: Option<crate::capture::live::BpfFilter>,
}

impl PacketFilter {
    /// Compiles `expression` with libpcap, so a typo is a usage error before any file
    /// is read.
    pub fn new(expression: Option<&str>) -> Result<PacketFilter, AppError> {
        match expression {
            None => Ok(PacketFilter::default()),
            #[cfg(feature = "live")]
            Some(expression) => Ok(PacketFilter {
                bpf: Some(crate::capture::live::BpfFilter::new(expression)?),
            }),
            #[cfg(not(feature = "live"))]
            Some(_) => Err(AppError::FilterNeedsLive),
        }
    }

    #[cfg_attr(not(feature = "live"), allow(unused_variables))]
    fn keeps(&mut self, packet: &RawPacket<'_>) -> bool {
        #[cfg(feature = "live")]
        if let Some(bpf) = &mut self.bpf {
            return bpf.matches(packet);
        }
        true
    }
}

/// What one run of the loop saw, beside the connections it handed on.
pub struct Run {
    /// What the reader said about the input; empty when it could not be read.
    pub summary: ReadSummary,
    /// The reader could not open or recognise the input.
    pub error: Option<CaptureError>,
    pub skipped: BTreeMap<Skip, u64>,
    pub tcp_packets: u64,
    /// Connections finished, whether or not the sink still took them.
    pub connections: u64,
    /// The id the next input's first connection gets.
    pub next_id: u64,
    /// A warning on the lines of the input's embedded key logs that were not used.
    pub embedded_key_lines: Option<String>,
}

impl Run {
    /// The input's part of the report, for an input read from `path`.
    pub fn input_report(&self, path: String) -> InputReport {
        let summary = &self.summary;
        let mut warnings: Vec<WarningRecord> = summary
            .warnings
            .iter()
            .map(|w| WarningRecord {
                packet: w.packet,
                message: w.message.clone(),
            })
            .collect();
        for (skip, count) in &self.skipped {
            if let Some(message) = skip.warning(*count) {
                warnings.push(WarningRecord {
                    packet: None,
                    message,
                });
            }
        }
        if let Some(message) = &self.embedded_key_lines {
            warnings.push(WarningRecord {
                packet: None,
                message: message.clone(),
            });
        }
        if summary.warnings_dropped > 0 {
            warnings.push(WarningRecord {
                packet: None,
                message: format!("{} more warnings not shown", summary.warnings_dropped),
            });
        }
        InputReport {
            path,
            format: self.error.is_none().then(|| summary.format.clone()),
            link_types: summary.link_types.iter().map(|lt| lt.name()).collect(),
            packets: summary.packets,
            first_time: summary.first_ts,
            last_time: summary.last_ts,
            tcp_packets: self.tcp_packets,
            skipped: self.skipped.iter().map(|(k, v)| (k.key(), *v)).collect(),
            connections: self.connections,
            warnings,
            error: self.error.as_ref().map(|e| e.to_string()),
        }
    }
}

/// Reads `source` to its end (or until the sink says stop), following its connections
/// in `table`; connections still open at the end are finished then. Key logs the
/// input embeds are added to `keys`, the input's keys that `table`'s analyzers read.
pub fn drive(
    source: &mut PacketSource,
    mut table: ConnectionTable,
    filter: &mut PacketFilter,
    show_progress: bool,
    keys: Option<&SharedKeys>,
    sink: &mut impl Sink,
) -> Run {
    let bytes_read = Arc::new(AtomicU64::new(0));
    let progress = match &*source {
        PacketSource::File(file) if show_progress => progress_bar(file),
        _ => None,
    };
    let mut skipped: BTreeMap<Skip, u64> = BTreeMap::new();
    let mut decoder = Decoder::default();
    let mut tcp_packets = 0u64;
    let mut embedded = EmbeddedKeys::default();
    let mut handed = Handed {
        sink,
        connections: 0,
        stopped: false,
    };
    let result = source.for_each(Arc::clone(&bytes_read), |event| {
        // Without the `live` feature a packet is the only event.
        #[cfg_attr(not(feature = "live"), allow(clippy::infallible_destructuring_match))]
        let packet = match event {
            Event::Packet(packet) => packet,
            Event::TlsKeyLog(text) => {
                if let Some(Ok(mut keys)) = keys.map(|k| k.try_borrow_mut()) {
                    let summary = keys.add_embedded(text);
                    embedded.add(&summary);
                }
                return ControlFlow::Continue(());
            }
            #[cfg(feature = "live")]
            Event::Pause(live) => return handed.sink.pause(live, &mut table),
        };
        if let Some(bar) = &progress {
            if packet.number % PROGRESS_EVERY == 0 {
                bar.set_position(bytes_read.load(Ordering::Relaxed));
            }
        }
        if !filter.keeps(packet) {
            *skipped.entry(Skip::Filtered).or_default() += 1;
        } else {
            match decoder.decode(packet.link_type, packet.data, packet.orig_len, packet.ts) {
                Ok(segment) => {
                    tcp_packets += 1;
                    let before = table.next_id();
                    table.on_segment(&segment, packet.number, packet.ts, &mut |record| {
                        handed.finished(record)
                    });
                    if table.next_id() > before {
                        handed.sink.opened(before, &segment);
                    }
                }
                Err(skip) => *skipped.entry(skip).or_default() += 1,
            }
        }
        if handed.stopped {
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
    table.finish_all(&mut |record| handed.finished(record));
    let (summary, error) = match result {
        Ok(summary) => (summary, None),
        Err(e) => (ReadSummary::default(), Some(e)),
    };
    Run {
        summary,
        error,
        skipped,
        tcp_packets,
        connections: handed.connections,
        next_id,
        embedded_key_lines: embedded.warning(),
    }
}

/// What the input's Decryption Secrets Blocks held, for one warning on lines that were
/// not understood.
#[derive(Default)]
struct EmbeddedKeys {
    garbage: u64,
    first: Option<crate::decrypt::keylog::BadLine>,
}

impl EmbeddedKeys {
    fn add(&mut self, summary: &crate::decrypt::ParseSummary) {
        self.garbage += summary.garbage;
        if self.first.is_none() {
            self.first = summary.first_garbage;
        }
    }

    fn warning(&self) -> Option<String> {
        let first = self.first?;
        Some(format!(
            "embedded TLS key log: {} lines not understood (first: line {}: {})",
            self.garbage, first.line, first.error
        ))
    }
}

/// The sink, and what the driver counts of the connections it hands on.
struct Handed<'s, S> {
    sink: &'s mut S,
    connections: u64,
    /// The sink said stop: connections are still counted, no longer handed on.
    stopped: bool,
}

impl<S: Sink> Handed<'_, S> {
    fn finished(&mut self, record: ConnectionRecord) {
        self.connections += 1;
        if !self.stopped && self.sink.finished(record).is_break() {
            self.stopped = true;
        }
    }
}

/// Analyses one capture file, handing each connection to `on_connection` as it
/// finishes (`Break` stops early); the input's report and the next free id come back.
pub fn analyze_input(
    source: &Source,
    table: ConnectionTable,
    on_connection: impl FnMut(ConnectionRecord) -> ControlFlow<()>,
) -> (InputReport, Run) {
    struct Each<F>(F);
    impl<F: FnMut(ConnectionRecord) -> ControlFlow<()>> Sink for Each<F> {
        fn finished(&mut self, record: ConnectionRecord) -> ControlFlow<()> {
            (self.0)(record)
        }
    }
    let mut source = PacketSource::File(source.clone());
    let run = drive(
        &mut source,
        table,
        &mut PacketFilter::default(),
        false,
        None,
        &mut Each(on_connection),
    );
    (run.input_report(source.name()), run)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes connections until it has `wanted`, then says stop.
    struct Until {
        wanted: usize,
        ids: Vec<u64>,
    }

    impl Sink for Until {
        fn finished(&mut self, record: ConnectionRecord) -> ControlFlow<()> {
            self.ids.push(record.id);
            if self.ids.len() >= self.wanted {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
    }

    fn drive_fixture(name: &str, wanted: usize) -> (Run, Vec<u64>) {
        let mut source = PacketSource::File(Source::from_arg(&format!("fixtures/{name}")));
        let mut sink = Until {
            wanted,
            ids: Vec::new(),
        };
        let table = ConnectionTable::new(0, 1, crate::analyzers::Streams::boxed);
        let run = drive(
            &mut source,
            table,
            &mut PacketFilter::default(),
            false,
            None,
            &mut sink,
        );
        (run, sink.ids)
    }

    #[test]
    fn every_connection_reaches_the_sink_and_the_input_is_summed_up() {
        let (run, ids) = drive_fixture("go-two-servers.pcap", usize::MAX);
        assert!(run.error.is_none());
        assert_eq!(run.connections, ids.len() as u64);
        assert!(ids.len() >= 2, "two servers, so at least two connections");
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len(), "each connection once");
        assert_eq!(run.next_id, ids.len() as u64 + 1);
        let report = run.input_report("x.pcap".into());
        assert_eq!(report.packets, run.summary.packets);
        assert_eq!(report.tcp_packets, run.tcp_packets);
        assert_eq!(report.format.as_deref(), Some("pcap"));
    }

    #[test]
    fn a_sink_that_says_stop_gets_no_more_connections_but_they_are_counted() {
        let (all, _) = drive_fixture("go-two-servers.pcap", usize::MAX);
        let (run, ids) = drive_fixture("go-two-servers.pcap", 1);
        assert_eq!(ids.len(), 1);
        assert!(run.summary.packets <= all.summary.packets);
        assert!(run.connections >= 1);
    }

    #[test]
    fn an_unreadable_input_is_an_error_in_its_report_not_a_panic() {
        let (run, ids) = drive_fixture("no-such-capture.pcap", usize::MAX);
        assert!(ids.is_empty());
        let report = run.input_report("fixtures/no-such-capture.pcap".into());
        assert!(report.error.is_some());
        assert_eq!(report.format, None);
    }
}
