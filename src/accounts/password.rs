//! Passwords are stored only as argon2id hashes (OWASP: 19 MiB, 2 passes, 1 lane).

use std::sync::{mpsc, Mutex, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::AppError;

/// Argon2id takes 19 MiB per computation. It runs on a few dedicated threads
/// (one per CPU) so that only their allocator arenas ever hold that memory,
/// instead of every blocking thread that happened to serve a login.
fn on_hash_threads<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
    type Job = Box<dyn FnOnce() + Send>;
    static QUEUE: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(Mutex::new(rx));
        for i in 0..std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2) {
            let rx = rx.clone();
            let _ = std::thread::Builder::new().name(format!("argon2-{i}")).spawn(move || loop {
                let next = rx.lock().map(|r| r.recv());
                match next {
                    Ok(Ok(job)) => job(),
                    _ => return,
                }
            });
        }
        Mutex::new(tx)
    });
    let (done_tx, done_rx) = mpsc::channel();
    let job: Job = Box::new(move || {
        let _ = done_tx.send(job());
    });
    queue
        .lock()
        .map_err(|_| AppError::Internal("hash queue poisoned".into()))?
        .send(job)
        .map_err(|_| AppError::Internal("hash threads gone".into()))?;
    done_rx.recv().map_err(|_| AppError::Internal("hash job lost".into()))
}

fn hasher() -> Result<Argon2<'static>, AppError> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|e| AppError::Internal(format!("argon2 params: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

pub fn hash(password: &str) -> Result<String, AppError> {
    let password = password.to_string();
    on_hash_threads(move || {
        let salt = SaltString::encode_b64(uuid::Uuid::new_v4().as_bytes()).map_err(|e| AppError::Internal(format!("salt: {e}")))?;
        hasher()?
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(format!("hash: {e}")))
    })?
}

/// Checks a password against a stored hash, using the parameters in the hash.
pub fn verify(password: &str, stored: &str) -> bool {
    let (password, stored) = (password.to_string(), stored.to_string());
    on_hash_threads(move || {
        PasswordHash::new(&stored)
            .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false)
    })
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
