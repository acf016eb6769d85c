//! Sign-up, login, throttling, CSRF, roles and record ownership, through the
//! real app and database.

mod common;

use common::smtp::SmtpSink;
use common::{confirm_signup, signed_up_resident, signup_form, signup_link, spawn_app, spawn_app_with};
use diesel::prelude::*;
use naju_helper::config::{SmtpConfig, SmtpSecurity};
use naju_helper::db::schema::{outbox, sessions, signups, users};
use naju_helper::demo;

#[test]
fn a_resident_signs_up_by_confirming_her_address_and_lands_on_her_page() {
    let app = spawn_app();
    let mut b = app.browser();
    let res = b.submit("/signup", "/signup", &signup_form("박서연", "Seoyeon@Example.kr"));
    res.assert_status(200).assert_contains("메일함을 확인해 주세요").assert_contains("seoyeon@example.kr 주소로 메일을 보냈습니다");

    // No account until the address is confirmed, and no one is signed in.
    let mut conn = app.conn();
    let accounts = || users::table.filter(users::email.eq("seoyeon@example.kr")).count().get_result::<i64>(&mut app.conn()).unwrap();
    assert_eq!(accounts(), 0);
    b.get("/my").assert_redirect("/login?next=/my");
    let (kind, subject, user_id): (String, String, Option<String>) = outbox::table
        .filter(outbox::recipient.eq("seoyeon@example.kr"))
        .select((outbox::kind, outbox::subject, outbox::user_id))
        .first(&mut conn)
        .expect("a confirmation email");
    assert_eq!((kind.as_str(), user_id), ("signup_confirm", None));
    assert!(subject.contains("나주시"), "subject names the city: {subject}");

    // Opening the link only shows the button (mail scanners open links too).
    let link = signup_link(&app, "seoyeon@example.kr");
    b.get(&link).assert_status(200).assert_contains("가입 마치기").assert_contains("seoyeon@example.kr");
    assert_eq!(accounts(), 0);
    confirm_signup(&app, &mut b, "seoyeon@example.kr").assert_redirect("/my");
    b.get("/my").assert_status(200).assert_contains("박서연님, 안녕하세요.").assert_contains("회원가입이 완료되었습니다");

    let (role, hash, phone): (String, String, String) = users::table
        .filter(users::email.eq("seoyeon@example.kr"))
        .select((users::role, users::password_hash, users::phone))
        .first(&mut conn)
        .expect("user stored with a lower-cased email");
    assert_eq!(role, "resident");
    assert_eq!(phone, "010-2222-3333");
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "argon2id hash, got {hash}");
    assert!(!hash.contains("safe-pass-2026"));
    let welcome: i64 = outbox::table
        .filter(outbox::recipient.eq("seoyeon@example.kr"))
        .filter(outbox::kind.eq("welcome"))
        .filter(outbox::user_id.is_not_null())
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(welcome, 1);
    app.browser().login("seoyeon@example.kr", "safe-pass-2026").assert_redirect("/my");

    // The link works once.
    let mut again = app.browser();
    again.get(&link).assert_status(200).assert_contains("만료되었거나 이미 사용되었습니다");
    let token = again.get("/login").csrf();
    again.post(&link, &[("csrf_token", &token)]).assert_status(410);
    assert_eq!(accounts(), 1);
}

