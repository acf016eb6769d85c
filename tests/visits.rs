//! Home visits: booking within the quota, the agency's confirmation and
//! completion, cancellation rules, the birth, reminders, and no overbooking.

mod common;

use std::time::Duration;

use chrono::NaiveDate;
use common::smtp::{decoded, SmtpSink};
use common::{approved_resident, spawn_app, spawn_app_with, today, Browser, TestApp};
use diesel::prelude::*;
use naju_helper::db::schema::{applications, helpers, outbox, visit_quotas, visit_slots, visits};
use naju_helper::demo;

fn login(app: &TestApp, email: &str, password: &str) -> Browser {
    let mut b = app.browser();
    b.login(email, password);
    b
}

fn staff(app: &TestApp) -> Browser {
    login(app, demo::STAFF_EMAIL, demo::STAFF_PASSWORD)
}

fn agency(app: &TestApp) -> Browser {
    login(app, demo::CONTRACTOR_EMAIL, demo::CONTRACTOR_PASSWORD)
}

/// Open slots as the resident's calendar would offer them (her page creates them).
fn open_slots(app: &TestApp, b: &mut Browser) -> Vec<(String, NaiveDate)> {
    b.get("/my/visits/new").assert_status(200);
    visit_slots::table
        .filter(visit_slots::day.ge(today()))
        .filter(visit_slots::booked.lt(visit_slots::capacity))
        .order((visit_slots::day.asc(), visit_slots::start_minute.asc()))
        .select((visit_slots::id, visit_slots::day))
        .load(&mut app.conn())
        .unwrap()
}

/// The first open slot of each of the first `n` days that can be booked.
fn slots_on_distinct_days(app: &TestApp, b: &mut Browser, n: usize) -> Vec<String> {
    let first_day = today() + chrono::Duration::days(2);
    let mut out: Vec<(String, NaiveDate)> = vec![];
    for (id, day) in open_slots(app, b) {
        if day >= first_day && !out.iter().any(|(_, d)| *d == day) {
            out.push((id, day));
        }
    }
    assert!(out.len() >= n, "need {n} days with open slots, have {}", out.len());
    out.into_iter().take(n).map(|(id, _)| id).collect()
}

fn book(b: &mut Browser, slot: &str) -> common::Resp {
    let token = b.get("/my/visits/new").csrf();
    b.post("/my/visits/new", &[("csrf_token", &token), ("slot_id", slot), ("cleaning", "yes"), ("notes", "강아지가 있어요")])
}

/// Books her four visits on four days; returns a free slot on a fifth day.
fn book_four(app: &TestApp, mom: &mut Browser) -> String {
    let slots = slots_on_distinct_days(app, mom, 5);
    for slot in &slots[..4] {
        book(mom, slot).assert_redirect("/my/visits");
    }
    slots[4].clone()
}

/// An approved resident who has booked all four of her visits: her browser,
/// her application's id, and a free slot on a fifth day.
fn four_booked(app: &TestApp, name: &str, email: &str) -> (Browser, String, String) {
    let (mut mom, app_id) = approved_resident(app, name, email);
    let fifth = book_four(app, &mut mom);
    (mom, app_id, fifth)
}

/// A demo helper on an agency's roster, by name.
fn helper_id(app: &TestApp, name: &str) -> String {
    helpers::table.filter(helpers::name.eq(name)).select(helpers::id).first(&mut app.conn()).unwrap()
}

fn used(app: &TestApp, application_id: &str) -> i32 {
    visit_quotas::table.find(application_id).select(visit_quotas::used).first(&mut app.conn()).unwrap()
}

fn visit_ids(app: &TestApp, application_id: &str) -> Vec<String> {
    visits::table
        .filter(visits::application_id.eq(application_id))
        .order((visits::day.asc(), visits::start_minute.asc()))
        .select(visits::id)
        .load(&mut app.conn())
        .unwrap()
}

fn status(app: &TestApp, visit_id: &str) -> String {
    visits::table.find(visit_id).select(visits::status).first(&mut app.conn()).unwrap()
}

fn kinds(app: &TestApp) -> Vec<String> {
    outbox::table.filter(outbox::kind.like("visit_%")).order(outbox::created_at.asc()).select(outbox::kind).load(&mut app.conn()).unwrap()
}

fn set_settings(app: &TestApp, notice: &str, cutoff: &str) {
    let mut s = staff(app);
    let token = s.get("/staff/visits/settings").csrf();
    s.post(
        "/staff/visits/settings",
        &[
            ("csrf_token", &token),
            ("min_notice_days", notice),
            ("cancel_cutoff_hours", cutoff),
            ("booking_horizon_days", "56"),
            ("late_cancel_counts", "yes"),
            ("no_show_counts", "yes"),
        ],
    )
    .assert_redirect("/staff/visits/settings");
}

