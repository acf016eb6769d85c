//! A city starts from an empty database: the first supervisor sets it up
//! from a city file, residents see "not open yet" until then, and every
//! shipped city file runs an eligible and an ineligible application through
//! HTTP. City files round-trip through export and import; bad files change
//! nothing. Several agencies: each sees only its own visits.

mod common;

use chrono::{Datelike, NaiveDate};
use common::{cli, signed_up_resident, spawn_app, spawn_app_with, today, Browser, TestApp, PDF};
use diesel::prelude::*;
use naju_helper::city;
use naju_helper::db::schema::{agencies, applications, rule_sets, visit_slots, visits};
use naju_helper::demo;

/// A fresh database without demo data, as a city's production start.
fn empty_city() -> TestApp {
    spawn_app_with(|c| c.load_demo = false)
}

const SUPERVISOR: (&str, &str) = ("chief@city.example", "chief-pass-2026");

fn supervisor(app: &TestApp) -> Browser {
    let (ok, out) = cli(
        app,
        &["user", "add", "--role", "staff", "--supervisor", "--email", SUPERVISOR.0, "--name", "박팀장", "--phone", "02-820-9400", "--password", SUPERVISOR.1],
    );
    assert!(ok, "{out}");
    let mut b = app.browser();
    b.login(SUPERVISOR.0, SUPERVISOR.1).assert_redirect("/staff");
    b
}

fn apply_shipped(b: &mut Browser, name: &str) {
    let token = b.get("/staff/city").csrf();
    b.post("/staff/city/import", &[("csrf_token", &token), ("shipped", name)]).assert_redirect("/staff/city");
}

#[test]
fn an_empty_database_leads_the_first_supervisor_to_a_working_city() {
    let app = empty_city();
    // Residents: a clear "not open yet", never an empty or broken page.
    let mut visitor = app.browser();
    visitor.get("/").assert_status(200).assert_contains("id=\"not-open\"");
    let mut mom = signed_up_resident(&app, "먼저온사람", "early@example.kr");
    mom.get("/apply/housework").assert_status(200).assert_contains("아직 운영하지 않습니다");
    mom.get("/clinic").assert_status(200).assert_contains("아직 운영하지 않습니다");

    // The first supervisor lands on the set-up page, which says what is missing.
    let mut chief = supervisor(&app);
    let setup = chief.get("/staff");
    setup.assert_redirect("/staff/city");
    let page = chief.get("/staff/city");
    page.assert_status(200).assert_contains("id=\"setup-needed\"").assert_contains("naju-2024.toml").assert_contains("dongjak-2024.toml");
    page.assert_contains("class=\"missing\" id=\"check-city\"").assert_lacks("class=\"done\"");

    // She starts from a shipped city file: nothing in code or SQL.
    apply_shipped(&mut chief, "naju-2024.toml");
    let page = chief.get("/staff/city");
    page.assert_contains("시·군 파일을 적용했습니다").assert_contains("class=\"done\" id=\"check-city\"").assert_contains("class=\"done\" id=\"check-rules\"");
    page.assert_contains("class=\"missing\" id=\"check-agency_accounts\"");
    chief.get("/staff").assert_status(200);
    // The agency's account, linked to its agency by code.
    let (ok, out) = cli(
        &app,
        &["user", "add", "--role", "contractor", "--agency", "naju-care", "--email", "care@naju.example", "--name", "나주가사돌봄센터", "--phone", "061-330-0000", "--password", "agency-pass-2026"],
    );
    assert!(ok, "{out}");
    chief.get("/staff/city").assert_contains("class=\"done\" id=\"check-agency_accounts\"").assert_contains("id=\"setup-done\"");

    // Residents now see the programs and can apply; the city's name is shown.
    visitor.get("/").assert_contains("임신부 가사돌봄 서비스").assert_lacks("id=\"not-open\"").assert_contains("나주시");
    mom.get("/apply/housework").assert_lacks("아직 운영하지 않습니다");
}

