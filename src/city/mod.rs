//! A city described by one TOML file: its name and contact line, districts,
//! the programs it runs with their dated rule versions, Saturday-clinic
//! programs, agencies, indicators with targets, report settings and budget
//! lines. `import` applies a file in one transaction; `export` writes the
//! database's configuration back out in the same format.

pub mod export;
pub mod import;
pub mod routes;

use std::collections::HashSet;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::applications::rules::{District, PriorityUse, Terms};
use crate::results::calc;

pub const FORMAT: u32 = 1;

/// The city's name and contact line as pages and emails show them.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct Names {
    pub name: String,
    pub name_en: String,
    pub contact: String,
    pub contact_en: String,
}

impl Names {
    pub fn name(&self, lang: crate::i18n::Lang) -> &str {
        if lang == crate::i18n::Lang::En && !self.name_en.is_empty() {
            &self.name_en
        } else {
            &self.name
        }
    }
}

/// The names from the database (None before a city file was applied).
pub fn names(conn: &mut crate::db::DbConn) -> diesel::QueryResult<Option<Names>> {
    use crate::db::schema::city_settings as cs;
    use diesel::prelude::*;
    cs::table
        .find("city")
        .select((cs::name, cs::name_en, cs::contact, cs::contact_en))
        .first::<(String, String, String, String)>(conn)
        .optional()
        .map(|row| row.map(|(name, name_en, contact, contact_en)| Names { name, name_en, contact, contact_en }))
}

/// The names for page rendering, kept for `kept::KEEP` (another instance may
/// have applied a city file); `CITY_NAME` until a city is set up.
pub struct NamesCache {
    fallback: Names,
    kept: crate::kept::Kept<Names>,
}

impl NamesCache {
    pub fn new(city_name: &str) -> NamesCache {
        NamesCache { fallback: Names { name: city_name.to_string(), ..Default::default() }, kept: Default::default() }
    }

    pub fn get(&self, pool: &crate::db::DbPool) -> std::sync::Arc<Names> {
        // Never wait for a connection on the render path: keep the old value.
        let read = self.kept.get_or_load(|| {
            let mut conn = pool.try_get().ok_or(())?;
            names(&mut conn).map(|n| n.unwrap_or_else(|| self.fallback.clone())).map_err(|_| ())
        });
        read.unwrap_or_else(|()| self.kept.last().unwrap_or_else(|| std::sync::Arc::new(self.fallback.clone())))
    }

    /// The same on a connection the caller holds (a message rendered with
    /// its change): read on it when not kept, and a failed read is an error.
    pub fn get_on(&self, conn: &mut crate::db::DbConn) -> diesel::QueryResult<std::sync::Arc<Names>> {
        self.kept.get_or_load(|| names(conn).map(|n| n.unwrap_or_else(|| self.fallback.clone())))
    }

    pub fn forget(&self) {
        self.kept.forget();
    }
}

/// The city files shipped with the app (`cities/`), by file name.
pub const SHIPPED: [(&str, &str); 5] = [
    ("naju-2024.toml", include_str!("../../cities/naju-2024.toml")),
    ("naju-2023.toml", include_str!("../../cities/naju-2023.toml")),
    ("dongjak-2024.toml", include_str!("../../cities/dongjak-2024.toml")),
    ("haenam-2025.toml", include_str!("../../cities/haenam-2025.toml")),
    ("hanbit-income-test.toml", include_str!("../../cities/hanbit-income-test.toml")),
];

