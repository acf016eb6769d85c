//! Background delivery of the outbox, with exponential back-off. A message is
//! marked sent only after the transport accepted it, so a crash or an SMTP
//! outage delays mail but never loses it. A refusal for good (SMTP 5xx) or
//! OUTBOX_MAX_ATTEMPTS failures end it as `failed`, for staff to correct and resend.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::mailer::Mailer;
use super::OutboxMessage;
use crate::accounts::sessions;
use crate::config::Config;
use crate::db::schema::outbox;
use crate::db::{DbConn, DbPool};
use crate::error::AppError;
use crate::time::now_utc;

/// How long a claimed message is reserved for the worker that claimed it.
const CLAIM_LEASE_SECS: i64 = 300;
const BATCH: i64 = 25;

pub struct OutboxWorker {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl OutboxWorker {
    pub fn spawn(pool: DbPool, config: Config, mailer: Mailer, notifier: super::Notifier) -> OutboxWorker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("outbox".into())
            .spawn(move || run(pool, config, mailer, notifier, flag))
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

/// Also the app's scheduler: the day-before visit reminders, the access log's
/// daily anchor and the daily retention run (every minute, each once a day) and
/// the purge of expired sessions and sign-up links (every ten minutes).
fn run(pool: DbPool, config: Config, mailer: Mailer, notifier: super::Notifier, stop: Arc<AtomicBool>) {
    let mut last_purge = std::time::Instant::now();
    let mut last_reminders: Option<std::time::Instant> = None;
    while !stop.load(Ordering::SeqCst) {
        match pool.get() {
            Ok(mut conn) => {
                // A full batch means more is waiting: deliver it before sleeping.
                let mut full = true;
                while full && !stop.load(Ordering::SeqCst) {
                    full = match deliver_due(&mut conn, &config, &mailer, &stop) {
                        Ok(n) => n >= BATCH as usize,
                        Err(e) => {
                            log::error!(target: "outbox", "delivery round failed: {e}");
                            false
                        }
                    };
                }
                if last_reminders.is_none_or(|t| t.elapsed() >= config.scheduler_interval) {
                    last_reminders = Some(std::time::Instant::now());
                    if let Err(e) = crate::visits::service::send_reminders(&mut conn, &notifier, now_utc()) {
                        log::error!(target: "scheduler", "visit reminders failed: {e}");
                    }
                    if let Err(e) = crate::clinic::service::send_reminders(&mut conn, &notifier, now_utc()) {
                        log::error!(target: "scheduler", "clinic reminders failed: {e}");
                    }
                    if let Err(e) = crate::audit::anchor_daily(&mut conn, &notifier, now_utc()) {
                        log::error!(target: "scheduler", "access-log anchor failed: {e}");
                    }
                    if let Err(e) = crate::retention::service::run_scheduled(&mut conn, now_utc()) {
                        log::error!(target: "scheduler", "retention run failed: {e}");
                    }
                }
                if last_purge.elapsed() > Duration::from_secs(600) {
                    last_purge = std::time::Instant::now();
                    if let Err(e) = sessions::purge_expired(&mut conn, now_utc()) {
                        log::error!(target: "outbox", "session purge failed: {e}");
                    }
                    if let Err(e) = crate::accounts::signup::purge_expired(&mut conn, now_utc()) {
                        log::error!(target: "outbox", "sign-up purge failed: {e}");
                    }
                }
            }
            Err(e) => log::error!(target: "outbox", "no database connection: {e}"),
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

/// Delivers every message that is due. Each one is claimed first with a
/// conditional update, so two app instances never send the same message.
pub fn deliver_due(conn: &mut DbConn, config: &Config, mailer: &Mailer, stop: &AtomicBool) -> Result<usize, AppError> {
    let now = now_utc();
    let due: Vec<OutboxMessage> = outbox::table
        .filter(outbox::status.eq("pending"))
        .filter(outbox::next_attempt_at.le(now))
        .order(outbox::next_attempt_at.asc())
        .limit(BATCH)
        .select(OutboxMessage::as_select())
        .load(conn)?;
    let mut sent = 0;
    for msg in due {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let lease = now_utc() + chrono::Duration::seconds(CLAIM_LEASE_SECS);
        let claimed = diesel::update(
            outbox::table
                .find(&msg.id)
                .filter(outbox::status.eq("pending"))
                .filter(outbox::next_attempt_at.eq(msg.next_attempt_at)),
        )
        .set(outbox::next_attempt_at.eq(lease))
        .execute(conn)?;
        if claimed != 1 {
            continue;
        }
        let attempts = msg.attempts + 1;
        match mailer.send(&config.mail_from, &msg) {
            Ok(()) => {
                mark_sent(conn, &msg.id, attempts, now_utc())?;
                sent += 1;
                log::info!(target: "outbox", "{}", serde_json::json!({"event": "sent", "id": msg.id, "kind": msg.kind, "attempts": attempts}));
            }
            Err(failure) => {
                let reason: String = failure.reason.chars().take(500).collect();
                // Only while our claim holds: a worker whose lease ran out
                // must not overwrite a newer claim.
                let ours = outbox::table.find(&msg.id).filter(outbox::next_attempt_at.eq(lease));
                // The reason may quote an address, so only the id and the
                // SMTP code go to the log.
                match after_failure(attempts, failure.permanent, config.outbox_max_attempts, config.outbox_retry_base, config.outbox_retry_max) {
                    AfterFailure::Retry(delay) => {
                        diesel::update(ours)
                            .set((
                                outbox::attempts.eq(attempts),
                                outbox::next_attempt_at.eq(now_utc() + chrono_dur(delay)),
                                outbox::last_error.eq(reason),
                            ))
                            .execute(conn)?;
                        log::warn!(target: "outbox", "{}", serde_json::json!({"event": "retry", "id": msg.id, "kind": msg.kind, "attempts": attempts, "smtp_code": failure.smtp_code, "retry_in_s": delay.as_secs()}));
                    }
                    AfterFailure::GiveUp => {
                        diesel::update(ours)
                            .set((
                                outbox::status.eq("failed"),
                                outbox::attempts.eq(attempts),
                                outbox::last_error.eq(reason),
                                outbox::failed_at.eq(Some(now_utc())),
                            ))
                            .execute(conn)?;
                        log::warn!(target: "outbox", "{}", serde_json::json!({"event": "failed", "id": msg.id, "kind": msg.kind, "attempts": attempts, "smtp_code": failure.smtp_code, "permanent": failure.permanent}));
                    }
                }
            }
        }
    }
    Ok(sent)
}

fn mark_sent(conn: &mut DbConn, id: &str, attempts: i32, at: NaiveDateTime) -> Result<(), AppError> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::status.eq("sent"),
            outbox::attempts.eq(attempts),
            outbox::sent_at.eq(Some(at)),
            outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
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
