//! The lookups behind the staff search, the same on both backends: a whole
//! phone number, a reference and a date of birth by equality on indexed
//! columns; part of a name or of a number by LIKE (a scan of one narrow
//! column: an index cannot serve a match in the middle of a value).

use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use serde::Serialize;

use super::{contains_pattern, Term};
use crate::applications::models::Application;
use crate::clinic::models::Booking;
use crate::db::schema::{applications, children, clinic_bookings, clinic_programs, clinic_sessions, users, visits};
use crate::db::DbConn;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::time::format_date;
use crate::visits::models::Visit;
use crate::visits::rules::hhmm;

/// Rows shown per kind; one more is read to know whether more exist.
pub const LIMIT: usize = 50;

type Db = <DbConn as diesel::Connection>::Backend;
type Predicate<T> = Box<dyn BoxableExpression<T, Db, SqlType = Bool>>;

diesel::define_sql_function! {
    /// Lower case: Latin letters on both backends (PostgreSQL's LIKE is
    /// case-sensitive); Hangul has no case.
    fn lower(x: Text) -> Text;
}

diesel::define_sql_function! {
    fn replace(x: Text, from: Text, to: Text) -> Text;
}

/// Applies `$wrap` to the condition on `applications` that the term sets,
/// boxed: each arm's condition has its own type, so the wrapping is
/// written once here rather than once per arm.
macro_rules! by_application {
    ($term:expr, |$c:ident| $wrap:expr) => {
        match $term {
            Term::Reference(r) => {
                let $c = applications::reference.eq(r.clone());
                Box::new($wrap) as Predicate<_>
            }
            Term::Phone(p) => {
                let $c = applications::phone.eq(p.clone());
                Box::new($wrap)
            }
            Term::PhoneDigits(d) => {
                let $c = replace(applications::phone, "-", "").like(contains_pattern(d)).escape('\\');
                Box::new($wrap)
            }
            // The child's date of birth, once staff have recorded the birth.
            Term::BirthDate(d) => {
                let $c = applications::birth_recorded_on.assume_not_null().eq(*d);
                Box::new($wrap)
            }
            Term::Name(n) => {
                let $c = lower(applications::applicant_name).like(lower(contains_pattern(n))).escape('\\');
                Box::new($wrap)
            }
        }
    };
}

/// Applications (other than drafts, which staff cannot open) the term finds.
fn application_predicate(term: &Term) -> Predicate<applications::table> {
    by_application!(term, |c| applications::status.ne("draft").and(c))
}

/// Visits of those applications.
fn visit_predicate(term: &Term) -> Predicate<visits::table> {
    by_application!(term, |c| visits::application_id.eq_any(applications::table.filter(applications::status.ne("draft")).filter(c).select(applications::id)))
}

/// Clinic bookings of the residents (or children) the term finds.
fn booking_predicate(term: &Term) -> Predicate<clinic_bookings::table> {
    let residents = || users::table.filter(users::role.eq("resident"));
    match term {
        // The clinic keeps no reference: the bookings of the applicant.
        Term::Reference(r) => {
            Box::new(clinic_bookings::user_id.eq_any(applications::table.filter(applications::reference.eq(r.clone())).select(applications::user_id)))
        }
        Term::Phone(p) => Box::new(
            clinic_bookings::user_id.eq_any(residents().filter(users::phone.eq(p.clone()).or(users::mobile.assume_not_null().eq(p.clone()))).select(users::id)),
        ),
        Term::PhoneDigits(d) => Box::new(
            clinic_bookings::user_id.eq_any(residents().filter(replace(users::phone, "-", "").like(contains_pattern(d)).escape('\\')).select(users::id)),
        ),
        Term::BirthDate(d) => {
            Box::new(clinic_bookings::child_id.assume_not_null().eq_any(children::table.filter(children::birth_date.eq(*d)).select(children::id)))
        }
        Term::Name(n) => {
            let pattern = contains_pattern(n);
            Box::new(
                clinic_bookings::user_id
                    .eq_any(residents().filter(lower(users::name).like(lower(pattern.clone())).escape('\\')).select(users::id))
                    .or(clinic_bookings::child_id
                        .assume_not_null()
                        .eq_any(children::table.filter(lower(children::name).like(lower(pattern)).escape('\\')).select(children::id))),
            )
        }
    }
}

