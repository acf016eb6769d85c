//! Visit transactions. Every place is taken with a conditional UPDATE inside
//! the transaction (slot: booked < capacity; quota: used < quota), so neither
//! can be exceeded by simultaneous requests on either backend.

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::models::{self, Slot, Visit, ACTIVE};
use super::rules::{self, Settings};
use crate::accounts::models::User;
use crate::agencies::Agency;
use crate::applications::models::{self as apps, Application, Status};
use crate::applications::rules as app_rules;
use crate::db::schema::{agency_holidays, application_events, applications, helpers, visit_quotas, visit_settings, visit_slot_templates, visit_slots, visits};
use crate::db::{is_unique_violation, new_id, write_tx, DbConn};
use crate::error::AppError;
use crate::notify::{Email as Mail, Notifier, Recipient, Rendered};
use crate::time::{format_date, now_utc, to_seoul};

/// Creates the concrete slots of the agency's week for `from..=to` that do not
/// exist yet (holidays skipped). Runs outside transactions; a concurrent
/// creation of the same slot is harmless.
pub fn ensure_slots(conn: &mut DbConn, agency_id: &str, from: NaiveDate, to: NaiveDate) -> Result<(), AppError> {
    let templates = models::templates(conn, agency_id)?;
    if templates.is_empty() || to < from {
        return Ok(());
    }
    let existing: HashSet<(NaiveDate, i32)> = models::slots_between(conn, agency_id, from, to)?.into_iter().map(|s| (s.day, s.start_minute)).collect();
    let holidays: HashSet<NaiveDate> = models::holidays(conn, agency_id, from)?.into_iter().map(|(d, _)| d).collect();
    let mut day = from;
    while day <= to {
        if !holidays.contains(&day) {
            let weekday = day.weekday().num_days_from_monday() as i32;
            for t in templates.iter().filter(|t| t.weekday == weekday && !existing.contains(&(day, t.start_minute))) {
                let inserted = diesel::insert_into(visit_slots::table)
                    .values((
                        visit_slots::id.eq(new_id()),
                        visit_slots::agency_id.eq(agency_id),
                        visit_slots::day.eq(day),
                        visit_slots::start_minute.eq(t.start_minute),
                        visit_slots::capacity.eq(t.helpers),
                        visit_slots::booked.eq(0),
                    ))
                    .execute(conn);
                match inserted {
                    Err(e) if !is_unique_violation(&e) => return Err(e.into()),
                    _ => {}
                }
            }
        }
        day += chrono::Duration::days(1);
    }
    Ok(())
}

/// The slot's capacity becomes `capacity`, never below what is booked.
fn set_slot_capacity(conn: &mut DbConn, slot_id: &str, capacity: i32) -> Result<(), AppError> {
    diesel::update(visit_slots::table.find(slot_id).filter(visit_slots::booked.le(capacity)))
        .set(visit_slots::capacity.eq(capacity))
        .execute(conn)?;
    diesel::update(visit_slots::table.find(slot_id).filter(visit_slots::booked.gt(capacity)))
        .set(visit_slots::capacity.eq(visit_slots::booked))
        .execute(conn)?;
    Ok(())
}

/// Saves the agency's weekly start times and helpers, and applies them to the
/// future slots already created (free slots of removed times disappear).
pub fn save_templates(conn: &mut DbConn, agency_id: &str, entries: &[(i32, i32, i32)], today: NaiveDate) -> Result<(), AppError> {
    write_tx(conn, |conn| apply_templates(conn, agency_id, entries, today))
}

/// `save_templates` inside the caller's transaction.
pub fn apply_templates(conn: &mut DbConn, agency_id: &str, entries: &[(i32, i32, i32)], today: NaiveDate) -> Result<(), AppError> {
    diesel::delete(visit_slot_templates::table.filter(visit_slot_templates::agency_id.eq(agency_id))).execute(conn)?;
    for (weekday, start_minute, helpers) in entries {
        diesel::insert_into(visit_slot_templates::table)
            .values((
                visit_slot_templates::id.eq(new_id()),
                visit_slot_templates::agency_id.eq(agency_id),
                visit_slot_templates::weekday.eq(weekday),
                visit_slot_templates::start_minute.eq(start_minute),
                visit_slot_templates::helpers.eq(helpers),
            ))
            .execute(conn)?;
    }
    let future: Vec<Slot> = visit_slots::table
        .filter(visit_slots::agency_id.eq(agency_id))
        .filter(visit_slots::day.ge(today))
        .select(Slot::as_select())
        .load(conn)?;
    for slot in future {
        let weekday = slot.day.weekday().num_days_from_monday() as i32;
        match entries.iter().find(|(w, m, _)| *w == weekday && *m == slot.start_minute) {
            Some((_, _, helpers)) => set_slot_capacity(conn, &slot.id, *helpers)?,
            None if slot.booked == 0 => {
                diesel::delete(visit_slots::table.find(&slot.id)).execute(conn)?;
            }
            None => set_slot_capacity(conn, &slot.id, 0)?,
        }
    }
    Ok(())
}

