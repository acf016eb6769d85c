//! The agency's side: requested visits to confirm (with a helper from its
//! roster) or decline, completion or no-show, the roster and each helper's
//! week, and the capacity: weekly start times, helpers per day and holidays.
//! A contractor account sees and acts only on its own agency's visits.

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
use crate::web::routes::Routes;
use crate::web::{db, redirect, redirect_error_keeping, render, render_status, CsrfForm, Ctx};

pub fn configure(r: &mut Routes) {
    r.get("/contractor/visits", list)
        .get("/contractor/visits/{id}", show)
        .post("/contractor/visits/{id}", act)
        .get("/contractor/capacity", capacity_page)
        .post("/contractor/capacity", save_capacity)
        .post("/contractor/holidays", add_holiday)
        .post("/contractor/holidays/{day}/delete", remove_holiday)
        .post("/contractor/slots/{id}", set_slot)
        .get("/contractor/helpers", helpers_page)
        .post("/contractor/helpers", add_helper)
        .get("/contractor/helpers/{id}", helper_week)
        .get("/contractor/statement", statement_page)
        .post("/contractor/helpers/{id}/active", set_helper_active);
}

/// The signed-in contractor and the agency she works for.
fn agency(ctx: &Ctx) -> Result<(User, String), AppError> {
    let user = ctx.require(&[Role::Contractor])?.clone();
    let agency_id = user.agency_id.clone().ok_or(AppError::Forbidden)?;
    Ok((user, agency_id))
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
    /// Staff only: one agency's visits (a contractor always sees her own).
    pub agency: String,
    pub status: String,
    pub from: String,
    pub to: String,
    /// One application's visits (the staff search links here).
    pub application: String,
}

impl ListQuery {
    pub fn filter(&self) -> VisitFilter {
        let date = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
        VisitFilter {
            agency_id: (!self.agency.is_empty()).then(|| self.agency.clone()),
            status: (!self.status.is_empty()).then(|| self.status.clone()),
            from: date(&self.from),
            to: date(&self.to),
            application_id: (!self.application.trim().is_empty()).then(|| self.application.trim().to_string()),
        }
    }
}

pub const STATUSES: [&str; 6] = ["requested", "confirmed", "completed", "no_show", "declined", "cancelled"];

