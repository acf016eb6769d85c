//! The agency's side: requested visits to confirm (with a helper) or decline,
//! completion or no-show, and the capacity: weekly start times, helpers per
//! day and holidays.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::models::{self, VisitFilter};
use super::service::{self, AgencyAction};
use super::{rules, views};
use crate::accounts::models::{Role, User};
use crate::accounts::routes::Empty;
use crate::applications::models as apps;
use crate::applications::rules as app_rules;
use crate::audit::{self, Access};
use crate::error::AppError;
use crate::state::AppState;
use crate::time::{format_date, today_seoul};
use crate::web::{db, redirect, render, render_status, CsrfForm, Ctx};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/contractor/visits", web::get().to(list))
        .route("/contractor/visits/{id}", web::get().to(show))
        .route("/contractor/visits/{id}", web::post().to(act))
        .route("/contractor/capacity", web::get().to(capacity_page))
        .route("/contractor/capacity", web::post().to(save_capacity))
        .route("/contractor/holidays", web::post().to(add_holiday))
        .route("/contractor/holidays/{day}/delete", web::post().to(remove_holiday))
        .route("/contractor/slots/{id}", web::post().to(set_slot));
}

fn agency(ctx: &Ctx) -> Result<User, AppError> {
    ctx.require(&[Role::Contractor, Role::Staff]).cloned()
}

#[derive(Serialize)]
pub struct AgencyRow {
    #[serde(flatten)]
    visit: views::VisitView,
    resident: String,
    district: String,
}

fn rows(conn: &mut crate::db::DbConn, visits: &[models::Visit], settings: &rules::Settings, lang: crate::i18n::Lang) -> Result<Vec<AgencyRow>, AppError> {
    let mut out = Vec::with_capacity(visits.len());
    for v in visits {
        let app = apps::find(conn, &v.application_id)?.ok_or(AppError::NotFound)?;
        let rules = app_rules::find(conn, &app.rule_set_id)?;
        out.push(AgencyRow {
            visit: views::visit_view(v, settings, lang),
            resident: app.applicant_name.clone(),
            district: rules.district_name(&app.district_code).unwrap_or_default().to_string(),
        });
    }
    Ok(out)
}

#[derive(Deserialize, Serialize, Default, Clone)]
#[serde(default)]
pub struct ListQuery {
    pub status: String,
    pub from: String,
    pub to: String,
}

impl ListQuery {
    pub fn filter(&self) -> VisitFilter {
        let date = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
        VisitFilter {
            status: (!self.status.is_empty()).then(|| self.status.clone()),
            from: date(&self.from),
            to: date(&self.to),
        }
    }
}

pub const STATUSES: [&str; 6] = ["requested", "confirmed", "completed", "no_show", "declined", "cancelled"];

async fn list(ctx: Ctx, state: web::Data<AppState>, q: web::Query<ListQuery>) -> Result<HttpResponse, AppError> {
    let user = agency(&ctx)?;
    let query = q.into_inner();
    let filter = query.filter();
    let (lang, ip) = (ctx.lang, ctx.ip.clone());
    let rows = db(&state, move |conn, state| {
        let settings = models::settings(conn)?;
        let visits = models::list(conn, &filter, 500)?;
        audit::record(conn, &state.config.secret_key, Access { actor: &user, ip: &ip, subject_user_id: None, record_id: None, action: "list", reason: "visits" })?;
        rows(conn, &visits, &settings, lang)
    })
    .await?;
    let mut c = tera::Context::new();
    c.insert("visits", &rows);
    c.insert("q", &query);
    c.insert("statuses", &STATUSES);
    render(&state, &ctx, "visits/agency_list.html", c)
}

