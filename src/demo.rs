//! Demo data: Naju's 2024 city file, the seed documents' figures, demo
//! helpers and one account per role (two agencies), loaded on the first start
//! of an empty database (unless DEMO_DATA=false) and by `demo --reset`.

use diesel::prelude::*;

use crate::accounts::domain::{Email, Password, PersonName, Phone};
use crate::accounts::models::{self, Role};
use crate::accounts::service::{create_account, NewAccount, ValidAccount};
use crate::db::{schema, write_tx, DbConn};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::notify::Notifier;

pub const STAFF_EMAIL: &str = "staff@demo.naju-helper.kr";
pub const STAFF_PASSWORD: &str = "staff-demo-2026";
pub const CONTRACTOR_EMAIL: &str = "agency@demo.naju-helper.kr";
pub const CONTRACTOR_PASSWORD: &str = "agency-demo-2026";
/// The second agency (the eup and myeon), same password.
pub const CONTRACTOR2_EMAIL: &str = "agency2@demo.naju-helper.kr";
pub const RESIDENT_EMAIL: &str = "resident@demo.naju-helper.kr";
pub const RESIDENT_PASSWORD: &str = "resident-demo-2026";

pub struct DemoLogin {
    pub role: &'static str,
    pub email: &'static str,
    pub password: &'static str,
}

pub const LOGINS: [DemoLogin; 4] = [
    DemoLogin { role: "staff", email: STAFF_EMAIL, password: STAFF_PASSWORD },
    DemoLogin { role: "contractor", email: CONTRACTOR_EMAIL, password: CONTRACTOR_PASSWORD },
    DemoLogin { role: "contractor", email: CONTRACTOR2_EMAIL, password: CONTRACTOR_PASSWORD },
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

/// The city the demo runs: Naju from 2024, with both programs and two agencies.
pub const CITY_FILE: &str = "naju-2024.toml";
/// The seed documents' figures (targets, actuals, budgets) for the results pages.
pub const SEED_FIGURES: [&str; 2] = [include_str!("../tests/data/seed-000-saturday-clinic.csv"), include_str!("../tests/data/seed-001-housework.csv")];

/// Demo helpers (가사관리사) per agency code.
const HELPERS: [(&str, &str, &str); 4] = [
    ("naju-care", "김도우미", "010-2000-0001"),
    ("naju-care", "최도우미", "010-2000-0002"),
    ("naju-care", "박도우미", "010-2000-0003"),
    ("yeongsan-care", "정도우미", "010-3000-0001"),
];

fn load(conn: &mut DbConn, notifier: &Notifier) -> Result<(), AppError> {
    // Each part is skipped when present, so a load cut short can be resumed.
    let text = crate::city::shipped(CITY_FILE).ok_or_else(|| AppError::Internal("demo city file missing".into()))?;
    let file = crate::city::parse(text).map_err(|e| AppError::Internal(format!("demo city file: {e}")))?;
    let today = crate::time::today_seoul();
    crate::city::import::apply(conn, &file, today)?;
    let has_actuals = schema::indicator_actuals::table.count().get_result::<i64>(conn)? > 0;
    if !has_actuals {
        for csv in SEED_FIGURES {
            crate::results::import::import_csv(conn, csv, None)?;
        }
    }
    crate::clinic::service::generate_sessions(conn, today, 3)?;
    let agency_id = |conn: &mut DbConn, code: &str| -> Result<String, AppError> {
        Ok(schema::agencies::table.filter(schema::agencies::code.eq(code)).select(schema::agencies::id).first(conn)?)
    };
    let has_helpers = schema::helpers::table.count().get_result::<i64>(conn)? > 0;
    if !has_helpers {
        for (code, name, phone) in HELPERS {
            let id = agency_id(conn, code)?;
            crate::agencies::add_helper(conn, &id, name, phone)?;
        }
    }
    let people = [
        (Role::Staff, true, "김보건 (보건행정과)", STAFF_EMAIL, "061-339-2154", STAFF_PASSWORD, None),
        (Role::Contractor, false, "나주가사돌봄센터", CONTRACTOR_EMAIL, "061-330-0000", CONTRACTOR_PASSWORD, Some("naju-care")),
        (Role::Contractor, false, "영산강돌봄", CONTRACTOR2_EMAIL, "061-330-1111", CONTRACTOR_PASSWORD, Some("yeongsan-care")),
        (Role::Resident, false, "이하늘", RESIDENT_EMAIL, "010-1234-5678", RESIDENT_PASSWORD, None),
    ];
    for (role, is_supervisor, name, email, phone, password, agency) in people {
        if crate::accounts::models::email_taken(conn, email)? {
            continue;
        }
        let valid = account(name, email, phone, password)?;
        let password_hash = crate::accounts::password::hash(password)?;
        let agency = agency.map(|code| agency_id(conn, code)).transpose()?;
        create_account(
            conn,
            notifier,
            NewAccount { account: valid.profile(), role, is_supervisor, lang: Lang::Ko, email_kind: None, password_hash: &password_hash, agency_id: agency.as_deref() },
        )?;
    }
    Ok(())
}

/// Deletes everything and loads the demo data again.
pub fn reset(conn: &mut DbConn, notifier: &Notifier) -> Result<(), AppError> {
    write_tx(conn, |conn| {
        diesel::delete(schema::access_log::table).execute(conn)?;
        // The log restarts from its first entry: no retention horizon either.
        diesel::delete(schema::retention_runs::table).execute(conn)?;
        diesel::delete(schema::retention_settings::table).execute(conn)?;
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
        diesel::delete(schema::helpers::table).execute(conn)?;
        diesel::delete(schema::agency_districts::table).execute(conn)?;
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
        diesel::delete(schema::agencies::table).execute(conn)?;
        diesel::delete(schema::districts::table).execute(conn)?;
        diesel::delete(schema::city_settings::table).execute(conn)?;
        Ok(())
    })?;
    load(conn, notifier)
}
