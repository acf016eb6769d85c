//! Authorization, proven: every route the app serves (its own route list) ×
//! every role, against a world of two residents and two agencies, compared
//! with the table below. Resident B uses resident A's ids and agency B uses
//! agency A's visit, slot, helper and holiday; nothing they send may change
//! A's data or show it.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use chrono::NaiveDate;
use common::{approved_resident_as, cli, spawn_app, today, Applicant, Browser, Resp, TestApp};
use diesel::prelude::*;
use naju_helper::db::schema::{
    agencies, agency_holidays, application_documents, applications, children, city_settings, clinic_bookings, clinic_programs, clinic_sessions,
    clinic_slots, clinic_walkins, helpers, outbox, rule_sets, users, visit_settings, visit_slot_templates, visit_slots, visits,
};
use naju_helper::demo;

const ROLES: [&str; 7] = ["anonymous", "resident A", "resident B", "agency A", "agency B", "staff", "supervisor"];
/// Roles that must never change or see resident A's or agency A's data.
const OUTSIDERS: [usize; 3] = [0, 2, 4];
/// Roles that must never see resident B's data (her visit is with agency B).
const OUTSIDERS_OF_B: [usize; 3] = [0, 1, 3];

/// One line per route: method, path pattern (exactly as the app registers
/// it), which of A's records fills `{id}`, the form a POST sends besides its
/// CSRF token (`{name}` is filled from the world), then the expected answer
/// per role in `ROLES` order: a status, or `login` for a redirect to the
/// login page (`303` is any other redirect).
///
/// GETs run first, then POSTs in this order; for each route the roles that
/// are refused go first, so an allowed POST (which may change the world) runs
/// after every refusal was tried on the unchanged record. A POST sends an
/// empty or minimal form (`file:FIELD`: a multipart upload of a small PDF);
/// allowed roles may answer 400/422 to it, what matters is who is refused.
#[rustfmt::skip]
const TABLE: &[(&str, &str, &str, &str, &str)] = &[
    // method  pattern                                             {id}       form                                    anon  resA  resB  agA   agB   staff sup
    ("GET",  "/",                                                 "",        "",                                    "200   200   200   200   200   200   200"),
    ("GET",  "/healthz",                                          "",        "",                                    "200   200   200   200   200   200   200"),
    // Without METRICS_TOKEN (as here) the metrics are not served at all.
    ("GET",  "/metrics",                                          "",        "",                                    "404   404   404   404   404   404   404"),
    ("GET",  "/manifest.webmanifest",                             "",        "",                                    "200   200   200   200   200   200   200"),
    ("GET",  "/lang/{code}",                                      "",        "",                                    "303   303   303   303   303   303   303"),
    ("GET",  "/assets/{path:.*}",                                 "",        "",                                    "200   200   200   200   200   200   200"),
    // accounts/routes
    ("GET",  "/login",                                            "",        "",                                    "200   303   303   303   303   303   303"),
    // An empty login fails; the fifth failure for one address pauses it (429).
    ("POST", "/login",                                            "",        "",                                    "401   401   401   401   429   429   429"),
    ("GET",  "/signup",                                           "",        "",                                    "200   303   303   303   303   303   303"),
    ("POST", "/signup",                                           "",        "",                                    "422   422   422   422   422   422   422"),
    ("GET",  "/signup/confirm/{token}",                           "",        "",                                    "200   200   200   200   200   200   200"),
    ("POST", "/signup/confirm/{token}",                           "",        "",                                    "410   410   410   410   410   410   410"),
    ("GET",  "/my",                                               "",        "",                                    "login 200   200   403   403   403   403"),
    ("GET",  "/my/messages",                                      "",        "",                                    "login 200   200   403   403   403   403"),
    ("GET",  "/my/messages/{id}",                                 "message", "",                                    "login 200   404   403   403   403   403"),
    // api/pages: personal access tokens (each user her own)
    ("GET",  "/account/tokens",                                     "",        "",                                    "login 200   200   200   200   200   200"),
    ("POST", "/account/tokens",                                     "",        "",                                    "login 400   400   400   400   400   400"),
    ("POST", "/account/tokens/{id}/revoke",                         "visit",   "",                                    "login 404   404   404   404   404   404"),
    // api: bearer tokens only; the session cookie opens nothing (tests/api.rs covers each role's token)
    ("GET",  "/api/v1/openapi.json",                                "",        "",                                    "200   200   200   200   200   200   200"),
    ("GET",  "/api/v1/programs",                                    "",        "",                                    "401   401   401   401   401   401   401"),
    ("GET",  "/api/v1/clinic/sessions",                             "",        "",                                    "401   401   401   401   401   401   401"),
    ("GET",  "/api/v1/me/applications",                             "",        "",                                    "401   401   401   401   401   401   401"),
    ("GET",  "/api/v1/me/visits",                                   "",        "",                                    "401   401   401   401   401   401   401"),
    ("POST", "/api/v1/me/visits",                                   "",        "",                                    "401   401   401   401   401   401   401"),
    ("GET",  "/api/v1/me/visit-slots",                              "",        "",                                    "401   401   401   401   401   401   401"),
    ("POST", "/api/v1/me/visits/{id}/cancel",                       "visit",   "",                                    "401   401   401   401   401   401   401"),
    ("GET",  "/api/v1/me/clinic-bookings",                          "",        "",                                    "401   401   401   401   401   401   401"),
    ("POST", "/api/v1/me/clinic-bookings",                          "",        "",                                    "401   401   401   401   401   401   401"),
    ("POST", "/api/v1/me/clinic-bookings/{id}/cancel",              "booking", "",                                    "401   401   401   401   401   401   401"),
    ("GET",  "/api/v1/agency/visits",                               "",        "",                                    "401   401   401   401   401   401   401"),
    ("GET",  "/api/v1/agency/helpers",                              "",        "",                                    "401   401   401   401   401   401   401"),
    ("POST", "/api/v1/agency/visits/{id}/confirm",                  "visit",   "",                                    "401   401   401   401   401   401   401"),
    ("POST", "/api/v1/agency/visits/{id}/complete",                 "visit",   "",                                    "401   401   401   401   401   401   401"),
    ("GET",  "/api/v1/staff/reports/results",                       "",        "",                                    "401   401   401   401   401   401   401"),
    // accounts/notices: how she gets notices (email, SMS or both)
    ("GET",  "/my/notices",                                       "",        "",                                    "login 200   200   403   403   403   403"),
    ("POST", "/my/notices",                                       "",        "",                                    "login 303   303   403   403   403   403"),
    ("POST", "/my/notices/verify",                                "",        "",                                    "login 303   303   403   403   403   403"),
    ("POST", "/my/notices/resend",                                "",        "",                                    "login 303   303   403   403   403   403"),
    ("GET",  "/staff",                                            "",        "",                                    "login 403   403   403   403   200   200"),
    ("GET",  "/staff/search",                                     "",        "",                                    "login 403   403   403   403   200   200"),
    ("GET",  "/staff/users",                                      "",        "",                                    "login 403   403   403   403   200   200"),
    ("GET",  "/staff/users/new",                                  "",        "",                                    "login 403   403   403   403   200   200"),
    ("POST", "/staff/users",                                      "",        "",                                    "login 403   403   403   403   422   422"),
    ("GET",  "/contractor",                                       "",        "",                                    "login 403   403   200   200   403   403"),
    ("POST", "/session/extend",                                   "",        "",                                    "login 204   204   204   204   204   204"),
    ("GET",  "/password/forgot",                                  "",        "",                                    "200   200   200   200   200   200   200"),
    ("POST", "/password/forgot",                                  "",        "",                                    "422   422   422   422   422   422   422"),
    ("GET",  "/password/reset/{token}",                           "",        "",                                    "200   200   200   200   200   200   200"),
    ("POST", "/password/reset/{token}",                           "",        "",                                    "422   422   422   422   422   422   422"),
    // applications/resident_routes
    ("GET",  "/apply/housework",                                  "",        "",                                    "login 200   200   403   403   403   403"),
    ("POST", "/apply/housework",                                  "",        "",                                    "login 303   303   403   403   403   403"),
    ("GET",  "/my/applications",                                  "",        "",                                    "login 200   200   403   403   403   403"),
    ("GET",  "/my/applications/{id}",                             "app",     "",                                    "login 200   404   403   403   403   403"),
    ("GET",  "/my/applications/{id}/details",                     "app",     "",                                    "login 303   404   403   403   403   403"),
    // Her application is approved: the form's steps send her back to it.
    ("POST", "/my/applications/{id}/details",                     "app",     "",                                    "login 303   404   403   403   403   403"),
    ("GET",  "/my/applications/{id}/pregnancy",                   "app",     "",                                    "login 303   404   403   403   403   403"),
    ("POST", "/my/applications/{id}/pregnancy",                   "app",     "",                                    "login 303   404   403   403   403   403"),
    ("GET",  "/my/applications/{id}/document",                    "app",     "",                                    "login 303   404   403   403   403   403"),
    ("POST", "/my/applications/{id}/document",                    "app",     "file:document",                       "login 303   404   403   403   403   403"),
    ("GET",  "/my/applications/{id}/check",                       "app",     "",                                    "login 303   404   403   403   403   403"),
    ("POST", "/my/applications/{id}/submit",                      "app",     "",                                    "login 303   404   403   403   403   403"),
    ("GET",  "/my/applications/{id}/confirmation",                "app",     "",                                    "login 200   404   403   403   403   403"),
    ("GET",  "/my/applications/{id}/withdraw",                    "app",     "",                                    "login 200   404   403   403   403   403"),
    ("POST", "/my/applications/{id}/resubmit",                    "app",     "",                                    "login 409   404   403   403   403   403"),
    ("GET",  "/my/applications/{id}/documents/{doc}",             "app",     "",                                    "login 200   404   403   403   403   403"),
    // applications/staff_routes
    ("GET",  "/staff/applications",                               "",        "",                                    "login 403   403   403   403   200   200"),
    ("GET",  "/staff/applications/export",                        "",        "",                                    "login 403   403   403   403   200   200"),
    ("GET",  "/staff/applications/{id}",                          "app",     "",                                    "login 403   403   403   403   200   200"),
    ("GET",  "/staff/applications/{id}/print",                    "app",     "",                                    "login 403   403   403   403   200   200"),
    ("POST", "/staff/applications/{id}/decision",                 "app",     "",                                    "login 403   403   403   403   400   400"),
    // Without ids or message (422); with another action than request_info (400).
    ("POST", "/staff/applications/bulk",                          "",        "",                                    "login 403   403   403   403   400   400"),
    // A bulk request's result is read only by the session that made it: any other id goes back to the queue.
    ("GET",  "/staff/applications/bulk/{id}",                     "token",   "",                                    "login 403   403   403   403   303   303"),
    // Without a reason: the form again with the error (422).
    ("POST", "/staff/applications/export",                        "",        "",                                    "login 403   403   403   403   422   422"),
    ("GET",  "/staff/applications/{id}/documents/{doc}",          "app",     "",                                    "login 403   403   403   403   200   200"),
    ("POST", "/staff/applications/{id}/documents/{doc}",          "app",     "",                                    "login 403   403   403   403   422   422"),
    ("POST", "/staff/applications/{id}/documents/{doc}/review",   "app",     "",                                    "login 403   403   403   403   400   400"),
    ("GET",  "/staff/access-log",                                 "",        "",                                    "login 403   403   403   403   403   200"),
    ("GET",  "/staff/rules",                                      "",        "",                                    "login 403   403   403   403   200   200"),
    ("GET",  "/staff/rules/new",                                  "",        "",                                    "login 403   403   403   403   200   200"),
    ("POST", "/staff/rules",                                      "",        "",                                    "login 403   403   403   403   422   422"),
    // visits/resident_routes
    ("GET",  "/my/visits",                                        "",        "",                                    "login 200   200   403   403   403   403"),
    ("GET",  "/my/visits/new",                                    "",        "",                                    "login 200   200   403   403   403   403"),
    // Step 3 without a chosen time goes back a step (409).
    ("GET",  "/my/visits/new/check",                              "",        "",                                    "login 409   409   403   403   403   403"),
    ("POST", "/my/visits/new",                                    "",        "",                                    "login 409   409   403   403   403   403"),
    // This city's rules assign the agency by district: nobody chooses.
    ("POST", "/my/visits/agency",                                 "",        "",                                    "login 403   403   403   403   403   403"),
    ("GET",  "/my/visits/{id}/reschedule",                        "visit",   "",                                    "login 200   404   403   403   403   403"),
    ("GET",  "/my/visits/{id}/reschedule/check",                  "visit",   "",                                    "login 409   404   403   403   403   403"),
    ("POST", "/my/visits/{id}/reschedule",                        "visit",   "",                                    "login 409   404   403   403   403   403"),
    ("GET",  "/my/visits/{id}/cancel",                            "visit",   "",                                    "login 200   404   403   403   403   403"),
    ("POST", "/my/visits/{id}/rate",                              "visit",   "rating=5",                            "login 409   404   403   403   403   403"),
    // Only a confirmed visit has a calendar file (the agency confirms it at the end).
    ("GET",  "/my/visits/{id}/calendar.ics",                      "visit",   "",                                    "login 404   404   403   403   403   403"),
    ("GET",  "/my/applications/{id}/birth",                       "app",     "",                                    "login 200   404   403   403   403   403"),
    // visits/agency_routes
    ("GET",  "/contractor/visits",                                "",        "",                                    "login 403   403   200   200   403   403"),
    ("GET",  "/contractor/visits/{id}",                           "visit",   "",                                    "login 403   403   200   404   403   403"),
    ("GET",  "/contractor/capacity",                              "",        "",                                    "login 403   403   200   200   403   403"),
    ("POST", "/contractor/capacity",                              "",        "",                                    "login 403   403   303   303   403   403"),
    ("POST", "/contractor/holidays",                              "",        "",                                    "login 403   403   303   303   403   403"),
    // Each agency removes only its own holiday: agency B's request removes nothing of A's.
    ("POST", "/contractor/holidays/{day}/delete",                 "",        "",                                    "login 403   403   303   303   403   403"),
    ("POST", "/contractor/slots/{id}",                            "slot",    "capacity=7",                          "login 403   403   303   404   403   403"),
    ("GET",  "/contractor/helpers",                               "",        "",                                    "login 403   403   200   200   403   403"),
    ("POST", "/contractor/helpers",                               "",        "",                                    "login 403   403   422   422   403   403"),
    ("GET",  "/contractor/helpers/{id}",                          "helper",  "",                                    "login 403   403   200   404   403   403"),
    ("GET",  "/contractor/statement",                             "",        "",                                    "login 403   403   200   200   403   403"),
    // visits/staff_routes
    ("GET",  "/staff/visits",                                     "",        "",                                    "login 403   403   403   403   200   200"),
    ("GET",  "/staff/visits/usage",                               "",        "",                                    "login 403   403   403   403   200   200"),
    ("GET",  "/staff/visits/settlement",                          "",        "",                                    "login 403   403   403   403   200   200"),
    ("GET",  "/staff/visits/settlement/{id}",                     "agency_a", "",                                   "login 403   403   403   403   200   200"),
    ("GET",  "/staff/visits/settings",                            "",        "",                                    "login 403   403   403   403   200   200"),
    ("POST", "/staff/visits/settings",                            "",        "",                                    "login 403   403   403   403   422   422"),
    ("POST", "/staff/applications/{id}/birth",                    "app",     "",                                    "login 403   403   403   403   303   303"),
    // clinic/routes
    ("GET",  "/clinic",                                           "",        "",                                    "200   200   200   200   200   200   200"),
    ("GET",  "/clinic/sessions/{id}",                             "session", "",                                    "200   200   200   200   200   200   200"),
    // The booking steps after the program's: without the earlier answers each shows the step that is missing (422).
    ("GET",  "/clinic/saturday",                                  "",        "",                                    "422   422   422   422   422   422   422"),
    ("GET",  "/clinic/sessions/{id}/time",                        "session", "",                                    "422   422   422   422   422   422   422"),
    ("GET",  "/clinic/sessions/{id}/details",                     "session", "",                                    "login 422   422   403   403   403   403"),
    ("GET",  "/clinic/sessions/{id}/check",                       "session", "",                                    "login 422   422   403   403   403   403"),
    ("POST", "/clinic/bookings",                                  "",        "",                                    "login 404   404   403   403   403   403"),
    ("GET",  "/my/clinic",                                        "",        "",                                    "login 200   200   403   403   403   403"),
    ("GET",  "/my/clinic/{id}/calendar.ics",                      "booking", "",                                    "login 200   404   403   403   403   403"),
    ("GET",  "/my/children",                                      "",        "",                                    "login 200   200   403   403   403   403"),
    // schedule
    ("GET",  "/my/schedule",                                      "",        "",                                    "login 200   200   403   403   403   403"),
    ("POST", "/my/children",                                      "",        "",                                    "login 422   422   403   403   403   403"),
    // clinic/staff_routes
    ("GET",  "/staff/clinic",                                     "",        "",                                    "login 403   403   403   403   200   200"),
    ("POST", "/staff/clinic/generate",                            "",        "",                                    "login 403   403   403   403   303   303"),
    ("GET",  "/staff/clinic/sessions/{id}",                       "session", "",                                    "login 403   403   403   403   200   200"),
    ("GET",  "/staff/clinic/sessions/{id}/print",                 "session", "",                                    "login 403   403   403   403   200   200"),
    ("POST", "/staff/clinic/sessions/{id}/cancel",                "session", "",                                    "login 403   403   403   403   303   303"),
    ("POST", "/staff/clinic/sessions/{id}/walkins",               "session", "",                                    "login 403   403   403   403   303   303"),
    ("POST", "/staff/clinic/bookings/{id}/checkin",               "booking", "",                                    "login 403   403   403   403   303   303"),
    ("GET",  "/staff/clinic/programs",                            "",        "",                                    "login 403   403   403   403   200   200"),
    ("POST", "/staff/clinic/programs/{id}",                       "program", "",                                    "login 403   403   403   403   303   303"),
    // results/routes
    ("GET",  "/staff/results",                                    "",        "",                                    "login 403   403   403   403   200   200"),
    ("GET",  "/staff/results/export",                             "",        "",                                    "login 403   403   403   403   200   200"),
    ("GET",  "/staff/results/import",                             "",        "",                                    "login 403   403   403   403   200   200"),
    ("POST", "/staff/results/import",                             "",        "file:file",                           "login 403   403   403   403   422   422"),
    ("GET",  "/staff/results/figures",                            "",        "",                                    "login 403   403   403   403   200   200"),
    ("POST", "/staff/results/figures",                            "",        "",                                    "login 403   403   403   403   422   422"),
    ("POST", "/staff/results/settings",                           "",        "",                                    "login 403   403   403   403   303   303"),
    // notify/routes
    ("GET",  "/staff/messages/failed",                            "",        "",                                    "login 403   403   403   403   200   200"),
    ("GET",  "/staff/messages/failed/{id}",                       "failed",  "",                                    "login 403   403   403   403   200   200"),
    // Staff resend it first; then it is no longer a failed message for the supervisor.
    ("POST", "/staff/messages/failed/{id}",                       "failed",  "recipient=resident-a@authz.example",  "login 403   403   403   403   303   404"),
    // city/routes
    ("GET",  "/staff/city",                                       "",        "",                                    "login 403   403   403   403   403   200"),
    ("POST", "/staff/city/import",                                "",        "",                                    "login 403   403   403   403   403   422"),
    ("POST", "/staff/city/upload",                                "",        "file:file",                           "login 403   403   403   403   403   422"),
    ("GET",  "/staff/city/export",                                "",        "",                                    "login 403   403   403   403   403   200"),
    ("POST", "/staff/city/retention",                             "",        "",                                    "login 403   403   403   403   403   422"),
    // retention/routes
    ("GET",  "/staff/retention",                                  "",        "",                                    "login 403   403   403   403   403   200"),
    ("POST", "/staff/retention/run",                              "",        "",                                    "login 403   403   403   403   403   303"),
    // Last: these change or end A's records and sessions.
    ("POST", "/contractor/visits/{id}",                           "visit",   "action=confirm&helper_id={helper}",   "login 403   403   303   404   403   403"),
    ("POST", "/contractor/helpers/{id}/active",                   "helper",  "active=no",                           "login 403   403   303   404   403   403"),
    ("POST", "/my/visits/{id}/cancel",                            "visit",   "",                                    "login 303   404   403   403   403   403"),
    ("POST", "/my/clinic/{id}/cancel",                            "booking", "",                                    "login 303   404   403   403   403   403"),
    ("POST", "/my/applications/{id}/withdraw",                    "app",     "",                                    "login 303   404   403   403   403   403"),
    // After she withdrew, a birth is no longer recorded on it (409); B is refused before that.
    ("POST", "/my/applications/{id}/birth",                       "app",     "born_on={yesterday}",                 "login 409   404   403   403   403   403"),
    ("POST", "/logout",                                           "",        "",                                    "303   303   303   303   303   303   303"),
];

