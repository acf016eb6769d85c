//! The application journey: a resident applies with a document, staff
//! review and decide; the waiting list; bad uploads; who sees what.

mod common;

use std::time::Duration;

use common::{access_log_chained, complete_draft, due_date_at_week, signed_up_resident, spawn_app, submit_application, today, TestApp, PDF};
use diesel::prelude::*;
use naju_helper::db::schema::{access_log, application_documents, applications, outbox, rule_sets};
use naju_helper::demo;

fn staff_browser(app: &TestApp) -> common::Browser {
    let mut b = app.browser();
    b.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD).assert_redirect("/staff");
    b
}

fn status_of(app: &TestApp, id: &str) -> String {
    applications::table.find(id).select(applications::status).first(&mut app.conn()).unwrap()
}

fn mail_kinds(app: &TestApp, to: &str) -> Vec<String> {
    outbox::table.filter(outbox::recipient.eq(to)).order(outbox::created_at.asc()).select(outbox::kind).load(&mut app.conn()).unwrap()
}

#[test]
fn a_resident_applies_with_her_document_and_staff_approve_it() {
    let app = spawn_app();
    let mut mom = signed_up_resident(&app, "김임신", "kim@example.kr");
    let id = complete_draft(&mut mom, due_date_at_week(25));

    let check = mom.get(&format!("/my/applications/{id}/check"));
    check.assert_status(200).assert_contains("입력 내용 확인").assert_contains("지원 대상으로 보입니다").assert_contains("임신확인서.pdf");
    assert_eq!(status_of(&app, &id), "draft");

    // Consent is required.
    let token = check.csrf();
    mom.post(&format!("/my/applications/{id}/submit"), &[("csrf_token", &token)])
        .assert_status(422)
        .assert_contains("개인정보 수집·이용에 동의해야 신청할 수 있습니다");
    submit_application(&mut mom, &id).assert_redirect(&format!("/my/applications/{id}/confirmation"));
    let confirmation = mom.get(&format!("/my/applications/{id}/confirmation"));
    let reference: String = applications::table.find(&id).select(applications::reference).first(&mut app.conn()).unwrap();
    confirmation.assert_contains("신청이 접수되었습니다").assert_contains(&reference).assert_contains("다음 단계");
    assert_eq!(status_of(&app, &id), "submitted");
    let (eligible, consent): (Option<bool>, Option<chrono::NaiveDateTime>) =
        applications::table.find(&id).select((applications::precheck_eligible, applications::consent_at)).first(&mut app.conn()).unwrap();
    assert_eq!(eligible, Some(true));
    assert!(consent.is_some(), "consent time recorded");
    assert_eq!(mail_kinds(&app, "mom@example.kr"), vec!["application_received"]);

    // Staff find it in the queue, open it (logged) and approve.
    let mut staff = staff_browser(&app);
    staff.get("/staff/applications").assert_contains(&reference).assert_contains("김임신");
    staff.get("/staff/applications?status=approved").assert_lacks(&reference);
    staff.get("/staff/applications?district=46170250").assert_lacks(&reference);
    staff.get("/staff/applications?district=46170570&week_min=24&week_max=26").assert_contains(&reference);
    staff.get("/staff/applications?week_min=30").assert_lacks(&reference);
    let detail = staff.get(&format!("/staff/applications/{id}"));
    detail.assert_status(200).assert_contains("빛가람로 100").assert_contains("010-5555-6666");
    access_log_chained(&app);
    let views: i64 = access_log::table
        .filter(access_log::action.eq("view"))
        .filter(access_log::record_id.eq(&id))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(views, 1, "the view of personal data is logged");

    let token = detail.csrf();
    staff.post(&format!("/staff/applications/{id}/decision"), &[("csrf_token", &token), ("action", "approve")])
        .assert_redirect(&format!("/staff/applications/{id}"));
    assert_eq!(status_of(&app, &id), "approved");
    let decided_by: Option<String> = applications::table.find(&id).select(applications::decided_by).first(&mut app.conn()).unwrap();
    assert!(decided_by.is_some(), "who decided is recorded");
    assert_eq!(mail_kinds(&app, "mom@example.kr"), vec!["application_received", "application_approved"]);
    let approved_body: String = outbox::table
        .filter(outbox::kind.eq("application_approved"))
        .select(outbox::body_text)
        .first(&mut app.conn())
        .unwrap();
    assert!(approved_body.contains("1회 4시간, 총 4회"), "quota from the rules in force: {approved_body}");

    let page = mom.get(&format!("/my/applications/{id}"));
    page.assert_contains("승인").assert_contains("신청서 제출").assert_contains("서류 제출");
}

