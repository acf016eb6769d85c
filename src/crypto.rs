//! Keyed hashing with SECRET_KEY: session tokens and throttle keys are stored
//! only as hashes, so the database holds neither live tokens nor emails/IPs
//! for throttling.

use blake2::{Blake2b512, Digest};

pub fn keyed_hash(secret: &str, purpose: &str, value: &str) -> String {
    let digest = Blake2b512::new()
        .chain_update(secret.as_bytes())
        .chain_update([0u8])
        .chain_update(purpose.as_bytes())
        .chain_update([0u8])
        .chain_update(value.as_bytes())
        .finalize();
    // hex::encode: one allocation (a format! per byte was 32, on every request's session lookup).
    hex::encode(&digest[..32])
}

/// 244 random bits from the OS, as 64 hex characters. Templates print the
/// CSRF token unescaped (`csrf_token | safe` in `base.html`, `_nav_user.html`)
/// because it is hex: keep it free of HTML's special characters.
pub fn random_token() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// Keys for documents at rest (AES-256-GCM): the current one seals, the
/// current and the old ones open (key rotation). Never printed.
#[derive(Clone)]
pub struct DocumentKeys {
    current: [u8; 32],
    old: Vec<[u8; 32]>,
}

impl std::fmt::Debug for DocumentKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DocumentKeys(current {}, {} old)", key_id(&self.current), self.old.len())
    }
}

/// A sealed document: which key, the nonce and ciphertext (with its tag).
pub struct Sealed {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// A short public name of a key (its hash), stored beside each ciphertext.
pub fn key_id(key: &[u8; 32]) -> String {
    let digest = Blake2b512::new().chain_update(b"naju-helper document key id\0").chain_update(key).finalize();
    hex::encode(&digest[..8])
}

/// Reads a key written as 64 hex characters.
pub fn parse_key(text: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(text.trim()).map_err(|_| "a document key is 64 hex characters (32 bytes)".to_string())?;
    bytes.try_into().map_err(|_| "a document key is 64 hex characters (32 bytes)".to_string())
}

/// A new random key as 64 hex characters.
pub fn new_key() -> String {
    use aes_gcm::aead::{KeyInit, OsRng};
    hex::encode(aes_gcm::Aes256Gcm::generate_key(OsRng))
}

impl DocumentKeys {
    pub fn new(current: [u8; 32], old: Vec<[u8; 32]>) -> DocumentKeys {
        DocumentKeys { current, old }
    }

    pub fn current_id(&self) -> String {
        key_id(&self.current)
    }

    /// Encrypts under the current key; `aad` (the document's id) binds the
    /// ciphertext to its record, so it cannot be swapped onto another.
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Result<Sealed, String> {
        use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
        let cipher = aes_gcm::Aes256Gcm::new(&self.current.into());
        let nonce = aes_gcm::Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = cipher.encrypt(&nonce, Payload { msg: plain, aad }).map_err(|_| "encryption failed".to_string())?;
        Ok(Sealed { key_id: self.current_id(), nonce: nonce.to_vec(), ciphertext })
    }

    /// Decrypts with the key named by `key_id`; fails on any alteration.
    pub fn open(&self, key_id: &str, nonce: &[u8], aad: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, String> {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let key = std::iter::once(&self.current)
            .chain(self.old.iter())
            .find(|k| self::key_id(k) == key_id)
            .ok_or_else(|| format!("document key {key_id} is not configured (DOCUMENT_KEY / DOCUMENT_KEYS_OLD)"))?;
        if nonce.len() != 12 {
            return Err("bad nonce".into());
        }
        let cipher = aes_gcm::Aes256Gcm::new(key.into());
        cipher
            .decrypt(aes_gcm::Nonce::from_slice(nonce), Payload { msg: ciphertext, aad })
            .map_err(|_| "document failed its integrity check (altered, or the wrong key)".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_sealed_bound_to_their_record_and_opened_after_rotation() {
        let a = parse_key(&new_key()).unwrap();
        let b = parse_key(&new_key()).unwrap();
        let keys = DocumentKeys::new(a, vec![]);
        let sealed = keys.seal(b"doc-1", b"%PDF-1.4 secret").unwrap();
        assert_ne!(sealed.ciphertext, b"%PDF-1.4 secret".to_vec());
        assert_eq!(keys.open(&sealed.key_id, &sealed.nonce, b"doc-1", &sealed.ciphertext).unwrap(), b"%PDF-1.4 secret");
        assert!(keys.open(&sealed.key_id, &sealed.nonce, b"doc-2", &sealed.ciphertext).is_err(), "bound to its record");
        let mut altered = sealed.ciphertext.clone();
        altered[0] ^= 1;
        assert!(keys.open(&sealed.key_id, &sealed.nonce, b"doc-1", &altered).is_err(), "alteration is detected");
        // After rotation the old key still opens what it sealed.
        let rotated = DocumentKeys::new(b, vec![a]);
        assert_eq!(rotated.open(&sealed.key_id, &sealed.nonce, b"doc-1", &sealed.ciphertext).unwrap(), b"%PDF-1.4 secret");
        assert_ne!(rotated.current_id(), sealed.key_id);
        assert!(DocumentKeys::new(b, vec![]).open(&sealed.key_id, &sealed.nonce, b"doc-1", &sealed.ciphertext).is_err());
        assert!(parse_key("abc").is_err());
    }
}
