//! The supervisor's city settings: what is set up and what is missing, the
//! configuration as a city file (download, edit and apply, upload), and the
//! shipped city files to start from. The file and these pages are two views
//! of the same data.

use actix_multipart::Multipart;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::{export, import, parse, CityError, SHIPPED};
use crate::accounts::models::{Role, User};
use crate::audit::{self, Access};
use crate::db::schema::{agencies, clinic_programs, indicators, programs, users};
use crate::db::DbConn;
use crate::error::AppError;
use crate::state::AppState;
use crate::time::today_seoul;
use crate::retention::Periods;
use crate::web::routes::Routes;
use crate::web::{db, field_errors, redirect, render_status, CsrfForm, Ctx, FormErrors};

pub fn configure(r: &mut Routes) {
    r.get("/staff/city", page)
        .post("/staff/city/import", import_text)
        .post("/staff/city/upload", upload)
        .get("/staff/city/export", download)
        .post("/staff/city/retention", save_retention);
}

/// The signed-in supervisor; other staff and other roles get 403.
pub(crate) fn supervisor(ctx: &Ctx) -> Result<User, AppError> {
    let user = ctx.require(&[Role::Staff])?;
    if !user.is_supervisor {
        return Err(AppError::Forbidden);
    }
    Ok(user.clone())
}

/// One line of the set-up checklist.
#[derive(Serialize)]
pub struct Check {
    pub key: &'static str,
    pub done: bool,
    pub count: i64,
}

/// What a city needs before residents can use it, and how far it is.
pub fn checklist(conn: &mut DbConn) -> Result<Vec<Check>, AppError> {
    let city = crate::db::schema::city_settings::table.count().get_result::<i64>(conn)?;
    let open_programs = programs::table.filter(programs::active.eq(true)).count().get_result::<i64>(conn)?;
    let housework = programs::table.filter(programs::code.eq(crate::programs::HOUSEWORK)).select(programs::id).first::<String>(conn).optional()?;
    let rules_now = match &housework {
        Some(id) => i64::from(crate::applications::rules::in_force(conn, id, today_seoul())?.is_some()),
        None => 0,
    };
    let agency_count = agencies::table.filter(agencies::active.eq(true)).count().get_result::<i64>(conn)?;
    let agency_accounts = users::table.filter(users::role.eq("contractor")).filter(users::agency_id.is_not_null()).count().get_result::<i64>(conn)?;
    let clinic = clinic_programs::table.filter(clinic_programs::active.eq(true)).count().get_result::<i64>(conn)?;
    let indicator_count = indicators::table.filter(indicators::active.eq(true)).count().get_result::<i64>(conn)?;
    let has_clinic = programs::table.filter(programs::code.eq(crate::programs::SATURDAY_CLINIC)).count().get_result::<i64>(conn)? > 0;
    let mut out = vec![
        Check { key: "city", done: city > 0, count: city },
        Check { key: "programs", done: open_programs > 0, count: open_programs },
    ];
    if housework.is_some() {
        out.push(Check { key: "rules", done: rules_now > 0, count: rules_now });
        out.push(Check { key: "agencies", done: agency_count > 0, count: agency_count });
        out.push(Check { key: "agency_accounts", done: agency_accounts > 0, count: agency_accounts });
    }
    if has_clinic {
        out.push(Check { key: "clinic_programs", done: clinic > 0, count: clinic });
    }
    out.push(Check { key: "indicators", done: indicator_count > 0, count: indicator_count });
    Ok(out)
}

/// True when no city was ever set up: the first supervisor is sent here.
pub fn needs_setup(conn: &mut DbConn) -> Result<bool, AppError> {
    Ok(crate::db::schema::city_settings::table.count().get_result::<i64>(conn)? == 0)
}

/// The retention periods as typed on the page, with their errors.
#[derive(Deserialize, Serialize, Default, Clone)]
#[serde(default)]
pub struct RetentionForm {
    applications_days: String,
    sessions_days: String,
    password_resets_days: String,
    signups_days: String,
    outbox_days: String,
    access_log_days: String,
}

impl RetentionForm {
    fn from_periods(p: &Periods) -> RetentionForm {
        let [a, s, r, u, o, l] = p.fields().map(|(_, days)| days.to_string());
        RetentionForm { applications_days: a, sessions_days: s, password_resets_days: r, signups_days: u, outbox_days: o, access_log_days: l }
    }

    /// The periods, or (field, catalog key) for each wrong one.
    fn parse(&self) -> Result<Periods, Vec<(&'static str, &'static str)>> {
        let n = |v: &str| v.trim().parse::<i32>().unwrap_or(0);
        let p = Periods {
            applications_days: n(&self.applications_days),
            sessions_days: n(&self.sessions_days),
            password_resets_days: n(&self.password_resets_days),
            signups_days: n(&self.signups_days),
            outbox_days: n(&self.outbox_days),
            access_log_days: n(&self.access_log_days),
        };
        let errors = crate::retention::check(&p);
        if errors.is_empty() { Ok(p) } else { Err(errors) }
    }
}

async fn page_with(state: &web::Data<AppState>, ctx: &Ctx, text: Option<String>, error: Option<CityError>, status: StatusCode) -> Result<HttpResponse, AppError> {
    page_full(state, ctx, text, error, None, status).await
}

