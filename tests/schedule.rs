//! "My schedule": a resident's coming visits and clinic bookings in one
//! list, with what to prepare and the change, cancel and calendar links.

mod common;

use chrono::NaiveDate;
use common::{approved_resident, signed_up_resident, spawn_app, today, Browser, TestApp};
use diesel::prelude::*;
use naju_helper::db::schema::{clinic_bookings, clinic_programs, clinic_sessions, clinic_slots, visit_slots, visits};

/// Books her first open visit slot at least two days away; returns the visit's day.
fn book_visit(app: &TestApp, b: &mut Browser) -> NaiveDate {
    let token = b.get("/my/visits/new").csrf();
    let (slot, day): (String, NaiveDate) = visit_slots::table
        .filter(visit_slots::day.ge(today() + chrono::Duration::days(2)))
        .filter(visit_slots::booked.lt(visit_slots::capacity))
        .order((visit_slots::day.asc(), visit_slots::start_minute.asc()))
        .select((visit_slots::id, visit_slots::day))
        .first(&mut app.conn())
        .expect("an open visit slot");
    b.post("/my/visits/new", &[("csrf_token", &token), ("slot_id", &slot), ("cleaning", "yes")]).assert_redirect("/my/visits");
    day
}

/// Books the prenatal yoga class at the first open session two days away;
/// returns the session's day.
fn book_yoga(app: &TestApp, b: &mut Browser) -> NaiveDate {
    let (session, day): (String, NaiveDate) = clinic_sessions::table
        .filter(clinic_sessions::day.gt(today() + chrono::Duration::days(1)))
        .filter(clinic_sessions::status.eq("open"))
        .order(clinic_sessions::day.asc())
        .select((clinic_sessions::id, clinic_sessions::day))
        .first(&mut app.conn())
        .expect("an open session");
    let slot: String = clinic_slots::table
        .inner_join(clinic_programs::table)
        .filter(clinic_slots::session_id.eq(&session))
        .filter(clinic_programs::code.eq("prenatal_yoga"))
        .select(clinic_slots::id)
        .first(&mut app.conn())
        .expect("a yoga slot");
    let token = b.get(&format!("/clinic/sessions/{session}")).csrf();
    let due = (today() + chrono::Duration::days(120)).to_string();
    b.post("/clinic/bookings", &[("csrf_token", &token), ("session_id", &session), ("slot_id", &slot), ("due_date", &due)]).assert_redirect("/my/clinic");
    day
}

#[test]
fn her_schedule_lists_visits_and_clinic_bookings_with_what_to_prepare_and_links() {
    let app = spawn_app();
    let (mut b, _) = approved_resident(&app, "일정맘", "schedule-mom@example.kr");
    b.get("/my").assert_contains("href=\"/my/schedule\"");
    b.get("/my/schedule").assert_status(200).assert_contains("앞으로 잡힌 일정이 없습니다");

    let visit_day = book_visit(&app, &mut b);
    let yoga_day = book_yoga(&app, &mut b);
    let visit: String = visits::table.select(visits::id).first(&mut app.conn()).expect("visit");
    let booking: String = clinic_bookings::table.select(clinic_bookings::id).first(&mut app.conn()).expect("booking");

    let page = b.get("/my/schedule");
    page.assert_status(200)
        .assert_contains("가사돌봄 방문")
        .assert_contains("임산부 요가")
        .assert_contains("요청한 일: 청소")
        .assert_contains("방문 시간에 집에 계셔 주세요")
        .assert_contains("신분증과 산모수첩을 가져오시고")
        .assert_contains(&format!("href=\"/my/visits/{visit}/reschedule\""))
        .assert_contains(&format!("href=\"/my/visits/{visit}/cancel\""))
        .assert_contains(&format!("action=\"/my/clinic/{booking}/cancel\""))
        .assert_contains(&format!("href=\"/my/clinic/{booking}/calendar.ics\""))
        // The visit is only requested: no calendar file until the agency confirms.
        .assert_lacks(&format!("/my/visits/{visit}/calendar.ics"));
    // Soonest first (the visit is in the morning, the class at 11:40).
    let (v, c) = (page.body.find(&format!("id=\"visit-{visit}\"")).expect("visit listed"), page.body.find(&format!("id=\"clinic-{booking}\"")).expect("booking listed"));
    assert_eq!(v < c, visit_day <= yoga_day, "visit on {visit_day}, class on {yoga_day}");

    let ics = b.get(&format!("/my/clinic/{booking}/calendar.ics"));
    ics.assert_status(200).assert_contains("BEGIN:VEVENT").assert_contains("DTSTART:").assert_contains("SUMMARY:임산부 요가");
    assert_eq!(ics.headers.get("content-type").map(String::as_str), Some("text/calendar; charset=utf-8"));
    // Nobody else's booking.
    let mut other = signed_up_resident(&app, "남의엄마", "other-mom@example.kr");
    other.get(&format!("/my/clinic/{booking}/calendar.ics")).assert_status(404);
    other.get("/my/schedule").assert_lacks(&booking);

    // Cancelled from the schedule, the booking leaves it.
    let token = page.csrf();
    b.post(&format!("/my/clinic/{booking}/cancel"), &[("csrf_token", &token)]).assert_redirect("/my/clinic");
    b.get("/my/schedule").assert_lacks(&format!("clinic-{booking}")).assert_contains(&format!("visit-{visit}"));
    b.get(&format!("/my/clinic/{booking}/calendar.ics")).assert_status(404);
}
