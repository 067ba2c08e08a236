//! A connection's three-way handshake as seen so far — the SYN, SYN-ACK and ACK, their
//! retries, a refusal, a challenge ACK, a handshake completed off capture, the initial
//! RTT — and the `Handshake` record it ends as. `tcp` fills it packet by packet.

use super::key::Direction;
use super::seq::SeqNumber;
use crate::report::model::{Handshake, HandshakeOutcome};
use crate::time::Timestamp;

/// What `tcp` has seen of the handshake.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct HandshakeTrack {
    pub(super) syn: Option<(u64, Timestamp, SeqNumber)>,
    /// The last SYN transmission before the SYN-ACK, to time the answer.
    pub(super) last_syn_ts: Option<Timestamp>,
    /// The time between the last two SYN transmissions, in nanoseconds.
    pub(super) last_syn_gap: i64,
    pub(super) syn_retries: u32,
    pub(super) synack: Option<(u64, Timestamp, SeqNumber)>,
    pub(super) synack_retries: u32,
    pub(super) ack: Option<(u64, Timestamp)>,
    pub(super) refused_by: Option<u64>,
    /// The ACK number of the server's answer to the SYN that acknowledged something
    /// else: an RFC 5961 §4 challenge ACK from an older connection's state.
    pub(super) challenge_ack: Option<u32>,
    /// The close recorded is the client's RST answering the challenge ACK.
    pub(super) challenge_reset: bool,
    /// The first packet proving the handshake completed though its SYN-ACK was not
    /// captured (a one-direction capture), and whether the client sent it.
    pub(super) off_capture: Option<(u64, Direction)>,
    /// The most recent SYN without ACK (Wireshark's `ts_mru_syn`).
    pub(super) mru_syn: Option<Timestamp>,
    /// Wireshark's `tcp.analysis.initial_rtt`, once known.
    pub(super) initial_rtt_ms: Option<f64>,
}

impl HandshakeTrack {
    /// The handshake as the report shows it; None when neither SYN nor SYN-ACK was seen.
    pub(super) fn record(&self) -> Option<Handshake> {
        let hs = self;
        if hs.syn.is_none() && hs.synack.is_none() {
            return None;
        }
        let syn_ts = hs.syn.map(|(_, ts, _)| ts);
        let synack_ts = hs.synack.map(|(_, ts, _)| ts);
        let ack_ts = hs.ack.map(|(_, ts)| ts);
        let syn_to_synack_ms = match (hs.last_syn_ts.or(syn_ts), synack_ts) {
            (Some(a), Some(b)) => Some(b.millis_since(a)),
            _ => None,
        };
        let synack_to_ack_ms = match (synack_ts, ack_ts) {
            (Some(a), Some(b)) => Some(b.millis_since(a)),
            _ => None,
        };
        let outcome = if hs.syn.is_none() {
            HandshakeOutcome::SynMissed
        } else if hs.ack.is_some() || hs.off_capture.is_some() {
            HandshakeOutcome::Completed
        } else if hs.refused_by.is_some() {
            HandshakeOutcome::Refused
        } else if hs.synack.is_some() {
            HandshakeOutcome::NoFinalAck
        } else {
            HandshakeOutcome::Unanswered
        };
        Some(Handshake {
            syn_packet: hs.syn.map(|(n, _, _)| n),
            synack_packet: hs.synack.map(|(n, _, _)| n),
            ack_packet: hs.ack.map(|(n, _)| n).or(match hs.off_capture {
                Some((n, Direction::Client)) => Some(n),
                _ => None,
            }),
            rtt_ms: hs.initial_rtt_ms,
            syn_to_synack_ms,
            synack_to_ack_ms,
            syn_retries: hs.syn_retries,
            synack_retries: hs.synack_retries,
            refused_packet: hs.refused_by,
            outcome,
            completed_off_capture: hs.synack.is_none() && hs.off_capture.is_some(),
        })
    }
}
