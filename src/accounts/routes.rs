//! Account pages: sign-up, login, logout, the resident's home and messages,
//! staff's account management.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::domain::Mobile;
use super::mobile::Choice;
use super::models::{self, Role};
use super::service::{self, AccountInput, LoginError, NewAccount};
use super::sessions;
use super::signup::{self, Confirmed};
use crate::error::AppError;
use crate::notify;
use crate::state::AppState;
use crate::time::format_datetime;
use crate::web::routes::Routes;
use crate::web::{db, field_errors, redirect, render, render_status, safe_local_path, session_cookie, CsrfForm, Ctx, FormErrors, Page};

pub fn configure(r: &mut Routes) {
    r.get("/login", login_page)
        .post("/login", login)
        .post("/logout", logout)
        .get("/signup", signup_page)
        .post("/signup", signup)
        .get("/signup/confirm/{token}", signup_confirm_page)
        .post("/signup/confirm/{token}", signup_confirm)
        .get("/my", resident_home)
        .get("/my/messages", my_messages)
        .get("/my/messages/{id}", my_message)
        .get("/staff", staff_home)
        .get("/staff/users", staff_users)
        .get("/staff/users/new", staff_new_user_page)
        .post("/staff/users", staff_create_user)
        .get("/contractor", contractor_home)
        .post("/session/extend", extend_session)
        .get("/password/forgot", forgot_page)
        .post("/password/forgot", forgot)
        .get("/password/reset/{token}", reset_page)
        .post("/password/reset/{token}", reset);
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginQuery {
    next: String,
}

#[derive(Deserialize, Default, Serialize)]
#[serde(default)]
pub struct LoginForm {
    email: String,
    #[serde(skip_serializing)]
    password: String,
    next: String,
}

fn login_form_page(
    state: &AppState,
    ctx: &Ctx,
    form: &LoginForm,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut c = tera::Context::new();
    c.insert("form", form);
    if let Some(message) = error {
        c.insert("errors", &FormErrors::single("email", message));
    }
    render_status(state, ctx, "accounts/login.html", &mut c, status)
}

async fn login_page(ctx: Ctx, state: web::Data<AppState>, q: web::Query<LoginQuery>) -> Result<HttpResponse, AppError> {
    if let Some(user) = &ctx.user {
        return Ok(redirect(user.role().home_path(), None));
    }
    let ctx = ctx.with_session(&state).await?;
    let form = LoginForm { next: q.next.clone(), ..Default::default() };
    login_form_page(&state, &ctx, &form, None, StatusCode::OK)
}

async fn login(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<LoginForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    // A place in the password-check queue first: when it is full the visitor
    // is asked to try again, and no attempt is counted against her.
    let turn = match super::password::take_turn() {
        Ok(turn) => turn,
        Err(AppError::Busy) => {
            let msg = state.i18n.t(ctx.lang, "errors.busy");
            let mut res = login_form_page(&state, &ctx, &form, Some(msg), StatusCode::SERVICE_UNAVAILABLE)?;
            res.headers_mut().insert(actix_web::http::header::RETRY_AFTER, actix_web::http::header::HeaderValue::from_static("5"));
            return Ok(res);
        }
        Err(e) => return Err(e),
    };
    let (email, ip) = (form.email.clone(), ctx.ip.clone());
    let begun = db(&state, move |conn, state| match service::begin_login(conn, &state.config, &email, &ip) {
        Err(LoginError::Other(e)) => Err(e),
        other => Ok(other),
    })
    .await?;
    let outcome = match begun {
        Err(e) => Err(e),
        Ok(attempt) => {
            let ok = attempt.verify(turn, &form.password).await?;
            let old_key = ctx.session_key.clone();
            db(&state, move |conn, state| match service::finish_login(conn, &state.config, attempt, ok) {
                Ok(user) => {
                    let token = sessions::start_for_user(conn, &state.config.secret_key, &old_key, &user.id, state.config.session_idle)?;
                    Ok(Ok((user, token)))
                }
                Err(LoginError::Other(e)) => Err(e),
                Err(e) => Ok(Err(e)),
            })
            .await?
        }
    };
    match outcome {
        Ok((user, token)) => {
            let next = if form.next.is_empty() { user.role().home_path() } else { safe_local_path(&form.next) };
            let mut res = redirect(next, Some("accounts.flash.logged_in"));
            res.add_cookie(&session_cookie(&token, ctx.secure)).map_err(|e| AppError::Internal(e.to_string()))?;
            Ok(res)
        }
        Err(LoginError::Locked { minutes }) => {
            let msg = state.i18n.t_with(ctx.lang, "errors.too_many_attempts_minutes", &[("minutes", &minutes.to_string())]);
            login_form_page(&state, &ctx, &form, Some(msg), StatusCode::TOO_MANY_REQUESTS)
        }
        Err(_) => {
            let msg = state.i18n.t(ctx.lang, "accounts.errors.login_failed");
            login_form_page(&state, &ctx, &form, Some(msg), StatusCode::UNAUTHORIZED)
        }
    }
}

/// Hashes a password on a hashing thread, without a database connection
/// (`AppError::Busy` when too many are waiting).
async fn hash_password(password: &str) -> Result<String, AppError> {
    super::password::take_turn()?.hash(password).await
}

#[derive(Deserialize)]
pub struct Empty {}

async fn logout(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<Empty>) -> Result<HttpResponse, AppError> {
    form.verify(&ctx)?;
    let key = ctx.session_key.clone();
    db(&state, move |conn, _| sessions::end(conn, &key)).await?;
    let mut res = redirect("/", Some("accounts.flash.logged_out"));
    let mut gone = session_cookie("", ctx.secure);
    gone.make_removal();
    res.add_cookie(&gone).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(res)
}

/// Keeps a signed-in session alive (the "stay signed in" button).
async fn extend_session(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<Empty>) -> Result<HttpResponse, AppError> {
    form.verify(&ctx)?;
    ctx.user()?;
    let key = ctx.session_key.clone();
    db(&state, move |conn, state| sessions::extend(conn, &key, state.config.session_idle)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize)]
struct AccountFormView<'a> {
    name: &'a str,
    email: &'a str,
    phone: &'a str,
}