/// An agency's holiday with a date that is not one: the capacity page again
/// with the error and the date and note as typed; a day's number of helpers
/// that is not a number likewise, in that day's own field.
#[test]
fn a_refused_holiday_or_capacity_keeps_what_the_agency_typed() {
    let app = spawn_app();
    let mut a = agency(&app);
    let page = a.get("/contractor/capacity");
    a.post("/contractor/holidays", &[("csrf_token", &page.csrf()), ("day", "5월 5일"), ("note", "창립기념일 휴무")]).assert_redirect("/contractor/capacity");
    a.get("/contractor/capacity")
        .assert_contains("id=\"error-summary\"")
        .assert_contains("<a href=\"#f-day\">")
        .assert_contains("id=\"f-day\" name=\"day\" type=\"date\" value=\"5월 5일\"")
        .assert_contains("id=\"f-note\" name=\"note\" value=\"창립기념일 휴무\"");
    a.get("/contractor/capacity").assert_lacks("창립기념일 휴무").assert_lacks("id=\"error-summary\"");

    let page = a.get("/contractor/capacity");
    let cap = page.body.split("name=\"capacity\"").next().and_then(|b| b.rsplit("id=\"f-").next()).map(|s| s.split('"').next().unwrap().to_string()).expect("a day's capacity field");
    let slot = cap.trim_start_matches("cap-").to_string();
    a.post(&format!("/contractor/slots/{slot}"), &[("csrf_token", &page.csrf()), ("capacity", "여럿")]).assert_redirect("/contractor/capacity");
    a.get("/contractor/capacity")
        .assert_contains(&format!("<a href=\"#f-{cap}\">"))
        .assert_contains(&format!("id=\"f-{cap}\" name=\"capacity\" inputmode=\"numeric\" value=\"여럿\""))
        .assert_contains("aria-invalid=\"true\"");
}

/// Staff recording a birth with a date that is not one: the application again
/// with the error and the date as typed.
#[test]
fn a_refused_birth_date_from_staff_keeps_what_was_typed() {
    let app = spawn_app();
    let (_mom, app_id) = approved_resident(&app, "출산기록", "birth-typed@example.kr");
    let mut s = staff(&app);
    let back = format!("/staff/applications/{app_id}");
    let page = s.get(&back);
    s.post(&format!("{back}/birth"), &[("csrf_token", &page.csrf()), ("born_on", "어제 새벽")]).assert_redirect(&back);
    s.get(&back)
        .assert_contains("<a href=\"#f-born_on\">")
        .assert_contains("id=\"f-born_on\" name=\"born_on\" type=\"date\" value=\"어제 새벽\"");
}

/// With no visit left, every booking step says so (and why) with the way back
/// to her visits, instead of a calendar; a booking posted anyway is still
/// refused by the booking transaction.
#[test]
fn with_no_visit_left_the_booking_steps_say_so_and_a_posted_booking_is_still_refused() {
    let app = spawn_app();
    let (mut mom, app_id, fifth) = four_booked(&app, "다쓴엄마", "used-up@example.kr");
    let month = today().format("%Y-%m").to_string();
    let day = (today() + chrono::Duration::days(3)).to_string();
    for step in ["/my/visits/new".to_string(), format!("/my/visits/new?month={month}"), format!("/my/visits/new?day={day}"), format!("/my/visits/new/check?slot_id={fifth}")] {
        mom.get(&step)
            .assert_status(409)
            .assert_contains("새 방문을 예약할 수 없습니다")
            .assert_contains("방문 횟수를 모두 사용했습니다")
            .assert_contains("지원되는 방문 4회를 모두 예약했거나 이용했습니다")
            .assert_contains("href=\"/my/visits\" id=\"back-to-visits\"")
            .assert_lacks("id=\"calendar\"")
            .assert_lacks("name=\"slot_id\"");
    }
    mom.get("/lang/en?next=/my/visits/new").assert_status(303);
    mom.get("/my/visits/new").assert_status(409).assert_contains("You cannot book a new visit").assert_contains("Back to my visits");
    mom.get("/lang/ko?next=/my/visits/new").assert_status(303);

    // Posted anyway (an old tab), straight to booking: the transaction refuses it.
    let token = mom.get("/my/visits").csrf();
    let res = mom.post("/my/visits/new", &[("csrf_token", &token), ("slot_id", &fifth), ("cleaning", "yes")]);
    res.assert_status(409).assert_contains("방문 횟수를 모두 사용했습니다").assert_lacks("id=\"calendar\"");
    let res = mom.post("/my/visits/new", &[("csrf_token", &token), ("slot_id", &fifth), ("step", "check")]);
    res.assert_status(409).assert_contains("새 방문을 예약할 수 없습니다");
    assert_eq!(used(&app, &app_id), 4);
    assert_eq!(visit_ids(&app, &app_id).len(), 4);
}

/// Without an approved application the booking steps say why, with no calendar.
#[test]
fn without_an_approved_application_the_booking_page_says_why() {
    let app = spawn_app();
    let mut mom = common::signed_up_resident(&app, "대기엄마", "not-yet@example.kr");
    for step in ["/my/visits/new", "/my/visits/new?month=2030-01", "/my/visits/new/check?slot_id=x"] {
        mom.get(step)
            .assert_status(409)
            .assert_contains("새 방문을 예약할 수 없습니다")
            .assert_contains("승인된 신청이 있어야 방문을 예약할 수 있습니다")
            .assert_contains("href=\"/my/applications\"")
            .assert_contains("href=\"/my/visits\" id=\"back-to-visits\"")
            .assert_lacks("id=\"calendar\"");
    }
}

