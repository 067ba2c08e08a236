//! Zeek's view of a TCP connection, reproduced so users can read connscope's rows the
//! way they read `conn.log`: the per-endpoint state machine, the `history` string and
//! the `conn_state` code, with the definitions of Zeek's `base/protocols/conn` and the
//! decisions of its `TCPSessionAdapter` (orig = client, resp = server).
//!
//! Not for Wireshark-style analysis (keep-alive, retransmission flags): that is `tcp`.

use super::key::Direction;
use super::seq::SeqNumber;
use crate::decode::TcpFlags;

/// Zeek's `TCP_ENDPOINT_*` states.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EndpointState {
    #[default]
    Inactive,
    SynSent,
    SynAckSent,
    Partial,
    Established,
    Closed,
    Reset,
}

/// One endpoint as Zeek tracks it.
#[derive(Clone, Copy, Debug, Default)]
pub struct ZeekEndpoint {
    pub state: EndpointState,
    prev_state: EndpointState,
    start_seq: Option<SeqNumber>,
    last_seq: SeqNumber,
    /// Payload bytes sent (Zeek's `size` is zero exactly when this is).
    pub bytes: u64,
    last_syn: Option<SeqNumber>,
    last_fin: Option<SeqNumber>,
    last_rst: Option<SeqNumber>,
    rxmit: Scaled,
    zero_window: Scaled,
}

impl ZeekEndpoint {
    fn set_state(&mut self, state: EndpointState) {
        self.prev_state = self.state;
        self.state = state;
    }
}

/// A letter written at the 1st, 10th, 100th … occurrence (Zeek's ScaledHistoryEntry).
#[derive(Clone, Copy, Debug)]
struct Scaled {
    count: u64,
    threshold: u64,
}

impl Default for Scaled {
    fn default() -> Self {
        Scaled {
            count: 0,
            threshold: 1,
        }
    }
}

impl Scaled {
    fn hit(&mut self) -> bool {
        self.count += 1;
        if self.count == self.threshold {
            self.threshold = self.threshold.saturating_mul(10);
            true
        } else {
            false
        }
    }
}

/// Letters that appear once per side (`a d i q`) or repeat only on a new sequence
/// number (`s h f r`) share these "seen" bits, one set per side.
const SEEN_SYN: u8 = 1;
const SEEN_FIN: u8 = 2;
const SEEN_RST: u8 = 4;
const SEEN_ACK: u8 = 8;
const SEEN_DATA: u8 = 16;
const SEEN_FIN_RST: u8 = 32;
const SEEN_MULTI: u8 = 64;

/// Zeek's whole-connection state: both endpoints plus the history string.
#[derive(Clone, Debug, Default)]
pub struct ZeekConn {
    pub client: ZeekEndpoint,
    pub server: ZeekEndpoint,
    history: String,
    seen: [u8; 2],
}

/// Zeek's 1 MB bound beyond which a SYN/RST sequence jump is not trusted.
const TOO_LARGE_SEQ_DELTA: i32 = 1_048_576;

impl ZeekConn {
    /// A connection whose first packet came from the server gets `^` first.
    pub fn new(flipped: bool) -> Self {
        let mut conn = ZeekConn::default();
        if flipped {
            conn.history.push('^');
        }
        conn
    }

    pub fn history(&self) -> &str {
        &self.history
    }

    /// The roles were backwards (the payload said so): orig and resp trade places, as
    /// in Zeek's `Connection::FlipRoles`. The history is rewritten as if the roles had
    /// been known from the start: letters change case, and the leading `^` (the first
    /// packet came from the responder) is set or cleared to match.
    pub fn flip_roles(&mut self) {
        std::mem::swap(&mut self.client, &mut self.server);
        self.seen.swap(0, 1);
        let was_flipped = self.history.starts_with('^');
        let letters: String = self
            .history
            .chars()
            .filter(|&c| c != '^')
            .map(|c| {
                if c.is_ascii_uppercase() {
                    c.to_ascii_lowercase()
                } else {
                    c.to_ascii_uppercase()
                }
            })
            .collect();
        self.history.clear();
        if !was_flipped {
            self.history.push('^');
        }
        self.history.push_str(&letters);
    }

    fn add_letter(&mut self, dir: Direction, letter: char) {
        self.history.push(match dir {
            Direction::Client => letter.to_ascii_uppercase(),
            Direction::Server => letter,
        });
    }

