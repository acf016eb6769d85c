//! Maintained figures: what the results report counts from the app's own
//! records (applications received and approved, visits completed and their
//! hours, clinic attendance), kept per measure, subject and day in
//! `result_counts` and moved in the same transaction as every change that
//! moves them. A report then reads O(indicators × days of its period) rows
//! whatever the history's size. `rebuild` recomputes the table from the raw
//! records (the `results rebuild` command).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::calc::Period;
use crate::db::schema::{application_events, applications, clinic_bookings, clinic_programs, clinic_sessions, clinic_walkins, result_counts, visits};
use crate::db::{is_unique_violation, write_tx, DbConn};
use crate::error::AppError;
use crate::time::to_seoul;

/// Applications by the Seoul day they were submitted (subject '').
pub const APPLICATIONS_RECEIVED: &str = "applications_received";
/// 'approved' events by their Seoul day (subject '').
pub const APPLICATIONS_APPROVED: &str = "applications_approved";
/// Completed visits by the visit's day, per agency (subject: agency id, '' for none).
pub const VISITS_COMPLETED: &str = "visits_completed";
/// The planned hours of completed visits, as `VISITS_COMPLETED`.
pub const VISIT_HOURS: &str = "visit_hours";
/// Attended seats (a partner's included) plus walk-ins by the session's day,
/// per clinic program (subject: program id).
pub const CLINIC_ATTENDED: &str = "clinic_attended";

/// The day a moment is counted on: its date in Seoul.
pub fn seoul_day(at: NaiveDateTime) -> NaiveDate {
    to_seoul(at).date_naive()
}

/// Moves one maintained figure by `delta`, inside the caller's transaction:
/// a conditional UPDATE, and an INSERT when the row is not there yet. On
/// PostgreSQL two transactions may both find no row; the second INSERT then
/// fails on the primary key inside a savepoint (after the first commits) and
/// the UPDATE is tried again, now seeing the row. SQLite's writers are
/// serialised by `BEGIN IMMEDIATE`.
pub fn add(conn: &mut DbConn, measure: &str, subject: &str, day: NaiveDate, delta: i32) -> Result<(), AppError> {
    if delta == 0 {
        return Ok(());
    }
    let bump = |conn: &mut DbConn| {
        diesel::update(result_counts::table.find((measure, subject, day))).set(result_counts::value.eq(result_counts::value + delta)).execute(conn)
    };
    if bump(conn)? == 1 {
        return Ok(());
    }
    let insert = |conn: &mut DbConn| {
        diesel::insert_into(result_counts::table)
            .values((result_counts::measure.eq(measure), result_counts::subject.eq(subject), result_counts::day.eq(day), result_counts::value.eq(delta)))
            .execute(conn)
    };
    let inserted = match conn {
        DbConn::Pg(_) => conn.transaction(insert),
        DbConn::Sqlite(_) => insert(conn),
    };
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) && bump(conn)? == 1 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// A visit became completed (`+1`), or stopped being so (`-1`).
pub fn visit_completed(conn: &mut DbConn, agency_id: Option<&str>, day: NaiveDate, hours: i32, sign: i32) -> Result<(), AppError> {
    let agency = agency_id.unwrap_or("");
    add(conn, VISITS_COMPLETED, agency, day, sign)?;
    add(conn, VISIT_HOURS, agency, day, sign * hours)
}

/// One figure's key: measure, subject, day.
pub type Key = (String, String, NaiveDate);

/// The figures as the raw records say they are, computed from scratch.
pub fn recount(conn: &mut DbConn) -> Result<BTreeMap<Key, i64>, AppError> {
    let mut out: BTreeMap<Key, i64> = BTreeMap::new();
    let mut put = |measure: &str, subject: &str, day: NaiveDate, value: i64| *out.entry((measure.to_string(), subject.to_string(), day)).or_insert(0) += value;
    let submitted: Vec<Option<NaiveDateTime>> = applications::table.filter(applications::submitted_at.is_not_null()).select(applications::submitted_at).load(conn)?;
    for at in submitted.into_iter().flatten() {
        put(APPLICATIONS_RECEIVED, "", seoul_day(at), 1);
    }
    let approved: Vec<NaiveDateTime> = application_events::table.filter(application_events::action.eq("approved")).select(application_events::at).load(conn)?;
    for at in approved {
        put(APPLICATIONS_APPROVED, "", seoul_day(at), 1);
    }
    let completed: Vec<(Option<String>, NaiveDate, i64, Option<i64>)> = visits::table
        .filter(visits::status.eq("completed"))
        .group_by((visits::agency_id, visits::day))
        .select((visits::agency_id, visits::day, diesel::dsl::count_star(), diesel::dsl::sum(visits::hours)))
        .load(conn)?;
    for (agency, day, n, hours) in completed {
        let agency = agency.unwrap_or_default();
        put(VISITS_COMPLETED, &agency, day, n);
        put(VISIT_HOURS, &agency, day, hours.unwrap_or(0));
    }
    let session_days: HashMap<String, NaiveDate> = clinic_sessions::table.select((clinic_sessions::id, clinic_sessions::day)).load(conn)?.into_iter().collect();
    let seats: Vec<(String, String, Option<i64>)> = clinic_bookings::table
        .filter(clinic_bookings::status.eq("attended"))
        .group_by((clinic_bookings::session_id, clinic_bookings::program_id))
        .select((clinic_bookings::session_id, clinic_bookings::program_id, diesel::dsl::sum(clinic_bookings::seats)))
        .load(conn)?;
    let walkins: Vec<(String, String, Option<i64>)> = clinic_walkins::table
        .group_by((clinic_walkins::session_id, clinic_walkins::program_id))
        .select((clinic_walkins::session_id, clinic_walkins::program_id, diesel::dsl::sum(clinic_walkins::people)))
        .load(conn)?;
    for (session, program, people) in seats.into_iter().chain(walkins) {
        if let Some(day) = session_days.get(&session) {
            put(CLINIC_ATTENDED, &program, *day, people.unwrap_or(0));
        }
    }
    out.retain(|_, v| *v != 0);
    Ok(out)
}

