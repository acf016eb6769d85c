//! One error type for the app. Users see a short translated message; the cause
//! goes to the log (without personal data).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("csrf token missing or wrong")]
    Csrf,
    #[error("login required")]
    LoginRequired { next: String },
    #[error("too many failed logins")]
    TooManyAttempts { minutes: i64 },
    /// Bad input; the string is a message-catalog key.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// A rule or state conflict (full slot, already applied); catalog key.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("database error: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("database pool error: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("template error: {}", error_chain(.0))]
    Template(#[from] tera::Error),
    #[error("internal error: {0}")]
    Internal(String),
    /// Too many logins waiting for their password check: try again shortly.
    #[error("busy")]
    Busy,
}

impl AppError {
    /// The message-catalog key shown to the user.
    pub fn message_key(&self) -> &'static str {
        match self {
            AppError::NotFound => "errors.not_found",
            AppError::Forbidden => "errors.forbidden",
            AppError::Csrf => "errors.csrf",
            AppError::LoginRequired { .. } => "errors.login_required",
            AppError::TooManyAttempts { .. } => "errors.too_many_attempts",
            AppError::BadRequest(k) | AppError::Conflict(k) => k,
            AppError::Busy => "errors.busy",
            _ => "errors.internal",
        }
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::Internal(format!("blocking task failed: {e}"))
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            AppError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A bare response; `web::pages::error_pages` renders the page in the
    /// visitor's language around it.
    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::LoginRequired { next } => HttpResponse::SeeOther()
                .insert_header(("Location", format!("/login?next={}", crate::web::urlencode(next))))
                .finish(),
            AppError::Busy => HttpResponse::ServiceUnavailable().insert_header(("Retry-After", "5")).finish(),
            _ => HttpResponse::build(self.status_code()).finish(),
        }
    }
}

/// An error with its causes, for the log (tera puts the useful part in `source`).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
