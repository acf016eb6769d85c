//! The agency's side of issue 14: assigning a helper shows who is free at the
//! visit's time and how busy each is that week, a double booking of a helper
//! is refused (also when two people assign at the same moment), and the
//! monthly statement per helper and agency (page and XLSX) adds up to the
//! completed visits in the database, and is the agency's own.

mod common;

use std::collections::BTreeMap;
use std::io::Read;

use chrono::{Datelike, NaiveDate};
use common::{approved_resident, spawn_app, today, Browser, TestApp};
use diesel::prelude::*;
use naju_helper::db::schema::{access_log, access_log_pending, agencies, helpers, visit_slots, visits};
use naju_helper::demo;

fn agency(app: &TestApp) -> Browser {
    let mut b = app.browser();
    b.login(demo::CONTRACTOR_EMAIL, demo::CONTRACTOR_PASSWORD);
    b
}

fn helper_id(app: &TestApp, name: &str) -> String {
    helpers::table.filter(helpers::name.eq(name)).select(helpers::id).first(&mut app.conn()).unwrap()
}

fn agency_id(app: &TestApp, code: &str) -> String {
    agencies::table.filter(agencies::code.eq(code)).select(agencies::id).first(&mut app.conn()).unwrap()
}

/// Open slots from the day after tomorrow on, as her booking page offers them.
fn bookable(app: &TestApp, b: &mut Browser) -> Vec<(String, NaiveDate, i32)> {
    b.get("/my/visits/new").assert_status(200);
    visit_slots::table
        .filter(visit_slots::day.ge(today() + chrono::Duration::days(2)))
        .filter(visit_slots::booked.lt(visit_slots::capacity))
        .order((visit_slots::day.asc(), visit_slots::start_minute.asc()))
        .select((visit_slots::id, visit_slots::day, visit_slots::start_minute))
        .load(&mut app.conn())
        .unwrap()
}

/// Books a slot; returns the new visit's id.
fn book(app: &TestApp, b: &mut Browser, slot: &str) -> String {
    let token = b.get("/my/visits/new").csrf();
    b.post("/my/visits/new", &[("csrf_token", &token), ("slot_id", slot), ("cleaning", "yes")]).assert_redirect("/my/visits");
    visits::table.filter(visits::slot_id.eq(slot)).order(visits::created_at.desc()).select(visits::id).first(&mut app.conn()).unwrap()
}

fn assign(b: &mut Browser, visit: &str, helper: &str) -> common::Resp {
    let token = b.get(&format!("/contractor/visits/{visit}")).csrf();
    b.post(&format!("/contractor/visits/{visit}"), &[("csrf_token", &token), ("action", "confirm"), ("helper_id", helper)])
}

fn complete(b: &mut Browser, visit: &str, from: &str, to: &str) {
    let token = b.get(&format!("/contractor/visits/{visit}")).csrf();
    b.post(&format!("/contractor/visits/{visit}"), &[("csrf_token", &token), ("action", "complete"), ("actual_start", from), ("actual_end", to), ("tasks_done", "청소")])
        .assert_redirect(&format!("/contractor/visits/{visit}"));
}

fn visit_status(app: &TestApp, id: &str) -> (String, Option<String>) {
    visits::table.find(id).select((visits::status, visits::helper_id)).first(&mut app.conn()).unwrap()
}

/// The number in the cell of class `class` after `anchor` in a page.
fn cell(body: &str, anchor: &str, class: &str) -> i64 {
    let at = body.find(anchor).unwrap_or_else(|| panic!("{anchor} not on the page"));
    let marker = format!("class=\"{class}\">");
    let start = at + body[at..].find(&marker).unwrap_or_else(|| panic!("no {class} after {anchor}")) + marker.len();
    let end = start + body[start..].find('<').unwrap();
    body[start..end].trim().parse().unwrap_or_else(|_| panic!("{class} after {anchor}: {:?}", &body[start..end]))
}

