//! Staff search (/staff/search) and the staff home's figures, against a
//! world of two residents: each key finds hers and not the other's, every
//! search is in the access log (its kind and counts, not the term), and the
//! home's numbers are the database's counts.

mod common;

use chrono::{Datelike, Duration, NaiveDate};
use common::{approved_resident_as, access_log_chained, complete_draft_as, due_date_at_week, signed_up_resident, submit_application, today, Applicant, Browser, TestApp};
use diesel::prelude::*;
use naju_helper::db::schema::{
    access_log, agencies, applications, children, clinic_bookings, clinic_sessions, outbox, programs, users, visit_slots, visits,
};
use naju_helper::demo;

struct Resident {
    user_id: String,
    app_id: String,
    reference: String,
    child_birth: NaiveDate,
}

fn staff(app: &TestApp) -> Browser {
    let mut b = app.browser();
    b.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD).assert_status(303);
    b
}

fn user_id(app: &TestApp, email: &str) -> String {
    users::table.filter(users::email.eq(email)).select(users::id).first(&mut app.conn()).unwrap()
}

/// Gives her account and her application one phone number.
fn set_phone(app: &TestApp, user_id: &str, app_id: &str, phone: &str) {
    diesel::update(users::table.find(user_id)).set(users::phone.eq(phone)).execute(&mut app.conn()).unwrap();
    diesel::update(applications::table.find(app_id)).set(applications::phone.eq(phone)).execute(&mut app.conn()).unwrap();
}

/// Registers her child and books the infant check-up with it.
fn book_with_child(app: &TestApp, b: &mut Browser, user_id: &str, child: &str, born: NaiveDate) -> String {
    let page = b.get("/my/children");
    b.post("/my/children", &[("csrf_token", &page.csrf()), ("name", child), ("birth_date", &born.to_string())]).assert_redirect("/my/children");
    let child_id: String = children::table.filter(children::user_id.eq(user_id)).select(children::id).first(&mut app.conn()).unwrap();
    let (session, slot) = common::clinic_slot(app, "infant_checkup");
    let token = b.get(&format!("/clinic/sessions/{session}")).csrf();
    b.post("/clinic/bookings", &[("csrf_token", &token), ("session_id", &session), ("slot_id", &slot), ("child_id", &child_id)]).assert_redirect("/my/clinic");
    session
}

/// Books the first slot the rules allow; returns the visit's id.
fn book_visit(app: &TestApp, b: &mut Browser, user_id: &str) -> String {
    // The form opens the slots it offers.
    let token = b.get("/my/visits/new").csrf();
    let candidates: Vec<String> = visit_slots::table
        .inner_join(agencies::table.on(agencies::id.eq(visit_slots::agency_id)))
        .filter(visit_slots::day.ge(today() + Duration::days(2)))
        .filter(visit_slots::booked.lt(visit_slots::capacity))
        .order((visit_slots::day.asc(), visit_slots::start_minute.asc()))
        .select(visit_slots::id)
        .limit(40)
        .load(&mut app.conn())
        .unwrap();
    let booked = candidates.iter().any(|slot| {
        let res = b.post("/my/visits/new", &[("csrf_token", &token), ("slot_id", slot), ("cleaning", "yes")]);
        res.status == 303 && res.location.as_deref() == Some("/my/visits")
    });
    assert!(booked, "a visit could be booked");
    visits::table.filter(visits::user_id.eq(user_id)).select(visits::id).first(&mut app.conn()).unwrap()
}

/// 김나주 (approved, a visit, her baby 나주아기 booked for the infant
/// check-up) and Emily Park (approved, her baby booked too), each with her
/// own phone number.
fn world(app: &TestApp) -> (Resident, Resident, String) {
    let (mut a, a_app) = approved_resident_as(app, "김나주", "a@search.example", &Applicant { name: "김나주", ..Applicant::default() });
    let (mut b, b_app) = approved_resident_as(app, "Emily Park", "b@search.example", &Applicant { name: "Emily Park", ..Applicant::default() });
    let (a_user, b_user) = (user_id(app, "a@search.example"), user_id(app, "b@search.example"));
    set_phone(app, &a_user, &a_app, "010-5555-6666");
    set_phone(app, &b_user, &b_app, "010-7777-8888");
    book_visit(app, &mut a, &a_user);
    let (a_born, b_born) = (today() - Duration::days(180), today() - Duration::days(200));
    let session = book_with_child(app, &mut a, &a_user, "나주아기", a_born);
    book_with_child(app, &mut b, &b_user, "박아기", b_born);
    let reference = |id: &str| applications::table.find(id).select(applications::reference).first::<String>(&mut app.conn()).unwrap();
    (
        Resident { reference: reference(&a_app), user_id: a_user, app_id: a_app, child_birth: a_born },
        Resident { reference: reference(&b_app), user_id: b_user, app_id: b_app, child_birth: b_born },
        session,
    )
}

