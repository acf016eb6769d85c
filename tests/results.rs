//! The results report must reproduce the seed documents' tables from their
//! figures, fed through the import; and count the app's own records.

mod common;

use std::io::Read;
use std::process::Command;

use common::{signed_up_resident, spawn_app, today, Browser, TestApp};
use chrono::Datelike;
use diesel::prelude::*;
use naju_helper::db::schema::{budget_executions, budgets, indicator_actuals, indicator_targets};
use naju_helper::i18n::Lang;
use naju_helper::results::service;
use naju_helper::demo;

const SEED_000: &str = include_str!("data/seed-000-saturday-clinic.csv");
const SEED_001: &str = include_str!("data/seed-001-housework.csv");
/// Seed 000's "일정별 추진실적": one half-year (2014-07-01~2014-12-31), then quarters.
const SEED_000_BY_PERIOD: &str = include_str!("data/seed-000-by-period.csv");

/// The demo comes with the seed documents' figures; some tests start from a
/// city that has entered none yet.
fn without_figures(app: &TestApp) {
    let mut conn = app.conn();
    diesel::delete(indicator_actuals::table).execute(&mut conn).unwrap();
    diesel::delete(indicator_targets::table).execute(&mut conn).unwrap();
    diesel::delete(budgets::table).execute(&mut conn).unwrap();
    diesel::delete(budget_executions::table).execute(&mut conn).unwrap();
}

fn staff(app: &TestApp) -> Browser {
    let mut b = app.browser();
    b.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD).assert_redirect("/staff");
    b
}

fn import(b: &mut Browser, csv: &str) -> common::Resp {
    let token = b.get("/staff/results/import").csrf();
    b.upload("/staff/results/import", &token, "file", "history.csv", csv.as_bytes())
}

/// The text of the summary table's cell `data-{what}="{code}"`.
fn cell(page: &common::Resp, what: &str, code: &str) -> String {
    let marker = format!("data-{what}=\"{code}\">");
    let start = page.body.find(&marker).map(|i| i + marker.len()).unwrap_or_else(|| panic!("no {what} for {code}"));
    page.body[start..start + page.body[start..].find('<').unwrap()].to_string()
}

fn rate(page: &common::Resp, code: &str) -> String {
    cell(page, "rate", code)
}

/// "2,706" → 2706; "-" (no figure) → None.
fn number(text: &str) -> Option<i64> {
    (text != "-").then(|| text.replace(',', "").parse().unwrap_or_else(|_| panic!("not a number: {text:?}")))
}

/// The quarterly table as shown: its column headings, and per indicator code
/// its cells (quarters, periods of their own, total).
fn quarterly_table(page: &common::Resp) -> (Vec<String>, Vec<(String, Vec<Option<i64>>)>) {
    let start = page.body.find("<table id=\"quarterly\">").expect("a quarterly table");
    let table = &page.body[start..start + page.body[start..].find("</table>").unwrap()];
    let texts = |html: &str, open: &str, close: &str| -> Vec<String> {
        html.split(open).skip(1).map(|part| part[part.find('>').unwrap() + 1..part.find(close).unwrap()].to_string()).collect()
    };
    let head = &table[..table.find("</thead>").unwrap()];
    let rows = table
        .split("<tr data-indicator=\"")
        .skip(1)
        .map(|row| (row[..row.find('"').unwrap()].to_string(), texts(row, "<td", "</td>").iter().map(|t| number(t)).collect()))
        .collect();
    (texts(head, "<th scope=\"col\"", "</th>"), rows)
}

/// Every indicator's quarters plus its periods of their own add up to its
/// total, and that total is the summary's actual for the period.
fn assert_quarterly_adds_up(page: &common::Resp) -> Vec<(String, Vec<Option<i64>>)> {
    let (_, rows) = quarterly_table(page);
    assert!(!rows.is_empty(), "{}", page.body);
    for (code, cells) in &rows {
        let (total, parts) = cells.split_last().unwrap();
        assert_eq!(parts.iter().map(|c| c.unwrap_or(0)).sum::<i64>(), total.unwrap(), "{code}: {cells:?}");
        assert_eq!(number(&cell(page, "actual", code)), *total, "{code}: the total is the period's actual");
    }
    rows
}

