//! Upgrading an installation: a database made before the city-ready
//! migration (one agency, its slots and visits) keeps every row, and what
//! was there becomes the first agency's.

mod common;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use naju_helper::db::{self, DbConn};

/// Migrations before the city-ready one (2026-11-30-000008_city).
const BEFORE_CITY: usize = 7;

fn run_first(conn: &mut DbConn, n: usize) {
    for _ in 0..n {
        match conn {
            DbConn::Sqlite(c) => c.run_next_migration(db::SQLITE_MIGRATIONS).map(|_| ()),
            DbConn::Pg(c) => c.run_next_migration(db::POSTGRES_MIGRATIONS).map(|_| ()),
        }
        .expect("migration");
    }
}

#[test]
fn an_installation_from_before_agencies_keeps_its_slots_visits_and_agency_account() {
    let (data_dir, url, pg) = common::fresh_database();
    {
        let (pool, _) = db::build_pool(&url, 2).unwrap();
        let mut conn = pool.get().unwrap();
        run_first(&mut conn, BEFORE_CITY);
        // The shape of the data as the earlier version wrote it.
        conn.batch_execute(
            "INSERT INTO users (id, role, name, email, phone, password_hash, locale, is_supervisor, active, created_at, updated_at) VALUES
               ('u-agency', 'contractor', '나주가사돌봄센터', 'a@x.kr', '061', 'h', 'ko', FALSE, TRUE, '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
               ('u-mom', 'resident', '김임신', 'm@x.kr', '010', 'h', 'ko', FALSE, TRUE, '2026-01-01 00:00:00', '2026-01-01 00:00:00');
             INSERT INTO programs (id, code, name_ko, name_en, summary_ko, summary_en, active, created_at)
               VALUES ('p', 'housework', '가사돌봄', 'Housework', '', '', TRUE, '2026-01-01 00:00:00');
             INSERT INTO rule_sets (id, program_id, version, effective_from, region_code, region_name, districts, min_gestational_week,
               min_residency_months, visit_count, visit_hours, yearly_capacity, applications_open, note, created_at)
               VALUES ('r', 'p', 1, '2024-01-01', '46170', '나주시', '[]', 21, 0, 4, 4, 600, TRUE, '', '2026-01-01 00:00:00');
             INSERT INTO applications (id, reference, program_id, user_id, rule_set_id, status, created_at, updated_at)
               VALUES ('a', 'HW-1', 'p', 'u-mom', 'r', 'approved', '2026-01-01 00:00:00', '2026-01-01 00:00:00');
             INSERT INTO visit_slot_templates (id, weekday, start_minute, helpers) VALUES ('t', 0, 540, 3);
             INSERT INTO agency_holidays (day, note) VALUES ('2026-12-25', '성탄절');
             INSERT INTO visit_slots (id, day, start_minute, capacity, booked) VALUES ('s', '2026-12-07', 540, 3, 1);
             INSERT INTO visits (id, application_id, user_id, slot_id, day, start_minute, hours, status, counts_against_quota, created_at, updated_at)
               VALUES ('v', 'a', 'u-mom', 's', '2026-12-07', 540, 4, 'confirmed', TRUE, '2026-01-01 00:00:00', '2026-01-01 00:00:00');",
        )
        .unwrap();
        // The upgrade: the rest of the migrations, as the app runs them at start.
        db::run_migrations(&mut conn).unwrap();

        use naju_helper::db::schema::{agencies, agency_holidays, users, visit_slot_templates, visit_slots, visits};
        let agency: (String, String, i32) = agencies::table.select((agencies::id, agencies::name, agencies::unit_price_won)).first(&mut conn).unwrap();
        assert_eq!(agency, ("agency-1".to_string(), "나주가사돌봄센터".to_string(), 15000), "the one agency, priced as before");
        let account: Option<String> = users::table.find("u-agency").select(users::agency_id).first(&mut conn).unwrap();
        assert_eq!(account.as_deref(), Some("agency-1"));
        let slot: (String, i32) = visit_slots::table.find("s").select((visit_slots::agency_id, visit_slots::booked)).first(&mut conn).unwrap();
        assert_eq!(slot, ("agency-1".to_string(), 1));
        let visit: (String, Option<String>, i32) = visits::table.find("v").select((visits::slot_id, visits::agency_id, visits::copay_won)).first(&mut conn).unwrap();
        assert_eq!(visit, ("s".to_string(), Some("agency-1".to_string()), 0));
        let template: String = visit_slot_templates::table.find("t").select(visit_slot_templates::agency_id).first(&mut conn).unwrap();
        assert_eq!(template, "agency-1");
        let holidays: i64 = agency_holidays::table.filter(agency_holidays::agency_id.eq("agency-1")).count().get_result(&mut conn).unwrap();
        assert_eq!(holidays, 1);
        // The rebuilt visits table still refuses a slot that does not exist.
        let orphan = conn.batch_execute(
            "INSERT INTO visits (id, application_id, user_id, slot_id, day, start_minute, hours, status, counts_against_quota, created_at, updated_at)
               VALUES ('v2', 'a', 'u-mom', 'no-such-slot', '2026-12-08', 540, 4, 'requested', TRUE, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
        );
        assert!(orphan.is_err(), "visits.slot_id still references visit_slots");
        // And still allows one visit a day per application only.
        let twice = conn.batch_execute(
            "INSERT INTO visits (id, application_id, user_id, slot_id, day, start_minute, hours, status, counts_against_quota, created_at, updated_at)
               VALUES ('v3', 'a', 'u-mom', 's', '2026-12-07', 540, 4, 'requested', TRUE, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
        );
        assert!(twice.is_err(), "the one-visit-a-day index survived the rebuild");
    }
    common::drop_database(&data_dir, pg.as_deref());
}

/// Migrations before the one that lets mail fail (2026-11-30-000011_outbox_failed).
const BEFORE_OUTBOX_FAILED: usize = 10;

#[test]
fn queued_and_sent_mail_survive_the_outbox_rebuild_and_failed_is_allowed_after_it() {
    let (data_dir, url, pg) = common::fresh_database();
    {
        let (pool, _) = db::build_pool(&url, 2).unwrap();
        let mut conn = pool.get().unwrap();
        run_first(&mut conn, BEFORE_OUTBOX_FAILED);
        conn.batch_execute(
            "INSERT INTO users (id, role, name, email, phone, password_hash, locale, is_supervisor, active, created_at, updated_at) VALUES
               ('u-mom', 'resident', '김임신', 'm@x.kr', '010', 'h', 'ko', FALSE, TRUE, '2026-01-01 00:00:00', '2026-01-01 00:00:00');
             INSERT INTO outbox (id, user_id, kind, recipient, subject, body_text, body_html, status, attempts, next_attempt_at, last_error, created_at, sent_at) VALUES
               ('m-queued', 'u-mom', 'welcome', 'm@x.kr', 's', 't', 'h', 'pending', 3, '2026-01-02 00:00:00', 'smtp: timed out', '2026-01-01 00:00:00', NULL),
               ('m-sent', 'u-mom', 'welcome', 'm@x.kr', 's', 't', 'h', 'sent', 1, '2026-01-01 00:00:00', NULL, '2026-01-01 00:00:00', '2026-01-01 00:01:00');",
        )
        .unwrap();
        db::run_migrations(&mut conn).unwrap();

        use naju_helper::db::schema::outbox;
        let rows: Vec<(String, String, i32, Option<String>, Option<chrono::NaiveDateTime>)> = outbox::table
            .order(outbox::id.asc())
            .select((outbox::id, outbox::status, outbox::attempts, outbox::last_error, outbox::failed_at))
            .load(&mut conn)
            .unwrap();
        assert_eq!(
            rows,
            vec![
                ("m-queued".to_string(), "pending".to_string(), 3, Some("smtp: timed out".to_string()), None),
                ("m-sent".to_string(), "sent".to_string(), 1, None, None),
            ],
            "every message as it was"
        );
        diesel::update(outbox::table.find("m-queued")).set(outbox::status.eq("failed")).execute(&mut conn).expect("failed is a status now");
        let bogus = diesel::update(outbox::table.find("m-sent")).set(outbox::status.eq("lost")).execute(&mut conn);
        assert!(bogus.is_err(), "the status is still checked");
        // The rebuilt table still lets an account go without losing its mail.
        conn.batch_execute("DELETE FROM users WHERE id = 'u-mom'").unwrap();
        let orphaned: i64 = outbox::table.filter(outbox::user_id.is_null()).count().get_result(&mut conn).unwrap();
        assert_eq!(orphaned, 2);
    }
    common::drop_database(&data_dir, pg.as_deref());
}
