//! Protocol detection by content, never by port: what the first bytes a direction
//! delivers say the connection carries, and whether they could only have come from
//! the other side (which shows that roles guessed from ports were backwards).
//!
//! - A TLS handshake record (`16 03 0x`): TLS. A ClientHello from the side taken for
//!   the server, or a ServerHello from the other, is from the other side.
//! - The HTTP/2 connection preface (RFC 9113 §3.4): HTTP/2 with prior knowledge. A
//!   server may send its own preface, a SETTINGS frame, before the client's arrives
//!   (nghttpd does): a SETTINGS frame from the server side is HTTP/2 too, so its
//!   bytes reach the HTTP/2 analyzer rather than being lost to detection.
//! - TLS records of any type with no handshake: TLS joined mid-stream.
//! - An HTTP/1 request line from the client, or a status line from the server: HTTP.
//!   The reverse (a request from the "server") is from the other side, once long
//!   enough (`HTTP/1.1`) that a byte or two cannot begin either.
//!
//! Not for: deciding what to do about roles (the caller knows whether a SYN fixed
//! them), or anything after the first recognised message.

use super::http::{looks_like_request, looks_like_response};
use super::tls::{self, looks_like_tls, looks_like_tls_records};
use crate::flow::key::Direction;

/// A message start must be at least this long (`HTTP/1.1`) to say it came from the
/// other side: a byte or two (`P`, `HT`) could begin either a request or a response.
const MIN_REVERSING_BYTES: usize = 8;

/// What one chunk of a direction's first bytes shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detected {
    /// A TLS handshake record. `other_side`: a hello only the other side sends.
    Tls { other_side: bool },
    /// The HTTP/2 connection preface (not an HTTP/1 request line `PRI *`).
    Http2,
    /// TLS records but no handshake: the capture began after it.
    TlsMidStream,
    /// An HTTP/1 message start. `other_side`: a request from the side taken for the
    /// server, or a response from the side taken for the client.
    Http { other_side: bool },
    /// Nothing recognisable (yet).
    Nothing,
}

/// The HTTP/2 connection preface a client sends first (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Whether `bytes` begin with the HTTP/2 connection preface (or, cut short, with at
/// least its `PRI * HTTP/2` line start).
fn looks_like_h2_preface(bytes: &[u8]) -> bool {
    let n = bytes.len().min(H2_PREFACE.len());
    n >= "PRI * HTTP/2".len() && bytes.get(..n) == H2_PREFACE.get(..n)
}

/// The most parameters a server's first SETTINGS is believed to carry: RFC 9113
/// defines six, extensions a few more; the bound keeps other protocols' bytes out.
const MAX_PREFACE_SETTINGS: u32 = 16;

/// Whether `bytes` begin with a plausible server connection preface: a SETTINGS frame
/// header (RFC 9113 §3.4, §6.5) without ACK on stream 0, of whole parameters.
fn looks_like_h2_server_preface(bytes: &[u8]) -> bool {
    let Some(&[l0, l1, l2, kind, flags, s0, s1, s2, s3]) = bytes.get(..9) else {
        return false;
    };
    let len = u32::from_be_bytes([0, l0, l1, l2]);
    kind == 0x4
        && flags == 0
        && [s0, s1, s2, s3] == [0; 4]
        && len % 6 == 0
        && len <= 6 * MAX_PREFACE_SETTINGS
}

