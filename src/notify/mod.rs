//! Notices without loss: messages are written to the outbox table in the same
//! transaction as the change that causes them (rendered just before it where
//! they can be known in advance, so no template runs under a write lock); a
//! background worker delivers them and retries. Each message has a channel: email (SMTP, or .eml
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
    // On the backend's own connection (`natively!`): written with every
    // booking, inside its transaction.
    crate::natively!(conn, |c| diesel::insert_into(outbox::table)
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
        .execute(c))?;
    Ok(id)
}

#[derive(Clone)]
pub struct Notifier {
    templates: Arc<Templates>,
    i18n: Arc<I18n>,
    city: Arc<crate::city::NamesCache>,
    public_url: String,
    sms_on: bool,
}

impl Notifier {
    pub fn new(templates: Arc<Templates>, i18n: Arc<I18n>, city_name: String, public_url: String) -> Notifier {
        Notifier { templates, i18n, city: Arc::new(crate::city::NamesCache::new(&city_name)), public_url, sms_on: false }
    }

    /// The city's names as messages show them (kept for `kept::KEEP`, like the
    /// pages'; `AppState::city` is this same cache).
    pub fn city_names(&self) -> Arc<crate::city::NamesCache> {
        self.city.clone()
    }

    /// With an SMS provider (SMS_PROVIDER other than none).
    pub fn with_sms(mut self, on: bool) -> Notifier {
        self.sms_on = on;
        self
    }

    pub fn sms_on(&self) -> bool {
        self.sms_on
    }

    fn fill_context(&self, conn: &mut DbConn, c: &mut tera::Context, kind: &str, lang: Lang) -> Result<(), AppError> {
        c.insert("lang", lang.code());
        c.insert("kind", kind);
        // The city file's name once a city is set up, else CITY_NAME.
        c.insert("city_name", self.city.get_on(conn)?.name(lang));
        c.insert("public_url", &self.public_url);
        Ok(())
    }

    fn sms_template(kind: &str) -> String {
        format!("sms/{kind}.txt")
    }

    /// The notice's short text, fitted to SMS or LMS (see `sms::fit`).
    fn render_text(&self, lang: Lang, c: &tera::Context, kind: &str, subject: &str) -> Result<sms::SmsText, AppError> {
        let content = self.templates.render(lang, &Self::sms_template(kind), c)?;
        Ok(sms::fit(subject, &content))
    }