#[test]
fn sign_up_answers_the_same_whether_or_not_the_address_is_registered_and_tells_the_owner_by_email() {
    let sink = SmtpSink::start();
    let port = sink.port;
    let app = spawn_app_with(move |c| c.smtp = Some(SmtpConfig { host: "127.0.0.1".into(), port, security: SmtpSecurity::None, username: None, password: None }));
    let mut b = app.browser();
    let new = b.submit("/signup", "/signup", &signup_form("김하나", "hana@example.kr"));
    let registered = b.submit("/signup", "/signup", &signup_form("김하나", demo::RESIDENT_EMAIL));
    assert_eq!(new.status, 200);
    assert_eq!(registered.status, new.status);
    assert_eq!(registered.set_cookies, new.set_cookies);
    assert_eq!(registered.body.replace(demo::RESIDENT_EMAIL, "ADDRESS"), new.body.replace("hana@example.kr", "ADDRESS"), "the same page either way");
    registered.assert_lacks("이미 가입된");

    // The owner hears of it by email; her account and password stay as they were.
    let (id, user_id, body): (String, Option<String>, String) = outbox::table
        .filter(outbox::recipient.eq(demo::RESIDENT_EMAIL))
        .filter(outbox::kind.eq("signup_existing"))
        .select((outbox::id, outbox::user_id, outbox::body_text))
        .first(&mut app.conn())
        .expect("a note to the owner");
    let owner: String = users::table.filter(users::email.eq(demo::RESIDENT_EMAIL)).select(users::id).first(&mut app.conn()).unwrap();
    assert_eq!(user_id.as_deref(), Some(owner.as_str()), "in her copies too");
    assert!(body.contains("/login") && body.contains("/password/forgot"), "{body}");
    assert!(body.contains("이하늘님"), "greets the owner, not the name typed: {body}");
    let note = sink.wait_for_message(std::time::Duration::from_secs(20), |m| m.contains(&format!("Message-ID: <{id}@naju-helper>")));
    assert!(note.contains(&format!("To: {}", demo::RESIDENT_EMAIL)), "{note}");
    let links_for_owner: i64 = outbox::table
        .filter(outbox::recipient.eq(demo::RESIDENT_EMAIL))
        .filter(outbox::kind.eq("signup_confirm"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(links_for_owner, 0, "no sign-up link for a registered address");
    app.browser().login(demo::RESIDENT_EMAIL, "safe-pass-2026").assert_status(401);
    app.browser().login(demo::RESIDENT_EMAIL, demo::RESIDENT_PASSWORD).assert_redirect("/my");
    // The new address got its link.
    signup_link(&app, "hana@example.kr");
}

#[test]
fn a_sign_up_link_stops_working_when_the_address_got_an_account_another_way_or_after_a_day() {
    let app = spawn_app();
    // Two sign-ups of one address: the first link used retires the other.
    let mut first = app.browser();
    first.submit("/signup", "/signup", &signup_form("정미래", "mirae@example.kr")).assert_status(200);
    let older = signup_link(&app, "mirae@example.kr");
    let mut second = app.browser();
    second.submit("/signup", "/signup", &signup_form("정미래", "mirae@example.kr")).assert_status(200);
    confirm_signup(&app, &mut second, "mirae@example.kr").assert_redirect("/my");
    first.get(&older).assert_contains("만료되었거나 이미 사용되었습니다").assert_lacks("<form method=\"post\" action=\"/signup/confirm/");
    let token = first.get("/login").csrf();
    first.post(&older, &[("csrf_token", &token)]).assert_status(410);

    // A supervisor made a staff account for the address meanwhile: the link says so.
    let mut b = app.browser();
    b.submit("/signup", "/signup", &signup_form("한보라", "bora@example.kr")).assert_status(200);
    let mut staff = app.browser();
    staff.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD).assert_redirect("/staff");
    let account = [("role", "staff"), ("name", "한보라"), ("email", "bora@example.kr"), ("phone", "061-339-4444"), ("password", "staff-pass-01"), ("password_confirm", "staff-pass-01")];
    staff.submit("/staff/users/new", "/staff/users", &account).assert_redirect("/staff/users");
    confirm_signup(&app, &mut b, "bora@example.kr").assert_status(409).assert_contains("이미 계정이 있습니다");

    // A day later the link has expired.
    let mut late = app.browser();
    late.submit("/signup", "/signup", &signup_form("윤소망", "somang@example.kr")).assert_status(200);
    diesel::update(signups::table)
        .set(signups::expires_at.eq(naju_helper::time::now_utc() - chrono::Duration::seconds(1)))
        .execute(&mut app.conn())
        .unwrap();
    let link = signup_link(&app, "somang@example.kr");
    late.get(&link).assert_contains("만료되었거나 이미 사용되었습니다");
    let token = late.get("/login").csrf();
    late.post(&link, &[("csrf_token", &token)]).assert_status(410);
    let created: i64 = users::table.filter(users::email.eq("somang@example.kr")).count().get_result(&mut app.conn()).unwrap();
    assert_eq!(created, 0);
}

#[test]
fn sign_ups_from_one_ip_are_limited_whatever_the_address() {
    let app = spawn_app_with(|c| c.signup_max_per_ip = 3);
    let mut b = app.browser();
    for email in ["one@example.kr", demo::RESIDENT_EMAIL, "three@example.kr"] {
        b.submit("/signup", "/signup", &signup_form("김하나", email)).assert_status(200);
    }
    for email in ["four@example.kr", demo::RESIDENT_EMAIL] {
        b.submit("/signup", "/signup", &signup_form("김하나", email))
            .assert_status(429)
            .assert_contains("가입 요청이 너무 많았습니다")
            .assert_contains("60분 후에");
    }
    // Nothing was sent for the refused ones.
    let mails: i64 = outbox::table.filter(outbox::recipient.eq("four@example.kr")).count().get_result(&mut app.conn()).unwrap();
    assert_eq!(mails, 0);
    let owner_notes: i64 = outbox::table.filter(outbox::kind.eq("signup_existing")).count().get_result(&mut app.conn()).unwrap();
    assert_eq!(owner_notes, 1);
    // Bad input is still explained next to its fields, not refused.
    b.submit("/signup", "/signup", &signup_form("", "five@example.kr")).assert_status(422);
}

#[test]
fn bad_sign_up_input_is_explained_next_to_each_field_and_nothing_is_lost_or_saved() {
    let app = spawn_app();
    let mut b = app.browser();
    let res = b.submit(
        "/signup",
        "/signup",
        &[
            ("name", "최지우"),
            ("email", "not-an-email"),
            ("phone", "12345"),
            ("password", "short"),
            ("password_confirm", "short"),
        ],
    );
    res.assert_status(422)
        .assert_contains("입력 내용을 확인해 주세요")
        .assert_contains("이메일 주소 형식이 올바르지 않습니다")
        .assert_contains("전화번호는 0으로 시작하는")
        .assert_contains("비밀번호는 영문·숫자·특수문자 중")
        .assert_contains("개인정보 수집·이용에 동의해야")
        .assert_contains("value=\"최지우\"")
        .assert_contains("value=\"not-an-email\"")
        .assert_contains("aria-invalid=\"true\"")
        .assert_lacks("value=\"short\"");
    let count: i64 = users::table.filter(users::role.eq("resident")).count().get_result(&mut app.conn()).unwrap();
    assert_eq!(count, 1, "only the demo resident exists");
}

#[test]
fn login_with_a_wrong_password_is_refused_and_the_right_one_renews_the_session() {
    let app = spawn_app();
    let mut b = app.browser();
    b.login(demo::RESIDENT_EMAIL, "wrong-password-1")
        .assert_status(401)
        .assert_contains("이메일 주소 또는 비밀번호가 맞지 않습니다")
        .assert_contains(&format!("value=\"{}\"", demo::RESIDENT_EMAIL));
    let anonymous_sid = b.cookies.get("naju_sid").cloned().expect("anonymous session cookie");

    let res = b.login(demo::RESIDENT_EMAIL, demo::RESIDENT_PASSWORD);
    res.assert_redirect("/my");
    let cookie = res.set_cookies.iter().find(|c| c.starts_with("naju_sid=")).expect("new session cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let new_sid = b.cookies.get("naju_sid").cloned().unwrap();
    assert_ne!(new_sid, anonymous_sid, "session id renewed at login");

    b.get("/my").assert_status(200).assert_contains("이하늘");

    // The old (pre-login) session no longer exists; only the signed-in one does.
    let signed_in: i64 = sessions::table.filter(sessions::user_id.is_not_null()).count().get_result(&mut app.conn()).unwrap();
    assert_eq!(signed_in, 1);

    let token = b.get("/my").csrf();
    b.post("/logout", &[("csrf_token", &token)]).assert_redirect("/");
    b.get("/my").assert_redirect("/login?next=/my");
}

#[test]
fn repeated_failures_lock_the_account_even_for_the_right_password() {
    let app = spawn_app();
    let mut b = app.browser();
    for attempt in 1..=4 {
        let res = b.login(demo::RESIDENT_EMAIL, "wrong-password-1");
        assert_eq!(res.status, 401, "attempt {attempt}");
    }
    b.login(demo::RESIDENT_EMAIL, "wrong-password-1")
        .assert_status(429)
        .assert_contains("15분 후에 다시 시도해 주세요");
    b.login(demo::RESIDENT_EMAIL, demo::RESIDENT_PASSWORD).assert_status(429);

    // Another account from another client is not affected by this lock...
    let mut staff = app.browser();
    staff.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD).assert_redirect("/staff");
}

#[test]
fn repeated_failures_from_one_ip_lock_that_ip_across_accounts() {
    let app = spawn_app_with(|c| c.login_max_failures_ip = 3);
    let mut b = app.browser();
    b.login("nobody1@example.kr", "wrong-password-1").assert_status(401);
    b.login("nobody2@example.kr", "wrong-password-1").assert_status(401);
    b.login("nobody3@example.kr", "wrong-password-1").assert_status(429);
    // The right password of a real account from the same IP is refused while locked.
    let mut same_ip = app.browser();
    same_ip
        .login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD)
        .assert_status(429)
        .assert_contains("분 후에 다시 시도해 주세요");
}

