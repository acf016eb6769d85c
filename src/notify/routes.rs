//! Staff's view of mail that could not be delivered: who it was for, why it
//! failed, and a form to correct the address and send it again. Every view,
//! correction and resend goes to the access log.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::OutboxMessage;
use crate::accounts::domain::Email;
use crate::accounts::models::{Role, User};
use crate::audit::{self, Access};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::state::AppState;
use crate::time::format_datetime;
use crate::web::routes::Routes;
use crate::web::{db, field_errors, redirect, render, render_status, CsrfForm, Ctx, FormErrors};

pub fn configure(r: &mut Routes) {
    r.get("/staff/messages/failed", list)
        .get("/staff/messages/failed/{id}", show)
        .post("/staff/messages/failed/{id}", resend);
}

fn staff(ctx: &Ctx) -> Result<User, AppError> {
    ctx.require(&[Role::Staff]).cloned()
}

#[derive(Serialize)]
struct FailedView {
    id: String,
    recipient: String,
    kind: String,
    subject: String,
    created: String,
    failed: String,
    attempts: i32,
    reason: String,
    address_bound: bool,
}

fn failed_view(m: OutboxMessage, lang: Lang) -> FailedView {
    FailedView {
        address_bound: super::is_address_bound(&m.kind),
        created: format_datetime(m.created_at, lang),
        failed: m.failed_at.map(|t| format_datetime(t, lang)).unwrap_or_default(),
        reason: m.last_error.unwrap_or_default(),
        id: m.id,
        recipient: m.recipient,
        kind: m.kind,
        subject: m.subject,
        attempts: m.attempts,
    }
}

async fn list(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let user = staff(&ctx)?;
    let ip = ctx.ip.clone();
    let messages = db(&state, move |conn, state| {
        audit::record(conn, &state.config.secret_key, Access { actor: &user, ip: &ip, subject_user_id: None, record_id: None, action: "list", reason: "failed messages" })?;
        Ok(super::list_failed(conn)?)
    })
    .await?;
    let rows: Vec<FailedView> = messages.into_iter().map(|m| failed_view(m, ctx.lang)).collect();
    let mut c = tera::Context::new();
    c.insert("messages", &rows);
    render(&state, &ctx, "notify/failed_list.html", c)
}

fn show_page(state: &AppState, ctx: &Ctx, message: FailedView, recipient: &str, errors: FormErrors, status: StatusCode) -> Result<HttpResponse, AppError> {
    let mut c = tera::Context::new();
    c.insert("message", &message);
    c.insert("recipient", recipient);
    c.insert("errors", &errors);
    render_status(state, ctx, "notify/failed_show.html", &mut c, status)
}

/// The failed message, after writing its viewing to the access log.
async fn load_viewed(ctx: &Ctx, state: &web::Data<AppState>, id: String) -> Result<FailedView, AppError> {
    let (user, ip) = (staff(ctx)?, ctx.ip.clone());
    let message = db(state, move |conn, state| {
        let m = super::find_failed(conn, &id)?.ok_or(AppError::NotFound)?;
        let access = Access { actor: &user, ip: &ip, subject_user_id: m.user_id.as_deref(), record_id: Some(&m.id), action: "view", reason: "failed message" };
        audit::record(conn, &state.config.secret_key, access)?;
        Ok(m)
    })
    .await?;
    Ok(failed_view(message, ctx.lang))
}

async fn show(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let message = load_viewed(&ctx, &state, path.into_inner()).await?;
    let recipient = message.recipient.clone();
    show_page(&state, &ctx, message, &recipient, FormErrors::default(), StatusCode::OK)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ResendForm {
    recipient: String,
}

async fn resend(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<ResendForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let user = staff(&ctx)?;
    let id = path.into_inner();
    let recipient = match Email::parse(&form.recipient) {
        Ok(email) => email,
        Err(key) => {
            let message = load_viewed(&ctx, &state, id).await?;
            let errors = field_errors(&state, ctx.lang, &[("recipient", key)]);
            return show_page(&state, &ctx, message, &form.recipient, errors, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let ip = ctx.ip.clone();
    let message_id = id.clone();
    let resent = db(&state, move |conn, state| {
        let before = super::resend(conn, &message_id, recipient.as_str())?;
        let (secret, subject) = (&state.config.secret_key, before.user_id.as_deref());
        if before.recipient != recipient.as_str() {
            let change = format!("message address corrected: {} -> {}", before.recipient, recipient.as_str());
            let access = Access { actor: &user, ip: &ip, subject_user_id: subject, record_id: Some(&before.id), action: "change", reason: &change };
            audit::record(conn, secret, access)?;
        }
        let access = Access { actor: &user, ip: &ip, subject_user_id: subject, record_id: Some(&before.id), action: "resend", reason: "failed message resent" };
        audit::record(conn, secret, access)
    })
    .await;
    match resent {
        Ok(()) => Ok(redirect("/staff/messages/failed", Some("notify.flash.resent"))),
        Err(AppError::Conflict(key)) => {
            let message = load_viewed(&ctx, &state, id).await?;
            let recipient = message.recipient.clone();
            let errors = field_errors(&state, ctx.lang, &[("recipient", key)]);
            show_page(&state, &ctx, message, &recipient, errors, StatusCode::CONFLICT)
        }
        Err(e) => Err(e),
    }
}
