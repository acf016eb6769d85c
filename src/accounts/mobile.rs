//! How a resident wants her notices (email, SMS or both) and the proof of
//! her mobile number: a six-digit code sent to it by SMS, kept only as its
//! keyed hash, valid CODE_MINUTES, MAX_ATTEMPTS tries, a new one at most
//! every RESEND_SECONDS and MAX_SENDS an hour. Until the number is proven her
//! notices keep going by email. Numbers and codes never go to the log.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use subtle::ConstantTimeEq;

use super::domain::Mobile;
use crate::crypto::keyed_hash;
use crate::db::schema::{mobile_verifications as mv, users};
use crate::db::{write_tx, DbConn};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::notify::{Notifier, Text};

pub const CODE_MINUTES: i64 = 10;
pub const MAX_ATTEMPTS: i32 = 5;
pub const RESEND_SECONDS: i64 = 60;
pub const MAX_SENDS: i32 = 5;
const SEND_WINDOW_MINUTES: i64 = 60;

/// The resident's choice of channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    Email,
    Sms,
    Both,
}

impl Choice {
    /// An empty or unknown value is email, the default.
    pub fn parse(raw: &str) -> Choice {
        match raw {
            "sms" => Choice::Sms,
            "both" => Choice::Both,
            _ => Choice::Email,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Choice::Email => "email",
            Choice::Sms => "sms",
            Choice::Both => "both",
        }
    }

    pub fn wants_sms(self) -> bool {
        self != Choice::Email
    }
}

fn code_hash(secret: &str, user_id: &str, code: &str) -> String {
    keyed_hash(secret, "mobile_code", &format!("{user_id}:{code}"))
}

/// Six random digits (from the OS generator behind UUID v4).
fn new_code() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let n = u64::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[7], bytes[9]]);
    format!("{:06}", n % 1_000_000)
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = mv)]
struct Pending {
    mobile: String,
    channels: String,
    code_hash: String,
    attempts: i32,
    sends: i32,
    sent_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    created_at: NaiveDateTime,
}

fn find(conn: &mut DbConn, user_id: &str) -> QueryResult<Option<Pending>> {
    mv::table.find(user_id).select(Pending::as_select()).first(conn).optional()
}

/// The number being proven and when its code expires, if a proof is open.
pub fn pending(conn: &mut DbConn, user_id: &str) -> QueryResult<Option<(String, NaiveDateTime)>> {
    Ok(find(conn, user_id)?.map(|p| (p.mobile, p.expires_at)))
}

/// The choice in force and the proven number.
pub fn current(conn: &mut DbConn, user_id: &str) -> QueryResult<(Choice, Option<String>)> {
    let (choice, mobile): (String, Option<String>) = users::table.find(user_id).select((users::notify_channels, users::mobile)).first(conn)?;
    Ok((Choice::parse(&choice), mobile))
}

#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    /// The choice is in force (email, or a number already proven).
    Saved,
    /// A code went to the number; the choice waits for it.
    Sent,
    /// A code went out less than RESEND_SECONDS ago: wait this many seconds.
    TooSoon(i64),
    /// MAX_SENDS codes within the hour.
    TooMany,
}

/// When a new code may go out, given the open proof's last send, sends and
/// start: Ok(the sends counted in this window, and whether the window restarts).
fn may_send(last: Option<(NaiveDateTime, i32, NaiveDateTime)>, now: NaiveDateTime) -> Result<(i32, bool), Sent> {
    let Some((sent_at, sends, started)) = last else { return Ok((1, true)) };
    let wait = (sent_at + chrono::Duration::seconds(RESEND_SECONDS) - now).num_seconds();
    if wait > 0 {
        return Err(Sent::TooSoon(wait));
    }
    if started + chrono::Duration::minutes(SEND_WINDOW_MINUTES) <= now {
        return Ok((1, true));
    }
    if sends >= MAX_SENDS {
        return Err(Sent::TooMany);
    }
    Ok((sends + 1, false))
}

/// Whose choice, in which language her texts go, and when.
#[derive(Clone, Copy)]
pub struct Who<'a> {
    pub user_id: &'a str,
    pub lang: Lang,
    pub now: NaiveDateTime,
}

/// Sets the choice. Email, or a number already proven, takes effect at
/// once; a new number gets a code by SMS and takes effect when proven.
pub fn choose(conn: &mut DbConn, notifier: &Notifier, secret: &str, who: Who<'_>, choice: Choice, mobile: Option<&Mobile>) -> Result<Sent, AppError> {
    write_tx(conn, |conn| choose_in_tx(conn, notifier, secret, who, choice, mobile))
}

/// `choose` inside the caller's transaction (sign-up's confirmation).
pub fn choose_in_tx(conn: &mut DbConn, notifier: &Notifier, secret: &str, who: Who<'_>, choice: Choice, mobile: Option<&Mobile>) -> Result<Sent, AppError> {
    let (_, proven) = current(conn, who.user_id)?;
    let number = match (choice.wants_sms(), mobile) {
        (false, _) => None,
        (true, Some(m)) if proven.as_deref() != Some(m.as_str()) => Some(m),
        (true, Some(_)) => None,
        (true, None) => return Err(AppError::BadRequest("mobile.errors.mobile_required")),
    };
    let Some(number) = number else {
        diesel::update(users::table.find(who.user_id)).set((users::notify_channels.eq(choice.as_str()), users::updated_at.eq(who.now))).execute(conn)?;
        diesel::delete(mv::table.find(who.user_id)).execute(conn)?;
        return Ok(Sent::Saved);
    };
    send_code(conn, notifier, secret, who, number.as_str(), choice.as_str())
}