#[test]
fn state_changing_requests_without_the_csrf_token_are_rejected() {
    let app = spawn_app();
    let mut b = app.browser();
    b.get("/signup");
    let form = signup_form("공격자", "csrf@example.kr");
    b.post("/signup", &form).assert_status(403).assert_contains("보안 확인에 실패했습니다");
    let mut with_wrong = vec![("csrf_token", "0".repeat(64))];
    with_wrong.extend(form.iter().map(|(k, v)| (*k, v.to_string())));
    let wrong: Vec<(&str, &str)> = with_wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post("/signup", &wrong).assert_status(403);
    let created: i64 = users::table.filter(users::email.eq("csrf@example.kr")).count().get_result(&mut app.conn()).unwrap();
    assert_eq!(created, 0, "nothing saved on a CSRF failure");

    // A token from another visitor's session does not work either.
    let mut other = app.browser();
    let foreign = other.get("/login").csrf();
    b.post("/login", &[("csrf_token", &foreign), ("email", demo::STAFF_EMAIL), ("password", demo::STAFF_PASSWORD)])
        .assert_status(403);

    // Only the whole token works: a prefix of it, or it with more after it, does not.
    let token = b.get("/login").csrf();
    for near in [&token[..token.len() - 1], &format!("{token}0")] {
        b.post("/login", &[("csrf_token", near), ("email", demo::STAFF_EMAIL), ("password", demo::STAFF_PASSWORD)])
            .assert_status(403);
    }

    // A form posted from another site is refused even with a valid token.
    b.post_with_headers(
        "/login",
        &[("csrf_token", &token), ("email", demo::STAFF_EMAIL), ("password", demo::STAFF_PASSWORD)],
        &[("Sec-Fetch-Site", "cross-site")],
    )
    .assert_status(403);
}

