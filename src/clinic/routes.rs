//! The resident's side of the Saturday clinic: sessions, booking, waiting
//! list, her bookings and her children.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::models::{self, ClinicProgram, ClinicSlot};
use super::service::{self, BookOutcome, BookingInput};
use crate::accounts::domain::PersonName;
use crate::accounts::models::{Role, User};
use crate::accounts::routes::Empty;
use crate::error::AppError;
use crate::monitoring::Booking;
use crate::i18n::Lang;
use crate::state::AppState;
use crate::time::{format_date, now_utc, today_seoul};
use crate::visits::rules::hhmm;
use crate::web::routes::Routes;
use crate::web::{db, field_errors, redirect, render, render_status, CsrfForm, Ctx, Page};

pub fn configure(r: &mut Routes) {
    r.get("/clinic", sessions)
        .get("/clinic/sessions/{id}", session)
        .post("/clinic/bookings", book)
        .get("/my/clinic", my_bookings)
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
struct SessionRow {
    id: String,
    date: String,
    status: String,
    reason: String,
    programs: Vec<ProgramView>,
}

async fn sessions(page: Page, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let (ctx, rows) = page.db(&state, move |conn, _, visit| {
        let lang = visit.lang;
        let programs = models::programs(conn, true)?;
        let open = crate::programs::open_name(conn, crate::programs::SATURDAY_CLINIC, lang)?;
        if open.is_none() || programs.is_empty() {
            return Ok(None);
        }
        Ok(Some(service::upcoming(conn, today_seoul(), 8)?
            .into_iter()
            .map(|(s, slots)| SessionRow {
                id: s.id.clone(),
                date: format_date(s.day, lang),
                status: s.status.clone(),
                reason: s.cancel_reason.clone().unwrap_or_default(),
                programs: program_views(&programs, &slots, lang),
            })
            .collect::<Vec<_>>()))
    })
    .await?;
    let Some(rows) = rows else {
        return crate::web::pages::not_open(&state, &ctx, None);
    };
    let mut c = tera::Context::new();
    c.insert("sessions", &rows);
    render(&state, &ctx, "clinic/sessions.html", c)
}

#[derive(Serialize)]
struct ChildView {
    id: String,
    name: String,
    birth: String,
}

async fn session_page(state: &web::Data<AppState>, ctx: &Ctx, id: String, errors: Option<(&'static str, &'static str)>, status: StatusCode) -> Result<HttpResponse, AppError> {
    let lang = ctx.lang;
    let user_id = ctx.user.as_ref().map(|u| u.id.clone());
    let (session, programs, children, due) = db(state, move |conn, _| {
        let session = models::session(conn, &id)?.ok_or(AppError::NotFound)?;
        let programs = models::programs(conn, true)?;
        let slots = models::slots_of(conn, &session.id)?;
        let (children, due) = match &user_id {
            Some(uid) => {
                let kids = models::children_of(conn, uid)?;
                let due: Option<NaiveDate> = {
                    use crate::db::schema::applications;
                    applications::table
                        .filter(applications::user_id.eq(uid))
                        .filter(applications::due_date.is_not_null())
                        .order(applications::created_at.desc())
                        .select(applications::due_date)
                        .first::<Option<NaiveDate>>(conn)
                        .optional()?
                        .flatten()
                };
                (kids, due)
            }
            None => (vec![], None),
        };
        Ok((session, program_views(&programs, &slots, lang), children, due))
    })
    .await?;
    let mut c = tera::Context::new();
    c.insert("session_id", &session.id);
    c.insert("date", &format_date(session.day, lang));
    c.insert("status", &session.status);
    c.insert("reason", &session.cancel_reason.unwrap_or_default());
    c.insert("programs", &programs);
    c.insert("children", &children.iter().map(|k| ChildView { id: k.id.clone(), name: k.name.clone(), birth: format_date(k.birth_date, lang) }).collect::<Vec<_>>());
    c.insert("due_date", &due.map(|d| d.to_string()).unwrap_or_default());
    if let Some((field, key)) = errors {
        c.insert("errors", &field_errors(state, lang, &[(field, key)]));
        c.insert("offer_waitlist", &(key == "clinic.errors.full"));
    }
    render_status(state, ctx, "clinic/session.html", &mut c, status)
}

use diesel::prelude::*;

async fn session(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    session_page(&state, &ctx, path.into_inner(), None, StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BookForm {
    session_id: String,
    slot_id: String,
    child_id: String,
    due_date: String,
    with_partner: String,
    join_waitlist: String,
}

async fn book(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<BookForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let user = resident(&ctx)?;
    if form.slot_id.is_empty() {
        return session_page(&state, &ctx, form.session_id.clone(), Some(("slot_id", "clinic.errors.choose_slot")), StatusCode::UNPROCESSABLE_ENTITY).await;
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
        Err(AppError::Conflict(key)) => session_page(&state, &ctx, form.session_id.clone(), Some(("slot_id", key)), StatusCode::CONFLICT).await,
        Err(e) => Err(e),
    }
}

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

async fn children_page(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let user = resident(&ctx)?;
    children_render(&state, &ctx, &user, tera::Context::new(), StatusCode::OK).await
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
        return Ok(redirect("/my/children", Some("clinic.flash.child_added")));
    }
    let mut c = tera::Context::new();
    c.insert("form", &form);
    c.insert("errors", &field_errors(&state, ctx.lang, &errors));
    children_render(&state, &ctx, &user, c, StatusCode::UNPROCESSABLE_ENTITY).await
}
