//! Test helpers: start the real app on a random port against a fresh database
//! (SQLite file, or a new PostgreSQL database when NAJU_TEST_BACKEND=postgres),
//! a small browser-like HTTP client that keeps cookies, and an SMTP sink.
#![allow(dead_code)]

pub mod smtp;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use naju_helper::config::Config;
use naju_helper::db::{self, DbConn, DbPool};
use naju_helper::Application;

pub fn backend() -> &'static str {
    match std::env::var("NAJU_TEST_BACKEND").as_deref() {
        Ok("postgres") | Ok("pg") => "postgres",
        _ => "sqlite",
    }
}

fn pg_admin_url() -> String {
    std::env::var("NAJU_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub struct TestApp {
    pub base: String,
    pub port: u16,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub pool: DbPool,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
    pg_database: Option<String>,
}

/// The document key test apps run with.
pub const TEST_DOCUMENT_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// A configuration for tests: fast outbox polling, short retries, demo data on.
pub fn test_config(data_dir: PathBuf, database_url: String) -> Config {
    Config {
        bind_addr: "127.0.0.1:0".into(),
        database_url,
        public_url: "http://127.0.0.1".into(),
        city_name: "나주시".into(),
        secret_key: "test-secret-key-0123456789abcdef0123456789".into(),
        document_keys: naju_helper::crypto::DocumentKeys::new(naju_helper::crypto::parse_key(TEST_DOCUMENT_KEY).unwrap(), vec![]),
        smtp: None,
        mail_from: "나주시 보건소 <no-reply@naju-helper.test>".into(),
        workers: 2,
        db_pool_size: 8,
        outbox_poll: Duration::from_millis(100),
        outbox_retry_base: Duration::from_millis(300),
        outbox_retry_max: Duration::from_secs(2),
        outbox_max_attempts: 24,
        scheduler_interval: Duration::from_millis(200),
        session_idle: Duration::from_secs(1800),
        login_max_failures_account: 5,
        login_max_failures_ip: 30,
        login_lock: Duration::from_secs(900),
        // Every test signs its residents up from 127.0.0.1.
        signup_max_per_ip: 1000,
        signup_window: Duration::from_secs(3600),
        load_demo: true,
        trust_proxy: false,
        data_dir,
    }
}

pub fn spawn_app() -> TestApp {
    spawn_app_with(|_| {})
}

/// An empty database of the backend under test, with a data directory:
/// (data dir, DATABASE_URL, the PostgreSQL database's name to drop after).
pub fn fresh_database() -> (PathBuf, String, Option<String>) {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let data_dir = std::env::temp_dir().join(format!("naju-test-{id}"));
    std::fs::create_dir_all(&data_dir).expect("create test data dir");
    let (database_url, pg_database) = match backend() {
        "postgres" => {
            let name = format!("naju_test_{id}");
            let admin = pg_admin_url();
            let mut conn = PgConnection::establish(&admin)
                .unwrap_or_else(|e| panic!("PostgreSQL must be reachable at {admin} for NAJU_TEST_BACKEND=postgres: {e}"));
            conn.batch_execute(&format!("CREATE DATABASE \"{name}\"")).expect("create test database");
            let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(admin.clone());
            (format!("{base}/{name}"), Some(name))
        }
        _ => (data_dir.join("test.db").to_string_lossy().into_owned(), None),
    };
    (data_dir, database_url, pg_database)
}

/// Drops what `fresh_database` made.
pub fn drop_database(data_dir: &std::path::Path, pg_database: Option<&str>) {
    if let Some(name) = pg_database {
        if let Ok(mut conn) = PgConnection::establish(&pg_admin_url()) {
            let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
    }
    let _ = std::fs::remove_dir_all(data_dir);
}

pub fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let (data_dir, database_url, pg_database) = fresh_database();
    start(data_dir, database_url, pg_database, adjust)
}

/// Another instance of the app on `first`'s database (its own data
/// directory and port), as behind a load balancer. It leaves the database
/// to `first` to drop.
pub fn spawn_instance(first: &TestApp, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let data_dir = std::env::temp_dir().join(format!("naju-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&data_dir).expect("create test data dir");
    start(data_dir, first.database_url.clone(), None, adjust)
}

/// Starts the app on a database made by `fresh_database` (and filled by
/// the test, e.g. restored from a backup); the TestApp drops it after.
pub fn start(data_dir: PathBuf, database_url: String, pg_database: Option<String>, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config(data_dir.clone(), database_url.clone());
    adjust(&mut config);
    let (tx, rx) = mpsc::channel();
    let app_config = config.clone();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = Application::build(app_config).expect("application builds");
            tx.send((app.port(), app.handle())).expect("send port");
            app.run_until_stopped().await.expect("server runs");
        })
    });
    let (port, handle) = rx.recv_timeout(Duration::from_secs(60)).expect("app started");
    let (pool, _) = db::build_pool(&database_url, 4).expect("test pool");
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        port,
        database_url,
        data_dir,
        pool,
        handle,
        thread: Some(thread),
        pg_database,
    }
}

