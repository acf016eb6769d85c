//! Writes the database's configuration out as a city file: the same format
//! `import` reads, so export → import into a fresh database → export gives
//! the same file.

use diesel::prelude::*;

use super::{weekday_name, Agency, Booking, BudgetLine, City, CityFile, ClinicProgram, Housework, Indicator, ReportSetting, RuleVersion, SaturdayClinic, Target, WeekEntry, FORMAT};
use crate::applications::rules;
use crate::db::schema::{agency_holidays, budgets, city_settings, indicator_targets, indicators, programs, report_settings};
use crate::db::DbConn;
use crate::error::AppError;
use crate::visits::rules::hhmm;

/// The configuration as a city file (None when no city was ever set up).
pub fn read(conn: &mut DbConn) -> Result<Option<CityFile>, AppError> {
    let city: Option<(String, String, String, String, String, String)> = city_settings::table
        .find("city")
        .select((
            city_settings::name,
            city_settings::name_en,
            city_settings::region_code,
            city_settings::region_name,
            city_settings::contact,
            city_settings::contact_en,
        ))
        .first(conn)
        .optional()?;
    let Some((name, name_en, region_code, region_name, contact, contact_en)) = city else {
        return Ok(None);
    };
    let program = |conn: &mut DbConn, code: &str| -> Result<Option<(String, String, String, String, String, bool)>, AppError> {
        Ok(programs::table
            .filter(programs::code.eq(code))
            .select((programs::id, programs::name_ko, programs::name_en, programs::summary_ko, programs::summary_en, programs::active))
            .first(conn)
            .optional()?)
    };
    let housework = match program(conn, crate::programs::HOUSEWORK)? {
        None => None,
        Some((id, name, name_en, summary, summary_en, active)) => {
            let s = crate::visits::models::settings(conn)?;
            let mut versions = rules::list(conn, &id)?;
            versions.sort_by_key(|v| v.version);
            Some(Housework {
                name,
                name_en,
                summary,
                summary_en,
                active,
                booking: Booking {
                    min_notice_days: s.min_notice_days,
                    booking_horizon_days: s.booking_horizon_days,
                    cancel_cutoff_hours: s.cancel_cutoff_hours,
                    late_cancel_counts: s.late_cancel_counts,
                    no_show_counts: s.no_show_counts,
                },
                rules: versions
                    .into_iter()
                    .map(|v| RuleVersion {
                        effective_from: v.effective_from,
                        applications_open: v.applications_open,
                        yearly_capacity: v.yearly_capacity,
                        residency_months: v.min_residency_months,
                        visits: v.visit_count,
                        hours_per_visit: v.visit_hours,
                        note: v.note,
                        terms: v.terms,
                    })
                    .collect(),
            })
        }
    };
    let saturday_clinic = match program(conn, crate::programs::SATURDAY_CLINIC)? {
        None => None,
        Some((_, name, name_en, summary, summary_en, active)) => Some(SaturdayClinic {
            name,
            name_en,
            summary,
            summary_en,
            active,
            programs: crate::clinic::models::programs(conn, false)?
                .into_iter()
                .map(|p| ClinicProgram {
                    code: p.code,
                    name: p.name_ko,
                    name_en: p.name_en,
                    kind: p.kind,
                    audience: p.audience,
                    infant_max_months: p.infant_max_months,
                    capacity: p.capacity,
                    slot_minutes: p.slot_minutes,
                    start: hhmm(p.start_minute),
                    end: hhmm(p.end_minute),
                    partner_seat: p.partner_seat,
                    booking_opens_days: p.booking_opens_days,
                    cancel_cutoff_hours: p.cancel_cutoff_hours,
                    active: p.active,
                })
                .collect(),
        }),
    };
    let mut agencies = vec![];
    for a in crate::agencies::list(conn)? {
        let week = crate::visits::models::templates(conn, &a.id)?
            .into_iter()
            .map(|t| WeekEntry { day: weekday_name(t.weekday).to_string(), start: hhmm(t.start_minute), helpers: t.helpers })
            .collect();
        let holidays = agency_holidays::table
            .filter(agency_holidays::agency_id.eq(&a.id))
            .order(agency_holidays::day.asc())
            .select((agency_holidays::day, agency_holidays::note))
            .load::<(chrono::NaiveDate, String)>(conn)?
            .into_iter()
            .map(|(day, note)| super::Holiday { day, note })
            .collect();
        agencies.push(Agency {
            districts: crate::agencies::districts_of(conn, &a.id)?,
            code: a.code,
            name: a.name,
            phone: a.phone,
            unit_price_won: a.unit_price_won,
            active: a.active,
            week,
            holidays,
        });
    }
    let mut inds = vec![];
    let rows: Vec<crate::results::service::Indicator> = indicators::table
        .order((indicators::sort_order.asc(), indicators::code.asc()))
        .select(crate::results::service::Indicator::as_select())
        .load(conn)?;
    for i in rows {
        let targets = indicator_targets::table
            .filter(indicator_targets::indicator_id.eq(&i.id))
            .order((indicator_targets::period_start.asc(), indicator_targets::period_end.asc()))
            .select((indicator_targets::period_label, indicator_targets::value))
            .load::<(String, i64)>(conn)?
            .into_iter()
            .map(|(period, value)| Target { period, value })
            .collect();
        inds.push(Indicator {
            program: i.program_code,
            code: i.code,
            name: i.name_ko,
            name_en: i.name_en,
            unit: i.unit_ko,
            unit_en: i.unit_en,
            source: i.source,
            active: i.active,
            targets,
        });
    }
    let reports = report_settings::table
        .order(report_settings::program_code.asc())
        .select((report_settings::program_code, report_settings::decimals, report_settings::term_start, report_settings::term_end))
        .load::<(String, i32, chrono::NaiveDate, chrono::NaiveDate)>(conn)?
        .into_iter()
        .map(|(program, decimals, from, to)| ReportSetting { program, decimals, from, to })
        .collect();
    let budgets = budgets::table
        .order((budgets::program_code.asc(), budgets::year.asc(), budgets::source.asc()))
        .select((budgets::program_code, budgets::year, budgets::source, budgets::amount_won))
        .load::<(String, i32, String, i64)>(conn)?
        .into_iter()
        .map(|(program, year, source, amount_won)| BudgetLine { program, year, source, amount_won })
        .collect();
    Ok(Some(CityFile {
        format: FORMAT,
        city: City { name, name_en, region_code, region_name, contact, contact_en },
        districts: super::import::city_districts(conn)?,
        housework,
        saturday_clinic,
        agencies,
        indicators: inds,
        reports,
        budgets,
        retention: Some(crate::retention::periods(conn)?),
    }))
}

/// The configuration as TOML text, with a header saying what it is.
pub fn to_toml(file: &CityFile) -> Result<String, AppError> {
    let body = toml::to_string(file).map_err(|e| AppError::Internal(format!("city export: {e}")))?;
    Ok(format!("# naju-helper city file (format {FORMAT}). Apply with `naju-helper city import FILE`.\n{body}"))
}
