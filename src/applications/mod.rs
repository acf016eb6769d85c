//! Resident applications for prenatal housework care: dated eligibility rules,
//! a guided form with a document upload, staff review, the waiting list.

pub mod documents;
pub mod models;
pub mod resident_routes;
pub mod rules;
pub mod rules_admin;
pub mod service;
pub mod staff_desk;
pub mod staff_routes;
pub mod views;

use crate::web::routes::Routes;

pub fn configure(r: &mut Routes) {
    resident_routes::configure(r);
    // Before staff_routes: /staff/applications/export is not an application's {id}.
    staff_desk::configure(r);
    staff_routes::configure(r);
}
