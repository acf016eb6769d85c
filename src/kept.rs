//! A value read from the database and kept in memory for a short while.
//!
//! Some rows change only when a city file is applied (the city's names, the
//! open programs) yet every page shows them. Each is kept for [`KEEP`]: the
//! instance that applies a city file forgets it at once
//! (`AppState::forget_city`); other instances, and a running server after
//! `naju-helper city apply`, show the change within [`KEEP`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long a kept value is used before it is read again.
pub const KEEP: Duration = Duration::from_secs(30);

pub struct Kept<T> {
    slot: RwLock<Option<(Instant, Arc<T>)>>,
    /// How many times the value was forgotten: a value read before a
    /// `forget` (a city file committed while it was being read) is not kept.
    forgotten: AtomicU64,
}

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Kept { slot: RwLock::new(None), forgotten: AtomicU64::new(0) }
    }
}

impl<T> Kept<T> {
    /// The kept value if it was read less than [`KEEP`] ago.
    pub fn fresh(&self) -> Option<Arc<T>> {
        self.slot.read().ok()?.as_ref().filter(|(at, _)| at.elapsed() < KEEP).map(|(_, v)| v.clone())
    }

    /// The kept value, however old (for when it cannot be read again now).
    pub fn last(&self) -> Option<Arc<T>> {
        self.slot.read().ok()?.as_ref().map(|(_, v)| v.clone())
    }

    /// The fresh value, or what `load` reads: kept, unless the value was
    /// forgotten while it was being read (then only this caller gets it).
    pub fn get_or_load<E>(&self, load: impl FnOnce() -> Result<T, E>) -> Result<Arc<T>, E> {
        if let Some(v) = self.fresh() {
            return Ok(v);
        }
        let seen = self.forgotten.load(Ordering::SeqCst);
        let value = Arc::new(load()?);
        if let Ok(mut guard) = self.slot.write() {
            if self.forgotten.load(Ordering::SeqCst) == seen {
                *guard = Some((Instant::now(), value.clone()));
            }
        }
        Ok(value)
    }

    /// Drops the value: the next use reads it again.
    pub fn forget(&self) {
        if let Ok(mut guard) = self.slot.write() {
            self.forgotten.fetch_add(1, Ordering::SeqCst);
            *guard = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_read_once_then_kept_until_forgotten() {
        let kept: Kept<u32> = Kept::default();
        let reads = std::cell::Cell::new(0);
        let load = || -> Result<u32, ()> {
            reads.set(reads.get() + 1);
            Ok(7)
        };
        assert_eq!(*kept.get_or_load(load).unwrap(), 7);
        assert_eq!(*kept.get_or_load(load).unwrap(), 7);
        assert_eq!(reads.get(), 1, "the second use must not read again");
        kept.forget();
        assert!(kept.fresh().is_none() && kept.last().is_none());
        assert_eq!(*kept.get_or_load(load).unwrap(), 7);
        assert_eq!(reads.get(), 2, "after forget the value is read again");
    }

    #[test]
    fn a_value_read_while_it_was_forgotten_is_not_kept() {
        let kept: Kept<&str> = Kept::default();
        // A city file commits and its instance forgets the names while a
        // request is still reading the old ones.
        let old = kept.get_or_load(|| {
            kept.forget();
            Ok::<_, ()>("old")
        });
        assert_eq!(old.as_deref(), Ok(&"old"), "the reader gets what it read");
        assert!(kept.last().is_none(), "but it is not kept");
        assert_eq!(*kept.get_or_load(|| Ok::<_, ()>("new")).unwrap(), "new");
        assert_eq!(kept.last().as_deref(), Some(&"new"));
    }

    #[test]
    fn a_failed_read_keeps_nothing_and_an_old_value_is_still_there_as_last() {
        let kept: Kept<u32> = Kept::default();
        assert_eq!(kept.get_or_load(|| Err::<u32, &str>("down")), Err("down"));
        assert!(kept.last().is_none());
        kept.get_or_load(|| Ok::<u32, ()>(3)).unwrap();
        // Make it stale: rewrite its time as older than KEEP.
        if let Ok(mut g) = kept.slot.write() {
            let v = g.take().unwrap().1;
            *g = Some((Instant::now() - KEEP - Duration::from_secs(1), v));
        }
        assert!(kept.fresh().is_none(), "older than KEEP is not fresh");
        assert_eq!(kept.last().as_deref(), Some(&3));
    }
}
