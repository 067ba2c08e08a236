//! Finished connections and findings parked on disk until they can be written in order.
//!
//! The output lists connections by id — the order of their first packet — but they
//! finish in another order, and a connection that stays open to the end of a capture
//! holds back everything that started after it; findings are made rule by rule but
//! listed by connection. Rather than keep every record or finding in memory until
//! then, each is serialised the moment it is made into an unnamed temporary file
//! (deleted by the system however connscope exits), and only its sort key, offset and
//! length stay in memory: 24 bytes an item. Writing the output reads them back in
//! order, mostly from the page cache.
//!
//! A connection's id is not in its spilled bytes: it is the item's key, and inputs
//! analysed in parallel (each numbered from 1) get their final ids on the way out by
//! [`Spill::number_after`], with no text to edit.

use super::model::ConnectionRecord;
use serde::Serialize;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};

#[derive(Clone, Copy, Debug)]
struct Entry {
    key: (u64, u64),
    offset: u64,
    len: u32,
}

/// Items serialised compactly as they come, written out by key: connections by id,
/// findings by their first connection id, kind and the order they were made.
pub struct Spill {
    file: BufWriter<File>,
    written: u64,
    entries: Vec<Entry>,
    /// Added to every id on the way out (inputs analysed in parallel number from 1).
    id_offset: u64,
    /// The items are connections whose JSON was parked without its leading id.
    ids_apart: bool,
    scratch: Vec<u8>,
}

/// How a connection's JSON starts: its id is its first field.
const ID_FIELD: &[u8] = b"{\"id\":";

impl Spill {
    pub fn new() -> io::Result<Spill> {
        Ok(Spill {
            file: BufWriter::with_capacity(256 << 10, tempfile::tempfile()?),
            written: 0,
            entries: Vec::new(),
            id_offset: 0,
            ids_apart: false,
            scratch: Vec::new(),
        })
    }

    /// A connection as compact JSON, keyed by its id; the id itself is kept apart
    /// from the bytes (see [`Spill::number_after`]).
    pub fn push_connection(&mut self, record: &ConnectionRecord) -> io::Result<()> {
        self.ids_apart = true;
        self.scratch.clear();
        serde_json::to_writer(&mut self.scratch, record)?;
        // `{"id":7,` is written back, with the final id, by `for_each_in_order`.
        let mut head = ID_FIELD.to_vec();
        head.extend_from_slice(record.id.to_string().as_bytes());
        head.push(b',');
        if !self.scratch.starts_with(&head) {
            return Err(io::Error::other(
                "a connection's JSON must open with its id",
            ));
        }
        self.scratch.drain(..head.len());
        self.park((record.id, 0))
    }

    /// Raw bytes, keyed: a renderer's own encoding (the table's rows).
    pub fn push_bytes(&mut self, key: (u64, u64), bytes: &[u8]) -> io::Result<()> {
        self.scratch.clear();
        self.scratch.extend_from_slice(bytes);
        self.park(key)
    }

    pub fn push(&mut self, key: (u64, u64), value: &impl Serialize) -> io::Result<()> {
        self.scratch.clear();
        serde_json::to_writer(&mut self.scratch, value)?;
        self.park(key)
    }

