//! The Saturday clinic: sessions on the 2nd and 4th Saturday, booking with a
//! waiting list, children, the day sheet, no overbooking.

mod common;

use chrono::{Datelike, NaiveDate, Weekday};
use common::smtp::{decoded, SmtpSink};
use common::{signed_up_resident, spawn_app, spawn_app_with, today, Browser, TestApp};
use diesel::prelude::*;
use naju_helper::db::schema::{clinic_bookings, clinic_programs, clinic_sessions, clinic_slots, clinic_walkins, outbox};
use naju_helper::demo;

fn staff(app: &TestApp) -> Browser {
    let mut b = app.browser();
    b.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD).assert_redirect("/staff");
    b
}

/// The first open session at least two days away.
fn next_session(app: &TestApp) -> String {
    clinic_sessions::table
        .filter(clinic_sessions::day.gt(today() + chrono::Duration::days(1)))
        .filter(clinic_sessions::status.eq("open"))
        .order(clinic_sessions::day.asc())
        .select(clinic_sessions::id)
        .first(&mut app.conn())
        .unwrap()
}

fn program_id(app: &TestApp, code: &str) -> String {
    clinic_programs::table.filter(clinic_programs::code.eq(code)).select(clinic_programs::id).first(&mut app.conn()).unwrap()
}

fn slot_of(app: &TestApp, session: &str, code: &str) -> String {
    clinic_slots::table
        .filter(clinic_slots::session_id.eq(session))
        .filter(clinic_slots::program_id.eq(program_id(app, code)))
        .order(clinic_slots::start_minute.asc())
        .select(clinic_slots::id)
        .first(&mut app.conn())
        .unwrap()
}

fn set_capacity(app: &TestApp, code: &str, capacity: &str) {
    let mut s = staff(app);
    let token = s.get("/staff/clinic/programs").csrf();
    let id = program_id(app, code);
    s.post(
        &format!("/staff/clinic/programs/{id}"),
        &[("csrf_token", &token), ("capacity", capacity), ("booking_opens_days", "60"), ("cancel_cutoff_hours", "24"), ("active", "yes")],
    )
    .assert_redirect("/staff/clinic/programs");
}

fn due() -> String {
    (today() + chrono::Duration::days(120)).to_string()
}

fn book(b: &mut Browser, session: &str, slot: &str, extra: &[(&str, &str)]) -> common::Resp {
    let token = b.get(&format!("/clinic/sessions/{session}")).csrf();
    let mut form = vec![("csrf_token", token.as_str()), ("session_id", session), ("slot_id", slot)];
    form.extend_from_slice(extra);
    b.post("/clinic/bookings", &form)
}

fn status_of(app: &TestApp, user_email: &str) -> Vec<String> {
    use naju_helper::db::schema::users;
    clinic_bookings::table
        .inner_join(users::table)
        .filter(users::email.eq(user_email))
        .order(clinic_bookings::created_at.asc())
        .select(clinic_bookings::status)
        .load(&mut app.conn())
        .unwrap()
}

#[test]
fn sessions_fall_on_the_second_and_fourth_saturdays() {
    let app = spawn_app();
    let days: Vec<NaiveDate> = clinic_sessions::table.select(clinic_sessions::day).load(&mut app.conn()).unwrap();
    assert!(days.len() >= 4, "three months of sessions: {days:?}");
    for d in &days {
        assert_eq!(d.weekday(), Weekday::Sat, "{d}");
        let nth = (d.day() - 1) / 7 + 1;
        assert!(nth == 2 || nth == 4, "{d} is the {nth}th Saturday");
    }
    let page = app.browser().get("/clinic");
    page.assert_status(200).assert_contains("둘째·넷째 토요일").assert_contains("(토)");
    // The programs are the next step's question (anyone may look).
    app.browser().get(&format!("/clinic/sessions/{}", next_session(&app))).assert_status(200).assert_contains("남편과 함께하는 출산교실");
    // Generating again adds nothing twice.
    let mut s = staff(&app);
    let token = s.get("/staff/clinic").csrf();
    s.post("/staff/clinic/generate", &[("csrf_token", &token), ("months", "3")]).assert_redirect("/staff/clinic");
    let again: i64 = clinic_sessions::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(again as usize, days.len());
}

