//! "Forgot your password?": a one-hour, single-use link sent by email. The
//! answer is the same whether or not the address has an account.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models;
use super::sessions;
use crate::crypto::{keyed_hash, random_token};
use crate::db::schema::{password_resets, users};
use crate::db::{write_tx, DbConn};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::notify::{Email as Mail, Notifier};
use crate::time::now_utc;

const VALID_MINUTES: i64 = 60;

fn key(secret: &str, token: &str) -> String {
    keyed_hash(secret, "password-reset", token)
}

/// Queues a reset link if the address belongs to an active account. Older
/// unused links of that account stop working.
pub fn request(conn: &mut DbConn, notifier: &Notifier, secret: &str, email: &str) -> Result<(), AppError> {
    let email = email.trim().to_lowercase();
    let Some(user) = models::find_by_email(conn, &email)? else { return Ok(()) };
    if !user.active {
        return Ok(());
    }
    let token = random_token();
    let now = now_utc();
    let mut context = tera::Context::new();
    context.insert("name", &user.name);
    context.insert("token", &token);
    context.insert("minutes", &VALID_MINUTES);
    let lang = Lang::from_code(&user.locale).unwrap_or(Lang::Ko);
    let mail = notifier.render(conn, Mail { user_id: Some(&user.id), to: &user.email, kind: "password_reset", lang, context })?;
    write_tx(conn, |conn| {
        diesel::delete(password_resets::table.filter(password_resets::user_id.eq(&user.id)).filter(password_resets::used_at.is_null())).execute(conn)?;
        diesel::insert_into(password_resets::table)
            .values((
                password_resets::id.eq(key(secret, &token)),
                password_resets::user_id.eq(&user.id),
                password_resets::expires_at.eq(now + chrono::Duration::minutes(VALID_MINUTES)),
                password_resets::created_at.eq(now),
            ))
            .execute(conn)?;
        notifier.queue(conn, &mail)?;
        Ok(())
    })
}

/// The account a still-valid link belongs to.
pub fn check(conn: &mut DbConn, secret: &str, token: &str) -> Result<Option<String>, AppError> {
    if token.len() != 64 {
        return Ok(None);
    }
    let found: Option<(String, NaiveDateTime, Option<NaiveDateTime>)> = password_resets::table
        .find(key(secret, token))
        .select((password_resets::user_id, password_resets::expires_at, password_resets::used_at))
        .first(conn)
        .optional()?;
    Ok(found.filter(|(_, expires, used)| used.is_none() && *expires > now_utc()).map(|(user, _, _)| user))
}

/// Sets the new password (already hashed), uses up the link and signs the
/// account out everywhere. False when the link is no longer valid.
pub fn complete(conn: &mut DbConn, secret: &str, token: &str, password_hash: &str) -> Result<bool, AppError> {
    let id = key(secret, token);
    write_tx(conn, |conn| {
        let now = now_utc();
        let used = diesel::update(
            password_resets::table.find(&id).filter(password_resets::used_at.is_null()).filter(password_resets::expires_at.gt(now)),
        )
        .set(password_resets::used_at.eq(Some(now)))
        .execute(conn)?;
        if used != 1 {
            return Ok(false);
        }
        let user_id: String = password_resets::table.find(&id).select(password_resets::user_id).first(conn)?;
        let email: String = users::table.find(&user_id).select(users::email).first(conn)?;
        // A forgotten password often follows failed logins: lift that pause.
        super::throttle::clear(conn, &super::throttle::account_key(secret, &email))?;
        diesel::update(users::table.find(&user_id))
            .set((users::password_hash.eq(password_hash), users::updated_at.eq(now)))
            .execute(conn)?;
        sessions::end_all_for_user(conn, &user_id)?;
        Ok(true)
    })
}
