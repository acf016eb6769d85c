//! The JSON API under `/api/v1`, for a city's other systems, an agency's
//! scheduling software or a dashboard. Personal access tokens (made and
//! revoked on `/account/tokens`) authenticate it; the session cookie does not.
//! The OpenAPI document is generated from the handlers and DTOs.

pub mod auth;
pub mod dto;
pub mod handlers;
pub mod pages;
pub mod tokens;

use crate::web::routes::Routes;
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

pub fn configure(r: &mut Routes) {
    pages::configure(r);
    r.scope(
        "/api/v1",
        |r| {
            r.get("/openapi.json", openapi_json)
                .get("/programs", handlers::programs)
                .get("/clinic/sessions", handlers::clinic_sessions)
                .get("/me/applications", handlers::my_applications)
                .get("/me/visits", handlers::my_visits)
                .post("/me/visits", handlers::book_visit)
                .get("/me/visit-slots", handlers::my_visit_slots)
                .post("/me/visits/{id}/cancel", handlers::cancel_visit)
                .get("/me/clinic-bookings", handlers::my_clinic_bookings)
                .post("/me/clinic-bookings", handlers::book_clinic)
                .post("/me/clinic-bookings/{id}/cancel", handlers::cancel_clinic)
                .get("/agency/visits", handlers::agency_visits)
                .get("/agency/helpers", handlers::agency_helpers)
                .post("/agency/visits/{id}/confirm", handlers::confirm_visit)
                .post("/agency/visits/{id}/complete", handlers::complete_visit)
                .get("/staff/reports/results", handlers::results_report);
        },
        |scope| {
            scope
                .wrap(from_fn(auth::json_errors))
                .app_data(web::JsonConfig::default().limit(64 * 1024))
                .default_service(web::to(not_found))
        },
    );
}
