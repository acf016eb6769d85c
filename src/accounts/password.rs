//! Passwords are stored only as argon2id hashes (OWASP: 19 MiB, 2 passes, 1 lane).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};

use std::cell::RefCell;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

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
const QUEUE_PER_THREAD: usize = 64;

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

/// Argon2 on the memory of this (hashing) thread, allocated once and reused.
/// `Argon2::hash_password_into` allocates its 19 MiB on every call, 64-byte
/// aligned; glibc serves such a request from the thread's arena a little
/// larger than the block it freed the time before, so the freed block was not
/// reused and each login grew the arena by another 19 MiB (about 120 MiB per
/// hashing thread after a few logins, measured; most of the server's peak).
fn argon2_into(argon: &Argon2, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<(), argon2::Error> {
    thread_local! {
        static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
    }
    BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        let n = argon.params().block_count();
        if blocks.len() < n {
            *blocks = vec![Block::default(); n];
        }
        argon.hash_password_into_with_memory(password, salt, out, &mut blocks[..n])
    })
}

fn hash_now(password: &str) -> Result<String, AppError> {
    let err = |e: &dyn std::fmt::Display| AppError::Internal(format!("hash: {e}"));
    let salt = SaltString::encode_b64(uuid::Uuid::new_v4().as_bytes()).map_err(|e| err(&e))?;
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buf).map_err(|e| err(&e))?;
    let argon = hasher()?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(&argon, password.as_bytes(), salt_bytes, &mut out).map_err(|e| err(&e))?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params()).map_err(|e| err(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| err(&e))?),
    };
    Ok(phc.to_string())
}

/// Checks `password` against a PHC string, with the algorithm, version and
/// parameters stored in it; false for anything unreadable.
fn verify_now(password: &str, stored: &str) -> bool {
    let check = || -> Option<bool> {
        let parsed = PasswordHash::new(stored).ok()?;
        let expected = parsed.hash?;
        let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
        let version = parsed.version.map(Version::try_from).transpose().ok()?.unwrap_or_default();
        let params = Params::try_from(&parsed).ok()?;
        let mut salt_buf = [0u8; 64];
        let salt = parsed.salt?.decode_b64(&mut salt_buf).ok()?;
        let mut out = vec![0u8; expected.len()];
        argon2_into(&Argon2::new(algorithm, version, params), password.as_bytes(), salt, &mut out).ok()?;
        Some(bool::from(out.as_slice().ct_eq(expected.as_bytes())))
    };
    check().unwrap_or(false)
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
        // The same PHC strings as the argon2 crate's own hasher and verifier.
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        assert!(Argon2::default().verify_password(b"correct horse 1", &PasswordHash::new(&h).unwrap()).is_ok());
        let theirs = hasher().unwrap().hash_password(b"correct horse 3", &SaltString::encode_b64(b"0123456789abcdef").unwrap()).unwrap().to_string();
        assert!(verify("correct horse 3", &theirs));
        assert!(!verify("correct horse 1", &theirs));
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