async fn page_full(
    state: &web::Data<AppState>,
    ctx: &Ctx,
    text: Option<String>,
    error: Option<CityError>,
    retention: Option<(RetentionForm, FormErrors)>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (checks, current, periods) = db(state, |conn, _| {
        let checks = checklist(conn)?;
        let current = match export::read(conn)? {
            Some(f) => Some(export::to_toml(&f)?),
            None => None,
        };
        Ok((checks, current, crate::retention::periods(conn)?))
    })
    .await?;
    let (retention_form, retention_errors) = retention.unwrap_or_else(|| (RetentionForm::from_periods(&periods), FormErrors::default()));
    let mut c = tera::Context::new();
    c.insert("all_done", &checks.iter().all(|c| c.done));
    c.insert("checks", &checks);
    c.insert("configured", &current.is_some());
    c.insert("text", &text.or(current).unwrap_or_default());
    c.insert("shipped", &SHIPPED.iter().map(|(n, _)| *n).collect::<Vec<_>>());
    c.insert("retention", &retention_form);
    c.insert("retention_fields", &periods.fields().map(|(f, _)| f));
    if !retention_errors.list.is_empty() {
        c.insert("errors", &retention_errors);
    }
    c.insert("retention_errors", &retention_errors);
    if let Some(e) = &error {
        let message = match e.line {
            Some(line) => state.i18n.t(ctx.lang, "city.error_at").replace("{line}", &line.to_string()).replace("{field}", &e.field).replace("{message}", &e.message),
            None => state.i18n.t(ctx.lang, "city.error").replace("{field}", &e.field).replace("{message}", &e.message),
        };
        c.insert("errors", &FormErrors::single("text", message));
    }
    render_status(state, ctx, "city/settings.html", &mut c, status)
}

async fn page(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    supervisor(&ctx)?;
    page_with(&state, &ctx, None, None, StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ImportForm {
    /// The city file as text (edited on the page).
    text: String,
    /// Or the name of a shipped city file.
    shipped: String,
}

/// Parses and applies a city file; a bad file changes nothing and the page
/// comes back with the error (line and field) and the text kept.
async fn apply(state: &web::Data<AppState>, ctx: &Ctx, user: User, text: String) -> Result<HttpResponse, AppError> {
    let file = match parse(&text) {
        Ok(f) => f,
        Err(e) => return page_with(state, ctx, Some(text), Some(e), StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    let ip = ctx.ip.clone();
    let summary = db(state, move |conn, state| {
        let summary = import::apply(conn, &file, today_seoul())?;
        audit::record(conn, &state.config.secret_key, Access { actor: &user, ip: &ip, subject_user_id: None, record_id: None, action: "change", reason: "city file" })?;
        Ok(summary)
    })
    .await?;
    state.forget_city();
    tracing::info!(rule_versions_added = summary.rule_versions_added, agencies = summary.agencies, "city file applied");
    Ok(redirect("/staff/city", Some("city.flash.applied")))
}

async fn import_text(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<ImportForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let user = supervisor(&ctx)?;
    let text = if form.shipped.is_empty() {
        form.text.clone()
    } else {
        super::shipped(&form.shipped).ok_or(AppError::NotFound)?.to_string()
    };
    apply(&state, &ctx, user, text).await
}

const MAX_CITY_FILE: usize = 1024 * 1024;

async fn upload(ctx: Ctx, state: web::Data<AppState>, payload: Multipart) -> Result<HttpResponse, AppError> {
    let up = crate::web::upload::read_file(payload, "file", MAX_CITY_FILE).await?;
    ctx.check_csrf(&up.csrf_token)?;
    let user = supervisor(&ctx)?;
    let text = match String::from_utf8(up.bytes) {
        Ok(t) if !up.truncated => t,
        _ => {
            let e = CityError { line: None, field: "file".into(), message: state.i18n.t(ctx.lang, "city.not_text") };
            return page_with(&state, &ctx, None, Some(e), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    apply(&state, &ctx, user, text).await
}

/// Saves the retention periods typed on the page; wrong ones come back
/// with a message next to each field and nothing is saved.
async fn save_retention(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<RetentionForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let user = supervisor(&ctx)?;
    let periods = match form.parse() {
        Ok(p) => p,
        Err(errors) => {
            let errors = field_errors(&state, ctx.lang, &errors);
            return page_full(&state, &ctx, None, None, Some((form, errors)), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let ip = ctx.ip.clone();
    db(&state, move |conn, state| {
        crate::db::write_tx(conn, |conn| crate::retention::save(conn, &periods))?;
        audit::record(conn, &state.config.secret_key, Access { actor: &user, ip: &ip, subject_user_id: None, record_id: None, action: "change", reason: "retention periods" })
    })
    .await?;
    Ok(redirect("/staff/city#retention", Some("retention.flash.saved")))
}

async fn download(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    supervisor(&ctx)?;
    let text = db(&state, |conn, _| match export::read(conn)? {
        Some(f) => export::to_toml(&f),
        None => Err(AppError::NotFound),
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/toml; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, "attachment; filename=\"city.toml\""))
        .body(text))
}
