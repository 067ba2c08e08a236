//! The decryptor against real captures: the HTTPS fixtures recorded from Go clients on
//! loopback with the key logs those clients wrote (fixtures/README.md). Each test
//! reads the capture with the crate's own reader and decoder, puts each direction's
//! TCP payload back in order (loopback, nothing lost: ordering by sequence number is
//! enough), cuts it into records, finds the randoms and suite in the hellos, decrypts
//! every record and compares the requests inside with what tshark decrypts
//! (fixtures/decrypted-requests.json, made by fixtures/decrypt-truth.py).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use super::*;
use crate::capture::file::{read_packets, Source};

/// One TCP connection's payload, each direction in order.
#[derive(Default)]
struct Conn {
    client: Vec<u8>,
    server: Vec<u8>,
}

/// Reads `path` and returns its connections in order of their SYN.
fn connections(path: &str) -> Vec<Conn> {
    type Key = (SocketAddr, SocketAddr);
    /// One direction: initial sequence number and the (seq, payload) segments.
    type Half = (u32, Vec<(u32, Vec<u8>)>);
    // (client, server, from client) → that direction's segments.
    let mut order: Vec<Key> = Vec::new();
    let mut segments: BTreeMap<(Key, bool), Half> = BTreeMap::new();
    read_packets(&Source::from_arg(path), Arc::new(AtomicU64::new(0)), |p| {
        let Ok(seg) = crate::decode::decode(p.link_type, p.data, p.orig_len) else {
            return ControlFlow::Continue(());
        };
        if seg.flags.syn() {
            let from_client = !seg.flags.ack();
            let key = if from_client {
                (seg.src, seg.dst)
            } else {
                (seg.dst, seg.src)
            };
            if from_client && !order.contains(&key) {
                order.push(key);
            }
            segments.entry((key, from_client)).or_default().0 = seg.seq.wrapping_add(1);
        } else if !seg.payload.is_empty() {
            let (key, from_client) = if order.contains(&(seg.src, seg.dst)) {
                ((seg.src, seg.dst), true)
            } else {
                ((seg.dst, seg.src), false)
            };
            let entry = segments.entry((key, from_client)).or_default();
            entry.1.push((seg.seq, seg.payload.to_vec()));
        }
        ControlFlow::Continue(())
    })
    .unwrap();
    let mut stream = |key: Key, from_client: bool| {
        let (isn, mut segs) = segments.remove(&(key, from_client)).unwrap_or_default();
        segs.sort_by_key(|(seq, _)| seq.wrapping_sub(isn));
        let mut out = Vec::new();
        for (seq, payload) in segs {
            // Skip what a retransmission repeats.
            let at = seq.wrapping_sub(isn) as usize;
            if let Some(new) = payload.get(out.len().saturating_sub(at)..) {
                if at <= out.len() {
                    out.extend_from_slice(new);
                }
            }
        }
        out
    };
    order
        .clone()
        .into_iter()
        .map(|key| Conn {
            client: stream(key, true),
            server: stream(key, false),
        })
        .collect()
}

/// Cuts a stream into TLS records: (type, version, body).
fn records(stream: &[u8]) -> Vec<(ContentType, u16, &[u8])> {
    let mut out = Vec::new();
    let mut rest = stream;
    while rest.len() >= 5 {
        let len = u16::from_be_bytes([rest[3], rest[4]]) as usize;
        assert!(rest.len() >= 5 + len, "stream ends inside a record");
        out.push((
            ContentType(rest[0]),
            u16::from_be_bytes([rest[1], rest[2]]),
            &rest[5..5 + len],
        ));
        rest = &rest[5 + len..];
    }
    assert!(rest.is_empty(), "stream ends inside a record header");
    out
}

/// What the hellos say: RFC 5246 §7.4.1.2–7.4.1.3 / RFC 8446 §4.1.2–4.1.3 (type,
/// length, version, random, session id, then the client's suites, compression and
/// extensions or the server's suite).
struct Hellos {
    negotiated: Negotiated,
    client_session_id: Vec<u8>,
    /// The ClientHello's session_ticket extension (RFC 5077 §3.2), if any.
    client_ticket: Option<Vec<u8>>,
    server_session_id: Vec<u8>,
}

