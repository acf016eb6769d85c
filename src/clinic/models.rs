use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::{children, clinic_bookings, clinic_programs, clinic_sessions, clinic_slots};
use crate::db::DbConn;

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = clinic_programs)]
pub struct ClinicProgram {
    pub id: String,
    pub code: String,
    pub name_ko: String,
    pub name_en: String,
    pub kind: String,
    pub audience: String,
    pub infant_max_months: i32,
    pub capacity: i32,
    pub slot_minutes: i32,
    pub start_minute: i32,
    pub end_minute: i32,
    pub partner_seat: bool,
    pub booking_opens_days: i32,
    pub cancel_cutoff_hours: i32,
    pub active: bool,
    pub sort_order: i32,
}

impl ClinicProgram {
    pub fn name(&self, lang: crate::i18n::Lang) -> &str {
        if lang == crate::i18n::Lang::En {
            &self.name_en
        } else {
            &self.name_ko
        }
    }
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = clinic_sessions)]
pub struct ClinicSession {
    pub id: String,
    pub day: NaiveDate,
    pub start_minute: i32,
    pub end_minute: i32,
    pub status: String,
    pub cancel_reason: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = clinic_slots)]
pub struct ClinicSlot {
    pub id: String,
    pub session_id: String,
    pub program_id: String,
    pub start_minute: i32,
    pub end_minute: i32,
    pub capacity: i32,
    pub booked: i32,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = children)]
pub struct Child {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub birth_date: NaiveDate,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = clinic_bookings)]
pub struct Booking {
    pub id: String,
    pub slot_id: String,
    pub session_id: String,
    pub program_id: String,
    pub user_id: String,
    pub child_id: Option<String>,
    pub due_date: Option<NaiveDate>,
    pub seats: i32,
    pub status: String,
    pub reminder_sent_at: Option<NaiveDateTime>,
    pub cancelled_at: Option<NaiveDateTime>,
    pub checked_in_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The programs (only the active ones, or all). This and the two readers
/// below run on every view of the clinic's first page (a session and its
/// slots for each of the coming Saturdays): natively, as static queries
/// whose statements are prepared once (`crate::natively`).
pub fn programs(conn: &mut DbConn, only_active: bool) -> QueryResult<Vec<ClinicProgram>> {
    if only_active {
        crate::natively!(conn, |c| clinic_programs::table
            .filter(clinic_programs::active.eq(true))
            .order(clinic_programs::sort_order.asc())
            .select(ClinicProgram::as_select())
            .load(c))
    } else {
        crate::natively!(conn, |c| clinic_programs::table.order(clinic_programs::sort_order.asc()).select(ClinicProgram::as_select()).load(c))
    }
}

pub fn program(conn: &mut DbConn, id: &str) -> QueryResult<ClinicProgram> {
    crate::natively!(conn, |c| clinic_programs::table.find(id).select(ClinicProgram::as_select()).first(c))
}

pub fn session(conn: &mut DbConn, id: &str) -> QueryResult<Option<ClinicSession>> {
    crate::natively!(conn, |c| clinic_sessions::table.find(id).select(ClinicSession::as_select()).first(c).optional())
}

pub fn sessions_from(conn: &mut DbConn, from: NaiveDate, limit: i64) -> QueryResult<Vec<ClinicSession>> {
    crate::natively!(conn, |c| clinic_sessions::table
        .filter(clinic_sessions::day.ge(from))
        .order(clinic_sessions::day.asc())
        .limit(limit)
        .select(ClinicSession::as_select())
        .load(c))
}

pub fn sessions_before(conn: &mut DbConn, before: NaiveDate, limit: i64) -> QueryResult<Vec<ClinicSession>> {
    clinic_sessions::table
        .filter(clinic_sessions::day.lt(before))
        .order(clinic_sessions::day.desc())
        .limit(limit)
        .select(ClinicSession::as_select())
        .load(conn)
}

/// The places left in each of the first `limit` sessions from `from` on, in
/// the slots of active programs (the clinic's first page): summed by the
/// database, instead of reading every slot of every session.
pub fn places_left_from(conn: &mut DbConn, from: NaiveDate, limit: i64) -> QueryResult<Vec<(String, Option<i64>)>> {
    use diesel::dsl::{case_when, sum};
    let left = case_when(clinic_slots::capacity.gt(clinic_slots::booked), clinic_slots::capacity - clinic_slots::booked).otherwise(0);
    let sessions = clinic_sessions::table.filter(clinic_sessions::day.ge(from)).order(clinic_sessions::day.asc()).limit(limit).select(clinic_sessions::id);
    crate::natively!(conn, |c| clinic_slots::table
        .inner_join(clinic_programs::table.on(clinic_programs::id.eq(clinic_slots::program_id)))
        .filter(clinic_programs::active.eq(true))
        .filter(clinic_slots::session_id.eq_any(sessions))
        .group_by(clinic_slots::session_id)
        .select((clinic_slots::session_id, sum(left)))
        .load(c))
}

pub fn slots_of(conn: &mut DbConn, session_id: &str) -> QueryResult<Vec<ClinicSlot>> {
    crate::natively!(conn, |c| clinic_slots::table
        .filter(clinic_slots::session_id.eq(session_id))
        .order((clinic_slots::program_id.asc(), clinic_slots::start_minute.asc()))
        .select(ClinicSlot::as_select())
        .load(c))
}

pub fn slot(conn: &mut DbConn, id: &str) -> QueryResult<Option<ClinicSlot>> {
    crate::natively!(conn, |c| clinic_slots::table.find(id).select(ClinicSlot::as_select()).first(c).optional())
}

pub fn children_of(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<Child>> {
    children::table.filter(children::user_id.eq(user_id)).order(children::birth_date.desc()).select(Child::as_select()).load(conn)
}

pub fn bookings_of_user(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<Booking>> {
    clinic_bookings::table
        .filter(clinic_bookings::user_id.eq(user_id))
        .order(clinic_bookings::created_at.desc())
        .select(Booking::as_select())
        .load(conn)
}

pub fn bookings_of_session(conn: &mut DbConn, session_id: &str) -> QueryResult<Vec<Booking>> {
    clinic_bookings::table
        .filter(clinic_bookings::session_id.eq(session_id))
        .order(clinic_bookings::created_at.asc())
        .select(Booking::as_select())
        .load(conn)
}