fn overall(page: &common::Resp) -> String {
    let marker = "id=\"overall\">";
    let start = page.body.find(marker).unwrap() + marker.len();
    page.body[start..start + page.body[start..].find('<').unwrap()].to_string()
}

#[test]
fn the_demo_shows_the_seed_tables_without_an_import() {
    let app = spawn_app();
    let mut s = staff(&app);
    let clinic = s.get("/staff/results?program=saturday_clinic");
    assert_eq!(rate(&clinic, "sc_checkups"), "96.6%");
    assert_eq!(rate(&clinic, "sc_breastfeeding"), "100%");
    assert_eq!(rate(&clinic, "sc_classes"), "100%");
    assert_eq!(overall(&clinic), "98.9%");
    let hw = s.get("/staff/results?program=housework");
    assert_eq!(rate(&hw, "hw_promotion"), "68.75%");
    assert_eq!(rate(&hw, "hw_applications"), "60.95%");
    assert_eq!(overall(&hw), "64.85%");
}

#[test]
fn the_seed_tables_come_out_of_the_report_exactly() {
    let app = spawn_app();
    without_figures(&app);
    let mut s = staff(&app);
    import(&mut s, SEED_000).assert_status(200).assert_contains("18줄을 가져왔습니다");
    import(&mut s, SEED_001).assert_status(200).assert_contains("21줄을 가져왔습니다");

    // Seed 000: Saturday open health center, 2014.7–2018.6, one decimal.
    let clinic = s.get("/staff/results?program=saturday_clinic");
    clinic.assert_status(200).assert_contains("2014-07-01 ~ 2018-06-30").assert_contains("2,706").assert_contains("2,800");
    assert_eq!(rate(&clinic, "sc_checkups"), "96.6%");
    assert_eq!(rate(&clinic, "sc_breastfeeding"), "100%");
    assert_eq!(rate(&clinic, "sc_classes"), "100%");
    assert_eq!(overall(&clinic), "98.9%");
    clinic.assert_contains("<svg role=\"img\"");

    // Seed 001: prenatal housework care, 2022–2026.6, two decimals.
    let hw = s.get("/staff/results?program=housework");
    assert_eq!(rate(&hw, "hw_promotion"), "68.75%");
    assert_eq!(rate(&hw, "hw_applications"), "60.95%");
    assert_eq!(rate(&hw, "hw_visits"), "-", "no target, no rate");
    assert_eq!(overall(&hw), "64.85%");
    hw.assert_contains("1,344").assert_contains("2,205");
    // The investment table: 504 million in all, 83 million executed.
    hw.assert_contains("504000000").assert_contains("83000000").assert_contains("16.47%");

    // One year: 2024's figures and the cumulative (누계) columns up to 2024.
    let y2024 = s.get("/staff/results?program=housework&from=2024-01-01&to=2024-12-31");
    assert_eq!(rate(&y2024, "hw_promotion"), "75%", "3 of 4");
    assert_eq!(rate(&y2024, "hw_applications"), "66.19%", "417 of 630");

    // CSV and XLSX downloads of the same tables.
    let csv = s.get("/staff/results/export?program=housework&format=csv&table=summary");
    csv.assert_status(200).assert_contains("지표,단위,목표,실적,목표 누계,실적 누계,이행률").assert_contains("64.85").assert_contains("60.95");
    assert!(csv.headers.get("content-type").unwrap().starts_with("text/csv"));
    s.get("/staff/results/export?program=housework&format=csv&table=budget").assert_contains("집행률").assert_contains("16.47");
    let xlsx = xlsx_bytes(&app, "/staff/results/export?program=saturday_clinic&format=xlsx");
    let sheet = sheet_xml(&xlsx);
    assert!(sheet.contains("96.6") && sheet.contains("98.9"), "{sheet}");
}

