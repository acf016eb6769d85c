//! Account rules and transactions: sign-up, staff-created accounts, login.

use diesel::prelude::*;
use serde::Deserialize;

use super::domain::{Email, Password, PersonName, Phone};
use super::models::{self, Role, User};
use super::{password, throttle};
use crate::config::Config;
use crate::db::{is_unique_violation, new_id, write_tx, DbConn};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::notify::{Email as Mail, Notifier, Rendered};
use crate::time::now_utc;

/// The account form as typed; every field defaults to empty so a missing field
/// becomes a message next to it rather than a bare 400.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct AccountInput {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub password: String,
    pub password_confirm: String,
}

pub struct ValidAccount {
    pub name: PersonName,
    pub email: Email,
    pub phone: Phone,
    pub password: Password,
}

pub type FieldErrors = Vec<(&'static str, &'static str)>;

pub fn validate(input: &AccountInput) -> Result<ValidAccount, FieldErrors> {
    let mut errors = FieldErrors::new();
    let name = PersonName::parse(&input.name).map_err(|e| errors.push(("name", e))).ok();
    let email = Email::parse(&input.email).map_err(|e| errors.push(("email", e))).ok();
    let phone = Phone::parse(&input.phone).map_err(|e| errors.push(("phone", e))).ok();
    let password = Password::parse(&input.password, &input.password_confirm)
        .map_err(|e| errors.push(("password", e)))
        .ok();
    match (name, email, phone, password) {
        (Some(name), Some(email), Some(phone), Some(password)) if errors.is_empty() => {
            Ok(ValidAccount { name, email, phone, password })
        }
        _ => Err(errors),
    }
}

impl ValidAccount {
    pub fn profile(&self) -> Profile<'_> {
        Profile { name: &self.name, email: &self.email, phone: &self.phone }
    }
}

/// What an account is created from: the checked details without the
/// password, which arrives already hashed.
#[derive(Clone, Copy)]
pub struct Profile<'a> {
    pub name: &'a PersonName,
    pub email: &'a Email,
    pub phone: &'a Phone,
}

pub struct NewAccount<'a> {
    pub account: Profile<'a>,
    pub role: Role,
    pub is_supervisor: bool,
    pub lang: Lang,
    /// Which email to queue ("welcome" for sign-up, "account_created" for
    /// accounts made by staff), if any.
    pub email_kind: Option<&'static str>,
    /// `password::hash` of the password, computed before taking a connection.
    pub password_hash: &'a str,
    /// The agency an agency account works for (checked to exist).
    pub agency_id: Option<&'a str>,
}

/// Creates the account and queues its email in one transaction.
pub fn create_account(conn: &mut DbConn, notifier: &Notifier, new: NewAccount<'_>) -> Result<User, AppError> {
    let email = new.account.email.as_str();
    let id = new_id();
    let ready = account_mail(&id, &new).and_then(|mail| notifier.prepare(conn, Ok(mail)));
    match write_tx(conn, |conn| insert_account(conn, notifier, &id, &new, ready.as_ref())) {
        Ok(_) => {}
        Err(AppError::Db(e)) if is_unique_violation(&e) => return Err(AppError::Conflict("accounts.errors.email_taken")),
        Err(e) => return Err(e),
    }
    models::find_by_email(conn, email)?.ok_or(AppError::NotFound)
}

/// The email a new account gets, if any (rendered before the transaction).
pub fn account_mail<'a>(id: &'a str, new: &'a NewAccount<'_>) -> Option<Mail<'a>> {
    let kind = new.email_kind?;
    let mut context = tera::Context::new();
    context.insert("name", new.account.name.as_str());
    context.insert("role_key", new.role.as_str());
    Some(Mail { user_id: Some(id), to: new.account.email.as_str(), kind, lang: new.lang, context })
}

