//! JSON renderers: the whole report as one document, or one connection per line.

use super::model::{ConnectionRecord, Report};
use std::io::{self, Write};

pub fn write_report(out: &mut impl Write, report: &Report) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}

pub fn write_line(out: &mut impl Write, conn: &ConnectionRecord) -> io::Result<()> {
    serde_json::to_writer(&mut *out, conn)?;
    out.write_all(b"\n")
}