#[test]
fn figures_that_fit_no_single_quarter_get_a_column_of_their_own() {
    let app = spawn_app();
    let mut s = staff(&app);
    import(&mut s, SEED_000).assert_status(200);
    import(&mut s, SEED_000_BY_PERIOD).assert_status(200).assert_contains("39줄을 가져왔습니다");

    // The whole term: the half-year 2014-07-01~2014-12-31 and the seed's
    // cumulative 2014-07-01~2017-12-31 each stand in a column of their own.
    let term = s.get("/staff/results?program=saturday_clinic");
    let (headings, _) = quarterly_table(&term);
    let own: Vec<&str> = headings.iter().map(String::as_str).filter(|h| h.contains('~')).collect();
    assert_eq!(own, vec!["2014-07-01~2014-12-31", "2014-07-01~2017-12-31"]);
    assert_eq!(headings.first().map(String::as_str), Some("지표"));
    assert_eq!(headings.get(1).map(String::as_str), Some("2014Q3"));
    assert_eq!(headings.last().map(String::as_str), Some("총계"));
    term.assert_contains("분기에 나누지 않고");
    let rows = assert_quarterly_adds_up(&term);
    let checkups = &rows.iter().find(|(c, _)| c == "sc_checkups").unwrap().1;
    let at = |label: &str| checkups[headings.iter().position(|h| h == label).unwrap() - 1];
    assert_eq!((at("2014Q3"), at("2014Q4")), (Some(0), Some(0)), "the half-year is not spread over its quarters");
    assert_eq!(at("2014-07-01~2014-12-31"), Some(377));
    assert_eq!((at("2015Q1"), at("2015Q2"), at("2017Q4")), (Some(184), Some(110), Some(204)));
    assert_eq!(at("2014-07-01~2017-12-31"), Some(2706));
    assert_eq!(at("총계"), Some(2575 + 2706));
    assert_eq!(cell(&term, "actual", "sc_checkups"), "5,281");

    // Only the half-year: it fits in no quarter, so it has its own column
    // and the period's actual is still 377.
    let half = s.get("/staff/results?program=saturday_clinic&from=2014-07-01&to=2014-12-31");
    let (headings, _) = quarterly_table(&half);
    assert_eq!(headings, vec!["지표", "2014Q3", "2014Q4", "2014-07-01~2014-12-31", "총계"]);
    let rows = assert_quarterly_adds_up(&half);
    assert_eq!(rows[0], ("sc_checkups".to_string(), vec![Some(0), Some(0), Some(377), Some(377)]));
    // The cumulative figure runs past this period: said, not silently left out.
    half.assert_contains("id=\"outside\"").assert_contains("2014-07-01~2017-12-31, 2706");

    // One quarter of 2015: nothing of its own, nothing dropped.
    let q1 = s.get("/staff/results?program=saturday_clinic&from=2015-01-01&to=2015-03-31");
    let (headings, _) = quarterly_table(&q1);
    assert_eq!(headings, vec!["지표", "2015Q1", "총계"]);
    assert_eq!(assert_quarterly_adds_up(&q1)[2].1, vec![Some(24), Some(24)]);
    q1.assert_lacks("분기에 나누지 않고");

    // The downloads carry the same columns and the same totals.
    let csv = s.get("/staff/results/export?program=saturday_clinic&format=csv&table=quarterly");
    let lines: Vec<Vec<&str>> = csv.body.trim_start_matches('\u{feff}').lines().map(|l| l.split(',').collect()).collect();
    assert!(lines[0].contains(&"2014-07-01~2014-12-31") && lines[0].contains(&"2014-07-01~2017-12-31") && lines[0].last() == Some(&"총계"), "{:?}", lines[0]);
    for line in &lines[1..] {
        let (total, parts) = line[1..].split_last().unwrap();
        assert_eq!(parts.iter().map(|c| c.parse::<i64>().unwrap_or(0)).sum::<i64>(), total.parse::<i64>().unwrap(), "{line:?}");
    }
    assert_eq!(lines[1][0], "임산부·영유아 토요진료");
    assert_eq!(lines[1].last(), Some(&"5281"));
    let json: serde_json::Value = serde_json::from_str(&s.get("/staff/results/export?program=saturday_clinic&format=json").body).unwrap();
    assert_eq!(json["span_labels"], serde_json::json!(["2014-07-01~2014-12-31", "2014-07-01~2017-12-31"]));
    assert_eq!(json["spans"][0], serde_json::json!([377, 2706]));
    let sheet = sheet_xml(&xlsx_bytes(&app, "/staff/results/export?program=saturday_clinic&format=xlsx"));
    assert!(sheet.contains("2014-07-01~2014-12-31") && sheet.contains("2014-07-01~2017-12-31") && sheet.contains("5281"), "{sheet}");
}