/// The part of the results page under the heading `id` (up to the next one).
fn section<'a>(body: &'a str, id: &str) -> &'a str {
    let start = body.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("section {id} on the page:\n{body}"));
    let rest = &body[start..];
    let end = rest[1..].find("<h2 ").map(|i| i + 1).unwrap_or(rest.len());
    &rest[..end]
}

fn search(staff: &mut Browser, term: &str) -> String {
    let res = staff.get(&format!("/staff/search?q={}", naju_helper::web::urlencode(term)));
    res.assert_status(200);
    res.body
}

#[test]
fn staff_find_a_resident_by_each_key_and_every_search_is_logged() {
    let app = common::spawn_app();
    let (a, b, session) = world(&app);
    let mut s = staff(&app);

    // Part of a name: hers in each kind, not the other resident's.
    let page = search(&mut s, "나주");
    let apps = section(&page, "found-applications");
    assert!(apps.contains(&a.reference) && apps.contains(&format!("/staff/applications/{}", a.app_id)), "{apps}");
    assert!(!apps.contains(&b.reference), "{apps}");
    let found_visits = section(&page, "found-visits");
    assert!(found_visits.contains(&format!("/staff/visits?application={}", a.app_id)), "{found_visits}");
    let clinic = section(&page, "found-clinic");
    assert!(clinic.contains("나주아기") && clinic.contains(&format!("/staff/clinic/sessions/{session}")), "{clinic}");
    assert!(!clinic.contains("Emily Park") && !clinic.contains("박아기"), "{clinic}");

    // Latin letters in any case, on both backends.
    let page = search(&mut s, "eMiLy");
    assert!(section(&page, "found-applications").contains(&b.reference));
    assert!(!section(&page, "found-applications").contains(&a.reference));
    assert!(section(&page, "found-clinic").contains("박아기"));
    assert!(section(&page, "found-visits").contains("찾은 항목이 없습니다"), "Emily has no visit");

    // A phone number with or without dashes, and part of one.
    for phone in ["010-5555-6666", "01055556666", "5555-6666"] {
        let page = search(&mut s, phone);
        assert!(section(&page, "found-applications").contains(&a.reference), "{phone}");
        assert!(!section(&page, "found-applications").contains(&b.reference), "{phone}");
        assert!(section(&page, "found-clinic").contains("나주아기"), "{phone}");
        assert!(!section(&page, "found-clinic").contains("박아기"), "{phone}");
    }

    // The reference as shown to her, typed in lower case without dashes.
    let typed = b.reference.replace('-', "").to_lowercase();
    let page = search(&mut s, &typed);
    assert!(section(&page, "found-applications").contains(&b.reference));
    assert!(!section(&page, "found-applications").contains(&a.reference));

    // The child's date of birth, both formats.
    for born in [a.child_birth.to_string(), a.child_birth.format("%Y%m%d").to_string()] {
        let page = search(&mut s, &born);
        let clinic = section(&page, "found-clinic");
        assert!(clinic.contains("나주아기") && !clinic.contains("박아기"), "{born}: {clinic}");
        assert!(section(&page, "found-applications").contains("찾은 항목이 없습니다"), "no birth recorded yet");
    }

    // Something nobody has: nothing at all.
    let page = search(&mut s, "없는이름");
    assert_eq!(page.matches("찾은 항목이 없습니다").count(), 3);

    // The links lead to the staff's pages; the filtered visit list is hers.
    s.get(&format!("/staff/applications/{}", a.app_id)).assert_status(200).assert_contains(&a.reference);
    s.get(&format!("/staff/visits?application={}", a.app_id)).assert_status(200).assert_contains("visits-of-application").assert_contains(&a.reference);
    s.get(&format!("/staff/clinic/sessions/{session}")).assert_status(200).assert_contains("나주아기");

    // Nine searches above, each logged: who, the kind of term and the counts,
    // never the term itself.
    access_log_chained(&app);
    let staff_id = user_id(&app, demo::STAFF_EMAIL);
    let logged: Vec<(Option<String>, String)> = access_log::table
        .filter(access_log::actor_id.eq(&staff_id))
        .filter(access_log::action.eq("search"))
        .order(access_log::seq.asc())
        .select((access_log::subject_user_id, access_log::reason))
        .load(&mut app.conn())
        .unwrap();
    let kinds: Vec<&str> = logged.iter().map(|(_, r)| r.split(':').next().unwrap()).collect();
    assert_eq!(kinds, ["name", "name", "phone", "phone", "phone_part", "reference", "birth_date", "birth_date", "name"]);
    for (_, reason) in &logged {
        for secret in ["나주", "mily", "5555", "6666", b.reference.as_str(), &typed, &a.child_birth.to_string()] {
            assert!(!reason.contains(secret), "the log keeps no search term: {reason}");
        }
    }
    assert_eq!(logged[0].1, "name: applications 1, visits 1, clinic 1");
    // A search that found one resident names her; the reference found Emily.
    assert_eq!(logged[5].0.as_deref(), Some(b.user_id.as_str()));
    // Opening her filtered visit list is a view of her record.
    let viewed: i64 = access_log::table
        .filter(access_log::actor_id.eq(&staff_id))
        .filter(access_log::action.eq("view"))
        .filter(access_log::subject_user_id.eq(&a.user_id))
        .filter(access_log::record_id.eq(&a.app_id))
        .filter(access_log::reason.eq("visits"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(viewed, 1);
}

#[test]
fn search_is_for_staff_only_and_a_missing_term_is_explained() {
    let app = common::spawn_app();
    let mut anonymous = app.browser();
    let res = anonymous.get("/staff/search?q=abc");
    assert_eq!(res.status, 303);
    assert!(res.location.as_deref().unwrap_or("").starts_with("/login"));
    let mut agency = app.browser();
    agency.login(demo::CONTRACTOR_EMAIL, demo::CONTRACTOR_PASSWORD);
    agency.get("/staff/search?q=abc").assert_status(403);
    let mut resident = app.browser();
    resident.login(demo::RESIDENT_EMAIL, demo::RESIDENT_PASSWORD);
    resident.get("/staff/search?q=abc").assert_status(403);

    let mut s = staff(&app);
    // The empty form, linked from the header and the staff home.
    s.get("/staff").assert_status(200).assert_contains("action=\"/staff/search\"").assert_contains("href=\"/staff/search\"");
    s.get("/staff/search").assert_status(200).assert_lacks("error-summary");
    // An empty or too short term: the error summary, tied to the box.
    s.get("/staff/search?q=+++")
        .assert_status(422)
        .assert_contains("error-summary")
        .assert_contains("href=\"#f-q\"")
        .assert_contains("찾을 이름, 전화번호, 신청 번호 또는 아이 생년월일을 입력하세요")
        .assert_contains("aria-invalid=\"true\"");
    s.get("/staff/search?q=%EA%B9%80").assert_status(422).assert_contains("이름은 2글자 이상 입력하세요").assert_contains("value=\"김\"");
    s.get("/staff/search?q=123").assert_status(422).assert_contains("전화번호는 숫자를 4개 이상 입력하세요");
    s.get("/lang/en?next=/staff").assert_status(303);
    s.get("/staff/search?q=").assert_status(422).assert_contains("Enter a name, phone number, reference number or child’s date of birth to search for.");
    // Nothing was searched, so nothing was logged.
    access_log_chained(&app);
    let searches: i64 = access_log::table.filter(access_log::action.eq("search")).count().get_result(&mut app.conn()).unwrap();
    assert_eq!(searches, 0);
}

/// The number shown in the element `id` (a link's text) on the page.
fn figure(body: &str, id: &str) -> (i64, String) {
    let start = body.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("{id} on the staff home:\n{body}"));
    let tag = &body[start..];
    let href = tag.split("href=\"").nth(1).and_then(|h| h.split('"').next()).unwrap_or("").replace("&amp;", "&");
    let text = &tag[tag.find('>').unwrap() + 1..];
    let n = text[..text.find('<').unwrap()].trim().parse().unwrap_or_else(|_| panic!("a number in {id}"));
    (n, href)
}

fn seoul_midnight(d: NaiveDate) -> chrono::NaiveDateTime {
    d.and_hms_opt(0, 0, 0).unwrap() - Duration::hours(9)
}

#[test]
fn the_staff_home_counts_today_and_this_week_as_the_database_does() {
    let app = common::spawn_app();
    let (a, _b, _) = world(&app);
    // A third resident's application waits for a decision; a fourth's is a draft.
    let mut c = signed_up_resident(&app, "최대기", "c@search.example");
    let c_app = complete_draft_as(&mut c, due_date_at_week(25), &Applicant { name: "최대기", ..Applicant::default() });
    submit_application(&mut c, &c_app).assert_redirect(&format!("/my/applications/{c_app}/confirmation"));
    let mut d = signed_up_resident(&app, "정초안", "d@search.example");
    complete_draft_as(&mut d, due_date_at_week(25), &Applicant { name: "정초안", ..Applicant::default() });
    // Her visit moved to today; one notice failed.
    let t = today();
    diesel::update(visits::table.filter(visits::user_id.eq(&a.user_id))).set(visits::day.eq(t)).execute(&mut app.conn()).unwrap();
    let first: String = outbox::table.select(outbox::id).first(&mut app.conn()).unwrap();
    diesel::update(outbox::table.find(&first)).set(outbox::status.eq("failed")).execute(&mut app.conn()).unwrap();

    let monday = t - Duration::days(t.weekday().num_days_from_monday() as i64);
    let sunday = monday + Duration::days(6);
    let mut conn = app.conn();
    let program: String = programs::table.filter(programs::code.eq("housework")).select(programs::id).first(&mut conn).unwrap();
    let received = |conn: &mut naju_helper::db::DbConn, from: NaiveDate, to: NaiveDate| -> i64 {
        applications::table
            .filter(applications::program_id.eq(&program))
            .filter(applications::submitted_at.ge(seoul_midnight(from)))
            .filter(applications::submitted_at.lt(seoul_midnight(to + Duration::days(1))))
            .count()
            .get_result(conn)
            .unwrap()
    };
    let due = |conn: &mut naju_helper::db::DbConn, from: NaiveDate, to: NaiveDate| -> i64 {
        visits::table.filter(visits::day.between(from, to)).filter(visits::status.eq_any(["requested", "confirmed"])).count().get_result(conn).unwrap()
    };
    let (next_session, _day): (String, NaiveDate) = clinic_sessions::table
        .filter(clinic_sessions::day.ge(t))
        .filter(clinic_sessions::status.eq("open"))
        .order(clinic_sessions::day.asc())
        .select((clinic_sessions::id, clinic_sessions::day))
        .first(&mut conn)
        .unwrap();
    let at_clinic = |conn: &mut naju_helper::db::DbConn, statuses: &[&str]| -> i64 {
        clinic_bookings::table.filter(clinic_bookings::session_id.eq(&next_session)).filter(clinic_bookings::status.eq_any(statuses)).count().get_result(conn).unwrap()
    };
    let expected = [
        ("dash-new-today", received(&mut conn, t, t)),
        ("dash-new-week", received(&mut conn, monday, sunday)),
        ("dash-waiting", applications::table.filter(applications::status.eq("submitted")).count().get_result(&mut conn).unwrap()),
        ("dash-visits-today", due(&mut conn, t, t)),
        ("dash-visits-week", due(&mut conn, monday, sunday)),
        ("dash-clinic", at_clinic(&mut conn, &["booked", "attended", "no_show"])),
        ("dash-clinic-waiting", at_clinic(&mut conn, &["waitlisted"])),
        ("dash-failed", outbox::table.filter(outbox::status.eq("failed")).count().get_result(&mut conn).unwrap()),
    ];
    // The world as seeded: three received today, one waiting, her visit today.
    assert_eq!(expected[0].1, 3);
    assert_eq!(expected[2].1, 1);
    assert_eq!(expected[3].1, 1);
    assert_eq!(expected[7].1, 1);

    let mut s = staff(&app);
    let home = s.get("/staff").assert_status(200).body.clone();
    for (id, want) in expected {
        let (shown, href) = figure(&home, id);
        assert_eq!(shown, want, "{id}");
        // Each figure opens the list it counts.
        let list = s.get(&href);
        list.assert_status(200);
        if id.starts_with("dash-new") || id == "dash-waiting" {
            list.assert_contains(&format!("id=\"result-count\">{want}건"));
        }
        if id.starts_with("dash-visits") {
            assert_eq!(list.body.matches("<tr><td>").count() as i64, want, "{id}: {href}");
        }
    }
    // The outbox's own figures are still there.
    for id in ["outbox-pending", "outbox-retrying", "outbox-sent", "outbox-failed", "failed-link"] {
        assert!(home.contains(&format!("id=\"{id}\"")), "{id}");
    }
}
