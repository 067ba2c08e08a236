//! JSON renderers: the whole report as one document, one connection per line, or the
//! rows of the `http` and `servers` views.

use super::model::{ConnectionRecord, Finding, HttpExchange, InputReport, Report, ServerSummary};
use super::spill::{Spill, Spilled};
use crate::flow::key::Endpoint;
use serde::Serialize;
use std::cell::RefCell;
use std::io::{self, Write};

pub fn write_report(out: &mut impl Write, report: &Report) -> io::Result<()> {
    write_value(out, report)
}

/// The report as one document, its connections and findings read back from the spill
/// files, one a line.
pub fn write_document(
    out: &mut impl Write,
    report: &Report,
    connections: &mut [Spill],
    findings: &mut [Spill],
) -> io::Result<()> {
    #[derive(Serialize)]
    struct Document<'a> {
        schema: &'static str,
        inputs: &'a [InputReport],
        connections: Spilled<'a>,
        servers: &'a [ServerSummary],
        findings: Spilled<'a>,
    }
    write_value(
        out,
        &Document {
            schema: report.schema,
            inputs: &report.inputs,
            connections: Spilled(RefCell::new(connections)),
            servers: &report.servers,
            findings: Spilled(RefCell::new(findings)),
        },
    )
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
