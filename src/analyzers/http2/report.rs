//! An HTTP/2 connection as the report model shows it: [`http2_record`] turns the
//! analyzer's [`Http2Summary`] into the connection's `http[]` exchanges (one per
//! stream, read exactly like HTTP/1.x ones plus `stream_id`), its `http2{}` block
//! (`Http2Info`) and warnings; [`http2_end`] says who ended the HTTP/2 conversation.
//! Both are called for cleartext h2c and for h2 inside decrypted TLS alike.
//!
//! Not for: parsing (`conversation`), or anything TCP knows (the close is given).

use super::conversation::{Exchange, GoAwayRecord, Http2Summary, PingRecord, SettingsRecord};
use crate::analyzers::reassembly::Origin;
use crate::flow::key::{Direction, PerSide};
use crate::report::model::{
    text, Http2GoAway, Http2Info, Http2Ping, Http2Reset, Http2Settings, Http2Via, HttpEnd,
    HttpEndReason, HttpExchange, Text, WarningRecord,
};
use crate::time::Timestamp;

/// The version both messages of an HTTP/2 exchange carry.
const HTTP2: Text = Text::Borrowed("HTTP/2");
/// The request of stream 1 after `Upgrade: h2c` was an HTTP/1.1 message.
const HTTP11: Text = Text::Borrowed("HTTP/1.1");

/// The connection's exchanges (in order of stream opening, `index` from 1), its
/// `http2{}` block and the analyzer's warnings, from what the HTTP/2 analyzer read.
///
/// `idle_before_s` is the gap since every earlier stream had closed; streams that
/// overlap have no idle time between them, so it is null for them (as for the first).
pub(crate) fn http2_record(
    summary: Http2Summary,
    via: Http2Via,
) -> (Vec<HttpExchange>, Http2Info, Vec<WarningRecord>) {
    let Http2Summary {
        mut exchanges,
        exchanges_dropped,
        streams_opened,
        max_concurrent,
        settings,
        pings,
        goaways,
        warnings,
        frames,
        stopped: _,
    } = summary;
    // Client streams open in id order; a promised stream opens at its PUSH_PROMISE.
    exchanges.sort_by_key(|x| (opened_at(x).map(|o| o.packet), x.stream));
    let mut resets: Vec<Http2Reset> = exchanges
        .iter()
        .filter_map(|x| {
            let r = x.reset?;
            Some(Http2Reset {
                stream_id: x.stream,
                from: r.by,
                packet: r.at.packet,
                time: r.at.ts,
                error: r.error.to_string(),
            })
        })
        .collect();
    resets.sort_by_key(|r| (r.packet, r.stream_id));
    let mut http = Vec::with_capacity(exchanges.len());
    // When the last of the earlier streams closed; `None` once one never did.
    let mut all_closed_at: Option<Option<Timestamp>> = None;
    for (i, x) in exchanges.iter().enumerate() {
        let start = opened_at(x).map(|o| o.ts);
        let idle_before_s = match (all_closed_at, start) {
            (Some(Some(prev)), Some(start)) if start > prev => Some(start.secs_since(prev)),
            _ => None,
        };
        let closed = closed_at(x);
        all_closed_at = Some(match all_closed_at {
            None => closed,
            Some(prev) => prev.zip(closed).map(|(a, b)| a.max(b)),
        });
        http.push(exchange(x, i as u64 + 1, via, idle_before_s));
    }
    let info = Http2Info {
        via,
        streams_opened,
        max_concurrent_streams: max_concurrent,
        settings: settings.iter().map(settings_record).collect(),
        pings: pings.iter().map(ping_record).collect(),
        goaways: goaways.iter().map(goaway_record).collect(),
        resets,
        frames: PerSide {
            client: frames.client.frames,
            server: frames.server.frames,
        },
        exchanges_dropped,
    };
    let warnings = warnings
        .iter()
        .map(|w| WarningRecord {
            packet: Some(w.packet),
            message: format!("HTTP/2 from the {}: {}", w.dir.as_str(), w.error),
        })
        .collect();
    (http, info, warnings)
}

