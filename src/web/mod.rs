//! The web layer shared by every page: the request context (visitor, session,
//! language), CSRF-checked forms, page rendering and redirects.

pub mod assets;
pub mod layout;
pub mod middleware;
pub mod pages;
pub mod routes;
pub mod upload;
pub mod xlsx;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{dev::Payload, web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::accounts::models::{Role, User};
use crate::accounts::{session_notes, sessions};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "naju_sid";
pub const LANG_COOKIE: &str = "naju_lang";
pub const FLASH_COOKIE: &str = "naju_flash";

/// Who is asking, in which language, with which session. Extracted once per
/// request (cached in the request's extensions). Its fields are those of
/// `Visit` (through `Deref`), which can go to a blocking thread.
#[derive(Clone)]
pub struct Ctx {
    visit: Visit,
    /// The request, to add to its extensions; `None` in the copy cached in
    /// those very extensions: a request holding itself would never be
    /// dropped, and so never freed (a leak on every page that was measured
    /// at about 9 KB a request).
    req: Option<HttpRequest>,
}

/// The request context without the request: `Send`, so that a page's
/// blocking call (`Page::db`) can check the visitor's role and read her
/// language next to its queries.
#[derive(Clone)]
pub struct Visit {
    pub lang: Lang,
    pub user: Option<User>,
    /// Keyed hash of the session token, as stored in the database.
    pub session_key: String,
    pub csrf_token: String,
    pub ip: String,
    /// Path and query of this request, for "come back here after login".
    pub here: String,
    pub flash: Option<String>,
    /// The field a flashed error belongs to (see `redirect_error`): the next
    /// page shows the message in its error summary, linked to `#f-FIELD`.
    pub flash_field: Option<String>,
    /// What was typed into the form a flashed error belongs to (see
    /// `redirect_error_keeping`), by field id without `f-`; templates read it
    /// as `typed` to fill the form in again.
    pub typed: BTreeMap<String, String>,
    pub secure: bool,
}

impl std::ops::Deref for Ctx {
    type Target = Visit;

    fn deref(&self) -> &Visit {
        &self.visit
    }
}

impl std::ops::DerefMut for Ctx {
    fn deref_mut(&mut self) -> &mut Visit {
        &mut self.visit
    }
}

/// A session created for this request; the middleware sends its cookie.
#[derive(Clone)]
pub struct NewSessionCookie(pub String);

impl Visit {
    pub fn user(&self) -> Result<&User, AppError> {
        self.user.as_ref().ok_or_else(|| AppError::LoginRequired { next: self.here.clone() })
    }

    /// The signed-in user if her role is one of `roles`; 403 otherwise.
    pub fn require(&self, roles: &[Role]) -> Result<&User, AppError> {
        let user = self.user()?;
        if roles.contains(&user.role()) {
            Ok(user)
        } else {
            Err(AppError::Forbidden)
        }
    }

    fn csrf_matches(&self, token: &str) -> bool {
        // Constant time, so the response time tells nothing about how much matched.
        bool::from(self.csrf_token.as_bytes().ct_eq(token.as_bytes()))
    }

    /// For forms read by hand (multipart uploads).
    pub fn check_csrf(&self, token: &str) -> Result<(), AppError> {
        if !token.is_empty() && self.csrf_matches(token) {
            Ok(())
        } else {
            Err(AppError::Csrf)
        }
    }
}

impl Ctx {
    async fn load(req: &HttpRequest) -> Result<Ctx, AppError> {
        if let Some(ctx) = Ctx::cached(req) {
            return Ok(ctx);
        }
        let state = app_state(req)?;
        let pending = Pending::of(req, &state);
        let visit = match pending.token.is_some() {
            false => pending.finish(None, BTreeMap::new()),
            true => web::block(move || -> Result<_, AppError> { pending.session(&mut *state.pool.get()?, &state) }).await??,
        };
        Ok(Ctx::keep(req, visit))
    }

    /// The context an earlier extractor left in the request's extensions.
    fn cached(req: &HttpRequest) -> Option<Ctx> {
        let visit = req.extensions().get::<Visit>()?.clone();
        Some(Ctx { visit, req: Some(req.clone()) })
    }

    /// Caches the context in the request's extensions (without the request).
    fn keep(req: &HttpRequest, visit: Visit) -> Ctx {
        req.extensions_mut().insert(visit.clone());
        Ctx { visit, req: Some(req.clone()) }
    }

