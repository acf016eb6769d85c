//! Email is queued with the change that causes it and survives delivery
//! failures; what cannot be delivered ends as failed, and staff resend it.

mod common;

use std::time::Duration;

use common::smtp::{free_port, SmtpSink};
use common::{access_log_chained, signed_up_resident, spawn_app, spawn_app_with, Browser, TestApp};
use diesel::prelude::*;
use naju_helper::config::{SmtpConfig, SmtpSecurity};
use naju_helper::db::schema::{access_log, outbox};
use naju_helper::demo;

#[test]
fn mail_survives_an_smtp_outage_and_is_delivered_on_retry() {
    let port = free_port();
    let app = spawn_app_with(|c| {
        c.smtp = Some(SmtpConfig { host: "127.0.0.1".into(), port, security: SmtpSecurity::None, username: None, password: None })
    });
    let _resident = signed_up_resident(&app, "오다은", "daeun@example.kr");

    let welcome: String = outbox::table
        .filter(outbox::recipient.eq("daeun@example.kr"))
        .filter(outbox::kind.eq("welcome"))
        .select(outbox::id)
        .first(&mut app.conn())
        .expect("a welcome message");

    // Nothing listens yet: the first attempt fails, the message stays queued.
    let (attempts, error) = app.wait_for("a failed delivery attempt", Duration::from_secs(20), |conn| {
        outbox::table
            .find(&welcome)
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
    let message_id = format!("Message-ID: <{welcome}@naju-helper>");
    let message = sink.wait_for_message(Duration::from_secs(20), |m| m.contains(&message_id));
    let sent_at = app.wait_for("the message to be marked sent", Duration::from_secs(10), |conn| {
        outbox::table
            .find(&welcome)
            .filter(outbox::status.eq("sent"))
            .select(outbox::sent_at)
            .first::<Option<chrono::NaiveDateTime>>(conn)
            .ok()
            .flatten()
    });
    assert!(sent_at > chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap());
    assert!(message.contains("To: daeun@example.kr"), "{message}");
    assert!(message.contains("Subject:"), "{message}");
    std::thread::sleep(Duration::from_millis(500));
    let copies = sink.messages().iter().filter(|m| m.contains(&message_id)).count();
    assert_eq!(copies, 1, "delivered once, not again");
}

#[test]
fn without_smtp_mail_is_written_as_eml_files() {
    let app = spawn_app();
    let _resident = signed_up_resident(&app, "윤소망", "somang@example.kr");
    let dir = app.data_dir.join("outbox");
    // Other mail (the supervisors' daily access-log anchor) may be there too.
    let content = app.wait_for("an .eml file to her", Duration::from_secs(10), |_| {
        std::fs::read_dir(&dir)
            .ok()?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .find(|content| content.contains("To: somang@example.kr"))
    });
    assert!(content.contains("Subject:"), "{content}");
    // Both her messages (the sign-up link and the welcome) end as sent.
    app.wait_for("both messages sent", Duration::from_secs(10), |conn| {
        let statuses: Vec<String> = outbox::table.filter(outbox::recipient.eq("somang@example.kr")).select(outbox::status).load(conn).ok()?;
        (statuses.len() == 2 && statuses.iter().all(|s| s == "sent")).then_some(())
    });
}

#[test]
fn a_resident_sees_copies_of_her_messages() {
    let app = spawn_app();
    let mut b = signed_up_resident(&app, "배나래", "narae@example.kr");
    let page = b.get("/my/messages");
    page.assert_status(200).assert_contains("나주헬퍼 회원가입을 환영합니다");
}

/// An app that delivers through `sink` and gives up after `max_attempts`.
fn app_sending_to(sink: &SmtpSink, max_attempts: i32) -> TestApp {
    let port = sink.port;
    spawn_app_with(move |c| {
        c.smtp = Some(SmtpConfig { host: "127.0.0.1".into(), port, security: SmtpSecurity::None, username: None, password: None });
        c.outbox_max_attempts = max_attempts;
    })
}

/// Status, attempts and reason of the message to `recipient` once it has failed.
fn wait_until_failed(app: &TestApp, recipient: &str) -> (i32, String) {
    app.wait_for("the message to fail", Duration::from_secs(20), |conn| {
        outbox::table
            .filter(outbox::recipient.eq(recipient))
            .filter(outbox::status.eq("failed"))
            .select((outbox::attempts, outbox::last_error, outbox::failed_at))
            .first::<(i32, Option<String>, Option<chrono::NaiveDateTime>)>(conn)
            .ok()
            .map(|(attempts, reason, failed_at)| {
                assert!(failed_at.is_some(), "the time of failure is kept");
                (attempts, reason.unwrap_or_default())
            })
    })
}

/// A supervisor signs in and creates a staff account for `email`, which
/// queues an "account created" email to it. Returns her browser.
fn staff_create_account_for(app: &TestApp, email: &str) -> Browser {
    let mut staff = app.browser();
    staff.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD).assert_redirect("/staff");
    let form = [
        ("role", "staff"),
        ("name", "김직원"),
        ("email", email),
        ("phone", "061-339-4444"),
        ("password", "staff-pass-01"),
        ("password_confirm", "staff-pass-01"),
    ];
    staff.submit("/staff/users/new", "/staff/users", &form).assert_redirect("/staff/users");
    staff
}

fn message_id(app: &TestApp, recipient: &str) -> String {
    outbox::table.filter(outbox::recipient.eq(recipient)).select(outbox::id).first(&mut app.conn()).expect("a message")
}

#[test]
fn a_recipient_refused_for_good_ends_failed_after_one_attempt_with_the_reason() {
    let sink = SmtpSink::start();
    sink.refuse_recipient("clerk@exmaple.kr", "550 5.1.1 <clerk@exmaple.kr>: Recipient address rejected");
    let app = app_sending_to(&sink, 8);
    let _staff = staff_create_account_for(&app, "clerk@exmaple.kr");

    let (attempts, reason) = wait_until_failed(&app, "clerk@exmaple.kr");
    assert_eq!(attempts, 1, "a 5xx is not tried again");
    assert!(reason.contains("550") && reason.contains("Recipient address rejected"), "{reason}");
    assert_eq!(sink.refusals_for("clerk@exmaple.kr"), vec!["RCPT clerk@exmaple.kr".to_string()]);
    assert!(sink.messages().iter().all(|m| !m.contains("clerk@exmaple.kr")));
}

/// A new staff member's account email to a sink that answers the end of every
/// message's DATA with `reply`, followed until it fails.
fn refused_after_content(reply: &str, max_attempts: i32) -> (SmtpSink, i32, String) {
    let sink = SmtpSink::start();
    sink.answer_data_with(Some(reply));
    let app = app_sending_to(&sink, max_attempts);
    let _staff = staff_create_account_for(&app, "clerk@example.kr");
    let (attempts, reason) = wait_until_failed(&app, "clerk@example.kr");
    (sink, attempts, reason)
}

#[test]
fn a_message_refused_for_good_after_its_content_ends_failed_after_one_attempt() {
    let (sink, attempts, reason) = refused_after_content("554 5.7.1 message rejected as spam", 8);
    assert_eq!(attempts, 1);
    assert!(reason.contains("554"), "{reason}");
    assert_eq!(sink.refusals_for("clerk@example.kr"), vec!["DATA clerk@example.kr".to_string()]);
}

#[test]
fn a_temporary_refusal_is_retried_and_fails_after_the_last_attempt() {
    let (sink, attempts, reason) = refused_after_content("451 4.3.0 mailbox busy, try again later", 3);
    assert_eq!(attempts, 3, "OUTBOX_MAX_ATTEMPTS attempts, then it stops");
    assert!(reason.contains("451"), "{reason}");
    let refusals = sink.refusals_for("clerk@example.kr");
    assert_eq!(refusals.len(), 3, "the sink saw every attempt: {refusals:?}");
    assert!(sink.messages().iter().all(|m| !m.contains("To: clerk@example.kr")));
}

#[test]
fn staff_correct_the_address_of_a_failed_message_and_the_resent_message_is_delivered() {
    let sink = SmtpSink::start();
    sink.refuse_recipient("clerk@exmaple.kr", "550 5.1.1 <clerk@exmaple.kr>: Recipient address rejected");
    let app = app_sending_to(&sink, 8);
    let mut staff = staff_create_account_for(&app, "clerk@exmaple.kr");
    wait_until_failed(&app, "clerk@exmaple.kr");
    let id = message_id(&app, "clerk@exmaple.kr");

    // The staff desk counts it and links to the list.
    staff
        .get("/staff")
        .assert_status(200)
        .assert_contains("<dd id=\"outbox-failed\">1</dd>")
        .assert_contains("href=\"/staff/messages/failed\"");
    staff
        .get("/staff/messages/failed")
        .assert_status(200)
        .assert_contains("보내지 못한 메일")
        .assert_contains("clerk@exmaple.kr")
        .assert_contains("account_created")
        .assert_contains("<td>1</td>")
        .assert_contains("Recipient address rejected");
    let page = staff.get(&format!("/staff/messages/failed/{id}"));
    page.assert_status(200).assert_contains("value=\"clerk@exmaple.kr\"").assert_lacks("id=\"address-bound\"");

    // A mistyped correction is explained and changes nothing.
    let path = format!("/staff/messages/failed/{id}");
    staff
        .post(&path, &[("csrf_token", &page.csrf()), ("recipient", "clerk@")])
        .assert_status(422)
        .assert_contains("이메일 주소 형식이 올바르지 않습니다")
        .assert_contains("value=\"clerk@\"");
    let status: String = outbox::table.find(&id).select(outbox::status).first(&mut app.conn()).unwrap();
    assert_eq!(status, "failed");

    staff.post(&path, &[("csrf_token", &page.csrf()), ("recipient", " Clerk@Example.kr ")]).assert_redirect("/staff/messages/failed");
    staff.get("/staff/messages/failed").assert_contains("다시 보내도록").assert_lacks("clerk@exmaple.kr");

    // The sink accepts the corrected address, and the row says so.
    let received = sink.wait_for_message(Duration::from_secs(20), |m| m.contains(&format!("Message-ID: <{id}@naju-helper>")));
    assert!(received.contains("To: clerk@example.kr"), "{received}");
    let (recipient, attempts, error) = app.wait_for("the resent message to be sent", Duration::from_secs(10), |conn| {
        outbox::table
            .find(&id)
            .filter(outbox::status.eq("sent"))
            .select((outbox::recipient, outbox::attempts, outbox::last_error))
            .first::<(String, i32, Option<String>)>(conn)
            .ok()
    });
    assert_eq!((recipient.as_str(), attempts, error), ("clerk@example.kr", 1, None), "attempts counted from zero again");

    // The correction and the resend are in the access log, against this message.
    access_log_chained(&app);
    let logged: Vec<(String, String)> = access_log::table
        .filter(access_log::record_id.eq(&id))
        .order(access_log::seq.asc())
        .select((access_log::action, access_log::reason))
        .load(&mut app.conn())
        .unwrap();
    let actions: Vec<&str> = logged.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(actions, ["view", "view", "change", "resend"], "{logged:?}");
    assert!(logged[2].1.contains("clerk@exmaple.kr") && logged[2].1.contains("clerk@example.kr"), "{logged:?}");
}

#[test]
fn a_message_with_a_personal_link_is_resent_only_to_its_own_address() {
    let sink = SmtpSink::start();
    sink.refuse_recipient(demo::RESIDENT_EMAIL, "550 5.2.1 mailbox disabled");
    let app = app_sending_to(&sink, 8);
    app.browser().submit("/password/forgot", "/password/forgot", &[("email", demo::RESIDENT_EMAIL)]).assert_status(200);
    wait_until_failed(&app, demo::RESIDENT_EMAIL);
    let id = message_id(&app, demo::RESIDENT_EMAIL);

    // The resident's copy says it did not arrive.
    let mut resident = app.browser();
    resident.login(demo::RESIDENT_EMAIL, demo::RESIDENT_PASSWORD).assert_redirect("/my");
    resident.get("/my/messages").assert_contains("보내지 못함");

    let mut staff = app.browser();
    staff.login(demo::STAFF_EMAIL, demo::STAFF_PASSWORD).assert_redirect("/staff");
    let path = format!("/staff/messages/failed/{id}");
    let page = staff.get(&path);
    page.assert_status(200).assert_contains("id=\"address-bound\"").assert_lacks("type=\"email\"");
    // A forged "correction" is refused: the reset link goes nowhere else.
    staff
        .post(&path, &[("csrf_token", &page.csrf()), ("recipient", "someone-else@example.kr")])
        .assert_status(409)
        .assert_contains("원래 주소로만");
    let (status, recipient): (String, String) =
        outbox::table.find(&id).select((outbox::status, outbox::recipient)).first(&mut app.conn()).unwrap();
    assert_eq!((status.as_str(), recipient.as_str()), ("failed", demo::RESIDENT_EMAIL));

    // The mailbox works again: resent to the same address, it arrives.
    sink.accept_all();
    staff.post(&path, &[("csrf_token", &page.csrf()), ("recipient", demo::RESIDENT_EMAIL)]).assert_redirect("/staff/messages/failed");
    let received = sink.wait_for_message(Duration::from_secs(20), |m| m.contains(&format!("Message-ID: <{id}@naju-helper>")));
    assert!(received.contains(&format!("To: {}", demo::RESIDENT_EMAIL)), "{received}");
}

#[test]
fn a_message_rendered_before_its_transaction_is_rendered_again_when_its_data_changed_meanwhile() {
    use naju_helper::notify::{Email, Notifier};
    let app = spawn_app();
    let i18n = std::sync::Arc::new(naju_helper::i18n::I18n::load().unwrap());
    let templates = std::sync::Arc::new(naju_helper::state::Templates::load(&i18n).unwrap());
    let notifier = Notifier::new(templates, i18n, "나주시".into(), app.base.clone());
    let welcome = |name: &str| {
        let mut context = tera::Context::new();
        context.insert("name", name);
        context.insert("role_key", "resident");
        Email { user_id: None, to: "rename@example.kr", kind: "welcome", lang: naju_helper::i18n::Lang::Ko, context }
    };
    let mut conn = app.conn();
    // Rendered from the name read before the transaction; inside it the name is another.
    let ready = notifier.render(&mut conn, welcome("옛이름")).unwrap();
    naju_helper::db::write_tx(&mut conn, |c| notifier.enqueue_prepared(c, welcome("새이름"), Some(&ready))).unwrap();
    let body: String = outbox::table.filter(outbox::recipient.eq("rename@example.kr")).select(outbox::body_text).first(&mut conn).unwrap();
    assert!(body.contains("새이름") && !body.contains("옛이름"), "{body}");
}

// ---- notices whose recipients only the transaction knows (issue 15) ----

/// A notifier as the app builds it, for driving `write_tx_with_notices` directly.
fn notifier(app: &TestApp) -> naju_helper::notify::Notifier {
    let i18n = std::sync::Arc::new(naju_helper::i18n::I18n::load().unwrap());
    let templates = std::sync::Arc::new(naju_helper::state::Templates::load(&i18n).unwrap());
    naju_helper::notify::Notifier::new(templates, i18n, "나주시".into(), app.base.clone())
}

fn welcome_to<'a>(to: &'a str, name: &str) -> naju_helper::notify::Email<'a> {
    let mut context = tera::Context::new();
    context.insert("name", name);
    context.insert("role_key", "resident");
    naju_helper::notify::Email { user_id: None, to, kind: "welcome", lang: naju_helper::i18n::Lang::Ko, context }
}

