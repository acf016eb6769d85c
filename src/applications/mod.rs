//! Resident applications for prenatal housework care: dated eligibility rules,
//! a guided form with a document upload, staff review, the waiting list.

pub mod documents;
pub mod models;
pub mod resident_routes;
pub mod rules;
pub mod rules_admin;
pub mod service;
pub mod staff_routes;
pub mod views;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    resident_routes::configure(cfg);
    staff_routes::configure(cfg);
}
