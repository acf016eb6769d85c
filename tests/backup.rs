//! A backup taken in the middle of a booking burst, restored into an empty
//! database, holds every booking acknowledged before it began, and the
//! documents stay readable.

mod common;

use std::sync::mpsc;

use common::{cli_env, complete_draft, due_date_at_week, signed_up_resident, spawn_app, Browser, TestApp, PDF, TEST_DOCUMENT_KEY};
use diesel::prelude::*;
use naju_helper::db::schema::{application_documents, clinic_bookings, clinic_slots, users};

fn next_session_slot(app: &TestApp) -> (String, String) {
    let (session, slot) = common::clinic_slot(app, "childbirth_class");
    diesel::update(clinic_slots::table.find(&slot)).set(clinic_slots::capacity.eq(1000)).execute(&mut app.conn()).unwrap();
    (session, slot)
}

#[test]
fn a_backup_during_a_booking_burst_restores_every_acknowledged_booking_and_the_documents() {
    let app = spawn_app();
    // A document, sealed in the database.
    let mut mom = signed_up_resident(&app, "서류주인", "docs@example.kr");
    let application = complete_draft(&mut mom, due_date_at_week(25));
    let doc: String = application_documents::table.select(application_documents::id).first(&mut app.conn()).unwrap();

    let (session, slot) = next_session_slot(&app);
    let residents: Vec<(String, Browser)> = (0..24).map(|i| {
        let email = format!("burst{i}@example.kr");
        (email.clone(), signed_up_resident(&app, &format!("버스트{i}"), &email))
    }).collect();
    let due = (common::today() + chrono::Duration::days(120)).to_string();
    let (tx, rx) = mpsc::channel::<(String, u16)>();
    let handles: Vec<_> = residents
        .into_iter()
        .map(|(email, mut b)| {
            let token = b.get(&format!("/clinic/sessions/{session}")).csrf();
            let (tx, session, slot, due) = (tx.clone(), session.clone(), slot.clone(), due.clone());
            std::thread::spawn(move || {
                let status = b.post("/clinic/bookings", &[("csrf_token", &token), ("session_id", &session), ("slot_id", &slot), ("due_date", &due)]).status;
                tx.send((email, status)).unwrap();
            })
        })
        .collect();
    drop(tx);
    // Once some bookings are acknowledged, the backup begins while others run.
    let mut acknowledged = vec![];
    while acknowledged.len() < 8 {
        let (email, status) = rx.recv().unwrap();
        assert_eq!(status, 303, "{email}");
        acknowledged.push(email);
    }
    let file = app.data_dir.join("backup.bin");
    let (ok, out) = cli_env(&app, &["backup", file.to_str().unwrap()], &[("DOCUMENT_KEY", TEST_DOCUMENT_KEY)]);
    assert!(ok, "{out}");
    for h in handles {
        h.join().unwrap();
    }
    let (ok, out) = cli_env(&app, &["backup", file.to_str().unwrap()], &[]);
    assert!(!ok && out.contains("exists"), "never overwrites: {out}");

    // Restore into a fresh, empty database and start the app on it.
    let (data_dir, url, pg) = common::fresh_database();
    let restore = std::process::Command::new(env!("CARGO_BIN_EXE_naju-helper"))
        .args(["restore", file.to_str().unwrap()])
        .env("DATABASE_URL", &url)
        .env("DATA_DIR", &data_dir)
        .env("DOCUMENT_KEY", TEST_DOCUMENT_KEY)
        .env("LOG_LEVEL", "warn")
        .output()
        .unwrap();
    assert!(restore.status.success(), "{}", String::from_utf8_lossy(&restore.stderr));
    let restored = common::start(data_dir, url, pg, |_| {});
    for email in &acknowledged {
        let n: i64 = clinic_bookings::table
            .inner_join(users::table)
            .filter(users::email.eq(email))
            .filter(clinic_bookings::slot_id.eq(&slot))
            .count()
            .get_result(&mut restored.conn())
            .unwrap();
        assert_eq!(n, 1, "{email}'s acknowledged booking is in the backup");
    }
    // Capacity counters agree with the rows restored.
    let booked: i32 = clinic_slots::table.find(&slot).select(clinic_slots::booked).first(&mut restored.conn()).unwrap();
    let rows: i64 = clinic_bookings::table.filter(clinic_bookings::slot_id.eq(&slot)).filter(clinic_bookings::status.eq("booked")).count().get_result(&mut restored.conn()).unwrap();
    assert_eq!(booked as i64, rows);
    // Her session and her document, on the restored app.
    let mut there = mom.at(&restored);
    assert_eq!(there.get(&format!("/my/applications/{application}/documents/{doc}")).body.as_bytes(), PDF);
    // Restoring into a database that is not empty is refused.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_naju-helper"))
        .args(["restore", file.to_str().unwrap()])
        .env("DATABASE_URL", &restored.database_url)
        .env("DATA_DIR", &restored.data_dir)
        .env("LOG_LEVEL", "warn")
        .output()
        .unwrap();
    assert!(!again.status.success());
}