fn bodies_to(conn: &mut naju_helper::db::DbConn, to: &str) -> Vec<String> {
    outbox::table.filter(outbox::recipient.eq(to)).select(outbox::body_text).load(conn).unwrap()
}

#[test]
fn notices_prepared_for_recipients_that_changed_meanwhile_are_prepared_again_before_the_transaction() {
    let app = spawn_app();
    let notifier = notifier(&app);
    let mut conn = app.conn();
    // The transaction finds another name than the one read before it, once:
    // it is rolled back (nothing of it stays), prepared again, and run again.
    let prepared = std::cell::Cell::new(0);
    let ran = std::cell::Cell::new(0);
    let queued = notifier
        .write_tx_with_notices(
            &mut conn,
            |c| {
                prepared.set(prepared.get() + 1);
                let name = if prepared.get() == 1 { "옛이름" } else { "새이름" };
                Ok(vec![notifier.render(c, welcome_to("changed@example.kr", name))?])
            },
            |c, notices| {
                ran.set(ran.get() + 1);
                notifier.enqueue(c, welcome_to("side-effect@example.kr", "새이름"))?;
                notices.enqueue(c, welcome_to("changed@example.kr", "새이름"))
            },
        )
        .unwrap();
    assert_eq!((prepared.get(), ran.get()), (2, 2));
    let bodies = bodies_to(&mut conn, "changed@example.kr");
    assert_eq!(bodies.len(), 1, "queued once");
    assert!(bodies[0].contains("새이름") && !bodies[0].contains("옛이름"), "{}", bodies[0]);
    let id: String = outbox::table.filter(outbox::recipient.eq("changed@example.kr")).select(outbox::id).first(&mut conn).unwrap();
    assert_eq!(queued, id);
    assert_eq!(bodies_to(&mut conn, "side-effect@example.kr").len(), 1, "the first run was rolled back");

    // A set that keeps changing: after NOTICE_ATTEMPTS - 1 tries, the last
    // run renders what is missing inside, so the change still happens, once.
    prepared.set(0);
    notifier
        .write_tx_with_notices(
            &mut conn,
            |c| {
                prepared.set(prepared.get() + 1);
                Ok(vec![notifier.render(c, welcome_to("restless@example.kr", "옛이름"))?])
            },
            |c, notices| notices.enqueue(c, welcome_to("restless@example.kr", "새이름")),
        )
        .unwrap();
    assert_eq!(prepared.get(), naju_helper::notify::NOTICE_ATTEMPTS);
    let bodies = bodies_to(&mut conn, "restless@example.kr");
    assert_eq!(bodies.len(), 1);
    assert!(bodies[0].contains("새이름"), "{}", bodies[0]);

    // A change refused for its own reason is refused once, not retried.
    prepared.set(0);
    let refused = notifier.write_tx_with_notices(
        &mut conn,
        |_| {
            prepared.set(prepared.get() + 1);
            Ok(vec![])
        },
        |_, _| -> Result<(), naju_helper::error::AppError> { Err(naju_helper::error::AppError::Conflict("clinic.errors.full")) },
    );
    assert!(matches!(refused, Err(naju_helper::error::AppError::Conflict("clinic.errors.full"))));
    assert_eq!(prepared.get(), 1);
}

