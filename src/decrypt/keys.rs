//! Record-protection keys from logged secrets: the TLS 1.3 key schedule's last steps
//! (RFC 8446 §7.1 HKDF-Expand-Label, §7.2 key update, §7.3 traffic keys) and the TLS 1.2
//! key block (RFC 5246 §5 PRF, §6.3 key calculation) for the AEAD suites (RFC 5288
//! AES-GCM, RFC 7905 ChaCha20-Poly1305).
//!
//! Not for: the handshake secrets themselves (they come from the key log, never from a
//! key exchange we could not see) or record framing (see [`super::record`]).
//! The HKDF and HMAC primitives are RustCrypto's `hkdf`/`hmac`/`sha2`; only the TLS
//! label encoding and the P_hash loop (a few lines each, and no crate offers them
//! without a whole TLS stack) are written here.

use std::fmt;

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384};

/// A TLS cipher suite id from the IANA registry; unknown values survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CipherSuite(pub u16);

impl CipherSuite {
    // TLS 1.3 (RFC 8446 §B.4).
    pub const TLS_AES_128_GCM_SHA256: CipherSuite = CipherSuite(0x1301);
    pub const TLS_AES_256_GCM_SHA384: CipherSuite = CipherSuite(0x1302);
    pub const TLS_CHACHA20_POLY1305_SHA256: CipherSuite = CipherSuite(0x1303);
    // TLS 1.2 AES-GCM (RFC 5288, RFC 5289).
    pub const TLS_RSA_WITH_AES_128_GCM_SHA256: CipherSuite = CipherSuite(0x009c);
    pub const TLS_RSA_WITH_AES_256_GCM_SHA384: CipherSuite = CipherSuite(0x009d);
    pub const TLS_DHE_RSA_WITH_AES_128_GCM_SHA256: CipherSuite = CipherSuite(0x009e);
    pub const TLS_DHE_RSA_WITH_AES_256_GCM_SHA384: CipherSuite = CipherSuite(0x009f);
    pub const TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: CipherSuite = CipherSuite(0xc02b);
    pub const TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: CipherSuite = CipherSuite(0xc02c);
    pub const TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: CipherSuite = CipherSuite(0xc02f);
    pub const TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: CipherSuite = CipherSuite(0xc030);
    // TLS 1.2 ChaCha20-Poly1305 (RFC 7905).
    pub const TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: CipherSuite = CipherSuite(0xcca8);
    pub const TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: CipherSuite = CipherSuite(0xcca9);
    pub const TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256: CipherSuite = CipherSuite(0xccaa);

    // TLS 1.2 AES-CBC with HMAC (RFC 5246 §A.5, RFC 4492, RFC 5289).
    pub const TLS_RSA_WITH_AES_128_CBC_SHA: CipherSuite = CipherSuite(0x002f);
    pub const TLS_RSA_WITH_AES_256_CBC_SHA: CipherSuite = CipherSuite(0x0035);
    pub const TLS_RSA_WITH_AES_128_CBC_SHA256: CipherSuite = CipherSuite(0x003c);
    pub const TLS_RSA_WITH_AES_256_CBC_SHA256: CipherSuite = CipherSuite(0x003d);
    pub const TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: CipherSuite = CipherSuite(0xc009);
    pub const TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: CipherSuite = CipherSuite(0xc00a);
    pub const TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: CipherSuite = CipherSuite(0xc013);
    pub const TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: CipherSuite = CipherSuite(0xc014);
    pub const TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: CipherSuite = CipherSuite(0xc023);
    pub const TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384: CipherSuite = CipherSuite(0xc024);
    pub const TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: CipherSuite = CipherSuite(0xc027);
    pub const TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384: CipherSuite = CipherSuite(0xc028);

