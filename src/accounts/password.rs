//! Passwords are stored only as argon2id hashes (OWASP: 19 MiB, 2 passes, 1 lane).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::AppError;

type Job = Box<dyn FnOnce() + Send>;

/// How many argon2 computations run at once: one less than the CPUs (at
/// least one), so that a stream of logins always leaves a core to the page
/// views. Argon2id takes 19 MiB per computation; running it only on these
/// dedicated threads also keeps that memory in their allocator arenas instead
/// of every blocking thread that happened to serve a login.
pub fn hash_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).saturating_sub(1).max(1)
}

/// Logins (and password changes) waiting or hashing at most, per hashing
/// thread; the next one is answered "busy, try again" (`AppError::Busy`)
/// at once instead of piling up.
const QUEUE_PER_THREAD: usize = 8;

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

fn queue() -> Result<&'static Mutex<mpsc::Sender<Job>>, AppError> {
    static QUEUE: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    Ok(QUEUE.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(Mutex::new(rx));
        for i in 0..hash_threads() {
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
    }))
}

fn submit(job: Job) -> Result<(), AppError> {
    queue()?
        .lock()
        .map_err(|_| AppError::Internal("hash queue poisoned".into()))?
        .send(job)
        .map_err(|_| AppError::Internal("hash threads gone".into()))
}

/// A place in the hashing queue, taken before a login is counted (so a
/// visitor turned away as busy loses no attempt) and given back when its
/// computation is done or abandoned.
pub struct Turn(());

impl Drop for Turn {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A place in the queue, or `AppError::Busy` when it is full.
pub fn take_turn() -> Result<Turn, AppError> {
    let limit = hash_threads() * QUEUE_PER_THREAD;
    IN_FLIGHT
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < limit).then_some(n + 1))
        .map(|_| Turn(()))
        .map_err(|_| AppError::Busy)
}

impl Turn {
    /// Runs `job` on a hashing thread; the caller's task waits without
    /// holding a thread of its own.
    async fn run<T: Send + 'static>(self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        submit(Box::new(move || {
            let value = job();
            drop(self);
            let _ = done_tx.send(value);
        }))?;
        done_rx.await.map_err(|_| AppError::Internal("hash job lost".into()))
    }

    pub async fn hash(self, password: &str) -> Result<String, AppError> {
        let password = password.to_string();
        self.run(move || hash_now(&password)).await?
    }

    /// Checks a password against a stored hash; `None` for no account, which
    /// spends the same time on a dummy hash, so an unknown email answers as
    /// slowly as a known one.
    pub async fn verify(self, password: &str, stored: Option<&str>) -> Result<bool, AppError> {
        let (password, stored) = (password.to_string(), stored.map(str::to_string));
        self.run(move || match stored {
            Some(stored) => verify_now(&password, &stored),
            None => {
                if let Some(dummy) = dummy_hash() {
                    verify_now(&password, dummy);
                }
                false
            }
        })
        .await
    }
}

/// Runs `job` on a hashing thread and waits for it, outside the queue's
/// bound (for the command line and the demo data, never for a request).
fn on_hash_threads<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
    let (done_tx, done_rx) = mpsc::channel();
    submit(Box::new(move || {
        let _ = done_tx.send(job());
    }))?;
    done_rx.recv().map_err(|_| AppError::Internal("hash job lost".into()))
}

fn hasher() -> Result<Argon2<'static>, AppError> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|e| AppError::Internal(format!("argon2 params: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_now(password: &str) -> Result<String, AppError> {
    let salt = SaltString::encode_b64(uuid::Uuid::new_v4().as_bytes()).map_err(|e| AppError::Internal(format!("salt: {e}")))?;
    hasher()?.hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| AppError::Internal(format!("hash: {e}")))
}

fn verify_now(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()).unwrap_or(false)
}

/// Made once, on a hashing thread, the first time an unknown email signs in.
fn dummy_hash() -> Option<&'static str> {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    DUMMY.get_or_init(|| hash_now("dummy-password-for-timing").ok()).as_deref()
}

/// Hashes a password on a hashing thread and waits (command line, demo data).
pub fn hash(password: &str) -> Result<String, AppError> {
    let password = password.to_string();
    on_hash_threads(move || hash_now(&password))?
}

/// Checks a password against a stored hash, using the parameters in the hash
/// (command line and tests; requests use `Turn::verify`).
pub fn verify(password: &str, stored: &str) -> bool {
    let (password, stored) = (password.to_string(), stored.to_string());
    on_hash_threads(move || verify_now(&password, &stored)).unwrap_or(false)
}

/// `bench-argon2 [--seconds N]`: argon2id hashes per second with the app's
/// parameters, one thread per CPU, each hashing for N seconds. Printed as
/// one line `argon2_hashes_per_s=<float>` (benches/bench.py reads it to put
/// logins/s in proportion).
pub fn bench(seconds: f64) -> Result<f64, AppError> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let started = std::time::Instant::now();
    let budget = std::time::Duration::from_secs_f64(seconds.max(0.1));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || -> Result<usize, AppError> {
                let mut n = 0;
                while started.elapsed() < budget {
                    hash_now("bench-argon2-password")?;
                    n += 1;
                }
                Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for w in workers {
        total += w.join().map_err(|_| AppError::Internal("bench thread panicked".into()))??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
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

    #[test]
    fn the_queue_turns_visitors_away_when_full_and_frees_places() {
        let limit = hash_threads() * QUEUE_PER_THREAD;
        let turns: Vec<Turn> = std::iter::from_fn(|| take_turn().ok()).take(limit + 1).collect();
        // Other tests of this binary may hold a place or two at the same time.
        assert!(turns.len() <= limit && turns.len() + 2 >= limit, "{} places of {limit}", turns.len());
        assert!(matches!(take_turn(), Err(AppError::Busy)));
        drop(turns);
        let turn = take_turn().expect("a place once the others are given back");
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let h = rt.block_on(turn.hash("correct horse 2")).unwrap();
        assert!(rt.block_on(take_turn().unwrap().verify("correct horse 2", Some(&h))).unwrap());
        assert!(!rt.block_on(take_turn().unwrap().verify("correct horse 2", None)).unwrap());
    }
}
