//! The access log's tail is anchored once a day (kept in the database and
//! emailed to supervisors), so deleting the newest rows is detected as well
//! as changes in the middle; every instance runs the job, it anchors once.

mod common;

use std::time::Duration;

use common::{spawn_app, spawn_instance, today, TestApp};
use diesel::prelude::*;
use naju_helper::db::schema::{access_log, access_log_anchors as anchors, outbox};
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