#[derive(Serialize)]
pub struct Found<T> {
    pub rows: Vec<T>,
    /// More than `LIMIT` matched.
    pub more: bool,
}

impl<T> Found<T> {
    fn new(mut rows: Vec<T>) -> Found<T> {
        let more = rows.len() > LIMIT;
        rows.truncate(LIMIT);
        Found { rows, more }
    }
}

#[derive(Serialize)]
pub struct ApplicationRow {
    pub id: String,
    pub reference: String,
    pub name: String,
    pub phone: String,
    pub status: String,
    pub submitted: String,
    #[serde(skip)]
    pub user_id: String,
}

#[derive(Serialize)]
pub struct VisitRow {
    pub application_id: String,
    pub reference: String,
    pub name: String,
    pub date: String,
    pub time: String,
    pub status: String,
    #[serde(skip)]
    pub user_id: String,
}

#[derive(Serialize)]
pub struct BookingRow {
    pub session_id: String,
    pub date: String,
    pub program: String,
    pub name: String,
    pub phone: String,
    pub child: String,
    pub child_birth: String,
    pub status: String,
    #[serde(skip)]
    pub user_id: String,
}

#[derive(Serialize)]
pub struct Results {
    pub applications: Found<ApplicationRow>,
    pub visits: Found<VisitRow>,
    pub clinic: Found<BookingRow>,
}

impl Results {
    pub fn total(&self) -> usize {
        self.applications.rows.len() + self.visits.rows.len() + self.clinic.rows.len()
    }

    /// The one resident every row belongs to, if there is exactly one.
    pub fn sole_resident(&self) -> Option<&str> {
        let ids: BTreeSet<&str> = (self.applications.rows.iter().map(|r| r.user_id.as_str()))
            .chain(self.visits.rows.iter().map(|r| r.user_id.as_str()))
            .chain(self.clinic.rows.iter().map(|r| r.user_id.as_str()))
            .collect();
        (ids.len() == 1).then(|| ids.into_iter().next()).flatten()
    }

    /// For the access log: the kind of term and what was found, never the term.
    pub fn summary(&self, term: &Term) -> String {
        let n = |len: usize, more: bool| if more { format!("{len}+") } else { len.to_string() };
        format!(
            "{}: applications {}, visits {}, clinic {}",
            term.kind(),
            n(self.applications.rows.len(), self.applications.more),
            n(self.visits.rows.len(), self.visits.more),
            n(self.clinic.rows.len(), self.clinic.more)
        )
    }
}

const READ: i64 = LIMIT as i64 + 1;

