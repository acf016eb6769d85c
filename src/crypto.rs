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
    digest[..32].iter().map(|b| format!("{b:02x}")).collect()
}

/// 244 random bits from the OS, as 64 hex characters.
pub fn random_token() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}
