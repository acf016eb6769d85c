//! Notices by text message: a resident chooses SMS at sign-up and proves her
//! mobile number with a code sent by SMS; her notices then go by text through
//! the same outbox, to NAVER Cloud SENS (here a local server that checks each
//! request against SENS's published format), with retries and the failed
//! state; in development texts are files in DATA_DIR/sms.

mod common;

use std::time::Duration;

use common::sens::{euc_kr_bytes, SensServer};
use common::{signed_up_resident, signup_form, spawn_app_with, today, Browser, TestApp};
use diesel::prelude::*;
use naju_helper::db::schema::{clinic_programs, mobile_verifications, outbox, users};
use naju_helper::demo;

const WAIT: Duration = Duration::from_secs(20);

fn app_with_sens(sens: &SensServer, max_attempts: i32) -> TestApp {
    let settings = sens.settings();
    spawn_app_with(move |c| {
        c.sms = settings;
        c.outbox_max_attempts = max_attempts;
    })
}

/// The six digits of the code in a text.
fn code_in(text: &str) -> String {
    let digits: Vec<char> = text.chars().collect();
    (0..digits.len().saturating_sub(5))
        .map(|i| digits[i..i + 6].iter().collect::<String>())
        .find(|w| w.chars().all(|c| c.is_ascii_digit()))
        .unwrap_or_else(|| panic!("a six-digit code in {text:?}"))
}

/// Books the first childbirth class at least two days away: a notice
/// (clinic_booked) for the resident.
fn book_class(app: &TestApp, b: &mut Browser) {
    let (session, slot) = common::clinic_slot(app, "childbirth_class");
    let due = (today() + chrono::Duration::days(120)).to_string();
    let token = b.get(&format!("/clinic/sessions/{session}")).csrf();
    b.post("/clinic/bookings", &[("csrf_token", &token), ("session_id", &session), ("slot_id", &slot), ("due_date", &due)]).assert_redirect("/my/clinic");
}

/// (channel, recipient, status, attempts) of every `kind` message to the user.
fn messages(app: &TestApp, email: &str, kind: &str) -> Vec<(String, String, String, i32)> {
    outbox::table
        .inner_join(users::table)
        .filter(users::email.eq(email))
        .filter(outbox::kind.eq(kind))
        .select((outbox::channel, outbox::recipient, outbox::status, outbox::attempts))
        .load(&mut app.conn())
        .unwrap()
}

/// A resident whose notices go by SMS to `mobile` (proven: the sign-up
/// journey below shows how she gets there).
fn resident_by_sms(app: &TestApp, name: &str, email: &str, mobile: &str) -> Browser {
    let b = signed_up_resident(app, name, email);
    diesel::update(users::table.filter(users::email.eq(email)))
        .set((users::notify_channels.eq("sms"), users::mobile.eq(Some(mobile))))
        .execute(&mut app.conn())
        .unwrap();
    b
}