    /// Renders the message and queues it on `conn`, which should be inside the
    /// transaction of the change the message reports: by email, and by SMS
    /// to a resident who chose it (see `channels`). Messages with a personal
    /// link stay email only. Returns the email's id, or the text's. Where the
    /// message can be known before, prefer `render` before the transaction and
    /// `enqueue_prepared` inside it (or `write_tx_with_notices` when the
    /// recipients are known only inside): rendering then happens outside the lock.
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
            Some(r) if r.is_for(&email) => self.queue(conn, r),
            _ => {
                let route = self.route(conn, email.user_id, email.kind)?;
                let rendered = self.render_for(conn, email, &route)?;
                self.queue_routed(conn, &rendered, &route)
            }
        }
    }

    /// Queues a message rendered before the transaction, to the channels the
    /// resident chose as the transaction reads them. If she changed her
    /// choice in between and a part she now gets was not rendered, it is
    /// rendered here.
    pub fn queue(&self, conn: &mut DbConn, r: &Rendered) -> Result<String, AppError> {
        let route = self.route(conn, r.user_id.as_deref(), r.kind)?;
        if r.covers(&route) {
            return self.queue_routed(conn, r, &route);
        }
        let again = self.render_for(conn, r.email(), &route)?;
        self.queue_routed(conn, &again, &route)
    }

    /// Queues the parts of `r` that `route` sends (the caller checked that
    /// `r` covers it).
    fn queue_routed(&self, conn: &mut DbConn, r: &Rendered, route: &Route) -> Result<String, AppError> {
        let mut id = None;
        if let (Some(mobile), Some(text)) = (&route.sms_to, &r.text) {
            let row = Row { user_id: r.user_id.as_deref(), kind: r.kind, channel: "sms", recipient: mobile, subject: &r.subject, body_text: text, body_html: "" };
            id = Some(insert(conn, row)?);
        }
        if let (true, Some((body_text, body_html))) = (route.email, &r.bodies) {
            let row = Row { user_id: r.user_id.as_deref(), kind: r.kind, channel: "email", recipient: &r.to, subject: &r.subject, body_text, body_html };
            id = Some(insert(conn, row)?);
        }
        id.ok_or_else(|| AppError::Internal("a notice with no channel".into()))
    }

    /// Whether the notice `kind` has a short text that may go by SMS.
    fn has_text(&self, kind: &str) -> bool {
        self.sms_on && !is_address_bound(kind) && self.templates.has(&Self::sms_template(kind))
    }

    /// Where a notice of `kind` to `user_id` goes, from her choice as `conn`
    /// reads it now: one query by primary key, and none at all when SMS is
    /// off, the message goes to an address only or the notice has no text.
    fn route(&self, conn: &mut DbConn, user_id: Option<&str>, kind: &str) -> Result<Route, AppError> {
        let choice = match user_id {
            Some(user_id) if self.has_text(kind) => crate::natively!(conn, |c| users::table
                .find(user_id)
                .select((users::notify_channels, users::mobile))
                .first::<(String, Option<String>)>(c)
                .optional())?,
            _ => None,
        };
        Ok(match choice {
            Some((choice, mobile)) => {
                let c = channels(&choice, mobile.is_some(), self.sms_on, true);
                Route { email: c.email, sms_to: mobile.filter(|_| c.sms) }
            }
            None => Route { email: true, sms_to: None },
        })
    }

    /// Renders a message without queueing it, to be done before the write
    /// transaction: templates and the city's name (a setting read) stay out
    /// of SQLite's write lock and PostgreSQL's row locks. Only what will be
    /// sent is rendered: her channel choice is read first, and a resident who
    /// chose email gets no short text rendered, one who chose SMS no email
    /// bodies (`queue` renders what is missing should she change her choice
    /// before the transaction).
    pub fn render(&self, conn: &mut DbConn, email: Email<'_>) -> Result<Rendered, AppError> {
        let route = self.route(conn, email.user_id, email.kind)?;
        self.render_for(conn, email, &route)
    }

    /// Renders the parts of `email` that `route` sends: the subject always
    /// (a text's subject), the bodies for email, the short text for SMS.
    fn render_for(&self, conn: &mut DbConn, email: Email<'_>, route: &Route) -> Result<Rendered, AppError> {
        let mut c = email.context.clone();
        self.fill_context(conn, &mut c, email.kind, email.lang)?;
        let dir = format!("email/{}", email.kind);
        let subject = self.templates.render(email.lang, &format!("{dir}/subject.txt"), &c)?.trim().to_string();
        let bodies = if route.email {
            let body_text = self.templates.render(email.lang, &format!("{dir}/body.txt"), &c)?;
            let body_html = self.templates.render(email.lang, &format!("{dir}/body.html"), &c)?;
            Some((body_text, body_html))
        } else {
            None
        };
        let text = if route.sms_to.is_some() { Some(self.render_text(email.lang, &c, email.kind, &subject)?.content) } else { None };
        Ok(Rendered {
            user_id: email.user_id.map(str::to_string),
            to: email.to.to_string(),
            kind: email.kind,
            lang: email.lang,
            context: email.context,
            subject,
            bodies,
            text,
        })
    }

    /// `render` for a message prepared ahead of its transaction: a failure
    /// here (say the record is gone) is met again, and reported, inside the
    /// transaction, so it only means nothing is prepared.
    pub fn prepare(&self, conn: &mut DbConn, email: Result<Email<'_>, AppError>) -> Option<Rendered> {
        match email.and_then(|e| self.render(conn, e)) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::debug!(error = %e, "message not prepared ahead");
                None
            }
        }
    }

    /// Runs `change` in a write transaction that queues notices whose
    /// recipients only the transaction knows for sure (everyone booked on a
    /// session being cancelled, the next in line on a waiting list, the
    /// visits a birth cancels). `prepare` reads the recipients as they are
    /// now and renders their notices, outside the transaction; `change`
    /// queues each through `Notices::enqueue`, which uses the prepared one.
    /// If the transaction meets a notice that was not prepared (a resident
    /// booked, cancelled or changed her details in between), it is rolled
    /// back, and preparing and the transaction run again. After
    /// `NOTICE_ATTEMPTS - 1` such tries the last run renders what is missing
    /// inside the transaction, so that a set that keeps changing cannot
    /// starve the change.
    pub fn write_tx_with_notices<T>(
        &self,
        conn: &mut DbConn,
        mut prepare: impl FnMut(&mut DbConn) -> Result<Vec<Rendered>, AppError>,
        mut change: impl FnMut(&mut DbConn, &mut Notices<'_>) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let mut attempt = 1;
        loop {
            let ready = prepare(conn).unwrap_or_else(|e| {
                tracing::debug!(error = %e, "notices not prepared ahead");
                vec![]
            });
            let mut notices = Notices { notifier: self, ready, strict: attempt < NOTICE_ATTEMPTS, missed: false };
            let outcome = write_tx(conn, |c| {
                let value = change(c, &mut notices)?;
                // A miss whose error the change swallowed still rolls it back.
                match notices.missed {
                    true => Err(AppError::Internal("a notice was not prepared before its transaction".into())),
                    false => Ok(value),
                }
            });
            match outcome {
                Err(_) if notices.missed => {
                    tracing::debug!(attempt, "a notice was not prepared: its recipients changed; preparing again");
                    attempt += 1;
                }
                done => return done,
            }
        }
    }
    /// Queues a text that goes by SMS only (the code that proves a number).
    pub fn enqueue_text(&self, conn: &mut DbConn, mut text: Text<'_>) -> Result<String, AppError> {
        let c = &mut text.context;
        self.fill_context(conn, c, text.kind, text.lang)?;
        let subject = self.i18n.t(text.lang, &format!("sms.subjects.{}", text.kind));
        let fitted = self.render_text(text.lang, c, text.kind, &subject)?;
        insert(conn, Row { user_id: text.user_id, kind: text.kind, channel: "sms", recipient: text.to, subject: &subject, body_text: &fitted.content, body_html: "" })
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
        let (email, locale, name): (String, String, String) =
            crate::natively!(conn, |c| users::table.find(user_id).select((users::email, users::locale, users::name)).first(c))?;
        Ok(Recipient { user_id: user_id.to_string(), email, locale, name })
    }

    pub fn lang(&self) -> Lang {
        Lang::from_code(&self.locale).unwrap_or(Lang::Ko)
    }

    pub fn mail(&self, kind: &'static str, context: tera::Context) -> Email<'_> {
        Email { user_id: Some(&self.user_id), to: &self.email, kind, lang: self.lang(), context }
    }
}

/// How many times `Notifier::write_tx_with_notices` runs a transaction whose
/// notices were all rendered before it; one more run may render inside.
pub const NOTICE_ATTEMPTS: u32 = 3;

/// Where one notice goes, as read from the resident's choice.
struct Route {
    email: bool,
    /// Her proven mobile number, when the notice goes by SMS.
    sms_to: Option<String>,
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
    /// The email's text and HTML bodies, when it goes by email.
    bodies: Option<(String, String)>,
    /// The short text for SMS, when it goes by SMS.
    text: Option<String>,
}

impl Rendered {
    fn is_for(&self, email: &Email<'_>) -> bool {
        self.kind == email.kind && self.lang == email.lang && self.to == email.to && self.user_id.as_deref() == email.user_id && self.context == email.context
    }

    /// Whether every part `route` sends was rendered.
    fn covers(&self, route: &Route) -> bool {
        (!route.email || self.bodies.is_some()) && (route.sms_to.is_none() || self.text.is_some())
    }

    /// The message this was rendered from.
    fn email(&self) -> Email<'_> {
        Email { user_id: self.user_id.as_deref(), to: &self.to, kind: self.kind, lang: self.lang, context: self.context.clone() }
    }

    /// The channels it was rendered for: "email", "sms" or "both".
    pub fn channels(&self) -> &'static str {
        match (self.bodies.is_some(), self.text.is_some()) {
            (true, true) => "both",
            (false, true) => "sms",
            _ => "email",
        }
    }
}

