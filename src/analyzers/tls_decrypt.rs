//! Decryption of one TLS connection, for the TLS analyzer (`tls`) when the input has
//! keys: at the ServerHello, the client random is looked up in the input's keys (or a
//! resumed TLS 1.2 session in its session cache), one [`RecordDecryptor`] per
//! direction is built, and from then on every whole record of each direction is fed
//! to it in order. Application data comes out as plaintext pieces for the child
//! analyzer (HTTP/1.x or HTTP/2) that the analyzer tree drains after each chunk; the
//! server's encrypted TLS 1.3 handshake gives the ALPN choice (EncryptedExtensions)
//! and the certificate.
//!
//! The first failure stops decryption of the whole connection (a missing key, a suite
//! not decrypted, a record that does not authenticate, capture loss inside the
//! encrypted stream): the status and the first packet concerned are kept, one warning
//! says why, and the connection keeps the exchanges inferred from record sizes.
//!
//! Not for: record framing or the hellos (`tls` reads them and calls in), nor the
//! cryptography (`crate::decrypt`).

use super::reassembly::Origin;
use super::tls_certificate::leaf_certificate;
use crate::decrypt::{
    self, ClientRandom, ContentType, DecryptError, Label, Negotiated, RecordDecryptor,
    SessionSecrets, SharedKeys,
};
use crate::flow::key::{Direction, PerSide};
use crate::report::model::{DecryptionStatus, TlsCertificate, TlsDecryption, WarningRecord};

/// Decrypted handshake bytes kept while looking for EncryptedExtensions and the
/// Certificate; a longer certificate chain is not read.
const MAX_HANDSHAKE: usize = 64 * 1024;

/// RFC 8446 §4 handshake types read from the decrypted server flight.
const ENCRYPTED_EXTENSIONS: u8 = 8;
const CERTIFICATE: u8 = 11;
const FINISHED: u8 = 20;
/// RFC 7301: the application_layer_protocol_negotiation extension.
const EXTENSION_ALPN: u16 = 16;

/// What the ClientHello offered that decryption needs.
#[derive(Debug, Default)]
pub struct ClientOffer {
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    /// The session_ticket extension's ticket (RFC 5077), for TLS 1.2 resumption.
    pub ticket: Option<Vec<u8>>,
}

/// What the ServerHello settled.
#[derive(Debug)]
pub struct ServerChoice<'a> {
    pub random: &'a [u8],
    pub session_id: &'a [u8],
    pub suite: u16,
    pub encrypt_then_mac: bool,
    /// The session was resumed (TLS 1.2: the session ID echoed).
    pub resumed: bool,
    pub tls13: bool,
}

/// Application data of one record, as the child analyzer will get it.
#[derive(Debug, Clone, Copy)]
struct Piece {
    dir: Direction,
    end: usize,
    /// The packet that carried the record's last byte: the plaintext exists from then.
    origin: Origin,
}

/// Which analyzer the plaintext goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inner {
    Http1,
    Http2,
}

/// One connection's decryption.
#[derive(Debug)]
pub struct Decryption {
    decryptors: Option<Box<PerSide<RecordDecryptor>>>,
    status: DecryptionStatus,
    records: PerSide<u64>,
    failed_packet: Option<u64>,
    /// Why decryption stopped, for the warning.
    why: Option<String>,
    tls13: bool,
    /// TLS 1.2: the master secret in use, to remember under the server's tickets.
    master: Option<decrypt::keylog::Secret>,
    keys: SharedKeys,
    /// The ALPN protocol from the decrypted EncryptedExtensions (TLS 1.3).
    pub alpn: Option<String>,
    pub certificate: Option<TlsCertificate>,
    /// The server's decrypted handshake messages not yet complete (TLS 1.3).
    handshake: Vec<u8>,
    handshake_done: bool,
    /// The alert a decrypted alert record carried: (from, level, description code).
    pub alert: Option<(Direction, u8, u8, Origin)>,
    /// Plaintext since the tree last drained it; reused.
    plaintext: Vec<u8>,
    pieces: Vec<Piece>,
    inner: Option<Inner>,
}

