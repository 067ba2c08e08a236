//! The NSS key log format: the text file that `SSLKEYLOGFILE` makes curl, Firefox,
//! Chrome, Python's `ssl`, Node and Go write, and the same text carried inside a pcapng
//! Decryption Secrets Block.
//!
//! Governed by the NSS key log format description (now draft-ietf-tls-keylogfile) and,
//! for the pcapng block, draft-ietf-opsawg-pcapng §4.7 (block type 0x0000000A, secrets
//! type 0x544c534b "TLSK"). One line is `LABEL <client random, 64 hex> <secret hex>`;
//! the client random is the key that ties the secrets to a connection, through its
//! ClientHello.
//!
//! Not for: deriving keys (see [`super::keys`]) or deciding which secret a record needs
//! (see [`super::record`]). A key log is operator-supplied but still untrusted text:
//! a line we cannot use is counted and the first one remembered, never fatal, so a file
//! with one truncated line still decrypts every other connection.

use std::collections::BTreeMap;
use std::fmt;

/// The 32-byte `Random` of a ClientHello: what every key log line is keyed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientRandom(pub [u8; 32]);

/// Longest secret we keep: SHA-384 output, the largest hash any TLS 1.2/1.3 suite we
/// decrypt uses (a 48-byte master secret or a 48-byte TLS 1.3 traffic secret).
pub const MAX_SECRET_LEN: usize = 48;

/// A secret from a key log line: 32 bytes (SHA-256 suites) or 48 (SHA-384 suites and
/// every TLS 1.2 master secret). Kept inline so the key log's memory is bounded by its
/// entry count alone.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Secret {
    bytes: [u8; MAX_SECRET_LEN],
    len: u8,
}

impl Secret {
    /// The secret, or `None` when `bytes` is not 32 or 48 bytes long (no TLS hash we
    /// support makes any other length).
    pub fn new(bytes: &[u8]) -> Option<Secret> {
        if bytes.len() != 32 && bytes.len() != 48 {
            return None;
        }
        let mut out = [0; MAX_SECRET_LEN];
        out.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(Secret {
            bytes: out,
            len: bytes.len() as u8,
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        // `len` is 32 or 48 by construction; `get` keeps this panic-free regardless.
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl fmt::Debug for Secret {
    // Secrets stay out of logs and test failure output: show only the length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.len)
    }
}

/// The labels a key log line may carry. Each names one secret of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Label {
    /// `CLIENT_RANDOM`: the TLS 1.2 (and earlier) 48-byte master secret.
    ClientRandom,
    ClientEarlyTrafficSecret,
    ClientHandshakeTrafficSecret,
    ServerHandshakeTrafficSecret,
    ClientTrafficSecret0,
    ServerTrafficSecret0,
    EarlyExporterSecret,
    ExporterSecret,
}

impl Label {
    pub const ALL: [Label; 8] = [
        Label::ClientRandom,
        Label::ClientEarlyTrafficSecret,
        Label::ClientHandshakeTrafficSecret,
        Label::ServerHandshakeTrafficSecret,
        Label::ClientTrafficSecret0,
        Label::ServerTrafficSecret0,
        Label::EarlyExporterSecret,
        Label::ExporterSecret,
    ];

    /// The label as it is spelled in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::ClientRandom => "CLIENT_RANDOM",
            Label::ClientEarlyTrafficSecret => "CLIENT_EARLY_TRAFFIC_SECRET",
            Label::ClientHandshakeTrafficSecret => "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            Label::ServerHandshakeTrafficSecret => "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            Label::ClientTrafficSecret0 => "CLIENT_TRAFFIC_SECRET_0",
            Label::ServerTrafficSecret0 => "SERVER_TRAFFIC_SECRET_0",
            Label::EarlyExporterSecret => "EARLY_EXPORTER_SECRET",
            Label::ExporterSecret => "EXPORTER_SECRET",
        }
    }

