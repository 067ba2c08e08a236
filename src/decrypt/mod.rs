//! TLS decryption from key logs: the NSS key log format (and the pcapng Decryption
//! Secrets Block that carries it), the key derivations of TLS 1.2 (RFC 5246 §6.3 with
//! RFC 5288 / RFC 7905 AEAD suites) and TLS 1.3 (RFC 8446 §7), and per-direction record
//! decryption (RFC 8446 §5, RFC 5246 §6.2.3.3).
//!
//! Not for: TCP reassembly, record framing in a byte stream, or reading the hellos;
//! the TLS analyzer does those and hands this module a connection's client random,
//! server random and cipher suite ([`Negotiated`]) and then each record in order.
//!
//! Use: parse key logs into one [`KeyLog`]; when a connection's ServerHello is seen,
//! look its client random up and build one [`RecordDecryptor`] per direction; feed it
//! every record of that direction; application data comes back as
//! [`Record`]s with content type 23. A resumed TLS 1.2 session has no key log line of
//! its own: its master secret comes from the [`ResumptionCache`] filled by the full
//! handshake that created the session.

#[cfg(test)]
mod fixture_tests;
pub mod keylog;
pub mod keys;
pub mod record;
pub mod resume;
#[cfg(test)]
mod rfc8448;

pub use keylog::{ClientRandom, KeyLog, Label, ParseSummary, SessionSecrets};
pub use keys::CipherSuite;
pub use record::{
    ContentType, DecryptError, Direction, Epoch, Negotiated, Record, RecordDecryptor,
};
pub use resume::ResumptionCache;