#[test]
fn every_page_checks_the_role() {
    let app = spawn_app();
    let mut anonymous = app.browser();
    anonymous.get("/staff").assert_redirect("/login?next=/staff");
    anonymous.get("/my/messages").assert_redirect("/login?next=/my/messages");

    let mut resident = app.browser();
    resident.login(demo::RESIDENT_EMAIL, demo::RESIDENT_PASSWORD).assert_redirect("/my");
    resident.get("/staff").assert_status(403).assert_contains("이 페이지를 볼 권한이 없습니다");
    resident.get("/staff/users").assert_status(403);
    resident.get("/contractor").assert_status(403);
    let token = resident.get("/my").csrf();
    let post = resident.post(
        "/staff/users",
        &[("csrf_token", &token), ("role", "staff"), ("name", "x"), ("email", "x@example.kr"), ("phone", "01011112222"), ("password", "abcdefgh12"), ("password_confirm", "abcdefgh12")],
    );
    post.assert_status(403);

    let mut contractor = app.browser();
    contractor.login(demo::CONTRACTOR_EMAIL, demo::CONTRACTOR_PASSWORD).assert_redirect("/contractor");
    contractor.get("/contractor").assert_status(200);
    contractor.get("/staff/users").assert_status(403);
    contractor.get("/my").assert_status(403);

    let mut staff = app.browser();
    staff.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD).assert_redirect("/staff");
    staff.get("/my").assert_status(403);
    staff.get("/staff").assert_status(200);
}

