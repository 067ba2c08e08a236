//! The record decryptor, given keys, under every kind of protection it supports: TLS 1.3
//! AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305 (with and without 0-RTT), TLS 1.2
//! AES-GCM and ChaCha20-Poly1305, and TLS 1.2 AES-CBC with HMAC-SHA1/256/384, with and
//! without encrypt-then-MAC.
//!
//! The secrets come from a fixed key log text, read by `KeyLog` as a user's would be.
//! The first input byte picks the suite, the direction, encrypt-then-MAC and 0-RTT;
//! the rest is a list of operations: an arbitrary record; a record sealed here with the
//! keys the decryptor says it expects next (RustCrypto, as a TLS sender would seal it),
//! with fuzzer-chosen content (up to past the size limits), inner content type,
//! padding and, sometimes, one flipped bit; a ChangeCipherSpec; or one of the decryptor's key moves. Sealed records reach
//! the code past authentication: the TLS 1.3 inner plaintext (type byte and padding),
//! the CBC padding and MAC, and the handshake scanner that switches keys on Finished,
//! KeyUpdate and EndOfEarlyData.
//!
//! Checked: no panic; a sealed record opens to exactly what was sealed, at the sequence
//! number and under the keys the decryptor announced; a flipped bit is an
//! authentication failure, after which the decryptor refuses everything; errors that
//! are not authentication failures leave its state alone; epochs only move forward.
#![no_main]

use std::sync::OnceLock;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockEncryptMut, KeyIvInit};
use chacha20poly1305::ChaCha20Poly1305;
use connscope::decrypt::keys::{self, CipherAlgorithm, MacAlgorithm, ProtocolVersion};
use connscope::decrypt::{
    CipherSuite, ClientRandom, ContentType, DecryptError, Direction, Epoch, KeyLog, Label,
    Negotiated, RecordDecryptor, SessionSecrets,
};
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;

/// One suite per kind of protection (and per CBC MAC and key size).
const SUITES: [CipherSuite; 11] = [
    CipherSuite::TLS_AES_128_GCM_SHA256,
    CipherSuite::TLS_AES_256_GCM_SHA384,
    CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
    CipherSuite::TLS_RSA_WITH_AES_256_CBC_SHA,
    CipherSuite::TLS_RSA_WITH_AES_128_CBC_SHA256,
    CipherSuite::TLS_RSA_WITH_AES_256_CBC_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384,
];

const TAG_LEN: usize = 16;
const MAX_CIPHERTEXT_TLS13: usize = (1 << 14) + 256;
const MAX_CIPHERTEXT_TLS12: usize = (1 << 14) + 2048;
/// Longest sealed content: enough to cross both limits above.
const MAX_CONTENT: usize = MAX_CIPHERTEXT_TLS12 + 64;

/// Client randoms of the fixed key log: TLS 1.3 with SHA-256 secrets, the same with an
/// early traffic secret, the two with SHA-384 secrets, and a TLS 1.2 master secret.
const R13: u8 = 0x13;
const R13_EARLY: u8 = 0x1e;
const R13_384: u8 = 0x38;
const R13_384_EARLY: u8 = 0x3e;
const R12: u8 = 0x12;

fn key_log() -> &'static KeyLog {
    static LOG: OnceLock<KeyLog> = OnceLock::new();
    LOG.get_or_init(|| {
        let mut text = String::from("# fixed secrets of the tls_decrypt fuzz target\n");
        let tls13 = [
            Label::ClientHandshakeTrafficSecret,
            Label::ServerHandshakeTrafficSecret,
            Label::ClientTrafficSecret0,
            Label::ServerTrafficSecret0,
            Label::ExporterSecret,
        ];
        let mut line = |label: Label, random: u8, len: usize| {
            let secret: String = (0..len)
                .map(|i| format!("{:02x}", (i as u8).wrapping_mul(31) ^ label as u8 ^ random))
                .collect();
            text.push_str(&format!("{label} {} {secret}\n", hex32(random)));
        };
        for (random, len, early) in [
            (R13, 32, false),
            (R13_EARLY, 32, true),
            (R13_384, 48, false),
            (R13_384_EARLY, 48, true),
        ] {
            for label in tls13 {
                line(label, random, len);
            }
            if early {
                line(Label::ClientEarlyTrafficSecret, random, len);
            }
        }
        line(Label::ClientRandom, R12, 48);
        let mut log = KeyLog::new();
        let summary = log.add_text(text.as_bytes());
        assert_eq!((summary.garbage, log.len()), (0, 5), "{summary:?}");
        log
    })
}