    /// An item pretty-printed as an element of an array one level inside a document
    /// (each line after the first indented four spaces), as serde_json's pretty
    /// printer lays out a whole report. JSON strings hold no raw newline, so every
    /// newline is the printer's own.
    pub fn push_nested(&mut self, key: (u64, u64), value: &impl Serialize) -> io::Result<()> {
        let text = serde_json::to_vec_pretty(value)?;
        self.scratch.clear();
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                self.scratch.extend_from_slice(b"\n    ");
            }
            self.scratch.extend_from_slice(line);
        }
        self.park(key)
    }

    /// Writes the item in `scratch` to the file, keyed.
    fn park(&mut self, key: (u64, u64)) -> io::Result<()> {
        let len =
            u32::try_from(self.scratch.len()).map_err(|_| io::Error::other("an item over 4 GB"))?;
        self.file.write_all(&self.scratch)?;
        self.entries.push(Entry {
            key,
            offset: self.written,
            len,
        });
        self.written += u64::from(len);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Numbers this input's connections after `offset` earlier ones: every id handed
    /// out is the key's plus `offset`.
    pub fn number_after(&mut self, offset: u64) {
        self.id_offset = offset;
    }

    /// The largest id handed out, if any item is keyed by one.
    pub fn largest_id(&self) -> Option<u64> {
        self.entries.iter().map(|e| e.key.0 + self.id_offset).max()
    }

    /// Calls `each` with every item's JSON text, by key; connections get their ids.
    pub fn for_each_in_order(
        &mut self,
        mut each: impl FnMut(&str) -> io::Result<()>,
    ) -> io::Result<()> {
        let ids_apart = self.ids_apart;
        let mut text = Vec::new();
        self.for_each_raw_in_order(|id, bytes| {
            let bytes = if ids_apart {
                text.clear();
                text.extend_from_slice(ID_FIELD);
                text.extend_from_slice(id.to_string().as_bytes());
                text.push(b',');
                text.extend_from_slice(bytes);
                &text[..]
            } else {
                bytes
            };
            each(std::str::from_utf8(bytes).map_err(io::Error::other)?)
        })
    }

    /// Calls `each` with every item's id (its key's first part, numbered after the
    /// offset) and bytes, by key.
    pub fn for_each_raw_in_order(
        &mut self,
        mut each: impl FnMut(u64, &[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        self.file.flush()?;
        self.entries.sort_unstable_by_key(|e| e.key);
        let file = self.file.get_mut();
        let mut text = Vec::new();
        let mut at = None;
        for e in &self.entries {
            if at != Some(e.offset) {
                file.seek(SeekFrom::Start(e.offset))?;
            }
            text.resize(e.len as usize, 0);
            file.read_exact(&mut text)?;
            at = Some(e.offset + u64::from(e.len));
            each(e.key.0 + self.id_offset, &text)?;
        }
        // Leave the file positioned for further writes, should any follow.
        file.seek(SeekFrom::Start(self.written))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_items_are_indented_as_inside_a_pretty_document() {
        #[derive(Serialize)]
        struct Item {
            id: u64,
            tags: Vec<&'static str>,
        }
        let item = Item {
            id: 3,
            tags: vec!["a\nb"],
        };
        let mut spill = Spill::new().expect("temporary file");
        spill.push_nested((3, 0), &item).expect("pushed");
        let mut texts = Vec::new();
        spill
            .for_each_in_order(|t| {
                texts.push(t.to_string());
                Ok(())
            })
            .expect("read back");
        let whole = serde_json::to_string_pretty(&serde_json::json!({ "items": [
            { "id": 3, "tags": ["a\nb"] }
        ]}))
        .expect("json");
        assert!(
            whole.contains(&format!("[\n    {}\n  ]", texts[0])),
            "{whole}\n{}",
            texts[0]
        );
    }

    #[test]
    fn connection_ids_are_kept_apart_and_numbered_on_the_way_out() {
        // A real connection, renumbered 7, from a capture of a refused connection.
        let source = crate::capture::file::Source::from_arg("fixtures/curl-refused.pcap");
        let mut records = Vec::new();
        let table =
            crate::flow::table::ConnectionTable::new(0, 7, crate::analyzers::Streams::boxed);
        crate::app::driver::analyze_input(&source, table, |r| {
            records.push(r);
            std::ops::ControlFlow::Continue(())
        });
        let record = records.remove(0);
        assert_eq!(record.id, 7);
        let whole = serde_json::to_string(&record).expect("json");
        let mut spill = Spill::new().expect("temporary file");
        spill.push_connection(&record).expect("pushed");
        spill.push_bytes((3, 0), b"three").expect("pushed");
        let mut raw = Vec::new();
        spill
            .for_each_raw_in_order(|id, bytes| {
                raw.push((id, bytes.to_vec()));
                Ok(())
            })
            .expect("read back");
        assert_eq!(raw[0], (3, b"three".to_vec()));
        assert_eq!(raw[1].0, 7);
        assert!(!String::from_utf8_lossy(&raw[1].1).contains("\"id\""));
        spill.number_after(1000);
        assert_eq!(spill.largest_id(), Some(1007));
        let mut spill = Spill::new().expect("temporary file");
        spill.push_connection(&record).expect("pushed");
        spill.number_after(1000);
        let mut texts = Vec::new();
        spill
            .for_each_in_order(|t| {
                texts.push(t.to_string());
                Ok(())
            })
            .expect("read back");
        assert_eq!(texts, [whole.replacen("{\"id\":7,", "{\"id\":1007,", 1)]);
    }
}