    /// For pages with a form: makes sure the visitor has a session (and so a
    /// CSRF token), creating an anonymous one whose cookie the middleware sends.
    pub async fn with_session(mut self, state: &web::Data<AppState>) -> Result<Ctx, AppError> {
        if !self.session_key.is_empty() {
            return Ok(self);
        }
        let (secret, idle, pool) = (state.config.secret_key.clone(), state.config.session_idle, state.pool.clone());
        let created = web::block(move || -> Result<_, AppError> {
            let mut conn = pool.get()?;
            sessions::create_anonymous(&mut conn, &secret, idle)
        })
        .await??;
        if let Some(token) = created.new_token {
            if let Some(req) = &self.req {
                req.extensions_mut().insert(NewSessionCookie(token));
            }
        }
        self.session_key = created.key;
        self.csrf_token = created.csrf_token;
        if let Some(req) = &self.req {
            req.extensions_mut().insert(self.visit.clone());
        }
        Ok(self)
    }
}

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>().cloned().ok_or_else(|| AppError::Internal("app state missing".into()))
}

/// What a request's context takes from the request itself (cookies, address,
/// path), before its session is looked up; `Send`.
struct Pending {
    token: Option<String>,
    cookie_lang: Option<Lang>,
    ip: String,
    here: String,
    flash: Option<String>,
    flash_field: Option<String>,
    /// The note holding what was typed, named by the flash cookie.
    flash_note: Option<String>,
    secure: bool,
}

impl Pending {
    fn of(req: &HttpRequest, state: &AppState) -> Pending {
        // The cookies as parsed once (`req.cookie(name)` clones each one it
        // finds), let go before `connection_info` borrows the request again.
        let (token, cookie_lang, flash, flash_field, flash_note) = {
            let cookies = req.cookies().ok();
            let cookie = |name: &str| cookies.as_deref().and_then(|all| all.iter().find(|c| c.name() == name)).map(|c| c.value());
            let flash = cookie(FLASH_COOKIE).map(flash_parts);
            (
                cookie(SESSION_COOKIE).map(str::to_string),
                cookie(LANG_COOKIE).and_then(Lang::from_code),
                flash.map(|f| f.0.to_string()).filter(|k| state.i18n.has(k)),
                flash.and_then(|f| f.1.map(str::to_string)),
                flash.and_then(|f| f.2.map(str::to_string)),
            )
        };
        Pending {
            token,
            cookie_lang,
            ip: client_ip(req, state.config.trust_proxy),
            here: req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into()),
            flash,
            flash_field,
            flash_note,
            secure: state.config.public_url.starts_with("https://") || req.connection_info().scheme() == "https",
        }
    }

    /// Looks the session up (one indexed query; a write at most once a
    /// minute to slide its expiry) and completes the context.
    fn session(self, conn: &mut crate::db::DbConn, state: &AppState) -> Result<Visit, AppError> {
        let loaded = match &self.token {
            Some(token) => sessions::load(conn, &state.config.secret_key, Some(token), state.config.session_idle)?,
            None => None,
        };
        // Only when an error was flashed with what was typed: one read, one delete.
        let typed = match (&self.flash_note, &loaded) {
            (Some(note), Some(l)) => session_notes::take(conn, &l.key, note, session_notes::FORM)?.and_then(|body| serde_json::from_str(&body).ok()),
            _ => None,
        };
        Ok(self.finish(loaded, typed.unwrap_or_default()))
    }

    /// `session` without writing: the context, and the session's write
    /// still to do (its expiry slid, or an expired session removed). Only
    /// for a request without a flashed form (whose typed values are read
    /// and deleted).
    fn session_read_only(self, conn: &mut crate::db::DbConn, state: &AppState) -> Result<(Visit, Option<sessions::Upkeep>), AppError> {
        let (loaded, upkeep) = sessions::find(conn, &state.config.secret_key, self.token.as_deref(), state.config.session_idle)?;
        Ok((self.finish(loaded, BTreeMap::new()), upkeep))
    }

    fn finish(self, loaded: Option<sessions::Loaded>, typed: BTreeMap<String, String>) -> Visit {
        let (user, session_key, csrf_token) = match loaded {
            Some(l) => (l.user, l.key, l.csrf_token),
            None => (None, String::new(), String::new()),
        };
        let user_lang = user.as_ref().and_then(|u| Lang::from_code(&u.locale));
        Visit {
            lang: self.cookie_lang.or(user_lang).unwrap_or(Lang::Ko),
            user,
            session_key,
            csrf_token,
            ip: self.ip,
            here: self.here,
            flash: self.flash,
            flash_field: self.flash_field,
            typed,
            secure: self.secure,
        }
    }
}