impl TestApp {
    pub fn conn(&self) -> db::PooledConn {
        self.pool.get().expect("test db connection")
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    /// Polls `check` until it returns Some or the deadline passes.
    pub fn wait_for<T>(&self, what: &str, timeout: Duration, mut check: impl FnMut(&mut DbConn) -> Option<T>) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = check(&mut self.conn()) {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::System::new().block_on(handle.stop(true));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        drop_database(&self.data_dir, self.pg_database.as_deref());
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Resp {
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "unexpected status; body:\n{}", self.body);
        self
    }

    pub fn assert_redirect(&self, to: &str) -> &Self {
        assert_eq!(self.status, 303, "expected a redirect; body:\n{}", self.body);
        assert_eq!(self.location.as_deref(), Some(to));
        self
    }

    pub fn assert_contains(&self, text: &str) -> &Self {
        assert!(self.body.contains(text), "expected {text:?} in page:\n{}", self.body);
        self
    }

    pub fn assert_lacks(&self, text: &str) -> &Self {
        assert!(!self.body.contains(text), "did not expect {text:?} in page:\n{}", self.body);
        self
    }

    /// The CSRF token from a page's forms.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.body.find(marker).map(|i| i + marker.len()).expect("page has a csrf token");
        let end = self.body[start..].find('"').expect("token ends");
        self.body[start..start + end].to_string()
    }
}

/// A client that keeps cookies and never follows redirects, like a careful user.
pub struct Browser {
    agent: ureq::Agent,
    base: String,
    pub cookies: HashMap<String, String>,
    pub headers: Vec<(String, String)>,
}

impl Browser {
    /// The same visitor (cookies) talking to another instance.
    pub fn at(&self, other: &TestApp) -> Browser {
        let mut b = Browser::new(&other.base);
        b.cookies = self.cookies.clone();
        b
    }

    pub fn new(base: &str) -> Browser {
        Browser {
            agent: ureq::AgentBuilder::new().redirects(0).timeout(Duration::from_secs(60)).build(),
            base: base.to_string(),
            cookies: HashMap::new(),
            headers: vec![],
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn finish(&mut self, result: Result<ureq::Response, ureq::Error>) -> Resp {
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("request failed: {e}"),
        };
        let status = response.status();
        let location = response.header("location").map(str::to_string);
        let set_cookies: Vec<String> = response.all("set-cookie").into_iter().map(str::to_string).collect();
        let headers = response
            .headers_names()
            .into_iter()
            .filter_map(|n| response.header(&n).map(|v| (n.clone(), v.to_string())))
            .collect();
        for c in &set_cookies {
            let pair = c.split(';').next().unwrap_or("");
            if let Some((k, v)) = pair.split_once('=') {
                let removal = v.is_empty() || c.contains("Max-Age=0") || c.to_lowercase().contains("expires=thu, 01 jan 1970");
                if removal {
                    self.cookies.remove(k.trim());
                } else {
                    self.cookies.insert(k.trim().to_string(), v.trim().to_string());
                }
            }
        }
        let body = response.into_string().unwrap_or_default();
        Resp { status, location, set_cookies, headers, body }
    }

    pub fn get(&mut self, path: &str) -> Resp {
        let mut req = self.agent.get(&format!("{}{path}", self.base)).set("Cookie", &self.cookie_header());
        for (k, v) in &self.headers {
            req = req.set(k, v);
        }
        let result = req.call();
        self.finish(result)
    }

    pub fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Resp {
        self.post_with_headers(path, form, &[])
    }

    pub fn post_with_headers(&mut self, path: &str, form: &[(&str, &str)], extra: &[(&str, &str)]) -> Resp {
        let mut req = self.agent.post(&format!("{}{path}", self.base)).set("Cookie", &self.cookie_header());
        for (k, v) in self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).chain(extra.iter().copied()) {
            req = req.set(k, v);
        }
        let result = req.send_form(form);
        self.finish(result)
    }