/// A binary download with the browser's session.
fn download(app: &TestApp, b: &Browser, path: &str) -> Vec<u8> {
    let cookie = b.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let resp = ureq::get(&format!("{}{path}", app.base)).set("Cookie", &cookie).call().expect("download");
    assert_eq!(resp.header("content-type"), Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"));
    let mut bytes = vec![];
    resp.into_reader().read_to_end(&mut bytes).unwrap();
    bytes
}

/// Per helper id: completed visits, planned hours and co-pays of the agency
/// in the month starting on `month`, straight from the database.
fn completed_in_db(app: &TestApp, agency: &str, month: NaiveDate) -> BTreeMap<String, (i64, i64, i64)> {
    let next = month.checked_add_months(chrono::Months::new(1)).unwrap();
    let rows: Vec<(Option<String>, i32, i32)> = visits::table
        .filter(visits::agency_id.eq(agency))
        .filter(visits::status.eq("completed"))
        .filter(visits::day.ge(month))
        .filter(visits::day.lt(next))
        .select((visits::helper_id, visits::hours, visits::copay_won))
        .load(&mut app.conn())
        .unwrap();
    let mut out = BTreeMap::new();
    for (helper, hours, copay) in rows {
        let e = out.entry(helper.unwrap()).or_insert((0, 0, 0));
        *e = (e.0 + 1, e.1 + hours as i64, e.2 + copay as i64);
    }
    out
}

fn number(c: &calamine::Data) -> i64 {
    match c {
        calamine::Data::Float(f) => *f as i64,
        calamine::Data::Int(i) => *i,
        other => panic!("not a number: {other:?}"),
    }
}

fn text(c: &calamine::Data) -> String {
    match c {
        calamine::Data::String(s) => s.clone(),
        calamine::Data::Empty => String::new(),
        other => other.to_string(),
    }
}

#[test]
fn the_statement_adds_up_to_the_completed_visits_per_helper_on_screen_and_in_the_xlsx() {
    let app = spawn_app();
    let mut office = agency(&app);
    let (kim, choi, park) = (helper_id(&app, "김도우미"), helper_id(&app, "최도우미"), helper_id(&app, "박도우미"));
    // Two residents, three visits each on three days.
    let mut booked = vec![];
    for (name, email) in [("명세하나", "statement-1@example.kr"), ("명세둘", "statement-2@example.kr")] {
        let (mut mom, _) = approved_resident(&app, name, email);
        let mut days: Vec<NaiveDate> = vec![];
        for (slot, day, _) in bookable(&app, &mut mom) {
            if days.len() < 3 && !days.contains(&day) {
                days.push(day);
                booked.push(book(&app, &mut mom, &slot));
            }
        }
    }
    assert_eq!(booked.len(), 6);
    // Hers: Kim, Choi, Kim; the other's: Choi, Park, Park (the last not completed).
    let plan = [&kim, &choi, &kim, &choi, &park, &park];
    for (visit, helper) in booked.iter().zip(plan) {
        let res = assign(&mut office, visit, helper);
        if res.status == 409 {
            // Same day and time as the first resident's: another helper.
            assign(&mut office, visit, &park).assert_redirect(&format!("/contractor/visits/{visit}"));
        } else {
            res.assert_redirect(&format!("/contractor/visits/{visit}"));
        }
    }
    for visit in &booked[..5] {
        complete(&mut office, visit, "09:10", "12:40");
    }
    // A co-pay on one visit, to see it carried through.
    diesel::update(visits::table.find(&booked[0])).set(visits::copay_won.eq(7000)).execute(&mut app.conn()).unwrap();

    let naju = agency_id(&app, "naju-care");
    let unit: i32 = agencies::table.find(&naju).select(agencies::unit_price_won).first(&mut app.conn()).unwrap();
    let unit = unit as i64;
    let days: Vec<NaiveDate> = visits::table.filter(visits::id.eq_any(&booked[..5])).select(visits::day).load(&mut app.conn()).unwrap();
    let mut months: Vec<NaiveDate> = days.iter().map(|d| d.with_day(1).unwrap()).collect();
    months.sort();
    months.dedup();
    let mut helpers_seen = 0;
    for month in months {
        let m = month.format("%Y-%m").to_string();
        let truth = completed_in_db(&app, &naju, month);
        helpers_seen += truth.len();
        let page = office.get(&format!("/contractor/statement?month={m}"));
        page.assert_status(200).assert_lacks("명세하나").assert_lacks("명세둘");
        let body = &page.body;
        let (mut visits_total, mut hours_total, mut copays_total) = (0, 0, 0);
        for (helper, (n, hours, copays)) in &truth {
            let row = format!("id=\"sum-{helper}\"");
            assert_eq!(cell(body, &row, "visits"), *n, "{m} {helper} visits");
            assert_eq!(cell(body, &row, "planned-hours"), *hours);
            assert_eq!(cell(body, &row, "amount"), hours * unit);
            assert_eq!(cell(body, &row, "copays"), *copays);
            assert_eq!(cell(body, &row, "city-share"), hours * unit - copays);
            // Her own section lists each visit, and its subtotal is the same.
            let section = format!("id=\"helper-{helper}\"");
            let from = body.find(&section).unwrap();
            let to = from + body[from..].find("</section>").unwrap();
            assert_eq!(body[from..to].matches("class=\"line\"").count() as i64, *n);
            assert_eq!(cell(&body[from..to], "class=\"subtotal\"", "amount"), hours * unit);
            (visits_total, hours_total, copays_total) = (visits_total + n, hours_total + hours, copays_total + copays);
        }
        assert_eq!(body.matches("id=\"sum-").count(), truth.len(), "only helpers with completed visits");
        assert_eq!(cell(body, "id=\"agency-total\"", "visits"), visits_total);
        assert_eq!(cell(body, "id=\"agency-total\"", "amount"), hours_total * unit);
        assert_eq!(cell(body, "id=\"agency-total\"", "copays"), copays_total);

        // The workbook: a summary, then one sheet per helper.
        use calamine::Reader;
        let bytes = download(&app, &office, &format!("/contractor/statement?month={m}&format=xlsx"));
        let mut wb: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).expect("an xlsx");
        let names = wb.sheet_names();
        assert_eq!(names.len(), 1 + truth.len(), "{names:?}");
        assert_eq!(names[0], "요약");
        let summary = wb.worksheet_range(&names[0]).unwrap();
        let rows: Vec<Vec<calamine::Data>> = summary.rows().map(|r| r.to_vec()).collect();
        for (helper, (n, hours, copays)) in &truth {
            let name: String = helpers::table.find(helper).select(helpers::name).first(&mut app.conn()).unwrap();
            let row = rows.iter().find(|r| text(&r[0]) == name).unwrap_or_else(|| panic!("{name} on the summary sheet"));
            assert_eq!((number(&row[1]), number(&row[2]), number(&row[4]), number(&row[5]), number(&row[6])), (*n, *hours, hours * unit, *copays, hours * unit - copays));
            let sheet = wb.worksheet_range(&name).unwrap_or_else(|e| panic!("a sheet for {name}: {e}"));
            let lines: Vec<Vec<calamine::Data>> = sheet.rows().map(|r| r.to_vec()).collect();
            let visit_rows = lines.iter().filter(|r| text(&r[2]).starts_with("HW-")).count() as i64;
            assert_eq!(visit_rows, *n, "{name}'s visits, each by reference");
            let sub = lines.iter().find(|r| text(&r[0]) == "소계").expect("a subtotal row");
            assert_eq!((number(&sub[3]), number(&sub[5]), number(&sub[6])), (*hours, *copays, hours * unit));
        }
        let total = rows.iter().find(|r| text(&r[0]) == "기관 합계").expect("the agency's total");
        assert_eq!((number(&total[1]), number(&total[2]), number(&total[4])), (visits_total, hours_total, hours_total * unit));
        let everything = rows.iter().flatten().map(text).collect::<Vec<_>>().join(" ");
        assert!(!everything.contains("명세하나") && !everything.contains("명세둘"), "no resident's name in the workbook");
    }
    assert!(helpers_seen >= 3, "three helpers with completed visits");
    // The download is in the access log (the page view too).
    let exports: i64 = access_log_pending::table.filter(access_log_pending::action.eq("export")).filter(access_log_pending::reason.like("statement %")).count().get_result(&mut app.conn()).unwrap();
    let chained: i64 = access_log::table.filter(access_log::action.eq("export")).filter(access_log::reason.like("statement %")).count().get_result(&mut app.conn()).unwrap();
    assert!(exports + chained >= 1, "the statement's export is logged");

    // Staff see the same statement from the settlement, read-only.
    let month = days.iter().min().unwrap().format("%Y-%m").to_string();
    let mut staff = app.browser();
    staff.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD);
    staff.get(&format!("/staff/visits/settlement?month={month}")).assert_contains(&format!("/staff/visits/settlement/{naju}?month={month}"));
    let theirs = staff.get(&format!("/staff/visits/settlement/{naju}?month={month}"));
    let ours = office.get(&format!("/contractor/statement?month={month}"));
    theirs.assert_status(200).assert_lacks("명세하나").assert_lacks("action=\"/contractor");
    assert_eq!(cell(&theirs.body, "id=\"agency-total\"", "amount"), cell(&ours.body, "id=\"agency-total\"", "amount"));
}

