//! The resident's page for how she gets notices (알림 받는 방법): email, SMS
//! or both, her mobile number, and the code that proves it.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::domain::Mobile;
use super::mobile::{self, Checked, Choice, Sent, Who};
use super::models::{Role, User};
use crate::error::AppError;
use crate::state::AppState;
use crate::time::{format_datetime, now_utc};
use crate::web::routes::Routes;
use crate::web::{db, field_errors, redirect, render_status, CsrfForm, Ctx, FormErrors};

pub fn configure(r: &mut Routes) {
    r.get("/my/notices", page).post("/my/notices", choose).post("/my/notices/verify", verify).post("/my/notices/resend", resend);
}

fn resident(ctx: &Ctx) -> Result<User, AppError> {
    ctx.require(&[Role::Resident]).cloned()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ChoiceForm {
    notify_channels: String,
    mobile: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    code: String,
}

#[derive(Serialize)]
struct View {
    /// The choice in force.
    current: &'static str,
    /// The proven number, if any.
    proven: Option<String>,
    /// The number a code went to, and until when it is valid.
    pending: Option<(String, String)>,
    /// The form as typed (or as stored).
    choice: &'static str,
    mobile: String,
}

/// Renders the page; `typed` keeps what she typed after an error.
async fn show(ctx: &Ctx, state: &web::Data<AppState>, typed: Option<&ChoiceForm>, errors: FormErrors, alert: Option<String>, status: StatusCode) -> Result<HttpResponse, AppError> {
    let user = resident(ctx)?;
    let user_id = user.id.clone();
    let ((current, proven), pending) = db(state, move |conn, _| Ok((mobile::current(conn, &user_id)?, mobile::pending(conn, &user_id)?))).await?;
    let lang = ctx.lang;
    let view = View {
        current: current.as_str(),
        choice: typed.map(|f| Choice::parse(&f.notify_channels)).unwrap_or(current).as_str(),
        mobile: typed.map(|f| f.mobile.clone()).or_else(|| proven.clone()).unwrap_or_else(|| if Mobile::parse(&user.phone).is_ok() { user.phone.clone() } else { String::new() }),
        pending: pending.map(|(number, until)| (number, format_datetime(until, lang))),
        proven,
    };
    let mut c = tera::Context::new();
    c.insert("notify_channels", view.choice);
    c.insert("notices", &view);
    c.insert("sms_on", &state.notifier.sms_on());
    c.insert("errors", &errors);
    c.insert("alert", &alert);
    render_status(state, ctx, "accounts/notices.html", &mut c, status)
}

async fn page(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    show(&ctx, &state, None, FormErrors::default(), None, StatusCode::OK).await
}

/// What a request for a code came to, as a redirect or the page with a note.
async fn after_send(ctx: &Ctx, state: &web::Data<AppState>, typed: Option<&ChoiceForm>, sent: Sent) -> Result<HttpResponse, AppError> {
    let note = |key: &str, args: &[(&str, &str)]| Some(state.i18n.t_with(ctx.lang, key, args));
    match sent {
        Sent::Saved => Ok(redirect("/my/notices", Some("mobile.flash.saved"))),
        Sent::Sent => Ok(redirect("/my/notices", Some("mobile.flash.code_sent"))),
        Sent::TooSoon(seconds) => {
            let alert = note("mobile.errors.too_soon", &[("seconds", &seconds.to_string())]);
            show(ctx, state, typed, FormErrors::default(), alert, StatusCode::TOO_MANY_REQUESTS).await
        }
        Sent::TooMany => {
            let alert = note("mobile.errors.too_many_codes", &[]);
            show(ctx, state, typed, FormErrors::default(), alert, StatusCode::TOO_MANY_REQUESTS).await
        }
    }
}

async fn choose(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<ChoiceForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let user = resident(&ctx)?;
    let choice = Choice::parse(&form.notify_channels);
    let number = if choice.wants_sms() {
        let checked = if state.notifier.sms_on() { Mobile::parse(&form.mobile) } else { Err("mobile.errors.sms_off") };
        match checked {
            Ok(number) => Some(number),
            Err(key) => {
                let errors = field_errors(&state, ctx.lang, &[("mobile", key)]);
                return show(&ctx, &state, Some(&form), errors, None, StatusCode::UNPROCESSABLE_ENTITY).await;
            }
        }
    } else {
        None
    };
    let lang = ctx.lang;
    let sent = db(&state, move |conn, state| {
        let who = Who { user_id: &user.id, lang, now: now_utc() };
        mobile::choose(conn, &state.notifier, &state.config.secret_key, who, choice, number.as_ref())
    })
    .await?;
    after_send(&ctx, &state, Some(&form), sent).await
}

async fn resend(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<CodeForm>) -> Result<HttpResponse, AppError> {
    form.verify(&ctx)?;
    let user = resident(&ctx)?;
    let lang = ctx.lang;
    let sent = db(&state, move |conn, state| {
        let who = Who { user_id: &user.id, lang, now: now_utc() };
        match mobile::resend(conn, &state.notifier, &state.config.secret_key, who) {
            Err(AppError::NotFound) => Ok(None),
            other => other.map(Some),
        }
    })
    .await?;
    match sent {
        Some(sent) => after_send(&ctx, &state, None, sent).await,
        None => Ok(redirect("/my/notices", None)),
    }
}

async fn verify(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<CodeForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let user = resident(&ctx)?;
    let code = form.code.clone();
    let checked = db(&state, move |conn, state| mobile::verify(conn, &state.config.secret_key, &user.id, &code, now_utc())).await?;
    let key = match checked {
        Checked::Proven => return Ok(redirect("/my/notices", Some("mobile.flash.proven"))),
        Checked::NoneOpen => return Ok(redirect("/my/notices", None)),
        Checked::Wrong(left) => {
            let errors = FormErrors::single("code", state.i18n.t_with(ctx.lang, "mobile.errors.code_wrong", &[("left", &left.to_string())]));
            return show(&ctx, &state, None, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
        Checked::Expired => "mobile.errors.code_expired",
        Checked::TooManyAttempts => "mobile.errors.code_attempts",
    };
    let errors = field_errors(&state, ctx.lang, &[("code", key)]);
    show(&ctx, &state, None, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await
}
