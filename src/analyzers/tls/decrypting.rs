//! The TLS analyzer's side of decryption (`tls_decrypt` holds the state machine):
//! starting it at the ServerHello, handing the plaintext to the analyzer tree, and
//! folding its outcome into the summary.

use super::{alert_name, TlsAnalyzer};
use crate::analyzers::reassembly::Origin;
use crate::analyzers::tls_decrypt::{Decryption, Inner, ServerChoice};
use crate::flow::key::Direction;
use crate::report::model::TlsAlert;

impl TlsAnalyzer {
    /// At the ServerHello: decryption starts when the input has keys at all.
    pub(super) fn start_decryption(&mut self, server: &ServerChoice<'_>, origin: Origin) {
        let Some(keys) = self
            .keys
            .as_ref()
            .filter(|k| Decryption::keys_given(Some(k)))
        else {
            return;
        };
        let decryption = match self.offer.take() {
            Some(offer) => Decryption::start(keys, &offer, server, origin.packet),
            None => Decryption::without_handshake(keys, origin.packet),
        };
        self.decryption = Some(Box::new(decryption));
    }

    /// Hands what was decrypted since the last call to `inner` (which analyzer, the
    /// sender, the plaintext, the packet that completed its record).
    pub fn drain_plaintext(&mut self, inner: impl FnMut(Inner, Direction, &[u8], Origin)) {
        if let Some(d) = &mut self.decryption {
            d.drain(self.info.alpn.as_deref() == Some("h2"), inner);
        }
    }

    /// Decryption's part of the summary: the outcome, the ALPN and certificate the
    /// decrypted handshake gave, a decrypted alert in place of a guessed one.
    pub(super) fn finish_decryption(&mut self) {
        let Some(mut d) = self.decryption.take() else {
            return;
        };
        for dir in [Direction::Client, Direction::Server] {
            let side = self.records.get(dir);
            if !side.lost && (side.header_len > 0 || side.body_left > 0) {
                let packet = side.record_origin.map_or(0, |o| o.packet);
                d.on_cut_record(dir, packet);
            }
        }
        if self.info.alpn.is_none() {
            self.info.alpn = d.alpn.take();
        }
        if let Some(certificate) = d.certificate.take() {
            self.info.certificate = Some(certificate);
        }
        if let Some((from, level, code, origin)) = d.alert {
            let guessed = self
                .info
                .alert
                .as_ref()
                .is_none_or(|a| a.level == "encrypted");
            if guessed {
                self.info.alert = Some(TlsAlert {
                    from,
                    packet: origin.packet,
                    time: origin.ts,
                    level: match level {
                        1 => "warning".to_string(),
                        2 => "fatal".to_string(),
                        other => format!("level {other}"),
                    },
                    description: alert_name(code),
                });
            }
        }
        self.info.decrypted = d.succeeded();
        let (outcome, warning) = d.finish();
        self.info.decryption = Some(outcome);
        if let Some(w) = warning {
            self.warnings.push(w);
        }
    }
}