#[test]
fn an_agency_sees_only_its_own_statement() {
    let app = spawn_app();
    let (mut mom, _) = approved_resident(&app, "남의명세", "other-statement@example.kr");
    let (slot, day, _) = bookable(&app, &mut mom).remove(0);
    let visit = book(&app, &mut mom, &slot);
    let mut office = agency(&app);
    assign(&mut office, &visit, &helper_id(&app, "김도우미")).assert_redirect(&format!("/contractor/visits/{visit}"));
    complete(&mut office, &visit, "09:00", "13:00");
    let month = day.format("%Y-%m").to_string();
    let reference: String = naju_helper::db::schema::applications::table
        .inner_join(visits::table)
        .filter(visits::id.eq(&visit))
        .select(naju_helper::db::schema::applications::reference)
        .first(&mut app.conn())
        .unwrap();
    office.get(&format!("/contractor/statement?month={month}")).assert_contains(&reference).assert_contains("김도우미");

    let naju = agency_id(&app, "naju-care");
    let mut other = app.browser();
    other.login(demo::CONTRACTOR2_EMAIL, demo::CONTRACTOR_PASSWORD);
    // Its own statement has none of A's, whatever it asks for.
    other
        .get(&format!("/contractor/statement?month={month}&agency={naju}"))
        .assert_status(200)
        .assert_lacks(&reference)
        .assert_lacks("김도우미")
        .assert_contains("id=\"no-visits\"");
    other.get(&format!("/staff/visits/settlement/{naju}?month={month}")).assert_status(403);
    other.get(&format!("/staff/visits/settlement/{naju}?month={month}&format=xlsx")).assert_status(403);
    mom.get("/contractor/statement").assert_status(403);
    let mut staff = app.browser();
    staff.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD);
    staff.get("/staff/visits/settlement/no-such-agency").assert_status(404);
}