/// What the world's records are called in the table.
struct World {
    ids: HashMap<&'static str, String>,
    /// Text of a resident's (her name, address, account, email), with the
    /// roles that must not see it: only she, her agency and staff may.
    markers: Vec<(&'static [usize], &'static str, String)>,
}

impl World {
    fn id(&self, name: &str) -> &str {
        self.ids.get(name).unwrap_or_else(|| panic!("the world has no {name:?}"))
    }

    /// `pattern` with each `{name}` (or `{name:regex}`) replaced: `{id}` by
    /// the record the table names, the others by the world's value of that name.
    fn fill(&self, pattern: &str, id: &str) -> String {
        let mut out = String::new();
        let mut rest = pattern;
        while let Some(start) = rest.find('{') {
            let end = rest[start..].find('}').map(|e| start + e).expect("placeholder ends");
            let name = rest[start + 1..end].split(':').next().unwrap_or("");
            out.push_str(&rest[..start]);
            out.push_str(if name == "id" { self.id(id) } else { self.id(name) });
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

struct Role {
    name: &'static str,
    browser: Browser,
    login: Option<(String, String)>,
}

impl Role {
    fn signed_in(app: &TestApp, name: &'static str, email: &str, password: &str) -> Role {
        let mut browser = app.browser();
        browser.login(email, password).assert_status(303);
        Role { name, browser, login: Some((email.to_string(), password.to_string())) }
    }

    /// A valid CSRF token of this role's session; signs in again first if an
    /// earlier request (the logout route) ended the session.
    fn csrf(&mut self) -> String {
        let Some((email, password)) = self.login.clone() else {
            return self.browser.get("/login").csrf();
        };
        let home = self.browser.get("/");
        if home.body.contains("action=\"/logout\"") {
            return home.csrf();
        }
        self.browser.login(&email, &password).assert_status(303);
        self.browser.get("/").csrf()
    }
}

/// The answer as the table writes it.
fn outcome(res: &Resp) -> String {
    match (res.status, res.location.as_deref()) {
        (303, Some(to)) if to.starts_with("/login") => "login".into(),
        (status, _) => status.to_string(),
    }
}

/// Resident A's and agency A's data and what only staff configure, as text:
/// it must read the same before and after an outsider's or a refused request.
fn fingerprint(app: &TestApp, w: &World) -> Vec<String> {
    let conn = &mut app.conn();
    let (resident_a, agency_a) = (w.id("resident_a"), w.id("agency_a"));
    let mut out = vec![];
    let mut add = |what: &str, v: String| out.push(format!("{what}: {v}"));
    add("user", format!("{:?}", users::table.find(resident_a).select((users::name, users::email, users::phone, users::password_hash, users::active)).first::<(String, String, String, String, bool)>(conn).unwrap()));
    add("users", format!("{:?}", users::table.select((users::id, users::role, users::is_supervisor, users::active)).order(users::id).load::<(String, String, bool, bool)>(conn).unwrap()));
    add("applications", format!("{:?}", applications::table.filter(applications::user_id.eq(resident_a)).order(applications::id).select((applications::id, applications::status, applications::applicant_name, applications::street_address, applications::updated_at, applications::birth_recorded_on)).load::<(String, String, String, String, chrono::NaiveDateTime, Option<NaiveDate>)>(conn).unwrap()));
    add("documents", format!("{:?}", application_documents::table.filter(application_documents::application_id.eq(w.id("app"))).order(application_documents::id).select((application_documents::id, application_documents::review_status, application_documents::review_note)).load::<(String, String, String)>(conn).unwrap()));
    add("visits", format!("{:?}", visits::table.filter(visits::user_id.eq(resident_a)).order(visits::id).select((visits::id, visits::status, visits::helper_id, visits::rating, visits::updated_at)).load::<(String, String, Option<String>, Option<i32>, chrono::NaiveDateTime)>(conn).unwrap()));
    add("clinic bookings", format!("{:?}", clinic_bookings::table.filter(clinic_bookings::user_id.eq(resident_a)).order(clinic_bookings::id).select((clinic_bookings::id, clinic_bookings::status, clinic_bookings::checked_in_at, clinic_bookings::updated_at)).load::<(String, String, Option<chrono::NaiveDateTime>, chrono::NaiveDateTime)>(conn).unwrap()));
    add("children", format!("{:?}", children::table.filter(children::user_id.eq(resident_a)).count().get_result::<i64>(conn).unwrap()));
    add("agency slots", format!("{:?}", visit_slots::table.filter(visit_slots::agency_id.eq(agency_a)).order(visit_slots::id).select((visit_slots::id, visit_slots::capacity)).load::<(String, i32)>(conn).unwrap()));
    add("agency week", format!("{:?}", visit_slot_templates::table.filter(visit_slot_templates::agency_id.eq(agency_a)).order(visit_slot_templates::id).select((visit_slot_templates::weekday, visit_slot_templates::start_minute, visit_slot_templates::helpers)).load::<(i32, i32, i32)>(conn).unwrap()));
    add("agency holidays", format!("{:?}", agency_holidays::table.filter(agency_holidays::agency_id.eq(agency_a)).order(agency_holidays::day).select(agency_holidays::day).load::<NaiveDate>(conn).unwrap()));
    add("agency helpers", format!("{:?}", helpers::table.filter(helpers::agency_id.eq(agency_a)).order(helpers::id).select((helpers::id, helpers::name, helpers::active)).load::<(String, String, bool)>(conn).unwrap()));
    add("agencies", format!("{:?}", agencies::table.order(agencies::id).select((agencies::id, agencies::unit_price_won, agencies::active)).load::<(String, i32, bool)>(conn).unwrap()));
    add("rule sets", format!("{:?}", rule_sets::table.count().get_result::<i64>(conn).unwrap()));
    add("visit settings", format!("{:?}", visit_settings::table.select(visit_settings::updated_at).load::<chrono::NaiveDateTime>(conn).unwrap()));
    add("clinic programs", format!("{:?}", clinic_programs::table.order(clinic_programs::id).select((clinic_programs::id, clinic_programs::capacity, clinic_programs::active)).load::<(String, i32, bool)>(conn).unwrap()));
    add("clinic sessions", format!("{:?}", clinic_sessions::table.order(clinic_sessions::id).select((clinic_sessions::id, clinic_sessions::status)).load::<(String, String)>(conn).unwrap()));
    add("walk-ins", format!("{:?}", clinic_walkins::table.count().get_result::<i64>(conn).unwrap()));
    add("city", format!("{:?}", city_settings::table.select(city_settings::updated_at).load::<chrono::NaiveDateTime>(conn).unwrap()));
    // Resent (pending, then sent by the worker) or still failed.
    let (status, recipient) = outbox::table.find(w.id("failed")).select((outbox::status, outbox::recipient)).first::<(String, String)>(conn).unwrap();
    add("failed mail", format!("{:?}", (status == "failed", recipient)));
    out
}

fn agency_id(app: &TestApp, code: &str) -> String {
    agencies::table.filter(agencies::code.eq(code)).select(agencies::id).first(&mut app.conn()).unwrap()
}

/// Books the first open slot of `agency` that the rules allow (from the day
/// after tomorrow on); returns the visit's id.
fn book_visit(app: &TestApp, b: &mut Browser, agency: &str, user_id: &str) -> String {
    b.get("/my/visits/new").assert_status(200);
    let candidates: Vec<String> = visit_slots::table
        .filter(visit_slots::agency_id.eq(agency))
        .filter(visit_slots::day.ge(today() + chrono::Duration::days(2)))
        .filter(visit_slots::booked.lt(visit_slots::capacity))
        .order((visit_slots::day.asc(), visit_slots::start_minute.asc()))
        .select(visit_slots::id)
        .limit(20)
        .load(&mut app.conn())
        .unwrap();
    let token = b.get("/my/visits/new").csrf();
    let booked = candidates.iter().any(|slot| {
        let res = b.post("/my/visits/new", &[("csrf_token", &token), ("slot_id", slot), ("cleaning", "yes")]);
        res.status == 303 && res.location.as_deref() == Some("/my/visits")
    });
    assert!(booked, "a slot of agency {agency} could be booked");
    let (id, with): (String, Option<String>) = visits::table.filter(visits::user_id.eq(user_id)).select((visits::id, visits::agency_id)).first(&mut app.conn()).unwrap();
    assert_eq!(with.as_deref(), Some(agency), "the visit is with the resident's agency");
    id
}

/// Books a seat in the next session's childbirth class; returns (booking, session).
fn book_clinic(app: &TestApp, b: &mut Browser, user_id: &str) -> (String, String) {
    let session: String = clinic_sessions::table
        .filter(clinic_sessions::day.gt(today() + chrono::Duration::days(1)))
        .filter(clinic_sessions::status.eq("open"))
        .order(clinic_sessions::day.asc())
        .select(clinic_sessions::id)
        .first(&mut app.conn())
        .unwrap();
    let slot: String = clinic_slots::table
        .inner_join(clinic_programs::table)
        .filter(clinic_slots::session_id.eq(&session))
        .filter(clinic_programs::code.eq("childbirth_class"))
        .select(clinic_slots::id)
        .first(&mut app.conn())
        .unwrap();
    let due = (today() + chrono::Duration::days(120)).to_string();
    let token = b.get(&format!("/clinic/sessions/{session}")).csrf();
    b.post("/clinic/bookings", &[("csrf_token", &token), ("session_id", &session), ("slot_id", &slot), ("due_date", &due)]).assert_redirect("/my/clinic");
    let booking = clinic_bookings::table.filter(clinic_bookings::user_id.eq(user_id)).select(clinic_bookings::id).first(&mut app.conn()).unwrap();
    (booking, session)
}

fn user_id(app: &TestApp, email: &str) -> String {
    users::table.filter(users::email.eq(email)).select(users::id).first(&mut app.conn()).unwrap()
}

/// Two residents, each with an approved application, a visit with her own
/// agency (A: the 동, B: the 읍·면) and a clinic booking; a helper, a
/// holiday and a slot of agency A; a failed email of resident A.
fn build_world(app: &TestApp) -> (World, Vec<Role>) {
    let a = Applicant { name: "에이주민", district_code: "46170570", street_address: "에이로 11, 1동 101호" };
    let b = Applicant { name: "비주민", district_code: "46170250", street_address: "비로 22" };
    let (mut res_a, app_a) = approved_resident_as(app, "에이계정", "resident-a@authz.example", &a);
    let (mut res_b, _) = approved_resident_as(app, "비계정", "resident-b@authz.example", &b);
    let (resident_a, resident_b) = (user_id(app, "resident-a@authz.example"), user_id(app, "resident-b@authz.example"));
    let (agency_a, agency_b) = (agency_id(app, "naju-care"), agency_id(app, "yeongsan-care"));
    let visit_a = book_visit(app, &mut res_a, &agency_a, &resident_a);
    book_visit(app, &mut res_b, &agency_b, &resident_b);
    let (booking_a, session) = book_clinic(app, &mut res_a, &resident_a);
    book_clinic(app, &mut res_b, &resident_b);

    let (ok, out) = cli(app, &["user", "add", "--role", "staff", "--email", "nurse@authz.example", "--name", "간호사", "--phone", "061-339-2000", "--password", "nurse-pass-2026"]);
    assert!(ok, "{out}");
    let mut agency = Role::signed_in(app, "agency A", demo::CONTRACTOR_EMAIL, demo::CONTRACTOR_PASSWORD);
    let holiday = (today() + chrono::Duration::days(40)).to_string();
    let token = agency.csrf();
    agency.browser.post("/contractor/holidays", &[("csrf_token", &token), ("day", &holiday), ("note", "체육대회")]).assert_redirect("/contractor/capacity");

    let conn = &mut app.conn();
    let doc: String = application_documents::table.filter(application_documents::application_id.eq(&app_a)).select(application_documents::id).first(conn).unwrap();
    let slot: String = visits::table.find(&visit_a).select(visits::slot_id).first(conn).unwrap();
    let helper: String = helpers::table.filter(helpers::agency_id.eq(&agency_a)).filter(helpers::active.eq(true)).order(helpers::name).select(helpers::id).first(conn).unwrap();
    let program: String = clinic_programs::table.filter(clinic_programs::code.eq("childbirth_class")).select(clinic_programs::id).first(conn).unwrap();
    let message: String = outbox::table.filter(outbox::user_id.eq(&resident_a)).order(outbox::created_at.asc()).select(outbox::id).first(conn).unwrap();
    // One of her emails could not be delivered: staff may see it and resend it.
    let failed = app.wait_for("a sent email to resident A", Duration::from_secs(30), |c| {
        outbox::table.filter(outbox::user_id.eq(&resident_a)).filter(outbox::status.eq("sent")).select(outbox::id).first::<String>(c).ok()
    });
    diesel::update(outbox::table.find(&failed))
        .set((outbox::status.eq("failed"), outbox::last_error.eq(Some("550 mailbox unavailable")), outbox::failed_at.eq(Some(chrono::Utc::now().naive_utc()))))
        .execute(conn)
        .unwrap();

    let ids: HashMap<&'static str, String> = [
        ("resident_a", resident_a),
        ("agency_a", agency_a),
        ("app", app_a),
        ("doc", doc),
        ("visit", visit_a),
        ("booking", booking_a),
        ("session", session),
        ("program", program),
        ("message", message),
        ("failed", failed),
        ("slot", slot),
        ("helper", helper),
        ("day", holiday),
        ("code", "ko".to_string()),
        ("path", "css/app.css".to_string()),
        ("token", "0".repeat(64)),
        ("yesterday", (today() - chrono::Duration::days(1)).to_string()),
    ]
    .into_iter()
    .collect();
    let markers = [(&OUTSIDERS[..], "resident A", [a.name, "에이로 11", "에이계정", "resident-a@authz.example"]), (&OUTSIDERS_OF_B[..], "resident B", [b.name, "비로 22", "비계정", "resident-b@authz.example"])]
        .into_iter()
        .flat_map(|(roles, whose, texts)| texts.map(|t| (roles, whose, t.to_string())))
        .collect();

    let mut anonymous = app.browser();
    anonymous.get("/login").assert_status(200);
    let roles = vec![
        Role { name: "anonymous", browser: anonymous, login: None },
        Role { name: "resident A", browser: res_a, login: Some(("resident-a@authz.example".into(), "safe-pass-2026".into())) },
        Role { name: "resident B", browser: res_b, login: Some(("resident-b@authz.example".into(), "safe-pass-2026".into())) },
        agency,
        Role::signed_in(app, "agency B", demo::CONTRACTOR2_EMAIL, demo::CONTRACTOR_PASSWORD),
        Role::signed_in(app, "staff", "nurse@authz.example", "nurse-pass-2026"),
        Role::signed_in(app, "supervisor", demo::STAFF_EMAIL, demo::STAFF_PASSWORD),
    ];
    (World { ids, markers }, roles)
}

/// What is wrong with the table's list of routes, compared with the app's.
fn coverage_problems() -> Option<String> {
    let app: Vec<String> = naju_helper::startup::routes().iter().map(|r| format!("{} {}", r.method, r.pattern)).collect();
    let table: Vec<String> = TABLE.iter().map(|(m, p, ..)| format!("{m} {p}")).collect();
    let (app_set, table_set): (BTreeSet<&String>, BTreeSet<&String>) = (app.iter().collect(), table.iter().collect());
    let twice = |list: &[String]| -> Vec<String> { list.iter().filter(|r| list.iter().filter(|x| x == r).count() > 1).cloned().collect() };
    let missing: Vec<&&String> = app_set.difference(&table_set).collect();
    let extra: Vec<&&String> = table_set.difference(&app_set).collect();
    let wrong: Vec<String> = TABLE.iter().filter(|l| l.4.split_whitespace().count() != ROLES.len()).map(|l| format!("{} {}", l.0, l.1)).collect();
    let (app_twice, table_twice) = (twice(&app), twice(&table));
    let ok = missing.is_empty() && extra.is_empty() && wrong.is_empty() && app_twice.is_empty() && table_twice.is_empty();
    (!ok).then(|| {
        format!(
            "the authorization table must list every route of the app once, with one answer per role.\n  \
             routes without a line (add one, with the expected answer per role): {missing:?}\n  \
             lines for routes the app does not serve: {extra:?}\n  \
             lines without {} answers: {wrong:?}\n  registered twice: {app_twice:?}\n  listed twice: {table_twice:?}",
            ROLES.len()
        )
    })
}

#[test]
fn the_table_covers_exactly_the_routes_the_app_serves() {
    if let Some(problems) = coverage_problems() {
        panic!("{problems}");
    }
}

#[test]
fn every_route_answers_every_role_as_the_table_says() {
    if let Some(problems) = coverage_problems() {
        panic!("{problems}");
    }
    let app_routes: BTreeSet<String> = naju_helper::startup::routes().iter().map(|r| format!("{} {}", r.method, r.pattern)).collect();
    let app = spawn_app();
    let (world, mut roles) = build_world(&app);

    let (ok, listed) = cli(&app, &["routes"]);
    assert!(ok, "{listed}");
    let listed: BTreeSet<String> = listed.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(listed, app_routes, "`naju-helper routes` prints the app's routes");

    let mut mismatches: Vec<String> = vec![];
    let lines = TABLE.iter().filter(|l| l.0 == "GET").chain(TABLE.iter().filter(|l| l.0 == "POST"));
    for &(method, pattern, id, form, expect) in lines {
        let path = world.fill(pattern, id);
        let expect: Vec<&str> = expect.split_whitespace().collect();
        // Not found is a refusal for outsiders; for the others it may follow an earlier allowed change.
        let refused = |i: usize| matches!(expect[i], "login" | "403") || (expect[i] == "404" && OUTSIDERS.contains(&i));
        let mut order: Vec<usize> = (0..ROLES.len()).collect();
        order.sort_by_key(|&i| !refused(i));
        for i in order {
            let role = &mut roles[i];
            let guarded = method == "POST" && (OUTSIDERS.contains(&i) || refused(i));
            let before = guarded.then(|| fingerprint(&app, &world));
            let res = if method == "GET" {
                role.browser.get(&path)
            } else if let Some(field) = form.strip_prefix("file:") {
                let token = role.csrf();
                role.browser.upload(&path, &token, field, "upload.pdf", common::PDF)
            } else {
                let token = role.csrf();
                let filled = world.fill(form, "");
                let mut fields: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
                fields.extend(filled.split('&').filter(|f| !f.is_empty()).map(|f| f.split_once('=').unwrap_or((f, ""))));
                role.browser.post(&path, &fields)
            };
            let got = outcome(&res);
            if got != expect[i] {
                mismatches.push(format!("{method} {pattern}  {:<10}  expected {:<5} got {got}", role.name, expect[i]));
            }
            for (_, whose, marker) in world.markers.iter().filter(|(roles, _, m)| roles.contains(&i) && res.body.contains(m.as_str())) {
                mismatches.push(format!("{method} {pattern}  {:<10}  shows {whose}'s {marker:?}", role.name));
            }
            if let Some(before) = before {
                let after = fingerprint(&app, &world);
                for (b, a) in before.iter().zip(&after).filter(|(b, a)| b != a) {
                    mismatches.push(format!("{method} {pattern}  {:<10}  changed A's data:\n      before {b}\n      after  {a}", role.name));
                }
            }
        }
    }

    // Anything else (an unknown path, a known path with another method) is not found, for everyone.
    for role in roles.iter_mut() {
        let unknown = role.browser.get("/no/such/page");
        let token = role.csrf();
        let wrong_method = role.browser.post("/healthz", &[("csrf_token", &token)]);
        for (what, res) in [("GET /no/such/page", unknown), ("POST /healthz", wrong_method)] {
            if res.status != 404 {
                mismatches.push(format!("{what}  {:<10}  expected 404   got {}", role.name, outcome(&res)));
            }
        }
    }

    assert!(mismatches.is_empty(), "{} answers differ from the authorization table:\n  {}", mismatches.len(), mismatches.join("\n  "));
}
