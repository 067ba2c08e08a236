//! HTTP/2 (RFC 9113) with HPACK header compression (RFC 7541): the analyzer core that
//! turns one connection's two plaintext byte streams into exchanges (one per stream),
//! SETTINGS, PINGs and GOAWAYs.
//!
//! - [`frame`]: the connection preface, the frame header, every frame type, and the
//!   incremental [`frame::FrameReader`] that cuts a byte stream into frames.
//! - [`hpack`]: header blocks (HEADERS/PUSH_PROMISE + CONTINUATION) and their decoding.
//! - [`conversation`]: streams, settings, pings, goaways of one connection.
//! - `report`: the summary as the report model shows it ([`http2_record`]) and who
//!   ended the conversation ([`http2_end`]).
//!
//! The analyzer tree (`analyzers::tree`) feeds [`Conversation::on_chunk`] with
//! reassembled bytes per direction: raw ones for `h2c` with prior knowledge
//! (recognised by its preface), those after the 101 of `Upgrade: h2c` (the request
//! that asked becomes stream 1, [`Conversation::upgraded`]), or TLS-decrypted ones for
//! `h2` after ALPN; and reads [`Conversation::finish`], an [`Http2Summary`] of plain
//! types that `report` maps.
//!
//! Not covered: flow-control windows, and RFC 9218 priority signals (PRIORITY frames
//! are counted only).

pub mod conversation;
pub mod frame;
pub mod hpack;
pub mod hpack_decoder;
pub mod reader;
mod report;

pub use conversation::{Conversation, Exchange, Http2Error, Http2Summary, UpgradeRequest};
pub use frame::PREFACE;
pub(crate) use report::{http2_end, http2_record};