/// For the busiest pages: an extractor that does no database work, so that
/// `Page::db` looks the session up and runs the page's queries in one
/// blocking call (one hop to the blocking pool, one connection checkout)
/// instead of one for `Ctx` and another for `db`.
pub struct Page {
    req: HttpRequest,
}

impl FromRequest for Page {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Page, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Page { req: req.clone() }))
    }
}

impl Page {
    /// Runs `f` with the visitor's context on a pooled connection, after her
    /// session was looked up on that same connection in the same blocking
    /// call; returns the context (for rendering) with `f`'s result. `f`
    /// checks her role itself (`visit.require(…)`).
    pub async fn db<T, F>(self, state: &web::Data<AppState>, f: F) -> Result<(Ctx, T), AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut crate::db::DbConn, &AppState, &Visit) -> Result<T, AppError> + Send + 'static,
    {
        if let Some(ctx) = Ctx::cached(&self.req) {
            let visit = ctx.visit.clone();
            let value = db(state, move |conn, state| f(conn, state, &visit)).await?;
            return Ok((ctx, value));
        }
        let pending = Pending::of(&self.req, state);
        self.in_blocking_pool(pending, state, f).await
    }

    /// The session and `f` in one blocking call, on one pooled connection.
    async fn in_blocking_pool<T, F>(self, pending: Pending, state: &web::Data<AppState>, f: F) -> Result<(Ctx, T), AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut crate::db::DbConn, &AppState, &Visit) -> Result<T, AppError> + Send + 'static,
    {
        let state = state.clone();
        let (visit, value) = web::block(move || -> Result<_, AppError> {
            let mut conn = state.pool.get()?;
            let visit = pending.session(&mut conn, &state)?;
            let value = f(&mut conn, &state, &visit)?;
            Ok((visit, value))
        })
        .await??;
        Ok((Ctx::keep(&self.req, visit), value))
    }

    /// `db` for a page whose queries are a few indexed reads (a resident's
    /// home): on SQLite, when a pooled connection is
    /// free at once, the session and the page are read right here on the
    /// server's thread, without the hop to the blocking pool and back (two
    /// thread wake-ups, the largest cost of such a page under load:
    /// BENCHMARKS.md, session 8). A SQLite read in WAL mode does not wait for
    /// writers. The session's occasional write (its expiry slid forward) then
    /// goes to the blocking pool after the page, without the page waiting for
    /// the write lock. Otherwise (PostgreSQL, whose every query is a round
    /// trip; no free connection; a flashed form to read and delete) it is `db`.
    /// `f` must only read.
    pub async fn db_inline<T, F>(self, state: &web::Data<AppState>, f: F) -> Result<(Ctx, T), AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut crate::db::DbConn, &AppState, &Visit) -> Result<T, AppError> + Send + 'static,
    {
        let inline = state.backend == crate::db::Backend::Sqlite && Ctx::cached(&self.req).is_none();
        let conn = if inline { state.pool.try_get() } else { None };
        let Some(mut conn) = conn else { return self.db(state, f).await };
        let pending = Pending::of(&self.req, state);
        if pending.flash_note.is_some() {
            drop(conn);
            return self.in_blocking_pool(pending, state, f).await;
        }
        // The session and the page read in one read transaction.
        let read = crate::db::read_together(&mut conn, |conn| {
            let (visit, upkeep) = pending.session_read_only(conn, state)?;
            let value = f(conn, state, &visit);
            Ok((visit, upkeep, value))
        });
        drop(conn);
        let (visit, upkeep, value) = read?;
        // The session's write is due whatever the page answers (an expired
        // session is removed as the visitor is sent to the login).
        if let Some(upkeep) = upkeep {
            let state = state.clone();
            actix_web::rt::task::spawn_blocking(move || {
                let done = state.pool.get().map_err(AppError::from).and_then(|mut conn| upkeep.run(&mut conn, state.config.session_idle));
                if let Err(e) = done {
                    // The session keeps its expiry: the next page view slides it.
                    tracing::warn!(error = %e, "session expiry not updated");
                }
            });
        }
        Ok((Ctx::keep(&self.req, visit), value?))
    }
}

