//! The resident's visits: quota, booking calendar, reschedule, cancel, .ics,
//! confirmation and rating, recording the birth.

use std::collections::{BTreeMap, HashSet};

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;

use super::models::{self, Slot, ACTIVE};
use super::service::{self, BookingInput};
use super::{rules, views};
use crate::accounts::models::{Role, User};
use crate::accounts::routes::Empty;
use crate::agencies::Agency;
use crate::applications::models::Application;
use crate::applications::rules::RuleSet;
use crate::applications::models as apps;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::monitoring::Booking;
use crate::state::AppState;
use crate::time::{now_utc, today_seoul};
use crate::web::routes::Routes;
use crate::web::{db, field_errors, redirect, render, render_status, CsrfForm, Ctx};

pub fn configure(r: &mut Routes) {
    r.get("/my/visits", my_visits)
        .get("/my/visits/new", book_page)
        .get("/my/visits/new/check", check_page)
        .post("/my/visits/new", book)
        .post("/my/visits/agency", choose_agency)
        .get("/my/visits/{id}/reschedule", reschedule_page)
        .get("/my/visits/{id}/reschedule/check", reschedule_check)
        .post("/my/visits/{id}/reschedule", reschedule)
        .get("/my/visits/{id}/cancel", cancel_page)
        .post("/my/visits/{id}/cancel", cancel)
        .post("/my/visits/{id}/rate", rate)
        .get("/my/visits/{id}/calendar.ics", ics)
        .get("/my/applications/{id}/birth", birth_page)
        .post("/my/applications/{id}/birth", record_birth);
}

pub const TASKS: [&str; 3] = ["cleaning", "laundry", "tidying"];

fn resident(ctx: &Ctx) -> Result<User, AppError> {
    ctx.require(&[Role::Resident]).cloned()
}

async fn my_visits(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let user = resident(&ctx)?;
    let lang = ctx.lang;
    let data = db(&state, move |conn, _| {
        let Some(app) = service::approved_application(conn, &user.id)? else { return Ok(None) };
        let (quota, used) = service::quota(conn, &app)?;
        let settings = models::settings(conn)?;
        let visits = models::for_application(conn, &app.id)?;
        Ok(Some((app, quota, used, settings, visits)))
    })
    .await?;
    let mut c = tera::Context::new();
    if let Some((app, quota, used, settings, visits)) = data {
        c.insert("application_id", &app.id);
        c.insert("quota", &quota);
        c.insert("used", &used);
        c.insert("left", &(quota - used));
        c.insert("cutoff_hours", &settings.cancel_cutoff_hours);
        c.insert("visits", &visits.iter().map(|v| views::visit_view(v, &settings, lang)).collect::<Vec<_>>());
    }
    render(&state, &ctx, "visits/my.html", c)
}

/// What the booking steps offer her: her application and its rules, the
/// agency, and the free start times by day (the service's offered slots,
/// less full ones and days she already has a visit).
struct Offer {
    app: Application,
    rule_set: RuleSet,
    agency: Agency,
    agencies: Vec<Agency>,
    free: BTreeMap<NaiveDate, Vec<Slot>>,
    first: NaiveDate,
    last: NaiveDate,
    quota: i32,
    used: i32,
    notice_days: i32,
    /// The day of the slot asked about, when it is one of her agency's.
    asked_day: Option<NaiveDate>,
}

impl Offer {
    fn free_slot(&self, slot_id: &str) -> Option<&Slot> {
        self.free.values().flatten().find(|s| s.id == slot_id)
    }
}