    /// How records of this suite are protected, or `None` for a suite we cannot
    /// decrypt (3DES, RC4, CAMELLIA, PSK-only, export, ...).
    pub fn params(self) -> Option<SuiteParams> {
        use CipherAlgorithm::*;
        use HashAlgorithm::*;
        use ProtocolVersion::*;
        let (version, aead, hash) = match self {
            CipherSuite::TLS_AES_128_GCM_SHA256 => (Tls13, Aes128Gcm, Sha256),
            CipherSuite::TLS_AES_256_GCM_SHA384 => (Tls13, Aes256Gcm, Sha384),
            CipherSuite::TLS_CHACHA20_POLY1305_SHA256 => (Tls13, ChaCha20Poly1305, Sha256),
            CipherSuite::TLS_RSA_WITH_AES_128_GCM_SHA256
            | CipherSuite::TLS_DHE_RSA_WITH_AES_128_GCM_SHA256
            | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
            | CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => (Tls12, Aes128Gcm, Sha256),
            CipherSuite::TLS_RSA_WITH_AES_256_GCM_SHA384
            | CipherSuite::TLS_DHE_RSA_WITH_AES_256_GCM_SHA384
            | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
            | CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => (Tls12, Aes256Gcm, Sha384),
            CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
            | CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
            | CipherSuite::TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => {
                (Tls12, ChaCha20Poly1305, Sha256)
            }
            // The _SHA suites use the TLS 1.2 default PRF hash, SHA-256 (RFC 5246 §5).
            CipherSuite::TLS_RSA_WITH_AES_128_CBC_SHA
            | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
            | CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA => {
                (Tls12, Aes128Cbc(MacAlgorithm::Sha1), Sha256)
            }
            CipherSuite::TLS_RSA_WITH_AES_256_CBC_SHA
            | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA
            | CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA => {
                (Tls12, Aes256Cbc(MacAlgorithm::Sha1), Sha256)
            }
            CipherSuite::TLS_RSA_WITH_AES_128_CBC_SHA256
            | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
            | CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 => {
                (Tls12, Aes128Cbc(MacAlgorithm::Sha256), Sha256)
            }
            CipherSuite::TLS_RSA_WITH_AES_256_CBC_SHA256 => {
                (Tls12, Aes256Cbc(MacAlgorithm::Sha256), Sha256)
            }
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384
            | CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384 => {
                (Tls12, Aes256Cbc(MacAlgorithm::Sha384), Sha384)
            }
            _ => return None,
        };
        Some(SuiteParams {
            version,
            cipher: aead,
            hash,
        })
    }
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#06x}", self.0)
    }
}

/// The protocol version whose record protection applies. TLS 1.3 suites exist only in
/// TLS 1.3 and the others only before it, so the suite alone decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolVersion {
    Tls12,
    Tls13,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CipherAlgorithm {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
    /// TLS 1.1+ CBC with an explicit per-record IV and the given HMAC.
    Aes128Cbc(MacAlgorithm),
    Aes256Cbc(MacAlgorithm),
}

impl CipherAlgorithm {
    pub fn key_len(self) -> usize {
        match self {
            CipherAlgorithm::Aes128Gcm | CipherAlgorithm::Aes128Cbc(_) => 16,
            CipherAlgorithm::Aes256Gcm
            | CipherAlgorithm::ChaCha20Poly1305
            | CipherAlgorithm::Aes256Cbc(_) => 32,
        }
    }

    /// The HMAC of a CBC suite; AEADs have none.
    pub fn mac(self) -> Option<MacAlgorithm> {
        match self {
            CipherAlgorithm::Aes128Cbc(mac) | CipherAlgorithm::Aes256Cbc(mac) => Some(mac),
            _ => None,
        }
    }
}

/// The record MAC of a CBC suite (RFC 5246 §6.2.3.1); its key is as long as its output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacAlgorithm {
    Sha1,
    Sha256,
    Sha384,
}

impl MacAlgorithm {
    pub fn output_len(self) -> usize {
        match self {
            MacAlgorithm::Sha1 => 20,
            MacAlgorithm::Sha256 => 32,
            MacAlgorithm::Sha384 => 48,
        }
    }

    /// Whether HMAC(key, parts...) equals `tag`, compared in constant time.
    pub fn verify(self, key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
            let Ok(mut mac) = <M as hmac::digest::KeyInit>::new_from_slice(key) else {
                return false;
            };
            for part in parts {
                mac.update(part);
            }
            mac.verify_slice(tag).is_ok()
        }
        match self {
            MacAlgorithm::Sha1 => run::<Hmac<sha1::Sha1>>(key, parts, tag),
            MacAlgorithm::Sha256 => run::<Hmac<Sha256>>(key, parts, tag),
            MacAlgorithm::Sha384 => run::<Hmac<Sha384>>(key, parts, tag),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlgorithm {
    Sha256,
    Sha384,
}

impl HashAlgorithm {
    pub fn output_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
        }
    }
}

/// What a cipher suite means for record protection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SuiteParams {
    pub version: ProtocolVersion,
    pub cipher: CipherAlgorithm,
    /// The suite's hash: HKDF's in TLS 1.3, the PRF's in TLS 1.2.
    pub hash: HashAlgorithm,
}

