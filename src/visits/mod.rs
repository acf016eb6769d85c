//! Home visits of the housework program: the resident books within her quota,
//! the agency confirms, assigns and completes, staff follow usage and settle.

pub mod agency_routes;
pub mod models;
pub mod resident_routes;
pub mod rules;
pub mod service;
pub mod staff_routes;
pub mod views;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    resident_routes::configure(cfg);
    agency_routes::configure(cfg);
    staff_routes::configure(cfg);
}
