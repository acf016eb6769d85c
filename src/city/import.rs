//! Applies a city file to the database in one transaction. Rule versions are
//! added as new dated versions (a version an application was decided under is
//! never rewritten); everything else is matched by its code and updated.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::{weekday_index, CityFile};
use crate::applications::rules::{self, District};
use crate::applications::rules_admin::{self, ValidRules};
use crate::db::schema::{agencies, agency_districts, budgets, city_settings, clinic_programs, districts, indicator_targets, indicators, programs, report_settings};
use crate::db::{new_id, write_tx, DbConn};
use crate::error::AppError;
use crate::results::calc;
use crate::time::now_utc;
use crate::visits::rules::parse_hhmm;

/// What an import changed, for the confirmation message.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub rule_versions_added: usize,
    pub agencies: usize,
    pub clinic_programs: usize,
    pub indicators: usize,
}

/// Applies `file` (already parsed and checked by `city::parse`).
pub fn apply(conn: &mut DbConn, file: &CityFile, today: NaiveDate) -> Result<Summary, AppError> {
    write_tx(conn, |conn| apply_in(conn, file, today))
}

fn apply_in(conn: &mut DbConn, f: &CityFile, today: NaiveDate) -> Result<Summary, AppError> {
    let now = now_utc();
    let mut summary = Summary::default();
    let c = &f.city;
    diesel::delete(city_settings::table).execute(conn)?;
    diesel::insert_into(city_settings::table)
        .values((
            city_settings::id.eq("city"),
            city_settings::name.eq(&c.name),
            city_settings::name_en.eq(&c.name_en),
            city_settings::region_code.eq(&c.region_code),
            city_settings::region_name.eq(&c.region_name),
            city_settings::contact.eq(&c.contact),
            city_settings::contact_en.eq(&c.contact_en),
            city_settings::updated_at.eq(now),
        ))
        .execute(conn)?;
    diesel::delete(districts::table).execute(conn)?;
    for (i, d) in f.districts.iter().enumerate() {
        diesel::insert_into(districts::table)
            .values((districts::code.eq(&d.code), districts::name.eq(&d.name), districts::sort_order.eq(i as i32)))
            .execute(conn)?;
    }
    if let Some(h) = &f.housework {
        let program_id = upsert_program(conn, crate::programs::HOUSEWORK, (&h.name, &h.name_en, &h.summary, &h.summary_en), h.active)?;
        let b = &h.booking;
        crate::visits::service::save_settings(
            conn,
            &crate::visits::rules::Settings {
                min_notice_days: b.min_notice_days,
                booking_horizon_days: b.booking_horizon_days,
                cancel_cutoff_hours: b.cancel_cutoff_hours,
                late_cancel_counts: b.late_cancel_counts,
                no_show_counts: b.no_show_counts,
            },
        )?;
        let existing = rules::list(conn, &program_id)?;
        for r in &h.rules {
            let v = ValidRules {
                effective_from: r.effective_from,
                region_code: c.region_code.clone(),
                region_name: c.region_name.clone(),
                districts: f.districts.clone(),
                min_gestational_week: 0,
                min_residency_months: r.residency_months,
                visit_count: r.visits,
                visit_hours: r.hours_per_visit,
                yearly_capacity: r.yearly_capacity,
                applications_open: r.applications_open,
                note: r.note.clone(),
                terms: r.terms.clone(),
            };
            if !existing.iter().any(|e| same_version(e, &v)) {
                rules_admin::insert_version(conn, &program_id, &v, None)?;
                summary.rule_versions_added += 1;
            }
        }
    }
    if let Some(s) = &f.saturday_clinic {
        upsert_program(conn, crate::programs::SATURDAY_CLINIC, (&s.name, &s.name_en, &s.summary, &s.summary_en), s.active)?;
        for (i, p) in s.programs.iter().enumerate() {
            let start = parse_hhmm(&p.start).unwrap_or(540);
            let end = parse_hhmm(&p.end).unwrap_or(780);
            let values = || (
                clinic_programs::name_ko.eq(&p.name),
                clinic_programs::name_en.eq(&p.name_en),
                clinic_programs::kind.eq(&p.kind),
                clinic_programs::audience.eq(&p.audience),
                clinic_programs::infant_max_months.eq(p.infant_max_months),
                clinic_programs::capacity.eq(p.capacity),
                clinic_programs::slot_minutes.eq(p.slot_minutes),
                clinic_programs::start_minute.eq(start),
                clinic_programs::end_minute.eq(end),
                clinic_programs::partner_seat.eq(p.partner_seat),
                clinic_programs::booking_opens_days.eq(p.booking_opens_days),
                clinic_programs::cancel_cutoff_hours.eq(p.cancel_cutoff_hours),
                clinic_programs::active.eq(p.active),
                clinic_programs::sort_order.eq(i as i32),
            );
            let updated = diesel::update(clinic_programs::table.filter(clinic_programs::code.eq(&p.code))).set(values()).execute(conn)?;
            if updated == 0 {
                diesel::insert_into(clinic_programs::table)
                    .values((clinic_programs::id.eq(new_id()), clinic_programs::code.eq(&p.code), values()))
                    .execute(conn)?;
            }
            summary.clinic_programs += 1;
        }
    }
    for (i, a) in f.agencies.iter().enumerate() {
        let values = (
            agencies::name.eq(&a.name),
            agencies::phone.eq(&a.phone),
            agencies::unit_price_won.eq(a.unit_price_won),
            agencies::active.eq(a.active),
            agencies::sort_order.eq(i as i32),
        );
        let id: Option<String> = agencies::table.filter(agencies::code.eq(&a.code)).select(agencies::id).first(conn).optional()?;
        let id = match id {
            Some(id) => {
                diesel::update(agencies::table.find(&id)).set(values).execute(conn)?;
                id
            }
            None => {
                let id = new_id();
                diesel::insert_into(agencies::table)
                    .values((agencies::id.eq(&id), agencies::code.eq(&a.code), agencies::created_at.eq(now), values))
                    .execute(conn)?;
                id
            }
        };
        diesel::delete(agency_districts::table.filter(agency_districts::agency_id.eq(&id))).execute(conn)?;
        for d in &a.districts {
            diesel::insert_into(agency_districts::table)
                .values((agency_districts::agency_id.eq(&id), agency_districts::district_code.eq(d)))
                .execute(conn)?;
        }
        let week: Vec<(i32, i32, i32)> = a
            .week
            .iter()
            .filter_map(|w| Some((weekday_index(&w.day)?, parse_hhmm(&w.start)?, w.helpers)))
            .collect();
        crate::visits::service::apply_templates(conn, &id, &week, today)?;
        crate::visits::service::replace_holidays(conn, &id, &a.holidays.iter().map(|h| (h.day, h.note.clone())).collect::<Vec<_>>())?;
        summary.agencies += 1;
    }
    for (i, ind) in f.indicators.iter().enumerate() {
        let values = (
            indicators::program_code.eq(&ind.program),
            indicators::name_ko.eq(&ind.name),
            indicators::name_en.eq(&ind.name_en),
            indicators::unit_ko.eq(&ind.unit),
            indicators::unit_en.eq(&ind.unit_en),
            indicators::source.eq(&ind.source),
            indicators::sort_order.eq(i as i32),
            indicators::active.eq(ind.active),
        );
        let id: Option<String> = indicators::table.filter(indicators::code.eq(&ind.code)).select(indicators::id).first(conn).optional()?;
        let id = match id {
            Some(id) => {
                diesel::update(indicators::table.find(&id)).set(values).execute(conn)?;
                id
            }
            None => {
                let id = new_id();
                diesel::insert_into(indicators::table).values((indicators::id.eq(&id), indicators::code.eq(&ind.code), values)).execute(conn)?;
                id
            }
        };
        // The file's targets are the indicator's targets.
        diesel::delete(indicator_targets::table.filter(indicator_targets::indicator_id.eq(&id))).execute(conn)?;
        for t in &ind.targets {
            let Some(p) = calc::parse_period(&t.period) else { continue };
            diesel::insert_into(indicator_targets::table)
                .values((
                    indicator_targets::id.eq(new_id()),
                    indicator_targets::indicator_id.eq(&id),
                    indicator_targets::period_label.eq(t.period.trim()),
                    indicator_targets::period_start.eq(p.start),
                    indicator_targets::period_end.eq(p.end),
                    indicator_targets::value.eq(t.value),
                ))
                .execute(conn)?;
        }
        summary.indicators += 1;
    }
    for r in &f.reports {
        diesel::delete(report_settings::table.find(&r.program)).execute(conn)?;
        diesel::insert_into(report_settings::table)
            .values((
                report_settings::program_code.eq(&r.program),
                report_settings::decimals.eq(r.decimals),
                report_settings::term_start.eq(r.from),
                report_settings::term_end.eq(r.to),
            ))
            .execute(conn)?;
    }
    for b in &f.budgets {
        let updated = diesel::update(
            budgets::table.filter(budgets::program_code.eq(&b.program)).filter(budgets::year.eq(b.year)).filter(budgets::source.eq(&b.source)),
        )
        .set(budgets::amount_won.eq(b.amount_won))
        .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(budgets::table)
                .values((
                    budgets::id.eq(new_id()),
                    budgets::program_code.eq(&b.program),
                    budgets::year.eq(b.year),
                    budgets::source.eq(&b.source),
                    budgets::amount_won.eq(b.amount_won),
                ))
                .execute(conn)?;
        }
    }
    if let Some(r) = &f.retention {
        crate::retention::save(conn, r)?;
    }
    Ok(summary)
}