fn hex32(byte: u8) -> String {
    format!("{byte:02x}").repeat(32)
}

/// The input, read front to back; short reads give what is left.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.byte()?, self.byte()?]))
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
}

/// The sender's side: the same secrets, and the TLS 1.3 application secret after the
/// KeyUpdates seen so far.
struct Sealer {
    hello: Negotiated,
    secrets: SessionSecrets,
    direction: Direction,
    generation: u64,
    application: Option<connscope::decrypt::keylog::Secret>,
}

impl Sealer {
    fn secret(&self, label: Label) -> &[u8] {
        self.secrets.get(label).expect("logged").as_bytes()
    }

    /// The keys of `epoch`, as the sender derives them.
    fn key(&mut self, epoch: Epoch) -> Option<keys::TrafficKey> {
        let params = self.hello.suite.params()?;
        let client = self.direction == Direction::ClientToServer;
        match (params.version, epoch) {
            (ProtocolVersion::Tls13, Epoch::Early) => {
                keys::tls13_traffic_key(params, self.secret(Label::ClientEarlyTrafficSecret)).ok()
            }
            (ProtocolVersion::Tls13, Epoch::Handshake) => {
                let label = if client {
                    Label::ClientHandshakeTrafficSecret
                } else {
                    Label::ServerHandshakeTrafficSecret
                };
                keys::tls13_traffic_key(params, self.secret(label)).ok()
            }
            (ProtocolVersion::Tls13, Epoch::Application(n)) => {
                if self.application.is_none() || n < self.generation {
                    let label = if client {
                        Label::ClientTrafficSecret0
                    } else {
                        Label::ServerTrafficSecret0
                    };
                    self.application = self.secrets.get(label).copied();
                    self.generation = 0;
                }
                while self.generation < n {
                    let now = self.application?;
                    self.application = keys::tls13_next_secret(params.hash, now.as_bytes()).ok();
                    self.generation += 1;
                }
                keys::tls13_traffic_key(params, self.application?.as_bytes()).ok()
            }
            (ProtocolVersion::Tls12, Epoch::Application(0)) => {
                let keys = keys::tls12_keys(
                    params,
                    self.secret(Label::ClientRandom),
                    &self.hello.client_random.0,
                    &self.hello.server_random,
                )
                .ok()?;
                Some(if client {
                    keys.client_write
                } else {
                    keys.server_write
                })
            }
            _ => None,
        }
    }
}

fn xor_nonce(iv: [u8; 12], seq: u64) -> [u8; 12] {
    let mut nonce = iv;
    for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
        *n ^= s;
    }
    nonce
}

fn aead_seal(key: &keys::TrafficKey, nonce: &[u8; 12], aad: &[u8], buf: &mut Vec<u8>) {
    let nonce = nonce.into();
    let sealed = match key.cipher {
        CipherAlgorithm::Aes128Gcm => Aes128Gcm::new_from_slice(key.key())
            .expect("key")
            .encrypt_in_place(nonce, aad, buf),
        CipherAlgorithm::Aes256Gcm => Aes256Gcm::new_from_slice(key.key())
            .expect("key")
            .encrypt_in_place(nonce, aad, buf),
        CipherAlgorithm::ChaCha20Poly1305 => ChaCha20Poly1305::new_from_slice(key.key())
            .expect("key")
            .encrypt_in_place(nonce, aad, buf),
        CipherAlgorithm::Aes128Cbc(_) | CipherAlgorithm::Aes256Cbc(_) => unreachable!(),
    };
    sealed.expect("seal");
}

fn hmac(mac: MacAlgorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key).expect("hmac key");
        for part in parts {
            m.update(part);
        }
        m.finalize().into_bytes().to_vec()
    }
    match mac {
        MacAlgorithm::Sha1 => run::<Hmac<sha1::Sha1>>(key, parts),
        MacAlgorithm::Sha256 => run::<Hmac<sha2::Sha256>>(key, parts),
        MacAlgorithm::Sha384 => run::<Hmac<sha2::Sha384>>(key, parts),
    }
}

