//! Passwords are stored only as argon2id hashes (OWASP: 19 MiB, 2 passes, 1 lane).

use std::sync::{Condvar, Mutex, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::AppError;

/// Each argon2id computation takes 19 MiB; a burst of logins must not take
/// 19 MiB × every blocking thread. At most one per CPU run at a time.
struct Permits {
    free: Mutex<usize>,
    freed: Condvar,
}

struct Permit(&'static Permits);

impl Drop for Permit {
    fn drop(&mut self) {
        if let Ok(mut free) = self.0.free.lock() {
            *free += 1;
        }
        self.0.freed.notify_one();
    }
}

fn permit() -> Permit {
    static PERMITS: OnceLock<Permits> = OnceLock::new();
    let permits = PERMITS.get_or_init(|| Permits {
        free: Mutex::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)),
        freed: Condvar::new(),
    });
    let mut free = permits.free.lock().unwrap_or_else(|e| e.into_inner());
    while *free == 0 {
        free = permits.freed.wait(free).unwrap_or_else(|e| e.into_inner());
    }
    *free -= 1;
    Permit(permits)
}

fn hasher() -> Result<Argon2<'static>, AppError> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|e| AppError::Internal(format!("argon2 params: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

pub fn hash(password: &str) -> Result<String, AppError> {
    let _permit = permit();
    let salt = SaltString::encode_b64(uuid::Uuid::new_v4().as_bytes())
        .map_err(|e| AppError::Internal(format!("salt: {e}")))?;
    hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("hash: {e}")))
}

/// Checks a password against a stored hash, using the parameters in the hash.
pub fn verify(password: &str, stored: &str) -> bool {
    let _permit = permit();
    PasswordHash::new(stored)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// Spends the same time as a real check, so that an unknown email answers as
/// slowly as a known one.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    if let Some(stored) = DUMMY.get_or_init(|| hash("dummy-password-for-timing").ok()) {
        verify(password, stored);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters() {
        let h = hash("correct horse 1").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse 1", &h));
        assert!(!verify("wrong horse 1", &h));
        assert!(!verify("anything", "not a hash"));
    }
}
