//! Where finished connections go: the one [`Destination`] decision (kept in memory,
//! streamed as JSONL, spilled for the JSON document, spilled as table rows) and the
//! per-input [`InputSink`] that carries it out while the driver reads on. Whatever the
//! destination, each connection also leaves a small digest for the findings and the
//! server rollup, and its first warnings for standard error.

use super::driver::Sink;
use super::error::AppError;
use crate::findings::{Digest, Digests};
use crate::report::json;
use crate::report::model::ConnectionRecord;
use crate::report::spill::Spill;
use crate::report::table::{ConnectionRow, RowWidths};
use crate::report::zeek_logs::ZeekLogs;
use std::io::{self, Write};
use std::ops::ControlFlow;
use std::sync::mpsc::SyncSender;
use std::sync::Mutex;

/// What becomes of each connection as it finishes.
pub enum Destination<'a> {
    /// Kept in the report, for the views that lay them all out (HTTP, servers,
    /// timelines, `check`).
    Keep,
    /// Written at once as a JSONL line; each input's findings follow its connections.
    Stream {
        out: &'a mut (dyn Write + Send),
        /// Flushed after every line, so a live reader sees each connection at once.
        flush: bool,
    },
    /// Parked in a spill file for the JSON document (see `report::spill`); `pretty`
    /// lays each item out as serde_json's pretty printer does inside the document.
    Document { pretty: bool },
    /// Parked in a spill file as rows of the connection table.
    Rows,
}

impl Destination<'_> {
    /// What a worker thread with no stream of its own does instead.
    pub fn parked<'b>(&self) -> Destination<'b> {
        match self {
            Destination::Keep | Destination::Stream { .. } => Destination::Keep,
            Destination::Document { pretty } => Destination::Document { pretty: *pretty },
            Destination::Rows => Destination::Rows,
        }
    }

    /// Whether serialising each connection is the heavy part, worth a second thread.
    pub fn serialises(&self) -> bool {
        matches!(
            self,
            Destination::Stream { .. } | Destination::Document { .. }
        )
    }
}

/// Connection warnings printed to standard error per input; the rest are counted.
const STDERR_CONNECTION_WARNINGS: usize = 20;

/// Where one input's connections go as they finish, and what is kept of them.
pub struct InputSink<'a> {
    destination: Destination<'a>,
    /// The input's name, for JSONL lines and the Zeek logs' uids.
    input: &'a str,
    scratch: Vec<u8>,
    /// `--zeek-logs`: every connection is also written there.
    zeek: Option<&'a Mutex<ZeekLogs>>,
    kept: Kept,
}

/// What an input's sink keeps of its connections, once the input has been read.
#[derive(Default)]
pub struct Kept {
    pub spill: Option<Spill>,
    pub widths: Option<RowWidths>,
    pub records: Vec<ConnectionRecord>,
    pub digests: Digests,
    /// The first connection warnings, by connection id, and how many there were.
    pub warnings: Vec<(u64, String)>,
    pub warning_count: usize,
    pub write_error: Option<io::Error>,
}

impl<'a> InputSink<'a> {
    pub fn new(
        destination: Destination<'a>,
        input: &'a str,
        zeek: Option<&'a Mutex<ZeekLogs>>,
    ) -> Result<Self, AppError> {
        let spill = match destination {
            Destination::Document { .. } | Destination::Rows => {
                Some(Spill::new().map_err(|cause| AppError::SpillCreate {
                    what: "report",
                    cause,
                })?)
            }
            Destination::Keep | Destination::Stream { .. } => None,
        };
        Ok(InputSink {
            kept: Kept {
                widths: matches!(destination, Destination::Rows).then(RowWidths::default),
                spill,
                ..Kept::default()
            },
            destination,
            input,
            scratch: Vec::new(),
            zeek,
        })
    }

    /// What was kept, the destination let go.
    pub fn finish(self) -> Kept {
        self.kept
    }
}

