//! What is past its period on a given day, and the run that removes it.
//!
//! The cut-off of a kind is `as_of` minus its period (days); a record dated
//! before the cut-off (00:00 Seoul) is past it:
//! - applications: the end of the program year (31 December of the year whose
//!   place it took, or of the year it was started for a draft) is before the
//!   cut-off, and it had no change and no visit on or after it. Its personal
//!   fields are blanked (anonymised), not deleted, so the results report
//!   counts it as before; its documents are deleted;
//! - sessions by last use; password-reset tokens and sign-ups by creation;
//!   sent and failed mail by when it was sent or given up (pending mail is
//!   never touched);
//! - access-log entries by their time, oldest first, keeping always the newest
//!   one so the chain goes on; the last removed entry's number and hash are
//!   kept in the run, where verification now starts.

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeZone};
use diesel::prelude::*;
use serde::Serialize;

use super::{periods, Periods, KINDS};
use crate::db::schema::{access_log, application_documents, application_events, applications, document_contents, outbox, password_resets, retention_runs as runs, sessions, signups, users, visits};
use crate::db::{is_unique_violation, new_id, write_tx, DbConn};
use crate::error::AppError;

/// Who started a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The daily job (once a day across instances).
    Scheduled,
    /// A supervisor on the retention page.
    Manual,
    /// `naju-helper retention run`.
    Cli,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduled => "scheduled",
            Trigger::Manual => "manual",
            Trigger::Cli => "cli",
        }
    }
}

/// Records per kind, in the order of `KINDS`.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub applications: i64,
    pub documents: i64,
    pub sessions: i64,
    pub password_resets: i64,
    pub signups: i64,
    pub outbox: i64,
    pub access_log: i64,
}

impl Counts {
    pub fn get(&self, kind: &str) -> i64 {
        match kind {
            "applications" => self.applications,
            "documents" => self.documents,
            "sessions" => self.sessions,
            "password_resets" => self.password_resets,
            "signups" => self.signups,
            "outbox" => self.outbox,
            _ => self.access_log,
        }
    }

    pub fn total(&self) -> i64 {
        KINDS.iter().map(|k| self.get(k)).sum()
    }
}

/// One kind in a preview: its period, cut-off date and what is past it.
#[derive(Serialize, Clone, Debug)]
pub struct KindPreview {
    pub kind: &'static str,
    pub days: i32,
    pub cutoff: NaiveDate,
    pub count: i64,
}

#[derive(Serialize, Clone, Debug)]
pub struct Preview {
    pub as_of: NaiveDate,
    pub kinds: Vec<KindPreview>,
}

/// A finished run, as logged.
#[derive(Serialize, Queryable, Clone, Debug)]
pub struct Run {
    pub id: String,
    pub started_at: NaiveDateTime,
    pub as_of: NaiveDate,
    pub trigger_kind: String,
    pub actor_id: Option<String>,
    pub applications: i32,
    pub documents: i32,
    pub sessions: i32,
    pub password_resets: i32,
    pub signups: i32,
    pub outbox: i32,
    pub access_log: i32,
}

pub fn cutoff(as_of: NaiveDate, days: i32) -> NaiveDate {
    as_of - chrono::Duration::days(days.into())
}

/// 00:00 of `day` in Seoul, as the UTC time records are stored in.
fn start_utc(day: NaiveDate) -> NaiveDateTime {
    let local = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    crate::time::seoul().from_local_datetime(&local).single().map(|t| t.naive_utc()).unwrap_or(local)
}

/// The program year an application belongs to: the year whose place it
/// took, or for one that never took a place, the (Seoul) year it was started.
pub fn program_year(capacity_year: Option<i32>, created_at: NaiveDateTime) -> i32 {
    capacity_year.unwrap_or_else(|| crate::time::to_seoul(created_at).year())
}

/// Whether an application's program year ended before the cut-off.
pub fn year_ended_before(year: i32, cutoff: NaiveDate) -> bool {
    NaiveDate::from_ymd_opt(year, 12, 31).is_some_and(|end| end < cutoff)
}