#[test]
fn signing_up_for_sms_proves_the_number_and_her_booking_notice_comes_by_text() {
    let sens = SensServer::start();
    let app = app_with_sens(&sens, 24);
    let mut b = app.browser();
    let mut form = signup_form("문자받음", "text@example.kr");
    form.retain(|(k, _)| *k != "phone");
    form.push(("phone", "010 2345 6789"));
    form.push(("notify_channels", "sms"));
    b.get("/signup").assert_contains("name=\"notify_channels\" value=\"sms\"");
    b.submit("/signup", "/signup", &form).assert_status(200).assert_contains("메일함을 확인해 주세요");
    common::confirm_signup(&app, &mut b, "text@example.kr").assert_redirect("/my/notices");

    // The code arrives by SMS: a short text, sent as an SMS, to her number in digits.
    let text = sens.wait_for("010-2345-6789", WAIT, |r| r.status == 202);
    assert_eq!(text.kind, "SMS");
    assert!(euc_kr_bytes(&text.content) <= 90, "{}", text.content);
    assert!(text.content.contains("확인 번호"), "{}", text.content);
    let code = code_in(&text.content);
    let page = b.get("/my/notices");
    page.assert_status(200).assert_contains("010-2345-6789").assert_contains("id=\"code-form\"");
    page.assert_lacks(&code);
    let hash: String = mobile_verifications::table.select(mobile_verifications::code_hash).first(&mut app.conn()).unwrap();
    assert_ne!(hash, code, "the code is kept only as its hash");
    let (choice, proven): (String, Option<String>) = users::table.filter(users::email.eq("text@example.kr")).select((users::notify_channels, users::mobile)).first(&mut app.conn()).unwrap();
    assert_eq!((choice.as_str(), proven), ("email", None), "not in force before the number is proven");

    // A wrong code is refused and counted; the right one proves the number.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    b.submit("/my/notices", "/my/notices/verify", &[("code", wrong)]).assert_status(422).assert_contains("4번 더");
    b.submit("/my/notices", "/my/notices/verify", &[("code", &code)]).assert_redirect("/my/notices");
    b.get("/my/notices").assert_contains("확인했습니다").assert_contains("<dd id=\"proven-mobile\">010-2345-6789</dd>");
    let (choice, proven): (String, Option<String>) = users::table.filter(users::email.eq("text@example.kr")).select((users::notify_channels, users::mobile)).first(&mut app.conn()).unwrap();
    assert_eq!((choice.as_str(), proven.as_deref()), ("sms", Some("010-2345-6789")));
    assert_eq!(mobile_verifications::table.count().get_result::<i64>(&mut app.conn()).unwrap(), 0);
    let code_text = app.wait_for("the code's text marked sent", WAIT, |conn| {
        outbox::table
            .filter(outbox::kind.eq("mobile_code"))
            .filter(outbox::status.eq("sent"))
            .select(outbox::body_text)
            .first::<String>(conn)
            .ok()
    });
    assert!(!code_text.contains(&code), "the sent code is not kept in the outbox");

    // Her booking notice goes by text only.
    book_class(&app, &mut b);
    let notice = sens.wait_for("010-2345-6789", WAIT, |r| r.content.contains("예약"));
    assert!(notice.content.starts_with("[나주시]"), "{}", notice.content);
    assert_eq!(notice.kind == "LMS", euc_kr_bytes(&notice.content) > 90, "type follows the EUC-KR length");
    assert_eq!(notice.subject.is_some(), notice.kind == "LMS");
    let sent = app.wait_for("the notice marked sent", WAIT, |_| {
        let rows = messages(&app, "text@example.kr", "clinic_booked");
        rows.iter().all(|r| r.2 == "sent").then_some(rows)
    });
    assert_eq!(sent, vec![("sms".to_string(), "010-2345-6789".to_string(), "sent".to_string(), 1)], "by SMS, not email");
    sens.assert_all_requests_well_formed();
}

#[test]
fn choosing_both_on_her_account_page_sends_email_and_text() {
    let sens = SensServer::start();
    let app = app_with_sens(&sens, 24);
    let mut b = signed_up_resident(&app, "둘다", "both@example.kr");
    b.submit("/my/notices", "/my/notices", &[("notify_channels", "both"), ("mobile", "02-123-4567")]).assert_status(422).assert_contains("010-1234-5678 형식");
    b.submit("/my/notices", "/my/notices", &[("notify_channels", "both"), ("mobile", "01098765432")]).assert_redirect("/my/notices");
    let code = code_in(&sens.wait_for("010-9876-5432", WAIT, |r| r.status == 202).content);
    // A second code within the minute is refused.
    b.submit("/my/notices", "/my/notices/resend", &[]).assert_status(429);
    b.submit("/my/notices", "/my/notices/verify", &[("code", &code)]).assert_redirect("/my/notices");
    book_class(&app, &mut b);
    let rows = app.wait_for("both notices sent", WAIT, |_| {
        let mut rows = messages(&app, "both@example.kr", "clinic_booked");
        rows.sort();
        (rows.len() == 2 && rows.iter().all(|r| r.2 == "sent")).then_some(rows)
    });
    assert_eq!(rows[0].0, "email");
    assert_eq!((rows[1].0.as_str(), rows[1].1.as_str()), ("sms", "010-9876-5432"));
    sens.assert_all_requests_well_formed();
}

