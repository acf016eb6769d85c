//! Who is calling the API (a bearer token, never the session cookie) and how
//! its errors look: `{"error": code, "message": text}` in the caller's
//! language (Accept-Language), whatever failed (handler, extractor, route).

use std::future::Future;
use std::pin::Pin;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error, FromRequest, HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use super::tokens;
use crate::accounts::models::{Role, User};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("token missing or invalid")]
    Unauthorized,
    #[error(transparent)]
    App(#[from] AppError),
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized | ApiError::App(AppError::LoginRequired { .. }) => StatusCode::UNAUTHORIZED,
            ApiError::App(e) => e.status_code(),
        }
    }

    /// A bare response; `json_errors` writes the body in the caller's language.
    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).finish()
    }
}

/// An error as the API answers it.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable kind: unauthorized, forbidden, not_found, bad_request, conflict, internal.
    #[schema(example = "conflict")]
    pub error: String,
    /// Which rule refused, for `bad_request` and `conflict` (a message-catalog key).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "visits.errors.slot_full")]
    pub reason: Option<String>,
    /// Human-readable, in Korean or English (Accept-Language).
    pub message: String,
}

/// The language asked for in Accept-Language (the first of ko/en listed), else Korean.
pub fn lang_of(req: &HttpRequest) -> Lang {
    req.headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').find_map(|part| Lang::from_code(part.split([';', '-']).next().unwrap_or("").trim().to_ascii_lowercase().as_str())))
        .unwrap_or(Lang::Ko)
}

fn describe(app: &AppError) -> (&'static str, Option<&'static str>) {
    match app {
        AppError::NotFound => ("not_found", None),
        AppError::Forbidden | AppError::Csrf => ("forbidden", None),
        AppError::LoginRequired { .. } => ("unauthorized", None),
        AppError::TooManyAttempts { .. } => ("too_many_requests", None),
        AppError::BadRequest(k) => ("bad_request", Some(*k)),
        AppError::Conflict(k) => ("conflict", Some(*k)),
        _ => ("internal", None),
    }
}

/// Replaces every error response under `/api` with the JSON error body.
pub async fn json_errors(req: ServiceRequest, next: Next<impl MessageBody + 'static>) -> Result<ServiceResponse<BoxBody>, Error> {
    let res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(res);
    }
    let http_req = res.request().clone();
    let err = res.response().error();
    let app = err.and_then(|e| e.as_error::<ApiError>());
    let (code, reason) = match (app, err.and_then(|e| e.as_error::<AppError>())) {
        (Some(ApiError::Unauthorized), _) => ("unauthorized", None),
        (Some(ApiError::App(e)), _) | (None, Some(e)) => describe(e),
        (None, None) => match status {
            StatusCode::NOT_FOUND => ("not_found", None),
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", None),
            StatusCode::PAYLOAD_TOO_LARGE => ("too_large", None),
            s if s.is_client_error() => ("bad_request", None),
            _ => ("internal", None),
        },
    };
    if status.is_server_error() {
        if let Some(e) = err {
            tracing::error!(route = http_req.match_pattern().as_deref().unwrap_or("unmatched"), error = %e, "API request failed");
        }
    }
    let message_key = match (code, reason) {
        (_, Some(k)) => k,
        ("unauthorized", _) => "api.errors.unauthorized",
        ("forbidden", _) => "errors.forbidden",
        ("not_found", _) => "errors.not_found",
        ("too_large", _) => "errors.too_large",
        ("too_many_requests", _) => "errors.too_many_attempts",
        ("internal", _) => "errors.internal",
        _ => "errors.bad_request",
    };
    let lang = lang_of(&http_req);
    let message = match http_req.app_data::<web::Data<AppState>>() {
        Some(state) => state.i18n.t(lang, message_key),
        None => code.to_string(),
    };
    let body = ErrorBody { error: code.to_string(), reason: reason.map(str::to_string), message };
    let mut out = HttpResponse::build(status);
    if status == StatusCode::UNAUTHORIZED {
        out.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
    }
    Ok(ServiceResponse::new(http_req, out.json(body)))
}

/// The caller, known by her `Authorization: Bearer <token>` header.
pub struct ApiUser(pub User);

impl ApiUser {
    /// The caller if her role is one of `roles`; 403 otherwise.
    pub fn require(&self, roles: &[Role]) -> Result<&User, ApiError> {
        if roles.contains(&self.0.role()) {
            Ok(&self.0)
        } else {
            Err(AppError::Forbidden.into())
        }
    }

    /// A contractor's agency; 403 for other roles or a contractor without one.
    pub fn agency_id(&self) -> Result<String, ApiError> {
        Ok(self.require(&[Role::Contractor])?.agency_id.clone().ok_or(AppError::Forbidden)?)
    }
}

impl FromRequest for ApiUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<ApiUser, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let (Some(token), Some(state)) = (token, state) else { return Err(ApiError::Unauthorized) };
            let user = crate::web::db(&state, move |conn, state| tokens::authenticate(conn, &state.config.secret_key, &token)).await?;
            user.map(ApiUser).ok_or(ApiError::Unauthorized)
        })
    }
}
