//! Personal access tokens for the JSON API. The token is shown once; the
//! database keeps only its keyed hash (as for session cookies), its name, the
//! owner's role when it was made, and when it was made and last used.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::accounts::models::User;
use crate::crypto::{keyed_hash, random_token};
use crate::db::schema::{api_tokens, users};
use crate::db::{new_id, DbConn};
use crate::error::AppError;
use crate::time::now_utc;

/// Prefix of every token, so a leaked one is recognisable in a scan.
pub const PREFIX: &str = "naju_";
const MAX_PER_USER: i64 = 20;

#[derive(Queryable, Selectable, Serialize, Clone, Debug)]
#[diesel(table_name = api_tokens)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub role: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

fn token_hash(secret: &str, token: &str) -> String {
    keyed_hash(secret, "api-token", token)
}

pub fn list(conn: &mut DbConn, user_id: &str) -> Result<Vec<TokenRow>, AppError> {
    Ok(api_tokens::table
        .filter(api_tokens::user_id.eq(user_id))
        .order(api_tokens::created_at.desc())
        .select(TokenRow::as_select())
        .load(conn)?)
}

/// Makes a named token for the user, scoped to her role. Returns the token:
/// the only time it exists outside the caller's hands.
pub fn create(conn: &mut DbConn, secret: &str, user: &User, name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(AppError::BadRequest("api.errors.name"));
    }
    let held: i64 = api_tokens::table.filter(api_tokens::user_id.eq(&user.id)).count().get_result(conn)?;
    if held >= MAX_PER_USER {
        return Err(AppError::Conflict("api.errors.too_many"));
    }
    let token = format!("{PREFIX}{}", random_token());
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::id.eq(new_id()),
            api_tokens::user_id.eq(&user.id),
            api_tokens::name.eq(name),
            api_tokens::role.eq(&user.role),
            api_tokens::token_hash.eq(token_hash(secret, &token)),
            api_tokens::created_at.eq(now_utc()),
        ))
        .execute(conn)?;
    Ok(token)
}

/// Revokes one of the user's own tokens; someone else's is not found.
pub fn revoke(conn: &mut DbConn, user_id: &str, token_id: &str) -> Result<(), AppError> {
    let n = diesel::delete(api_tokens::table.filter(api_tokens::id.eq(token_id)).filter(api_tokens::user_id.eq(user_id))).execute(conn)?;
    if n == 1 {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// The active user a presented token belongs to, if it is valid and her role
/// is still the one it was made for. Notes the use (at most once a minute).
pub fn authenticate(conn: &mut DbConn, secret: &str, token: &str) -> Result<Option<User>, AppError> {
    if !token.starts_with(PREFIX) || token.len() != PREFIX.len() + 64 {
        return Ok(None);
    }
    let hash = token_hash(secret, token);
    let found: Option<(String, String, Option<NaiveDateTime>, User)> = api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(&hash))
        .select((api_tokens::id, api_tokens::role, api_tokens::last_used_at, User::as_select()))
        .first(conn)
        .optional()?;
    let Some((id, role, last_used, user)) = found else { return Ok(None) };
    if !user.active || user.role != role {
        return Ok(None);
    }
    let now = now_utc();
    if last_used.is_none_or(|t| now - t > chrono::Duration::seconds(60)) {
        diesel::update(api_tokens::table.find(&id)).set(api_tokens::last_used_at.eq(Some(now))).execute(conn)?;
    }
    Ok(Some(user))
}