#[test]
fn the_pre_check_explains_why_she_may_not_be_eligible_but_she_can_still_apply() {
    let app = spawn_app();
    let mut mom = signed_up_resident(&app, "이른주", "early@example.kr");
    let id = complete_draft(&mut mom, due_date_at_week(12));
    mom.get(&format!("/my/applications/{id}/check"))
        .assert_contains("지원 대상이 아닐 수 있습니다")
        .assert_contains("오늘은 임신 12+0주로, 21주부터 지원합니다")
        .assert_contains("그래도 신청하시면");
    submit_application(&mut mom, &id).assert_redirect(&format!("/my/applications/{id}/confirmation"));
    let (eligible, reasons): (Option<bool>, String) =
        applications::table.find(&id).select((applications::precheck_eligible, applications::precheck_reasons)).first(&mut app.conn()).unwrap();
    assert_eq!(eligible, Some(false));
    assert!(reasons.contains("too_early"), "{reasons}");
}

#[test]
fn implausible_due_dates_and_missing_answers_are_explained() {
    let app = spawn_app();
    let mut mom = signed_up_resident(&app, "날짜확인", "dates@example.kr");
    let token = mom.get("/apply/housework").csrf();
    let location = mom.post("/apply/housework", &[("csrf_token", &token)]).location.unwrap();
    let id = location.trim_start_matches("/my/applications/").trim_end_matches("/details").to_string();
    let details = mom.submit(&location, &location, &[("applicant_name", ""), ("birth_date", "1994-13-40"), ("district_code", "other")]);
    details
        .assert_status(422)
        .assert_contains("이름을 입력해 주세요")
        .assert_contains("날짜를 2026-03-15 형식")
        .assert_contains("읍·면·동을 선택해 주세요")
        .assert_contains("상세 주소를 입력해 주세요");
    let step = format!("/my/applications/{id}/pregnancy");
    let past = (today() - chrono::Duration::days(1)).to_string();
    mom.submit(&step, &step, &[("due_date", &past), ("residency_start", "2020-01-01")])
        .assert_status(422)
        .assert_contains("출산예정일이 이미 지났습니다")
        .assert_contains(&format!("value=\"{past}\""));
    let far = (today() + chrono::Duration::weeks(43)).to_string();
    mom.submit(&step, &step, &[("due_date", &far), ("residency_start", "2020-01-01")]).assert_contains("42주보다 멀리");
    // Submitting before every step is done is refused with directions.
    let token = mom.get(&format!("/my/applications/{id}/check")).csrf();
    let res = mom.post(&format!("/my/applications/{id}/submit"), &[("csrf_token", &token), ("consent", "yes")]);
    res.assert_status(422).assert_contains("아직 작성하지 않은 항목이 있습니다");
    assert_eq!(status_of(&app, &id), "draft");
}

#[test]
fn one_open_application_per_pregnancy() {
    let app = spawn_app();
    let mut mom = signed_up_resident(&app, "중복신청", "twice@example.kr");
    let id = complete_draft(&mut mom, due_date_at_week(30));
    submit_application(&mut mom, &id);
    let token = mom.get("/apply/housework").csrf();
    mom.post("/apply/housework", &[("csrf_token", &token)]).assert_redirect("/apply/housework");
    mom.get("/apply/housework").assert_contains("이미 진행 중인 신청이 있습니다");
    let count: i64 = applications::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(count, 1);
    // After withdrawing she may apply again.
    let token = mom.get(&format!("/my/applications/{id}/withdraw")).csrf();
    mom.post(&format!("/my/applications/{id}/withdraw"), &[("csrf_token", &token)]).assert_redirect("/my/applications");
    assert_eq!(status_of(&app, &id), "withdrawn");
    let token = mom.get("/apply/housework").csrf();
    let res = mom.post("/apply/housework", &[("csrf_token", &token)]);
    assert!(res.location.unwrap().ends_with("/details"));
}

