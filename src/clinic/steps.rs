//! Booking a Saturday clinic seat one question a page (the GOV.UK/KRDS step
//! pattern, no JavaScript needed): the Saturday, the program, the time, who
//! is coming, then her answers to check and the booking itself, which is
//! `service::book` (one transaction, no overbooking). Every answer so far
//! rides along in the query string and hidden fields, so going back,
//! changing an answer or fixing an error loses nothing. Each step checks the
//! answers before it again and, when one no longer holds, shows that step
//! with its error instead.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::models::{self, ClinicProgram, ClinicSession, ClinicSlot};
use super::routes::program_views;
use super::rules::{self, Booker};
use super::service::{self, BookOutcome, BookingInput};
use crate::accounts::models::{Role, User};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::monitoring::Booking;
use crate::state::AppState;
use crate::time::{format_date, today_seoul};
use crate::visits::rules::hhmm;
use crate::web::routes::Routes;
use crate::web::{db, field_errors, redirect, render_status, CsrfForm, Ctx, Page};

pub fn configure(r: &mut Routes) {
    r.get("/clinic", saturday)
        .get("/clinic/saturday", choose_saturday)
        .get("/clinic/sessions/{id}", program)
        .get("/clinic/sessions/{id}/time", time)
        .get("/clinic/sessions/{id}/details", details)
        .get("/clinic/sessions/{id}/check", check)
        .post("/clinic/bookings", book);
}

/// The steps, in order; a step's page asks its one question.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Step {
    Saturday = 1,
    Program = 2,
    Time = 3,
    Details = 4,
    Check = 5,
}

const STEPS: i32 = 5;

/// A `(field, catalog key)` error of a step.
type StepError = (&'static str, &'static str);

/// Her answers so far.
#[derive(Deserialize, Serialize, Default, Clone, Debug)]
#[serde(default)]
pub struct Choice {
    session: String,
    program: String,
    slot: String,
    child_id: String,
    due_date: String,
    with_partner: String,
    /// "yes" when she came from the check page to change an answer: the
    /// time and details steps then lead straight back to it.
    checking: String,
}

impl Choice {
    /// The answers other than the Saturday (which is in the path) as a query string.
    fn query(&self, checking: bool) -> String {
        let checking = if checking { "yes" } else { self.checking.as_str() };
        let pairs: Vec<(&str, &str)> = [
            ("program", self.program.as_str()),
            ("slot", &self.slot),
            ("child_id", &self.child_id),
            ("due_date", &self.due_date),
            ("with_partner", &self.with_partner),
            ("checking", checking),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }

    /// A step's address with these answers (`checking`: asked from the check page).
    fn url(&self, step: Step, checking: bool) -> String {
        let q = self.query(checking);
        let (path, q) = match step {
            Step::Saturday => {
                let session = serde_urlencoded::to_string([("session", &self.session)]).unwrap_or_default();
                ("/clinic".to_string(), if q.is_empty() { session } else { format!("{session}&{q}") })
            }
            Step::Program => (format!("/clinic/sessions/{}", self.session), q),
            Step::Time => (format!("/clinic/sessions/{}/time", self.session), q),
            Step::Details => (format!("/clinic/sessions/{}/details", self.session), q),
            Step::Check => (format!("/clinic/sessions/{}/check", self.session), q),
        };
        if q.is_empty() {
            path
        } else {
            format!("{path}?{q}")
        }
    }

    /// Hidden fields carrying every answer but the ones a step's form asks.
    fn hidden(&self, asked: &[&str]) -> Vec<(&'static str, String)> {
        [
            ("session", &self.session),
            ("program", &self.program),
            ("slot", &self.slot),
            ("child_id", &self.child_id),
            ("due_date", &self.due_date),
            ("with_partner", &self.with_partner),
            ("checking", &self.checking),
        ]
        .into_iter()
        .filter(|(k, v)| !v.is_empty() && !asked.contains(k))
        .map(|(k, v)| (k, v.clone()))
        .collect()
    }
}

/// Which step and field a refusal of `service::book` belongs to.
fn step_of(key: &'static str) -> (Step, &'static str) {
    match key {
        "clinic.errors.full" | "clinic.errors.choose_slot" => (Step::Time, "slot"),
        "clinic.errors.already_booked" | "clinic.errors.past" | "clinic.errors.not_open_yet" => (Step::Program, "program"),
        "clinic.errors.infant_only" => (Step::Details, "child_id"),
        "clinic.errors.pregnant_only" | "clinic.errors.pregnant_or_infant" => (Step::Details, "due_date"),
        _ => (Step::Saturday, "session"),
    }
}

/// Whether a program asks for a due date, a child, a partner's seat.
fn asks(p: &ClinicProgram) -> (bool, bool, bool) {
    (p.audience != "infant", p.audience != "pregnant", p.partner_seat)
}

/// Her details for `program` as the rules read them, or the field and error.
fn booker(choice: &Choice, program: &ClinicProgram, kids: &[models::Child]) -> Result<Booker, StepError> {
    let (due_asked, child_asked, _) = asks(program);
    let due_date = match choice.due_date.trim() {
        "" => None,
        _ if !due_asked => None,
        s => Some(NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| ("due_date", "applications.errors.date_invalid"))?),
    };
    let child_birth = match choice.child_id.as_str() {
        "" => None,
        _ if !child_asked => None,
        id => Some(kids.iter().find(|k| k.id == id).ok_or(("child_id", "clinic.errors.infant_only"))?.birth_date),
    };
    Ok(Booker { due_date, child_birth })
}

