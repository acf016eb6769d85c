//! Public pages, health check, language switch, error pages, assets.

mod common;

use common::spawn_app;

#[test]
fn health_check_reports_the_database() {
    let app = spawn_app();
    let res = app.browser().get("/healthz");
    res.assert_status(200).assert_contains("\"status\":\"ok\"").assert_contains(common::backend());
}

#[test]
fn home_page_is_korean_by_default_and_switches_to_english() {
    let app = spawn_app();
    let mut b = app.browser();
    let home = b.get("/");
    home.assert_status(200)
        .assert_contains("<html lang=\"ko\">")
        .assert_contains("임신부 가사돌봄 서비스")
        .assert_contains("맞벌이 부부를 위한 토요 열린보건소")
        .assert_contains("name=\"viewport\"");
    assert_eq!(home.body.matches("<h1").count(), 1, "one h1");
    b.get("/lang/en?next=/login").assert_redirect("/login");
    b.get("/login").assert_contains("<html lang=\"en\">").assert_contains("Sign in").assert_lacks("로그인</h1>");
    b.get("/lang/ko?next=https://evil.example/").assert_redirect("/");
}

#[test]
fn unknown_pages_get_a_clear_404_that_leaks_nothing() {
    let app = spawn_app();
    let mut b = app.browser();
    let res = b.get("/no/such/page");
    res.assert_status(404).assert_contains("찾으시는 페이지가 없습니다").assert_contains("<html lang=\"ko\">");
    b.get("/lang/en");
    b.get("/no/such/page").assert_status(404).assert_contains("There is no page here");
}

#[test]
fn pages_send_security_headers_and_assets_are_served_locally() {
    let app = spawn_app();
    let mut b = app.browser();
    let res = b.get("/");
    assert_eq!(res.headers.get("x-frame-options").map(String::as_str), Some("DENY"));
    assert!(res.headers.get("content-security-policy").is_some_and(|v| v.contains("default-src 'self'")));
    assert!(!res.body.contains("http://") && !res.body.contains("https://"), "no external resources");
    let css = b.get("/assets/css/app.css");
    css.assert_status(200).assert_contains(":focus-visible");
    assert!(css.headers.get("etag").is_some());
    b.get("/assets/js/app.js").assert_status(200).assert_contains("session-warning");
    b.get("/assets/nope.css").assert_status(404);
}

#[test]
fn error_pages_carry_the_security_headers() {
    let app = spawn_app();
    let res = app.browser().get("/nope");
    res.assert_status(404);
    assert_eq!(res.headers.get("x-frame-options").map(String::as_str), Some("DENY"));
    assert!(res.headers.get("content-security-policy").is_some());
}

#[test]
fn after_login_only_same_site_paths_are_followed() {
    let app = spawn_app();
    for next in ["/\t/evil.example", "//evil.example", "https://evil.example/", "/\\evil.example"] {
        let mut b = app.browser();
        let token = b.get("/login").csrf();
        let res = b.post(
            "/login",
            &[("csrf_token", &token), ("email", naju_helper::demo::STAFF_EMAIL), ("password", naju_helper::demo::STAFF_PASSWORD), ("next", next)],
        );
        res.assert_redirect("/");
    }
    let mut b = app.browser();
    let token = b.get("/login").csrf();
    b.post(
        "/login",
        &[("csrf_token", &token), ("email", naju_helper::demo::STAFF_EMAIL), ("password", naju_helper::demo::STAFF_PASSWORD), ("next", "/staff/users")],
    )
    .assert_redirect("/staff/users");
}
