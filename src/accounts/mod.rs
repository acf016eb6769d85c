//! Accounts for the three roles: residents sign up (confirming their address
//! by an emailed link); staff create staff and contractor accounts. Sessions, login throttling and password hashing.

pub mod dashboard;
pub mod domain;
pub mod mobile;
pub mod models;
pub mod notices;
pub mod password;
pub mod reset;
pub mod routes;
pub mod service;
pub mod session_notes;
pub mod sessions;
pub mod signup;
pub mod throttle;