fn hellos(conn: &Conn) -> Hellos {
    let ch = records(&conn.client)[0].2;
    let sh = records(&conn.server)[0].2;
    assert_eq!((ch[0], sh[0]), (1, 2), "hellos first");
    let sid_len = sh[38] as usize;
    let suite = u16::from_be_bytes([sh[39 + sid_len], sh[40 + sid_len]]);
    let csid_len = ch[38] as usize;
    let mut at = 39 + csid_len;
    at += 2 + u16::from_be_bytes([ch[at], ch[at + 1]]) as usize; // cipher suites
    at += 1 + ch[at] as usize; // compression methods
    let ext_end = at + 2 + u16::from_be_bytes([ch[at], ch[at + 1]]) as usize;
    at += 2;
    let mut client_ticket = None;
    while at + 4 <= ext_end {
        let kind = u16::from_be_bytes([ch[at], ch[at + 1]]);
        let len = u16::from_be_bytes([ch[at + 2], ch[at + 3]]) as usize;
        if kind == 0x0023 {
            client_ticket = Some(ch[at + 4..at + 4 + len].to_vec());
        }
        at += 4 + len;
    }
    Hellos {
        negotiated: Negotiated {
            client_random: ClientRandom(ch[6..38].try_into().unwrap()),
            server_random: sh[6..38].try_into().unwrap(),
            suite: CipherSuite(suite),
            encrypt_then_mac: server_extensions(sh, sid_len).contains(&0x0016),
        },
        client_session_id: ch[39..39 + csid_len].to_vec(),
        client_ticket,
        server_session_id: sh[39..39 + sid_len].to_vec(),
    }
}

/// The extension types of a ServerHello.
fn server_extensions(sh: &[u8], sid_len: usize) -> Vec<u16> {
    let mut at = 39 + sid_len + 3; // suite, compression
    let mut types = Vec::new();
    if at + 2 > sh.len() {
        return types;
    }
    let end = at + 2 + u16::from_be_bytes([sh[at], sh[at + 1]]) as usize;
    at += 2;
    while at + 4 <= end {
        types.push(u16::from_be_bytes([sh[at], sh[at + 1]]));
        at += 4 + u16::from_be_bytes([sh[at + 2], sh[at + 3]]) as usize;
    }
    types
}

fn negotiated(conn: &Conn) -> Negotiated {
    hellos(conn).negotiated
}

/// The tickets of the server's plaintext NewSessionTicket messages (TLS 1.2 sends it
/// before its ChangeCipherSpec; RFC 5077 §3.3: lifetime(4), ticket length(2), ticket).
fn plaintext_tickets(server: &[u8]) -> Vec<Vec<u8>> {
    let mut handshake = Vec::new();
    for (t, _, body) in records(server) {
        match t {
            ContentType::HANDSHAKE => handshake.extend_from_slice(body),
            ContentType::CHANGE_CIPHER_SPEC => break,
            _ => {}
        }
    }
    let mut tickets = Vec::new();
    let mut rest = &handshake[..];
    while rest.len() >= 4 {
        let len = u32::from_be_bytes([0, rest[1], rest[2], rest[3]]) as usize;
        if rest[0] == 4 {
            let n = u16::from_be_bytes([rest[8], rest[9]]) as usize;
            tickets.push(rest[10..10 + n].to_vec());
        }
        rest = &rest[4 + len..];
    }
    tickets
}

/// The secrets for one connection: from the key log, or for a resumed TLS 1.2
/// session from the cache its full handshake filled.
fn secrets_for(conn: &Conn, log: &KeyLog, cache: &mut ResumptionCache) -> Option<SessionSecrets> {
    let h = hellos(conn);
    if let Some(secrets) = log.get(&h.negotiated.client_random) {
        if let Some(master) = secrets.get(Label::ClientRandom) {
            cache.remember_session_id(&h.server_session_id, master);
            for ticket in plaintext_tickets(&conn.server) {
                cache.remember_ticket(&ticket, master);
            }
        }
        return Some(*secrets);
    }
    let resumed = !h.server_session_id.is_empty() && h.server_session_id == h.client_session_id;
    resumed
        .then(|| cache.resumed(&h.client_session_id, h.client_ticket.as_deref()))
        .flatten()
}