/// Whether a client's first bytes are (or begin) the HTTP/2 connection preface
/// (RFC 9113 §3.4), for recognising h2c with prior knowledge by content.
pub fn looks_like_preface(bytes: &[u8]) -> bool {
    let n = bytes.len().min(PREFACE.len());
    n > 0 && bytes.get(..n) == PREFACE.get(..n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::reassembly::{Chunk, Origin};
    use crate::flow::key::Direction;
    use crate::time::Timestamp;
    use std::collections::BTreeMap;

    #[test]
    fn preface_detection() {
        assert!(looks_like_preface(
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00"
        ));
        assert!(looks_like_preface(b"PRI * HT"));
        assert!(!looks_like_preface(b"PRI / HTTP/1.1"));
        assert!(!looks_like_preface(b"GET / HTTP/1.1\r\n"));
        assert!(!looks_like_preface(b""));
    }

    /// fixtures/h2c-nghttpd.pcap (fixtures/record-h2.sh): nghttpd on 127.0.0.1:8443
    /// without TLS; three connections. Each connection's TCP payload is reassembled by
    /// sequence number (loopback: no loss) and fed to one `Conversation` per direction
    /// in capture order. Reads the file with pcap-parser and etherparse directly: the
    /// crate's capture/decode modules are being reworked in parallel.
    fn fixture_conversations(name: &str) -> BTreeMap<u16, Http2Summary> {
        let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(path).expect("fixture");
        let (_, capture) = pcap_parser::parse_pcap(&bytes).expect("pcap");
        let mut convs: BTreeMap<u16, (Conversation, [u32; 2])> = BTreeMap::new();
        for (i, block) in capture.blocks.iter().enumerate() {
            let packet = etherparse::SlicedPacket::from_ethernet(block.data).expect("ethernet");
            let Some(etherparse::TransportSlice::Tcp(tcp)) = packet.transport else {
                continue;
            };
            let (dir, client_port) = if tcp.source_port() == 8443 {
                (Direction::Server, tcp.destination_port())
            } else {
                (Direction::Client, tcp.source_port())
            };
            let (conv, next) = convs.entry(client_port).or_default();
            let next = &mut next[dir.index()];
            if tcp.syn() {
                *next = tcp.sequence_number().wrapping_add(1);
                continue;
            }
            let payload = tcp.payload();
            if payload.is_empty() {
                continue;
            }
            assert_eq!(tcp.sequence_number(), *next, "in order on loopback");
            *next = next.wrapping_add(payload.len() as u32);
            let origin = Origin {
                packet: i as u64 + 1,
                ts: Timestamp::from_parts(
                    i64::from(block.ts_sec),
                    u64::from(block.ts_usec),
                    1_000_000,
                ),
            };
            conv.on_chunk(dir, Chunk::Data(payload), origin);
        }
        convs
            .into_iter()
            .map(|(port, (conv, _))| (port, conv.finish()))
            .collect()
    }

    /// (stream, method, path, status, request body, response body, request packet,
    /// first response packet)
    type Row = (u32, &'static str, &'static str, u16, u64, u64, u64, u64);

    fn rows(s: &Http2Summary) -> Vec<Row> {
        s.exchanges
            .iter()
            .map(|e| {
                (
                    e.stream,
                    leak(&e.method),
                    leak(&e.path),
                    e.status.unwrap_or(0),
                    e.request_body,
                    e.response_body,
                    e.request_at.map_or(0, |o| o.packet),
                    e.response_at.map_or(0, |o| o.packet),
                )
            })
            .collect()
    }

    fn leak(v: &Option<String>) -> &'static str {
        Box::leak(v.clone().unwrap_or_default().into_boxed_str())
    }

    /// The expected values are tshark's:
    ///   tshark -r fixtures/h2c-nghttpd.pcap -d tcp.port==8443,http2 -Y 'http2.type==1' \
    ///     -T fields -e frame.number -e tcp.srcport -e http2.streamid \
    ///     -e http2.headers.method -e http2.headers.path -e http2.headers.status
    /// and for bodies the same with -Y 'http2.type==0' -e http2.length -e http2.flags.
    #[test]
    fn fixture_h2c_nghttpd_matches_tshark() {
        let convs = fixture_conversations("h2c-nghttpd.pcap");
        assert_eq!(
            convs.keys().copied().collect::<Vec<_>>(),
            [49014, 49022, 49024]
        );
        for s in convs.values() {
            assert_eq!(s.warnings, [], "no warnings");
            assert!(!s.stopped);
            // Every connection: SETTINGS each way, each acknowledged, and the client's
            // GOAWAY (last stream 0, NO_ERROR) at the end (tshark frames 16, 37, 49).
            assert_eq!(s.settings.len(), 2);
            assert!(s.settings.iter().all(|r| r.acked_at.is_some()));
            assert_eq!(s.goaways.len(), 1);
            assert_eq!(
                (
                    s.goaways[0].by,
                    s.goaways[0].last_stream,
                    s.goaways[0].error
                ),
                (Direction::Client, 0, frame::ErrorCode::NO_ERROR)
            );
            for e in &s.exchanges {
                assert_eq!(e.authority.as_deref(), Some("127.0.0.1:8443"));
                assert_eq!(e.scheme.as_deref(), Some("http"));
                assert!(e.is_closed() && e.reset.is_none());
            }
        }
        // Connection 1 (h2load -m 1): three requests one after the other.
        let c1 = &convs[&49014];
        assert_eq!(
            rows(c1),
            [
                (1, "GET", "/a.txt", 200, 0, 6, 4, 8),
                (3, "GET", "/b.txt", 200, 0, 40_000, 10, 11),
                (5, "GET", "/missing", 404, 0, 147, 14, 15),
            ]
        );
        assert_eq!((c1.streams_opened, c1.max_concurrent), (3, 1));
        assert_eq!(c1.goaways[0].at.packet, 16);
        // Connection 2 (nghttp -m 3): three concurrent streams after nghttp's five
        // PRIORITY-only streams 3..11 (priority tree anchors, never opened).
        let c2 = &convs[&49022];
        assert_eq!(
            rows(c2),
            [
                (13, "GET", "/b.txt", 200, 0, 40_000, 23, 27),
                (15, "GET", "/b.txt", 200, 0, 40_000, 23, 27),
                (17, "GET", "/b.txt", 200, 0, 40_000, 23, 27),
            ]
        );
        assert_eq!((c2.streams_opened, c2.max_concurrent), (3, 3));
        assert_eq!(c2.frames.client.priority, 5);
        // Connection 3: a POST of 11 bytes, echoed back.
        let c3 = &convs[&49024];
        assert_eq!(rows(c3), [(13, "POST", "/echo", 200, 11, 11, 46, 48)]);
        // SETTINGS as tshark decodes them:
        //   tshark -r fixtures/h2c-nghttpd.pcap -d tcp.port==8443,http2 -Y 'http2.type==4' \
        //     -T fields -e frame.number -e tcp.srcport -e http2.settings.max_concurrent_streams \
        //     -e http2.settings.initial_window_size -e http2.settings.enable_push
        // nghttpd sent its SETTINGS before the third client's preface arrived.
        let by = |s: &Http2Summary, dir| {
            let r = s.settings.iter().find(|r| r.by == dir).expect("settings");
            (
                r.at.packet,
                r.values.max_concurrent_streams,
                r.values.initial_window_size,
                r.values.enable_push,
            )
        };
        assert_eq!(
            by(c1, Direction::Client),
            (4, None, Some(1_073_741_823), Some(0))
        );
        assert_eq!(by(c1, Direction::Server), (6, Some(100), None, None));
        assert_eq!(
            by(c2, Direction::Client),
            (23, Some(100), Some(65_535), None)
        );
        assert_eq!(by(c2, Direction::Server), (25, Some(100), None, None));
        assert_eq!(
            by(c3, Direction::Client),
            (46, Some(100), Some(65_535), None)
        );
        assert_eq!(by(c3, Direction::Server), (44, Some(100), None, None));
    }

    /// fixtures/tls13-h2.plaintext (fixtures/tls13-h2-plaintext.sh): the decrypted
    /// records of tls13-h2.pcap, a Go client and server (Huffman-coded headers, the
    /// dynamic table reused across requests). Until TLS decryption is wired in, this
    /// is how real Go h2 bytes reach the analyzer. Each record is one packet; the
    /// packet numbers are tshark's for those records:
    ///   tshark -o tls.keylog_file:fixtures/tls13-h2.keylog -r fixtures/tls13-h2.pcap \
    ///     -Y http2 -T fields -e frame.number -e tcp.srcport -e http2.streamid \
    ///     -e http2.headers.method -e http2.headers.path -e http2.headers.status \
    ///     -e http2.headers.authority -e http2.settings.max_concurrent_streams
    #[test]
    fn fixture_tls13_h2_decrypted_go_matches_tshark() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/tls13-h2.plaintext");
        let text = std::fs::read_to_string(path).expect("fixture");
        let packets = [9, 11, 12, 14, 15, 17, 19, 20, 22, 23];
        let mut conv = Conversation::default();
        let mut records = 0;
        for (line, packet) in text.lines().zip(packets) {
            let (dir, hex) = match line.split_once(' ') {
                Some(("C", hex)) => (Direction::Client, hex),
                Some(("S", hex)) => (Direction::Server, hex),
                _ => panic!("bad line {line}"),
            };
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            let origin = Origin {
                packet,
                ts: Timestamp::from_nanos(0),
            };
            conv.on_chunk(dir, Chunk::Data(&bytes), origin);
            records += 1;
        }
        assert_eq!(records, 10);
        let s = conv.finish();
        assert_eq!(s.warnings, []);
        assert_eq!(
            rows(&s),
            [
                (1, "GET", "/", 200, 0, 2048, 14, 17),
                (3, "GET", "/", 200, 0, 2048, 19, 20),
                (5, "GET", "/", 200, 0, 2048, 22, 23),
            ]
        );
        assert!(s
            .exchanges
            .iter()
            .all(|e| e.authority.as_deref() == Some("127.0.0.1:8443")
                && e.scheme.as_deref() == Some("https")));
        assert_eq!((s.streams_opened, s.max_concurrent), (3, 1));
        let server = s
            .settings
            .iter()
            .find(|r| r.by == Direction::Server)
            .expect("server");
        assert_eq!(server.values.max_concurrent_streams, Some(250));
        assert_eq!(server.values.max_frame_size, Some(1_048_576));
        assert_eq!(server.acked_at.map(|o| o.packet), Some(15));
        let client = s
            .settings
            .iter()
            .find(|r| r.by == Direction::Client)
            .expect("client");
        assert_eq!(client.values.initial_window_size, Some(4_194_304));
        assert_eq!(client.acked_at.map(|o| o.packet), Some(12));
        assert_eq!(s.frames.client.window_updates, 1);

        // As the report shows h2 read from decrypted TLS: the same rows as tshark's
        // `http2.headers.*`, each exchange with its stream.
        let (http, info, warnings) = http2_record(s, crate::report::model::Http2Via::Tls);
        assert!(warnings.is_empty());
        let shown: Vec<_> = http
            .iter()
            .map(|x| {
                (
                    x.index,
                    x.stream_id,
                    x.method.as_deref(),
                    x.host.as_deref(),
                    x.target.as_deref(),
                    x.version.as_deref(),
                    x.status,
                )
            })
            .collect();
        let row = |index, stream| {
            let (method, host, version) = (Some("GET"), Some("127.0.0.1:8443"), Some("HTTP/2"));
            (
                index,
                Some(stream),
                method,
                host,
                Some("/"),
                version,
                Some(200),
            )
        };
        assert_eq!(shown, [row(1, 1), row(2, 3), row(3, 5)]);
        assert_eq!(info.via, crate::report::model::Http2Via::Tls);
        assert_eq!(info.settings.len(), 2);
        assert!(http.iter().all(|x| x.response_body_bytes == 2048));
    }

    /// fixtures/h2c-ping.pcap: a python3-h2 client PINGs nghttpd twice between two
    /// GETs; HTTP/2's keep-alive, answered by PING ACKs. tshark's view:
    ///   tshark -r fixtures/h2c-ping.pcap -d tcp.port==8443,http2 -Y http2.type==6 \
    ///     -T fields -e frame.number -e frame.time_relative -e tcp.srcport \
    ///     -e http2.flags -e http2.ping -e http2.pong
    /// 14 0.058904 client PING "conscop1", 16 0.058995 ACK; 18 0.567060 client PING
    /// "conscop2", 19 0.567148 ACK.
    #[test]
    fn fixture_h2c_ping_round_trips() {
        let convs = fixture_conversations("h2c-ping.pcap");
        let s = convs.values().next().expect("one connection");
        assert_eq!(convs.len(), 1);
        assert_eq!(s.warnings, []);
        let pings: Vec<_> = s
            .pings
            .iter()
            .map(|p| (p.by, p.at.packet, p.data, p.acked_at.map(|a| a.packet)))
            .collect();
        assert_eq!(
            pings,
            [
                (Direction::Client, 14, *b"conscop1", Some(16)),
                (Direction::Client, 18, *b"conscop2", Some(19)),
            ]
        );
        let rtt: Vec<f64> = s.pings.iter().filter_map(|p| p.rtt_millis()).collect();
        assert!((rtt[0] - 0.091).abs() < 1e-9, "{rtt:?}");
        assert!((rtt[1] - 0.088).abs() < 1e-9, "{rtt:?}");
        // The idle gap between the PINGs, from the capture's own clock.
        let gap = s.pings[1].at.ts.millis_since(s.pings[0].at.ts);
        assert!((gap - 508.156).abs() < 1e-9, "{gap}");
        assert_eq!(
            rows(s),
            [
                (1, "GET", "/a.txt", 200, 0, 6, 6, 10),
                (3, "GET", "/missing", 404, 0, 147, 21, 22),
            ]
        );
        assert_eq!(s.goaways.len(), 1);
        assert_eq!(
            (s.goaways[0].by, s.goaways[0].at.packet),
            (Direction::Client, 23)
        );
    }
}