    /// Adds `letter` the first time `bit` is seen on this side; returns whether it had
    /// been seen before.
    fn check(&mut self, dir: Direction, bit: u8, letter: char) -> bool {
        let seen = &mut self.seen[dir.index()];
        if *seen & bit == 0 {
            *seen |= bit;
            self.add_letter(dir, letter);
            false
        } else {
            true
        }
    }

    fn endpoints(&mut self, dir: Direction) -> (&mut ZeekEndpoint, &mut ZeekEndpoint) {
        match dir {
            Direction::Client => (&mut self.client, &mut self.server),
            Direction::Server => (&mut self.server, &mut self.client),
        }
    }

    /// Feeds one segment, as `TCPSessionAdapter::Process` does.
    pub fn on_segment(&mut self, dir: Direction, flags: TcpFlags, seq: u32, window: u16, len: u32) {
        let seq = SeqNumber(seq);
        // Sequence space the segment occupies: SYN and FIN count one each; an RST's
        // payload is not part of the stream.
        let seg_len = if flags.rst() {
            u32::from(flags.syn()) + u32::from(flags.fin())
        } else {
            len + u32::from(flags.syn()) + u32::from(flags.fin())
        };
        let end = seq.plus(seg_len);

        // init_endpoint: the first segment fixes the start of the sequence space.
        {
            let (ep, _) = self.endpoints(dir);
            match ep.state {
                EndpointState::Inactive => {
                    if flags.syn() {
                        ep.start_seq = Some(seq);
                        ep.last_seq = end;
                    } else {
                        // A partial connection: number as if a SYN came just before.
                        ep.start_seq = Some(seq.minus(1));
                        ep.last_seq = seq;
                    }
                }
                EndpointState::SynSent
                | EndpointState::SynAckSent
                | EndpointState::Established
                | EndpointState::Partial => {
                    if flags.syn() && ep.start_seq != Some(seq) {
                        ep.start_seq = Some(seq);
                        ep.last_seq = end;
                    }
                }
                EndpointState::Closed | EndpointState::Reset => {}
            }
        }

        self.update_history(dir, flags, seq, len);

        // update_window: zero windows are interesting unless reset or after the peer's FIN.
        {
            let (ep, peer) = self.endpoints(dir);
            let zero = window == 0
                && !flags.rst()
                && peer.state != EndpointState::Closed
                && ep.state != EndpointState::Reset;
            if zero && ep.zero_window.hit() {
                self.add_letter(dir, 'w');
            }
        }

        // update_last_seq: a payload segment that does not advance is a retransmission.
        let rxmit = {
            let (ep, _) = self.endpoints(dir);
            let delta = end.diff(ep.last_seq);
            if (flags.syn() || flags.rst())
                && !(-TOO_LARGE_SEQ_DELTA..=TOO_LARGE_SEQ_DELTA).contains(&delta)
            {
                false
            } else if flags.fin() && Some(ep.last_seq) == ep.start_seq.map(|s| s.plus(1)) {
                ep.last_seq = end;
                false
            } else if ep.state == EndpointState::Reset {
                false
            } else if delta > 0 {
                ep.last_seq = end;
                false
            } else {
                len > 0 && ep.rxmit.hit()
            }
        };
        if rxmit {
            self.add_letter(dir, 't');
        }
        if len > 0 && !flags.rst() {
            let (ep, _) = self.endpoints(dir);
            ep.bytes += u64::from(len);
        }

        self.update_state(dir, flags, len);
    }

    fn update_history(&mut self, dir: Direction, flags: TcpFlags, seq: SeqNumber, len: u32) {
        let bits = u8::from(flags.syn()) + u8::from(flags.fin()) + u8::from(flags.rst());
        if bits > 1 {
            if flags.fin() && flags.rst() {
                self.check(dir, SEEN_FIN_RST, 'i');
            } else {
                self.check(dir, SEEN_MULTI, 'q');
            }
            return;
        }
        if flags.syn() {
            let letter = if flags.ack() { 'h' } else { 's' };
            let last = self.endpoints(dir).0.last_syn;
            if self.check(dir, SEEN_SYN, letter) && last != Some(seq) {
                self.add_letter(dir, letter);
            }
            self.endpoints(dir).0.last_syn = Some(seq);
        } else if flags.fin() {
            // A FIN's sequence number is at the end of its data.
            let fin_at = seq.plus(len);
            let last = self.endpoints(dir).0.last_fin;
            if self.check(dir, SEEN_FIN, 'f') && last != Some(fin_at) {
                self.add_letter(dir, 'f');
            }
            self.endpoints(dir).0.last_fin = Some(fin_at);
        } else if flags.rst() {
            let last = self.endpoints(dir).0.last_rst;
            if self.check(dir, SEEN_RST, 'r') && last != Some(seq) {
                self.add_letter(dir, 'r');
            }
            self.endpoints(dir).0.last_rst = Some(seq);
        } else if len > 0 {
            self.check(dir, SEEN_DATA, 'd');
        } else if flags.ack() {
            self.check(dir, SEEN_ACK, 'a');
        }
    }