fn stored(conn: &mut DbConn) -> Result<BTreeMap<Key, i64>, AppError> {
    let rows: Vec<(String, String, NaiveDate, i32)> =
        result_counts::table.select((result_counts::measure, result_counts::subject, result_counts::day, result_counts::value)).load(conn)?;
    Ok(rows.into_iter().map(|(m, s, d, v)| ((m, s, d), v as i64)).collect())
}

/// A maintained figure that did not match the raw records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub measure: String,
    pub subject: String,
    pub day: NaiveDate,
    pub was: i64,
    pub now: i64,
}

/// What `rebuild` found: how many figures the raw records give, and those it corrected.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    pub figures: usize,
    pub changes: Vec<Change>,
}

/// Recomputes every maintained figure from the raw records in one write
/// transaction and stores the ones that differ. On PostgreSQL the table is
/// locked first (EXCLUSIVE: readers go on, writers wait), so a change
/// committed while the records are read cannot be overwritten.
pub fn rebuild(conn: &mut DbConn) -> Result<Rebuilt, AppError> {
    write_tx(conn, |conn| {
        if let DbConn::Pg(_) = conn {
            conn.batch_execute("LOCK TABLE result_counts IN EXCLUSIVE MODE")?;
        }
        let fresh = recount(conn)?;
        let old = stored(conn)?;
        let keys: BTreeSet<&Key> = fresh.keys().chain(old.keys()).collect();
        let mut changes = vec![];
        for key in keys {
            let (was, now) = (old.get(key).copied(), fresh.get(key).copied().unwrap_or(0));
            if was == Some(now) {
                continue;
            }
            let (measure, subject, day) = key;
            let row = result_counts::table.find((measure, subject, *day));
            if now == 0 {
                diesel::delete(row).execute(conn)?;
            } else if was.is_some() {
                diesel::update(row).set(result_counts::value.eq(to_i32(now)?)).execute(conn)?;
            } else {
                diesel::insert_into(result_counts::table)
                    .values((result_counts::measure.eq(measure), result_counts::subject.eq(subject), result_counts::day.eq(day), result_counts::value.eq(to_i32(now)?)))
                    .execute(conn)?;
            }
            // A stored zero is tidied away without counting as a change.
            if was.unwrap_or(0) != now {
                changes.push(Change { measure: measure.clone(), subject: subject.clone(), day: *day, was: was.unwrap_or(0), now });
            }
        }
        Ok(Rebuilt { figures: fresh.len(), changes })
    })
}

fn to_i32(v: i64) -> Result<i32, AppError> {
    i32::try_from(v).map_err(|_| AppError::Internal(format!("a day's figure out of range: {v}")))
}

/// Which maintained figures an indicator's source counts: a measure, and
/// for clinic programs the programs (`None`: every subject).
struct Selector {
    measure: &'static str,
    subjects: Option<Vec<String>>,
}

fn selector(conn: &mut DbConn, source: &str) -> Result<Option<Selector>, AppError> {
    let all = |measure| Ok(Some(Selector { measure, subjects: None }));
    match source {
        "applications_received" => all(APPLICATIONS_RECEIVED),
        "applications_approved" => all(APPLICATIONS_APPROVED),
        "visits_completed" => all(VISITS_COMPLETED),
        "visit_hours" => all(VISIT_HOURS),
        s if s.starts_with("clinic:") => {
            let codes: Vec<&str> = s["clinic:".len()..].split(',').map(str::trim).collect();
            let ids: Vec<String> = clinic_programs::table.filter(clinic_programs::code.eq_any(&codes)).select(clinic_programs::id).load(conn)?;
            Ok(Some(Selector { measure: CLINIC_ATTENDED, subjects: Some(ids) }))
        }
        _ => Ok(None),
    }
}