    /// Opens `page`, then submits `form` to `action` with the page's CSRF token.
    pub fn submit(&mut self, page: &str, action: &str, form: &[(&str, &str)]) -> Resp {
        let token = self.get(page).csrf();
        let mut fields: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        fields.extend_from_slice(form);
        self.post(action, &fields)
    }

    /// Posts a multipart form with one file, as a browser's file input does.
    pub fn upload(&mut self, path: &str, csrf: &str, field: &str, file_name: &str, bytes: &[u8]) -> Resp {
        self.upload_with(path, csrf, &[], field, file_name, bytes)
    }

    /// `upload` with other form fields before the file (e.g. which document it is).
    pub fn upload_with(&mut self, path: &str, csrf: &str, fields: &[(&str, &str)], field: &str, file_name: &str, bytes: &[u8]) -> Resp {
        let boundary = format!("----naju{}", uuid::Uuid::new_v4().simple());
        let mut body = Vec::new();
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{csrf}\r\n").as_bytes());
        for (name, value) in fields {
            body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
        }
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let req = self
            .agent
            .post(&format!("{}{path}", self.base))
            .set("Cookie", &self.cookie_header())
            .set("Content-Type", &format!("multipart/form-data; boundary={boundary}"));
        let result = req.send_bytes(&body);
        self.finish(result)
    }

    pub fn login(&mut self, email: &str, password: &str) -> Resp {
        self.submit("/login", "/login", &[("email", email), ("password", password)])
    }
}

/// Runs the naju-helper command against the test app's database.
pub fn cli(app: &TestApp, args: &[&str]) -> (bool, String) {
    cli_env(app, args, &[("DOCUMENT_KEY", TEST_DOCUMENT_KEY)])
}

/// `cli` with other environment variables.
pub fn cli_env(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_naju-helper"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("DATA_DIR", &app.data_dir)
        .env("LOG_LEVEL", "warn")
        .env_remove("SMTP_HOST")
        .env_remove("DOCUMENT_KEYS_OLD")
        .envs(env.iter().copied())
        .output()
        .expect("run naju-helper");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

pub fn signup_form<'a>(name: &'a str, email: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("email", email),
        ("phone", "010-2222-3333"),
        ("password", "safe-pass-2026"),
        ("password_confirm", "safe-pass-2026"),
        ("agree_terms", "yes"),
    ]
}

/// The link starting with `prefix` (a 64-character token follows) in the
/// newest `kind` email to `to`, read from the outbox as she would read it in
/// her mailbox.
pub fn emailed_link(app: &TestApp, to: &str, kind: &str, prefix: &str) -> String {
    use naju_helper::db::schema::outbox;
    let body: String = outbox::table
        .filter(outbox::recipient.eq(to.trim().to_lowercase()))
        .filter(outbox::kind.eq(kind))
        .order(outbox::created_at.desc())
        .select(outbox::body_text)
        .first(&mut app.conn())
        .unwrap_or_else(|_| panic!("a {kind} email to {to}"));
    let start = body.find(prefix).expect("link in the email");
    body[start..start + prefix.len() + 64].to_string()
}

/// The newest sign-up link emailed to `email`.
pub fn signup_link(app: &TestApp, email: &str) -> String {
    emailed_link(app, email, "signup_confirm", "/signup/confirm/")
}

/// Opens the emailed link in `b` and presses its button.
pub fn confirm_signup(app: &TestApp, b: &mut Browser, email: &str) -> Resp {
    let link = signup_link(app, email);
    b.submit(&link, &link, &[])
}

