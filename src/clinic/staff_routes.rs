//! Staff's side of the Saturday clinic: sessions (generate, cancel), the day
//! sheet with check-in and walk-ins, and the programs.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::models;
use super::routes::program_views;
use super::service::{self, ProgramUpdate};
use crate::accounts::models::{Role, User};
use crate::audit::{self, Access};
use crate::error::AppError;
use crate::state::AppState;
use crate::time::{format_date, today_seoul};
use crate::visits::rules::hhmm;
use crate::web::routes::Routes;
use crate::web::{db, redirect, redirect_error, redirect_error_keeping, render, CsrfForm, Ctx};

pub fn configure(r: &mut Routes) {
    r.get("/staff/clinic", sessions)
        .post("/staff/clinic/generate", generate)
        .get("/staff/clinic/sessions/{id}", day_sheet)
        .get("/staff/clinic/sessions/{id}/print", day_sheet_print)
        .post("/staff/clinic/sessions/{id}/cancel", cancel_session)
        .post("/staff/clinic/sessions/{id}/walkins", walkin)
        .post("/staff/clinic/bookings/{id}/checkin", checkin)
        .get("/staff/clinic/programs", programs)
        .post("/staff/clinic/programs/{id}", update_program);
}

fn staff(ctx: &Ctx) -> Result<User, AppError> {
    ctx.require(&[Role::Staff]).cloned()
}

#[derive(Serialize)]
struct SessionRow {
    id: String,
    date: String,
    status: String,
    reason: String,
    booked: i32,
    capacity: i32,
}