/// Everything one direction decrypted to.
#[derive(Default, Debug)]
struct Decrypted {
    /// Application data, concatenated in order.
    application: Vec<u8>,
    /// Records opened with keys, by epoch.
    by_epoch: BTreeMap<String, u64>,
    /// Alerts (level, description), plaintext or decrypted.
    alerts: Vec<(u8, u8)>,
    error: Option<DecryptError>,
}

fn decrypt_direction(
    stream: &[u8],
    hello: &Negotiated,
    secrets: &SessionSecrets,
    direction: Direction,
) -> Decrypted {
    let mut dec = RecordDecryptor::new(hello, secrets, direction).unwrap();
    let mut out = Decrypted::default();
    for (t, v, body) in records(stream) {
        match dec.decrypt(t, v, body) {
            Ok(record) => {
                if record.seq.is_some() {
                    *out.by_epoch
                        .entry(format!("{:?}", record.epoch))
                        .or_default() += 1;
                }
                match record.content_type {
                    ContentType::APPLICATION_DATA => out.application.extend(record.data),
                    ContentType::ALERT => {
                        out.alerts.push((record.data[0], record.data[1]));
                    }
                    _ => {}
                }
            }
            Err(e) => {
                out.error = Some(e);
                break;
            }
        }
    }
    out
}

fn secrets(log: &KeyLog, hello: &Negotiated) -> SessionSecrets {
    *log.get(&hello.client_random)
        .expect("key log has this connection")
}

fn key_log(name: &str) -> KeyLog {
    let mut log = KeyLog::new();
    let summary = log.add_text(&std::fs::read(format!("fixtures/{name}.keylog")).unwrap());
    assert_eq!(summary.garbage, 0);
    log
}

