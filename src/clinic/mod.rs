//! The Saturday open health center (2nd and 4th Saturday, 09:00–13:00):
//! programs and sessions as data, slot and class booking with a waiting list,
//! the day sheet with check-in and walk-ins.

pub mod models;
pub mod routes;
pub mod rules;
pub mod service;
pub mod staff_routes;
pub mod steps;

use crate::web::routes::Routes;

pub fn configure(r: &mut Routes) {
    routes::configure(r);
    staff_routes::configure(r);
}