#[test]
fn she_books_her_four_visits_and_no_more_and_the_agency_confirms_and_completes() {
    let app = spawn_app();
    let (mut mom, app_id) = approved_resident(&app, "방문예약", "visits@example.kr");
    mom.get("/my/visits").assert_contains("방문 날짜 예약하기").assert_contains("id=\"visits-left\">4<");
    let fifth = book_four(&app, &mut mom);
    assert_eq!(used(&app, &app_id), 4);
    book(&mut mom, &fifth).assert_status(409).assert_contains("방문 횟수를 모두 사용했습니다");
    mom.get("/my/visits").assert_contains("남은 방문 횟수가 없습니다");
    assert_eq!(visit_ids(&app, &app_id).len(), 4);
    assert_eq!(kinds(&app), vec!["visit_requested"; 4]);

    // The agency confirms one with a helper, declines another.
    let ids = visit_ids(&app, &app_id);
    let mut agency = agency(&app);
    agency.get("/contractor/visits?status=requested").assert_contains("김임신");
    let page = agency.get(&format!("/contractor/visits/{}", ids[0]));
    page.assert_contains("강아지가 있어요").assert_contains("빛가람로 100");
    let token = page.csrf();
    page.assert_contains("최도우미").assert_lacks("정도우미");
    agency.post(&format!("/contractor/visits/{}", ids[0]), &[("csrf_token", &token), ("action", "confirm"), ("helper_id", "")]);
    assert_eq!(status(&app, &ids[0]), "requested", "a helper must be chosen");
    let other_agencys = helper_id(&app, "정도우미");
    agency.post(&format!("/contractor/visits/{}", ids[0]), &[("csrf_token", &token), ("action", "confirm"), ("helper_id", &other_agencys)]);
    assert_eq!(status(&app, &ids[0]), "requested", "only a helper of its own roster");
    agency.post(&format!("/contractor/visits/{}", ids[0]), &[("csrf_token", &token), ("action", "confirm"), ("helper_id", &helper_id(&app, "최도우미"))]);
    assert_eq!(status(&app, &ids[0]), "confirmed");
    let assigned: Option<String> = visits::table.find(&ids[0]).select(visits::helper_id).first(&mut app.conn()).unwrap();
    assert_eq!(assigned, Some(helper_id(&app, "최도우미")));
    agency.post(&format!("/contractor/visits/{}", ids[1]), &[("csrf_token", &token), ("action", "decline"), ("reason", "인력 부족")]);
    assert_eq!(status(&app, &ids[1]), "declined");
    assert_eq!(used(&app, &app_id), 3, "a declined visit goes back to her quota");

    // Her calendar file for the confirmed visit.
    let ics = mom.get(&format!("/my/visits/{}/calendar.ics", ids[0]));
    ics.assert_status(200).assert_contains("BEGIN:VEVENT").assert_contains("DTSTART:").assert_contains("최도우미");
    assert!(ics.headers.get("content-type").unwrap().starts_with("text/calendar"));
    mom.get(&format!("/my/visits/{}/calendar.ics", ids[2])).assert_status(404);

    // Completion, then her confirmation and rating.
    agency.post(
        &format!("/contractor/visits/{}", ids[0]),
        &[("csrf_token", &token), ("action", "complete"), ("actual_start", "13:00"), ("actual_end", "09:00"), ("tasks_done", "")],
    );
    assert_eq!(status(&app, &ids[0]), "confirmed", "end before start is refused");
    agency.post(
        &format!("/contractor/visits/{}", ids[0]),
        &[("csrf_token", &token), ("action", "complete"), ("actual_start", "09:05"), ("actual_end", "13:00"), ("tasks_done", "청소, 세탁")],
    );
    assert_eq!(status(&app, &ids[0]), "completed");
    let token = mom.get("/my/visits").csrf();
    mom.post(&format!("/my/visits/{}/rate", ids[0]), &[("csrf_token", &token), ("rating", "5"), ("comment", "감사합니다")])
        .assert_redirect("/my/visits");
    let rating: Option<i32> = visits::table.find(&ids[0]).select(visits::rating).first(&mut app.conn()).unwrap();
    assert_eq!(rating, Some(5));
    assert_eq!(kinds(&app)[4..], ["visit_confirmed", "visit_declined", "visit_completed"]);

    // Staff settle the month: completed visit-hours × unit price.
    let day: NaiveDate = visits::table.find(&ids[0]).select(visits::day).first(&mut app.conn()).unwrap();
    let mut s = staff(&app);
    let settlement = s.get(&format!("/staff/visits/settlement?month={}", day.format("%Y-%m")));
    settlement.assert_contains("id=\"planned-hours\">4<").assert_contains("id=\"amount\">60000<");
    s.get("/staff/visits/usage").assert_contains("김임신");
    s.get("/staff/visits?status=completed").assert_contains("최도우미");
}

#[test]
fn one_visit_a_day_notice_and_who_may_touch_a_visit() {
    let app = spawn_app();
    let (mut mom, app_id) = approved_resident(&app, "하루한번", "oneaday@example.kr");
    let all = open_slots(&app, &mut mom);
    let day = all.iter().find(|(_, d)| *d >= today() + chrono::Duration::days(2)).unwrap().1;
    let same_day: Vec<&String> = all.iter().filter(|(_, d)| *d == day).map(|(id, _)| id).collect();
    assert!(same_day.len() >= 2, "two start times that day");
    book(&mut mom, same_day[0]).assert_redirect("/my/visits");
    book(&mut mom, same_day[1]).assert_status(409).assert_contains("그 날에는 이미 방문이 있습니다");
    if let Some((too_soon, _)) = all.iter().find(|(_, d)| *d < today() + chrono::Duration::days(2)) {
        book(&mut mom, too_soon).assert_status(409).assert_contains("너무 가깝습니다");
    }
    assert_eq!(used(&app, &app_id), 1);

    let visit = &visit_ids(&app, &app_id)[0];
    let (mut other, _) = approved_resident(&app, "남의방문", "other-visit@example.kr");
    let token = other.get("/my/visits").csrf();
    other.post(&format!("/my/visits/{visit}/cancel"), &[("csrf_token", &token)]).assert_status(404);
    other.get(&format!("/contractor/visits/{visit}")).assert_status(403);
    agency(&app).get("/my/visits").assert_status(403);
    assert_eq!(status(&app, visit), "requested");
}

