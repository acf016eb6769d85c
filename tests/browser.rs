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
use naju_helper::db::schema::{applications, clinic_bookings, visit_quotas, visits};
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
                // The first day still open (days with a visit are not offered).
                find(c, "input[name=slot_id]").await?.click().await.map_err(e("slot"))?;
                click(c, "main form button[type=submit]").await?;
                expect_text(c, "방문을 요청했습니다").await.map_err(|m| format!("visit {}: {m}", n + 1))?;
            }
            expect_text(c, "남은 방문 횟수가 없습니다").await?;
            visit(c, app, "/my/visits/new").await?;
            find(c, "input[name=slot_id]").await?.click().await.map_err(e("slot"))?;
            click(c, "main form button[type=submit]").await?;
            expect_text(c, "방문 횟수를 모두 사용했습니다").await?;
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
                [("home", "/my"), ("application", status.as_str()), ("visits", "/my/visits"), ("booking", "/my/visits/new"), ("clinic", "/clinic"), ("schedule", "/my/schedule")];
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
            find(c, "#f-helper_id").await?.select_by_value(&helper).await.map_err(e("helper"))?;
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

/// Opens the next session and books (or queues for) the prenatal yoga class.
async fn book_yoga(c: &Client, app: &TestApp, due: &str, waitlist: bool) -> Res {
    visit(c, app, "/clinic").await?;
    click(c, "main .card h2 a").await?;
    let form = "#program-prenatal_yoga form";
    fill(c, &format!("{form} input[name=due_date]"), due).await?;
    if waitlist {
        find(c, &format!("{form} input[name=join_waitlist]")).await?.click().await.map_err(e("waitlist"))?;
    }
    click(c, &format!("{form} button")).await
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
            book_yoga(c, app, &due, false).await?;
            expect_text(c, "방금 자리가 모두 찼습니다").await?;
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

/// The focused element's tag and its link target (or text), to follow the keyboard.
async fn focused(c: &Client) -> Res<String> {
    eval(c, "const a = document.activeElement; return a.tagName.toLowerCase() + ' ' + (a.getAttribute('href') || a.textContent.trim());").await
}

/// Presses a key on whatever has the focus (WebDriver key codes: Tab \u{E004}, Enter \u{E007}).
async fn press(c: &Client, key: &str) -> Res {
    c.active_element().await.map_err(e("active element"))?.send_keys(key).await.map_err(e("key"))
}

/// Tabs forward (at most `max` times) until the focus is on `want`.
async fn tab_to(c: &Client, want: &str, max: usize) -> Res {
    let mut seen = Vec::new();
    for _ in 0..max {
        press(c, "\u{E004}").await?;
        let now = focused(c).await?;
        if now == want {
            return Ok(());
        }
        seen.push(now);
    }
    Err(format!("Tab never reached {want:?}; it went through {seen:?}"))
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
            tab_to(c, "summary 메뉴", 5).await?;
            if eval::<bool>(c, "return document.querySelector('.menu').open;").await? {
                return Err("the menu starts closed".into());
            }
            press(c, "\u{E007}").await?; // Enter opens it
            if menu_links_shown(c).await? < 9 {
                return Err(format!("Enter on the menu button showed {} links", menu_links_shown(c).await?));
            }
            audit(c).await?;
            // Its links come next in Tab order; Enter follows one.
            tab_to(c, "a /staff/results", 12).await?;
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
            tab_to(c, "a /staff/city", 12).await
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

// ---- search ----

/// Tabs forward (at most `max` times) until the element with `id` has the focus.
async fn tab_to_id(c: &Client, id: &str, max: usize) -> Res {
    for _ in 0..max {
        press(c, "\u{E004}").await?;
        if eval::<String>(c, "return document.activeElement.id || '';").await? == id {
            return Ok(());
        }
    }
    Err(format!("Tab never reached #{id}"))
}

/// Presses Enter on the focused control and waits for the page it loads, audited.
async fn enter_and_wait(c: &Client) -> Res {
    c.execute("window.__najuOld = true;", vec![]).await.map_err(e("mark page"))?;
    press(c, "\u{E007}").await?;
    new_page(c).await?;
    audit(c).await
}

#[test]
fn staff_search_for_a_resident_by_keyboard_alone() {
    journey("staff_search_by_keyboard", |c, app| {
        Box::pin(async move {
            let (_, app_id) = common::approved_resident_as(app, "김나주", "search@example.kr", &common::Applicant { name: "김나주", ..Default::default() });
            let reference: String = applications::table.find(&app_id).select(applications::reference).first(&mut app.conn()).map_err(e("reference"))?;
            login(c, app, demo::STAFF_EMAIL, demo::STAFF_PASSWORD).await?;
            visit(c, app, "/staff/search").await?;
            // Enter on an empty box: the error summary, with the focus on it.
            tab_to_id(c, "f-q", 15).await?;
            enter_and_wait(c).await?;
            let at = eval::<String>(c, "return document.activeElement.id || document.activeElement.tagName;").await?;
            if at != "error-summary" {
                return Err(format!("after an empty search the focus should be on the error summary, not {at}"));
            }
            expect_text(c, "찾을 이름, 전화번호, 신청 번호 또는 아이 생년월일을 입력하세요").await?;
            // From the summary, Tab on to the box, type part of her name, Enter.
            tab_to_id(c, "f-q", 10).await?;
            press(c, "나주").await?;
            enter_and_wait(c).await?;
            expect_text(c, &reference).await?;
            if !path(c).await?.starts_with("/staff/search") {
                return Err("the search should stay on its page".into());
            }
            // Her application is one Tab-and-Enter away.
            tab_to(c, &format!("a /staff/applications/{app_id}"), 25).await?;
            enter_and_wait(c).await?;
            expect_text(c, &reference).await?;
            screenshots(c, app, (demo::STAFF_EMAIL, demo::STAFF_PASSWORD), "staff", &[("search", "/staff/search?q=%EB%82%98%EC%A3%BC"), ("home", "/staff")]).await
        })
    });
}
