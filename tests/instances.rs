//! Several app instances on one database, driven together (as behind a load
//! balancer): a burst for the last seats split across instances books
//! exactly the capacity, a session made on one works on the others, each
//! queued email is delivered exactly once and each day-before reminder is
//! sent once although every instance runs the mail worker and the scheduler.

mod common;

use std::time::Duration;

use common::smtp::{free_port, SmtpSink};
use common::{approved_resident, signed_up_resident, spawn_app_with, spawn_instance, today, Browser, TestApp};
use diesel::prelude::*;
use naju_helper::config::{Config, SmtpConfig, SmtpSecurity};
use naju_helper::db::schema::{clinic_bookings, clinic_programs, clinic_sessions, clinic_slots, helpers, outbox, visit_slots, visits};
use naju_helper::demo;

fn with_sink(port: u16) -> impl Fn(&mut Config) {
    move |c: &mut Config| c.smtp = Some(SmtpConfig { host: "127.0.0.1".into(), port, security: SmtpSecurity::None, username: None, password: None })
}

fn login(app: &TestApp, email: &str, password: &str) -> Browser {
    let mut b = app.browser();
    b.login(email, password);
    b
}

#[test]
fn three_instances_share_seats_sessions_mail_and_reminders() {
    let port = free_port();
    let sink = SmtpSink::start_on(port);
    let a = spawn_app_with(with_sink(port));
    let b = spawn_instance(&a, with_sink(port));
    let c = spawn_instance(&a, with_sink(port));
    let instances = [&a, &b, &c];

    // A session made on one instance works on the others.
    let staff = login(&a, demo::STAFF_EMAIL, demo::STAFF_PASSWORD);
    for other in [&b, &c] {
        staff.at(other).get("/staff").assert_status(200);
    }

    // The last 5 seats of a class, 30 residents pressing "book" on three instances at once.
    let session: String = clinic_sessions::table
        .filter(clinic_sessions::day.gt(today() + chrono::Duration::days(1)))
        .order(clinic_sessions::day.asc())
        .select(clinic_sessions::id)
        .first(&mut a.conn())
        .unwrap();
    let program: String = clinic_programs::table.filter(clinic_programs::code.eq("prenatal_yoga")).select(clinic_programs::id).first(&mut a.conn()).unwrap();
    let slot: String = clinic_slots::table
        .filter(clinic_slots::session_id.eq(&session))
        .filter(clinic_slots::program_id.eq(&program))
        .select(clinic_slots::id)
        .first(&mut a.conn())
        .unwrap();
    diesel::update(clinic_slots::table.find(&slot)).set(clinic_slots::capacity.eq(5)).execute(&mut a.conn()).unwrap();
    let residents: Vec<Browser> = (0..30)
        .map(|i| signed_up_resident(&a, &format!("분산{i}"), &format!("spread{i}@example.kr")).at(instances[i % 3]))
        .collect();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(residents.len()));
    let due = (today() + chrono::Duration::days(120)).to_string();
    let handles: Vec<_> = residents
        .into_iter()
        .map(|mut r| {
            let token = r.get(&format!("/clinic/sessions/{session}")).csrf();
            let (barrier, session, slot, due) = (barrier.clone(), session.clone(), slot.clone(), due.clone());
            std::thread::spawn(move || {
                barrier.wait();
                r.post("/clinic/bookings", &[("csrf_token", &token), ("session_id", &session), ("slot_id", &slot), ("due_date", &due)]).status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 303).count(), 5, "{statuses:?}");
    let booked: i32 = clinic_slots::table.find(&slot).select(clinic_slots::booked).first(&mut a.conn()).unwrap();
    let rows: i64 = clinic_bookings::table.filter(clinic_bookings::slot_id.eq(&slot)).filter(clinic_bookings::status.eq("booked")).count().get_result(&mut a.conn()).unwrap();
    assert_eq!((booked, rows), (5, 5));

    // A visit tomorrow, confirmed: the day-before reminder goes out once.
    let mut s = login(&b, demo::STAFF_EMAIL, demo::STAFF_PASSWORD);
    let token = s.get("/staff/visits/settings").csrf();
    s.post(
        "/staff/visits/settings",
        &[("csrf_token", &token), ("min_notice_days", "0"), ("cancel_cutoff_hours", "0"), ("booking_horizon_days", "56"), ("late_cancel_counts", "yes"), ("no_show_counts", "yes")],
    )
    .assert_redirect("/staff/visits/settings");
    let mut agency = login(&c, demo::CONTRACTOR_EMAIL, demo::CONTRACTOR_PASSWORD);
    let week = (1..=7).map(|d| format!("{d} 09:00 2")).collect::<Vec<_>>().join("\n");
    let token = agency.get("/contractor/capacity").csrf();
    agency.post("/contractor/capacity", &[("csrf_token", &token), ("week", &week)]).assert_redirect("/contractor/capacity");
    let (mom, _) = approved_resident(&a, "내일방문", "tomorrow@example.kr");
    let mut mom = mom.at(&b);
    mom.get("/my/visits/new").assert_status(200);
    let tomorrow = today() + chrono::Duration::days(1);
    let slot: String = visit_slots::table.filter(visit_slots::day.eq(tomorrow)).select(visit_slots::id).first(&mut a.conn()).unwrap();
    let token = mom.get("/my/visits/new").csrf();
    mom.post("/my/visits/new", &[("csrf_token", &token), ("slot_id", &slot), ("cleaning", "yes")]).assert_redirect("/my/visits");
    let visit: String = visits::table.select(visits::id).first(&mut a.conn()).unwrap();
    let helper: String = helpers::table.filter(helpers::name.eq("박도우미")).select(helpers::id).first(&mut a.conn()).unwrap();
    let token = agency.get(&format!("/contractor/visits/{visit}")).csrf();
    agency.post(&format!("/contractor/visits/{visit}"), &[("csrf_token", &token), ("action", "confirm"), ("helper_id", &helper)]);
    a.wait_for("the reminder", Duration::from_secs(20), |conn| outbox::table.filter(outbox::kind.eq("visit_reminder")).count().get_result::<i64>(conn).ok().filter(|n| *n > 0));
    // Several scheduler rounds of all three instances later, still one.
    std::thread::sleep(Duration::from_millis(1500));
    let reminders: i64 = outbox::table.filter(outbox::kind.eq("visit_reminder")).count().get_result(&mut a.conn()).unwrap();
    assert_eq!(reminders, 1);

    // Every queued message is delivered, each exactly once.
    let queued: i64 = outbox::table.count().get_result(&mut a.conn()).unwrap();
    a.wait_for("every message sent", Duration::from_secs(30), |conn| {
        outbox::table.filter(outbox::status.ne("sent")).count().get_result::<i64>(conn).ok().filter(|n| *n == 0)
    });
    sink.wait_for_messages(queued as usize, Duration::from_secs(10));
    // Give a second delivery of anything the time to arrive: none may.
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(sink.messages().len() as i64, queued, "each message delivered exactly once");
}

/// PostgreSQL ends the app's connections (a restart, a failover, an admin's
/// `pg_terminate_backend`): each dead connection costs at most the one request
/// that was using it; the pool replaces it and pages come back without a
/// restart of the app. (SQLite has no server to lose.)
#[test]
fn connections_the_database_ends_are_replaced_and_pages_come_back() {
    if common::backend() != "postgres" {
        return;
    }
    let app = spawn_app_with(|_| {});
    let staff = login(&app, demo::STAFF_EMAIL, demo::STAFF_PASSWORD);
    // Several requests at once, so the pool holds several open connections.
    std::thread::scope(|s| {
        for _ in 0..6 {
            s.spawn(|| {
                for _ in 0..5 {
                    staff.at(&app).get("/staff/applications").assert_status(200);
                }
            });
        }
    });
    let ended: Vec<bool> = diesel::sql_query("SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        .load::<Ended>(&mut app.conn())
        .unwrap()
        .into_iter()
        .map(|e| e.ended)
        .collect();
    assert!(ended.iter().filter(|e| **e).count() >= 2, "the app's connections were ended: {ended:?}");

    let statuses: Vec<u16> = (0..30).map(|_| staff.at(&app).get("/staff/applications").status).collect();
    let failed = statuses.iter().filter(|s| **s != 200).count();
    assert!(failed <= 8, "at most one failed request per pooled connection (8): {statuses:?}");
    assert!(statuses[statuses.len() - 10..].iter().all(|s| *s == 200), "pages came back: {statuses:?}");
    // The session survived: still signed in, and the page is hers.
    staff.at(&app).get("/staff").assert_status(200);
}

#[derive(QueryableByName)]
struct Ended {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    ended: bool,
}
