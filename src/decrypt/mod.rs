//! TLS decryption from key logs: the NSS key log format (and the pcapng Decryption
//! Secrets Block that carries it), the key derivations of TLS 1.2 (RFC 5246 §6.3) and
//! TLS 1.3 (RFC 8446 §7), and per-direction record decryption: TLS 1.3 (RFC 8446 §5)
//! with AES-GCM and ChaCha20-Poly1305, including 0-RTT and KeyUpdate; TLS 1.1/1.2 with
//! AES-GCM (RFC 5288), ChaCha20-Poly1305 (RFC 7905) and AES-CBC + HMAC (RFC 5246
//! §6.2.3.2, RFC 7366 encrypt-then-MAC); TLS 1.2 session resumption.
//!
//! Not for: TCP reassembly, record framing in a byte stream, or reading the hellos;
//! the TLS analyzer does those and hands this module what the hellos settled
//! ([`Negotiated`]) and then each record in order. Nothing here allocates per record
//! in the steady state (one reused buffer per direction) or panics on any input.
//!
//! Use: parse key logs (files, or pcapng Decryption Secrets Blocks) into one
//! [`KeyLog`]; when a connection's ServerHello is seen, look its ClientHello random up
//! and build one [`RecordDecryptor`] per direction; feed it every record of that
//! direction from the first one (the hellos pass through as plaintext); application
//! data comes back as [`Record`]s with content type 23, alerts and handshake messages
//! with theirs. A resumed TLS 1.2 session has no key log line of its own: its master
//! secret comes from the [`ResumptionCache`] that the full handshake which created the
//! session filled.

mod cipher;
#[cfg(test)]
mod fixture_tests;
pub mod input;
pub mod keylog;
pub mod keys;
pub mod record;
pub mod resume;
#[cfg(test)]
mod rfc8448;

pub use input::{InputKeys, SharedKeys};
pub use keylog::{ClientRandom, KeyLog, Label, ParseSummary, SessionSecrets};
pub use keys::CipherSuite;
pub use record::{
    ContentType, DecryptError, Direction, Epoch, Negotiated, Record, RecordDecryptor,
};
pub use resume::ResumptionCache;