#[test]
fn a_full_class_offers_a_waiting_list_and_a_cancellation_promotes_the_first_in_line() {
    let app = spawn_app();
    set_capacity(&app, "childbirth_class", "2");
    let session = next_session(&app);
    let slot = slot_of(&app, &session, "childbirth_class");
    let mut a = signed_up_resident(&app, "부부참석", "couple@example.kr");
    let mut b = signed_up_resident(&app, "대기자", "waiting@example.kr");
    book(&mut a, &session, &slot, &[("due_date", &due()), ("with_partner", "yes")]).assert_redirect("/my/clinic");
    let seats: i32 = clinic_slots::table.find(&slot).select(clinic_slots::booked).first(&mut app.conn()).unwrap();
    assert_eq!(seats, 2, "the partner's seat counts");

    book(&mut b, &session, &slot, &[("due_date", &due())]).assert_status(409).assert_contains("방금 자리가 모두 찼습니다");
    book(&mut b, &session, &slot, &[("due_date", &due()), ("join_waitlist", "yes")]).assert_redirect("/my/clinic");
    b.get("/my/clinic").assert_contains("대기 1번");
    assert_eq!(status_of(&app, "waiting@example.kr"), vec!["waitlisted"]);
    book(&mut a, &session, &slot, &[("due_date", &due())]).assert_status(409).assert_contains("이미 예약하셨습니다");

    let booking: String = clinic_bookings::table.filter(clinic_bookings::status.eq("booked")).select(clinic_bookings::id).first(&mut app.conn()).unwrap();
    let token = a.get("/my/clinic").csrf();
    a.post(&format!("/my/clinic/{booking}/cancel"), &[("csrf_token", &token)]).assert_redirect("/my/clinic");
    assert_eq!(status_of(&app, "couple@example.kr"), vec!["cancelled"]);
    assert_eq!(status_of(&app, "waiting@example.kr"), vec!["booked"], "promoted automatically");
    let promoted: Vec<String> = outbox::table.filter(outbox::kind.eq("clinic_promoted")).select(outbox::recipient).load(&mut app.conn()).unwrap();
    assert_eq!(promoted, vec!["waiting@example.kr"]);
    let seats: i32 = clinic_slots::table.find(&slot).select(clinic_slots::booked).first(&mut app.conn()).unwrap();
    assert_eq!(seats, 1);
}

#[test]
fn infant_programs_need_a_registered_child_of_the_right_age() {
    let app = spawn_app();
    let session = next_session(&app);
    let slot = slot_of(&app, &session, "infant_checkup");
    let mut mom = signed_up_resident(&app, "영아엄마", "infant@example.kr");
    book(&mut mom, &session, &slot, &[]).assert_status(409).assert_contains("대상 연령의 자녀를 선택해 주세요");
    let page = mom.get("/my/children");
    mom.post("/my/children", &[("csrf_token", &page.csrf()), ("name", ""), ("birth_date", "2099-01-01")])
        .assert_status(422)
        .assert_contains("이름을 입력해 주세요")
        .assert_contains("자녀의 생년월일을 확인해 주세요");
    let birth = (today() - chrono::Duration::days(180)).to_string();
    mom.post("/my/children", &[("csrf_token", &page.csrf()), ("name", "아기"), ("birth_date", &birth)]).assert_redirect("/my/children");
    let child: String = naju_helper::db::schema::children::table.select(naju_helper::db::schema::children::id).first(&mut app.conn()).unwrap();
    book(&mut mom, &session, &slot, &[("child_id", &child)]).assert_redirect("/my/clinic");
    mom.get("/my/clinic").assert_contains("아기").assert_contains("영유아 진료");
    // Pregnancy programs need a plausible due date instead.
    let yoga = slot_of(&app, &session, "prenatal_yoga");
    book(&mut mom, &session, &yoga, &[]).assert_status(409).assert_contains("임신부만 예약할 수 있습니다");
}