/// What is past its period on `as_of`: the ids per kind, and the access
/// log's last entry to remove with how many entries that is.
#[derive(Default)]
struct Due {
    applications: Vec<String>,
    documents: Vec<String>,
    sessions: Vec<String>,
    password_resets: Vec<String>,
    signups: Vec<String>,
    outbox: Vec<String>,
    access_log: Option<(i64, i64)>,
}

impl Due {
    fn counts(&self) -> Counts {
        Counts {
            applications: self.applications.len() as i64,
            documents: self.documents.len() as i64,
            sessions: self.sessions.len() as i64,
            password_resets: self.password_resets.len() as i64,
            signups: self.signups.len() as i64,
            outbox: self.outbox.len() as i64,
            access_log: self.access_log.map_or(0, |(_, n)| n),
        }
    }
}

/// Lists are handled in chunks: a query's parameters are limited.
const CHUNK: usize = 500;

fn due(conn: &mut DbConn, p: &Periods, as_of: NaiveDate) -> Result<Due, AppError> {
    let at = |kind: &str| {
        let day = cutoff(as_of, p.days_for(kind));
        (day, start_utc(day))
    };
    let (app_day, app_ts) = at("applications");
    let candidates: Vec<(String, Option<i32>, NaiveDateTime)> = applications::table
        .filter(applications::anonymised_at.is_null())
        .filter(applications::updated_at.lt(app_ts))
        .select((applications::id, applications::capacity_year, applications::created_at))
        .load(conn)?;
    let visited: HashSet<String> = visits::table.filter(visits::day.ge(app_day)).select(visits::application_id).distinct().load::<String>(conn)?.into_iter().collect();
    let apps: Vec<String> = candidates
        .into_iter()
        .filter(|(id, year, created)| year_ended_before(program_year(*year, *created), app_day) && !visited.contains(id))
        .map(|(id, _, _)| id)
        .collect();
    let mut documents = vec![];
    for chunk in apps.chunks(CHUNK) {
        documents.extend(application_documents::table.filter(application_documents::application_id.eq_any(chunk)).select(application_documents::id).load::<String>(conn)?);
    }
    let sessions = sessions::table.filter(sessions::last_seen_at.lt(at("sessions").1)).select(sessions::id).load(conn)?;
    let password_resets = password_resets::table.filter(password_resets::created_at.lt(at("password_resets").1)).select(password_resets::id).load(conn)?;
    let signups = signups::table.filter(signups::created_at.lt(at("signups").1)).select(signups::id).load(conn)?;
    let mail_ts = at("outbox").1;
    let outbox = outbox::table
        .filter(
            (outbox::status.eq("sent").and(outbox::sent_at.lt(mail_ts)))
                .or(outbox::status.eq("failed").and(outbox::failed_at.lt(mail_ts))),
        )
        .select(outbox::id)
        .load(conn)?;
    Ok(Due { applications: apps, documents, sessions, password_resets, signups, outbox, access_log: access_log_due(conn, at("access_log").1)? })
}

/// The access log's oldest entries before `before`, never the newest entry:
/// (the last number to remove, how many).
fn access_log_due(conn: &mut DbConn, before: NaiveDateTime) -> Result<Option<(i64, i64)>, AppError> {
    let newest: Option<i64> = access_log::table.select(diesel::dsl::max(access_log::seq)).first(conn)?;
    let Some(newest) = newest else { return Ok(None) };
    let through: Option<i64> = access_log::table
        .filter(access_log::at.lt(before))
        .filter(access_log::seq.lt(newest))
        .select(diesel::dsl::max(access_log::seq))
        .first(conn)?;
    let Some(through) = through else { return Ok(None) };
    let n: i64 = access_log::table.filter(access_log::seq.le(through)).count().get_result(conn)?;
    Ok(Some((through, n)))
}

/// What a run on `as_of` would remove, per kind with its cut-off date.
pub fn preview(conn: &mut DbConn, as_of: NaiveDate) -> Result<Preview, AppError> {
    let p = periods(conn)?;
    let counts = due(conn, &p, as_of)?.counts();
    Ok(Preview {
        as_of,
        kinds: KINDS
            .iter()
            .map(|&kind| KindPreview { kind, days: p.days_for(kind), cutoff: cutoff(as_of, p.days_for(kind)), count: counts.get(kind) })
            .collect(),
    })
}