/// A holiday: no new bookings that day (existing ones stay for the agency to move).
pub fn add_holiday(conn: &mut DbConn, agency_id: &str, day: NaiveDate, note: &str) -> Result<(), AppError> {
    write_tx(conn, |conn| insert_holiday(conn, agency_id, day, note))
}

fn insert_holiday(conn: &mut DbConn, agency_id: &str, day: NaiveDate, note: &str) -> Result<(), AppError> {
    let exists: bool = diesel::select(diesel::dsl::exists(agency_holidays::table.find((agency_id, day)))).get_result(conn)?;
    if !exists {
        diesel::insert_into(agency_holidays::table)
            .values((agency_holidays::agency_id.eq(agency_id), agency_holidays::day.eq(day), agency_holidays::note.eq(note)))
            .execute(conn)?;
    }
    let of_day = visit_slots::table.filter(visit_slots::agency_id.eq(agency_id)).filter(visit_slots::day.eq(day));
    diesel::delete(of_day.filter(visit_slots::booked.eq(0))).execute(conn)?;
    let busy: Vec<String> = of_day.select(visit_slots::id).load(conn)?;
    for id in busy {
        set_slot_capacity(conn, &id, 0)?;
    }
    Ok(())
}

/// The agency's holidays become exactly `days` (inside the caller's transaction).
pub fn replace_holidays(conn: &mut DbConn, agency_id: &str, days: &[(NaiveDate, String)]) -> Result<(), AppError> {
    diesel::delete(agency_holidays::table.filter(agency_holidays::agency_id.eq(agency_id))).execute(conn)?;
    for (day, note) in days {
        insert_holiday(conn, agency_id, *day, note)?;
    }
    Ok(())
}

pub fn remove_holiday(conn: &mut DbConn, agency_id: &str, day: NaiveDate) -> Result<(), AppError> {
    diesel::delete(agency_holidays::table.find((agency_id, day))).execute(conn)?;
    Ok(())
}

/// Changes the helpers free for one start time on one day of the agency.
pub fn set_day_capacity(conn: &mut DbConn, agency_id: &str, slot_id: &str, capacity: i32) -> Result<(), AppError> {
    write_tx(conn, |conn| {
        if slot(conn, slot_id)?.agency_id != agency_id {
            return Err(AppError::NotFound);
        }
        set_slot_capacity(conn, slot_id, capacity.max(0))
    })
}