/// Longest cipher key: AES-256 and ChaCha20 take 32 bytes.
pub const MAX_KEY_LEN: usize = 32;
/// Longest MAC key: HMAC-SHA384's 48 bytes.
pub const MAX_MAC_KEY_LEN: usize = 48;

/// One direction's record-protection key and IV.
///
/// `iv` is the whole 12-byte per-record nonce base for TLS 1.3 and TLS 1.2
/// ChaCha20-Poly1305; for TLS 1.2 AES-GCM only its first 4 bytes (the implicit salt,
/// RFC 5288 §3) are used and the rest are zero; CBC suites carry their IV in each
/// record and use none of it, but have a MAC key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TrafficKey {
    pub cipher: CipherAlgorithm,
    key: [u8; MAX_KEY_LEN],
    pub iv: [u8; 12],
    mac_key: [u8; MAX_MAC_KEY_LEN],
}

impl TrafficKey {
    pub fn key(&self) -> &[u8] {
        self.key.get(..self.cipher.key_len()).unwrap_or(&[])
    }

    /// The HMAC key of a CBC suite; empty for AEADs.
    pub fn mac_key(&self) -> &[u8] {
        let len = self.cipher.mac().map_or(0, MacAlgorithm::output_len);
        self.mac_key.get(..len).unwrap_or(&[])
    }
}

impl fmt::Debug for TrafficKey {
    // Keys stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrafficKey({:?})", self.cipher)
    }
}

/// Why keys could not be derived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The secret's length is not the suite hash's output length (TLS 1.3) or 48
    /// (TLS 1.2 master secret): it belongs to another suite, or the log is wrong.
    SecretLength { expected: usize, got: usize },
    /// The requested output is longer than HKDF-Expand can give (255 hash blocks)
    /// or a label too long for its one-byte length.
    OutputTooLong,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::SecretLength { expected, got } => {
                write!(f, "secret is {got} bytes, the suite needs {expected}")
            }
            KeyError::OutputTooLong => f.write_str("requested key material too long"),
        }
    }
}

impl std::error::Error for KeyError {}