#[test]
fn staff_run_the_day_check_in_record_walk_ins_and_can_cancel_a_session() {
    let app = spawn_app();
    let session = next_session(&app);
    let slot = slot_of(&app, &session, "breastfeeding");
    let mut mom = signed_up_resident(&app, "모유수유", "bf@example.kr");
    book(&mut mom, &session, &slot, &[("due_date", &due())]).assert_redirect("/my/clinic");

    let mut s = staff(&app);
    let sheet = s.get(&format!("/staff/clinic/sessions/{session}"));
    sheet.assert_status(200).assert_contains("모유수유").assert_contains("010-2222-3333").assert_contains("1:1 모유수유클리닉");
    let booking: String = clinic_bookings::table.select(clinic_bookings::id).first(&mut app.conn()).unwrap();
    s.post(&format!("/staff/clinic/bookings/{booking}/checkin"), &[("csrf_token", &sheet.csrf()), ("attended", "yes"), ("session_id", &session)])
        .assert_redirect(&format!("/staff/clinic/sessions/{session}"));
    assert_eq!(status_of(&app, "bf@example.kr"), vec!["attended"]);
    let yoga = program_id(&app, "prenatal_yoga");
    s.post(&format!("/staff/clinic/sessions/{session}/walkins"), &[("csrf_token", &sheet.csrf()), ("program_id", &yoga), ("people", "3"), ("note", "")]);
    let people: i32 = clinic_walkins::table.select(clinic_walkins::people).first(&mut app.conn()).unwrap();
    assert_eq!(people, 3);

    // A number of people she cannot count: the sheet again with the error, and
    // what she typed still in the form (kept on the server, not in the cookie).
    let sheet_path = format!("/staff/clinic/sessions/{session}");
    let refused = s.post(
        &format!("/staff/clinic/sessions/{session}/walkins"),
        &[("csrf_token", &sheet.csrf()), ("program_id", &yoga), ("people", "세 명"), ("note", "쌍둥이 엄마와 함께 옴")],
    );
    refused.assert_redirect(&sheet_path);
    assert!(refused.set_cookies.iter().all(|c| !c.contains("%EC%8C%8D") && !c.contains("쌍둥이")), "{:?}", refused.set_cookies);
    s.get(&sheet_path)
        .assert_contains("id=\"error-summary\"")
        .assert_contains("<a href=\"#f-people\">")
        .assert_contains("id=\"f-people\" name=\"people\" inputmode=\"numeric\" value=\"세 명\"")
        .assert_contains("id=\"f-note\" name=\"note\" value=\"쌍둥이 엄마와 함께 옴\"");
    // Shown once: the next visit is the plain form again.
    s.get(&sheet_path).assert_lacks("id=\"error-summary\"").assert_lacks("쌍둥이 엄마와 함께 옴").assert_contains("name=\"people\" inputmode=\"numeric\" value=\"1\"");
    assert_eq!(clinic_walkins::table.count().get_result::<i64>(&mut app.conn()).unwrap(), 1);

    // Another resident is booked on the next session, which is then cancelled.
    let later: String = clinic_sessions::table
        .filter(clinic_sessions::id.ne(&session))
        .filter(clinic_sessions::day.gt(today() + chrono::Duration::days(1)))
        .order(clinic_sessions::day.asc())
        .select(clinic_sessions::id)
        .first(&mut app.conn())
        .unwrap();
    let mut other = signed_up_resident(&app, "휴진대상", "closed@example.kr");
    book(&mut other, &later, &slot_of(&app, &later, "prenatal_yoga"), &[("due_date", &due())]).assert_redirect("/my/clinic");
    let page = s.get(&format!("/staff/clinic/sessions/{later}"));
    s.post(&format!("/staff/clinic/sessions/{later}/cancel"), &[("csrf_token", &page.csrf()), ("reason", "")]);
    let open: String = clinic_sessions::table.find(&later).select(clinic_sessions::status).first(&mut app.conn()).unwrap();
    assert_eq!(open, "open", "a reason is required");
    s.post(&format!("/staff/clinic/sessions/{later}/cancel"), &[("csrf_token", &page.csrf()), ("reason", "보건소 시설 점검")]);
    assert_eq!(status_of(&app, "closed@example.kr"), vec!["cancelled"]);
    let body: String = outbox::table.filter(outbox::kind.eq("clinic_session_cancelled")).select(outbox::body_text).first(&mut app.conn()).unwrap();
    assert!(body.contains("보건소 시설 점검"), "{body}");
    // Residents cannot open the day sheet.
    mom.get(&format!("/staff/clinic/sessions/{session}")).assert_status(403);
}

