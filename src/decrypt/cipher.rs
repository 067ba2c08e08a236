//! The record ciphers of TLS decryption: an initialised AEAD (AES-128/256-GCM,
//! ChaCha20-Poly1305) opened in place, and TLS 1.1/1.2 AES-CBC records with their HMAC
//! (MAC-then-encrypt, or encrypt-then-MAC per RFC 7366). Which key, nonce and
//! additional data a record gets is `record`'s business; this only opens it.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, KeyIvInit};
use chacha20poly1305::ChaCha20Poly1305;

use super::keys::{CipherAlgorithm, KeyError, TrafficKey};
use super::record::{ContentType, DecryptError};

pub(super) const TAG_LEN: usize = 16;
/// RFC 5288 §3: the per-record part of the AES-GCM nonce travels in the record.
pub(super) const EXPLICIT_NONCE_LEN: usize = 8;

/// An initialised AEAD. Boxed: the AES key schedules are a few hundred bytes, and a
/// decryptor moves around with its connection.
pub(super) enum Cipher {
    Aes128Gcm(Box<Aes128Gcm>),
    Aes256Gcm(Box<Aes256Gcm>),
    ChaCha20Poly1305(Box<ChaCha20Poly1305>),
    /// CBC needs a fresh decryptor per record (each has its own IV): keep the keys.
    Cbc(Box<TrafficKey>),
}

impl Cipher {
    pub(super) fn new(key: &TrafficKey) -> Result<Cipher, DecryptError> {
        // The key length always matches (TrafficKey is built for its algorithm); the
        // error arm only keeps this panic-free.
        let bad = |_| DecryptError::Key(KeyError::OutputTooLong);
        Ok(match key.cipher {
            CipherAlgorithm::Aes128Gcm => {
                Cipher::Aes128Gcm(Box::new(Aes128Gcm::new_from_slice(key.key()).map_err(bad)?))
            }
            CipherAlgorithm::Aes256Gcm => {
                Cipher::Aes256Gcm(Box::new(Aes256Gcm::new_from_slice(key.key()).map_err(bad)?))
            }
            CipherAlgorithm::ChaCha20Poly1305 => Cipher::ChaCha20Poly1305(Box::new(
                ChaCha20Poly1305::new_from_slice(key.key()).map_err(bad)?,
            )),
            CipherAlgorithm::Aes128Cbc(_) | CipherAlgorithm::Aes256Cbc(_) => {
                Cipher::Cbc(Box::new(*key))
            }
        })
    }

    /// Decrypts `buf` (ciphertext ‖ tag) in place, leaving the plaintext.
    pub(super) fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut Vec<u8>) -> bool {
        let nonce = nonce.into();
        match self {
            Cipher::Aes128Gcm(c) => c.decrypt_in_place(nonce, aad, buf).is_ok(),
            Cipher::Aes256Gcm(c) => c.decrypt_in_place(nonce, aad, buf).is_ok(),
            Cipher::ChaCha20Poly1305(c) => c.decrypt_in_place(nonce, aad, buf).is_ok(),
            Cipher::Cbc(_) => false,
        }
    }
}

const AES_BLOCK: usize = 16;

/// Opens one TLS 1.1/1.2 CBC record (RFC 5246 §6.2.3.2; RFC 7366 §3 when
/// `encrypt_then_mac`) into `buf`. `Ok(false)` is a MAC or padding failure: both are
/// `bad_record_mac` to a TLS peer. (Padding is checked before the MAC in the
/// MAC-then-encrypt case, which a TLS endpoint must not do (Lucky 13); a passive
/// reader offers no oracle, so simplicity wins here.)
pub(super) fn open_cbc(
    key: &TrafficKey,
    encrypt_then_mac: bool,
    seq: u64,
    content_type: ContentType,
    version: u16,
    body: &[u8],
    buf: &mut Vec<u8>,
) -> Result<bool, DecryptError> {
    if version < 0x0302 {
        return Err(DecryptError::ImplicitIv);
    }
    let mac = key.cipher.mac().ok_or(DecryptError::ImplicitIv)?;
    let too_short = DecryptError::RecordTooShort { len: body.len() };
    let header = |len: usize| {
        let mut h = [0u8; 13];
        h[..8].copy_from_slice(&seq.to_be_bytes());
        h[8] = content_type.0;
        h[9..11].copy_from_slice(&version.to_be_bytes());
        h[11..].copy_from_slice(&(len as u16).to_be_bytes());
        h
    };
    let (iv_and_ciphertext, tag) = if encrypt_then_mac {
        let split = body.len().checked_sub(mac.output_len()).ok_or(too_short)?;
        let (data, tag) = body.split_at(split);
        if !mac.verify(key.mac_key(), &[&header(data.len()), data], tag) {
            return Ok(false);
        }
        (data, None)
    } else {
        (body, Some(()))
    };
    let (iv, ciphertext) = iv_and_ciphertext
        .split_at_checked(AES_BLOCK)
        .ok_or(too_short)?;
    if ciphertext.is_empty() || ciphertext.len() % AES_BLOCK != 0 {
        return Err(too_short);
    }
    buf.clear();
    buf.extend_from_slice(ciphertext);
    let decrypted = match key.cipher {
        CipherAlgorithm::Aes128Cbc(_) => {
            cbc::Decryptor::<aes::Aes128>::new_from_slices(key.key(), iv)
                .ok()
                .and_then(|d| d.decrypt_padded_mut::<NoPadding>(buf).ok().map(|_| ()))
        }
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(key.key(), iv)
            .ok()
            .and_then(|d| d.decrypt_padded_mut::<NoPadding>(buf).ok().map(|_| ())),
    };
    if decrypted.is_none() {
        return Ok(false);
    }
    // padding_length bytes each equal to padding_length, then padding_length itself.
    let Some(&pad) = buf.last() else {
        return Ok(false);
    };
    let pad = usize::from(pad) + 1;
    let Some(unpadded) = buf.len().checked_sub(pad) else {
        return Ok(false);
    };
    if !buf
        .get(unpadded..)
        .is_some_and(|p| p.iter().all(|&b| usize::from(b) + 1 == pad))
    {
        return Ok(false);
    }
    buf.truncate(unpadded);
    if tag.is_some() {
        let Some(content_len) = buf.len().checked_sub(mac.output_len()) else {
            return Ok(false);
        };
        let (content, tag) = buf.split_at(content_len);
        if !mac.verify(key.mac_key(), &[&header(content_len), content], tag) {
            return Ok(false);
        }
        buf.truncate(content_len);
    }
    Ok(true)
}