/// The stored figures of an indicator as the staff's figures page lists
/// them: (period label, value), in date order; `kind` is target or actual.
fn stored(app: &TestApp, program: &str, code: &str, kind: &str) -> Vec<(String, i64)> {
    let mut conn = app.conn();
    let name = service::find_indicator(&mut conn, program, code).unwrap().expect("indicator").name_ko;
    let all = service::stored_figures(&mut conn, program, Lang::Ko).unwrap();
    all.into_iter().filter(|(n, k, _, _)| *n == name && k == kind).map(|(_, _, label, value)| (label, value)).collect()
}

/// Seed 000 as Korean Excel saves "CSV (쉼표로 분리)": CP949, CRLF.
fn seed_000_from_korean_excel() -> Vec<u8> {
    let text = SEED_000.replace('\n', "\r\n");
    let (bytes, _, unmappable) = encoding_rs::EUC_KR.encode(&text);
    assert!(!unmappable && std::str::from_utf8(&bytes).is_err(), "really not UTF-8");
    bytes.into_owned()
}

#[test]
fn a_quoted_note_may_span_lines_and_bad_lines_are_named_where_they_start() {
    let app = spawn_app();
    without_figures(&app);
    let mut s = staff(&app);
    // As a spreadsheet writes it: CRLF rows, a note cell with a line break inside quotes.
    let file = |q2_period: &str| {
        format!(
            "program,indicator,period,value,kind,note\r\n\
             saturday_clinic,sc_classes,2015Q1,24,actual,\"남편과 함께하는 출산교실\n및 임산부요가교실, \"\"산전체조\"\"\"\r\n\
             \r\n\
             saturday_clinic,sc_classes,{q2_period},\"1,068\",actual\r\n\
             saturday_clinic,sc_checkups,2015Q1,184,actual,\"등록 및 관리\"\r\n"
        )
    };
    let bad = import(&mut s, &file("2015.4~6"));
    bad.assert_status(422).assert_contains("5번째 줄").assert_contains("2015.4~6").assert_lacks("2번째 줄").assert_lacks("4번째 줄").assert_lacks("6번째 줄");
    assert!(stored(&app, "saturday_clinic", "sc_classes", "actual").is_empty(), "all or nothing");

    import(&mut s, &file("2015Q2")).assert_status(200).assert_contains("3줄을 가져왔습니다");
    assert_eq!(stored(&app, "saturday_clinic", "sc_classes", "actual"), vec![("2015Q1".to_string(), 24), ("2015Q2".to_string(), 1068)]);
    assert_eq!(stored(&app, "saturday_clinic", "sc_checkups", "actual"), vec![("2015Q1".to_string(), 184)]);
}

#[test]
fn a_file_saved_by_korean_excel_imports_as_it_is() {
    let app = spawn_app();
    let mut s = staff(&app);
    let token = s.get("/staff/results/import").csrf();
    s.upload("/staff/results/import", &token, "file", "토요열린보건소.csv", &seed_000_from_korean_excel()).assert_status(200).assert_contains("18줄을 가져왔습니다");
    // The Korean indicator name was read right: its targets are stored.
    let targets = stored(&app, "saturday_clinic", "sc_breastfeeding", "target");
    assert_eq!(targets.iter().map(|(_, v)| v).sum::<i64>(), 480, "{targets:?}");
    let clinic = s.get("/staff/results?program=saturday_clinic");
    assert_eq!((rate(&clinic, "sc_checkups"), rate(&clinic, "sc_breastfeeding"), overall(&clinic)), ("96.6%".into(), "100%".into(), "98.9%".into()));

    // A UTF-8 file with a BOM (Excel's "CSV UTF-8") reads the same.
    let token = s.get("/staff/results/import").csrf();
    let with_bom = format!("\u{feff}{SEED_001}");
    s.upload("/staff/results/import", &token, "file", "가사돌봄.csv", with_bom.as_bytes()).assert_status(200).assert_contains("21줄을 가져왔습니다");
    assert_eq!(stored(&app, "housework", "hw_promotion", "target").first(), Some(&("2022".to_string(), 2)), "the first line after the BOM is the header, not a figure");

    // The workbook instead of its CSV: refused, nothing changed.
    let xlsx = xlsx_bytes(&app, "/staff/results/export?program=saturday_clinic&format=xlsx");
    let token = s.get("/staff/results/import").csrf();
    s.upload("/staff/results/import", &token, "file", "실적.xlsx", &xlsx).assert_status(422).assert_contains("EUC-KR(CP949");
    assert_eq!(stored(&app, "saturday_clinic", "sc_breastfeeding", "target"), targets);
}

