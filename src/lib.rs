//! naju-helper: booking web app for a city health center's maternal programs.

pub mod accounts;
pub mod api;
pub mod agencies;
pub mod applications;
pub mod audit;
pub mod backup;
pub mod bench;
pub mod city;
pub mod clinic;
pub mod config;
pub mod crypto;
pub mod db;
pub mod demo;
pub mod error;
pub mod i18n;
pub mod kept;
pub mod logging;
pub mod monitoring;
pub mod notify;
pub mod programs;
pub mod results;
pub mod retention;
pub mod schedule;
pub mod search;
pub mod startup;
pub mod state;
pub mod time;
pub mod visits;
pub mod web;

pub use config::Config;
pub use startup::Application;
