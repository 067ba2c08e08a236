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
    scratch: Vec<u8>,
}

impl Spill {
    pub fn new() -> io::Result<Spill> {
        Ok(Spill {
            file: BufWriter::with_capacity(256 << 10, tempfile::tempfile()?),
            written: 0,
            entries: Vec::new(),
            id_offset: 0,
            scratch: Vec::new(),
        })
    }

    /// A connection, keyed by its id.
    pub fn push_connection(&mut self, record: &ConnectionRecord) -> io::Result<()> {
        self.push((record.id, 0), record)
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

    /// Numbers this input's connections after `offset` earlier ones: `id` is the first
    /// field of each item.
    pub fn renumber(&mut self, offset: u64) {
        self.id_offset = offset;
    }

    /// Calls `each` with every item's JSON text, by key.
    pub fn for_each_in_order(
        &mut self,
        mut each: impl FnMut(&str) -> io::Result<()>,
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
            let text = std::str::from_utf8(&text).map_err(io::Error::other)?;
            if self.id_offset == 0 {
                each(text)?;
            } else {
                each(&with_id(text, e.key.0 + self.id_offset))?;
            }
        }
        // Leave the file positioned for further writes, should any follow.
        file.seek(SeekFrom::Start(self.written))?;
        Ok(())
    }
}

/// The record's text with its id replaced: `id` is the record's first field.
fn with_id(text: &str, id: u64) -> String {
    const PREFIX: &str = "{\"id\":";
    let rest = text.strip_prefix(PREFIX).unwrap_or(text);
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    format!("{PREFIX}{id}{}", &rest[digits..])
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
    fn ids_are_rewritten_in_place() {
        assert_eq!(
            with_id(r#"{"id":7,"input":0}"#, 1007),
            r#"{"id":1007,"input":0}"#
        );
    }
}