#[test]
fn a_resident_cannot_open_another_residents_record() {
    let app = spawn_app();
    let mut alice = signed_up_resident(&app, "정미래", "mirae@example.kr");
    let mut bora = signed_up_resident(&app, "한보라", "bora@example.kr");
    let alice_message: String = outbox::table
        .inner_join(users::table)
        .filter(users::email.eq("mirae@example.kr"))
        .select(outbox::id)
        .first(&mut app.conn())
        .unwrap();
    alice.get(&format!("/my/messages/{alice_message}")).assert_status(200).assert_contains("정미래");
    let res = bora.get(&format!("/my/messages/{alice_message}"));
    res.assert_status(404).assert_lacks("정미래").assert_contains("찾으시는 페이지가 없습니다");
    bora.get("/my/messages/not-a-real-id").assert_status(404);
}

#[test]
fn staff_create_a_contractor_account_that_can_sign_in() {
    let app = spawn_app();
    let mut staff = app.browser();
    staff.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD).assert_redirect("/staff");
    let bad = staff.submit("/staff/users/new", "/staff/users", &[("role", "mayor"), ("name", ""), ("email", "x"), ("phone", ""), ("password", ""), ("password_confirm", "")]);
    bad.assert_status(422).assert_contains("계정 종류를 선택해 주세요").assert_contains("이름을 입력해 주세요");

    let form = |agency_id: &str| {
        vec![
            ("role", "contractor".to_string()),
            ("agency_id", agency_id.to_string()),
            ("name", "영산강 가사돌봄".to_string()),
            ("email", "agency-new@example.kr".to_string()),
            ("phone", "061-333-4444".to_string()),
            ("password", "agency-pass-01".to_string()),
            ("password_confirm", "agency-pass-01".to_string()),
        ]
    };
    let fields = |f: &[(&'static str, String)]| f.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    let no_agency = fields(&form(""));
    let refs: Vec<(&str, &str)> = no_agency.iter().map(|(k, v)| (*k, v.as_str())).collect();
    staff.submit("/staff/users/new", "/staff/users", &refs).assert_status(422).assert_contains("기관을 골라야 합니다");
    let agency_id = naju_helper::agencies::id_of(&mut app.conn(), "yeongsan-care").unwrap().unwrap();
    let with_agency = fields(&form(&agency_id));
    let refs: Vec<(&str, &str)> = with_agency.iter().map(|(k, v)| (*k, v.as_str())).collect();
    staff.submit("/staff/users/new", "/staff/users", &refs).assert_redirect("/staff/users");
    staff.get("/staff/users").assert_contains("영산강 가사돌봄").assert_contains("· 영산강돌봄</td>").assert_contains("계정을 만들었습니다");

    let mut agency = app.browser();
    agency.login("agency-new@example.kr", "agency-pass-01").assert_redirect("/contractor");
    agency.get("/contractor/visits").assert_status(200);
    let kind: String = outbox::table.filter(outbox::recipient.eq("agency-new@example.kr")).select(outbox::kind).first(&mut app.conn()).unwrap();
    assert_eq!(kind, "account_created");
}

#[test]
fn parallel_password_guesses_cannot_outrun_the_lock() {
    let app = spawn_app();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(20));
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let mut b = app.browser();
            let token = b.get("/login").csrf();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                b.post("/login", &[("csrf_token", &token), ("email", demo::RESIDENT_EMAIL), ("password", "wrong-password-1")]).status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    // Attempts 1-4 may answer "wrong password"; the 5th and every later one is
    // refused, however the 20 interleave. Without counting first, most would
    // have reached the password check.
    assert!((1..=4).contains(&checked), "at most 4 wrong-password answers: {statuses:?}");
    assert_eq!(checked + refused, 20, "{statuses:?}");
    app.browser().login(demo::RESIDENT_EMAIL, demo::RESIDENT_PASSWORD).assert_status(429);
}