pub fn search(conn: &mut DbConn, term: &Term, lang: Lang) -> Result<Results, AppError> {
    let apps: Vec<Application> = applications::table
        .filter(application_predicate(term))
        .order((applications::submitted_at.desc(), applications::reference.asc()))
        .limit(READ)
        .select(Application::as_select())
        .load(conn)?;
    let application_rows = apps
        .into_iter()
        .map(|a| ApplicationRow {
            submitted: a.submitted_at.map(|t| crate::time::format_datetime(t, lang)).unwrap_or_default(),
            id: a.id,
            reference: a.reference,
            name: a.applicant_name,
            phone: a.phone,
            status: a.status,
            user_id: a.user_id,
        })
        .collect();

    let found_visits: Vec<Visit> = visits::table
        .filter(visit_predicate(term))
        .order((visits::day.desc(), visits::start_minute.desc()))
        .limit(READ)
        .select(Visit::as_select())
        .load(conn)?;
    let app_ids: Vec<&str> = found_visits.iter().map(|v| v.application_id.as_str()).collect();
    let of_apps = by_id(
        applications::table
            .filter(applications::id.eq_any(&app_ids))
            .select((applications::id, applications::reference, applications::applicant_name))
            .load::<(String, String, String)>(conn)?,
    );
    let visit_rows = found_visits
        .iter()
        .map(|v| {
            let (reference, name) = of_apps.get(&v.application_id).cloned().unwrap_or_default();
            VisitRow {
                application_id: v.application_id.clone(),
                reference,
                name,
                date: format_date(v.day, lang),
                time: format!("{}–{}", hhmm(v.start_minute), hhmm(v.start_minute + v.hours * 60)),
                status: v.status.clone(),
                user_id: v.user_id.clone(),
            }
        })
        .collect();

    let bookings: Vec<Booking> = clinic_bookings::table
        .filter(booking_predicate(term))
        .order((clinic_bookings::created_at.desc(), clinic_bookings::id.asc()))
        .limit(READ)
        .select(Booking::as_select())
        .load(conn)?;
    let clinic_rows = booking_rows(conn, &bookings, lang)?;

    Ok(Results { applications: Found::new(application_rows), visits: Found::new(visit_rows), clinic: Found::new(clinic_rows) })
}

/// Rows (id, a, b) as a map from id to (a, b).
fn by_id<A, B>(rows: Vec<(String, A, B)>) -> HashMap<String, (A, B)> {
    rows.into_iter().map(|(id, a, b)| (id, (a, b))).collect()
}

/// The bookings with their day, program, resident and child, the latest
/// Saturday first.
fn booking_rows(conn: &mut DbConn, bookings: &[Booking], lang: Lang) -> Result<Vec<BookingRow>, AppError> {
    let session_ids: Vec<&str> = bookings.iter().map(|b| b.session_id.as_str()).collect();
    let days: HashMap<String, chrono::NaiveDate> =
        clinic_sessions::table.filter(clinic_sessions::id.eq_any(&session_ids)).select((clinic_sessions::id, clinic_sessions::day)).load(conn)?.into_iter().collect();
    let program_ids: Vec<&str> = bookings.iter().map(|b| b.program_id.as_str()).collect();
    let programs = by_id(
        clinic_programs::table
            .filter(clinic_programs::id.eq_any(&program_ids))
            .select((clinic_programs::id, clinic_programs::name_ko, clinic_programs::name_en))
            .load::<(String, String, String)>(conn)?,
    );
    let user_ids: Vec<&str> = bookings.iter().map(|b| b.user_id.as_str()).collect();
    let people = crate::accounts::models::names_and_phones(conn, &user_ids)?;
    let child_ids: Vec<&str> = bookings.iter().filter_map(|b| b.child_id.as_deref()).collect();
    let kids = by_id(
        children::table
            .filter(children::id.eq_any(&child_ids))
            .select((children::id, children::name, children::birth_date))
            .load::<(String, String, chrono::NaiveDate)>(conn)?,
    );
    let mut rows: Vec<(Option<chrono::NaiveDate>, BookingRow)> = bookings
        .iter()
        .map(|b| {
            let day = days.get(&b.session_id).copied();
            let (name, phone) = people.get(&b.user_id).cloned().unwrap_or_default();
            let child = b.child_id.as_ref().and_then(|c| kids.get(c));
            let program = programs.get(&b.program_id).map(|(ko, en)| if lang == Lang::En && !en.is_empty() { en.clone() } else { ko.clone() }).unwrap_or_default();
            (
                day,
                BookingRow {
                    session_id: b.session_id.clone(),
                    date: day.map(|d| format_date(d, lang)).unwrap_or_default(),
                    program,
                    name,
                    phone,
                    child: child.map(|c| c.0.clone()).unwrap_or_default(),
                    child_birth: child.map(|c| format_date(c.1, lang)).unwrap_or_default(),
                    status: b.status.clone(),
                    user_id: b.user_id.clone(),
                },
            )
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    Ok(rows.into_iter().map(|(_, r)| r).collect())
}