/// Moves the page shown back to `step` with its error, when that is earlier.
fn fail(step: Step, e: StepError, at: &mut Step, err: &mut Option<StepError>) {
    if step < *at {
        *at = step;
        *err = Some(e);
    }
}

fn seats(program: &ClinicProgram, choice: &Choice) -> i32 {
    if program.partner_seat && choice.with_partner == "yes" {
        2
    } else {
        1
    }
}

/// What to bring to a program: its key in the catalog's `schedule` section.
fn prepare_key(audience: &str) -> &'static str {
    match audience {
        "pregnant" => "prepare_pregnant",
        "infant" => "prepare_infant",
        _ => "prepare_either",
    }
}

#[derive(Serialize)]
struct SaturdayRow {
    id: String,
    date: String,
    open: bool,
    reason: String,
    left: i32,
    /// The first open one carries the field's id (the error summary links to it).
    first: bool,
}

#[derive(Serialize)]
struct ProgramRow {
    id: String,
    name: String,
    audience: String,
    prepare: &'static str,
    window: String,
    left: i32,
    first: bool,
}

#[derive(Serialize)]
struct ChildRow {
    id: String,
    name: String,
    birth: String,
}

/// What a step's page shows, read in one go: the step actually shown (an
/// earlier one when an answer before `want` does not hold) and its context.
#[allow(clippy::too_many_arguments)]
fn build(conn: &mut crate::db::DbConn, state: &AppState, lang: Lang, user: Option<&User>, want: Step, mut choice: Choice, error: Option<StepError>, today: NaiveDate) -> Result<(Step, tera::Context), AppError> {
    let mut c = tera::Context::new();
    let mut at = want;
    let mut err = error;
    if want == Step::Saturday {
        let left: std::collections::HashMap<String, Option<i64>> = models::places_left_from(conn, today, 8)?.into_iter().collect();
        let rows: Vec<SaturdayRow> = models::sessions_from(conn, today, 8)?
            .into_iter()
            .map(|s| SaturdayRow {
                left: left.get(&s.id).copied().flatten().unwrap_or(0).try_into().unwrap_or(i32::MAX),
                id: s.id,
                date: format_date(s.day, lang),
                open: s.status == "open",
                reason: s.cancel_reason.unwrap_or_default(),
                first: false,
            })
            .collect();
        let mut rows = rows;
        if let Some(r) = rows.iter_mut().find(|r| r.open) {
            r.first = true;
        }
        c.insert("sessions", &rows);
        return finish(state, lang, Step::Saturday, &choice, err, c);
    }

    let programs = models::programs(conn, true)?;
    let session: ClinicSession = models::session(conn, &choice.session)?.ok_or(AppError::NotFound)?;
    let slots = models::slots_of(conn, &session.id)?;
    if choice.program.is_empty() && !choice.slot.is_empty() {
        if let Some(s) = slots.iter().find(|s| s.id == choice.slot) {
            choice.program = s.program_id.clone();
        }
    }
    c.insert("date", &format_date(session.day, lang));
    c.insert("status", &session.status);
    c.insert("reason", &session.cancel_reason.clone().unwrap_or_default());
    if session.status != "open" && want > Step::Program {
        fail(Step::Saturday, ("session", "clinic.errors.session_cancelled"), &mut at, &mut err);
    }
    let offered: Vec<&ClinicProgram> = programs.iter().filter(|p| slots.iter().any(|s| s.program_id == p.id)).collect();
    let program = offered.iter().find(|p| p.id == choice.program).copied();
    match program {
        None => fail(Step::Program, ("program", "clinic.errors.choose_program"), &mut at, &mut err),
        Some(p) => {
            if let Err(key) = rules::booking_open(session.day, today, p.booking_opens_days) {
                fail(Step::Program, ("program", key), &mut at, &mut err);
            }
        }
    }
    let slot = program.and_then(|p| slots.iter().find(|s| s.id == choice.slot && s.program_id == p.id));
    if slot.is_none() {
        fail(Step::Time, ("slot", "clinic.errors.choose_slot"), &mut at, &mut err);
    }
    let kids = match user {
        Some(u) if at >= Step::Details => models::children_of(conn, &u.id)?,
        _ => vec![],
    };
    if let (Some(p), true) = (program, at > Step::Details) {
        let checked = booker(&choice, p, &kids)
            .and_then(|b| rules::may_book(&p.audience, p.infant_max_months, &b, session.day, today).map_err(|key| (step_of(key).1, key)));
        if let Err(e) = checked {
            fail(Step::Details, e, &mut at, &mut err);
        }
    }

    match at {
        Step::Saturday => return build(conn, state, lang, user, Step::Saturday, choice, err, today),
        Step::Program => {
            let rows: Vec<ProgramRow> = offered
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let own: Vec<&ClinicSlot> = slots.iter().filter(|s| s.program_id == p.id).collect();
                    let (start, end) = (own.iter().map(|s| s.start_minute).min().unwrap_or(0), own.iter().map(|s| s.end_minute).max().unwrap_or(0));
                    ProgramRow {
                        id: p.id.clone(),
                        name: p.name(lang).to_string(),
                        audience: p.audience.clone(),
                        prepare: prepare_key(&p.audience),
                        window: format!("{}–{}", hhmm(start), hhmm(end)),
                        left: own.iter().map(|s| (s.capacity - s.booked).max(0)).sum(),
                        first: i == 0,
                    }
                })
                .collect();
            c.insert("programs", &rows);
        }
        _ => {
            let p = program.expect("checked above");
            c.insert("program_name", p.name(lang));
            c.insert("program_kind", &p.kind);
            let (due_asked, child_asked, partner_asked) = asks(p);
            c.insert("asks_due", &due_asked);
            c.insert("asks_child", &child_asked);
            c.insert("asks_partner", &partner_asked);
            c.insert("audience", &p.audience);
            if at == Step::Time {
                let own: Vec<ClinicSlot> = slots.iter().filter(|s| s.program_id == p.id).cloned().collect();
                if own.len() == 1 && !own.iter().any(|s| s.id == choice.slot) {
                    choice.slot = own[0].id.clone();
                }
                c.insert("slots", &program_views(&[p.clone()], &own, lang).into_iter().next().map(|v| v.slots).unwrap_or_default());
            } else {
                let slot = slot.expect("checked above");
                c.insert("time", &format!("{}–{}", hhmm(slot.start_minute), hhmm(slot.end_minute)));
                c.insert("children", &kids.iter().map(|k| ChildRow { id: k.id.clone(), name: k.name.clone(), birth: format_date(k.birth_date, lang) }).collect::<Vec<_>>());
                if at == Step::Details {
                    c.insert("details_url", &choice.url(Step::Details, false));
                }
                if at == Step::Details && err.is_none() && choice.due_date.is_empty() && due_asked {
                    if let Some(u) = user {
                        choice.due_date = latest_due_date(conn, &u.id)?.map(|d| d.to_string()).unwrap_or_default();
                    }
                }
                if at == Step::Check {
                    let seats = seats(p, &choice);
                    c.insert("seats", &seats);
                    c.insert("waitlist", &(slot.booked + seats > slot.capacity));
                    c.insert("due_shown", &NaiveDate::parse_from_str(choice.due_date.trim(), "%Y-%m-%d").ok().filter(|_| due_asked).map(|d| format_date(d, lang)).unwrap_or_default());
                    c.insert("child_shown", &kids.iter().find(|k| child_asked && k.id == choice.child_id).map(|k| k.name.clone()).unwrap_or_default());
                    c.insert("prepare", prepare_key(&p.audience));
                    c.insert("change_saturday", &choice.url(Step::Saturday, true));
                    c.insert("change_program", &choice.url(Step::Program, true));
                    c.insert("change_time", &choice.url(Step::Time, true));
                    c.insert("change_details", &choice.url(Step::Details, true));
                    // What the booking sends: only the details this program asks for.
                    c.insert("send_due", if due_asked { choice.due_date.as_str() } else { "" });
                    c.insert("send_child", if child_asked { choice.child_id.as_str() } else { "" });
                    c.insert("send_partner", if partner_asked { choice.with_partner.as_str() } else { "" });
                }
            }
        }
    }
    finish(state, lang, at, &choice, err, c)
}

