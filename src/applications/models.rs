use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{application_documents, application_events, applications};
use crate::db::DbConn;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Draft,
    Submitted,
    InfoRequested,
    Waitlisted,
    Approved,
    Rejected,
    Withdrawn,
    Ended,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Draft,
        Status::Submitted,
        Status::InfoRequested,
        Status::Waitlisted,
        Status::Approved,
        Status::Rejected,
        Status::Withdrawn,
        Status::Ended,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Submitted => "submitted",
            Status::InfoRequested => "info_requested",
            Status::Waitlisted => "waitlisted",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Withdrawn => "withdrawn",
            Status::Ended => "ended",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Statuses that hold one of the year's places.
    pub fn holds_place(self) -> bool {
        matches!(self, Status::Submitted | Status::InfoRequested | Status::Approved)
    }

    /// Statuses the resident can still withdraw from.
    pub fn withdrawable(self) -> bool {
        matches!(self, Status::Draft | Status::Submitted | Status::InfoRequested | Status::Waitlisted | Status::Approved)
    }
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = applications)]
pub struct Application {
    pub id: String,
    pub reference: String,
    pub program_id: String,
    pub user_id: String,
    pub rule_set_id: String,
    pub status: String,
    pub applicant_name: String,
    pub birth_date: Option<NaiveDate>,
    pub phone: String,
    pub email: String,
    pub district_code: String,
    pub street_address: String,
    pub due_date: Option<NaiveDate>,
    pub residency_start: Option<NaiveDate>,
    pub birth_recorded_on: Option<NaiveDate>,
    pub consent_at: Option<NaiveDateTime>,
    pub precheck_eligible: Option<bool>,
    pub precheck_reasons: String,
    pub capacity_year: Option<i32>,
    pub decision_reason: Option<String>,
    pub info_request: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
    pub submitted_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// JSON list of the priority-group codes she declares.
    pub priority_groups: String,
    pub income_within_limit: Option<bool>,
    pub income_checked_by: Option<String>,
    pub pregnancy_loss_on: Option<NaiveDate>,
    /// The agency serving her visits (set at the first booking or by her choice).
    pub agency_id: Option<String>,
}

impl Application {
    pub fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Draft)
    }
}

#[derive(Queryable, Selectable, Clone, Debug, Serialize)]
#[diesel(table_name = application_documents)]
pub struct Document {
    pub id: String,
    pub application_id: String,
    pub kind: String,
    pub original_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub storage_name: String,
    pub uploaded_by: Option<String>,
    pub uploaded_at: NaiveDateTime,
    /// pending, accepted or rejected (by staff, one document at a time).
    pub review_status: String,
    pub review_note: String,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<NaiveDateTime>,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = application_events)]
pub struct Event {
    pub id: String,
    pub application_id: String,
    pub at: NaiveDateTime,
    pub actor_id: Option<String>,
    pub action: String,
    pub note: String,
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Application>> {
    applications::table.find(id).select(Application::as_select()).first(conn).optional()
}

/// An application only if it belongs to `user_id`; another's is "not found".
pub fn find_own(conn: &mut DbConn, user_id: &str, id: &str) -> QueryResult<Option<Application>> {
    applications::table
        .filter(applications::id.eq(id))
        .filter(applications::user_id.eq(user_id))
        .select(Application::as_select())
        .first(conn)
        .optional()
}

pub fn list_for_user(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<Application>> {
    applications::table
        .filter(applications::user_id.eq(user_id))
        .order(applications::created_at.desc())
        .select(Application::as_select())
        .load(conn)
}

pub fn open_for(conn: &mut DbConn, user_id: &str, program_id: &str) -> QueryResult<Option<Application>> {
    applications::table
        .filter(applications::user_id.eq(user_id))
        .filter(applications::program_id.eq(program_id))
        .filter(applications::status.eq_any(["draft", "submitted", "info_requested", "waitlisted", "approved"]))
        .select(Application::as_select())
        .first(conn)
        .optional()
}

pub fn documents(conn: &mut DbConn, application_id: &str) -> QueryResult<Vec<Document>> {
    application_documents::table
        .filter(application_documents::application_id.eq(application_id))
        .order(application_documents::uploaded_at.asc())
        .select(Document::as_select())
        .load(conn)
}

pub fn document(conn: &mut DbConn, application_id: &str, id: &str) -> QueryResult<Option<Document>> {
    application_documents::table
        .filter(application_documents::id.eq(id))
        .filter(application_documents::application_id.eq(application_id))
        .select(Document::as_select())
        .first(conn)
        .optional()
}

pub fn events(conn: &mut DbConn, application_id: &str) -> QueryResult<Vec<Event>> {
    application_events::table
        .filter(application_events::application_id.eq(application_id))
        .order(application_events::at.asc())
        .select(Event::as_select())
        .load(conn)
}

/// Filters of the staff review queue.
#[derive(Default, Clone, Debug)]
pub struct QueueFilter {
    pub status: Option<String>,
    pub district: Option<String>,
    /// Gestational week today, at least / at most.
    pub week_min: Option<i64>,
    pub week_max: Option<i64>,
    pub submitted_from: Option<NaiveDateTime>,
    pub submitted_to: Option<NaiveDateTime>,
}

/// One page of the queue (`limit` rows after `offset`), oldest submission first.
pub fn queue(conn: &mut DbConn, program_id: &str, f: &QueueFilter, today: NaiveDate, (limit, offset): (i64, i64)) -> QueryResult<Vec<Application>> {
    queue_query(program_id, f, today)
        .order((applications::submitted_at.asc(), applications::reference.asc()))
        .limit(limit)
        .offset(offset)
        .select(Application::as_select())
        .load(conn)
}

/// How many applications the filter finds, over all pages.
pub fn queue_count(conn: &mut DbConn, program_id: &str, f: &QueueFilter, today: NaiveDate) -> QueryResult<i64> {
    queue_query(program_id, f, today).count().get_result(conn)
}

fn queue_query<'a>(program_id: &'a str, f: &QueueFilter, today: NaiveDate) -> applications::BoxedQuery<'a, <DbConn as diesel::Connection>::Backend> {
    let mut q = applications::table
        .filter(applications::program_id.eq(program_id))
        .filter(applications::status.ne("draft"))
        .into_boxed();
    if let Some(s) = &f.status {
        q = q.filter(applications::status.eq(s.clone()));
    }
    if let Some(d) = &f.district {
        q = q.filter(applications::district_code.eq(d.clone()));
    }
    // Week w today means the due date is 280 - 7w days (or fewer) away.
    if let Some(w) = f.week_min {
        q = q.filter(applications::due_date.le(today + chrono::Duration::days(280 - 7 * w)));
    }
    if let Some(w) = f.week_max {
        q = q.filter(applications::due_date.gt(today + chrono::Duration::days(280 - 7 * (w + 1))));
    }
    if let Some(from) = f.submitted_from {
        q = q.filter(applications::submitted_at.ge(from));
    }
    if let Some(to) = f.submitted_to {
        q = q.filter(applications::submitted_at.lt(to));
    }
    q
}