/// HKDF-Expand-Label (RFC 8446 §7.1): HKDF-Expand(secret, HkdfLabel, length) with
/// `HkdfLabel = length(2) ‖ len ‖ "tls13 " + label ‖ len ‖ context`.
pub fn hkdf_expand_label(
    hash: HashAlgorithm,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<(), KeyError> {
    let full_label_len = u8::try_from(6 + label.len()).map_err(|_| KeyError::OutputTooLong)?;
    let context_len = u8::try_from(context.len()).map_err(|_| KeyError::OutputTooLong)?;
    let out_len = u16::try_from(out.len()).map_err(|_| KeyError::OutputTooLong)?;
    let out_len = out_len.to_be_bytes();
    let info: [&[u8]; 6] = [
        &out_len,
        &[full_label_len],
        b"tls13 ",
        label,
        &[context_len],
        context,
    ];
    // The traffic secret is already a pseudorandom key (RFC 8446 §7.1 uses it as
    // HKDF-Expand's PRK), so no Extract step.
    let expected = hash.output_len();
    if secret.len() != expected {
        return Err(KeyError::SecretLength {
            expected,
            got: secret.len(),
        });
    }
    let result = match hash {
        HashAlgorithm::Sha256 => Hkdf::<Sha256>::from_prk(secret)
            .map_err(|_| KeyError::SecretLength {
                expected,
                got: secret.len(),
            })?
            .expand_multi_info(&info, out),
        HashAlgorithm::Sha384 => Hkdf::<Sha384>::from_prk(secret)
            .map_err(|_| KeyError::SecretLength {
                expected,
                got: secret.len(),
            })?
            .expand_multi_info(&info, out),
    };
    result.map_err(|_| KeyError::OutputTooLong)
}

/// The write key and IV for records protected under a TLS 1.3 traffic secret
/// (RFC 8446 §7.3): `key = HKDF-Expand-Label(secret, "key", "", key_length)`,
/// `iv = HKDF-Expand-Label(secret, "iv", "", 12)`.
pub fn tls13_traffic_key(params: SuiteParams, secret: &[u8]) -> Result<TrafficKey, KeyError> {
    let mut key = [0; MAX_KEY_LEN];
    let key_slot = key
        .get_mut(..params.cipher.key_len())
        .ok_or(KeyError::OutputTooLong)?;
    hkdf_expand_label(params.hash, secret, b"key", b"", key_slot)?;
    let mut iv = [0; 12];
    hkdf_expand_label(params.hash, secret, b"iv", b"", &mut iv)?;
    Ok(TrafficKey {
        cipher: params.cipher,
        key,
        iv,
        mac_key: [0; MAX_MAC_KEY_LEN],
    })
}

/// The next application traffic secret after a KeyUpdate (RFC 8446 §7.2):
/// `HKDF-Expand-Label(secret, "traffic upd", "", Hash.length)`.
pub fn tls13_next_secret(
    hash: HashAlgorithm,
    secret: &[u8],
) -> Result<crate::decrypt::keylog::Secret, KeyError> {
    let mut next = [0; 48];
    let slot = next
        .get_mut(..hash.output_len())
        .ok_or(KeyError::OutputTooLong)?;
    hkdf_expand_label(hash, secret, b"traffic upd", b"", slot)?;
    crate::decrypt::keylog::Secret::new(slot).ok_or(KeyError::OutputTooLong)
}

/// The TLS 1.2 PRF (RFC 5246 §5): P_hash(secret, label ‖ seed) with HMAC over the
/// suite's hash, filling `out`.
pub fn tls12_prf(hash: HashAlgorithm, secret: &[u8], label: &[u8], seed: &[&[u8]], out: &mut [u8]) {
    match hash {
        HashAlgorithm::Sha256 => p_hash::<Hmac<Sha256>>(secret, label, seed, out),
        HashAlgorithm::Sha384 => p_hash::<Hmac<Sha384>>(secret, label, seed, out),
    }
}

/// P_hash (RFC 5246 §5): A(0) = seed, A(i) = HMAC(secret, A(i-1)),
/// output = HMAC(secret, A(1) ‖ seed) ‖ HMAC(secret, A(2) ‖ seed) ‖ ...
fn p_hash<M: Mac + hmac::digest::KeyInit + Clone>(
    secret: &[u8],
    label: &[u8],
    seed: &[&[u8]],
    out: &mut [u8],
) {
    // HMAC takes keys of any length, so this cannot fail.
    let Ok(keyed) = <M as hmac::digest::KeyInit>::new_from_slice(secret) else {
        return;
    };
    let mut a_mac = keyed.clone();
    a_mac.update(label);
    for part in seed {
        a_mac.update(part);
    }
    let mut a = a_mac.finalize().into_bytes();
    for chunk in out.chunks_mut(a.len()) {
        let mut block = keyed.clone();
        block.update(&a);
        block.update(label);
        for part in seed {
            block.update(part);
        }
        let block = block.finalize().into_bytes();
        let n = chunk.len();
        chunk.copy_from_slice(block.get(..n).unwrap_or(&[]));
        let mut next = keyed.clone();
        next.update(&a);
        a = next.finalize().into_bytes();
    }
}

/// The two directions' keys of a TLS 1.2 AEAD connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tls12Keys {
    pub client_write: TrafficKey,
    pub server_write: TrafficKey,
}