/// The parts every step's page has: progress, back link, form target,
/// hidden answers, errors.
fn finish(state: &AppState, lang: Lang, at: Step, choice: &Choice, err: Option<StepError>, mut c: tera::Context) -> Result<(Step, tera::Context), AppError> {
    let checking = choice.checking == "yes";
    let (action, asked): (String, &[&str]) = match at {
        Step::Saturday => ("/clinic/saturday".into(), &["session"]),
        Step::Program => (format!("/clinic/sessions/{}/time", choice.session), &["program", "slot"]),
        Step::Time => (choice.url_path(if checking { Step::Check } else { Step::Details }), &["slot"]),
        Step::Details => (choice.url_path(Step::Check), &["child_id", "due_date", "with_partner"]),
        Step::Check => ("/clinic/bookings".into(), &[]),
    };
    let back = match at {
        Step::Saturday => None,
        _ if checking => Some(choice.url(Step::Check, false)),
        Step::Program => Some(choice.url(Step::Saturday, false)),
        Step::Time => Some(choice.url(Step::Program, false)),
        Step::Details => Some(choice.url(Step::Time, false)),
        Step::Check => Some(choice.url(Step::Details, false)),
    };
    c.insert("step", &(at as i32));
    c.insert("steps", &STEPS);
    c.insert("choice", choice);
    c.insert("action", &action);
    c.insert("hidden", &choice.hidden(asked));
    c.insert("back", &back);
    if let Some((field, key)) = err {
        c.insert("errors", &field_errors(state, lang, &[(field, key)]));
    }
    Ok((at, c))
}