#[test]
fn the_roster_marks_a_helper_busy_once_she_has_an_overlapping_visit_and_refuses_her_twice() {
    let app = spawn_app();
    // Two residents on the same day and time.
    let (mut first, _) = approved_resident(&app, "같은시간하나", "same-1@example.kr");
    let (mut second, _) = approved_resident(&app, "같은시간둘", "same-2@example.kr");
    let (slot, _, start) = bookable(&app, &mut first).remove(0);
    let a = book(&app, &mut first, &slot);
    let b = book(&app, &mut second, &slot);
    let kim = helper_id(&app, "김도우미");
    let mut office = agency(&app);
    let page = office.get(&format!("/contractor/visits/{b}"));
    page.assert_contains(&format!("id=\"f-helper_id-{kim}\" name=\"helper_id\" value=\"{kim}\" aria-describedby"))
        .assert_contains("그 주 방문 0회 · 0시간")
        .assert_lacks(" disabled");

    assign(&mut office, &a, &kim).assert_redirect(&format!("/contractor/visits/{a}"));
    let page = office.get(&format!("/contractor/visits/{b}"));
    page.assert_contains(&format!("id=\"f-helper_id-{kim}\" name=\"helper_id\" value=\"{kim}\" disabled"))
        .assert_contains(&format!("같은 시간 다른 방문 있음 ({:02}:00–{:02}:00)", start / 60, start / 60 + 4))
        .assert_contains("그 주 방문 1회 · 4시간");
    // The server refuses her all the same (a stale page, or a hand-made post).
    let refused = assign(&mut office, &b, &kim);
    refused.assert_status(409).assert_contains("그 가사관리사는 그 시간에 이미 다른 방문이 있습니다").assert_contains("href=\"#f-helper_id\"").assert_contains("id=\"f-helper_id-error\"");
    assert_eq!(visit_status(&app, &b), ("requested".to_string(), None));
    // Choosing nobody is an error at the choice too.
    assign(&mut office, &b, "").assert_status(422).assert_contains("배정할 가사관리사를 골라 주세요");
    let choi = helper_id(&app, "최도우미");
    assign(&mut office, &b, &choi).assert_redirect(&format!("/contractor/visits/{b}"));
    assert_eq!(visit_status(&app, &b), ("confirmed".to_string(), Some(choi)));
}