impl Sink for InputSink<'_> {
    fn finished(&mut self, record: ConnectionRecord) -> ControlFlow<()> {
        let kept = &mut self.kept;
        kept.warning_count += record.warnings.len();
        for w in &record.warnings {
            if kept.warnings.len() < STDERR_CONNECTION_WARNINGS {
                kept.warnings.push((record.id, w.message.clone()));
            }
        }
        if let Some(logs) = self.zeek {
            let written = match logs.lock() {
                Ok(mut logs) => logs.write(self.input, &record),
                Err(_) => Err(io::Error::other("the Zeek log writer failed earlier")),
            };
            if let Err(e) = written {
                kept.write_error = Some(e);
                return ControlFlow::Break(());
            }
        }
        let written = match (&mut self.destination, &mut kept.spill) {
            (Destination::Keep, _) => {
                kept.records.push(record);
                return ControlFlow::Continue(());
            }
            (Destination::Stream { out, flush }, _) => {
                // Serialised into a buffer first: serde_json's many small writes then
                // go to a Vec, not through `dyn Write`.
                self.scratch.clear();
                json::write_line(&mut self.scratch, self.input, &record)
                    .and_then(|()| out.write_all(&self.scratch))
                    .and_then(|()| if *flush { out.flush() } else { Ok(()) })
            }
            (Destination::Document { pretty: false }, Some(spill)) => {
                spill.push_connection(&record)
            }
            (Destination::Document { pretty: true }, Some(spill)) => {
                spill.push_nested((record.id, 0), &record)
            }
            (Destination::Rows, Some(spill)) => {
                let row = ConnectionRow::of(&record);
                if let Some(w) = &mut kept.widths {
                    w.add(&row);
                }
                row.encode(&mut self.scratch);
                spill.push_bytes((row.id, 0), &self.scratch)
            }
            (Destination::Document { .. } | Destination::Rows, None) => Ok(()),
        };
        kept.digests.push(Digest::of(&record));
        match written {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                kept.write_error = Some(e);
                ControlFlow::Break(())
            }
        }
    }
}

/// Hands finished connections to a writer thread; `Break` once it has gone.
pub struct ToWriter(pub SyncSender<ConnectionRecord>);

impl Sink for ToWriter {
    fn finished(&mut self, record: ConnectionRecord) -> ControlFlow<()> {
        match self.0.send(record) {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::file::Source;
    use crate::flow::table::ConnectionTable;

    /// The connections of a real capture (two connections to two servers).
    fn records() -> Vec<ConnectionRecord> {
        let source = Source::from_arg("fixtures/go-two-servers.pcap");
        let mut records = Vec::new();
        super::super::driver::analyze_input(
            &source,
            ConnectionTable::new(0, 1, crate::analyzers::Streams::boxed),
            |r| {
                records.push(r);
                ControlFlow::Continue(())
            },
        );
        assert_eq!(records.len(), 2);
        records
    }

    #[test]
    fn a_stream_gets_one_json_line_per_connection_and_keeps_only_digests() {
        let mut out: Vec<u8> = Vec::new();
        let stream = Destination::Stream {
            out: &mut out,
            flush: true,
        };
        let mut sink = InputSink::new(stream, "two.pcap", None).expect("sink");
        for record in records() {
            assert!(sink.finished(record).is_continue());
        }
        let kept = sink.finish();
        assert!(kept.records.is_empty() && kept.spill.is_none());
        assert_eq!(kept.digests.connections.iter().count(), 2);
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with(r#"{"type":"connection","file":"two.pcap","id":1,"#));
    }

    #[test]
    fn rows_are_spilled_with_their_widths_and_keep_no_record() {
        let mut sink = InputSink::new(Destination::Rows, "two.pcap", None).expect("sink");
        for record in records() {
            assert!(sink.finished(record).is_continue());
        }
        let Kept {
            spill: Some(spill),
            widths: Some(widths),
            records,
            ..
        } = sink.finish()
        else {
            panic!("rows need a spill and widths");
        };
        assert!(records.is_empty());
        assert_eq!((spill.len(), widths.rows, widths.inferred), (2, 2, false));
        assert_eq!(spill.largest_id(), Some(2));
    }

    #[test]
    fn a_worker_parks_what_the_main_thread_would_stream() {
        let mut out = Vec::new();
        let stream = Destination::Stream {
            out: &mut out,
            flush: false,
        };
        assert!(matches!(stream.parked(), Destination::Keep));
        assert!(stream.serialises());
        assert!(matches!(
            Destination::Document { pretty: true }.parked(),
            Destination::Document { pretty: true }
        ));
        assert!(!Destination::Rows.serialises());
    }
}