#[test]
fn cancelling_in_time_gives_the_visit_back_and_late_cancelling_counts() {
    let app = spawn_app();
    let (mut mom, app_id) = approved_resident(&app, "취소테스트", "cancel@example.kr");
    let slots = slots_on_distinct_days(&app, &mut mom, 3);
    book(&mut mom, &slots[0]).assert_redirect("/my/visits");
    book(&mut mom, &slots[1]).assert_redirect("/my/visits");
    let ids = visit_ids(&app, &app_id);

    // Reschedule the first to the third day: slots move, the quota does not.
    let token = mom.get(&format!("/my/visits/{}/reschedule", ids[0])).csrf();
    mom.post(&format!("/my/visits/{}/reschedule", ids[0]), &[("csrf_token", &token), ("slot_id", &slots[2])]).assert_redirect("/my/visits");
    let booked = |id: &str| -> i32 { visit_slots::table.find(id).select(visit_slots::booked).first(&mut app.conn()).unwrap() };
    assert_eq!((booked(&slots[0]), booked(&slots[2])), (0, 1));
    assert_eq!(used(&app, &app_id), 2);

    // In time: back in the quota.
    let page = mom.get(&format!("/my/visits/{}/cancel", ids[0]));
    page.assert_contains("다시 예약 가능한 횟수로 돌아갑니다");
    mom.post(&format!("/my/visits/{}/cancel", ids[0]), &[("csrf_token", &page.csrf())]).assert_redirect("/my/visits");
    assert_eq!(used(&app, &app_id), 1);
    assert_eq!(booked(&slots[2]), 0);

    // With a cut-off of 10 days every visit is "late": the cancellation counts.
    set_settings(&app, "2", "240");
    let page = mom.get(&format!("/my/visits/{}/cancel", ids[1]));
    page.assert_contains("1회 이용한 것으로 처리됩니다");
    let token = mom.get(&format!("/my/visits/{}/reschedule", ids[1])).csrf();
    mom.post(&format!("/my/visits/{}/reschedule", ids[1]), &[("csrf_token", &token), ("slot_id", &slots[0])])
        .assert_status(409)
        .assert_contains("변경 마감 시간이 지났습니다");
    mom.post(&format!("/my/visits/{}/cancel", ids[1]), &[("csrf_token", &page.csrf())]).assert_redirect("/my/visits");
    assert_eq!(status(&app, &ids[1]), "cancelled");
    assert_eq!(used(&app, &app_id), 1, "a late cancellation stays used");
    assert_eq!(booked(&slots[1]), 0, "but the agency's place is free again");
}

#[test]
fn a_recorded_birth_cancels_the_visits_still_to_come() {
    let app = spawn_app();
    let (mut mom, app_id) = approved_resident(&app, "출산", "birth@example.kr");
    let slots = slots_on_distinct_days(&app, &mut mom, 2);
    book(&mut mom, &slots[0]).assert_redirect("/my/visits");
    book(&mut mom, &slots[1]).assert_redirect("/my/visits");
    let page = mom.get(&format!("/my/applications/{app_id}/birth"));
    let tomorrow = (today() + chrono::Duration::days(1)).to_string();
    mom.post(&format!("/my/applications/{app_id}/birth"), &[("csrf_token", &page.csrf()), ("born_on", &tomorrow)])
        .assert_status(422)
        .assert_contains("오늘 이후일 수 없습니다");
    mom.post(&format!("/my/applications/{app_id}/birth"), &[("csrf_token", &page.csrf()), ("born_on", &today().to_string())])
        .assert_redirect(&format!("/my/applications/{app_id}"));
    let app_status: String = applications::table.find(&app_id).select(applications::status).first(&mut app.conn()).unwrap();
    assert_eq!(app_status, "ended");
    for id in visit_ids(&app, &app_id) {
        assert_eq!(status(&app, &id), "cancelled");
    }
    let cancelled_mails = kinds(&app).iter().filter(|k| *k == "visit_cancelled").count();
    assert_eq!(cancelled_mails, 2, "each cancelled visit is told");
    // Her application has ended: the booking page says she cannot book, and why.
    mom.get("/my/visits/new").assert_status(409).assert_contains("새 방문을 예약할 수 없습니다").assert_contains("승인된 신청이 있어야").assert_lacks("id=\"calendar\"");
}

