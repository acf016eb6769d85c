//! Email without loss: messages are rendered and written to the outbox table in
//! the same transaction as the change that causes them; a background worker
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
use crate::i18n::Lang;
use crate::state::Templates;
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
    templates: Arc<Templates>,
    city_name: String,
    public_url: String,
}

impl Notifier {
    pub fn new(templates: Arc<Templates>, city_name: String, public_url: String) -> Notifier {
        Notifier { templates, city_name, public_url }
    }

    /// Renders the message and queues it on `conn`, which should be inside the
    /// transaction of the change the message reports.
    pub fn enqueue(&self, conn: &mut DbConn, mut email: Email<'_>) -> Result<String, AppError> {
        let c = &mut email.context;
        c.insert("lang", email.lang.code());
        c.insert("kind", email.kind);
        // The city file's name once a city is set up, else CITY_NAME.
        let city = crate::city::names(conn)?.map(|n| n.name(email.lang).to_string()).unwrap_or_else(|| self.city_name.clone());
        c.insert("city_name", &city);
        c.insert("public_url", &self.public_url);
        let dir = format!("email/{}", email.kind);
        let subject = self.templates.render(email.lang, &format!("{dir}/subject.txt"), c)?.trim().to_string();
        let body_text = self.templates.render(email.lang, &format!("{dir}/body.txt"), c)?;
        let body_html = self.templates.render(email.lang, &format!("{dir}/body.html"), c)?;
        let id = new_id();
        let now = now_utc();
        diesel::insert_into(outbox::table)
            .values((
                outbox::id.eq(&id),
                outbox::user_id.eq(email.user_id),
                outbox::kind.eq(email.kind),
                outbox::recipient.eq(email.to),
                outbox::subject.eq(&subject),
                outbox::body_text.eq(&body_text),
                outbox::body_html.eq(&body_html),
                outbox::status.eq("pending"),
                outbox::attempts.eq(0),
                outbox::next_attempt_at.eq(now),
                outbox::created_at.eq(now),
            ))
            .execute(conn)?;
        Ok(id)
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