/// What `bytes`, the start of a chunk sent by the side taken for `dir`, show.
pub fn detect(dir: Direction, bytes: &[u8]) -> Detected {
    if looks_like_tls(bytes) {
        let other_side = matches!(
            (dir, tls::handshake_type(bytes)),
            (Direction::Server, Some(tls::CLIENT_HELLO))
                | (Direction::Client, Some(tls::SERVER_HELLO))
        );
        return Detected::Tls { other_side };
    }
    if looks_like_h2_preface(bytes)
        || (dir == Direction::Server && looks_like_h2_server_preface(bytes))
    {
        return Detected::Http2;
    }
    if looks_like_tls_records(bytes) {
        return Detected::TlsMidStream;
    }
    let (own, others) = match dir {
        Direction::Client => (looks_like_request(bytes), looks_like_response(bytes)),
        Direction::Server => (looks_like_response(bytes), looks_like_request(bytes)),
    };
    if own {
        Detected::Http { other_side: false }
    } else if others && bytes.len() >= MIN_REVERSING_BYTES {
        Detected::Http { other_side: true }
    } else {
        Detected::Nothing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{Client, Server};

    /// A TLS 1.2 handshake record holding the start of a hello of `kind`.
    fn hello(kind: u8) -> Vec<u8> {
        let mut r = vec![22, 3, 1, 0, 40, kind, 0, 0, 36, 3, 3];
        r.extend_from_slice(&[7; 32]);
        r
    }

    #[test]
    fn request_and_status_lines_are_http_from_their_own_side() {
        let get = b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n";
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(detect(Client, get), Detected::Http { other_side: false });
        assert_eq!(detect(Server, ok), Detected::Http { other_side: false });
        assert_eq!(detect(Server, get), Detected::Http { other_side: true });
        assert_eq!(detect(Client, ok), Detected::Http { other_side: true });
    }

    #[test]
    fn a_short_start_never_says_it_came_from_the_other_side() {
        // `HT` could begin a status line or nothing at all: too short to swap roles.
        assert_eq!(detect(Client, b"HT"), Detected::Nothing);
        assert_eq!(
            detect(Server, b"HTTP/1.1"),
            Detected::Http { other_side: false }
        );
        assert_eq!(
            detect(Client, b"HTTP/1.1"),
            Detected::Http { other_side: true }
        );
        assert_eq!(detect(Client, b"HTTP/1."), Detected::Nothing);
    }

    #[test]
    fn hellos_say_which_side_sent_them() {
        assert_eq!(
            detect(Client, &hello(1)),
            Detected::Tls { other_side: false }
        );
        assert_eq!(
            detect(Server, &hello(2)),
            Detected::Tls { other_side: false }
        );
        assert_eq!(
            detect(Server, &hello(1)),
            Detected::Tls { other_side: true }
        );
        assert_eq!(
            detect(Client, &hello(2)),
            Detected::Tls { other_side: true }
        );
        // A handshake record cut before its message type still reads as TLS.
        assert_eq!(
            detect(Server, &[22, 3, 3]),
            Detected::Tls { other_side: false }
        );
    }

    #[test]
    fn h2_preface_is_http2_not_an_http1_request() {
        assert_eq!(
            detect(Client, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0"),
            Detected::Http2
        );
        assert_eq!(detect(Client, b"PRI * HTTP/2"), Detected::Http2);
    }

    #[test]
    fn a_server_settings_frame_first_is_http2() {
        // nghttpd's SETTINGS (MAX_CONCURRENT_STREAMS 100), sent before the client's
        // preface arrived: fixtures/h2c-nghttpd.pcap packet 44.
        let settings = b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64";
        assert_eq!(detect(Server, settings), Detected::Http2);
        // An empty SETTINGS is a preface too.
        assert_eq!(detect(Server, &settings[..9]), Detected::Http2);
        // Only the server's preface is a bare SETTINGS frame; the client's starts `PRI`.
        assert_eq!(detect(Client, settings), Detected::Nothing);
        // A SETTINGS ACK, a frame on a stream, or a partial parameter is not a preface.
        assert_eq!(
            detect(Server, b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"),
            Detected::Nothing
        );
        assert_eq!(
            detect(Server, b"\x00\x00\x06\x04\x00\x00\x00\x00\x01"),
            Detected::Nothing
        );
        assert_eq!(
            detect(Server, b"\x00\x00\x05\x04\x00\x00\x00\x00\x00"),
            Detected::Nothing
        );
        assert_eq!(
            detect(Server, b"\x00\x00\x06\x04\x00\x00\x00"),
            Detected::Nothing
        );
    }

    #[test]
    fn application_data_records_mid_stream_are_tls() {
        let mut records = vec![23, 3, 3, 0, 4, 1, 2, 3, 4];
        records.extend_from_slice(&[23, 3, 3, 0, 1, 9]);
        assert_eq!(detect(Server, &records), Detected::TlsMidStream);
    }

    #[test]
    fn other_bytes_are_nothing() {
        assert_eq!(
            detect(Client, b"SSH-2.0-OpenSSH_9.6\r\n"),
            Detected::Nothing
        );
        assert_eq!(
            detect(Server, b"220 smtp.example ESMTP\r\n"),
            Detected::Nothing
        );
        assert_eq!(detect(Client, &[0xff; 64]), Detected::Nothing);
        assert_eq!(detect(Client, b""), Detected::Nothing);
    }
}