    fn from_bytes(word: &[u8]) -> Option<Label> {
        Label::ALL
            .into_iter()
            .find(|label| label.as_str().as_bytes() == word)
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every secret the key logs gave for one connection (one client random).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionSecrets {
    /// Indexed by `Label as usize`, in the order of [`Label::ALL`].
    secrets: [Option<Secret>; 8],
}

impl SessionSecrets {
    pub fn get(&self, label: Label) -> Option<&Secret> {
        self.secrets.get(label as usize).and_then(Option::as_ref)
    }

    /// Sets one secret; a later line for the same label and client random wins, as in
    /// Wireshark (a client that logs twice logs the same value).
    pub fn set(&mut self, label: Label, secret: Secret) {
        if let Some(slot) = self.secrets.get_mut(label as usize) {
            *slot = Some(secret);
        }
    }
}

/// Why a key log line was not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineError {
    /// The first word is not one of the labels in [`Label`].
    UnknownLabel,
    /// Fewer than three space-separated fields, or more.
    WrongFieldCount,
    /// The client random is not 64 hex digits.
    BadClientRandom,
    /// The secret is not hex, or not 32 or 48 bytes long (master secrets: 48).
    BadSecret,
    /// The line is longer than [`MAX_LINE_LEN`]: no valid line is.
    TooLong,
    /// The key log already holds [`MAX_SESSIONS`] client randoms.
    TooManySessions,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LineError::UnknownLabel => "unknown label",
            LineError::WrongFieldCount => "expected LABEL CLIENT_RANDOM SECRET",
            LineError::BadClientRandom => "client random is not 64 hex digits",
            LineError::BadSecret => "secret is not 32 or 48 bytes of hex",
            LineError::TooLong => "line too long",
            LineError::TooManySessions => "too many client randoms",
        })
    }
}

/// The first unusable line of a key log: where and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line number within the text it came from.
    pub line: u64,
    pub error: LineError,
}

/// What one [`KeyLog::add_text`] call made of its text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParseSummary {
    /// Lines that set a secret.
    pub secrets: u64,
    /// Comment (`#`) and blank lines.
    pub skipped: u64,
    /// Lines that were neither: counted, and the first one kept.
    pub garbage: u64,
    pub first_garbage: Option<BadLine>,
}

/// No valid line is longer: the longest label (31) + 64 + 96 hex digits + 2 spaces and
/// CRLF fit well within this. Longer lines are garbage, so a binary file given by
/// mistake costs no memory.
pub const MAX_LINE_LEN: usize = 512;

/// Bound on distinct client randoms kept (one per TLS connection). Each costs about
/// 450 bytes (32-byte key, eight inline secret slots, tree overhead), so the key log
/// stays under ~120 MB whatever file it is given.
pub const MAX_SESSIONS: usize = 1 << 18;

/// Secrets from any number of key log texts, merged, looked up by client random.
#[derive(Clone, Debug, Default)]
pub struct KeyLog {
    sessions: BTreeMap<ClientRandom, SessionSecrets>,
}

impl KeyLog {
    pub fn new() -> KeyLog {
        KeyLog::default()
    }

    /// Parses one key log text (a file's contents or a Decryption Secrets Block's
    /// payload) and merges its secrets into this key log. Never fails: unusable lines
    /// are counted in the summary.
    pub fn add_text(&mut self, text: &[u8]) -> ParseSummary {
        let mut summary = ParseSummary::default();
        // `split` on '\n' and trimming '\r' accepts LF and CRLF files alike; the last
        // line may lack its newline.
        for (index, raw) in text.split(|&b| b == b'\n').enumerate() {
            let line = raw.strip_suffix(b"\r").unwrap_or(raw);
            let line = line.trim_ascii();
            if line.is_empty() || line.first() == Some(&b'#') {
                summary.skipped += 1;
                continue;
            }
            match self.add_line(line) {
                Ok(()) => summary.secrets += 1,
                Err(error) => {
                    summary.garbage += 1;
                    summary.first_garbage.get_or_insert(BadLine {
                        line: index as u64 + 1,
                        error,
                    });
                }
            }
        }
        // A trailing newline yields one empty last piece: not a line of the file.
        if text.last() == Some(&b'\n') || text.is_empty() {
            summary.skipped = summary.skipped.saturating_sub(1);
        }
        summary
    }

