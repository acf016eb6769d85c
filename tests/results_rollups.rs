//! The results report reads maintained figures (results::rollup), moved in
//! the same transaction as every change. After a random sequence of real
//! actions through the app's services (applications decided and withdrawn,
//! visits booked, cancelled, declined, completed, missed; clinic seats booked,
//! cancelled, marked and unmarked; walk-ins; imports), the report from the
//! maintained figures must equal the report counted from the raw rows, and
//! `results rebuild` must find nothing to correct. The seed is printed; set
//! NAJU_TEST_SEED to replay one.

mod common;

use chrono::{Datelike, NaiveDate};
use common::{cli, complete_draft, due_date_at_week, signed_up_resident, spawn_app, submit_application, today, TestApp};
use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use naju_helper::accounts::models::{find_by_email, User};
use naju_helper::applications::service::{self as applications, Decision};
use naju_helper::clinic::service as clinic;
use naju_helper::db::schema::{applications as apps, clinic_bookings, clinic_sessions, clinic_slots, helpers, result_counts, visit_slots, visits};
use naju_helper::db::{self, DbConn};
use naju_helper::error::AppError;
use naju_helper::i18n::Lang;
use naju_helper::notify::Notifier;
use naju_helper::results::calc::Period;
use naju_helper::results::service as results;
use naju_helper::startup::Core;
use naju_helper::time::now_utc;
use naju_helper::visits::service::{self as visits_service, AgencyAction};
use naju_helper::{agencies, demo};

/// xorshift64*: enough randomness for choosing actions, reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn seed() -> u64 {
    std::env::var("NAJU_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1) | 1)
}

fn core(app: &TestApp) -> Core {
    Core::open(&common::test_config(app.data_dir.clone(), app.database_url.clone())).expect("core")
}

/// An action the app may refuse (full, past the cut-off, wrong status) is
/// fine; a database or internal failure is not.
fn refused_or_done<T>(r: Result<T, AppError>, seed: u64, what: &str) {
    match r {
        Ok(_) | Err(AppError::Conflict(_)) | Err(AppError::BadRequest(_)) | Err(AppError::NotFound) | Err(AppError::Forbidden) => {}
        Err(e) => panic!("seed {seed}: {what} failed: {e:?}"),
    }
}

/// The periods compared: each program's term, this year, a window around
/// today that holds the booked visits and sessions, this quarter, today.
fn periods(conn: &mut DbConn, program: &str) -> Vec<Period> {
    let t = today();
    let year = Period::year_of(t);
    let q = naju_helper::results::calc::quarters(year).into_iter().map(|(_, p)| p).find(|p| p.start <= t && t <= p.end).unwrap();
    vec![
        results::settings(conn, program).unwrap().term,
        year,
        Period { start: t - chrono::Duration::days(40), end: t + chrono::Duration::days(100) },
        q,
        Period { start: t, end: t },
        Period { start: NaiveDate::from_ymd_opt(t.year() + 1, 1, 1).unwrap(), end: NaiveDate::from_ymd_opt(t.year() + 1, 3, 31).unwrap() },
    ]
}

fn assert_reports_agree(conn: &mut DbConn, seed: u64, when: &str) -> serde_json::Value {
    let mut all = vec![];
    for program in ["housework", "saturday_clinic"] {
        for p in periods(conn, program) {
            let maintained = serde_json::to_value(results::report(conn, program, p, Lang::Ko).unwrap()).unwrap();
            let recounted = serde_json::to_value(results::report_recounted(conn, program, p, Lang::Ko).unwrap()).unwrap();
            assert_eq!(maintained, recounted, "seed {seed}, {when}: {program} {p:?}: maintained figures differ from a raw recount");
            all.push(maintained);
        }
    }
    serde_json::Value::Array(all)
}

fn rebuild(app: &TestApp, seed: u64) -> String {
    let (ok, out) = cli(app, &["results", "rebuild"]);
    assert!(ok, "seed {seed}: results rebuild failed: {out}");
    out
}

fn counted_total(conn: &mut DbConn) -> i64 {
    let values: Vec<i32> = result_counts::table.select(result_counts::value).load(conn).unwrap();
    values.into_iter().map(i64::from).sum()
}