#[test]
fn bad_uploads_get_a_clear_error_and_leave_nothing_behind() {
    let app = spawn_app();
    let mut mom = signed_up_resident(&app, "업로드", "upload@example.kr");
    let token = mom.get("/apply/housework").csrf();
    let location = mom.post("/apply/housework", &[("csrf_token", &token)]).location.unwrap();
    let id = location.trim_start_matches("/my/applications/").trim_end_matches("/details").to_string();
    let path = format!("/my/applications/{id}/document");
    let token = mom.get(&path).csrf();

    mom.upload(&path, &token, "document", "virus.pdf", b"MZ\x90\x00 this is not a pdf")
        .assert_status(422)
        .assert_contains("PDF, JPG, PNG 파일만 올릴 수 있습니다");
    mom.upload(&path, &token, "document", "empty.pdf", b"").assert_status(422).assert_contains("선택한 파일이 비어 있습니다");
    let mut big = PDF.to_vec();
    big.resize(10 * 1024 * 1024 + 1, b'0');
    mom.upload(&path, &token, "document", "big.pdf", &big).assert_status(422).assert_contains("10MB보다 큽니다");
    mom.upload(&path, "wrong-token", "document", "ok.pdf", PDF).assert_status(403);

    let docs: i64 = application_documents::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(docs, 0, "no document rows");
    let stored = std::fs::read_dir(app.data_dir.join("uploads")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(stored, 0, "no files stored");

    // Exactly 10 MB is accepted, and a PNG judged by its bytes whatever its name.
    let mut max = PDF.to_vec();
    max.resize(10 * 1024 * 1024, b'0');
    mom.upload(&path, &token, "document", "max.pdf", &max).assert_redirect(&format!("/my/applications/{id}/check"));
    let png = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0];
    mom.upload(&path, &token, "document", "photo.dat", &png).assert_redirect(&format!("/my/applications/{id}/check"));
    let types: Vec<String> = application_documents::table.select(application_documents::content_type).load(&mut app.conn()).unwrap();
    assert_eq!(types.len(), 2);
    assert!(types.contains(&"image/png".to_string()));
}

#[test]
fn staff_reject_with_a_reason_or_ask_for_more_and_the_resident_answers() {
    let app = spawn_app();
    let mut a = signed_up_resident(&app, "반려대상", "reject@example.kr");
    let ida = complete_draft(&mut a, due_date_at_week(22));
    submit_application(&mut a, &ida);
    let mut b = signed_up_resident(&app, "보완대상", "info@example.kr");
    let idb = complete_draft(&mut b, due_date_at_week(22));
    submit_application(&mut b, &idb);
    diesel::update(applications::table.find(&idb)).set(applications::email.eq("info@example.kr")).execute(&mut app.conn()).unwrap();
    diesel::update(applications::table.find(&ida)).set(applications::email.eq("reject@example.kr")).execute(&mut app.conn()).unwrap();

    let mut staff = staff_browser(&app);
    let token = staff.get(&format!("/staff/applications/{ida}")).csrf();
    staff.post(&format!("/staff/applications/{ida}/decision"), &[("csrf_token", &token), ("action", "reject"), ("reason", "  ")]);
    assert_eq!(status_of(&app, &ida), "submitted", "a rejection needs a reason");
    staff.get(&format!("/staff/applications/{ida}")).assert_contains("반려 사유를 입력해 주세요");
    staff.post(
        &format!("/staff/applications/{ida}/decision"),
        &[("csrf_token", &token), ("action", "reject"), ("reason", "관외 거주로 확인되었습니다.")],
    );
    assert_eq!(status_of(&app, &ida), "rejected");
    let body: String = outbox::table.filter(outbox::kind.eq("application_rejected")).select(outbox::body_text).first(&mut app.conn()).unwrap();
    assert!(body.contains("관외 거주로 확인되었습니다."), "{body}");
    a.get(&format!("/my/applications/{ida}")).assert_contains("관외 거주로 확인되었습니다.");

    staff.post(
        &format!("/staff/applications/{idb}/decision"),
        &[("csrf_token", &token), ("action", "request_info"), ("message", "모자보건수첩 임신 확인 면을 올려 주세요.")],
    );
    assert_eq!(status_of(&app, &idb), "info_requested");
    assert!(mail_kinds(&app, "info@example.kr").contains(&"application_info_requested".to_string()));
    let page = b.get(&format!("/my/applications/{idb}"));
    page.assert_contains("모자보건수첩 임신 확인 면을 올려 주세요.");
    b.upload(&format!("/my/applications/{idb}/document"), &page.csrf(), "document", "수첩.pdf", PDF)
        .assert_redirect(&format!("/my/applications/{idb}"));
    let token = b.get(&format!("/my/applications/{idb}")).csrf();
    b.post(&format!("/my/applications/{idb}/resubmit"), &[("csrf_token", &token)]);
    assert_eq!(status_of(&app, &idb), "submitted");
    let docs: i64 = application_documents::table.filter(application_documents::application_id.eq(&idb)).count().get_result(&mut app.conn()).unwrap();
    assert_eq!(docs, 2);
}