/// Removes what is past its period on `as_of`, in one transaction, and logs
/// the run. A scheduled run is taken once a day: its day is unique in the
/// log, so of several instances one runs it and the others get None.
pub fn run(conn: &mut DbConn, as_of: NaiveDate, trigger: Trigger, actor_id: Option<&str>, now: NaiveDateTime) -> Result<Option<Run>, AppError> {
    let scheduled_day = (trigger == Trigger::Scheduled).then_some(as_of);
    let result = write_tx(conn, |conn| {
        let id = new_id();
        diesel::insert_into(runs::table)
            .values((
                runs::id.eq(&id),
                runs::started_at.eq(now),
                runs::as_of.eq(as_of),
                runs::trigger_kind.eq(trigger.as_str()),
                runs::actor_id.eq(actor_id),
                runs::scheduled_day.eq(scheduled_day),
            ))
            .execute(conn)?;
        let p = periods(conn)?;
        let due = due(conn, &p, as_of)?;
        let horizon = remove(conn, &due, now)?;
        let c = due.counts();
        let n = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
        diesel::update(runs::table.find(&id))
            .set((
                runs::applications.eq(n(c.applications)),
                runs::documents.eq(n(c.documents)),
                runs::sessions.eq(n(c.sessions)),
                runs::password_resets.eq(n(c.password_resets)),
                runs::signups.eq(n(c.signups)),
                runs::outbox.eq(n(c.outbox)),
                runs::access_log.eq(n(c.access_log)),
                runs::access_log_through_seq.eq(horizon.as_ref().map(|(seq, _)| *seq)),
                runs::access_log_through_hash.eq(horizon.as_ref().map(|(_, hash)| hash.as_str())),
            ))
            .execute(conn)?;
        run_row(conn, &id)
    });
    match result {
        Ok(run) => {
            log::info!(target: "retention", "{}", serde_json::json!({"event": "run", "id": run.id, "trigger": run.trigger_kind, "as_of": run.as_of.to_string(),
                "applications": run.applications, "documents": run.documents, "sessions": run.sessions, "password_resets": run.password_resets,
                "signups": run.signups, "outbox": run.outbox, "access_log": run.access_log}));
            Ok(Some(run))
        }
        Err(AppError::Db(e)) if scheduled_day.is_some() && is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Deletes and anonymises what `due` lists, inside the caller's transaction.
/// Returns the last access-log entry removed (number and hash), if any.
fn remove(conn: &mut DbConn, due: &Due, now: NaiveDateTime) -> Result<Option<(i64, String)>, AppError> {
    for chunk in due.documents.chunks(CHUNK) {
        diesel::delete(document_contents::table.filter(document_contents::document_id.eq_any(chunk))).execute(conn)?;
        diesel::delete(application_documents::table.filter(application_documents::id.eq_any(chunk))).execute(conn)?;
    }
    for chunk in due.applications.chunks(CHUNK) {
        // What the results report counts stays: status, dates, district,
        // program year, rule version, visits and their hours.
        diesel::update(applications::table.filter(applications::id.eq_any(chunk)))
            .set((
                applications::applicant_name.eq(""),
                applications::birth_date.eq(None::<NaiveDate>),
                applications::phone.eq(""),
                applications::email.eq(""),
                applications::street_address.eq(""),
                applications::due_date.eq(None::<NaiveDate>),
                applications::residency_start.eq(None::<NaiveDate>),
                applications::birth_recorded_on.eq(None::<NaiveDate>),
                applications::pregnancy_loss_on.eq(None::<NaiveDate>),
                applications::precheck_reasons.eq("[]"),
                applications::priority_groups.eq("[]"),
                applications::decision_reason.eq(None::<String>),
                applications::info_request.eq(None::<String>),
                applications::anonymised_at.eq(Some(now)),
                applications::updated_at.eq(now),
            ))
            .execute(conn)?;
        diesel::update(application_events::table.filter(application_events::application_id.eq_any(chunk))).set(application_events::note.eq("")).execute(conn)?;
        diesel::update(visits::table.filter(visits::application_id.eq_any(chunk)))
            .set((visits::notes.eq(""), visits::comment.eq(None::<String>), visits::decline_reason.eq(None::<String>)))
            .execute(conn)?;
    }
    for chunk in due.sessions.chunks(CHUNK) {
        diesel::delete(sessions::table.filter(sessions::id.eq_any(chunk))).execute(conn)?;
    }
    for chunk in due.password_resets.chunks(CHUNK) {
        diesel::delete(password_resets::table.filter(password_resets::id.eq_any(chunk))).execute(conn)?;
    }
    for chunk in due.signups.chunks(CHUNK) {
        diesel::delete(signups::table.filter(signups::id.eq_any(chunk))).execute(conn)?;
    }
    for chunk in due.outbox.chunks(CHUNK) {
        diesel::delete(outbox::table.filter(outbox::id.eq_any(chunk))).execute(conn)?;
    }
    let Some((through, _)) = due.access_log else { return Ok(None) };
    let hash: String = access_log::table.find(through).select(access_log::hash).first(conn)?;
    diesel::delete(access_log::table.filter(access_log::seq.le(through))).execute(conn)?;
    Ok(Some((through, hash)))
}

fn run_row(conn: &mut DbConn, id: &str) -> Result<Run, AppError> {
    Ok(runs::table
        .find(id)
        .select((
            runs::id,
            runs::started_at,
            runs::as_of,
            runs::trigger_kind,
            runs::actor_id,
            runs::applications,
            runs::documents,
            runs::sessions,
            runs::password_resets,
            runs::signups,
            runs::outbox,
            runs::access_log,
        ))
        .first(conn)?)
}

/// Where the access log now starts: the last entry retention removed
/// (number and hash), or None when nothing was ever removed.
pub fn access_log_horizon(conn: &mut DbConn) -> Result<Option<(i64, String)>, AppError> {
    Ok(runs::table
        .filter(runs::access_log_through_seq.is_not_null())
        .order(runs::access_log_through_seq.desc())
        .select((runs::access_log_through_seq, runs::access_log_through_hash))
        .first::<(Option<i64>, Option<String>)>(conn)
        .optional()?
        .and_then(|(seq, hash)| Some((seq?, hash?))))
}

/// The daily run, for the scheduler: once per Seoul day, whatever the instances.
pub fn run_scheduled(conn: &mut DbConn, now: NaiveDateTime) -> Result<Option<Run>, AppError> {
    let day = crate::time::to_seoul(now).date_naive();
    let done: i64 = runs::table.filter(runs::scheduled_day.eq(day)).count().get_result(conn)?;
    if done > 0 {
        return Ok(None);
    }
    run(conn, day, Trigger::Scheduled, None, now)
}

/// A logged run with the name of who started it, for the page.
#[derive(Serialize)]
pub struct RunView {
    pub run: Run,
    pub actor_name: String,
    pub counts: Vec<(&'static str, i32)>,
}

/// The newest runs first.
pub fn recent_runs(conn: &mut DbConn, limit: i64) -> Result<Vec<RunView>, AppError> {
    let ids: Vec<String> = runs::table.order(runs::started_at.desc()).limit(limit).select(runs::id).load(conn)?;
    let mut out = vec![];
    for id in ids {
        let run = run_row(conn, &id)?;
        let actor_name = match &run.actor_id {
            Some(a) => users::table.find(a).select(users::name).first::<String>(conn).optional()?.unwrap_or_default(),
            None => String::new(),
        };
        let counts = vec![
            ("applications", run.applications),
            ("documents", run.documents),
            ("sessions", run.sessions),
            ("password_resets", run.password_resets),
            ("signups", run.signups),
            ("outbox", run.outbox),
            ("access_log", run.access_log),
        ];
        out.push(RunView { run, actor_name, counts });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn an_application_is_past_its_period_once_its_program_year_ended_before_the_cut_off() {
        assert_eq!(cutoff(d(2032, 1, 1), 1825), d(2027, 1, 2));
        assert!(year_ended_before(2026, d(2027, 1, 1)));
        assert!(!year_ended_before(2026, d(2026, 12, 31)), "the year's last day is not before it");
        // Started on 31 December 2025 after 15:00 UTC: already 2026 in Seoul.
        let late = d(2025, 12, 31).and_hms_opt(15, 30, 0).unwrap();
        assert_eq!(program_year(None, late), 2026);
        assert_eq!(program_year(Some(2025), late), 2025, "the place's year wins");
    }
}