    /// Zeek's UpdateStateMachine, one arm per endpoint state.
    fn update_state(&mut self, dir: Direction, flags: TcpFlags, len: u32) {
        use EndpointState::*;
        let is_client = dir == Direction::Client;
        let client_state = self.client.state;
        let (ep, peer) = self.endpoints(dir);
        match ep.state {
            Inactive => {
                if flags.syn() {
                    if is_client {
                        // The client's SYN (or an odd SYN-ACK from the client).
                        ep.set_state(if flags.ack() { SynAckSent } else { SynSent });
                    } else {
                        // The server's SYN-ACK establishes both sides.
                        if peer.state == SynSent {
                            peer.set_state(Established);
                        }
                        ep.set_state(Established);
                    }
                }
                if flags.fin() {
                    ep.set_state(Closed);
                }
                if flags.rst() {
                    ep.set_state(Reset);
                }
                if ep.state == Inactive {
                    if !is_client && len == 0 && client_state == SynSent {
                        // An ACK of the SYN before the SYN-ACK: not yet partial.
                    } else if flags.ack() && peer.state == Established {
                        // The SYN was missed but the SYN-ACK was seen: established.
                        ep.set_state(Established);
                    } else {
                        ep.set_state(Partial);
                    }
                }
            }
            SynSent | SynAckSent => {
                if flags.fin() {
                    ep.set_state(Closed);
                }
                if flags.rst() {
                    ep.set_state(Reset);
                }
            }
            Established | Partial => {
                if flags.syn() && ep.state == Partial && peer.state == Inactive && !flags.ack() {
                    // A SYN after midstream traffic: start over as an attempt.
                    ep.set_state(SynSent);
                }
                if flags.fin() && !flags.rst() {
                    ep.set_state(Closed);
                    if peer.state == Reset && peer.prev_state == Closed {
                        // The peer's FIN then RST was a normal close after all.
                        peer.set_state(Closed);
                    }
                }
                if flags.rst() {
                    ep.set_state(Reset);
                }
            }
            Closed => {
                // An RST after both FINs does not undo a normal close.
                if flags.rst() && peer.state != Closed {
                    ep.set_state(Reset);
                }
            }
            Reset => {}
        }
    }

    /// Zeek's `conn_state` code for the connection as it stands.
    pub fn conn_state(&self) -> &'static str {
        use EndpointState::*;
        let os = self.client.state;
        let rs = self.server.state;
        let o_inactive = matches!(os, Inactive | Partial);
        let r_inactive = matches!(rs, Inactive | Partial);
        if rs == Reset {
            if os == SynSent
                || os == SynAckSent
                || (os == Reset && self.client.bytes == 0 && self.server.bytes == 0)
            {
                "REJ"
            } else if o_inactive {
                "RSTRH"
            } else {
                "RSTR"
            }
        } else if os == Reset {
            if r_inactive {
                if attempt_then_reset(&self.history) {
                    "RSTOS0"
                } else {
                    "OTH"
                }
            } else {
                "RSTO"
            }
        } else if rs == Closed && os == Closed {
            "SF"
        } else if os == Closed {
            if r_inactive {
                "SH"
            } else {
                "S2"
            }
        } else if rs == Closed {
            if o_inactive {
                "SHR"
            } else {
                "S3"
            }
        } else if os == SynSent && rs == Inactive {
            "S0"
        } else if os == Established && rs == Established {
            "S1"
        } else {
            "OTH"
        }
    }
}