#[test]
fn only_supervisors_create_staff_accounts_and_nobody_creates_residents_for_others() {
    let app = spawn_app();
    let mut boss = app.browser();
    boss.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD).assert_redirect("/staff");
    let clerk = [("role", "staff"), ("name", "일반직원"), ("email", "clerk@example.kr"), ("phone", "061-339-1111"), ("password", "clerk-pass-01"), ("password_confirm", "clerk-pass-01")];
    boss.submit("/staff/users/new", "/staff/users", &clerk).assert_redirect("/staff/users");
    let mut b = app.browser();
    b.login("clerk@example.kr", "clerk-pass-01").assert_redirect("/staff");
    let another = [("role", "staff"), ("name", "또다른직원"), ("email", "clerk2@example.kr"), ("phone", "061-339-1112"), ("password", "clerk-pass-02"), ("password_confirm", "clerk-pass-02")];
    b.submit("/staff/users/new", "/staff/users", &another).assert_status(422).assert_contains("관리 권한이 있는 직원만");
    let mut resident = another;
    resident[0] = ("role", "resident");
    b.submit("/staff/users/new", "/staff/users", &resident).assert_status(422).assert_contains("계정 종류를 선택해 주세요");
    let agency_id = naju_helper::agencies::id_of(&mut app.conn(), "naju-care").unwrap().unwrap();
    let mut agency = another.to_vec();
    agency[0] = ("role", "contractor");
    agency.push(("agency_id", &agency_id));
    b.submit("/staff/users/new", "/staff/users", &agency).assert_redirect("/staff/users");
}

#[test]
fn browsing_anonymously_stores_no_session_until_a_form_needs_one() {
    let app = spawn_app();
    let mut b = app.browser();
    for _ in 0..3 {
        b.get("/").assert_status(200);
    }
    assert!(!b.cookies.contains_key("naju_sid"));
    let count = || -> i64 { sessions::table.count().get_result(&mut app.conn()).unwrap() };
    assert_eq!(count(), 0);
    b.get("/login").assert_status(200);
    assert!(b.cookies.contains_key("naju_sid"));
    assert_eq!(count(), 1);
    b.get("/login");
    assert_eq!(count(), 1, "the same session is reused");
}

/// The reset link from the newest password_reset email to `to`.
fn reset_link(app: &common::TestApp, to: &str) -> String {
    common::emailed_link(app, to, "password_reset", "/password/reset/")
}

#[test]
fn a_forgotten_password_is_reset_by_a_one_time_link() {
    let app = spawn_app();
    let mut b = app.browser();
    // Unknown and known addresses get the same answer; only the known one gets mail.
    let unknown = b.submit("/password/forgot", "/password/forgot", &[("email", "nobody@example.kr")]);
    unknown.assert_status(200).assert_contains("가입된 주소라면");
    let mails: i64 = outbox::table.filter(outbox::kind.eq("password_reset")).count().get_result(&mut app.conn()).unwrap();
    assert_eq!(mails, 0);
    let known = b.submit("/password/forgot", "/password/forgot", &[("email", demo::RESIDENT_EMAIL)]);
    assert_eq!(known.body.replace(demo::RESIDENT_EMAIL, ""), unknown.body.replace("nobody@example.kr", ""), "same answer either way");
    let link = reset_link(&app, demo::RESIDENT_EMAIL);

    // A signed-in session elsewhere ends when the password changes.
    let mut elsewhere = app.browser();
    elsewhere.login(demo::RESIDENT_EMAIL, demo::RESIDENT_PASSWORD).assert_redirect("/my");

    let page = b.get(&link);
    page.assert_status(200).assert_contains("새 비밀번호 정하기");
    b.post(&link, &[("csrf_token", &page.csrf()), ("password", "short"), ("password_confirm", "short")])
        .assert_status(422)
        .assert_contains("비밀번호는 영문·숫자·특수문자 중");
    b.post(&link, &[("csrf_token", &page.csrf()), ("password", "new-pass-2026"), ("password_confirm", "new-pass-2026")]).assert_redirect("/login");
    elsewhere.get("/my").assert_redirect("/login?next=/my");
    b.login(demo::RESIDENT_EMAIL, demo::RESIDENT_PASSWORD).assert_status(401);
    b.login(demo::RESIDENT_EMAIL, "new-pass-2026").assert_redirect("/my");

    // The link works once.
    let mut again = app.browser();
    again.get(&link).assert_contains("만료되었거나 이미 사용되었습니다");
    // Posting to the used link anyway (with a valid token of this visitor) changes nothing.
    let token = again.get("/login").csrf();
    again.post(&link, &[("csrf_token", &token), ("password", "other-pass-2026"), ("password_confirm", "other-pass-2026")]).assert_status(410);
    again.login(demo::RESIDENT_EMAIL, "other-pass-2026").assert_status(401);
}

