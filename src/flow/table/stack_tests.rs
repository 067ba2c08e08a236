//! HTTP through the whole stack — packets, reassembly, analyzer — on built bytes.
use super::tests_support::*;

#[test]
fn retransmitted_segment_inside_a_body_is_used_once() {
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n";
    let mut p = handshake(100, 500);
    p.push(pkt(true, 101, 0.1).ack(501).data(b"GET / HTTP/1.1\r\n\r\n"));
    p.push(pkt(false, 501, 0.2).ack(119).data(head));
    let body_at = 501 + head.len() as u32;
    p.push(pkt(false, body_at, 0.3).ack(119).data(b"0123456789"));
    p.push(pkt(false, body_at, 0.5).ack(119).data(b"0123456789")); // retransmission
    p.push(pkt(false, body_at + 10, 0.6).ack(119).data(b"abcdefghij"));
    let c = &track(&p)[0];
    assert_eq!(c.protocol, crate::report::model::Protocol::Http);
    assert_eq!(c.retransmissions.server, 1);
    assert_eq!(c.http.len(), 1);
    assert_eq!(c.http[0].response_body_bytes, 20);
    assert!(c.http[0].response_complete);
    assert_eq!(c.missed_bytes.server, 0);
}

#[test]
fn lost_segment_inside_a_body_is_counted_and_framing_survives() {
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n";
    let mut p = handshake(100, 500);
    p.push(pkt(true, 101, 0.1).ack(501).data(b"GET / HTTP/1.1\r\n\r\n"));
    p.push(pkt(false, 501, 0.2).ack(119).data(head));
    let body_at = 501 + head.len() as u32;
    p.push(pkt(false, body_at, 0.3).ack(119).data(b"0123456789"));
    // body_at + 10 .. + 20 was never captured.
    p.push(pkt(false, body_at + 20, 0.4).ack(119).data(b"abcdefghij"));
    p.push(
        pkt(true, 119, 5.0)
            .ack(body_at + 30)
            .data(b"GET /2 HTTP/1.1\r\n\r\n"),
    );
    p.push(
        pkt(false, body_at + 30, 5.1)
            .ack(138)
            .data(b"HTTP/1.1 204 No Content\r\n\r\n"),
    );
    let c = &track(&p)[0];
    assert_eq!(c.requests, 2);
    assert!(c.reused);
    assert_eq!(c.missed_bytes.server, 10);
    assert_eq!(c.http[0].response_body_bytes, 30);
    assert_eq!(c.http[1].status, Some(204));
    let gap = c.http[1].idle_before_s.expect("idle before 2nd");
    assert!((gap - 4.6).abs() < 1e-6, "{gap}");
    assert_eq!(c.max_request_gap_s, Some(gap));
}

#[test]
fn binary_garbage_on_port_80_is_unknown_not_http() {
    let mut p = handshake(100, 500);
    p.push(
        pkt(true, 101, 0.1)
            .ack(501)
            .data(&[0x8e, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00]),
    );
    p.push(
        pkt(false, 501, 0.2)
            .ack(108)
            .data(&[0x00, 0xff, 0x13, 0x37]),
    );
    p.push(pkt(true, 108, 0.3).ack(505).data(&[0xde, 0xad]));
    p.push(pkt(false, 505, 0.4).ack(110).data(b"\x00\x01"));
    let c = &track(&p)[0];
    assert_eq!(c.protocol, crate::report::model::Protocol::Unknown);
    assert_eq!(c.requests, 0);
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert_eq!(c.warnings[0].packet, Some(4));
    assert_eq!(
        c.warnings[0].message,
        "the payload on port 80 is neither HTTP nor TLS; not analysed"
    );
}

#[test]
fn server_idle_close_is_named() {
    let mut p = handshake(100, 500);
    p.push(pkt(true, 101, 0.1).ack(501).data(b"GET / HTTP/1.1\r\n\r\n"));
    p.push(
        pkt(false, 501, 0.2)
            .ack(119)
            .data(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    );
    p.push(pkt(false, 539, 5.2).ack(119).fin());
    let c = &track(&p)[0];
    let end = c.http_end.expect("http end");
    assert_eq!(end.by, Some(crate::flow::key::Direction::Server));
    assert_eq!(
        end.reason,
        crate::report::model::HttpEndReason::ServerClosedIdle
    );
}

/// `p` inside VXLAN (VNI 7) between two tunnel endpoints.
fn in_vxlan(p: &Pkt, from_vtep: [u8; 4], to_vtep: [u8; 4]) -> Vec<u8> {
    let mut payload = vec![0x08, 0, 0, 0, 0, 0, 7, 0];
    payload.extend_from_slice(&p.bytes());
    let mut out = Vec::new();
    etherparse::PacketBuilder::ethernet2([9; 6], [8; 6])
        .ipv4(from_vtep, to_vtep, 64)
        .udp(50000, 4789)
        .write(&mut out, &payload)
        .expect("build");
    out
}

#[test]
fn tunnelled_connection_is_keyed_by_inner_tuple_with_outer_endpoints_by_role() {
    let (vtep_client, vtep_server) = ([198, 51, 100, 1], [198, 51, 100, 2]);
    let hs = handshake(100, 900);
    // The SYN-ACK arrives first: the server's side of the tunnel sent it, yet the
    // client's tunnel endpoint is listed first.
    let frames = [
        in_vxlan(&hs[1], vtep_server, vtep_client),
        in_vxlan(&hs[2], vtep_client, vtep_server),
    ];
    let mut table = ConnectionTable::new(0, 1, Streams::boxed);
    let mut done = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        let seg = decode(LinkType::ETHERNET, frame, frame.len() as u32).expect("inner");
        let ts = Timestamp::from_nanos(i as i64 * 1_000_000);
        table.on_segment(&seg, i as u64 + 1, ts, &mut |r| done.push(r));
    }
    table.finish_all(&mut |r| done.push(r));
    assert_eq!(done.len(), 1, "one inner connection");
    let record = &done[0];
    assert_eq!(record.client.to_string(), "10.0.0.1:40000");
    let encapsulation = record.encapsulation.as_ref().expect("encapsulation");
    assert_eq!(encapsulation.kind, "vxlan");
    assert_eq!(encapsulation.id, Some(7));
    assert_eq!(
        encapsulation.outer,
        [
            std::net::IpAddr::from(vtep_client),
            std::net::IpAddr::from(vtep_server)
        ]
    );
    let json = serde_json::to_value(record).expect("json");
    assert_eq!(
        json["encapsulation"],
        serde_json::json!({"kind": "vxlan", "outer": ["198.51.100.1", "198.51.100.2"], "id": 7, "layers": 1})
    );
}

#[test]
fn untunnelled_record_has_no_encapsulation_key() {
    let records = track(&handshake(1, 2));
    let json = serde_json::to_value(&records[0]).expect("json");
    assert!(json.get("encapsulation").is_none());
}