impl Choice {
    fn url_path(&self, step: Step) -> String {
        self.url(step, false).split('?').next().unwrap_or_default().to_string()
    }
}

fn latest_due_date(conn: &mut crate::db::DbConn, user_id: &str) -> Result<Option<NaiveDate>, AppError> {
    use crate::db::schema::applications;
    use diesel::prelude::*;
    Ok(applications::table
        .filter(applications::user_id.eq(user_id))
        .filter(applications::due_date.is_not_null())
        .order(applications::created_at.desc())
        .select(applications::due_date)
        .first::<Option<NaiveDate>>(conn)
        .optional()?
        .flatten())
}

const TEMPLATES: [&str; 5] = ["clinic/step_saturday.html", "clinic/step_program.html", "clinic/step_time.html", "clinic/step_details.html", "clinic/step_check.html"];

/// Shows step `want` (or the earlier one whose answer no longer holds).
async fn show(state: &web::Data<AppState>, ctx: &Ctx, want: Step, choice: Choice, error: Option<StepError>, status: StatusCode) -> Result<HttpResponse, AppError> {
    let lang = ctx.lang;
    let user = ctx.user.clone();
    let built = db(state, move |conn, state| build(conn, state, lang, user.as_ref(), want, choice, error, today_seoul())).await?;
    render_step(state, ctx, want, built, status)
}

