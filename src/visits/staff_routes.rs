//! Staff: all visits, each resident's usage against her quota, the agency's
//! monthly settlement and the booking settings; recording a birth.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::agency_routes::{ListQuery, STATUSES};
use super::resident_routes::{parse_birth, BirthForm};
use super::rules::Settings;
use super::{models, service};
use crate::accounts::models::{Role, User};
use crate::audit::{self, Access};
use crate::db::schema::{applications, visit_quotas};
use crate::error::AppError;
use crate::state::AppState;
use crate::time::today_seoul;
use crate::web::routes::Routes;
use crate::web::{db, field_errors, redirect, redirect_error_keeping, render, render_status, CsrfForm, Ctx};

pub fn configure(r: &mut Routes) {
    r.get("/staff/visits", list)
        .get("/staff/visits/usage", usage)
        .get("/staff/visits/settlement", settlement)
        .get("/staff/visits/settlement/{id}", agency_statement)
        .get("/staff/visits/settings", settings_page)
        .post("/staff/visits/settings", save_settings)
        .post("/staff/applications/{id}/birth", record_birth);
}

fn staff(ctx: &Ctx) -> Result<User, AppError> {
    ctx.require(&[Role::Staff]).cloned()
}

async fn list(ctx: Ctx, state: web::Data<AppState>, q: web::Query<ListQuery>) -> Result<HttpResponse, AppError> {
    let user = staff(&ctx)?;
    let query = q.into_inner();
    let filter = query.filter();
    let (lang, ip) = (ctx.lang, ctx.ip.clone());
    let (rows, agencies, of_application) = db(&state, move |conn, state| {
        let settings = models::settings(conn)?;
        let visits = models::list(conn, &filter, 1000)?;
        let agencies = crate::agencies::list(conn)?;
        // One application's visits are a view of her record, logged as such.
        let of_application = match &filter.application_id {
            Some(id) => Some(crate::applications::models::find(conn, id)?.ok_or(AppError::NotFound)?),
            None => None,
        };
        let access = match &of_application {
            Some(app) => Access { actor: &user, ip: &ip, subject_user_id: Some(&app.user_id), record_id: Some(&app.id), action: "view", reason: "visits" },
            None => Access { actor: &user, ip: &ip, subject_user_id: None, record_id: None, action: "list", reason: "visits" },
        };
        audit::record(conn, &state.config.secret_key, access)?;
        let of_application = of_application.map(|a| (a.reference, a.applicant_name));
        let name = |id: &Option<String>| agencies.iter().find(|a| Some(&a.id) == id.as_ref()).map(|a| a.name.clone()).unwrap_or_default();
        let rows = visits.iter().map(|v| (super::views::visit_view(v, &settings, lang), name(&v.agency_id))).collect::<Vec<_>>();
        Ok((rows, agencies, of_application))
    })
    .await?;
    let mut c = tera::Context::new();
    c.insert("of_application", &of_application);
    c.insert("visits", &rows);
    c.insert("agencies", &agencies);
    c.insert("q", &query);
    c.insert("statuses", &STATUSES);
    render(&state, &ctx, "visits/staff_list.html", c)
}

#[derive(Serialize)]
struct UsageRow {
    application_id: String,
    reference: String,
    name: String,
    quota: i32,
    used: i32,
    left: i32,
}