struct World {
    residents: Vec<User>,
    staff: User,
}

fn world(app: &TestApp, n: usize) -> World {
    let mut residents = vec![];
    for i in 0..n {
        let email = format!("rollup{i}@example.kr");
        let mut b = signed_up_resident(app, &format!("김롤업{i}"), &email);
        let id = complete_draft(&mut b, due_date_at_week(22 + i as i64));
        submit_application(&mut b, &id).assert_redirect(&format!("/my/applications/{id}/confirmation"));
        residents.push(find_by_email(&mut app.conn(), &email).unwrap().unwrap());
    }
    let staff = find_by_email(&mut app.conn(), demo::STAFF_EMAIL).unwrap().unwrap();
    World { residents, staff }
}

/// One random action, through the same service functions the pages call.
fn act(conn: &mut DbConn, notifier: &Notifier, w: &World, rng: &mut Rng, seed: u64) {
    let t = today();
    let resident = rng.pick(&w.residents).unwrap().clone();
    match rng.below(12) {
        0 => {
            let app_id: Option<String> = apps::table.filter(apps::user_id.eq(&resident.id)).select(apps::id).first(conn).optional().unwrap();
            let Some(app_id) = app_id else { return };
            let decision = match rng.below(6) {
                0 => Decision::Reject("서류 미비".into()),
                1 => Decision::RequestInfo("추가 서류".into()),
                _ => Decision::Approve { income_checked: true },
            };
            if rng.chance(10) {
                refused_or_done(applications::withdraw(conn, notifier, &resident.id, &app_id), seed, "withdraw");
            } else {
                refused_or_done(applications::decide(conn, notifier, &w.staff, &app_id, decision, t), seed, "decide");
            }
        }
        1 | 2 => {
            let slots: Vec<String> = visit_slots::table
                .filter(visit_slots::day.ge(t + chrono::Duration::days(2)))
                .filter(visit_slots::booked.lt(visit_slots::capacity))
                .select(visit_slots::id)
                .limit(200)
                .load(conn)
                .unwrap();
            let Some(slot) = rng.pick(&slots) else { return };
            let input = visits_service::BookingInput { slot_id: slot.clone(), tasks: "cleaning".into(), notes: String::new() };
            refused_or_done(visits_service::book(conn, notifier, &resident, &input, t), seed, "book a visit");
        }
        3..=6 => {
            let open: Vec<(String, String, Option<String>, String)> = visits::table
                .filter(visits::status.eq_any(["requested", "confirmed"]))
                .select((visits::id, visits::user_id, visits::agency_id, visits::status))
                .load(conn)
                .unwrap();
            let Some((visit_id, user_id, agency_id, status)) = rng.pick(&open).cloned() else { return };
            let agency_id = agency_id.unwrap_or_default();
            let action = match (status.as_str(), rng.below(10)) {
                (_, 0) => return refused_or_done(visits_service::cancel(conn, notifier, &user_id, &visit_id, now_utc()), seed, "cancel a visit"),
                ("requested", 1) => AgencyAction::Decline { reason: "일정 불가".into() },
                ("requested", _) => {
                    let helper: String = helpers::table.filter(helpers::agency_id.eq(&agency_id)).select(helpers::id).first(conn).unwrap();
                    AgencyAction::Confirm { helper_id: helper }
                }
                (_, 2) => AgencyAction::NoShow,
                _ => AgencyAction::Complete { actual_start: 540 + 30 * rng.below(4) as i32, actual_end: 780, tasks_done: "청소".into() },
            };
            refused_or_done(visits_service::agency_update(conn, notifier, &agency_id, &visit_id, action), seed, "agency action");
        }
        7 | 8 => {
            let slots: Vec<String> = clinic_slots::table
                .inner_join(clinic_sessions::table)
                .filter(clinic_sessions::day.gt(t + chrono::Duration::days(1)))
                .filter(clinic_sessions::status.eq("open"))
                .select(clinic_slots::id)
                .load(conn)
                .unwrap();
            let Some(slot) = rng.pick(&slots) else { return };
            let input = clinic::BookingInput {
                slot_id: slot.clone(),
                child_id: None,
                due_date: Some(t + chrono::Duration::days(120)),
                with_partner: rng.chance(50),
                join_waitlist: rng.chance(50),
            };
            refused_or_done(clinic::book(conn, notifier, &resident, &input, t), seed, "book a clinic seat");
        }
        9 | 10 => {
            let bookings: Vec<(String, String)> = clinic_bookings::table.select((clinic_bookings::id, clinic_bookings::user_id)).load(conn).unwrap();
            let Some((booking, user_id)) = rng.pick(&bookings).cloned() else { return };
            match rng.below(5) {
                0 => refused_or_done(clinic::cancel(conn, notifier, &user_id, &booking, now_utc()), seed, "cancel a clinic seat"),
                1 => refused_or_done(clinic::mark(conn, &booking, false), seed, "mark no-show"),
                _ => refused_or_done(clinic::mark(conn, &booking, true), seed, "mark attended"),
            }
        }
        _ => {
            if rng.chance(30) {
                let csv = format!("program,indicator,period,value,kind\nhousework,hw_visits,{}Q{},{},actual\n", t.year(), rng.below(4) + 1, rng.below(50));
                let report = naju_helper::results::import::import_csv(conn, &csv, None).unwrap();
                assert!(report.errors.is_empty(), "seed {seed}: {:?}", report.errors);
                return;
            }
            let sessions: Vec<(String, String)> =
                clinic_slots::table.select((clinic_slots::session_id, clinic_slots::program_id)).distinct().load(conn).unwrap();
            let Some((session, program)) = rng.pick(&sessions).cloned() else { return };
            refused_or_done(clinic::add_walkin(conn, &session, &program, 1 + rng.below(4) as i32, "", &w.staff.id), seed, "walk-in");
        }
    }
}