/// The peer address. Behind a reverse proxy (TRUST_PROXY=1) it is the last
/// X-Forwarded-For entry, the one our proxy added; earlier entries are the
/// client's own claims and could be chosen to dodge throttling.
pub fn client_ip(req: &HttpRequest, trust_proxy: bool) -> String {
    if trust_proxy {
        let forwarded = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok()).and_then(|v| v.rsplit(',').next());
        if let Some(ip) = forwarded.and_then(|v| v.trim().parse::<std::net::IpAddr>().ok()) {
            return ip.to_string();
        }
    }
    req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_else(|| "unknown".into())
}

impl FromRequest for Ctx {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Ctx, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ctx::load(&req).await.map_err(Into::into) })
    }
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf_token: String,
}

/// A url-encoded form whose content can only be read after its CSRF token has
/// been checked against the session (`verify`), so no handler can skip it.
pub struct CsrfForm<T> {
    token: String,
    value: T,
}

impl<T> CsrfForm<T> {
    pub fn verify(self, ctx: &Ctx) -> Result<T, AppError> {
        if !self.token.is_empty() && ctx.csrf_matches(&self.token) {
            Ok(self.value)
        } else {
            Err(AppError::Csrf)
        }
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = body.await?;
            let token = serde_urlencoded::from_bytes::<CsrfField>(&body).map(|f| f.csrf_token).unwrap_or_default();
            let value = serde_urlencoded::from_bytes::<T>(&body).map_err(|_| AppError::BadRequest("errors.bad_form"))?;
            Ok(CsrfForm { token, value })
        })
    }
}

/// A message for the next page ("saved", "signed out"), as a catalog key.
pub fn flash_cookie(key: &str) -> Cookie<'static> {
    Cookie::build(FLASH_COOKIE, key.to_string())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::minutes(5))
        .finish()
}

pub fn session_cookie(token: &str, secure: bool) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token.to_string())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish()
}

