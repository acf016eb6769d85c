//! The access log's tail is anchored once a day (kept in the database and
//! emailed to supervisors), so deleting the newest rows is detected as well
//! as changes in the middle; every instance runs the job, it anchors once.
//! Accesses are appended freely and chained in batches by every instance's
//! worker, one at a time, into one unbroken chain.

mod common;

use std::time::Duration;

use common::{access_log_chained, spawn_app, spawn_instance, today, TestApp};
use diesel::prelude::*;
use naju_helper::db::schema::{access_log, access_log_anchors as anchors, access_log_pending, outbox};
use naju_helper::demo;

fn anchored(app: &TestApp, min_seq: i64) -> i64 {
    app.wait_for("today's anchor", Duration::from_secs(20), |conn| {
        anchors::table.filter(anchors::day.eq(today())).select(anchors::last_seq).first::<i64>(conn).ok().filter(|s| *s >= min_seq)
    })
}

#[test]
fn deleting_the_newest_access_log_rows_is_detected_by_the_daily_anchor() {
    let app = spawn_app();
    let _other = spawn_instance(&app, |_| {});
    // An empty log is not anchored; the first staff view is.
    std::thread::sleep(Duration::from_millis(600));
    let none: i64 = anchors::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(none, 0);
    let mut boss = app.browser();
    boss.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD);
    boss.get("/staff/applications").assert_status(200);
    anchored(&app, 1);
    std::thread::sleep(Duration::from_millis(1000)); // rounds of both schedulers
    let anchors_today: i64 = anchors::table.count().get_result(&mut app.conn()).unwrap();
    let digests: i64 = outbox::table.filter(outbox::kind.eq("access_log_digest")).count().get_result(&mut app.conn()).unwrap();
    assert_eq!((anchors_today, digests), (1, 1), "one anchor a day and one email per supervisor, whatever the instances");

    // More staff work; the next anchor covers it.
    for _ in 0..3 {
        boss.get("/staff/applications").assert_status(200);
    }
    access_log_chained(&app);
    let newest: i64 = access_log::table.select(diesel::dsl::max(access_log::seq)).first::<Option<i64>>(&mut app.conn()).unwrap().unwrap();
    diesel::delete(anchors::table).execute(&mut app.conn()).unwrap();
    let seq = anchored(&app, newest);
    let page = boss.get("/staff/access-log");
    page.assert_contains("notice--success\" id=\"chain\"").assert_contains(&format!("<td>{seq}</td>"));

    // Someone deletes the newest rows: the chain alone would still look whole.
    diesel::delete(access_log::table.filter(access_log::seq.ge(seq))).execute(&mut app.conn()).unwrap();
    let page = boss.get("/staff/access-log");
    page.assert_contains("notice--warning\" id=\"chain\"").assert_contains(&seq.to_string());
}

#[test]
fn an_altered_row_in_the_middle_is_detected() {
    let app = spawn_app();
    let mut boss = app.browser();
    boss.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD);
    for _ in 0..3 {
        boss.get("/staff/applications").assert_status(200);
    }
    boss.get("/staff/access-log").assert_contains("notice--success\" id=\"chain\"");
    diesel::update(access_log::table.filter(access_log::seq.eq(2))).set(access_log::reason.eq("고친 사유")).execute(&mut app.conn()).unwrap();
    boss.get("/staff/access-log").assert_contains("notice--warning\" id=\"chain\"");
}

#[test]
fn simultaneous_staff_views_on_two_instances_are_chained_into_one_unbroken_log() {
    let app = spawn_app();
    let other = spawn_instance(&app, |_| {});
    let mut boss = app.browser();
    boss.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD);
    access_log_chained(&app);
    let before: i64 = access_log::table.count().get_result(&mut app.conn()).unwrap();

    let views = 24;
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(views));
    let handles: Vec<_> = (0..views)
        .map(|i| {
            let mut b = if i % 2 == 0 { boss.at(&app) } else { boss.at(&other) };
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                b.get("/staff/applications").status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    // Both workers chain; every view ends in the chain exactly once, numbered without a gap.
    access_log_chained(&app);
    let seqs: Vec<i64> = access_log::table.order(access_log::seq.asc()).select(access_log::seq).load(&mut app.conn()).unwrap();
    assert_eq!(seqs.len() as i64, before + views as i64);
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    let waiting: i64 = access_log_pending::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(waiting, 0);
    boss.get("/staff/access-log").assert_contains("notice--success\" id=\"chain\"").assert_contains("id=\"waiting\"");
}
