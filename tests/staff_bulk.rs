//! Staff at the desk: one request for more information to several
//! applications at once, the filtered queue as a spreadsheet with the reason
//! logged, and pages to print (the clinic's day sheet, an application summary).

mod common;

use std::time::Duration;

use common::smtp::SmtpSink;
use common::{
    access_log_chained, clinic_slot, complete_draft_as, due_date_at_week, signed_up_resident, spawn_app, spawn_app_with, submit_application, today, Applicant,
    Browser, TestApp,
};
use diesel::prelude::*;
use naju_helper::config::{SmtpConfig, SmtpSecurity};
use naju_helper::db::schema::{access_log, applications, outbox};
use naju_helper::demo;

fn staff(app: &TestApp) -> Browser {
    let mut b = app.browser();
    b.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD).assert_redirect("/staff");
    b
}

/// A resident who signed up and submitted an application with her own email
/// address on the form; returns her browser and the application's id.
fn submitted(app: &TestApp, name: &str, email: &str) -> (Browser, String) {
    let mut b = signed_up_resident(app, name, email);
    let id = complete_draft_as(&mut b, due_date_at_week(25), &Applicant { name, ..Applicant::default() });
    let details = format!("/my/applications/{id}/details");
    b.submit(
        &details,
        &details,
        &[
            ("applicant_name", name),
            ("birth_date", "1994-05-06"),
            ("phone", "010-5555-6666"),
            ("email", email),
            ("district_code", "46170570"),
            ("street_address", "빛가람로 100"),
        ],
    )
    .assert_redirect(&format!("/my/applications/{id}/pregnancy"));
    submit_application(&mut b, &id).assert_redirect(&format!("/my/applications/{id}/confirmation"));
    (b, id)
}

/// Three residents' applications, the third approved by staff; returns the
/// staff's browser and the three ids.
fn two_submitted_and_one_approved(app: &TestApp) -> (Browser, [String; 3]) {
    let (_, first) = submitted(app, "일지원", "one@example.kr");
    let (_, second) = submitted(app, "이지원", "two@example.kr");
    let (_, decided) = submitted(app, "삼지원", "three@example.kr");
    let mut s = staff(app);
    let token = s.get(&format!("/staff/applications/{decided}")).csrf();
    s.post(&format!("/staff/applications/{decided}/decision"), &[("csrf_token", &token), ("action", "approve")]);
    (s, [first, second, decided])
}

fn status_of(app: &TestApp, id: &str) -> String {
    applications::table.find(id).select(applications::status).first(&mut app.conn()).unwrap()
}

fn reference_of(app: &TestApp, id: &str) -> String {
    applications::table.find(id).select(applications::reference).first(&mut app.conn()).unwrap()
}

/// The ids of the info-request notices queued for `id`'s resident.
fn info_requests_to(app: &TestApp, id: &str) -> Vec<String> {
    let user: String = applications::table.find(id).select(applications::user_id).first(&mut app.conn()).unwrap();
    outbox::table
        .filter(outbox::user_id.eq(user))
        .filter(outbox::kind.eq("application_info_requested"))
        .filter(outbox::channel.eq("email"))
        .select(outbox::id)
        .load(&mut app.conn())
        .unwrap()
}

