//! The results report must reproduce the seed documents' tables from their
//! figures, fed through the import; and count the app's own records.

mod common;

use std::io::Read;
use std::process::Command;

use common::{signed_up_resident, spawn_app, today, Browser, TestApp};
use diesel::prelude::*;
use naju_helper::db::schema::{indicator_actuals, indicator_targets};
use naju_helper::demo;

const SEED_000: &str = include_str!("data/seed-000-saturday-clinic.csv");
const SEED_001: &str = include_str!("data/seed-001-housework.csv");

fn staff(app: &TestApp) -> Browser {
    let mut b = app.browser();
    b.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD).assert_redirect("/staff");
    b
}

fn import(b: &mut Browser, csv: &str) -> common::Resp {
    let token = b.get("/staff/results/import").csrf();
    b.upload("/staff/results/import", &token, "file", "history.csv", csv.as_bytes())
}

fn rate(page: &common::Resp, code: &str) -> String {
    let marker = format!("data-rate=\"{code}\">");
    let start = page.body.find(&marker).map(|i| i + marker.len()).unwrap_or_else(|| panic!("no rate for {code}"));
    page.body[start..start + page.body[start..].find('<').unwrap()].to_string()
}

fn overall(page: &common::Resp) -> String {
    let marker = "id=\"overall\">";
    let start = page.body.find(marker).unwrap() + marker.len();
    page.body[start..start + page.body[start..].find('<').unwrap()].to_string()
}

#[test]
fn the_seed_tables_come_out_of_the_report_exactly() {
    let app = spawn_app();
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
    let mut s = staff(&app);
    let bad = "program,indicator,period,value,kind\nhousework,hw_promotion,2023,4,target\nhousework,no_such,2023,4,target\nhousework,hw_promotion,someday,4,target\nhousework,hw_promotion,2024,-3,actual\n";
    let res = import(&mut s, bad);
    res.assert_status(422).assert_contains("3번째 줄").assert_contains("그런 지표가 없습니다").assert_contains("4번째 줄").assert_contains("5번째 줄").assert_contains("아무것도 저장하지 않았습니다");
    let stored: i64 = indicator_targets::table.count().get_result(&mut app.conn()).unwrap();
    let actuals: i64 = indicator_actuals::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!((stored, actuals), (0, 0));
    import(&mut s, "").assert_status(422).assert_contains("선택한 파일이 비어 있습니다");
}

#[test]
fn the_apps_own_records_are_counted_per_quarter() {
    let app = spawn_app();
    let mut mom = signed_up_resident(&app, "실적집계", "count@example.kr");
    let id = common::complete_draft(&mut mom, common::due_date_at_week(25));
    common::submit_application(&mut mom, &id);
    let mut s = staff(&app);
    // A target for this year, entered by hand.
    let year = chrono::Datelike::year(&today());
    let page = s.get("/staff/results/figures?program=housework");
    s.post(
        "/staff/results/figures",
        &[("csrf_token", &page.csrf()), ("program", "housework"), ("indicator", "hw_applications"), ("kind", "target"), ("period", &year.to_string()), ("value", "4")],
    )
    .assert_redirect("/staff/results/figures?program=housework");
    let report = s.get(&format!("/staff/results?program=housework&from={year}-01-01&to={year}-12-31"));
    assert_eq!(rate(&report, "hw_applications"), "25%", "1 application of 4");
    let q = (chrono::Datelike::month(&today()) - 1) / 3 + 1;
    report.assert_contains(&format!("{year}Q{q}"));
}

#[test]
fn the_report_command_writes_csv_json_and_xlsx() {
    let app = spawn_app();
    let file = app.data_dir.join("seed.csv");
    std::fs::write(&file, SEED_001).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_naju-helper"))
            .args(args)
            .env("DATABASE_URL", &app.database_url)
            .env("DATA_DIR", &app.data_dir)
            .env("LOG_LEVEL", "warn")
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
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