/// A stored version that says the same as the file's: not added again.
fn same_version(e: &rules::RuleSet, v: &ValidRules) -> bool {
    e.effective_from == v.effective_from
        && e.region_code == v.region_code
        && e.region_name == v.region_name
        && e.districts == v.districts
        && e.min_residency_months == v.min_residency_months
        && e.visit_count == v.visit_count
        && e.visit_hours == v.visit_hours
        && e.yearly_capacity == v.yearly_capacity
        && e.applications_open == v.applications_open
        && e.note == v.note
        && e.terms == v.terms
}

fn upsert_program(conn: &mut DbConn, code: &str, (name, name_en, summary, summary_en): (&str, &str, &str, &str), active: bool) -> Result<String, AppError> {
    let values = (
        programs::name_ko.eq(name),
        programs::name_en.eq(name_en),
        programs::summary_ko.eq(summary),
        programs::summary_en.eq(summary_en),
        programs::active.eq(active),
    );
    let id: Option<String> = programs::table.filter(programs::code.eq(code)).select(programs::id).first(conn).optional()?;
    match id {
        Some(id) => {
            diesel::update(programs::table.find(&id)).set(values).execute(conn)?;
            Ok(id)
        }
        None => {
            let id = new_id();
            diesel::insert_into(programs::table)
                .values((programs::id.eq(&id), programs::code.eq(code), programs::created_at.eq(now_utc()), values))
                .execute(conn)?;
            Ok(id)
        }
    }
}

/// The city's districts, in their order.
pub fn city_districts(conn: &mut DbConn) -> Result<Vec<District>, AppError> {
    Ok(districts::table
        .order(districts::sort_order.asc())
        .select((districts::code, districts::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .map(|(code, name)| District { code, name })
        .collect())
}