#[test]
fn maintained_figures_equal_a_raw_recount_and_a_rebuild_after_random_actions() {
    let seed = seed();
    println!("NAJU_TEST_SEED={seed}");
    let mut rng = Rng(seed.max(1));
    let app = spawn_app();
    let core = core(&app);
    let w = world(&app, 5);
    let mut conn = app.conn();
    let t = today();
    for agency in agencies::list(&mut conn).unwrap() {
        visits_service::ensure_slots(&mut conn, &agency.id, t, t + chrono::Duration::days(50)).unwrap();
    }
    // Something to count from the start: the five applications received.
    let counted_before = counted_total(&mut conn);
    assert_eq!(counted_before, 5, "seed {seed}: five applications received, nothing else counted yet");

    for step in 0..240 {
        act(&mut conn, &core.notifier, &w, &mut rng, seed);
        if step % 80 == 79 {
            assert_reports_agree(&mut conn, seed, &format!("after step {step}"));
        }
    }
    let counted_after = counted_total(&mut conn);
    assert!(counted_after > counted_before + 10, "seed {seed}: the actions moved the figures ({counted_before} → {counted_after})");
    let completed: i64 = visits::table.filter(visits::status.eq("completed")).count().get_result(&mut conn).unwrap();
    let attended: i64 = clinic_bookings::table.filter(clinic_bookings::status.eq("attended")).count().get_result(&mut conn).unwrap();
    println!("seed {seed}: {completed} visits completed, {attended} clinic bookings attended, {counted_after} counted in all");

    let before = assert_reports_agree(&mut conn, seed, "at the end");
    let out = rebuild(&app, seed);
    assert!(out.contains(", 0 changed"), "seed {seed}: the maintained figures needed corrections:\n{out}");
    assert_eq!(assert_reports_agree(&mut conn, seed, "after the rebuild"), before);

    // A figure gone wrong (as after rows written behind the app's back) is
    // named and corrected by the rebuild.
    let (measure, subject, day, value): (String, String, NaiveDate, i32) = result_counts::table
        .order((result_counts::measure.asc(), result_counts::day.asc()))
        .select((result_counts::measure, result_counts::subject, result_counts::day, result_counts::value))
        .first(&mut conn)
        .unwrap();
    diesel::update(result_counts::table.find((&measure, &subject, day))).set(result_counts::value.eq(value + 7)).execute(&mut conn).unwrap();
    diesel::insert_into(result_counts::table)
        .values((result_counts::measure.eq("visits_completed"), result_counts::subject.eq("nobody"), result_counts::day.eq(t), result_counts::value.eq(3)))
        .execute(&mut conn)
        .unwrap();
    assert_ne!(decade(&mut conn, false), decade(&mut conn, true), "seed {seed}: the damage shows");
    let out = rebuild(&app, seed);
    assert!(out.contains(&format!("{day} {measure}")) && out.contains(&format!("{} -> {value}", value + 7)), "seed {seed}: {out}");
    assert!(out.contains(&format!("{t} visits_completed nobody: 3 -> 0")), "seed {seed}: {out}");
    assert!(out.contains(", 2 changed"), "seed {seed}: {out}");
    assert_eq!(assert_reports_agree(&mut conn, seed, "after repairing"), before);

    // The migration fills the table from an existing installation's rows
    // exactly as the rebuild computes them: undo it and apply it again.
    let migration = "2026-11-30-000014_results_rollups";
    match &mut *conn {
        DbConn::Sqlite(c) => {
            let m = migration_named(db::SQLITE_MIGRATIONS, migration);
            c.revert_migration(&*m).unwrap();
            c.run_migration(&*m).unwrap();
        }
        DbConn::Pg(c) => {
            let m = migration_named(db::POSTGRES_MIGRATIONS, migration);
            c.revert_migration(&*m).unwrap();
            c.run_migration(&*m).unwrap();
        }
    }
    assert_eq!(counted_total(&mut conn), counted_after, "seed {seed}: the migration filled the table");
    let out = rebuild(&app, seed);
    assert!(out.contains(", 0 changed"), "seed {seed}: the migration's figures differ from the rebuild's:\n{out}");
    assert_eq!(assert_reports_agree(&mut conn, seed, "after the migration"), before);
}

