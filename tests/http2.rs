//! Cleartext HTTP/2 through the whole pipeline, as a user runs it:
//! `connscope analyze -f json fixtures/h2c-*.pcap`. Every stream becomes an exchange
//! in the connection's `http[]` with the method, path, status and stream id tshark
//! shows; the connection's `http2{}` block holds concurrency, PINGs and GOAWAYs.
//! Golden outputs for the h2c fixtures are checked here too (regenerate with
//! `UPDATE_GOLDEN=1 cargo test --test http2`).

mod common;

use common::{check_golden, connscope, json, stderr, stdout};
use serde_json::Value;

fn analyze(fixture: &str) -> Value {
    let out = connscope(&["analyze", "-f", "json", &format!("fixtures/{fixture}")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    json(&out)
}

fn connections(doc: &Value) -> &Vec<Value> {
    doc["connections"].as_array().expect("connections")
}

/// (stream, method, path, status) of each exchange of a connection, in `http[]` order.
fn streams(conn: &Value) -> Vec<(u64, String, String, u64)> {
    conn["http"]
        .as_array()
        .expect("http")
        .iter()
        .map(|x| {
            (
                x["stream_id"].as_u64().unwrap_or(0),
                x["method"].as_str().unwrap_or("").to_string(),
                x["target"].as_str().unwrap_or("").to_string(),
                x["status"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn row(stream: u64, method: &str, path: &str, status: u64) -> (u64, String, String, u64) {
    (stream, method.to_string(), path.to_string(), status)
}

/// Each exchange's `index`, counting from 1 in `http[]` order.
fn indexes(conn: &Value) -> Vec<u64> {
    conn["http"]
        .as_array()
        .expect("http")
        .iter()
        .map(|x| x["index"].as_u64().unwrap_or(0))
        .collect()
}

/// The expected streams are tshark's:
///   tshark -r fixtures/h2c-nghttpd.pcap -d tcp.port==8443,http2 -Y http2 -T fields \
///     -e tcp.stream -e http2.streamid -e http2.headers.method -e http2.headers.path \
///     -e http2.headers.status
/// tcp.stream 0: 1 GET /a.txt 200, 3 GET /b.txt 200, 5 GET /missing 404;
/// tcp.stream 1: 13, 15, 17 GET /b.txt 200 (after PRIORITY-only streams 3..11);
/// tcp.stream 2: 13 POST /echo 200. GOAWAYs (-Y http2.type==7): frames 16, 37, 49,
/// each from the client, last stream 0, NO_ERROR.
#[test]
fn h2c_nghttpd_streams_are_exchanges_as_tshark_shows_them() {
    let doc = analyze("h2c-nghttpd.pcap");
    let conns = connections(&doc);
    assert_eq!(conns.len(), 3);
    let expected = [
        vec![
            row(1, "GET", "/a.txt", 200),
            row(3, "GET", "/b.txt", 200),
            row(5, "GET", "/missing", 404),
        ],
        vec![
            row(13, "GET", "/b.txt", 200),
            row(15, "GET", "/b.txt", 200),
            row(17, "GET", "/b.txt", 200),
        ],
        vec![row(13, "POST", "/echo", 200)],
    ];
    for (conn, expected) in conns.iter().zip(expected) {
        assert_eq!(conn["protocol"], "http2");
        assert_eq!(streams(conn), expected);
        assert_eq!(conn["requests"].as_u64(), Some(expected.len() as u64));
        assert_eq!(conn["requests_inferred"], false);
        assert_eq!(
            indexes(conn),
            (1..=expected.len() as u64).collect::<Vec<_>>()
        );
        for x in conn["http"].as_array().expect("http") {
            assert_eq!(x["version"], "HTTP/2");
            assert_eq!(x["response_version"], "HTTP/2");
            assert_eq!(x["host"], "127.0.0.1:8443");
            assert_eq!(x["response_complete"], true);
        }
        let h2 = &conn["http2"];
        assert_eq!(h2["via"], "prior_knowledge");
        assert_eq!(h2["streams_opened"].as_u64(), Some(expected.len() as u64));
        let goaways = h2["goaways"].as_array().expect("goaways");
        assert_eq!(goaways.len(), 1);
        assert_eq!(goaways[0]["from"], "client");
        assert_eq!(goaways[0]["last_stream_id"], 0);
        assert_eq!(goaways[0]["error"], "NO_ERROR");
        // The client's GOAWAY ended the HTTP/2 conversation (HTTP/2's `Connection: close`).
        assert_eq!(conn["http_end"]["reason"], "client_goaway");
        assert_eq!(conn["http_end"]["by"], "client");
        assert_eq!(conn["warnings"].as_array().map(Vec::len), Some(0));
    }
    let packets = |c: &Value| -> Vec<u64> {
        c["http2"]["goaways"]
            .as_array()
            .expect("goaways")
            .iter()
            .filter_map(|g| g["packet"].as_u64())
            .collect()
    };
    assert_eq!(
        conns.iter().flat_map(packets).collect::<Vec<_>>(),
        [16, 37, 49]
    );
    // h2load -m 1 keeps one stream open at a time; nghttp -m 3 opens three at once.
    let concurrency: Vec<_> = conns
        .iter()
        .map(|c| c["http2"]["max_concurrent_streams"].as_u64())
        .collect();
    assert_eq!(concurrency, [Some(1), Some(3), Some(1)]);
    // One after the other: the second request on the h2load connection waited for the
    // first to end, so the connection was idle between them; the concurrent streams
    // of nghttp -m 3 overlap and have no idle time.
    let first = &conns[0]["http"];
    assert!(first[0]["idle_before_s"].is_null());
    assert!(first[1]["idle_before_s"].as_f64().is_some_and(|s| s > 0.0));
    assert!(conns[1]["http"]
        .as_array()
        .expect("http")
        .iter()
        .all(|x| x["idle_before_s"].is_null()));
    // The POST's 11-byte body, echoed back (tshark -Y 'http2.type==0' -e http2.length).
    let post = &conns[2]["http"][0];
    assert_eq!(post["request_body_bytes"], 11);
    assert_eq!(post["response_body_bytes"], 11);
    assert_eq!(conns[0]["http"][1]["response_body_bytes"], 40_000);
}

/// tshark's view of the PINGs and the GOAWAY:
///   tshark -r fixtures/h2c-ping.pcap -d tcp.port==8443,http2 \
///     -Y 'http2.type==6 or http2.type==7' -T fields -e frame.number -e tcp.srcport \
///     -e http2.type -e http2.flags -e http2.goaway.last_stream_id -e http2.goaway.error
/// 14 client PING, 16 server ACK; 18 client PING, 19 server ACK; 23 client GOAWAY
/// (last stream 0, NO_ERROR). Streams (-Y http2 as above): 1 GET /a.txt 200,
/// 3 GET /missing 404.
#[test]
fn h2c_ping_pings_and_goaway_reach_the_report() {
    let doc = analyze("h2c-ping.pcap");
    let conns = connections(&doc);
    assert_eq!(conns.len(), 1);
    let conn = &conns[0];
    assert_eq!(
        streams(conn),
        [row(1, "GET", "/a.txt", 200), row(3, "GET", "/missing", 404)]
    );
    let h2 = &conn["http2"];
    let pings: Vec<_> = h2["pings"]
        .as_array()
        .expect("pings")
        .iter()
        .map(|p| {
            (
                p["from"].as_str().unwrap_or("").to_string(),
                p["packet"].as_u64(),
                p["ack_packet"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        pings,
        [
            ("client".to_string(), Some(14), Some(16)),
            ("client".to_string(), Some(18), Some(19)),
        ]
    );
    // frame.time_delta between each PING and its ACK: 0.091 ms and 0.088 ms.
    assert_eq!(h2["pings"][0]["rtt_ms"], 0.091);
    assert_eq!(h2["pings"][1]["rtt_ms"], 0.088);
    assert_eq!(h2["goaways"][0]["packet"], 23);
    assert_eq!(h2["goaways"][0]["from"], "client");
    assert_eq!(h2["goaways"][0]["error"], "NO_ERROR");
    assert_eq!(conn["http_end"]["reason"], "client_goaway");
    // The second GET came after 0.5 s of PINGs and nothing else.
    let idle = conn["http"][1]["idle_before_s"].as_f64().expect("idle");
    assert!(idle > 0.5 && idle < 0.6, "{idle}");
    // Each side's SETTINGS, acknowledged by the other.
    let settings = h2["settings"].as_array().expect("settings");
    assert_eq!(settings.len(), 2);
    assert!(settings.iter().all(|s| s["ack_packet"].as_u64().is_some()));
}

/// fixtures/h2c-upgrade.pcap (fixtures/record-h2c-upgrade.sh): HTTP/2 reached by
/// `Upgrade: h2c`. tshark's view:
///   tshark -r fixtures/h2c-upgrade.pcap -d tcp.port==8511,http -Y 'http or http2' \
///     -T fields -e frame.number -e tcp.stream -e http2.streamid \
///     -e http.request.method -e http.request.uri -e http.response.code \
///     -e http2.headers.method -e http2.headers.path -e http2.headers.status
/// tcp.stream 0 (curl --http2): 4 GET /a.txt HTTP/1.1; 6 101, then in the same
/// segment stream 1's 200; 10 stream 3 GET /missing, 11 404.
/// tcp.stream 1 (nghttp -u): 18 GET /a.txt HTTP/1.1; 20 101 + stream 1's 200;
/// 22 stream 13 GET /b.txt, 23 200; 24 the client's GOAWAY.
#[test]
fn h2c_upgrade_makes_the_request_stream_1() {
    let doc = analyze("h2c-upgrade.pcap");
    let conns = connections(&doc);
    assert_eq!(conns.len(), 2);
    assert_eq!(
        streams(&conns[0]),
        [row(1, "GET", "/a.txt", 200), row(3, "GET", "/missing", 404)]
    );
    assert_eq!(
        streams(&conns[1]),
        [row(1, "GET", "/a.txt", 200), row(13, "GET", "/b.txt", 200)]
    );
    for conn in conns {
        assert_eq!(conn["protocol"], "http2");
        assert_eq!(conn["http2"]["via"], "upgrade");
        assert_eq!(conn["requests"], 2);
        assert_eq!(indexes(conn), [1, 2]);
        // Stream 1's request was HTTP/1.1; the 101 was its first (interim) answer.
        let upgraded = &conn["http"][0];
        assert_eq!(upgraded["version"], "HTTP/1.1");
        assert_eq!(upgraded["response_version"], "HTTP/2");
        assert_eq!(upgraded["interim"], serde_json::json!([101]));
        assert_eq!(upgraded["host"], "127.0.0.1:8511");
        assert_eq!(upgraded["response_body_bytes"], 6);
        assert_eq!(upgraded["response_complete"], true);
        assert_eq!(conn["http"][1]["version"], "HTTP/2");
        assert_eq!(conn["tunnel"]["kind"], "upgrade");
        assert_eq!(conn["tunnel"]["protocol"], "h2c");
        assert_eq!(conn["warnings"].as_array().map(Vec::len), Some(0));
    }
    let packets = |c: &Value, field: &str| -> Vec<u64> {
        c["http"]
            .as_array()
            .expect("http")
            .iter()
            .filter_map(|x| x[field].as_u64())
            .collect()
    };
    assert_eq!(packets(&conns[0], "request_packet"), [4, 10]);
    assert_eq!(packets(&conns[0], "response_packet"), [6, 11]);
    assert_eq!(packets(&conns[1], "request_packet"), [18, 22]);
    assert_eq!(packets(&conns[1], "response_packet"), [20, 23]);
    assert_eq!(conns[1]["http2"]["goaways"][0]["packet"], 24);
    assert_eq!(conns[1]["http_end"]["reason"], "client_goaway");
    // curl sends no GOAWAY: the TCP close while no stream was open ends it.
    assert!(conns[0]["http2"]["goaways"]
        .as_array()
        .is_some_and(Vec::is_empty));
    assert!(conns[0]["http_end"]["reason"]
        .as_str()
        .is_some_and(|r| r.ends_with("closed_idle")));
}

#[test]
fn golden_json_and_table_for_the_h2c_fixtures() {
    for fixture in ["h2c-nghttpd.pcap", "h2c-ping.pcap", "h2c-upgrade.pcap"] {
        let path = format!("fixtures/{fixture}");
        let table = connscope(&["analyze", &path]);
        assert_eq!(table.status.code(), Some(0), "{}", stderr(&table));
        check_golden(&format!("{fixture}.table.txt"), &stdout(&table));
        let doc = connscope(&["analyze", "--format", "json", &path]);
        assert_eq!(doc.status.code(), Some(0), "{}", stderr(&doc));
        check_golden(&format!("{fixture}.json"), &stdout(&doc));
    }
}
