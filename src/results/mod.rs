//! Results tracking: yearly targets, actuals counted from the app's records
//! or imported/entered, achievement rates, quarterly breakdown, budget, and
//! CSV/XLSX/JSON output.

pub mod calc;
pub mod export;
pub mod import;
pub mod rollup;
pub mod routes;
pub mod service;
