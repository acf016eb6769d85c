use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::rules::Settings;
use crate::db::schema::{agency_holidays, visit_settings, visit_slot_templates, visit_slots, visits};
use crate::db::DbConn;

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = visits)]
pub struct Visit {
    pub id: String,
    pub application_id: String,
    pub user_id: String,
    pub slot_id: String,
    pub day: NaiveDate,
    pub start_minute: i32,
    pub hours: i32,
    pub status: String,
    pub tasks: String,
    pub notes: String,
    pub helper_name: Option<String>,
    pub decline_reason: Option<String>,
    pub counts_against_quota: bool,
    pub cancelled_at: Option<NaiveDateTime>,
    pub actual_start: Option<NaiveDateTime>,
    pub actual_end: Option<NaiveDateTime>,
    pub tasks_done: Option<String>,
    pub resident_confirmed_at: Option<NaiveDateTime>,
    pub rating: Option<i32>,
    pub comment: Option<String>,
    pub reminder_sent_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub agency_id: Option<String>,
    pub helper_id: Option<String>,
    pub copay_won: i32,
}

/// Statuses that hold a place in a slot and a visit of the quota.
pub const ACTIVE: [&str; 2] = ["requested", "confirmed"];

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = visit_slots)]
pub struct Slot {
    pub id: String,
    pub agency_id: String,
    pub day: NaiveDate,
    pub start_minute: i32,
    pub capacity: i32,
    pub booked: i32,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = visit_slot_templates)]
pub struct Template {
    pub id: String,
    pub agency_id: String,
    pub weekday: i32,
    pub start_minute: i32,
    pub helpers: i32,
}

pub fn settings(conn: &mut DbConn) -> QueryResult<Settings> {
    let (min_notice_days, cancel_cutoff_hours, late_cancel_counts, no_show_counts, booking_horizon_days) = visit_settings::table
        .find("default")
        .select((
            visit_settings::min_notice_days,
            visit_settings::cancel_cutoff_hours,
            visit_settings::late_cancel_counts,
            visit_settings::no_show_counts,
            visit_settings::booking_horizon_days,
        ))
        .first(conn)?;
    Ok(Settings { min_notice_days, cancel_cutoff_hours, late_cancel_counts, no_show_counts, booking_horizon_days })
}

pub fn templates(conn: &mut DbConn, agency_id: &str) -> QueryResult<Vec<Template>> {
    visit_slot_templates::table
        .filter(visit_slot_templates::agency_id.eq(agency_id))
        .order((visit_slot_templates::weekday.asc(), visit_slot_templates::start_minute.asc()))
        .select(Template::as_select())
        .load(conn)
}

pub fn holidays(conn: &mut DbConn, agency_id: &str, from: NaiveDate) -> QueryResult<Vec<(NaiveDate, String)>> {
    agency_holidays::table
        .filter(agency_holidays::agency_id.eq(agency_id))
        .filter(agency_holidays::day.ge(from))
        .order(agency_holidays::day.asc())
        .select((agency_holidays::day, agency_holidays::note))
        .load(conn)
}

pub fn slots_between(conn: &mut DbConn, agency_id: &str, from: NaiveDate, to: NaiveDate) -> QueryResult<Vec<Slot>> {
    visit_slots::table
        .filter(visit_slots::agency_id.eq(agency_id))
        .filter(visit_slots::day.ge(from))
        .filter(visit_slots::day.le(to))
        .order((visit_slots::day.asc(), visit_slots::start_minute.asc()))
        .select(Slot::as_select())
        .load(conn)
}

/// The day of one of the agency's slots (none for another agency's).
pub fn slot_day(conn: &mut DbConn, agency_id: &str, slot_id: &str) -> QueryResult<Option<NaiveDate>> {
    visit_slots::table
        .find(slot_id)
        .filter(visit_slots::agency_id.eq(agency_id))
        .select(visit_slots::day)
        .first(conn)
        .optional()
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Visit>> {
    visits::table.find(id).select(Visit::as_select()).first(conn).optional()
}

pub fn find_own(conn: &mut DbConn, user_id: &str, id: &str) -> QueryResult<Option<Visit>> {
    visits::table
        .filter(visits::id.eq(id))
        .filter(visits::user_id.eq(user_id))
        .select(Visit::as_select())
        .first(conn)
        .optional()
}

/// A helper's visits between two days (both included).
pub fn helper_visits(conn: &mut DbConn, helper_id: &str, from: NaiveDate, to: NaiveDate) -> QueryResult<Vec<Visit>> {
    visits::table
        .filter(visits::helper_id.eq(helper_id))
        .filter(visits::day.ge(from))
        .filter(visits::day.le(to))
        .order((visits::day.asc(), visits::start_minute.asc()))
        .select(Visit::as_select())
        .load(conn)
}

/// Statuses in which a visit takes its helper's time (a requested visit has
/// no helper yet; a completed one took her time all the same).
pub const HELPER_BUSY: [&str; 3] = ["requested", "confirmed", "completed"];

/// Whether `[a_start, a_start + a_hours h)` and `[b_start, b_start + b_hours h)` overlap.
pub fn overlaps(a_start: i32, a_hours: i32, b_start: i32, b_hours: i32) -> bool {
    a_start < b_start + b_hours * 60 && b_start < a_start + a_hours * 60
}

/// The helper's visits on `day` whose time overlaps `start` for `hours`,
/// other than the visit `except`.
pub fn helper_clashes(conn: &mut DbConn, helper_id: &str, day: NaiveDate, start: i32, hours: i32, except: &str) -> QueryResult<Vec<Visit>> {
    Ok(helper_visits(conn, helper_id, day, day)?
        .into_iter()
        .filter(|v| v.id != except && HELPER_BUSY.contains(&v.status.as_str()) && overlaps(start, hours, v.start_minute, v.hours))
        .collect())
}

pub fn for_application(conn: &mut DbConn, application_id: &str) -> QueryResult<Vec<Visit>> {
    visits::table
        .filter(visits::application_id.eq(application_id))
        .order((visits::day.asc(), visits::start_minute.asc()))
        .select(Visit::as_select())
        .load(conn)
}

#[derive(Default, Clone, Debug)]
pub struct VisitFilter {
    /// Only this agency's visits (always set for a contractor).
    pub agency_id: Option<String>,
    pub status: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub application_id: Option<String>,
}

/// The filter's status `due`: visits still to happen (requested or confirmed).
pub const DUE: &str = "due";
pub const DUE_STATUSES: [&str; 2] = ["requested", "confirmed"];

pub fn list(conn: &mut DbConn, f: &VisitFilter, limit: i64) -> QueryResult<Vec<Visit>> {
    let mut q = visits::table.into_boxed();
    if let Some(a) = &f.agency_id {
        q = q.filter(visits::agency_id.eq(a.clone()));
    }
    match f.status.as_deref() {
        Some(DUE) => q = q.filter(visits::status.eq_any(DUE_STATUSES)),
        Some(s) => q = q.filter(visits::status.eq(s.to_string())),
        None => {}
    }
    if let Some(a) = &f.application_id {
        q = q.filter(visits::application_id.eq(a.clone()));
    }
    if let Some(from) = f.from {
        q = q.filter(visits::day.ge(from));
    }
    if let Some(to) = f.to {
        q = q.filter(visits::day.le(to));
    }
    q.order((visits::day.asc(), visits::start_minute.asc())).limit(limit).select(Visit::as_select()).load(conn)
}
