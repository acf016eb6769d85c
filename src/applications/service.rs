//! Application rules and transactions: draft, answers, documents, submission
//! (with the yearly capacity and the waiting list), withdrawal, staff decisions.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Deserialize;

use super::models::{self, Application, Status};
use super::rules::{self, Eligibility, Facts, RuleSet};
use crate::accounts::domain::{Email, PersonName, Phone};
use crate::accounts::models::User;
use crate::accounts::service::FieldErrors;
use crate::db::schema::{application_documents, application_events, applications, capacity_counters, programs};
use crate::db::{is_unique_violation, new_id, write_tx, DbConn};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::notify::{Email as Mail, Notices, Notifier, Rendered};
use crate::results::rollup;
use crate::time::now_utc;

pub fn program_id(conn: &mut DbConn, code: &str) -> Result<String, AppError> {
    programs::table
        .filter(programs::code.eq(code))
        .select(programs::id)
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)
}

/// Records an event; an approval also moves the maintained count of approvals
/// (results::rollup), in the same transaction.
fn add_event(conn: &mut DbConn, application_id: &str, actor: Option<&str>, action: &str, note: &str) -> Result<(), AppError> {
    let at = now_utc();
    if action == "approved" {
        rollup::add(conn, rollup::APPLICATIONS_APPROVED, "", rollup::seoul_day(at), 1)?;
    }
    diesel::insert_into(application_events::table)
        .values((
            application_events::id.eq(new_id()),
            application_events::application_id.eq(application_id),
            application_events::at.eq(at),
            application_events::actor_id.eq(actor),
            application_events::action.eq(action),
            application_events::note.eq(note),
        ))
        .execute(conn)?;
    Ok(())
}

fn new_reference(today: NaiveDate) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    format!("HW-{}-{}", today.format("%Y%m%d"), &random[..6])
}