#[test]
fn counted_and_imported_figures_of_a_year_add_up_quarter_by_quarter() {
    let (_app, mut s) = one_application_received("분기합계", "quarters@example.kr");
    let year = today().year();
    let figures = format!(
        "program,indicator,period,value,kind\nhousework,hw_applications,{year}-01-01~{year}-06-30,40,actual\nhousework,hw_promotion,{year}Q1,2,actual\nhousework,hw_promotion,{year}-02-01~{year}-05-31,1,actual\n"
    );
    import(&mut s, &figures).assert_status(200);
    let page = s.get(&format!("/staff/results?program=housework&from={year}-01-01&to={year}-12-31"));
    let (headings, _) = quarterly_table(&page);
    assert_eq!(headings[1..], [format!("{year}Q1"), format!("{year}Q2"), format!("{year}Q3"), format!("{year}Q4"), format!("{year}-01-01~{year}-06-30"), format!("{year}-02-01~{year}-05-31"), "총계".into()]);
    let rows = assert_quarterly_adds_up(&page);
    let applications = &rows.iter().find(|(c, _)| c == "hw_applications").unwrap().1;
    let q = (today().month() - 1) as usize / 3;
    assert_eq!(applications[q], Some(1), "the submitted application counts in this quarter");
    assert_eq!(applications[4..], [Some(40), None, Some(41)]);
    let promotion = &rows.iter().find(|(c, _)| c == "hw_promotion").unwrap().1;
    assert_eq!(promotion[..], [Some(2), Some(0), Some(0), Some(0), None, Some(1), Some(3)]);
}

fn xlsx_bytes(app: &TestApp, path: &str) -> Vec<u8> {
    // Binary bodies need the raw response, so log in with a fresh agent here.
    let mut s = staff(app);
    let cookie = s.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let _ = s.get("/staff");
    let resp = ureq::get(&format!("{}{path}", app.base)).set("Cookie", &cookie).call().expect("xlsx download");
    assert_eq!(resp.header("content-type"), Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"));
    let mut bytes = vec![];
    resp.into_reader().read_to_end(&mut bytes).unwrap();
    bytes
}

/// The text of the workbook's sheets and shared strings.
fn sheet_xml(bytes: &[u8]) -> String {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("xlsx is a zip");
    let mut text = String::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let name = f.name().map(|n| n.to_string()).unwrap_or_default();
        if name.starts_with("xl/worksheets/") || name == "xl/sharedStrings.xml" {
            f.read_to_string(&mut text).unwrap();
        }
    }
    text
}

#[test]
fn a_bad_import_names_its_lines_and_saves_nothing() {
    let app = spawn_app();
    without_figures(&app);
    let mut s = staff(&app);
    let bad = "program,indicator,period,value,kind\nhousework,hw_promotion,2023,4,target\nhousework,no_such,2023,4,target\nhousework,hw_promotion,someday,4,target\nhousework,hw_promotion,2024,-3,actual\n";
    let res = import(&mut s, bad);
    res.assert_status(422).assert_contains("3번째 줄").assert_contains("그런 지표가 없습니다").assert_contains("4번째 줄").assert_contains("5번째 줄").assert_contains("아무것도 저장하지 않았습니다");
    let stored: i64 = indicator_targets::table.count().get_result(&mut app.conn()).unwrap();
    let actuals: i64 = indicator_actuals::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!((stored, actuals), (0, 0));
    import(&mut s, "").assert_status(422).assert_contains("선택한 파일이 비어 있습니다");
}

/// An app where a resident has submitted an application today (counted as
/// received), and staff signed in to it.
fn one_application_received(name: &str, email: &str) -> (TestApp, Browser) {
    let app = spawn_app();
    without_figures(&app);
    let mut mom = signed_up_resident(&app, name, email);
    let id = common::complete_draft(&mut mom, common::due_date_at_week(25));
    common::submit_application(&mut mom, &id).assert_redirect(&format!("/my/applications/{id}/confirmation"));
    let s = staff(&app);
    (app, s)
}

