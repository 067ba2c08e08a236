//! Exchange inference on a TLS connection that may speak HTTP/2: what the sizes of
//! encrypted records say about the frames inside them, so that inference without keys
//! can tell a request from HTTP/2's own chatter (RFC 9113 §6).
//!
//! Under HTTP/2 sizes alone cannot separate the two: a Go or curl request whose
//! headers are all in the HPACK dynamic table is 15–20 bytes, less than the 64 that
//! separates chatter from an HTTP/1.1 request, and a small response is not much
//! larger. But the control frames a peer sends without being asked have fixed
//! lengths — SETTINGS ACK 9, WINDOW_UPDATE and RST_STREAM 13, PING and a bare GOAWAY
//! 17 — and every AEAD cipher h2 may use (RFC 9113 Appendix A prohibits the rest)
//! adds a known overhead per record, so a record's plaintext length is known exactly
//! unless the sender pads (TLS 1.3 allows it; the common stacks do not).

use super::{new_exchange, Origin, TlsAnalyzer};

/// The HTTP/2 client connection preface (24 bytes), a SETTINGS frame with up to eight
/// parameters and one WINDOW_UPDATE: the most the client's first record holds when it
/// carries no request yet (Go and curl send 64, Chrome 70–76, Python's h2 69).
const PREFACE_MAX: u64 = 24 + 9 + 6 * 8 + 13;
/// SETTINGS with ACK: the frame that says the peer speaks HTTP/2, since no HTTP/1.1
/// message is 9 bytes.
const SETTINGS_ACK: u64 = 9;
/// A client sends WINDOW_UPDATEs only once it has received this much DATA (Go's
/// smallest stream refresh); before that, a record the size of two of them is a
/// request.
const WINDOW_UPDATE_AFTER: u64 = 4096;

/// Bytes a record adds to its plaintext: `Some` for the AEAD suites (TLS 1.3: the
/// 16-byte tag and the inner content type; TLS 1.2 GCM and CCM: the 8-byte explicit
/// nonce and the tag; ChaCha20-Poly1305 and CCM_8: 16), `None` where it varies (CBC
/// padding and MAC) or the suite is unknown.
fn record_overhead(cipher: Option<&str>, tls13: bool) -> Option<u64> {
    if tls13 {
        return Some(17);
    }
    let cipher = cipher?;
    if cipher.contains("CHACHA20_POLY1305") || cipher.ends_with("_CCM_8") {
        Some(16)
    } else if cipher.contains("_GCM_") || cipher.ends_with("_CCM") {
        Some(24)
    } else {
        None
    }
}

/// Whether a record of `plaintext` bytes is HTTP/2 (or TLS) housekeeping rather than
/// part of a request or a response: a TLS 1.3 alert (2) or KeyUpdate (5), a SETTINGS
/// ACK, a WINDOW_UPDATE or RST_STREAM, a PING or its ACK, a bare GOAWAY; two
/// WINDOW_UPDATEs (stream and connection, as Go, Chrome and Python's h2 send them)
/// when enough DATA came to call for them (`received`: plaintext bytes the server sent
/// since the client's last request or WINDOW_UPDATE); and from the server the
/// SETTINGS ACK and WINDOW_UPDATE it sends together.
fn is_control(plaintext: u64, from_client: bool, received: u64) -> bool {
    match plaintext {
        2 | 5 | SETTINGS_ACK | 13 | 17 => true,
        26 => !from_client || received >= WINDOW_UPDATE_AFTER,
        22 => !from_client,
        _ => false,
    }
}

/// Whether a control record is one or two WINDOW_UPDATEs: the client has acknowledged
/// the DATA it received so far.
fn is_window_update(plaintext: u64) -> bool {
    plaintext == 13 || plaintext == 26
}

/// Inference state of a connection that may speak HTTP/2.
#[derive(Debug, Default)]
pub(super) struct H2Bursts {
    /// Decided at the first application-data record: `Some(overhead)` when HTTP/2 may
    /// be in use and the cipher's overhead is known, so these rules apply.
    pub(super) rules: Option<Option<u64>>,
    /// The client's first application-data record (the connection preface) went by.
    pub(super) preface_seen: bool,
    /// The client acknowledged SETTINGS: HTTP/2 is in use.
    pub(super) confirmed: bool,
    /// The exchange in progress carries a request, not only the preface.
    pub(super) request: bool,
    /// The server answered the exchange in progress with more than control frames.
    pub(super) answered: bool,
    /// Plaintext bytes from the server since the client's last request or
    /// WINDOW_UPDATE.
    pub(super) received: u64,
    /// The first exchange is the preface alone; it is dropped at the end once HTTP/2
    /// is known to be in use (with HTTP/1.1 it is the first request).
    pub(super) preface_exchange: bool,
}