/// RFC 5246 §6.2.3: seq_num ‖ type ‖ version ‖ length.
fn tls12_header(seq: u64, content_type: u8, version: u16, len: usize) -> [u8; 13] {
    let mut h = [0u8; 13];
    h[..8].copy_from_slice(&seq.to_be_bytes());
    h[8] = content_type;
    h[9..11].copy_from_slice(&version.to_be_bytes());
    h[11..].copy_from_slice(&(len as u16).to_be_bytes());
    h
}

/// What a sealed record asks for.
struct Plain<'a> {
    /// TLS 1.3: the inner type; TLS 1.2: the record's type.
    content_type: u8,
    version: u16,
    content: &'a [u8],
    /// TLS 1.3 zero padding after the type byte; CBC: extra padding blocks.
    padding: u8,
}

/// Seals one record body as its sender would, under `key` at `seq`.
fn seal(key: &keys::TrafficKey, tls13: bool, etm: bool, seq: u64, p: &Plain) -> Vec<u8> {
    if tls13 {
        let mut buf = p.content.to_vec();
        buf.push(p.content_type);
        buf.resize(buf.len() + usize::from(p.padding), 0);
        let len = (buf.len() + TAG_LEN) as u16;
        let [v0, v1] = p.version.to_be_bytes();
        let [l0, l1] = len.to_be_bytes();
        aead_seal(
            key,
            &xor_nonce(key.iv, seq),
            &[23, v0, v1, l0, l1],
            &mut buf,
        );
        return buf;
    }
    let aad = tls12_header(seq, p.content_type, p.version, p.content.len());
    match key.cipher {
        CipherAlgorithm::ChaCha20Poly1305 => {
            let mut buf = p.content.to_vec();
            aead_seal(key, &xor_nonce(key.iv, seq), &aad, &mut buf);
            buf
        }
        CipherAlgorithm::Aes128Gcm | CipherAlgorithm::Aes256Gcm => {
            // RFC 5288 §3: the explicit nonce, here the sequence number as OpenSSL does.
            let mut nonce = key.iv;
            nonce[4..].copy_from_slice(&seq.to_be_bytes());
            let mut buf = p.content.to_vec();
            aead_seal(key, &nonce, &aad, &mut buf);
            let mut body = seq.to_be_bytes().to_vec();
            body.extend(buf);
            body
        }
        CipherAlgorithm::Aes128Cbc(mac) | CipherAlgorithm::Aes256Cbc(mac) => {
            let iv = [(seq as u8) ^ 0x5a; 16];
            let mut plain = p.content.to_vec();
            if !etm {
                plain.extend(hmac(mac, key.mac_key(), &[&aad, p.content]));
            }
            // padding_length + 1 bytes of padding_length, to a block boundary, plus as
            // many extra blocks as the fuzzer asks and 255 allows.
            let base = (16 - (plain.len() + 1) % 16) % 16;
            let extra = 16 * (usize::from(p.padding) % ((255 - base) / 16 + 1));
            let pad = base + extra;
            plain.resize(plain.len() + pad + 1, pad as u8);
            let len = plain.len();
            let encrypted = match key.cipher {
                CipherAlgorithm::Aes128Cbc(_) => {
                    cbc::Encryptor::<aes::Aes128>::new_from_slices(key.key(), &iv)
                        .expect("key")
                        .encrypt_padded_mut::<NoPadding>(&mut plain, len)
                        .expect("blocks")
                        .len()
                }
                _ => cbc::Encryptor::<aes::Aes256>::new_from_slices(key.key(), &iv)
                    .expect("key")
                    .encrypt_padded_mut::<NoPadding>(&mut plain, len)
                    .expect("blocks")
                    .len(),
            };
            assert_eq!(encrypted, len);
            let mut body = iv.to_vec();
            body.extend(plain);
            if etm {
                let header = tls12_header(seq, p.content_type, p.version, body.len());
                let tag = hmac(mac, key.mac_key(), &[&header, &body]);
                body.extend(tag);
            }
            body
        }
    }
}

/// Epochs in the order a direction goes through them.
fn rank(epoch: Epoch) -> u128 {
    match epoch {
        Epoch::Plaintext => 0,
        Epoch::Early => 1,
        Epoch::Handshake => 2,
        Epoch::Application(n) => 3 + u128::from(n),
    }
}

struct Run {
    hello: Negotiated,
    secrets: SessionSecrets,
    direction: Direction,
    dec: RecordDecryptor,
    sealer: Sealer,
    tls13: bool,
    cbc: bool,
    /// Fresh decryptors started after authentication failures.
    restarts: u64,
}