async fn offer(state: &web::Data<AppState>, user: &User, except_visit: Option<String>, asked_slot: &str) -> Result<Offer, AppError> {
    let user_id = user.id.clone();
    let asked_slot = asked_slot.to_string();
    let today = today_seoul();
    db(state, move |conn, _| {
        let app = service::approved_application(conn, &user_id)?.ok_or(AppError::Conflict("visits.errors.not_approved"))?;
        let settings = models::settings(conn)?;
        let (quota, used) = service::quota(conn, &app)?;
        let rule_set = crate::applications::rules::find(conn, &app.rule_set_id)?;
        let agency = service::agency_for(conn, &app)?;
        let (first, last) = service::booking_window(&settings, &rule_set, &app, today);
        let slots = service::offered_slots(conn, &app, &agency.id, today)?;
        let busy: HashSet<NaiveDate> = models::for_application(conn, &app.id)?
            .into_iter()
            .filter(|v| ACTIVE.contains(&v.status.as_str()) || v.status == "completed")
            .filter(|v| Some(&v.id) != except_visit.as_ref())
            .map(|v| v.day)
            .collect();
        let agencies = if rule_set.terms.resident_chooses_agency { crate::agencies::serving(conn, &app.district_code)? } else { vec![] };
        let asked_day = if asked_slot.is_empty() { None } else { models::slot_day(conn, &agency.id, &asked_slot)? };
        Ok(Offer {
            free: views::free_by_day(&slots, &busy, first, last),
            app,
            rule_set,
            agency,
            agencies,
            first,
            last,
            quota,
            used,
            notice_days: settings.min_notice_days,
            asked_day,
        })
    })
    .await
}

/// Which booking the steps make: a new visit, or moving one (its view).
struct Flow {
    base: String,
    visit: Option<views::VisitView>,
}

impl Flow {
    fn new_visit() -> Flow {
        Flow { base: "/my/visits/new".into(), visit: None }
    }

    fn reschedule(visit: &models::Visit, settings: &rules::Settings, lang: Lang) -> Flow {
        Flow { base: format!("/my/visits/{}/reschedule", visit.id), visit: Some(views::visit_view(visit, settings, lang)) }
    }
}

/// What every step shows: the flow, her agency and what the rules say.
fn step_context(offer: &Offer, flow: &Flow, lang: Lang) -> tera::Context {
    let en = lang == Lang::En;
    let mut c = tera::Context::new();
    c.insert("base", &flow.base);
    if let Some(v) = &flow.visit {
        c.insert("visit", v);
    }
    c.insert("agency", &offer.agency);
    c.insert("agencies", &offer.agencies);
    c.insert("excluded_tasks", &offer.rule_set.terms.excluded_tasks.iter().map(|t| t.label(en).to_string()).collect::<Vec<_>>());
    c.insert("copay_weekday", &offer.rule_set.terms.copay_weekday_won);
    c.insert("copay_saturday", &offer.rule_set.terms.copay_saturday_won);
    c.insert("left", &(offer.quota - offer.used));
    c.insert("quota", &offer.quota);
    c.insert("notice_days", &offer.notice_days);
    c.insert("tasks", &TASKS);
    c
}

type Errors<'a> = &'a [(&'static str, &'static str)];

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StepQuery {
    month: String,
    day: String,
    slot_id: String,
}

fn parse_day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// What she chose or typed, carried from step to step.
fn insert_choice(c: &mut tera::Context, form: &BookForm) {
    c.insert("notes", &form.notes);
    c.insert("chosen_tasks", &form.tasks().split(',').filter(|t| !t.is_empty()).collect::<Vec<_>>());
    c.insert("carry", &(!form.notes.is_empty() || !form.tasks().is_empty()));
}

/// The booking steps of one flow for one request: each renders a step, or
/// goes back to the step that can put a refusal right.
#[derive(Clone, Copy)]
struct Steps<'a> {
    state: &'a AppState,
    ctx: &'a Ctx,
    offer: &'a Offer,
    flow: &'a Flow,
}

fn steps<'a>(state: &'a AppState, ctx: &'a Ctx, offer: &'a Offer, flow: &'a Flow) -> Steps<'a> {
    Steps { state, ctx, offer, flow }
}