/// Opens the resident's draft for a program, or returns the one she has.
/// A second open application for the same pregnancy is refused.
pub fn start(conn: &mut DbConn, user: &User, program_id: &str, today: NaiveDate) -> Result<Application, AppError> {
    if let Some(open) = models::open_for(conn, &user.id, program_id)? {
        return if open.status() == Status::Draft { Ok(open) } else { Err(AppError::Conflict("applications.errors.already_open")) };
    }
    let rules = rules::in_force(conn, program_id, today)?.ok_or(AppError::Conflict("applications.errors.no_rules"))?;
    if !rules.applications_open {
        return Err(AppError::Conflict("applications.errors.closed"));
    }
    let id = new_id();
    let now = now_utc();
    let inserted = diesel::insert_into(applications::table)
        .values((
            applications::id.eq(&id),
            applications::reference.eq(new_reference(today)),
            applications::program_id.eq(program_id),
            applications::user_id.eq(&user.id),
            applications::rule_set_id.eq(&rules.id),
            applications::status.eq(Status::Draft.as_str()),
            applications::applicant_name.eq(&user.name),
            applications::phone.eq(&user.phone),
            applications::email.eq(&user.email),
            applications::created_at.eq(now),
            applications::updated_at.eq(now),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => {}
        // A double click raced us: the other request's draft is the one.
        Err(e) if is_unique_violation(&e) => {}
        Err(e) => return Err(e.into()),
    }
    match models::open_for(conn, &user.id, program_id)? {
        Some(app) if app.status() == Status::Draft => Ok(app),
        _ => Err(AppError::Conflict("applications.errors.already_open")),
    }
}

fn parse_date(raw: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").ok()
}

#[derive(Deserialize, Default, Clone, serde::Serialize)]
#[serde(default)]
pub struct DetailsInput {
    pub applicant_name: String,
    pub birth_date: String,
    pub phone: String,
    pub email: String,
    pub district_code: String,
    pub street_address: String,
}

#[derive(Deserialize, Default, Clone, serde::Serialize)]
#[serde(default)]
pub struct PregnancyInput {
    pub due_date: String,
    pub residency_start: String,
    /// The day a pregnancy ended in a loss, where the rules cover it.
    pub loss_on: String,
    /// "yes" / "no": household income within the rules' income test.
    pub income_within_limit: String,
    /// Checkboxes `priority_<code>` = "yes" for the rules' priority groups.
    #[serde(flatten)]
    pub extra: std::collections::BTreeMap<String, String>,
}

impl PregnancyInput {
    pub fn priority_groups(&self, rules: &RuleSet) -> Vec<String> {
        rules.terms.priority_groups.iter().filter(|g| self.extra.get(&format!("priority_{}", g.code)).is_some_and(|v| v == "yes")).map(|g| g.code.clone()).collect()
    }
}

fn own_draft(conn: &mut DbConn, user_id: &str, app_id: &str) -> Result<Application, AppError> {
    let app = models::find_own(conn, user_id, app_id)?.ok_or(AppError::NotFound)?;
    if app.status() != Status::Draft {
        return Err(AppError::Conflict("applications.errors.not_editable"));
    }
    Ok(app)
}

pub fn save_details(conn: &mut DbConn, user_id: &str, app_id: &str, rules: &RuleSet, input: &DetailsInput, today: NaiveDate) -> Result<Result<(), FieldErrors>, AppError> {
    let app = own_draft(conn, user_id, app_id)?;
    let mut errors = FieldErrors::new();
    let name = PersonName::parse(&input.applicant_name).map_err(|e| errors.push(("applicant_name", e))).ok();
    let birth = match parse_date(&input.birth_date) {
        None if input.birth_date.trim().is_empty() => {
            errors.push(("birth_date", "applications.errors.birth_date_required"));
            None
        }
        None => {
            errors.push(("birth_date", "applications.errors.date_invalid"));
            None
        }
        Some(d) if d > today - chrono::Duration::days(365 * 12) || d < today - chrono::Duration::days(365 * 65) => {
            errors.push(("birth_date", "applications.errors.birth_date_implausible"));
            None
        }
        Some(d) => Some(d),
    };
    let phone = Phone::parse(&input.phone).map_err(|e| errors.push(("phone", e))).ok();
    let email = Email::parse(&input.email).map_err(|e| errors.push(("email", e))).ok();
    if rules.district_name(&input.district_code).is_none() {
        errors.push(("district_code", "applications.errors.district_required"));
    }
    let street = input.street_address.trim();
    if street.is_empty() {
        errors.push(("street_address", "applications.errors.street_required"));
    } else if street.chars().count() > 200 {
        errors.push(("street_address", "applications.errors.street_too_long"));
    }
    let (Some(name), Some(birth), Some(phone), Some(email), true) = (name, birth, phone, email, errors.is_empty()) else {
        return Ok(Err(errors));
    };
    diesel::update(applications::table.find(&app.id))
        .set((
            applications::applicant_name.eq(name.as_str()),
            applications::birth_date.eq(Some(birth)),
            applications::phone.eq(phone.as_str()),
            applications::email.eq(email.as_str()),
            applications::district_code.eq(input.district_code.trim()),
            applications::street_address.eq(street),
            applications::updated_at.eq(now_utc()),
        ))
        .execute(conn)?;
    Ok(Ok(()))
}

pub fn save_pregnancy(conn: &mut DbConn, user_id: &str, app_id: &str, rules: &RuleSet, input: &PregnancyInput, today: NaiveDate) -> Result<Result<(), FieldErrors>, AppError> {
    let app = own_draft(conn, user_id, app_id)?;
    let mut errors = FieldErrors::new();
    // A loss date, where the rules cover a loss: not in the future.
    let loss_on = match (rules.terms.loss_after_week, input.loss_on.trim()) {
        (Some(_), "") | (None, _) => None,
        (Some(_), raw) => match parse_date(raw) {
            Some(d) if d <= today => Some(d),
            Some(_) => {
                errors.push(("loss_on", "applications.errors.loss_future"));
                None
            }
            None => {
                errors.push(("loss_on", "applications.errors.date_invalid"));
                None
            }
        },
    };
    let income = match (rules.terms.income_test, input.income_within_limit.as_str()) {
        (None, _) => None,
        (Some(_), "yes") => Some(true),
        (Some(_), "no") => Some(false),
        (Some(_), _) => {
            errors.push(("income_within_limit", "applications.errors.income_required"));
            None
        }
    };
    let priority = serde_json::to_string(&input.priority_groups(rules)).unwrap_or_else(|_| "[]".into());
    let due = match parse_date(&input.due_date) {
        None if input.due_date.trim().is_empty() => {
            errors.push(("due_date", "applications.errors.due_date_required"));
            None
        }
        None => {
            errors.push(("due_date", "applications.errors.date_invalid"));
            None
        }
        // After a loss the due date may lie in the past.
        Some(d) if loss_on.is_some() => Some(d),
        Some(d) => match rules::implausible_due_date(d, today) {
            Some(key) => {
                errors.push(("due_date", key));
                None
            }
            None => Some(d),
        },
    };
    let residency = match parse_date(&input.residency_start) {
        None if input.residency_start.trim().is_empty() => {
            errors.push(("residency_start", "applications.errors.residency_required"));
            None
        }
        None => {
            errors.push(("residency_start", "applications.errors.date_invalid"));
            None
        }
        Some(d) if d > today => {
            errors.push(("residency_start", "applications.errors.residency_future"));
            None
        }
        Some(d) => Some(d),
    };
    let (Some(due), Some(residency), true) = (due, residency, errors.is_empty()) else {
        return Ok(Err(errors));
    };
    diesel::update(applications::table.find(&app.id))
        .set((
            applications::due_date.eq(Some(due)),
            applications::residency_start.eq(Some(residency)),
            applications::pregnancy_loss_on.eq(loss_on),
            applications::income_within_limit.eq(income),
            applications::priority_groups.eq(priority),
            applications::updated_at.eq(now_utc()),
        ))
        .execute(conn)?;
    Ok(Ok(()))
}

pub struct NewDocument<'a> {
    pub original_name: &'a str,
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

/// Records an upload on the resident's draft, or on an application where
/// staff asked for more information: the record and its sealed content in
/// one transaction (sealed before it, so the write lock is held briefly).
pub fn attach_document(conn: &mut DbConn, keys: &crate::crypto::DocumentKeys, user_id: &str, app_id: &str, kind: &str, doc: NewDocument<'_>) -> Result<(), AppError> {
    let id = new_id();
    let sealed = keys.seal(id.as_bytes(), doc.bytes).map_err(AppError::Internal)?;
    write_tx(conn, |conn| {
        let app = models::find_own(conn, user_id, app_id)?.ok_or(AppError::NotFound)?;
        if !matches!(app.status(), Status::Draft | Status::InfoRequested) {
            return Err(AppError::Conflict("applications.errors.not_editable"));
        }
        diesel::insert_into(application_documents::table)
            .values((
                application_documents::id.eq(&id),
                application_documents::application_id.eq(&app.id),
                application_documents::kind.eq(kind),
                application_documents::original_name.eq(doc.original_name),
                application_documents::content_type.eq(doc.content_type),
                application_documents::size_bytes.eq(doc.bytes.len() as i64),
                // No file any more: the (unique) storage name is the record's id.
                application_documents::storage_name.eq(&id),
                application_documents::uploaded_by.eq(Some(user_id)),
                application_documents::uploaded_at.eq(now_utc()),
            ))
            .execute(conn)?;
        super::documents::insert_sealed(conn, &id, &sealed)?;
        add_event(conn, &app.id, Some(user_id), "document_uploaded", doc.original_name)
    })
}

pub fn facts_of(app: &Application) -> Option<Facts> {
    Some(Facts {
        district_code: app.district_code.clone(),
        due_date: app.due_date?,
        residency_start: app.residency_start,
        birth_recorded_on: app.birth_recorded_on,
        pregnancy_loss_on: app.pregnancy_loss_on,
        priority_groups: serde_json::from_str(&app.priority_groups).unwrap_or_default(),
        income_within_limit: app.income_within_limit,
    })
}

/// The instant pre-check shown to the resident (and stored with the application).
pub fn precheck(rules: &RuleSet, app: &Application, today: NaiveDate) -> Eligibility {
    match facts_of(app) {
        Some(f) => rules::check(rules, &f, today),
        None => Eligibility::NotEligible(vec![]),
    }
}

/// The kind of document a rule set asks for when it names none.
pub const DEFAULT_DOCUMENT: &str = "pregnancy_confirmation";

/// The document kinds a rule set asks for, each uploaded separately.
pub fn required_documents(rules: &RuleSet) -> Vec<String> {
    if rules.terms.documents.is_empty() {
        vec![DEFAULT_DOCUMENT.to_string()]
    } else {
        rules.terms.documents.iter().map(|d| d.code.clone()).collect()
    }
}

/// What is still missing before the draft can be submitted (catalog keys per
/// step): every required kind of document needs at least one upload.
pub fn missing_steps(app: &Application, rules: &RuleSet, documents: &[models::Document]) -> Vec<&'static str> {
    let mut missing = vec![];
    if app.birth_date.is_none() || app.district_code.is_empty() || app.street_address.is_empty() {
        missing.push("details");
    }
    if app.due_date.is_none() || app.residency_start.is_none() {
        missing.push("pregnancy");
    }
    let required = required_documents(rules);
    let kinds_done = |kind: &String| documents.iter().any(|d| &d.kind == kind || (required.len() == 1 && d.kind == DEFAULT_DOCUMENT));
    if documents.is_empty() || !required.iter().all(kinds_done) {
        missing.push("document");
    }
    missing
}