#[test]
fn a_reset_link_expires_after_an_hour() {
    let app = spawn_app();
    let mut b = app.browser();
    b.submit("/password/forgot", "/password/forgot", &[("email", demo::STAFF_EMAIL)]);
    let link = reset_link(&app, demo::STAFF_EMAIL);
    use naju_helper::db::schema::password_resets;
    diesel::update(password_resets::table)
        .set(password_resets::expires_at.eq(naju_helper::time::now_utc() - chrono::Duration::seconds(1)))
        .execute(&mut app.conn())
        .unwrap();
    b.get(&link).assert_contains("만료되었거나 이미 사용되었습니다");
}

#[test]
fn page_views_write_the_session_only_once_half_its_idle_time_is_gone() {
    let app = spawn_app();
    let mut b = app.browser();
    b.login(demo::RESIDENT_EMAIL, demo::RESIDENT_PASSWORD).assert_redirect("/my");
    let user_id: String = users::table.filter(users::email.eq(demo::RESIDENT_EMAIL)).select(users::id).first(&mut app.conn()).unwrap();
    let session = || -> (String, chrono::NaiveDateTime) {
        sessions::table.filter(sessions::user_id.eq(&user_id)).select((sessions::id, sessions::expires_at)).first(&mut app.conn()).unwrap()
    };
    let set_expiry = |at: chrono::NaiveDateTime| {
        diesel::update(sessions::table.filter(sessions::user_id.eq(&user_id))).set(sessions::expires_at.eq(at)).execute(&mut app.conn()).unwrap();
    };
    let now = naju_helper::time::now_utc;

    // 20 of the 30 idle minutes left: page views read the session and write nothing.
    // Whole seconds, so the value reads back equal on both backends.
    let left_20 = chrono::Timelike::with_nanosecond(&(now() + chrono::Duration::minutes(20)), 0).unwrap();
    set_expiry(left_20);
    b.get("/my").assert_status(200);
    b.get("/my/visits").assert_status(200);
    assert_eq!(session().1, left_20, "no write while more than half the idle time is left");

    // The home page (`Page::db_inline`) reads only and leaves the session's
    // write to the blocking pool after the page: wait for it, up to 5 s.
    let eventually = |what: &str, done: &dyn Fn() -> bool| {
        for _ in 0..50 {
            if done() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("{what}: not written within 5 s");
    };

    // 10 minutes left: the next page view slides the expiry to a full idle time.
    for page in ["/my", "/my/visits"] {
        set_expiry(now() + chrono::Duration::minutes(10));
        let before = now();
        b.get(page).assert_status(200);
        eventually(&format!("{page}: the expiry slid to about 30 minutes"), &|| {
            session().1 >= before + chrono::Duration::minutes(30) - chrono::Duration::seconds(1)
        });
    }

    // An expired session is gone: the page asks for a login again.
    set_expiry(now() - chrono::Duration::seconds(1));
    b.get("/my").assert_redirect("/login?next=/my");
    let left = || -> i64 { sessions::table.filter(sessions::user_id.eq(&user_id)).count().get_result(&mut app.conn()).unwrap() };
    eventually("the expired session removed", &|| left() == 0);
}
