//! Background delivery of the outbox, with exponential back-off. A message is
//! marked sent only after the transport accepted it, so a crash, an SMTP or
//! SMS provider outage delays a notice but never loses it. A refusal for good
//! (SMTP 5xx, SENS 400) or OUTBOX_MAX_ATTEMPTS failures end it as `failed`,
//! for staff to correct and resend.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::mailer::{Mailer, SendFailure};
use super::sms::{self, SmsMessage, SmsProvider};
use super::OutboxMessage;
use crate::accounts::sessions;
use crate::config::Config;
use crate::db::schema::outbox;
use crate::db::{write_one, write_tx, DbConn, DbPool};
use crate::error::AppError;
use crate::time::now_utc;

/// How long a claimed message is reserved for the worker that claimed it.
const CLAIM_LEASE_SECS: i64 = 300;
const BATCH: i64 = 25;
/// Messages sent are marked at the end of their batch, or sooner when the
/// batch has been sending this long (far within the claim's lease).
const MARK_AT_LEAST_EVERY: Duration = Duration::from_secs(20);

/// Everything the worker delivers through: mail, and texts when SMS is on.
pub struct Transports {
    pub mailer: Mailer,
    pub sms: Option<Box<dyn SmsProvider>>,
}

impl Transports {
    fn send(&self, config: &Config, msg: &OutboxMessage) -> Result<(), SendFailure> {
        if msg.channel != "sms" {
            return self.mailer.send(&config.mail_from, msg);
        }
        // Switched off after the text was queued: it waits for SMS to return.
        let provider = self.sms.as_ref().ok_or_else(|| SendFailure::transient("SMS_PROVIDER is none".into()))?;
        let text = sms::fit(&msg.subject, &msg.body_text);
        provider.send(&SmsMessage { id: &msg.id, to: &msg.recipient, text })
    }
}

pub struct OutboxWorker {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl OutboxWorker {
    pub fn spawn(pool: DbPool, config: Config, transports: Transports, notifier: super::Notifier) -> OutboxWorker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("outbox".into())
            .spawn(move || run(pool, config, transports, notifier, flag))
            .ok();
        OutboxWorker { stop, handle }
    }

    /// Asks the worker to stop after the message in hand, and waits for it.
    pub fn shutdown(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Also the app's scheduler: chaining the access log's new entries (every
/// round), the day-before visit reminders, the access log's daily anchor and
/// the daily retention run (every minute, each once a day) and
/// the purge of expired sessions and sign-up links (every ten minutes).
fn run(pool: DbPool, config: Config, transports: Transports, notifier: super::Notifier, stop: Arc<AtomicBool>) {
    run_behind_requests();
    let mut last_purge = std::time::Instant::now();
    let mut last_reminders: Option<std::time::Instant> = None;
    while !stop.load(Ordering::SeqCst) {
        match pool.get() {
            Ok(mut conn) => {
                // A full batch means more is waiting: deliver it before sleeping.
                let mut full = true;
                while full && !stop.load(Ordering::SeqCst) {
                    full = match deliver_due(&mut conn, &config, &transports, &stop) {
                        Ok(n) => n >= BATCH as usize,
                        Err(e) => {
                            tracing::error!(error = %e, "outbox delivery round failed");
                            false
                        }
                    };
                }
                // Staff accesses appended since the last round join the chain.
                if let Err(e) = crate::audit::chain_pending(&mut conn, &config.secret_key) {
                    tracing::error!(error = %e, "access-log chaining failed");
                }
                if last_reminders.is_none_or(|t| t.elapsed() >= config.scheduler_interval) {
                    last_reminders = Some(std::time::Instant::now());
                    if let Err(e) = crate::visits::service::send_reminders(&mut conn, &notifier, now_utc()) {
                        tracing::error!(error = %e, "visit reminders failed");
                    }
                    if let Err(e) = crate::clinic::service::send_reminders(&mut conn, &notifier, now_utc()) {
                        tracing::error!(error = %e, "clinic reminders failed");
                    }
                    if let Err(e) = crate::audit::anchor_daily(&mut conn, &notifier, now_utc()) {
                        tracing::error!(error = %e, "access-log anchor failed");
                    }
                    if let Err(e) = crate::retention::service::run_scheduled(&mut conn, now_utc()) {
                        tracing::error!(error = %e, "retention run failed");
                    }
                }
                if last_purge.elapsed() > Duration::from_secs(600) {
                    last_purge = std::time::Instant::now();
                    if let Err(e) = sessions::purge_expired(&mut conn, now_utc()) {
                        tracing::error!(error = %e, "session purge failed");
                    }
                    if let Err(e) = crate::accounts::signup::purge_expired(&mut conn, now_utc()) {
                        tracing::error!(error = %e, "sign-up purge failed");
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "outbox worker: no database connection"),
        }
        let poll = config.outbox_poll.max(Duration::from_millis(10));
        let mut waited = Duration::ZERO;
        while waited < poll && !stop.load(Ordering::SeqCst) {
            let step = Duration::from_millis(50).min(poll - waited);
            std::thread::sleep(step);
            waited += step;
        }
    }
}

/// Lowers this thread's scheduling priority (nice 10, Linux, where each
/// thread has its own): delivery and the scheduled jobs give way to the
/// people waiting for pages. Measured in a burst of bookings, delivering
/// their emails took 28 % of the server's CPU at equal priority
/// (BENCHMARKS.md, session 8); when the requests leave CPU free, as they do
/// between bursts and while they wait for the write lock, the worker runs.
fn run_behind_requests() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread's own id.
        let done = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10) };
        if done != 0 {
            tracing::warn!("outbox worker: could not lower its priority");
        }
    }
}

/// Back-off after `attempts` failures: base × 2^(attempts-1), capped.
pub fn retry_delay(attempts: i32, base: Duration, max: Duration) -> Duration {
    let factor = 2u32.saturating_pow((attempts.max(1) - 1) as u32);
    base.saturating_mul(factor).min(max)
}

#[derive(Debug, PartialEq, Eq)]
pub enum AfterFailure {
    Retry(Duration),
    GiveUp,
}

/// After the `attempts`-th failed attempt: a refusal for good ends the message
/// at once, anything else is tried again until OUTBOX_MAX_ATTEMPTS.
pub fn after_failure(attempts: i32, permanent: bool, max_attempts: i32, base: Duration, max: Duration) -> AfterFailure {
    if permanent || attempts >= max_attempts {
        AfterFailure::GiveUp
    } else {
        AfterFailure::Retry(retry_delay(attempts, base, max))
    }
}

fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or_else(|_| chrono::Duration::hours(1))
}

