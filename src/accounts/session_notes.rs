//! Short-lived notes kept on the server for one session, so that nothing
//! personal travels in a URL or a cookie: what was typed into a form that was
//! refused (read once, to fill the form in again) and the result of a bulk
//! action (read as often as the page is refreshed). A note is found by its
//! random id *and* the session that made it, so no other session (no other
//! staff member) can read it; it goes with its session and expires.

use chrono::Duration;
use diesel::prelude::*;

use crate::crypto::random_token;
use crate::db::schema::session_notes;
use crate::db::DbConn;
use crate::error::AppError;
use crate::time::now_utc;

/// What was typed into a refused form (JSON object of field → text).
pub const FORM: &str = "form";
/// A bulk action's outcome, shown by its result page.
pub const BULK_RESULT: &str = "bulk_result";

/// Whether `id` can be a note's id (it comes back in a cookie or a path).
pub fn is_note_id(id: &str) -> bool {
    id.len() == 64 && id.chars().all(|c| c.is_ascii_hexdigit())
}

/// Keeps `body` for the session `session_key` for `ttl`; returns the note's id.
/// Expired notes of any session are removed on the way (an indexed delete).
pub fn put(conn: &mut DbConn, session_key: &str, kind: &str, body: &str, ttl: Duration) -> Result<String, AppError> {
    let now = now_utc();
    diesel::delete(session_notes::table.filter(session_notes::expires_at.le(now))).execute(conn)?;
    let id = random_token();
    diesel::insert_into(session_notes::table)
        .values((
            session_notes::id.eq(&id),
            session_notes::session_id.eq(session_key),
            session_notes::kind.eq(kind),
            session_notes::body.eq(body),
            session_notes::expires_at.eq(now + ttl),
        ))
        .execute(conn)?;
    Ok(id)
}

/// The note's body while it lives, if this session made it.
pub fn read(conn: &mut DbConn, session_key: &str, id: &str, kind: &str) -> Result<Option<String>, AppError> {
    if session_key.is_empty() || !is_note_id(id) {
        return Ok(None);
    }
    Ok(session_notes::table
        .filter(session_notes::id.eq(id))
        .filter(session_notes::session_id.eq(session_key))
        .filter(session_notes::kind.eq(kind))
        .filter(session_notes::expires_at.gt(now_utc()))
        .select(session_notes::body)
        .first(conn)
        .optional()?)
}

/// Reads the note once: it is removed as it is read.
pub fn take(conn: &mut DbConn, session_key: &str, id: &str, kind: &str) -> Result<Option<String>, AppError> {
    let body = read(conn, session_key, id, kind)?;
    if body.is_some() {
        diesel::delete(session_notes::table.filter(session_notes::id.eq(id))).execute(conn)?;
    }
    Ok(body)
}