fn counter_key(program_id: &str, year: i32) -> String {
    format!("{program_id}:{year}")
}

/// Makes sure the counter row exists (outside any transaction: a concurrent
/// insert of the same row is harmless).
fn ensure_counter(conn: &mut DbConn, key: &str) -> Result<(), AppError> {
    let inserted = diesel::insert_into(capacity_counters::table)
        .values((capacity_counters::id.eq(key), capacity_counters::used.eq(0)))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Takes one place if any is left: one conditional UPDATE, so concurrent
/// submissions can never take more places than the capacity.
fn take_place(conn: &mut DbConn, key: &str, capacity: i32) -> Result<bool, AppError> {
    let n = diesel::update(capacity_counters::table.find(key).filter(capacity_counters::used.lt(capacity)))
        .set(capacity_counters::used.eq(capacity_counters::used + 1))
        .execute(conn)?;
    Ok(n == 1)
}

fn release_place(conn: &mut DbConn, key: &str) -> Result<(), AppError> {
    diesel::update(capacity_counters::table.find(key).filter(capacity_counters::used.gt(0)))
        .set(capacity_counters::used.eq(capacity_counters::used - 1))
        .execute(conn)?;
    Ok(())
}

pub fn places_used(conn: &mut DbConn, program_id: &str, year: i32) -> Result<i32, AppError> {
    Ok(capacity_counters::table
        .find(counter_key(program_id, year))
        .select(capacity_counters::used)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

fn mail_context(app: &Application, program_name: &str) -> tera::Context {
    let mut c = tera::Context::new();
    c.insert("name", &app.applicant_name);
    c.insert("reference", &app.reference);
    c.insert("program_name", program_name);
    c.insert("application_id", &app.id);
    c
}

fn program_name(conn: &mut DbConn, program_id: &str, lang: Lang) -> Result<String, AppError> {
    let (ko, en): (String, String) = programs::table.find(program_id).select((programs::name_ko, programs::name_en)).first(conn)?;
    Ok(if lang == Lang::En { en } else { ko })
}

fn lang_of(conn: &mut DbConn, user_id: &str) -> Result<Lang, AppError> {
    use crate::db::schema::users;
    let code: String = users::table.find(user_id).select(users::locale).first(conn)?;
    Ok(Lang::from_code(&code).unwrap_or(Lang::Ko))
}

/// An application's message, built from its row (her language and the
/// program's name are read).
fn app_mail<'a>(conn: &mut DbConn, app: &'a Application, kind: &'static str, extra: &[(&str, &str)]) -> Result<Mail<'a>, AppError> {
    let lang = lang_of(conn, &app.user_id)?;
    let mut context = mail_context(app, &program_name(conn, &app.program_id, lang)?);
    for (k, v) in extra {
        context.insert(*k, v);
    }
    Ok(Mail { user_id: Some(&app.user_id), to: &app.email, kind, lang, context })
}

/// `notify` using the message rendered before the transaction when it is still the same.
fn notify_prepared(conn: &mut DbConn, notifier: &Notifier, app: &Application, kind: &'static str, extra: &[(&str, &str)], ready: Option<&Rendered>) -> Result<(), AppError> {
    let mail = app_mail(conn, app, kind, extra)?;
    notifier.enqueue_prepared(conn, mail, ready)?;
    Ok(())
}

/// Queues an application's message inside the transaction from its
/// rendering prepared before it (see `Notifier::write_tx_with_notices`).
fn notify_in(conn: &mut DbConn, notices: &mut Notices<'_>, app: &Application, kind: &'static str, extra: &[(&str, &str)]) -> Result<(), AppError> {
    let mail = app_mail(conn, app, kind, extra)?;
    notices.enqueue(conn, mail)?;
    Ok(())
}

/// Renders an application's message before the transaction that will
/// queue it, from the row as it is now.
fn prepare_app_mail(conn: &mut DbConn, notifier: &Notifier, app: &Application, kind: &'static str, extra: &[(&str, &str)]) -> Option<Rendered> {
    let mail = app_mail(conn, app, kind, extra);
    notifier.prepare(conn, mail)
}

pub enum SubmitOutcome {
    Submitted(Application),
    Incomplete(Vec<&'static str>),
    ConsentMissing,
}

/// Submits the draft: re-checks it, stores the pre-check, takes one of the
/// year's places or joins the waiting list, and queues the email, all in one
/// transaction.
pub fn submit(conn: &mut DbConn, notifier: &Notifier, user_id: &str, app_id: &str, consent: bool, today: NaiveDate) -> Result<SubmitOutcome, AppError> {
    let draft = own_draft(conn, user_id, app_id)?;
    let key = counter_key(&draft.program_id, rules::capacity_year(today));
    ensure_counter(conn, &key)?;
    // The email it will most likely send (a place while places are left,
    // else the waiting list), rendered before the transaction.
    let full = rules::in_force(conn, &draft.program_id, today).ok().flatten().is_some_and(|r| {
        places_used(conn, &draft.program_id, rules::capacity_year(today)).is_ok_and(|used| used >= r.yearly_capacity)
    });
    let kind = if full { "application_waitlisted" } else { "application_received" };
    let ready = prepare_app_mail(conn, notifier, &draft, kind, &[]);
    write_tx(conn, |conn| {
        let app = own_draft(conn, user_id, app_id)?;
        let docs = models::documents(conn, &app.id)?;
        let draft_rules = rules::find(conn, &app.rule_set_id)?;
        let missing = missing_steps(&app, &draft_rules, &docs);
        if !missing.is_empty() {
            return Ok(SubmitOutcome::Incomplete(missing));
        }
        if !consent {
            return Ok(SubmitOutcome::ConsentMissing);
        }
        let rules = rules::in_force(conn, &app.program_id, today)?.ok_or(AppError::Conflict("applications.errors.no_rules"))?;
        if !rules.applications_open {
            return Err(AppError::Conflict("applications.errors.closed"));
        }
        let (eligible, reasons) = match precheck(&rules, &app, today) {
            Eligibility::Eligible => (true, vec![]),
            Eligibility::NotEligible(r) => (false, r),
        };
        let status = if take_place(conn, &key, rules.yearly_capacity)? { Status::Submitted } else { Status::Waitlisted };
        let now = now_utc();
        diesel::update(applications::table.find(&app.id))
            .set((
                applications::status.eq(status.as_str()),
                applications::rule_set_id.eq(&rules.id),
                applications::precheck_eligible.eq(Some(eligible)),
                applications::precheck_reasons.eq(serde_json::to_string(&reasons).unwrap_or_else(|_| "[]".into())),
                applications::capacity_year.eq(Some(rules::capacity_year(today))),
                applications::consent_at.eq(Some(now)),
                applications::submitted_at.eq(Some(now)),
                applications::updated_at.eq(now),
            ))
            .execute(conn)?;
        rollup::add(conn, rollup::APPLICATIONS_RECEIVED, "", rollup::seoul_day(now), 1)?;
        add_event(conn, &app.id, Some(user_id), "submitted", "")?;
        if status == Status::Waitlisted {
            add_event(conn, &app.id, None, "waitlisted", "")?;
        }
        let app = models::find(conn, &app.id)?.ok_or(AppError::NotFound)?;
        let kind = if status == Status::Waitlisted { "application_waitlisted" } else { "application_received" };
        notify_prepared(conn, notifier, &app, kind, &[], ready.as_ref())?;
        Ok(SubmitOutcome::Submitted(app))
    })
}

/// The next on the waiting list: by time of submission, except that where her
/// rules order the list by priority group, members of a group go first.
fn next_in_line(conn: &mut DbConn, waiting: &[Application]) -> Result<Option<Application>, AppError> {
    let mut rule_sets: std::collections::HashMap<String, RuleSet> = std::collections::HashMap::new();
    for app in waiting {
        if !rule_sets.contains_key(&app.rule_set_id) {
            rule_sets.insert(app.rule_set_id.clone(), rules::find(conn, &app.rule_set_id)?);
        }
        let r = &rule_sets[&app.rule_set_id];
        let declared: Vec<String> = serde_json::from_str(&app.priority_groups).unwrap_or_default();
        if r.terms.priority_use == rules::PriorityUse::Order && r.in_priority_group(&declared) {
            return Ok(Some(app.clone()));
        }
    }
    Ok(waiting.first().cloned())
}

/// The program's waiting list of `year`, in the order of submission.
fn waiting_list(conn: &mut DbConn, program_id: &str, year: i32) -> Result<Vec<Application>, AppError> {
    Ok(applications::table
        .filter(applications::program_id.eq(program_id))
        .filter(applications::status.eq(Status::Waitlisted.as_str()))
        .filter(applications::capacity_year.eq(year))
        .order((applications::submitted_at.asc(), applications::reference.asc()))
        .select(Application::as_select())
        .load(conn)?)
}

/// Gives a place back and moves the next on the waiting list into review,
/// telling her by email (rendered before the transaction: see `withdraw`).
fn release_and_promote(conn: &mut DbConn, notices: &mut Notices<'_>, program_id: &str, year: i32, capacity: i32) -> Result<(), AppError> {
    let key = counter_key(program_id, year);
    release_place(conn, &key)?;
    for _ in 0..5 {
        let waiting = waiting_list(conn, program_id, year)?;
        let Some(next) = next_in_line(conn, &waiting)? else { return Ok(()) };
        if !take_place(conn, &key, capacity)? {
            return Ok(());
        }
        let moved = diesel::update(applications::table.find(&next.id).filter(applications::status.eq(Status::Waitlisted.as_str())))
            .set((applications::status.eq(Status::Submitted.as_str()), applications::updated_at.eq(now_utc())))
            .execute(conn)?;
        if moved == 1 {
            add_event(conn, &next.id, None, "promoted", "")?;
            notify_in(conn, notices, &next, "application_promoted", &[])?;
            return Ok(());
        }
        release_place(conn, &key)?;
    }
    Ok(())
}

fn capacity_of(conn: &mut DbConn, app: &Application) -> Result<i32, AppError> {
    Ok(rules::find(conn, &app.rule_set_id)?.yearly_capacity)
}

/// The message `release_and_promote` will send once `app` gives its place
/// back, rendered before the transaction for the one next in line now.
fn prepare_promotion(conn: &mut DbConn, notifier: &Notifier, app: &Application) -> Result<Vec<Rendered>, AppError> {
    let (true, Some(year)) = (app.status().holds_place(), app.capacity_year) else { return Ok(vec![]) };
    let waiting = waiting_list(conn, &app.program_id, year)?;
    let Some(next) = next_in_line(conn, &waiting)? else { return Ok(vec![]) };
    let mail = app_mail(conn, &next, "application_promoted", &[])?;
    Ok(vec![notifier.render(conn, mail)?])
}

/// The resident withdraws her application (or discards her draft). If it
/// held a place, the next on the waiting list gets it; her message is
/// rendered before the transaction for the one next in line then.
pub fn withdraw(conn: &mut DbConn, notifier: &Notifier, user_id: &str, app_id: &str) -> Result<(), AppError> {
    let prepare = |conn: &mut DbConn| -> Result<Vec<Rendered>, AppError> {
        let Some(app) = models::find_own(conn, user_id, app_id)? else { return Ok(vec![]) };
        prepare_promotion(conn, notifier, &app)
    };
    notifier.write_tx_with_notices(conn, prepare, |conn, notices| {
        let app = models::find_own(conn, user_id, app_id)?.ok_or(AppError::NotFound)?;
        let status = app.status();
        if !status.withdrawable() {
            return Err(AppError::Conflict("applications.errors.not_withdrawable"));
        }
        diesel::update(applications::table.find(&app.id))
            .set((applications::status.eq(Status::Withdrawn.as_str()), applications::updated_at.eq(now_utc())))
            .execute(conn)?;
        add_event(conn, &app.id, Some(user_id), "withdrawn", "")?;
        if let (true, Some(year)) = (status.holds_place(), app.capacity_year) {
            let capacity = capacity_of(conn, &app)?;
            release_and_promote(conn, notices, &app.program_id, year, capacity)?;
        }
        Ok(())
    })
}

/// After staff asked for more, the resident sends her new document back.
pub fn resubmit(conn: &mut DbConn, user_id: &str, app_id: &str) -> Result<(), AppError> {
    write_tx(conn, |conn| {
        let app = models::find_own(conn, user_id, app_id)?.ok_or(AppError::NotFound)?;
        if app.status() != Status::InfoRequested {
            return Err(AppError::Conflict("applications.errors.not_editable"));
        }
        diesel::update(applications::table.find(&app.id))
            .set((applications::status.eq(Status::Submitted.as_str()), applications::updated_at.eq(now_utc())))
            .execute(conn)?;
        add_event(conn, &app.id, Some(user_id), "resubmitted", "")
    })
}

/// Whether staff must check her declared income before approving.
pub fn income_check_needed(rules: &RuleSet, app: &Application) -> bool {
    let declared: Vec<String> = serde_json::from_str(&app.priority_groups).unwrap_or_default();
    rules.terms.income_test.is_some_and(|t| !(t.priority_groups_exempt && rules.in_priority_group(&declared)))
}

/// Staff accept a document or ask for it again (with what is wrong), one
/// document at a time; recorded on the application's history.
pub fn review_document(conn: &mut DbConn, staff: &User, app_id: &str, doc_id: &str, accepted: bool, note: &str) -> Result<(), AppError> {
    write_tx(conn, |conn| {
        let doc = models::document(conn, app_id, doc_id)?.ok_or(AppError::NotFound)?;
        diesel::update(application_documents::table.find(&doc.id))
            .set((
                application_documents::review_status.eq(if accepted { "accepted" } else { "rejected" }),
                application_documents::review_note.eq(note),
                application_documents::reviewed_by.eq(Some(&staff.id)),
                application_documents::reviewed_at.eq(Some(now_utc())),
            ))
            .execute(conn)?;
        let action = if accepted { "document_accepted" } else { "document_rejected" };
        add_event(conn, app_id, Some(&staff.id), action, &format!("{}: {note}", doc.original_name))
    })
}

pub enum Decision {
    /// `income_checked`: staff have checked the declared income against
    /// documents (required where the rules have an income test).
    Approve { income_checked: bool },
    Reject(String),
    RequestInfo(String),
}

/// A staff decision, recorded with who and when, and emailed. Approval keeps
/// the rule set in force on the day of the decision.
pub fn decide(conn: &mut DbConn, notifier: &Notifier, staff: &User, app_id: &str, decision: Decision, today: NaiveDate) -> Result<(), AppError> {
    let prepare = |conn: &mut DbConn| -> Result<Vec<Rendered>, AppError> {
        let mut ready: Vec<Rendered> = prepare_decision_mail(conn, notifier, app_id, &decision, today).into_iter().collect();
        if let (Decision::Reject(_), Some(app)) = (&decision, models::find(conn, app_id)?) {
            ready.extend(prepare_promotion(conn, notifier, &app)?);
        }
        Ok(ready)
    };
    notifier.write_tx_with_notices(conn, prepare, |conn, notices| {
        let app = models::find(conn, app_id)?.ok_or(AppError::NotFound)?;
        let status = app.status();
        let now: NaiveDateTime = now_utc();
        match &decision {
            Decision::Approve { income_checked } => {
                if !matches!(status, Status::Submitted | Status::InfoRequested) {
                    return Err(AppError::Conflict("applications.errors.not_decidable"));
                }
                let rules = rules::in_force(conn, &app.program_id, today)?.ok_or(AppError::Conflict("applications.errors.no_rules"))?;
                if income_check_needed(&rules, &app) && !*income_checked {
                    return Err(AppError::Conflict("applications.errors.income_unchecked"));
                }
                diesel::update(applications::table.find(&app.id))
                    .set((
                        applications::income_checked_by.eq(income_checked.then_some(&staff.id)),
                        applications::status.eq(Status::Approved.as_str()),
                        applications::rule_set_id.eq(&rules.id),
                        applications::decided_by.eq(Some(&staff.id)),
                        applications::decided_at.eq(Some(now)),
                        applications::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                add_event(conn, &app.id, Some(&staff.id), "approved", "")?;
                let (count, hours) = (rules.visit_count.to_string(), rules.visit_hours.to_string());
                notify_in(conn, notices, &app, "application_approved", &[("visit_count", &count), ("visit_hours", &hours)])?;
            }
            Decision::Reject(reason) => {
                if !matches!(status, Status::Submitted | Status::InfoRequested | Status::Waitlisted) {
                    return Err(AppError::Conflict("applications.errors.not_decidable"));
                }
                diesel::update(applications::table.find(&app.id))
                    .set((
                        applications::status.eq(Status::Rejected.as_str()),
                        applications::decision_reason.eq(Some(reason)),
                        applications::decided_by.eq(Some(&staff.id)),
                        applications::decided_at.eq(Some(now)),
                        applications::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                add_event(conn, &app.id, Some(&staff.id), "rejected", reason)?;
                notify_in(conn, notices, &app, "application_rejected", &[("reason", reason)])?;
                if let (true, Some(year)) = (status.holds_place(), app.capacity_year) {
                    let capacity = capacity_of(conn, &app)?;
                    release_and_promote(conn, notices, &app.program_id, year, capacity)?;
                }
            }
            Decision::RequestInfo(message) => {
                if !matches!(status, Status::Submitted | Status::InfoRequested) {
                    return Err(AppError::Conflict("applications.errors.not_decidable"));
                }
                diesel::update(applications::table.find(&app.id))
                    .set((
                        applications::status.eq(Status::InfoRequested.as_str()),
                        applications::info_request.eq(Some(message)),
                        applications::decided_by.eq(Some(&staff.id)),
                        applications::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                add_event(conn, &app.id, Some(&staff.id), "info_requested", message)?;
                notify_in(conn, notices, &app, "application_info_requested", &[("message", message)])?;
            }
        }
        Ok(())
    })
}

/// The email a decision sends, rendered before its transaction from the
/// application and the rules in force as they are now.
fn prepare_decision_mail(conn: &mut DbConn, notifier: &Notifier, app_id: &str, decision: &Decision, today: NaiveDate) -> Option<Rendered> {
    let app = models::find(conn, app_id).ok()??;
    let (kind, extra): (&'static str, Vec<(&str, String)>) = match decision {
        Decision::Approve { .. } => {
            let rules = rules::in_force(conn, &app.program_id, today).ok()??;
            ("application_approved", vec![("visit_count", rules.visit_count.to_string()), ("visit_hours", rules.visit_hours.to_string())])
        }
        Decision::Reject(reason) => ("application_rejected", vec![("reason", reason.clone())]),
        Decision::RequestInfo(message) => ("application_info_requested", vec![("message", message.clone())]),
    };
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    prepare_app_mail(conn, notifier, &app, kind, &extra)
}
