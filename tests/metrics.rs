//! The operators' view: `/metrics` behind a bearer token (requests by route
//! pattern and status, bookings, outbox and pool gauges), and the JSON log
//! lines with a request id and no personal data.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Duration as Days;
use common::{approved_resident, signed_up_resident, signup_form, spawn_app, spawn_app_with, today, Browser, TestApp};
use diesel::prelude::*;
use naju_helper::db::schema::{clinic_programs, clinic_sessions, clinic_slots, outbox, users, visit_slots, visits};

const TOKEN: &str = "metrics-token-for-tests-0123456789";

fn app_with_token() -> TestApp {
    spawn_app_with(|c| c.metrics_token = Some(TOKEN.into()))
}

/// Scrapes `/metrics` with the right token: (status, content type, body).
fn scrape(app: &TestApp) -> common::Resp {
    let mut b = app.browser();
    b.headers.push(("Authorization".into(), format!("Bearer {TOKEN}")));
    let res = b.get("/metrics");
    res.assert_status(200);
    res
}

/// The samples of an exposition text: `name{labels}` → value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap_or_else(|_| panic!("a number in {k} {v}"))))
        .collect()
}

fn value(s: &HashMap<String, f64>, key: &str) -> f64 {
    s.get(key).copied().unwrap_or(0.0)
}

#[test]
fn without_a_configured_token_metrics_are_not_found() {
    let app = spawn_app();
    app.browser().get("/metrics").assert_status(404);
    let mut b = app.browser();
    b.headers.push(("Authorization".into(), "Bearer anything-at-all-0123456789".into()));
    b.get("/metrics").assert_status(404);
}

#[test]
fn metrics_need_the_configured_bearer_token() {
    let app = app_with_token();
    let res = app.browser().get("/metrics");
    res.assert_status(401);
    assert_eq!(res.headers.get("www-authenticate").map(String::as_str), Some("Bearer"));
    assert!(!res.body.contains("naju_"), "nothing of the metrics without the token");
    for wrong in [format!("Bearer {TOKEN}x"), "Bearer metrics-token".into(), format!("Basic {TOKEN}"), TOKEN.into()] {
        let mut b = app.browser();
        b.headers.push(("Authorization".into(), wrong.clone()));
        b.get("/metrics").assert_status(401);
    }
    let res = scrape(&app);
    let content_type = res.headers.get("content-type").cloned().unwrap_or_default();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "Prometheus text format, not {content_type}");
    assert!(res.body.contains("# TYPE naju_http_requests_total counter"), "{}", res.body);
    assert!(res.body.contains("# TYPE naju_http_request_duration_seconds histogram"), "{}", res.body);
    assert!(res.body.contains("# TYPE naju_bookings_total counter"), "{}", res.body);
}

fn next_session(app: &TestApp) -> String {
    clinic_sessions::table
        .filter(clinic_sessions::day.gt(today() + Days::days(1)))
        .filter(clinic_sessions::status.eq("open"))
        .order(clinic_sessions::day.asc())
        .select(clinic_sessions::id)
        .first(&mut app.conn())
        .unwrap()
}

fn slot_of(app: &TestApp, session: &str, code: &str) -> String {
    let program: String = clinic_programs::table.filter(clinic_programs::code.eq(code)).select(clinic_programs::id).first(&mut app.conn()).unwrap();
    clinic_slots::table
        .filter(clinic_slots::session_id.eq(session))
        .filter(clinic_slots::program_id.eq(program))
        .select(clinic_slots::id)
        .first(&mut app.conn())
        .unwrap()
}