impl Run {
    fn new(hello: Negotiated, secrets: SessionSecrets, direction: Direction) -> Run {
        let dec = RecordDecryptor::new(&hello, &secrets, direction).expect("decryptor");
        let params = hello.suite.params().expect("supported");
        Run {
            hello,
            secrets,
            direction,
            dec,
            sealer: Sealer {
                hello,
                secrets,
                direction,
                generation: 0,
                application: None,
            },
            tls13: params.version == ProtocolVersion::Tls13,
            cbc: params.cipher.mac().is_some(),
            restarts: 0,
        }
    }

    fn max_body(&self) -> usize {
        if self.tls13 {
            MAX_CIPHERTEXT_TLS13
        } else {
            MAX_CIPHERTEXT_TLS12
        }
    }

    /// After an authentication failure the decryptor refuses everything; the run goes
    /// on with a fresh one.
    fn failed(&mut self) {
        assert_eq!(
            self.dec.decrypt(ContentType::APPLICATION_DATA, 0x0303, &[]),
            Err(DecryptError::AlreadyFailed)
        );
        assert_eq!(self.dec.epoch(), Epoch::Plaintext);
        let restarts = self.restarts + 1;
        *self = Run::new(self.hello, self.secrets, self.direction);
        self.restarts = restarts;
    }

    fn raw(&mut self, content_type: u8, version: u16, body: &[u8]) {
        let (epoch, seq) = (self.dec.epoch(), self.dec.next_seq());
        let protected = if self.tls13 {
            content_type == 23
        } else {
            epoch != Epoch::Plaintext
        };
        let result = self.dec.decrypt(ContentType(content_type), version, body);
        match result {
            Ok(r) if r.seq.is_none() => {
                assert!(!protected, "a protected record passed as plaintext");
                assert_eq!((r.content_type.0, r.data), (content_type, body));
                assert_eq!(r.epoch, Epoch::Plaintext);
            }
            // A forged tag: never in practice, but then it must look like a record.
            Ok(r) => assert_eq!(r.seq, Some(seq)),
            Err(DecryptError::AuthenticationFailed { .. }) => self.failed(),
            Err(
                DecryptError::RecordTooShort { .. }
                | DecryptError::RecordTooLong { .. }
                | DecryptError::ImplicitIv,
            ) => {
                assert_eq!((self.dec.epoch(), self.dec.next_seq()), (epoch, seq));
            }
            Err(e) => panic!("unexpected error {e:?} for an arbitrary record"),
        }
    }

    fn sealed(&mut self, p: &Plain, flip: Option<u16>, reject_early: bool) {
        let mut epoch = self.dec.epoch();
        let mut seq = self.dec.next_seq();
        // A server that rejected 0-RTT reads the client's next records under the
        // handshake keys; the decryptor must find that out itself.
        if reject_early && epoch == Epoch::Early {
            epoch = Epoch::Handshake;
            seq = 0;
        }
        let Some(key) = self.sealer.key(epoch) else {
            // TLS 1.2 before ChangeCipherSpec: records are plaintext.
            return self.raw(p.content_type, p.version, p.content);
        };
        let etm = self.hello.encrypt_then_mac;
        let mut body = seal(&key, self.tls13, etm, seq, p);
        let outer_type = if self.tls13 { 23 } else { p.content_type };
        let mut version = p.version;
        if let Some(at) = flip {
            let bit = usize::from(at) % ((body.len() + 2) * 8);
            match body.get_mut(bit / 8) {
                Some(byte) => *byte ^= 1 << (bit % 8),
                None => version ^= 1 << (bit % 16),
            }
        }
        let max = self.max_body();
        let result = self.dec.decrypt(ContentType(outer_type), version, &body);
        if body.len() > max {
            assert_eq!(result, Err(DecryptError::RecordTooLong { len: body.len() }));
            return;
        }
        if self.cbc && version < 0x0302 {
            assert_eq!(result, Err(DecryptError::ImplicitIv));
            return;
        }
        if flip.is_some() {
            assert!(
                matches!(result, Err(DecryptError::AuthenticationFailed { .. })),
                "altered record gave {result:?}"
            );
            return self.failed();
        }
        let (want_type, want_data) = if self.tls13 {
            // RFC 8446 §5.4: the last non-zero byte of the inner plaintext is the type.
            let mut inner = p.content.to_vec();
            inner.push(p.content_type);
            let Some(at) = inner.iter().rposition(|&b| b != 0) else {
                assert_eq!(result, Err(DecryptError::NoContentType));
                assert_eq!((self.dec.epoch(), self.dec.next_seq()), (epoch, seq + 1));
                return;
            };
            let ty = inner[at];
            inner.truncate(at);
            (ty, inner)
        } else {
            (p.content_type, p.content.to_vec())
        };
        let r = result.unwrap_or_else(|e| panic!("sealed record under {epoch:?} failed: {e:?}"));
        assert_eq!(
            (r.content_type.0, r.data, r.epoch, r.seq),
            (want_type, want_data.as_slice(), epoch, Some(seq))
        );
        let now = self.dec.epoch();
        if now == epoch {
            assert_eq!(self.dec.next_seq(), seq + 1);
        } else {
            // Only a handshake message (Finished, KeyUpdate, EndOfEarlyData) moves keys.
            assert!(self.tls13 && want_type == 22, "{epoch:?} -> {now:?}");
            assert_eq!(self.dec.next_seq(), 0);
        }
    }

