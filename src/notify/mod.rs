//! Email without loss: messages are written to the outbox table in the same
//! transaction as the change that causes them (rendered just before it where
//! they can be known in advance, so no template runs under a write lock); a background worker
//! delivers them (SMTP, or .eml files when no SMTP is configured) and retries.
//! What cannot be delivered ends as `failed`; staff correct and resend it.

pub mod mailer;
pub mod routes;
pub mod worker;

use std::sync::Arc;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::outbox;
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

#[derive(Clone)]
pub struct Notifier {
    tera: Arc<tera::Tera>,
    i18n: Arc<I18n>,
    city_name: String,
    public_url: String,
}

impl Notifier {
    pub fn new(tera: Arc<tera::Tera>, i18n: Arc<I18n>, city_name: String, public_url: String) -> Notifier {
        Notifier { tera, i18n, city_name, public_url }
    }

    /// Renders the message and queues it on `conn`, which should be inside the
    /// transaction of the change the message reports. Where the message can be
    /// known before, prefer `render` before the transaction and
    /// `enqueue_prepared` inside it: rendering then happens outside the lock.
    pub fn enqueue(&self, conn: &mut DbConn, email: Email<'_>) -> Result<String, AppError> {
        self.enqueue_prepared(conn, email, None)
    }

    /// Queues `email` inside the change's transaction. When `ready` was
    /// rendered from the very same message (recipient, kind, language and every
    /// parameter, as built from what the transaction read) its text is used
    /// and nothing is rendered here; otherwise (the data changed in between,
    /// or nothing was prepared) the message is rendered now, as `enqueue` does.
    pub fn enqueue_prepared(&self, conn: &mut DbConn, email: Email<'_>, ready: Option<&Rendered>) -> Result<String, AppError> {
        match ready {
            Some(r) if r.is_for(&email) => insert(conn, r),
            _ => {
                let rendered = self.render(conn, email)?;
                insert(conn, &rendered)
            }
        }
    }

    /// Queues a message rendered before the transaction from data that the
    /// transaction does not change (a reset link for a known account).
    pub fn queue(&self, conn: &mut DbConn, ready: &Rendered) -> Result<String, AppError> {
        insert(conn, ready)
    }

    /// Renders a message without queueing it, to be done before the write
    /// transaction: templates and the city's name (a setting read) stay out
    /// of SQLite's write lock and PostgreSQL's row locks.
    pub fn render(&self, conn: &mut DbConn, email: Email<'_>) -> Result<Rendered, AppError> {
        let mut c = email.context.clone();
        c.insert("lang", email.lang.code());
        c.insert("kind", email.kind);
        c.insert("t", self.i18n.catalog(email.lang));
        // The city file's name once a city is set up, else CITY_NAME.
        let city = crate::city::names(conn)?.map(|n| n.name(email.lang).to_string()).unwrap_or_else(|| self.city_name.clone());
        c.insert("city_name", &city);
        c.insert("public_url", &self.public_url);
        let dir = format!("email/{}", email.kind);
        let subject = self.tera.render(&format!("{dir}/subject.txt"), &c)?.trim().to_string();
        let body_text = self.tera.render(&format!("{dir}/body.txt"), &c)?;
        let body_html = self.tera.render(&format!("{dir}/body.html"), &c)?;
        Ok(Rendered {
            user_id: email.user_id.map(str::to_string),
            to: email.to.to_string(),
            kind: email.kind,
            lang: email.lang,
            context: email.context,
            subject,
            body_text,
            body_html,
        })
    }

    /// `render` for a message prepared ahead of its transaction: a failure
    /// here (say the record is gone) is met again, and reported, inside the
    /// transaction, so it only means nothing is prepared.
    pub fn prepare(&self, conn: &mut DbConn, email: Result<Email<'_>, AppError>) -> Option<Rendered> {
        match email.and_then(|e| self.render(conn, e)) {
            Ok(r) => Some(r),
            Err(e) => {
                log::debug!(target: "outbox", "message not prepared ahead: {e}");
                None
            }
        }
    }
}

/// The account a message goes to, as read from its row.
pub struct Recipient {
    pub user_id: String,
    pub email: String,
    pub locale: String,
    pub name: String,
}

impl Recipient {
    pub fn of(conn: &mut DbConn, user_id: &str) -> Result<Recipient, AppError> {
        use crate::db::schema::users;
        let (email, locale, name): (String, String, String) = users::table.find(user_id).select((users::email, users::locale, users::name)).first(conn)?;
        Ok(Recipient { user_id: user_id.to_string(), email, locale, name })
    }

    pub fn lang(&self) -> Lang {
        Lang::from_code(&self.locale).unwrap_or(Lang::Ko)
    }

    pub fn mail(&self, kind: &'static str, context: tera::Context) -> Email<'_> {
        Email { user_id: Some(&self.user_id), to: &self.email, kind, lang: self.lang(), context }
    }
}

/// A message rendered ahead of the transaction that queues it, with the
/// parameters it was rendered from.
pub struct Rendered {
    user_id: Option<String>,
    to: String,
    kind: &'static str,
    lang: Lang,
    context: tera::Context,
    subject: String,
    body_text: String,
    body_html: String,
}

impl Rendered {
    fn is_for(&self, email: &Email<'_>) -> bool {
        self.kind == email.kind && self.lang == email.lang && self.to == email.to && self.user_id.as_deref() == email.user_id && self.context == email.context
    }
}

fn insert(conn: &mut DbConn, r: &Rendered) -> Result<String, AppError> {
    let id = new_id();
    let now = now_utc();
    diesel::insert_into(outbox::table)
        .values((
            outbox::id.eq(&id),
            outbox::user_id.eq(r.user_id.as_deref()),
            outbox::kind.eq(r.kind),
            outbox::recipient.eq(&r.to),
            outbox::subject.eq(&r.subject),
            outbox::body_text.eq(&r.body_text),
            outbox::body_html.eq(&r.body_html),
            outbox::status.eq("pending"),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(now),
            outbox::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id)
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
}

/// A resident's copy of the messages sent to her, newest first.
pub fn list_for_user(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<OutboxMessage>> {
    outbox::table
        .filter(outbox::user_id.eq(user_id))
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

/// Messages that carry a personal link (a password reset, a sign-up to
/// confirm) or speak about the account of their address: they may be resent,
/// but only to the address they were written for, or a wrong "correction"
/// would hand someone else the link.
const ADDRESS_BOUND: [&str; 3] = ["password_reset", "signup_confirm", "signup_existing"];

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