fn set_capacity(staff: &mut common::Browser, capacity: &str) {
    let form = staff.get("/staff/rules/new");
    let token = form.csrf();
    let today = today().to_string();
    let districts = naju_helper::applications::rules::naju_districts()
        .iter()
        .map(|d| format!("{} {}", d.code, d.name))
        .collect::<Vec<_>>()
        .join("\n");
    staff
        .post(
            "/staff/rules",
            &[
                ("csrf_token", &token),
                ("effective_from", &today),
                ("region_code", "46170"),
                ("region_name", "전라남도 나주시"),
                ("districts", &districts),
                ("min_gestational_week", "21"),
                ("min_residency_months", "0"),
                ("visit_count", "4"),
                ("visit_hours", "4"),
                ("yearly_capacity", capacity),
                ("applications_open", "yes"),
                ("note", "test capacity"),
            ],
        )
        .assert_redirect("/staff/rules");
}

#[test]
fn when_the_year_is_full_applications_wait_in_order_and_move_up_when_a_place_frees() {
    let app = spawn_app();
    let mut staff = staff_browser(&app);
    let bad = staff.submit("/staff/rules/new", "/staff/rules", &[("effective_from", "x"), ("yearly_capacity", "-1")]);
    bad.assert_status(422).assert_contains("허용 범위 안의 숫자");
    set_capacity(&mut staff, "1");
    staff.get("/staff/rules").assert_contains("v4").assert_contains("현재 적용").assert_contains("test capacity");
    let v4: String = rule_sets::table.filter(rule_sets::version.eq(4)).select(rule_sets::id).first(&mut app.conn()).unwrap();

    let mut first = signed_up_resident(&app, "첫째", "first@example.kr");
    let id1 = complete_draft(&mut first, due_date_at_week(25));
    submit_application(&mut first, &id1);
    let mut second = signed_up_resident(&app, "둘째", "second@example.kr");
    let id2 = complete_draft(&mut second, due_date_at_week(25));
    submit_application(&mut second, &id2);
    let mut third = signed_up_resident(&app, "셋째", "third@example.kr");
    let id3 = complete_draft(&mut third, due_date_at_week(25));
    submit_application(&mut third, &id3);

    assert_eq!(status_of(&app, &id1), "submitted");
    assert_eq!(status_of(&app, &id2), "waitlisted");
    assert_eq!(status_of(&app, &id3), "waitlisted");
    let rule_set: String = applications::table.find(&id1).select(applications::rule_set_id).first(&mut app.conn()).unwrap();
    assert_eq!(rule_set, v4, "the application keeps the rules in force when submitted");
    second.get(&format!("/my/applications/{id2}/confirmation")).assert_contains("대기자로 접수되었습니다");
    let waitlist = staff.get("/staff/applications?status=waitlisted");
    let reference = |id: &str| -> String { applications::table.find(id).select(applications::reference).first(&mut app.conn()).unwrap() };
    let (p2, p3) = (waitlist.body.find(&reference(&id2)).unwrap(), waitlist.body.find(&reference(&id3)).unwrap());
    waitlist.assert_lacks(&reference(&id1));
    assert!(p2 < p3, "waiting list in order of submission");

    let token = first.get(&format!("/my/applications/{id1}/withdraw")).csrf();
    first.post(&format!("/my/applications/{id1}/withdraw"), &[("csrf_token", &token)]);
    assert_eq!(status_of(&app, &id2), "submitted", "the first in line moves up");
    assert_eq!(status_of(&app, &id3), "waitlisted");
    let kinds: Vec<String> = outbox::table.filter(outbox::kind.eq("application_promoted")).select(outbox::recipient).load(&mut app.conn()).unwrap();
    assert_eq!(kinds.len(), 1);
}