/// tshark's count of decrypted HTTP requests per connection, from the fixture truth.
fn truth(name: &str) -> Vec<usize> {
    let text = std::fs::read_to_string("fixtures/decrypted-requests.json").unwrap();
    let all: serde_json::Value = serde_json::from_str(&text).unwrap();
    let per_conn = all[format!("{name}.pcap")].as_object().unwrap();
    let mut counts: Vec<(u64, usize)> = per_conn
        .iter()
        .map(|(k, v)| (k.parse().unwrap(), v.as_u64().unwrap() as usize))
        .collect();
    counts.sort();
    counts.into_iter().map(|(_, n)| n).collect()
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// HTTP/1.1 request lines in a decrypted client stream.
fn http1_requests(data: &[u8]) -> usize {
    ["GET ", "POST ", "PUT ", "HEAD ", "DELETE "]
        .iter()
        .map(|m| {
            data.split(|&b| b == b'\n')
                .filter(|line| line.starts_with(m.as_bytes()) && line.ends_with(b" HTTP/1.1\r"))
                .count()
        })
        .sum()
}

/// Decrypts every connection of an HTTP/1.1 fixture and checks the request count per
/// connection against tshark's; returns the decrypted directions.
fn check_http1(name: &str) -> Vec<(Decrypted, Decrypted)> {
    let log = key_log(name);
    let conns = connections(&format!("fixtures/{name}.pcap"));
    let mut cache = ResumptionCache::new();
    let mut per_conn = Vec::new();
    let mut results = Vec::new();
    for conn in &conns {
        let hello = negotiated(conn);
        let secrets = secrets_for(conn, &log, &mut cache).expect("secrets for every connection");
        let client = decrypt_direction(&conn.client, &hello, &secrets, Direction::ClientToServer);
        let server = decrypt_direction(&conn.server, &hello, &secrets, Direction::ServerToClient);
        assert_eq!(client.error, None, "{name} client");
        assert_eq!(server.error, None, "{name} server");
        per_conn.push(http1_requests(&client.application));
        assert_eq!(
            count(&server.application, b"HTTP/1.1 200 OK\r\n"),
            http1_requests(&client.application),
            "{name}: one response per request"
        );
        results.push((client, server));
    }
    let expected: Vec<usize> = truth(name).into_iter().filter(|&n| n > 0).collect();
    assert_eq!(
        per_conn, expected,
        "{name}: requests per connection vs tshark"
    );
    results
}

#[test]
fn test_tls13_reuse_decrypts_three_requests() {
    let conns = connections("fixtures/tls13-reuse.pcap");
    assert_eq!(conns.len(), 1);
    assert_eq!(
        negotiated(&conns[0]).suite,
        CipherSuite::TLS_AES_128_GCM_SHA256
    );
    let results = check_http1("tls13-reuse");
    let (client, server) = &results[0];
    assert_eq!(http1_requests(&client.application), 3);
    // Both directions used handshake keys, then switched after their Finished.
    assert!(client.by_epoch["Handshake"] >= 1 && client.by_epoch["Application(0)"] >= 3);
    assert!(server.by_epoch["Handshake"] >= 1 && server.by_epoch["Application(0)"] >= 3);
}

#[test]
fn test_tls12_reuse_decrypts_three_requests() {
    let conns = connections("fixtures/tls12-reuse.pcap");
    assert_eq!(
        negotiated(&conns[0]).suite,
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    );
    let results = check_http1("tls12-reuse");
    assert_eq!(results.len(), 1);
    // Finished + 3 requests at least, all under the one TLS 1.2 key.
    assert!(results[0].0.by_epoch["Application(0)"] >= 4);
}

#[test]
fn test_tls12_resume_decrypts_both_connections() {
    // The second connection resumes the first's session: an abbreviated handshake in
    // which the server sends ChangeCipherSpec first; its CLIENT_RANDOM line carries
    // the same master secret under the new client random.
    // Go logs no line for the resumed one (1 line for 2 connections), so its master
    // secret comes from the ResumptionCache, found by the ticket it offers.
    assert_eq!(key_log("tls12-resume").len(), 1);
    let conns = connections("fixtures/tls12-resume.pcap");
    let second = hellos(&conns[1]);
    assert!(second.client_ticket.as_ref().is_some_and(|t| !t.is_empty()));
    assert_eq!(second.server_session_id, second.client_session_id);
    let results = check_http1("tls12-resume");
    assert_eq!(results.len(), 2);
    // The abbreviated handshake: the server's ChangeCipherSpec and Finished come first.
    let server_records = records(&conns[1].server);
    assert_eq!(server_records[1].0, ContentType::CHANGE_CIPHER_SPEC);
}

#[test]
fn test_tls12_bad_cert_plaintext_alert_no_requests() {
    // The client rejected the certificate before computing a master secret, so Go
    // logged nothing, and nothing was encrypted: the fatal bad_certificate alert
    // (RFC 5246 §7.2.2: level 2, description 42) went in the clear.
    let log = key_log("tls12-bad-cert");
    assert!(log.is_empty());
    let conns = connections("fixtures/tls12-bad-cert.pcap");
    assert_eq!(conns.len(), 1);
    let hello = negotiated(&conns[0]);
    assert_eq!(
        RecordDecryptor::new(
            &hello,
            &SessionSecrets::default(),
            Direction::ClientToServer
        )
        .map(|_| ()),
        Err(DecryptError::MissingSecret(Label::ClientRandom))
    );
    let alerts: Vec<&[u8]> = records(&conns[0].client)
        .into_iter()
        .filter(|r| r.0 == ContentType::ALERT)
        .map(|r| r.2)
        .collect();
    assert_eq!(alerts, [&[2u8, 42][..]]);
    assert!(records(&conns[0].client)
        .iter()
        .all(|r| r.0 != ContentType::APPLICATION_DATA));
    assert!(truth("tls12-bad-cert").is_empty());
}

#[test]
fn test_tls13_h2_decrypts_preface_and_three_requests() {
    let log = key_log("tls13-h2");
    let conns = connections("fixtures/tls13-h2.pcap");
    assert_eq!(conns.len(), 1);
    let hello = negotiated(&conns[0]);
    let client = decrypt_direction(
        &conns[0].client,
        &hello,
        &secrets(&log, &hello),
        Direction::ClientToServer,
    );
    assert_eq!(client.error, None);
    let server = decrypt_direction(
        &conns[0].server,
        &hello,
        &secrets(&log, &hello),
        Direction::ServerToClient,
    );
    assert_eq!(server.error, None);
    // RFC 9113 §3.4: the server's preface is a SETTINGS frame (type 4, stream 0).
    assert_eq!(server.application[3], 4);
    let data = &client.application;
    let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    assert!(data.starts_with(preface));
    // RFC 9113 §4.1 frames: 3-byte length, type, flags, stream id. Count HEADERS (1)
    // frames that open client streams: tshark counts 3 requests.
    let mut rest = &data[preface.len()..];
    let mut streams = Vec::new();
    while rest.len() >= 9 {
        let len = u32::from_be_bytes([0, rest[0], rest[1], rest[2]]) as usize;
        let stream = u32::from_be_bytes([rest[5], rest[6], rest[7], rest[8]]) & 0x7fff_ffff;
        if rest[3] == 1 {
            streams.push(stream);
        }
        rest = &rest[9 + len..];
    }
    assert!(rest.is_empty());
    assert_eq!(streams, [1, 3, 5]);
    assert_eq!(vec![streams.len()], truth("tls13-h2"));
}

#[test]
fn test_wrong_key_fails_on_first_encrypted_record() {
    for name in ["tls13-reuse", "tls12-reuse", "tls12-cbc", "tls12-cbc-etm"] {
        let conns = connections(&format!("fixtures/{name}.pcap"));
        let hello = negotiated(&conns[0]);
        // The right key log with every secret's first byte flipped.
        let text = std::fs::read_to_string(format!("fixtures/{name}.keylog")).unwrap();
        let flipped: String = text
            .lines()
            .map(|l| {
                let (head, secret) = l.rsplit_once(' ').unwrap();
                let first = if secret.starts_with('0') { '1' } else { '0' };
                format!("{head} {first}{}\n", &secret[1..])
            })
            .collect();
        let mut log = KeyLog::new();
        log.add_text(flipped.as_bytes());
        for (stream, direction) in [
            (&conns[0].client, Direction::ClientToServer),
            (&conns[0].server, Direction::ServerToClient),
        ] {
            let out = decrypt_direction(stream, &hello, &secrets(&log, &hello), direction);
            let epoch = if name == "tls13-reuse" {
                Epoch::Handshake
            } else {
                Epoch::Application(0)
            };
            assert_eq!(
                out.error,
                Some(DecryptError::AuthenticationFailed { seq: 0, epoch }),
                "{name} {direction:?}"
            );
            assert!(out.application.is_empty());
        }
    }
}

#[test]
fn test_pcapng_decryption_secrets_block_decrypts() {
    // fixtures/inject-secrets.sh: editcap put tls13-reuse.keylog into a DSB.
    let file = std::fs::read("fixtures/tls13-reuse-dsb.pcapng").unwrap();
    // pcapng blocks: type, total length, body, total length (RFC draft §3.1); the
    // Section Header's byte-order magic says the section's endianness.
    let big_endian = file[8..12] == [0x1a, 0x2b, 0x3c, 0x4d];
    let word = |at: usize| {
        let b: [u8; 4] = file[at..at + 4].try_into().unwrap();
        if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    let mut log = KeyLog::new();
    let mut blocks = 0;
    let mut at = 0;
    while at + 12 <= file.len() {
        let (kind, len) = (word(at), word(at + 4) as usize);
        if kind == keylog::BLOCK_TYPE_DSB {
            let summary = log
                .add_dsb_body(&file[at + 8..at + len - 4], big_endian)
                .unwrap();
            assert_eq!(summary.garbage, 0);
            let lines = std::fs::read_to_string("fixtures/tls13-reuse.keylog").unwrap();
            assert_eq!(summary.secrets, lines.lines().count() as u64);
            blocks += 1;
        }
        at += len;
    }
    assert_eq!(blocks, 1);
    let from_file = key_log("tls13-reuse");
    assert_eq!(log.len(), from_file.len());
    // The embedded secrets decrypt the capture the pcapng carries.
    let conns = connections("fixtures/tls13-reuse-dsb.pcapng");
    let hello = negotiated(&conns[0]);
    let client = decrypt_direction(
        &conns[0].client,
        &hello,
        &secrets(&log, &hello),
        Direction::ClientToServer,
    );
    assert_eq!(client.error, None);
    assert_eq!(http1_requests(&client.application), 3);
}

#[test]
fn test_openssl_suites_chacha20_aes256_and_cbc() {
    // fixtures/record-suites.sh: one request per suite, OpenSSL s_client → s_server
    // -www; tshark decrypts one `GET / HTTP/1.1` in each.
    for (name, suite) in [
        ("tls13-chacha", CipherSuite::TLS_CHACHA20_POLY1305_SHA256),
        ("tls13-aes256", CipherSuite::TLS_AES_256_GCM_SHA384),
        (
            "tls12-chacha",
            CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        (
            "tls12-aes256",
            CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ),
        (
            "tls12-cbc-etm",
            CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
        ),
        (
            "tls12-cbc",
            CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384,
        ),
    ] {
        let log = key_log(name);
        let conns = connections(&format!("fixtures/{name}.pcap"));
        assert_eq!(conns.len(), 1, "{name}");
        let hello = negotiated(&conns[0]);
        assert_eq!(hello.suite, suite, "{name}");
        // OpenSSL offers encrypt-then-MAC; record-suites.sh turns it off for tls12-cbc.
        assert_eq!(hello.encrypt_then_mac, name == "tls12-cbc-etm", "{name}");
        let client = decrypt_direction(
            &conns[0].client,
            &hello,
            &secrets(&log, &hello),
            Direction::ClientToServer,
        );
        let server = decrypt_direction(
            &conns[0].server,
            &hello,
            &secrets(&log, &hello),
            Direction::ServerToClient,
        );
        assert_eq!((client.error, server.error), (None, None), "{name}");
        assert_eq!(http1_requests(&client.application), 1, "{name}");
        assert!(client
            .application
            .starts_with(b"GET / HTTP/1.1\r\nHost: localhost\r\n"));
        assert!(
            server.application.starts_with(b"HTTP/1.0 200 ok\r\n"),
            "{name}"
        );
        // The client's close_notify (warning, 0) came encrypted.
        assert_eq!(client.alerts, [(1, 0)], "{name}");
    }
}

#[test]
fn test_tls10_cbc_record_is_refused() {
    // The same CBC keys, but a record claiming TLS 1.0: its IV would chain from the
    // previous record, which this decryptor does not follow.
    let log = key_log("tls12-cbc");
    let conns = connections("fixtures/tls12-cbc.pcap");
    let hello = negotiated(&conns[0]);
    let mut dec =
        RecordDecryptor::new(&hello, &secrets(&log, &hello), Direction::ClientToServer).unwrap();
    dec.decrypt(ContentType::CHANGE_CIPHER_SPEC, 0x0303, &[1])
        .unwrap();
    assert_eq!(
        dec.decrypt(ContentType::HANDSHAKE, 0x0301, &[0; 64]),
        Err(DecryptError::ImplicitIv)
    );
}

#[test]
fn test_merged_key_logs_decrypt_every_capture() {
    // Several key log files merge into one; each capture still finds its secrets.
    let names = [
        "tls12-aes256",
        "tls12-bad-cert",
        "tls12-cbc",
        "tls12-cbc-etm",
        "tls12-chacha",
        "tls12-resume",
        "tls12-reuse",
        "tls13-aes256",
        "tls13-chacha",
        "tls13-h2",
        "tls13-reuse",
    ];
    let mut merged = KeyLog::new();
    let mut total = 0;
    for name in names {
        let one = key_log(name);
        total += one.len();
        merged.merge(&one);
    }
    // Every connection has its own client random.
    assert_eq!(merged.len(), total);
    for name in ["tls13-reuse", "tls12-reuse", "tls13-chacha", "tls12-cbc"] {
        let conns = connections(&format!("fixtures/{name}.pcap"));
        let hello = negotiated(&conns[0]);
        let client = decrypt_direction(
            &conns[0].client,
            &hello,
            &secrets(&merged, &hello),
            Direction::ClientToServer,
        );
        assert_eq!(client.error, None, "{name}");
        assert!(http1_requests(&client.application) >= 1, "{name}");
    }
}
