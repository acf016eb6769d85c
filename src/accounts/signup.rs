//! Sign-up that does not tell who has an account. Every sign-up ends on the
//! same "check your email" page: a new address gets a link (24 hours, single
//! use) that creates the account; a registered address gets a note to its
//! owner instead. Sign-ups are limited per IP.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::domain::{Email, Mobile, PersonName, Phone};
use super::mobile::{self, Choice};
use super::models::{self, Role};
use super::service::{account_mail, insert_account, NewAccount, Profile};
use super::throttle;
use crate::config::Config;
use crate::crypto::{keyed_hash, random_token};
use crate::db::schema::signups;
use crate::db::{is_unique_violation, new_id, write_tx, DbConn};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::notify::{Email as Mail, Notifier};
use crate::time::now_utc;

pub const VALID_HOURS: i64 = 24;

fn key(secret: &str, token: &str) -> String {
    keyed_hash(secret, "signup", token)
}

/// Counts a sign-up from `ip`; false once SIGNUP_MAX_PER_IP have been made
/// within SIGNUP_WINDOW_MINUTES.
pub fn within_limit(conn: &mut DbConn, config: &Config, ip: &str) -> Result<bool, AppError> {
    let key = throttle::ip_key(&config.secret_key, &format!("signup:{ip}"));
    let count = throttle::count_attempt(conn, &key, now_utc(), config.signup_window)?;
    Ok(count <= config.signup_max_per_ip)
}

/// Queues the email this sign-up calls for: the confirmation link for a new
/// address, or a note to the owner of a registered one. The caller answers
/// the same either way.
/// `choice` is how she wants her notices; SMS needs `account.phone` to be a
/// mobile number, which the caller checked.
pub fn request(conn: &mut DbConn, notifier: &Notifier, secret: &str, account: Profile<'_>, choice: Choice, password_hash: &str, lang: Lang) -> Result<(), AppError> {
    let email = account.email.as_str();
    let token = random_token();
    // Both possible emails are built from what is read here; the one the
    // transaction calls for is rendered before it (once, as only one is likely).
    let owner = models::find_by_email(conn, email)?;
    let ready = notifier.prepare(conn, Ok(match &owner {
        Some(owner) => existing_mail(owner),
        None => confirm_mail(&account, email, &token, lang),
    }));
    write_tx(conn, |conn| {
        if let Some(owner) = models::find_by_email(conn, email)? {
            notifier.enqueue_prepared(conn, existing_mail(&owner), ready.as_ref())?;
            return Ok(());
        }
        let now = now_utc();
        diesel::insert_into(signups::table)
            .values((
                signups::id.eq(key(secret, &token)),
                signups::email.eq(email),
                signups::name.eq(account.name.as_str()),
                signups::phone.eq(account.phone.as_str()),
                signups::password_hash.eq(password_hash),
                signups::locale.eq(lang.code()),
                signups::notify_channels.eq(choice.as_str()),
                signups::expires_at.eq(now + chrono::Duration::hours(VALID_HOURS)),
                signups::created_at.eq(now),
            ))
            .execute(conn)?;
        notifier.enqueue_prepared(conn, confirm_mail(&account, email, &token, lang), ready.as_ref())?;
        Ok(())
    })
}

fn existing_mail(owner: &models::User) -> Mail<'_> {
    let mut context = tera::Context::new();
    context.insert("name", &owner.name);
    let lang = Lang::from_code(&owner.locale).unwrap_or(Lang::Ko);
    Mail { user_id: Some(&owner.id), to: &owner.email, kind: "signup_existing", lang, context }
}

fn confirm_mail<'a>(account: &Profile<'_>, email: &'a str, token: &str, lang: Lang) -> Mail<'a> {
    let mut context = tera::Context::new();
    context.insert("name", account.name.as_str());
    context.insert("token", token);
    context.insert("hours", &VALID_HOURS);
    Mail { user_id: None, to: email, kind: "signup_confirm", lang, context }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = signups)]
struct Pending {
    email: String,
    name: String,
    phone: String,
    password_hash: String,
    locale: String,
    notify_channels: String,
}

