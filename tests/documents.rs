//! Uploaded documents live in the database, encrypted under a key that is
//! not the database's: any instance serves them, the stored bytes reveal
//! nothing, plain files of earlier versions move in at start, and a key can
//! be rotated while everything stays readable.

mod common;

use common::{cli_env, complete_draft, due_date_at_week, signed_up_resident, spawn_app, spawn_instance, TestApp, PDF, TEST_DOCUMENT_KEY};
use diesel::prelude::*;
use naju_helper::db::schema::{application_documents as docs, document_contents as contents};

fn the_document(app: &TestApp) -> (String, String) {
    docs::table.select((docs::id, docs::application_id)).first(&mut app.conn()).unwrap()
}

#[test]
fn documents_are_stored_encrypted_and_every_instance_serves_them_to_a_session_of_another() {
    let app = spawn_app();
    let mut mom = signed_up_resident(&app, "암호화", "sealed@example.kr");
    complete_draft(&mut mom, due_date_at_week(25));
    let (doc, application) = the_document(&app);
    let (nonce, ciphertext): (Vec<u8>, Vec<u8>) = contents::table.find(&doc).select((contents::nonce, contents::ciphertext)).first(&mut app.conn()).unwrap();
    assert_eq!(nonce.len(), 12);
    assert_eq!(ciphertext.len(), PDF.len() + 16, "the content and its 16-byte tag");
    assert!(!ciphertext.windows(4).any(|w| w == b"%PDF"), "the stored bytes are not the document");
    assert!(!app.data_dir.join("uploads").exists(), "no plain file on this instance's disk");

    let download = format!("/my/applications/{application}/documents/{doc}");
    assert_eq!(mom.get(&download).body.as_bytes(), PDF);
    // A second instance on the same database: her session works there and
    // the document comes out the same.
    let other = spawn_instance(&app, |_| {});
    let mut there = mom.at(&other);
    there.get("/my").assert_status(200).assert_contains("암호화");
    assert_eq!(there.get(&download).body.as_bytes(), PDF);
}

#[test]
fn plain_files_of_an_earlier_version_move_into_the_database_at_start() {
    let app = spawn_app();
    let mut mom = signed_up_resident(&app, "옛파일", "oldfile@example.kr");
    complete_draft(&mut mom, due_date_at_week(25));
    let (doc, application) = the_document(&app);
    // As an earlier version left it: a plain file under DATA_DIR/uploads.
    let storage = "0123456789abcdef0123456789abcdef";
    diesel::delete(contents::table.find(&doc)).execute(&mut app.conn()).unwrap();
    diesel::update(docs::table.find(&doc)).set(docs::storage_name.eq(storage)).execute(&mut app.conn()).unwrap();
    std::fs::create_dir_all(app.data_dir.join("uploads")).unwrap();
    std::fs::write(app.data_dir.join("uploads").join(storage), PDF).unwrap();

    // The upgraded app starts on that data directory.
    let data_dir = app.data_dir.clone();
    let upgraded = spawn_instance(&app, |c| c.data_dir = data_dir);
    let sealed: i64 = contents::table.filter(contents::document_id.eq(&doc)).count().get_result(&mut app.conn()).unwrap();
    assert_eq!(sealed, 1, "moved into the database");
    assert!(!app.data_dir.join("uploads").join(storage).exists(), "and the plain file is gone");
    assert_eq!(mom.at(&upgraded).get(&format!("/my/applications/{application}/documents/{doc}")).body.as_bytes(), PDF);
}

#[test]
fn rotating_the_document_key_keeps_every_document_readable() {
    let app = spawn_app();
    let mut mom = signed_up_resident(&app, "키교체", "rotate@example.kr");
    complete_draft(&mut mom, due_date_at_week(25));
    let (doc, application) = the_document(&app);
    let download = format!("/my/applications/{application}/documents/{doc}");
    let old_id: String = contents::table.find(&doc).select(contents::key_id).first(&mut app.conn()).unwrap();

    let (ok, new_key) = cli_env(&app, &["documents", "new-key"], &[]);
    assert!(ok, "{new_key}");
    // The key is the one line of 64 hex digits (log lines may go to stderr).
    let new_key = new_key.lines().find(|l| l.len() == 64 && l.chars().all(|c| c.is_ascii_hexdigit())).expect("a new key").to_string();
    let (ok, out) = cli_env(&app, &["documents", "rotate"], &[("DOCUMENT_KEY", &new_key), ("DOCUMENT_KEYS_OLD", TEST_DOCUMENT_KEY)]);
    assert!(ok && out.contains("re-encrypted 1 documents"), "{out}");
    let new_id: String = contents::table.find(&doc).select(contents::key_id).first(&mut app.conn()).unwrap();
    assert_ne!(new_id, old_id);
    // Again: nothing left to do.
    let (ok, out) = cli_env(&app, &["documents", "rotate"], &[("DOCUMENT_KEY", &new_key), ("DOCUMENT_KEYS_OLD", TEST_DOCUMENT_KEY)]);
    assert!(ok && out.contains("re-encrypted 0 documents"), "{out}");

    // An instance with only the new key reads it; one with only the old key cannot.
    let key = naju_helper::crypto::parse_key(&new_key).unwrap();
    let rotated = spawn_instance(&app, |c| c.document_keys = naju_helper::crypto::DocumentKeys::new(key, vec![]));
    assert_eq!(mom.at(&rotated).get(&download).body.as_bytes(), PDF);
    mom.get(&download).assert_status(500);
}
