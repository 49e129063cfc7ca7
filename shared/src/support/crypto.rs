//! Encryption of tokens at rest: XChaCha20-Poly1305 with a random 192-bit nonce per value and
//! the owning item's key as associated data, so a ciphertext copied onto another item does
//! not decrypt. Stored form: `v1:<base64(nonce || ciphertext)>`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::support::secret::Secret;

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CipherError {
    #[error(
        "TOKEN_ENCRYPTION_KEY must be 32 bytes encoded as base64 (e.g. `openssl rand -base64 32`)"
    )]
    BadKey,
    #[error("encrypted value is malformed")]
    Malformed,
    #[error("encrypted value does not decrypt with this key and context")]
    Decrypt,
    #[error("no randomness available: {0}")]
    Random(String),
}

/// Encrypts and decrypts tokens with the key from `TOKEN_ENCRYPTION_KEY`.
#[derive(Clone)]
pub struct TokenCipher {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCipher([redacted])")
    }
}

impl TokenCipher {
    /// From the base64 text of a 32-byte key.
    pub fn from_base64(key_b64: &str) -> Result<Self, CipherError> {
        let bytes = B64
            .decode(key_b64.trim())
            .map_err(|_| CipherError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CipherError::BadKey)?;
        Ok(TokenCipher {
            cipher: XChaCha20Poly1305::new(&key.into()),
        })
    }

    /// Encrypts `plain`, bound to `context` (the item's key and attribute).
    pub fn encrypt(&self, plain: &Secret, context: &str) -> Result<String, CipherError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| CipherError::Random(e.to_string()))?;
        let nonce_arr = XNonce::from(nonce);
        let ct = self
            .cipher
            .encrypt(
                &nonce_arr,
                Payload {
                    msg: plain.expose().as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CipherError::Decrypt)?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(format!("{PREFIX}{}", B64.encode(out)))
    }

    /// Decrypts what `encrypt` produced with the same `context`.
    pub fn decrypt(&self, stored: &str, context: &str) -> Result<Secret, CipherError> {
        let b64 = stored.strip_prefix(PREFIX).ok_or(CipherError::Malformed)?;
        let raw = B64.decode(b64).map_err(|_| CipherError::Malformed)?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(CipherError::Malformed);
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CipherError::Malformed)?;
        let plain = self
            .cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CipherError::Decrypt)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| CipherError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes

    #[test]
    fn round_trip_and_no_plaintext() {
        let c = TokenCipher::from_base64(KEY).unwrap();
        let enc = c
            .encrypt(&Secret::new("xoxb-123-abc"), "INSTALL#1/bot")
            .unwrap();
        assert!(enc.starts_with("v1:"));
        assert!(!enc.contains("xoxb"));
        assert_eq!(
            c.decrypt(&enc, "INSTALL#1/bot").unwrap().expose(),
            "xoxb-123-abc"
        );
        // A fresh nonce each time.
        assert_ne!(
            enc,
            c.encrypt(&Secret::new("xoxb-123-abc"), "INSTALL#1/bot")
                .unwrap()
        );
    }

    #[test]
    fn wrong_context_or_key_or_tamper_fails() {
        let c = TokenCipher::from_base64(KEY).unwrap();
        let enc = c.encrypt(&Secret::new("tok"), "a").unwrap();
        assert_eq!(c.decrypt(&enc, "b").unwrap_err(), CipherError::Decrypt);
        let other =
            TokenCipher::from_base64("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY=").unwrap();
        assert_eq!(other.decrypt(&enc, "a").unwrap_err(), CipherError::Decrypt);
        let mut tampered = enc.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(c.decrypt(&tampered, "a").is_err());
        assert_eq!(c.decrypt("plain", "a").unwrap_err(), CipherError::Malformed);
    }

    #[test]
    fn bad_keys_are_refused() {
        assert_eq!(
            TokenCipher::from_base64("short").unwrap_err(),
            CipherError::BadKey
        );
        assert_eq!(
            TokenCipher::from_base64("c2hvcnQ=").unwrap_err(),
            CipherError::BadKey
        );
    }
}
