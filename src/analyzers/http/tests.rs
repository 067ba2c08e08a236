//! Unit tests of the HTTP/1.x analyzer on real message bytes.

use super::*;
use crate::time::Timestamp;

/// Feeds `(direction, bytes)` messages, each split into pieces of `split` bytes
/// (one packet each, one second apart), then FINs from both sides.
fn run_split(messages: &[(Direction, &[u8])], split: usize, fin: bool) -> HttpSummary {
    let mut http = HttpAnalyzer::default();
    let mut packet = 0u64;
    for (dir, bytes) in messages {
        for piece in bytes.chunks(split.max(1)) {
            packet += 1;
            let origin = Origin {
                packet,
                ts: Timestamp::from_nanos(packet as i64 * 1_000_000_000),
            };
            http.on_chunk(*dir, Chunk::Data(piece), origin);
        }
    }
    if fin {
        for dir in [Direction::Client, Direction::Server] {
            packet += 1;
            let origin = Origin {
                packet,
                ts: Timestamp::from_nanos(packet as i64 * 1_000_000_000),
            };
            http.on_chunk(dir, Chunk::Fin, origin);
        }
    }
    http.finish()
}

fn run(messages: &[(Direction, &[u8])]) -> HttpSummary {
    run_split(messages, usize::MAX, false)
}

use Direction::{Client as C, Server as S};

/// (method, status, request body, response body, complete) of one exchange.
type View = (Option<Text>, Option<u16>, u64, u64, bool);

fn view(summary: &HttpSummary) -> Vec<View> {
    summary
        .exchanges
        .iter()
        .map(|x| {
            (
                x.method.clone(),
                x.status,
                x.request_body_bytes,
                x.response_body_bytes,
                x.response_complete,
            )
        })
        .collect()
}

fn get(m: &str, s: u16, req: u64, resp: u64) -> View {
    (Some(text(m)), Some(s), req, resp, true)
}

const REQ: &[u8] = b"GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n";
const RESP_CL: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nKeep-Alive: timeout=5, max=100\r\n\r\nhello";
const RESP_CHUNKED: &[u8] =
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\nX-Trailer: t\r\n\r\n";

#[test]
fn content_length_and_fields() {
    let s = run(&[(C, REQ), (S, RESP_CL)]);
    assert_eq!(view(&s), vec![get("GET", 200, 0, 5)]);
    let x = &s.exchanges[0];
    assert_eq!(x.host.as_deref(), Some("example.com"));
    assert_eq!(x.target.as_deref(), Some("/a"));
    assert_eq!(x.version.as_deref(), Some("HTTP/1.1"));
    assert_eq!(x.reason.as_deref(), Some("OK"));
    assert_eq!(
        x.keep_alive,
        Some(KeepAliveHeader {
            timeout: Some(5),
            max: Some(100)
        })
    );
    assert_eq!((x.request_packet, x.response_packet), (Some(1), Some(2)));
    assert_eq!(x.ttfb_ms, Some(1000.0));
    assert!(s.warnings.is_empty());
}

#[test]
fn any_split_gives_the_same_exchanges() {
    let post = b"POST /up HTTP/1.1\r\nContent-Length: 7\r\n\r\npayload";
    let messages: Vec<(Direction, &[u8])> = vec![
        (C, REQ),
        (S, RESP_CHUNKED),
        (C, post),
        (S, RESP_CL),
        (C, REQ),
        (S, b"HTTP/1.1 204 No Content\r\n\r\n"),
    ];
    let whole = view(&run(&messages));
    assert_eq!(
        whole,
        vec![
            get("GET", 200, 0, 6),
            get("POST", 200, 7, 5),
            get("GET", 204, 0, 0)
        ]
    );
    for split in 1..40 {
        assert_eq!(
            view(&run_split(&messages, split, false)),
            whole,
            "split {split}"
        );
    }
}