/// Renders the step `build` arrived at (an earlier one than `want` when an
/// answer before it is missing or no longer holds: then 422).
fn render_step(state: &web::Data<AppState>, ctx: &Ctx, want: Step, (at, mut c): (Step, tera::Context), status: StatusCode) -> Result<HttpResponse, AppError> {
    let status = if at < want && status == StatusCode::OK { StatusCode::UNPROCESSABLE_ENTITY } else { status };
    render_status(state, ctx, TEMPLATES[at as usize - 1], &mut c, status)
}

fn resident(ctx: &Ctx) -> Result<User, AppError> {
    ctx.require(&[Role::Resident]).cloned()
}

/// Step 1: the coming open Saturdays.
/// The busiest clinic page: her session and the page's queries in one
/// blocking call (`Page`).
async fn saturday(page: Page, state: web::Data<AppState>, q: web::Query<Choice>) -> Result<HttpResponse, AppError> {
    let choice = q.into_inner();
    let (ctx, built) = page
        .db(&state, move |conn, state, visit| {
            let lang = visit.lang;
            let open = crate::programs::open_name(conn, crate::programs::SATURDAY_CLINIC, lang)?;
            if open.is_none() || models::programs(conn, true)?.is_empty() {
                return Ok(None);
            }
            Ok(Some(build(conn, state, lang, visit.user.as_ref(), Step::Saturday, choice, None, today_seoul())?))
        })
        .await?;
    match built {
        Some(built) => render_step(&state, &ctx, Step::Saturday, built, StatusCode::OK),
        None => crate::web::pages::not_open(&state, &ctx, None),
    }
}

/// Step 1's answer: on to that Saturday's programs.
async fn choose_saturday(ctx: Ctx, state: web::Data<AppState>, q: web::Query<Choice>) -> Result<HttpResponse, AppError> {
    let choice = q.into_inner();
    let id = choice.session.clone();
    let session = db(&state, move |conn, _| Ok(models::session(conn, &id)?)).await?;
    match session {
        Some(s) if s.status == "open" => Ok(redirect(&choice.url(Step::Program, false), None)),
        Some(_) => show(&state, &ctx, Step::Saturday, choice, Some(("session", "clinic.errors.session_cancelled")), StatusCode::UNPROCESSABLE_ENTITY).await,
        None => show(&state, &ctx, Step::Saturday, choice, Some(("session", "clinic.errors.choose_session")), StatusCode::UNPROCESSABLE_ENTITY).await,
    }
}

