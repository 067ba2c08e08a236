//! No allocation per packet in the steady state: the same connections and requests
//! carrying ten times the packets (larger response bodies) allocate about the same.
//! Counted with a counting global allocator (stats_alloc) around the whole analysis —
//! reading, decoding, tracking, HTTP, findings and the JSONL output. One test in this
//! file: the counter is process-wide.

use connscope::app::analyze::{analyze_files, Reading};
use connscope::app::config::Tracking;
use connscope::app::sink::Destination;
use etherparse::PacketBuilder;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::path::PathBuf;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const MSS: usize = 1400;

/// A capture of `connections` keep-alive connections, each carrying `requests` GETs
/// answered with `body` bytes, segment by segment, every segment acknowledged.
fn capture(connections: u16, requests: u32, body: usize) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65_535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    let mut packets = 0u64;
    let mut micros = 1_700_000_000_000_000u64;
    let mut emit =
        |from_client: bool, port: u16, seq: u32, ack: u32, flags: &str, payload: &[u8]| {
            let (src, dst, sport, dport) = if from_client {
                ([10, 0, 0, 1], [10, 0, 0, 2], port, 80)
            } else {
                ([10, 0, 0, 2], [10, 0, 0, 1], 80, port)
            };
            let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4(src, dst, 64)
                .tcp(sport, dport, seq, 65_535);
            if flags.contains('S') {
                b = b.syn();
            }
            if flags.contains('A') {
                b = b.ack(ack);
            }
            if flags.contains('F') {
                b = b.fin();
            }
            let mut frame = Vec::new();
            b.write(&mut frame, payload).expect("build packet");
            micros += 100;
            out.extend_from_slice(&((micros / 1_000_000) as u32).to_le_bytes());
            out.extend_from_slice(&((micros % 1_000_000) as u32).to_le_bytes());
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(&frame);
            packets += 1;
        };
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {body}\r\n\r\n");
    let request = b"GET /object HTTP/1.1\r\nHost: bench.example\r\n\r\n";
    let body = vec![b'x'; body];
    for c in 0..connections {
        let port = 20_000 + c;
        let (mut cs, mut ss) = (1_000u32, 9_000u32);
        emit(true, port, cs, 0, "S", &[]);
        emit(false, port, ss, cs + 1, "SA", &[]);
        cs += 1;
        ss += 1;
        emit(true, port, cs, ss, "A", &[]);
        for _ in 0..requests {
            emit(true, port, cs, ss, "A", request);
            cs += request.len() as u32;
            let response: Vec<u8> = head.bytes().chain(body.iter().copied()).collect();
            for chunk in response.chunks(MSS) {
                emit(false, port, ss, cs, "A", chunk);
                ss += chunk.len() as u32;
                emit(true, port, cs, ss, "A", &[]);
            }
        }
        emit(true, port, cs, ss, "FA", &[]);
        emit(false, port, ss, cs + 1, "FA", &[]);
        emit(true, port, cs + 1, ss + 1, "A", &[]);
    }
    (out, packets)
}

/// Allocations (and reallocations) made analysing `pcap` to JSONL.
fn allocations(name: &str, pcap: &[u8]) -> usize {
    let path: PathBuf = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, pcap).expect("write capture");
    let files = vec![path.to_string_lossy().into_owned()];
    let reading = Reading::of(&Tracking {
        quiet: true,
        idle_threshold: 10.0,
        syn_timeout_nanos: 10_000_000_000,
        keys: Default::default(),
    });
    let mut sink = std::io::sink();
    let region = Region::new(GLOBAL);
    let stream = Destination::Stream {
        out: &mut sink,
        flush: false,
    };
    let analysis = analyze_files(&files, &reading, stream).expect("analysis");
    let stats = region.change();
    assert!(!analysis.input_error && analysis.write_error.is_none());
    stats.allocations + stats.reallocations
}

#[test]
fn allocations_grow_with_connections_and_requests_not_packets() {
    let (small, small_packets) = capture(50, 4, 2_000);
    let (large, large_packets) = capture(50, 4, 50_000);
    assert!(
        large_packets >= 10 * small_packets,
        "{large_packets} vs {small_packets}"
    );
    let few = allocations("alloc-small.pcap", &small);
    let many = allocations("alloc-large.pcap", &large);
    eprintln!(
        "{small_packets} packets: {few} allocations; {large_packets} packets: {many} allocations"
    );
    // The same 50 connections and 200 requests: within 10 %, though 10× the packets.
    assert!(
        many <= few + few / 10,
        "{many} allocations for {large_packets} packets vs {few} for {small_packets}"
    );
    // Of the order of the connections and requests: a few dozen for each.
    assert!(
        few <= 20 * (50 + 200),
        "{few} for 50 connections and 200 requests"
    );
    // Twice the connections: about twice the allocations.
    let (double, _) = capture(100, 4, 2_000);
    let twice = allocations("alloc-double.pcap", &double);
    assert!(
        twice > few + few / 2,
        "{twice} allocations for twice the connections vs {few}"
    );
}
