//! Staff's results pages: the dashboard (tables, SVG chart, quarterly
//! breakdown, budget), exports, the CSV import and entering figures.

use actix_multipart::Multipart;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::calc::{self, Period};
use super::{export, import, service};
use crate::accounts::models::{Role, User};
use crate::audit::{self, Access};
use crate::error::AppError;
use crate::state::AppState;
use crate::time::today_seoul;
use crate::web::routes::Routes;
use crate::web::{db, redirect, redirect_error, render, render_status, CsrfForm, Ctx, Page};

pub fn configure(r: &mut Routes) {
    r.get("/staff/results", dashboard)
        .get("/staff/results/export", export_report)
        .get("/staff/results/import", import_page)
        .post("/staff/results/import", import_file)
        .get("/staff/results/figures", figures_page)
        .post("/staff/results/figures", save_figure)
        .post("/staff/results/settings", save_settings);
}

fn staff(ctx: &Ctx) -> Result<User, AppError> {
    ctx.require(&[Role::Staff]).cloned()
}

pub const PROGRAMS: [&str; 2] = ["housework", "saturday_clinic"];

#[derive(Deserialize, Serialize, Default, Clone)]
#[serde(default)]
pub struct ReportQuery {
    pub program: String,
    pub from: String,
    pub to: String,
    pub format: String,
    pub table: String,
}

impl ReportQuery {
    pub fn program(&self) -> &str {
        PROGRAMS.iter().find(|p| **p == self.program).copied().unwrap_or("housework")
    }
}

/// The period asked for, or the program's term.
pub fn period(q: &ReportQuery, term: Period) -> Period {
    let date = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
    match (date(&q.from), date(&q.to)) {
        (Some(start), Some(end)) if start <= end => Period { start, end },
        _ => term,
    }
}

pub async fn load_report(state: &web::Data<AppState>, q: &ReportQuery, lang: crate::i18n::Lang) -> Result<(service::Report, Period), AppError> {
    let q = q.clone();
    db(state, move |conn, _| report_of(conn, &q, lang)).await
}

fn report_of(conn: &mut crate::db::DbConn, q: &ReportQuery, lang: crate::i18n::Lang) -> Result<(service::Report, Period), AppError> {
    let program = q.program();
    let settings = service::settings(conn, program)?;
    let p = period(q, settings.term);
    Ok((service::report(conn, program, p, lang)?, settings.term))
}

#[derive(Serialize)]
struct Preset {
    label: String,
    from: String,
    to: String,
}

async fn dashboard(page: Page, state: web::Data<AppState>, q: web::Query<ReportQuery>) -> Result<HttpResponse, AppError> {
    let query = q.clone();
    let (ctx, (report, term)) = page
        .db(&state, move |conn, _, visit| {
            visit.require(&[Role::Staff])?;
            report_of(conn, &query, visit.lang)
        })
        .await?;
    let mut presets = vec![Preset { label: state.i18n.t(ctx.lang, "results.term"), from: term.start.to_string(), to: term.end.to_string() }];
    for y in term.start.year()..=term.end.year().max(today_seoul().year()) {
        presets.push(Preset { label: y.to_string(), from: format!("{y}-01-01"), to: format!("{y}-12-31") });
    }
    let mut c = tera::Context::new();
    c.insert("r", &report);
    c.insert("program", q.program());
    c.insert("programs", &PROGRAMS);
    c.insert("presets", &presets);
    c.insert("settings_decimals", &report.decimals);
    c.insert("term_from", &term.start.to_string());
    c.insert("term_to", &term.end.to_string());
    c.insert("fmt", &report.rows.iter().map(|r| [calc::thousands(r.target), calc::thousands(r.actual), calc::thousands(r.cum_target), calc::thousands(r.cum_actual)]).collect::<Vec<_>>());
    c.insert("quarterly", &report.quarterly_cells(calc::thousands));
    c.insert("query", &format!("program={}&from={}&to={}", q.program(), report.from, report.to));
    render(&state, &ctx, "results/dashboard.html", c)
}