fn find_pending(conn: &mut DbConn, id: &str) -> QueryResult<Option<Pending>> {
    signups::table
        .find(id)
        .filter(signups::expires_at.gt(now_utc()))
        .select(Pending::as_select())
        .first(conn)
        .optional()
}

/// The address a still-valid link would sign up.
pub fn pending_email(conn: &mut DbConn, secret: &str, token: &str) -> Result<Option<String>, AppError> {
    if token.len() != 64 {
        return Ok(None);
    }
    Ok(find_pending(conn, &key(secret, token))?.map(|p| p.email))
}

pub enum Confirmed {
    /// The new account's id, and whether a code went to her mobile number
    /// (she chose SMS) for her to type next.
    Created(String, bool),
    /// Expired, used, or never issued.
    Invalid,
    /// The address got an account meanwhile (another link, or staff).
    AlreadyRegistered,
}

/// Uses the link: creates the resident's account with her welcome email, and
/// retires every pending sign-up of that address. If she chose SMS, a code
/// goes to her mobile number; her notices go by email until she types it.
pub fn confirm(conn: &mut DbConn, notifier: &Notifier, secret: &str, token: &str) -> Result<Confirmed, AppError> {
    if token.len() != 64 {
        return Ok(Confirmed::Invalid);
    }
    let id = key(secret, token);
    let user_id = new_id();
    // The welcome email, rendered before the transaction from the same row.
    let ready = find_pending(conn, &id).ok().flatten().and_then(|p| {
        let parsed = parse(&p).ok()?;
        let new = new_account(&p, &parsed);
        notifier.prepare(conn, Ok(account_mail(&user_id, &new)?))
    });
    let outcome = write_tx(conn, |conn| {
        let Some(p) = find_pending(conn, &id)? else { return Ok(Confirmed::Invalid) };
        diesel::delete(signups::table.filter(signups::email.eq(&p.email))).execute(conn)?;
        let parsed = parse(&p)?;
        let user_id = match insert_account(conn, notifier, &user_id, &new_account(&p, &parsed), ready.as_ref()) {
            Ok(user_id) => user_id,
            Err(AppError::Conflict(_)) => return Ok(Confirmed::AlreadyRegistered),
            Err(e) => return Err(e),
        };
        let lang = Lang::from_code(&p.locale).unwrap_or(Lang::Ko);
        let choice = Choice::parse(&p.notify_channels);
        let Ok(number) = Mobile::parse(&p.phone) else { return Ok(Confirmed::Created(user_id, false)) };
        if !(choice.wants_sms() && notifier.sms_on()) {
            return Ok(Confirmed::Created(user_id, false));
        }
        let who = mobile::Who { user_id: &user_id, lang, now: now_utc() };
        let sent = mobile::choose_in_tx(conn, notifier, secret, who, choice, Some(&number))?;
        Ok(Confirmed::Created(user_id, sent == mobile::Sent::Sent))
    });
    match outcome {
        // Two links of one address used at the same moment: one wins.
        Err(AppError::Db(e)) if is_unique_violation(&e) => Ok(Confirmed::AlreadyRegistered),
        other => other,
    }
}

fn parse(p: &Pending) -> Result<(PersonName, Email, Phone), AppError> {
    let stored = |k: &str| AppError::Internal(format!("pending sign-up no longer valid: {k}"));
    Ok((PersonName::parse(&p.name).map_err(stored)?, Email::parse(&p.email).map_err(stored)?, Phone::parse(&p.phone).map_err(stored)?))
}

fn new_account<'a>(p: &'a Pending, (name, email, phone): &'a (PersonName, Email, Phone)) -> NewAccount<'a> {
    NewAccount {
        account: Profile { name, email, phone },
        role: Role::Resident,
        is_supervisor: false,
        lang: Lang::from_code(&p.locale).unwrap_or(Lang::Ko),
        email_kind: Some("welcome"),
        password_hash: &p.password_hash,
        agency_id: None,
    }
}

pub fn purge_expired(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, AppError> {
    Ok(diesel::delete(signups::table.filter(signups::expires_at.lt(now))).execute(conn)?)
}