async fn sessions(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    staff(&ctx)?;
    let lang = ctx.lang;
    let (upcoming, past) = db(&state, move |conn, _| {
        let today = today_seoul();
        let row = |conn: &mut crate::db::DbConn, s: models::ClinicSession| -> Result<SessionRow, AppError> {
            let slots = models::slots_of(conn, &s.id)?;
            Ok(SessionRow {
                id: s.id,
                date: format_date(s.day, lang),
                status: s.status,
                reason: s.cancel_reason.unwrap_or_default(),
                booked: slots.iter().map(|x| x.booked).sum(),
                capacity: slots.iter().map(|x| x.capacity).sum(),
            })
        };
        let mut upcoming = vec![];
        for s in models::sessions_from(conn, today, 12)? {
            upcoming.push(row(conn, s)?);
        }
        let mut past = vec![];
        for s in models::sessions_before(conn, today, 6)? {
            past.push(row(conn, s)?);
        }
        Ok((upcoming, past))
    })
    .await?;
    let mut c = tera::Context::new();
    c.insert("upcoming", &upcoming);
    c.insert("past", &past);
    render(&state, &ctx, "clinic/staff_sessions.html", c)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct GenerateForm {
    months: String,
}

async fn generate(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<GenerateForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    staff(&ctx)?;
    let months = form.months.trim().parse::<u32>().unwrap_or(3).clamp(1, 24);
    db(&state, move |conn, _| service::generate_sessions(conn, today_seoul(), months)).await?;
    Ok(redirect("/staff/clinic", Some("clinic.flash.generated")))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReasonForm {
    reason: String,
}

async fn cancel_session(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<ReasonForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    staff(&ctx)?;
    let id = path.into_inner();
    let reason = form.reason.trim().chars().take(300).collect::<String>();
    if reason.is_empty() {
        return Ok(redirect_error(&format!("/staff/clinic/sessions/{id}"), "reason", "clinic.errors.reason_required"));
    }
    let sid = id.clone();
    db(&state, move |conn, state| service::cancel_session(conn, &state.notifier, &sid, &reason)).await?;
    Ok(redirect(&format!("/staff/clinic/sessions/{id}"), Some("clinic.flash.session_cancelled")))
}

#[derive(Serialize)]
struct RosterRow {
    booking_id: String,
    time: String,
    name: String,
    phone: String,
    child: String,
    seats: i32,
    /// Booked with her partner (a second seat).
    partner: bool,
    status: String,
}

#[derive(Serialize)]
struct ProgramSheet {
    id: String,
    name: String,
    rows: Vec<RosterRow>,
    walkins: i32,
    attended: i32,
    /// Whether the program's bookings name a child, and whether a partner may come.
    with_child: bool,
    partner_seat: bool,
}

type DayData = (models::ClinicSession, Vec<ProgramSheet>, Vec<super::routes::ProgramView>);

/// A session's roster per program (bookings not cancelled, in time order), its
/// walk-ins and programs; the view is written to the access log with `reason`.
fn load_day(conn: &mut crate::db::DbConn, state: &AppState, user: &User, ip: &str, id: &str, lang: crate::i18n::Lang, reason: &str) -> Result<DayData, AppError> {
    let session = models::session(conn, id)?.ok_or(AppError::NotFound)?;
    audit::record(conn, &state.config.secret_key, Access { actor: user, ip, subject_user_id: None, record_id: Some(&session.id), action: "view", reason })?;
    let programs = models::programs(conn, false)?;
    let slots = models::slots_of(conn, &session.id)?;
    let bookings = models::bookings_of_session(conn, &session.id)?;
    let walkins = service::walkins(conn, &session.id)?;
    let user_ids: Vec<&str> = bookings.iter().map(|b| b.user_id.as_str()).collect();
    let people = crate::accounts::models::names_and_phones(conn, &user_ids)?;
    let kids: HashMap<String, String> = {
        use crate::db::schema::children;
        children::table.filter(children::user_id.eq_any(&user_ids)).select((children::id, children::name)).load(conn)?.into_iter().collect()
    };
    let mut sheets = vec![];
    for p in programs.iter().filter(|p| slots.iter().any(|s| s.program_id == p.id)) {
        let mut rows: Vec<RosterRow> = bookings
            .iter()
            .filter(|b| b.program_id == p.id && b.status != "cancelled")
            .filter_map(|b| {
                let slot = slots.iter().find(|s| s.id == b.slot_id)?;
                let (name, phone) = people.get(&b.user_id).cloned().unwrap_or_default();
                Some(RosterRow {
                    booking_id: b.id.clone(),
                    time: format!("{}–{}", hhmm(slot.start_minute), hhmm(slot.end_minute)),
                    name,
                    phone,
                    child: b.child_id.as_ref().and_then(|c| kids.get(c)).cloned().unwrap_or_default(),
                    seats: b.seats,
                    partner: p.partner_seat && b.seats > 1,
                    status: b.status.clone(),
                })
            })
            .collect();
        rows.sort_by(|a, b| a.time.cmp(&b.time));
        let walkin_people: i32 = walkins.iter().filter(|(pid, _, _)| *pid == p.id).map(|(_, n, _)| *n).sum();
        let attended: i32 = rows.iter().filter(|r| r.status == "attended").map(|r| r.seats).sum();
        let with_child = p.infant_max_months > 0 || rows.iter().any(|r| !r.child.is_empty());
        sheets.push(ProgramSheet { id: p.id.clone(), name: p.name(lang).to_string(), rows, walkins: walkin_people, attended, with_child, partner_seat: p.partner_seat });
    }
    Ok((session, sheets, program_views(&programs, &slots, lang)))
}

fn day_context(session: &models::ClinicSession, sheets: &[ProgramSheet], lang: crate::i18n::Lang) -> tera::Context {
    let mut c = tera::Context::new();
    c.insert("session_id", &session.id);
    c.insert("date", &format_date(session.day, lang));
    c.insert("status", &session.status);
    c.insert("reason", session.cancel_reason.as_deref().unwrap_or_default());
    c.insert("sheets", sheets);
    c
}

async fn day_sheet(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let user = staff(&ctx)?;
    let id = path.into_inner();
    let (lang, ip) = (ctx.lang, ctx.ip.clone());
    let (session, sheets, programs) = db(&state, move |conn, state| load_day(conn, state, &user, &ip, &id, lang, "clinic day sheet")).await?;
    let mut c = day_context(&session, &sheets, lang);
    c.insert("programs", &programs);
    render(&state, &ctx, "clinic/staff_day.html", c)
}

/// The day sheet to print: one table per program with an empty check-in box
/// per person, a page per program; logged like the sheet itself.
async fn day_sheet_print(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let user = staff(&ctx)?;
    let id = path.into_inner();
    let (lang, ip) = (ctx.lang, ctx.ip.clone());
    let (session, sheets, _) = db(&state, move |conn, state| load_day(conn, state, &user, &ip, &id, lang, "clinic day sheet print")).await?;
    let mut c = day_context(&session, &sheets, lang);
    c.insert("printed_at", &crate::time::format_datetime(crate::time::now_utc(), lang));
    render(&state, &ctx, "clinic/staff_day_print.html", c)
}

use diesel::prelude::*;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CheckinForm {
    attended: String,
    session_id: String,
}

async fn checkin(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<CheckinForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    staff(&ctx)?;
    let id = path.into_inner();
    let attended = form.attended == "yes";
    db(&state, move |conn, _| service::mark(conn, &id, attended)).await?;
    Ok(redirect(&format!("/staff/clinic/sessions/{}", form.session_id), Some("clinic.flash.checked_in")))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WalkinForm {
    program_id: String,
    people: String,
    note: String,
}

async fn walkin(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<WalkinForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let user = staff(&ctx)?;
    let session_id = path.into_inner();
    let back = format!("/staff/clinic/sessions/{session_id}");
    let people = form.people.trim().parse::<i32>().ok().filter(|n| (1..=500).contains(n));
    let Some(people) = people.filter(|_| !form.program_id.is_empty()) else {
        let typed = [("people", form.people.as_str()), ("note", form.note.as_str())];
        return redirect_error_keeping(&ctx, &state, &back, "people", "clinic.errors.people", &typed).await;
    };
    let note: String = form.note.trim().chars().take(200).collect();
    db(&state, move |conn, _| {
        models::program(conn, &form.program_id).optional()?.ok_or(AppError::NotFound)?;
        service::add_walkin(conn, &session_id, &form.program_id, people, &note, &user.id)
    })
    .await?;
    Ok(redirect(&back, Some("clinic.flash.walkin")))
}

#[derive(Serialize)]
struct ProgramRow {
    id: String,
    name: String,
    kind: String,
    audience: String,
    capacity: i32,
    slot_minutes: i32,
    window: String,
    booking_opens_days: i32,
    cancel_cutoff_hours: i32,
    active: bool,
}

async fn programs(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    staff(&ctx)?;
    let lang = ctx.lang;
    let rows = db(&state, move |conn, _| {
        Ok(models::programs(conn, false)?
            .into_iter()
            .map(|p| ProgramRow {
                name: p.name(lang).to_string(),
                window: format!("{}–{}", hhmm(p.start_minute), hhmm(p.end_minute)),
                id: p.id,
                kind: p.kind,
                audience: p.audience,
                capacity: p.capacity,
                slot_minutes: p.slot_minutes,
                booking_opens_days: p.booking_opens_days,
                cancel_cutoff_hours: p.cancel_cutoff_hours,
                active: p.active,
            })
            .collect::<Vec<_>>())
    })
    .await?;
    let mut c = tera::Context::new();
    c.insert("programs", &rows);
    render(&state, &ctx, "clinic/staff_programs.html", c)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ProgramForm {
    capacity: String,
    booking_opens_days: String,
    cancel_cutoff_hours: String,
    active: String,
}

async fn update_program(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<ProgramForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    staff(&ctx)?;
    let id = path.into_inner();
    let parse = |s: &str, max: i32| s.trim().parse::<i32>().ok().filter(|n| (0..=max).contains(n));
    let (capacity, opens, cutoff) = (parse(&form.capacity, 1000), parse(&form.booking_opens_days, 365), parse(&form.cancel_cutoff_hours, 240));
    let (Some(capacity), Some(opens), Some(cutoff)) = (capacity, opens, cutoff) else {
        // The first wrong field of this program's form (ids FIELD-PROGRAM on the page).
        let field = [("capacity", capacity), ("booking_opens_days", opens), ("cancel_cutoff_hours", cutoff)].into_iter().find(|(_, v)| v.is_none()).map_or("capacity", |(f, _)| f);
        return Ok(redirect_error("/staff/clinic/programs", &format!("{field}-{id}"), "rules.errors.number_range"));
    };
    let update = ProgramUpdate { capacity, booking_opens_days: opens, cancel_cutoff_hours: cutoff, active: form.active == "yes" };
    db(&state, move |conn, _| service::update_program(conn, &id, &update, today_seoul())).await?;
    Ok(redirect("/staff/clinic/programs", Some("clinic.flash.program_saved")))
}