/// Who ended the HTTP/2 conversation, and why, given who closed the TCP connection.
///
/// HTTP/2 has no `Connection: close`; GOAWAY (RFC 9113 §6.8) takes its place: the
/// first GOAWAY ends the conversation, `client_goaway` or `server_goaway` by its
/// sender, whatever its error code. Without one, the
/// TCP close decides: `closed_during_exchange` while a stream still waited for its
/// response (not reset, not ended), else `client_closed_idle` / `server_closed_idle`.
/// Null when neither a GOAWAY nor a stream was seen, or the connection never closed.
pub(crate) fn http2_end(
    info: &Http2Info,
    exchanges: &[HttpExchange],
    closed_by: Option<Direction>,
) -> Option<HttpEnd> {
    if let Some(first) = info.goaways.first() {
        return Some(HttpEnd {
            by: Some(first.from),
            reason: match first.from {
                Direction::Client => HttpEndReason::ClientGoaway,
                Direction::Server => HttpEndReason::ServerGoaway,
            },
        });
    }
    if exchanges.is_empty() {
        return None;
    }
    let by = closed_by?;
    let reset = |x: &HttpExchange| info.resets.iter().any(|r| Some(r.stream_id) == x.stream_id);
    let in_flight = exchanges.iter().any(|x| !x.response_complete && !reset(x));
    let reason = match (in_flight, by) {
        (true, _) => HttpEndReason::ClosedDuringExchange,
        (false, Direction::Server) => HttpEndReason::ServerClosedIdle,
        (false, Direction::Client) => HttpEndReason::ClientClosedIdle,
    };
    Some(HttpEnd {
        by: Some(by),
        reason,
    })
}

/// When the stream opened: its request (or PUSH_PROMISE), else the response of a
/// stream whose opening was not seen.
fn opened_at(x: &Exchange) -> Option<Origin> {
    x.request_at.or(x.response_at)
}

/// When the stream closed (both ends, or the reset); `None` while it was open.
fn closed_at(x: &Exchange) -> Option<Timestamp> {
    if let Some(reset) = x.reset {
        return Some(reset.at.ts);
    }
    Some(x.request_end?.ts.max(x.response_end?.ts))
}

fn exchange(x: &Exchange, index: u64, via: Http2Via, idle_before_s: Option<f64>) -> HttpExchange {
    let upgraded = via == Http2Via::Upgrade && x.stream == 1;
    // Time to first byte counts from the request's end, as for HTTP/1.x, unless the
    // response began before the request was over.
    let request_done = match (x.request_end, x.response_at) {
        (Some(end), Some(first)) if end.ts <= first.ts => Some(end),
        _ => x.request_at,
    };
    let ttfb_ms = x
        .response_at
        .zip(request_done)
        .map(|(first, from)| first.ts.millis_since(from.ts));
    let seen_request = x.request_at.is_some();
    HttpExchange {
        method: x.method.as_deref().map(text),
        host: x.authority.clone(),
        target: x.path.clone(),
        version: seen_request.then_some(if upgraded { HTTP11 } else { HTTP2 }),
        status: x.status,
        response_version: x.response_at.map(|_| HTTP2),
        interim: x.interim.clone(),
        request_packet: x.request_at.map(|o| o.packet),
        response_packet: x.response_at.map(|o| o.packet),
        request_start: x.request_at.map(|o| o.ts),
        request_end: x.request_end.map(|o| o.ts),
        request_end_packet: x.request_end.map(|o| o.packet),
        response_start: x.response_at.map(|o| o.ts),
        response_end: x.response_end.map(|o| o.ts),
        response_end_packet: x.response_end.map(|o| o.packet),
        ttfb_ms,
        request_body_bytes: x.request_body,
        response_body_bytes: x.response_body,
        idle_before_s,
        // END_STREAM never ends an interim response, so the final one was read to its
        // end even when its header block could not be decoded.
        response_complete: x.response_end.is_some(),
        stream_id: Some(x.stream),
        ..HttpExchange::blank(index)
    }
}

fn settings_record(s: &SettingsRecord) -> Http2Settings {
    Http2Settings {
        from: s.by,
        packet: s.at.packet,
        time: s.at.ts,
        max_concurrent_streams: s.values.max_concurrent_streams,
        initial_window_size: s.values.initial_window_size,
        max_frame_size: s.values.max_frame_size,
        header_table_size: s.values.header_table_size,
        enable_push: s.values.enable_push,
        max_header_list_size: s.values.max_header_list_size,
        ack_packet: s.acked_at.map(|o| o.packet),
    }
}

fn ping_record(p: &PingRecord) -> Http2Ping {
    Http2Ping {
        from: p.by,
        packet: p.at.packet,
        time: p.at.ts,
        ack_packet: p.acked_at.map(|o| o.packet),
        rtt_ms: p.rtt_millis(),
    }
}

fn goaway_record(g: &GoAwayRecord) -> Http2GoAway {
    Http2GoAway {
        from: g.by,
        packet: g.at.packet,
        time: g.at.ts,
        last_stream_id: g.last_stream,
        error: g.error.to_string(),
        debug: (!g.debug.is_empty()).then(|| g.debug.clone()),
    }
}

