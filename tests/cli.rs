//! The command line: migrate, user add, demo --reset.

mod common;

use common::{cli, spawn_app};
use diesel::prelude::*;
use naju_helper::db::schema::users;

#[test]
fn staff_accounts_are_created_from_the_command_line_and_demo_data_can_be_reset() {
    let app = spawn_app();
    let (ok, out) = cli(&app, &["migrate"]);
    assert!(ok, "{out}");
    assert!(out.contains("migrations applied"), "{out}");

    let (ok, out) = cli(
        &app,
        &["user", "add", "--role", "staff", "--email", "Nurse@Naju.example", "--name", "정간호", "--phone", "061-339-2000", "--password", "nurse-pass-2026"],
    );
    assert!(ok, "{out}");
    let mut b = app.browser();
    b.login("nurse@naju.example", "nurse-pass-2026").assert_redirect("/staff");

    let (ok, out) = cli(&app, &["user", "add", "--role", "staff", "--email", "weak@naju.example", "--name", "약한", "--phone", "0613392000", "--password", "short"]);
    assert!(!ok, "a weak password is refused");
    assert!(out.contains("비밀번호는") && out.contains("password needs"), "explains in Korean and English: {out}");

    let (ok, out) = cli(&app, &["user", "add", "--role", "mayor", "--email", "m@naju.example"]);
    assert!(!ok);
    assert!(out.contains("--role"), "{out}");

    let (ok, out) = cli(&app, &["demo", "--reset"]);
    assert!(ok, "{out}");
    assert!(out.contains(naju_helper::demo::STAFF_EMAIL), "prints the demo logins: {out}");
    let remaining: i64 = users::table.filter(users::email.eq("nurse@naju.example")).count().get_result(&mut app.conn()).unwrap();
    assert_eq!(remaining, 0, "reset removed the data");
    let total: i64 = users::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(total, naju_helper::demo::LOGINS.len() as i64, "one account per demo login (a role each, two agencies)");
}
