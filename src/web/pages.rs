//! Public pages: home, health check, language switch, unknown routes.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;
use serde::Deserialize;

use super::{db, redirect, render, safe_local_path, Ctx, LANG_COOKIE};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::programs;
use crate::state::AppState;

pub async fn home(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let lang = ctx.lang;
    let programs = db(&state, move |conn, _| Ok(programs::list_active(conn, lang)?)).await?;
    let mut c = tera::Context::new();
    c.insert("programs", &programs);
    if let Some(user) = &ctx.user {
        c.insert("home_path", user.role().home_path());
    }
    render(&state, &ctx, "home.html", c)
}

/// "Not open yet": a program that is not set up or not taking applications,
/// with the city's contact line. A clear page, never an empty one.
pub fn not_open(state: &AppState, ctx: &Ctx, program_name: Option<String>) -> Result<HttpResponse, AppError> {
    let mut c = tera::Context::new();
    c.insert("program_name", &program_name.unwrap_or_default());
    render(state, ctx, "not_open.html", c)
}

/// `GET /healthz`: 200 when the database answers, 503 otherwise.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let backend = state.backend.name();
    let result = db(&state, |conn, _| Ok(conn.batch_execute("SELECT 1")?)).await;
    match result {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({"status": "ok", "database": backend})),
        Err(e) => {
            tracing::error!(error = %e, "health check: database check failed");
            HttpResponse::ServiceUnavailable().json(serde_json::json!({"status": "unavailable", "database": backend}))
        }
    }
}

#[derive(Deserialize)]
pub struct LangQuery {
    next: Option<String>,
}

/// `GET /lang/{ko|en}`: a preference cookie, then back to the page.
pub async fn switch_lang(path: web::Path<String>, q: web::Query<LangQuery>) -> Result<HttpResponse, AppError> {
    let lang = Lang::from_code(&path).ok_or(AppError::NotFound)?;
    let next = q.next.as_deref().map(safe_local_path).unwrap_or("/");
    let mut res = redirect(next, None);
    res.add_cookie(
        &Cookie::build(LANG_COOKIE, lang.code())
            .path("/")
            .same_site(SameSite::Lax)
            .max_age(CookieDuration::days(365))
            .finish(),
    )
    .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(res)
}

pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}
