//! Real tunnelled traffic, recorded by `fixtures/record-tunnels.sh` between two
//! network namespaces: the inner HTTP connection is tracked as tshark 4.0 counts it
//! (`tshark -r <file> -q -z conv,tcp`), with the VXLAN endpoints on its record.
//!
//! $ connscope analyze --format json fixtures/vxlan-frag.pcap

mod common;

use common::{connscope, json};
use serde_json::{json, Value};

fn analyze(fixture: &str) -> Value {
    let out = connscope(&[
        "analyze",
        "--format",
        "json",
        &format!("fixtures/{fixture}"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    json(&out)
}

#[test]
fn vxlan_over_fragmented_ipv4_is_reassembled_and_decapsulated() {
    let doc = analyze("vxlan-frag.pcap");
    let input = &doc["inputs"][0];
    // Five outer datagrams came in two fragments each: the first of each is held,
    // the second completes it; none is left over.
    assert_eq!(input["skipped"]["ip_fragment"], 5);
    assert!(input["skipped"].get("ip_fragments_incomplete").is_none());
    let conns = doc["connections"].as_array().expect("connections");
    assert_eq!(conns.len(), 1);
    let c = &conns[0];
    assert_eq!(c["client"]["ip"], "10.98.0.1");
    assert_eq!(c["server"]["port"], 8000);
    // tshark: 9 frames client → server, 11 server → client.
    assert_eq!(c["packets"], json!({"client": 9, "server": 11}));
    assert_eq!(c["payload_bytes"]["server"], 20_189);
    assert_eq!(c["missed_bytes"], json!({"client": 0, "server": 0}));
    assert_eq!(c["conn_state"], "SF");
    assert_eq!(c["requests"], 1);
    assert_eq!(
        c["encapsulation"],
        json!({"kind": "vxlan", "outer": ["192.0.2.1", "192.0.2.2"], "id": 42, "layers": 1})
    );
}

#[test]
fn vxlan_over_ipv6_keeps_the_ipv6_outer_endpoints() {
    let doc = analyze("vxlan6.pcap");
    let conns = doc["connections"].as_array().expect("connections");
    assert_eq!(conns.len(), 1);
    let c = &conns[0];
    assert_eq!(c["client"]["ip"], "10.96.0.1");
    // tshark: 9 frames client → server, 7 server → client.
    assert_eq!(c["packets"], json!({"client": 9, "server": 7}));
    assert_eq!(c["payload_bytes"]["server"], 20_189);
    assert_eq!(
        c["encapsulation"],
        json!({"kind": "vxlan", "outer": ["fd00:2::1", "fd00:2::2"], "id": 6, "layers": 1})
    );
}
