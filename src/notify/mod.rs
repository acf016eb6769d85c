//! Notices without loss: messages are rendered and written to the outbox table
//! in the same transaction as the change that causes them; a background worker
//! delivers them and retries. Each message has a channel: email (SMTP, or .eml
//! files when no SMTP is configured) or SMS (a provider, see `sms`). A resident
//! who chose SMS and proved her mobile number gets the notice's short text
//! there too, or instead. What cannot be delivered ends as `failed`; staff
//! correct and resend it.

pub mod mailer;
pub mod routes;
pub mod sms;
pub mod worker;

use std::sync::Arc;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{outbox, users};
use crate::db::{new_id, write_tx, DbConn};
use crate::error::AppError;
use crate::i18n::{I18n, Lang};
use crate::time::now_utc;

pub struct Email<'a> {
    pub user_id: Option<&'a str>,
    pub to: &'a str,
    /// Template folder under templates/email/: subject.txt, body.txt, body.html.
    pub kind: &'static str,
    pub lang: Lang,
    pub context: tera::Context,
}

/// A text message that goes by SMS whatever the resident chose (the code
/// that proves her number).
pub struct Text<'a> {
    pub user_id: Option<&'a str>,
    /// A mobile number as stored (010-1234-5678).
    pub to: &'a str,
    /// Template templates/sms/<kind>.txt.
    pub kind: &'static str,
    pub lang: Lang,
    pub context: tera::Context,
}

/// Where a notice goes: to the email address, the proven mobile number, or both.
#[derive(Debug, PartialEq, Eq)]
pub struct Channels {
    pub email: bool,
    pub sms: bool,
}

/// A resident's choice ("email", "sms" or "both") applied to what is
/// possible: SMS only to a proven number, only when SMS is on and the
/// notice has a text; never no channel at all, so a notice that cannot go
/// by SMS goes by email.
pub fn channels(choice: &str, mobile_proven: bool, sms_on: bool, has_text: bool) -> Channels {
    let sms = matches!(choice, "sms" | "both") && mobile_proven && sms_on && has_text;
    Channels { email: !sms || choice == "both", sms }
}

struct Row<'a> {
    user_id: Option<&'a str>,
    kind: &'a str,
    channel: &'a str,
    recipient: &'a str,
    subject: &'a str,
    body_text: &'a str,
    body_html: &'a str,
}

