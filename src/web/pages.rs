//! Public pages: home, health check, language switch, unknown routes.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::connection::SimpleConnection;
use serde::Deserialize;

use super::{db, redirect, render, safe_local_path, Ctx, LANG_COOKIE};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::state::AppState;

pub async fn home(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let lang = ctx.lang;
    let programs = db(&state, move |conn, state| Ok(state.programs.list(conn, lang)?)).await?;
    let mut c = tera::Context::new();
    c.insert("programs", &programs);
    c.insert("city", &*state.city());
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
    c.insert("city", &*state.city());
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

/// `GET /manifest.webmanifest`: so the site can be added to a phone's home
/// screen, named in the visitor's language (Korean by default).
pub async fn manifest(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let lang = req.cookie(LANG_COOKIE).and_then(|c| Lang::from_code(c.value())).unwrap_or(Lang::Ko);
    let t = |key: &str| state.i18n.t(lang, key);
    let body = serde_json::json!({
        "name": t("manifest.name"),
        "short_name": t("manifest.short_name"),
        "description": t("manifest.description"),
        "lang": lang.code(),
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOR,
        "background_color": "#ffffff",
        "icons": [
            {"src": "/assets/icons/icon-192.png", "sizes": "192x192", "type": "image/png"},
            {"src": "/assets/icons/icon-512.png", "sizes": "512x512", "type": "image/png"},
            {"src": "/assets/icons/icon.svg", "sizes": "any", "type": "image/svg+xml"},
        ],
    });
    HttpResponse::Ok()
        .content_type("application/manifest+json; charset=utf-8")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body.to_string())
}

/// The header's blue (app.css `--blue`), for the browser's own bars.
const THEME_COLOR: &str = "#0b4ea2";

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
