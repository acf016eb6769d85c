//! The resident's side of the Saturday clinic: her bookings (booking itself
//! is the step flow in `steps`), the waiting list and her children.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::models::{self, ClinicProgram, ClinicSlot};
use super::service;
use crate::accounts::domain::PersonName;
use crate::accounts::models::{Role, User};
use crate::accounts::routes::Empty;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::state::AppState;
use crate::time::{format_date, now_utc, today_seoul};
use crate::visits::rules::hhmm;
use crate::web::routes::Routes;
use crate::web::{db, field_errors, redirect, render, render_status, CsrfForm, Ctx};

pub fn configure(r: &mut Routes) {
    super::steps::configure(r);
    r.get("/my/clinic", my_bookings)
        .post("/my/clinic/{id}/cancel", cancel)
        .get("/my/clinic/{id}/calendar.ics", ics)
        .get("/my/children", children_page)
        .post("/my/children", add_child);
}

fn resident(ctx: &Ctx) -> Result<User, AppError> {
    ctx.require(&[Role::Resident]).cloned()
}

#[derive(Serialize)]
pub struct SlotView {
    pub id: String,
    pub time: String,
    pub left: i32,
    pub capacity: i32,
    pub booked: i32,
}

#[derive(Serialize)]
pub struct ProgramView {
    pub id: String,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub audience: String,
    pub partner_seat: bool,
    pub slots: Vec<SlotView>,
    pub left: i32,
}

pub fn program_views(programs: &[ClinicProgram], slots: &[ClinicSlot], lang: Lang) -> Vec<ProgramView> {
    programs
        .iter()
        .map(|p| {
            let slots: Vec<SlotView> = slots
                .iter()
                .filter(|s| s.program_id == p.id)
                .map(|s| SlotView {
                    id: s.id.clone(),
                    time: format!("{}–{}", hhmm(s.start_minute), hhmm(s.end_minute)),
                    left: (s.capacity - s.booked).max(0),
                    capacity: s.capacity,
                    booked: s.booked,
                })
                .collect();
            ProgramView {
                id: p.id.clone(),
                code: p.code.clone(),
                name: p.name(lang).to_string(),
                kind: p.kind.clone(),
                audience: p.audience.clone(),
                partner_seat: p.partner_seat,
                left: slots.iter().map(|s| s.left).sum(),
                slots,
            }
        })
        .collect()
}

#[derive(Serialize)]
struct ChildView {
    id: String,
    name: String,
    birth: String,
}

use diesel::prelude::*;

#[derive(Serialize)]
struct BookingView {
    id: String,
    program: String,
    date: String,
    time: String,
    status: String,
    seats: i32,
    child: String,
    can_cancel: bool,
    position: i64,
}

async fn my_bookings(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let user = resident(&ctx)?;
    let lang = ctx.lang;
    let rows = db(&state, move |conn, _| {
        let bookings = models::bookings_of_user(conn, &user.id)?;
        let kids = models::children_of(conn, &user.id)?;
        let today = today_seoul();
        let mut out = vec![];
        for b in bookings {
            let session = models::session(conn, &b.session_id)?.ok_or(AppError::NotFound)?;
            let slot = models::slot(conn, &b.slot_id)?.ok_or(AppError::NotFound)?;
            let program = models::program(conn, &b.program_id)?;
            let position = if b.status == "waitlisted" {
                use crate::db::schema::clinic_bookings as cb;
                cb::table
                    .filter(cb::slot_id.eq(&b.slot_id))
                    .filter(cb::status.eq("waitlisted"))
                    .filter(cb::created_at.le(b.created_at))
                    .count()
                    .get_result(conn)?
            } else {
                0
            };
            out.push(BookingView {
                id: b.id.clone(),
                program: program.name(lang).to_string(),
                date: format_date(session.day, lang),
                time: format!("{}–{}", hhmm(slot.start_minute), hhmm(slot.end_minute)),
                can_cancel: matches!(b.status.as_str(), "booked" | "waitlisted") && session.day >= today,
                status: b.status.clone(),
                seats: b.seats,
                child: b.child_id.as_ref().and_then(|c| kids.iter().find(|k| &k.id == c)).map(|k| k.name.clone()).unwrap_or_default(),
                position,
            });
        }
        Ok(out)
    })
    .await?;
    let mut c = tera::Context::new();
    c.insert("bookings", &rows);
    render(&state, &ctx, "clinic/my.html", c)
}