/// `text` as it would appear percent-encoded in an address.
fn common_urlencoded(text: &str) -> String {
    text.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

fn logged(app: &TestApp, action: &str, reason: &str) -> i64 {
    access_log_chained(app);
    access_log::table.filter(access_log::action.eq(action)).filter(access_log::reason.eq(reason)).count().get_result(&mut app.conn()).unwrap()
}

#[test]
fn a_bulk_request_for_information_changes_only_the_eligible_ones_and_mails_each_resident_once() {
    let sink = SmtpSink::start();
    let port = sink.port;
    let app = spawn_app_with(move |c| c.smtp = Some(SmtpConfig { host: "127.0.0.1".into(), port, security: SmtpSecurity::None, username: None, password: None }));
    let (mut s, [first, second, decided]) = two_submitted_and_one_approved(&app);
    assert_eq!(status_of(&app, &decided), "approved");

    // The queue has a checkbox per row, named after the applicant.
    let queue = s.get("/staff/applications");
    let one = reference_of(&app, &first);
    queue.assert_contains(&format!("for=\"sel-{first}\">선택: {one} 일지원</label>")).assert_contains("선택한 신청에 요청 보내기");

    let message = "모자보건수첩 임신 확인 면을 다시 올려 주세요.";
    let form = [("csrf_token", queue.csrf()), ("action", "request_info".into()), ("message", message.into()), ("ids", first.clone()), ("ids", second.clone()), ("ids", decided.clone())];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // Post/Redirect/Get: the post answers with a redirect to its result, whose
    // address names only a random note (no applicant, no message).
    let posted = s.post("/staff/applications/bulk", &form);
    posted.assert_status(303);
    let result_page = posted.location.clone().expect("a redirect to the result");
    assert!(result_page.starts_with("/staff/applications/bulk/"), "{result_page}");
    for personal in [first.as_str(), second.as_str(), &one, "일지원", "모자보건수첩"] {
        assert!(!result_page.contains(personal) && !result_page.contains(&common_urlencoded(personal)), "{personal} in {result_page}");
    }
    let outbox_rows = || outbox::table.count().get_result::<i64>(&mut app.conn()).unwrap();
    let rows_after_post = outbox_rows();
    // Reloading the result page shows the same result and sends nothing again.
    for _ in 0..2 {
        s.get(&result_page)
            .assert_status(200)
            .assert_contains("2건을 &#x27;추가 서류 요청&#x27;으로 바꾸고")
            .assert_contains("건너뛴 신청: 1건")
            .assert_contains(&format!("<a href=\"/staff/applications/{first}\">{one}</a> 일지원"))
            .assert_contains(&format!("<a href=\"/staff/applications/{second}\">{}</a> 이지원", reference_of(&app, &second)))
            .assert_contains(&reference_of(&app, &decided))
            .assert_contains("지금 상태(승인)에서는 추가 서류를 요청할 수 없습니다.")
            .assert_contains(message);
        assert_eq!(outbox_rows(), rows_after_post, "reloading the result queues no notice");
    }
    // Another sign-in (here the same staff account in another browser) cannot read it.
    staff(&app).get(&result_page).assert_redirect("/staff/applications");
    assert_eq!((status_of(&app, &first).as_str(), status_of(&app, &second).as_str(), status_of(&app, &decided).as_str()), ("info_requested", "info_requested", "approved"));
    let asked: Option<String> = applications::table.find(&first).select(applications::info_request).first(&mut app.conn()).unwrap();
    assert_eq!(asked.as_deref(), Some(message));

    // One notice each for the changed ones, none for the skipped one, each delivered once to her.
    assert!(info_requests_to(&app, &decided).is_empty());
    for (id, email) in [(&first, "one@example.kr"), (&second, "two@example.kr")] {
        let ids = info_requests_to(&app, id);
        assert_eq!(ids.len(), 1, "one notice for {email}");
        let message_id = format!("Message-ID: <{}@naju-helper>", ids[0]);
        let mail = sink.wait_for_message(Duration::from_secs(20), |m| m.contains(&message_id));
        assert!(mail.contains(&format!("To: {email}")), "{mail}");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while outbox::table.filter(outbox::status.ne("sent")).filter(outbox::channel.eq("email")).count().get_result::<i64>(&mut app.conn()).unwrap() > 0 {
        assert!(std::time::Instant::now() < deadline, "every email delivered");
        std::thread::sleep(Duration::from_millis(50));
    }
    for email in ["one@example.kr", "two@example.kr", "three@example.kr"] {
        let to_her: Vec<String> = sink.messages().into_iter().filter(|m| m.contains(&format!("To: {email}"))).collect();
        let info_ids = outbox::table
            .filter(outbox::recipient.eq(email))
            .filter(outbox::kind.eq("application_info_requested"))
            .select(outbox::id)
            .load::<String>(&mut app.conn())
            .unwrap();
        let delivered = to_her.iter().filter(|m| info_ids.iter().any(|id| m.contains(&format!("<{id}@naju-helper>")))).count();
        assert_eq!(delivered, usize::from(email != "three@example.kr"), "info requests delivered to {email}");
    }
    // Each change is in the access log, as a single decision's is.
    assert_eq!(logged(&app, "change", "bulk decision"), 2);
}

#[test]
fn a_bulk_request_needs_a_selection_and_a_message_and_keeps_what_was_typed() {
    let app = spawn_app();
    let (_, id) = submitted(&app, "일지원", "one@example.kr");
    let mut s = staff(&app);
    let token = s.get("/staff/applications?status=submitted").csrf();
    let res = s.post("/staff/applications/bulk", &[("csrf_token", &token), ("action", "request_info"), ("status", "submitted"), ("message", "  ")]);
    res.assert_status(422)
        .assert_contains("error-summary")
        .assert_contains("href=\"#f-ids\"")
        .assert_contains("요청을 보낼 신청을 표에서 하나 이상 선택해 주세요.")
        .assert_contains("href=\"#f-message\"")
        .assert_contains("요청할 내용을 입력해 주세요.");
    let res = s.post("/staff/applications/bulk", &[("csrf_token", &token), ("action", "request_info"), ("status", "submitted"), ("ids", &id), ("message", "")]);
    res.assert_status(422).assert_contains(&format!("value=\"{id}\" checked")).assert_lacks("하나 이상 선택해 주세요");
    let res = s.post("/staff/applications/bulk", &[("csrf_token", &token), ("action", "request_info"), ("message", "서류를 다시 올려 주세요")]);
    res.assert_status(422).assert_contains(">서류를 다시 올려 주세요</textarea>");
    // Only the safe action exists.
    s.post("/staff/applications/bulk", &[("csrf_token", &token), ("action", "approve"), ("ids", &id), ("message", "x")]).assert_status(400);
    assert_eq!(status_of(&app, &id), "submitted");
}

#[test]
fn the_filtered_queue_downloads_as_xlsx_only_with_a_reason_that_is_logged() {
    use calamine::{Data, Reader, Xlsx};
    let app = spawn_app();
    let (mut s, [first, second, _]) = two_submitted_and_one_approved(&app);

    let queue = s.get("/staff/applications?status=submitted");
    queue.assert_contains("/staff/applications/export?status=submitted");
    let page = s.get("/staff/applications/export?status=submitted");
    page.assert_status(200).assert_contains("접수 (검토 중)").assert_contains("name=\"status\" value=\"submitted\"");
    let form = |reason: &'static str| vec![("csrf_token", page.csrf()), ("status", "submitted".to_string()), ("reason", reason.to_string())];
    let pairs = |f: &Vec<(&'static str, String)>| f.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();

    let refused = s.post("/staff/applications/export", &pairs(&form("  ")).iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>());
    refused.assert_status(422).assert_contains("error-summary").assert_contains("내려받는 사유를 입력해 주세요.").assert_contains("name=\"status\" value=\"submitted\"");
    assert_eq!(logged(&app, "export", ""), 0);

    // The body is binary: post with a raw agent carrying the same cookies.
    let cookie = s.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let resp = ureq::post(&format!("{}/staff/applications/export", app.base))
        .set("Cookie", &cookie)
        .send_form(&pairs(&form("monthly report to the city")).iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>())
        .expect("export");
    assert_eq!(resp.header("content-type"), Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"));
    assert!(resp.header("content-disposition").unwrap_or_default().contains(".xlsx"));
    let mut bytes = vec![];
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut bytes).unwrap();
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).expect("a valid XLSX");
    let sheet = book.worksheet_range_at(0).expect("a sheet").expect("readable");
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| r.iter().map(|c| match c { Data::Float(f) => f.to_string(), other => other.to_string() }).collect())
        .filter(|r: &Vec<String>| r.iter().any(|c| !c.is_empty()))
        .collect();
    // A title, the screen's header, then one row per application the filter finds.
    assert!(rows[0][0].contains("신청 심사") && rows[0][0].contains("상태: 접수 (검토 중)"), "{:?}", rows[0]);
    assert_eq!(rows[1], ["접수번호", "이름", "읍·면·동", "현재 주수", "신청일", "상태", "사전 확인"]);
    let body = &rows[2..];
    let refs: Vec<&str> = body.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(refs, [reference_of(&app, &first), reference_of(&app, &second)]);
    assert_eq!(body[0][1], "일지원");
    assert_eq!(body[0][2], "빛가람동");
    assert!(body.iter().all(|r| r[5] == "접수 (검토 중)" && r[6] == "대상으로 보임"), "{body:?}");
    assert_eq!(logged(&app, "export", "monthly report to the city"), 1);
}

#[test]
fn the_day_sheet_and_an_application_summary_print_without_the_sites_navigation() {
    let app = spawn_app();
    let (mut mom, id) = submitted(&app, "일지원", "one@example.kr");
    let (session, slot) = clinic_slot(&app, "childbirth_class");
    let token = mom.get(&format!("/clinic/sessions/{session}")).csrf();
    let due = (today() + chrono::Duration::days(120)).to_string();
    mom.post("/clinic/bookings", &[("csrf_token", &token), ("session_id", &session), ("slot_id", &slot), ("due_date", &due), ("with_partner", "yes")])
        .assert_redirect("/my/clinic");

    let mut s = staff(&app);
    s.get(&format!("/staff/clinic/sessions/{session}")).assert_contains(&format!("href=\"/staff/clinic/sessions/{session}/print\""));
    let sheet = s.get(&format!("/staff/clinic/sessions/{session}/print"));
    sheet.assert_status(200).assert_contains("토요 열린보건소 출석부").assert_contains("남편과 함께하는 출산교실").assert_contains("일지원");
    sheet.assert_contains("배우자 동반").assert_contains("출석 확인").assert_contains("class=\"check-box\"");
    assert_no_site_chrome(&sheet.body);
    // One section and one table per program of the day, each printed on its own page.
    let sections = sheet.body.matches("class=\"print-sheet\"").count();
    assert!(sections >= 5, "a section per program: {sections}");
    assert_eq!(sheet.body.matches("<table").count(), 1, "a table where there are bookings");

    s.get(&format!("/staff/applications/{id}")).assert_contains(&format!("href=\"/staff/applications/{id}/print\""));
    let summary = s.get(&format!("/staff/applications/{id}/print"));
    summary.assert_status(200).assert_contains("신청서 요약").assert_contains(&reference_of(&app, &id)).assert_contains("일지원");
    summary.assert_contains("처리 이력").assert_contains("신청서 제출").assert_contains("임신확인서.pdf").assert_contains("아직 결정되지 않았습니다.");
    assert_no_site_chrome(&summary.body);
    assert_eq!(logged(&app, "view", "print"), 1);
    assert_eq!(logged(&app, "view", "clinic day sheet print"), 1);

    // The stylesheet hides the site's header, menu and buttons on paper and breaks pages between programs.
    let css = s.get("/assets/css/app.css").body;
    let print_rules: String = css.split("@media print").skip(1).map(|b| b.split("\n}").next().unwrap_or("")).collect();
    for rule in [".site-header", "nav", ".button", ".no-print", ".print-sheet + .print-sheet { break-before: page"] {
        assert!(print_rules.contains(rule), "print rules lack {rule}: {print_rules}");
    }

    // Neither residents nor agencies see them.
    for path in [format!("/staff/applications/{id}/print"), format!("/staff/clinic/sessions/{session}/print"), "/staff/applications/export".into()] {
        mom.get(&path).assert_status(403);
        let mut agency = app.browser();
        agency.login(demo::CONTRACTOR_EMAIL, demo::CONTRACTOR_PASSWORD);
        agency.get(&path).assert_status(403);
    }
}

fn assert_no_site_chrome(body: &str) {
    for tag in ["<nav", "<header", "<footer", "<form", "class=\"skip-link\""] {
        assert!(!body.contains(tag), "a print page has no {tag}");
    }
}