async fn show(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let user = agency(&ctx)?;
    let id = path.into_inner();
    let (lang, ip) = (ctx.lang, ctx.ip.clone());
    let (row, app) = db(&state, move |conn, state| {
        let visit = models::find(conn, &id)?.ok_or(AppError::NotFound)?;
        let app = apps::find(conn, &visit.application_id)?.ok_or(AppError::NotFound)?;
        audit::record(conn, &state.config.secret_key, Access { actor: &user, ip: &ip, subject_user_id: Some(&visit.user_id), record_id: Some(&visit.id), action: "view", reason: "" })?;
        let settings = models::settings(conn)?;
        let row = rows(conn, std::slice::from_ref(&visit), &settings, lang)?.pop().ok_or(AppError::NotFound)?;
        Ok((row, app))
    })
    .await?;
    let mut c = tera::Context::new();
    c.insert("v", &row);
    c.insert("address", &app.street_address);
    c.insert("phone", &app.phone);
    render(&state, &ctx, "visits/agency_show.html", c)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ActForm {
    action: String,
    helper_name: String,
    reason: String,
    actual_start: String,
    actual_end: String,
    tasks_done: String,
}

async fn act(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<ActForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    agency(&ctx)?;
    let id = path.into_inner();
    let back = format!("/contractor/visits/{id}");
    let action = match form.action.as_str() {
        "confirm" if !form.helper_name.trim().is_empty() => AgencyAction::Confirm { helper_name: form.helper_name.trim().chars().take(50).collect() },
        "confirm" => return Ok(redirect(&back, Some("visits.errors.helper_required"))),
        "decline" if !form.reason.trim().is_empty() => AgencyAction::Decline { reason: form.reason.trim().chars().take(500).collect() },
        "decline" => return Ok(redirect(&back, Some("visits.errors.reason_required"))),
        "complete" => match (rules::parse_hhmm(&form.actual_start), rules::parse_hhmm(&form.actual_end)) {
            (Some(s), Some(e)) if e > s => AgencyAction::Complete { actual_start: s, actual_end: e, tasks_done: form.tasks_done.trim().chars().take(500).collect() },
            _ => return Ok(redirect(&back, Some("visits.errors.times"))),
        },
        "no_show" => AgencyAction::NoShow,
        _ => return Err(AppError::BadRequest("errors.bad_form")),
    };
    let flash = match &action {
        AgencyAction::Confirm { .. } => "visits.flash.confirmed",
        AgencyAction::Decline { .. } => "visits.flash.declined",
        AgencyAction::Complete { .. } => "visits.flash.completed",
        AgencyAction::NoShow => "visits.flash.no_show",
    };
    let vid = id.clone();
    match db(&state, move |conn, state| service::agency_update(conn, &state.notifier, &vid, action)).await {
        Ok(()) => Ok(redirect(&back, Some(flash))),
        Err(AppError::Conflict(key)) | Err(AppError::BadRequest(key)) => Ok(redirect(&back, Some(key))),
        Err(e) => Err(e),
    }
}

#[derive(Serialize)]
struct TemplateRow {
    weekday: i32,
    time: String,
    helpers: i32,
}

#[derive(Serialize)]
struct SlotRow {
    id: String,
    date: String,
    time: String,
    capacity: i32,
    booked: i32,
}

async fn capacity_context(state: &web::Data<AppState>, lang: crate::i18n::Lang) -> Result<tera::Context, AppError> {
    let today = today_seoul();
    db(state, move |conn, _| {
        let to = today + chrono::Duration::days(14);
        service::ensure_slots(conn, today, to)?;
        let templates = models::templates(conn)?;
        let holidays = models::holidays(conn, today)?;
        let slots = models::slots_between(conn, today, to)?;
        let mut c = tera::Context::new();
        c.insert(
            "templates",
            &templates.iter().map(|t| TemplateRow { weekday: t.weekday, time: rules::hhmm(t.start_minute), helpers: t.helpers }).collect::<Vec<_>>(),
        );
        c.insert("template_text", &templates.iter().map(|t| format!("{} {} {}", t.weekday + 1, rules::hhmm(t.start_minute), t.helpers)).collect::<Vec<_>>().join("\n"));
        c.insert("holidays", &holidays.iter().map(|(d, n)| (d.to_string(), format_date(*d, lang), n.clone())).collect::<Vec<_>>());
        c.insert(
            "slots",
            &slots
                .iter()
                .map(|s| SlotRow { id: s.id.clone(), date: format_date(s.day, lang), time: rules::hhmm(s.start_minute), capacity: s.capacity, booked: s.booked })
                .collect::<Vec<_>>(),
        );
        Ok(c)
    })
    .await
}

async fn capacity_page(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    agency(&ctx)?;
    let c = capacity_context(&state, ctx.lang).await?;
    render(&state, &ctx, "visits/agency_capacity.html", c)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CapacityForm {
    week: String,
}

/// "1 09:00 3" a line: weekday (1 = Monday … 7 = Sunday), start time, helpers.
pub fn parse_week(text: &str) -> Option<Vec<(i32, i32, i32)>> {
    let mut out: Vec<(i32, i32, i32)> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [day, time, helpers] = parts.as_slice() else { return None };
        let day: i32 = day.parse().ok().filter(|d| (1..=7).contains(d))?;
        let minute = rules::parse_hhmm(time)?;
        let helpers: i32 = helpers.parse().ok().filter(|h| (0..=1000).contains(h))?;
        if out.iter().any(|(d, m, _)| *d == day - 1 && *m == minute) {
            return None;
        }
        out.push((day - 1, minute, helpers));
    }
    Some(out)
}

async fn save_capacity(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<CapacityForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    agency(&ctx)?;
    let Some(entries) = parse_week(&form.week) else {
        let mut c = capacity_context(&state, ctx.lang).await?;
        c.insert("template_text", &form.week);
        c.insert("errors", &crate::web::field_errors(&state, ctx.lang, &[("week", "visits.errors.week_format")]));
        return render_status(&state, &ctx, "visits/agency_capacity.html", &mut c, StatusCode::UNPROCESSABLE_ENTITY);
    };
    db(&state, move |conn, _| service::save_templates(conn, &entries, today_seoul())).await?;
    Ok(redirect("/contractor/capacity", Some("visits.flash.capacity_saved")))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct HolidayForm {
    day: String,
    note: String,
}

async fn add_holiday(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<HolidayForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    agency(&ctx)?;
    let Ok(day) = NaiveDate::parse_from_str(form.day.trim(), "%Y-%m-%d") else {
        return Ok(redirect("/contractor/capacity", Some("applications.errors.date_invalid")));
    };
    let note: String = form.note.trim().chars().take(100).collect();
    db(&state, move |conn, _| service::add_holiday(conn, day, &note)).await?;
    Ok(redirect("/contractor/capacity", Some("visits.flash.holiday_added")))
}

async fn remove_holiday(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<Empty>) -> Result<HttpResponse, AppError> {
    form.verify(&ctx)?;
    agency(&ctx)?;
    let day = NaiveDate::parse_from_str(&path, "%Y-%m-%d").map_err(|_| AppError::NotFound)?;
    db(&state, move |conn, _| service::remove_holiday(conn, day)).await?;
    Ok(redirect("/contractor/capacity", Some("visits.flash.holiday_removed")))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SlotForm {
    capacity: String,
}

async fn set_slot(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<SlotForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    agency(&ctx)?;
    let Ok(capacity) = form.capacity.trim().parse::<i32>() else {
        return Ok(redirect("/contractor/capacity", Some("rules.errors.number_range")));
    };
    let id = path.into_inner();
    db(&state, move |conn, _| service::set_day_capacity(conn, &id, capacity)).await?;
    Ok(redirect("/contractor/capacity", Some("visits.flash.capacity_saved")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_week_is_one_start_time_a_line() {
        assert_eq!(super::parse_week("1 09:00 3\n5 13:00 2\n"), Some(vec![(0, 540, 3), (4, 780, 2)]));
        assert_eq!(super::parse_week(""), Some(vec![]));
        assert_eq!(super::parse_week("8 09:00 3"), None);
        assert_eq!(super::parse_week("1 9 3"), None);
        assert_eq!(super::parse_week("1 09:00 3\n1 09:00 4"), None);
    }
}