#[test]
fn concurrent_submissions_never_take_more_places_than_the_capacity() {
    let app = spawn_app();
    let mut staff = staff_browser(&app);
    set_capacity(&mut staff, "3");
    let mut residents: Vec<(common::Browser, String)> = (0..10)
        .map(|i| {
            let mut b = signed_up_resident(&app, &format!("동시{i}"), &format!("race{i}@example.kr"));
            let id = complete_draft(&mut b, due_date_at_week(25));
            (b, id)
        })
        .collect();
    let tokens: Vec<String> = residents.iter_mut().map(|(b, id)| b.get(&format!("/my/applications/{id}/check")).csrf()).collect();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(residents.len()));
    let handles: Vec<_> = residents
        .into_iter()
        .zip(tokens)
        .map(|((mut b, id), token)| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                b.post(&format!("/my/applications/{id}/submit"), &[("csrf_token", &token), ("consent", "yes")]).status
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 303);
    }
    let submitted: i64 = applications::table.filter(applications::status.eq("submitted")).count().get_result(&mut app.conn()).unwrap();
    let waiting: i64 = applications::table.filter(applications::status.eq("waitlisted")).count().get_result(&mut app.conn()).unwrap();
    assert_eq!((submitted, waiting), (3, 7));
}

#[test]
fn documents_are_seen_only_by_their_owner_and_by_staff_who_give_a_reason() {
    let app = spawn_app();
    let mut mom = signed_up_resident(&app, "서류주인", "owner@example.kr");
    let id = complete_draft(&mut mom, due_date_at_week(25));
    submit_application(&mut mom, &id);
    let doc: String = application_documents::table.select(application_documents::id).first(&mut app.conn()).unwrap();
    let url = format!("/my/applications/{id}/documents/{doc}");
    let own = mom.get(&url);
    own.assert_status(200);
    assert_eq!(own.body.as_bytes(), PDF);
    assert!(own.headers.get("content-disposition").is_some_and(|v| v.starts_with("attachment")));

    let mut other = signed_up_resident(&app, "남의서류", "other@example.kr");
    other.get(&url).assert_status(404);
    other.get(&format!("/my/applications/{id}")).assert_status(404).assert_lacks("서류주인");
    other.get(&format!("/staff/applications/{id}")).assert_status(403);

    let mut staff = staff_browser(&app);
    let staff_url = format!("/staff/applications/{id}/documents/{doc}");
    let page = staff.get(&staff_url);
    page.assert_contains("내려받는 사유");
    staff.post(&staff_url, &[("csrf_token", &page.csrf()), ("reason", "")]).assert_status(422).assert_contains("사유를 입력해 주세요");
    let file = staff.post(&staff_url, &[("csrf_token", &page.csrf()), ("reason", "자격 확인")]);
    file.assert_status(200);
    assert_eq!(file.body.as_bytes(), PDF);
    access_log_chained(&app);
    let logged: (String, String) = access_log::table
        .filter(access_log::action.eq("download"))
        .select((access_log::reason, access_log::ip))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(logged.0, "자격 확인");
    assert_eq!(logged.1, "127.0.0.1");

    // The supervisor sees the log and its integrity; tampering is detected.
    staff.get("/staff/access-log").assert_status(200).assert_contains("자격 확인").assert_contains("위·변조 흔적이 없습니다");
    diesel::update(access_log::table.filter(access_log::action.eq("download")))
        .set(access_log::reason.eq("고친 사유"))
        .execute(&mut app.conn())
        .unwrap();
    staff.get("/staff/access-log").assert_contains("위·변조 또는 삭제가 의심됩니다");

    // Staff who are not supervisors cannot read the log.
    staff.submit(
        "/staff/users/new",
        "/staff/users",
        &[("role", "staff"), ("name", "일반직원"), ("email", "clerk@example.kr"), ("phone", "061-339-1111"), ("password", "clerk-pass-01"), ("password_confirm", "clerk-pass-01")],
    );
    let mut clerk = app.browser();
    clerk.login("clerk@example.kr", "clerk-pass-01").assert_redirect("/staff");
    clerk.get("/staff/access-log").assert_status(403);
    let _ = Duration::from_secs(0);
}