async fn export_report(ctx: Ctx, state: web::Data<AppState>, q: web::Query<ReportQuery>) -> Result<HttpResponse, AppError> {
    let user = staff(&ctx)?;
    let (report, _) = load_report(&state, &q, ctx.lang).await?;
    let name = format!("naju-results-{}-{}-{}", report.program_code, report.from, report.to);
    let (user_id, ip, what) = (user.clone(), ctx.ip.clone(), format!("{} {}", q.format, q.table));
    // Aggregates hold no personal data, but exports are still logged.
    db(&state, move |conn, state| {
        audit::record(conn, &state.config.secret_key, Access { actor: &user_id, ip: &ip, subject_user_id: None, record_id: None, action: "export", reason: &what })
    })
    .await?;
    let attach = |ext: &str| (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.{ext}\""));
    match q.format.as_str() {
        "xlsx" => Ok(HttpResponse::Ok()
            .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            .insert_header(attach("xlsx"))
            .body(export::to_xlsx(&report, &state.i18n, ctx.lang)?)),
        "json" => Ok(HttpResponse::Ok().content_type("application/json").insert_header(attach("json")).body(export::to_json(&report)?)),
        _ => {
            let table = if ["summary", "quarterly", "budget"].contains(&q.table.as_str()) { q.table.as_str() } else { "summary" };
            Ok(HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8")
                .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}-{table}.csv\"")))
                .body(export::to_csv(&report, &state.i18n, ctx.lang, table)?))
        }
    }
}

async fn import_page(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    staff(&ctx)?;
    render(&state, &ctx, "results/import.html", tera::Context::new())
}

#[derive(Serialize)]
struct ImportError {
    line: usize,
    message: String,
    text: String,
}

