//! TLS without keys: the record layer (RFC 8446 §5, RFC 5246 §6.2) of both directions,
//! the ClientHello and ServerHello parsed with `tls-parser` (SNI, ALPN, versions,
//! cipher, resumption), clear-text alerts, and the encrypted application data grouped
//! into request/response exchanges.
//!
//! Exchange inference: after the handshake, a burst of client application-data records
//! followed by a burst of server records is one exchange. Not exchanges: in TLS 1.3 the
//! server's encrypted handshake flight, the client's Finished (its first
//! application-data record) and session tickets the server sends before the client's
//! first request. Where HTTP/2 cannot be in use, a burst pair where neither side reaches
//! [`MIN_REQUEST_BYTES`] (a TLS 1.3 close_notify) is chatter, counted into the exchange
//! before it. Where it may be (ALPN h2, or h2 offered under TLS 1.3, which hides the
//! choice), requests can be smaller than that, so records are judged one by one by
//! their plaintext length ([`h2_sizes`]): control frames are chatter, any other client
//! record is a request unless it is the connection preface alone. docs/tls.md states
//! the limits.

mod h2_sizes;

mod decrypting;

use super::reassembly::{Chunk, Origin};
use super::tls_certificate::leaf_certificate;
use super::tls_decrypt::{ClientOffer, Decryption, ServerChoice};
use crate::decrypt::SharedKeys;
use crate::flow::key::{Direction, PerSide};
use crate::report::model::{ResumptionOffer, TlsAlert, TlsExchange, TlsInfo, WarningRecord};
use tls_parser::{
    parse_tls_client_hello_extension, parse_tls_message_handshake, TlsExtension, TlsMessage,
    TlsMessageHandshake,
};

/// A client burst smaller than this (record payload bytes) is protocol chatter, not a
/// request: HTTP/2 control frames and TLS 1.3 alerts are 19–40 bytes once encrypted;
/// the smallest real HTTP/1.1 request with a Host field is larger.
pub const MIN_REQUEST_BYTES: u64 = 64;
/// With HTTP/2 possible and the record overhead unknown, a first exchange smaller than
/// this each way is the connection preface and SETTINGS, not a request.
const H2_SETUP_MAX: u64 = 160;
/// Largest record body allowed (2^14 plus the expansion TLS 1.2 permits).
const MAX_RECORD: usize = (1 << 14) + 2048;
/// Handshake messages buffered per direction; longer ones (certificate chains) are skipped.
const MAX_HANDSHAKE_MESSAGE: usize = 64 * 1024;
const MAX_WARNINGS: usize = 8;

const CHANGE_CIPHER_SPEC: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
const HEARTBEAT: u8 = 24;
const TLS13: u16 = 0x0304;

/// Whether `bytes` begins like a TLS handshake record (`16 03 0x`).
pub fn looks_like_tls(bytes: &[u8]) -> bool {
    match bytes {
        [HANDSHAKE, 3, minor, ..] => *minor <= 4,
        [HANDSHAKE, 3] | [HANDSHAKE] => true,
        _ => false,
    }
}

/// Handshake message types that say which side sent them (RFC 8446 §4).
pub const CLIENT_HELLO: u8 = 1;
pub const SERVER_HELLO: u8 = 2;

/// The type of the first handshake message in a chunk that begins with a handshake
/// record.
pub fn handshake_type(bytes: &[u8]) -> Option<u8> {
    match bytes {
        [HANDSHAKE, 3, _, _, _, kind, ..] => Some(*kind),
        _ => None,
    }
}

/// Whether a record header is plausible: content type 20–24, version 0x0300–0x0304,
/// a length TLS allows.
fn plausible_header(header: &[u8]) -> bool {
    match header {
        [content_type, 3, minor, hi, lo, ..] => {
            (CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(content_type)
                && *minor <= 4
                && usize::from(u16::from_be_bytes([*hi, *lo])) <= MAX_RECORD
        }
        _ => false,
    }
}

/// Whether `bytes` begin with TLS records of any type, for a connection whose start
/// was not captured (application data mid-stream). Every record header that lies
/// wholly in `bytes` must be plausible, so one lucky first header is not enough when
/// more follow.
pub fn looks_like_tls_records(bytes: &[u8]) -> bool {
    let mut at = 0;
    let mut headers = 0;
    while let Some(header) = bytes.get(at..at + 5) {
        if !plausible_header(header) {
            return false;
        }
        headers += 1;
        at += 5 + usize::from(u16::from_be_bytes([header[3], header[4]]));
    }
    headers > 0
}

/// One direction's record reader.
#[derive(Debug, Default)]
struct Records {
    header: [u8; 5],
    header_len: usize,
    /// Body bytes still to come of the current record.
    body_left: usize,
    content_type: u8,
    record_len: usize,
    record_origin: Option<Origin>,
    /// Body of the current record when it is clear-text handshake or alert.
    body: Vec<u8>,
    keep_body: bool,
    /// Handshake message bytes across records.
    handshake: Vec<u8>,
    /// Bytes of an over-long handshake message still to skip.
    handshake_skip: usize,
    /// This side's records are encrypted from here on.
    encrypted: bool,
    /// Joined mid-stream and not yet at a record boundary: chunks are skipped until one
    /// starts with a plausible record header.
    seeking: bool,
    /// Framing was lost (a gap, or bytes that are not a record): stop reading.
    lost: bool,
}

#[derive(Debug, Default)]
pub struct TlsAnalyzer {
    records: PerSide<Records>,
    info: TlsInfo,
    client_session_id: Vec<u8>,
    tls13: bool,
    /// TLS 1.3: the client's Finished (its first application-data record) went by.
    client_finished: bool,
    /// The exchange in progress, judged when the next client burst starts.
    tentative: Option<TlsExchange>,
    /// Where HTTP/2 may be in use: records judged by size.
    h2: h2_sizes::H2Bursts,
    warnings: Vec<WarningRecord>,
    /// The capture began after the handshake: records are followed from the first
    /// record boundary seen in each direction, all of them encrypted.
    mid_stream: bool,
    /// The input's keys, when it has a key log (`tls_decrypt`).
    keys: Option<SharedKeys>,
    /// What the ClientHello offered, kept for the key lookup at the ServerHello.
    offer: Option<Box<ClientOffer>>,
    decryption: Option<Box<Decryption>>,
}

/// What the analyzer learnt.
#[derive(Debug, Default)]
pub struct TlsSummary {
    pub info: TlsInfo,
    pub warnings: Vec<WarningRecord>,
}

fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        v if v & 0x0f0f == 0x0a0a => "GREASE".into(),
        v if v >> 8 == 0x7f => format!("TLS 1.3 draft {}", v & 0xff),
        v => format!("0x{v:04x}"),
    }
}