impl Steps<'_> {
    /// Step 1: the month's calendar (the month of `month`, kept inside her window;
    /// by default the month of the first free day).
    fn calendar(&self, month: Option<NaiveDate>, errors: Errors, status: StatusCode) -> Result<HttpResponse, AppError> {
        let Steps { state, ctx, offer, flow } = *self;
        let default = offer.free.keys().next().copied().unwrap_or(offer.first);
        let month = views::month_of(month.unwrap_or(default)).clamp(views::month_of(offer.first), views::month_of(offer.last.max(offer.first)));
        let mut c = step_context(offer, flow, ctx.lang);
        c.insert("month", &views::month_view(month, &offer.free, offer.first, offer.last, &flow.base, ctx.lang));
        c.insert("has_times", &!offer.free.is_empty());
        c.insert("errors", &field_errors(state, ctx.lang, errors));
        render_status(state, ctx, "visits/book_calendar.html", &mut c, status)
    }


    /// Step 2: the free start times of one day (a day with free times).
    fn times(&self, day: NaiveDate, form: &BookForm, errors: Errors, status: StatusCode) -> Result<HttpResponse, AppError> {
        let Steps { state, ctx, offer, flow } = *self;
        let hours = flow.visit.as_ref().map_or(offer.rule_set.visit_hours, |v| v.hours);
        let mut c = step_context(offer, flow, ctx.lang);
        c.insert("day", &day.to_string());
        c.insert("day_label", &crate::time::long_date(day, ctx.lang));
        c.insert("month_value", &day.format("%Y-%m").to_string());
        c.insert("times", &views::times(offer.free.get(&day).map_or(&[][..], |v| &v[..]), hours));
        c.insert("selected", &form.slot_id);
        insert_choice(&mut c, form);
        c.insert("errors", &field_errors(state, ctx.lang, errors));
        render_status(state, ctx, "visits/book_times.html", &mut c, status)
    }

    /// Step 3: her answers to check, with links back to each step, and the button that books.
    fn check(&self, slot: &Slot, form: &BookForm, errors: Errors, status: StatusCode) -> Result<HttpResponse, AppError> {
        let Steps { state, ctx, offer, flow } = *self;
        let hours = flow.visit.as_ref().map_or(offer.rule_set.visit_hours, |v| v.hours);
        let mut c = step_context(offer, flow, ctx.lang);
        c.insert("slot_id", &slot.id);
        c.insert("day", &slot.day.to_string());
        c.insert("day_label", &crate::time::long_date(slot.day, ctx.lang));
        c.insert("month_value", &slot.day.format("%Y-%m").to_string());
        c.insert("time", &views::time_range(slot.start_minute, hours));
        c.insert("hours", &hours);
        let district = offer.rule_set.district_name(&offer.app.district_code).unwrap_or(&offer.app.district_code);
        c.insert("address", &format!("{district} {}", offer.app.street_address).trim().to_string());
        c.insert("copay", &offer.rule_set.copay_on(slot.day));
        insert_choice(&mut c, form);
        c.insert("errors", &field_errors(state, ctx.lang, errors));
        render_status(state, ctx, "visits/book_check.html", &mut c, status)
    }

    /// Back to the step where she can put `key` right: the day's times while
    /// the day still has free times, else the calendar at that day's month.
    fn back_to(&self, day: Option<NaiveDate>, form: &BookForm, key: &'static str, status: StatusCode) -> Result<HttpResponse, AppError> {
        let Steps { offer, .. } = *self;
        match day {
            Some(d) if offer.free.contains_key(&d) => self.times(d, form, &[("slot_id", key)], status),
            _ => self.calendar(day, &[("day", key)], status),
        }
    }

    /// Steps 1 and 2 by their query: `?day=` shows a day's times, else the
    /// calendar (`?month=YYYY-MM`).
    fn page(&self, q: &StepQuery) -> Result<HttpResponse, AppError> {
        let Steps { offer, .. } = *self;
        let none = BookForm::default();
        if !q.day.is_empty() {
            return match parse_day(&q.day) {
                Some(day) if offer.free.contains_key(&day) => self.times(day, &none, &[], StatusCode::OK),
                Some(day) => self.calendar(Some(day), &[("day", "visits.errors.day_full")], StatusCode::CONFLICT),
                None => self.calendar(None, &[("day", "visits.errors.bad_date")], StatusCode::UNPROCESSABLE_ENTITY),
            };
        }
        if q.month.is_empty() {
            return self.calendar(None, &[], StatusCode::OK);
        }
        match parse_day(&format!("{}-01", q.month.trim())) {
            Some(month) => self.calendar(Some(month), &[], StatusCode::OK),
            None => self.calendar(None, &[("day", "visits.errors.bad_date")], StatusCode::UNPROCESSABLE_ENTITY),
        }
    }

    /// Step 3 for the chosen slot while it is free; else back to its day
    /// (or the day she was on) with why.
    fn check_or_back(&self, form: &BookForm, status: StatusCode) -> Result<HttpResponse, AppError> {
        let Steps { offer, .. } = *self;
        if let Some(slot) = offer.free_slot(&form.slot_id) {
            return self.check(slot, form, &[], status);
        }
        let key = if form.slot_id.is_empty() { "visits.errors.choose_time" } else { "visits.errors.slot_full" };
        let day = offer.asked_day.or_else(|| parse_day(&form.day));
        self.back_to(day, form, key, StatusCode::CONFLICT)
    }
}