/// A flash cookie's catalog key and, for an error, its field and the id of
/// the note keeping what was typed (`key|field|note`). A field is letters,
/// digits, `_` and `-` only (it becomes an id).
fn flash_parts(value: &str) -> (&str, Option<&str>, Option<&str>) {
    let mut parts = value.splitn(3, '|');
    let key = parts.next().unwrap_or_default();
    let field = parts.next().filter(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    let note = parts.next().filter(|n| field.is_some() && session_notes::is_note_id(n));
    (key, field, note)
}

/// 303 See Other to a local path with an error for one field of the form
/// there: the page shows it in its error summary (which takes the focus and
/// links to `#f-FIELD`) and, where the template reads `errors.by_field`,
/// next to the field. For forms whose page is not rendered by the handler
/// that checks them (a form among several on a page).
pub fn redirect_error(to: &str, field: &str, key: &str) -> HttpResponse {
    redirect(to, Some(&format!("{key}|{field}")))
}

/// At most this many fields, each cut to this many characters, are kept by
/// `redirect_error_keeping`.
const TYPED_FIELDS: usize = 8;
const TYPED_CHARS: usize = 2000;

/// `redirect_error`, keeping what was typed into the form so that the page
/// fills it in again (`typed` in templates, by field id without `f-`). The
/// values stay on the server (a session note read once, named in the flash
/// cookie), bounded in number and size. Only for free text: never pass a
/// password, a code or a token (names that look like one are dropped anyway).
pub async fn redirect_error_keeping(
    ctx: &Ctx,
    state: &web::Data<AppState>,
    to: &str,
    field: &str,
    key: &str,
    typed: &[(&str, &str)],
) -> Result<HttpResponse, AppError> {
    let secret = |name: &str| ["password", "code", "token", "pin", "secret"].iter().any(|s| name.contains(s));
    let kept: BTreeMap<String, String> = typed
        .iter()
        .filter(|(name, value)| !secret(name) && !value.trim().is_empty())
        .take(TYPED_FIELDS)
        .map(|(name, value)| (name.to_string(), value.chars().take(TYPED_CHARS).collect()))
        .collect();
    if kept.is_empty() || ctx.session_key.is_empty() {
        return Ok(redirect_error(to, field, key));
    }
    let (session_key, body) = (ctx.session_key.clone(), serde_json::to_string(&kept).map_err(|e| AppError::Internal(e.to_string()))?);
    let note = db(state, move |conn, _| session_notes::put(conn, &session_key, session_notes::FORM, &body, chrono::Duration::minutes(10))).await?;
    Ok(redirect(to, Some(&format!("{key}|{field}|{note}"))))
}

/// 303 See Other to a local path, optionally with a flash message (a
/// catalog key, or the `key|field|note` of an error).
pub fn redirect(to: &str, flash: Option<&str>) -> HttpResponse {
    let mut res = HttpResponse::SeeOther();
    res.insert_header((header::LOCATION, safe_local_path(to)));
    if let Some(key) = flash {
        res.cookie(flash_cookie(key));
    }
    res.finish()
}

/// Only same-site paths are followed after login or a language switch. Browsers
/// drop tabs and newlines and read `\\` as `/`, so any of those is refused too.
pub fn safe_local_path(path: &str) -> &str {
    let plain = !path.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    if plain && path.starts_with('/') && !path.starts_with("//") {
        path
    } else {
        "/"
    }
}

/// What `urlencode` leaves as it is: RFC 3986's unreserved characters, and `/`,
/// which a query component may hold as it is (so `?next=/my` stays readable).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');

/// Percent-encodes UTF-8 text for a query value: `&`, `=`, `+`, `#`, `%`, spaces
/// and every non-ASCII byte are escaped. The output holds only letters, digits,
/// `-_.~/` and `%XX`, which `base.html` relies on to print `here_q | safe`.
pub fn urlencode(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

#[derive(Serialize)]
struct UserView<'a> {
    name: &'a str,
    role: &'a str,
    /// The role in the page's language ("임신부", "Resident").
    role_name: &'a str,
    is_supervisor: bool,
}

#[derive(Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// Errors of a form, translated: `list` for the summary at the top (in field
/// order), `by_field` for the message next to each field.
#[derive(Serialize, Default)]
pub struct FormErrors {
    pub list: Vec<FieldError>,
    pub by_field: std::collections::HashMap<&'static str, String>,
}

impl FormErrors {
    pub fn single(field: &'static str, message: String) -> FormErrors {
        let mut errors = FormErrors::default();
        errors.push(field, message);
        errors
    }

    fn push(&mut self, field: &'static str, message: String) {
        self.by_field.entry(field).or_insert_with(|| message.clone());
        self.list.push(FieldError { field, message });
    }
}

/// Translates `(field, catalog key)` pairs into `FormErrors`.
pub fn field_errors(state: &AppState, lang: Lang, errors: &[(&'static str, &'static str)]) -> FormErrors {
    let mut out = FormErrors::default();
    for (field, key) in errors {
        out.push(field, state.i18n.t(lang, key));
    }
    out
}

/// Renders a page with the base context every template expects.
pub fn render(state: &AppState, ctx: &Ctx, template: &str, mut c: tera::Context) -> Result<HttpResponse, AppError> {
    render_status(state, ctx, template, &mut c, StatusCode::OK)
}

pub fn render_status(
    state: &AppState,
    ctx: &Ctx,
    template: &str,
    c: &mut tera::Context,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    c.insert("lang", ctx.lang.code());
    let city = state.city();
    let city_name = city.name(ctx.lang);
    c.insert("city_name", city_name);
    // The city's contact lines (`city`) only go to the pages that show them (home, not open).
    c.insert("csrf_token", &ctx.csrf_token);
    c.insert("here", &ctx.here);
    let flashed_error = match (&ctx.flash, &ctx.flash_field) {
        (Some(key), Some(field)) => Some((field, state.i18n.t(ctx.lang, key))),
        _ => None,
    };
    if !c.contains_key("typed") {
        c.insert("typed", &ctx.typed);
    }
    if !c.contains_key("errors") {
        match &flashed_error {
            Some((field, message)) => c.insert(
                "errors",
                &serde_json::json!({"list": [{"field": field, "message": message}], "by_field": {field.as_str(): message}}),
            ),
            None => c.insert("errors", &FormErrors::default()),
        }
    }
    // The error summary's condition, decided here: a dotted lookup costs tera two allocations per part.
    let has_errors = c.get("errors").and_then(|e| e.get("list")).and_then(|l| l.as_array()).is_some_and(|l| !l.is_empty());
    c.insert("has_errors", &has_errors);
    let role_name = ctx.user.as_ref().map(|user| state.i18n.t(ctx.lang, &format!("roles.{}", user.role))).unwrap_or_default();
    if let Some(user) = &ctx.user {
        c.insert("user", &UserView { name: &user.name, role: &user.role, role_name: &role_name, is_supervisor: user.is_supervisor });
    }
    let flash = match (&ctx.flash, &flashed_error) {
        (Some(key), None) => Some(state.i18n.t(ctx.lang, key)),
        _ => None,
    };
    // Present and empty when there is none: tera builds an error message for every missing variable a page tests.
    c.insert("flash", flash.as_deref().unwrap_or_default());
    // The flash and the error summary above the content: rendered only when there is one.
    let notices = if flash.is_some() || has_errors { state.templates.render(ctx.lang, "_notices.html", c)? } else { String::new() };
    let who = crate::state::NavFor::of(ctx.user.as_ref().map(|u| (u.role.as_str(), u.is_supervisor)));
    // Percent-encoded: only unreserved characters, `/` and `%XX` (safe in HTML as is).
    let here_q = urlencode(&ctx.here);
    let idle_secs = state.config.session_idle.as_secs().to_string();
    let frame = crate::state::PageFrame {
        signed_in: ctx.user.is_some(),
        values: layout::Values {
            csrf_token: &ctx.csrf_token,
            city_name,
            here_q: &here_q,
            idle_secs: &idle_secs,
            nav_links: state.templates.nav_links(ctx.lang, who),
            user_name: ctx.user.as_ref().map(|u| u.name.as_str()).unwrap_or_default(),
            role_name: &role_name,
            notices: &notices,
            ..Default::default()
        },
    };
    let body = state.templates.render_page(ctx.lang, template, c, frame)?;
    let mut res = HttpResponse::build(status);
    res.content_type("text/html; charset=utf-8");
    if ctx.user.is_some() {
        // Personal pages must not be kept by shared or proxy caches.
        res.insert_header((header::CACHE_CONTROL, "private, no-store"));
    }
    if ctx.flash.is_some() {
        let mut gone = flash_cookie("");
        gone.make_removal();
        res.cookie(gone);
    }
    Ok(res.body(body))
}

/// Runs blocking database work off the async executor.
pub async fn db<T, F>(state: &web::Data<AppState>, f: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&mut crate::db::DbConn, &AppState) -> Result<T, AppError> + Send + 'static,
{
    let state = state.clone();
    web::block(move || {
        let mut conn = state.pool.get()?;
        f(&mut conn, &state)
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(safe_local_path("/my"), "/my");
        assert_eq!(safe_local_path("//evil.example"), "/");
        assert_eq!(safe_local_path("https://evil.example"), "/");
        assert_eq!(safe_local_path("/\\evil"), "/");
        assert_eq!(safe_local_path("/\t/evil.example"), "/");
        assert_eq!(safe_local_path("/my?x=1"), "/my?x=1");
    }

    #[test]
    fn a_flash_names_its_field_and_note_only_when_they_are_well_formed() {
        let note = "ab".repeat(32);
        assert_eq!(flash_parts("saved"), ("saved", None, None));
        assert_eq!(flash_parts("e.key|day"), ("e.key", Some("day"), None));
        assert_eq!(flash_parts(&format!("e.key|cap-1|{note}")), ("e.key", Some("cap-1"), Some(note.as_str())));
        assert_eq!(flash_parts("e.key|bad field|x"), ("e.key", None, None));
        assert_eq!(flash_parts(&format!("e.key||{note}")), ("e.key", None, None));
        assert_eq!(flash_parts("e.key|day|../../etc"), ("e.key", Some("day"), None));
    }

    #[test]
    fn urlencode_keeps_unreserved_characters_and_escapes_the_rest() {
        assert_eq!(urlencode("가사 돌봄"), "%EA%B0%80%EC%82%AC%20%EB%8F%8C%EB%B4%84");
        assert_eq!(urlencode("a&b=c?d#e+f%g;h,i:j@k!l'm(n)*o[p]q$"), "a%26b%3Dc%3Fd%23e%2Bf%25g%3Bh%2Ci%3Aj%40k%21l%27m%28n%29%2Ao%5Bp%5Dq%24");
        assert_eq!(urlencode("/my/visits?page=2"), "/my/visits%3Fpage%3D2");
        assert_eq!(urlencode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(urlencode("\r\n\t\u{0}"), "%0D%0A%09%00");
    }
}
