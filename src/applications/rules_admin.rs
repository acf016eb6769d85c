//! Staff edit the rules: every change is a new version with its own
//! effective date; applications keep the version they were decided under.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::rules::{self, District, EligibleFrom, RuleSet, Terms};
use crate::accounts::service::FieldErrors;
use crate::db::schema::rule_sets;
use crate::db::{new_id, write_tx, DbConn};
use crate::error::AppError;
use crate::time::now_utc;

#[derive(Deserialize, Serialize, Default, Clone)]
#[serde(default)]
pub struct RulesInput {
    pub effective_from: String,
    pub region_code: String,
    pub region_name: String,
    /// One district a line: "code name".
    pub districts: String,
    pub min_gestational_week: String,
    pub min_residency_months: String,
    pub visit_count: String,
    pub visit_hours: String,
    pub yearly_capacity: String,
    pub applications_open: String,
    pub note: String,
    /// The other terms (window, priority groups, income test, visit days,
    /// co-pay, excluded tasks, documents) in the city file's TOML form.
    pub terms: String,
}

pub struct ValidRules {
    pub effective_from: NaiveDate,
    pub region_code: String,
    pub region_name: String,
    pub districts: Vec<District>,
    pub min_gestational_week: i32,
    pub min_residency_months: i32,
    pub visit_count: i32,
    pub visit_hours: i32,
    pub yearly_capacity: i32,
    pub applications_open: bool,
    pub note: String,
    pub terms: Terms,
}

fn number(raw: &str, field: &'static str, min: i32, max: i32, errors: &mut FieldErrors) -> i32 {
    match raw.trim().parse::<i32>() {
        Ok(n) if (min..=max).contains(&n) => n,
        _ => {
            errors.push((field, "rules.errors.number_range"));
            0
        }
    }
}

pub fn parse_districts(text: &str) -> Option<Vec<District>> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (code, name) = line.split_once(char::is_whitespace)?;
        let name = name.trim();
        if code.is_empty() || name.is_empty() || out.iter().any(|d: &District| d.code == code) {
            return None;
        }
        out.push(District { code: code.to_string(), name: name.to_string() });
    }
    (!out.is_empty()).then_some(out)
}

pub fn validate(input: &RulesInput) -> Result<ValidRules, FieldErrors> {
    let mut errors = FieldErrors::new();
    let effective_from = NaiveDate::parse_from_str(input.effective_from.trim(), "%Y-%m-%d").ok();
    if effective_from.is_none() {
        errors.push(("effective_from", "applications.errors.date_invalid"));
    }
    if input.region_code.trim().is_empty() {
        errors.push(("region_code", "rules.errors.required"));
    }
    if input.region_name.trim().is_empty() {
        errors.push(("region_name", "rules.errors.required"));
    }
    let districts = parse_districts(&input.districts);
    if districts.is_none() {
        errors.push(("districts", "rules.errors.districts"));
    }
    let mut terms: Option<Terms> = toml::from_str(&input.terms).ok();
    if terms.is_none() {
        errors.push(("terms", "rules.errors.terms"));
    }
    let week = number(&input.min_gestational_week, "min_gestational_week", 0, 42, &mut errors);
    // The week field is the start of the window when the terms start at a week.
    if let Some(t) = terms.as_mut() {
        if matches!(t.eligible_from, EligibleFrom::GestationalWeek(_)) {
            t.eligible_from = EligibleFrom::GestationalWeek(week);
        }
    }
    let v = ValidRules {
        effective_from: effective_from.unwrap_or_default(),
        region_code: input.region_code.trim().to_string(),
        region_name: input.region_name.trim().to_string(),
        districts: districts.unwrap_or_default(),
        min_gestational_week: week,
        min_residency_months: number(&input.min_residency_months, "min_residency_months", 0, 120, &mut errors),
        visit_count: number(&input.visit_count, "visit_count", 0, 50, &mut errors),
        visit_hours: number(&input.visit_hours, "visit_hours", 0, 24, &mut errors),
        yearly_capacity: number(&input.yearly_capacity, "yearly_capacity", 0, 1_000_000, &mut errors),
        applications_open: input.applications_open == "yes",
        note: input.note.trim().chars().take(500).collect(),
        terms: terms.unwrap_or_default(),
    };
    if errors.is_empty() {
        Ok(v)
    } else {
        Err(errors)
    }
}

pub fn input_from(r: &RuleSet, effective_from: NaiveDate) -> RulesInput {
    RulesInput {
        effective_from: effective_from.to_string(),
        region_code: r.region_code.clone(),
        region_name: r.region_name.clone(),
        districts: r.districts.iter().map(|d| format!("{} {}", d.code, d.name)).collect::<Vec<_>>().join("\n"),
        min_gestational_week: r.min_gestational_week.to_string(),
        min_residency_months: r.min_residency_months.to_string(),
        visit_count: r.visit_count.to_string(),
        visit_hours: r.visit_hours.to_string(),
        yearly_capacity: r.yearly_capacity.to_string(),
        applications_open: if r.applications_open { "yes".into() } else { String::new() },
        note: String::new(),
        terms: toml::to_string(&r.terms).unwrap_or_default(),
    }
}

/// Adds the next version of the program's rules.
pub fn create_version(conn: &mut DbConn, program_id: &str, v: &ValidRules, created_by: Option<&str>) -> Result<RuleSet, AppError> {
    let id = write_tx(conn, |conn| insert_version(conn, program_id, v, created_by))?;
    Ok(rules::find(conn, &id)?)
}

/// Inserts the next version inside the caller's transaction; returns its id.
pub fn insert_version(conn: &mut DbConn, program_id: &str, v: &ValidRules, created_by: Option<&str>) -> Result<String, AppError> {
    let id = new_id();
    let last: Option<i32> = rule_sets::table
        .filter(rule_sets::program_id.eq(program_id))
        .select(diesel::dsl::max(rule_sets::version))
        .first(conn)?;
    diesel::insert_into(rule_sets::table)
        .values((
            rule_sets::id.eq(&id),
            rule_sets::program_id.eq(program_id),
            rule_sets::version.eq(last.unwrap_or(0) + 1),
            rule_sets::effective_from.eq(v.effective_from),
            rule_sets::region_code.eq(&v.region_code),
            rule_sets::region_name.eq(&v.region_name),
            rule_sets::districts.eq(serde_json::to_string(&v.districts).unwrap_or_else(|_| "[]".into())),
            rule_sets::min_gestational_week.eq(match v.terms.eligible_from {
                EligibleFrom::GestationalWeek(n) => n,
                _ => 0,
            }),
            rule_sets::min_residency_months.eq(v.min_residency_months),
            rule_sets::visit_count.eq(v.visit_count),
            rule_sets::visit_hours.eq(v.visit_hours),
            rule_sets::yearly_capacity.eq(v.yearly_capacity),
            rule_sets::applications_open.eq(v.applications_open),
            rule_sets::note.eq(&v.note),
            rule_sets::terms.eq(serde_json::to_string(&v.terms).unwrap_or_else(|_| "{}".into())),
            rule_sets::created_by.eq(created_by),
            rule_sets::created_at.eq(now_utc()),
        ))
        .execute(conn)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn districts_are_one_a_line() {
        let ds = parse_districts("46170250 남평읍\n\n46170570  빛가람동 \n").unwrap();
        assert_eq!(ds.len(), 2);
        assert_eq!(ds[1].name, "빛가람동");
        assert!(parse_districts("").is_none());
        assert!(parse_districts("46170250").is_none(), "a code needs a name");
        assert!(parse_districts("1 a\n1 b").is_none(), "codes are unique");
    }
}
