//! One input's view of the keys: the key logs given by flag or `SSLKEYLOGFILE`
//! (parsed once, shared by every input through an `Arc`), the keys the input itself
//! carries in pcapng Decryption Secrets Blocks (added as the reader meets them, so
//! only the packets after a block can use it, as in Wireshark), and the TLS 1.2
//! sessions the input's full handshakes created (for its resumed ones).
//!
//! Inputs analysed in parallel each have their own `InputKeys`: one input's embedded
//! keys or sessions never leak into another's. Within an input, the driver and the
//! connections' TLS analyzers share it through [`SharedKeys`] (one thread per input);
//! they touch it only when a block is read and at a ServerHello, never per packet.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use super::keylog::{ClientRandom, KeyLog, Label, ParseSummary, Secret, SessionSecrets};
use super::resume::ResumptionCache;

/// The keys one input decrypts with.
#[derive(Debug, Default)]
pub struct InputKeys {
    /// From `--keylog` files or `SSLKEYLOGFILE`.
    given: Arc<KeyLog>,
    /// From the input's own Decryption Secrets Blocks.
    embedded: KeyLog,
    sessions: ResumptionCache,
}

/// [`InputKeys`] as the driver and the analyzers of one input share it.
pub type SharedKeys = Rc<RefCell<InputKeys>>;

impl InputKeys {
    pub fn new(given: Arc<KeyLog>) -> InputKeys {
        InputKeys {
            given,
            ..InputKeys::default()
        }
    }

    /// Wrapped for sharing between the driver and the analyzers.
    pub fn shared(given: Arc<KeyLog>) -> SharedKeys {
        Rc::new(RefCell::new(InputKeys::new(given)))
    }

    /// Whether any key at all is known: without one, connections say nothing about
    /// decryption (their records stay as they were without the feature).
    pub fn is_empty(&self) -> bool {
        self.given.is_empty() && self.embedded.is_empty()
    }

    /// The NSS key log text of a Decryption Secrets Block (secrets type `TLSK`).
    pub fn add_embedded(&mut self, text: &[u8]) -> ParseSummary {
        self.embedded.add_text(text)
    }

    /// The secrets for the connection whose ClientHello carried `random`: the input's
    /// own blocks first (they were written for this capture), then the given files.
    pub fn lookup(&self, random: &ClientRandom) -> Option<SessionSecrets> {
        let embedded = self.embedded.get(random);
        let given = self.given.get(random);
        match (embedded, given) {
            (Some(e), Some(g)) => {
                let mut merged = *g;
                for label in Label::ALL {
                    if let Some(secret) = e.get(label) {
                        merged.set(label, *secret);
                    }
                }
                Some(merged)
            }
            (Some(one), None) | (None, Some(one)) => Some(*one),
            (None, None) => None,
        }
    }

    /// A TLS 1.2 full handshake's master secret, under the session ID its ServerHello
    /// gave, for connections that resume it later.
    pub fn remember_session_id(&mut self, session_id: &[u8], master: &Secret) {
        self.sessions.remember_session_id(session_id, master);
    }

    /// The same, under a ticket from the server's NewSessionTicket.
    pub fn remember_ticket(&mut self, ticket: &[u8], master: &Secret) {
        self.sessions.remember_ticket(ticket, master);
    }

    /// A resumed TLS 1.2 session's master secret, by the ticket or session ID its
    /// ClientHello offered.
    pub fn resumed(&self, session_id: &[u8], ticket: Option<&[u8]>) -> Option<SessionSecrets> {
        self.sessions.resumed(session_id, ticket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOM: &str = "0101010101010101010101010101010101010101010101010101010101010101";

    fn log(text: &str) -> KeyLog {
        let mut log = KeyLog::new();
        log.add_text(text.as_bytes());
        log
    }

    #[test]
    fn embedded_keys_win_and_merge_with_given_ones() {
        let given = log(&format!(
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET {RANDOM} {}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {RANDOM} {}\n",
            "aa".repeat(32),
            "bb".repeat(32)
        ));
        let mut keys = InputKeys::new(Arc::new(given));
        assert!(!keys.is_empty());
        let summary = keys.add_embedded(
            format!(
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET {RANDOM} {}\nnonsense\n",
                "cc".repeat(32)
            )
            .as_bytes(),
        );
        assert_eq!((summary.secrets, summary.garbage), (1, 1));
        let random = ClientRandom([1; 32]);
        let secrets = keys.lookup(&random).expect("known");
        let bytes = |label| secrets.get(label).map(|s| s.as_bytes().to_vec());
        assert_eq!(
            bytes(Label::ClientHandshakeTrafficSecret),
            Some(vec![0xcc; 32])
        );
        assert_eq!(
            bytes(Label::ServerHandshakeTrafficSecret),
            Some(vec![0xbb; 32])
        );
        assert_eq!(keys.lookup(&ClientRandom([2; 32])), None);
    }

    #[test]
    fn no_keys_is_empty_until_a_block_brings_some() {
        let mut keys = InputKeys::new(Arc::new(KeyLog::new()));
        assert!(keys.is_empty());
        keys.add_embedded(format!("CLIENT_RANDOM {RANDOM} {}\n", "dd".repeat(48)).as_bytes());
        assert!(!keys.is_empty());
        assert!(keys.lookup(&ClientRandom([1; 32])).is_some());
    }
}