#[test]
fn the_apps_own_records_are_counted_per_quarter() {
    let (_app, mut s) = one_application_received("실적집계", "count@example.kr");
    // A target for this year, entered by hand.
    let year = today().year();
    let page = s.get("/staff/results/figures?program=housework");
    s.post(
        "/staff/results/figures",
        &[("csrf_token", &page.csrf()), ("program", "housework"), ("indicator", "hw_applications"), ("kind", "target"), ("period", &year.to_string()), ("value", "4")],
    )
    .assert_redirect("/staff/results/figures?program=housework");
    let report = s.get(&format!("/staff/results?program=housework&from={year}-01-01&to={year}-12-31"));
    assert_eq!(rate(&report, "hw_applications"), "25%", "1 application of 4");
    let q = (today().month() - 1) / 3 + 1;
    report.assert_contains(&format!("{year}Q{q}"));
    assert_eq!(cell(&report, "progress", "hw_applications"), "25%");
    // Only this month: no target of its own, but progress toward the year's target.
    let month = s.get(&format!("/staff/results?program=housework&from={}&to={}", today().with_day(1).unwrap(), today()));
    assert_eq!(rate(&month, "hw_applications"), "-");
    assert_eq!(cell(&month, "progress", "hw_applications"), "25%", "1 application since 1 January of 4 for the year");
}

#[test]
fn progress_toward_the_years_target_is_shown_for_a_period_inside_a_year() {
    let app = spawn_app();
    let mut s = staff(&app);
    import(&mut s, SEED_000).assert_status(200);
    import(&mut s, SEED_000_BY_PERIOD).assert_status(200);

    // 2015's first half has no target of its own: the rate is "-", and the
    // progress column measures January to June against 2015's whole target.
    let h1 = s.get("/staff/results?program=saturday_clinic&from=2015-01-01&to=2015-06-30");
    h1.assert_contains("진도율 (2015년 목표 대비)").assert_contains("2015년 1월 1일부터 2015-06-30까지의 실적");
    assert_eq!(rate(&h1, "sc_checkups"), "-");
    assert_eq!(cell(&h1, "progress", "sc_checkups"), "42%", "(184 + 110) / 700");
    assert_eq!(cell(&h1, "progress", "sc_breastfeeding"), "36.7%", "(19 + 25) / 120, one decimal");
    assert_eq!(cell(&h1, "progress", "sc_classes"), "46%", "(24 + 68) / 200");
    // Only the second quarter: progress still counts from 1 January.
    let q2 = s.get("/staff/results?program=saturday_clinic&from=2015-04-01&to=2015-06-30");
    assert_eq!(cell(&q2, "progress", "sc_checkups"), "42%");

    // 2014's half-year: the rate is capped, the progress is not.
    let y2014 = s.get("/staff/results?program=saturday_clinic&from=2014-07-01&to=2014-12-31");
    assert_eq!((rate(&y2014, "sc_checkups"), cell(&y2014, "progress", "sc_checkups")), ("100%".into(), "107.7%".into()), "377 of 350");
    assert_eq!((rate(&y2014, "sc_classes"), cell(&y2014, "progress", "sc_classes")), ("100%".into(), "150%".into()), "150 of 100");

    // Over several years there is no one year to measure against.
    s.get("/staff/results?program=saturday_clinic").assert_lacks("진도율").assert_lacks("data-progress");

    // The downloads carry the column too.
    let query = "program=saturday_clinic&from=2015-01-01&to=2015-06-30";
    let csv = s.get(&format!("/staff/results/export?{query}&format=csv&table=summary"));
    csv.assert_contains("지표,단위,목표,실적,목표 누계,실적 누계,이행률,진도율 (2015년 목표 대비)\r\n").assert_contains("임산부·영유아 토요진료,명,0,294,");
    assert!(csv.body.lines().nth(2).unwrap().ends_with(",-,36.7"), "{}", csv.body);
    let json: serde_json::Value = serde_json::from_str(&s.get(&format!("/staff/results/export?{query}&format=json")).body).unwrap();
    assert_eq!((json["progress_year"].clone(), json["rows"][1]["progress_text"].clone()), (serde_json::json!(2015), serde_json::json!("36.7")));
    let sheet = sheet_xml(&xlsx_bytes(&app, &format!("/staff/results/export?{query}&format=xlsx")));
    assert!(sheet.contains("진도율 (2015년 목표 대비)") && sheet.contains("36.7"), "{sheet}");
}