/// Each resident presses "book" on the slot at the same moment (a barrier),
/// with `extra` fields; the response statuses.
fn press_book_at_once(residents: Vec<Browser>, session: &str, slot: &str, extra: &[(&'static str, &'static str)]) -> Vec<u16> {
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(residents.len()));
    let handles: Vec<_> = residents
        .into_iter()
        .map(|mut b| {
            let token = b.get(&format!("/clinic/sessions/{session}")).csrf();
            let (barrier, session, slot, due, extra) = (barrier.clone(), session.to_string(), slot.to_string(), due(), extra.to_vec());
            std::thread::spawn(move || {
                let mut form = vec![("csrf_token", token.as_str()), ("session_id", &session), ("slot_id", &slot), ("due_date", &due)];
                form.extend(extra);
                barrier.wait();
                b.post("/clinic/bookings", &form).status
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn fifty_residents_pressing_book_for_the_last_seat_book_exactly_one() {
    let app = spawn_app();
    set_capacity(&app, "prenatal_yoga", "1");
    let session = next_session(&app);
    let slot = slot_of(&app, &session, "prenatal_yoga");
    let residents: Vec<Browser> = (0..50).map(|i| signed_up_resident(&app, &format!("요가{i}"), &format!("yoga{i}@example.kr"))).collect();
    let statuses = press_book_at_once(residents, &session, &slot, &[]);
    assert_eq!(statuses.iter().filter(|s| **s == 303).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 49, "{statuses:?}");
    let booked: i32 = clinic_slots::table.find(&slot).select(clinic_slots::booked).first(&mut app.conn()).unwrap();
    let rows: i64 = clinic_bookings::table.filter(clinic_bookings::slot_id.eq(&slot)).count().get_result(&mut app.conn()).unwrap();
    assert_eq!((booked, rows), (1, 1));
}

/// Twenty residents who accept the waiting list press "book" at once for the
/// last three seats. Most of them read a free seat before their transaction
/// and find it gone at the update: they go on the waiting list (a booking
/// is decided again inside its transaction), and each is told what she got.
#[test]
fn twenty_at_once_for_three_seats_with_the_waiting_list_three_booked_seventeen_waiting_each_told_which() {
    let app = spawn_app();
    set_capacity(&app, "prenatal_yoga", "3");
    let session = next_session(&app);
    let slot = slot_of(&app, &session, "prenatal_yoga");
    let residents: Vec<Browser> = (0..20).map(|i| signed_up_resident(&app, &format!("대기{i}"), &format!("line{i}@example.kr"))).collect();
    let statuses = press_book_at_once(residents, &session, &slot, &[("join_waitlist", "yes")]);
    assert!(statuses.iter().all(|s| *s == 303), "{statuses:?}");
    let booked: i32 = clinic_slots::table.find(&slot).select(clinic_slots::booked).first(&mut app.conn()).unwrap();
    assert_eq!(booked, 3);
    let mut by_status = std::collections::BTreeMap::<String, Vec<String>>::new();
    for i in 0..20 {
        let email = format!("line{i}@example.kr");
        let status = status_of(&app, &email);
        assert_eq!(status.len(), 1, "{email}: {status:?}");
        by_status.entry(status[0].clone()).or_default().push(email);
    }
    assert_eq!(by_status.get("booked").map(Vec::len), Some(3), "{by_status:?}");
    assert_eq!(by_status.get("waitlisted").map(Vec::len), Some(17), "{by_status:?}");
    // One message each, of her outcome.
    for (status, kind) in [("booked", "clinic_booked"), ("waitlisted", "clinic_waitlisted")] {
        let mut told: Vec<String> = queued(&app, kind).into_iter().map(|(to, _, _)| to).filter(|to| to.starts_with("line")).collect();
        told.sort();
        let mut expected = by_status[status].clone();
        expected.sort();
        assert_eq!(told, expected, "{kind}");
    }
}

#[test]
fn the_day_before_her_booking_she_gets_a_reminder() {
    let app = spawn_app();
    // A session tomorrow (whatever weekday that is), made directly for the test.
    let session = uuid::Uuid::new_v4().to_string();
    let slot = uuid::Uuid::new_v4().to_string();
    let tomorrow = today() + chrono::Duration::days(1);
    diesel::insert_into(clinic_sessions::table)
        .values((
            clinic_sessions::id.eq(&session),
            clinic_sessions::day.eq(tomorrow),
            clinic_sessions::start_minute.eq(540),
            clinic_sessions::end_minute.eq(780),
            clinic_sessions::status.eq("open"),
            clinic_sessions::created_at.eq(naju_helper::time::now_utc()),
        ))
        .execute(&mut app.conn())
        .unwrap();
    diesel::insert_into(clinic_slots::table)
        .values((
            clinic_slots::id.eq(&slot),
            clinic_slots::session_id.eq(&session),
            clinic_slots::program_id.eq(program_id(&app, "prenatal_yoga")),
            clinic_slots::start_minute.eq(700),
            clinic_slots::end_minute.eq(760),
            clinic_slots::capacity.eq(5),
            clinic_slots::booked.eq(0),
        ))
        .execute(&mut app.conn())
        .unwrap();
    let mut mom = signed_up_resident(&app, "내일요가", "tomorrow@example.kr");
    book(&mut mom, &session, &slot, &[("due_date", &due())]).assert_redirect("/my/clinic");
    let body = app.wait_for("the clinic reminder", std::time::Duration::from_secs(15), |conn| {
        outbox::table.filter(outbox::kind.eq("clinic_reminder")).select(outbox::body_text).first::<String>(conn).ok()
    });
    assert!(body.contains("임산부 요가교실") && body.contains("11:40"), "{body}");
}

// ---- the step-by-step booking ----

/// The hidden fields of the page's booking form (its check-answers step), as
/// the browser would send them.
fn booking_form(page: &common::Resp) -> Vec<(String, String)> {
    let start = page.body.find("action=\"&#x2F;clinic&#x2F;bookings\"").expect("a booking form");
    let form = &page.body[start..];
    let form = &form[..form.find("</form>").expect("form ends")];
    let unescape = |v: &str| v.replace("&#x2F;", "/").replace("&amp;", "&");
    form.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|i| {
            let name = i.split("name=\"").nth(1)?.split('"').next()?;
            let value = i.split("value=\"").nth(1)?.split('"').next()?;
            Some((name.to_string(), unescape(value)))
        })
        .collect()
}

fn confirm(b: &mut Browser, page: &common::Resp) -> common::Resp {
    let fields = booking_form(page);
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    b.post("/clinic/bookings", &form)
}

fn places_left(app: &TestApp, session: &str) -> i32 {
    let slots: Vec<(i32, i32)> = clinic_slots::table
        .filter(clinic_slots::session_id.eq(session))
        .select((clinic_slots::capacity, clinic_slots::booked))
        .load(&mut app.conn())
        .unwrap();
    slots.iter().map(|(c, b)| (c - b).max(0)).sum()
}

/// The open session after `session`.
fn session_after(app: &TestApp, session: &str) -> String {
    let day: NaiveDate = clinic_sessions::table.find(session).select(clinic_sessions::day).first(&mut app.conn()).unwrap();
    clinic_sessions::table
        .filter(clinic_sessions::day.gt(day))
        .order(clinic_sessions::day.asc())
        .select(clinic_sessions::id)
        .first(&mut app.conn())
        .unwrap()
}

#[test]
fn booking_asks_one_question_a_page_saturday_program_time_details_then_check() {
    let app = spawn_app();
    let session = next_session(&app);
    let later = session_after(&app, &session);
    let closed = session_after(&app, &later);
    let mut s = staff(&app);
    let page = s.get(&format!("/staff/clinic/sessions/{closed}"));
    s.post(&format!("/staff/clinic/sessions/{closed}/cancel"), &[("csrf_token", &page.csrf()), ("reason", "보건소 시설 점검")]);
    let mut mom = signed_up_resident(&app, "단계맘", "steps@example.kr");

    // 1. The Saturdays: date and weekday, places left overall; the cancelled one is said to be, not offered.
    let list = mom.get("/clinic");
    list.assert_status(200).assert_contains("어느 토요일에 오시나요?").assert_contains("(토)");
    list.assert_contains(&format!("value=\"{session}\"")).assert_contains(&format!("남은 자리 {}", places_left(&app, &session)));
    list.assert_contains("이 날은 운영하지 않습니다").assert_contains("보건소 시설 점검").assert_lacks(&format!("value=\"{closed}\""));
    mom.get("/clinic/saturday").assert_status(422).assert_contains("id=\"error-summary\"").assert_contains("토요일을 골라 주세요").assert_contains("id=\"f-session\"");
    mom.get(&format!("/clinic/saturday?session={closed}")).assert_status(422).assert_contains("id=\"error-summary\"");
    mom.get(&format!("/clinic/saturday?session={session}")).assert_redirect(&format!("/clinic/sessions/{session}"));

    // 2. The programs of that Saturday only (yoga is not held on it), with who each is for and what to bring.
    let (yoga, class, bf) = (program_id(&app, "prenatal_yoga"), program_id(&app, "childbirth_class"), program_id(&app, "breastfeeding"));
    diesel::delete(clinic_slots::table.filter(clinic_slots::session_id.eq(&session)).filter(clinic_slots::program_id.eq(&yoga))).execute(&mut app.conn()).unwrap();
    let programs = mom.get(&format!("/clinic/sessions/{session}"));
    programs.assert_status(200).assert_contains("어떤 프로그램을 예약하시나요?").assert_contains("남편과 함께하는 출산교실").assert_contains("1:1 모유수유클리닉");
    programs.assert_contains("대상: 임신부").assert_contains("산모수첩").assert_lacks("임산부 요가교실").assert_lacks(&format!("value=\"{yoga}\""));
    mom.get(&format!("/clinic/sessions/{later}")).assert_contains("임산부 요가교실");
    mom.get(&format!("/clinic/sessions/{session}/time")).assert_status(422).assert_contains("프로그램을 골라 주세요").assert_contains("id=\"f-program\"");
    mom.get(&format!("/clinic/sessions/{session}/time?program={yoga}")).assert_status(422).assert_contains("프로그램을 골라 주세요");

    // 3. The times of that program, as radio buttons.
    let times = mom.get(&format!("/clinic/sessions/{session}/time?program={bf}"));
    times.assert_status(200).assert_contains("몇 시에 오시나요?").assert_contains("09:00–09:30").assert_contains("12:30–13:00").assert_contains("type=\"radio\" id=\"f-slot\" name=\"slot\"");
    mom.get(&format!("/clinic/sessions/{session}/details?program={bf}")).assert_status(422).assert_contains("시간을 골라 주세요");
    app.browser().get(&format!("/clinic/sessions/{session}/details?program={bf}")).assert_status(303);

    // 4. Who is coming: the class asks her due date and whether her partner comes.
    let slot = slot_of(&app, &session, "childbirth_class");
    let details = mom.get(&format!("/clinic/sessions/{session}/details?program={class}&slot={slot}"));
    details.assert_status(200).assert_contains("예약하시는 분").assert_contains("id=\"f-due_date\"").assert_contains("id=\"f-with_partner\"");
    // Going on without a due date returns to this step with the error; her answers stay.
    let missing = mom.get(&format!("/clinic/sessions/{session}/check?program={class}&slot={slot}&with_partner=yes"));
    missing.assert_status(422).assert_contains("예약하시는 분").assert_contains("임신부만 예약할 수 있습니다").assert_contains("href=\"#f-due_date\"");
    missing.assert_contains(&format!("value=\"{slot}\"")).assert_contains("id=\"f-with_partner\" name=\"with_partner\" value=\"yes\" checked");

    // 5. Her answers, each with a change link; a change from here comes back here.
    let due = due();
    let check = mom.get(&format!("/clinic/sessions/{session}/check?program={class}&slot={slot}&due_date={due}&with_partner=yes"));
    check.assert_status(200).assert_contains("예약 내용 확인").assert_contains("남편과 함께하는 출산교실").assert_contains("10:00–11:30").assert_contains("배우자와 함께 (2석)");
    check.assert_contains("checking=yes").assert_contains("변경<span class=\"visually-hidden\"> 시간</span>").assert_lacks("join_waitlist");
    let change = mom.get(&format!("/clinic/sessions/{session}/time?program={class}&slot={slot}&due_date={due}&with_partner=yes&checking=yes"));
    change.assert_status(200).assert_contains("&#x2F;check\" novalidate").assert_contains("checked>");

    // The booking, as the check page's form sends it.
    confirm(&mut mom, &check).assert_redirect("/my/clinic");
    mom.get("/my/clinic").assert_contains("예약되었습니다").assert_contains("남편과 함께하는 출산교실");
    let (status, seats, booked_due): (String, i32, Option<NaiveDate>) = clinic_bookings::table
        .select((clinic_bookings::status, clinic_bookings::seats, clinic_bookings::due_date))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!((status.as_str(), seats, booked_due.map(|d| d.to_string())), ("booked", 2, Some(due.clone())));
    let taken: i32 = clinic_slots::table.find(&slot).select(clinic_slots::booked).first(&mut app.conn()).unwrap();
    assert_eq!(taken, 2);
    // Booking it again sends her back to the program step.
    confirm(&mut mom, &check).assert_status(409).assert_contains("어떤 프로그램을 예약하시나요?").assert_contains("이미 예약하셨습니다");
}

#[test]
fn a_full_time_offers_the_waiting_list_and_a_place_taken_meanwhile_returns_to_the_time_step() {
    let app = spawn_app();
    set_capacity(&app, "prenatal_yoga", "1");
    let session = next_session(&app);
    let slot = slot_of(&app, &session, "prenatal_yoga");
    let yoga = program_id(&app, "prenatal_yoga");
    let due = due();
    let check_url = format!("/clinic/sessions/{session}/check?program={yoga}&slot={slot}&due_date={due}");
    let mut first = signed_up_resident(&app, "먼저", "first@example.kr");
    let mut second = signed_up_resident(&app, "나중", "second@example.kr");

    // Both reach the check page while the seat is free; the first books it.
    let hers = second.get(&check_url);
    hers.assert_status(200).assert_contains("예약하기").assert_lacks("join_waitlist");
    let page = first.get(&check_url);
    confirm(&mut first, &page).assert_redirect("/my/clinic");

    // The second presses book: back at the time step, the error summary, her answers kept.
    let back = confirm(&mut second, &hers);
    back.assert_status(409).assert_contains("몇 시에 오시나요?").assert_contains("id=\"error-summary\"").assert_contains("방금 자리가 모두 찼습니다");
    back.assert_contains("마감 — 대기 신청 가능").assert_contains(&format!("value=\"{due}\"")).assert_contains(&format!("value=\"{slot}\" checked"));
    assert!(status_of(&app, "second@example.kr").is_empty());

    // The full time, chosen again, is the waiting list.
    let wait = second.get(&check_url);
    wait.assert_status(200).assert_contains("대기자로 신청하기").assert_contains("name=\"join_waitlist\" value=\"yes\"");
    confirm(&mut second, &wait).assert_redirect("/my/clinic");
    assert_eq!(status_of(&app, "second@example.kr"), vec!["waitlisted"]);
    second.get("/my/clinic").assert_contains("대기자로 등록했습니다").assert_contains("대기 1번");
    let seats: i32 = clinic_slots::table.find(&slot).select(clinic_slots::booked).first(&mut app.conn()).unwrap();
    assert_eq!(seats, 1, "no overbooking");
}

#[test]
fn an_infant_program_asks_for_a_child_at_the_details_step() {
    let app = spawn_app();
    let session = next_session(&app);
    let slot = slot_of(&app, &session, "infant_checkup");
    let infant = program_id(&app, "infant_checkup");
    let mut mom = signed_up_resident(&app, "아기맘", "baby@example.kr");
    let details = format!("/clinic/sessions/{session}/details?program={infant}&slot={slot}");
    // No child yet: a link to register one, which comes back to this step.
    mom.get(&details).assert_status(200).assert_contains("/my/children?next=").assert_lacks("id=\"f-due_date\"");
    let page = mom.get(&format!("/my/children?next={}", naju_helper::web::urlencode(&details)));
    page.assert_contains("예약으로 돌아가기");
    let birth = (today() - chrono::Duration::days(200)).to_string();
    mom.post("/my/children", &[("csrf_token", &page.csrf()), ("name", "새싹"), ("birth_date", &birth), ("next", &details)]).assert_redirect(&details);
    let child: String = naju_helper::db::schema::children::table.select(naju_helper::db::schema::children::id).first(&mut app.conn()).unwrap();
    mom.get(&details).assert_status(200).assert_contains("새싹").assert_contains("id=\"f-child_id\"");
    mom.get(&format!("/clinic/sessions/{session}/check?program={infant}&slot={slot}"))
        .assert_status(422)
        .assert_contains("대상 연령의 자녀를 선택해 주세요")
        .assert_contains("href=\"#f-child_id\"");
    let check = mom.get(&format!("/clinic/sessions/{session}/check?program={infant}&slot={slot}&child_id={child}"));
    check.assert_status(200).assert_contains("새싹").assert_contains("아기 수첩");
    confirm(&mut mom, &check).assert_redirect("/my/clinic");
    let booked_child: Option<String> = clinic_bookings::table.select(clinic_bookings::child_id).first(&mut app.conn()).unwrap();
    assert_eq!(booked_child, Some(child));
}

// ---- notices rendered before the transaction (issue 15) ----

/// An app that delivers its mail to `sink`.
fn app_mailing_to(sink: &SmtpSink) -> TestApp {
    let port = sink.port;
    spawn_app_with(move |c| {
        c.smtp = Some(naju_helper::config::SmtpConfig { host: "127.0.0.1".into(), port, security: naju_helper::config::SmtpSecurity::None, username: None, password: None })
    })
}

/// The `kind` messages in the outbox as (recipient, id, body_text), by recipient.
fn queued(app: &TestApp, kind: &str) -> Vec<(String, String, String)> {
    outbox::table
        .filter(outbox::kind.eq(kind))
        .order(outbox::recipient.asc())
        .select((outbox::recipient, outbox::id, outbox::body_text))
        .load(&mut app.conn())
        .unwrap()
}

/// Each queued message arrives at the sink exactly once, to its recipient;
/// returns what arrived, decoded.
fn delivered_once(sink: &SmtpSink, messages: &[(String, String, String)]) -> Vec<String> {
    messages
        .iter()
        .map(|(to, id, _)| {
            let mark = format!("Message-ID: <{id}@naju-helper>");
            let got = sink.wait_for_message(std::time::Duration::from_secs(30), |m| m.contains(&mark));
            assert!(got.contains(&format!("To: {to}")), "{got}");
            std::thread::sleep(std::time::Duration::from_millis(300));
            assert_eq!(sink.messages().iter().filter(|m| m.contains(&mark)).count(), 1, "{to} gets it once");
            decoded(&got)
        })
        .collect()
}

#[test]
fn a_cancelled_seat_goes_to_the_first_in_line_and_each_is_told_once_by_mail() {
    let sink = SmtpSink::start();
    let app = app_mailing_to(&sink);
    set_capacity(&app, "childbirth_class", "2");
    let session = next_session(&app);
    let slot = slot_of(&app, &session, "childbirth_class");
    let mut couple = signed_up_resident(&app, "부부", "pair@example.kr");
    let mut first = signed_up_resident(&app, "첫대기", "first@example.kr");
    let mut second = signed_up_resident(&app, "둘대기", "second@example.kr");
    let mut third = signed_up_resident(&app, "셋대기", "third@example.kr");
    book(&mut couple, &session, &slot, &[("due_date", &due()), ("with_partner", "yes")]).assert_redirect("/my/clinic");
    for b in [&mut first, &mut second, &mut third] {
        book(b, &session, &slot, &[("due_date", &due()), ("join_waitlist", "yes")]).assert_redirect("/my/clinic");
    }

    // Her two seats go to the first two in line; the third keeps waiting.
    let booking: String = clinic_bookings::table.filter(clinic_bookings::status.eq("booked")).select(clinic_bookings::id).first(&mut app.conn()).unwrap();
    let token = couple.get("/my/clinic").csrf();
    couple.post(&format!("/my/clinic/{booking}/cancel"), &[("csrf_token", &token)]).assert_redirect("/my/clinic");
    assert_eq!(status_of(&app, "first@example.kr"), vec!["booked"]);
    assert_eq!(status_of(&app, "second@example.kr"), vec!["booked"]);
    assert_eq!(status_of(&app, "third@example.kr"), vec!["waitlisted"]);

    let promoted = queued(&app, "clinic_promoted");
    assert_eq!(promoted.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(), vec!["first@example.kr", "second@example.kr"]);
    let cancelled = queued(&app, "clinic_cancelled");
    assert_eq!(cancelled.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(), vec!["pair@example.kr"]);
    let (promoted_mails, cancelled_mails) = (delivered_once(&sink, &promoted), delivered_once(&sink, &cancelled));
    for text in promoted_mails.iter().chain(&cancelled_mails) {
        assert!(text.contains("남편과 함께하는 출산교실"), "{text}");
    }
    assert!(promoted_mails[0].contains("첫대기") && promoted_mails[1].contains("둘대기"), "each her own: {promoted_mails:?}");
}

#[test]
fn a_cancelled_session_tells_everyone_booked_or_waiting_once_by_mail() {
    let sink = SmtpSink::start();
    let app = app_mailing_to(&sink);
    set_capacity(&app, "prenatal_yoga", "1");
    let session = next_session(&app);
    let yoga = slot_of(&app, &session, "prenatal_yoga");
    let class = slot_of(&app, &session, "childbirth_class");
    let mut booked = signed_up_resident(&app, "요가예약", "yoga-booked@example.kr");
    let mut waiting = signed_up_resident(&app, "요가대기", "yoga-waiting@example.kr");
    let mut classy = signed_up_resident(&app, "교실예약", "class-booked@example.kr");
    book(&mut booked, &session, &yoga, &[("due_date", &due())]).assert_redirect("/my/clinic");
    book(&mut waiting, &session, &yoga, &[("due_date", &due()), ("join_waitlist", "yes")]).assert_redirect("/my/clinic");
    book(&mut classy, &session, &class, &[("due_date", &due())]).assert_redirect("/my/clinic");
    let mut s = staff(&app);
    let page = s.get(&format!("/staff/clinic/sessions/{session}"));
    s.post(&format!("/staff/clinic/sessions/{session}/cancel"), &[("csrf_token", &page.csrf()), ("reason", "정전으로 휴진")]);
    for who in ["yoga-booked@example.kr", "yoga-waiting@example.kr", "class-booked@example.kr"] {
        assert_eq!(status_of(&app, who), vec!["cancelled"], "{who}");
    }
    let told = queued(&app, "clinic_session_cancelled");
    assert_eq!(
        told.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(),
        vec!["class-booked@example.kr", "yoga-booked@example.kr", "yoga-waiting@example.kr"],
        "one message each, nobody twice"
    );
    assert!(queued(&app, "clinic_promoted").is_empty(), "a cancelled session promotes nobody");
    let mails = delivered_once(&sink, &told);
    for ((_, _, body), mail) in told.iter().zip(&mails) {
        assert!(body.contains("정전으로 휴진") && mail.contains("정전으로 휴진"), "{mail}");
    }
    assert!(mails[0].contains("교실예약") && mails[0].contains("남편과 함께하는 출산교실"), "{}", mails[0]);
    assert!(mails[1].contains("요가예약") && mails[1].contains("임산부 요가교실"), "{}", mails[1]);
    // Cancelling it again changes nothing and tells nobody again.
    s.post(&format!("/staff/clinic/sessions/{session}/cancel"), &[("csrf_token", &page.csrf()), ("reason", "정전으로 휴진")]);
    assert_eq!(queued(&app, "clinic_session_cancelled").len(), 3);
}

#[test]
fn the_saturdays_count_places_left_in_the_active_programs_slots_only_and_none_below_zero() {
    let app = spawn_app();
    let session = next_session(&app);
    let slots = || -> Vec<(String, String, i32, i32)> {
        clinic_slots::table
            .filter(clinic_slots::session_id.eq(&session))
            .order(clinic_slots::start_minute.asc())
            .select((clinic_slots::id, clinic_slots::program_id, clinic_slots::capacity, clinic_slots::booked))
            .load(&mut app.conn())
            .unwrap()
    };
    // One slot of the session over-full (its capacity lowered below its
    // bookings by staff), and another program of it no longer offered.
    let (full, full_program, _, _) = slots()[0].clone();
    diesel::update(clinic_slots::table.find(&full)).set(clinic_slots::booked.eq(clinic_slots::capacity + 3)).execute(&mut app.conn()).unwrap();
    let dropped = slots().into_iter().map(|(_, p, _, _)| p).find(|p| *p != full_program).expect("a session with two programs");
    diesel::update(clinic_programs::table.find(&dropped)).set(clinic_programs::active.eq(false)).execute(&mut app.conn()).unwrap();
    let slots: Vec<(String, i32, i32)> = slots().into_iter().map(|(_, p, c, b)| (p, c, b)).collect();
    let expected: i32 = slots.iter().filter(|(p, _, _)| *p != dropped).map(|(_, c, b)| (c - b).max(0)).sum();
    let everything: i32 = slots.iter().map(|(_, c, b)| (c - b).max(0)).sum();
    assert!(expected < everything, "the test needs the inactive program to have places in the session");
    let mut mom = signed_up_resident(&app, "자리맘", "places@example.kr");
    mom.get("/clinic").assert_status(200).assert_contains(&format!("남은 자리 {expected})"));
}