impl TlsAnalyzer {
    /// The record overhead when HTTP/2 may be in use and it is known, so records are
    /// judged by their plaintext length; decided at the first application data, once
    /// the hellos have said what they will.
    pub(super) fn h2_overhead(&mut self) -> Option<u64> {
        *self.h2.rules.get_or_insert_with(|| {
            let offered = self.info.alpn_offered.iter().any(|p| p == "h2");
            let h2 = match self.info.alpn.as_deref() {
                Some(alpn) => alpn == "h2",
                None => self.tls13 && offered,
            };
            if h2 && !self.mid_stream {
                record_overhead(self.info.cipher.as_deref(), self.tls13)
            } else {
                None
            }
        })
    }

    /// A client record where HTTP/2 may be in use: control frames are chatter; any
    /// other record is (part of) a request, or the connection preface when it is the
    /// first and holds no more than a preface. A request record starts a new exchange
    /// once the server has answered the one in progress.
    pub(super) fn h2_client_record(
        &mut self,
        len: u64,
        plaintext: u64,
        start: Origin,
        end: Origin,
    ) {
        let preface = !self.h2.preface_seen;
        self.h2.preface_seen = true;
        if plaintext == SETTINGS_ACK {
            self.h2.confirmed = true;
        }
        let control = !preface && is_control(plaintext, true, self.h2.received);
        if !control || is_window_update(plaintext) {
            // DATA the client has now acknowledged, or answered with a request.
            self.h2.received = 0;
        }
        if control {
            // Counted, but it neither starts nor stretches an exchange: a PING after a
            // long idle must not move the exchange's end.
            if let Some(x) = self.tentative.as_mut().or(self.info.exchanges.last_mut()) {
                x.client_bytes += len;
            }
            return;
        }
        let request = !(preface && plaintext <= PREFACE_MAX);
        match &mut self.tentative {
            Some(t) if !self.h2.answered => {
                t.client_bytes += len;
                t.end = end.ts;
                t.end_packet = end.packet;
                self.h2.request |= request;
            }
            _ => {
                self.settle();
                self.tentative = Some(new_exchange(len, start, end));
                self.h2.request = request;
                self.h2.answered = false;
            }
        }
    }

    /// A server record where HTTP/2 may be in use: control frames are counted into the
    /// exchange without answering it or stretching it.
    pub(super) fn h2_server_record(
        &mut self,
        len: u64,
        plaintext: u64,
        start: Origin,
        end: Origin,
    ) {
        let in_progress = self.tentative.is_some();
        let Some(x) = self.tentative.as_mut().or(self.info.exchanges.last_mut()) else {
            return;
        };
        x.server_bytes += len;
        self.h2.received += plaintext;
        if is_control(plaintext, false, 0) {
            return;
        }
        x.server_packet.get_or_insert(start.packet);
        x.end = end.ts;
        x.end_packet = end.packet;
        self.h2.answered |= in_progress;
    }

    /// Drops a first exchange that was the HTTP/2 connection preface alone, once the
    /// client's SETTINGS ACK (or ALPN) showed HTTP/2 in use; the exchanges after it
    /// move up one.
    pub(super) fn drop_h2_preface(&mut self) {
        let h2 = self.h2.confirmed || self.info.alpn.as_deref() == Some("h2");
        if !(self.h2.preface_exchange && h2) || self.info.exchanges.is_empty() {
            return;
        }
        self.info.exchanges.remove(0);
        for x in &mut self.info.exchanges {
            x.index -= 1;
        }
        if let Some(first) = self.info.exchanges.first_mut() {
            first.idle_before_s = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overhead_per_suite() {
        assert_eq!(record_overhead(None, true), Some(17));
        let gcm = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256";
        assert_eq!(record_overhead(Some(gcm), false), Some(24));
        let chacha = "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256";
        assert_eq!(record_overhead(Some(chacha), false), Some(16));
        assert_eq!(
            record_overhead(Some("TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8"), false),
            Some(16)
        );
        let cbc = "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256";
        assert_eq!(record_overhead(Some(cbc), false), None);
        assert_eq!(record_overhead(None, false), None);
    }

    #[test]
    fn control_sizes_and_the_smallest_requests() {
        // Go's second GET with every header but :path indexed is 19 bytes; curl's
        // repeat of the same URL 15: requests, although under 64.
        for request in [15, 18, 19, 21, 22, 33] {
            assert!(!is_control(request, true, 0), "{request}");
        }
        for control in [2, 5, 9, 13, 17] {
            assert!(is_control(control, true, 0), "{control}");
            assert!(is_control(control, false, 0), "{control}");
        }
        // Two WINDOW_UPDATEs only after enough DATA to call for them.
        assert!(!is_control(26, true, 1000));
        assert!(is_control(26, true, 64 * 1024));
        assert!(
            is_control(22, false, 0),
            "server SETTINGS ACK + WINDOW_UPDATE"
        );
    }
}