impl Decryption {
    fn new(keys: &SharedKeys, tls13: bool) -> Decryption {
        Decryption {
            decryptors: None,
            status: DecryptionStatus::Decrypted,
            records: PerSide::default(),
            failed_packet: None,
            why: None,
            tls13,
            master: None,
            keys: std::rc::Rc::clone(keys),
            alpn: None,
            certificate: None,
            handshake: Vec::new(),
            handshake_done: false,
            alert: None,
            plaintext: Vec::new(),
            pieces: Vec::new(),
            inner: None,
        }
    }

    /// Whether the input has any key: without one, a connection says nothing about
    /// decryption.
    pub fn keys_given(keys: Option<&SharedKeys>) -> bool {
        keys.and_then(|k| k.try_borrow().ok())
            .is_some_and(|k| !k.is_empty())
    }

    /// A connection whose handshake was not captured: nothing can be derived.
    pub fn without_handshake(keys: &SharedKeys, packet: u64) -> Decryption {
        let mut d = Decryption::new(keys, false);
        d.fail(
            DecryptionStatus::NoHandshake,
            packet,
            "the handshake was not captured, so no key can be found".into(),
        );
        d
    }

    /// At the ServerHello (packet `packet`): finds the keys and builds the decryptors.
    pub fn start(
        keys: &SharedKeys,
        offer: &ClientOffer,
        server: &ServerChoice<'_>,
        packet: u64,
    ) -> Decryption {
        let mut d = Decryption::new(keys, server.tls13);
        let Ok(server_random) = <[u8; 32]>::try_from(server.random) else {
            d.fail(
                DecryptionStatus::NoHandshake,
                packet,
                "the ServerHello has no 32-byte random".into(),
            );
            return d;
        };
        let random = ClientRandom(offer.random);
        let secrets = d.secrets(&random, offer, server);
        let Some(secrets) = secrets else {
            d.fail(
                DecryptionStatus::NoKey,
                packet,
                format!(
                    "no key in the key logs for this connection (client random {}…)",
                    hex::encode(&offer.random[..8])
                ),
            );
            return d;
        };
        let hello = Negotiated {
            client_random: random,
            server_random,
            suite: decrypt::CipherSuite(server.suite),
            encrypt_then_mac: server.encrypt_then_mac,
        };
        let both = RecordDecryptor::new(&hello, &secrets, decrypt::Direction::ClientToServer)
            .and_then(|client| {
                RecordDecryptor::new(&hello, &secrets, decrypt::Direction::ServerToClient)
                    .map(|server| PerSide { client, server })
            });
        match both {
            Ok(both) => d.decryptors = Some(Box::new(both)),
            Err(e) => {
                let status = match e {
                    DecryptError::UnsupportedSuite(_) => DecryptionStatus::UnsupportedCipher,
                    _ => DecryptionStatus::NoKey,
                };
                d.fail(status, packet, e.to_string());
            }
        }
        d
    }

    /// The secrets of this connection: its own key log lines, or for a resumed TLS 1.2
    /// session those of the full handshake that created it. A full TLS 1.2 handshake's
    /// master secret is remembered under the server's session ID for later resumption.
    fn secrets(
        &mut self,
        random: &ClientRandom,
        offer: &ClientOffer,
        server: &ServerChoice<'_>,
    ) -> Option<SessionSecrets> {
        let mut keys = self.keys.try_borrow_mut().ok()?;
        let logged = keys.lookup(random);
        let secrets = match logged {
            Some(s) => Some(s),
            None if !server.tls13 && server.resumed => {
                keys.resumed(&offer.session_id, offer.ticket.as_deref())
            }
            None => None,
        }?;
        if !server.tls13 {
            if let Some(master) = secrets.get(Label::ClientRandom) {
                keys.remember_session_id(server.session_id, master);
                self.master = Some(*master);
            }
        }
        Some(secrets)
    }

    /// TLS 1.2: a ticket the server issued in the clear names this session's secret.
    pub fn remember_ticket(&mut self, ticket: &[u8]) {
        if let (Some(master), Ok(mut keys)) = (&self.master, self.keys.try_borrow_mut()) {
            keys.remember_ticket(ticket, master);
        }
    }

    /// Whether whole records are wanted (keys in hand, nothing failed yet).
    pub fn wants_records(&self) -> bool {
        self.decryptors.is_some()
    }