fn account_form_view(input: &AccountInput) -> AccountFormView<'_> {
    AccountFormView { name: &input.name, email: &input.email, phone: &input.phone }
}

async fn signup_page(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    if let Some(user) = &ctx.user {
        return Ok(redirect(user.role().home_path(), None));
    }
    let ctx = ctx.with_session(&state).await?;
    let mut c = tera::Context::new();
    c.insert("form", &account_form_view(&AccountInput::default()));
    c.insert("notify_channels", "email");
    c.insert("sms_on", &state.notifier.sms_on());
    render(&state, &ctx, "accounts/signup.html", c)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SignupForm {
    #[serde(flatten)]
    account: AccountInput,
    agree_terms: String,
    /// email (default), sms or both
    notify_channels: String,
}

fn signup_form_page(
    state: &AppState,
    ctx: &Ctx,
    form: &SignupForm,
    errors: &[(&'static str, &'static str)],
    throttled: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut c = tera::Context::new();
    c.insert("form", &account_form_view(&form.account));
    c.insert("errors", &field_errors(state, ctx.lang, errors));
    c.insert("agree_terms", &(form.agree_terms == "yes"));
    c.insert("notify_channels", Choice::parse(&form.notify_channels).as_str());
    c.insert("sms_on", &state.notifier.sms_on());
    c.insert("throttled", &throttled);
    render_status(state, ctx, "accounts/signup.html", &mut c, status)
}

/// Ends on "check your email" whether or not the address has an account, so
/// the page does not tell; the email says what to do next.
async fn signup(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<SignupForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let mut errors = service::validate(&form.account).err().unwrap_or_default();
    if form.agree_terms != "yes" {
        errors.push(("agree_terms", "accounts.errors.terms_required"));
    }
    // Texts go only to a mobile number: the contact phone must be one.
    let choice = if state.notifier.sms_on() { Choice::parse(&form.notify_channels) } else { Choice::Email };
    if choice.wants_sms() && !errors.iter().any(|(f, _)| *f == "phone") && Mobile::parse(&form.account.phone).is_err() {
        errors.push(("phone", "mobile.errors.mobile_for_sms"));
    }
    if !errors.is_empty() {
        return signup_form_page(&state, &ctx, &form, &errors, None, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let ip = ctx.ip.clone();
    if !db(&state, move |conn, state| signup::within_limit(conn, &state.config, &ip)).await? {
        let minutes = (state.config.signup_window.as_secs().div_ceil(60)).to_string();
        let message = state.i18n.t_with(ctx.lang, "accounts.errors.too_many_signups", &[("minutes", &minutes)]);
        return signup_form_page(&state, &ctx, &form, &[], Some(message), StatusCode::TOO_MANY_REQUESTS);
    }
    let input = form.account.clone();
    let lang = ctx.lang;
    let password_hash = hash_password(&input.password).await?;
    let email = db(&state, move |conn, state| {
        let valid = service::validate(&input).map_err(|_| AppError::BadRequest("errors.bad_form"))?;
        signup::request(conn, &state.notifier, &state.config.secret_key, valid.profile(), choice, &password_hash, lang)?;
        Ok(valid.email.as_str().to_string())
    })
    .await?;
    let mut c = tera::Context::new();
    c.insert("email", &email);
    c.insert("hours", &signup::VALID_HOURS);
    render(&state, &ctx, "accounts/signup_sent.html", c)
}

/// The page behind the emailed link: one button finishes the sign-up. A
/// plain visit changes nothing, so mail scanners that open links do no harm.
fn confirm_page(state: &AppState, ctx: &Ctx, token: &str, outcome: &str, email: Option<String>, status: StatusCode) -> Result<HttpResponse, AppError> {
    let mut c = tera::Context::new();
    c.insert("token", token);
    c.insert("outcome", outcome);
    c.insert("email", &email);
    render_status(state, ctx, "accounts/signup_confirm.html", &mut c, status)
}

async fn signup_confirm_page(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_session(&state).await?;
    let token = path.into_inner();
    let t = token.clone();
    let email = db(&state, move |conn, state| signup::pending_email(conn, &state.config.secret_key, &t)).await?;
    match email {
        Some(email) => confirm_page(&state, &ctx, &token, "ready", Some(email), StatusCode::OK),
        None => confirm_page(&state, &ctx, &token, "invalid", None, StatusCode::OK),
    }
}

async fn signup_confirm(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<Empty>) -> Result<HttpResponse, AppError> {
    form.verify(&ctx)?;
    let token = path.into_inner();
    let (t, old_key) = (token.clone(), ctx.session_key.clone());
    let outcome = db(&state, move |conn, state| match signup::confirm(conn, &state.notifier, &state.config.secret_key, &t)? {
        Confirmed::Created(user_id, code_sent) => Ok(Ok((sessions::start_for_user(conn, &state.config.secret_key, &old_key, &user_id, state.config.session_idle)?, code_sent))),
        other => Ok(Err(other)),
    })
    .await?;
    match outcome {
        Ok((session, code_sent)) => {
            // She chose SMS: the next step is the code sent to her number.
            let mut res = if code_sent { redirect("/my/notices", Some("mobile.flash.signed_up_code_sent")) } else { redirect("/my", Some("accounts.flash.signed_up")) };
            res.add_cookie(&session_cookie(&session, ctx.secure)).map_err(|e| AppError::Internal(e.to_string()))?;
            Ok(res)
        }
        Err(Confirmed::AlreadyRegistered) => confirm_page(&state, &ctx, &token, "registered", None, StatusCode::CONFLICT),
        Err(_) => confirm_page(&state, &ctx, &token, "invalid", None, StatusCode::GONE),
    }
}

#[derive(Serialize)]
struct MessageRow {
    id: String,
    subject: String,
    created: String,
    /// sent, pending or failed
    status: String,
}

async fn resident_home(page: Page, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let (ctx, (cards, messages, greeting)) = page
        .db_inline(&state, move |conn, state, visit| {
            let user = visit.require(&[Role::Resident])?;
            let lang = visit.lang;
            let cards = state.programs.cards(conn, lang, |programs| {
                let mut c = tera::Context::new();
                c.insert("programs", programs);
                state.templates.render(lang, "accounts/_program_cards.html", &c).map_err(AppError::from)
            })?;
            let messages = notify::list_for_user(conn, &user.id, 3)?;
            let greeting = state.i18n.t_with(lang, "accounts.resident_home.greeting", &[("name", &user.name)]);
            Ok((cards, messages, greeting))
        })
        .await?;
    let lang = ctx.lang;
    let recent: Vec<MessageRow> = messages.into_iter().map(|m| message_row(m, lang)).collect();
    let mut c = tera::Context::new();
    c.insert("program_cards", cards.as_str());
    c.insert("greeting", &greeting);
    c.insert("messages", &recent);
    render(&state, &ctx, "accounts/resident_home.html", c)
}

fn message_row(m: notify::OutboxMessage, lang: crate::i18n::Lang) -> MessageRow {
    MessageRow { id: m.id, subject: m.subject, created: format_datetime(m.created_at, lang), status: m.status }
}

async fn my_messages(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let user_id = ctx.require(&[Role::Resident])?.id.clone();
    let messages = db(&state, move |conn, _| Ok(notify::list_for_user(conn, &user_id, 100)?)).await?;
    let rows: Vec<MessageRow> = messages.into_iter().map(|m| message_row(m, ctx.lang)).collect();
    let mut c = tera::Context::new();
    c.insert("messages", &rows);
    render(&state, &ctx, "accounts/messages.html", c)
}

async fn my_message(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let user_id = ctx.require(&[Role::Resident])?.id.clone();
    let id = path.into_inner();
    let message = db(&state, move |conn, _| notify::find_for_user(conn, &user_id, &id)?.ok_or(AppError::NotFound)).await?;
    let mut c = tera::Context::new();
    c.insert("subject", &message.subject);
    c.insert("body", &message.body_text);
    c.insert("created", &format_datetime(message.created_at, ctx.lang));
    c.insert("status", &message.status);
    render(&state, &ctx, "accounts/message.html", c)
}

async fn staff_home(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let user = ctx.require(&[Role::Staff])?;
    let supervisor = user.is_supervisor;
    let lang = ctx.lang;
    let (stats, setup, figures) = db(&state, move |conn, _| {
        let setup = if supervisor { crate::city::routes::needs_setup(conn)? } else { false };
        let figures = super::dashboard::load(conn, crate::time::today_seoul(), lang)?;
        Ok((notify::stats(conn)?, setup, figures))
    })
    .await?;
    // A city without its configuration: the supervisor sets it up first.
    if setup {
        return Ok(redirect("/staff/city", None));
    }
    let mut c = tera::Context::new();
    c.insert("outbox", &stats);
    c.insert("dash", &figures);
    render(&state, &ctx, "accounts/staff_home.html", c)
}

async fn contractor_home(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    ctx.require(&[Role::Contractor])?;
    render(&state, &ctx, "accounts/contractor_home.html", tera::Context::new())
}

#[derive(Serialize)]
struct UserRow {
    name: String,
    email: String,
    phone: String,
    role: String,
    agency: String,
    active: bool,
    created: String,
}

async fn staff_users(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    ctx.require(&[Role::Staff])?;
    let (users, agencies) = db(&state, |conn, _| Ok((models::list_by_roles(conn, &["staff", "contractor"])?, crate::agencies::list(conn)?))).await?;
    let rows: Vec<UserRow> = users
        .into_iter()
        .map(|u| UserRow {
            agency: u.agency_id.as_ref().and_then(|id| agencies.iter().find(|a| &a.id == id)).map(|a| a.name.clone()).unwrap_or_default(),
            created: format_datetime(u.created_at, ctx.lang),
            name: u.name,
            email: u.email,
            phone: u.phone,
            role: u.role,
            active: u.active,
        })
        .collect();
    let mut c = tera::Context::new();
    c.insert("users", &rows);
    render(&state, &ctx, "accounts/staff_users.html", c)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StaffUserForm {
    #[serde(flatten)]
    account: AccountInput,
    role: String,
    /// The agency an agency account works for.
    agency_id: String,
}

async fn staff_user_form(state: &web::Data<AppState>, ctx: &Ctx, form: &StaffUserForm, errors: &[(&'static str, &'static str)], status: StatusCode) -> Result<HttpResponse, AppError> {
    let agencies = db(state, |conn, _| Ok(crate::agencies::list(conn)?)).await?;
    let mut c = tera::Context::new();
    c.insert("agencies", &agencies);
    c.insert("agency_id", &form.agency_id);
    c.insert("form", &account_form_view(&form.account));
    c.insert("role", &form.role);
    c.insert("errors", &field_errors(state, ctx.lang, errors));
    render_status(state, ctx, "accounts/staff_user_new.html", &mut c, status)
}

async fn staff_new_user_page(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    ctx.require(&[Role::Staff])?;
    let form = StaffUserForm { role: "contractor".into(), ..Default::default() };
    staff_user_form(&state, &ctx, &form, &[], StatusCode::OK).await
}

async fn staff_create_user(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<StaffUserForm>) -> Result<HttpResponse, AppError> {
    let staff = ctx.require(&[Role::Staff])?.clone();
    let form = form.verify(&ctx)?;
    let mut errors = service::validate(&form.account).err().unwrap_or_default();
    // Staff make staff and agency accounts; residents sign up themselves.
    let role = Role::parse(&form.role).filter(|r| *r != Role::Resident);
    match role {
        None => errors.push(("role", "accounts.errors.role_invalid")),
        Some(Role::Staff) if !staff.is_supervisor => errors.push(("role", "accounts.errors.supervisor_only")),
        Some(Role::Contractor) if form.agency_id.is_empty() => errors.push(("agency_id", "accounts.errors.agency_required")),
        _ => {}
    }
    let agency_id = (role == Some(Role::Contractor)).then(|| form.agency_id.clone());
    if let (true, Some(role)) = (errors.is_empty(), role) {
        let input = form.account.clone();
        let lang = ctx.lang;
        let password_hash = hash_password(&input.password).await?;
        let created = db(&state, move |conn, state| {
            let valid = service::validate(&input).map_err(|_| AppError::BadRequest("errors.bad_form"))?;
            let new = NewAccount {
                account: valid.profile(),
                role,
                is_supervisor: false,
                lang,
                email_kind: Some("account_created"),
                password_hash: &password_hash,
                agency_id: agency_id.as_deref(),
            };
            match service::create_account(conn, &state.notifier, new) {
                Ok(_) => Ok(None),
                Err(AppError::Conflict(key)) => Ok(Some(key)),
                Err(e) => Err(e),
            }
        })
        .await?;
        match created {
            None => return Ok(redirect("/staff/users", Some("accounts.flash.user_created"))),
            Some(key @ "accounts.errors.agency_required") => errors.push(("agency_id", key)),
            Some(key) => errors.push(("email", key)),
        }
    }
    staff_user_form(&state, &ctx, &form, &errors, StatusCode::UNPROCESSABLE_ENTITY).await
}

#[derive(Deserialize, Default, Serialize)]
#[serde(default)]
pub struct ForgotForm {
    email: String,
}

async fn forgot_page(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_session(&state).await?;
    let mut c = tera::Context::new();
    c.insert("form", &ForgotForm::default());
    render(&state, &ctx, "accounts/forgot.html", c)
}

/// Always the same answer, so the page does not tell which addresses have
/// accounts; requests are limited per IP like logins.
async fn forgot(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<ForgotForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    // A missing or malformed address is the typist's slip, said as such (it
    // tells nothing about which addresses have accounts).
    if let Err(key) = super::domain::Email::parse(&form.email) {
        let mut c = tera::Context::new();
        c.insert("form", &form);
        c.insert("errors", &field_errors(&state, ctx.lang, &[("email", key)]));
        return render_status(&state, &ctx, "accounts/forgot.html", &mut c, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (email, ip) = (form.email.clone(), ctx.ip.clone());
    let allowed = db(&state, move |conn, state| {
        let key = super::throttle::ip_key(&state.config.secret_key, &format!("reset:{ip}"));
        let count = super::throttle::count_attempt(conn, &key, crate::time::now_utc(), state.config.login_lock)?;
        if count > state.config.login_max_failures_account * 2 {
            return Ok(false);
        }
        super::reset::request(conn, &state.notifier, &state.config.secret_key, &email)?;
        Ok(true)
    })
    .await?;
    if !allowed {
        let minutes = (state.config.login_lock.as_secs() / 60).to_string();
        let mut c = tera::Context::new();
        c.insert("form", &form);
        c.insert("errors", &FormErrors::single("email", state.i18n.t_with(ctx.lang, "errors.too_many_attempts_minutes", &[("minutes", &minutes)])));
        return render_status(&state, &ctx, "accounts/forgot.html", &mut c, StatusCode::TOO_MANY_REQUESTS);
    }
    let mut c = tera::Context::new();
    c.insert("sent", &true);
    c.insert("form", &form);
    render(&state, &ctx, "accounts/forgot.html", c)
}

async fn reset_page(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_session(&state).await?;
    let token = path.into_inner();
    let t = token.clone();
    let valid = db(&state, move |conn, state| Ok(super::reset::check(conn, &state.config.secret_key, &t)?.is_some())).await?;
    let mut c = tera::Context::new();
    c.insert("token", &token);
    c.insert("valid", &valid);
    render(&state, &ctx, "accounts/reset.html", c)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ResetForm {
    password: String,
    password_confirm: String,
}

async fn reset(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<ResetForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let token = path.into_inner();
    let page = |errors: FormErrors, valid: bool, status: StatusCode| {
        let mut c = tera::Context::new();
        c.insert("token", &token);
        c.insert("valid", &valid);
        c.insert("errors", &errors);
        render_status(&state, &ctx, "accounts/reset.html", &mut c, status)
    };
    if let Err(key) = super::domain::Password::parse(&form.password, &form.password_confirm) {
        return page(field_errors(&state, ctx.lang, &[("password", key)]), true, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let password_hash = hash_password(&form.password).await?;
    let t = token.clone();
    let done = db(&state, move |conn, state| super::reset::complete(conn, &state.config.secret_key, &t, &password_hash)).await?;
    if done {
        Ok(redirect("/login", Some("accounts.flash.password_reset")))
    } else {
        page(FormErrors::default(), false, StatusCode::GONE)
    }
}
