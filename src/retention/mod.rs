//! Retention of personal data: how long each kind of record is kept (the
//! city's settings, in its city file and on the settings page), the job that
//! deletes or anonymises what is past its period (daily, and on demand), and
//! the supervisor's page that shows what the next run removes.

pub mod routes;
pub mod service;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::retention_settings as rs;
use crate::db::DbConn;
use crate::error::AppError;

/// The shortest access-log period the city may set: two years.
pub const ACCESS_LOG_MIN_DAYS: i32 = 730;
/// The longest period of any kind: ten years.
pub const MAX_DAYS: i32 = 3650;

/// Days each kind of record is kept. Applications count from the end of
/// their program year; the others from their own date (see `service`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Periods {
    /// Applications (anonymised) and their documents (deleted), after the
    /// end of the program year the application belongs to.
    pub applications_days: i32,
    /// Sessions, after their last use.
    pub sessions_days: i32,
    /// Password-reset tokens, after they were made.
    pub password_resets_days: i32,
    /// Sign-ups never confirmed, after they were made.
    pub signups_days: i32,
    /// Sent and failed mail, after it was sent or given up.
    pub outbox_days: i32,
    /// Access-log entries (at least two years).
    pub access_log_days: i32,
}

impl Default for Periods {
    fn default() -> Periods {
        Periods { applications_days: 1825, sessions_days: 30, password_resets_days: 30, signups_days: 7, outbox_days: 90, access_log_days: 730 }
    }
}

/// The kinds of record, in the order pages and logs show them.
pub const KINDS: [&str; 7] = ["applications", "documents", "sessions", "password_resets", "signups", "outbox", "access_log"];

impl Periods {
    /// The period of each setting, by its field name.
    pub fn fields(&self) -> [(&'static str, i32); 6] {
        [
            ("applications_days", self.applications_days),
            ("sessions_days", self.sessions_days),
            ("password_resets_days", self.password_resets_days),
            ("signups_days", self.signups_days),
            ("outbox_days", self.outbox_days),
            ("access_log_days", self.access_log_days),
        ]
    }

    /// The period that applies to a kind of record (documents go with
    /// their applications).
    pub fn days_for(&self, kind: &str) -> i32 {
        match kind {
            "applications" | "documents" => self.applications_days,
            "sessions" => self.sessions_days,
            "password_resets" => self.password_resets_days,
            "signups" => self.signups_days,
            "outbox" => self.outbox_days,
            _ => self.access_log_days,
        }
    }
}

/// What is wrong with the periods: (field, message-catalog key), in field order.
pub fn check(p: &Periods) -> Vec<(&'static str, &'static str)> {
    p.fields()
        .into_iter()
        .filter_map(|(field, days)| {
            if field == "access_log_days" && days < ACCESS_LOG_MIN_DAYS {
                Some((field, "retention.errors.access_log_too_short"))
            } else if !(1..=MAX_DAYS).contains(&days) {
                Some((field, "retention.errors.range"))
            } else {
                None
            }
        })
        .collect()
}

/// The stored periods, or the defaults when the city never set them.
pub fn periods(conn: &mut DbConn) -> Result<Periods, AppError> {
    let row: Option<(i32, i32, i32, i32, i32, i32)> = rs::table
        .find("retention")
        .select((rs::applications_days, rs::sessions_days, rs::password_resets_days, rs::signups_days, rs::outbox_days, rs::access_log_days))
        .first(conn)
        .optional()?;
    Ok(row.map_or_else(Periods::default, |(a, s, r, u, o, l)| Periods {
        applications_days: a,
        sessions_days: s,
        password_resets_days: r,
        signups_days: u,
        outbox_days: o,
        access_log_days: l,
    }))
}

/// Stores checked periods; call inside the caller's transaction.
pub fn save(conn: &mut DbConn, p: &Periods) -> Result<(), AppError> {
    if let Some((_, key)) = check(p).first() {
        return Err(AppError::BadRequest(key));
    }
    let values = (
        rs::applications_days.eq(p.applications_days),
        rs::sessions_days.eq(p.sessions_days),
        rs::password_resets_days.eq(p.password_resets_days),
        rs::signups_days.eq(p.signups_days),
        rs::outbox_days.eq(p.outbox_days),
        rs::access_log_days.eq(p.access_log_days),
        rs::updated_at.eq(crate::time::now_utc()),
    );
    if diesel::update(rs::table.find("retention")).set(values).execute(conn)? == 0 {
        diesel::insert_into(rs::table).values((rs::id.eq("retention"), values)).execute(conn)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_pass_and_the_access_log_is_kept_at_least_two_years() {
        assert!(check(&Periods::default()).is_empty());
        let short = Periods { access_log_days: 729, ..Periods::default() };
        assert_eq!(check(&short), vec![("access_log_days", "retention.errors.access_log_too_short")]);
        assert!(check(&Periods { access_log_days: 730, ..Periods::default() }).is_empty());
        let zero = Periods { sessions_days: 0, outbox_days: MAX_DAYS + 1, ..Periods::default() };
        assert_eq!(check(&zero), vec![("sessions_days", "retention.errors.range"), ("outbox_days", "retention.errors.range")]);
    }
}
