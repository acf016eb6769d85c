//! Eligibility rules as dated data, and the one pure function that applies
//! them: `check(rules, facts, today)`.

use chrono::{Datelike, Months, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::rule_sets;
use crate::db::DbConn;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct District {
    pub code: String,
    pub name: String,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = rule_sets)]
pub struct RuleSetRow {
    pub id: String,
    pub program_id: String,
    pub version: i32,
    pub effective_from: NaiveDate,
    pub region_code: String,
    pub region_name: String,
    pub districts: String,
    pub min_gestational_week: i32,
    pub min_residency_months: i32,
    pub visit_count: i32,
    pub visit_hours: i32,
    pub yearly_capacity: i32,
    pub applications_open: bool,
    pub note: String,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub terms: String,
}

/// A name in both languages (a priority group, a document, an excluded task).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct Named {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
}

impl Named {
    pub fn label(&self, en: bool) -> &str {
        if en && !self.name_en.is_empty() {
            &self.name_en
        } else {
            &self.name
        }
    }
}

/// When the eligibility window opens.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EligibleFrom {
    /// From the first day of gestational week N (Naju: 21).
    GestationalWeek(i32),
    /// From the start of pregnancy (Dongjak-gu).
    Pregnancy,
    /// N months before the due date ("the last 2 months before birth").
    MonthsBeforeDue(i32),
}

impl Default for EligibleFrom {
    fn default() -> Self {
        EligibleFrom::GestationalWeek(21)
    }
}

/// When service ends: on the due date, or at the birth (which may come later).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum EligibleUntil {
    DueDate,
    #[default]
    Birth,
}

/// What priority groups do: nothing, restrict eligibility to them, or order
/// the waiting list (members first).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum PriorityUse {
    #[default]
    None,
    Restrict,
    Order,
}

/// Household income declared by the resident and checked by staff.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IncomeTest {
    /// At most this % of the median income (기준 중위소득).
    pub max_percent_of_median: i32,
    /// Members of a priority group need not meet it.
    #[serde(default)]
    pub priority_groups_exempt: bool,
}

/// Days a visit may fall on.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum VisitDays {
    Weekdays,
    #[default]
    WeekdaysAndSaturday,
    AnyDay,
}

/// The terms of a rule version beyond its columns: every variant of the
/// program is data here (stored as JSON in `rule_sets.terms`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Terms {
    pub eligible_from: EligibleFrom,
    pub eligible_until: EligibleUntil,
    /// A pregnancy lost at or after this week is still served.
    pub loss_after_week: Option<i32>,
    /// How long after such a loss visits can still be booked (days).
    pub loss_service_days: i32,
    pub priority_groups: Vec<Named>,
    pub priority_use: PriorityUse,
    pub income_test: Option<IncomeTest>,
    pub visit_days: VisitDays,
    /// At least this many days between two visits (7 = weekly).
    pub min_days_between_visits: i32,
    pub copay_weekday_won: i32,
    pub copay_saturday_won: i32,
    /// Tasks the helper does not do, shown to the resident before booking.
    pub excluded_tasks: Vec<Named>,
    /// Documents the applicant uploads, each separately.
    pub documents: Vec<Named>,
    /// The resident picks her agency among those serving her district.
    pub resident_chooses_agency: bool,
}

/// A rule set as the rules need it.
#[derive(Clone, Debug, Serialize)]
pub struct RuleSet {
    pub id: String,
    pub program_id: String,
    pub version: i32,
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
    pub created_at: NaiveDateTime,
    pub terms: Terms,
}

impl From<RuleSetRow> for RuleSet {
    fn from(r: RuleSetRow) -> RuleSet {
        RuleSet {
            districts: serde_json::from_str(&r.districts).unwrap_or_default(),
            terms: serde_json::from_str(&r.terms).unwrap_or_default(),
            id: r.id,
            program_id: r.program_id,
            version: r.version,
            effective_from: r.effective_from,
            region_code: r.region_code,
            region_name: r.region_name,
            min_gestational_week: r.min_gestational_week,
            min_residency_months: r.min_residency_months,
            visit_count: r.visit_count,
            visit_hours: r.visit_hours,
            yearly_capacity: r.yearly_capacity,
            applications_open: r.applications_open,
            note: r.note,
            created_at: r.created_at,
        }
    }
}