#[test]
fn two_people_assigning_one_helper_at_the_same_moment_book_her_once() {
    let app = spawn_app();
    // Room for six visits at each start time.
    let mut office = agency(&app);
    let token = office.get("/contractor/capacity").csrf();
    let week = (1..=7).map(|d| format!("{d} 09:00 6")).collect::<Vec<_>>().join("\n");
    office.post("/contractor/capacity", &[("csrf_token", &token), ("week", &week)]).assert_redirect("/contractor/capacity");
    let mut residents: Vec<Browser> = (0..6).map(|i| approved_resident(&app, &format!("동시배정{i}"), &format!("assign-race-{i}@example.kr")).0).collect();
    let (slot, _, _) = bookable(&app, &mut residents[0]).remove(0);
    let visits_at_once: Vec<String> = residents.iter_mut().map(|b| book(&app, b, &slot)).collect();
    let kim = helper_id(&app, "김도우미");
    // Six staff of the agency, each on one of the visits, press confirm together.
    let offices: Vec<(Browser, String, String)> = visits_at_once
        .iter()
        .map(|v| {
            let mut b = agency(&app);
            let token = b.get(&format!("/contractor/visits/{v}")).csrf();
            (b, token, v.clone())
        })
        .collect();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(offices.len()));
    let handles: Vec<_> = offices
        .into_iter()
        .map(|(mut b, token, v)| {
            let (barrier, kim) = (barrier.clone(), kim.clone());
            std::thread::spawn(move || {
                barrier.wait();
                b.post(&format!("/contractor/visits/{v}"), &[("csrf_token", &token), ("action", "confirm"), ("helper_id", &kim)]).status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 303).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 5, "{statuses:?}");
    let hers: i64 = visits::table.filter(visits::helper_id.eq(&kim)).filter(visits::status.eq("confirmed")).count().get_result(&mut app.conn()).unwrap();
    assert_eq!(hers, 1, "one visit at that time for her");
}