/// The TLS 1.2 key block (RFC 5246 §6.3): `PRF(master_secret, "key expansion",
/// server_random ‖ client_random)` split into client MAC key, server MAC key, client
/// write key, server write key, client IV, server IV. AEAD suites have no MAC keys;
/// the fixed IV is 4 bytes for AES-GCM (RFC 5288 §3) and 12 for ChaCha20-Poly1305
/// (RFC 7905 §2); CBC's IVs are not needed from TLS 1.1 on (each record carries its
/// own), so they are not derived.
pub fn tls12_keys(
    params: SuiteParams,
    master_secret: &[u8],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> Result<Tls12Keys, KeyError> {
    if master_secret.len() != 48 {
        return Err(KeyError::SecretLength {
            expected: 48,
            got: master_secret.len(),
        });
    }
    let mac_len = params.cipher.mac().map_or(0, MacAlgorithm::output_len);
    let key_len = params.cipher.key_len();
    let iv_len = match params.cipher {
        CipherAlgorithm::Aes128Gcm | CipherAlgorithm::Aes256Gcm => 4,
        CipherAlgorithm::ChaCha20Poly1305 => 12,
        CipherAlgorithm::Aes128Cbc(_) | CipherAlgorithm::Aes256Cbc(_) => 0,
    };
    let mut block = [0u8; 2 * (MAX_MAC_KEY_LEN + MAX_KEY_LEN + 12)];
    let block = block
        .get_mut(..2 * (mac_len + key_len + iv_len))
        .ok_or(KeyError::OutputTooLong)?;
    tls12_prf(
        params.hash,
        master_secret,
        b"key expansion",
        &[server_random, client_random],
        block,
    );
    let take = |from: usize, len: usize| block.get(from..from + len).unwrap_or(&[]);
    let make = |mac_at: usize, key_at: usize, iv_at: usize| {
        let mut key = [0; MAX_KEY_LEN];
        let mut iv = [0; 12];
        let mut mac_key = [0; MAX_MAC_KEY_LEN];
        if let (Some(m), Some(k), Some(i)) = (
            mac_key.get_mut(..mac_len),
            key.get_mut(..key_len),
            iv.get_mut(..iv_len),
        ) {
            m.copy_from_slice(take(mac_at, mac_len));
            k.copy_from_slice(take(key_at, key_len));
            i.copy_from_slice(take(iv_at, iv_len));
        }
        TrafficKey {
            cipher: params.cipher,
            key,
            iv,
            mac_key,
        }
    };
    let keys_at = 2 * mac_len;
    let ivs_at = keys_at + 2 * key_len;
    Ok(Tls12Keys {
        client_write: make(0, keys_at, ivs_at),
        server_write: make(mac_len, keys_at + key_len, ivs_at + iv_len),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decrypt::rfc8448::{self, hex};

    const AES128: SuiteParams = SuiteParams {
        version: ProtocolVersion::Tls13,
        cipher: CipherAlgorithm::Aes128Gcm,
        hash: HashAlgorithm::Sha256,
    };

    #[test]
    fn test_hkdf_expand_label_rfc8448_handshake_secrets() {
        // RFC 8448 §3: c/s hs traffic = Derive-Secret(HS, label, CH..SH)
        // = HKDF-Expand-Label(HS, label, Hash(CH..SH), 32).
        let hs = hex(rfc8448::HANDSHAKE_SECRET);
        let transcript = hex(rfc8448::HASH_CH_SH);
        let mut out = [0; 32];
        hkdf_expand_label(
            HashAlgorithm::Sha256,
            &hs,
            b"c hs traffic",
            &transcript,
            &mut out,
        )
        .unwrap();
        assert_eq!(out.to_vec(), hex(rfc8448::CLIENT_HS_SECRET));
        hkdf_expand_label(
            HashAlgorithm::Sha256,
            &hs,
            b"s hs traffic",
            &transcript,
            &mut out,
        )
        .unwrap();
        assert_eq!(out.to_vec(), hex(rfc8448::SERVER_HS_SECRET));
    }

    #[test]
    fn test_tls13_traffic_keys_rfc8448() {
        for (secret, key, iv) in [
            (
                rfc8448::SERVER_HS_SECRET,
                rfc8448::SERVER_HS_KEY,
                rfc8448::SERVER_HS_IV,
            ),
            (
                rfc8448::CLIENT_HS_SECRET,
                rfc8448::CLIENT_HS_KEY,
                rfc8448::CLIENT_HS_IV,
            ),
            (
                rfc8448::SERVER_AP_SECRET,
                rfc8448::SERVER_AP_KEY,
                rfc8448::SERVER_AP_IV,
            ),
            (
                rfc8448::CLIENT_AP_SECRET,
                rfc8448::CLIENT_AP_KEY,
                rfc8448::CLIENT_AP_IV,
            ),
        ] {
            let k = tls13_traffic_key(AES128, &hex(secret)).unwrap();
            assert_eq!(k.key(), hex(key).as_slice());
            assert_eq!(k.iv.to_vec(), hex(iv));
        }
    }

    #[test]
    fn test_tls13_wrong_secret_length() {
        let sha384 = SuiteParams {
            hash: HashAlgorithm::Sha384,
            cipher: CipherAlgorithm::Aes256Gcm,
            ..AES128
        };
        assert_eq!(
            tls13_traffic_key(sha384, &[0; 32]),
            Err(KeyError::SecretLength {
                expected: 48,
                got: 32
            })
        );
        assert_eq!(tls13_traffic_key(sha384, &[0; 48]).unwrap().key().len(), 32);
    }

    #[test]
    fn test_key_update_secret_is_expand_label_traffic_upd() {
        // RFC 8446 §7.2 defines the next secret by HKDF-Expand-Label; check it against
        // the label encoding spelled out by hand (HMAC, one block, RFC 5869 §2.3).
        let secret = hex(rfc8448::CLIENT_AP_SECRET);
        let next = tls13_next_secret(HashAlgorithm::Sha256, &secret).unwrap();
        let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(&secret).unwrap();
        mac.update(&[0, 32, 17]);
        mac.update(b"tls13 traffic upd");
        mac.update(&[0, 1]);
        assert_eq!(next.as_bytes(), mac.finalize().into_bytes().as_slice());
        assert_ne!(next.as_bytes(), secret.as_slice());
    }

    #[test]
    fn test_tls12_prf_sha256_known_answer() {
        // The widely used TLS 1.2 PRF-SHA256 test vector (IETF TLS WG mailing list,
        // also in Go's and BoringSSL's tests): secret, "test label", seed → 100 bytes.
        let secret = hex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35");
        let seed = hex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c");
        let mut out = [0u8; 100];
        tls12_prf(
            HashAlgorithm::Sha256,
            &secret,
            b"test label",
            &[&seed],
            &mut out,
        );
        assert_eq!(
            out.to_vec(),
            hex(
                "e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53 c2 aa b2 1d 07 c3 d4 95 \
                 32 9b 52 d4 e6 1e db 5a 6b 30 17 91 e9 0d 35 c9 c9 a4 6b 4e 14 ba f9 af \
                 0f a0 22 f7 07 7d ef 17 ab fd 37 97 c0 56 4b ab 4f bc 91 66 6e 9d ef 9b \
                 97 fc e3 4f 79 67 89 ba a4 80 82 d1 22 ee 42 c5 a7 2e 5a 51 10 ff f7 01 \
                 87 34 7b 66"
            )
        );
    }

    #[test]
    fn test_tls12_key_block_split() {
        let params = CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
            .params()
            .unwrap();
        let master = [7u8; 48];
        let (cr, sr) = ([1u8; 32], [2u8; 32]);
        let keys = tls12_keys(params, &master, &cr, &sr).unwrap();
        let mut block = [0u8; 40];
        tls12_prf(
            HashAlgorithm::Sha256,
            &master,
            b"key expansion",
            &[&sr, &cr],
            &mut block,
        );
        assert_eq!(keys.client_write.key(), &block[..16]);
        assert_eq!(keys.server_write.key(), &block[16..32]);
        assert_eq!(&keys.client_write.iv[..4], &block[32..36]);
        assert_eq!(&keys.server_write.iv[..4], &block[36..40]);
        assert_eq!(keys.client_write.iv[4..], [0; 8]);
        assert!(keys.client_write.mac_key().is_empty());
        // CBC with HMAC-SHA1: MAC keys (20 each) come first, then the AES keys.
        let cbc = CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
            .params()
            .unwrap();
        let keys = tls12_keys(cbc, &master, &cr, &sr).unwrap();
        let mut block = [0u8; 72];
        tls12_prf(
            HashAlgorithm::Sha256,
            &master,
            b"key expansion",
            &[&sr, &cr],
            &mut block,
        );
        assert_eq!(keys.client_write.mac_key(), &block[..20]);
        assert_eq!(keys.server_write.mac_key(), &block[20..40]);
        assert_eq!(keys.client_write.key(), &block[40..56]);
        assert_eq!(keys.server_write.key(), &block[56..72]);
        assert_eq!(
            tls12_keys(params, &[0; 32], &cr, &sr),
            Err(KeyError::SecretLength {
                expected: 48,
                got: 32
            })
        );
    }

    #[test]
    fn test_suite_table() {
        assert_eq!(
            CipherSuite(0xc02b).params().unwrap().version,
            ProtocolVersion::Tls12
        );
        assert_eq!(
            CipherSuite(0x1302).params().unwrap().hash,
            HashAlgorithm::Sha384
        );
        assert_eq!(
            CipherSuite(0xcca8).params().unwrap().cipher,
            CipherAlgorithm::ChaCha20Poly1305
        );
        assert_eq!(
            CipherSuite(0xc028).params().unwrap().cipher,
            CipherAlgorithm::Aes256Cbc(MacAlgorithm::Sha384)
        );
        // 3DES (TLS_RSA_WITH_3DES_EDE_CBC_SHA) is not decrypted.
        assert_eq!(CipherSuite(0x000a).params(), None);
    }
}
