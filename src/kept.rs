//! A value read from the database and kept in memory for a short while.
//!
//! Some rows change only when a city file is applied (the city's names, the
//! open programs) yet every page shows them. Each is kept for [`KEEP`]: the
//! instance that applies a city file forgets it at once
//! (`AppState::forget_city`); other instances, and a running server after
//! `naju-helper city apply`, show the change within [`KEEP`].

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long a kept value is used before it is read again.
pub const KEEP: Duration = Duration::from_secs(30);

pub struct Kept<T> {
    slot: RwLock<Option<(Instant, Arc<T>)>>,
}

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Kept { slot: RwLock::new(None) }
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

    /// Keeps `value` from now on and returns it.
    pub fn put(&self, value: T) -> Arc<T> {
        let value = Arc::new(value);
        if let Ok(mut guard) = self.slot.write() {
            *guard = Some((Instant::now(), value.clone()));
        }
        value
    }

    /// The fresh value, or what `load` reads (then kept).
    pub fn get_or_load<E>(&self, load: impl FnOnce() -> Result<T, E>) -> Result<Arc<T>, E> {
        match self.fresh() {
            Some(v) => Ok(v),
            None => Ok(self.put(load()?)),
        }
    }

    /// Drops the value: the next use reads it again.
    pub fn forget(&self) {
        if let Ok(mut guard) = self.slot.write() {
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
    fn a_failed_read_keeps_nothing_and_an_old_value_is_still_there_as_last() {
        let kept: Kept<u32> = Kept::default();
        assert_eq!(kept.get_or_load(|| Err::<u32, &str>("down")), Err("down"));
        assert!(kept.last().is_none());
        kept.put(3);
        // Make it stale: rewrite its time as older than KEEP.
        if let Ok(mut g) = kept.slot.write() {
            let v = g.take().unwrap().1;
            *g = Some((Instant::now() - KEEP - Duration::from_secs(1), v));
        }
        assert!(kept.fresh().is_none(), "older than KEEP is not fresh");
        assert_eq!(kept.last().as_deref(), Some(&3));
    }
}