/// A new code for the open proof (the "send again" button).
pub fn resend(conn: &mut DbConn, notifier: &Notifier, secret: &str, who: Who<'_>) -> Result<Sent, AppError> {
    write_tx(conn, |conn| {
        let p = find(conn, who.user_id)?.ok_or(AppError::NotFound)?;
        send_code(conn, notifier, secret, who, &p.mobile, &p.channels)
    })
}

fn send_code(conn: &mut DbConn, notifier: &Notifier, secret: &str, who: Who<'_>, mobile: &str, channels: &str) -> Result<Sent, AppError> {
    let (user_id, now) = (who.user_id, who.now);
    if !notifier.sms_on() {
        return Err(AppError::BadRequest("mobile.errors.sms_off"));
    }
    let last = find(conn, user_id)?.map(|p| (p.sent_at, p.sends, p.created_at));
    let (sends, restart) = match may_send(last, now) {
        Ok(v) => v,
        Err(refused) => return Ok(refused),
    };
    let started = match last {
        Some((_, _, started)) if !restart => started,
        _ => now,
    };
    let code = new_code();
    // One open proof per resident: the new code replaces the old one.
    diesel::delete(mv::table.find(user_id)).execute(conn)?;
    diesel::insert_into(mv::table)
        .values((
            mv::user_id.eq(user_id),
            mv::mobile.eq(mobile),
            mv::channels.eq(channels),
            mv::code_hash.eq(code_hash(secret, user_id, &code)),
            mv::attempts.eq(0),
            mv::sends.eq(sends),
            mv::sent_at.eq(now),
            mv::expires_at.eq(now + chrono::Duration::minutes(CODE_MINUTES)),
            mv::created_at.eq(started),
        ))
        .execute(conn)?;
    let mut context = tera::Context::new();
    context.insert("code", &code);
    context.insert("minutes", &CODE_MINUTES);
    notifier.enqueue_text(conn, Text { user_id: Some(user_id), to: mobile, kind: "mobile_code", lang: who.lang, context })?;
    Ok(Sent::Sent)
}

#[derive(Debug, PartialEq, Eq)]
pub enum Checked {
    /// The number is hers: the choice is in force.
    Proven,
    /// Wrong code; this many tries left.
    Wrong(i32),
    Expired,
    TooManyAttempts,
    /// No code was asked for.
    NoneOpen,
}

/// Checks a typed code against the open proof.
pub fn verify(conn: &mut DbConn, secret: &str, user_id: &str, typed: &str, now: NaiveDateTime) -> Result<Checked, AppError> {
    let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    write_tx(conn, |conn| {
        let Some(p) = find(conn, user_id)? else { return Ok(Checked::NoneOpen) };
        if p.expires_at <= now {
            return Ok(Checked::Expired);
        }
        if p.attempts >= MAX_ATTEMPTS {
            return Ok(Checked::TooManyAttempts);
        }
        let matches: bool = code_hash(secret, user_id, &typed).as_bytes().ct_eq(p.code_hash.as_bytes()).into();
        if !matches {
            diesel::update(mv::table.find(user_id)).set(mv::attempts.eq(p.attempts + 1)).execute(conn)?;
            return Ok(Checked::Wrong(MAX_ATTEMPTS - p.attempts - 1));
        }
        diesel::update(users::table.find(user_id))
            .set((users::mobile.eq(Some(&p.mobile)), users::notify_channels.eq(&p.channels), users::updated_at.eq(now)))
            .execute(conn)?;
        diesel::delete(mv::table.find(user_id)).execute(conn)?;
        Ok(Checked::Proven)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0).map(|t| t.naive_utc()).unwrap_or_default()
    }

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..50 {
            let code = new_code();
            assert_eq!(code.len(), 6);
            assert!(code.chars().all(|c| c.is_ascii_digit()));
        }
    }

    #[test]
    fn a_new_code_waits_a_minute_and_at_most_five_go_out_an_hour() {
        assert_eq!(may_send(None, at(0)), Ok((1, true)));
        assert_eq!(may_send(Some((at(0), 1, at(0))), at(59)), Err(Sent::TooSoon(1)));
        assert_eq!(may_send(Some((at(0), 1, at(0))), at(60)), Ok((2, false)));
        assert_eq!(may_send(Some((at(600), 5, at(0))), at(700)), Err(Sent::TooMany));
        assert_eq!(may_send(Some((at(600), 5, at(0))), at(3600)), Ok((1, true)), "a new hour");
    }

    #[test]
    fn the_choice_defaults_to_email() {
        assert_eq!(Choice::parse(""), Choice::Email);
        assert_eq!(Choice::parse("fax"), Choice::Email);
        assert!(Choice::parse("both").wants_sms());
    }
}