async fn usage(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let user = staff(&ctx)?;
    let ip = ctx.ip.clone();
    let rows = db(&state, move |conn, state| {
        audit::record(conn, &state.config.secret_key, Access { actor: &user, ip: &ip, subject_user_id: None, record_id: None, action: "list", reason: "visit usage" })?;
        let rows: Vec<(String, String, String, i32, i32)> = visit_quotas::table
            .inner_join(applications::table)
            .order(applications::reference.asc())
            .select((applications::id, applications::reference, applications::applicant_name, visit_quotas::quota, visit_quotas::used))
            .load(conn)?;
        Ok(rows
            .into_iter()
            .map(|(application_id, reference, name, quota, used)| UsageRow { application_id, reference, name, quota, used, left: quota - used })
            .collect::<Vec<_>>())
    })
    .await?;
    let mut c = tera::Context::new();
    c.insert("rows", &rows);
    render(&state, &ctx, "visits/staff_usage.html", c)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MonthQuery {
    month: String,
}

/// The first day of the month "2026-11" (this month when missing or wrong).
pub(crate) fn month_start(raw: &str) -> NaiveDate {
    NaiveDate::parse_from_str(&format!("{}-01", raw.trim()), "%Y-%m-%d").unwrap_or_else(|_| {
        let t = today_seoul();
        NaiveDate::from_ymd_opt(t.year(), t.month(), 1).unwrap_or(t)
    })
}

pub(crate) fn next_month(d: NaiveDate) -> NaiveDate {
    d.checked_add_months(chrono::Months::new(1)).unwrap_or(d)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SettlementQuery {
    month: String,
    format: String,
}

/// The month's settlement per agency (visit-hours × the agency's unit price,
/// co-pays collected, the city's share), as a page or an XLSX file.
async fn settlement(ctx: Ctx, state: web::Data<AppState>, q: web::Query<SettlementQuery>) -> Result<HttpResponse, AppError> {
    let user = staff(&ctx)?;
    let start = month_start(&q.month);
    let xlsx = q.format == "xlsx";
    let ip = ctx.ip.clone();
    let rows = db(&state, move |conn, state| {
        if xlsx {
            let what = format!("settlement {}", start.format("%Y-%m"));
            audit::record(conn, &state.config.secret_key, Access { actor: &user, ip: &ip, subject_user_id: None, record_id: None, action: "export", reason: &what })?;
        }
        service::settlement(conn, start, next_month(start))
    })
    .await?;
    let month = start.format("%Y-%m").to_string();
    let total = |f: fn(&service::SettlementRow) -> i64| rows.iter().map(f).sum::<i64>();
    let totals = (total(|r| r.money.visits), total(|r| r.money.planned_hours), total(|r| r.money.amount), total(|r| r.money.copays), total(|r| r.money.city_share));
    if xlsx {
        let t = |k: &str| state.i18n.t(ctx.lang, &format!("visits.staff.{k}"));
        let mut table = vec![["agency", "completed", "hours", "actual_hours", "unit_price", "amount", "copays", "city_share"].iter().map(|k| t(k)).collect::<Vec<_>>()];
        for r in &rows {
            table.push(vec![
                r.agency_name.clone(),
                r.money.visits.to_string(),
                r.money.planned_hours.to_string(),
                format!("{:.1}", r.money.actual_minutes as f64 / 60.0),
                r.unit_price.to_string(),
                r.money.amount.to_string(),
                r.money.copays.to_string(),
                r.money.city_share.to_string(),
            ]);
        }
        table.push(vec![t("total"), totals.0.to_string(), totals.1.to_string(), String::new(), String::new(), totals.2.to_string(), totals.3.to_string(), totals.4.to_string()]);
        let sheet = crate::web::xlsx::Sheet { name: month.clone(), title: format!("{} {month}", t("settlement")), rows: table };
        return Ok(HttpResponse::Ok()
            .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"naju-settlement-{month}.xlsx\"")))
            .body(crate::web::xlsx::workbook(&[sheet])?));
    }
    let mut c = tera::Context::new();
    c.insert("month", &month);
    c.insert("rows", &rows.iter().map(|r| (r, format!("{:.1}", r.money.actual_minutes as f64 / 60.0))).collect::<Vec<_>>());
    c.insert("totals", &totals);
    render(&state, &ctx, "visits/staff_settlement.html", c)
}

/// One agency's monthly statement (its helpers' visits and subtotals), read-only.
async fn agency_statement(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, q: web::Query<super::statement::StatementQuery>) -> Result<HttpResponse, AppError> {
    let user = staff(&ctx)?;
    let id = path.into_inner();
    let base = format!("/staff/visits/settlement/{id}");
    super::statement::respond(&ctx, &state, user, id, q.into_inner(), base).await
}

