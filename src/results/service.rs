//! Indicators and the report over a period.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use diesel::prelude::*;
use serde::Serialize;

use super::calc::{self, Period};
use super::rollup;
use crate::db::schema::{
    application_events, applications, budget_executions, budgets, clinic_bookings, clinic_programs, clinic_sessions, clinic_walkins,
    indicator_actuals, indicator_targets, indicators, programs, report_settings, visits,
};
use crate::db::{new_id, DbConn};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::time::{now_utc, seoul};

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = indicators)]
pub struct Indicator {
    pub id: String,
    pub program_code: String,
    pub code: String,
    pub name_ko: String,
    pub name_en: String,
    pub unit_ko: String,
    pub unit_en: String,
    pub source: String,
    pub sort_order: i32,
    pub active: bool,
}

impl Indicator {
    pub fn name(&self, lang: Lang) -> &str {
        if lang == Lang::En { &self.name_en } else { &self.name_ko }
    }
    pub fn unit(&self, lang: Lang) -> &str {
        if lang == Lang::En { &self.unit_en } else { &self.unit_ko }
    }
}

/// The indicators of the two seed documents plus what the app counts itself.
pub fn seed(conn: &mut DbConn) -> Result<(), AppError> {
    let rows = [
        ("housework", "hw_promotion", "임신부 가사돌봄서비스 지원사업 홍보", "Promotion campaigns", "건", "campaigns", "manual"),
        ("housework", "hw_applications", "임신부 가사돌봄서비스 지원사업 신청", "Applications received", "건", "applications", "applications_received"),
        ("housework", "hw_approved", "지원 결정", "Applications approved", "건", "applications", "applications_approved"),
        ("housework", "hw_visits", "방문 서비스 제공", "Visits completed", "회", "visits", "visits_completed"),
        ("housework", "hw_visit_hours", "방문 서비스 시간", "Visit-hours delivered", "시간", "hours", "visit_hours"),
        ("saturday_clinic", "sc_checkups", "임산부·영유아 토요진료", "Prenatal and infant Saturday care", "명", "people", "clinic:prenatal_checkup,infant_checkup"),
        ("saturday_clinic", "sc_breastfeeding", "모유수유클리닉 운영", "Breastfeeding clinic", "명", "people", "clinic:breastfeeding"),
        ("saturday_clinic", "sc_classes", "출산 및 요가교실", "Childbirth and yoga classes", "명", "people", "clinic:childbirth_class,prenatal_yoga"),
    ];
    for (i, (program, code, ko, en, unit_ko, unit_en, source)) in rows.into_iter().enumerate() {
        let exists: bool = diesel::select(diesel::dsl::exists(indicators::table.filter(indicators::code.eq(code)))).get_result(conn)?;
        if !exists {
            diesel::insert_into(indicators::table)
                .values((
                    indicators::id.eq(new_id()),
                    indicators::program_code.eq(program),
                    indicators::code.eq(code),
                    indicators::name_ko.eq(ko),
                    indicators::name_en.eq(en),
                    indicators::unit_ko.eq(unit_ko),
                    indicators::unit_en.eq(unit_en),
                    indicators::source.eq(source),
                    indicators::sort_order.eq(i as i32),
                    indicators::active.eq(true),
                ))
                .execute(conn)?;
        }
    }
    for (program, decimals, start, end) in [("housework", 2, (2022, 1, 1), (2026, 6, 30)), ("saturday_clinic", 1, (2014, 7, 1), (2018, 6, 30))] {
        let exists: bool = diesel::select(diesel::dsl::exists(report_settings::table.find(program))).get_result(conn)?;
        if !exists {
            let d = |(y, m, day): (i32, u32, u32)| NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default();
            diesel::insert_into(report_settings::table)
                .values((
                    report_settings::program_code.eq(program),
                    report_settings::decimals.eq(decimals),
                    report_settings::term_start.eq(d(start)),
                    report_settings::term_end.eq(d(end)),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

pub fn indicators_of(conn: &mut DbConn, program_code: &str) -> Result<Vec<Indicator>, AppError> {
    Ok(indicators::table
        .filter(indicators::program_code.eq(program_code))
        .filter(indicators::active.eq(true))
        .order(indicators::sort_order.asc())
        .select(Indicator::as_select())
        .load(conn)?)
}

pub struct Settings {
    pub decimals: i32,
    pub term: Period,
}

pub fn settings(conn: &mut DbConn, program_code: &str) -> Result<Settings, AppError> {
    let (decimals, start, end): (i32, NaiveDate, NaiveDate) = report_settings::table
        .find(program_code)
        .select((report_settings::decimals, report_settings::term_start, report_settings::term_end))
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)?;
    Ok(Settings { decimals, term: Period { start, end } })
}

pub fn save_settings(conn: &mut DbConn, program_code: &str, decimals: i32, term: Period) -> Result<(), AppError> {
    diesel::update(report_settings::table.find(program_code))
        .set((report_settings::decimals.eq(decimals), report_settings::term_start.eq(term.start), report_settings::term_end.eq(term.end)))
        .execute(conn)?;
    Ok(())
}

/// Sets (or replaces) a target or an entered actual for an indicator and period.
pub fn upsert_figure(conn: &mut DbConn, indicator_id: &str, label: &str, p: Period, value: i64, target: bool, origin: &str, by: Option<&str>) -> Result<(), AppError> {
    if target {
        diesel::delete(
            indicator_targets::table
                .filter(indicator_targets::indicator_id.eq(indicator_id))
                .filter(indicator_targets::period_start.eq(p.start))
                .filter(indicator_targets::period_end.eq(p.end)),
        )
        .execute(conn)?;
        diesel::insert_into(indicator_targets::table)
            .values((
                indicator_targets::id.eq(new_id()),
                indicator_targets::indicator_id.eq(indicator_id),
                indicator_targets::period_label.eq(label),
                indicator_targets::period_start.eq(p.start),
                indicator_targets::period_end.eq(p.end),
                indicator_targets::value.eq(value),
            ))
            .execute(conn)?;
    } else {
        diesel::delete(
            indicator_actuals::table
                .filter(indicator_actuals::indicator_id.eq(indicator_id))
                .filter(indicator_actuals::period_start.eq(p.start))
                .filter(indicator_actuals::period_end.eq(p.end)),
        )
        .execute(conn)?;
        diesel::insert_into(indicator_actuals::table)
            .values((
                indicator_actuals::id.eq(new_id()),
                indicator_actuals::indicator_id.eq(indicator_id),
                indicator_actuals::period_label.eq(label),
                indicator_actuals::period_start.eq(p.start),
                indicator_actuals::period_end.eq(p.end),
                indicator_actuals::value.eq(value),
                indicator_actuals::origin.eq(origin),
                indicator_actuals::created_by.eq(by),
                indicator_actuals::created_at.eq(now_utc()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn upsert_budget(conn: &mut DbConn, program_code: &str, year: i32, source: &str, amount: i64) -> Result<(), AppError> {
    diesel::delete(budgets::table.filter(budgets::program_code.eq(program_code)).filter(budgets::year.eq(year)).filter(budgets::source.eq(source))).execute(conn)?;
    diesel::insert_into(budgets::table)
        .values((budgets::id.eq(new_id()), budgets::program_code.eq(program_code), budgets::year.eq(year), budgets::source.eq(source), budgets::amount_won.eq(amount)))
        .execute(conn)?;
    Ok(())
}

pub fn upsert_execution(conn: &mut DbConn, program_code: &str, year: i32, amount: i64) -> Result<(), AppError> {
    diesel::delete(budget_executions::table.filter(budget_executions::program_code.eq(program_code)).filter(budget_executions::year.eq(year))).execute(conn)?;
    diesel::insert_into(budget_executions::table)
        .values((budget_executions::id.eq(new_id()), budget_executions::program_code.eq(program_code), budget_executions::year.eq(year), budget_executions::amount_won.eq(amount)))
        .execute(conn)?;
    Ok(())
}

fn utc_bounds(p: Period) -> (NaiveDateTime, NaiveDateTime) {
    let at = |d: NaiveDate| {
        let local = d.and_hms_opt(0, 0, 0).unwrap_or_default();
        seoul().from_local_datetime(&local).single().map(|t| t.naive_utc()).unwrap_or(local)
    };
    (at(p.start), at(p.end + chrono::Duration::days(1)))
}

/// What the app's own records say for an indicator over a period, counted
/// from the raw rows (the maintained figures' reference).
pub fn counted(conn: &mut DbConn, source: &str, p: Period) -> Result<i64, AppError> {
    let (from, to) = utc_bounds(p);
    Ok(match source {
        "applications_received" => applications::table
            .filter(applications::submitted_at.ge(from))
            .filter(applications::submitted_at.lt(to))
            .count()
            .get_result(conn)?,
        "applications_approved" => application_events::table
            .filter(application_events::action.eq("approved"))
            .filter(application_events::at.ge(from))
            .filter(application_events::at.lt(to))
            .count()
            .get_result(conn)?,
        "visits_completed" => visits::table
            .filter(visits::status.eq("completed"))
            .filter(visits::day.between(p.start, p.end))
            .count()
            .get_result(conn)?,
        "visit_hours" => visits::table
            .filter(visits::status.eq("completed"))
            .filter(visits::day.between(p.start, p.end))
            .select(diesel::dsl::sum(visits::hours))
            .first::<Option<i64>>(conn)?
            .unwrap_or(0),
        s if s.starts_with("clinic:") => {
            let codes: Vec<&str> = s["clinic:".len()..].split(',').map(str::trim).collect();
            let program_ids: Vec<String> = clinic_programs::table.filter(clinic_programs::code.eq_any(&codes)).select(clinic_programs::id).load(conn)?;
            let sessions: Vec<String> = clinic_sessions::table.filter(clinic_sessions::day.between(p.start, p.end)).select(clinic_sessions::id).load(conn)?;
            let seats: i64 = clinic_bookings::table
                .filter(clinic_bookings::status.eq("attended"))
                .filter(clinic_bookings::session_id.eq_any(&sessions))
                .filter(clinic_bookings::program_id.eq_any(&program_ids))
                .select(diesel::dsl::sum(clinic_bookings::seats))
                .first::<Option<i64>>(conn)?
                .unwrap_or(0);
            let walkins: i64 = clinic_walkins::table
                .filter(clinic_walkins::session_id.eq_any(&sessions))
                .filter(clinic_walkins::program_id.eq_any(&program_ids))
                .select(diesel::dsl::sum(clinic_walkins::people))
                .first::<Option<i64>>(conn)?
                .unwrap_or(0);
            seats + walkins
        }
        _ => 0,
    })
}

type Figures = Vec<(Period, i64)>;

fn figures(conn: &mut DbConn, indicator_id: &str, target: bool) -> Result<Figures, AppError> {
    let rows: Vec<(NaiveDate, NaiveDate, i64)> = if target {
        indicator_targets::table
            .filter(indicator_targets::indicator_id.eq(indicator_id))
            .select((indicator_targets::period_start, indicator_targets::period_end, indicator_targets::value))
            .load(conn)?
    } else {
        indicator_actuals::table
            .filter(indicator_actuals::indicator_id.eq(indicator_id))
            .select((indicator_actuals::period_start, indicator_actuals::period_end, indicator_actuals::value))
            .load(conn)?
    };
    Ok(rows.into_iter().map(|(start, end, v)| (Period { start, end }, v)).collect())
}

fn sum_within(f: &Figures, p: Period) -> i64 {
    f.iter().filter(|(q, _)| p.contains(q)).map(|(_, v)| v).sum()
}

const EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

#[derive(Serialize, Clone, Debug)]
pub struct Row {
    pub code: String,
    pub name: String,
    pub unit: String,
    pub target: i64,
    pub actual: i64,
    pub cum_target: i64,
    pub cum_actual: i64,
    pub rate: Option<f64>,
    pub rate_text: String,
    /// For a period inside one year: the actual from 1 January to the
    /// period's end over the whole year's target, not capped (진도율).
    pub progress: Option<f64>,
    pub progress_text: String,
}

#[derive(Serialize, Clone, Debug)]
pub struct Report {
    pub program_code: String,
    pub program_name: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub decimals: i32,
    pub rows: Vec<Row>,
    pub overall: Option<f64>,
    pub overall_text: String,
    /// The year whose target the `progress` column measures against, when
    /// the period lies inside one year.
    pub progress_year: Option<i32>,
    pub quarter_labels: Vec<String>,
    /// Per indicator (same order as rows): actual per quarter.
    pub quarters: Vec<Vec<i64>>,
    /// Periods of entered or imported actuals that lie inside the report's
    /// period but inside none of its quarters ("2014-07-01~2017-12-31"):
    /// each gets its own column rather than being spread or dropped.
    pub span_labels: Vec<String>,
    /// Per indicator: its figure for each of those periods, if it has one.
    /// The quarters plus these add up to the row's `actual`.
    pub spans: Vec<Vec<Option<i64>>>,
    /// Entered or imported actuals that overlap the period but run past
    /// its start or end, so they are in none of its figures.
    pub outside: Vec<OutsideFigure>,
    pub budget: Budget,
}

impl Report {
    /// The quarterly table's cells per indicator: each quarter, each period
    /// of its own ("-" where the indicator has no figure for it), the total.
    pub fn quarterly_cells(&self, number: fn(i64) -> String) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .zip(self.quarters.iter().zip(&self.spans))
            .map(|(row, (q, spans))| {
                q.iter()
                    .map(|v| number(*v))
                    .chain(spans.iter().map(|v| v.map(number).unwrap_or_else(|| "-".into())))
                    .chain(std::iter::once(number(row.actual)))
                    .collect()
            })
            .collect()
    }
}

#[derive(Serialize, Clone, Debug)]
pub struct OutsideFigure {
    pub indicator: String,
    pub period: String,
    pub value: i64,
}

#[derive(Serialize, Clone, Debug, Default)]
pub struct Budget {
    pub years: Vec<i32>,
    /// (source, amount per year, total)
    pub sources: Vec<(String, Vec<i64>, i64)>,
    pub total: Vec<i64>,
    pub total_sum: i64,
    pub executed: Vec<i64>,
    pub executed_sum: i64,
    pub rate: Vec<String>,
    pub rate_sum: String,
}

pub const SOURCES: [&str; 4] = ["national", "provincial", "city", "other"];

/// The report of a program over [from, to]: per indicator the target and
/// actual in the period, the cumulative (누계) figures up to `to`, the rate
/// capped at 100 %, the progress toward the year's target for a period
/// inside one year, and the overall rate; the quarterly breakdown with the
/// figures that fit no single quarter in columns of their own; the budget.
pub fn report(conn: &mut DbConn, program_code: &str, p: Period, lang: Lang) -> Result<Report, AppError> {
    build_report(conn, program_code, p, lang, Counting::Maintained)
}

/// The same report counted from the raw records on every figure, as it was
/// before the figures were maintained: slow, kept to check the maintained
/// figures against (tests, and after `results rebuild`).
pub fn report_recounted(conn: &mut DbConn, program_code: &str, p: Period, lang: Lang) -> Result<Report, AppError> {
    build_report(conn, program_code, p, lang, Counting::Recounted)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Counting {
    Maintained,
    Recounted,
}

/// Where a report's counted figures come from: the maintained figures' series
/// (one read per report), or a raw count per figure.
enum Counter {
    Maintained(HashMap<String, rollup::Series>),
    Recounted,
}

impl Counter {
    fn count(&self, conn: &mut DbConn, source: &str, p: Period) -> Result<i64, AppError> {
        match self {
            Counter::Maintained(series) => Ok(series.get(source).map(|s| s.sum(p)).unwrap_or(0)),
            Counter::Recounted => counted(conn, source, p),
        }
    }
}

fn build_report(conn: &mut DbConn, program_code: &str, p: Period, lang: Lang, counting: Counting) -> Result<Report, AppError> {
    use chrono::Datelike;
    let settings = settings(conn, program_code)?;
    let decimals = settings.decimals.clamp(0, 4) as usize;
    let program_name: String = programs::table
        .filter(programs::code.eq(program_code))
        .select((programs::name_ko, programs::name_en))
        .first::<(String, String)>(conn)
        .optional()?
        .map(|(ko, en)| if lang == Lang::En { en } else { ko })
        .unwrap_or_else(|| program_code.to_string());
    let quarters = calc::quarters(p);
    let progress_year = (p.start.year() == p.end.year()).then(|| p.start.year());
    let mut indicators = vec![];
    for ind in indicators_of(conn, program_code)? {
        let targets = figures(conn, &ind.id, true)?;
        let actuals = figures(conn, &ind.id, false)?;
        indicators.push((ind, targets, actuals));
    }
    // Every figure below lies inside [window, p.end] or is cumulative (from EPOCH).
    let window = p.start.min(Period::year_of(p.end).start);
    let counter = match counting {
        Counting::Maintained => {
            let sources: Vec<&str> = indicators.iter().map(|(ind, _, _)| ind.source.as_str()).collect();
            Counter::Maintained(rollup::series(conn, &sources, window, p.end)?)
        }
        Counting::Recounted => Counter::Recounted,
    };
    let span_periods = calc::spanning(p, &quarters, indicators.iter().flat_map(|(_, _, a)| a.iter().map(|(f, _)| *f)));
    let text = |r: Option<f64>| r.map(|r| calc::format_rate(r, decimals)).unwrap_or_else(|| "-".into());
    let (mut rows, mut per_quarter, mut spans, mut outside) = (vec![], vec![], vec![], vec![]);
    for (ind, targets, actuals) in &indicators {
        let upto = Period { start: EPOCH, end: p.end };
        let target = sum_within(targets, p);
        let actual = counter.count(conn, &ind.source, p)? + sum_within(actuals, p);
        let cum_target = sum_within(targets, upto);
        let cum_actual = counter.count(conn, &ind.source, upto)? + sum_within(actuals, upto);
        let rate = calc::rate(actual, target);
        let progress = match progress_year {
            Some(_) => {
                let year = Period::year_of(p.end);
                let so_far = Period { start: year.start, end: p.end };
                calc::progress(counter.count(conn, &ind.source, so_far)? + sum_within(actuals, so_far), sum_within(targets, year))
            }
            None => None,
        };
        let mut q = vec![];
        for (_, qp) in &quarters {
            q.push(counter.count(conn, &ind.source, *qp)? + sum_within(actuals, *qp));
        }
        per_quarter.push(q);
        spans.push(span_periods.iter().map(|sp| actuals.iter().find(|(f, _)| f == sp).map(|(_, v)| *v)).collect());
        outside.extend(actuals.iter().filter(|(f, _)| p.overlaps(f) && !p.contains(f)).map(|(f, v)| OutsideFigure {
            indicator: ind.name(lang).to_string(),
            period: f.label(),
            value: *v,
        }));
        rows.push(Row {
            code: ind.code.clone(),
            name: ind.name(lang).to_string(),
            unit: ind.unit(lang).to_string(),
            target,
            actual,
            cum_target,
            cum_actual,
            rate_text: text(rate),
            rate,
            progress_text: text(progress),
            progress,
        });
    }
    let overall = calc::overall(&rows.iter().map(|r| r.rate).collect::<Vec<_>>());
    Ok(Report {
        program_code: program_code.to_string(),
        program_name,
        from: p.start,
        to: p.end,
        decimals: decimals as i32,
        overall_text: text(overall),
        overall,
        rows,
        progress_year,
        quarter_labels: quarters.into_iter().map(|(l, _)| l).collect(),
        quarters: per_quarter,
        span_labels: span_periods.iter().map(Period::label).collect(),
        spans,
        outside,
        budget: budget(conn, program_code, p, decimals, counting)?,
    })
}

/// Budget per year and funding source, executed amount (entered for past
/// years, plus completed visit-hours × the unit price) and execution rate.
fn budget(conn: &mut DbConn, program_code: &str, p: Period, decimals: usize, counting: Counting) -> Result<Budget, AppError> {
    use chrono::Datelike;
    let years: Vec<i32> = (p.start.year()..=p.end.year()).collect();
    let rows: Vec<(i32, String, i64)> = budgets::table
        .filter(budgets::program_code.eq(program_code))
        .select((budgets::year, budgets::source, budgets::amount_won))
        .load(conn)?;
    let entered: HashMap<i32, i64> = budget_executions::table
        .filter(budget_executions::program_code.eq(program_code))
        .select((budget_executions::year, budget_executions::amount_won))
        .load::<(i32, i64)>(conn)?
        .into_iter()
        .collect();
    let mut b = Budget { years: years.clone(), ..Default::default() };
    for source in SOURCES {
        let per_year: Vec<i64> = years.iter().map(|y| rows.iter().filter(|(ry, rs, _)| ry == y && rs == source).map(|(_, _, a)| a).sum()).collect();
        let sum = per_year.iter().sum();
        b.sources.push((source.to_string(), per_year, sum));
    }
    b.total = years.iter().enumerate().map(|(i, _)| b.sources.iter().map(|(_, v, _)| v[i]).sum()).collect();
    b.total_sum = b.total.iter().sum();
    for y in &years {
        let mut executed = entered.get(y).copied().unwrap_or(0);
        if program_code == "housework" {
            let year = Period {
                start: NaiveDate::from_ymd_opt(*y, 1, 1).unwrap_or(p.start),
                end: NaiveDate::from_ymd_opt(*y, 12, 31).unwrap_or(p.end),
            };
            // Completed visit-hours at each agency's unit price, as settled.
            executed += match counting {
                Counting::Maintained => {
                    let hours = rollup::hours_by_agency(conn, year)?;
                    crate::agencies::list(conn)?.iter().map(|a| hours.get(&a.id).copied().unwrap_or(0) * a.unit_price_won as i64).sum::<i64>()
                }
                Counting::Recounted => {
                    let next_year = year.end + chrono::Duration::days(1);
                    crate::visits::service::settlement(conn, year.start, next_year)?.iter().map(|r| r.money.amount).sum::<i64>()
                }
            };
        }
        b.executed.push(executed);
    }
    b.executed_sum = b.executed.iter().sum();
    let pct = |e: i64, t: i64| if t > 0 { calc::format_rate(e as f64 / t as f64 * 100.0, decimals) } else { "-".into() };
    b.rate = b.executed.iter().zip(&b.total).map(|(e, t)| pct(*e, *t)).collect();
    b.rate_sum = pct(b.executed_sum, b.total_sum);
    Ok(b)
}

/// All figures stored for a program (for the staff's list).
pub fn stored_figures(conn: &mut DbConn, program_code: &str, lang: Lang) -> Result<Vec<(String, String, String, i64)>, AppError> {
    let inds = indicators_of(conn, program_code)?;
    let mut out = vec![];
    for ind in &inds {
        let t: Vec<(String, i64)> = indicator_targets::table
            .filter(indicator_targets::indicator_id.eq(&ind.id))
            .order(indicator_targets::period_start.asc())
            .select((indicator_targets::period_label, indicator_targets::value))
            .load(conn)?;
        out.extend(t.into_iter().map(|(l, v)| (ind.name(lang).to_string(), "target".to_string(), l, v)));
        let a: Vec<(String, i64)> = indicator_actuals::table
            .filter(indicator_actuals::indicator_id.eq(&ind.id))
            .order(indicator_actuals::period_start.asc())
            .select((indicator_actuals::period_label, indicator_actuals::value))
            .load(conn)?;
        out.extend(a.into_iter().map(|(l, v)| (ind.name(lang).to_string(), "actual".to_string(), l, v)));
    }
    Ok(out)
}

/// Finds an indicator by its code or its Korean or English name.
pub fn find_indicator(conn: &mut DbConn, program_code: &str, key: &str) -> Result<Option<Indicator>, AppError> {
    let key = key.trim();
    Ok(indicators::table
        .filter(indicators::program_code.eq(program_code))
        .filter(indicators::code.eq(key).or(indicators::name_ko.eq(key)).or(indicators::name_en.eq(key)))
        .select(Indicator::as_select())
        .first(conn)
        .optional()?)
}
