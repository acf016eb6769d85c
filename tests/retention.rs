//! Retention: with the clock moved forward past each period (the command's
//! --as-of), the preview counts what is past it, a run removes exactly that
//! (applications anonymised, their documents deleted, the rest deleted),
//! nothing younger is touched, the results report does not change, and every
//! run is logged. Supervisors see the preview and the log and can run it;
//! the periods are set on the settings page and in the city file, where a
//! too-short access-log period is refused.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use common::*;
use diesel::prelude::*;
use naju_helper::db::schema::{access_log, application_documents as docs, applications, document_contents, outbox, password_resets, retention_runs as runs, sessions, signups, users};
use naju_helper::demo;
use naju_helper::results::calc::Period;

/// `retention preview --as-of D`: kind → (cut-off, count).
fn preview(app: &TestApp, as_of: NaiveDate) -> HashMap<String, (NaiveDate, i64)> {
    let (ok, out) = cli(app, &["retention", "preview", "--as-of", &as_of.to_string()]);
    assert!(ok, "{out}");
    out.lines()
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>().as_slice() {
            [kind, _, "days", "cut-off", day, count] => Some((kind.to_string(), (day.parse().unwrap(), count.parse().unwrap()))),
            _ => None,
        })
        .collect()
}

fn counts_of(p: &HashMap<String, (NaiveDate, i64)>) -> HashMap<String, i64> {
    p.iter().map(|(k, (_, n))| (k.clone(), *n)).collect()
}

/// `retention run --as-of D`: kind → count removed.
fn run(app: &TestApp, as_of: NaiveDate) -> HashMap<String, i64> {
    let (ok, out) = cli(app, &["retention", "run", "--as-of", &as_of.to_string()]);
    assert!(ok, "{out}");
    let (_, list) = out.trim().split_once(": ").expect("counts after the colon");
    list.split(", ")
        .map(|pair| {
            let (kind, n) = pair.split_once(' ').expect("kind and count");
            (kind.to_string(), n.parse().unwrap())
        })
        .collect()
}

fn expect(pairs: &[(&str, i64)]) -> HashMap<String, i64> {
    let mut all: HashMap<String, i64> =
        ["applications", "documents", "sessions", "password_resets", "signups", "outbox", "access_log"].iter().map(|k| (k.to_string(), 0)).collect();
    for (k, n) in pairs {
        all.insert(k.to_string(), *n);
    }
    all
}

/// The housework report for this year as JSON, and the two counts the
/// applications feed (received, approved).
fn report(app: &TestApp) -> (String, i64, i64) {
    let year = today().year();
    let (ok, json) = cli(app, &["report", "--program", "housework", "--from", &format!("{year}-01-01"), "--to", &format!("{year}-12-31"), "--format", "json"]);
    assert!(ok, "{json}");
    let period = Period { start: NaiveDate::from_ymd_opt(year, 1, 1).unwrap(), end: NaiveDate::from_ymd_opt(year, 12, 31).unwrap() };
    let mut conn = app.conn();
    let received = naju_helper::results::service::counted(&mut conn, "applications_received", period).unwrap();
    let approved = naju_helper::results::service::counted(&mut conn, "applications_approved", period).unwrap();
    (json, received, approved)
}

fn user_id(app: &TestApp, email: &str) -> String {
    users::table.filter(users::email.eq(email)).select(users::id).first(&mut app.conn()).unwrap()
}

fn count_docs(app: &TestApp, application: &str) -> i64 {
    docs::table.filter(docs::application_id.eq(application)).count().get_result(&mut app.conn()).unwrap()
}

fn name_and_phone(app: &TestApp, application: &str) -> (String, String, bool) {
    let (name, phone, at): (String, String, Option<chrono::NaiveDateTime>) =
        applications::table.find(application).select((applications::applicant_name, applications::phone, applications::anonymised_at)).first(&mut app.conn()).unwrap();
    (name, phone, at.is_some())
}

fn total(app: &TestApp, kind: &str) -> i64 {
    let mut conn = app.conn();
    match kind {
        "sessions" => sessions::table.count().get_result(&mut conn),
        "password_resets" => password_resets::table.count().get_result(&mut conn),
        "signups" => signups::table.count().get_result(&mut conn),
        "outbox" => outbox::table.filter(outbox::status.eq_any(["sent", "failed"])).count().get_result(&mut conn),
        "access_log" => access_log::table.count().get_result(&mut conn),
        _ => unreachable!(),
    }
    .unwrap()
}