#[test]
fn a_text_sens_refuses_for_good_ends_failed_and_staff_resend_it_to_a_corrected_number() {
    let sens = SensServer::start();
    sens.answer("010-4444-0000", &[400]);
    let app = app_with_sens(&sens, 8);
    let mut b = resident_by_sms(&app, "번호틀림", "wrong@example.kr", "010-4444-0000");
    book_class(&app, &mut b);
    let failed = app.wait_for("the text to fail", WAIT, |_| {
        let rows = messages(&app, "wrong@example.kr", "clinic_booked");
        rows.first().filter(|r| r.2 == "failed").cloned()
    });
    assert_eq!(failed, ("sms".to_string(), "010-4444-0000".to_string(), "failed".to_string(), 1), "a 400 is not tried again");
    let (id, reason): (String, Option<String>) = outbox::table.filter(outbox::kind.eq("clinic_booked")).select((outbox::id, outbox::last_error)).first(&mut app.conn()).unwrap();
    assert!(reason.unwrap_or_default().contains("400"));

    let mut staff = app.browser();
    staff.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD).assert_redirect("/staff");
    staff.get("/staff/messages/failed").assert_status(200).assert_contains("010-4444-0000").assert_contains("class=\"channel-sms\"");
    let page = format!("/staff/messages/failed/{id}");
    staff.get(&page).assert_contains("type=\"tel\"");
    staff.submit(&page, &page, &[("recipient", "not-a-number@example.kr")]).assert_status(422);
    staff.submit(&page, &page, &[("recipient", "010-4444-1111")]).assert_redirect("/staff/messages/failed");
    sens.wait_for("010-4444-1111", WAIT, |r| r.status == 202 && r.content.contains("예약"));
    app.wait_for("the resent text sent", WAIT, |conn| {
        outbox::table.find(&id).select(outbox::status).first::<String>(conn).ok().filter(|s| s == "sent")
    });
    sens.assert_all_requests_well_formed();
}

#[test]
fn a_text_sens_cannot_take_now_is_retried_until_it_is_accepted() {
    let sens = SensServer::start();
    sens.answer("010-5555-0000", &[500, 429]);
    let app = app_with_sens(&sens, 8);
    // A long class name makes the notice longer than an SMS: it goes as an LMS.
    let long_name = "출산 준비 교실 (분만 과정, 호흡법, 신생아 돌보기, 모유 수유 준비, 산후 회복과 우울 예방)";
    diesel::update(clinic_programs::table.filter(clinic_programs::code.eq("childbirth_class")))
        .set(clinic_programs::name_ko.eq(long_name))
        .execute(&mut app.conn())
        .unwrap();
    let mut b = resident_by_sms(&app, "재시도", "retry@example.kr", "010-5555-0000");
    book_class(&app, &mut b);
    let sent = app.wait_for("the text sent on the third attempt", WAIT, |_| {
        let rows = messages(&app, "retry@example.kr", "clinic_booked");
        rows.first().filter(|r| r.2 == "sent").cloned()
    });
    assert_eq!(sent.3, 3, "two refusals, then accepted");
    let requests: Vec<_> = sens.requests().into_iter().filter(|r| r.to == "01055550000").collect();
    assert_eq!(requests.iter().map(|r| r.status).collect::<Vec<_>>(), vec![500, 429, 202]);
    let accepted = &requests[2];
    assert!(euc_kr_bytes(&accepted.content) > 90 && accepted.content.contains(long_name), "{}", accepted.content);
    assert_eq!(accepted.kind, "LMS");
    let subject = accepted.subject.clone().unwrap_or_default();
    assert!(subject.starts_with("[나주시]") && euc_kr_bytes(&subject) <= 40, "{subject}");
    sens.assert_all_requests_well_formed();
}