impl RuleSet {
    pub fn district_name(&self, code: &str) -> Option<&str> {
        self.districts.iter().find(|d| d.code == code).map(|d| d.name.as_str())
    }

    /// The co-pay of a visit on `day` (Saturday and Sunday at the weekend rate).
    pub fn copay_on(&self, day: NaiveDate) -> i32 {
        if day.weekday().num_days_from_monday() >= 5 {
            self.terms.copay_saturday_won
        } else {
            self.terms.copay_weekday_won
        }
    }

    /// Whether visits may fall on `day`'s weekday.
    pub fn visit_day_allowed(&self, day: NaiveDate) -> bool {
        let wd = day.weekday().num_days_from_monday();
        match self.terms.visit_days {
            VisitDays::Weekdays => wd < 5,
            VisitDays::WeekdaysAndSaturday => wd < 6,
            VisitDays::AnyDay => true,
        }
    }

    /// The last day a visit can be booked for a pregnancy due on `due`, or
    /// lost on `loss`.
    pub fn service_ends(&self, due: NaiveDate, loss: Option<NaiveDate>) -> NaiveDate {
        match (loss, self.terms.eligible_until) {
            (Some(l), _) => l + chrono::Duration::days(self.terms.loss_service_days.max(0) as i64),
            (None, EligibleUntil::DueDate) => due,
            // Until the birth: a pregnancy may run to 42 weeks.
            (None, EligibleUntil::Birth) => due + chrono::Duration::days(14),
        }
    }

    /// The first day of the eligibility window.
    pub fn window_opens(&self, due: NaiveDate) -> NaiveDate {
        match self.terms.eligible_from {
            EligibleFrom::GestationalWeek(n) => week_starts_on(due, n),
            EligibleFrom::Pregnancy => week_starts_on(due, 0),
            EligibleFrom::MonthsBeforeDue(m) => due.checked_sub_months(Months::new(m.max(0) as u32)).unwrap_or(due),
        }
    }

    pub fn in_priority_group(&self, declared: &[String]) -> bool {
        declared.iter().any(|c| self.terms.priority_groups.iter().any(|g| &g.code == c))
    }
}

/// The rule set in force on `date`: the latest effective date not after it,
/// and of those the highest version.
pub fn in_force(conn: &mut DbConn, program_id: &str, date: NaiveDate) -> QueryResult<Option<RuleSet>> {
    rule_sets::table
        .filter(rule_sets::program_id.eq(program_id))
        .filter(rule_sets::effective_from.le(date))
        .order((rule_sets::effective_from.desc(), rule_sets::version.desc()))
        .select(RuleSetRow::as_select())
        .first(conn)
        .optional()
        .map(|r| r.map(RuleSet::from))
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<RuleSet> {
    rule_sets::table.find(id).select(RuleSetRow::as_select()).first(conn).map(RuleSet::from)
}

pub fn list(conn: &mut DbConn, program_id: &str) -> QueryResult<Vec<RuleSet>> {
    rule_sets::table
        .filter(rule_sets::program_id.eq(program_id))
        .order(rule_sets::version.desc())
        .select(RuleSetRow::as_select())
        .load(conn)
        .map(|rows| rows.into_iter().map(RuleSet::from).collect())
}

/// What the applicant declares.
#[derive(Clone, Debug)]
pub struct Facts {
    pub district_code: String,
    pub due_date: NaiveDate,
    pub residency_start: Option<NaiveDate>,
    pub birth_recorded_on: Option<NaiveDate>,
    /// A pregnancy lost (유산·사산) on this day.
    pub pregnancy_loss_on: Option<NaiveDate>,
    /// Codes of the priority groups she declares.
    pub priority_groups: Vec<String>,
    /// Her declaration that household income is within the test's limit.
    pub income_within_limit: Option<bool>,
}

/// Why someone is not (yet) eligible: a catalog key under `rules.reasons` and
/// its placeholders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub key: String,
    pub args: Vec<(String, String)>,
}

impl Reason {
    fn new(key: &str) -> Reason {
        Reason { key: format!("rules.reasons.{key}"), args: vec![] }
    }