async fn list(ctx: Ctx, state: web::Data<AppState>, q: web::Query<ListQuery>) -> Result<HttpResponse, AppError> {
    let (user, agency_id) = agency(&ctx)?;
    let query = q.into_inner();
    let mut filter = query.filter();
    filter.agency_id = Some(agency_id);
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

/// The visit page's context: the visit, where and whom, and (for a requested
/// visit) the roster with who is free at its time and each helper's week.
async fn show_context(ctx: &Ctx, state: &web::Data<AppState>, agency_id: String, id: String) -> Result<tera::Context, AppError> {
    let user = ctx.require(&[Role::Contractor])?.clone();
    let (lang, ip) = (ctx.lang, ctx.ip.clone());
    let (row, app, helpers) = db(state, move |conn, state| {
        let visit = models::find(conn, &id)?.filter(|v| v.agency_id.as_deref() == Some(agency_id.as_str())).ok_or(AppError::NotFound)?;
        let app = apps::find(conn, &visit.application_id)?.ok_or(AppError::NotFound)?;
        audit::record(conn, &state.config.secret_key, Access { actor: &user, ip: &ip, subject_user_id: Some(&visit.user_id), record_id: Some(&visit.id), action: "view", reason: "" })?;
        let settings = models::settings(conn)?;
        let row = rows(conn, std::slice::from_ref(&visit), &settings, lang)?.pop().ok_or(AppError::NotFound)?;
        let helpers = if visit.status == "requested" { helper_choices(conn, &agency_id, &visit)? } else { vec![] };
        Ok((row, app, helpers))
    })
    .await?;
    let mut c = tera::Context::new();
    c.insert("v", &row);
    c.insert("has_free", &helpers.iter().any(|h| !h.busy));
    c.insert("helpers", &helpers);
    c.insert("address", &app.street_address);
    c.insert("phone", &app.phone);
    Ok(c)
}

async fn show(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (_, agency_id) = agency(&ctx)?;
    let c = show_context(&ctx, &state, agency_id, path.into_inner()).await?;
    render(&state, &ctx, "visits/agency_show.html", c)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ActForm {
    action: String,
    helper_id: String,
    reason: String,
    actual_start: String,
    actual_end: String,
    tasks_done: String,
}

async fn act(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<ActForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let (_, agency_id) = agency(&ctx)?;
    let id = path.into_inner();
    let back = format!("/contractor/visits/{id}");
    let action = match form.action.as_str() {
        "confirm" if !form.helper_id.trim().is_empty() => AgencyAction::Confirm { helper_id: form.helper_id.trim().to_string() },
        "confirm" => return helper_error(&ctx, &state, agency_id, id, "visits.errors.helper_required").await,
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
    let (vid, aid) = (id.clone(), agency_id.clone());
    match db(&state, move |conn, state| service::agency_update(conn, &state.notifier, &aid, &vid, action)).await {
        Ok(()) => Ok(redirect(&back, Some(flash))),
        // The helper chosen is taken (or not on the roster): the page again,
        // with the roster as it is now and the error at the choice.
        Err(AppError::Conflict(key @ "visits.errors.helper_busy")) | Err(AppError::BadRequest(key @ "visits.errors.helper_required")) => {
            helper_error(&ctx, &state, agency_id, id, key).await
        }
        Err(AppError::Conflict(key)) | Err(AppError::BadRequest(key)) => Ok(redirect(&back, Some(key))),
        Err(e) => Err(e),
    }
}

async fn helper_error(ctx: &Ctx, state: &web::Data<AppState>, agency_id: String, id: String, key: &'static str) -> Result<HttpResponse, AppError> {
    let mut c = show_context(ctx, state, agency_id, id).await?;
    c.insert("errors", &crate::web::field_errors(state, ctx.lang, &[("helper_id", key)]));
    let status = if key == "visits.errors.helper_busy" { StatusCode::CONFLICT } else { StatusCode::UNPROCESSABLE_ENTITY };
    render_status(state, ctx, "visits/agency_show.html", &mut c, status)
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

async fn capacity_context(state: &web::Data<AppState>, agency_id: String, lang: crate::i18n::Lang) -> Result<tera::Context, AppError> {
    let today = today_seoul();
    db(state, move |conn, _| {
        let to = today + chrono::Duration::days(14);
        service::ensure_slots(conn, &agency_id, today, to)?;
        let templates = models::templates(conn, &agency_id)?;
        let holidays = models::holidays(conn, &agency_id, today)?;
        let slots = models::slots_between(conn, &agency_id, today, to)?;
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
    let (_, agency_id) = agency(&ctx)?;
    let c = capacity_context(&state, agency_id, ctx.lang).await?;
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
    let (_, agency_id) = agency(&ctx)?;
    let Some(entries) = parse_week(&form.week) else {
        let mut c = capacity_context(&state, agency_id, ctx.lang).await?;
        c.insert("template_text", &form.week);
        c.insert("errors", &crate::web::field_errors(&state, ctx.lang, &[("week", "visits.errors.week_format")]));
        return render_status(&state, &ctx, "visits/agency_capacity.html", &mut c, StatusCode::UNPROCESSABLE_ENTITY);
    };
    db(&state, move |conn, _| service::save_templates(conn, &agency_id, &entries, today_seoul())).await?;
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
    let (_, agency_id) = agency(&ctx)?;
    let Ok(day) = NaiveDate::parse_from_str(form.day.trim(), "%Y-%m-%d") else {
        let typed = [("day", form.day.as_str()), ("note", form.note.as_str())];
        return redirect_error_keeping(&ctx, &state, "/contractor/capacity", "day", "applications.errors.date_invalid", &typed).await;
    };
    let note: String = form.note.trim().chars().take(100).collect();
    db(&state, move |conn, _| service::add_holiday(conn, &agency_id, day, &note)).await?;
    Ok(redirect("/contractor/capacity", Some("visits.flash.holiday_added")))
}

async fn remove_holiday(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<Empty>) -> Result<HttpResponse, AppError> {
    form.verify(&ctx)?;
    let (_, agency_id) = agency(&ctx)?;
    let day = NaiveDate::parse_from_str(&path, "%Y-%m-%d").map_err(|_| AppError::NotFound)?;
    db(&state, move |conn, _| service::remove_holiday(conn, &agency_id, day)).await?;
    Ok(redirect("/contractor/capacity", Some("visits.flash.holiday_removed")))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SlotForm {
    capacity: String,
}

async fn set_slot(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<SlotForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let (_, agency_id) = agency(&ctx)?;
    let id = path.into_inner();
    let Ok(capacity) = form.capacity.trim().parse::<i32>() else {
        let field = format!("cap-{id}");
        return redirect_error_keeping(&ctx, &state, "/contractor/capacity", &field, "rules.errors.number_range", &[(field.as_str(), form.capacity.as_str())]).await;
    };
    db(&state, move |conn, _| service::set_day_capacity(conn, &agency_id, &id, capacity)).await?;
    Ok(redirect("/contractor/capacity", Some("visits.flash.capacity_saved")))
}

/// A roster entry offered when confirming a visit: free or busy at its time
/// (and with which visit), and her load in that visit's week (Monday to Sunday).
#[derive(Serialize)]
struct HelperChoice {
    id: String,
    name: String,
    busy: bool,
    /// The time of the visit she already has then, e.g. "09:00–13:00".
    busy_with: String,
    week_visits: usize,
    week_hours: i32,
}

fn helper_choices(conn: &mut crate::db::DbConn, agency_id: &str, visit: &models::Visit) -> Result<Vec<HelperChoice>, AppError> {
    use chrono::Datelike;
    let monday = visit.day - chrono::Duration::days(visit.day.weekday().num_days_from_monday() as i64);
    let mut out = vec![];
    for h in crate::agencies::helpers_of(conn, agency_id, true)? {
        let week: Vec<models::Visit> =
            models::helper_visits(conn, &h.id, monday, monday + chrono::Duration::days(6))?.into_iter().filter(|v| models::HELPER_BUSY.contains(&v.status.as_str())).collect();
        let clash = week.iter().find(|v| v.id != visit.id && v.day == visit.day && models::overlaps(visit.start_minute, visit.hours, v.start_minute, v.hours));
        out.push(HelperChoice {
            id: h.id,
            name: h.name,
            busy: clash.is_some(),
            busy_with: clash.map(|v| format!("{}–{}", rules::hhmm(v.start_minute), rules::hhmm(v.start_minute + v.hours * 60))).unwrap_or_default(),
            week_visits: week.len(),
            week_hours: week.iter().map(|v| v.hours).sum(),
        });
    }
    // Free helpers first, the least loaded first among them.
    out.sort_by_key(|h| (h.busy, h.week_hours));
    Ok(out)
}

async fn helpers_page(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let (_, agency_id) = agency(&ctx)?;
    let helpers = db(&state, move |conn, _| Ok(crate::agencies::helpers_of(conn, &agency_id, false)?)).await?;
    let mut c = tera::Context::new();
    c.insert("helpers", &helpers);
    render(&state, &ctx, "visits/agency_helpers.html", c)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct HelperForm {
    name: String,
    phone: String,
}

async fn add_helper(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<HelperForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let (_, agency_id) = agency(&ctx)?;
    let name = crate::accounts::domain::PersonName::parse(&form.name);
    let phone = crate::accounts::domain::Phone::parse(&form.phone);
    let (name, phone) = match (name, phone) {
        (Ok(n), Ok(p)) => (n, p),
        (name, phone) => {
            let errors: Vec<(&'static str, &'static str)> = [("name", name.err()), ("phone", phone.err())].into_iter().filter_map(|(f, e)| Some((f, e?))).collect();
            let helpers = db(&state, move |conn, _| Ok(crate::agencies::helpers_of(conn, &agency_id, false)?)).await?;
            let mut c = tera::Context::new();
            c.insert("helpers", &helpers);
            c.insert("form_name", &form.name);
            c.insert("form_phone", &form.phone);
            c.insert("errors", &crate::web::field_errors(&state, ctx.lang, &errors));
            return render_status(&state, &ctx, "visits/agency_helpers.html", &mut c, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    db(&state, move |conn, _| crate::agencies::add_helper(conn, &agency_id, name.as_str(), phone.as_str())).await?;
    Ok(redirect("/contractor/helpers", Some("visits.flash.helper_added")))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ActiveForm {
    active: String,
}

async fn set_helper_active(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<ActiveForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let (_, agency_id) = agency(&ctx)?;
    let id = path.into_inner();
    let active = form.active == "yes";
    db(&state, move |conn, _| crate::agencies::set_helper_active(conn, &agency_id, &id, active)).await?;
    Ok(redirect("/contractor/helpers", Some("visits.flash.helper_saved")))
}

/// The agency's monthly statement: its helpers' completed visits and subtotals.
async fn statement_page(ctx: Ctx, state: web::Data<AppState>, q: web::Query<super::statement::StatementQuery>) -> Result<HttpResponse, AppError> {
    let (user, agency_id) = agency(&ctx)?;
    super::statement::respond(&ctx, &state, user, agency_id, q.into_inner(), "/contractor/statement".into()).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WeekQuery {
    from: String,
}

/// One helper's week: her visits day by day.
async fn helper_week(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, q: web::Query<WeekQuery>) -> Result<HttpResponse, AppError> {
    use chrono::Datelike;
    let (_, agency_id) = agency(&ctx)?;
    let id = path.into_inner();
    let lang = ctx.lang;
    let start = NaiveDate::parse_from_str(q.from.trim(), "%Y-%m-%d").unwrap_or_else(|_| today_seoul());
    let monday = start - chrono::Duration::days(start.weekday().num_days_from_monday() as i64);
    let (helper, days) = db(&state, move |conn, _| {
        let helper = crate::agencies::helper(conn, &agency_id, &id)?.ok_or(AppError::NotFound)?;
        let settings = models::settings(conn)?;
        let visits = models::helper_visits(conn, &helper.id, monday, monday + chrono::Duration::days(6))?;
        let rows = rows(conn, &visits, &settings, lang)?;
        let days: Vec<(String, Vec<AgencyRow>)> = (0..7)
            .map(|i| {
                let day = monday + chrono::Duration::days(i);
                (format_date(day, lang), vec![])
            })
            .collect();
        let mut days = days;
        for (v, row) in visits.iter().zip(rows) {
            let i = (v.day - monday).num_days() as usize;
            if let Some(d) = days.get_mut(i) {
                d.1.push(row);
            }
        }
        Ok((helper, days))
    })
    .await?;
    let mut c = tera::Context::new();
    c.insert("helper", &helper);
    c.insert("days", &days);
    c.insert("prev", &(monday - chrono::Duration::days(7)).to_string());
    c.insert("next", &(monday + chrono::Duration::days(7)).to_string());
    render(&state, &ctx, "visits/agency_helper_week.html", c)
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
