//! The staff home's figures for today and this week (Seoul time): each one
//! a COUNT on an indexed column, and each counted exactly as the list it
//! links to shows it.

use chrono::{Datelike, Duration, NaiveDate};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{applications, clinic_bookings, clinic_sessions, programs};
use crate::db::DbConn;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::time::{format_date, seoul_midnight_utc};
use crate::visits::models::DUE_STATUSES;

#[derive(Serialize, Debug, Default)]
pub struct NextClinic {
    pub session_id: String,
    pub date: String,
    /// Places taken (booked or already attended), and those waiting.
    pub booked: i64,
    pub waitlisted: i64,
}

#[derive(Serialize, Debug, Default)]
pub struct Dashboard {
    /// Dates as the lists' filters take them (YYYY-MM-DD).
    pub today: String,
    pub week_start: String,
    pub week_end: String,
    /// The same, written out for people.
    pub today_label: String,
    pub week_start_label: String,
    pub week_end_label: String,
    pub new_today: i64,
    pub new_week: i64,
    pub waiting: i64,
    pub visits_today: i64,
    pub visits_week: i64,
    pub clinic: Option<NextClinic>,
}

/// Monday of the week `day` is in (weeks run Monday to Sunday).
pub fn week_start(day: NaiveDate) -> NaiveDate {
    day - Duration::days(day.weekday().num_days_from_monday() as i64)
}

/// Applications of the housework program (the review queue's list) received
/// from the start of `from` up to the start of `until` (Seoul days).
fn received(conn: &mut DbConn, program: &str, from: NaiveDate, until: NaiveDate) -> QueryResult<i64> {
    applications::table
        .filter(applications::program_id.eq(program))
        .filter(applications::status.ne("draft"))
        .filter(applications::submitted_at.ge(seoul_midnight_utc(from)))
        .filter(applications::submitted_at.lt(seoul_midnight_utc(until)))
        .count()
        .get_result(conn)
}

fn visits_due(conn: &mut DbConn, from: NaiveDate, to: NaiveDate) -> QueryResult<i64> {
    use crate::db::schema::visits;
    visits::table.filter(visits::day.ge(from)).filter(visits::day.le(to)).filter(visits::status.eq_any(DUE_STATUSES)).count().get_result(conn)
}

pub fn load(conn: &mut DbConn, today: NaiveDate, lang: Lang) -> Result<Dashboard, AppError> {
    let monday = week_start(today);
    let sunday = monday + Duration::days(6);
    let program: Option<String> =
        programs::table.filter(programs::code.eq(crate::programs::HOUSEWORK)).select(programs::id).first(conn).optional()?;
    let (new_today, new_week, waiting) = match &program {
        Some(p) => (
            received(conn, p, today, today + Duration::days(1))?,
            received(conn, p, monday, sunday + Duration::days(1))?,
            applications::table.filter(applications::program_id.eq(p)).filter(applications::status.eq("submitted")).count().get_result(conn)?,
        ),
        None => (0, 0, 0),
    };
    let next: Option<(String, NaiveDate)> = clinic_sessions::table
        .filter(clinic_sessions::day.ge(today))
        .filter(clinic_sessions::status.eq("open"))
        .order(clinic_sessions::day.asc())
        .select((clinic_sessions::id, clinic_sessions::day))
        .first(conn)
        .optional()?;
    let clinic = match next {
        Some((id, day)) => {
            let count = |conn: &mut DbConn, statuses: &[&str]| -> QueryResult<i64> {
                clinic_bookings::table.filter(clinic_bookings::session_id.eq(&id)).filter(clinic_bookings::status.eq_any(statuses)).count().get_result(conn)
            };
            let booked = count(conn, &["booked", "attended", "no_show"])?;
            let waitlisted = count(conn, &["waitlisted"])?;
            Some(NextClinic { session_id: id.clone(), date: format_date(day, lang), booked, waitlisted })
        }
        None => None,
    };
    Ok(Dashboard {
        today: today.to_string(),
        week_start: monday.to_string(),
        week_end: sunday.to_string(),
        today_label: format_date(today, lang),
        week_start_label: format_date(monday, lang),
        week_end_label: format_date(sunday, lang),
        new_today,
        new_week,
        waiting,
        visits_today: visits_due(conn, today, today)?,
        visits_week: visits_due(conn, monday, sunday)?,
        clinic,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_run_monday_to_sunday() {
        let d = |day| NaiveDate::from_ymd_opt(2026, 11, day).unwrap();
        assert_eq!(week_start(d(30)), d(30)); // a Monday
        assert_eq!(week_start(d(29)), d(23)); // a Sunday
        assert_eq!(week_start(d(25)), d(23));
    }
}