pub fn save_settings(conn: &mut DbConn, s: &Settings) -> Result<(), AppError> {
    diesel::update(visit_settings::table.find("default"))
        .set((
            visit_settings::min_notice_days.eq(s.min_notice_days),
            visit_settings::cancel_cutoff_hours.eq(s.cancel_cutoff_hours),
            visit_settings::late_cancel_counts.eq(s.late_cancel_counts),
            visit_settings::no_show_counts.eq(s.no_show_counts),
            visit_settings::booking_horizon_days.eq(s.booking_horizon_days),
            visit_settings::updated_at.eq(now_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The resident's approved application, if any.
pub fn approved_application(conn: &mut DbConn, user_id: &str) -> Result<Option<Application>, AppError> {
    Ok(applications::table
        .filter(applications::user_id.eq(user_id))
        .filter(applications::status.eq(Status::Approved.as_str()))
        .select(Application::as_select())
        .first(conn)
        .optional()?)
}

/// The agency serving an application: the one recorded on it, else the first
/// active agency serving her district.
pub fn agency_for(conn: &mut DbConn, app: &Application) -> Result<Agency, AppError> {
    if let Some(id) = &app.agency_id {
        if let Some(a) = crate::agencies::find(conn, id)? {
            return Ok(a);
        }
    }
    crate::agencies::serving(conn, &app.district_code)?.into_iter().next().ok_or(AppError::Conflict("visits.errors.no_agency"))
}

/// The resident picks one of the agencies serving her district (where the
/// rules allow it), before any visit is booked.
pub fn choose_agency(conn: &mut DbConn, user_id: &str, agency_id: &str) -> Result<(), AppError> {
    write_tx(conn, |conn| {
        let app = approved_application(conn, user_id)?.ok_or(AppError::Conflict("visits.errors.not_approved"))?;
        if !app_rules::find(conn, &app.rule_set_id)?.terms.resident_chooses_agency {
            return Err(AppError::Forbidden);
        }
        if !crate::agencies::serving(conn, &app.district_code)?.iter().any(|a| a.id == agency_id) {
            return Err(AppError::NotFound);
        }
        let active: i64 = visits::table
            .filter(visits::application_id.eq(&app.id))
            .filter(visits::status.eq_any(ACTIVE))
            .count()
            .get_result(conn)?;
        if active > 0 {
            return Err(AppError::Conflict("visits.errors.agency_locked"));
        }
        diesel::update(applications::table.find(&app.id)).set(applications::agency_id.eq(Some(agency_id))).execute(conn)?;
        Ok(())
    })
}

/// The first and last day an approved application may book today.
pub fn booking_window(settings: &Settings, rule_set: &app_rules::RuleSet, app: &Application, today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = today + chrono::Duration::days(settings.min_notice_days as i64);
    let ends = app.due_date.map(|due| rule_set.service_ends(due, app.pregnancy_loss_on));
    (first, rules::last_bookable_day(today, settings, ends))
}

/// The slots of her agency inside her booking window, on days her rules
/// allow (the agency's week is laid out into slots on first look).
pub fn offered_slots(conn: &mut DbConn, app: &Application, agency_id: &str, today: NaiveDate) -> Result<Vec<Slot>, AppError> {
    let settings = models::settings(conn)?;
    let rule_set = app_rules::find(conn, &app.rule_set_id)?;
    let (first, last) = booking_window(&settings, &rule_set, app, today);
    ensure_slots(conn, agency_id, first, last)?;
    Ok(models::slots_between(conn, agency_id, first, last)?.into_iter().filter(|s| rule_set.visit_day_allowed(s.day)).collect())
}

/// Whether another of her visits is closer than the rules' minimum gap.
fn too_close(conn: &mut DbConn, application_id: &str, day: NaiveDate, min_days: i32, except: Option<&str>) -> Result<bool, AppError> {
    if min_days <= 1 {
        return Ok(false);
    }
    let gap = chrono::Duration::days(min_days as i64 - 1);
    let mut q = visits::table
        .filter(visits::application_id.eq(application_id))
        .filter(visits::day.ge(day - gap))
        .filter(visits::day.le(day + gap))
        .filter(visits::status.eq_any(["requested", "confirmed", "completed", "no_show"]))
        .into_boxed();
    if let Some(id) = except {
        q = q.filter(visits::id.ne(id.to_string()));
    }
    Ok(q.count().get_result::<i64>(conn)? > 0)
}

/// The rule version's own limits on a day: weekday rules, the service window
/// and the gap between visits.
fn allowed_by_rules(conn: &mut DbConn, rules: &app_rules::RuleSet, app: &Application, day: NaiveDate, except: Option<&str>) -> Result<(), AppError> {
    if !rules.visit_day_allowed(day) {
        return Err(AppError::Conflict("visits.errors.day_not_served"));
    }
    if let Some(due) = app.due_date {
        if day > rules.service_ends(due, app.pregnancy_loss_on) {
            return Err(AppError::Conflict("visits.errors.after_due_date"));
        }
    }
    if too_close(conn, &app.id, day, rules.terms.min_days_between_visits, except)? {
        return Err(AppError::Conflict("visits.errors.too_close"));
    }
    Ok(())
}

/// (quota, used) of an approved application; the row is made on first use
/// from the rule set the application was approved under.
pub fn quota(conn: &mut DbConn, app: &Application) -> Result<(i32, i32), AppError> {
    let found: Option<(i32, i32)> = visit_quotas::table.find(&app.id).select((visit_quotas::quota, visit_quotas::used)).first(conn).optional()?;
    if let Some(q) = found {
        return Ok(q);
    }
    let rules = app_rules::find(conn, &app.rule_set_id)?;
    let inserted = diesel::insert_into(visit_quotas::table)
        .values((visit_quotas::application_id.eq(&app.id), visit_quotas::quota.eq(rules.visit_count), visit_quotas::used.eq(0)))
        .execute(conn);
    match inserted {
        Err(e) if !is_unique_violation(&e) => return Err(e.into()),
        _ => {}
    }
    Ok(visit_quotas::table.find(&app.id).select((visit_quotas::quota, visit_quotas::used)).first(conn)?)
}

fn take_quota(conn: &mut DbConn, application_id: &str) -> Result<bool, AppError> {
    Ok(diesel::update(visit_quotas::table.find(application_id).filter(visit_quotas::used.lt(visit_quotas::quota)))
        .set(visit_quotas::used.eq(visit_quotas::used + 1))
        .execute(conn)?
        == 1)
}

fn release_quota(conn: &mut DbConn, application_id: &str) -> Result<(), AppError> {
    diesel::update(visit_quotas::table.find(application_id).filter(visit_quotas::used.gt(0)))
        .set(visit_quotas::used.eq(visit_quotas::used - 1))
        .execute(conn)?;
    Ok(())
}

fn take_slot(conn: &mut DbConn, slot_id: &str) -> Result<bool, AppError> {
    Ok(diesel::update(visit_slots::table.find(slot_id).filter(visit_slots::booked.lt(visit_slots::capacity)))
        .set(visit_slots::booked.eq(visit_slots::booked + 1))
        .execute(conn)?
        == 1)
}

fn release_slot(conn: &mut DbConn, slot_id: &str) -> Result<(), AppError> {
    diesel::update(visit_slots::table.find(slot_id).filter(visit_slots::booked.gt(0)))
        .set(visit_slots::booked.eq(visit_slots::booked - 1))
        .execute(conn)?;
    Ok(())
}

fn slot(conn: &mut DbConn, slot_id: &str) -> Result<Slot, AppError> {
    visit_slots::table.find(slot_id).select(Slot::as_select()).first(conn).optional()?.ok_or(AppError::NotFound)
}

fn has_visit_on(conn: &mut DbConn, application_id: &str, day: NaiveDate, except: Option<&str>) -> Result<bool, AppError> {
    let mut q = visits::table
        .filter(visits::application_id.eq(application_id))
        .filter(visits::day.eq(day))
        .filter(visits::status.eq_any(["requested", "confirmed", "completed", "no_show"]))
        .into_boxed();
    if let Some(id) = except {
        q = q.filter(visits::id.ne(id.to_string()));
    }
    Ok(q.count().get_result::<i64>(conn)? > 0)
}

/// A visit's message: which visit (id, day, start, hours), to whom.
fn visit_mail<'a>(to: &'a Recipient, (id, day, start_minute, hours): (&str, NaiveDate, i32, i32), kind: &'static str, extra: &[(&str, String)]) -> Mail<'a> {
    let lang = to.lang();
    let mut context = tera::Context::new();
    context.insert("name", &to.name);
    context.insert("visit_date", &format_date(day, lang));
    context.insert("visit_time", &format!("{}–{}", rules::hhmm(start_minute), rules::hhmm(start_minute + hours * 60)));
    context.insert("visit_id", id);
    for (k, v) in extra {
        context.insert(*k, v);
    }
    to.mail(kind, context)
}

/// `notify_visit` using the message rendered before the transaction when it is still the same.
fn notify_visit_prepared(conn: &mut DbConn, notifier: &Notifier, visit: &Visit, kind: &'static str, extra: &[(&str, String)], ready: Option<&Rendered>) -> Result<(), AppError> {
    let to = Recipient::of(conn, &visit.user_id)?;
    let mail = visit_mail(&to, (&visit.id, visit.day, visit.start_minute, visit.hours), kind, extra);
    notifier.enqueue_prepared(conn, mail, ready)?;
    Ok(())
}

/// A visit's message rendered before the transaction that will queue it,
/// from the visit as it is now.
fn prepare_visit_mail(conn: &mut DbConn, notifier: &Notifier, visit: &Visit, kind: &'static str, extra: &[(&str, String)]) -> Option<Rendered> {
    let to = Recipient::of(conn, &visit.user_id).ok()?;
    notifier.prepare(conn, Ok(visit_mail(&to, (&visit.id, visit.day, visit.start_minute, visit.hours), kind, extra)))
}

/// The "visit requested" message for visit `id` in `slot_id`, rendered
/// before the booking's transaction from the rows it will read again.
fn prepare_request_mail(conn: &mut DbConn, notifier: &Notifier, user_id: &str, id: &str, slot_id: &str, hours: i32) -> Option<Rendered> {
    let to = Recipient::of(conn, user_id).ok()?;
    let slot = slot(conn, slot_id).ok()?;
    notifier.prepare(conn, Ok(visit_mail(&to, (id, slot.day, slot.start_minute, hours), "visit_requested", &[])))
}

pub struct BookingInput {
    pub slot_id: String,
    pub tasks: String,
    pub notes: String,
}

/// Books a visit: the day must be allowed, one of her visits must be left,
/// the slot must have room, and she has no other visit that day.
pub fn book(conn: &mut DbConn, notifier: &Notifier, user: &User, input: &BookingInput, today: NaiveDate) -> Result<Visit, AppError> {
    let app = approved_application(conn, &user.id)?.ok_or(AppError::Conflict("visits.errors.not_approved"))?;
    quota(conn, &app)?;
    let rules_of_app = app_rules::find(conn, &app.rule_set_id)?;
    let agency = agency_for(conn, &app)?;
    let id = new_id();
    let ready = prepare_request_mail(conn, notifier, &user.id, &id, &input.slot_id, rules_of_app.visit_hours);
    let result = write_tx(conn, |conn| {
        let settings = models::settings(conn)?;
        let slot = slot(conn, &input.slot_id)?;
        if slot.agency_id != agency.id {
            return Err(AppError::NotFound);
        }
        rules::bookable_day(slot.day, today, &settings, None, app.birth_recorded_on).map_err(AppError::Conflict)?;
        allowed_by_rules(conn, &rules_of_app, &app, slot.day, None)?;
        if app.agency_id.is_none() {
            diesel::update(applications::table.find(&app.id)).set(applications::agency_id.eq(Some(&agency.id))).execute(conn)?;
        }
        if has_visit_on(conn, &app.id, slot.day, None)? {
            return Err(AppError::Conflict("visits.errors.same_day"));
        }
        if !take_quota(conn, &app.id)? {
            return Err(AppError::Conflict("visits.errors.quota_used"));
        }
        if !take_slot(conn, &slot.id)? {
            return Err(AppError::Conflict("visits.errors.slot_full"));
        }
        let now = now_utc();
        diesel::insert_into(visits::table)
            .values((
                visits::id.eq(&id),
                visits::application_id.eq(&app.id),
                visits::user_id.eq(&user.id),
                visits::slot_id.eq(&slot.id),
                visits::day.eq(slot.day),
                visits::start_minute.eq(slot.start_minute),
                visits::hours.eq(rules_of_app.visit_hours),
                visits::status.eq("requested"),
                visits::tasks.eq(&input.tasks),
                visits::notes.eq(&input.notes),
                visits::counts_against_quota.eq(true),
                visits::created_at.eq(now),
                visits::updated_at.eq(now),
                visits::agency_id.eq(Some(&agency.id)),
                visits::copay_won.eq(rules_of_app.copay_on(slot.day)),
            ))
            .execute(conn)?;
        let visit = models::find(conn, &id)?.ok_or(AppError::NotFound)?;
        notify_visit_prepared(conn, notifier, &visit, "visit_requested", &[], ready.as_ref())?;
        Ok(visit)
    });
    match result {
        Err(AppError::Db(e)) if is_unique_violation(&e) => Err(AppError::Conflict("visits.errors.same_day")),
        other => other,
    }
}

/// Moves a visit to another start time (before the cut-off), keeping its
/// place in the quota; it needs the agency's confirmation again.
pub fn reschedule(conn: &mut DbConn, notifier: &Notifier, user_id: &str, visit_id: &str, new_slot_id: &str, now: NaiveDateTime, today: NaiveDate) -> Result<(), AppError> {
    let hours = models::find_own(conn, user_id, visit_id)?.map(|v| v.hours);
    let ready = hours.and_then(|h| prepare_request_mail(conn, notifier, user_id, visit_id, new_slot_id, h));
    let result = write_tx(conn, |conn| {
        let visit = models::find_own(conn, user_id, visit_id)?.ok_or(AppError::NotFound)?;
        if !ACTIVE.contains(&visit.status.as_str()) {
            return Err(AppError::Conflict("visits.errors.not_changeable"));
        }
        let settings = models::settings(conn)?;
        if !rules::cancel_in_time(rules::start_utc(visit.day, visit.start_minute), now, settings.cancel_cutoff_hours) {
            return Err(AppError::Conflict("visits.errors.past_cutoff"));
        }
        let app = apps::find(conn, &visit.application_id)?.ok_or(AppError::NotFound)?;
        let new_slot = slot(conn, new_slot_id)?;
        if visit.agency_id.as_deref() != Some(new_slot.agency_id.as_str()) {
            return Err(AppError::NotFound);
        }
        rules::bookable_day(new_slot.day, today, &settings, None, app.birth_recorded_on).map_err(AppError::Conflict)?;
        let rules_of_app = app_rules::find(conn, &app.rule_set_id)?;
        allowed_by_rules(conn, &rules_of_app, &app, new_slot.day, Some(&visit.id))?;
        if has_visit_on(conn, &app.id, new_slot.day, Some(&visit.id))? {
            return Err(AppError::Conflict("visits.errors.same_day"));
        }
        if new_slot.id == visit.slot_id {
            return Ok(());
        }
        if !take_slot(conn, &new_slot.id)? {
            return Err(AppError::Conflict("visits.errors.slot_full"));
        }
        release_slot(conn, &visit.slot_id)?;
        diesel::update(visits::table.find(&visit.id))
            .set((
                visits::slot_id.eq(&new_slot.id),
                visits::day.eq(new_slot.day),
                visits::start_minute.eq(new_slot.start_minute),
                visits::status.eq("requested"),
                visits::helper_name.eq(None::<String>),
                visits::helper_id.eq(None::<String>),
                visits::copay_won.eq(rules_of_app.copay_on(new_slot.day)),
                visits::reminder_sent_at.eq(None::<NaiveDateTime>),
                visits::updated_at.eq(now_utc()),
            ))
            .execute(conn)?;
        let moved = models::find(conn, &visit.id)?.ok_or(AppError::NotFound)?;
        notify_visit_prepared(conn, notifier, &moved, "visit_requested", &[], ready.as_ref())?;
        Ok(())
    });
    match result {
        Err(AppError::Db(e)) if is_unique_violation(&e) => Err(AppError::Conflict("visits.errors.same_day")),
        other => other,
    }
}

/// Cancels a visit. In time, the visit goes back to her quota; late, it counts
/// as used when the settings say so. Returns whether it was late.
pub fn cancel(conn: &mut DbConn, notifier: &Notifier, user_id: &str, visit_id: &str, now: NaiveDateTime) -> Result<bool, AppError> {
    let ready = models::find_own(conn, user_id, visit_id).ok().flatten().and_then(|visit| {
        let settings = models::settings(conn).ok()?;
        let key = cancel_note_key(&visit, &settings, now);
        prepare_visit_mail(conn, notifier, &visit, "visit_cancelled", &[("quota_note_key", key.to_string())])
    });
    write_tx(conn, |conn| {
        let visit = models::find_own(conn, user_id, visit_id)?.ok_or(AppError::NotFound)?;
        if !ACTIVE.contains(&visit.status.as_str()) {
            return Err(AppError::Conflict("visits.errors.not_changeable"));
        }
        let settings = models::settings(conn)?;
        let late = !rules::cancel_in_time(rules::start_utc(visit.day, visit.start_minute), now, settings.cancel_cutoff_hours);
        let counts = late && settings.late_cancel_counts;
        release_slot(conn, &visit.slot_id)?;
        if !counts {
            release_quota(conn, &visit.application_id)?;
        }
        diesel::update(visits::table.find(&visit.id))
            .set((
                visits::status.eq("cancelled"),
                visits::counts_against_quota.eq(counts),
                visits::cancelled_at.eq(Some(now)),
                visits::updated_at.eq(now_utc()),
            ))
            .execute(conn)?;
        let key = cancel_note_key(&visit, &settings, now);
        notify_visit_prepared(conn, notifier, &visit, "visit_cancelled", &[("quota_note_key", key.to_string())], ready.as_ref())?;
        Ok(late)
    })
}

/// Whether a cancellation now gives the visit back to her quota, as the
/// message's note says.
fn cancel_note_key(visit: &Visit, settings: &Settings, now: NaiveDateTime) -> &'static str {
    let late = !rules::cancel_in_time(rules::start_utc(visit.day, visit.start_minute), now, settings.cancel_cutoff_hours);
    if late && settings.late_cancel_counts {
        "cancel_counted"
    } else {
        "cancel_returned"
    }
}

pub enum AgencyAction {
    /// Assigns a helper from the agency's roster.
    Confirm { helper_id: String },
    Decline { reason: String },
    Complete { actual_start: i32, actual_end: i32, tasks_done: String },
    NoShow,
}

/// The agency's side of a visit; an agency acts only on its own visits.
pub fn agency_update(conn: &mut DbConn, notifier: &Notifier, agency_id: &str, visit_id: &str, action: AgencyAction) -> Result<(), AppError> {
    let ready = models::find(conn, visit_id).ok().flatten().and_then(|visit| {
        let (kind, extra) = match &action {
            AgencyAction::Confirm { helper_id } => ("visit_confirmed", vec![("helper_name", crate::agencies::helper(conn, agency_id, helper_id).ok()??.name)]),
            AgencyAction::Decline { reason } => ("visit_declined", vec![("reason", reason.clone())]),
            AgencyAction::Complete { .. } => ("visit_completed", vec![]),
            AgencyAction::NoShow => return None,
        };
        prepare_visit_mail(conn, notifier, &visit, kind, &extra)
    });
    let ready = ready.as_ref();
    write_tx(conn, |conn| {
        let visit = models::find(conn, visit_id)?.filter(|v| v.agency_id.as_deref() == Some(agency_id)).ok_or(AppError::NotFound)?;
        let now = now_utc();
        match action {
            AgencyAction::Confirm { helper_id } => {
                if visit.status != "requested" {
                    return Err(AppError::Conflict("visits.errors.not_changeable"));
                }
                // Her roster row is locked first (an UPDATE that changes
                // nothing): on PostgreSQL a simultaneous assignment of the same
                // helper waits here until this one commits and then sees its
                // visit below; SQLite's BEGIN IMMEDIATE serializes writers anyway.
                let on_roster = diesel::update(helpers::table.filter(helpers::id.eq(&helper_id)).filter(helpers::agency_id.eq(agency_id)))
                    .set(helpers::agency_id.eq(helpers::agency_id))
                    .execute(conn)?;
                let helper = match crate::agencies::helper(conn, agency_id, &helper_id)? {
                    Some(h) if on_roster == 1 && h.active => h,
                    _ => return Err(AppError::BadRequest("visits.errors.helper_required")),
                };
                if !models::helper_clashes(conn, &helper.id, visit.day, visit.start_minute, visit.hours, &visit.id)?.is_empty() {
                    return Err(AppError::Conflict("visits.errors.helper_busy"));
                }
                // Conditional, so that two confirmations of one visit assign one helper.
                let confirmed = diesel::update(visits::table.find(&visit.id).filter(visits::status.eq("requested")))
                    .set((
                        visits::status.eq("confirmed"),
                        visits::helper_id.eq(Some(&helper.id)),
                        visits::helper_name.eq(Some(&helper.name)),
                        visits::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                if confirmed != 1 {
                    return Err(AppError::Conflict("visits.errors.not_changeable"));
                }
                notify_visit_prepared(conn, notifier, &visit, "visit_confirmed", &[("helper_name", helper.name)], ready)?;
            }
            AgencyAction::Decline { reason } => {
                if visit.status != "requested" {
                    return Err(AppError::Conflict("visits.errors.not_changeable"));
                }
                release_slot(conn, &visit.slot_id)?;
                release_quota(conn, &visit.application_id)?;
                diesel::update(visits::table.find(&visit.id))
                    .set((
                        visits::status.eq("declined"),
                        visits::decline_reason.eq(Some(&reason)),
                        visits::counts_against_quota.eq(false),
                        visits::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                notify_visit_prepared(conn, notifier, &visit, "visit_declined", &[("reason", reason)], ready)?;
            }
            AgencyAction::Complete { actual_start, actual_end, tasks_done } => {
                if visit.status != "confirmed" {
                    return Err(AppError::Conflict("visits.errors.not_changeable"));
                }
                if actual_end <= actual_start {
                    return Err(AppError::BadRequest("visits.errors.times"));
                }
                // Conditional, so that two agency clicks cannot count one visit twice.
                let completed = diesel::update(visits::table.find(&visit.id).filter(visits::status.eq("confirmed")))
                    .set((
                        visits::status.eq("completed"),
                        visits::actual_start.eq(Some(rules::start_utc(visit.day, actual_start))),
                        visits::actual_end.eq(Some(rules::start_utc(visit.day, actual_end))),
                        visits::tasks_done.eq(Some(&tasks_done)),
                        visits::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                if completed != 1 {
                    return Err(AppError::Conflict("visits.errors.not_changeable"));
                }
                crate::results::rollup::visit_completed(conn, visit.agency_id.as_deref(), visit.day, visit.hours, 1)?;
                notify_visit_prepared(conn, notifier, &visit, "visit_completed", &[], ready)?;
            }
            AgencyAction::NoShow => {
                if visit.status != "confirmed" {
                    return Err(AppError::Conflict("visits.errors.not_changeable"));
                }
                let counts = models::settings(conn)?.no_show_counts;
                if !counts {
                    release_quota(conn, &visit.application_id)?;
                }
                diesel::update(visits::table.find(&visit.id))
                    .set((visits::status.eq("no_show"), visits::counts_against_quota.eq(counts), visits::updated_at.eq(now)))
                    .execute(conn)?;
            }
        }
        Ok(())
    })
}

/// After a completed visit the resident confirms it and may rate it.
pub fn confirm_and_rate(conn: &mut DbConn, user_id: &str, visit_id: &str, rating: Option<i32>, comment: &str) -> Result<(), AppError> {
    let visit = models::find_own(conn, user_id, visit_id)?.ok_or(AppError::NotFound)?;
    if visit.status != "completed" {
        return Err(AppError::Conflict("visits.errors.not_completed"));
    }
    if rating.is_some_and(|r| !(1..=5).contains(&r)) {
        return Err(AppError::BadRequest("visits.errors.rating"));
    }
    diesel::update(visits::table.find(&visit.id))
        .set((
            visits::resident_confirmed_at.eq(Some(now_utc())),
            visits::rating.eq(rating),
            visits::comment.eq(Some(comment.chars().take(1000).collect::<String>())),
            visits::updated_at.eq(now_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Her visits still to come from `today`: those a birth cancels.
fn still_to_come(conn: &mut DbConn, app_id: &str, today: NaiveDate) -> Result<Vec<Visit>, AppError> {
    Ok(visits::table
        .filter(visits::application_id.eq(app_id))
        .filter(visits::status.eq_any(ACTIVE))
        .filter(visits::day.ge(today))
        .select(Visit::as_select())
        .load(conn)?)
}

/// A birth ends the service: the application ends and every visit still to
/// come is cancelled (given back, not counted), each with an email rendered
/// before the transaction for the visits as they are then (booked or moved
/// in between, the transaction runs again with the emails prepared anew).
pub fn record_birth(conn: &mut DbConn, notifier: &Notifier, app_id: &str, actor_id: &str, born_on: NaiveDate, today: NaiveDate) -> Result<usize, AppError> {
    if born_on > today {
        return Err(AppError::BadRequest("visits.errors.birth_future"));
    }
    let extra = [("quota_note_key", "cancel_birth".to_string())];
    let prepare = |conn: &mut DbConn| -> Result<Vec<Rendered>, AppError> {
        let mut ready = vec![];
        for visit in still_to_come(conn, app_id, today)? {
            let to = Recipient::of(conn, &visit.user_id)?;
            ready.push(notifier.render(conn, visit_mail(&to, (&visit.id, visit.day, visit.start_minute, visit.hours), "visit_cancelled", &extra))?);
        }
        Ok(ready)
    };
    notifier.write_tx_with_notices(conn, prepare, |conn, notices| {
        let app = apps::find(conn, app_id)?.ok_or(AppError::NotFound)?;
        if !matches!(app.status(), Status::Approved | Status::Submitted | Status::InfoRequested | Status::Waitlisted) {
            return Err(AppError::Conflict("applications.errors.not_editable"));
        }
        diesel::update(applications::table.find(&app.id))
            .set((
                applications::birth_recorded_on.eq(Some(born_on)),
                applications::status.eq(Status::Ended.as_str()),
                applications::updated_at.eq(now_utc()),
            ))
            .execute(conn)?;
        diesel::insert_into(application_events::table)
            .values((
                application_events::id.eq(new_id()),
                application_events::application_id.eq(&app.id),
                application_events::at.eq(now_utc()),
                application_events::actor_id.eq(Some(actor_id)),
                application_events::action.eq("ended"),
                application_events::note.eq(born_on.to_string()),
            ))
            .execute(conn)?;
        let upcoming = still_to_come(conn, &app.id, today)?;
        for visit in &upcoming {
            release_slot(conn, &visit.slot_id)?;
            release_quota(conn, &visit.application_id)?;
            diesel::update(visits::table.find(&visit.id))
                .set((
                    visits::status.eq("cancelled"),
                    visits::counts_against_quota.eq(false),
                    visits::cancelled_at.eq(Some(now_utc())),
                    visits::updated_at.eq(now_utc()),
                ))
                .execute(conn)?;
            let to = Recipient::of(conn, &visit.user_id)?;
            notices.enqueue(conn, visit_mail(&to, (&visit.id, visit.day, visit.start_minute, visit.hours), "visit_cancelled", &extra))?;
        }
        Ok(upcoming.len())
    })
}

/// Queues the reminder for confirmed visits tomorrow (Seoul time), once each.
/// Called by the background worker; the conditional update makes it safe to
/// run from several instances.
pub fn send_reminders(conn: &mut DbConn, notifier: &Notifier, now: NaiveDateTime) -> Result<usize, AppError> {
    let tomorrow = to_seoul(now).date_naive() + chrono::Duration::days(1);
    let due: Vec<Visit> = visits::table
        .filter(visits::status.eq("confirmed"))
        .filter(visits::day.eq(tomorrow))
        .filter(visits::reminder_sent_at.is_null())
        .select(Visit::as_select())
        .load(conn)?;
    let mut sent = 0;
    for visit in due {
        let helper = visit.helper_name.clone().unwrap_or_default();
        let ready = prepare_visit_mail(conn, notifier, &visit, "visit_reminder", &[("helper_name", helper.clone())]);
        let queued = write_tx(conn, |conn| {
            let claimed = diesel::update(visits::table.find(&visit.id).filter(visits::reminder_sent_at.is_null()))
                .set(visits::reminder_sent_at.eq(Some(now)))
                .execute(conn)?;
            if claimed == 1 {
                notify_visit_prepared(conn, notifier, &visit, "visit_reminder", &[("helper_name", helper.clone())], ready.as_ref())?;
            }
            Ok(claimed == 1)
        })?;
        sent += usize::from(queued);
    }
    Ok(sent)
}

/// One agency's row of the monthly settlement.
#[derive(serde::Serialize, Clone, Debug)]
pub struct SettlementRow {
    pub agency_id: String,
    pub agency_code: String,
    pub agency_name: String,
    pub unit_price: i64,
    #[serde(flatten)]
    pub money: Settled,
}

/// What a completed visit brings into the settlement: planned hours, the
/// actual start and end, the co-pay she paid.
pub type Settleable = (i32, Option<NaiveDateTime>, Option<NaiveDateTime>, i32);

/// The settlement's money rules for any set of one agency's completed visits
/// (the month's, one helper's, one visit): planned visit-hours × the agency's
/// unit price, the co-pays, and the city's share (amount − co-pays). The
/// agency settlement, the agency's statement and its per-helper subtotals all
/// come from here, so they cannot disagree.
#[derive(serde::Serialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settled {
    pub visits: i64,
    pub planned_hours: i64,
    /// Minutes between the recorded actual start and end (for reference).
    pub actual_minutes: i64,
    /// visit-hours × unit price
    pub amount: i64,
    /// co-pays the residents paid the agency
    pub copays: i64,
    /// what the city pays: amount − co-pays
    pub city_share: i64,
}

pub fn settle(unit_price: i64, visits: &[Settleable]) -> Settled {
    let planned_hours: i64 = visits.iter().map(|(h, _, _, _)| *h as i64).sum();
    let amount = planned_hours * unit_price;
    let copays: i64 = visits.iter().map(|(_, _, _, c)| *c as i64).sum();
    Settled {
        visits: visits.len() as i64,
        planned_hours,
        actual_minutes: visits.iter().filter_map(|(_, s, e, _)| Some((e.as_ref()?.signed_duration_since(*s.as_ref()?)).num_minutes())).sum(),
        amount,
        copays,
        city_share: amount - copays,
    }
}

/// Completed visits in a month per agency: count, planned hours, actual
/// minutes, amount at the agency's unit price, co-pays and the city's share.
pub fn settlement(conn: &mut DbConn, from: NaiveDate, to_exclusive: NaiveDate) -> Result<Vec<SettlementRow>, AppError> {
    let mut out = vec![];
    for agency in crate::agencies::list(conn)? {
        let rows: Vec<Settleable> = visits::table
            .filter(visits::agency_id.eq(&agency.id))
            .filter(visits::status.eq("completed"))
            .filter(visits::day.ge(from))
            .filter(visits::day.lt(to_exclusive))
            .select((visits::hours, visits::actual_start, visits::actual_end, visits::copay_won))
            .load(conn)?;
        out.push(SettlementRow {
            money: settle(agency.unit_price_won as i64, &rows),
            agency_id: agency.id,
            agency_code: agency.code,
            agency_name: agency.name,
            unit_price: agency.unit_price_won as i64,
        });
    }
    Ok(out)
}