fn insert(conn: &mut DbConn, row: Row<'_>) -> Result<String, AppError> {
    let id = new_id();
    let now = now_utc();
    diesel::insert_into(outbox::table)
        .values((
            outbox::id.eq(&id),
            outbox::user_id.eq(row.user_id),
            outbox::kind.eq(row.kind),
            outbox::channel.eq(row.channel),
            outbox::recipient.eq(row.recipient),
            outbox::subject.eq(row.subject),
            outbox::body_text.eq(row.body_text),
            outbox::body_html.eq(row.body_html),
            outbox::status.eq("pending"),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(now),
            outbox::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id)
}

#[derive(Clone)]
pub struct Notifier {
    tera: Arc<tera::Tera>,
    i18n: Arc<I18n>,
    city_name: String,
    public_url: String,
    sms_on: bool,
}

impl Notifier {
    pub fn new(tera: Arc<tera::Tera>, i18n: Arc<I18n>, city_name: String, public_url: String) -> Notifier {
        Notifier { tera, i18n, city_name, public_url, sms_on: false }
    }

    /// With an SMS provider (SMS_PROVIDER other than none).
    pub fn with_sms(mut self, on: bool) -> Notifier {
        self.sms_on = on;
        self
    }

    pub fn sms_on(&self) -> bool {
        self.sms_on
    }

    fn prepare(&self, conn: &mut DbConn, c: &mut tera::Context, kind: &str, lang: Lang) -> Result<(), AppError> {
        c.insert("lang", lang.code());
        c.insert("kind", kind);
        c.insert("t", self.i18n.catalog(lang));
        // The city file's name once a city is set up, else CITY_NAME.
        let city = crate::city::names(conn)?.map(|n| n.name(lang).to_string()).unwrap_or_else(|| self.city_name.clone());
        c.insert("city_name", &city);
        c.insert("public_url", &self.public_url);
        Ok(())
    }

    fn sms_template(kind: &str) -> String {
        format!("sms/{kind}.txt")
    }

    /// The notice's short text, fitted to SMS or LMS (see `sms::fit`).
    fn render_text(&self, c: &tera::Context, kind: &str, subject: &str) -> Result<sms::SmsText, AppError> {
        let content = self.tera.render(&Self::sms_template(kind), c)?;
        Ok(sms::fit(subject, &content))
    }

    /// Renders the message and queues it on `conn`, which should be inside the
    /// transaction of the change the message reports: by email, and by SMS
    /// to a resident who chose it (see `channels`). Messages with a personal
    /// link stay email only. Returns the email's id, or the text's.
    pub fn enqueue(&self, conn: &mut DbConn, mut email: Email<'_>) -> Result<String, AppError> {
        let c = &mut email.context;
        self.prepare(conn, c, email.kind, email.lang)?;
        let dir = format!("email/{}", email.kind);
        let subject = self.tera.render(&format!("{dir}/subject.txt"), c)?.trim().to_string();
        let has_text = !is_address_bound(email.kind) && self.tera.get_template(&Self::sms_template(email.kind)).is_ok();
        let choice = match email.user_id {
            Some(user_id) if has_text && self.sms_on => users::table
                .find(user_id)
                .select((users::notify_channels, users::mobile))
                .first::<(String, Option<String>)>(conn)
                .optional()?,
            _ => None,
        };
        let route = match &choice {
            Some((choice, mobile)) => channels(choice, mobile.is_some(), self.sms_on, has_text),
            None => Channels { email: true, sms: false },
        };
        let mut id = None;
        if let (true, Some((_, Some(mobile)))) = (route.sms, &choice) {
            let text = self.render_text(c, email.kind, &subject)?;
            let row = Row { user_id: email.user_id, kind: email.kind, channel: "sms", recipient: mobile, subject: &subject, body_text: &text.content, body_html: "" };
            id = Some(insert(conn, row)?);
        }
        if route.email {
            let body_text = self.tera.render(&format!("{dir}/body.txt"), c)?;
            let body_html = self.tera.render(&format!("{dir}/body.html"), c)?;
            let row = Row { user_id: email.user_id, kind: email.kind, channel: "email", recipient: email.to, subject: &subject, body_text: &body_text, body_html: &body_html };
            id = Some(insert(conn, row)?);
        }
        id.ok_or_else(|| AppError::Internal("a notice with no channel".into()))
    }

    /// Queues a text that goes by SMS only (the code that proves a number).
    pub fn enqueue_text(&self, conn: &mut DbConn, mut text: Text<'_>) -> Result<String, AppError> {
        let c = &mut text.context;
        self.prepare(conn, c, text.kind, text.lang)?;
        let subject = self.i18n.t(text.lang, &format!("sms.subjects.{}", text.kind));
        let fitted = self.render_text(c, text.kind, &subject)?;
        insert(conn, Row { user_id: text.user_id, kind: text.kind, channel: "sms", recipient: text.to, subject: &subject, body_text: &fitted.content, body_html: "" })
    }
}

#[derive(Queryable, Selectable, Serialize, Debug, Clone)]
#[diesel(table_name = outbox)]
pub struct OutboxMessage {
    pub id: String,
    pub user_id: Option<String>,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
    pub failed_at: Option<NaiveDateTime>,
    /// "email" or "sms"
    pub channel: String,
}

/// A resident's copy of the messages sent to her, newest first.
pub fn list_for_user(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<OutboxMessage>> {
    outbox::table
        .filter(outbox::user_id.eq(user_id))
        .filter(outbox::kind.ne(CODE_KIND))
        .order(outbox::created_at.desc())
        .limit(100)
        .select(OutboxMessage::as_select())
        .load(conn)
}

/// One message, only if it belongs to `user_id` (anything else is "not found").
pub fn find_for_user(conn: &mut DbConn, user_id: &str, id: &str) -> QueryResult<Option<OutboxMessage>> {
    outbox::table
        .filter(outbox::id.eq(id))
        .filter(outbox::user_id.eq(user_id))
        .filter(outbox::kind.ne(CODE_KIND))
        .select(OutboxMessage::as_select())
        .first(conn)
        .optional()
}

#[derive(Serialize)]
pub struct OutboxStats {
    pub pending: i64,
    pub retrying: i64,
    pub sent: i64,
    pub failed: i64,
}

pub fn stats(conn: &mut DbConn) -> QueryResult<OutboxStats> {
    let pending = outbox::table.filter(outbox::status.eq("pending")).count().get_result(conn)?;
    let retrying = outbox::table
        .filter(outbox::status.eq("pending"))
        .filter(outbox::attempts.gt(0))
        .count()
        .get_result(conn)?;
    let sent = outbox::table.filter(outbox::status.eq("sent")).count().get_result(conn)?;
    let failed = outbox::table.filter(outbox::status.eq("failed")).count().get_result(conn)?;
    Ok(OutboxStats { pending, retrying, sent, failed })
}

/// The text that carries a code proving a mobile number: not among the
/// resident's messages, and its text is blanked once sent, so the code is
/// at rest only as its hash (and in the queue until it goes out).
pub const CODE_KIND: &str = "mobile_code";

/// Messages that carry a personal link (a password reset, a sign-up to
/// confirm), speak about the account of their address, or carry the code
/// that proves a number: they may be resent, but only to the address they
/// were written for, or a wrong "correction" would hand someone else the
/// link or prove the wrong number.
const ADDRESS_BOUND: [&str; 4] = ["password_reset", "signup_confirm", "signup_existing", "mobile_code"];

pub fn is_address_bound(kind: &str) -> bool {
    ADDRESS_BOUND.contains(&kind)
}

/// Messages given up on, the most recent first.
pub fn list_failed(conn: &mut DbConn) -> QueryResult<Vec<OutboxMessage>> {
    outbox::table
        .filter(outbox::status.eq("failed"))
        .order(outbox::failed_at.desc())
        .limit(500)
        .select(OutboxMessage::as_select())
        .load(conn)
}

pub fn find_failed(conn: &mut DbConn, id: &str) -> QueryResult<Option<OutboxMessage>> {
    outbox::table
        .find(id)
        .filter(outbox::status.eq("failed"))
        .select(OutboxMessage::as_select())
        .first(conn)
        .optional()
}

/// Puts a failed message back in the queue, to `recipient` (the same address
/// or a corrected one), with its attempts counted from zero. Returns the
/// message as it was before.
pub fn resend(conn: &mut DbConn, id: &str, recipient: &str) -> Result<OutboxMessage, AppError> {
    // The caller parsed `recipient` for the message's channel (an address or a mobile number).
    write_tx(conn, |conn| {
        let msg = find_failed(conn, id)?.ok_or(AppError::NotFound)?;
        if msg.recipient != recipient && is_address_bound(&msg.kind) {
            return Err(AppError::Conflict("notify.errors.address_bound"));
        }
        diesel::update(outbox::table.find(id).filter(outbox::status.eq("failed")))
            .set((
                outbox::recipient.eq(recipient),
                outbox::status.eq("pending"),
                outbox::attempts.eq(0),
                outbox::next_attempt_at.eq(now_utc()),
                outbox::last_error.eq(None::<String>),
                outbox::failed_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
        Ok(msg)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_goes_by_text_only_when_it_can_and_never_nowhere() {
        let both = Channels { email: true, sms: true };
        let email = Channels { email: true, sms: false };
        assert_eq!(channels("email", true, true, true), email);
        assert_eq!(channels("sms", true, true, true), Channels { email: false, sms: true });
        assert_eq!(channels("both", true, true, true), both);
        assert_eq!(channels("sms", false, true, true), email, "an unproven number gets nothing");
        assert_eq!(channels("sms", true, false, true), email, "SMS switched off");
        assert_eq!(channels("sms", true, true, false), email, "a notice without a text");
        assert_eq!(channels("both", true, true, false), email);
    }
}