#[test]
fn in_development_each_text_is_a_file_in_the_data_directory() {
    let app = spawn_app_with(|c| c.sms = naju_helper::config::SmsSettings::File);
    let mut b = resident_by_sms(&app, "파일", "file@example.kr", "010-7777-8888");
    book_class(&app, &mut b);
    let dir = app.data_dir.join("sms");
    let content = app.wait_for("a text file", WAIT, |_| {
        std::fs::read_dir(&dir)
            .ok()?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "txt"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .find(|c| c.contains("To: 01077778888"))
    });
    assert!(content.contains("예약"), "{content}");
    assert!(content.contains("Type: SMS") || content.contains("Type: LMS"), "{content}");
    let rows = messages(&app, "file@example.kr", "clinic_booked");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "sms");
}

// ---- only what will be sent is rendered (issue 15) ----

#[test]
fn with_sms_on_a_notice_is_rendered_only_for_the_channels_she_chose() {
    use naju_helper::notify::{Email, Notifier};
    let sens = SensServer::start();
    let app = app_with_sens(&sens, 24);
    signed_up_resident(&app, "메일만", "mail-only@example.kr");
    resident_by_sms(&app, "문자만", "text-only@example.kr", "010-3333-4444");
    let id_of = |email: &str| -> String { users::table.filter(users::email.eq(email)).select(users::id).first(&mut app.conn()).unwrap() };
    let (mail_id, text_id) = (id_of("mail-only@example.kr"), id_of("text-only@example.kr"));
    let i18n = std::sync::Arc::new(naju_helper::i18n::I18n::load().unwrap());
    let templates = std::sync::Arc::new(naju_helper::state::Templates::load(&i18n).unwrap());
    let notifier = Notifier::new(templates, i18n, "나주시".into(), app.base.clone()).with_sms(true);
    fn welcome<'a>(user_id: &'a str, to: &'a str) -> Email<'a> {
        let mut context = tera::Context::new();
        context.insert("name", "알림");
        context.insert("role_key", "resident");
        Email { user_id: Some(user_id), to, kind: "welcome", lang: naju_helper::i18n::Lang::Ko, context }
    }
    let (mail_id, text_id) = (mail_id.as_str(), text_id.as_str());
    let mut conn = app.conn();
    let by_mail = notifier.render(&mut conn, welcome(mail_id, "mail-only-2@example.kr")).unwrap();
    assert_eq!(by_mail.channels(), "email", "no text rendered for a resident who chose email");
    let by_text = notifier.render(&mut conn, welcome(text_id, "text-only-2@example.kr")).unwrap();
    assert_eq!(by_text.channels(), "sms", "no email rendered for a resident who chose SMS");
    naju_helper::db::write_tx(&mut conn, |c| notifier.queue(c, &by_mail)).unwrap();
    let rows: Vec<(String, String)> = outbox::table.filter(outbox::recipient.eq("mail-only-2@example.kr")).select((outbox::channel, outbox::body_text)).load(&mut conn).unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].0 == "email" && rows[0].1.contains("알림"), "{rows:?}");

    // She switches to email between the rendering and the transaction: the
    // email is rendered there, and she gets it, not the text.
    diesel::update(users::table.find(text_id)).set(users::notify_channels.eq("email")).execute(&mut conn).unwrap();
    naju_helper::db::write_tx(&mut conn, |c| notifier.queue(c, &by_text)).unwrap();
    let rows: Vec<(String, String, String)> = outbox::table
        .filter(outbox::user_id.eq(text_id))
        .filter(outbox::kind.eq("welcome"))
        .filter(outbox::recipient.eq_any(["text-only-2@example.kr", "010-3333-4444"]))
        .select((outbox::channel, outbox::recipient, outbox::body_text))
        .load(&mut conn)
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].0 == "email" && rows[0].1 == "text-only-2@example.kr" && rows[0].2.contains("알림"), "{rows:?}");
}