/// The delivery worker runs behind the requests: its thread's nice value is
/// 10 (Linux), the server's threads keep 0.
#[cfg(target_os = "linux")]
#[test]
fn the_delivery_worker_runs_at_a_lower_priority_than_requests() {
    let _app = spawn_app();
    // Field 19 of /proc/self/task/<tid>/stat, counted after the name's closing parenthesis.
    let nice_of = |comm: &str| -> Vec<i64> {
        let mut found = vec![];
        for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if name.trim() != comm {
                continue;
            }
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
            if let Some(nice) = after.split_whitespace().nth(16).and_then(|n| n.parse().ok()) {
                found.push(nice);
            }
        }
        found
    };
    let mut outbox = vec![];
    for _ in 0..50 {
        outbox = nice_of("outbox");
        if !outbox.is_empty() && outbox.iter().all(|n| *n == 10) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!outbox.is_empty(), "no outbox thread");
    assert!(outbox.iter().all(|n| *n == 10), "outbox threads' nice values: {outbox:?}");
    let this: i64 = std::fs::read_to_string("/proc/thread-self/stat").unwrap().rsplit_once(')').unwrap().1.split_whitespace().nth(16).unwrap().parse().unwrap();
    assert_eq!(this, 0, "the other threads keep their priority");
}