#[test]
fn the_day_before_a_confirmed_visit_she_gets_a_reminder() {
    let app = spawn_app();
    set_settings(&app, "0", "0");
    let mut agency = agency(&app);
    let week = (1..=7).map(|d| format!("{d} 09:00 2")).collect::<Vec<_>>().join("\n");
    let token = agency.get("/contractor/capacity").csrf();
    agency.post("/contractor/capacity", &[("csrf_token", &token), ("week", &week)]).assert_redirect("/contractor/capacity");
    let (mut mom, app_id) = approved_resident(&app, "알림", "remind@example.kr");
    let tomorrow = today() + chrono::Duration::days(1);
    let slot = open_slots(&app, &mut mom).into_iter().find(|(_, d)| *d == tomorrow).expect("a slot tomorrow").0;
    book(&mut mom, &slot).assert_redirect("/my/visits");
    let visit = visit_ids(&app, &app_id).remove(0);
    let token = agency.get(&format!("/contractor/visits/{visit}")).csrf();
    agency.post(&format!("/contractor/visits/{visit}"), &[("csrf_token", &token), ("action", "confirm"), ("helper_id", &helper_id(&app, "박도우미"))]);
    let body = app.wait_for("the reminder email", Duration::from_secs(15), |conn| {
        outbox::table.filter(outbox::kind.eq("visit_reminder")).select(outbox::body_text).first::<String>(conn).ok()
    });
    assert!(body.contains("박도우미") && body.contains("한국 시간"), "{body}");
    std::thread::sleep(Duration::from_millis(600));
    let reminders: i64 = outbox::table.filter(outbox::kind.eq("visit_reminder")).count().get_result(&mut app.conn()).unwrap();
    assert_eq!(reminders, 1, "sent once");
}

#[test]
fn the_agency_sets_its_week_holidays_and_helpers_per_day() {
    let app = spawn_app();
    let mut agency = agency(&app);
    let page = agency.get("/contractor/capacity");
    page.assert_contains("1 09:00 3");
    agency.post("/contractor/capacity", &[("csrf_token", &page.csrf()), ("week", "8 25:00 x")]).assert_status(422).assert_contains("요일(1~7)");
    let (mut mom, _) = approved_resident(&app, "휴무", "holiday@example.kr");
    let slots = open_slots(&app, &mut mom);
    let day = slots.iter().find(|(_, d)| *d >= today() + chrono::Duration::days(2)).unwrap().1;
    let token = agency.get("/contractor/capacity").csrf();
    agency.post("/contractor/holidays", &[("csrf_token", &token), ("day", &day.to_string()), ("note", "창립기념일")]).assert_redirect("/contractor/capacity");
    let after = open_slots(&app, &mut mom);
    assert!(!after.iter().any(|(_, d)| *d == day), "no open times on a holiday");
    let (slot, _) = after[0].clone();
    agency.post(&format!("/contractor/slots/{slot}"), &[("csrf_token", &token), ("capacity", "0")]).assert_redirect("/contractor/capacity");
    book(&mut mom, &slot).assert_status(409);
}