async fn import_file(ctx: Ctx, state: web::Data<AppState>, payload: Multipart) -> Result<HttpResponse, AppError> {
    let upload = crate::web::upload::read_file(payload, "file", 2 * 1024 * 1024).await?;
    ctx.check_csrf(&upload.csrf_token)?;
    let user = staff(&ctx)?;
    let problem = if upload.truncated {
        Some("results.import.errors.too_big")
    } else if upload.bytes.is_empty() {
        Some("documents.errors.empty")
    } else {
        None
    };
    let text = match (problem, import::decode(&upload.bytes)) {
        (None, Some(text)) => text.into_owned(),
        (p, _) => {
            let mut c = tera::Context::new();
            c.insert("errors", &crate::web::field_errors(&state, ctx.lang, &[("file", p.unwrap_or("results.import.errors.encoding"))]));
            return render_status(&state, &ctx, "results/import.html", &mut c, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let uid = user.id.clone();
    let report = db(&state, move |conn, _| import::import_csv(conn, &text, Some(&uid))).await?;
    if report.errors.is_empty() {
        let mut c = tera::Context::new();
        c.insert("imported", &report.imported);
        return render(&state, &ctx, "results/import.html", c);
    }
    let mut c = tera::Context::new();
    c.insert(
        "line_errors",
        &report.errors.iter().map(|(line, key, text)| ImportError { line: *line, message: state.i18n.t(ctx.lang, key), text: text.clone() }).collect::<Vec<_>>(),
    );
    c.insert("errors", &crate::web::field_errors(&state, ctx.lang, &[("file", "results.import.errors.none_saved")]));
    render_status(&state, &ctx, "results/import.html", &mut c, StatusCode::UNPROCESSABLE_ENTITY)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ProgramQuery {
    program: String,
}

#[derive(Serialize)]
struct IndicatorOption {
    code: String,
    name: String,
    source: String,
}

async fn figures_page(ctx: Ctx, state: web::Data<AppState>, q: web::Query<ProgramQuery>) -> Result<HttpResponse, AppError> {
    staff(&ctx)?;
    let program = PROGRAMS.iter().find(|p| **p == q.program).copied().unwrap_or("housework");
    figures_render(&ctx, &state, program, &FigureForm::default(), None).await
}

/// The figures page, with the form as typed and its error (kept on a wrong entry).
async fn figures_render(ctx: &Ctx, state: &web::Data<AppState>, program: &'static str, form: &FigureForm, error: Option<(&'static str, &'static str)>) -> Result<HttpResponse, AppError> {
    let lang = ctx.lang;
    let (options, stored) = db(state, move |conn, _| {
        let inds = service::indicators_of(conn, program)?;
        let options: Vec<IndicatorOption> = inds.iter().map(|i| IndicatorOption { code: i.code.clone(), name: i.name(lang).to_string(), source: i.source.clone() }).collect();
        Ok((options, service::stored_figures(conn, program, lang)?))
    })
    .await?;
    let mut c = tera::Context::new();
    c.insert("program", program);
    c.insert("programs", &PROGRAMS);
    c.insert("indicators", &options);
    c.insert("stored", &stored);
    c.insert("form", form);
    let status = match error {
        Some(field_key) => {
            c.insert("errors", &crate::web::field_errors(state, lang, &[field_key]));
            StatusCode::UNPROCESSABLE_ENTITY
        }
        None => StatusCode::OK,
    };
    render_status(state, ctx, "results/figures.html", &mut c, status)
}

#[derive(Deserialize, Serialize, Default)]
#[serde(default)]
pub struct FigureForm {
    program: String,
    indicator: String,
    period: String,
    value: String,
    kind: String,
}

async fn save_figure(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<FigureForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let user = staff(&ctx)?;
    let program = PROGRAMS.iter().find(|p| **p == form.program).copied().unwrap_or("housework");
    let back = format!("/staff/results/figures?program={program}");
    let Some(p) = calc::parse_period(&form.period) else {
        return figures_render(&ctx, &state, program, &form, Some(("period", "results.import.errors.period_or_value"))).await;
    };
    let Some(value) = form.value.replace(',', "").trim().parse::<i64>().ok().filter(|v| *v >= 0) else {
        return figures_render(&ctx, &state, program, &form, Some(("value", "results.import.errors.period_or_value"))).await;
    };
    let target = form.kind == "target";
    let (indicator, label) = (form.indicator.clone(), form.period.trim().to_string());
    let saved = db(&state, move |conn, _| {
        let Some(ind) = service::find_indicator(conn, program, &indicator)? else { return Ok(false) };
        crate::db::write_tx(conn, |conn| service::upsert_figure(conn, &ind.id, &label, p, value, target, "manual", Some(&user.id)))?;
        Ok(true)
    })
    .await?;
    if !saved {
        return figures_render(&ctx, &state, program, &form, Some(("indicator", "results.import.errors.indicator"))).await;
    }
    Ok(redirect(&back, Some("results.flash.saved")))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SettingsForm {
    program: String,
    decimals: String,
    term_from: String,
    term_to: String,
}

async fn save_settings(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<SettingsForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    staff(&ctx)?;
    let program = PROGRAMS.iter().find(|p| **p == form.program).copied().unwrap_or("housework");
    let back = format!("/staff/results?program={program}");
    let date = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
    // Each error names its field: the page opens the settings and its error summary leads there.
    let Some(decimals) = form.decimals.trim().parse::<i32>().ok().filter(|d| (0..=4).contains(d)) else {
        return Ok(redirect_error(&back, "decimals", "rules.errors.number_range"));
    };
    let Some(start) = date(&form.term_from) else {
        return Ok(redirect_error(&back, "term_from", "applications.errors.date_invalid"));
    };
    let Some(end) = date(&form.term_to) else {
        return Ok(redirect_error(&back, "term_to", "applications.errors.date_invalid"));
    };
    if end < start {
        return Ok(redirect_error(&back, "term_to", "results.term_order"));
    }
    db(&state, move |conn, _| service::save_settings(conn, program, decimals, Period { start, end })).await?;
    Ok(redirect(&back, Some("results.flash.saved")))
}
