//! The account page where a user (resident, agency, staff) makes and revokes
//! her personal access tokens. A new token is shown once, on the answer to
//! the form that made it.

use crate::web::routes::Routes;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::tokens;
use crate::accounts::routes::Empty;
use crate::error::AppError;
use crate::state::AppState;
use crate::time::format_datetime;
use crate::web::{db, field_errors, redirect, render_status, CsrfForm, Ctx};

pub fn configure(r: &mut Routes) {
    r.get("/account/tokens", tokens_page).post("/account/tokens", create).post("/account/tokens/{id}/revoke", revoke);
}

#[derive(Serialize)]
struct TokenView {
    id: String,
    name: String,
    created: String,
    last_used: Option<String>,
}

async fn page(state: &web::Data<AppState>, ctx: &Ctx, mut c: tera::Context, status: StatusCode) -> Result<HttpResponse, AppError> {
    let user_id = ctx.user()?.id.clone();
    let lang = ctx.lang;
    let rows = db(state, move |conn, _| tokens::list(conn, &user_id)).await?;
    let views: Vec<TokenView> = rows
        .into_iter()
        .map(|t| TokenView { id: t.id, name: t.name, created: format_datetime(t.created_at, lang), last_used: t.last_used_at.map(|u| format_datetime(u, lang)) })
        .collect();
    c.insert("tokens", &views);
    c.insert("role", ctx.user()?.role().as_str());
    let mut res = render_status(state, ctx, "api/tokens.html", &mut c, status)?;
    // The page may carry a token shown once: never cached.
    res.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(res)
}

async fn tokens_page(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    ctx.user()?;
    page(&state, &ctx, tera::Context::new(), StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewTokenForm {
    name: String,
}

async fn create(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<NewTokenForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let user = ctx.user()?.clone();
    let name = form.name.clone();
    let mut c = tera::Context::new();
    match db(&state, move |conn, state| tokens::create(conn, &state.config.secret_key, &user, &name)).await {
        Ok(token) => {
            c.insert("new_token", &token);
            page(&state, &ctx, c, StatusCode::OK).await
        }
        Err(AppError::BadRequest(key) | AppError::Conflict(key)) => {
            c.insert("errors", &field_errors(&state, ctx.lang, &[("name", key)]));
            c.insert("name", &form.name);
            page(&state, &ctx, c, StatusCode::BAD_REQUEST).await
        }
        Err(e) => Err(e),
    }
}

async fn revoke(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<Empty>) -> Result<HttpResponse, AppError> {
    form.verify(&ctx)?;
    let user_id = ctx.user()?.id.clone();
    let id = path.into_inner();
    db(&state, move |conn, _| tokens::revoke(conn, &user_id, &id)).await?;
    Ok(redirect("/account/tokens", Some("api.flash.revoked")))
}
