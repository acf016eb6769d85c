//! End-to-end journeys of the three roles in real headless Chromium, through
//! the real pages (clicks and typing), with accessibility checks on every page
//! visited: our own checks plus axe-core (WCAG 2.1 A and AA rules). Skipped
//! only when chromedriver or axe-core is missing outside CI; under CI
//! (CI=true) a missing one fails the run. axe-core is the npm package pinned
//! in tests/axe/package-lock.json: `npm ci --prefix tests/axe`.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{spawn_app, TestApp};
use diesel::prelude::*;
use fantoccini::{Client, ClientBuilder, Locator};
use naju_helper::db::schema::{applications, children, clinic_bookings, clinic_programs, clinic_sessions, clinic_slots, users, visit_quotas, visits};
use naju_helper::demo;

type Res<T = ()> = Result<T, String>;

fn chromedriver_path() -> Option<PathBuf> {
    let candidates = [std::env::var("CHROMEDRIVER").ok(), Some("/usr/bin/chromedriver".into())];
    candidates.into_iter().flatten().map(PathBuf::from).find(|p| p.exists())
}

struct Driver {
    child: Child,
    url: String,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// axe.min.js: from AXE_CORE_JS, or as `npm ci --prefix tests/axe` installs it.
fn axe_source() -> Option<&'static str> {
    static SOURCE: OnceLock<Option<String>> = OnceLock::new();
    SOURCE
        .get_or_init(|| {
            let path = std::env::var("AXE_CORE_JS")
                .map(PathBuf::from)
                .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/axe/node_modules/axe-core/axe.min.js"));
            std::fs::read_to_string(path).ok()
        })
        .as_deref()
}

/// Starts chromedriver on a free port, or says why the browser tests cannot run.
fn start_driver() -> Option<Driver> {
    let Some(path) = chromedriver_path() else {
        assert!(std::env::var("CI").is_err(), "CI must run the browser tests: install chromium and chromium-driver");
        eprintln!("browser tests skipped: chromedriver not found (apt-get install chromium chromium-driver)");
        return None;
    };
    if axe_source().is_none() {
        assert!(std::env::var("CI").is_err(), "CI must run the browser tests with axe-core: npm ci --prefix tests/axe");
        eprintln!("browser tests skipped: axe-core not installed (npm ci --prefix tests/axe)");
        return None;
    }
    let port = common::smtp::free_port();
    let child = Command::new(path).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while ureq::get(&format!("{url}/status")).call().is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let profile = std::env::temp_dir().join(format!("naju-chrome-{}", uuid::Uuid::new_v4().simple()));
    Some(Driver { child, url, profile })
}

async fn browser(driver: &Driver) -> Client {
    session(&driver.url, &driver.profile, 360).await
}

/// A new browser session: 360 px wide as a phone (emulated: windows cannot
/// be narrower than 500 px), or a desktop window of `width`.
async fn session(driver_url: &str, profile: &std::path::Path, width: u32) -> Client {
    // The test build links two rustls crypto providers (lettre's ring, the
    // WebDriver client's aws-lc); name one. Only plain HTTP is used here.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut args = vec![
        "--headless".to_string(), "--no-sandbox".into(), "--disable-gpu".into(), "--disable-background-networking".into(),
        "--disable-component-update".into(), "--disable-sync".into(), "--no-first-run".into(), "--disable-dev-shm-usage".into(),
        "--hide-scrollbars".into(), format!("--user-data-dir={}", profile.display()),
    ];
    let mut options = serde_json::json!({
        "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
    });
    if width <= 360 {
        args.push("--window-size=800,900".into());
        options["mobileEmulation"] = serde_json::json!({"deviceMetrics": {"width": width, "height": 740, "pixelRatio": 2.0}});
    } else {
        args.push(format!("--window-size={width},900"));
    }
    options["args"] = serde_json::json!(args);
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    ClientBuilder::rustls().expect("rustls").capabilities(caps).connect(driver_url).await.expect("connect to chromedriver")
}

thread_local! {
    /// The running journey's chromedriver, for the Chrome DevTools commands
    /// WebDriver lacks (the viewport's width).
    static DRIVER_URL: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Runs a journey; on failure saves a screenshot and the page source and
/// prints where, then fails the test.
fn journey<F>(name: &str, f: F)
where
    F: for<'a> FnOnce(&'a Client, &'a TestApp) -> std::pin::Pin<Box<dyn std::future::Future<Output = Res> + 'a>>,
{
    let Some(driver) = start_driver() else { return };
    DRIVER_URL.with(|u| *u.borrow_mut() = driver.url.clone());
    let app = spawn_app();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let c = browser(&driver).await;
        let outcome = f(&c, &app).await;
        if let Err(msg) = outcome {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-artifacts");
            let _ = std::fs::create_dir_all(&dir);
            let png = dir.join(format!("{name}.png"));
            let html = dir.join(format!("{name}.html"));
            if let Ok(bytes) = c.screenshot().await {
                let _ = std::fs::write(&png, bytes);
            }
            if let Ok(src) = c.source().await {
                let _ = std::fs::write(&html, src);
            }
            let url = c.current_url().await.map(|u| u.to_string()).unwrap_or_default();
            let _ = c.close().await;
            panic!("{name} failed at {url}: {msg}\n  screenshot: {}\n  page source: {}", png.display(), html.display());
        }
        let _ = c.close().await;
    });
}

fn e<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |err| format!("{what}: {err}")
}

/// Accessibility checks on the current page: language, one h1, every control
/// labelled, errors tied to their fields, links and buttons named, and no
/// sideways scrolling (the journeys run in a 360 px wide window).
async fn audit(c: &Client) -> Res {
    let script = r#"
        const problems = [];
        if (!document.documentElement.getAttribute('lang')) problems.push('html has no lang');
        const h1 = document.querySelectorAll('h1').length;
        if (h1 !== 1) problems.push('h1 count ' + h1);
        for (const el of document.querySelectorAll('input, select, textarea')) {
            if (el.type === 'hidden') continue;
            const label = el.id && document.querySelector('label[for="' + el.id + '"]');
            if (!label && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')) problems.push('unlabelled control ' + (el.name || el.id));
        }
        for (const el of document.querySelectorAll('[aria-invalid="true"]')) {
            const ids = (el.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
            if (!ids.some(id => { const d = document.getElementById(id); return d && d.classList.contains('error-message'); }))
                problems.push('error not announced for ' + (el.name || el.id));
        }
        for (const el of document.querySelectorAll('a, button')) {
            if (!(el.textContent.trim() || el.getAttribute('aria-label'))) problems.push('nameless ' + el.outerHTML.slice(0, 80));
        }
        if (document.documentElement.scrollWidth > window.innerWidth)
            problems.push('scrolls sideways: ' + document.documentElement.scrollWidth + 'px in a ' + window.innerWidth + 'px window');
        return problems;
    "#;
    let v = c.execute(script, vec![]).await.map_err(e("audit script"))?;
    let mut problems: Vec<String> = serde_json::from_value(v).map_err(e("audit result"))?;
    problems.extend(axe(c).await?);
    if problems.is_empty() {
        Ok(())
    } else {
        let url = c.current_url().await.map(|u| u.to_string()).unwrap_or_default();
        Err(format!("accessibility problems on {url}: {problems:?}"))
    }
}

/// Runs axe-core's WCAG 2.1 A and AA rules on the current page (injecting it
/// first when the page lacks it) and returns each violation as
/// "rule (impact) at selector: help".
async fn axe(c: &Client) -> Res<Vec<String>> {
    let source = axe_source().ok_or("axe-core is not installed")?;
    let present = c.execute("return typeof window.axe === 'object';", vec![]).await.map_err(e("axe check"))?;
    if present != serde_json::Value::Bool(true) {
        c.execute(&format!("{source}\nreturn typeof window.axe;"), vec![]).await.map_err(e("axe inject"))?;
    }
    let run = r#"
        const done = arguments[arguments.length - 1];
        window.axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
            resultTypes: ['violations'],
        }).then(r => done(r.violations.flatMap(v => v.nodes.map(n =>
            'axe ' + v.id + ' (' + (n.impact || v.impact) + ') at ' + n.target.join(' ') + ': ' + v.help))),
            err => done(['axe failed to run: ' + err]));
    "#;
    let v = c.execute_async(run, vec![]).await.map_err(e("axe run"))?;
    serde_json::from_value(v).map_err(e("axe result"))
}

async fn visit(c: &Client, app: &TestApp, path: &str) -> Res {
    c.goto(&format!("{}{path}", app.base)).await.map_err(e("goto"))?;
    audit(c).await
}

/// Types into a field. Date fields are set as a date picker would: typed
/// digits follow the browser's locale order, which is not what a test means.
async fn fill(c: &Client, css: &str, text: &str) -> Res {
    let el = find(c, css).await?;
    if matches!(el.attr("type").await.map_err(e(css))?.as_deref(), Some("date" | "time")) {
        c.execute("document.querySelector(arguments[0]).value = arguments[1];", vec![serde_json::json!(css), serde_json::json!(text)])
            .await
            .map_err(e(css))?;
        return Ok(());
    }
    el.clear().await.map_err(e(css))?;
    el.send_keys(text).await.map_err(e(css))
}

/// Finds an element, waiting (up to 10 s) for a page still loading.
async fn find(c: &Client, css: &str) -> Res<fantoccini::elements::Element> {
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.map_err(e(css))
}

/// Clicks a link or button and waits until the page it loads is in place
/// (the old document carries a marker the new one lacks), then audits it.
async fn click(c: &Client, css: &str) -> Res {
    let el = find(c, css).await?;
    c.execute("window.__najuOld = true;", vec![]).await.map_err(e("mark page"))?;
    el.click().await.map_err(e(css))?;
    new_page(c).await.map_err(|m| format!("{css}: {m}"))?;
    audit(c).await
}