#[test]
fn each_kind_is_removed_once_past_its_period_and_the_results_report_stays_the_same() {
    let app = spawn_app();
    let (mut alice, young) = approved_resident(&app, "김보존", "keep@example.kr");
    let mut bora = signed_up_resident(&app, "이오래", "old@example.kr");
    let old = complete_draft(&mut bora, due_date_at_week(25));
    submit_application(&mut bora, &old).assert_redirect(&format!("/my/applications/{old}/confirmation"));
    // Two sign-ups never confirmed and two password-reset requests.
    for email in ["old-signup@example.kr", "new-signup@example.kr"] {
        app.browser().submit("/signup", "/signup", &signup_form("가입만", email)).assert_status(200);
    }
    for email in ["keep@example.kr", "old@example.kr"] {
        app.browser().submit("/password/forgot", "/password/forgot", &[("email", email)]).assert_status(200);
    }
    app.wait_for("every mail sent", Duration::from_secs(20), |conn| {
        let waiting: i64 = outbox::table.filter(outbox::status.eq("pending")).count().get_result(conn).unwrap();
        (waiting == 0).then_some(())
    });

    // One record of each kind is made old; a pending message stays pending.
    let mut conn = app.conn();
    let long_ago = |days: i64| naju_helper::time::now_utc() - chrono::Duration::days(days);
    diesel::update(applications::table.find(&old))
        .set((applications::capacity_year.eq(Some(2019)), applications::updated_at.eq(NaiveDate::from_ymd_opt(2020, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap())))
        .execute(&mut conn)
        .unwrap();
    diesel::update(signups::table.filter(signups::email.eq("old-signup@example.kr"))).set(signups::created_at.eq(long_ago(20))).execute(&mut conn).unwrap();
    let bora_id = user_id(&app, "old@example.kr");
    diesel::update(password_resets::table.filter(password_resets::user_id.eq(&bora_id))).set(password_resets::created_at.eq(long_ago(40))).execute(&mut conn).unwrap();
    diesel::update(sessions::table.filter(sessions::user_id.eq(&bora_id))).set(sessions::last_seen_at.eq(long_ago(40))).execute(&mut conn).unwrap();
    let old_mail: String = outbox::table.filter(outbox::recipient.eq("old-signup@example.kr")).select(outbox::id).first(&mut conn).unwrap();
    diesel::update(outbox::table.find(&old_mail)).set(outbox::sent_at.eq(Some(long_ago(100)))).execute(&mut conn).unwrap();
    let pending: String = outbox::table.filter(outbox::recipient.eq("new-signup@example.kr")).select(outbox::id).first(&mut conn).unwrap();
    diesel::update(outbox::table.find(&pending))
        .set((outbox::status.eq("pending"), outbox::sent_at.eq(None::<chrono::NaiveDateTime>), outbox::created_at.eq(long_ago(400)), outbox::next_attempt_at.eq(long_ago(-400))))
        .execute(&mut conn)
        .unwrap();
    drop(conn);
    let before = report(&app);
    assert_eq!((before.1, before.2), (2, 1), "two applications received this year, one approved");
    let mails = total(&app, "outbox");

    // Tomorrow: only the records made old are past their periods.
    let tomorrow = today() + chrono::Duration::days(1);
    let p = preview(&app, tomorrow);
    assert_eq!(p["sessions"].0, tomorrow - chrono::Duration::days(30), "cut-off: as of minus the period");
    assert_eq!(p["access_log"].0, tomorrow - chrono::Duration::days(730));
    let first = expect(&[("applications", 1), ("documents", 1), ("sessions", 1), ("password_resets", 1), ("signups", 1), ("outbox", 1)]);
    assert_eq!(counts_of(&p), first);
    assert_eq!(run(&app, tomorrow), first, "the run removes what the preview showed");
    assert_eq!(name_and_phone(&app, &old), (String::new(), String::new(), true), "the old application is anonymised");
    assert_eq!(name_and_phone(&app, &young), ("김임신".to_string(), "010-5555-6666".to_string(), false), "the young one is untouched");
    assert_eq!((count_docs(&app, &old), count_docs(&app, &young)), (0, 1), "the old application's documents are deleted");
    let sealed: i64 = document_contents::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(sealed, 1, "and their encrypted contents");
    let left: Vec<String> = signups::table.select(signups::email).load(&mut app.conn()).unwrap();
    assert_eq!(left, vec!["new-signup@example.kr".to_string()]);
    assert_eq!(total(&app, "password_resets"), 1);
    assert_eq!(total(&app, "outbox"), mails - 1);
    bora.get("/my").assert_status(303);
    alice.get("/my").assert_status(200);
    assert_eq!(report(&app), before, "the report is the same after the run");
    let logged: Vec<(String, i32, i32)> = runs::table.filter(runs::trigger_kind.eq("cli")).select((runs::trigger_kind, runs::applications, runs::outbox)).load(&mut app.conn()).unwrap();
    assert_eq!(logged, vec![("cli".to_string(), 1, 1)], "the run is logged with its counts");

    // In a hundred days: sessions, links, sign-ups and sent mail; not the
    // application of this year nor the access log, nor mail still pending.
    let later = today() + chrono::Duration::days(100);
    let second = expect(&[
        ("sessions", total(&app, "sessions")),
        ("password_resets", 1),
        ("signups", 1),
        ("outbox", total(&app, "outbox")),
    ]);
    assert!(second["sessions"] > 0 && second["outbox"] > 0);
    assert_eq!(counts_of(&preview(&app, later)), second);
    assert_eq!(run(&app, later), second);
    for kind in ["sessions", "password_resets", "signups", "outbox"] {
        assert_eq!(total(&app, kind), 0, "{kind}");
    }
    let still: String = outbox::table.find(&pending).select(outbox::status).first(&mut app.conn()).unwrap();
    assert_eq!(still, "pending");
    assert!(!name_and_phone(&app, &young).2);

    // Past the applications' period and two years of access log: this year's
    // application is anonymised too, the log keeps only its newest entry and
    // still verifies.
    let far = today() + chrono::Duration::days(2200);
    let entries = total(&app, "access_log");
    assert!(entries > 1, "staff work was logged");
    let third = expect(&[("applications", 1), ("documents", 1), ("access_log", entries - 1)]);
    assert_eq!(counts_of(&preview(&app, far)), third);
    assert_eq!(run(&app, far), third);
    assert_eq!(name_and_phone(&app, &young), (String::new(), String::new(), true));
    assert_eq!(count_docs(&app, &young), 0);
    assert_eq!(total(&app, "access_log"), 1);
    assert_eq!(report(&app), before, "anonymised applications still count");
    let mut boss = app.browser();
    boss.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD);
    boss.get("/staff/access-log").assert_contains("notice--success\" id=\"chain\"");
    boss.get("/staff/access-log").assert_contains("notice--success\" id=\"chain\"");
    // Nothing is left to remove on that day.
    assert_eq!(counts_of(&preview(&app, far)), expect(&[("sessions", total(&app, "sessions")), ("access_log", total(&app, "access_log") - 1)]));
}

