//! Arbitrary bytes as a capture file: reading, decoding, tracking, HTTP, TLS, findings,
//! the timeline and every renderer.
#![no_main]

use connscope::app::analyze_input;
use connscope::capture::file::Source;
use connscope::flow::table::ConnectionTable;
use connscope::report::model::{Report, SCHEMA};
use libfuzzer_sys::fuzz_target;
use std::ops::ControlFlow;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let source = Source::Bytes("fuzz".into(), Arc::from(data));
    let mut connections = Vec::new();
    let outcome = analyze_input(
        &source,
        ConnectionTable::new(0, 1),
        false,
        |_| true,
        |r| {
            connections.push(r);
            ControlFlow::Continue(())
        },
    );
    let findings = connscope::findings::diagnose(
        0,
        &connections,
        outcome.report.last_time,
        &Default::default(),
    );
    let timelines: Vec<_> = connections.iter().map(connscope::story::timeline).collect();
    let report = Report {
        schema: SCHEMA,
        inputs: vec![outcome.report],
        servers: connscope::report::servers::rollup(&connections),
        connections,
        findings,
    };
    let mut sink = Vec::new();
    let _ = connscope::report::json::write_report(&mut sink, &report);
    let _ = connscope::report::table::write_tables(&mut sink, &report, false);
    let _ = connscope::report::table::write_http(&mut sink, &report, false);
    let _ = connscope::report::table::write_servers(&mut sink, &report, false);
    let style = connscope::report::timeline::Style {
        terminal: false,
        color: true,
    };
    let _ =
        connscope::report::timeline::write_timelines(&mut sink, &report.inputs, &timelines, style);
});