/// One source's daily figures over a window, as prefix sums, plus its total
/// before the window.
#[derive(Debug, Default)]
pub struct Series {
    from: NaiveDate,
    before: i64,
    days: Vec<NaiveDate>,
    prefix: Vec<i64>,
}

impl Series {
    /// The figure over `p`. A period starting before the window is a
    /// cumulative one (from before any record) and includes the total before it.
    pub fn sum(&self, p: Period) -> i64 {
        let lo = self.days.partition_point(|d| *d < p.start);
        let hi = self.days.partition_point(|d| *d <= p.end);
        let inside = if hi > lo { self.prefix[hi] - self.prefix[lo] } else { 0 };
        inside + if p.start < self.from { self.before } else { 0 }
    }
}

/// The series of each source over [from, to], read from the maintained
/// figures: the window's rows and one total per subject before it.
pub fn series(conn: &mut DbConn, sources: &[&str], from: NaiveDate, to: NaiveDate) -> Result<HashMap<String, Series>, AppError> {
    let mut selectors = vec![];
    for source in sources {
        if let Some(s) = selector(conn, source)? {
            selectors.push((source.to_string(), s));
        }
    }
    let measures: BTreeSet<&str> = selectors.iter().map(|(_, s)| s.measure).collect();
    let rows: Vec<(String, String, NaiveDate, i32)> = result_counts::table
        .filter(result_counts::measure.eq_any(&measures))
        .filter(result_counts::day.between(from, to))
        .order(result_counts::day.asc())
        .select((result_counts::measure, result_counts::subject, result_counts::day, result_counts::value))
        .load(conn)?;
    let before: Vec<(String, String, Option<i64>)> = result_counts::table
        .filter(result_counts::measure.eq_any(&measures))
        .filter(result_counts::day.lt(from))
        .group_by((result_counts::measure, result_counts::subject))
        .select((result_counts::measure, result_counts::subject, diesel::dsl::sum(result_counts::value)))
        .load(conn)?;
    let mut out = HashMap::new();
    for (source, sel) in selectors {
        let takes = |measure: &str, subject: &String| measure == sel.measure && sel.subjects.as_ref().is_none_or(|ids| ids.contains(subject));
        let mut s = Series { from, prefix: vec![0], ..Default::default() };
        s.before = before.iter().filter(|(m, sub, _)| takes(m, sub)).map(|(_, _, v)| v.unwrap_or(0)).sum();
        for (_, _, day, v) in rows.iter().filter(|(m, sub, _, _)| takes(m, sub)) {
            let total = s.prefix.last().copied().unwrap_or(0) + *v as i64;
            s.days.push(*day);
            s.prefix.push(total);
        }
        out.insert(source, s);
    }
    Ok(out)
}

/// Completed visit-hours per agency over a period (for the budget's executed amount).
pub fn hours_by_agency(conn: &mut DbConn, p: Period) -> Result<HashMap<String, i64>, AppError> {
    let rows: Vec<(String, Option<i64>)> = result_counts::table
        .filter(result_counts::measure.eq(VISIT_HOURS))
        .filter(result_counts::day.between(p.start, p.end))
        .group_by(result_counts::subject)
        .select((result_counts::subject, diesel::dsl::sum(result_counts::value)))
        .load(conn)?;
    Ok(rows.into_iter().map(|(agency, h)| (agency, h.unwrap_or(0))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_series_sums_days_inside_a_period_and_the_cumulative_adds_what_came_before() {
        let days = vec![d("2024-01-01"), d("2024-01-01"), d("2024-03-31"), d("2024-04-01")];
        let mut prefix = vec![0];
        for v in [2, 3, 5, 7] {
            prefix.push(prefix.last().unwrap() + v);
        }
        let s = Series { from: d("2024-01-01"), before: 100, days, prefix };
        let q1 = Period { start: d("2024-01-01"), end: d("2024-03-31") };
        assert_eq!(s.sum(q1), 10);
        assert_eq!(s.sum(Period { start: d("2024-04-01"), end: d("2024-12-31") }), 7);
        assert_eq!(s.sum(Period { start: d("2024-05-01"), end: d("2024-12-31") }), 0);
        assert_eq!(s.sum(Period { start: d("1900-01-01"), end: d("2024-03-31") }), 110);
        assert_eq!(Series { from: d("2024-01-01"), prefix: vec![0], ..Default::default() }.sum(q1), 0);
    }

    #[test]
    fn a_moment_counts_on_its_seoul_day() {
        let late_utc = d("2024-03-31").and_hms_opt(15, 0, 0).unwrap();
        assert_eq!(seoul_day(late_utc), d("2024-04-01"));
        assert_eq!(seoul_day(late_utc - chrono::Duration::seconds(1)), d("2024-03-31"));
    }
}
