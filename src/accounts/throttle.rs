//! Failed-login throttling per account and per IP. Counters are updated with
//! single conditional statements so concurrent failures are all counted.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::crypto::keyed_hash;
use crate::db::schema::login_throttle as lt;
use crate::db::{is_unique_violation, DbConn};
use crate::error::AppError;

pub fn account_key(secret: &str, email: &str) -> String {
    keyed_hash(secret, "throttle-account", email)
}

pub fn ip_key(secret: &str, ip: &str) -> String {
    keyed_hash(secret, "throttle-ip", ip)
}

/// Minutes left (rounded up) if any of the keys is locked.
pub fn locked_minutes(conn: &mut DbConn, keys: &[&str], now: NaiveDateTime) -> Result<Option<i64>, AppError> {
    let until: Option<Option<NaiveDateTime>> = lt::table
        .filter(lt::key.eq_any(keys))
        .filter(lt::locked_until.gt(now))
        .select(diesel::dsl::max(lt::locked_until))
        .first(conn)
        .optional()?;
    Ok(until.flatten().map(|t| ((t - now).num_seconds() + 59) / 60))
}

/// Counts one attempt against `key` within `window` (a new window starts when
/// the old one has passed) and returns the count. Each step is one atomic
/// statement, so attempts sent in parallel are all counted.
pub fn count_attempt(conn: &mut DbConn, key: &str, now: NaiveDateTime, window: Duration) -> Result<i32, AppError> {
    let window = chrono::Duration::from_std(window).unwrap_or_else(|_| chrono::Duration::minutes(15));
    let window_start = now - window;
    for _ in 0..3 {
        let counted = diesel::update(lt::table.find(key).filter(lt::window_started_at.gt(window_start)))
            .set(lt::failures.eq(lt::failures + 1))
            .execute(conn)?;
        if counted == 0 {
            let restarted = diesel::update(lt::table.find(key).filter(lt::window_started_at.le(window_start)))
                .set((lt::failures.eq(1), lt::window_started_at.eq(now), lt::locked_until.eq(None::<NaiveDateTime>)))
                .execute(conn)?;
            if restarted == 0 {
                let inserted = diesel::insert_into(lt::table)
                    .values((lt::key.eq(key), lt::failures.eq(1), lt::window_started_at.eq(now)))
                    .execute(conn);
                match inserted {
                    // Someone else created or renewed the row meanwhile: count again.
                    Err(e) if is_unique_violation(&e) => continue,
                    other => {
                        other?;
                    }
                }
            }
        }
        return Ok(lt::table.find(key).select(lt::failures).first(conn)?);
    }
    Err(AppError::Internal("login throttle: could not count the attempt".into()))
}

/// Pauses logins for `key` for `lock`.
pub fn lock(conn: &mut DbConn, key: &str, now: NaiveDateTime, lock: Duration) -> Result<(), AppError> {
    let lock = chrono::Duration::from_std(lock).unwrap_or_else(|_| chrono::Duration::minutes(15));
    diesel::update(lt::table.find(key)).set(lt::locked_until.eq(now + lock)).execute(conn)?;
    Ok(())
}

/// Takes back one counted attempt (a successful login from this IP).
pub fn forgive(conn: &mut DbConn, key: &str) -> Result<(), AppError> {
    diesel::update(lt::table.find(key).filter(lt::failures.gt(0)))
        .set(lt::failures.eq(lt::failures - 1))
        .execute(conn)?;
    Ok(())
}

pub fn clear(conn: &mut DbConn, key: &str) -> Result<(), AppError> {
    diesel::delete(lt::table.find(key)).execute(conn)?;
    Ok(())
}