/// The notices rendered before a transaction of `write_tx_with_notices`.
pub struct Notices<'a> {
    notifier: &'a Notifier,
    ready: Vec<Rendered>,
    /// Whether a notice that was not prepared rolls the transaction back
    /// (to be prepared outside) rather than being rendered inside it.
    strict: bool,
    missed: bool,
}

impl Notices<'_> {
    /// Queues `email` inside the transaction from its prepared rendering
    /// (same recipient, kind, language and parameters, and every channel
    /// she gets now rendered). Without one, the transaction fails and
    /// `write_tx_with_notices` prepares again, except on its last try, where
    /// the message is rendered here.
    pub fn enqueue(&mut self, conn: &mut DbConn, email: Email<'_>) -> Result<String, AppError> {
        let notifier = self.notifier;
        let ready = self.ready.iter().find(|r| r.is_for(&email));
        if !self.strict {
            return match ready {
                Some(r) => notifier.queue(conn, r),
                None => notifier.enqueue(conn, email),
            };
        }
        if let Some(r) = ready {
            let route = notifier.route(conn, r.user_id.as_deref(), r.kind)?;
            if r.covers(&route) {
                return notifier.queue_routed(conn, r, &route);
            }
        }
        self.missed = true;
        Err(AppError::Internal(format!("a {} notice was not prepared before its transaction", email.kind)))
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
/// Her newest `limit` messages (the home page shows 3, her messages page 100).
pub fn list_for_user(conn: &mut DbConn, user_id: &str, limit: i64) -> QueryResult<Vec<OutboxMessage>> {
    crate::natively!(conn, |c| outbox::table
        .filter(outbox::user_id.eq(user_id))
        .filter(outbox::kind.ne(CODE_KIND))
        .order(outbox::created_at.desc())
        .limit(limit)
        .select(OutboxMessage::as_select())
        .load(c))
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