pub fn shipped(name: &str) -> Option<&'static str> {
    SHIPPED.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CityFile {
    /// The file format's version (1).
    pub format: u32,
    pub city: City,
    #[serde(default)]
    pub districts: Vec<District>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub housework: Option<Housework>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saturday_clinic: Option<SaturdayClinic>,
    #[serde(default)]
    pub agencies: Vec<Agency>,
    #[serde(default)]
    pub indicators: Vec<Indicator>,
    #[serde(default)]
    pub reports: Vec<ReportSetting>,
    #[serde(default)]
    pub budgets: Vec<BudgetLine>,
    /// How long personal data is kept (days); left out: the periods stay as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<crate::retention::Periods>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct City {
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    /// 행정구역 code of the city (e.g. 46170 for Naju).
    pub region_code: String,
    /// Full name as on the resident registration ("전라남도 나주시").
    pub region_name: String,
    /// Who to contact, shown to residents ("나주시보건소 모자보건팀 061-339-2154").
    pub contact: String,
    #[serde(default)]
    pub contact_en: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Housework {
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub summary_en: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub active: bool,
    pub booking: Booking,
    #[serde(default)]
    pub rules: Vec<RuleVersion>,
}

/// Booking rules of home visits (the same for every rule version).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Booking {
    pub min_notice_days: i32,
    pub booking_horizon_days: i32,
    pub cancel_cutoff_hours: i32,
    pub late_cancel_counts: bool,
    pub no_show_counts: bool,
}