/// The housework report over ten years to a year ahead, maintained or recounted.
fn decade(conn: &mut DbConn, recounted: bool) -> serde_json::Value {
    let year = Period::year_of(today());
    let p = Period { start: year.start - chrono::Duration::days(3650), end: year.end + chrono::Duration::days(365) };
    let r = if recounted { results::report_recounted(conn, "housework", p, Lang::Ko) } else { results::report(conn, "housework", p, Lang::Ko) };
    serde_json::to_value(r.unwrap()).unwrap()
}

fn migration_named<DB: diesel::backend::Backend>(
    source: impl diesel::migration::MigrationSource<DB>,
    name: &str,
) -> Box<dyn diesel::migration::Migration<DB>> {
    source.migrations().unwrap().into_iter().find(|m| m.name().to_string() == name).unwrap_or_else(|| panic!("migration {name}"))
}

/// Walk-ins recorded at once at many desks on a day nobody has counted yet:
/// every first insert of the day's figure races, and none is lost.
#[test]
fn simultaneous_first_counts_of_a_day_are_all_kept() {
    let app = spawn_app();
    let staff = find_by_email(&mut app.conn(), demo::STAFF_EMAIL).unwrap().unwrap();
    let (session, program): (String, String) = clinic_slots::table.select((clinic_slots::session_id, clinic_slots::program_id)).first(&mut app.conn()).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (pool, session, program, staff_id) = (app.pool.clone(), session.clone(), program.clone(), staff.id.clone());
            std::thread::spawn(move || {
                let mut conn = pool.get().unwrap();
                for _ in 0..5 {
                    clinic::add_walkin(&mut conn, &session, &program, 1 + i % 2, "", &staff_id).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut conn = app.conn();
    let day: NaiveDate = clinic_sessions::table.find(&session).select(clinic_sessions::day).first(&mut conn).unwrap();
    let counted: i32 = result_counts::table.find(("clinic_attended", &program, day)).select(result_counts::value).first(&mut conn).unwrap();
    assert_eq!(counted, 4 * 5 * 1 + 4 * 5 * 2, "8 desks × 5 walk-ins of 1 or 2 people");
    let out = rebuild(&app, 0);
    assert!(out.contains(", 0 changed"), "{out}");
}