    fn control(&mut self, which: u8) {
        let before = self.dec.epoch();
        let result = match which % 3 {
            0 => self.dec.switch_to_application(),
            1 => self.dec.end_early_data(),
            _ => self.dec.key_update(),
        };
        assert_eq!(result, Ok(()));
        let after = self.dec.epoch();
        let expected = match (self.tls13, which % 3, before) {
            (true, 0, Epoch::Early | Epoch::Handshake) => Epoch::Application(0),
            (true, 1, Epoch::Early) => Epoch::Handshake,
            (true, 2, Epoch::Application(n)) => Epoch::Application(n + 1),
            _ => before,
        };
        assert_eq!(after, expected);
        if after != before {
            assert_eq!(self.dec.next_seq(), 0);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let Some(setup) = input.byte() else {
        return;
    };
    let suite = SUITES[usize::from(setup & 0x0f) % SUITES.len()];
    let params = suite.params().expect("supported suite");
    let direction = if setup & 0x10 == 0 {
        Direction::ClientToServer
    } else {
        Direction::ServerToClient
    };
    let early = setup & 0x40 != 0;
    let random = match (params.version, params.hash.output_len(), early) {
        (ProtocolVersion::Tls12, _, _) => R12,
        (_, 32, false) => R13,
        (_, 32, true) => R13_EARLY,
        (_, _, false) => R13_384,
        (_, _, true) => R13_384_EARLY,
    };
    let client_random = ClientRandom([random; 32]);
    let secrets = *key_log().get(&client_random).expect("logged random");
    let hello = Negotiated {
        client_random,
        server_random: [0x99; 32],
        suite,
        encrypt_then_mac: setup & 0x20 != 0,
    };
    let mut run = Run::new(hello, secrets, direction);
    while let Some(op) = input.byte() {
        let (before, restarts) = (rank(run.dec.epoch()), run.restarts);
        match op & 3 {
            0 => {
                let (Some(t), Some(v), Some(len)) = (input.byte(), input.u16(), input.u16()) else {
                    break;
                };
                let body = input.bytes(usize::from(len));
                run.raw(t, v, body);
            }
            1 => {
                let (Some(t), Some(len), Some(padding)) = (input.byte(), input.u16(), input.byte())
                else {
                    break;
                };
                let flip = if op & 0x04 != 0 { input.u16() } else { None };
                let version = [0x0303, 0x0302, 0x0301, 0x0303][usize::from(op >> 4 & 3)];
                let len = usize::from(len).min(MAX_CONTENT);
                // Bit 6: a count byte, then that many bytes repeated to the length asked,
                // so records at and past the size limits cost the fuzzer a few bytes.
                let stretched: Vec<u8>;
                let content = if op & 0x40 != 0 {
                    let count = input.byte().unwrap_or(0);
                    let given = input.bytes(usize::from(count));
                    stretched = given.iter().copied().cycle().take(len).collect();
                    &stretched
                } else {
                    input.bytes(len)
                };
                let plain = Plain {
                    content_type: t,
                    version,
                    content,
                    padding,
                };
                run.sealed(&plain, flip, op & 0x08 != 0);
            }
            2 => run.control(op >> 2),
            _ => run.raw(20, 0x0303, &[1]),
        }
        // Keys only advance, unless a failure started a fresh decryptor.
        let now = rank(run.dec.epoch());
        assert!(
            now >= before || run.restarts > restarts,
            "epoch went back: {before} -> {now}"
        );
    }
});