#[test]
fn a_supervisor_sees_the_preview_and_the_runs_and_runs_it_now_others_are_refused() {
    let app = spawn_app();
    let (ok, out) = cli_env(
        &app,
        &["user", "add", "--role", "staff", "--email", "clerk@example.kr", "--name", "직원", "--phone", "061-000-0000"],
        &[("NAJU_PASSWORD", "clerk-pass-2026"), ("DOCUMENT_KEY", TEST_DOCUMENT_KEY)],
    );
    assert!(ok, "{out}");
    let mut clerk = app.browser();
    clerk.login("clerk@example.kr", "clerk-pass-2026").assert_status(303);
    clerk.get("/staff/retention").assert_status(403);
    let mut mom = signed_up_resident(&app, "주민", "resident-r@example.kr");
    mom.get("/staff/retention").assert_status(403);
    let token = mom.get("/my").csrf();
    mom.post("/staff/retention/run", &[("csrf_token", &token)]).assert_status(403);
    app.browser().get("/staff/retention").assert_status(303);

    // A sign-up made old is in the preview, with its cut-off date.
    app.browser().submit("/signup", "/signup", &signup_form("가입만", "stale@example.kr")).assert_status(200);
    let eight_days = naju_helper::time::now_utc() - chrono::Duration::days(8);
    diesel::update(signups::table).set(signups::created_at.eq(eight_days)).execute(&mut app.conn()).unwrap();
    let mut boss = app.browser();
    boss.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD);
    let page = boss.get("/staff/retention");
    page.assert_status(200);
    let cutoff = naju_helper::time::format_date(today() - chrono::Duration::days(7), naju_helper::i18n::Lang::Ko);
    let row_start = page.body.find("id=\"preview-signups\"").expect("a row for sign-ups");
    let row = &page.body[row_start..row_start + page.body[row_start..].find("</tr>").unwrap()];
    assert!(row.contains(&cutoff) && row.contains("<td class=\"count\">1</td>"), "{row}");

    // Without the form's token nothing runs.
    boss.post("/staff/retention/run", &[]).assert_status(403);
    assert_eq!(total(&app, "signups"), 1);
    let res = boss.submit("/staff/retention", "/staff/retention/run", &[]);
    res.assert_redirect("/staff/retention");
    assert_eq!(total(&app, "signups"), 0);
    let page = boss.get("/staff/retention");
    page.assert_contains("보존 기간이 지난 기록을 처리했습니다").assert_contains("class=\"run-manual\"").assert_contains("<td data-kind=\"signups\">1</td>");
    let (id, actor): (String, Option<String>) = runs::table.filter(runs::trigger_kind.eq("manual")).select((runs::id, runs::actor_id)).first(&mut app.conn()).unwrap();
    assert_eq!(actor, Some(user_id(&app, demo::STAFF_EMAIL)));
    let logged: i64 = access_log::table.filter(access_log::reason.eq("retention run")).filter(access_log::record_id.eq(&id)).count().get_result(&mut app.conn()).unwrap();
    assert_eq!(logged, 1, "the manual run is in the access log");
}