/// Delivers the messages that are due, up to a batch. The batch is claimed
/// first, each message with a conditional update, so two app instances never
/// send the same message; the claims and then the messages sent are written
/// in one transaction each (two writes per batch instead of two per message:
/// on SQLite each write waits for the one writer's turn, and during a burst
/// of bookings the worker's writes were taking turns from them).
/// A crash between sending and marking sends those messages again when their
/// claim runs out: a notice is sent at least once, never lost.
pub fn deliver_due(conn: &mut DbConn, config: &Config, transports: &Transports, stop: &AtomicBool) -> Result<usize, AppError> {
    let now = now_utc();
    let due: Vec<OutboxMessage> = outbox::table
        .filter(outbox::status.eq("pending"))
        .filter(outbox::next_attempt_at.le(now))
        .order(outbox::next_attempt_at.asc())
        .limit(BATCH)
        .select(OutboxMessage::as_select())
        .load(conn)?;
    if due.is_empty() {
        return Ok(0);
    }
    let lease = now_utc() + chrono::Duration::seconds(CLAIM_LEASE_SECS);
    let claimed: Vec<OutboxMessage> = write_tx(conn, |conn| {
        let mut claimed = Vec::with_capacity(due.len());
        for msg in due {
            let won = diesel::update(
                outbox::table
                    .find(&msg.id)
                    .filter(outbox::status.eq("pending"))
                    .filter(outbox::next_attempt_at.eq(msg.next_attempt_at)),
            )
            .set(outbox::next_attempt_at.eq(lease))
            .execute(conn)?;
            if won == 1 {
                claimed.push(msg);
            }
        }
        Ok(claimed)
    })?;
    let mut sent: Vec<(&OutboxMessage, i32, NaiveDateTime)> = Vec::with_capacity(claimed.len());
    let (mut count, mut outcome, mut tried) = (0, Ok(()), 0);
    let mut since_marked = std::time::Instant::now();
    for msg in &claimed {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        tried += 1;
        let attempts = msg.attempts + 1;
        match transports.send(config, msg) {
            Ok(()) => {
                sent.push((msg, attempts, now_utc()));
                tracing::info!(id = %msg.id, kind = %msg.kind, channel = %msg.channel, attempts, "outbox message sent");
            }
            Err(failure) => {
                if let Err(e) = record_failure(conn, config, msg, attempts, lease, failure) {
                    outcome = Err(e);
                    break;
                }
            }
        }
        // A slow transport: what was sent is marked well before the claim runs out.
        if since_marked.elapsed() > MARK_AT_LEAST_EVERY {
            count += mark_sent(conn, &mut sent)?;
            since_marked = std::time::Instant::now();
        }
    }
    count += mark_sent(conn, &mut sent)?;
    // Claimed but not tried (the app stopping, or a failure that could not be
    // recorded): given back, so that they go at the next start instead of
    // when the claim runs out. Should this fail, the claim still runs out.
    let untried = &claimed[tried..];
    if !untried.is_empty() {
        let given_back = write_tx(conn, |conn| {
            for msg in untried {
                diesel::update(outbox::table.find(&msg.id).filter(outbox::next_attempt_at.eq(lease)))
                    .set(outbox::next_attempt_at.eq(msg.next_attempt_at))
                    .execute(conn)?;
            }
            Ok(())
        });
        if let Err(e) = given_back {
            tracing::warn!(error = %e, "outbox: claimed messages not given back; they go when their claim runs out");
        }
    }
    outcome.map(|()| count)
}

