//! The JSON API under `/api/v1`, for a city's other systems, an agency's
//! scheduling software or a dashboard. Personal access tokens (made and
//! revoked on `/account/tokens`) authenticate it; the session cookie does not.
//! The OpenAPI document is generated from the handlers and DTOs.

pub mod auth;
pub mod dto;
pub mod handlers;
pub mod pages;
pub mod tokens;

use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::AppError;

#[derive(OpenApi)]
#[openapi(
    info(title = "naju-helper API", version = "1", description = "Programs, bookings and reports of the city's maternal-health programs. \
        Authenticate with a personal access token: `Authorization: Bearer <token>`. Errors are `{\"error\", \"message\"}` \
        in the language of Accept-Language (ko, en)."),
    paths(
        handlers::programs,
        handlers::clinic_sessions,
        handlers::my_applications,
        handlers::my_visits,
        handlers::my_visit_slots,
        handlers::book_visit,
        handlers::cancel_visit,
        handlers::my_clinic_bookings,
        handlers::book_clinic,
        handlers::cancel_clinic,
        handlers::agency_visits,
        handlers::agency_helpers,
        handlers::confirm_visit,
        handlers::complete_visit,
        handlers::results_report,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "catalog", description = "Programs and open clinic sessions (any token)"),
        (name = "resident", description = "A resident's own applications, visits and clinic bookings"),
        (name = "agency", description = "An agency's own visits"),
        (name = "staff", description = "Reports for the health center's staff"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    pages::configure(cfg);
    cfg.service(
        web::scope("/api/v1")
            .wrap(from_fn(auth::json_errors))
            .app_data(web::JsonConfig::default().limit(64 * 1024))
            .route("/openapi.json", web::get().to(openapi_json))
            .route("/programs", web::get().to(handlers::programs))
            .route("/clinic/sessions", web::get().to(handlers::clinic_sessions))
            .route("/me/applications", web::get().to(handlers::my_applications))
            .route("/me/visits", web::get().to(handlers::my_visits))
            .route("/me/visits", web::post().to(handlers::book_visit))
            .route("/me/visit-slots", web::get().to(handlers::my_visit_slots))
            .route("/me/visits/{id}/cancel", web::post().to(handlers::cancel_visit))
            .route("/me/clinic-bookings", web::get().to(handlers::my_clinic_bookings))
            .route("/me/clinic-bookings", web::post().to(handlers::book_clinic))
            .route("/me/clinic-bookings/{id}/cancel", web::post().to(handlers::cancel_clinic))
            .route("/agency/visits", web::get().to(handlers::agency_visits))
            .route("/agency/helpers", web::get().to(handlers::agency_helpers))
            .route("/agency/visits/{id}/confirm", web::post().to(handlers::confirm_visit))
            .route("/agency/visits/{id}/complete", web::post().to(handlers::complete_visit))
            .route("/staff/reports/results", web::get().to(handlers::results_report))
            .default_service(web::to(not_found)),
    );
}