#[test]
fn a_bad_city_file_names_its_line_and_field_and_changes_nothing() {
    let app = empty_city();
    let mut chief = supervisor(&app);
    let good = city::shipped("haenam-2025.toml").unwrap();
    let bad = good.replacen("visits = 4", "visits = \"four\"", 1);
    let line = bad.lines().position(|l| l.contains("\"four\"")).unwrap() + 1;
    let token = chief.get("/staff/city").csrf();
    let res = chief.post("/staff/city/import", &[("csrf_token", &token), ("text", &bad)]);
    res.assert_status(422).assert_contains(&format!("{line}번째 줄")).assert_contains("아무것도 바뀌지 않았습니다").assert_contains("visits = &quot;four&quot;");
    // A district an agency serves must be the city's.
    let bad = good.replacen("[[agencies]]\ncode = \"haenam-care\"", "[[agencies]]\ncode = \"haenam-care\"\ndistricts = [\"11110\"]", 1);
    let res = chief.post("/staff/city/import", &[("csrf_token", &token), ("text", &bad)]);
    res.assert_status(422).assert_contains("agencies[1].districts").assert_contains("11110");
    let versions: i64 = rule_sets::table.count().get_result(&mut app.conn()).unwrap();
    let agency_rows: i64 = agencies::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!((versions, agency_rows), (0, 0), "nothing applied");
    // The command line says the same and exits non-zero.
    let path = app.data_dir.join("bad.toml");
    std::fs::write(&path, &bad).unwrap();
    let (ok, out) = cli(&app, &["city", "import", path.to_str().unwrap()]);
    assert!(!ok);
    assert!(out.contains("agencies[1].districts") && out.contains("nothing was changed"), "{out}");
    // The same file, corrected, through the upload.
    let token = chief.get("/staff/city").csrf();
    chief.upload("/staff/city/upload", &token, "file", "haenam.toml", good.as_bytes()).assert_redirect("/staff/city");
    let versions: i64 = rule_sets::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(versions, 1);
}

#[test]
fn every_shipped_city_file_round_trips_through_export_and_import() {
    for (name, text) in city::SHIPPED {
        let first = empty_city();
        let path = first.data_dir.join(name);
        std::fs::write(&path, text).unwrap();
        let (ok, out) = cli(&first, &["city", "import", path.to_str().unwrap()]);
        assert!(ok, "{name}: {out}");
        let exported = first.data_dir.join("export.toml");
        let (ok, out) = cli(&first, &["city", "export", "--out", exported.to_str().unwrap()]);
        assert!(ok, "{name}: {out}");
        let once = std::fs::read_to_string(&exported).unwrap();
        assert_eq!(city::parse(&once).unwrap(), city::parse(text).unwrap(), "{name}: the export says what the file says");

        let second = empty_city();
        let (ok, out) = cli(&second, &["city", "import", exported.to_str().unwrap()]);
        assert!(ok, "{name}: {out}");
        let (ok, twice) = cli(&second, &["city", "export"]);
        assert!(ok, "{name}: {twice}");
        assert_eq!(once, twice, "{name}: export → import → export gives the same file");

        // Applying the same file again adds no rule version.
        let (ok, out) = cli(&first, &["city", "import", path.to_str().unwrap()]);
        assert!(ok && out.contains("0 new rule versions"), "{name}: {out}");
    }
}

#[test]
fn a_changed_rule_is_added_as_a_new_version_never_rewritten() {
    let app = empty_city();
    let mut chief = supervisor(&app);
    apply_shipped(&mut chief, "naju-2024.toml");
    let before: Vec<(i32, i32)> = rule_sets::table.select((rule_sets::version, rule_sets::visit_count)).order(rule_sets::version.asc()).load(&mut app.conn()).unwrap();
    assert_eq!(before, vec![(1, 5), (2, 5), (3, 4)]);
    // The supervisor edits the file on the page: 2025 brings 5 visits again.
    let current = chief.get("/staff/city/export");
    current.assert_status(200);
    let edited = format!(
        "{}\n[[housework.rules]]\neffective_from = \"2025-01-01\"\napplications_open = true\nyearly_capacity = 700\nvisits = 5\nhours_per_visit = 4\n",
        current.body.trim_end()
    );
    // Table order matters in TOML: the new version goes after the others.
    let edited = move_rule_to_end(&edited);
    let token = chief.get("/staff/city").csrf();
    chief.post("/staff/city/import", &[("csrf_token", &token), ("text", &edited)]).assert_redirect("/staff/city");
    let after: Vec<(i32, i32)> = rule_sets::table.select((rule_sets::version, rule_sets::visit_count)).order(rule_sets::version.asc()).load(&mut app.conn()).unwrap();
    assert_eq!(after, vec![(1, 5), (2, 5), (3, 4), (4, 5)], "added, nothing rewritten");
}