/// The account row `id` and its email, inside the caller's transaction;
/// `ready` is that email if it was rendered beforehand. Returns the id.
pub fn insert_account(conn: &mut DbConn, notifier: &Notifier, id: &str, new: &NewAccount<'_>, ready: Option<&Rendered>) -> Result<String, AppError> {
    let now = now_utc();
    let email = new.account.email.as_str();
    if models::email_taken(conn, email)? {
        return Err(AppError::Conflict("accounts.errors.email_taken"));
    }
    if let Some(agency) = new.agency_id {
        crate::agencies::find(conn, agency)?.ok_or(AppError::Conflict("accounts.errors.agency_required"))?;
    }
    // Column tuples rather than an Insertable struct: the struct form does
    // not compile through the MultiConnection (SQLite has no DEFAULT values).
    use crate::db::schema::users as u;
    diesel::insert_into(u::table)
        .values((
            u::id.eq(id),
            u::role.eq(new.role.as_str()),
            u::name.eq(new.account.name.as_str()),
            u::email.eq(email),
            u::phone.eq(new.account.phone.as_str()),
            u::password_hash.eq(new.password_hash),
            u::locale.eq(new.lang.code()),
            u::is_supervisor.eq(new.is_supervisor),
            u::active.eq(true),
            u::created_at.eq(now),
            u::updated_at.eq(now),
            u::agency_id.eq(new.agency_id),
        ))
        .execute(conn)?;
    if let Some(mail) = account_mail(id, new) {
        notifier.enqueue_prepared(conn, mail, ready)?;
    }
    Ok(id.to_string())
}

pub enum LoginError {
    Invalid,
    Locked { minutes: i64 },
    Other(AppError),
}

impl From<AppError> for LoginError {
    fn from(e: AppError) -> Self {
        LoginError::Other(e)
    }
}

/// A login in progress: its attempt has been counted (per account and per IP)
/// before the password is checked, so parallel guesses cannot outrun the limit.
pub struct LoginAttempt {
    account_key: String,
    ip_key: String,
    account_count: i32,
    ip_count: i32,
    user: Option<User>,
}

impl LoginAttempt {
    /// The password check: slow on purpose (argon2id), so it runs on a
    /// hashing thread in the place `turn` holds, without a database
    /// connection. Unknown emails take as long.
    pub async fn verify(&self, turn: password::Turn, pass: &str) -> Result<bool, AppError> {
        let stored = self.user.as_ref().map(|u| u.password_hash.as_str());
        let ok = turn.verify(pass, stored).await?;
        Ok(ok && self.user.as_ref().is_some_and(|u| u.active))
    }
}

fn lock_minutes(config: &Config) -> i64 {
    (config.login_lock.as_secs() as i64 + 59) / 60
}

/// Step 1: refuses a locked account or IP, counts the attempt, finds the user.
pub fn begin_login(conn: &mut DbConn, config: &Config, email: &str, ip: &str) -> Result<LoginAttempt, LoginError> {
    let email = email.trim().to_lowercase();
    let account_key = throttle::account_key(&config.secret_key, &email);
    let ip_key = throttle::ip_key(&config.secret_key, ip);
    let now = now_utc();
    if let Some(minutes) = throttle::locked_minutes(conn, &[&account_key, &ip_key], now)? {
        return Err(LoginError::Locked { minutes });
    }
    let account_count = throttle::count_attempt(conn, &account_key, now, config.login_lock)?;
    let ip_count = throttle::count_attempt(conn, &ip_key, now, config.login_lock)?;
    let mut over = false;
    for (key, count, max) in [(&account_key, account_count, config.login_max_failures_account), (&ip_key, ip_count, config.login_max_failures_ip)] {
        if count > max {
            throttle::lock(conn, key, now, config.login_lock)?;
            over = true;
        }
    }
    if over {
        return Err(LoginError::Locked { minutes: lock_minutes(config) });
    }
    let user = models::find_by_email(conn, &email).map_err(AppError::from)?;
    Ok(LoginAttempt { account_key, ip_key, account_count, ip_count, user })
}

/// Step 3: on success the account's count is cleared and the IP's attempt
/// forgiven; on failure the last allowed attempt locks the account or IP.
pub fn finish_login(conn: &mut DbConn, config: &Config, attempt: LoginAttempt, ok: bool) -> Result<User, LoginError> {
    match (ok, attempt.user) {
        (true, Some(user)) => {
            throttle::clear(conn, &attempt.account_key)?;
            throttle::forgive(conn, &attempt.ip_key)?;
            Ok(user)
        }
        _ => {
            let now = now_utc();
            let mut locked = false;
            for (key, count, max) in [
                (&attempt.account_key, attempt.account_count, config.login_max_failures_account),
                (&attempt.ip_key, attempt.ip_count, config.login_max_failures_ip),
            ] {
                if count >= max {
                    throttle::lock(conn, key, now, config.login_lock)?;
                    locked = true;
                }
            }
            if locked {
                Err(LoginError::Locked { minutes: lock_minutes(config) })
            } else {
                Err(LoginError::Invalid)
            }
        }
    }
}