#[test]
fn the_daily_run_is_taken_once_whatever_the_instances() {
    let app = spawn_app();
    let _other = spawn_instance(&app, |_| {});
    let _third = spawn_instance(&app, |_| {});
    app.wait_for("today's scheduled run", Duration::from_secs(20), |conn| {
        runs::table.filter(runs::scheduled_day.eq(today())).select(runs::id).first::<String>(conn).ok()
    });
    std::thread::sleep(Duration::from_millis(1000)); // more rounds of every scheduler
    let scheduled: i64 = runs::table.filter(runs::trigger_kind.eq("scheduled")).count().get_result(&mut app.conn()).unwrap();
    assert_eq!(scheduled, 1);
}

#[test]
fn periods_are_set_on_the_settings_page_and_in_the_city_file_and_a_short_access_log_period_is_refused() {
    let app = spawn_app();
    let mut boss = app.browser();
    boss.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD);
    let page = boss.get("/staff/city");
    page.assert_contains("id=\"retention-form\"").assert_contains("name=\"access_log_days\" value=\"730\"");
    let form = |access_log: &str| {
        vec![
            ("applications_days", "400".to_string()),
            ("sessions_days", "14".to_string()),
            ("password_resets_days", "30".to_string()),
            ("signups_days", "7".to_string()),
            ("outbox_days", "60".to_string()),
            ("access_log_days", access_log.to_string()),
        ]
    };
    let post = |b: &mut Browser, fields: Vec<(&str, String)>| {
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        b.submit("/staff/city", "/staff/city/retention", &pairs)
    };
    let refused = post(&mut boss, form("365"));
    refused.assert_status(422).assert_contains("접속기록은 최소 2년(730일) 보관해야 합니다").assert_contains("value=\"365\"");
    boss.cookies.insert("naju_lang".into(), "en".into());
    post(&mut boss, form("365")).assert_status(422).assert_contains("The access log must be kept at least 2 years (730 days)");
    let mut not_a_number = form("1000");
    not_a_number[1].1 = "many".into();
    post(&mut boss, not_a_number).assert_status(422).assert_contains("Enter a number of days from 1 to 3650").assert_contains("value=\"many\"");
    boss.cookies.insert("naju_lang".into(), "ko".into());
    let p = preview(&app, today());
    assert_eq!((p["sessions"].0, p["access_log"].0), (today() - chrono::Duration::days(30), today() - chrono::Duration::days(730)), "nothing was saved");

    post(&mut boss, form("1000")).assert_redirect("/staff/city#retention");
    let p = preview(&app, today());
    assert_eq!((p["sessions"].0, p["access_log"].0), (today() - chrono::Duration::days(14), today() - chrono::Duration::days(1000)));
    let exported = boss.get("/staff/city/export").body;
    assert!(exported.contains("[retention]") && exported.contains("applications_days = 400") && exported.contains("access_log_days = 1000"), "{exported}");

    // The city file: too short is refused by line and field, nothing changes;
    // the exported file applies as it is.
    let file = app.data_dir.join("city.toml");
    std::fs::write(&file, exported.replace("access_log_days = 1000", "access_log_days = 700")).unwrap();
    let (ok, out) = cli(&app, &["city", "import", file.to_str().unwrap()]);
    assert!(!ok && out.contains("retention.access_log_days") && out.contains("730") && out.contains("nothing was changed"), "{out}");
    std::fs::write(&file, exported.replace("sessions_days = 14", "sessions_days = 21")).unwrap();
    let (ok, out) = cli(&app, &["city", "import", file.to_str().unwrap()]);
    assert!(ok, "{out}");
    let p = preview(&app, today());
    assert_eq!((p["sessions"].0, p["access_log"].0), (today() - chrono::Duration::days(21), today() - chrono::Duration::days(1000)));
}