#[cfg(test)]
mod tests {
    //! The mapping fed by a real `Conversation`: frames as a peer writes them
    //! (`frame::encode`, HPACK by loona-hpack's encoder), each in its own "packet" at
    //! a given millisecond.
    use super::super::frame::encode::{frame, settings};
    use super::super::frame::{flags, FrameType, PREFACE};
    use super::super::Conversation;
    use super::*;
    use crate::analyzers::reassembly::Chunk;
    use Direction::{Client, Server};

    /// A conversation driven frame by frame, numbering packets from 1.
    struct Wire {
        conv: Conversation,
        hpack: PerSide<loona_hpack::Encoder<'static>>,
        packet: u64,
    }

    impl Wire {
        fn new() -> Self {
            let mut wire = Wire {
                conv: Conversation::default(),
                hpack: PerSide {
                    client: loona_hpack::Encoder::new(),
                    server: loona_hpack::Encoder::new(),
                },
                packet: 0,
            };
            let mut hello = PREFACE.to_vec();
            hello.extend(settings(&[]));
            wire.send(Client, 0, &hello);
            wire.send(Server, 0, &settings(&[]));
            wire
        }

        fn send(&mut self, dir: Direction, millis: i64, bytes: &[u8]) -> &mut Self {
            self.packet += 1;
            let origin = Origin {
                packet: self.packet,
                ts: Timestamp::from_nanos(millis * 1_000_000),
            };
            self.conv.on_chunk(dir, Chunk::Data(bytes), origin);
            self
        }

        fn request(&mut self, millis: i64, stream: u32, path: &str) -> &mut Self {
            let block = self.hpack.client.encode([
                (&b":method"[..], &b"GET"[..]),
                (b":scheme", b"http"),
                (b":authority", b"example.test"),
                (b":path", path.as_bytes()),
            ]);
            let fl = flags::END_HEADERS | flags::END_STREAM;
            self.send(
                Client,
                millis,
                &frame(FrameType::HEADERS, fl, stream, &block),
            )
        }

        fn response(&mut self, millis: i64, stream: u32, status: &str, body: usize) -> &mut Self {
            let block = self
                .hpack
                .server
                .encode([(&b":status"[..], status.as_bytes())]);
            let mut bytes = frame(FrameType::HEADERS, flags::END_HEADERS, stream, &block);
            bytes.extend(frame(
                FrameType::DATA,
                flags::END_STREAM,
                stream,
                &vec![b'x'; body],
            ));
            self.send(Server, millis, &bytes)
        }

        fn record(self) -> (Vec<HttpExchange>, Http2Info, Vec<WarningRecord>) {
            http2_record(self.conv.finish(), Http2Via::PriorKnowledge)
        }
    }

    #[test]
    fn sequential_streams_are_idle_between_overlapping_ones_are_not() {
        let mut wire = Wire::new();
        wire.request(10, 1, "/one")
            .response(15, 1, "200", 5)
            // Streams 3 and 5 open together, 1 s after stream 1 ended.
            .request(1015, 3, "/two")
            .request(1016, 5, "/three")
            .response(1020, 5, "404", 0)
            .response(1030, 3, "200", 7);
        let (http, info, warnings) = wire.record();
        assert!(warnings.is_empty(), "{warnings:?}");
        let rows: Vec<_> = http
            .iter()
            .map(|x| (x.index, x.stream_id, x.target.as_deref(), x.status))
            .collect();
        assert_eq!(
            rows,
            [
                (1, Some(1), Some("/one"), Some(200)),
                (2, Some(3), Some("/two"), Some(200)),
                (3, Some(5), Some("/three"), Some(404)),
            ]
        );
        let idle: Vec<_> = http.iter().map(|x| x.idle_before_s).collect();
        assert_eq!(idle, [None, Some(1.0), None]);
        let x = &http[1];
        assert_eq!(x.method.as_deref(), Some("GET"));
        assert_eq!(x.host.as_deref(), Some("example.test"));
        assert_eq!(x.version.as_deref(), Some("HTTP/2"));
        assert_eq!(x.response_version.as_deref(), Some("HTTP/2"));
        assert_eq!((x.request_packet, x.response_packet), (Some(5), Some(8)));
        assert_eq!(x.response_end_packet, Some(8));
        assert_eq!(x.ttfb_ms, Some(15.0));
        assert_eq!(x.response_body_bytes, 7);
        assert!(x.response_complete);
        assert_eq!((info.streams_opened, info.max_concurrent_streams), (3, 2));
        assert_eq!(info.frames.client, 4);
        assert_eq!(info.frames.server, 7);
        assert_eq!(info.settings.len(), 2);
    }