    fn fail(&mut self, status: DecryptionStatus, packet: u64, why: String) {
        if self.failed_packet.is_none() {
            self.status = status;
            self.failed_packet = Some(packet);
            self.why = Some(why);
        }
        self.decryptors = None;
        self.plaintext.clear();
        self.pieces.clear();
    }

    /// Bytes of `dir`'s stream were not captured: the records after them cannot be
    /// followed. Whether decryption stopped here (and will say so).
    pub fn on_gap(&mut self, dir: Direction, len: u64, packet: u64) -> bool {
        let stops = self.wants_records();
        if stops {
            self.fail(
                DecryptionStatus::CaptureLoss,
                packet,
                format!(
                    "{len} bytes of the {} are missing from the capture",
                    dir.as_str()
                ),
            );
        }
        stops
    }

    /// The capture ended inside a record of `dir` that began in packet `packet`.
    pub fn on_cut_record(&mut self, dir: Direction, packet: u64) {
        if self.wants_records() {
            self.fail(
                DecryptionStatus::CaptureLoss,
                packet,
                format!("the capture ends inside a record of the {}", dir.as_str()),
            );
        }
    }

    /// One whole record of `dir`: header type and version, body; `start` is where it
    /// began, `end` the packet with its last byte.
    pub fn on_record(
        &mut self,
        dir: Direction,
        content_type: u8,
        version: u16,
        body: &[u8],
        start: Origin,
        end: Origin,
    ) {
        let Some(decryptors) = self.decryptors.as_mut() else {
            return;
        };
        let result = decryptors
            .get_mut(dir)
            .decrypt(ContentType(content_type), version, body);
        let record = match result {
            Ok(record) => record,
            Err(e) => {
                let status = match e {
                    DecryptError::AuthenticationFailed { .. } | DecryptError::AlreadyFailed => {
                        DecryptionStatus::AuthenticationFailed
                    }
                    DecryptError::UnsupportedSuite(_) | DecryptError::ImplicitIv => {
                        DecryptionStatus::UnsupportedCipher
                    }
                    _ => DecryptionStatus::AuthenticationFailed,
                };
                let why = match e {
                    DecryptError::AuthenticationFailed { .. } => format!(
                        "a record of the {} does not authenticate with the logged key (a key log for another capture?)",
                        dir.as_str()
                    ),
                    other => format!("a record of the {}: {other}", dir.as_str()),
                };
                self.fail(status, start.packet, why);
                return;
            }
        };
        if record.seq.is_none() {
            return; // a record sent in the clear: the analyzer has read it already
        }
        *self.records.get_mut(dir) += 1;
        match record.content_type {
            ContentType::APPLICATION_DATA if !record.data.is_empty() => {
                self.plaintext.extend_from_slice(record.data);
                self.pieces.push(Piece {
                    dir,
                    end: self.plaintext.len(),
                    origin: end,
                });
            }
            ContentType::HANDSHAKE
                if dir == Direction::Server
                    && self.tls13
                    && !self.handshake_done
                    && self.handshake.len() + record.data.len() <= MAX_HANDSHAKE =>
            {
                self.handshake.extend_from_slice(record.data);
                self.server_handshake();
            }
            ContentType::ALERT => {
                if let ([level, code, ..], None) = (record.data, self.alert) {
                    self.alert = Some((dir, *level, *code, end));
                }
            }
            _ => {}
        }
    }

    /// Reads the complete messages of the server's decrypted TLS 1.3 flight.
    fn server_handshake(&mut self) {
        let mut at = 0;
        while let Some(&[kind, a, b, c]) = self.handshake.get(at..at + 4) {
            let len = u32::from_be_bytes([0, a, b, c]) as usize;
            let Some(body) = self.handshake.get(at + 4..at + 4 + len) else {
                break;
            };
            match kind {
                ENCRYPTED_EXTENSIONS => self.alpn = alpn(body),
                CERTIFICATE => self.certificate = tls13_leaf(body).and_then(leaf_certificate),
                FINISHED => self.handshake_done = true,
                _ => {}
            }
            at += 4 + len;
        }
        self.handshake.drain(..at);
        if self.handshake_done {
            self.handshake = Vec::new();
        }
    }