/// Signs a new resident up in a fresh browser (the form, then the link from
/// her email) and returns it signed in.
pub fn signed_up_resident(app: &TestApp, name: &str, email: &str) -> Browser {
    let mut b = app.browser();
    b.submit("/signup", "/signup", &signup_form(name, email)).assert_status(200).assert_contains("메일함을 확인해 주세요");
    confirm_signup(app, &mut b, email).assert_redirect("/my");
    b
}

/// A small valid PDF header: documents are judged by content, not name.
pub const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

pub fn today() -> chrono::NaiveDate {
    naju_helper::time::today_seoul()
}

/// Takes a signed-in resident through the form up to "check your answers"
/// and returns the application id.
pub fn complete_draft(b: &mut Browser, due_date: chrono::NaiveDate) -> String {
    complete_draft_as(b, due_date, &Applicant::default())
}

/// Who the application form is filled in for, and where she lives.
pub struct Applicant<'a> {
    pub name: &'a str,
    pub district_code: &'a str,
    pub street_address: &'a str,
}

impl Default for Applicant<'_> {
    fn default() -> Self {
        Applicant { name: "김임신", district_code: "46170570", street_address: "빛가람로 100, 101동 202호" }
    }
}

/// `complete_draft` for a given applicant.
pub fn complete_draft_as(b: &mut Browser, due_date: chrono::NaiveDate, applicant: &Applicant) -> String {
    let token = b.get("/apply/housework").csrf();
    let res = b.post("/apply/housework", &[("csrf_token", &token)]);
    let location = res.location.clone().expect("redirect to the first step");
    assert!(location.ends_with("/details"), "{location}");
    let id = location.trim_start_matches("/my/applications/").trim_end_matches("/details").to_string();
    b.submit(
        &location,
        &location,
        &[
            ("applicant_name", applicant.name),
            ("birth_date", "1994-05-06"),
            ("phone", "010-5555-6666"),
            ("email", "mom@example.kr"),
            ("district_code", applicant.district_code),
            ("street_address", applicant.street_address),
        ],
    )
    .assert_redirect(&format!("/my/applications/{id}/pregnancy"));
    let due = due_date.to_string();
    b.submit(
        &format!("/my/applications/{id}/pregnancy"),
        &format!("/my/applications/{id}/pregnancy"),
        &[("due_date", &due), ("residency_start", "2020-01-01")],
    )
    .assert_redirect(&format!("/my/applications/{id}/document"));
    let token = b.get(&format!("/my/applications/{id}/document")).csrf();
    b.upload(&format!("/my/applications/{id}/document"), &token, "document", "임신확인서.pdf", PDF)
        .assert_redirect(&format!("/my/applications/{id}/check"));
    id
}

pub fn submit_application(b: &mut Browser, id: &str) -> Resp {
    let token = b.get(&format!("/my/applications/{id}/check")).csrf();
    b.post(&format!("/my/applications/{id}/submit"), &[("csrf_token", &token), ("consent", "yes")])
}

/// A due date that puts today in gestational week `week`+0.
pub fn due_date_at_week(week: i64) -> chrono::NaiveDate {
    today() + chrono::Duration::days(280 - 7 * week)
}

/// A resident whose application staff have approved; returns her browser
/// (signed in) and the application id.
pub fn approved_resident(app: &TestApp, name: &str, email: &str) -> (Browser, String) {
    approved_resident_as(app, name, email, &Applicant::default())
}

/// `approved_resident` for a given applicant.
pub fn approved_resident_as(app: &TestApp, name: &str, email: &str, applicant: &Applicant) -> (Browser, String) {
    let mut b = signed_up_resident(app, name, email);
    let id = complete_draft_as(&mut b, due_date_at_week(25), applicant);
    submit_application(&mut b, &id).assert_redirect(&format!("/my/applications/{id}/confirmation"));
    let mut staff = app.browser();
    staff.login(naju_helper::demo::STAFF_EMAIL, naju_helper::demo::STAFF_PASSWORD);
    let token = staff.get(&format!("/staff/applications/{id}")).csrf();
    staff
        .post(&format!("/staff/applications/{id}/decision"), &[("csrf_token", &token), ("action", "approve")])
        .assert_redirect(&format!("/staff/applications/{id}"));
    (b, id)
}