/// One dated version of the eligibility and service rules.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuleVersion {
    pub effective_from: NaiveDate,
    pub applications_open: bool,
    /// Places a year (first come, first served; then a waiting list).
    pub yearly_capacity: i32,
    /// Months of registered residence required (0: any registered resident).
    #[serde(default)]
    pub residency_months: i32,
    pub visits: i32,
    pub hours_per_visit: i32,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub terms: Terms,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SaturdayClinic {
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub summary_en: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub active: bool,
    #[serde(default)]
    pub programs: Vec<ClinicProgram>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClinicProgram {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    /// "slots" (one person per time) or "class" (seats in one session).
    pub kind: String,
    /// "pregnant", "infant" or "pregnant_or_infant".
    pub audience: String,
    #[serde(default)]
    pub infant_max_months: i32,
    pub capacity: i32,
    pub slot_minutes: i32,
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub partner_seat: bool,
    pub booking_opens_days: i32,
    pub cancel_cutoff_hours: i32,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub active: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Agency {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub phone: String,
    /// What the city pays per visit-hour.
    pub unit_price_won: i32,
    /// District codes served; empty: every district of the city.
    #[serde(default)]
    pub districts: Vec<String>,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub active: bool,
    /// The agency's week: start times and helpers free.
    #[serde(default)]
    pub week: Vec<WeekEntry>,
    #[serde(default)]
    pub holidays: Vec<Holiday>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WeekEntry {
    /// mon, tue, wed, thu, fri, sat, sun
    pub day: String,
    pub start: String,
    pub helpers: i32,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    pub day: NaiveDate,
    #[serde(default)]
    pub note: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    /// "housework" or "saturday_clinic".
    pub program: String,
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    pub unit: String,
    #[serde(default)]
    pub unit_en: String,
    /// manual, applications_received, applications_approved,
    /// visits_completed, visit_hours or clinic:<program codes, comma separated>
    pub source: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub active: bool,
    #[serde(default)]
    pub targets: Vec<Target>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// "2024", "2018.6", "2024Q1" or "2024-01-01~2024-06-30".
    pub period: String,
    pub value: i64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReportSetting {
    pub program: String,
    pub decimals: i32,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BudgetLine {
    pub program: String,
    pub year: i32,
    /// national, provincial, city or other
    pub source: String,
    pub amount_won: i64,
}

/// What is wrong with a city file: where (line, when known, and field) and why.
#[derive(Debug, Clone, PartialEq)]
pub struct CityError {
    pub line: Option<usize>,
    pub field: String,
    pub message: String,
}

impl fmt::Display for CityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}, {}: {}", self.field, self.message),
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

pub const PROGRAMS: [&str; 2] = [crate::programs::HOUSEWORK, crate::programs::SATURDAY_CLINIC];
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const SOURCES: [&str; 5] = ["manual", "applications_received", "applications_approved", "visits_completed", "visit_hours"];

pub fn weekday_index(day: &str) -> Option<i32> {
    WEEKDAYS.iter().position(|d| *d == day).map(|i| i as i32)
}

pub fn weekday_name(index: i32) -> &'static str {
    WEEKDAYS.get(index as usize).copied().unwrap_or("mon")
}

/// 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

/// The line of `key` inside the `index`-th `[[array]]` table (or of the
/// table's header when the key is not written there), for error messages.
fn locate(text: &str, array: &str, index: usize, key: Option<&str>) -> Option<usize> {
    let header = format!("[[{array}]]");
    let mut starts = text.match_indices(&header).map(|(i, _)| i).filter(|i| *i == 0 || text.as_bytes()[i - 1] == b'\n');
    let start = starts.nth(index)?;
    let end = text[start + header.len()..].find("\n[").map_or(text.len(), |e| start + header.len() + e);
    if let Some(key) = key {
        let body = &text[start..end];
        let mut offset = 0;
        for line in body.split_inclusive('\n') {
            let t = line.trim_start();
            if t.starts_with(key) && t[key.len()..].trim_start().starts_with('=') {
                return Some(line_of(text, start + offset));
            }
            offset += line.len();
        }
    }
    Some(line_of(text, start))
}

fn hhmm(s: &str) -> Option<i32> {
    crate::visits::rules::parse_hhmm(s)
}

/// Parses and checks a city file; every problem names its line and field.
pub fn parse(text: &str) -> Result<CityFile, CityError> {
    let file: CityFile = toml::from_str(text).map_err(|e| CityError {
        line: e.span().map(|s| line_of(text, s.start)),
        field: "file".into(),
        message: e.message().trim().to_string(),
    })?;
    validate(&file, text)?;
    Ok(file)
}

struct Check<'a> {
    text: &'a str,
}

impl Check<'_> {
    fn fail(&self, array: &str, index: usize, key: &str, message: String) -> CityError {
        CityError { line: locate(self.text, array, index, Some(key)), field: format!("{array}[{}].{key}", index + 1), message }
    }

    fn fail_at(&self, field: &str, key: &str, message: String) -> CityError {
        // A key in a plain table: its first "key =" line after the table header.
        let header = format!("[{field}]");
        let line = self.text.find(&header).and_then(|start| {
            let rest = &self.text[start..];
            rest.find(&format!("\n{key} ")).or_else(|| rest.find(&format!("\n{key}="))).map(|k| line_of(self.text, start + k + 1))
        });
        CityError { line, field: format!("{field}.{key}"), message }
    }
}

fn range(v: i64, min: i64, max: i64) -> Result<(), String> {
    if (min..=max).contains(&v) {
        Ok(())
    } else {
        Err(format!("{v} is outside {min}..={max}"))
    }
}

fn validate(f: &CityFile, text: &str) -> Result<(), CityError> {
    let c = Check { text };
    if f.format != FORMAT {
        return Err(CityError { line: Some(1), field: "format".into(), message: format!("this app reads format {FORMAT}, the file says {}", f.format) });
    }
    for (key, value) in [("name", &f.city.name), ("region_code", &f.city.region_code), ("region_name", &f.city.region_name), ("contact", &f.city.contact)] {
        if value.trim().is_empty() {
            return Err(c.fail_at("city", key, "must not be empty".into()));
        }
    }
    let mut codes = HashSet::new();
    for (i, d) in f.districts.iter().enumerate() {
        if d.code.trim().is_empty() || d.name.trim().is_empty() {
            return Err(c.fail("districts", i, "code", "a district needs a code and a name".into()));
        }
        if !codes.insert(d.code.as_str()) {
            return Err(c.fail("districts", i, "code", format!("district {} is listed twice", d.code)));
        }
    }
    if let Some(h) = &f.housework {
        if f.districts.is_empty() {
            return Err(CityError { line: None, field: "districts".into(), message: "the housework program needs the city's districts".into() });
        }
        let b = &h.booking;
        for (key, v, min, max) in [
            ("min_notice_days", b.min_notice_days, 0, 60),
            ("booking_horizon_days", b.booking_horizon_days, 1, 366),
            ("cancel_cutoff_hours", b.cancel_cutoff_hours, 0, 720),
        ] {
            range(v.into(), min, max).map_err(|m| c.fail_at("housework.booking", key, m))?;
        }
        for (i, r) in h.rules.iter().enumerate() {
            let arr = "housework.rules";
            range(r.yearly_capacity.into(), 0, 1_000_000).map_err(|m| c.fail(arr, i, "yearly_capacity", m))?;
            range(r.residency_months.into(), 0, 120).map_err(|m| c.fail(arr, i, "residency_months", m))?;
            range(r.visits.into(), 1, 50).map_err(|m| c.fail(arr, i, "visits", m))?;
            range(r.hours_per_visit.into(), 1, 12).map_err(|m| c.fail(arr, i, "hours_per_visit", m))?;
            check_terms(&r.terms).map_err(|(key, m)| {
                let mut e = c.fail(arr, i, key, m);
                e.field = format!("{arr}[{}].terms.{key}", i + 1);
                e
            })?;
            if i > 0 && r.effective_from < h.rules[i - 1].effective_from {
                return Err(c.fail(arr, i, "effective_from", "versions must be listed in date order".into()));
            }
        }
    }
    let mut agency_codes = HashSet::new();
    for (i, a) in f.agencies.iter().enumerate() {
        if a.code.trim().is_empty() || !agency_codes.insert(a.code.as_str()) {
            return Err(c.fail("agencies", i, "code", format!("agency code \"{}\" is empty or used twice", a.code)));
        }
        if a.name.trim().is_empty() {
            return Err(c.fail("agencies", i, "name", "must not be empty".into()));
        }
        range(a.unit_price_won.into(), 0, 1_000_000).map_err(|m| c.fail("agencies", i, "unit_price_won", m))?;
        if let Some(d) = a.districts.iter().find(|d| !codes.contains(d.as_str())) {
            return Err(c.fail("agencies", i, "districts", format!("district {d} is not one of the city's districts")));
        }
        let mut times = HashSet::new();
        for w in &a.week {
            let day = weekday_index(&w.day).ok_or_else(|| c.fail("agencies", i, "week", format!("day \"{}\" is not one of mon..sun", w.day)))?;
            let start = hhmm(&w.start).ok_or_else(|| c.fail("agencies", i, "week", format!("start \"{}\" is not a time like 09:00", w.start)))?;
            range(w.helpers.into(), 0, 1000).map_err(|m| c.fail("agencies", i, "week", m))?;
            if !times.insert((day, start)) {
                return Err(c.fail("agencies", i, "week", format!("{} {} is listed twice", w.day, w.start)));
            }
        }
    }
    if let Some(s) = &f.saturday_clinic {
        let mut seen = HashSet::new();
        for (i, p) in s.programs.iter().enumerate() {
            let arr = "saturday_clinic.programs";
            if p.code.trim().is_empty() || !seen.insert(p.code.as_str()) {
                return Err(c.fail(arr, i, "code", format!("program code \"{}\" is empty or used twice", p.code)));
            }
            if !["slots", "class"].contains(&p.kind.as_str()) {
                return Err(c.fail(arr, i, "kind", format!("\"{}\" is not slots or class", p.kind)));
            }
            if !["pregnant", "infant", "pregnant_or_infant"].contains(&p.audience.as_str()) {
                return Err(c.fail(arr, i, "audience", format!("\"{}\" is not pregnant, infant or pregnant_or_infant", p.audience)));
            }
            let start = hhmm(&p.start).ok_or_else(|| c.fail(arr, i, "start", format!("\"{}\" is not a time like 09:00", p.start)))?;
            let end = hhmm(&p.end).ok_or_else(|| c.fail(arr, i, "end", format!("\"{}\" is not a time like 13:00", p.end)))?;
            if end <= start {
                return Err(c.fail(arr, i, "end", "must be after start".into()));
            }
            range(p.capacity.into(), 0, 10_000).map_err(|m| c.fail(arr, i, "capacity", m))?;
            range(p.slot_minutes.into(), 5, 600).map_err(|m| c.fail(arr, i, "slot_minutes", m))?;
            range(p.infant_max_months.into(), 0, 120).map_err(|m| c.fail(arr, i, "infant_max_months", m))?;
            range(p.booking_opens_days.into(), 0, 366).map_err(|m| c.fail(arr, i, "booking_opens_days", m))?;
            range(p.cancel_cutoff_hours.into(), 0, 720).map_err(|m| c.fail(arr, i, "cancel_cutoff_hours", m))?;
        }
    }
    let clinic_codes: HashSet<&str> = f.saturday_clinic.iter().flat_map(|s| s.programs.iter().map(|p| p.code.as_str())).collect();
    let mut indicator_codes = HashSet::new();
    for (i, ind) in f.indicators.iter().enumerate() {
        if !PROGRAMS.contains(&ind.program.as_str()) {
            return Err(c.fail("indicators", i, "program", format!("\"{}\" is not housework or saturday_clinic", ind.program)));
        }
        if ind.code.trim().is_empty() || !indicator_codes.insert(ind.code.as_str()) {
            return Err(c.fail("indicators", i, "code", format!("indicator code \"{}\" is empty or used twice", ind.code)));
        }
        let source_ok = SOURCES.contains(&ind.source.as_str())
            || ind.source.strip_prefix("clinic:").is_some_and(|list| list.split(',').all(|p| clinic_codes.contains(p.trim())));
        if !source_ok {
            return Err(c.fail("indicators", i, "source", format!("\"{}\" is not a known source (manual, applications_received, applications_approved, visits_completed, visit_hours, clinic:<program codes of this file>)", ind.source)));
        }
        let mut periods = HashSet::new();
        for t in &ind.targets {
            let p = calc::parse_period(&t.period).ok_or_else(|| c.fail("indicators", i, "targets", format!("period \"{}\" is not like 2024, 2018.6, 2024Q1 or 2024-01-01~2024-06-30", t.period)))?;
            if t.value < 0 || !periods.insert((p.start, p.end)) {
                return Err(c.fail("indicators", i, "targets", format!("period \"{}\" is negative or listed twice", t.period)));
            }
        }
    }
    for (i, r) in f.reports.iter().enumerate() {
        if !PROGRAMS.contains(&r.program.as_str()) {
            return Err(c.fail("reports", i, "program", format!("\"{}\" is not housework or saturday_clinic", r.program)));
        }
        range(r.decimals.into(), 0, 4).map_err(|m| c.fail("reports", i, "decimals", m))?;
        if r.to < r.from {
            return Err(c.fail("reports", i, "to", "must not be before from".into()));
        }
    }
    for (i, b) in f.budgets.iter().enumerate() {
        if !PROGRAMS.contains(&b.program.as_str()) {
            return Err(c.fail("budgets", i, "program", format!("\"{}\" is not housework or saturday_clinic", b.program)));
        }
        if !crate::results::service::SOURCES.contains(&b.source.as_str()) {
            return Err(c.fail("budgets", i, "source", format!("\"{}\" is not national, provincial, city or other", b.source)));
        }
        range(b.amount_won, 0, i64::MAX).map_err(|m| c.fail("budgets", i, "amount_won", m))?;
    }
    if let Some(r) = &f.retention {
        if let Some((field, key)) = crate::retention::check(r).first() {
            return Err(c.fail_at("retention", field, retention_message(key)));
        }
    }
    Ok(())
}

/// A retention error in both languages: the file is read by people of either.
fn retention_message(key: &str) -> String {
    match crate::i18n::I18n::load() {
        Ok(i18n) => format!("{} / {}", i18n.t(crate::i18n::Lang::Ko, key), i18n.t(crate::i18n::Lang::En, key)),
        Err(_) => key.to_string(),
    }
}

/// Checks a rule version's terms; the error names the term.
pub fn check_terms(t: &Terms) -> Result<(), (&'static str, String)> {
    use crate::applications::rules::EligibleFrom;
    match t.eligible_from {
        EligibleFrom::GestationalWeek(w) => range(w.into(), 0, 42).map_err(|m| ("eligible_from", m))?,
        EligibleFrom::MonthsBeforeDue(m) => range(m.into(), 1, 10).map_err(|m| ("eligible_from", m))?,
        EligibleFrom::Pregnancy => {}
    }
    if let Some(w) = t.loss_after_week {
        range(w.into(), 0, 42).map_err(|m| ("loss_after_week", m))?;
        range(t.loss_service_days.into(), 1, 366).map_err(|m| ("loss_service_days", m))?;
    }
    if t.priority_use != PriorityUse::None && t.priority_groups.is_empty() {
        return Err(("priority_groups", "priority_use needs at least one priority group".into()));
    }
    if let Some(test) = t.income_test {
        range(test.max_percent_of_median.into(), 1, 1000).map_err(|m| ("income_test", m))?;
    }
    range(t.min_days_between_visits.into(), 0, 60).map_err(|m| ("min_days_between_visits", m))?;
    range(t.copay_weekday_won.into(), 0, 1_000_000).map_err(|m| ("copay_weekday_won", m))?;
    range(t.copay_saturday_won.into(), 0, 1_000_000).map_err(|m| ("copay_saturday_won", m))?;
    for (key, list) in [("priority_groups", &t.priority_groups), ("documents", &t.documents), ("excluded_tasks", &t.excluded_tasks)] {
        let mut seen = HashSet::new();
        if let Some(bad) = list.iter().find(|n| n.code.trim().is_empty() || n.name.trim().is_empty() || !seen.insert(n.code.as_str())) {
            return Err((key, format!("\"{}\" needs a code and a name, and codes are unique", bad.code)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_city_file_parses() {
        for (name, text) in SHIPPED {
            if let Err(e) = parse(text) {
                panic!("{name}: {e}");
            }
        }
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        let text = SHIPPED[0].1;
        // A syntax error: toml names the line.
        let broken = text.replacen("format = 1", "format = = 1", 1);
        let e = parse(&broken).unwrap_err();
        assert_eq!(e.line, Some(text.lines().position(|l| l.starts_with("format")).unwrap() + 1), "{e}");
        // An unknown district in the second agency: its districts line.
        let mut f = parse(text).unwrap();
        assert!(f.agencies.len() >= 2, "the Naju file has two agencies");
        let second = text.match_indices("[[agencies]]").nth(1).unwrap().0;
        let districts_at = second + text[second..].find("districts").unwrap();
        let bad = format!("{}districts = [\"99999\"]{}", &text[..districts_at], &text[districts_at + text[districts_at..].find('\n').unwrap()..]);
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.field, "agencies[2].districts");
        assert_eq!(e.line, Some(line_of(&bad, districts_at)), "{e}");
        assert!(e.to_string().contains("99999"));
        // A wrong type names its line too.
        let e = parse(&text.replacen("yearly_capacity = 600", "yearly_capacity = \"many\"", 1)).unwrap_err();
        assert!(e.line.is_some(), "{e}");
        // An unknown key is refused, not ignored.
        assert!(parse(&text.replacen("[city]\n", "[city]\nmayor = \"x\"\n", 1)).is_err());
        f.format = 2;
        assert!(validate(&f, text).is_err());
    }

    #[test]
    fn a_retention_section_is_read_and_a_short_access_log_period_is_refused_in_both_languages() {
        let text = SHIPPED[0].1.replacen("applications_days = 1825", "applications_days = 400", 1).replacen("access_log_days = 730", "access_log_days = 1000", 1);
        let f = parse(&text).unwrap();
        assert_eq!(f.retention.map(|r| (r.applications_days, r.access_log_days)), Some((400, 1000)));
        let short = text.replace("access_log_days = 1000", "access_log_days = 365");
        let e = parse(&short).unwrap_err();
        assert_eq!(e.field, "retention.access_log_days");
        assert_eq!(e.line, Some(short.lines().position(|l| l.starts_with("access_log_days")).unwrap() + 1), "{e}");
        assert!(e.message.contains("2년") && e.message.contains("2 years"), "{e}");
    }
}