    fn add_line(&mut self, line: &[u8]) -> Result<(), LineError> {
        if line.len() > MAX_LINE_LEN {
            return Err(LineError::TooLong);
        }
        let mut fields = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|f| !f.is_empty());
        let (Some(label), Some(random), Some(secret), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            // Check the label first so "FOO a b" reads as an unknown label.
            return Err(match line.split(|b| b.is_ascii_whitespace()).next() {
                Some(word) if Label::from_bytes(word).is_none() => LineError::UnknownLabel,
                _ => LineError::WrongFieldCount,
            });
        };
        let label = Label::from_bytes(label).ok_or(LineError::UnknownLabel)?;
        let mut client_random = [0u8; 32];
        hex::decode_to_slice(random, &mut client_random).map_err(|_| LineError::BadClientRandom)?;
        let mut buf = [0u8; MAX_SECRET_LEN];
        let secret_len = secret.len() / 2;
        let secret = buf
            .get_mut(..secret_len)
            .filter(|_| secret.len() % 2 == 0)
            .and_then(|out| hex::decode_to_slice(secret, out).ok().map(|()| &*out))
            .and_then(Secret::new)
            .ok_or(LineError::BadSecret)?;
        // A TLS 1.2 master secret is always 48 bytes (RFC 5246 §8.1).
        if label == Label::ClientRandom && secret.as_bytes().len() != 48 {
            return Err(LineError::BadSecret);
        }
        let key = ClientRandom(client_random);
        if self.sessions.len() >= MAX_SESSIONS && !self.sessions.contains_key(&key) {
            return Err(LineError::TooManySessions);
        }
        self.sessions.entry(key).or_default().set(label, secret);
        Ok(())
    }

    /// Merges another key log into this one; its secrets win where both have one.
    pub fn merge(&mut self, other: &KeyLog) {
        for (random, theirs) in &other.sessions {
            if self.sessions.len() >= MAX_SESSIONS && !self.sessions.contains_key(random) {
                continue;
            }
            let ours = self.sessions.entry(*random).or_default();
            for label in Label::ALL {
                if let Some(secret) = theirs.get(label) {
                    ours.set(label, *secret);
                }
            }
        }
    }

    /// The secrets logged for the connection whose ClientHello carried `random`.
    pub fn get(&self, random: &ClientRandom) -> Option<&SessionSecrets> {
        self.sessions.get(random)
    }

    /// How many connections (client randoms) have at least one secret.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Parses the body of a pcapng Decryption Secrets Block (everything between the
    /// block's total length fields: secrets type, secrets length, secrets data,
    /// padding, options) and merges a TLS key log it carries. `big_endian` is the byte
    /// order of the section the block sits in (from its Section Header Block).
    pub fn add_dsb_body(
        &mut self,
        body: &[u8],
        big_endian: bool,
    ) -> Result<ParseSummary, DsbError> {
        let word = |at: usize| -> Option<u32> {
            let bytes: [u8; 4] = body.get(at..at.checked_add(4)?)?.try_into().ok()?;
            Some(if big_endian {
                u32::from_be_bytes(bytes)
            } else {
                u32::from_le_bytes(bytes)
            })
        };
        let (Some(secrets_type), Some(secrets_len)) = (word(0), word(4)) else {
            return Err(DsbError::Truncated);
        };
        if secrets_type != SECRETS_TYPE_TLS_KEY_LOG {
            return Err(DsbError::NotTlsKeyLog(secrets_type));
        }
        let data = usize::try_from(secrets_len)
            .ok()
            .and_then(|len| body.get(8..8usize.checked_add(len)?))
            .ok_or(DsbError::Truncated)?;
        Ok(self.add_text(data))
    }
}

/// pcapng block type of a Decryption Secrets Block.
pub const BLOCK_TYPE_DSB: u32 = 0x0000_000A;
/// pcapng DSB secrets type "TLSK": the secrets are an NSS key log text.
pub const SECRETS_TYPE_TLS_KEY_LOG: u32 = 0x544c_534b;