#[derive(Deserialize, Serialize, Default, Clone)]
#[serde(default)]
pub struct SettingsForm {
    min_notice_days: String,
    cancel_cutoff_hours: String,
    booking_horizon_days: String,
    late_cancel_counts: String,
    no_show_counts: String,
}

impl SettingsForm {
    fn from(s: &Settings) -> SettingsForm {
        let yes = |b: bool| if b { "yes".to_string() } else { String::new() };
        SettingsForm {
            min_notice_days: s.min_notice_days.to_string(),
            cancel_cutoff_hours: s.cancel_cutoff_hours.to_string(),
            booking_horizon_days: s.booking_horizon_days.to_string(),
            late_cancel_counts: yes(s.late_cancel_counts),
            no_show_counts: yes(s.no_show_counts),
        }
    }

    fn parse(&self) -> Result<Settings, Vec<(&'static str, &'static str)>> {
        let mut errors = vec![];
        let mut num = |raw: &str, field: &'static str, min: i32, max: i32| match raw.trim().parse::<i32>() {
            Ok(n) if (min..=max).contains(&n) => n,
            _ => {
                errors.push((field, "rules.errors.number_range"));
                0
            }
        };
        let s = Settings {
            min_notice_days: num(&self.min_notice_days, "min_notice_days", 0, 60),
            cancel_cutoff_hours: num(&self.cancel_cutoff_hours, "cancel_cutoff_hours", 0, 240),
            booking_horizon_days: num(&self.booking_horizon_days, "booking_horizon_days", 1, 365),
            late_cancel_counts: self.late_cancel_counts == "yes",
            no_show_counts: self.no_show_counts == "yes",
        };
        if errors.is_empty() {
            Ok(s)
        } else {
            Err(errors)
        }
    }
}

async fn settings_page(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    staff(&ctx)?;
    let s = db(&state, |conn, _| Ok(models::settings(conn)?)).await?;
    let mut c = tera::Context::new();
    c.insert("form", &SettingsForm::from(&s));
    render(&state, &ctx, "visits/staff_settings.html", c)
}

async fn save_settings(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<SettingsForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    staff(&ctx)?;
    match form.parse() {
        Ok(s) => {
            db(&state, move |conn, _| service::save_settings(conn, &s)).await?;
            Ok(redirect("/staff/visits/settings", Some("visits.flash.settings_saved")))
        }
        Err(errors) => {
            let mut c = tera::Context::new();
            c.insert("form", &form);
            c.insert("errors", &field_errors(&state, ctx.lang, &errors));
            render_status(&state, &ctx, "visits/staff_settings.html", &mut c, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

async fn record_birth(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<BirthForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let user = staff(&ctx)?;
    let app_id = path.into_inner();
    let back = format!("/staff/applications/{app_id}");
    let Ok(born) = parse_birth(&form) else {
        return redirect_error_keeping(&ctx, &state, &back, "born_on", "applications.errors.date_invalid", &[("born_on", form.born_on.as_str())]).await;
    };
    let (aid, ip) = (app_id.clone(), ctx.ip.clone());
    let result = db(&state, move |conn, state| {
        let n = service::record_birth(conn, &state.notifier, &aid, &user.id, born, today_seoul())?;
        let subject = crate::applications::models::find(conn, &aid)?.map(|a| a.user_id);
        audit::record(conn, &state.config.secret_key, Access { actor: &user, ip: &ip, subject_user_id: subject.as_deref(), record_id: Some(&aid), action: "change", reason: "birth" })?;
        Ok(n)
    })
    .await;
    match result {
        Ok(_) => Ok(redirect(&back, Some("visits.flash.birth_recorded"))),
        Err(AppError::Conflict(key)) | Err(AppError::BadRequest(key)) => Ok(redirect(&back, Some(key))),
        Err(e) => Err(e),
    }
}
