//! Server-side sessions. The cookie holds a random token; the database holds
//! its keyed hash, the CSRF token and the idle expiry.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::User;
use crate::crypto::{keyed_hash, random_token};
use crate::db::schema::{sessions, users};
use crate::db::{write_one, write_tx, DbConn};
use crate::error::AppError;
use crate::time::now_utc;

#[derive(Queryable, Selectable)]
#[diesel(table_name = sessions)]
struct SessionRow {
    csrf_token: String,
    expires_at: NaiveDateTime,
}

pub struct Loaded {
    pub key: String,
    pub csrf_token: String,
    pub user: Option<User>,
    /// Set when a new anonymous session was created: the cookie to send.
    pub new_token: Option<String>,
}

fn session_key(secret: &str, token: &str) -> String {
    keyed_hash(secret, "session", token)
}

fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or_else(|_| chrono::Duration::minutes(30))
}

fn insert(conn: &mut DbConn, secret: &str, user_id: Option<&str>, idle: Duration) -> Result<(String, String, String), AppError> {
    let token = random_token();
    let key = session_key(secret, &token);
    let csrf = random_token();
    let now = now_utc();
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(&key),
            sessions::user_id.eq(user_id),
            sessions::csrf_token.eq(&csrf),
            sessions::created_at.eq(now),
            sessions::last_seen_at.eq(now),
            sessions::expires_at.eq(now + chrono_dur(idle)),
        ))
        .execute(conn)?;
    Ok((token, key, csrf))
}

/// Starts an anonymous session so a form can carry a CSRF token.
pub fn create_anonymous(conn: &mut DbConn, secret: &str, idle: Duration) -> Result<Loaded, AppError> {
    let (token, key, csrf_token) = write_one(conn, |conn| insert(conn, secret, None, idle))?;
    Ok(Loaded { key, csrf_token, user: None, new_token: Some(token) })
}

/// Whether a page view should write the session's new expiry: only once less
/// than half of the idle time is left (ASP.NET's sliding expiration), so a
/// visitor writes her session about once per half idle period instead of on
/// every page view a minute apart. Page views of busy residents then read
/// only, and never wait for SQLite's write lock; a session still lives at
/// least half the idle time after its last use, and a full idle time at most.
fn needs_slide(expires_at: NaiveDateTime, now: NaiveDateTime, idle: Duration) -> bool {
    expires_at - now < chrono_dur(idle) / 2
}

/// Finds the visitor's live session, sliding its expiry forward (at most one
/// write per half idle period, see `needs_slide`). None when there is none: anonymous page views write
/// nothing; a session is made only for pages with a form (`Ctx::with_session`).
pub fn load(conn: &mut DbConn, secret: &str, token: Option<&str>, idle: Duration) -> Result<Option<Loaded>, AppError> {
    let (loaded, upkeep) = find(conn, secret, token, idle)?;
    if let Some(upkeep) = upkeep {
        upkeep.run(conn, idle)?;
    }
    Ok(loaded)
}

/// The write a session lookup calls for: its expiry slid forward, or the
/// expired (or deactivated user's) session removed.
pub enum Upkeep {
    Slide(String),
    Remove(String),
}

impl Upkeep {
    pub fn run(&self, conn: &mut DbConn, idle: Duration) -> Result<(), AppError> {
        write_one(conn, |conn| {
            match self {
                Upkeep::Slide(key) => {
                    let now = now_utc();
                    diesel::update(sessions::table.find(key))
                        .set((sessions::last_seen_at.eq(now), sessions::expires_at.eq(now + chrono_dur(idle))))
                        .execute(conn)?;
                }
                Upkeep::Remove(key) => {
                    diesel::delete(sessions::table.find(key)).execute(conn)?;
                }
            }
            Ok(())
        })
    }
}

/// `load` without its write: the live session, and the write it calls for
/// (for a caller that must not wait for the write lock: `Page::db_inline`).
pub fn find(conn: &mut DbConn, secret: &str, token: Option<&str>, idle: Duration) -> Result<(Option<Loaded>, Option<Upkeep>), AppError> {
    let now = now_utc();
    let Some(token) = token.filter(|t| t.len() == 64) else { return Ok((None, None)) };
    let key = session_key(secret, token);
    // On every request with a cookie: natively (see `crate::natively`).
    let found: Option<(SessionRow, Option<User>)> = crate::natively!(conn, |c| sessions::table
        .left_join(users::table)
        .filter(sessions::id.eq(&key))
        .select((SessionRow::as_select(), Option::<User>::as_select()))
        .first(c)
        .optional())?;
    let Some((row, user)) = found else { return Ok((None, None)) };
    let user_ok = user.as_ref().is_none_or(|u| u.active);
    if row.expires_at > now && user_ok {
        let upkeep = needs_slide(row.expires_at, now, idle).then(|| Upkeep::Slide(key.clone()));
        return Ok((Some(Loaded { key, csrf_token: row.csrf_token, user, new_token: None }), upkeep));
    }
    Ok((None, Some(Upkeep::Remove(key))))
}

/// Replaces the visitor's session with a new one for `user_id` (a new id at
/// login prevents session fixation). Returns the new cookie token.
pub fn start_for_user(conn: &mut DbConn, secret: &str, old_key: &str, user_id: &str, idle: Duration) -> Result<String, AppError> {
    write_tx(conn, |conn| {
        diesel::delete(sessions::table.find(old_key)).execute(conn)?;
        let (token, _, _) = insert(conn, secret, Some(user_id), idle)?;
        Ok(token)
    })
}

pub fn extend(conn: &mut DbConn, key: &str, idle: Duration) -> Result<(), AppError> {
    let now = now_utc();
    diesel::update(sessions::table.find(key))
        .set((sessions::last_seen_at.eq(now), sessions::expires_at.eq(now + chrono_dur(idle))))
        .execute(conn)?;
    Ok(())
}

pub fn end(conn: &mut DbConn, key: &str) -> Result<(), AppError> {
    diesel::delete(sessions::table.find(key)).execute(conn)?;
    Ok(())
}

/// Ends every session of a user (deactivation, password change).
pub fn end_all_for_user(conn: &mut DbConn, user_id: &str) -> Result<(), AppError> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?;
    Ok(())
}

pub fn purge_expired(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, AppError> {
    Ok(diesel::delete(sessions::table.filter(sessions::expires_at.lt(now))).execute(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_written_again_only_once_half_its_idle_time_is_gone() {
        let idle = Duration::from_secs(30 * 60);
        let now = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).and_then(|d| d.and_hms_opt(10, 0, 0)).expect("date");
        let minutes = chrono::Duration::minutes;
        // Just slid: 30 minutes left; 16 left; exactly half left: no write.
        assert!(!needs_slide(now + minutes(30), now, idle));
        assert!(!needs_slide(now + minutes(16), now, idle));
        assert!(!needs_slide(now + minutes(15), now, idle));
        // Less than half left: the page view writes the new expiry.
        assert!(needs_slide(now + minutes(15) - chrono::Duration::seconds(1), now, idle));
        assert!(needs_slide(now + minutes(1), now, idle));
    }
}