    fn with(mut self, name: &str, value: String) -> Reason {
        self.args.push((name.to_string(), value));
        self
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Eligibility {
    Eligible,
    NotEligible(Vec<Reason>),
}

pub const PREGNANCY_DAYS: i64 = 280;

/// Gestational age on `on` from the due date (EDD = LMP + 280 days), as
/// (weeks, days). Negative before the LMP.
pub fn gestational_age(due_date: NaiveDate, on: NaiveDate) -> (i64, i64) {
    let lmp = due_date - chrono::Duration::days(PREGNANCY_DAYS);
    let days = (on - lmp).num_days();
    (days.div_euclid(7), days.rem_euclid(7))
}

/// The first day of gestational week `week` (week+0).
pub fn week_starts_on(due_date: NaiveDate, week: i32) -> NaiveDate {
    due_date - chrono::Duration::days(PREGNANCY_DAYS) + chrono::Duration::days(7 * week as i64)
}

/// A due date that cannot be right: already past, or more than 42 weeks away.
pub fn implausible_due_date(due_date: NaiveDate, today: NaiveDate) -> Option<&'static str> {
    if due_date < today {
        Some("rules.reasons.due_date_past")
    } else if due_date > today + chrono::Duration::weeks(42) {
        Some("rules.reasons.due_date_too_far")
    } else {
        None
    }
}

/// Applies a rule set to the declared facts on `today`.
pub fn check(rules: &RuleSet, facts: &Facts, today: NaiveDate) -> Eligibility {
    let mut reasons = Vec::new();
    if !rules.applications_open {
        reasons.push(Reason::new("closed"));
    }
    if facts.birth_recorded_on.is_some() {
        reasons.push(Reason::new("pregnancy_ended"));
    } else if let Some(loss) = facts.pregnancy_loss_on {
        // A loss is covered only when the rules say so, from its week on.
        let (loss_week, _) = gestational_age(facts.due_date, loss);
        match rules.terms.loss_after_week {
            Some(week) if loss_week >= week as i64 && loss <= today && today <= rules.service_ends(facts.due_date, Some(loss)) => {}
            Some(week) => reasons.push(Reason::new("loss_not_covered").with("week", week.to_string())),
            None => reasons.push(Reason::new("pregnancy_ended")),
        }
    } else if let Some(key) = implausible_due_date(facts.due_date, today) {
        reasons.push(Reason { key: key.to_string(), args: vec![] });
    } else {
        let opens = rules.window_opens(facts.due_date);
        if today < opens {
            let (weeks, days) = gestational_age(facts.due_date, today);
            let reason = match rules.terms.eligible_from {
                EligibleFrom::MonthsBeforeDue(m) => Reason::new("too_early_months").with("months", m.to_string()),
                EligibleFrom::GestationalWeek(n) => Reason::new("too_early").with("min_week", n.to_string()),
                EligibleFrom::Pregnancy => Reason::new("too_early").with("min_week", "0".to_string()),
            };
            reasons.push(reason.with("week", format!("{weeks}+{days}")).with("from", opens.to_string()));
        }
    }
    let prioritised = rules.in_priority_group(&facts.priority_groups);
    if rules.terms.priority_use == PriorityUse::Restrict && !prioritised {
        let groups = rules.terms.priority_groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join(", ");
        reasons.push(Reason::new("priority_group_required").with("groups", groups));
    }
    if let Some(test) = rules.terms.income_test {
        let exempt = test.priority_groups_exempt && prioritised;
        if !exempt && facts.income_within_limit != Some(true) {
            reasons.push(Reason::new("income_above_limit").with("percent", test.max_percent_of_median.to_string()));
        }
    }
    if rules.district_name(&facts.district_code).is_none() {
        reasons.push(Reason::new("outside_region").with("region", rules.region_name.clone()));
    }
    if rules.min_residency_months > 0 {
        let needed = Months::new(rules.min_residency_months as u32);
        let long_enough = facts
            .residency_start
            .and_then(|start| start.checked_add_months(needed))
            .is_some_and(|enough| enough <= today);
        if !long_enough {
            reasons.push(Reason::new("residency_too_short").with("months", rules.min_residency_months.to_string()));
        }
    }
    if reasons.is_empty() {
        Eligibility::Eligible
    } else {
        Eligibility::NotEligible(reasons)
    }
}

/// The year whose capacity an application submitted on `date` counts against.
pub fn capacity_year(date: NaiveDate) -> i32 {
    date.year()
}

/// Naju's 1 eup, 12 myeon and 7 dong (행정구역), for the demo and first set-up.
pub fn naju_districts() -> Vec<District> {
    let names = [
        ("46170250", "남평읍"),
        ("46170310", "세지면"),
        ("46170320", "왕곡면"),
        ("46170330", "반남면"),
        ("46170340", "공산면"),
        ("46170350", "동강면"),
        ("46170360", "다시면"),
        ("46170370", "문평면"),
        ("46170380", "노안면"),
        ("46170390", "금천면"),
        ("46170400", "산포면"),
        ("46170420", "다도면"),
        ("46170430", "봉황면"),
        ("46170510", "송월동"),
        ("46170520", "영강동"),
        ("46170530", "금남동"),
        ("46170540", "성북동"),
        ("46170550", "영산동"),
        ("46170560", "이창동"),
        ("46170570", "빛가람동"),
    ];
    names.iter().map(|(c, n)| District { code: c.to_string(), name: n.to_string() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn naju(min_residency_months: i32, open: bool) -> RuleSet {
        RuleSet {
            id: "r".into(),
            program_id: "p".into(),
            version: 1,
            effective_from: d(2024, 1, 1),
            region_code: "46170".into(),
            region_name: "나주시".into(),
            districts: naju_districts(),
            min_gestational_week: 21,
            min_residency_months,
            visit_count: 4,
            visit_hours: 4,
            yearly_capacity: 600,
            applications_open: open,
            note: String::new(),
            created_at: d(2024, 1, 1).and_hms_opt(0, 0, 0).unwrap(),
            terms: Terms::default(),
        }
    }

    fn facts(due: NaiveDate) -> Facts {
        Facts {
            district_code: "46170570".into(),
            due_date: due,
            residency_start: Some(d(2020, 1, 1)),
            birth_recorded_on: None,
            pregnancy_loss_on: None,
            priority_groups: vec![],
            income_within_limit: None,
        }
    }

    fn keys(e: Eligibility) -> Vec<String> {
        match e {
            Eligibility::NotEligible(r) => r.into_iter().map(|r| r.key).collect(),
            Eligibility::Eligible => vec![],
        }
    }

    fn group(code: &str) -> Named {
        Named { code: code.into(), name: code.into(), name_en: String::new() }
    }

    #[test]
    fn dongjak_serves_from_pregnancy_and_a_loss_from_week_16() {
        let today = d(2026, 11, 24);
        let mut r = naju(0, true);
        r.terms.eligible_from = EligibleFrom::Pregnancy;
        r.terms.eligible_until = EligibleUntil::DueDate;
        r.terms.loss_after_week = Some(16);
        r.terms.loss_service_days = 60;
        // Week 5: eligible from pregnancy, not under Naju's week 21.
        let due = today + chrono::Duration::days(280 - 35);
        assert_eq!(check(&r, &facts(due), today), Eligibility::Eligible);
        assert_eq!(keys(check(&naju(0, true), &facts(due), today)), vec!["rules.reasons.too_early"]);
        // A loss at 16+0 is covered, at 15+6 it is not.
        let lmp = today - chrono::Duration::days(120);
        let due = lmp + chrono::Duration::days(280);
        let mut f = facts(due);
        f.pregnancy_loss_on = Some(lmp + chrono::Duration::days(16 * 7));
        assert_eq!(check(&r, &f, today), Eligibility::Eligible);
        f.pregnancy_loss_on = Some(lmp + chrono::Duration::days(16 * 7 - 1));
        assert_eq!(keys(check(&r, &f, today)), vec!["rules.reasons.loss_not_covered"]);
        // ... and only for loss_service_days after it.
        f.pregnancy_loss_on = Some(today - chrono::Duration::days(61));
        assert_eq!(keys(check(&r, &f, today)), vec!["rules.reasons.loss_not_covered"]);
        // Without a loss rule a loss ends eligibility.
        f.pregnancy_loss_on = Some(lmp + chrono::Duration::days(16 * 7));
        assert_eq!(keys(check(&naju(0, true), &f, today)), vec!["rules.reasons.pregnancy_ended"]);
        // Service ends on the due date, not after.
        assert_eq!(r.service_ends(due, None), due);
        assert_eq!(naju(0, true).service_ends(due, None), due + chrono::Duration::days(14));
    }

    #[test]
    fn the_last_two_months_before_the_due_date() {
        let today = d(2026, 11, 24);
        let mut r = naju(0, true);
        r.terms.eligible_from = EligibleFrom::MonthsBeforeDue(2);
        assert_eq!(check(&r, &facts(d(2027, 1, 24)), today), Eligibility::Eligible, "exactly 2 months");
        match check(&r, &facts(d(2027, 1, 25)), today) {
            Eligibility::NotEligible(reasons) => {
                assert_eq!(reasons[0].key, "rules.reasons.too_early_months");
                assert!(reasons[0].args.contains(&("from".into(), "2026-11-25".into())));
            }
            Eligibility::Eligible => panic!("one day early must not be eligible"),
        }
    }

    #[test]
    fn priority_groups_restrict_or_exempt_from_the_income_test() {
        let today = d(2026, 11, 24);
        let due = today + chrono::Duration::days(30);
        let mut r = naju(0, true);
        r.terms.priority_groups = vec![group("high_risk"), group("multiple")];
        r.terms.priority_use = PriorityUse::Restrict;
        let mut f = facts(due);
        assert_eq!(keys(check(&r, &f, today)), vec!["rules.reasons.priority_group_required"]);
        f.priority_groups = vec!["unknown".into()];
        assert_eq!(keys(check(&r, &f, today)), vec!["rules.reasons.priority_group_required"]);
        f.priority_groups = vec!["multiple".into()];
        assert_eq!(check(&r, &f, today), Eligibility::Eligible);
        // Ordering the waiting list does not restrict.
        r.terms.priority_use = PriorityUse::Order;
        assert_eq!(check(&r, &facts(due), today), Eligibility::Eligible);
        // Income test: 150 % of the median, priority groups exempt.
        r.terms.priority_use = PriorityUse::None;
        r.terms.income_test = Some(IncomeTest { max_percent_of_median: 150, priority_groups_exempt: true });
        let mut f = facts(due);
        assert_eq!(keys(check(&r, &f, today)), vec!["rules.reasons.income_above_limit"], "not declared");
        f.income_within_limit = Some(false);
        assert_eq!(keys(check(&r, &f, today)), vec!["rules.reasons.income_above_limit"]);
        f.income_within_limit = Some(true);
        assert_eq!(check(&r, &f, today), Eligibility::Eligible);
        f.income_within_limit = Some(false);
        f.priority_groups = vec!["high_risk".into()];
        assert_eq!(check(&r, &f, today), Eligibility::Eligible, "priority groups are exempt");
        r.terms.income_test = Some(IncomeTest { max_percent_of_median: 150, priority_groups_exempt: false });
        assert_eq!(keys(check(&r, &f, today)), vec!["rules.reasons.income_above_limit"]);
    }

    #[test]
    fn visit_days_and_copay_follow_the_day_type() {
        let mut r = naju(0, true);
        let (fri, sat, sun) = (d(2026, 11, 27), d(2026, 11, 28), d(2026, 11, 29));
        assert!(r.visit_day_allowed(fri) && r.visit_day_allowed(sat) && !r.visit_day_allowed(sun));
        r.terms.visit_days = VisitDays::Weekdays;
        assert!(r.visit_day_allowed(fri) && !r.visit_day_allowed(sat));
        r.terms.copay_weekday_won = 7000;
        r.terms.copay_saturday_won = 8000;
        assert_eq!((r.copay_on(fri), r.copay_on(sat), r.copay_on(sun)), (7000, 8000, 8000));
    }

    #[test]
    fn terms_of_old_versions_read_with_defaults() {
        let t: Terms = serde_json::from_str(r#"{"eligible_from":{"gestational_week":21}}"#).unwrap();
        assert_eq!(t.eligible_from, EligibleFrom::GestationalWeek(21));
        assert_eq!(t.eligible_until, EligibleUntil::Birth);
        assert!(serde_json::from_str::<Terms>(r#"{"eligible_frum":1}"#).is_err(), "unknown keys are refused");
    }

    #[test]
    fn gestational_age_counts_from_the_due_date() {
        let due = d(2027, 3, 1);
        let lmp = due - chrono::Duration::days(280);
        assert_eq!(gestational_age(due, lmp), (0, 0));
        assert_eq!(gestational_age(due, lmp + chrono::Duration::days(146)), (20, 6));
        assert_eq!(gestational_age(due, lmp + chrono::Duration::days(147)), (21, 0));
        assert_eq!(gestational_age(due, due), (40, 0));
        assert_eq!(week_starts_on(due, 21), lmp + chrono::Duration::days(147));
    }

    #[test]
    fn week_20_plus_6_is_not_eligible_and_21_plus_0_is() {
        let today = d(2026, 11, 24);
        // Due date such that today is exactly 21+0: LMP = today - 147 days.
        let due_at_21_0 = today - chrono::Duration::days(147) + chrono::Duration::days(280);
        assert_eq!(check(&naju(0, true), &facts(due_at_21_0), today), Eligibility::Eligible);
        let due_at_20_6 = due_at_21_0 + chrono::Duration::days(1);
        match check(&naju(0, true), &facts(due_at_20_6), today) {
            Eligibility::NotEligible(r) => {
                assert_eq!(r.len(), 1);
                assert_eq!(r[0].key, "rules.reasons.too_early");
                assert!(r[0].args.contains(&("week".into(), "20+6".into())));
                assert!(r[0].args.contains(&("from".into(), (today + chrono::Duration::days(1)).to_string())));
            }
            other => panic!("20+6 must not be eligible: {other:?}"),
        }
    }

    #[test]
    fn implausible_due_dates_are_rejected() {
        let today = d(2026, 11, 24);
        assert_eq!(implausible_due_date(today, today), None, "due today is plausible");
        assert_eq!(implausible_due_date(today - chrono::Duration::days(1), today), Some("rules.reasons.due_date_past"));
        assert_eq!(implausible_due_date(today + chrono::Duration::weeks(42), today), None);
        assert_eq!(
            implausible_due_date(today + chrono::Duration::weeks(42) + chrono::Duration::days(1), today),
            Some("rules.reasons.due_date_too_far")
        );
        let keys = |e: Eligibility| match e {
            Eligibility::NotEligible(r) => r.into_iter().map(|r| r.key).collect::<Vec<_>>(),
            Eligibility::Eligible => vec![],
        };
        assert_eq!(keys(check(&naju(0, true), &facts(today - chrono::Duration::days(3)), today)), vec!["rules.reasons.due_date_past"]);
    }

    #[test]
    fn a_recorded_birth_ends_eligibility() {
        let today = d(2026, 11, 24);
        let mut f = facts(today + chrono::Duration::days(30));
        assert_eq!(check(&naju(0, true), &f, today), Eligibility::Eligible);
        f.birth_recorded_on = Some(today);
        assert!(matches!(check(&naju(0, true), &f, today), Eligibility::NotEligible(r) if r[0].key == "rules.reasons.pregnancy_ended"));
    }

    #[test]
    fn residency_period_applies_only_when_the_rules_ask_for_it() {
        // Naju until 2023-03-31: six months of residence were required.
        let today = d(2023, 3, 15);
        let mut f = facts(today + chrono::Duration::days(60));
        f.residency_start = Some(d(2022, 9, 15));
        assert_eq!(check(&naju(6, true), &f, today), Eligibility::Eligible, "exactly 6 months");
        f.residency_start = Some(d(2022, 9, 16));
        assert!(matches!(check(&naju(6, true), &f, today), Eligibility::NotEligible(r) if r[0].key == "rules.reasons.residency_too_short"));
        f.residency_start = None;
        assert!(matches!(check(&naju(6, true), &f, today), Eligibility::NotEligible(_)));
        // Since 2023-04-01 there is no residence period.
        assert_eq!(check(&naju(0, true), &f, today), Eligibility::Eligible);
    }

    #[test]
    fn districts_outside_the_city_and_closed_intake_are_reasons() {
        let today = d(2026, 11, 24);
        let mut f = facts(today + chrono::Duration::days(60));
        f.district_code = "11110".into();
        match check(&naju(0, false), &f, today) {
            Eligibility::NotEligible(r) => {
                let keys: Vec<_> = r.iter().map(|r| r.key.as_str()).collect();
                assert_eq!(keys, vec!["rules.reasons.closed", "rules.reasons.outside_region"]);
            }
            Eligibility::Eligible => panic!("must not be eligible"),
        }
    }

    #[test]
    fn naju_has_one_eup_twelve_myeon_seven_dong() {
        let ds = naju_districts();
        assert_eq!(ds.iter().filter(|d| d.name.ends_with('읍')).count(), 1);
        assert_eq!(ds.iter().filter(|d| d.name.ends_with('면')).count(), 12);
        assert_eq!(ds.iter().filter(|d| d.name.ends_with('동')).count(), 7);
    }
}