#[test]
fn pipelined_requests_pair_in_order() {
    let s = run(&[
        (C, REQ),
        (C, b"GET /b HTTP/1.1\r\n\r\n"),
        (S, RESP_CL),
        (S, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(view(&s), vec![get("GET", 200, 0, 5), get("GET", 404, 0, 0)]);
    assert_eq!(s.exchanges[1].target.as_deref(), Some("/b"));
    assert_eq!(s.exchanges[1].response_packet, Some(4));
}

#[test]
fn head_and_304_have_no_body() {
    let s = run(&[
        (C, b"HEAD / HTTP/1.1\r\n\r\n"),
        (S, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
        (C, REQ),
        (
            S,
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 1000\r\n\r\n",
        ),
        (C, REQ),
        (S, RESP_CL),
    ]);
    assert_eq!(
        view(&s),
        vec![
            get("HEAD", 200, 0, 0),
            get("GET", 304, 0, 0),
            get("GET", 200, 0, 5)
        ]
    );
}

#[test]
fn continue_100_is_interim() {
    let s = run(&[
        (
            C,
            b"PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
        ),
        (S, b"HTTP/1.1 100 Continue\r\n\r\n"),
        (C, b"abc"),
        (S, b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(view(&s), vec![get("PUT", 201, 3, 0)]);
    assert_eq!(s.exchanges[0].interim, vec![100]);
    assert_eq!(
        s.exchanges[0].response_packet,
        Some(2),
        "the first response byte is the 100"
    );
}

#[test]
fn close_delimited_body_ends_at_fin() {
    let s = run_split(
        &[(C, REQ), (S, b"HTTP/1.0 200 OK\r\n\r\nuntil the end")],
        4,
        true,
    );
    assert_eq!(view(&s), vec![get("GET", 200, 0, 13)]);
    let x = &s.exchanges[0];
    assert!(x.response_end.is_some());
    let end = http_end(&s, Some(Direction::Server)).expect("end");
    assert_eq!(end.reason, HttpEndReason::Http10NoKeepAlive);
    assert_eq!(end.by, Some(Direction::Server));
}

#[test]
fn upgrade_and_connect_become_tunnels() {
    let s = run(&[
        (
            C,
            b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        ),
        (
            S,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
        ),
        (C, b"\x81\x85binary frames GET / HTTP/1.1\r\n\r\n"),
    ]);
    assert_eq!(s.exchanges.len(), 1);
    let tunnel = s.tunnel.as_ref().expect("tunnel");
    assert_eq!(
        (tunnel.kind, tunnel.protocol.as_deref()),
        ("upgrade", Some("websocket"))
    );
    assert_eq!(
        http_end(&s, None).map(|e| e.reason),
        Some(HttpEndReason::Tunnel)
    );
    let s = run(&[
        (C, b"CONNECT example.com:443 HTTP/1.1\r\n\r\n"),
        (S, b"HTTP/1.1 200 Connection established\r\n\r\n"),
        (C, b"\x16\x03\x01 tls bytes"),
    ]);
    assert_eq!(s.tunnel.as_ref().map(|t| t.kind), Some("connect"));
    assert_eq!(s.exchanges[0].target.as_deref(), Some("example.com:443"));
}

#[test]
fn idle_before_and_connection_headers() {
    let s = run(&[
        (C, REQ),
        (S, RESP_CL),
        (C, b"GET /2 HTTP/1.1\r\nConnection: close\r\n\r\n"),
        (
            S,
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        ),
    ]);
    assert_eq!(s.exchanges[0].idle_before_s, None);
    assert_eq!(s.exchanges[1].idle_before_s, Some(1.0));
    assert_eq!(s.exchanges[1].request_connection.as_deref(), Some("close"));
    let end = http_end(&s, Some(Direction::Server)).expect("end");
    assert_eq!(
        (end.by, end.reason),
        (
            Some(Direction::Client),
            HttpEndReason::ClientConnectionClose
        )
    );
}

#[test]
fn gap_inside_a_body_keeps_framing() {
    let mut http = HttpAnalyzer::default();
    let o = |packet| Origin {
        packet,
        ts: Timestamp::from_nanos(packet as i64),
    };
    http.on_chunk(C, Chunk::Data(REQ), o(1));
    http.on_chunk(
        S,
        Chunk::Data(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"),
        o(2),
    );
    http.on_chunk(S, Chunk::Gap(80), o(3));
    http.on_chunk(S, Chunk::Data(b"0123456789"), o(4));
    http.on_chunk(C, Chunk::Data(REQ), o(5));
    http.on_chunk(S, Chunk::Data(RESP_CL), o(6));
    let s = http.finish();
    assert_eq!(
        view(&s),
        vec![get("GET", 200, 0, 100), get("GET", 200, 0, 5)]
    );
    assert_eq!(s.missed_bytes, (0, 80));
}

#[test]
fn gap_inside_a_head_resynchronises_at_the_next_response() {
    let mut http = HttpAnalyzer::default();
    let o = |packet| Origin {
        packet,
        ts: Timestamp::from_nanos(packet as i64),
    };
    http.on_chunk(C, Chunk::Data(REQ), o(1));
    http.on_chunk(C, Chunk::Data(REQ), o(2));
    http.on_chunk(S, Chunk::Data(b"HTTP/1.1 200 OK\r\nContent-"), o(3));
    http.on_chunk(S, Chunk::Gap(500), o(4));
    http.on_chunk(
        S,
        Chunk::Data(b"tail of something\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
        o(5),
    );
    let s = http.finish();
    assert_eq!(s.exchanges.len(), 2);
    assert_eq!(
        s.exchanges[0].status,
        Some(200),
        "its status line was captured, the rest of its head lost"
    );
    assert!(!s.exchanges[0].response_complete);
    assert_eq!(s.exchanges[0].response_packet, Some(3));
    assert_eq!(s.exchanges[1].status, Some(404));
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert_eq!(s.warnings[0].packet, Some(4));
}

#[test]
fn hostile_inputs_warn_and_do_not_stall() {
    // A 1 MB header line.
    let mut huge = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 1 << 20));
    let s = run_split(
        &[(C, &huge), (C, b"\r\n\r\n"), (C, REQ), (S, RESP_CL)],
        1460,
        false,
    );
    assert!(
        s.warnings[0].message.contains("longer than 65536 bytes"),
        "{:?}",
        s.warnings
    );
    assert_eq!(s.exchanges.len(), 1, "the next request is still found");
    // A chunk size that overflows, then a valid response.
    let s = run(&[
        (C, REQ),
        (
            S,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n",
        ),
        (C, REQ),
        (S, RESP_CL),
    ]);
    assert!(
        s.warnings[0].message.starts_with("invalid chunk size"),
        "{:?}",
        s.warnings
    );
    assert_eq!(
        s.exchanges.iter().filter(|x| x.status == Some(200)).count(),
        2
    );
    // Conflicting Content-Length.
    let s = run(&[
        (C, REQ),
        (
            S,
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        ),
    ]);
    assert!(s.warnings[0]
        .message
        .contains("conflicting Content-Length values 5 and 6"));
    // 10 000 header fields.
    let mut many = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..10_000 {
        many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let s = run(&[(C, &many), (C, REQ), (S, RESP_CL)]);
    assert!(!s.warnings.is_empty());
    // … and in fewer bytes than the head limit.
    let mut many = b"GET / HTTP/1.1\r\n".to_vec();
    many.extend(b"X:v\r\n".repeat(10_000));
    many.extend_from_slice(b"\r\n");
    let s = run(&[(C, &many), (C, REQ), (S, RESP_CL)]);
    assert!(
        s.warnings[0]
            .message
            .contains("more than 128 header fields"),
        "{:?}",
        s.warnings
    );
    assert_eq!(s.exchanges.len(), 2);
    // A request never answered.
    let s = run(&[(C, REQ)]);
    assert!(s.outstanding);
    assert_eq!(s.exchanges[0].status, None);
}

#[test]
fn smuggling_patterns_are_named() {
    let s = run(&[(
        C,
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 50\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
    )]);
    assert!(s.warnings[0]
        .message
        .contains("both Transfer-Encoding and Content-Length"));
    assert_eq!(s.exchanges.len(), 2);
    assert_eq!(s.exchanges[1].target.as_deref(), Some("/smuggled"));
}

#[test]
fn lenient_request_lines() {
    assert_eq!(
        parse_request_line(b"OPTIONS HTTP/1.1"),
        Some(RequestLine {
            method: "OPTIONS",
            target: "",
            version: LineVersion::Http1(1)
        })
    );
    assert_eq!(
        parse_request_line(b"GET /HTTP/1.1"),
        Some(RequestLine {
            method: "GET",
            target: "/",
            version: LineVersion::Http1(1)
        })
    );
    assert_eq!(
        parse_request_line(b"GET /"),
        Some(RequestLine {
            method: "GET",
            target: "/",
            version: LineVersion::Http09
        })
    );
    assert_eq!(
        parse_request_line(b"CCM_POST / HTTP/1."),
        Some(RequestLine {
            method: "CCM_POST",
            target: "/",
            version: LineVersion::Other("HTTP/1.")
        })
    );
    assert_eq!(parse_request_line(b"T / HTTP"), None);
    assert_eq!(parse_request_line(b"\x16\x03\x01\x02\x00"), None);
}

#[test]
fn http09_response_is_the_bare_body() {
    let s = run_split(&[(C, b"GET /\r\n"), (S, b"<html>old</html>")], 5, true);
    assert_eq!(s.exchanges.len(), 1);
    let x = &s.exchanges[0];
    assert_eq!(x.version.as_deref(), Some("HTTP/0.9"));
    assert_eq!(x.response_body_bytes, 16);
    assert!(x.response_complete);
}
#[test]
fn resync_finds_head_right_after_binary_body() {
    // The capture starts inside a JPEG body (the server direction resynchronises);
    // the body ends `FF D9` and the next status line follows with no line end.
    let mut http = HttpAnalyzer::default();
    http.start_resync(S);
    let o = |packet| Origin {
        packet,
        ts: Timestamp::from_nanos(packet as i64),
    };
    http.on_chunk(C, Chunk::Data(REQ), o(1));
    // The status line is split across packets right after the body's end.
    http.on_chunk(S, Chunk::Data(b"\x12\x34\xff\xd9HTTP/1.1 2"), o(2));
    http.on_chunk(
        S,
        Chunk::Data(b"00 OK\r\nContent-Length: 2\r\n\r\nok"),
        o(3),
    );
    // Every later response on the connection is found too.
    http.on_chunk(C, Chunk::Data(REQ), o(4));
    http.on_chunk(
        S,
        Chunk::Data(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"),
        o(5),
    );
    let s = http.finish();
    assert_eq!(
        view(&s),
        vec![get("GET", 200, 0, 2), get("GET", 200, 0, 1)],
        "{:?}",
        s.warnings
    );
}

#[test]
fn resync_mid_line_needs_a_whole_start_line() {
    // Inside a body, `HTTP/1.1` without a status code or a method without a version
    // is text, not a message start.
    assert_eq!(find_message_start(b"xxHTTP/1.1 is a version", S), None);
    assert_eq!(find_message_start(b"xxHTTP/1.1 200 OK\r\n", S), Some(2));
    assert_eq!(find_message_start(b"\xd9GET the milk\n", C), None);
    assert_eq!(find_message_start(b"\xd9GET /a HTTP/1.1\r\n", C), Some(1));
    assert_eq!(find_message_start(b"x\nGET the milk\n", C), Some(2));
}
#[test]
fn request_then_cruft_counts_one_request() {
    // Zeek's http-11-request-then-cruft.pcap: one request with bare-LF line ends,
    // then `T / HTTP` lines that are no request (unknown method, no version),
    // which nginx answers with 400 and a close.
    let s = run_split(
        &[
            (C, b"GET / HTTP/1.1\nHost: zeek.org\n\n"),
            (
                S,
                b"HTTP/1.1 301 Moved Permanently\r\nContent-Length: 3\r\n\r\nabc",
            ),
            (C, b"T / HTTP\n\n"),
            (
                S,
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno",
            ),
            (C, b"T / HTTP\n\nT / HTTP\n\n"),
        ],
        15,
        true,
    );
    let requests = s.exchanges.iter().filter(|x| x.method.is_some()).count();
    assert_eq!(requests, 1, "{:?}", s.exchanges);
    let statuses: Vec<_> = s.exchanges.iter().map(|x| x.status).collect();
    assert_eq!(statuses, vec![Some(301), Some(400)]);
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
}
#[test]
fn head_cut_by_the_snap_length_keeps_its_start_line() {
    // pcapplusplus-pcapng-example.pcapng: a 128-byte snap length cuts a response
    // head (no request captured); its status line was captured whole.
    let mut http = HttpAnalyzer::default();
    let o = |packet| Origin {
        packet,
        ts: Timestamp::from_nanos(packet as i64),
    };
    http.on_chunk(
        S,
        Chunk::Data(b"HTTP/1.1 200 OK\r\nServer: x\r\nContent-"),
        o(1),
    );
    http.on_chunk(S, Chunk::Gap(1168), o(1));
    // A request head cut the same way still counts as a request.
    http.on_chunk(
        C,
        Chunk::Data(b"POST /up HTTP/1.1\r\nHost: a\r\nCookie: "),
        o(2),
    );
    http.on_chunk(C, Chunk::Gap(700), o(2));
    // A head cut inside its start line says nothing.
    http.on_chunk(C, Chunk::Data(b"GET /a"), o(3));
    http.on_chunk(C, Chunk::Gap(700), o(3));
    // One the end of the capture cut is a request all the same.
    http.on_chunk(C, Chunk::Data(b"GET /b HTTP/1.1\r\nHost: a\r\n"), o(4));
    let s = http.finish();
    assert_eq!(s.exchanges.len(), 3, "{:?}", s.exchanges);
    assert_eq!(s.exchanges[2].target.as_deref(), Some("/b"));
    assert_eq!(s.exchanges[2].request_packet, Some(4));
    let (response, request) = (&s.exchanges[0], &s.exchanges[1]);
    assert_eq!(response.status, Some(200));
    assert_eq!(response.reason.as_deref(), Some("OK"));
    assert_eq!(response.response_packet, Some(1));
    assert!(!response.response_complete);
    assert_eq!(request.method.as_deref(), Some("POST"));
    assert_eq!(request.target.as_deref(), Some("/up"));
    assert_eq!(request.status, None);
    assert_eq!(
        parse_status_line(b"HTTP/1.0 404 Not Found"),
        Some((0, 404, "Not Found"))
    );
    assert_eq!(parse_status_line(b"HTTP/1.1 2x0 OK"), None);
}