#[test]
fn fifty_residents_pressing_book_for_the_last_place_book_exactly_one() {
    let app = spawn_app();
    let mut agency = agency(&app);
    let token = agency.get("/contractor/capacity").csrf();
    let week = (1..=7).map(|d| format!("{d} 09:00 1")).collect::<Vec<_>>().join("\n");
    agency.post("/contractor/capacity", &[("csrf_token", &token), ("week", &week)]).assert_redirect("/contractor/capacity");
    let mut residents: Vec<Browser> = (0..50).map(|i| approved_resident(&app, &format!("경쟁{i}"), &format!("race{i}@example.kr")).0).collect();
    let target = slots_on_distinct_days(&app, &mut residents[0], 1).remove(0);
    let tokens: Vec<String> = residents.iter_mut().map(|b| b.get("/my/visits/new").csrf()).collect();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(residents.len()));
    let handles: Vec<_> = residents
        .into_iter()
        .zip(tokens)
        .map(|(mut b, token)| {
            let (barrier, target) = (barrier.clone(), target.clone());
            std::thread::spawn(move || {
                barrier.wait();
                b.post("/my/visits/new", &[("csrf_token", &token), ("slot_id", &target)]).status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 303).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 49, "{statuses:?}");
    let booked: i32 = visit_slots::table.find(&target).select(visit_slots::booked).first(&mut app.conn()).unwrap();
    let rows: i64 = visits::table.filter(visits::slot_id.eq(&target)).count().get_result(&mut app.conn()).unwrap();
    assert_eq!((booked, rows), (1, 1));
}

// ---- notices rendered before the transaction (issue 15) ----

#[test]
fn a_recorded_birth_tells_her_once_by_mail_of_each_visit_it_cancels() {
    let sink = SmtpSink::start();
    let port = sink.port;
    let app = spawn_app_with(move |c| {
        c.smtp = Some(naju_helper::config::SmtpConfig { host: "127.0.0.1".into(), port, security: naju_helper::config::SmtpSecurity::None, username: None, password: None })
    });
    let (mut mom, app_id) = approved_resident(&app, "출산알림", "born@example.kr");
    let slots = slots_on_distinct_days(&app, &mut mom, 2);
    book(&mut mom, &slots[0]).assert_redirect("/my/visits");
    book(&mut mom, &slots[1]).assert_redirect("/my/visits");
    let page = mom.get(&format!("/my/applications/{app_id}/birth"));
    mom.post(&format!("/my/applications/{app_id}/birth"), &[("csrf_token", &page.csrf()), ("born_on", &today().to_string())])
        .assert_redirect(&format!("/my/applications/{app_id}"));
    let told: Vec<(String, String, String)> = outbox::table
        .filter(outbox::kind.eq("visit_cancelled"))
        .order(outbox::body_text.asc())
        .select((outbox::id, outbox::recipient, outbox::body_text))
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(told.len(), 2, "one message per cancelled visit");
    assert_ne!(told[0].2, told[1].2, "each speaks of its own visit");
    for (id, to, body) in &told {
        assert_eq!(to, "born@example.kr");
        assert!(body.contains("출산알림") && body.contains("출산으로 서비스가 종료되어"), "{body}");
        let mark = format!("Message-ID: <{id}@naju-helper>");
        let mail = decoded(&sink.wait_for_message(Duration::from_secs(30), |m| m.contains(&mark)));
        assert!(mail.contains("출산으로 서비스가 종료되어"), "{mail}");
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(sink.messages().iter().filter(|m| m.contains(&mark)).count(), 1, "delivered once");
    }
}

// ---- booking steps: calendar, times, check your answers ----

/// The agency's week: `lines` as the capacity form takes them.
fn set_week(app: &TestApp, lines: &str) {
    let mut agency = agency(app);
    let token = agency.get("/contractor/capacity").csrf();
    agency.post("/contractor/capacity", &[("csrf_token", &token), ("week", lines)]).assert_redirect("/contractor/capacity");
}

/// Every `?day=` link of the booking calendar, month after month (following
/// the "next month" links from the first month shown).
fn calendar_days(b: &mut Browser, base: &str) -> Vec<String> {
    let mut days = vec![];
    let mut page = b.get(base);
    page.assert_status(200);
    for _ in 0..6 {
        for part in page.body.split("class=\"cal-free\" href=\"").skip(1) {
            let href = part.split('"').next().unwrap();
            days.push(href.split("?day=").nth(1).unwrap().to_string());
        }
        let Some(next) = page.body.split("rel=\"next\" id=\"month-next\"").next().and_then(|before| before.rsplit("href=\"").next()) else { break };
        if !page.body.contains("id=\"month-next\"") {
            break;
        }
        let next = next.split('"').next().unwrap().to_string();
        page = b.get(&next);
        page.assert_status(200);
    }
    days
}

/// Open days of the resident's booking window as the database has them.
fn open_days_in_db(app: &TestApp) -> Vec<String> {
    let mut days: Vec<NaiveDate> = visit_slots::table
        .filter(visit_slots::day.ge(today() + chrono::Duration::days(2)))
        .filter(visit_slots::booked.lt(visit_slots::capacity))
        .select(visit_slots::day)
        .load(&mut app.conn())
        .unwrap();
    days.dedup();
    days.sort();
    days.dedup();
    days.into_iter().map(|d| d.to_string()).collect()
}

fn slots_of_day(app: &TestApp, day: &str) -> Vec<String> {
    let day: NaiveDate = day.parse().unwrap();
    visit_slots::table
        .filter(visit_slots::day.eq(day))
        .filter(visit_slots::booked.lt(visit_slots::capacity))
        .order(visit_slots::start_minute.asc())
        .select(visit_slots::id)
        .load(&mut app.conn())
        .unwrap()
}

/// "2026년 12월 3일 목요일" as the calendar announces a day.
fn long_ko(day: NaiveDate) -> String {
    use chrono::Datelike;
    let wd = ["월", "화", "수", "목", "금", "토", "일"][day.weekday().num_days_from_monday() as usize];
    format!("{}년 {}월 {}일 {wd}요일", day.year(), day.month(), day.day())
}

#[test]
fn the_calendar_offers_exactly_the_days_with_free_times() {
    let app = spawn_app();
    // Mondays and Thursdays only; one Thursday's only time is closed.
    set_week(&app, "1 09:00 2\n4 13:00 1");
    let (mut mom, _) = approved_resident(&app, "달력", "calendar@example.kr");
    mom.get("/my/visits/new").assert_status(200);
    let first_thursday = open_days_in_db(&app).into_iter().map(|d| d.parse::<NaiveDate>().unwrap()).find(|d| d.format("%u").to_string() == "4").unwrap();
    let closed = slots_of_day(&app, &first_thursday.to_string()).remove(0);
    let mut agency = agency(&app);
    let token = agency.get("/contractor/capacity").csrf();
    agency.post(&format!("/contractor/slots/{closed}"), &[("csrf_token", &token), ("capacity", "0")]).assert_redirect("/contractor/capacity");

    let offered = calendar_days(&mut mom, "/my/visits/new");
    let expected = open_days_in_db(&app);
    assert!(!expected.is_empty());
    assert_eq!(offered, expected, "the calendar links exactly the days with free times");
    assert!(!offered.contains(&first_thursday.to_string()), "the closed day is not offered");
    for day in &offered {
        let wd = day.parse::<NaiveDate>().unwrap().format("%u").to_string();
        assert!(wd == "1" || wd == "4", "{day} is a Monday or Thursday");
    }

    // A real table: caption, weekday headers, each day named in full.
    let first: NaiveDate = offered[0].parse().unwrap();
    // A day of the same month without times (Mondays and Thursdays have them).
    let off = if first.format("%d").to_string() == "01" { first + chrono::Duration::days(1) } else { first - chrono::Duration::days(1) };
    let page = mom.get(&format!("/my/visits/new?month={}", first.format("%Y-%m")));
    page.assert_contains("<table class=\"calendar\"")
        .assert_contains(&format!("<caption>{}년 {}월</caption>", first.format("%Y"), first.format("%-m")))
        .assert_contains("<th scope=\"col\"><span aria-hidden=\"true\">일</span><span class=\"visually-hidden\">일요일</span></th>")
        .assert_contains(&format!("href=\"/my/visits/new?day={first}\"><span aria-hidden=\"true\">{}</span><span class=\"visually-hidden\">{}, 예약 가능</span>", first.format("%-d"), long_ko(first)))
        .assert_contains(&format!("<span class=\"visually-hidden\">{}, 예약 불가</span>", long_ko(off)));
    // In English, the same day.
    mom.get("/lang/en");
    mom.get(&format!("/my/visits/new?month={}", first.format("%Y-%m"))).assert_contains(&format!("{}, available", first.format("%A %-d %B %Y")));
    mom.get("/lang/ko");

    // A bad date or a day without times: back to the calendar, with why.
    mom.get("/my/visits/new?day=2026-13-45").assert_status(422).assert_contains("그런 날짜는 없습니다").assert_contains("href=\"#f-day\"");
    mom.get(&format!("/my/visits/new?day={first_thursday}")).assert_status(409).assert_contains("그 날에는 예약할 수 있는 시간이 없습니다");
    mom.get("/my/visits/new?month=soon").assert_status(422).assert_contains("<table class=\"calendar\"");
}

#[test]
fn a_day_lists_its_times_then_she_checks_her_answers_and_books() {
    let app = spawn_app();
    set_week(&app, &(1..=7).map(|d| format!("{d} 09:00 2\n{d} 14:00 1")).collect::<Vec<_>>().join("\n"));
    let (mut mom, app_id) = approved_resident(&app, "세단계", "steps@example.kr");
    let day = calendar_days(&mut mom, "/my/visits/new").remove(0);
    let date: NaiveDate = day.parse().unwrap();

    // Step 2: that day's free times, and no other day's.
    let times = mom.get(&format!("/my/visits/new?day={day}"));
    times.assert_status(200).assert_contains(&format!("<legend class=\"legend--large\">{}</legend>", long_ko(date)));
    let slots = slots_of_day(&app, &day);
    assert_eq!(times.body.matches("name=\"slot_id\"").count(), slots.len());
    for s in &slots {
        times.assert_contains(&format!("value=\"{s}\""));
    }
    times.assert_contains("09:00–13:00").assert_contains("14:00–18:00").assert_contains("action=\"/my/visits/new/check\"");
    // No time chosen: back to the times with the error.
    mom.get(&format!("/my/visits/new/check?day={day}")).assert_status(409).assert_contains("방문 날짜와 시간을 골라 주세요").assert_contains("<legend");

    // Step 3: her answers with links back to each step.
    let check = mom.get(&format!("/my/visits/new/check?day={day}&slot_id={}", slots[1]));
    check
        .assert_status(200)
        .assert_contains(&format!("<dd id=\"answer-date\">{}</dd>", long_ko(date)))
        .assert_contains("<dd id=\"answer-time\">14:00–18:00</dd>")
        .assert_contains("<dd id=\"answer-hours\">4시간</dd>")
        .assert_contains("<dd id=\"answer-agency\">")
        .assert_contains("빛가람로 100, 101동 202호")
        .assert_contains(&format!("href=\"/my/visits/new?month={}\"", date.format("%Y-%m")))
        .assert_contains(&format!("href=\"/my/visits/new?day={day}\""));
    let token = check.csrf();
    assert_eq!(visit_ids(&app, &app_id).len(), 0, "nothing is booked before she confirms");
    let done = mom.post("/my/visits/new", &[("csrf_token", &token), ("slot_id", &slots[1]), ("day", &day), ("laundry", "yes"), ("notes", "초인종 고장")]);
    done.assert_redirect("/my/visits");
    mom.get("/my/visits").assert_contains("방문을 요청했습니다");
    let (slot, tasks, notes): (String, String, String) =
        visits::table.filter(visits::application_id.eq(&app_id)).select((visits::slot_id, visits::tasks, visits::notes)).first(&mut app.conn()).unwrap();
    assert_eq!((slot.as_str(), tasks.as_str(), notes.as_str()), (slots[1].as_str(), "laundry", "초인종 고장"));
    // Her booked day is no longer offered.
    assert!(!calendar_days(&mut mom, "/my/visits/new").contains(&day));

    // Moving it goes through the same steps.
    let visit = visit_ids(&app, &app_id).remove(0);
    let base = format!("/my/visits/{visit}/reschedule");
    let other = calendar_days(&mut mom, &base).into_iter().find(|d| *d != day).unwrap();
    let target = slots_of_day(&app, &other).remove(0);
    mom.get(&format!("{base}?day={other}")).assert_status(200).assert_contains(&format!("action=\"{base}/check\""));
    let check = mom.get(&format!("{base}/check?day={other}&slot_id={target}"));
    check.assert_status(200).assert_contains("현재 예약").assert_contains("<dd id=\"answer-time\">09:00–13:00</dd>").assert_lacks("name=\"notes\"");
    mom.post(&base, &[("csrf_token", &check.csrf()), ("slot_id", &target), ("day", &other)]).assert_redirect("/my/visits");
    let moved: String = visits::table.find(&visit).select(visits::slot_id).first(&mut app.conn()).unwrap();
    assert_eq!(moved, target);
}

#[test]
fn a_time_taken_meanwhile_returns_to_the_times_with_the_error_and_nothing_lost() {
    let app = spawn_app();
    set_week(&app, &(1..=7).map(|d| format!("{d} 09:00 1\n{d} 14:00 1")).collect::<Vec<_>>().join("\n"));
    let (mut mom, app_id) = approved_resident(&app, "늦은선택", "late@example.kr");
    let (mut rival, _) = approved_resident(&app, "먼저선택", "first@example.kr");
    let day = calendar_days(&mut mom, "/my/visits/new").remove(0);
    let slots = slots_of_day(&app, &day);
    let check = mom.get(&format!("/my/visits/new/check?day={day}&slot_id={}", slots[0]));
    check.assert_status(200);
    // The rival takes that time first.
    book(&mut rival, &slots[0]).assert_redirect("/my/visits");
    let refused = mom.post("/my/visits/new", &[("csrf_token", &check.csrf()), ("slot_id", &slots[0]), ("day", &day), ("laundry", "yes"), ("notes", "고양이 있음")]);
    refused
        .assert_status(409)
        .assert_contains("방금 그 시간이 마감되었습니다")
        .assert_contains("href=\"#f-slot_id\"")
        .assert_contains(&format!("value=\"{}\"", slots[1]))
        .assert_lacks(&format!("value=\"{}\"", slots[0]))
        .assert_contains("name=\"notes\" value=\"고양이 있음\"")
        .assert_contains("name=\"laundry\" value=\"yes\"");
    // She picks the other time: her answers come back with what she typed.
    let check = mom.post("/my/visits/new", &[("csrf_token", &refused.csrf()), ("step", "check"), ("slot_id", &slots[1]), ("day", &day), ("laundry", "yes"), ("notes", "고양이 있음")]);
    check.assert_status(200).assert_contains("<dd id=\"answer-time\">14:00–18:00</dd>").assert_contains(">고양이 있음</textarea>").assert_contains("id=\"task-laundry\" name=\"laundry\" value=\"yes\" checked");
    assert_eq!(visit_ids(&app, &app_id).len(), 0);
    mom.post("/my/visits/new", &[("csrf_token", &check.csrf()), ("slot_id", &slots[1]), ("day", &day), ("laundry", "yes"), ("notes", "고양이 있음")]).assert_redirect("/my/visits");
    assert_eq!(visit_ids(&app, &app_id).len(), 1);
    // Too long notes: back to her answers, the notes kept.
    let day2 = calendar_days(&mut mom, "/my/visits/new").remove(0);
    let slot2 = slots_of_day(&app, &day2).remove(0);
    let long = "가".repeat(1001);
    mom.post("/my/visits/new", &[("csrf_token", &check.csrf()), ("slot_id", &slot2), ("day", &day2), ("notes", &long)])
        .assert_status(422)
        .assert_contains("전달 사항은 1000자 이내로")
        .assert_contains(&format!(">{long}</textarea>"));
}

#[test]
fn another_resident_cannot_see_or_book_through_someone_elses_booking() {
    let app = spawn_app();
    let (mut mom, app_id) = approved_resident(&app, "본인", "own@example.kr");
    let slots = slots_on_distinct_days(&app, &mut mom, 2);
    book(&mut mom, &slots[0]).assert_redirect("/my/visits");
    let visit = visit_ids(&app, &app_id).remove(0);
    let (mut other, other_app) = approved_resident(&app, "남", "not-own@example.kr");
    let token = other.get("/my/visits").csrf();
    let base = format!("/my/visits/{visit}/reschedule");
    other.get(&base).assert_status(404);
    other.get(&format!("{base}?day={}", today() + chrono::Duration::days(3))).assert_status(404);
    other.get(&format!("{base}/check?slot_id={}", slots[1])).assert_status(404);
    other.post(&base, &[("csrf_token", &token), ("slot_id", &slots[1])]).assert_status(404);
    let still: String = visits::table.find(&visit).select(visits::slot_id).first(&mut app.conn()).unwrap();
    assert_eq!(still, slots[0]);

    // Another agency's time (not hers): not shown, not booked.
    let yeongsan = naju_helper::agencies::id_of(&mut app.conn(), "yeongsan-care").unwrap().unwrap();
    let foreign = "foreign-slot";
    diesel::insert_into(visit_slots::table)
        .values((
            visit_slots::id.eq(foreign),
            visit_slots::agency_id.eq(&yeongsan),
            visit_slots::day.eq(today() + chrono::Duration::days(5)),
            visit_slots::start_minute.eq(600),
            visit_slots::capacity.eq(3),
            visit_slots::booked.eq(0),
        ))
        .execute(&mut app.conn())
        .unwrap();
    other.get(&format!("/my/visits/new/check?slot_id={foreign}")).assert_status(409).assert_lacks("영산강돌봄").assert_lacks("answer-date");
    other.post("/my/visits/new", &[("csrf_token", &token), ("slot_id", foreign)]).assert_status(409);
    assert_eq!(visit_ids(&app, &other_app).len(), 0);
    // Agencies and staff have no booking steps.
    agency(&app).get("/my/visits/new/check").assert_status(403);
    staff(&app).get(&format!("{base}/check")).assert_status(403);
}