/// A batch is claimed before it is sent; what was claimed but not tried (the
/// app stopping) is given back with its own time, to go at the next round
/// instead of when the claim runs out.
#[test]
fn messages_claimed_but_not_tried_are_given_back() {
    use naju_helper::notify::mailer::Mailer;
    use naju_helper::notify::worker::{deliver_due, Transports};
    use std::sync::atomic::AtomicBool;
    // The app's own worker polls once an hour: here the rounds are run by hand.
    let app = spawn_app_with(|c| c.outbox_poll = Duration::from_secs(3600));
    std::thread::sleep(Duration::from_millis(500)); // its first round, at start, is over
    let due_at = chrono::Timelike::with_nanosecond(&(naju_helper::time::now_utc() - chrono::Duration::seconds(5)), 0).unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    diesel::insert_into(outbox::table)
        .values((
            outbox::id.eq(&id),
            outbox::kind.eq("welcome"),
            outbox::recipient.eq("given-back@example.kr"),
            outbox::subject.eq("given back"),
            outbox::body_text.eq("text"),
            outbox::body_html.eq(""),
            outbox::status.eq("pending"),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(due_at),
            outbox::created_at.eq(due_at),
            outbox::channel.eq("email"),
        ))
        .execute(&mut app.conn())
        .unwrap();
    let config = common::test_config(app.data_dir.clone(), app.database_url.clone());
    let transports = Transports { mailer: Mailer::from_config(&config).unwrap(), sms: None };
    let row = || -> (String, chrono::NaiveDateTime) {
        outbox::table.find(&id).select((outbox::status, outbox::next_attempt_at)).first(&mut app.conn()).unwrap()
    };
    let mut conn = app.pool.get().unwrap();
    assert_eq!(deliver_due(&mut conn, &config, &transports, &AtomicBool::new(true)).unwrap(), 0, "stopping: nothing sent");
    assert_eq!(row(), ("pending".to_string(), due_at), "claimed, not tried, given back with its own time");
    assert!(deliver_due(&mut conn, &config, &transports, &AtomicBool::new(false)).unwrap() >= 1);
    assert_eq!(row().0, "sent", "the next round sends it");
}