async fn cancel(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<Empty>) -> Result<HttpResponse, AppError> {
    form.verify(&ctx)?;
    let user = resident(&ctx)?;
    let id = path.into_inner();
    match db(&state, move |conn, state| service::cancel(conn, &state.notifier, &user.id, &id, now_utc())).await {
        Ok(()) => Ok(redirect("/my/clinic", Some("clinic.flash.cancelled"))),
        Err(AppError::Conflict(key)) => Ok(redirect("/my/clinic", Some(key))),
        Err(e) => Err(e),
    }
}

/// A booked seat as a calendar file (not while only on the waiting list).
async fn ics(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let user = resident(&ctx)?;
    let id = path.into_inner();
    let (booking, session, slot, program) = db(&state, move |conn, _| {
        let b = models::bookings_of_user(conn, &user.id)?.into_iter().find(|b| b.id == id && b.status == "booked").ok_or(AppError::NotFound)?;
        let session = models::session(conn, &b.session_id)?.ok_or(AppError::NotFound)?;
        let slot = models::slot(conn, &b.slot_id)?.ok_or(AppError::NotFound)?;
        let program = models::program(conn, &b.program_id)?;
        Ok((b, session, slot, program))
    })
    .await?;
    let summary = program.name(ctx.lang).to_string();
    let description = state.i18n.t(ctx.lang, "schedule.ics_clinic");
    let start = crate::visits::rules::start_utc(session.day, slot.start_minute);
    let body = crate::visits::rules::ics(&booking.id, start, slot.end_minute - slot.start_minute, &summary, &description, now_utc());
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((actix_web::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"clinic-{}.ics\"", session.day)))
        .body(body))
}

/// Where to go back to after adding a child: a booking step she came from.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Next {
    next: String,
}

fn booking_step(next: &str) -> Option<&str> {
    next.starts_with("/clinic/sessions/").then_some(next)
}

async fn children_page(ctx: Ctx, state: web::Data<AppState>, q: web::Query<Next>) -> Result<HttpResponse, AppError> {
    let user = resident(&ctx)?;
    let mut c = tera::Context::new();
    c.insert("next", booking_step(&q.next).unwrap_or_default());
    children_render(&state, &ctx, &user, c, StatusCode::OK).await
}

async fn children_render(state: &web::Data<AppState>, ctx: &Ctx, user: &User, mut c: tera::Context, status: StatusCode) -> Result<HttpResponse, AppError> {
    let (uid, lang) = (user.id.clone(), ctx.lang);
    let kids = db(state, move |conn, _| Ok(models::children_of(conn, &uid)?)).await?;
    c.insert("children", &kids.iter().map(|k| ChildView { id: k.id.clone(), name: k.name.clone(), birth: format_date(k.birth_date, lang) }).collect::<Vec<_>>());
    render_status(state, ctx, "clinic/children.html", &mut c, status)
}

#[derive(Deserialize, Serialize, Default)]
#[serde(default)]
pub struct ChildForm {
    name: String,
    birth_date: String,
    /// A booking step to go back to (see `Next`).
    next: String,
}

async fn add_child(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<ChildForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let user = resident(&ctx)?;
    let mut errors = vec![];
    let name = PersonName::parse(&form.name).map_err(|e| errors.push(("name", e))).ok();
    let birth = match NaiveDate::parse_from_str(form.birth_date.trim(), "%Y-%m-%d") {
        Ok(d) if d <= today_seoul() && d > today_seoul() - chrono::Duration::days(365 * 7) => Some(d),
        Ok(_) => {
            errors.push(("birth_date", "clinic.errors.child_birth"));
            None
        }
        Err(_) => {
            errors.push(("birth_date", "applications.errors.date_invalid"));
            None
        }
    };
    if let (Some(name), Some(birth)) = (name, birth) {
        let uid = user.id.clone();
        db(&state, move |conn, _| service::add_child(conn, &uid, name.as_str(), birth)).await?;
        return Ok(redirect(booking_step(&form.next).unwrap_or("/my/children"), Some("clinic.flash.child_added")));
    }
    let mut c = tera::Context::new();
    c.insert("next", booking_step(&form.next).unwrap_or_default());
    c.insert("form", &form);
    c.insert("errors", &field_errors(&state, ctx.lang, &errors));
    children_render(&state, &ctx, &user, c, StatusCode::UNPROCESSABLE_ENTITY).await
}
