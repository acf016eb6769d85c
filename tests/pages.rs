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

/// Fetches a file as bytes, with its status and content type.
fn fetch(url: &str) -> (u16, String, Vec<u8>) {
    let res = ureq::get(url).call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let kind = res.content_type().to_string();
    let status = res.status();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut res.into_reader(), &mut bytes).expect("read body");
    (status, kind, bytes)
}

#[test]
fn the_site_can_be_added_to_the_home_screen() {
    let app = spawn_app();
    let mut b = app.browser();
    let home = b.get("/");
    home.assert_contains("<link rel=\"manifest\" href=\"/manifest.webmanifest\"")
        .assert_contains("<meta name=\"theme-color\" content=\"#0b4ea2\">")
        .assert_contains("<link rel=\"apple-touch-icon\" href=\"/assets/icons/apple-touch-icon.png\">");

    let res = b.get("/manifest.webmanifest");
    res.assert_status(200);
    assert_eq!(res.headers.get("content-type").map(String::as_str), Some("application/manifest+json; charset=utf-8"));
    let manifest: serde_json::Value = serde_json::from_str(&res.body).expect("the manifest is JSON");
    assert_eq!(manifest["short_name"], "나주헬퍼");
    assert_eq!(manifest["lang"], "ko");
    assert_eq!(manifest["start_url"], "/");
    assert_eq!(manifest["display"], "standalone");
    assert_eq!(manifest["theme_color"], "#0b4ea2");
    assert!(manifest["background_color"].is_string());

    // Every icon is served, as the type and (for PNGs) the size it claims.
    let icons = manifest["icons"].as_array().expect("icons");
    let sizes: Vec<&str> = icons.iter().filter_map(|i| i["sizes"].as_str()).collect();
    assert_eq!(sizes, ["192x192", "512x512", "any"]);
    for icon in icons {
        let (status, kind, bytes) = fetch(&format!("{}{}", app.base, icon["src"].as_str().expect("src")));
        assert_eq!(status, 200, "{icon}");
        assert_eq!(kind, icon["type"].as_str().expect("type"), "{icon}");
        if kind == "image/png" {
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{icon}");
            let width = u32::from_be_bytes(bytes[16..20].try_into().expect("IHDR width"));
            let height = u32::from_be_bytes(bytes[20..24].try_into().expect("IHDR height"));
            assert_eq!(format!("{width}x{height}"), icon["sizes"].as_str().expect("sizes"), "{icon}");
        } else {
            assert!(String::from_utf8_lossy(&bytes).contains("<svg"), "{icon}");
        }
    }
    let (status, kind, _) = fetch(&format!("{}/assets/icons/apple-touch-icon.png", app.base));
    assert_eq!((status, kind.as_str()), (200, "image/png"));

    // In English for a visitor who chose English.
    b.get("/lang/en?next=/");
    let en: serde_json::Value = serde_json::from_str(&b.get("/manifest.webmanifest").body).expect("JSON");
    assert_eq!((en["short_name"].as_str(), en["lang"].as_str()), (Some("Naju Helper"), Some("en")));
}
