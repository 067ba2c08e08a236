//! JSON renderers: the whole report as one document, one connection per line, or the
//! rows of the `http` and `servers` views.

use super::model::{ConnectionRecord, Finding, HttpExchange, Report};
use super::spill::Spill;
use crate::flow::key::Endpoint;
use serde::Serialize;
use std::io::{self, Write};

/// The report as one document, its connections and findings read back from the spill
/// files, one a line; the rest pretty-printed. Byte for byte what serde_json's pretty
/// printer would write around those lines, without parsing them again.
pub fn write_document(
    out: &mut impl Write,
    report: &Report,
    connections: &mut [Spill],
    findings: &mut [Spill],
) -> io::Result<()> {
    out.write_all(b"{\n  \"schema\": ")?;
    serde_json::to_writer(&mut *out, report.schema)?;
    out.write_all(b",\n  \"inputs\": ")?;
    write_nested(out, &report.inputs)?;
    out.write_all(b",\n  \"connections\": ")?;
    write_lines(out, connections)?;
    out.write_all(b",\n  \"servers\": ")?;
    write_nested(out, &report.servers)?;
    out.write_all(b",\n  \"findings\": ")?;
    write_lines(out, findings)?;
    out.write_all(b"\n}\n")
}

/// A value pretty-printed one level deep inside the document.
fn write_nested(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    let text = serde_json::to_vec_pretty(value)?;
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.write_all(b"\n  ")?;
        }
        out.write_all(line)?;
    }
    Ok(())
}

/// The spilled items as an array, one a line.
fn write_lines(out: &mut impl Write, spills: &mut [Spill]) -> io::Result<()> {
    if spills.iter().all(Spill::is_empty) {
        return out.write_all(b"[]");
    }
    out.write_all(b"[")?;
    let mut first = true;
    for spill in spills {
        spill.for_each_in_order(|text| {
            out.write_all(if first { b"\n    " } else { b",\n    " })?;
            first = false;
            out.write_all(text.as_bytes())
        })?;
    }
    out.write_all(b"\n  ]")
}

/// A JSONL line: the object with a `type` saying what it is and the `file` it came
/// from, so rows from many runs can be loaded together (DuckDB, Spark, ClickHouse).
#[derive(Serialize)]
pub struct Line<'a, T: Serialize> {
    r#type: &'static str,
    file: &'a str,
    #[serde(flatten)]
    value: &'a T,
}

impl<'a> Line<'a, Finding> {
    pub fn finding(file: &'a str, value: &'a Finding) -> Self {
        Line {
            r#type: "finding",
            file,
            value,
        }
    }
}

pub fn write_line(
    out: &mut (impl Write + ?Sized),
    file: &str,
    conn: &ConnectionRecord,
) -> io::Result<()> {
    serde_json::to_writer(
        &mut *out,
        &Line {
            r#type: "connection",
            file,
            value: conn,
        },
    )?;
    out.write_all(b"\n")
}

pub fn write_finding_line(
    out: &mut (impl Write + ?Sized),
    file: &str,
    finding: &Finding,
) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &Line::finding(file, finding))?;
    out.write_all(b"\n")
}

pub fn write_value(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    out.write_all(b"\n")
}

/// One exchange with the connection that carried it.
#[derive(Serialize)]
struct HttpRow<'a> {
    connection: u64,
    input: usize,
    client: Endpoint,
    server: Endpoint,
    #[serde(flatten)]
    exchange: &'a HttpExchange,
}

/// Every HTTP exchange of the report, by connection id then order on it.
pub fn write_http(out: &mut impl Write, report: &Report) -> io::Result<()> {
    let rows: Vec<HttpRow<'_>> = report
        .connections
        .iter()
        .flat_map(|c| {
            c.http.iter().map(move |x| HttpRow {
                connection: c.id,
                input: c.input,
                client: c.client,
                server: c.server,
                exchange: x,
            })
        })
        .collect();
    write_value(out, &rows)
}