/// Why a Decryption Secrets Block gave no TLS key log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DsbError {
    /// The body ends before its secrets type, length or data do.
    Truncated,
    /// Secrets of another kind (WireGuard, ZigBee, SSH, ...): not ours to read.
    NotTlsKeyLog(u32),
}

impl fmt::Display for DsbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DsbError::Truncated => f.write_str("decryption secrets block is truncated"),
            DsbError::NotTlsKeyLog(t) => {
                write!(f, "decryption secrets of type {t:#010x}, not a TLS key log")
            }
        }
    }
}

impl std::error::Error for DsbError {}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOM: &str = "2da54528f501768963c8a5cb4d183f71766e980a6fa6fb15bcddb7f4ea34da51";

    fn random(hex_text: &str) -> ClientRandom {
        let mut out = [0; 32];
        hex::decode_to_slice(hex_text, &mut out).unwrap();
        ClientRandom(out)
    }

    #[test]
    fn test_parse_all_labels_crlf_comments_blank() {
        let s32 = "ab".repeat(32);
        let s48 = "cd".repeat(48);
        let mut text = String::from("# SSL/TLS secrets log file, generated by NSS\r\n\r\n");
        for label in Label::ALL {
            let secret = if label == Label::ClientRandom {
                &s48
            } else {
                &s32
            };
            text.push_str(&format!("{label} {RANDOM} {secret}\r\n"));
        }
        let mut log = KeyLog::new();
        let summary = log.add_text(text.as_bytes());
        assert_eq!(summary.secrets, 8);
        assert_eq!(summary.skipped, 2);
        assert_eq!(summary.garbage, 0);
        assert_eq!(summary.first_garbage, None);
        let session = log.get(&random(RANDOM)).unwrap();
        assert_eq!(
            session.get(Label::ClientRandom).unwrap().as_bytes(),
            &[0xcd; 48][..]
        );
        for label in &Label::ALL[1..] {
            assert_eq!(
                session.get(*label).unwrap().as_bytes(),
                &[0xab; 32][..],
                "{label}"
            );
        }
        assert_eq!(log.len(), 1);
    }

    #[test]
    fn test_garbage_counted_first_reported() {
        let good = format!("CLIENT_TRAFFIC_SECRET_0 {RANDOM} {}", "11".repeat(32));
        let text = format!(
            "{good}\nNOT_A_LABEL {RANDOM} 00\nCLIENT_RANDOM abcd {}\n{good} extra\n\
             CLIENT_RANDOM {RANDOM} {}\nSERVER_TRAFFIC_SECRET_0 {RANDOM} zz{}\n{}\n\
             EXPORTER_SECRET {RANDOM}",
            "00".repeat(48),
            "00".repeat(32), // master secret must be 48 bytes
            "0".repeat(62),
            "A".repeat(MAX_LINE_LEN + 1),
        );
        let mut log = KeyLog::new();
        let summary = log.add_text(text.as_bytes());
        assert_eq!(summary.secrets, 1);
        assert_eq!(summary.garbage, 7);
        assert_eq!(
            summary.first_garbage,
            Some(BadLine {
                line: 2,
                error: LineError::UnknownLabel
            })
        );
        // Each reason on its own, in file order.
        let reasons: Vec<LineError> = text
            .lines()
            .skip(1)
            .map(|l| KeyLog::new().add_line(l.as_bytes()).unwrap_err())
            .collect();
        assert_eq!(
            reasons,
            [
                LineError::UnknownLabel,
                LineError::BadClientRandom,
                LineError::WrongFieldCount,
                LineError::BadSecret,
                LineError::BadSecret,
                LineError::TooLong,
                LineError::WrongFieldCount,
            ]
        );
    }

    #[test]
    fn test_merge_later_wins_and_files_combine() {
        let other = "3d2ab9bccdaaa43ce2af42147420751198fe314685d44ff8a91aa83f440044af";
        let mut a = KeyLog::new();
        a.add_text(format!("CLIENT_RANDOM {RANDOM} {}\n", "01".repeat(48)).as_bytes());
        let mut b = KeyLog::new();
        b.add_text(
            format!(
                "CLIENT_RANDOM {RANDOM} {}\nCLIENT_RANDOM {other} {}\n",
                "02".repeat(48),
                "03".repeat(48)
            )
            .as_bytes(),
        );
        a.merge(&b);
        assert_eq!(a.len(), 2);
        let get = |r| {
            a.get(&random(r))
                .unwrap()
                .get(Label::ClientRandom)
                .unwrap()
                .as_bytes()
                .to_vec()
        };
        assert_eq!(get(RANDOM), vec![2; 48]);
        assert_eq!(get(other), vec![3; 48]);
    }

    #[test]
    fn test_real_keylog_fixture() {
        let text = std::fs::read("fixtures/tls13-reuse.keylog").unwrap();
        let mut log = KeyLog::new();
        let summary = log.add_text(&text);
        assert_eq!(summary.garbage, 0);
        assert_eq!(
            summary.secrets,
            text.iter().filter(|&&b| b == b'\n').count() as u64
        );
        // Four secrets of one TLS 1.3 connection.
        assert_eq!(log.len(), 1);
    }

    #[test]
    fn test_dsb_body() {
        let text = format!("CLIENT_RANDOM {RANDOM} {}\n", "05".repeat(48));
        for big_endian in [false, true] {
            let mut body = Vec::new();
            let put = |v: u32, out: &mut Vec<u8>| {
                out.extend(if big_endian {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                })
            };
            put(SECRETS_TYPE_TLS_KEY_LOG, &mut body);
            put(text.len() as u32, &mut body);
            body.extend(text.as_bytes());
            body.extend([0, 0, 0]); // padding to 32 bits
            let mut log = KeyLog::new();
            let summary = log.add_dsb_body(&body, big_endian).unwrap();
            assert_eq!(summary.secrets, 1);
            assert_eq!(summary.garbage, 0);
            assert!(log.get(&random(RANDOM)).is_some());
            // Cut inside the data: truncated, nothing added.
            let mut cut = KeyLog::new();
            assert_eq!(
                cut.add_dsb_body(&body[..20], big_endian),
                Err(DsbError::Truncated)
            );
            assert!(cut.is_empty());
        }
        let wireguard = [0x57, 0x47, 0x4b, 0x4c, 0, 0, 0, 0];
        assert_eq!(
            KeyLog::new().add_dsb_body(&wireguard, false),
            Err(DsbError::NotTlsKeyLog(0x4c4b_4757))
        );
        assert_eq!(
            KeyLog::new().add_dsb_body(&[1, 2, 3], false),
            Err(DsbError::Truncated)
        );
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Arbitrary bytes: no panic, every line accounted for, and every connection
        /// in the log came from an accepted line (fuzz/fuzz_targets/keylog.rs).
        #[test]
        fn arbitrary_text_never_panics(text in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut log = KeyLog::new();
            let summary = log.add_text(&text);
            prop_assert!(log.len() as u64 <= summary.secrets);
            let lines = text.split(|&b| b == b'\n').count() as u64
                - u64::from(text.last() == Some(&b'\n') || text.is_empty());
            prop_assert_eq!(summary.secrets + summary.skipped + summary.garbage, lines);
            prop_assert_eq!(summary.first_garbage.is_some(), summary.garbage > 0);
            let _ = log.add_dsb_body(&text, false);
            let _ = log.add_dsb_body(&text, true);
        }

        /// Lines built from real labels and hex of random lengths: accepted exactly
        /// when the client random is 32 bytes and the secret 32 or 48 (48 for
        /// CLIENT_RANDOM).
        #[test]
        fn generated_lines(
            label in proptest::sample::select(Label::ALL.to_vec()),
            random_len in 30usize..34,
            secret_len in 30usize..50,
        ) {
            let line = format!("{label} {} {}\n", "ab".repeat(random_len), "cd".repeat(secret_len));
            let summary = KeyLog::new().add_text(line.as_bytes());
            let ok = random_len == 32
                && (secret_len == 48 || (secret_len == 32 && label != Label::ClientRandom));
            prop_assert_eq!(summary.secrets == 1, ok);
        }
    }
}