fn extensions(mut bytes: &[u8]) -> Vec<TlsExtension<'_>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        match parse_tls_client_hello_extension(bytes) {
            Ok((rest, ext)) => {
                out.push(ext);
                bytes = rest;
            }
            Err(_) => break,
        }
    }
    out
}

impl TlsAnalyzer {
    fn warn(&mut self, packet: u64, message: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(WarningRecord {
                packet: Some(packet),
                message,
            });
        }
    }

    /// An analyzer that decrypts with `keys` when they hold this connection's.
    pub fn with_keys(keys: Option<&SharedKeys>) -> Self {
        TlsAnalyzer {
            keys: keys.cloned(),
            ..TlsAnalyzer::default()
        }
    }

    /// An analyzer for a connection whose handshake was not captured; `first` is the
    /// direction whose chunk (in packet `origin`) was seen to start with a record.
    pub fn mid_stream(first: Direction, keys: Option<&SharedKeys>, origin: Origin) -> Self {
        let decryption = keys
            .filter(|k| Decryption::keys_given(Some(k)))
            .map(|k| Box::new(Decryption::without_handshake(k, origin.packet)));
        let mut analyzer = TlsAnalyzer {
            mid_stream: true,
            decryption,
            ..TlsAnalyzer::default()
        };
        for dir in [Direction::Client, Direction::Server] {
            let side = analyzer.records.get_mut(dir);
            side.encrypted = true;
            side.seeking = dir != first;
        }
        analyzer
    }

    /// Stops following `dir`, saying why (its first bytes were not TLS records).
    pub fn skip_direction(&mut self, dir: Direction, origin: Origin, why: &str) {
        self.records.get_mut(dir).lost = true;
        self.warn(origin.packet, why.to_string());
    }

    pub fn on_chunk(&mut self, dir: Direction, chunk: Chunk<'_>, origin: Origin) {
        match chunk {
            Chunk::Data(bytes) => self.on_data(dir, bytes, origin),
            Chunk::Gap(_) if self.mid_stream => {
                // Joined late already: find the next record boundary again.
                let side = self.records.get_mut(dir);
                side.seeking = true;
                side.header_len = 0;
                side.body_left = 0;
            }
            Chunk::Gap(len) => {
                // Decryption stopping says it once, for both.
                let said = self
                    .decryption
                    .as_mut()
                    .is_some_and(|d| d.on_gap(dir, len, origin.packet));
                let side = self.records.get_mut(dir);
                let first = !side.lost;
                side.lost = true;
                if first && !said {
                    self.warn(origin.packet, format!("{len} bytes missing from the capture; TLS records of the {} are no longer followed", dir.as_str()));
                }
            }
            Chunk::Fin => {}
        }
    }

    fn on_data(&mut self, dir: Direction, mut bytes: &[u8], origin: Origin) {
        let side = self.records.get_mut(dir);
        if side.seeking {
            if !looks_like_tls_records(bytes) {
                return; // inside a record whose start was not captured
            }
            side.seeking = false;
        }
        while !bytes.is_empty() && !self.records.get(dir).lost {
            let decrypting = self.decryption.as_ref().is_some_and(|d| d.wants_records());
            let side = self.records.get_mut(dir);
            if side.header_len < 5 {
                let take = (5 - side.header_len).min(bytes.len());
                side.header[side.header_len..side.header_len + take]
                    .copy_from_slice(&bytes[..take]);
                if side.header_len == 0 {
                    side.record_origin = Some(origin);
                }
                side.header_len += take;
                bytes = &bytes[take..];
                if side.header_len < 5 {
                    return;
                }
                let [content_type, major, _minor, hi, lo] = side.header;
                let len = usize::from(u16::from_be_bytes([hi, lo]));
                if !(CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(&content_type)
                    || major != 3
                    || len > MAX_RECORD
                {
                    side.lost = true;
                    self.warn(
                        origin.packet,
                        format!(
                            "data from the {} is not a TLS record; no longer followed",
                            dir.as_str()
                        ),
                    );
                    return;
                }
                side.content_type = content_type;
                side.record_len = len;
                side.body_left = len;
                side.keep_body = decrypting
                    || !side.encrypted
                        && matches!(content_type, HANDSHAKE | ALERT | CHANGE_CIPHER_SPEC);
                side.body.clear();
                if len == 0 {
                    self.record_done(dir, origin);
                }
                continue;
            }
            let take = side.body_left.min(bytes.len());
            if side.keep_body {
                side.body.extend_from_slice(&bytes[..take]);
            }
            side.body_left -= take;
            bytes = &bytes[take..];
            if side.body_left == 0 {
                self.record_done(dir, origin);
            }
        }
    }

    /// A whole record of `dir` ended in the chunk from `end`.
    fn record_done(&mut self, dir: Direction, end: Origin) {
        let side = self.records.get_mut(dir);
        side.header_len = 0;
        let start = side.record_origin.unwrap_or(end);
        let content_type = side.content_type;
        let len = side.record_len as u64;
        let body = std::mem::take(&mut side.body);
        let encrypted = side.encrypted;
        match content_type {
            HANDSHAKE if !encrypted => self.handshake_bytes(dir, &body, start),
            HANDSHAKE => {
                // An encrypted handshake record (TLS 1.2 Finished) after ChangeCipherSpec.
            }
            // TLS ≤ 1.2: this side encrypts from now on. (In TLS 1.3 the CCS is a
            // compatibility no-op: the server already encrypts after ServerHello.)
            CHANGE_CIPHER_SPEC if !self.tls13 => self.records.get_mut(dir).encrypted = true,
            ALERT => self.alert(dir, &body, encrypted, start),
            APPLICATION_DATA => self.application_data(dir, len, start, end),
            _ => {}
        }
        if let (Some(d), true) = (&mut self.decryption, body.len() as u64 == len) {
            let [_, major, minor, _, _] = self.records.get(dir).header;
            d.on_record(
                dir,
                content_type,
                u16::from_be_bytes([major, minor]),
                &body,
                start,
                end,
            );
        }
        let side = self.records.get_mut(dir);
        if side.body.capacity() == 0 {
            side.body = body;
            side.body.clear();
        }
    }

    fn handshake_bytes(&mut self, dir: Direction, mut body: &[u8], origin: Origin) {
        loop {
            let side = self.records.get_mut(dir);
            if side.handshake_skip > 0 {
                let skip = side.handshake_skip.min(body.len());
                side.handshake_skip -= skip;
                body = &body[skip..];
            }
            if body.is_empty() && side.handshake.len() < 4 {
                return;
            }
            side.handshake.extend_from_slice(body);
            body = &[];
            if side.handshake.len() < 4 {
                return;
            }
            let len = usize::from(side.handshake[1]) << 16
                | usize::from(side.handshake[2]) << 8
                | usize::from(side.handshake[3]);
            if len + 4 > MAX_HANDSHAKE_MESSAGE {
                // A certificate chain or similar: not needed, skip it.
                let have = side.handshake.len() - 4;
                side.handshake_skip = len.saturating_sub(have);
                side.handshake.clear();
                continue;
            }
            if side.handshake.len() < len + 4 {
                return;
            }
            let rest = side.handshake.split_off(len + 4);
            let message = std::mem::replace(&mut side.handshake, rest);
            self.handshake_message(dir, &message, origin);
            if self.records.get(dir).handshake.len() < 4 {
                return;
            }
        }
    }

    fn handshake_message(&mut self, dir: Direction, message: &[u8], origin: Origin) {
        let Ok((_, TlsMessage::Handshake(hs))) = parse_tls_message_handshake(message) else {
            if message.first() == Some(&1) || message.first() == Some(&2) {
                self.warn(
                    origin.packet,
                    format!("malformed TLS {} hello", dir.as_str()),
                );
            }
            return;
        };
        match (dir, hs) {
            (Direction::Client, TlsMessageHandshake::ClientHello(hello)) => {
                if self.info.client_hello_packet.is_some() {
                    return; // a second ClientHello after HelloRetryRequest: keep the first
                }
                self.info.client_hello_packet = Some(origin.packet);
                self.info.handshake_start = Some(origin.ts);
                self.client_session_id = hello.session_id.unwrap_or(&[]).to_vec();
                let mut offer = ResumptionOffer {
                    session_id: !self.client_session_id.is_empty(),
                    ..ResumptionOffer::default()
                };
                let mut versions = Vec::new();
                let mut ticket = None;
                for ext in extensions(hello.ext.unwrap_or(&[])) {
                    match ext {
                        TlsExtension::SNI(names) => {
                            self.info.sni = names
                                .first()
                                .map(|(_, n)| String::from_utf8_lossy(n).into_owned());
                        }
                        TlsExtension::ALPN(protocols) => {
                            self.info.alpn_offered = protocols
                                .iter()
                                .map(|p| String::from_utf8_lossy(p).into_owned())
                                .collect();
                        }
                        TlsExtension::SupportedVersions(list) => {
                            versions = list
                                .iter()
                                .filter(|v| v.0 & 0x0f0f != 0x0a0a)
                                .map(|v| version_name(v.0))
                                .collect();
                        }
                        TlsExtension::SessionTicket(t) => {
                            offer.ticket = !t.is_empty();
                            ticket = Some(t);
                        }
                        TlsExtension::PreSharedKey(_) => offer.psk = true,
                        _ => {}
                    }
                }
                if versions.is_empty() {
                    versions.push(version_name(hello.version.0));
                }
                self.info.versions_offered = versions;
                self.info.resumption_offered = offer;
                if self.keys.is_some() {
                    self.offer = Some(Box::new(ClientOffer {
                        random: hello.random.try_into().unwrap_or([0; 32]),
                        session_id: self.client_session_id.clone(),
                        ticket: ticket.map(<[u8]>::to_vec),
                    }));
                }
            }
            (Direction::Server, TlsMessageHandshake::ServerHello(hello)) => {
                if self.info.server_hello_packet.is_some() {
                    return;
                }
                self.info.server_hello_packet = Some(origin.packet);
                let mut version = hello.version.0;
                let mut psk = false;
                let mut encrypt_then_mac = false;
                for ext in extensions(hello.ext.unwrap_or(&[])) {
                    match ext {
                        TlsExtension::SupportedVersions(list) => {
                            if let Some(v) = list.first() {
                                version = v.0;
                            }
                        }
                        TlsExtension::ALPN(protocols) => {
                            self.info.alpn = protocols
                                .first()
                                .map(|p| String::from_utf8_lossy(p).into_owned());
                        }
                        TlsExtension::PreSharedKey(_) => psk = true,
                        TlsExtension::EncryptThenMac => encrypt_then_mac = true,
                        _ => {}
                    }
                }
                self.tls13 = version == TLS13;
                self.info.version = Some(version_name(version));
                self.info.cipher = Some(hello.cipher.get_ciphersuite().map_or_else(
                    || format!("0x{:04x}", hello.cipher.0),
                    |c| c.name.to_string(),
                ));
                self.info.resumed = Some(if self.tls13 {
                    psk
                } else {
                    let echoed = hello.session_id.unwrap_or(&[]);
                    !echoed.is_empty() && echoed == self.client_session_id.as_slice()
                });
                if self.tls13 {
                    // Everything the server sends after its ServerHello is encrypted.
                    self.records.server.encrypted = true;
                }
                self.info.exchanges_estimated = self.info.alpn.as_deref() == Some("h2");
                let server = ServerChoice {
                    random: hello.random,
                    session_id: hello.session_id.unwrap_or(&[]),
                    suite: hello.cipher.0,
                    encrypt_then_mac,
                    resumed: self.info.resumed == Some(true),
                    tls13: self.tls13,
                };
                self.start_decryption(&server, origin);
            }
            (Direction::Server, TlsMessageHandshake::NewSessionTicket(t)) => {
                // tls-parser leaves the ticket's 2-byte length in (RFC 5077 §3.3:
                // opaque ticket<0..2^16-1>).
                let ticket = match t.ticket {
                    [hi, lo, rest @ ..] => rest.get(..usize::from(u16::from_be_bytes([*hi, *lo]))),
                    _ => None,
                };
                if let (Some(d), Some(ticket)) = (&mut self.decryption, ticket) {
                    d.remember_ticket(ticket);
                }
            }
            // TLS 1.2 sends the certificate in the clear; read it when decrypting
            // (without keys the record stays as it always was).
            (Direction::Server, TlsMessageHandshake::Certificate(c))
                if self.info.certificate.is_none()
                    && Decryption::keys_given(self.keys.as_ref()) =>
            {
                self.info.certificate = c
                    .cert_chain
                    .first()
                    .and_then(|leaf| leaf_certificate(leaf.data));
            }
            _ => {}
        }
    }

    fn alert(&mut self, dir: Direction, body: &[u8], encrypted: bool, origin: Origin) {
        if self.info.alert.is_some() {
            return;
        }
        let (level, description) = match (encrypted, body) {
            (false, [level, code]) => (
                match level {
                    1 => "warning".to_string(),
                    2 => "fatal".to_string(),
                    other => format!("level {other}"),
                },
                alert_name(*code),
            ),
            _ => (
                "encrypted".to_string(),
                "encrypted (likely close_notify)".to_string(),
            ),
        };
        self.info.alert = Some(TlsAlert {
            from: dir,
            packet: origin.packet,
            time: origin.ts,
            level,
            description,
        });
    }

    fn application_data(&mut self, dir: Direction, len: u64, start: Origin, end: Origin) {
        if self.info.server_hello_packet.is_none() && !self.mid_stream {
            return; // 0-RTT early data, or data we cannot place
        }
        if self.tls13 {
            match dir {
                // The server's encrypted handshake flight, and tickets before the
                // client's first request.
                Direction::Server
                    if !self.client_finished
                        || self.info.exchanges.is_empty() && self.tentative.is_none() =>
                {
                    return;
                }
                Direction::Client if !self.client_finished => {
                    self.client_finished = true;
                    return;
                }
                _ => {}
            }
        }
        if self.info.handshake_end.is_none() && !self.mid_stream {
            self.info.handshake_end = Some(start.ts);
            self.info.handshake_ms = self.info.handshake_start.map(|s| start.ts.millis_since(s));
        }
        match dir {
            Direction::Client => self.client_data(len, start, end),
            Direction::Server => self.server_data(len, start, end),
        }
    }

    fn client_data(&mut self, len: u64, start: Origin, end: Origin) {
        if let Some(overhead) = self.h2_overhead() {
            return self.h2_client_record(len, len.saturating_sub(overhead), start, end);
        }
        match &mut self.tentative {
            // More of the same client burst.
            Some(t) if t.server_bytes == 0 => {
                t.client_bytes += len;
                t.end = end.ts;
                t.end_packet = end.packet;
            }
            // A client burst after the server answered: the previous candidate is done.
            _ => {
                self.settle();
                self.tentative = Some(new_exchange(len, start, end));
            }
        }
    }

    fn server_data(&mut self, len: u64, start: Origin, end: Origin) {
        if let Some(overhead) = self.h2_overhead() {
            return self.h2_server_record(len, len.saturating_sub(overhead), start, end);
        }
        let Some(x) = self.tentative.as_mut().or(self.info.exchanges.last_mut()) else {
            return;
        };
        x.server_packet.get_or_insert(start.packet);
        x.server_bytes += len;
        x.end = end.ts;
        x.end_packet = end.packet;
    }

    /// Judges the candidate exchange: a request drew a response, or carried a
    /// request's worth of bytes. Chatter is counted into the exchange before it.
    fn settle(&mut self) {
        let Some(mut t) = self.tentative.take() else {
            return;
        };
        let real = if self.h2.rules.flatten().is_some() {
            if self.h2.request {
                // A small record nothing answered (a GOAWAY with debug data, a
                // trailing RST) is not taken for a request.
                self.h2.answered || t.client_bytes >= MIN_REQUEST_BYTES
            } else {
                // The preface alone, answered: HTTP/1.1's first request after all
                // unless a SETTINGS ACK shows HTTP/2, which is known only at the end.
                // Unanswered, it is nothing.
                self.h2.preface_exchange = self.h2.answered && self.info.exchanges.is_empty();
                self.h2.answered
            }
        } else {
            let h2_possible = match self.info.alpn.as_deref() {
                Some(alpn) => alpn == "h2",
                None => self.info.alpn_offered.iter().any(|p| p == "h2"),
            };
            // The HTTP/2 connection preface and SETTINGS, answered by the server's
            // SETTINGS: set-up, not a request.
            let h2_setup = h2_possible
                && self.info.exchanges.is_empty()
                && t.client_bytes < H2_SETUP_MAX
                && t.server_bytes < H2_SETUP_MAX;
            !h2_setup
                && (t.client_bytes >= MIN_REQUEST_BYTES || t.server_bytes >= MIN_REQUEST_BYTES)
        };
        if real {
            t.index = self.info.exchanges.len() as u64 + 1;
            t.idle_before_s = self
                .info
                .exchanges
                .last()
                .map(|x| t.start.secs_since(x.end));
            self.info.exchanges.push(t);
        } else if let Some(last) = self.info.exchanges.last_mut() {
            last.client_bytes += t.client_bytes;
            last.server_bytes += t.server_bytes;
        }
    }

    pub fn finish(mut self) -> TlsSummary {
        self.finish_decryption();
        self.settle();
        self.drop_h2_preface();
        // Finished went both ways: TLS 1.2 after each side's ChangeCipherSpec; TLS 1.3
        // when the client's Finished followed the server's flight.
        self.info.handshake_complete = self.info.handshake_end.is_some()
            || if self.tls13 {
                self.client_finished
            } else {
                self.records.client.encrypted && self.records.server.encrypted
            };
        if self.info.alpn.as_deref() == Some("h2")
            || self.info.alpn.is_none()
                && self.tls13
                && self.info.alpn_offered.iter().any(|p| p == "h2")
        {
            // HTTP/2 multiplexes requests on the connection; TLS 1.3 encrypts the
            // server's ALPN choice, so where h2 was offered it may be in use.
            self.info.exchanges_estimated = true;
        }
        TlsSummary {
            info: self.info,
            warnings: self.warnings,
        }
    }
}