#[test]
fn requests_are_counted_by_route_pattern_and_status_and_a_booking_by_kind() {
    let app = app_with_token();
    let email = "counted@example.kr";
    let mut resident = signed_up_resident(&app, "계수확인", email);
    let session = next_session(&app);
    let slot = slot_of(&app, &session, "childbirth_class");
    let session_route = r#"{method="GET",route="/clinic/sessions/{id}",status="200"}"#;
    let unmatched = r#"{method="GET",route="unmatched",status="404"}"#;
    let before = samples(&scrape(&app).body);

    for _ in 0..3 {
        resident.get(&format!("/clinic/sessions/{session}")).assert_status(200);
    }
    resident.get(&format!("/no/such/page/{email}")).assert_status(404);
    resident.get(&format!("/no/such/page/{session}")).assert_status(404);
    let token = resident.get(&format!("/clinic/sessions/{session}")).csrf();
    let due = (today() + Days::days(120)).to_string();
    resident
        .post("/clinic/bookings", &[("csrf_token", &token), ("session_id", &session), ("slot_id", &slot), ("due_date", &due)])
        .assert_redirect("/my/clinic");

    let text = scrape(&app).body;
    let after = samples(&text);
    let moved = |key: &str| value(&after, key) - value(&before, key);
    assert_eq!(moved(&format!("naju_http_requests_total{session_route}")), 4.0, "{text}");
    assert_eq!(
        moved(&format!("naju_http_request_duration_seconds_count{session_route}")),
        4.0,
        "every counted request has its latency"
    );
    assert_eq!(moved(r#"naju_http_requests_total{method="POST",route="/clinic/bookings",status="303"}"#), 1.0, "{text}");
    assert_eq!(moved(&format!("naju_http_requests_total{unmatched}")), 2.0, "{text}");
    assert_eq!(moved(r#"naju_bookings_total{kind="clinic"}"#), 1.0, "{text}");
    assert_eq!(value(&after, r#"naju_bookings_total{kind="visit"}"#), 0.0, "{text}");
    // A scrape counts itself under its route, after the fact.
    assert!(value(&after, r#"naju_http_requests_total{method="GET",route="/metrics",status="200"}"#) >= 1.0, "{text}");
    // Labels hold patterns, never a path's ids or what a visitor typed.
    assert!(!text.contains(&session) && !text.contains(email) && !text.contains("/no/such"), "{text}");
}

#[test]
fn a_booked_visit_is_counted_once_and_a_refused_one_not_at_all() {
    let app = app_with_token();
    let (mut mom, _) = approved_resident(&app, "방문계수", "visit-counted@example.kr");
    let token = mom.get("/my/visits/new").csrf();
    let slot: String = visit_slots::table
        .filter(visit_slots::day.ge(today() + Days::days(2)))
        .filter(visit_slots::booked.lt(visit_slots::capacity))
        .order((visit_slots::day.asc(), visit_slots::start_minute.asc()))
        .select(visit_slots::id)
        .first(&mut app.conn())
        .unwrap();
    let before = samples(&scrape(&app).body);

    mom.post("/my/visits/new", &[("csrf_token", &token), ("slot_id", &slot), ("cleaning", "yes")]).assert_redirect("/my/visits");
    // The same day again: one visit a day, so no second booking.
    mom.post("/my/visits/new", &[("csrf_token", &token), ("slot_id", &slot), ("cleaning", "yes")]).assert_status(409);

    let text = scrape(&app).body;
    let after = samples(&text);
    let booked: i64 = visits::table
        .inner_join(users::table)
        .filter(users::email.eq("visit-counted@example.kr"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(booked, 1, "one visit in the database");
    let key = r#"naju_bookings_total{kind="visit"}"#;
    assert_eq!(value(&after, key) - value(&before, key), 1.0, "{text}");
    assert_eq!(value(&after, r#"naju_bookings_total{kind="clinic"}"#), 0.0, "{text}");
    assert_eq!(value(&after, r#"naju_http_requests_total{method="POST",route="/my/visits/new",status="409"}"#), 1.0, "{text}");
}

fn add_message(app: &TestApp, status: &str, attempts: i32) {
    let now = chrono::Utc::now().naive_utc();
    diesel::insert_into(outbox::table)
        .values((
            outbox::id.eq(uuid::Uuid::new_v4().to_string()),
            outbox::kind.eq("password_reset"),
            outbox::recipient.eq("gauge@example.kr"),
            outbox::subject.eq("s"),
            outbox::body_text.eq("t"),
            outbox::body_html.eq("h"),
            outbox::status.eq(status),
            outbox::attempts.eq(attempts),
            // Not due for a day: the worker leaves them where they are.
            outbox::next_attempt_at.eq(now + Days::days(1)),
            outbox::created_at.eq(now),
        ))
        .execute(&mut app.conn())
        .unwrap();
}

fn count(app: &TestApp, status: &str) -> i64 {
    outbox::table.filter(outbox::status.eq(status)).count().get_result(&mut app.conn()).unwrap()
}

#[test]
fn outbox_and_pool_gauges_are_read_at_scrape_time() {
    let app = app_with_token();
    let first = samples(&scrape(&app).body);
    add_message(&app, "pending", 0);
    add_message(&app, "pending", 2);
    add_message(&app, "pending", 0);
    add_message(&app, "failed", 24);
    add_message(&app, "failed", 1);

    let text = scrape(&app).body;
    let s = samples(&text);
    let (pending, failed) = (count(&app, "pending"), count(&app, "failed"));
    assert!(pending >= 3 && failed >= 2, "the messages were added: {pending} pending, {failed} failed");
    assert_eq!(value(&s, "naju_outbox_queued"), pending as f64, "{text}");
    assert_eq!(value(&s, "naju_outbox_failed"), failed as f64, "{text}");
    assert_eq!(value(&s, "naju_outbox_queued") - value(&first, "naju_outbox_queued"), 3.0, "{text}");
    assert_eq!(value(&s, "naju_outbox_failed") - value(&first, "naju_outbox_failed"), 2.0, "{text}");
    assert!(value(&s, "naju_outbox_retrying") >= 1.0, "{text}");
    assert_eq!(value(&s, "naju_db_pool_max_connections"), 8.0, "the test config's DB_POOL_SIZE: {text}");
    let (open, idle) = (value(&s, "naju_db_pool_connections"), value(&s, "naju_db_pool_idle_connections"));
    assert!(open >= 1.0 && idle <= open && open <= 8.0, "{open} open, {idle} idle");
}

/// The real binary serving on a fresh database, its stderr collected line by line.
struct Served {
    child: Child,
    base: String,
    lines: Arc<Mutex<Vec<String>>>,
    data_dir: std::path::PathBuf,
    pg_database: Option<String>,
}

impl Served {
    fn start() -> Served {
        let (data_dir, database_url, pg_database) = common::fresh_database();
        let mut child = Command::new(env!("CARGO_BIN_EXE_naju-helper"))
            .arg("serve")
            .env("DATABASE_URL", &database_url)
            .env("DATA_DIR", &data_dir)
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("DOCUMENT_KEY", common::TEST_DOCUMENT_KEY)
            .env("LOG_LEVEL", "info")
            .env_remove("RUST_LOG")
            .env_remove("SMTP_HOST")
            .env_remove("METRICS_TOKEN")
            .env_remove("DOCUMENT_KEYS_OLD")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start naju-helper");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("naju-helper: ").and_then(|l| l.split_whitespace().next()) {
                    let _ = tx.send(url.to_string());
                }
            }
        });
        let base = rx.recv_timeout(Duration::from_secs(120)).expect("the server prints its address");
        Served { child, base, lines, data_dir, pg_database }
    }

    /// The log line of the request with this id, waiting for it to be read.
    fn line_of(&self, request_id: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = self.lines.lock().unwrap().iter().find_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                (v["request_id"] == request_id && v["message"] == "request").then_some(v)
            });
            if let Some(v) = found {
                return v;
            }
            assert!(Instant::now() < deadline, "no log line for request {request_id}: {:#?}", self.lines.lock().unwrap());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        common::drop_database(&self.data_dir, self.pg_database.as_deref());
    }
}

#[test]
fn each_request_logs_a_json_line_with_its_id_and_route_and_no_personal_data() {
    let served = Served::start();
    let (name, email) = ("로그에없음", "not-in-the-log@example.kr");
    let mut b = Browser::new(&served.base);
    let token = b.get("/signup").csrf();
    let mut form = vec![("csrf_token", token.as_str())];
    form.extend(signup_form(name, email));
    let signup = b.post("/signup", &form);
    signup.assert_status(200);
    let lost = b.get(&format!("/no/such/page/{email}?name={name}"));
    lost.assert_status(404);
    let login = b.get(&format!("/login?email={email}"));

    let id = signup.headers.get("x-request-id").expect("the response names its request id").clone();
    let line = served.line_of(&id);
    assert_eq!(line["route"], "/signup");
    assert_eq!(line["method"], "POST");
    assert_eq!(line["status"], 200);
    assert_eq!(line["level"], "INFO");
    assert!(line["ms"].as_f64().is_some(), "{line}");
    let lost_line = served.line_of(&lost.headers["x-request-id"]);
    assert_eq!(lost_line["route"], "unmatched", "never the raw path: {lost_line}");
    assert_eq!(lost_line["status"], 404);
    let login_line = served.line_of(&login.headers["x-request-id"]);
    assert_eq!(login_line["route"], "/login");
    assert_ne!(id, lost.headers["x-request-id"], "one id per request");

    let lines = served.lines.lock().unwrap().clone();
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"));
        assert!(v.is_object() && v["timestamp"].is_string() && v["level"].is_string(), "{l}");
        for personal in [email, name, "010-2222-3333", "safe-pass-2026", "not-in-the-log"] {
            assert!(!l.contains(personal), "personal data {personal:?} in the log: {l}");
        }
        assert!(!l.contains("?email") && !l.contains("?name"), "a query string in the log: {l}");
    }
}
