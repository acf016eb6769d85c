//! Demo data: one account per role and the two programs, loaded on the first
//! start of an empty database (unless DEMO_DATA=false) and by `demo --reset`.

use diesel::prelude::*;

use crate::accounts::domain::{Email, Password, PersonName, Phone};
use crate::accounts::models::{self, Role};
use crate::accounts::service::{create_account, NewAccount, ValidAccount};
use crate::db::{schema, write_tx, DbConn};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::notify::Notifier;
use crate::programs;

pub const STAFF_EMAIL: &str = "staff@demo.naju-helper.kr";
pub const STAFF_PASSWORD: &str = "staff-demo-2026";
pub const CONTRACTOR_EMAIL: &str = "agency@demo.naju-helper.kr";
pub const CONTRACTOR_PASSWORD: &str = "agency-demo-2026";
pub const RESIDENT_EMAIL: &str = "resident@demo.naju-helper.kr";
pub const RESIDENT_PASSWORD: &str = "resident-demo-2026";

pub struct DemoLogin {
    pub role: &'static str,
    pub email: &'static str,
    pub password: &'static str,
}

pub const LOGINS: [DemoLogin; 3] = [
    DemoLogin { role: "staff", email: STAFF_EMAIL, password: STAFF_PASSWORD },
    DemoLogin { role: "contractor", email: CONTRACTOR_EMAIL, password: CONTRACTOR_PASSWORD },
    DemoLogin { role: "resident", email: RESIDENT_EMAIL, password: RESIDENT_PASSWORD },
];

fn account(name: &str, email: &str, phone: &str, password: &str) -> Result<ValidAccount, AppError> {
    let bad = |k: &str| AppError::Internal(format!("demo account invalid: {k}"));
    Ok(ValidAccount {
        name: PersonName::parse(name).map_err(bad)?,
        email: Email::parse(email).map_err(bad)?,
        phone: Phone::parse(phone).map_err(bad)?,
        password: Password::parse(password, password).map_err(bad)?,
    })
}

/// Loads the demo data if the database has no users yet. Returns true if loaded.
pub fn load_if_empty(conn: &mut DbConn, notifier: &Notifier) -> Result<bool, AppError> {
    if models::count(conn)? > 0 {
        return Ok(false);
    }
    load(conn, notifier)?;
    Ok(true)
}

fn load(conn: &mut DbConn, notifier: &Notifier) -> Result<(), AppError> {
    // Each part is skipped when present, so a load cut short can be resumed.
    write_tx(conn, |conn| Ok(programs::seed(conn)?))?;
    let housework = crate::applications::service::program_id(conn, programs::HOUSEWORK)?;
    if crate::applications::rules::list(conn, &housework)?.is_empty() {
        crate::applications::rules_admin::seed_naju(conn, &housework)?;
    }
    crate::clinic::service::seed_programs(conn)?;
    crate::results::service::seed(conn)?;
    crate::clinic::service::generate_sessions(conn, crate::time::today_seoul(), 3)?;
    if crate::visits::models::templates(conn)?.is_empty() {
        // The agency works Monday to Friday, visits start at 09:00 and 13:00.
        let week: Vec<(i32, i32, i32)> = (0..5).flat_map(|d| [(d, 9 * 60, 3), (d, 13 * 60, 3)]).collect();
        crate::visits::service::save_templates(conn, &week, crate::time::today_seoul())?;
    }
    let people = [
        (Role::Staff, true, "김보건 (보건행정과)", STAFF_EMAIL, "061-339-2154", STAFF_PASSWORD),
        (Role::Contractor, false, "나주가사돌봄센터", CONTRACTOR_EMAIL, "061-330-0000", CONTRACTOR_PASSWORD),
        (Role::Resident, false, "이하늘", RESIDENT_EMAIL, "010-1234-5678", RESIDENT_PASSWORD),
    ];
    for (role, is_supervisor, name, email, phone, password) in people {
        if crate::accounts::models::email_taken(conn, email)? {
            continue;
        }
        let valid = account(name, email, phone, password)?;
        let password_hash = crate::accounts::password::hash(password)?;
        create_account(
            conn,
            notifier,
            NewAccount { account: &valid, role, is_supervisor, lang: Lang::Ko, email_kind: None, password_hash: &password_hash },
        )?;
    }
    Ok(())
}

/// Deletes everything and loads the demo data again.
pub fn reset(conn: &mut DbConn, notifier: &Notifier) -> Result<(), AppError> {
    write_tx(conn, |conn| {
        diesel::delete(schema::access_log::table).execute(conn)?;
        diesel::delete(schema::indicator_actuals::table).execute(conn)?;
        diesel::delete(schema::indicator_targets::table).execute(conn)?;
        diesel::delete(schema::indicators::table).execute(conn)?;
        diesel::delete(schema::report_settings::table).execute(conn)?;
        diesel::delete(schema::budgets::table).execute(conn)?;
        diesel::delete(schema::budget_executions::table).execute(conn)?;
        diesel::delete(schema::clinic_walkins::table).execute(conn)?;
        diesel::delete(schema::clinic_bookings::table).execute(conn)?;
        diesel::delete(schema::children::table).execute(conn)?;
        diesel::delete(schema::clinic_slots::table).execute(conn)?;
        diesel::delete(schema::clinic_sessions::table).execute(conn)?;
        diesel::delete(schema::clinic_programs::table).execute(conn)?;
        diesel::delete(schema::visits::table).execute(conn)?;
        diesel::delete(schema::visit_quotas::table).execute(conn)?;
        diesel::delete(schema::visit_slots::table).execute(conn)?;
        diesel::delete(schema::visit_slot_templates::table).execute(conn)?;
        diesel::delete(schema::agency_holidays::table).execute(conn)?;
        diesel::delete(schema::application_events::table).execute(conn)?;
        diesel::delete(schema::application_documents::table).execute(conn)?;
        diesel::delete(schema::applications::table).execute(conn)?;
        diesel::delete(schema::capacity_counters::table).execute(conn)?;
        diesel::delete(schema::rule_sets::table).execute(conn)?;
        diesel::delete(schema::outbox::table).execute(conn)?;
        diesel::delete(schema::sessions::table).execute(conn)?;
        diesel::delete(schema::password_resets::table).execute(conn)?;
        diesel::delete(schema::login_throttle::table).execute(conn)?;
        diesel::delete(schema::programs::table).execute(conn)?;
        diesel::delete(schema::users::table).execute(conn)?;
        Ok(())
    })?;
    load(conn, notifier)
}