    #[test]
    fn a_reset_stream_and_a_server_goaway() {
        let mut wire = Wire::new();
        wire.request(10, 1, "/slow").request(11, 3, "/ok");
        let cancel = 8u32.to_be_bytes();
        wire.send(Client, 20, &frame(FrameType::RST_STREAM, 0, 1, &cancel))
            .response(30, 3, "200", 1);
        let mut goaway = 3u32.to_be_bytes().to_vec();
        goaway.extend(0u32.to_be_bytes());
        goaway.extend(b"idle");
        wire.send(Server, 40, &frame(FrameType::GOAWAY, 0, 0, &goaway));
        let (http, info, _) = wire.record();
        assert_eq!(info.resets.len(), 1);
        let reset = &info.resets[0];
        assert_eq!(
            (
                reset.stream_id,
                reset.from,
                reset.packet,
                reset.error.as_str()
            ),
            (1, Client, 5, "CANCEL")
        );
        assert!(!http[0].response_complete);
        assert_eq!(http[0].response_packet, None);
        let goaway = &info.goaways[0];
        assert_eq!(
            (goaway.from, goaway.last_stream_id, goaway.error.as_str()),
            (Server, 3, "NO_ERROR")
        );
        assert_eq!(goaway.debug.as_deref(), Some("idle"));
        // The server's GOAWAY ended the conversation, whoever closed TCP afterwards.
        let end = http2_end(&info, &http, Some(Client));
        assert_eq!(
            end,
            Some(HttpEnd {
                by: Some(Server),
                reason: HttpEndReason::ServerGoaway
            })
        );
    }

    #[test]
    fn without_goaway_the_close_decides() {
        let mut wire = Wire::new();
        wire.request(10, 1, "/a").response(12, 1, "200", 1);
        let (http, info, _) = wire.record();
        let end = |by| http2_end(&info, &http, by).map(|e| e.reason);
        assert_eq!(end(Some(Server)), Some(HttpEndReason::ServerClosedIdle));
        assert_eq!(end(Some(Client)), Some(HttpEndReason::ClientClosedIdle));
        assert_eq!(end(None), None);

        let mut wire = Wire::new();
        wire.request(10, 1, "/a").response(12, 1, "200", 1);
        wire.request(20, 3, "/never-answered");
        let (http, info, _) = wire.record();
        assert_eq!(
            http2_end(&info, &http, Some(Server)).map(|e| e.reason),
            Some(HttpEndReason::ClosedDuringExchange)
        );
        assert_eq!(http[1].idle_before_s, Some(0.008));
    }

    #[test]
    fn a_host_field_stands_in_for_a_missing_authority() {
        let mut wire = Wire::new();
        // RFC 9113 §8.3.1: a request translated from HTTP/1.1 may carry Host instead.
        let block = wire.hpack.client.encode([
            (&b":method"[..], &b"GET"[..]),
            (b":scheme", b"http"),
            (b":path", b"/"),
            (b"host", b"origin.test"),
        ]);
        let fl = flags::END_HEADERS | flags::END_STREAM;
        wire.send(Client, 1, &frame(FrameType::HEADERS, fl, 1, &block));
        let (http, _, _) = wire.record();
        assert_eq!(http[0].host.as_deref(), Some("origin.test"));
    }

    #[test]
    fn pings_and_warnings_carry_their_packets() {
        let mut wire = Wire::new();
        wire.send(Client, 5, &frame(FrameType::PING, 0, 0, b"12345678"))
            .send(
                Server,
                7,
                &frame(FrameType::PING, flags::ACK, 0, b"12345678"),
            )
            // A DATA frame on stream 0 breaks the framing (RFC 9113 §6.1).
            .send(Client, 9, &frame(FrameType::DATA, 0, 0, b"x"));
        let (http, info, warnings) = wire.record();
        assert!(http.is_empty());
        assert_eq!(info.pings.len(), 1);
        let ping = &info.pings[0];
        assert_eq!(
            (ping.from, ping.packet, ping.ack_packet),
            (Client, 3, Some(4))
        );
        assert_eq!(ping.rtt_ms, Some(2.0));
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].packet, Some(5));
        assert_eq!(
            warnings[0].message,
            "HTTP/2 from the client: DATA frame on stream 0"
        );
        assert_eq!(http2_end(&info, &http, Some(Client)), None);
    }
}