/// Zeek's `/\^?S[^HAFGIQ]*R.*/`: a SYN, then nothing from the client but more SYNs,
/// data or retransmissions, then the client's RST.
fn attempt_then_reset(history: &str) -> bool {
    let rest = history.strip_prefix('^').unwrap_or(history);
    let Some(rest) = rest.strip_prefix('S') else {
        return false;
    };
    match rest.find('R') {
        Some(at) => !rest[..at].contains(['H', 'A', 'F', 'G', 'I', 'Q']),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{Client as C, Server as S};

    const SYN: u8 = TcpFlags::SYN;
    const ACK: u8 = TcpFlags::ACK;
    const FIN: u8 = TcpFlags::FIN;
    const RST: u8 = TcpFlags::RST;

    fn feed(conn: &mut ZeekConn, steps: &[(Direction, u8, u32, u32)]) {
        for &(dir, flags, seq, len) in steps {
            conn.on_segment(dir, TcpFlags(flags), seq, 1000, len);
        }
    }

    #[test]
    fn normal_connection_is_sf_with_full_history() {
        let mut c = ZeekConn::new(false);
        feed(
            &mut c,
            &[
                (C, SYN, 100, 0),
                (S, SYN | ACK, 500, 0),
                (C, ACK, 101, 0),
                (C, ACK, 101, 10),
                (S, ACK, 501, 0),
                (S, ACK, 501, 20),
                (C, FIN | ACK, 111, 0),
                (S, FIN | ACK, 521, 0),
                (C, ACK, 112, 0),
            ],
        );
        assert_eq!(c.history(), "ShADadFf");
        assert_eq!(c.conn_state(), "SF");
    }

    #[test]
    fn unanswered_syn_is_s0_and_retry_same_seq_adds_nothing() {
        let mut c = ZeekConn::new(false);
        feed(&mut c, &[(C, SYN, 100, 0), (C, SYN, 100, 0)]);
        assert_eq!(c.history(), "S");
        assert_eq!(c.conn_state(), "S0");
    }

    #[test]
    fn refused_is_rej() {
        let mut c = ZeekConn::new(false);
        feed(&mut c, &[(C, SYN, 100, 0), (S, RST | ACK, 0, 0)]);
        assert_eq!(c.history(), "Sr");
        assert_eq!(c.conn_state(), "REJ");
    }

    #[test]
    fn client_abort_is_rsto_and_syn_then_rst_is_rstos0() {
        let mut c = ZeekConn::new(false);
        feed(
            &mut c,
            &[
                (C, SYN, 100, 0),
                (S, SYN | ACK, 500, 0),
                (C, ACK, 101, 0),
                (C, RST, 101, 0),
            ],
        );
        assert_eq!(c.conn_state(), "RSTO");
        let mut c = ZeekConn::new(false);
        feed(&mut c, &[(C, SYN, 100, 0), (C, RST, 101, 0)]);
        assert_eq!(c.history(), "SR");
        assert_eq!(c.conn_state(), "RSTOS0");
    }

    #[test]
    fn rst_after_both_fins_stays_sf() {
        let mut c = ZeekConn::new(false);
        feed(
            &mut c,
            &[
                (C, SYN, 100, 0),
                (S, SYN | ACK, 500, 0),
                (C, ACK, 101, 0),
                (S, FIN | ACK, 501, 0),
                (C, FIN | ACK, 101, 0),
                (C, RST, 102, 0),
            ],
        );
        assert_eq!(c.conn_state(), "SF");
    }

    #[test]
    fn retransmission_letters_are_logarithmic() {
        let mut c = ZeekConn::new(false);
        feed(
            &mut c,
            &[(C, SYN, 0, 0), (S, SYN | ACK, 0, 0), (C, ACK, 1, 10)],
        );
        for _ in 0..10 {
            feed(&mut c, &[(C, ACK, 1, 10)]);
        }
        // 1st and 10th retransmission write a T; the 2nd..9th do not.
        assert_eq!(c.history(), "ShDTT");
    }

    #[test]
    fn midstream_is_oth_and_flipped_starts_with_caret() {
        let mut c = ZeekConn::new(true);
        feed(&mut c, &[(S, ACK, 500, 10), (C, ACK, 100, 0)]);
        assert_eq!(c.history(), "^dA");
        assert_eq!(c.conn_state(), "OTH");
    }

    #[test]
    fn rstos0_pattern() {
        assert!(attempt_then_reset("SR"));
        assert!(attempt_then_reset("^STR"));
        assert!(!attempt_then_reset("SAR"));
        assert!(!attempt_then_reset("S"));
    }
}
