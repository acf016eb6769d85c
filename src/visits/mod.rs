//! Home visits of the housework program: the resident books within her quota,
//! the agency confirms, assigns and completes, staff follow usage and settle.

pub mod agency_routes;
pub mod models;
pub mod resident_routes;
pub mod rules;
pub mod service;
pub mod staff_routes;
pub mod statement;
pub mod views;

use crate::web::routes::Routes;

pub fn configure(r: &mut Routes) {
    resident_routes::configure(r);
    agency_routes::configure(r);
    staff_routes::configure(r);
}