/// A failed attempt: tried again later with back-off, or ended as `failed`.
fn record_failure(
    conn: &mut DbConn,
    config: &Config,
    msg: &OutboxMessage,
    attempts: i32,
    lease: NaiveDateTime,
    failure: SendFailure,
) -> Result<(), AppError> {
    let reason: String = failure.reason.chars().take(500).collect();
    // Only while our claim holds: a worker whose lease ran out
    // must not overwrite a newer claim.
    let ours = outbox::table.find(&msg.id).filter(outbox::next_attempt_at.eq(lease));
    // The reason may quote an address or a number, so only the
    // id and the SMTP code or provider's status go to the log.
    match after_failure(attempts, failure.permanent, config.outbox_max_attempts, config.outbox_retry_base, config.outbox_retry_max) {
        AfterFailure::Retry(delay) => {
            write_one(conn, |conn| {
                Ok(diesel::update(ours)
                    .set((
                        outbox::attempts.eq(attempts),
                        outbox::next_attempt_at.eq(now_utc() + chrono_dur(delay)),
                        outbox::last_error.eq(reason),
                    ))
                    .execute(conn)?)
            })?;
            tracing::warn!(id = %msg.id, kind = %msg.kind, channel = %msg.channel, attempts, code = failure.code.as_deref(), retry_in_s = delay.as_secs(), "outbox message to be retried");
        }
        AfterFailure::GiveUp => {
            write_one(conn, |conn| {
                Ok(diesel::update(ours)
                    .set((
                        outbox::status.eq("failed"),
                        outbox::attempts.eq(attempts),
                        outbox::last_error.eq(reason),
                        outbox::failed_at.eq(Some(now_utc())),
                    ))
                    .execute(conn)?)
            })?;
            tracing::warn!(id = %msg.id, kind = %msg.kind, channel = %msg.channel, attempts, code = failure.code.as_deref(), permanent = failure.permanent, "outbox message failed");
        }
    }
    Ok(())
}

/// Marks the messages sent, in one transaction, and empties the list.
fn mark_sent(conn: &mut DbConn, sent: &mut Vec<(&OutboxMessage, i32, NaiveDateTime)>) -> Result<usize, AppError> {
    if sent.is_empty() {
        return Ok(0);
    }
    write_tx(conn, |conn| {
        for (msg, attempts, at) in sent.iter() {
            diesel::update(outbox::table.find(&msg.id))
                .set((
                    outbox::status.eq("sent"),
                    outbox::attempts.eq(*attempts),
                    outbox::sent_at.eq(Some(*at)),
                    outbox::last_error.eq(None::<String>),
                ))
                .execute(conn)?;
            if msg.kind == super::CODE_KIND {
                diesel::update(outbox::table.find(&msg.id)).set(outbox::body_text.eq("")).execute(conn)?;
            }
        }
        Ok(())
    })?;
    let n = sent.len();
    sent.clear();
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_and_is_capped() {
        let base = Duration::from_secs(30);
        let max = Duration::from_secs(3600);
        assert_eq!(retry_delay(1, base, max), Duration::from_secs(30));
        assert_eq!(retry_delay(2, base, max), Duration::from_secs(60));
        assert_eq!(retry_delay(4, base, max), Duration::from_secs(240));
        assert_eq!(retry_delay(30, base, max), max);
    }

    #[test]
    fn a_refusal_for_good_ends_at_once_and_others_end_after_the_last_attempt() {
        let (base, max) = (Duration::from_secs(30), Duration::from_secs(3600));
        assert_eq!(after_failure(1, true, 3, base, max), AfterFailure::GiveUp, "5xx on the first attempt");
        assert_eq!(after_failure(1, false, 3, base, max), AfterFailure::Retry(base));
        assert_eq!(after_failure(2, false, 3, base, max), AfterFailure::Retry(Duration::from_secs(60)));
        assert_eq!(after_failure(3, false, 3, base, max), AfterFailure::GiveUp, "the third of three");
        assert_eq!(after_failure(1, false, 1, base, max), AfterFailure::GiveUp, "one attempt allowed");
    }
}