/// Runs the binary against the app's database: (success, stdout, stderr).
fn cli(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_naju-helper"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("DATA_DIR", &app.data_dir)
        .env("LOG_LEVEL", "warn")
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_report_command_writes_csv_json_and_xlsx() {
    let app = spawn_app();
    let file = app.data_dir.join("seed.csv");
    std::fs::write(&file, SEED_001).unwrap();
    let run = |args: &[&str]| cli(&app, args);
    let (ok, out, err) = run(&["import-results", file.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    let (ok, json, err) = run(&["report", "--program", "housework", "--format", "json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["overall_text"], "64.85");
    let (ok, csv, _) = run(&["report", "--program", "housework", "--from", "2023-01-01", "--to", "2024-12-31", "--format", "csv"]);
    assert!(ok);
    assert!(csv.contains("1344") && csv.contains("이행률"), "{csv}");
    let out_file = app.data_dir.join("report.xlsx");
    let (ok, _, err) = run(&["report", "--program", "housework", "--format", "xlsx", "--out", out_file.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(sheet_xml(&std::fs::read(&out_file).unwrap()).contains("64.85"));
    let (ok, _, err) = run(&["report", "--program", "nope"]);
    assert!(!ok && err.contains("unknown program"));
}

#[test]
fn the_report_command_prints_the_quarterly_table_with_periods_of_their_own() {
    let app = spawn_app();
    let file = app.data_dir.join("by-period.csv");
    std::fs::write(&file, SEED_000_BY_PERIOD).unwrap();
    let (ok, out, err) = cli(&app, &["import-results", file.to_str().unwrap()]);
    assert!(ok && out.contains("imported 39 lines"), "{out}{err}");
    let (ok, csv, err) = cli(&app, &["report", "--program", "saturday_clinic", "--from", "2014-07-01", "--to", "2015-06-30", "--table", "quarterly"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines[0], "지표,2014Q3,2014Q4,2015Q1,2015Q2,2014-07-01~2014-12-31,총계");
    assert_eq!(lines[1], "임산부·영유아 토요진료,0,0,184,110,377,671");
    assert_eq!(lines[3], "출산 및 요가교실,0,0,24,68,150,242");
}

#[test]
fn the_import_command_reads_utf8_with_a_bom_and_euc_kr() {
    let app = spawn_app();
    let file = app.data_dir.join("seed-000.csv");
    std::fs::write(&file, seed_000_from_korean_excel()).unwrap();
    let (ok, out, err) = cli(&app, &["import-results", file.to_str().unwrap()]);
    assert!(ok && out.contains("imported 18 lines"), "{out}{err}");
    assert_eq!(stored(&app, "saturday_clinic", "sc_classes", "target").len(), 5);

    std::fs::write(&file, format!("\u{feff}{SEED_001}")).unwrap();
    let (ok, out, err) = cli(&app, &["import-results", file.to_str().unwrap()]);
    assert!(ok && out.contains("imported 21 lines"), "{out}{err}");
    let (ok, json, _) = cli(&app, &["report", "--program", "housework", "--format", "json"]);
    assert!(ok);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&json).unwrap()["overall_text"], "64.85");

    // A bad line in an EUC-KR file is named by its line.
    let (bad, _, _) = encoding_rs::EUC_KR.encode("program,indicator,period,value,kind\r\nsaturday_clinic,출산 및 요가교실,2016,200,target\r\nsaturday_clinic,요가,2016,1,target\r\n");
    std::fs::write(&file, &bad).unwrap();
    let (ok, _, err) = cli(&app, &["import-results", file.to_str().unwrap()]);
    assert!(!ok && err.contains("line 3: No such indicator. (saturday_clinic,요가,2016,1,target)") && !err.contains("line 2"), "{err}");

    std::fs::write(&file, b"PK\x03\x04\x14\x00\x08\x08\x80\xff").unwrap();
    let (ok, _, err) = cli(&app, &["import-results", file.to_str().unwrap()]);
    assert!(!ok && err.contains("not UTF-8 or EUC-KR"), "{err}");
}
