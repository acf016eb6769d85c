//! The resident's visits: quota, booking calendar, reschedule, cancel, .ics,
//! confirmation and rating, recording the birth.

use std::collections::HashSet;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;

use super::models::{self, ACTIVE};
use super::service::{self, BookingInput};
use super::{rules, views};
use crate::accounts::models::{Role, User};
use crate::accounts::routes::Empty;
use crate::applications::models as apps;
use crate::error::AppError;
use crate::monitoring::Booking;
use crate::state::AppState;
use crate::time::{now_utc, today_seoul};
use crate::web::routes::Routes;
use crate::web::{db, field_errors, redirect, render, render_status, CsrfForm, Ctx};

pub fn configure(r: &mut Routes) {
    r.get("/my/visits", my_visits)
        .get("/my/visits/new", book_page)
        .post("/my/visits/new", book)
        .post("/my/visits/agency", choose_agency)
        .get("/my/visits/{id}/reschedule", reschedule_page)
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

/// Calendar data for one resident: open start times she may pick.
async fn calendar_context(state: &web::Data<AppState>, user: &User, except_visit: Option<String>, lang: crate::i18n::Lang) -> Result<tera::Context, AppError> {
    let user_id = user.id.clone();
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
        let hours = rule_set.visit_hours;
        let en = lang == crate::i18n::Lang::En;
        let mut c = tera::Context::new();
        c.insert("agency", &agency);
        if rule_set.terms.resident_chooses_agency {
            c.insert("agencies", &crate::agencies::serving(conn, &app.district_code)?);
        }
        c.insert("excluded_tasks", &rule_set.terms.excluded_tasks.iter().map(|t| t.label(en).to_string()).collect::<Vec<_>>());
        c.insert("copay_weekday", &rule_set.terms.copay_weekday_won);
        c.insert("copay_saturday", &rule_set.terms.copay_saturday_won);
        c.insert("days", &views::calendar(&slots, &busy, first, last, hours, lang));
        c.insert("left", &(quota - used));
        c.insert("quota", &quota);
        c.insert("notice_days", &settings.min_notice_days);
        c.insert("tasks", &TASKS);
        Ok(c)
    })
    .await
}

async fn book_page(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let user = resident(&ctx)?;
    match calendar_context(&state, &user, None, ctx.lang).await {
        Ok(c) => render(&state, &ctx, "visits/book.html", c),
        Err(AppError::Conflict(key)) => Ok(redirect("/my/visits", Some(key))),
        Err(e) => Err(e),
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

async fn book(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<BookForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let user = resident(&ctx)?;
    let mut errors: Vec<(&'static str, &'static str)> = vec![];
    if form.slot_id.is_empty() {
        errors.push(("slot_id", "visits.errors.choose_time"));
    }
    if form.notes.chars().count() > 1000 {
        errors.push(("notes", "visits.errors.notes_too_long"));
    }
    if errors.is_empty() {
        let input = BookingInput { slot_id: form.slot_id.clone(), tasks: form.tasks(), notes: form.notes.trim().to_string() };
        let u = user.clone();
        let result = db(&state, move |conn, state| service::book(conn, &state.notifier, &u, &input, today_seoul())).await;
        match result {
            Ok(_) => {
                state.metrics.booking(Booking::Visit);
                return Ok(redirect("/my/visits", Some("visits.flash.requested")));
            }
            Err(AppError::Conflict(key)) => errors.push(("slot_id", key)),
            Err(AppError::NotFound) => errors.push(("slot_id", "visits.errors.choose_time")),
            Err(e) => return Err(e),
        }
    }
    let mut c = calendar_context(&state, &user, None, ctx.lang).await?;
    c.insert("errors", &field_errors(&state, ctx.lang, &errors));
    c.insert("notes", &form.notes);
    render_status(&state, &ctx, "visits/book.html", &mut c, StatusCode::CONFLICT)
}

async fn own_visit(state: &web::Data<AppState>, user_id: &str, visit_id: &str) -> Result<(models::Visit, rules::Settings), AppError> {
    let (uid, vid) = (user_id.to_string(), visit_id.to_string());
    db(state, move |conn, _| {
        let v = models::find_own(conn, &uid, &vid)?.ok_or(AppError::NotFound)?;
        Ok((v, models::settings(conn)?))
    })
    .await
}

async fn reschedule_page(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let user = resident(&ctx)?;
    let (visit, settings) = own_visit(&state, &user.id, &path).await?;
    let mut c = calendar_context(&state, &user, Some(visit.id.clone()), ctx.lang).await?;
    c.insert("visit", &views::visit_view(&visit, &settings, ctx.lang));
    render(&state, &ctx, "visits/book.html", c)
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
    let (visit, settings) = own_visit(&state, &user.id, &visit_id).await?;
    let mut c = calendar_context(&state, &user, Some(visit.id.clone()), ctx.lang).await?;
    c.insert("visit", &views::visit_view(&visit, &settings, ctx.lang));
    c.insert("errors", &field_errors(&state, ctx.lang, &[("slot_id", key)]));
    render_status(&state, &ctx, "visits/book.html", &mut c, StatusCode::CONFLICT)
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