/// Puts the appended `[[housework.rules]]` block right after the last
/// existing rule version (before the next top-level table).
fn move_rule_to_end(text: &str) -> String {
    let start = text.rfind("\n[[housework.rules]]\neffective_from = \"2025-01-01\"").unwrap();
    let block = text[start..].to_string();
    let rest = &text[..start];
    let anchor = rest.find("\n[saturday_clinic]").unwrap();
    format!("{}{}\n{}", &rest[..anchor], block.trim_end(), &rest[anchor..])
}

/// One shipped city and what an eligible and an ineligible resident declare.
struct Case {
    file: &'static str,
    district: &'static str,
    due: NaiveDate,
    residency_start: String,
    extra: Vec<(&'static str, String)>,
    bad_due: NaiveDate,
    bad_residency_start: String,
    bad_extra: Vec<(&'static str, String)>,
    /// Text of the reason the ineligible one is shown.
    bad_reason: &'static str,
}

/// The booking steps' first offer: the calendar's first free day, then that
/// day's first start time (the page with the times, and the slot's id).
fn first_offered_time(mom: &mut Browser) -> (common::Resp, Option<String>) {
    let calendar = mom.get("/my/visits/new");
    let Some(day) = calendar.body.split("class=\"cal-free\" href=\"").nth(1).map(|s| s.split('"').next().unwrap().to_string()) else {
        return (calendar, None);
    };
    let page = mom.get(&day);
    let slot = page.body.split("name=\"slot_id\" value=\"").nth(1).map(|s| s.split('"').next().unwrap().to_string());
    (page, slot)
}

fn days(n: i64) -> chrono::Duration {
    chrono::Duration::days(n)
}

fn cases() -> Vec<Case> {
    let long_ago = "2020-01-01".to_string();
    let recently = (today() - days(60)).to_string();
    let week = common::due_date_at_week;
    vec![
        Case {
            file: "naju-2024.toml",
            district: "46170250",
            due: week(25),
            residency_start: recently.clone(),
            extra: vec![],
            bad_due: week(12),
            bad_residency_start: long_ago.clone(),
            bad_extra: vec![],
            bad_reason: "21주부터 지원합니다",
        },
        Case {
            file: "naju-2023.toml",
            district: "46170250",
            due: week(25),
            residency_start: long_ago.clone(),
            extra: vec![("priority_multiple", "yes".into())],
            bad_due: week(25),
            bad_residency_start: recently.clone(),
            bad_extra: vec![],
            bad_reason: "거주 기간이 6개월 이상",
        },
        Case {
            file: "dongjak-2024.toml",
            district: "11590605",
            // From the start of pregnancy: week 6 is enough.
            due: week(6),
            residency_start: recently.clone(),
            extra: vec![],
            // A loss at week 14 is not covered (from week 16).
            bad_due: today() - days(7) - days(14 * 7) + days(280),
            bad_residency_start: recently.clone(),
            bad_extra: vec![("loss_on", (today() - days(7)).to_string())],
            bad_reason: "16주 이후의 유산·사산만",
        },
        Case {
            file: "haenam-2025.toml",
            district: "46820250",
            due: week(30),
            residency_start: long_ago.clone(),
            extra: vec![],
            bad_due: week(30),
            bad_residency_start: recently.clone(),
            bad_extra: vec![],
            bad_reason: "거주 기간이 6개월 이상",
        },
        Case {
            file: "hanbit-income-test.toml",
            district: "99990250",
            // The last 2 months before the due date.
            due: today() + days(40),
            residency_start: recently.clone(),
            extra: vec![("income_within_limit", "yes".into())],
            bad_due: today() + days(40),
            bad_residency_start: recently,
            bad_extra: vec![("income_within_limit", "no".into())],
            bad_reason: "기준 중위소득 150% 이하",
        },
    ]
}

/// Fills in every step of the form for this city and returns the application id.
fn draft(b: &mut Browser, case: &Case, due: NaiveDate, residency: &str, extra: &[(&'static str, String)]) -> String {
    let id = draft_to_documents(b, case, due, residency, extra);
    // Each document the city asks for, uploaded separately.
    let kinds = document_kinds(b, &id);
    assert!(!kinds.is_empty(), "{}: the document step names what to upload", case.file);
    for (n, kind) in kinds.iter().enumerate() {
        let token = b.get(&format!("/my/applications/{id}/document")).csrf();
        let res = b.upload_with(&format!("/my/applications/{id}/document"), &token, &[("kind", kind)], "document", &format!("{kind}.pdf"), PDF);
        let next = if n + 1 == kinds.len() { "check" } else { "document" };
        res.assert_redirect(&format!("/my/applications/{id}/{next}"));
    }
    id
}

/// The kinds of document the document step asks for, in its order.
fn document_kinds(b: &mut Browser, id: &str) -> Vec<String> {
    let page = b.get(&format!("/my/applications/{id}/document"));
    page.body.match_indices("name=\"kind\" value=\"").map(|(i, m)| page.body[i + m.len()..].split('"').next().unwrap().to_string()).collect()
}

/// The details and pregnancy steps filled in; the draft is at its document step.
fn draft_to_documents(b: &mut Browser, case: &Case, due: NaiveDate, residency: &str, extra: &[(&'static str, String)]) -> String {
    let token = b.get("/apply/housework").csrf();
    let location = b.post("/apply/housework", &[("csrf_token", &token)]).location.expect("first step");
    let id = location.trim_start_matches("/my/applications/").trim_end_matches("/details").to_string();
    b.submit(
        &location,
        &location,
        &[
            ("applicant_name", "한주민"),
            ("birth_date", "1993-03-03"),
            ("phone", "010-7777-8888"),
            ("email", "resident@example.kr"),
            ("district_code", case.district),
            ("street_address", "중앙로 1"),
        ],
    )
    .assert_redirect(&format!("/my/applications/{id}/pregnancy"));
    let due = due.to_string();
    let mut fields: Vec<(&str, &str)> = vec![("due_date", &due), ("residency_start", residency)];
    fields.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
    let step = format!("/my/applications/{id}/pregnancy");
    b.submit(&step, &step, &fields).assert_redirect(&format!("/my/applications/{id}/document"));
    id
}

/// Where the city asks for several documents, each has its own file input
/// (`f-document{kind}`); a refused file's error summary links to the input
/// it was sent from, and only that input is marked.
#[test]
fn a_refused_document_of_several_is_linked_from_the_error_summary_to_its_own_input() {
    let app = empty_city();
    let mut chief = supervisor(&app);
    apply_shipped(&mut chief, "haenam-2025.toml");
    let case = cases().into_iter().find(|c| c.file == "haenam-2025.toml").unwrap();
    let mut mom = signed_up_resident(&app, "서류엄마", "several-docs@example.kr");
    let id = draft_to_documents(&mut mom, &case, case.due, &case.residency_start, &case.extra);
    let kinds = document_kinds(&mut mom, &id);
    assert!(kinds.len() > 1, "haenam asks for several documents: {kinds:?}");

    let second = &kinds[1];
    let token = mom.get(&format!("/my/applications/{id}/document")).csrf();
    let page = mom.upload_with(&format!("/my/applications/{id}/document"), &token, &[("kind", second)], "document", "note.txt", b"not a document");
    page.assert_status(422);
    let summary = page.body.split("class=\"error-summary").nth(1).expect("an error summary");
    let href = summary.split("href=\"#").nth(1).and_then(|s| s.split('"').next()).expect("a link in the summary");
    assert_eq!(href, format!("f-document{second}"));
    let input = page.body.split(&format!("id=\"{href}\"")).collect::<Vec<_>>();
    assert_eq!(input.len(), 2, "exactly one element has the linked id");
    let tag_start = input[0].rfind('<').unwrap();
    assert!(input[0][tag_start..].starts_with("<input class=\"input\" type=\"file\""), "the link targets the file input");
    assert_eq!(page.body.matches("aria-invalid=\"true\"").count(), 1, "only the refused kind's input is marked");
    assert!(input[1].split('>').next().unwrap().contains("aria-invalid=\"true\""), "the linked input is the marked one");
}

#[test]
fn every_shipped_city_takes_an_eligible_and_an_ineligible_application_through_http() {
    for case in cases() {
        let app = empty_city();
        let mut chief = supervisor(&app);
        apply_shipped(&mut chief, case.file);

        // Ineligible: the check page says why, in the city's own terms.
        let mut other = signed_up_resident(&app, "해당없음", "no@example.kr");
        let bad = draft(&mut other, &case, case.bad_due, &case.bad_residency_start, &case.bad_extra);
        let check = other.get(&format!("/my/applications/{bad}/check"));
        check.assert_contains("지원 대상이 아닐 수 있습니다").assert_contains(case.bad_reason);

        // Eligible: submitted, approved, and she books her first visit with the
        // agency serving her district.
        let mut mom = signed_up_resident(&app, "해당", "yes@example.kr");
        let id = draft(&mut mom, &case, case.due, &case.residency_start, &case.extra);
        mom.get(&format!("/my/applications/{id}/check")).assert_contains("지원 대상으로 보입니다");
        common::submit_application(&mut mom, &id).assert_redirect(&format!("/my/applications/{id}/confirmation"));
        let token = chief.get(&format!("/staff/applications/{id}")).csrf();
        let approve = chief.post(&format!("/staff/applications/{id}/decision"), &[("csrf_token", &token), ("action", "approve"), ("income_checked", "yes")]);
        approve.assert_redirect(&format!("/staff/applications/{id}"));
        let status: String = applications::table.find(&id).select(applications::status).first(&mut app.conn()).unwrap();
        assert_eq!(status, "approved", "{}", case.file);

        mom.get("/my/visits/new").assert_status(200);
        let (page, slot) = first_offered_time(&mut mom);
        let slot = slot.unwrap_or_else(|| panic!("{}: an open time to book", case.file));
        let token = page.csrf();
        mom.post("/my/visits/new", &[("csrf_token", &token), ("slot_id", &slot), ("cleaning", "yes")]).assert_redirect("/my/visits");
        let (day, copay, agency): (NaiveDate, i32, Option<String>) =
            visits::table.select((visits::day, visits::copay_won, visits::agency_id)).first(&mut app.conn()).unwrap();
        let slot_agency: String = visit_slots::table.find(&slot).select(visit_slots::agency_id).first(&mut app.conn()).unwrap();
        assert_eq!(agency, Some(slot_agency), "{}", case.file);
        let weekend = day.weekday().num_days_from_monday() >= 5;
        let expected = match (case.file, weekend) {
            ("dongjak-2024.toml", false) => 7000,
            ("dongjak-2024.toml", true) => 8000,
            _ => 0,
        };
        assert_eq!(copay, expected, "{}: co-pay of a visit on {day}", case.file);
        if case.file.starts_with("haenam") || case.file.starts_with("hanbit") {
            assert!(!weekend, "{}: weekdays only, got {day}", case.file);
        }
    }
}

#[test]
fn an_income_test_needs_staff_to_check_the_income_before_approval() {
    let app = empty_city();
    let mut chief = supervisor(&app);
    apply_shipped(&mut chief, "hanbit-income-test.toml");
    let case = cases().into_iter().find(|c| c.file.starts_with("hanbit")).unwrap();
    let mut mom = signed_up_resident(&app, "소득확인", "income@example.kr");
    let id = draft(&mut mom, &case, case.due, &case.residency_start, &case.extra);
    common::submit_application(&mut mom, &id).assert_redirect(&format!("/my/applications/{id}/confirmation"));
    let page = chief.get(&format!("/staff/applications/{id}"));
    page.assert_contains("id=\"income\"").assert_contains("소득 증빙 서류를 확인했습니다");
    let token = page.csrf();
    chief.post(&format!("/staff/applications/{id}/decision"), &[("csrf_token", &token), ("action", "approve")]);
    let status: String = applications::table.find(&id).select(applications::status).first(&mut app.conn()).unwrap();
    assert_eq!(status, "submitted", "not approved without the income check");
    chief.get(&format!("/staff/applications/{id}")).assert_contains("소득 증빙을 확인했다고 표시한 뒤 승인하세요");
}

#[test]
fn each_agency_sees_and_acts_only_on_its_own_visits() {
    let app = spawn_app();
    // 남평읍 is served by the second demo agency, 빛가람동 by the first.
    let case = &cases()[0];
    let mut mom = signed_up_resident(&app, "남평주민", "namp@example.kr");
    let id = draft(&mut mom, case, case.due, &case.residency_start, &[]);
    common::submit_application(&mut mom, &id);
    let mut staff = app.browser();
    staff.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD);
    let token = staff.get(&format!("/staff/applications/{id}")).csrf();
    staff.post(&format!("/staff/applications/{id}/decision"), &[("csrf_token", &token), ("action", "approve")]);
    let page = mom.get("/my/visits/new");
    page.assert_contains("영산강돌봄");
    let (page, slot) = first_offered_time(&mut mom);
    let slot = slot.expect("an open time to book");
    mom.post("/my/visits/new", &[("csrf_token", &page.csrf()), ("slot_id", &slot), ("cleaning", "yes")]).assert_redirect("/my/visits");
    let visit: String = visits::table.select(visits::id).first(&mut app.conn()).unwrap();

    let mut first = app.browser();
    first.login(demo::CONTRACTOR_EMAIL, demo::CONTRACTOR_PASSWORD);
    first.get("/contractor/visits").assert_status(200).assert_lacks("한주민").assert_lacks(&visit);
    first.get(&format!("/contractor/visits/{visit}")).assert_status(404);
    let token = first.get("/contractor/visits").csrf();
    first.post(&format!("/contractor/visits/{visit}"), &[("csrf_token", &token), ("action", "decline"), ("reason", "남의 방문")]);
    let status: String = visits::table.find(&visit).select(visits::status).first(&mut app.conn()).unwrap();
    assert_eq!(status, "requested", "another agency cannot decline it");

    let mut second = app.browser();
    second.login(demo::CONTRACTOR2_EMAIL, demo::CONTRACTOR_PASSWORD);
    second.get("/contractor/visits").assert_contains("한주민");
    let page = second.get(&format!("/contractor/visits/{visit}"));
    page.assert_status(200).assert_contains("정도우미").assert_lacks("최도우미");
    let helper = page.body.split("name=\"helper_id\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    second.post(&format!("/contractor/visits/{visit}"), &[("csrf_token", &page.csrf()), ("action", "confirm"), ("helper_id", &helper)]);
    let status: String = visits::table.find(&visit).select(visits::status).first(&mut app.conn()).unwrap();
    assert_eq!(status, "confirmed");
    // The helper's week shows the visit; the other agency cannot open it.
    second.get(&format!("/contractor/helpers/{helper}")).assert_status(200).assert_contains("한주민");
    first.get(&format!("/contractor/helpers/{helper}")).assert_status(404);
}

#[test]
fn the_agency_keeps_its_roster() {
    let app = spawn_app();
    let mut agency = app.browser();
    agency.login(demo::CONTRACTOR_EMAIL, demo::CONTRACTOR_PASSWORD);
    let page = agency.get("/contractor/helpers");
    page.assert_status(200).assert_contains("김도우미").assert_lacks("정도우미");
    let token = page.csrf();
    agency.post("/contractor/helpers", &[("csrf_token", &token), ("name", ""), ("phone", "x")]).assert_status(422).assert_contains("id=\"f-name-error\"");
    agency.post("/contractor/helpers", &[("csrf_token", &token), ("name", "신입도우미"), ("phone", "010-4444-5555")]).assert_redirect("/contractor/helpers");
    agency.get("/contractor/helpers").assert_contains("신입도우미").assert_contains("가사관리사를 추가했습니다");
}

#[test]
fn settlement_is_per_agency_with_co_pays_and_the_citys_share_as_xlsx_too() {
    let app = spawn_app();
    let mut staff = app.browser();
    staff.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD);
    let month = today().format("%Y-%m").to_string();
    let page = staff.get(&format!("/staff/visits/settlement?month={month}"));
    page.assert_status(200).assert_contains("id=\"agency-naju-care\"").assert_contains("id=\"agency-yeongsan-care\"").assert_contains("id=\"city-share\"");
    let xlsx = staff.get(&format!("/staff/visits/settlement?month={month}&format=xlsx"));
    xlsx.assert_status(200);
    assert!(xlsx.headers.get("content-type").unwrap().contains("spreadsheetml"));
}

#[test]
fn each_document_is_uploaded_and_reviewed_on_its_own() {
    let app = empty_city();
    let mut chief = supervisor(&app);
    apply_shipped(&mut chief, "haenam-2025.toml");
    let case = cases().into_iter().find(|c| c.file.starts_with("haenam")).unwrap();
    let mut mom = signed_up_resident(&app, "서류셋", "three@example.kr");
    let id = draft(&mut mom, &case, case.due, &case.residency_start, &case.extra);
    common::submit_application(&mut mom, &id).assert_redirect(&format!("/my/applications/{id}/confirmation"));
    use naju_helper::db::schema::application_documents as docs;
    let uploaded: Vec<(String, String)> = docs::table.filter(docs::application_id.eq(&id)).select((docs::id, docs::kind)).order(docs::kind.asc()).load(&mut app.conn()).unwrap();
    let kinds: Vec<&str> = uploaded.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(kinds, vec!["id_card", "pregnancy_confirmation", "resident_abstract"], "one upload per document asked for");

    let page = chief.get(&format!("/staff/applications/{id}"));
    page.assert_contains("주민등록초본").assert_contains("확인 전");
    let token = page.csrf();
    let review = |b: &mut Browser, doc: &str, decision: &str, note: &str| {
        b.post(&format!("/staff/applications/{id}/documents/{doc}/review"), &[("csrf_token", &token), ("decision", decision), ("note", note)])
    };
    review(&mut chief, &uploaded[2].0, "reject", "").assert_redirect(&format!("/staff/applications/{id}"));
    let status = |app: &TestApp, doc: &str| -> String { docs::table.find(doc).select(docs::review_status).first(&mut app.conn()).unwrap() };
    assert_eq!(status(&app, &uploaded[2].0), "pending", "asking again needs a note");
    review(&mut chief, &uploaded[2].0, "reject", "3개월 이내 발급분이 필요합니다");
    review(&mut chief, &uploaded[0].0, "accept", "");
    assert_eq!((status(&app, &uploaded[0].0), status(&app, &uploaded[2].0)), ("accepted".to_string(), "rejected".to_string()));
    // She sees which document to send again and why.
    mom.get(&format!("/my/applications/{id}")).assert_contains("보완 필요: 3개월 이내 발급분이 필요합니다").assert_contains("확인 완료");
}

#[test]
fn where_the_city_allows_it_she_chooses_her_agency_before_booking() {
    let app = empty_city();
    let mut chief = supervisor(&app);
    // Naju's file, edited: both agencies serve every district and residents choose.
    let text = city::shipped("naju-2024.toml")
        .unwrap()
        .replace("visit_days = \"any_day\"", "visit_days = \"any_day\"\nresident_chooses_agency = true");
    let start = text.find("districts = [\"46170250\", \"46170310\"").unwrap();
    let end = start + text[start..].find('\n').unwrap();
    let text = format!("{}{}", &text[..start], &text[end..]);
    let token = chief.get("/staff/city").csrf();
    chief.post("/staff/city/import", &[("csrf_token", &token), ("text", &text)]).assert_redirect("/staff/city");

    // She lives in 빛가람동, which both agencies now serve.
    let mut case = cases().remove(0);
    case.district = "46170570";
    let mut mom = signed_up_resident(&app, "고르는사람", "choose@example.kr");
    let id = draft(&mut mom, &case, case.due, &case.residency_start, &[]);
    common::submit_application(&mut mom, &id);
    let token = chief.get(&format!("/staff/applications/{id}")).csrf();
    chief.post(&format!("/staff/applications/{id}/decision"), &[("csrf_token", &token), ("action", "approve")]);

    let page = mom.get("/my/visits/new");
    page.assert_contains("id=\"f-agency_id\"").assert_contains("나주가사돌봄센터").assert_contains("영산강돌봄");
    let second = naju_helper::agencies::id_of(&mut app.conn(), "yeongsan-care").unwrap().unwrap();
    mom.post("/my/visits/agency", &[("csrf_token", &page.csrf()), ("agency_id", &second)]).assert_redirect("/my/visits/new");
    let page = mom.get("/my/visits/new");
    page.assert_contains("제공기관을 바꿨습니다").assert_contains("<strong>영산강돌봄</strong>");
    let (page, slot) = first_offered_time(&mut mom);
    let slot = slot.expect("an open time to book");
    mom.post("/my/visits/new", &[("csrf_token", &page.csrf()), ("slot_id", &slot), ("cleaning", "yes")]).assert_redirect("/my/visits");
    let agency: Option<String> = visits::table.select(visits::agency_id).first(&mut app.conn()).unwrap();
    assert_eq!(agency, Some(second.clone()));
    // With a visit booked she can no longer switch.
    let first = naju_helper::agencies::id_of(&mut app.conn(), "naju-care").unwrap().unwrap();
    let token = mom.get("/my/visits/new").csrf();
    mom.post("/my/visits/agency", &[("csrf_token", &token), ("agency_id", &first)]).assert_redirect("/my/visits/new");
    mom.get("/my/visits/new").assert_contains("예약된 방문이 있는 동안에는 제공기관을 바꿀 수 없습니다");
    let chosen: Option<String> = applications::table.find(&id).select(applications::agency_id).first(&mut app.conn()).unwrap();
    assert_eq!(chosen, Some(second));
}

#[test]
fn staff_see_every_agencys_visits_and_can_filter_by_agency() {
    let app = spawn_app();
    let mut staff = app.browser();
    staff.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD);
    // Two residents, one in each agency's districts, each books a visit.
    for (name, email, district) in [("동주민", "dong@example.kr", "46170570"), ("면주민", "myeon@example.kr", "46170310")] {
        let mut case = cases().remove(0);
        case.district = district;
        let mut mom = signed_up_resident(&app, name, email);
        let id = draft(&mut mom, &case, case.due, &case.residency_start, &[]);
        common::submit_application(&mut mom, &id);
        let token = staff.get(&format!("/staff/applications/{id}")).csrf();
        staff.post(&format!("/staff/applications/{id}/decision"), &[("csrf_token", &token), ("action", "approve")]);
        let (page, slot) = first_offered_time(&mut mom);
        let slot = slot.expect("an open time to book");
        mom.post("/my/visits/new", &[("csrf_token", &page.csrf()), ("slot_id", &slot), ("cleaning", "yes")]).assert_redirect("/my/visits");
    }
    let all = staff.get("/staff/visits");
    all.assert_contains("<td>나주가사돌봄센터</td>").assert_contains("<td>영산강돌봄</td>");
    let second = naju_helper::agencies::id_of(&mut app.conn(), "yeongsan-care").unwrap().unwrap();
    let one = staff.get(&format!("/staff/visits?agency={second}"));
    one.assert_contains("<td>영산강돌봄</td>").assert_lacks("<td>나주가사돌봄센터</td>");
}