/// A long queue comes in pages of 50, oldest submission first, with links to
/// the pages before and after; the count is of all the filter finds.
#[test]
fn a_long_queue_comes_in_pages_of_fifty_with_the_total_of_all_pages() {
    use diesel::sql_types::{Nullable, Text, Timestamp};
    let app = spawn_app();
    let mut b = signed_up_resident(&app, "한지원", "queue@example.kr");
    let id = complete_draft(&mut b, due_date_at_week(25));
    submit_application(&mut b, &id);
    // 119 decided ones, each a copy of hers a minute apart (Q-001 oldest).
    let start = naju_helper::time::now_utc() - chrono::Duration::days(1);
    let mut conn = app.conn();
    for i in 1..=119i64 {
        let at = chrono::Timelike::with_nanosecond(&(start + chrono::Duration::minutes(i)), 0).unwrap();
        let copy = applications::table.filter(applications::id.eq(&id)).select((
            applications::id.concat(format!("-{i:03}")),
            format!("Q-{i:03}").into_sql::<Text>(),
            applications::program_id,
            applications::user_id,
            applications::rule_set_id,
            "rejected".into_sql::<Text>(),
            applications::applicant_name,
            applications::phone,
            applications::email,
            applications::district_code,
            applications::street_address,
            applications::due_date,
            applications::precheck_reasons,
            Some(at).into_sql::<Nullable<Timestamp>>(),
            applications::created_at,
            applications::updated_at,
            applications::priority_groups,
        ));
        diesel::insert_into(applications::table)
            .values(copy)
            .into_columns((
                applications::id,
                applications::reference,
                applications::program_id,
                applications::user_id,
                applications::rule_set_id,
                applications::status,
                applications::applicant_name,
                applications::phone,
                applications::email,
                applications::district_code,
                applications::street_address,
                applications::due_date,
                applications::precheck_reasons,
                applications::submitted_at,
                applications::created_at,
                applications::updated_at,
                applications::priority_groups,
            ))
            .execute(&mut conn)
            .unwrap();
    }
    drop(conn);
    let mut staff = staff_browser(&app);
    let refs = |body: &str| -> Vec<String> { body.match_indices(">Q-").map(|(at, _)| body[at + 1..at + 6].to_string()).collect() };

    let first = staff.get("/staff/applications?status=rejected");
    first.assert_status(200).assert_contains("id=\"result-count\">119건").assert_contains("1–50번째");
    assert_eq!(refs(&first.body), (1..=50).map(|i| format!("Q-{i:03}")).collect::<Vec<_>>());
    assert!(first.body.contains("rel=\"next\" href=\"/staff/applications?status=rejected&amp;district=&amp;week_min=&amp;week_max=&amp;from=&amp;to=&amp;page=2\""), "a link to the next page");
    assert!(!first.body.contains("rel=\"prev\""));

    let second = staff.get("/staff/applications?status=rejected&page=2");
    second.assert_contains("id=\"result-count\">119건").assert_contains("51–100번째");
    assert_eq!(refs(&second.body).first().map(String::as_str), Some("Q-051"));
    assert!(second.body.contains("rel=\"prev\"") && second.body.contains("rel=\"next\""));

    let last = staff.get("/staff/applications?status=rejected&page=3");
    last.assert_contains("101–119번째");
    assert_eq!(refs(&last.body), (101..=119).map(|i| format!("Q-{i:03}")).collect::<Vec<_>>());
    assert!(!last.body.contains("rel=\"next\""));

    // A page past the end is empty, not an error; nonsense is page 1.
    staff.get("/staff/applications?status=rejected&page=9").assert_status(200).assert_contains("id=\"result-count\">119건");
    let nonsense = staff.get("/staff/applications?status=rejected&page=abc");
    assert_eq!(refs(&nonsense.body).len(), 50);
    // Without a filter: hers and the 119, all counted, one page shown.
    let all = staff.get("/staff/applications");
    all.assert_contains("id=\"result-count\">120건");
    assert_eq!(refs(&all.body).len(), 50);
}