/// Waits until the page marked with `window.__najuOld` is replaced by a
/// loaded new one.
async fn new_page(c: &Client) -> Res {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let loaded = c.execute("return window.__najuOld === undefined && document.readyState === 'complete';", vec![]).await;
        if matches!(loaded, Ok(serde_json::Value::Bool(true))) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("no new page loaded".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn text(c: &Client) -> Res<String> {
    let v = c.execute("return document.body ? document.body.innerText : '';", vec![]).await.map_err(e("body text"))?;
    serde_json::from_value(v).map_err(e("body text value"))
}

/// Waits (up to 5 s, for a navigation in flight) until the page shows `want`.
async fn expect_text(c: &Client, want: &str) -> Res {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if text(c).await.unwrap_or_default().contains(want) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("expected {want:?} on the page"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn path(c: &Client) -> Res<String> {
    Ok(c.current_url().await.map_err(e("url"))?.path().to_string())
}

/// Signs in by keyboard alone: typing, Tab to move, Enter to submit, and
/// the focused control must show a visible focus ring.
async fn login(c: &Client, app: &TestApp, email: &str, password: &str) -> Res {
    visit(c, app, "/login").await?;
    let email_field = find(c, "#f-email").await?;
    email_field.send_keys(email).await.map_err(e("email"))?;
    email_field.send_keys("\u{E004}").await.map_err(e("tab"))?; // Tab
    let outline: String = serde_json::from_value(
        c.execute("const a = document.activeElement; const s = getComputedStyle(a); return a.id + ' ' + s.outlineStyle + ' ' + s.outlineWidth;", vec![])
            .await
            .map_err(e("focus"))?,
    )
    .map_err(e("focus value"))?;
    if !outline.starts_with("f-password ") || outline.contains(" none") {
        return Err(format!("Tab should move a visible focus to the password: {outline}"));
    }
    let pw = find(c, "#f-password").await?;
    pw.send_keys(password).await.map_err(e("password"))?;
    pw.send_keys("\u{E007}").await.map_err(e("enter"))?; // Enter submits
    wait_until(c, |p| p != "/login").await?;
    audit(c).await
}

async fn wait_until(c: &Client, ok: impl Fn(&str) -> bool) -> Res {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let p = path(c).await?;
        if ok(&p) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("still on {p}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// After the sign-up form: the "check your email" page, then the link from
/// the email (read from the outbox) and its button, which signs her in.
async fn finish_signup(c: &Client, app: &TestApp, email: &str) -> Res {
    expect_text(c, "메일함을 확인해 주세요").await?;
    visit(c, app, &common::signup_link(app, email)).await?;
    click(c, "main form button[type=submit]").await?;
    wait_until(c, |p| p == "/my").await
}

/// Signs out with the header's button, opening the menu first where it is
/// folded behind the menu button (small widths).
async fn logout(c: &Client) -> Res {
    if find(c, ".menu summary").await?.is_displayed().await.map_err(e("menu button"))? {
        find(c, ".menu summary").await?.click().await.map_err(e("menu button"))?;
        return click(c, ".main-nav--narrow form[action='/logout'] button").await;
    }
    click(c, ".main-nav--wide form[action='/logout'] button").await
}

/// Screenshots of a role's main pages at 360 px (this phone-sized session)
/// and 1280 px (a desk-sized session of its own, signed in as `login`), each
/// page audited at both widths, written on every run as
/// test-artifacts/screenshots/ROLE-PAGE-WIDTH.png. At 1280 px the menu is a
/// row of links and the menu button is gone.
async fn screenshots(c: &Client, app: &TestApp, login_as: (&str, &str), role: &str, pages: &[(&str, &str)]) -> Res {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-artifacts/screenshots");
    std::fs::create_dir_all(&dir).map_err(e("screenshot dir"))?;
    for (name, page) in pages {
        visit(c, app, page).await?;
        let png = c.screenshot().await.map_err(e("screenshot"))?;
        std::fs::write(dir.join(format!("{role}-{name}-360.png")), png).map_err(e("write screenshot"))?;
    }
    let driver = DRIVER_URL.with(|u| u.borrow().clone());
    let profile = std::env::temp_dir().join(format!("naju-chrome-{}", uuid::Uuid::new_v4().simple()));
    let wide = session(&driver, &profile, 1280).await;
    let outcome = async {
        let width: i64 = eval(&wide, "return window.innerWidth;").await?;
        if width != 1280 {
            return Err(format!("the desk window is {width}px wide, not 1280px"));
        }
        login(&wide, app, login_as.0, login_as.1).await?;
        for (name, page) in pages {
            visit(&wide, app, page).await?;
            if find(&wide, ".menu").await?.is_displayed().await.map_err(e("menu"))?
                || !find(&wide, ".main-nav--wide a").await?.is_displayed().await.map_err(e("nav"))?
            {
                return Err(format!("at 1280px the whole menu should show without a menu button on {page}"));
            }
            let png = wide.screenshot().await.map_err(e("screenshot"))?;
            std::fs::write(dir.join(format!("{role}-{name}-1280.png")), png).map_err(e("write screenshot"))?;
        }
        Ok(())
    }
    .await;
    let _ = wide.close().await;
    let _ = std::fs::remove_dir_all(&profile);
    outcome.map_err(|m| format!("at 1280px: {m}"))
}

/// Visits more pages of the role (each audited at the journey's 360 px width),
/// after checking the window really is that narrow.
async fn fits_360(c: &Client, app: &TestApp, paths: &[&str]) -> Res {
    let width: i64 = serde_json::from_value(c.execute("return window.innerWidth;", vec![]).await.map_err(e("width"))?).map_err(e("width value"))?;
    if width > 360 {
        return Err(format!("the journey window is {width}px wide, not 360px"));
    }
    for p in paths {
        visit(c, app, p).await?;
    }
    Ok(())
}

fn approved_status(app: &TestApp) -> Vec<String> {
    applications::table.select(applications::status).load(&mut app.conn()).unwrap_or_default()
}

#[test]
fn housework_journey_of_resident_staff_and_agency() {
    journey("housework_journey", |c, app| {
        Box::pin(async move {
            // The resident signs up.
            visit(c, app, "/").await?;
            click(c, "main a[href='/signup']").await?;
            click(c, "form[action='/signup'] button[type=submit]").await?;
            expect_text(c, "입력 내용을 확인해 주세요").await?; // errors summarised, fields marked
            fill(c, "#f-name", "브라우저맘").await?;
            fill(c, "#f-email", "browser-mom@example.kr").await?;
            fill(c, "#f-phone", "010-3333-4444").await?;
            fill(c, "#f-password", "browser-pass-1").await?;
            fill(c, "#f-password_confirm", "browser-pass-1").await?;
            find(c, "#f-agree_terms").await?.click().await.map_err(e("consent"))?;
            click(c, "form[action='/signup'] button[type=submit]").await?;
            finish_signup(c, app, "browser-mom@example.kr").await?;
            expect_text(c, "브라우저맘님, 안녕하세요.").await?;

            // She applies, with her document.
            click(c, "a[href='/apply/housework']").await?;
            click(c, "form[action='/apply/housework'] button").await?;
            fill(c, "#f-birth_date", "1993-04-05").await?;
            find(c, "#f-district_code").await?.select_by_value("46170570").await.map_err(e("district"))?;
            fill(c, "#f-street_address", "빛가람로 1").await?;
            click(c, "main form button[type=submit]").await?;
            let due = (common::today() + chrono::Duration::days(100)).format("%Y-%m-%d").to_string();
            fill(c, "#f-due_date", &due).await?;
            fill(c, "#f-residency_start", "2021-03-01").await?;
            click(c, "main form button[type=submit]").await?;
            let pdf = app.data_dir.join("임신확인서.pdf");
            std::fs::write(&pdf, common::PDF).map_err(e("pdf"))?;
            find(c, "#f-document").await?.send_keys(&pdf.display().to_string()).await.map_err(e("file"))?;
            click(c, "form[enctype='multipart/form-data'] button").await?;
            expect_text(c, "입력 내용 확인").await?;
            expect_text(c, "지원 대상으로 보입니다").await?;
            find(c, "#f-consent").await?.click().await.map_err(e("consent"))?;
            click(c, "form[action$='/submit'] button").await?;
            expect_text(c, "신청이 접수되었습니다").await?;
            click(c, "a.button[href^='/my/applications/']").await?;
            expect_text(c, "접수 (검토 중)").await?;
            logout(c).await?;

            // Staff approve it.
            login(c, app, demo::STAFF_EMAIL, demo::STAFF_PASSWORD).await?;
            visit(c, app, "/staff/applications").await?;
            click(c, "table a[href^='/staff/applications/']").await?;
            click(c, "form[action$='/decision'] input[value=approve] ~ button").await?;
            expect_text(c, "승인했습니다").await?;
            if approved_status(app) != vec!["approved"] {
                return Err(format!("application not approved: {:?}", approved_status(app)));
            }
            let staff_pages = [("queue", "/staff/applications"), ("visits", "/staff/visits"), ("results", "/staff/results"), ("city", "/staff/city")];
            screenshots(c, app, (demo::STAFF_EMAIL, demo::STAFF_PASSWORD), "staff", &staff_pages).await?;
            logout(c).await?;

            // She books all four visits; the fifth is refused.
            login(c, app, "browser-mom@example.kr", "browser-pass-1").await?;
            for n in 0..4 {
                visit(c, app, "/my/visits/new").await?;
                // The first day still open in the calendar (days with a visit
                // are not offered), its first time, then her answers.
                click(c, "a.cal-free").await?;
                find(c, "input[name=slot_id]").await?.click().await.map_err(e("slot"))?;
                click(c, "main form button[type=submit]").await?;
                click(c, "#confirm").await?;
                expect_text(c, "방문을 요청했습니다").await.map_err(|m| format!("visit {}: {m}", n + 1))?;
            }
            expect_text(c, "남은 방문 횟수가 없습니다").await?;
            // A fifth: the booking page says none is left, with no calendar, and leads back.
            visit(c, app, "/my/visits/new").await?;
            expect_text(c, "새 방문을 예약할 수 없습니다").await?;
            expect_text(c, "방문 횟수를 모두 사용했습니다").await?;
            if !c.find_all(Locator::Css("#calendar, a.cal-free")).await.map_err(e("calendar"))?.is_empty() {
                return Err("the calendar is offered with no visit left".into());
            }
            click(c, "#back-to-visits").await?;
            expect_text(c, "남은 방문 횟수가 없습니다").await?;
            let used: i32 = visit_quotas::table.select(visit_quotas::used).first(&mut app.conn()).map_err(e("quota"))?;
            if used != 4 {
                return Err(format!("quota used {used}"));
            }
            // Error pages are audited too: a staff page refused to her, and a missing page.
            visit(c, app, "/staff/applications").await?;
            expect_text(c, "403").await?;
            visit(c, app, "/no/such/page").await?;
            expect_text(c, "404").await?;
            fits_360(c, app, &["/", "/my", "/my/visits", "/my/applications", "/clinic", "/my/schedule"]).await?;
            let application: String = applications::table.select(applications::id).first(&mut app.conn()).map_err(e("application"))?;
            let status = format!("/my/applications/{application}");
            let resident_pages =
                [("home", "/my"), ("application", status.as_str()), ("visits", "/my/visits"), ("booking-none-left", "/my/visits/new"), ("clinic", "/clinic"), ("schedule", "/my/schedule")];
            screenshots(c, app, ("browser-mom@example.kr", "browser-pass-1"), "resident", &resident_pages).await?;
            logout(c).await?;

            // The agency confirms one visit, then completes it.
            login(c, app, demo::CONTRACTOR_EMAIL, demo::CONTRACTOR_PASSWORD).await?;
            visit(c, app, "/contractor/visits?status=requested").await?;
            click(c, "table a[href^='/contractor/visits/']").await?;
            let helper: String = naju_helper::db::schema::helpers::table
                .filter(naju_helper::db::schema::helpers::name.eq("김도우미"))
                .select(naju_helper::db::schema::helpers::id)
                .first(&mut app.conn())
                .map_err(e("helper"))?;
            find(c, &format!("#f-helper_id-{helper}")).await?.click().await.map_err(e("helper"))?;
            click(c, "input[value=confirm] ~ button").await?;
            expect_text(c, "방문을 확정했습니다").await?;
            fill(c, "#f-actual_start", "09:00").await?;
            fill(c, "#f-actual_end", "13:00").await?;
            click(c, "input[value=complete] ~ button").await?;
            expect_text(c, "방문 완료로 기록했습니다").await?;
            let done: i64 = visits::table.filter(visits::status.eq("completed")).count().get_result(&mut app.conn()).map_err(e("visits"))?;
            if done != 1 {
                return Err(format!("{done} completed visits"));
            }
            fits_360(c, app, &["/contractor/visits", "/contractor/capacity", "/contractor/helpers"]).await?;
            screenshots(c, app, (demo::CONTRACTOR_EMAIL, demo::CONTRACTOR_PASSWORD), "agency", &[("visits", "/contractor/visits"), ("roster", "/contractor/helpers")]).await?;
            Ok(())
        })
    });
}

/// Books the prenatal yoga class on the first open Saturday through the
/// booking steps; `full`: the class is full, so its time is the waiting list.
async fn book_yoga(c: &Client, app: &TestApp, due: &str, full: bool) -> Res {
    visit(c, app, "/clinic").await?;
    find(c, "input[name=session]").await?.click().await.map_err(e("saturday"))?;
    click(c, "main form button[type=submit]").await?;
    let yoga: String = clinic_programs::table.filter(clinic_programs::code.eq("prenatal_yoga")).select(clinic_programs::id).first(&mut app.conn()).map_err(e("yoga"))?;
    find(c, &format!("input[name=program][value='{yoga}']")).await?.click().await.map_err(e("program"))?;
    click(c, "main form button[type=submit]").await?;
    expect_text(c, if full { "마감 — 대기 신청 가능" } else { "남은 자리 1" }).await?;
    click(c, "main form button[type=submit]").await?; // a class has one time, chosen already
    fill(c, "#f-due_date", due).await?;
    click(c, "main form button[type=submit]").await?;
    expect_text(c, "예약 내용 확인").await?;
    expect_text(c, if full { "대기자로 신청하기" } else { "예약하기" }).await?;
    click(c, "form[action='/clinic/bookings'] button").await
}

#[test]
fn clinic_journey_with_waiting_list_promotion() {
    journey("clinic_journey", |c, app| {
        Box::pin(async move {
            // Staff make the yoga class a single seat.
            login(c, app, demo::STAFF_EMAIL, demo::STAFF_PASSWORD).await?;
            visit(c, app, "/staff/clinic/programs").await?;
            let yoga_form = "section:nth-of-type(5) form";
            fill(c, &format!("{yoga_form} input[name=capacity]"), "1").await?;
            click(c, &format!("{yoga_form} button")).await?;
            expect_text(c, "프로그램을 저장했습니다").await?;
            logout(c).await?;

            let due = (common::today() + chrono::Duration::days(120)).format("%Y-%m-%d").to_string();
            // The first resident (the demo one) books the last seat.
            login(c, app, demo::RESIDENT_EMAIL, demo::RESIDENT_PASSWORD).await?;
            book_yoga(c, app, &due, false).await?;
            expect_text(c, "예약되었습니다").await?;
            logout(c).await?;

            // A second resident signs up and joins the waiting list.
            visit(c, app, "/signup").await?;
            fill(c, "#f-name", "대기엄마").await?;
            fill(c, "#f-email", "waiting-mom@example.kr").await?;
            fill(c, "#f-phone", "010-5555-0000").await?;
            fill(c, "#f-password", "waiting-pass-1").await?;
            fill(c, "#f-password_confirm", "waiting-pass-1").await?;
            find(c, "#f-agree_terms").await?.click().await.map_err(e("consent"))?;
            click(c, "form[action='/signup'] button[type=submit]").await?;
            finish_signup(c, app, "waiting-mom@example.kr").await?;
            book_yoga(c, app, &due, true).await?;
            expect_text(c, "대기자로 등록했습니다").await?;
            logout(c).await?;

            // The first cancels; the waiting resident is booked automatically.
            login(c, app, demo::RESIDENT_EMAIL, demo::RESIDENT_PASSWORD).await?;
            visit(c, app, "/my/clinic").await?;
            click(c, "form[action$='/cancel'] button").await?;
            expect_text(c, "예약을 취소했습니다").await?;
            logout(c).await?;
            login(c, app, "waiting-mom@example.kr", "waiting-pass-1").await?;
            visit(c, app, "/my/clinic").await?;
            expect_text(c, "예약됨").await?;
            let booked: i64 = clinic_bookings::table.filter(clinic_bookings::status.eq("booked")).count().get_result(&mut app.conn()).map_err(e("bookings"))?;
            if booked != 1 {
                return Err(format!("{booked} booked"));
            }
            fits_360(c, app, &["/my/clinic", "/my/children"]).await
        })
    });
}

#[test]
fn staff_open_the_results_report_and_download_the_xlsx() {
    journey("results_journey", |c, app| {
        Box::pin(async move {
            login(c, app, demo::STAFF_EMAIL, demo::STAFF_PASSWORD).await?;
            visit(c, app, "/staff").await?;
            click(c, "main a[href='/staff/results']").await?;
            expect_text(c, "추진 실적 총괄").await?;
            click(c, "nav.tabs a[href='/staff/results?program=saturday_clinic']").await?;
            expect_text(c, "임산부·영유아 토요진료").await?;
            let href: String = serde_json::from_value(
                c.execute("return document.querySelector('a[href*=\"format=xlsx\"]').getAttribute('href');", vec![]).await.map_err(e("xlsx link"))?,
            )
            .map_err(e("xlsx href"))?;
            // Download it as the browser would, with the signed-in session.
            let got = c
                .execute_async(
                    "const done = arguments[arguments.length - 1];
                     fetch(arguments[0]).then(r => r.arrayBuffer().then(b => done([r.status, r.headers.get('content-type'), b.byteLength, new Uint8Array(b.slice(0, 2))[0], new Uint8Array(b.slice(0, 2))[1]])));",
                    vec![serde_json::json!(href)],
                )
                .await
                .map_err(e("download"))?;
            let (status, kind, size, b0, b1): (u16, String, u64, u8, u8) = serde_json::from_value(got).map_err(e("download result"))?;
            if status != 200 || !kind.contains("spreadsheetml") || size < 1000 || (b0, b1) != (b'P', b'K') {
                return Err(format!("xlsx download: {status} {kind} {size} bytes"));
            }
            fits_360(c, app, &["/staff", "/staff/results", "/staff/applications", "/staff/clinic", "/staff/visits", "/staff/visits/settlement", "/staff/city", "/staff/retention", "/staff/rules/new"]).await?;
            // The rest of the staff's pages, for axe.
            let more = ["/staff/rules", "/staff/users", "/staff/users/new", "/staff/access-log", "/staff/messages/failed", "/staff/visits/usage", "/staff/visits/settings"];
            fits_360(c, app, &more).await?;
            fits_360(c, app, &["/staff/results/figures", "/staff/results/settings", "/staff/clinic/programs", "/my/no-such-page"]).await
        })
    });
}

/// Runs a script on the page and reads what it returns.
async fn eval<T: serde::de::DeserializeOwned>(c: &Client, script: &str) -> Res<T> {
    let v = c.execute(script, vec![]).await.map_err(e(script))?;
    serde_json::from_value(v).map_err(e(script))
}

/// Presses a key on whatever has the focus (WebDriver key codes: Tab \u{E004}, Enter \u{E007}).
async fn press(c: &Client, key: &str) -> Res {
    c.active_element().await.map_err(e("active element"))?.send_keys(key).await.map_err(e("key"))
}

/// How many of the header's menu links are shown.
async fn menu_links_shown(c: &Client) -> Res<usize> {
    eval(c, "return [...document.querySelectorAll('.main-nav a')].filter(a => a.checkVisibility()).length;").await
}

#[test]
fn the_menu_opens_from_its_button_by_keyboard_on_a_phone() {
    journey("menu_by_keyboard", |c, app| {
        Box::pin(async move {
            login(c, app, demo::STAFF_EMAIL, demo::STAFF_PASSWORD).await?;
            visit(c, app, "/staff").await?;
            if menu_links_shown(c).await? != 0 {
                return Err("at 360px the menu's links should be folded behind the menu button".into());
            }
            // From the top of the page: skip link, brand, language, then the menu button.
            tab_to(c, ".menu summary", 5).await?;
            if eval::<bool>(c, "return document.querySelector('.menu').open;").await? {
                return Err("the menu starts closed".into());
            }
            press(c, "\u{E007}").await?; // Enter opens it
            if menu_links_shown(c).await? < 9 {
                return Err(format!("Enter on the menu button showed {} links", menu_links_shown(c).await?));
            }
            audit(c).await?;
            // Its links come next in Tab order; Enter follows one.
            tab_to(c, "a[href='/staff/results']", 12).await?;
            c.execute("window.__najuOld = true;", vec![]).await.map_err(e("mark page"))?;
            press(c, "\u{E007}").await?;
            new_page(c).await?;
            if path(c).await? != "/staff/results" {
                return Err(format!("Enter on the results link led to {}", path(c).await?));
            }
            // On the new page it is folded again, and Space opens it too.
            if menu_links_shown(c).await? != 0 {
                return Err("the menu should be folded on the next page".into());
            }
            c.execute("document.querySelector('.menu summary').focus();", vec![]).await.map_err(e("focus menu"))?;
            press(c, " ").await?;
            if menu_links_shown(c).await? < 9 {
                return Err("Space on the menu button should open the menu".into());
            }
            tab_to(c, "a[href='/staff/city']", 12).await
        })
    });
}

#[test]
fn the_accessibility_audit_catches_what_it_looks_for() {
    journey("audit_self_check", |c, _app| {
        Box::pin(async move {
            let page = "data:text/html,<html><body><h1>a</h1><h1>b</h1><input name=x><input name=y aria-invalid=true><a href=/></a><div style='width:2000px'>wide</div></body></html>";
            c.goto(page).await.map_err(e("goto"))?;
            let found = match audit(c).await {
                Ok(()) => return Err("the audit passed a page with every problem".into()),
                Err(msg) => msg,
            };
            for problem in ["html has no lang", "h1 count 2", "unlabelled control x", "error not announced for y", "nameless", "scrolls sideways"] {
                if !found.contains(problem) {
                    return Err(format!("audit missed {problem:?}: {found}"));
                }
            }
            Ok(())
        })
    });
}

#[test]
fn axe_catches_what_our_own_checks_do_not() {
    journey("axe_self_check", |c, _app| {
        Box::pin(async move {
            // Passes the hand-written checks (lang, one h1, labelled field,
            // named links) but has faint text, an image without a text
            // alternative and a field whose label is not its name.
            let page = "data:text/html;charset=utf-8,<html lang=en><head><title>t</title></head><body><main><h1>Title</h1>\
                <p id=faint style='color:%23bbb;background:%23fff'>faint text</p><img src='data:image/gif;base64,R0lGODlhAQABAAAAACw=' id=pic>\
                <label for=q>Search</label><input id=q autocomplete=nonsense></main></body></html>";
            c.goto(page).await.map_err(e("goto"))?;
            let found = match audit(c).await {
                Ok(()) => return Err("axe passed a page with faint text and an image without alt".into()),
                Err(msg) => msg,
            };
            for want in ["axe color-contrast (serious) at #faint", "axe image-alt (critical) at #pic", "axe autocomplete-valid (serious) at #q", "on data:text/html"] {
                if !found.contains(want) {
                    return Err(format!("axe missed {want:?}: {found}"));
                }
            }
            for ours in ["html has no lang", "h1 count", "unlabelled", "nameless"] {
                if found.contains(ours) {
                    return Err(format!("the page was meant to pass our own checks ({ours}): {found}"));
                }
            }
            Ok(())
        })
    });
}

// ---- clinicsteps ----

const TAB: &str = "\u{E004}";
const SHIFT_TAB: &str = "\u{E008}\u{E004}\u{E000}";
const ENTER: &str = "\u{E007}";
const ARROW_DOWN: &str = "\u{E015}";
const ARROW_UP: &str = "\u{E013}";
/// A step's button (다음, or 예약하기 on the check page): its form's only one.
const NEXT_STEP: &str = "main form button[type=submit]";

/// Presses a key that submits a form or follows a link, waits for the page it
/// loads and audits it.
async fn press_to_page(c: &Client, key: &str) -> Res {
    c.execute("window.__najuOld = true;", vec![]).await.map_err(e("mark page"))?;
    press(c, key).await?;
    new_page(c).await?;
    audit(c).await
}

/// The focused form control as "tag name value" (and " checked" for a checked radio).
async fn focused_control(c: &Client) -> Res<String> {
    eval(c, "const a = document.activeElement; return [a.tagName.toLowerCase(), a.name || '', a.value || ''].join(' ') + (a.checked ? ' checked' : '');").await
}

async fn expect_focus(c: &Client, want: &str) -> Res {
    let now = focused_control(c).await?;
    if now == want {
        Ok(())
    } else {
        Err(format!("expected the focus on {want:?}, it is on {now:?}"))
    }
}

/// A screenshot of the current step at the journey's 360 px, named as
/// `screenshots` names its pages (resident-clinic-STEP-360.png).
async fn step_shot(c: &Client, name: &str) -> Res {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-artifacts/screenshots");
    std::fs::create_dir_all(&dir).map_err(e("screenshot dir"))?;
    let png = c.screenshot().await.map_err(e("screenshot"))?;
    std::fs::write(dir.join(format!("resident-clinic-{name}-360.png")), png).map_err(e("write screenshot"))
}

#[test]
fn a_resident_books_a_clinic_seat_step_by_step_by_keyboard_alone() {
    journey("clinic_by_keyboard", |c, app| {
        Box::pin(async move {
            let (mom, child, sessions, infant, times) = {
                let conn = &mut app.conn();
                let mom: String = users::table.filter(users::email.eq(demo::RESIDENT_EMAIL)).select(users::id).first(conn).map_err(e("resident"))?;
                let child = uuid::Uuid::new_v4().to_string();
                // Her baby is registered already (the children page is not this journey's subject).
                diesel::insert_into(children::table)
                    .values((
                        children::id.eq(&child),
                        children::user_id.eq(&mom),
                        children::name.eq("새봄"),
                        children::birth_date.eq(common::today() - chrono::Duration::days(200)),
                        children::created_at.eq(naju_helper::time::now_utc()),
                    ))
                    .execute(conn)
                    .map_err(e("child"))?;
                let sessions: Vec<String> = clinic_sessions::table
                    .filter(clinic_sessions::day.ge(common::today()))
                    .filter(clinic_sessions::status.eq("open"))
                    .order(clinic_sessions::day.asc())
                    .select(clinic_sessions::id)
                    .load(conn)
                    .map_err(e("sessions"))?;
                let infant: String = clinic_programs::table.filter(clinic_programs::code.eq("infant_checkup")).select(clinic_programs::id).first(conn).map_err(e("program"))?;
                let times: Vec<String> = clinic_slots::table
                    .filter(clinic_slots::session_id.eq(&sessions[0]))
                    .filter(clinic_slots::program_id.eq(&infant))
                    .order(clinic_slots::start_minute.asc())
                    .select(clinic_slots::id)
                    .load(conn)
                    .map_err(e("slots"))?;
                (mom, child, sessions, infant, times)
            };

            login(c, app, demo::RESIDENT_EMAIL, demo::RESIDENT_PASSWORD).await?;
            visit(c, app, "/clinic").await?;
            step_shot(c, "1-saturday").await?;
            // Going on without an answer: the error summary has the focus.
            tab_to(c, NEXT_STEP, 30).await?;
            press_to_page(c, ENTER).await?;
            if eval::<String>(c, "return document.activeElement.id;").await? != "error-summary" {
                return Err(format!("the error summary should have the focus, not {}", focus_name(c).await?));
            }
            expect_text(c, "토요일을 골라 주세요").await?;
            step_shot(c, "1-saturday-error").await?;
            // Its link leads to the question; Space picks the first Saturday, the arrows move between them.
            tab_to(c, "#error-summary a[href='#f-session']", 3).await?;
            tab_to(c, "input[name=session]", 5).await?;
            press(c, " ").await?;
            expect_focus(c, &format!("input session {} checked", sessions[0])).await?;
            press(c, ARROW_DOWN).await?;
            expect_focus(c, &format!("input session {} checked", sessions[1])).await?;
            press(c, ARROW_UP).await?;
            expect_focus(c, &format!("input session {} checked", sessions[0])).await?;
            tab_to(c, NEXT_STEP, 3).await?;
            press_to_page(c, ENTER).await?;
            expect_text(c, "어떤 프로그램을 예약하시나요?").await?;
            step_shot(c, "2-program").await?;

            // The second program (infant check-ups) with an arrow key.
            tab_to(c, "input[name=program]", 30).await?;
            press(c, " ").await?;
            press(c, ARROW_DOWN).await?;
            expect_focus(c, &format!("input program {infant} checked")).await?;
            tab_to(c, NEXT_STEP, 3).await?;
            press_to_page(c, ENTER).await?;
            expect_text(c, "몇 시에 오시나요?").await?;
            step_shot(c, "3-time").await?;

            // The second time; Shift+Tab from the button comes back to the chosen one.
            tab_to(c, "input[name=slot]", 30).await?;
            press(c, " ").await?;
            press(c, ARROW_DOWN).await?;
            tab_to(c, NEXT_STEP, 3).await?;
            press(c, SHIFT_TAB).await?;
            expect_focus(c, &format!("input slot {} checked", times[1])).await?;
            press(c, TAB).await?;
            press_to_page(c, ENTER).await?;
            expect_text(c, "예약하시는 분").await?;
            step_shot(c, "4-details").await?;

            // Her child, then her answers.
            tab_to(c, "input[name=child_id]", 30).await?;
            press(c, " ").await?;
            expect_focus(c, &format!("input child_id {child} checked")).await?;
            tab_to(c, NEXT_STEP, 3).await?;
            press_to_page(c, ENTER).await?;
            expect_text(c, "예약 내용 확인").await?;
            expect_text(c, "새봄").await?;
            expect_text(c, "09:20–09:40").await?;
            step_shot(c, "5-check").await?;

            // She changes the time from there and comes straight back.
            tab_to(c, &format!("a[href^='/clinic/sessions/{}/time?']", sessions[0]), 40).await?;
            press_to_page(c, ENTER).await?;
            tab_to(c, "input[name=slot]", 30).await?;
            expect_focus(c, &format!("input slot {} checked", times[1])).await?;
            press(c, ARROW_DOWN).await?;
            tab_to(c, NEXT_STEP, 3).await?;
            press_to_page(c, ENTER).await?;
            if !path(c).await?.ends_with("/check") {
                return Err(format!("a change should lead back to the check page, not {}", path(c).await?));
            }
            expect_text(c, "09:40–10:00").await?;

            tab_to(c, NEXT_STEP, 40).await?;
            press_to_page(c, ENTER).await?;
            expect_text(c, "예약되었습니다").await?;
            step_shot(c, "6-booked").await?;
            let (slot, with): (String, Option<String>) = clinic_bookings::table
                .filter(clinic_bookings::user_id.eq(&mom))
                .filter(clinic_bookings::status.eq("booked"))
                .select((clinic_bookings::slot_id, clinic_bookings::child_id))
                .first(&mut app.conn())
                .map_err(e("booking"))?;
            if (slot.as_str(), with.as_deref()) != (times[2].as_str(), Some(child.as_str())) {
                return Err(format!("booked {slot} for {with:?}"));
            }
            Ok(())
        })
    });
}

// ---- visit booking calendar ----

#[test]
fn a_resident_books_a_visit_through_the_calendar_by_keyboard_only() {
    journey("visit_calendar_by_keyboard", |c, app| {
        Box::pin(async move {
            // Two start times a day, every day.
            let mut agency = app.browser();
            agency.login(demo::CONTRACTOR_EMAIL, demo::CONTRACTOR_PASSWORD);
            let week = (1..=7).map(|d| format!("{d} 09:00 2\n{d} 14:00 2")).collect::<Vec<_>>().join("\n");
            let token = agency.get("/contractor/capacity").csrf();
            agency.post("/contractor/capacity", &[("csrf_token", &token), ("week", &week)]).assert_redirect("/contractor/capacity");
            let (_, application) = common::approved_resident(app, "키보드맘", "keyboard-mom@example.kr");
            login(c, app, "keyboard-mom@example.kr", "safe-pass-2026").await?;
            visit(c, app, "/my/visits/new").await?;
            screenshots(c, app, ("keyboard-mom@example.kr", "safe-pass-2026"), "resident", &[("calendar", "/my/visits/new")]).await?;
            // The calendar itself, whole, at 360 px.
            let grid = find(c, "#f-day").await?.screenshot().await.map_err(e("calendar screenshot"))?;
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-artifacts/screenshots");
            std::fs::write(dir.join("resident-calendar-grid-360.png"), grid).map_err(e("write screenshot"))?;

            // Next month and back, by Tab and Enter.
            let next: String = eval(c, "return document.getElementById('month-next').getAttribute('href');").await?;
            tab_to(c, &format!("a[href='{next}']"), 80).await?;
            press_to_page(c, ENTER).await?;
            let prev: String = eval(c, "return document.getElementById('month-prev').getAttribute('href');").await?;
            tab_to(c, &format!("a[href='{prev}']"), 80).await?;
            press_to_page(c, ENTER).await?;

            // Step 1: the first free day; its link names the whole date.
            let day: String = eval(c, "return document.querySelector('a.cal-free').getAttribute('href');").await?;
            let name: String = eval(c, "return document.querySelector('a.cal-free').textContent;").await?;
            if !name.contains("요일, 예약 가능") {
                return Err(format!("the day's link should name its date and weekday: {name:?}"));
            }
            tab_to(c, &format!("a[href='{day}']"), 80).await?;
            press_to_page(c, ENTER).await?;

            // Step 2: arrow keys move between the times, Space chooses.
            tab_to(c, "input[name=slot_id]", 20).await?;
            press(c, "\u{E015}").await?; // ArrowDown
            press(c, " ").await?;
            let chosen: String = eval(c, "return document.querySelector('input[name=slot_id]:checked').id + ' ' + document.activeElement.id;").await?;
            let second: String = eval(c, "return document.querySelectorAll('input[name=slot_id]')[1].id;").await?;
            if chosen != format!("{second} {second}") {
                return Err(format!("ArrowDown and Space should choose the second time {second}: {chosen}"));
            }
            tab_to(c, "main form button[type=submit]", 5).await?;
            press_to_page(c, ENTER).await?;

            // Step 3: her answers, a task by Space, notes typed, then Enter books.
            expect_text(c, "예약 내용 확인").await?;
            expect_text(c, "14:00–18:00").await?;
            tab_to(c, "main input:not([type=hidden])", 40).await?;
            if eval::<String>(c, "return document.activeElement.id;").await? != "task-cleaning" {
                return Err("the first checkbox after the answers is cleaning".into());
            }
            press(c, " ").await?;
            tab_to(c, "textarea", 5).await?;
            press(c, "강아지가 있어요").await?;
            tab_to(c, "#confirm", 5).await?;
            press_to_page(c, ENTER).await?;
            expect_text(c, "방문을 요청했습니다").await?;
            if path(c).await? != "/my/visits" {
                return Err(format!("after booking: {}", path(c).await?));
            }
            let (start, tasks, notes): (i32, String, String) = visits::table
                .filter(visits::application_id.eq(&application))
                .select((visits::start_minute, visits::tasks, visits::notes))
                .first(&mut app.conn())
                .map_err(e("the booked visit"))?;
            if (start, tasks.as_str(), notes.as_str()) != (14 * 60, "cleaning", "강아지가 있어요") {
                return Err(format!("booked {start} {tasks:?} {notes:?}"));
            }
            Ok(())
        })
    });
}

// ---- agency: a free helper by keyboard, and the monthly statement ----

#[test]
fn the_agency_assigns_a_free_helper_and_completes_the_visit_by_keyboard() {
    journey("agency_keyboard", |c, app| {
        Box::pin(async move {
            use naju_helper::db::schema::{helpers, visit_slots};
            // Two residents asked for the same time; 김도우미 already has the first.
            let slot = || -> Res<String> {
                visit_slots::table
                    .filter(visit_slots::day.ge(common::today() + chrono::Duration::days(2)))
                    .filter(visit_slots::booked.lt(visit_slots::capacity))
                    .order((visit_slots::day.asc(), visit_slots::start_minute.asc()))
                    .select(visit_slots::id)
                    .first(&mut app.conn())
                    .map_err(e("slot"))
            };
            let mut ids = vec![];
            for (name, email) in [("먼저온맘", "first-kb@example.kr"), ("키보드맘", "keyboard-kb@example.kr")] {
                let (mut mom, _) = common::approved_resident(app, name, email);
                let token = mom.get("/my/visits/new").csrf();
                let slot = if ids.is_empty() { slot()? } else { visits::table.find(&ids[0]).select(visits::slot_id).first::<String>(&mut app.conn()).map_err(e("slot"))? };
                mom.post("/my/visits/new", &[("csrf_token", &token), ("slot_id", &slot), ("cleaning", "yes")]).assert_redirect("/my/visits");
                ids.push(visits::table.filter(diesel::dsl::not(visits::id.eq_any(&ids))).filter(visits::slot_id.eq(&slot)).order(visits::created_at.desc()).select(visits::id).first::<String>(&mut app.conn()).map_err(e("visit"))?);
            }
            let helper = |name: &str| helpers::table.filter(helpers::name.eq(name)).select(helpers::id).first::<String>(&mut app.conn()).map_err(e("helper"));
            let (kim, choi) = (helper("김도우미")?, helper("최도우미")?);
            let mut office = app.browser();
            office.login(demo::CONTRACTOR_EMAIL, demo::CONTRACTOR_PASSWORD);
            let token = office.get(&format!("/contractor/visits/{}", ids[0])).csrf();
            office.post(&format!("/contractor/visits/{}", ids[0]), &[("csrf_token", &token), ("action", "confirm"), ("helper_id", &kim)]).assert_status(303);

            // The contractor, by keyboard alone: the requests, the second visit.
            login(c, app, demo::CONTRACTOR_EMAIL, demo::CONTRACTOR_PASSWORD).await?;
            visit(c, app, "/contractor/visits?status=requested").await?;
            tab_to(c, &format!("a[href='/contractor/visits/{}']", ids[1]), 40).await?;
            press_to_page(c, ENTER).await?;
            expect_text(c, "같은 시간 다른 방문 있음").await?;
            if !eval::<bool>(c, &format!("return document.getElementById('f-helper_id-{kim}').disabled;")).await? {
                return Err("the helper busy at that time should not be selectable".into());
            }
            // Tab reaches the first free helper (the busy one is skipped), the
            // arrow key moves to the next one and chooses her.
            tab_to(c, "[name=helper_id]", 30).await?;
            press(c, " ").await?;
            let first: String = eval(c, "return document.activeElement.value;").await?;
            if first == kim {
                return Err("Tab should skip the busy helper".into());
            }
            for _ in 0..4 {
                if eval::<String>(c, "return document.querySelector('input[name=helper_id]:checked').value;").await? == choi {
                    break;
                }
                press(c, "\u{E015}").await?; // ArrowDown
            }
            tab_to(c, "form:has(input[name=action][value=confirm]) button", 5).await?;
            press_to_page(c, ENTER).await?;
            expect_text(c, "방문을 확정했습니다").await?;
            let assigned: (String, Option<String>) = visits::table.find(&ids[1]).select((visits::status, visits::helper_id)).first(&mut app.conn()).map_err(e("visit"))?;
            if assigned != ("confirmed".to_string(), Some(choi.clone())) {
                return Err(format!("assigned {assigned:?}"));
            }
            // Completion: the planned times are filled in; a note typed, Enter on the button.
            tab_to(c, "[name=tasks_done]", 40).await?;
            press(c, "청소, 세탁").await?;
            tab_to(c, "form:has(input[name=action][value=complete]) button", 5).await?;
            press_to_page(c, ENTER).await?;
            expect_text(c, "방문 완료로 기록했습니다").await?;
            let (status, day): (String, chrono::NaiveDate) = visits::table.find(&ids[1]).select((visits::status, visits::day)).first(&mut app.conn()).map_err(e("visit"))?;
            if status != "completed" {
                return Err(format!("visit {status}"));
            }
            // Her statement for that month, on a phone and at a desk.
            let month = day.format("%Y-%m").to_string();
            let statement = format!("/contractor/statement?month={month}");
            visit(c, app, &statement).await?;
            expect_text(c, "최도우미").await?;
            screenshots(c, app, (demo::CONTRACTOR_EMAIL, demo::CONTRACTOR_PASSWORD), "agency", &[("statement", statement.as_str())]).await
        })
    });
}

// ---- keyboard ----
//
// Every form of the resident's, the staff's and the agency's journeys filled
// in and sent by keyboard alone: Tab and Shift+Tab to move, typing, Space for
// check boxes, arrows for radio buttons and selects, Enter to send. No
// click() and no value set by script. Every Tab stop must show a focus
// indicator; each form is first sent with an error, which must move the
// focus to the error summary, whose link (Enter) moves it to the field. The
// visit booking, the clinic booking, the staff queue's bulk actions, staff
// search and the agency's helper assignment have keyboard tests of their own.

/// Shift down, Tab, then all modifiers released (WebDriver's null key).
const SPACE: &str = " ";
const BACKSPACE: &str = "\u{E003}";
/// Ctrl+A then Backspace: empties the focused text field.
const SELECT_ALL_DELETE: &str = "\u{E009}a\u{E000}\u{E003}";
/// Ctrl+End: to the end of a text area.
const CTRL_END: &str = "\u{E009}\u{E010}\u{E000}";

/// Types keys into whatever has the focus, as a person at the keyboard would.
async fn type_keys(c: &Client, keys: &str) -> Res {
    let on_file = eval::<bool>(c, "return !!document.activeElement && document.activeElement.type === 'file';").await?;
    send_to_focus(c, keys, on_file).await
}

/// Sends keys to the focused element. On a file input (where WebDriver's
/// send-keys means "choose this file") they go as key presses of
/// WebDriver's actions instead; there Shift and Ctrl are held until the
/// null key, as in send-keys.
async fn send_to_focus(c: &Client, keys: &str, on_file: bool) -> Res {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    if !on_file {
        return press(c, keys).await;
    }
    let mut actions = KeyActions::new("keyboard".to_string());
    let mut held = Vec::new();
    for key in keys.chars().chain(['\u{E000}']) {
        match key {
            '\u{E000}' => {
                for m in held.drain(..).rev() {
                    actions = actions.then(KeyAction::Up { value: m });
                }
            }
            '\u{E008}' | '\u{E009}' => {
                actions = actions.then(KeyAction::Down { value: key });
                held.push(key);
            }
            _ => actions = actions.then(KeyAction::Down { value: key }).then(KeyAction::Up { value: key }),
        }
    }
    c.perform_actions(actions).await.map_err(e("keys"))
}

/// A script's start that sets `a` to the focused element, `name` to its
/// description (tag, id, name, link target) and `problem` to why its focus
/// does not show ('' when a computed outline or box shadow is not none and
/// has a nonzero width).
const FOCUS_PROBE: &str = r#"const a = document.activeElement;
    const name = a ? a.tagName.toLowerCase() + (a.id ? '#' + a.id : '') + (a.name ? '[name=' + a.name + ']' : '')
        + (a.getAttribute('href') ? '[href=' + a.getAttribute('href') + ']' : '') + (a.value && a.type !== 'password' ? '=' + a.value : '') : 'nothing';
    let problem = '';
    if (!a || a === document.body) { problem = 'nothing has the focus'; } else {
        const s = getComputedStyle(a);
        const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
        const shadow = s.boxShadow !== 'none' && (s.boxShadow.match(/-?[\d.]+px/g) || []).some(v => parseFloat(v) !== 0);
        if (!outline && !shadow) problem = 'no visible focus on ' + name + ' (outline ' + s.outlineStyle + ' ' + s.outlineWidth + ', box-shadow ' + s.boxShadow + ')';
    }
"#;

/// The focused element, for messages.
async fn focus_name(c: &Client) -> Res<String> {
    eval(c, &format!("{FOCUS_PROBE} return name;")).await
}

/// The focused element shows a focus indicator.
async fn focus_shown(c: &Client) -> Res {
    let problem: String = eval(c, &format!("{FOCUS_PROBE} return problem;")).await?;
    if problem.is_empty() {
        Ok(())
    } else {
        Err(problem)
    }
}

/// Moves the focus with `key` (Tab or Shift+Tab), at most `max` times, until
/// it is on an element matching `css` (at once if it already is); every stop
/// must show its focus. One script a stop. Every journey here moves the
/// focus through this (`tab_to` for Tab); a small `max` says the target is
/// that near (the next button after a choice, say).
async fn move_focus_to(c: &Client, key: &str, css: &str, max: usize) -> Res {
    let probe = format!(
        "{FOCUS_PROBE} return [!!a && a.matches({}), problem, name, !!a && a.type === 'file'];",
        serde_json::json!(css)
    );
    let mut seen = Vec::new();
    for step in 0..=max {
        let (hit, problem, name, on_file): (bool, String, String, bool) = eval(c, &probe).await?;
        if step > 0 || hit {
            if !problem.is_empty() {
                return Err(format!("on the way to {css} through {seen:?}: {problem}"));
            }
            if hit {
                return Ok(());
            }
            seen.push(name);
        }
        send_to_focus(c, key, on_file).await?;
    }
    Err(format!("the keyboard never reached {css}; it went through {seen:?}"))
}

/// More Tab stops than any page has: for a field anywhere on the page.
const ANYWHERE: usize = 80;

/// Tabs forward (at most `max` stops) until the focus is on an element
/// matching `css`, every stop showing its focus (`move_focus_to`).
async fn tab_to(c: &Client, css: &str, max: usize) -> Res {
    move_focus_to(c, TAB, css, max).await
}

/// Tabs to a text field, empties it and types `text`.
async fn kb_type(c: &Client, css: &str, text: &str) -> Res {
    tab_to(c, css, ANYWHERE).await?;
    type_keys(c, SELECT_ALL_DELETE).await?;
    if !text.is_empty() {
        type_keys(c, text).await?;
    }
    Ok(())
}

/// Tabs to a date field (its first part: come from before it) and types the date's digits in the order the
/// browser's locale shows them (a date field is three parts; typing fills
/// each and moves on), then checks the field holds `ymd`.
async fn kb_date(c: &Client, css: &str, ymd: &str) -> Res {
    tab_to(c, css, ANYWHERE).await?;
    let order: Vec<String> = eval(
        c,
        "return new Intl.DateTimeFormat(navigator.language).formatToParts(new Date(2000, 10, 22)).filter(p => p.type !== 'literal').map(p => p.type);",
    )
    .await?;
    let (y, rest) = ymd.split_at(4);
    let (m, d) = (&rest[1..3], &rest[4..6]);
    for part in order {
        type_keys(c, match part.as_str() {
            "year" => y,
            "month" => m,
            _ => d,
        })
        .await?;
    }
    let value: String = eval(c, "return document.activeElement.value;").await?;
    if value != ymd {
        return Err(format!("typed {ymd} into {css} by keyboard but it holds {value:?}"));
    }
    Ok(())
}

/// Tabs to a select and moves through its options with the down arrow until `value` is chosen.
async fn kb_select(c: &Client, css: &str, value: &str) -> Res {
    tab_to(c, css, ANYWHERE).await?;
    for _ in 0..100 {
        if eval::<String>(c, "return document.activeElement.value;").await? == value {
            return Ok(());
        }
        type_keys(c, ARROW_DOWN).await?;
    }
    Err(format!("the arrows never chose {value} in {css}"))
}

/// Tabs into a group of radio buttons and moves with the arrows (which
/// check the button they reach) until the one of `value` is checked.
async fn kb_radio(c: &Client, name: &str, value: &str) -> Res {
    tab_to(c, &format!("input[type=radio][name={name}]"), ANYWHERE).await?;
    for _ in 0..12 {
        if eval::<bool>(c, "const a = document.activeElement; return a.checked && a.value === arguments[0];".replace("arguments[0]", &serde_json::json!(value).to_string()).as_str())
            .await?
        {
            return focus_shown(c).await;
        }
        type_keys(c, ARROW_DOWN).await?;
    }
    Err(format!("the arrows never checked {name}={value}"))
}

/// Tabs to a check box and ticks it with Space.
async fn kb_check(c: &Client, css: &str) -> Res {
    tab_to(c, css, ANYWHERE).await?;
    type_keys(c, SPACE).await?;
    if !eval::<bool>(c, "return document.activeElement.checked;").await? {
        return Err(format!("Space did not tick {css}"));
    }
    Ok(())
}

/// Tabs to a button (or link) and presses `key` (Enter or Space) on it,
/// then waits for the page it loads and audits it.
async fn kb_press_on(c: &Client, css: &str, key: &str) -> Res {
    tab_to(c, css, ANYWHERE).await?;
    c.execute("window.__najuOld = true;", vec![]).await.map_err(e("mark page"))?;
    type_keys(c, key).await?;
    new_page(c).await.map_err(|m| format!("{css}: {m}"))?;
    audit(c).await
}

async fn kb_submit(c: &Client, css: &str) -> Res {
    kb_press_on(c, css, ENTER).await
}

/// After a form was sent with errors: the focus is on the error summary
/// (and shows), every link in it leads to a field that exists and takes the
/// focus, and Tab then Enter on the link of `field` moves the focus to
/// #f-`field`.
async fn kb_error_summary(c: &Client, field: &str) -> Res {
    let on: String = eval(c, "return document.activeElement ? document.activeElement.id : '';").await?;
    if on != "error-summary" {
        return Err(format!("after a form with errors the focus should be on the error summary, not on {}", focus_name(c).await?));
    }
    focus_shown(c).await?;
    let dead: Vec<String> = eval(
        c,
        "return [...document.querySelectorAll('#error-summary a')].map(a => a.getAttribute('href')).filter(h => {
            const el = h.startsWith('#') && document.getElementById(h.slice(1));
            return !el || !el.matches('input:not([type=hidden]), select, textarea, button') || el.disabled; });",
    )
    .await?;
    if !dead.is_empty() {
        return Err(format!("error links that lead to no field: {dead:?}"));
    }
    tab_to(c, &format!("#error-summary a[href='#f-{field}']"), ANYWHERE).await?;
    type_keys(c, ENTER).await?;
    let want = format!("f-{field}");
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        if eval::<String>(c, "return document.activeElement ? document.activeElement.id : '';").await? == want {
            return focus_shown(c).await;
        }
        if Instant::now() > deadline {
            return Err(format!("Enter on the error link should move the focus to #{want}, not {}", focus_name(c).await?));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends a form by keyboard that must come back with an error on `field`
/// (see `kb_error_summary`: the focus ends on that field).
async fn kb_refused(c: &Client, button: &str, field: &str) -> Res {
    kb_submit(c, button).await?;
    kb_error_summary(c, field).await
}

/// The date `days` from today, as a date field holds it.
fn day_from_today(days: i64) -> String {
    (common::today() + chrono::Duration::days(days)).format("%Y-%m-%d").to_string()
}

/// Signs in by keyboard, the password sent with Enter in its field.
async fn kb_login(c: &Client, app: &TestApp, email: &str, password: &str) -> Res {
    visit(c, app, "/login").await?;
    kb_type(c, "#f-email", email).await?;
    kb_type(c, "#f-password", password).await?;
    c.execute("window.__najuOld = true;", vec![]).await.map_err(e("mark page"))?;
    type_keys(c, ENTER).await?;
    new_page(c).await?;
    if path(c).await? == "/login" {
        return Err(format!("{email} could not sign in"));
    }
    audit(c).await
}

/// Signs out by keyboard: the menu button (Enter opens it), then its sign-out button.
async fn kb_logout(c: &Client, app: &TestApp) -> Res {
    visit(c, app, "/").await?;
    tab_to(c, ".menu summary", ANYWHERE).await?;
    type_keys(c, ENTER).await?;
    kb_submit(c, ".main-nav--narrow form[action='/logout'] button").await
}

/// The six-digit code of the newest code text to `mobile`, read from the
/// file the text was written to (SMS_PROVIDER=file; waits for the sender).
fn texted_code(app: &TestApp, mobile: &str) -> Res<String> {
    use naju_helper::db::schema::outbox;
    let id: String = outbox::table
        .filter(outbox::recipient.eq(mobile))
        .filter(outbox::kind.eq("mobile_code"))
        .order(outbox::created_at.desc())
        .select(outbox::id)
        .first(&mut app.conn())
        .map_err(e("the code's text"))?;
    let file = app.data_dir.join("sms").join(format!("{id}.txt"));
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            break text;
        }
        if Instant::now() > deadline {
            return Err(format!("no text written to {}", file.display()));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let body: String = text.lines().filter(|l| !["To:", "Type:", "Bytes:", "Subject:"].iter().any(|h| l.starts_with(h))).collect::<Vec<_>>().join("\n");
    let chars: Vec<char> = body.chars().collect();
    (0..chars.len().saturating_sub(5))
        .map(|i| chars[i..i + 6].iter().collect::<String>())
        .find(|w| w.chars().all(|c| c.is_ascii_digit()))
        .ok_or_else(|| format!("no code in {text:?}"))
}

fn pdf_file(app: &TestApp) -> Res<String> {
    let pdf = app.data_dir.join("임신확인서.pdf");
    std::fs::write(&pdf, common::PDF).map_err(e("pdf"))?;
    Ok(pdf.display().to_string())
}

#[test]
fn keyboard_only_resident_forms() {
    journey("keyboard_resident", |c, app| {
        Box::pin(async move {
            // A forgotten password, reset from the emailed link.
            visit(c, app, "/password/forgot").await?;
            kb_refused(c, "form[action='/password/forgot'] button", "email").await?;
            type_keys(c, demo::RESIDENT_EMAIL).await?;
            kb_submit(c, "form[action='/password/forgot'] button").await?;
            find(c, "#sent").await?;
            visit(c, app, &common::emailed_link(app, demo::RESIDENT_EMAIL, "password_reset", "/password/reset/")).await?;
            kb_type(c, "#f-password", "short").await?;
            kb_refused(c, "main form button[type=submit]", "password").await?;
            type_keys(c, "keyboard-reset-1").await?;
            kb_type(c, "#f-password_confirm", "keyboard-reset-1").await?;
            kb_submit(c, "main form button[type=submit]").await?;
            expect_text(c, "비밀번호를 바꿨습니다").await?;
            // The login form: sent empty, then with the new password (Enter in the field).
            kb_refused(c, "form[action='/login'] button[type=submit]", "email").await?;
            kb_login(c, app, demo::RESIDENT_EMAIL, "keyboard-reset-1").await?;
            kb_logout(c, app).await?;

            // Sign-up, sent empty first; the error link leads to the name.
            visit(c, app, "/signup").await?;
            kb_refused(c, "form[action='/signup'] button[type=submit]", "name").await?;
            type_keys(c, "키보드맘").await?;
            kb_type(c, "#f-email", "keyboard-mom@example.kr").await?;
            kb_type(c, "#f-phone", "010-4444-5555").await?;
            kb_radio(c, "notify_channels", "email").await?;
            kb_type(c, "#f-password", "keyboard-pass-1").await?;
            kb_type(c, "#f-password_confirm", "keyboard-pass-1").await?;
            kb_check(c, "#f-agree_terms").await?;
            kb_submit(c, "form[action='/signup'] button[type=submit]").await?;
            expect_text(c, "메일함을 확인해 주세요").await?;
            visit(c, app, &common::signup_link(app, "keyboard-mom@example.kr")).await?;
            kb_submit(c, "main form button[type=submit]").await?;
            wait_until(c, |p| p == "/my").await?;

            // Notices by text: SMS chosen with the arrows, the number left out, then the code.
            visit(c, app, "/my/notices").await?;
            kb_radio(c, "notify_channels", "sms").await?;
            kb_type(c, "#f-mobile", "").await?;
            kb_refused(c, "form[action='/my/notices'] button", "mobile").await?;
            type_keys(c, "010-4444-5555").await?;
            kb_submit(c, "form[action='/my/notices'] button").await?;
            find(c, "#code-form").await?;
            kb_type(c, "#f-code", "000000").await?;
            kb_refused(c, "form[action='/my/notices/verify'] button", "code").await?;
            let code = texted_code(app, "010-4444-5555")?;
            type_keys(c, &code).await?;
            press_to_page(c, ENTER).await?; // Enter in the field sends its form
            expect_text(c, "휴대전화 번호를 확인했습니다").await?;

            // A child for the infant programs; Shift+Tab goes back a field.
            visit(c, app, "/my/children").await?;
            kb_refused(c, "form[action='/my/children'] button", "name").await?;
            type_keys(c, "키보드아기").await?;
            let born = day_from_today(-200);
            kb_date(c, "#f-birth_date", &born).await?;
            tab_to(c, "form[action='/my/children'] button", ANYWHERE).await?;
            move_focus_to(c, SHIFT_TAB, "#f-birth_date", ANYWHERE).await?;
            kb_submit(c, "form[action='/my/children'] button").await?;
            expect_text(c, "자녀를 등록했습니다").await?;
            expect_text(c, "키보드아기").await?;

            // An application begun, then discarded (withdraw) from its check page.
            visit(c, app, "/apply/housework").await?;
            kb_submit(c, "form[action='/apply/housework'] button").await?;
            let details = path(c).await?;
            let first = details.trim_start_matches("/my/applications/").trim_end_matches("/details").to_string();
            visit(c, app, &format!("/my/applications/{first}/check")).await?;
            kb_submit(c, "form[action$='/withdraw'] button").await?;
            kb_submit(c, "form[action$='/withdraw'] button").await?;
            expect_text(c, "신청을 취소했습니다").await?;

            // The application, step by step.
            visit(c, app, "/apply/housework").await?;
            kb_submit(c, "form[action='/apply/housework'] button").await?;
            kb_type(c, "#f-applicant_name", "키보드맘").await?;
            kb_refused(c, "main form button[type=submit]", "district_code").await?;
            kb_select(c, "#f-district_code", "46170570").await?;
            // Back up with Shift+Tab past the date (which Shift+Tab enters at its last part) to the name.
            move_focus_to(c, SHIFT_TAB, "#f-applicant_name", ANYWHERE).await?;
            kb_date(c, "#f-birth_date", "1993-04-05").await?;
            kb_type(c, "#f-phone", "010-4444-5555").await?;
            kb_type(c, "#f-email", "keyboard-mom@example.kr").await?;
            tab_to(c, "#f-district_code", ANYWHERE).await?;
            kb_type(c, "#f-street_address", "빛가람로 1").await?;
            kb_submit(c, "main form button[type=submit]").await?;
            // Pregnancy: sent empty, then the dates typed.
            kb_refused(c, "main form button[type=submit]", "due_date").await?;
            let due = day_from_today(100);
            kb_date(c, "#f-due_date", &due).await?;
            kb_date(c, "#f-residency_start", "2021-03-01").await?;
            kb_submit(c, "main form button[type=submit]").await?;
            // The document: sent without a file first. A file input opens the
            // system's file chooser on Enter or Space, which WebDriver cannot
            // drive: the test focuses it by Tab and sends the file's path to it
            // (WebDriver's way of choosing a file), as the chooser would.
            kb_refused(c, "form[enctype='multipart/form-data'] button", "document").await?;
            c.active_element().await.map_err(e("file input"))?.send_keys(&pdf_file(app)?).await.map_err(e("file"))?;
            kb_submit(c, "form[enctype='multipart/form-data'] button").await?;
            expect_text(c, "입력 내용 확인").await?;
            // Check your answers: sent without the consent ticked first.
            kb_refused(c, "form[action$='/submit'] button", "consent").await?;
            type_keys(c, SPACE).await?;
            kb_submit(c, "form[action$='/submit'] button").await?;
            expect_text(c, "신청이 접수되었습니다").await?;
            let submitted: i64 =
                applications::table.filter(applications::status.eq("submitted")).count().get_result(&mut app.conn()).map_err(e("applications"))?;
            if submitted != 1 {
                return Err(format!("{submitted} submitted applications"));
            }
            kb_logout(c, app).await?;

            // Another resident's visits: one cancelled, one completed and rated.
            let (mut mom, app_id) = common::approved_resident(app, "방문키보드", "kb-visits@example.kr");
            let ids = booked_visits(app, &mut mom, &app_id, 2)?;
            complete_visit(app, &ids[0])?;
            kb_login(c, app, "kb-visits@example.kr", "safe-pass-2026").await?;
            visit(c, app, "/my/visits").await?;
            kb_submit(c, &format!("a[href='/my/visits/{}/cancel']", ids[1])).await?;
            kb_submit(c, "form[action$='/cancel'] button").await?;
            expect_text(c, "방문을 취소했습니다").await?;
            kb_radio(c, "rating", "4").await?;
            kb_type(c, "textarea[name=comment]", "친절했어요").await?;
            kb_press_on(c, "form[action$='/rate'] button", SPACE).await?;
            expect_text(c, "방문 확인과 평가를 저장했습니다").await?;
            let rating: Option<i32> = visits::table.find(&ids[0]).select(visits::rating).first(&mut app.conn()).map_err(e("rating"))?;
            let status: String = visits::table.find(&ids[1]).select(visits::status).first(&mut app.conn()).map_err(e("status"))?;
            if rating != Some(4) || status != "cancelled" {
                return Err(format!("rating {rating:?}, cancelled visit {status}"));
            }
            Ok(())
        })
    });
}

/// Books `n` visits on different days for an approved resident (through the
/// booking form's post, as tests/visits.rs does) and returns their ids.
fn booked_visits(app: &TestApp, b: &mut common::Browser, application_id: &str, n: usize) -> Res<Vec<String>> {
    use naju_helper::db::schema::visit_slots;
    let token = b.get("/my/visits/new").csrf();
    let first_day = common::today() + chrono::Duration::days(2);
    let slots: Vec<(String, chrono::NaiveDate)> = visit_slots::table
        .filter(visit_slots::day.ge(first_day))
        .filter(visit_slots::booked.lt(visit_slots::capacity))
        .order((visit_slots::day.asc(), visit_slots::start_minute.asc()))
        .select((visit_slots::id, visit_slots::day))
        .load(&mut app.conn())
        .map_err(e("slots"))?;
    let mut days = Vec::new();
    for (slot, day) in slots {
        if days.len() == n {
            break;
        }
        if !days.contains(&day) {
            b.post("/my/visits/new", &[("csrf_token", &token), ("slot_id", &slot), ("cleaning", "yes")]).assert_redirect("/my/visits");
            days.push(day);
        }
    }
    let mut ids: Vec<(String, chrono::NaiveDate)> = visits::table
        .filter(visits::application_id.eq(application_id))
        .select((visits::id, visits::day))
        .load(&mut app.conn())
        .map_err(e("visits"))?;
    ids.sort_by_key(|(_, d)| *d);
    Ok(ids.into_iter().map(|(id, _)| id).collect())
}

/// The agency confirms a visit with a helper of its roster and records it done.
fn complete_visit(app: &TestApp, visit_id: &str) -> Res {
    use naju_helper::db::schema::helpers;
    let mut agency = app.browser();
    agency.login(demo::CONTRACTOR_EMAIL, demo::CONTRACTOR_PASSWORD);
    let token = agency.get(&format!("/contractor/visits/{visit_id}")).csrf();
    let helper: String = helpers::table.filter(helpers::name.eq("최도우미")).select(helpers::id).first(&mut app.conn()).map_err(e("helper"))?;
    agency.post(&format!("/contractor/visits/{visit_id}"), &[("csrf_token", &token), ("action", "confirm"), ("helper_id", &helper)]);
    agency.post(
        &format!("/contractor/visits/{visit_id}"),
        &[("csrf_token", &token), ("action", "complete"), ("actual_start", "09:00"), ("actual_end", "13:00"), ("tasks_done", "청소")],
    );
    let status: String = visits::table.find(visit_id).select(visits::status).first(&mut app.conn()).map_err(e("status"))?;
    if status != "completed" {
        return Err(format!("the visit is {status}, not completed"));
    }
    Ok(())
}

/// A resident's application, submitted (through the forms' posts): its id.
fn submitted_application(app: &TestApp, name: &str, email: &str) -> String {
    let mut b = common::signed_up_resident(app, name, email);
    let id = common::complete_draft(&mut b, common::due_date_at_week(25));
    common::submit_application(&mut b, &id).assert_redirect(&format!("/my/applications/{id}/confirmation"));
    id
}

#[test]
fn keyboard_only_staff_forms() {
    journey("keyboard_staff", |c, app| {
        Box::pin(async move {
            let ask = submitted_application(app, "정보요청", "kb-ask@example.kr");
            let reject = submitted_application(app, "반려대상", "kb-reject@example.kr");
            let approve = submitted_application(app, "승인대상", "kb-approve@example.kr");
            // A booking on the next clinic day, to check in.
            let mut mom = common::signed_up_resident(app, "출석엄마", "kb-clinic@example.kr");
            let (session, slot) = common::clinic_slot(app, "childbirth_class");
            let due = (common::today() + chrono::Duration::days(120)).to_string();
            let token = mom.get(&format!("/clinic/sessions/{session}")).csrf();
            mom.post("/clinic/bookings", &[("csrf_token", &token), ("session_id", &session), ("slot_id", &slot), ("due_date", &due)]).assert_redirect("/my/clinic");

            kb_login(c, app, demo::STAFF_EMAIL, demo::STAFF_PASSWORD).await?;
            // Request more information: the message left out first.
            visit(c, app, &format!("/staff/applications/{ask}")).await?;
            kb_refused(c, "form[action$='/decision'] input[value=request_info] ~ button", "message").await?;
            type_keys(c, "임신확인서를 다시 올려 주세요").await?;
            kb_submit(c, "form[action$='/decision'] input[value=request_info] ~ button").await?;
            expect_text(c, "추가 서류를 요청했습니다").await?;
            // Reject: the reason left out first.
            visit(c, app, &format!("/staff/applications/{reject}")).await?;
            kb_refused(c, "form[action$='/decision'] input[value=reject] ~ button", "reason").await?;
            type_keys(c, "대상 지역이 아닙니다").await?;
            kb_submit(c, "form[action$='/decision'] input[value=reject] ~ button").await?;
            expect_text(c, "반려했습니다").await?;
            // Documents reviewed one by one: a rejection needs a note.
            visit(c, app, &format!("/staff/applications/{approve}")).await?;
            let doc: String = eval(c, "return document.querySelector('input[name=note]').id.replace('f-note-', '');").await?;
            kb_refused(c, &format!("form[action$='/documents/{doc}/review'] input[value=reject] ~ button"), &format!("note-{doc}")).await?;
            type_keys(c, "흐릿합니다").await?;
            kb_submit(c, &format!("form[action$='/documents/{doc}/review'] input[value=reject] ~ button")).await?;
            expect_text(c, "보완 필요로 표시했습니다").await?;
            kb_submit(c, &format!("form[action$='/documents/{doc}/review'] input[value=accept] ~ button")).await?;
            expect_text(c, "서류를 확인했습니다").await?;
            // Approve (no field to get wrong), then the birth date: a wrong one first.
            kb_submit(c, "form[action$='/decision'] input[value=approve] ~ button").await?;
            expect_text(c, "승인했습니다").await?;
            let statuses: Vec<(String, String)> = applications::table.select((applications::id, applications::status)).load(&mut app.conn()).map_err(e("applications"))?;
            for (id, want) in [(&ask, "info_requested"), (&reject, "rejected"), (&approve, "approved")] {
                if !statuses.iter().any(|(i, s)| i == id && s == want) {
                    return Err(format!("application {id} should be {want}: {statuses:?}"));
                }
            }
            kb_refused(c, "form[action$='/birth'] button", "born_on").await?;
            let born = day_from_today(-1);
            kb_date(c, "#f-born_on", &born).await?;
            kb_submit(c, "form[action$='/birth'] button").await?;
            expect_text(c, "출산일을 기록했습니다").await?;

            // The clinic day: a walk-in (a wrong number first), then a check-in.
            visit(c, app, &format!("/staff/clinic/sessions/{session}")).await?;
            kb_select(c, "#f-program", &eval::<String>(c, "return document.querySelector('#f-program option:last-child').value;").await?).await?;
            kb_type(c, "#f-people", "0").await?;
            kb_refused(c, "form[action$='/walkins'] button", "people").await?;
            type_keys(c, SELECT_ALL_DELETE).await?;
            type_keys(c, "2").await?;
            kb_type(c, "#f-note", "키보드 접수").await?;
            kb_submit(c, "form[action$='/walkins'] button").await?;
            expect_text(c, "현장 접수를 기록했습니다").await?;
            kb_submit(c, "form[action$='/checkin'] input[value=yes] ~ button").await?;
            expect_text(c, "출석을 기록했습니다").await?;
            let attended: i64 = clinic_bookings::table.filter(clinic_bookings::status.eq("attended")).count().get_result(&mut app.conn()).map_err(e("bookings"))?;
            if attended != 1 {
                return Err(format!("{attended} attended bookings"));
            }

            // Results: a figure (a wrong period first), then a file import (none chosen first).
            visit(c, app, "/staff/results/figures").await?;
            let indicator: String = eval(c, "return document.querySelector('#f-indicator option:nth-child(2)').value;").await?;
            kb_select(c, "#f-indicator", &indicator).await?;
            kb_radio(c, "kind", "actual").await?;
            kb_type(c, "#f-period", "언젠가").await?;
            kb_type(c, "#f-value", "123").await?;
            kb_refused(c, "form[action='/staff/results/figures'] button", "period").await?;
            if eval::<String>(c, "return document.querySelector('#f-value').value + ' ' + document.querySelector('#k-actual').checked;").await? != "123 true" {
                return Err("the figure's typed value and kind should be kept after an error".into());
            }
            type_keys(c, SELECT_ALL_DELETE).await?;
            type_keys(c, "2025").await?;
            kb_submit(c, "form[action='/staff/results/figures'] button").await?;
            expect_text(c, "저장했습니다").await?;
            visit(c, app, "/staff/results/import").await?;
            kb_refused(c, "form[action='/staff/results/import'] button", "file").await?;
            // The file input takes the path by send_keys (see the resident's document).
            let csv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/seed-001-housework.csv");
            c.active_element().await.map_err(e("file input"))?.send_keys(&csv.display().to_string()).await.map_err(e("file"))?;
            kb_submit(c, "form[action='/staff/results/import'] button").await?;
            find(c, "#imported").await?;

            // City settings: a shipped city file chosen with the arrows, the
            // same file uploaded (its path sent to the focused file input), the
            // city file edited with a stray line, then retention days out of range.
            visit(c, app, "/staff/city").await?;
            kb_select(c, "#f-shipped", "naju-2023.toml").await?;
            type_keys(c, "\u{E013}").await?; // ArrowUp: back to the file in force
            if eval::<String>(c, "return document.activeElement.value;").await? != "naju-2024.toml" {
                return Err("ArrowUp should choose naju-2024.toml again".into());
            }
            kb_submit(c, "form[action='/staff/city/import']:has(#f-shipped) button").await?;
            expect_text(c, "시·군 파일을 적용했습니다").await?;
            tab_to(c, "#f-file", ANYWHERE).await?;
            let toml = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cities/naju-2024.toml");
            c.active_element().await.map_err(e("file input"))?.send_keys(&toml.display().to_string()).await.map_err(e("file"))?;
            kb_submit(c, "form[action='/staff/city/upload'] button").await?;
            expect_text(c, "시·군 파일을 적용했습니다").await?;
            tab_to(c, "#f-text", ANYWHERE).await?;
            type_keys(c, CTRL_END).await?;
            type_keys(c, "\nzz = 1").await?;
            kb_refused(c, "form[action='/staff/city/import']:has(#f-text) button", "text").await?;
            type_keys(c, CTRL_END).await?;
            type_keys(c, &BACKSPACE.repeat(7)).await?;
            kb_submit(c, "form[action='/staff/city/import']:has(#f-text) button").await?;
            expect_text(c, "시·군 파일을 적용했습니다").await?;
            visit(c, app, "/staff/city").await?;
            let first: String = eval(c, "return document.querySelector('#retention-form input[type=number]').id;").await?;
            kb_type(c, &format!("#{first}"), "0").await?;
            kb_refused(c, "#retention-form button", first.trim_start_matches("f-")).await?;
            type_keys(c, SELECT_ALL_DELETE).await?;
            type_keys(c, "1900").await?;
            kb_submit(c, "#retention-form button").await?;
            expect_text(c, "보존 기간을 저장했습니다").await
        })
    });
}

#[test]
fn keyboard_only_agency_forms() {
    journey("keyboard_agency", |c, app| {
        Box::pin(async move {
            kb_login(c, app, demo::CONTRACTOR_EMAIL, demo::CONTRACTOR_PASSWORD).await?;
            // The week's template: a wrong line first, then removed.
            visit(c, app, "/contractor/capacity").await?;
            tab_to(c, "#f-week", ANYWHERE).await?;
            type_keys(c, CTRL_END).await?;
            type_keys(c, "\n잘못").await?;
            kb_refused(c, "form[action='/contractor/capacity'] button", "week").await?;
            type_keys(c, CTRL_END).await?;
            type_keys(c, &BACKSPACE.repeat(3)).await?;
            kb_submit(c, "form[action='/contractor/capacity'] button").await?;
            expect_text(c, "근무 일정을 저장했습니다").await?;
            // A holiday: no date first.
            kb_refused(c, "form[action='/contractor/holidays'] button", "day").await?;
            let day = day_from_today(20);
            kb_date(c, "#f-day", &day).await?;
            kb_type(c, "#f-note", "창립기념일").await?;
            kb_submit(c, "form[action='/contractor/holidays'] button").await?;
            expect_text(c, "휴무일을 추가했습니다").await?;
            expect_text(c, "창립기념일").await?;
            // One day's helpers: a word first, then a number.
            let cap: String = eval(c, "return document.querySelector('form[action^=\"/contractor/slots/\"] input[name=capacity]').id;").await?;
            kb_type(c, &format!("#{cap}"), "많이").await?;
            kb_refused(c, &format!("#{cap} ~ button"), cap.trim_start_matches("f-")).await?;
            type_keys(c, SELECT_ALL_DELETE).await?;
            type_keys(c, "3").await?;
            kb_submit(c, &format!("#{cap} ~ button")).await?;
            expect_text(c, "근무 일정을 저장했습니다").await?;
            // A helper added to the roster: no name first.
            visit(c, app, "/contractor/helpers").await?;
            kb_refused(c, "form[action='/contractor/helpers'] button", "name").await?;
            type_keys(c, "한키보드").await?;
            kb_type(c, "#f-phone", "010-7777-8888").await?;
            kb_submit(c, "form[action='/contractor/helpers'] button").await?;
            expect_text(c, "가사관리사를 추가했습니다").await?;
            expect_text(c, "한키보드").await?;
            // An API token: no name first.
            visit(c, app, "/account/tokens").await?;
            kb_refused(c, "form[action='/account/tokens'] button", "name").await?;
            type_keys(c, "일정 연동").await?;
            kb_submit(c, "form[action='/account/tokens'] button").await?;
            find(c, "#new-token").await?;
            kb_submit(c, "form[action$='/revoke'] button").await?;
            expect_text(c, "토큰을 폐기했습니다").await
        })
    });
}

// ---- staff desk: bulk request for information, export, print ----


/// Emulates print media (or the screen again with "") through chromedriver's
/// Chrome DevTools endpoint, which WebDriver itself lacks.
async fn emulate_media(c: &Client, media: &str) -> Res {
    let driver = DRIVER_URL.with(|u| u.borrow().clone());
    let session = c.session_id().await.map_err(e("session id"))?.ok_or("no session id")?;
    ureq::post(&format!("{driver}/session/{session}/goog/cdp/execute"))
        .set("Content-Type", "application/json")
        .send_string(&serde_json::json!({"cmd": "Emulation.setEmulatedMedia", "params": {"media": media}}).to_string())
        .map_err(e("emulate media"))?;
    Ok(())
}

#[test]
fn staff_ask_two_applicants_for_more_by_keyboard_and_print_the_day() {
    journey("staff_desk", |c, app| {
        Box::pin(async move {
            let (mut ids, mut moms) = (vec![], vec![]);
            for (name, email) in [("일지원", "one@example.kr"), ("이지원", "two@example.kr")] {
                let mut mom = common::signed_up_resident(app, name, email);
                let id = common::complete_draft(&mut mom, common::due_date_at_week(25));
                common::submit_application(&mut mom, &id);
                ids.push(id);
                moms.push(mom);
            }
            // She also books the childbirth class with her partner, for the day sheet.
            let (session, slot) = common::clinic_slot(app, "childbirth_class");
            let mom = &mut moms[0];
            let token = mom.get(&format!("/clinic/sessions/{session}")).csrf();
            let due = (common::today() + chrono::Duration::days(120)).to_string();
            mom.post("/clinic/bookings", &[("csrf_token", &token), ("session_id", &session), ("slot_id", &slot), ("due_date", &due), ("with_partner", "yes")]);

            // Tick both rows with Space, write the message, send it with Enter.
            login(c, app, demo::STAFF_EMAIL, demo::STAFF_PASSWORD).await?;
            visit(c, app, "/staff/applications").await?;
            tab_to(c, &format!("#sel-{}", ids[0]), 60).await?;
            press(c, " ").await?;
            tab_to(c, &format!("#sel-{}", ids[1]), 4).await?;
            press(c, " ").await?;
            let ticked: usize = eval(c, "return document.querySelectorAll('input[name=ids]:checked').length;").await?;
            if ticked != 2 {
                return Err(format!("Space ticked {ticked} rows, not 2"));
            }
            tab_to(c, "#f-message", 20).await?;
            press(c, "모자보건수첩 임신 확인 면을 올려 주세요").await?;
            tab_to(c, ".bulk button[type=submit]", 2).await?;
            press_to_page(c, ENTER).await?;
            expect_text(c, "2건을 '추가 서류 요청'으로 바꾸고").await?;
            expect_text(c, "건너뛴 신청: 0건").await?;
            let statuses: Vec<String> = applications::table.filter(applications::id.eq_any(&ids)).select(applications::status).load(&mut app.conn()).unwrap_or_default();
            if statuses != ["info_requested", "info_requested"] {
                return Err(format!("after the bulk request: {statuses:?}"));
            }
            visit(c, app, "/staff/applications/export?status=info_requested").await?;

            // The printable summary and day sheet: no site header or menu, audited.
            visit(c, app, &format!("/staff/applications/{}/print", ids[0])).await?;
            expect_text(c, "신청서 요약").await?;
            visit(c, app, &format!("/staff/clinic/sessions/{session}")).await?;
            tab_to(c, &format!("a[href='/staff/clinic/sessions/{session}/print']"), 40).await?;
            press_to_page(c, ENTER).await?;
            expect_text(c, "남편과 함께하는 출산교실").await?;
            let chrome: usize = eval(c, "return document.querySelectorAll('nav, header, footer, form').length;").await?;
            if chrome != 0 {
                return Err(format!("the print page has {chrome} nav/header/footer/form elements"));
            }
            // With JavaScript, the print button shows; on paper it, the back link and
            // the site's header go, and every program after the first starts a page.
            let shown: bool = eval(c, "return document.querySelector('[data-print]').checkVisibility();").await?;
            emulate_media(c, "print").await?;
            let printed: (bool, bool, String) = eval(
                c,
                "const s = document.querySelectorAll('.print-sheet');
                 return [document.querySelector('[data-print]').checkVisibility(), document.querySelector('.print-actions').checkVisibility(),
                         s.length > 1 ? getComputedStyle(s[1]).breakBefore : 'one program'];",
            )
            .await?;
            let outcome = async {
                if !shown || printed.0 || printed.1 || printed.2 != "page" {
                    return Err(format!("print page: button shown on screen {shown}, on paper (button, links, break) {printed:?}"));
                }
                visit(c, app, &format!("/staff/clinic/sessions/{session}")).await?;
                let on_paper: Vec<bool> = eval(c, "return ['.site-header', 'nav', 'main button', '.skip-link'].map(s => document.querySelector(s).checkVisibility());").await?;
                if on_paper.iter().any(|v| *v) {
                    return Err(format!("printed day sheet shows header, nav, buttons or skip link: {on_paper:?}"));
                }
                Ok(())
            }
            .await;
            emulate_media(c, "").await?;
            outcome
        })
    });
}

// ---- search ----

#[test]
fn staff_search_for_a_resident_by_keyboard_alone() {
    journey("staff_search_by_keyboard", |c, app| {
        Box::pin(async move {
            let (_, app_id) = common::approved_resident_as(app, "김나주", "search@example.kr", &common::Applicant { name: "김나주", ..Default::default() });
            let reference: String = applications::table.find(&app_id).select(applications::reference).first(&mut app.conn()).map_err(e("reference"))?;
            login(c, app, demo::STAFF_EMAIL, demo::STAFF_PASSWORD).await?;
            visit(c, app, "/staff/search").await?;
            // Enter on an empty box: the error summary, with the focus on it.
            tab_to(c, "#f-q", 15).await?;
            press_to_page(c, ENTER).await?;
            let at = eval::<String>(c, "return document.activeElement.id || document.activeElement.tagName;").await?;
            if at != "error-summary" {
                return Err(format!("after an empty search the focus should be on the error summary, not {at}"));
            }
            expect_text(c, "찾을 이름, 전화번호, 신청 번호 또는 아이 생년월일을 입력하세요").await?;
            // From the summary, Tab on to the box, type part of her name, Enter.
            tab_to(c, "#f-q", 10).await?;
            press(c, "나주").await?;
            press_to_page(c, ENTER).await?;
            expect_text(c, &reference).await?;
            if !path(c).await?.starts_with("/staff/search") {
                return Err("the search should stay on its page".into());
            }
            // Her application is one Tab-and-Enter away.
            tab_to(c, &format!("a[href='/staff/applications/{app_id}']"), 25).await?;
            press_to_page(c, ENTER).await?;
            expect_text(c, &reference).await?;
            screenshots(c, app, (demo::STAFF_EMAIL, demo::STAFF_PASSWORD), "staff", &[("search", "/staff/search?q=%EB%82%98%EC%A3%BC"), ("home", "/staff")]).await
        })
    });
}

// ---- keyboard: staff settings, accounts, messages and clinic days ----
//
// The staff's remaining forms by keyboard alone, to the standard of the
// keyboard section above: every field reached by Tab, each form first sent
// wrong (the focus on the error summary, its link to the field), then sent
// right, the confirmation shown and what the database then holds checked.

#[test]
fn keyboard_only_staff_settings_forms() {
    journey("keyboard_staff_settings", |c, app| {
        Box::pin(async move {
            use naju_helper::db::schema::{indicator_targets, indicators, report_settings, rule_sets, visit_settings};
            kb_login(c, app, demo::STAFF_EMAIL, demo::STAFF_PASSWORD).await?;

            // Eligibility rules: a new version from a date a month away, the region's name left out first.
            visit(c, app, "/staff/rules/new").await?;
            let from = day_from_today(30);
            kb_date(c, "#f-effective_from", &from).await?;
            kb_type(c, "#f-region_name", "").await?;
            kb_refused(c, "form[action='/staff/rules'] button", "region_name").await?;
            type_keys(c, "나주시 키보드").await?;
            kb_type(c, "#f-visit_count", "8").await?;
            kb_type(c, "#f-note", "키보드로 바꾼 기준").await?;
            kb_submit(c, "form[action='/staff/rules'] button").await?;
            expect_text(c, "새 기준을 저장했습니다").await?;
            let (effective_from, region, visits_given, note): (chrono::NaiveDate, String, i32, String) = rule_sets::table
                .order(rule_sets::version.desc())
                .select((rule_sets::effective_from, rule_sets::region_name, rule_sets::visit_count, rule_sets::note))
                .first(&mut app.conn())
                .map_err(e("rule set"))?;
            if (effective_from.to_string(), region.as_str(), visits_given, note.as_str()) != (from.clone(), "나주시 키보드", 8, "키보드로 바꾼 기준") {
                return Err(format!("the new rules hold {effective_from} {region:?} {visits_given} {note:?}"));
            }

            // Visit settings: a notice period out of range first; a check box turned over with Space.
            let no_show_before: bool = visit_settings::table.find("default").select(visit_settings::no_show_counts).first(&mut app.conn()).map_err(e("settings"))?;
            visit(c, app, "/staff/visits/settings").await?;
            kb_type(c, "#f-min_notice_days", "99").await?;
            kb_refused(c, "form[action='/staff/visits/settings'] button", "min_notice_days").await?;
            type_keys(c, SELECT_ALL_DELETE).await?;
            type_keys(c, "3").await?;
            kb_type(c, "#f-cancel_cutoff_hours", "48").await?;
            tab_to(c, "#f-noshow", ANYWHERE).await?;
            type_keys(c, SPACE).await?;
            kb_submit(c, "form[action='/staff/visits/settings'] button").await?;
            expect_text(c, "예약 규칙을 저장했습니다").await?;
            let saved: (i32, i32, bool) = visit_settings::table
                .find("default")
                .select((visit_settings::min_notice_days, visit_settings::cancel_cutoff_hours, visit_settings::no_show_counts))
                .first(&mut app.conn())
                .map_err(e("settings"))?;
            if saved != (3, 48, !no_show_before) {
                return Err(format!("visit settings saved as {saved:?}"));
            }

            // The results report's settings, behind their disclosure (Enter
            // opens it): too many decimals first, and the page comes back with it open.
            visit(c, app, "/staff/results?program=housework").await?;
            tab_to(c, "details:has(form[action='/staff/results/settings']) > summary", 200).await?;
            type_keys(c, ENTER).await?;
            kb_type(c, "#f-decimals", "9").await?;
            kb_refused(c, "form[action='/staff/results/settings'] button", "decimals").await?;
            type_keys(c, SELECT_ALL_DELETE).await?;
            type_keys(c, "2").await?;
            kb_submit(c, "form[action='/staff/results/settings'] button").await?;
            expect_text(c, "저장했습니다").await?;
            let decimals: i32 = report_settings::table.find("housework").select(report_settings::decimals).first(&mut app.conn()).map_err(e("report settings"))?;
            if decimals != 2 {
                return Err(format!("the report keeps {decimals} decimals"));
            }

            // A target for the year: a word for the value first.
            visit(c, app, "/staff/results/figures").await?;
            let indicator: String = eval(c, "return document.querySelector('#f-indicator option:nth-child(2)').value;").await?;
            kb_select(c, "#f-indicator", &indicator).await?;
            kb_radio(c, "kind", "target").await?;
            kb_type(c, "#f-period", "2031").await?;
            kb_type(c, "#f-value", "많이").await?;
            kb_refused(c, "form[action='/staff/results/figures'] button", "value").await?;
            type_keys(c, SELECT_ALL_DELETE).await?;
            type_keys(c, "480").await?;
            kb_submit(c, "form[action='/staff/results/figures'] button").await?;
            expect_text(c, "저장했습니다").await?;
            let target: i64 = indicator_targets::table
                .inner_join(indicators::table)
                .filter(indicators::program_code.eq("housework"))
                .filter(indicators::code.eq(&indicator))
                .filter(indicator_targets::period_start.eq(chrono::NaiveDate::from_ymd_opt(2031, 1, 1).ok_or("date")?))
                .select(indicator_targets::value)
                .first(&mut app.conn())
                .map_err(e("the 2031 target"))?;
            if target != 480 {
                return Err(format!("the 2031 target is {target}"));
            }

            // A clinic program: its capacity as a word first (the error names
            // that program's field), then a number and a later cut-off.
            visit(c, app, "/staff/clinic/programs").await?;
            let program: String = eval(c, "return document.querySelector('main form[action^=\"/staff/clinic/programs/\"]').getAttribute('action').split('/').pop();").await?;
            let capacity: i32 = clinic_programs::table.find(&program).select(clinic_programs::capacity).first(&mut app.conn()).map_err(e("program"))?;
            let button = format!("form[action='/staff/clinic/programs/{program}'] button");
            kb_type(c, &format!("#f-capacity-{program}"), "많이").await?;
            kb_refused(c, &button, &format!("capacity-{program}")).await?;
            type_keys(c, SELECT_ALL_DELETE).await?;
            type_keys(c, &(capacity + 2).to_string()).await?;
            kb_type(c, &format!("#f-cancel_cutoff_hours-{program}"), "36").await?;
            kb_submit(c, &button).await?;
            expect_text(c, "프로그램을 저장했습니다").await?;
            let saved: (i32, i32) = clinic_programs::table
                .find(&program)
                .select((clinic_programs::capacity, clinic_programs::cancel_cutoff_hours))
                .first(&mut app.conn())
                .map_err(e("program"))?;
            if saved != (capacity + 2, 36) {
                return Err(format!("the program holds capacity and cut-off {saved:?}"));
            }
            Ok(())
        })
    });
}

#[test]
fn keyboard_only_staff_account_message_and_session_forms() {
    journey("keyboard_staff_accounts", |c, app| {
        Box::pin(async move {
            use naju_helper::db::schema::outbox;
            let mut mom = common::signed_up_resident(app, "휴진엄마", "kb-closed@example.kr");
            let (session, slot) = common::clinic_slot(app, "childbirth_class");
            let due = (common::today() + chrono::Duration::days(120)).to_string();
            let token = mom.get(&format!("/clinic/sessions/{session}")).csrf();
            mom.post("/clinic/bookings", &[("csrf_token", &token), ("session_id", &session), ("slot_id", &slot), ("due_date", &due)]).assert_redirect("/my/clinic");
            kb_login(c, app, demo::STAFF_EMAIL, demo::STAFF_PASSWORD).await?;

            // An agency account: sent with only the role chosen, the agency's link followed.
            visit(c, app, "/staff/users/new").await?;
            kb_refused(c, "form[action='/staff/users'] button", "agency_id").await?;
            let agency: String = eval(c, "return document.querySelector('#f-agency_id option:nth-child(2)').value;").await?;
            kb_select(c, "#f-agency_id", &agency).await?;
            kb_type(c, "#f-name", "키보드센터").await?;
            kb_type(c, "#f-email", "kb-agency@exmaple.kr").await?;
            kb_type(c, "#f-phone", "061-330-1234").await?;
            kb_type(c, "#f-password", "agency-pass-01").await?;
            kb_type(c, "#f-password_confirm", "agency-pass-01").await?;
            kb_submit(c, "form[action='/staff/users'] button").await?;
            expect_text(c, "계정을 만들었습니다").await?;
            // A staff account, its role chosen with the arrows.
            visit(c, app, "/staff/users/new").await?;
            kb_radio(c, "role", "staff").await?;
            kb_type(c, "#f-name", "키보드직원").await?;
            kb_type(c, "#f-email", "kb-staff@example.kr").await?;
            kb_type(c, "#f-phone", "061-330-5678").await?;
            kb_type(c, "#f-password", "staff-pass-001").await?;
            kb_type(c, "#f-password_confirm", "staff-pass-001").await?;
            kb_submit(c, "form[action='/staff/users'] button").await?;
            expect_text(c, "계정을 만들었습니다").await?;
            let made: Vec<(String, String, Option<String>, bool)> = users::table
                .filter(users::email.eq_any(["kb-agency@exmaple.kr", "kb-staff@example.kr"]))
                .order(users::email.asc())
                .select((users::email, users::role, users::agency_id, users::is_supervisor))
                .load(&mut app.conn())
                .map_err(e("accounts"))?;
            let want = vec![
                ("kb-agency@exmaple.kr".to_string(), "contractor".to_string(), Some(agency.clone()), false),
                ("kb-staff@example.kr".to_string(), "staff".to_string(), None, false),
            ];
            if made != want {
                return Err(format!("accounts made: {made:?}"));
            }
            // She is no supervisor: her staff account is refused on the role, whose link leads to its first choice.
            kb_logout(c, app).await?;
            kb_login(c, app, "kb-staff@example.kr", "staff-pass-001").await?;
            visit(c, app, "/staff/users/new").await?;
            kb_radio(c, "role", "staff").await?;
            kb_type(c, "#f-name", "세번째직원").await?;
            kb_type(c, "#f-email", "kb-third@example.kr").await?;
            kb_type(c, "#f-phone", "061-330-9999").await?;
            kb_type(c, "#f-password", "staff-pass-002").await?;
            kb_type(c, "#f-password_confirm", "staff-pass-002").await?;
            kb_refused(c, "form[action='/staff/users'] button", "role").await?;
            expect_text(c, "관리 권한이 있는 직원만").await?;
            let third: i64 = users::table.filter(users::email.eq("kb-third@example.kr")).count().get_result(&mut app.conn()).map_err(e("users"))?;
            if third != 0 {
                return Err("a refused account was made".into());
            }
            kb_logout(c, app).await?;
            kb_login(c, app, demo::STAFF_EMAIL, demo::STAFF_PASSWORD).await?;

            // The agency's welcome went to a mistyped address and bounced.
            let message = app.wait_for("the agency's welcome to be sent", Duration::from_secs(20), |conn| {
                outbox::table
                    .filter(outbox::recipient.eq("kb-agency@exmaple.kr"))
                    .filter(outbox::status.eq("sent"))
                    .select(outbox::id)
                    .first::<String>(conn)
                    .ok()
            });
            diesel::update(outbox::table.find(&message))
                .set((
                    outbox::status.eq("failed"),
                    outbox::attempts.eq(1),
                    outbox::last_error.eq(Some("550 5.1.1 Recipient address rejected")),
                    outbox::failed_at.eq(Some(naju_helper::time::now_utc())),
                    outbox::sent_at.eq(None::<chrono::NaiveDateTime>),
                ))
                .execute(&mut app.conn())
                .map_err(e("bounce"))?;
            // Resent from the failed list: a half address first, then the right one.
            visit(c, app, "/staff/messages/failed").await?;
            kb_submit(c, &format!("a[href='/staff/messages/failed/{message}']")).await?;
            let resend = format!("form[action='/staff/messages/failed/{message}'] button");
            kb_type(c, "#f-recipient", "kb-agency@").await?;
            kb_refused(c, &resend, "recipient").await?;
            type_keys(c, SELECT_ALL_DELETE).await?;
            type_keys(c, "kb-agency@example.kr").await?;
            kb_submit(c, &resend).await?;
            expect_text(c, "다시 보내도록").await?;
            let (to, status): (String, String) = outbox::table.find(&message).select((outbox::recipient, outbox::status)).first(&mut app.conn()).map_err(e("message"))?;
            if to != "kb-agency@example.kr" || !["pending", "sent"].contains(&status.as_str()) {
                return Err(format!("the resent message is {status}, to {to}"));
            }

            // A clinic day cancelled: no reason first.
            visit(c, app, &format!("/staff/clinic/sessions/{session}")).await?;
            kb_refused(c, "form[action$='/cancel'] button", "reason").await?;
            type_keys(c, "보건소 정전").await?;
            kb_submit(c, "form[action$='/cancel'] button").await?;
            expect_text(c, "휴진 처리하고 예약자에게 알렸습니다").await?;
            let (day_status, reason): (String, Option<String>) =
                clinic_sessions::table.find(&session).select((clinic_sessions::status, clinic_sessions::cancel_reason)).first(&mut app.conn()).map_err(e("session"))?;
            let booking: String = clinic_bookings::table.filter(clinic_bookings::slot_id.eq(&slot)).select(clinic_bookings::status).first(&mut app.conn()).map_err(e("booking"))?;
            if (day_status.as_str(), reason.as_deref(), booking.as_str()) != ("cancelled", Some("보건소 정전"), "cancelled") {
                return Err(format!("the day is {day_status} ({reason:?}), its booking {booking}"));
            }
            Ok(())
        })
    });
}
