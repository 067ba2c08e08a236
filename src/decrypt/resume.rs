//! TLS 1.2 session resumption: an abbreviated handshake reuses the master secret of an
//! earlier full handshake (RFC 5246 §7.3, §7.4.1.2; RFC 5077 session tickets), and key
//! logging clients such as Go's write no `CLIENT_RANDOM` line for it. Like Wireshark,
//! remember each full handshake's master secret under its session ID and ticket, and
//! look a resumed connection's master secret up by the ID or ticket its ClientHello
//! offers.
//!
//! Not for: TLS 1.3 resumption, where every connection has its own traffic secrets
//! in the key log (RFC 8446 §2.2).

use std::collections::{BTreeMap, VecDeque};

use sha2::{Digest, Sha256};

use super::keylog::{Label, Secret, SessionSecrets};

/// How many sessions are remembered; the oldest is forgotten first. A capture with
/// more full handshakes than this between a session's start and its resumption loses
/// that resumption's plaintext only.
pub const MAX_REMEMBERED: usize = 1 << 16;

/// Where a session can be found again. Tickets can be 64 KiB, so both are kept as a
/// SHA-256 digest: fixed size, and collisions are not a concern for lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Handle {
    SessionId([u8; 32]),
    Ticket([u8; 32]),
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Master secrets of full TLS 1.2 handshakes, by session ID and ticket.
#[derive(Clone, Debug, Default)]
pub struct ResumptionCache {
    secrets: BTreeMap<Handle, Secret>,
    order: VecDeque<Handle>,
}

impl ResumptionCache {
    pub fn new() -> ResumptionCache {
        ResumptionCache::default()
    }

    /// After a full handshake: the session ID from its ServerHello (RFC 5246 §7.4.1.3)
    /// names this master secret. An empty ID means the server will not cache it.
    pub fn remember_session_id(&mut self, session_id: &[u8], master_secret: &Secret) {
        if !session_id.is_empty() {
            self.insert(Handle::SessionId(digest(session_id)), master_secret);
        }
    }

    /// After a full handshake: the ticket of the server's NewSessionTicket (RFC 5077
    /// §3.3) names this master secret.
    pub fn remember_ticket(&mut self, ticket: &[u8], master_secret: &Secret) {
        if !ticket.is_empty() {
            self.insert(Handle::Ticket(digest(ticket)), master_secret);
        }
    }

    fn insert(&mut self, handle: Handle, secret: &Secret) {
        if self.secrets.insert(handle, *secret).is_none() {
            self.order.push_back(handle);
            if self.order.len() > MAX_REMEMBERED {
                if let Some(oldest) = self.order.pop_front() {
                    self.secrets.remove(&oldest);
                }
            }
        }
    }

    /// For a connection whose ServerHello resumed a session (RFC 5246 §7.4.1.3: it
    /// echoes the ClientHello's non-empty session ID): the master secret, found by the
    /// ticket the ClientHello offered (RFC 5077 §3.4) or else by the session ID, as
    /// `SessionSecrets` ready for [`super::RecordDecryptor::new`].
    pub fn resumed(&self, session_id: &[u8], ticket: Option<&[u8]>) -> Option<SessionSecrets> {
        let by_ticket = ticket
            .filter(|t| !t.is_empty())
            .and_then(|t| self.secrets.get(&Handle::Ticket(digest(t))));
        let by_id = || {
            Some(session_id)
                .filter(|id| !id.is_empty())
                .and_then(|id| self.secrets.get(&Handle::SessionId(digest(id))))
        };
        let secret = by_ticket.or_else(by_id)?;
        let mut secrets = SessionSecrets::default();
        secrets.set(Label::ClientRandom, *secret);
        Some(secrets)
    }

    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_lookup_by_ticket_then_id_and_eviction() {
        let a = Secret::new(&[1; 48]).unwrap();
        let b = Secret::new(&[2; 48]).unwrap();
        let mut cache = ResumptionCache::new();
        cache.remember_session_id(b"id-a", &a);
        cache.remember_ticket(b"ticket-b", &b);
        cache.remember_session_id(b"", &b); // not cached by the server: ignored
        assert_eq!(cache.len(), 2);
        let master = |s: SessionSecrets| s.get(Label::ClientRandom).copied();
        assert_eq!(cache.resumed(b"id-a", None).and_then(master), Some(a));
        // The ticket wins over the ID when both are known.
        assert_eq!(
            cache.resumed(b"id-a", Some(b"ticket-b")).and_then(master),
            Some(b)
        );
        assert_eq!(cache.resumed(b"id-x", Some(b"ticket-x")), None);
        assert_eq!(cache.resumed(b"", Some(b"")), None);
        for i in 0..MAX_REMEMBERED as u32 {
            cache.remember_ticket(&i.to_be_bytes(), &a);
        }
        assert_eq!(cache.len(), MAX_REMEMBERED);
        assert_eq!(cache.resumed(b"id-a", None), None, "oldest forgotten");
    }
}