/// Why she cannot book a new visit at all: the page that says so, with the
/// way back to her visits, instead of a calendar she cannot use.
fn blocked_page(state: &AppState, ctx: &Ctx, key: &'static str, quota: i32) -> Result<HttpResponse, AppError> {
    let mut c = tera::Context::new();
    c.insert("reason", &state.i18n.t(ctx.lang, key));
    c.insert("not_approved", &(key == "visits.errors.not_approved"));
    c.insert("quota_used", &(key == "visits.errors.quota_used"));
    c.insert("quota", &quota);
    render_status(state, ctx, "visits/book_blocked.html", &mut c, StatusCode::CONFLICT)
}

/// What the steps of a new visit offer her, or the page saying why she
/// cannot book one (no approved application, no visit left, no agency
/// serving her district). Only a
/// courtesy: `service::book` takes the quota inside its transaction.
async fn new_visit_offer(state: &web::Data<AppState>, ctx: &Ctx, user: &User, asked_slot: &str) -> Result<Result<Offer, HttpResponse>, AppError> {
    match offer(state, user, None, asked_slot).await {
        Ok(offer) if offer.quota - offer.used <= 0 => Ok(Err(blocked_page(state, ctx, "visits.errors.quota_used", offer.quota)?)),
        Ok(offer) => Ok(Ok(offer)),
        Err(AppError::Conflict(key)) => Ok(Err(blocked_page(state, ctx, key, 0)?)),
        Err(e) => Err(e),
    }
}

async fn book_page(ctx: Ctx, state: web::Data<AppState>, q: web::Query<StepQuery>) -> Result<HttpResponse, AppError> {
    let user = resident(&ctx)?;
    match new_visit_offer(&state, &ctx, &user, "").await? {
        Ok(offer) => steps(&state, &ctx, &offer, &Flow::new_visit()).page(&q),
        Err(blocked) => Ok(blocked),
    }
}