/// A candidate exchange opened by a client record.
fn new_exchange(len: u64, start: Origin, end: Origin) -> TlsExchange {
    TlsExchange {
        index: 0,
        client_packet: start.packet,
        server_packet: None,
        start: start.ts,
        end: end.ts,
        end_packet: end.packet,
        client_bytes: len,
        server_bytes: 0,
        idle_before_s: None,
    }
}

/// RFC 8446 §6 alert descriptions.
fn alert_name(code: u8) -> String {
    let name = match code {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        other => return format!("alert {other}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    //! Records built byte by byte (RFC 8446 §4, §5.1), fed in the splits a network makes.
    use super::*;
    use crate::time::Timestamp;

    fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
        let mut r = vec![content_type, 3, 3];
        r.extend_from_slice(&(body.len() as u16).to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    fn handshake_message(kind: u8, body: &[u8]) -> Vec<u8> {
        let len = body.len() as u32;
        let mut m = vec![kind, (len >> 16) as u8, (len >> 8) as u8, len as u8];
        m.extend_from_slice(body);
        m
    }

    fn extension(kind: u16, body: &[u8]) -> Vec<u8> {
        let mut e = kind.to_be_bytes().to_vec();
        e.extend_from_slice(&(body.len() as u16).to_be_bytes());
        e.extend_from_slice(body);
        e
    }

    fn client_hello(sni: &str, alpn: &[&str]) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]); // random
        body.push(0); // session id
        body.extend_from_slice(&[0, 2, 0x13, 0x01]); // one cipher suite
        body.extend_from_slice(&[1, 0]); // null compression
        let mut name = vec![0];
        name.extend_from_slice(&(sni.len() as u16).to_be_bytes());
        name.extend_from_slice(sni.as_bytes());
        let mut sni_ext = ((name.len()) as u16).to_be_bytes().to_vec();
        sni_ext.extend_from_slice(&name);
        let mut exts = extension(0, &sni_ext);
        if !alpn.is_empty() {
            let mut list = Vec::new();
            for p in alpn {
                list.push(p.len() as u8);
                list.extend_from_slice(p.as_bytes());
            }
            let mut body = (list.len() as u16).to_be_bytes().to_vec();
            body.extend_from_slice(&list);
            exts.extend(extension(16, &body));
        }
        exts.extend(extension(43, &[4, 3, 4, 3, 3])); // supported_versions: 1.3, 1.2
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        record(HANDSHAKE, &handshake_message(1, &body))
    }

    fn server_hello(tls13: bool) -> Vec<u8> {
        server_hello_alpn(tls13, None)
    }

    fn server_hello_alpn(tls13: bool, alpn: Option<&str>) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[9; 32]);
        body.push(0);
        body.extend_from_slice(if tls13 { &[0x13, 0x01] } else { &[0xc0, 0x2f] });
        body.push(0);
        let mut exts = if tls13 {
            extension(43, &[3, 4])
        } else {
            Vec::new()
        };
        if let Some(p) = alpn {
            let mut list = vec![0, p.len() as u8 + 1, p.len() as u8];
            list.extend_from_slice(p.as_bytes());
            exts.extend(extension(16, &list));
        }
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        record(HANDSHAKE, &handshake_message(2, &body))
    }

    fn app(len: usize) -> Vec<u8> {
        record(APPLICATION_DATA, &vec![0xee; len])
    }

    struct Feed {
        tls: TlsAnalyzer,
        packet: u64,
    }

    impl Feed {
        fn new() -> Self {
            Feed {
                tls: TlsAnalyzer::default(),
                packet: 0,
            }
        }
        /// Sends `bytes` from `dir` at `at` seconds, split into pieces of `split`.
        fn send(&mut self, dir: Direction, bytes: &[u8], at: f64, split: usize) -> &mut Self {
            for piece in bytes.chunks(split) {
                self.packet += 1;
                let origin = Origin {
                    packet: self.packet,
                    ts: Timestamp::from_nanos((at * 1e9) as i64),
                };
                self.tls.on_chunk(dir, Chunk::Data(piece), origin);
            }
            self
        }
        fn c(&mut self, bytes: &[u8], at: f64) -> &mut Self {
            self.send(Direction::Client, bytes, at, 1460)
        }
        fn s(&mut self, bytes: &[u8], at: f64) -> &mut Self {
            self.send(Direction::Server, bytes, at, 1460)
        }
        fn done(self) -> TlsSummary {
            self.tls.finish()
        }
    }

    /// A TLS 1.2 handshake: hellos, then each side's ChangeCipherSpec and Finished.
    fn tls12(f: &mut Feed) {
        f.c(&client_hello("api.example", &["h2", "http/1.1"]), 0.0);
        let mut flight = server_hello(false);
        flight.extend(record(HANDSHAKE, &handshake_message(14, &[]))); // ServerHelloDone
        f.s(&flight, 0.01);
        let mut fin = record(CHANGE_CIPHER_SPEC, &[1]);
        fin.extend(record(HANDSHAKE, &[0xaa; 40])); // encrypted Finished
        f.c(&fin, 0.02);
        f.s(&fin, 0.03);
    }

    #[test]
    fn client_hello_split_byte_by_byte() {
        let mut f = Feed::new();
        f.send(
            Direction::Client,
            &client_hello("api.example", &["h2", "http/1.1"]),
            0.0,
            1,
        );
        let info = f.done().info;
        assert_eq!(info.sni.as_deref(), Some("api.example"));
        assert_eq!(info.alpn_offered, vec!["h2", "http/1.1"]);
        assert_eq!(info.versions_offered, vec!["TLS 1.3", "TLS 1.2"]);
        assert_eq!(info.client_hello_packet, Some(1));
    }

    #[test]
    fn tls12_exchanges_with_idle_between() {
        let mut f = Feed::new();
        tls12(&mut f);
        f.c(&app(120), 0.1).s(&[app(1400), app(600)].concat(), 0.12);
        f.c(&app(120), 5.1).s(&app(500), 5.12);
        let s = f.done();
        let info = s.info;
        assert_eq!(info.version.as_deref(), Some("TLS 1.2"));
        assert_eq!(
            info.cipher.as_deref(),
            Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
        );
        assert_eq!(info.resumed, Some(false));
        assert!(info.handshake_complete);
        assert_eq!(info.exchanges.len(), 2);
        assert_eq!(
            (
                info.exchanges[0].client_bytes,
                info.exchanges[0].server_bytes
            ),
            (120, 2000)
        );
        let gap = info.exchanges[1].idle_before_s.expect("gap");
        assert!((gap - 4.98).abs() < 1e-6, "{gap}");
        assert!((info.handshake_ms.expect("ms") - 100.0).abs() < 1e-6);
    }

    #[test]
    fn tls13_finished_and_tickets_are_not_exchanges() {
        let mut f = Feed::new();
        f.c(&client_hello("api.example", &[]), 0.0);
        // ServerHello, the compatibility CCS, then the encrypted flight as app data.
        f.s(
            &[
                server_hello(true),
                record(CHANGE_CIPHER_SPEC, &[1]),
                app(30),
                app(800),
                app(90),
            ]
            .concat(),
            0.01,
        );
        f.c(&[record(CHANGE_CIPHER_SPEC, &[1]), app(53)].concat(), 0.02); // client Finished
        f.s(&[app(250), app(250)].concat(), 0.03); // two session tickets
        f.c(&app(150), 0.05).s(&app(3000), 0.06);
        let info = f.done().info;
        assert_eq!(info.version.as_deref(), Some("TLS 1.3"));
        assert_eq!(info.exchanges.len(), 1, "{:?}", info.exchanges);
        assert_eq!(info.exchanges[0].client_bytes, 150);
        assert_eq!(info.exchanges[0].server_bytes, 3000);
    }

    #[test]
    fn small_bursts_are_chatter_and_h2_setup_is_not_a_request() {
        let mut f = Feed::new();
        tls12(&mut f);
        f.c(&app(50), 0.1).s(&app(40), 0.11); // h2 preface + SETTINGS, server SETTINGS
        f.c(&app(120), 0.2).s(&app(2000), 0.21); // a request
        f.c(&app(30), 1.0).s(&app(30), 1.01); // PING and its ACK
        f.c(&app(40), 2.0).s(&app(1500), 2.01); // a small (HPACK-indexed) request, big answer
        let info = f.done().info;
        assert_eq!(info.exchanges.len(), 2, "{:?}", info.exchanges);
        assert_eq!(
            info.exchanges[0].server_bytes, 2030,
            "the PING pair counted into the exchange before"
        );
        assert_eq!(info.exchanges[1].index, 2);
    }

    #[test]
    fn fatal_alert_in_clear_text() {
        let mut f = Feed::new();
        f.c(&client_hello("bad.example", &[]), 0.0);
        f.s(&server_hello(false), 0.01);
        f.c(&record(ALERT, &[2, 42]), 0.02);
        let info = f.done().info;
        let alert = info.alert.expect("alert");
        assert_eq!(
            (alert.from, alert.level.as_str(), alert.description.as_str()),
            (Direction::Client, "fatal", "bad_certificate")
        );
        assert!(!info.handshake_complete);
    }

    #[test]
    fn a_direction_that_is_not_tls_stops_being_followed() {
        let mut f = Feed::new();
        f.c(&client_hello("x.example", &[]), 0.0);
        f.s(b"HTTP/1.1 400 Bad Request\r\n\r\n", 0.01);
        let s = f.done();
        assert_eq!(s.warnings.len(), 1);
        assert!(s.warnings[0].message.contains("not a TLS record"));
    }

    #[test]
    fn detection() {
        assert!(looks_like_tls(&[0x16, 0x03, 0x01, 0x02, 0x00]));
        assert!(looks_like_tls(&[0x16]));
        assert!(!looks_like_tls(b"GET / HTTP/1.1"));
        assert!(!looks_like_tls(&[0x17, 0x03, 0x03]));
    }
    #[test]
    fn alpn_h2_chosen_marks_exchanges_estimated() {
        let mut f = Feed::new();
        f.c(&client_hello("api.example", &["h2", "http/1.1"]), 0.0);
        f.s(&server_hello_alpn(false, Some("h2")), 0.01);
        let info = f.done().info;
        assert_eq!(info.alpn.as_deref(), Some("h2"));
        assert!(info.exchanges_estimated);
        // HTTP/1.1 chosen: one request per exchange, not an estimate.
        let mut f = Feed::new();
        f.c(&client_hello("api.example", &["h2", "http/1.1"]), 0.0);
        f.s(&server_hello_alpn(false, Some("http/1.1")), 0.01);
        assert!(!f.done().info.exchanges_estimated);
    }

    // Issue 15 item 5: HTTP/2 over TLS without keys. Record sizes below are those of
    // Go 1.19's client and server (net/http, TLS 1.3, ALPN h2 hidden by encryption),
    // read from loopback captures with tshark and the key log: `h2(p)` is a record of
    // `p` bytes of plaintext (TLS 1.3 adds 17).

    fn h2(plaintext: usize) -> Vec<u8> {
        app(plaintext + 17)
    }

    /// A TLS 1.3 handshake whose client offers h2 and HTTP/1.1: the server's choice is
    /// encrypted.
    fn tls13_offering_h2(f: &mut Feed) {
        f.c(&client_hello("api.example", &["h2", "http/1.1"]), 0.0);
        let flight = [
            server_hello(true),
            record(CHANGE_CIPHER_SPEC, &[1]),
            app(32),
            app(337),
            app(96),
            app(53),
        ];
        f.s(&flight.concat(), 0.0004);
        f.c(
            &[record(CHANGE_CIPHER_SPEC, &[1]), app(53)].concat(),
            0.0008,
        );
    }

    /// Starts and idle gaps of the exchanges, rounded to milliseconds.
    fn timing(info: &TlsInfo) -> Vec<(i64, Option<i64>)> {
        info.exchanges
            .iter()
            .map(|x| {
                (
                    x.start.millis_since(Timestamp::from_nanos(0)).round() as i64,
                    x.idle_before_s.map(|s| (s * 1000.0).round() as i64),
                )
            })
            .collect()
    }

    #[test]
    fn issue15_h2_small_responses_2s_apart_were_not_one_exchange() {
        // Three GETs answered by 204s: every record is under 64 bytes and the first
        // pairs under 160, so none was a request. The server's SETTINGS came before
        // the client's preface; its WINDOW_UPDATE and SETTINGS ACK answer the preface.
        let mut f = Feed::new();
        tls13_offering_h2(&mut f);
        f.s(&h2(33), 0.0015); // SETTINGS
        f.c(&h2(64), 0.0016); // preface, SETTINGS, WINDOW_UPDATE
        f.s(&[h2(13), h2(9)].concat(), 0.0017); // WINDOW_UPDATE, SETTINGS ACK
        f.c(&[h2(9), h2(48)].concat(), 0.0018); // SETTINGS ACK, HEADERS GET /r0
        f.s(&h2(34), 0.002); // HEADERS 204
        f.c(&h2(19), 2.003).s(&h2(34), 2.004); // GET /r1, 204
        f.c(&h2(19), 4.005).s(&h2(34), 4.006); // GET /r2, 204
        f.c(&h2(2), 4.007).s(&h2(2), 4.008); // close_notify both ways
        let info = f.done().info;
        assert_eq!(info.exchanges.len(), 3, "{:?}", info.exchanges);
        assert_eq!(
            timing(&info),
            vec![(2, None), (2003, Some(2001)), (4005, Some(2001))]
        );
        assert_eq!(
            info.exchanges.iter().map(|x| x.index).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
    }

    #[test]
    fn issue15_h2_goaway_connection_had_no_exchange() {
        // The preface is answered (WINDOW_UPDATE, SETTINGS ACK) before the request goes
        // out; the server's idle GOAWAY a second later and both close_notifys are not a
        // second exchange, nor part of the first one's time.
        let mut f = Feed::new();
        tls13_offering_h2(&mut f);
        f.s(&h2(33), 0.0024);
        f.c(&h2(64), 0.0025);
        f.s(&h2(13), 0.00257).s(&h2(9), 0.0026);
        f.c(&h2(48), 0.0028);
        f.s(&h2(77), 0.0039); // HEADERS 200, DATA
        f.c(&h2(9), 0.0040); // SETTINGS ACK
        f.s(&h2(17), 1.004); // GOAWAY
        f.s(&h2(2), 2.0044).c(&h2(2), 2.0047);
        let info = f.done().info;
        assert_eq!(info.exchanges.len(), 1, "{:?}", info.exchanges);
        let x = &info.exchanges[0];
        assert_eq!(x.end.millis_since(Timestamp::from_nanos(0)).round(), 4.0);
        assert_eq!(x.client_bytes as usize, (64 + 48 + 9 + 2) + 4 * 17);
    }

    #[test]
    fn issue15_h2_settings_ack_opened_the_second_exchange_two_seconds_early() {
        // Go's SETTINGS ACK follows the first response; it was taken for the start of
        // the next request, so exchange 2 began at 2 ms with no idle gap before it.
        let mut f = Feed::new();
        tls13_offering_h2(&mut f);
        f.c(&h2(64), 0.0013).c(&h2(48), 0.0014); // preface; HEADERS GET /r0
        f.s(&[h2(33), h2(22), h2(77)].concat(), 0.0016); // SETTINGS; ACK+WU; response
        f.c(&h2(9), 0.0017); // SETTINGS ACK
        f.c(&h2(19), 2.002).s(&h2(55), 2.0022);
        f.c(&h2(19), 4.0026).s(&h2(55), 4.0028);
        let info = f.done().info;
        assert_eq!(
            timing(&info),
            vec![(1, None), (2002, Some(2000)), (4003, Some(2000))]
        );
    }

    #[test]
    fn h2_preface_answered_on_its_own_is_not_a_request() {
        // The server's SETTINGS lands between the preface and the first HEADERS.
        let mut f = Feed::new();
        tls13_offering_h2(&mut f);
        f.c(&h2(64), 0.001);
        f.s(&h2(33), 0.0011);
        f.c(&h2(9), 0.0012).c(&h2(48), 0.0013);
        f.s(&[h2(22), h2(77)].concat(), 0.002);
        f.c(&h2(19), 1.0).s(&h2(55), 1.0001);
        let info = f.done().info;
        assert_eq!(timing(&info), vec![(1, None), (1000, Some(998))]);
        assert_eq!(info.exchanges[0].client_packet, 7, "the HEADERS record");
    }

    #[test]
    fn h2_preface_nothing_answered_is_not_a_request() {
        // Chrome's preface (70 bytes) and then nothing: the capture of a
        // pre-connected socket that was never used.
        let mut f = Feed::new();
        tls13_offering_h2(&mut f);
        f.c(&h2(70), 0.001);
        assert!(f.done().info.exchanges.is_empty());
    }

    #[test]
    fn curl_preface_and_first_request_in_one_record() {
        // nghttp2 writes preface, SETTINGS, WINDOW_UPDATE and HEADERS in one record.
        let mut f = Feed::new();
        tls13_offering_h2(&mut f);
        f.c(&h2(64 + 40), 0.001);
        f.s(&[h2(27), h2(9), h2(60)].concat(), 0.0012);
        f.c(&h2(9), 0.0013).c(&h2(2), 0.0014);
        let info = f.done().info;
        assert_eq!(info.exchanges.len(), 1, "{:?}", info.exchanges);
    }

    #[test]
    fn http11_offering_h2_keeps_a_small_first_request() {
        // TLS 1.3 hides that the server chose HTTP/1.1: a small first request looks
        // like a preface, but no SETTINGS ACK ever follows, so it stays a request.
        let mut f = Feed::new();
        tls13_offering_h2(&mut f);
        f.c(&h2(78), 0.001).s(&h2(120), 0.0012);
        f.c(&h2(78), 1.0).s(&h2(120), 1.0002);
        f.c(&h2(2), 1.5);
        let info = f.done().info;
        assert_eq!(timing(&info), vec![(1, None), (1000, Some(999))]);
    }

    #[test]
    fn h2_window_updates_and_pings_are_chatter() {
        // TLS 1.2 with ALPN h2 and AES-GCM (24 bytes a record): a download that the
        // client's WINDOW_UPDATEs interrupt, a PING and its ACK, then a second request.
        let mut f = Feed::new();
        f.c(&client_hello("api.example", &["h2", "http/1.1"]), 0.0);
        let mut flight = server_hello_alpn(false, Some("h2"));
        flight.extend(record(HANDSHAKE, &handshake_message(14, &[])));
        f.s(&flight, 0.01);
        let mut fin = record(CHANGE_CIPHER_SPEC, &[1]);
        fin.extend(record(HANDSHAKE, &[0xaa; 40]));
        f.c(&fin, 0.02).s(&fin, 0.03);
        let gcm = |p: usize| app(p + 24);
        f.c(&[gcm(64), gcm(45)].concat(), 0.1);
        f.s(&[gcm(33), gcm(9), gcm(60)].concat(), 0.11);
        f.s(&[gcm(16384), gcm(16384)].concat(), 0.12);
        f.c(&gcm(9), 0.121).c(&gcm(26), 0.122); // SETTINGS ACK; two WINDOW_UPDATEs
        f.s(&[gcm(16384), gcm(16384)].concat(), 0.13);
        f.c(&gcm(13), 0.131).s(&gcm(8000), 0.14); // WINDOW_UPDATE; the rest
        f.c(&gcm(17), 5.0).s(&gcm(17), 5.001); // PING, ACK
        f.c(&gcm(40), 9.0).s(&gcm(1000), 9.001);
        f.c(&gcm(26), 9.5).s(&gcm(40), 9.501); // 26 bytes after 1 kB: a request
        let info = f.done().info;
        assert_eq!(
            timing(&info),
            vec![(100, None), (9000, Some(8860)), (9500, Some(499))]
        );
        assert_eq!(
            info.exchanges[0].client_bytes,
            64 + 45 + 9 + 26 + 13 + 17 + 6 * 24,
            "the ACK, WINDOW_UPDATEs and PING counted into the download"
        );
    }
}