    /// Hands the plaintext since the last call to `child`, in order, deciding once
    /// which analyzer it is for: HTTP/2 when ALPN chose `h2` or the client's first
    /// bytes are the HTTP/2 preface.
    pub fn drain(&mut self, alpn_h2: bool, mut child: impl FnMut(Inner, Direction, &[u8], Origin)) {
        let mut start = 0;
        for piece in &self.pieces {
            let bytes = self.plaintext.get(start..piece.end).unwrap_or(&[]);
            start = piece.end;
            let inner = *self.inner.get_or_insert_with(|| {
                let preface = piece.dir == Direction::Client
                    && crate::analyzers::http2::looks_like_preface(bytes);
                if alpn_h2 || self.alpn.as_deref() == Some("h2") || preface {
                    Inner::Http2
                } else {
                    Inner::Http1
                }
            });
            child(inner, piece.dir, bytes, piece.origin);
        }
        self.plaintext.clear();
        self.pieces.clear();
    }

    /// Whether the connection's plaintext was read to its end without a failure.
    pub fn succeeded(&self) -> bool {
        self.failed_packet.is_none()
    }

    /// The record's part, and the warning when decryption stopped.
    pub fn finish(self) -> (TlsDecryption, Option<WarningRecord>) {
        let warning = self.why.map(|why| WarningRecord {
            packet: self.failed_packet,
            message: format!(
                "TLS not decrypted{}: {why}; the exchanges are inferred from record sizes",
                self.failed_packet
                    .map(|p| format!(" from packet {p}"))
                    .unwrap_or_default()
            ),
        });
        (
            TlsDecryption {
                status: self.status,
                records: self.records,
                failed_packet: self.failed_packet,
            },
            warning,
        )
    }
}

/// The protocol an EncryptedExtensions message's ALPN extension names (RFC 8446
/// §4.3.1: extensions<0..2^16-1>; RFC 7301 §3.1: a list of one name).
fn alpn(body: &[u8]) -> Option<String> {
    let total = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    let mut rest = body.get(2..2 + total)?;
    while let [t0, t1, l0, l1, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        let data = tail.get(..len)?;
        if u16::from_be_bytes([*t0, *t1]) == EXTENSION_ALPN {
            let name_len = usize::from(*data.get(2)?);
            let name = data.get(3..3 + name_len)?;
            return Some(String::from_utf8_lossy(name).into_owned());
        }
        rest = tail.get(len..)?;
    }
    None
}

/// The first (leaf) certificate of a TLS 1.3 Certificate message (RFC 8446 §4.4.2:
/// request context<0..255>, then entries of cert_data<1..2^24-1> and extensions).
fn tls13_leaf(body: &[u8]) -> Option<&[u8]> {
    let context = usize::from(*body.first()?);
    let list = body.get(1 + context + 3..)?;
    let [a, b, c, rest @ ..] = list else {
        return None;
    };
    let len = u32::from_be_bytes([0, *a, *b, *c]) as usize;
    rest.get(..len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpn_from_encrypted_extensions() {
        // supported_groups (10) of 4 bytes, then ALPN "h2".
        let mut body = vec![0, 0];
        body.extend_from_slice(&[0, 10, 0, 4, 0, 2, 0, 29]);
        body.extend_from_slice(&[0, 16, 0, 5, 0, 3, 2, b'h', b'2']);
        let total = (body.len() - 2) as u16;
        body[..2].copy_from_slice(&total.to_be_bytes());
        assert_eq!(alpn(&body).as_deref(), Some("h2"));
        assert_eq!(alpn(&[0, 0]), None);
        // Lengths that run past the end are not trusted.
        assert_eq!(alpn(&[0, 9, 0, 16, 0, 200, 0]), None);
        assert_eq!(alpn(&[]), None);
    }

    #[test]
    fn leaf_of_a_tls13_certificate_message() {
        // Empty context, list of one entry holding 3 bytes, then its extensions.
        let body = [0, 0, 0, 8, 0, 0, 3, 0xaa, 0xbb, 0xcc, 0, 0];
        assert_eq!(tls13_leaf(&body), Some(&[0xaa, 0xbb, 0xcc][..]));
        assert_eq!(tls13_leaf(&[0, 0, 0, 8, 0, 0, 9, 1]), None);
        assert_eq!(tls13_leaf(&[5]), None);
    }
}
