//! Email is queued with the change that causes it and survives delivery failures.

mod common;

use std::time::Duration;

use common::smtp::{free_port, SmtpSink};
use common::{signed_up_resident, spawn_app, spawn_app_with};
use diesel::prelude::*;
use naju_helper::config::{SmtpConfig, SmtpSecurity};
use naju_helper::db::schema::outbox;

#[test]
fn mail_survives_an_smtp_outage_and_is_delivered_on_retry() {
    let port = free_port();
    let app = spawn_app_with(|c| {
        c.smtp = Some(SmtpConfig { host: "127.0.0.1".into(), port, security: SmtpSecurity::None, username: None, password: None })
    });
    let _resident = signed_up_resident(&app, "오다은", "daeun@example.kr");

    // Nothing listens yet: the first attempt fails, the message stays queued.
    let (attempts, error) = app.wait_for("a failed delivery attempt", Duration::from_secs(20), |conn| {
        outbox::table
            .filter(outbox::recipient.eq("daeun@example.kr"))
            .select((outbox::status, outbox::attempts, outbox::last_error))
            .first::<(String, i32, Option<String>)>(conn)
            .ok()
            .filter(|(_, attempts, _)| *attempts >= 1)
            .map(|(status, attempts, error)| {
                assert_eq!(status, "pending", "a failed message stays pending");
                (attempts, error)
            })
    });
    assert!(attempts >= 1);
    assert!(error.is_some(), "the failure is recorded on the message");

    // The mail server comes back: the retry delivers it, exactly once.
    let sink = SmtpSink::start_on(port);
    let received = sink.wait_for_messages(1, Duration::from_secs(20));
    let sent_at = app.wait_for("the message to be marked sent", Duration::from_secs(10), |conn| {
        outbox::table
            .filter(outbox::recipient.eq("daeun@example.kr"))
            .filter(outbox::status.eq("sent"))
            .select(outbox::sent_at)
            .first::<Option<chrono::NaiveDateTime>>(conn)
            .ok()
            .flatten()
    });
    assert!(sent_at > chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap());
    let message = &received[0];
    assert!(message.contains("daeun@example.kr"), "{message}");
    assert!(message.contains("Subject:"), "{message}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sink.messages().len(), 1, "delivered once, not again");
}

#[test]
fn without_smtp_mail_is_written_as_eml_files() {
    let app = spawn_app();
    let _resident = signed_up_resident(&app, "윤소망", "somang@example.kr");
    let dir = app.data_dir.join("outbox");
    let file = app.wait_for("an .eml file", Duration::from_secs(10), |_| {
        std::fs::read_dir(&dir)
            .ok()?
            .filter_map(|e| e.ok())
            .find(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .map(|e| e.path())
    });
    let content = std::fs::read_to_string(file).unwrap();
    assert!(content.contains("somang@example.kr"), "{content}");
    let status: String = outbox::table
        .filter(outbox::recipient.eq("somang@example.kr"))
        .select(outbox::status)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(status, "sent");
}

#[test]
fn a_resident_sees_copies_of_her_messages() {
    let app = spawn_app();
    let mut b = signed_up_resident(&app, "배나래", "narae@example.kr");
    let page = b.get("/my/messages");
    page.assert_status(200).assert_contains("나주헬퍼 회원가입을 환영합니다");
}