fn with_session(path: web::Path<String>, q: web::Query<Choice>) -> Choice {
    Choice { session: path.into_inner(), ..q.into_inner() }
}

/// Step 2: the programs of that Saturday.
async fn program(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, q: web::Query<Choice>) -> Result<HttpResponse, AppError> {
    show(&state, &ctx, Step::Program, with_session(path, q), None, StatusCode::OK).await
}

/// Step 3: the program's times.
async fn time(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, q: web::Query<Choice>) -> Result<HttpResponse, AppError> {
    show(&state, &ctx, Step::Time, with_session(path, q), None, StatusCode::OK).await
}

/// Step 4: who is coming (her due date, her child, her partner).
async fn details(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, q: web::Query<Choice>) -> Result<HttpResponse, AppError> {
    resident(&ctx)?;
    show(&state, &ctx, Step::Details, with_session(path, q), None, StatusCode::OK).await
}

/// Step 5: her answers, each with a change link, and the button that books.
async fn check(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, q: web::Query<Choice>) -> Result<HttpResponse, AppError> {
    resident(&ctx)?;
    show(&state, &ctx, Step::Check, with_session(path, q), None, StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BookForm {
    session_id: String,
    program: String,
    slot_id: String,
    child_id: String,
    due_date: String,
    with_partner: String,
    join_waitlist: String,
}

/// The booking: the same service call as the API's. A refusal shows the
/// step it concerns, with her answers.
async fn book(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<BookForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let user = resident(&ctx)?;
    let choice = Choice {
        session: form.session_id.clone(),
        program: form.program.clone(),
        slot: form.slot_id.clone(),
        child_id: form.child_id.clone(),
        due_date: form.due_date.clone(),
        with_partner: form.with_partner.clone(),
        checking: String::new(),
    };
    if form.slot_id.is_empty() {
        return show(&state, &ctx, Step::Time, choice, Some(("slot", "clinic.errors.choose_slot")), StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let input = BookingInput {
        slot_id: form.slot_id.clone(),
        child_id: (!form.child_id.is_empty()).then(|| form.child_id.clone()),
        due_date: NaiveDate::parse_from_str(form.due_date.trim(), "%Y-%m-%d").ok(),
        with_partner: form.with_partner == "yes",
        join_waitlist: form.join_waitlist == "yes",
    };
    let result = db(&state, move |conn, state| service::book(conn, &state.notifier, &user, &input, today_seoul())).await;
    match result {
        Ok(BookOutcome::Booked) => {
            state.metrics.booking(Booking::Clinic);
            Ok(redirect("/my/clinic", Some("clinic.flash.booked")))
        }
        Ok(BookOutcome::Waitlisted) => Ok(redirect("/my/clinic", Some("clinic.flash.waitlisted"))),
        Err(AppError::Conflict(key)) => {
            let (step, field) = step_of(key);
            show(&state, &ctx, step, choice, Some((field, key)), StatusCode::CONFLICT).await
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_ride_along_in_links_and_hidden_fields() {
        let c = Choice { session: "s1".into(), program: "p1".into(), slot: "x 1".into(), due_date: "2027-01-02".into(), ..Choice::default() };
        assert_eq!(c.url(Step::Time, false), "/clinic/sessions/s1/time?program=p1&slot=x+1&due_date=2027-01-02");
        assert_eq!(c.url(Step::Saturday, true), "/clinic?session=s1&program=p1&slot=x+1&due_date=2027-01-02&checking=yes");
        assert_eq!(c.url_path(Step::Check), "/clinic/sessions/s1/check");
        let hidden: Vec<&str> = c.hidden(&["slot"]).into_iter().map(|(k, _)| k).collect();
        assert_eq!(hidden, vec!["session", "program", "due_date"]);
        assert_eq!(step_of("clinic.errors.full"), (Step::Time, "slot"));
        assert_eq!(step_of("clinic.errors.infant_only"), (Step::Details, "child_id"));
    }
}
