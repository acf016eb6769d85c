//! Middleware: the request's span, log line and metrics (no personal data),
//! translated error pages, the anonymous-session cookie and a cross-site form guard.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, HttpRequest, HttpResponse};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};

use super::{session_cookie, NewSessionCookie, LANG_COOKIE, SESSION_COOKIE};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::monitoring::{method_label, UNMATCHED_ROUTE};
use crate::state::AppState;

/// The root span of every request (tracing-actix-web): its request id, the
/// method and the route pattern, so every event logged while serving it
/// carries them. Never the path or query string (ids, personal data), the
/// client's address or user agent.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(req: &ServiceRequest) -> Span {
        tracing::info_span!(
            "request",
            request_id = %request_id(req.request()),
            method = method_label(req.method()),
            route = %req.match_pattern().as_deref().unwrap_or(UNMATCHED_ROUTE),
        )
    }

    fn on_request_end<B: MessageBody>(_span: Span, _outcome: &Result<ServiceResponse<B>, Error>) {}
}

fn request_id(req: &HttpRequest) -> String {
    req.extensions().get::<RequestId>().map(ToString::to_string).unwrap_or_default()
}

/// Per answered request: one log line (request id, method, route pattern,
/// status, duration), the request metrics, and the id as `X-Request-Id` so a
/// report from a user can be found in the log.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let mut res = next.call(req).await?;
    let elapsed = started.elapsed();
    let request = res.request();
    let route = request.match_pattern();
    let route = route.as_deref().unwrap_or(UNMATCHED_ROUTE);
    let status = res.status().as_u16();
    if let Some(state) = request.app_data::<web::Data<AppState>>() {
        state.metrics.request(request.method(), route, status, elapsed);
    }
    let id = request_id(request);
    tracing::info!(
        request_id = %id,
        method = method_label(request.method()),
        route,
        status,
        ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    if let Ok(value) = header::HeaderValue::from_str(&id) {
        res.headers_mut().insert(header::HeaderName::from_static("x-request-id"), value);
    }
    Ok(res)
}

/// Turns every error response (from a handler's `AppError`, an extractor or an
/// unknown route) into a page in the visitor's language that leaks nothing.
pub async fn error_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // The request must not be cloned before routing (the router needs it
    // uniquely), so it is taken from the response afterwards.
    let res = next.call(req).await?.map_into_boxed_body();
    let http_req = res.request().clone();
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(res);
    }
    let Some(err) = res.response().error() else {
        return Ok(res);
    };
    let Some(state) = http_req.app_data::<web::Data<AppState>>() else {
        return Ok(res);
    };
    if status.is_server_error() {
        tracing::error!(error = %err, "request failed");
    }
    let lang = http_req.cookie(LANG_COOKIE).and_then(|c| Lang::from_code(c.value())).unwrap_or(Lang::Ko);
    let app_error = err.as_error::<AppError>();
    let message = match app_error {
        Some(AppError::TooManyAttempts { minutes }) => {
            state.i18n.t_with(lang, "errors.too_many_attempts_minutes", &[("minutes", &minutes.to_string())])
        }
        Some(e) => state.i18n.t(lang, e.message_key()),
        None => state.i18n.t(
            lang,
            match status {
                StatusCode::NOT_FOUND => "errors.not_found",
                StatusCode::FORBIDDEN => "errors.forbidden",
                StatusCode::PAYLOAD_TOO_LARGE => "errors.too_large",
                s if s.is_client_error() => "errors.bad_request",
                _ => "errors.internal",
            },
        ),
    };
    let mut c = tera::Context::new();
    c.insert("lang", lang.code());
    c.insert("city_name", state.city().name(lang));
    c.insert("status", &status.as_u16());
    c.insert("message", &message);
    let body = match state.templates.render(lang, "error.html", &c) {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "error page failed to render");
            message
        }
    };
    let mut page = HttpResponse::build(status);
    page.content_type("text/html; charset=utf-8");
    // Keep cookies set on the way (a new session, a cleared flash message).
    for cookie in res.response().headers().get_all(header::SET_COOKIE) {
        page.append_header((header::SET_COOKIE, cookie.clone()));
    }
    Ok(ServiceResponse::new(http_req, page.body(body)))
}

/// Sends the cookie of a session created during this request, and refuses
/// state-changing requests that the browser marks as cross-site.
pub async fn session_guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let cross_site = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site");
    if !safe && cross_site {
        return Ok(req.error_response(AppError::Csrf).map_into_right_body());
    }
    let mut res = next.call(req).await?.map_into_left_body();
    let new_cookie = res.request().extensions().get::<NewSessionCookie>().cloned();
    let handler_set_one = res.response().cookies().any(|c| c.name() == SESSION_COOKIE);
    if let (Some(NewSessionCookie(token)), false) = (new_cookie, handler_set_one) {
        let secure = res.request().connection_info().scheme() == "https";
        res.response_mut().add_cookie(&session_cookie(&token, secure))?;
        // Pages carrying a per-visitor token must not be cached by proxies.
        res.response_mut()
            .headers_mut()
            .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("private, no-store"));
    }
    Ok(res)
}