async fn check_page(ctx: Ctx, state: web::Data<AppState>, q: web::Query<StepQuery>) -> Result<HttpResponse, AppError> {
    let user = resident(&ctx)?;
    let form = BookForm { slot_id: q.slot_id.clone(), day: q.day.clone(), ..BookForm::default() };
    match new_visit_offer(&state, &ctx, &user, &form.slot_id).await? {
        Ok(offer) => steps(&state, &ctx, &offer, &Flow::new_visit()).check_or_back(&form, StatusCode::OK),
        Err(blocked) => Ok(blocked),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AgencyForm {
    agency_id: String,
}

/// Where the rules let her, the resident picks the agency serving her visits.
async fn choose_agency(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<AgencyForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let user = resident(&ctx)?;
    let agency_id = form.agency_id.clone();
    match db(&state, move |conn, _| service::choose_agency(conn, &user.id, &agency_id)).await {
        Ok(()) => Ok(redirect("/my/visits/new", Some("visits.flash.agency_chosen"))),
        Err(AppError::Conflict(key)) => Ok(redirect("/my/visits/new", Some(key))),
        Err(e) => Err(e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BookForm {
    slot_id: String,
    notes: String,
    cleaning: String,
    laundry: String,
    tidying: String,
    /// The day whose times she was choosing from.
    day: String,
    /// "check": show step 3 for a new time (after a refusal, carrying what she typed), do not book yet.
    step: String,
}

impl BookForm {
    fn tasks(&self) -> String {
        [("cleaning", &self.cleaning), ("laundry", &self.laundry), ("tidying", &self.tidying)]
            .iter()
            .filter(|(_, v)| v.as_str() == "yes")
            .map(|(k, _)| *k)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Books the visit (step 3's button; also the plain form post the tests and
/// older pages use). A refusal goes back to the step that can put it right.
async fn book(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<BookForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let user = resident(&ctx)?;
    let flow = Flow::new_visit();
    if form.step == "check" {
        return match new_visit_offer(&state, &ctx, &user, &form.slot_id).await? {
            Ok(offer) => steps(&state, &ctx, &offer, &flow).check_or_back(&form, StatusCode::OK),
            Err(blocked) => Ok(blocked),
        };
    }
    let mut refused = None;
    let notes_too_long = form.notes.chars().count() > 1000;
    if form.slot_id.is_empty() {
        refused = Some("visits.errors.choose_time");
    } else if !notes_too_long {
        let input = BookingInput { slot_id: form.slot_id.clone(), tasks: form.tasks(), notes: form.notes.trim().to_string() };
        let u = user.clone();
        let result = db(&state, move |conn, state| service::book(conn, &state.notifier, &u, &input, today_seoul())).await;
        match result {
            Ok(_) => {
                state.metrics.booking(Booking::Visit);
                return Ok(redirect("/my/visits", Some("visits.flash.requested")));
            }
            Err(AppError::Conflict(key)) => refused = Some(key),
            Err(AppError::NotFound) => refused = Some("visits.errors.choose_time"),
            Err(e) => return Err(e),
        }
    }
    // Refused because nothing is left (the transaction's own check): say so, with no calendar.
    let offer = match new_visit_offer(&state, &ctx, &user, &form.slot_id).await? {
        Ok(offer) => offer,
        Err(blocked) => return Ok(blocked),
    };
    match (refused, offer.free_slot(&form.slot_id)) {
        (None, Some(slot)) => steps(&state, &ctx, &offer, &flow).check(slot, &form, &[("notes", "visits.errors.notes_too_long")], StatusCode::UNPROCESSABLE_ENTITY),
        (refused, _) => {
            let key = refused.unwrap_or("visits.errors.slot_full");
            let day = offer.asked_day.or_else(|| parse_day(&form.day));
            steps(&state, &ctx, &offer, &flow).back_to(day, &form, key, StatusCode::CONFLICT)
        }
    }
}

async fn own_visit(state: &web::Data<AppState>, user_id: &str, visit_id: &str) -> Result<(models::Visit, rules::Settings), AppError> {
    let (uid, vid) = (user_id.to_string(), visit_id.to_string());
    db(state, move |conn, _| {
        let v = models::find_own(conn, &uid, &vid)?.ok_or(AppError::NotFound)?;
        Ok((v, models::settings(conn)?))
    })
    .await
}

/// The flow moving one of her visits, and what it can offer instead.
async fn reschedule_offer(ctx: &Ctx, state: &web::Data<AppState>, user: &User, visit_id: &str, asked_slot: &str) -> Result<(Flow, Offer), AppError> {
    let (visit, settings) = own_visit(state, &user.id, visit_id).await?;
    let offer = offer(state, user, Some(visit.id.clone()), asked_slot).await?;
    Ok((Flow::reschedule(&visit, &settings, ctx.lang), offer))
}

async fn reschedule_page(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, q: web::Query<StepQuery>) -> Result<HttpResponse, AppError> {
    let user = resident(&ctx)?;
    let (flow, offer) = reschedule_offer(&ctx, &state, &user, &path, "").await?;
    steps(&state, &ctx, &offer, &flow).page(&q)
}

async fn reschedule_check(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, q: web::Query<StepQuery>) -> Result<HttpResponse, AppError> {
    let user = resident(&ctx)?;
    let (flow, offer) = reschedule_offer(&ctx, &state, &user, &path, &q.slot_id).await?;
    let form = BookForm { slot_id: q.slot_id.clone(), day: q.day.clone(), ..BookForm::default() };
    steps(&state, &ctx, &offer, &flow).check_or_back(&form, StatusCode::OK)
}

async fn reschedule(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<BookForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let user = resident(&ctx)?;
    let visit_id = path.into_inner();
    let (uid, vid, slot) = (user.id.clone(), visit_id.clone(), form.slot_id.clone());
    let result = db(&state, move |conn, state| service::reschedule(conn, &state.notifier, &uid, &vid, &slot, now_utc(), today_seoul())).await;
    let key = match result {
        Ok(()) => return Ok(redirect("/my/visits", Some("visits.flash.rescheduled"))),
        Err(AppError::Conflict(key)) => key,
        Err(AppError::NotFound) if !form.slot_id.is_empty() => return Err(AppError::NotFound),
        Err(AppError::NotFound) => "visits.errors.choose_time",
        Err(e) => return Err(e),
    };
    let (flow, offer) = reschedule_offer(&ctx, &state, &user, &visit_id, &form.slot_id).await?;
    let day = offer.asked_day.or_else(|| parse_day(&form.day));
    // Moving a visit has no tasks or notes to carry.
    let choice = BookForm { slot_id: form.slot_id.clone(), day: form.day.clone(), ..BookForm::default() };
    steps(&state, &ctx, &offer, &flow).back_to(day, &choice, key, StatusCode::CONFLICT)
}

async fn cancel_page(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let user = resident(&ctx)?;
    let (visit, settings) = own_visit(&state, &user.id, &path).await?;
    let view = views::visit_view(&visit, &settings, ctx.lang);
    let mut c = tera::Context::new();
    c.insert("late", &(ACTIVE.contains(&visit.status.as_str()) && !view.can_change));
    c.insert("late_counts", &settings.late_cancel_counts);
    c.insert("cutoff_hours", &settings.cancel_cutoff_hours);
    c.insert("visit", &view);
    render(&state, &ctx, "visits/cancel.html", c)
}

async fn cancel(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<Empty>) -> Result<HttpResponse, AppError> {
    form.verify(&ctx)?;
    let user = resident(&ctx)?;
    let vid = path.into_inner();
    let late = db(&state, move |conn, state| service::cancel(conn, &state.notifier, &user.id, &vid, now_utc())).await?;
    Ok(redirect("/my/visits", Some(if late { "visits.flash.cancelled_late" } else { "visits.flash.cancelled" })))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RateForm {
    rating: String,
    comment: String,
}

async fn rate(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<RateForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let user = resident(&ctx)?;
    let vid = path.into_inner();
    let rating = form.rating.trim().parse::<i32>().ok();
    let comment = form.comment.trim().to_string();
    db(&state, move |conn, _| service::confirm_and_rate(conn, &user.id, &vid, rating, &comment)).await?;
    Ok(redirect("/my/visits", Some("visits.flash.rated")))
}

async fn ics(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let user = resident(&ctx)?;
    let (visit, _) = own_visit(&state, &user.id, &path).await?;
    if visit.status != "confirmed" {
        return Err(AppError::NotFound);
    }
    let summary = state.i18n.t(ctx.lang, "visits.ics.summary");
    let description = state.i18n.t_with(ctx.lang, "visits.ics.description", &[("helper", visit.helper_name.as_deref().unwrap_or(""))]);
    let body = rules::ics(&visit.id, rules::start_utc(visit.day, visit.start_minute), visit.hours * 60, &summary, &description, now_utc());
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"visit-{}.ics\"", visit.day)))
        .body(body))
}

async fn birth_page(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let user = resident(&ctx)?;
    let app_id = path.into_inner();
    let aid = app_id.clone();
    db(&state, move |conn, _| apps::find_own(conn, &user.id, &aid)?.ok_or(AppError::NotFound)).await?;
    let mut c = tera::Context::new();
    c.insert("action", &format!("/my/applications/{app_id}/birth"));
    c.insert("back", &format!("/my/applications/{app_id}"));
    c.insert("today", &today_seoul().to_string());
    render(&state, &ctx, "visits/birth.html", c)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BirthForm {
    pub born_on: String,
}

pub fn parse_birth(form: &BirthForm) -> Result<NaiveDate, &'static str> {
    NaiveDate::parse_from_str(form.born_on.trim(), "%Y-%m-%d").map_err(|_| "applications.errors.date_invalid")
}

async fn record_birth(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<BirthForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let user = resident(&ctx)?;
    let app_id = path.into_inner();
    let born = match parse_birth(&form) {
        Ok(d) if d <= today_seoul() => d,
        result => {
            let key = result.err().unwrap_or("visits.errors.birth_future");
            let mut c = tera::Context::new();
            c.insert("action", &format!("/my/applications/{app_id}/birth"));
            c.insert("back", &format!("/my/applications/{app_id}"));
            c.insert("today", &form.born_on);
            c.insert("errors", &field_errors(&state, ctx.lang, &[("born_on", key)]));
            return render_status(&state, &ctx, "visits/birth.html", &mut c, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let aid = app_id.clone();
    db(&state, move |conn, state| {
        apps::find_own(conn, &user.id, &aid)?.ok_or(AppError::NotFound)?;
        service::record_birth(conn, &state.notifier, &aid, &user.id, born, today_seoul())
    })
    .await?;
    Ok(redirect(&format!("/my/applications/{app_id}"), Some("visits.flash.birth_recorded")))
}
