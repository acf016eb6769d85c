//! What the application pages show, prepared for the templates.

use chrono::NaiveDate;
use serde::Serialize;

use super::models::{Application, Document, Event};
use super::rules::{self, Eligibility, Reason, RuleSet};
use crate::i18n::{I18n, Lang};
use crate::time::{format_date, format_datetime};

#[derive(Serialize)]
pub struct ApplicationView {
    pub id: String,
    pub reference: String,
    pub status: String,
    pub applicant_name: String,
    pub birth_date: String,
    pub birth_date_value: String,
    pub phone: String,
    pub email: String,
    pub district_code: String,
    pub district: String,
    pub street_address: String,
    pub due_date: String,
    pub due_date_value: String,
    pub residency_start: String,
    pub residency_start_value: String,
    pub week_today: String,
    pub submitted: String,
    pub decided: String,
    pub decision_reason: String,
    pub info_request: String,
    pub precheck_eligible: Option<bool>,
    pub precheck_reasons: Vec<String>,
    /// Names of the priority groups she declares.
    pub priority_groups: Vec<String>,
    pub income_within_limit: Option<bool>,
    pub income_checked: bool,
    pub loss_on: String,
}

fn date_or_empty(d: Option<NaiveDate>, lang: Lang) -> String {
    d.map(|d| format_date(d, lang)).unwrap_or_default()
}

pub fn reason_text(i18n: &I18n, lang: Lang, r: &Reason) -> String {
    let args: Vec<(&str, String)> = r
        .args
        .iter()
        .map(|(k, v)| {
            let shown = match NaiveDate::parse_from_str(v, "%Y-%m-%d") {
                Ok(d) => format_date(d, lang),
                Err(_) => v.clone(),
            };
            (k.as_str(), shown)
        })
        .collect();
    let refs: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
    i18n.t_with(lang, &r.key, &refs)
}

pub fn eligibility_texts(i18n: &I18n, lang: Lang, e: &Eligibility) -> Vec<String> {
    match e {
        Eligibility::Eligible => vec![],
        Eligibility::NotEligible(reasons) => reasons.iter().map(|r| reason_text(i18n, lang, r)).collect(),
    }
}

pub fn application_view(app: &Application, rules: &RuleSet, i18n: &I18n, lang: Lang, today: NaiveDate) -> ApplicationView {
    let reasons: Vec<Reason> = serde_json::from_str(&app.precheck_reasons).unwrap_or_default();
    ApplicationView {
        id: app.id.clone(),
        reference: app.reference.clone(),
        status: app.status.clone(),
        applicant_name: app.applicant_name.clone(),
        birth_date: date_or_empty(app.birth_date, lang),
        birth_date_value: app.birth_date.map(|d| d.to_string()).unwrap_or_default(),
        phone: app.phone.clone(),
        email: app.email.clone(),
        district_code: app.district_code.clone(),
        district: rules.district_name(&app.district_code).unwrap_or(&app.district_code).to_string(),
        street_address: app.street_address.clone(),
        due_date: date_or_empty(app.due_date, lang),
        due_date_value: app.due_date.map(|d| d.to_string()).unwrap_or_default(),
        residency_start: date_or_empty(app.residency_start, lang),
        residency_start_value: app.residency_start.map(|d| d.to_string()).unwrap_or_default(),
        week_today: app
            .due_date
            .map(|d| {
                let (w, days) = rules::gestational_age(d, today);
                format!("{w}+{days}")
            })
            .unwrap_or_default(),
        submitted: app.submitted_at.map(|t| format_datetime(t, lang)).unwrap_or_default(),
        decided: app.decided_at.map(|t| format_datetime(t, lang)).unwrap_or_default(),
        decision_reason: app.decision_reason.clone().unwrap_or_default(),
        info_request: app.info_request.clone().unwrap_or_default(),
        precheck_eligible: app.precheck_eligible,
        precheck_reasons: reasons.iter().map(|r| reason_text(i18n, lang, r)).collect(),
        priority_groups: serde_json::from_str::<Vec<String>>(&app.priority_groups)
            .unwrap_or_default()
            .iter()
            .filter_map(|code| rules.terms.priority_groups.iter().find(|g| &g.code == code).map(|g| g.label(lang == Lang::En).to_string()))
            .collect(),
        income_within_limit: app.income_within_limit,
        income_checked: app.income_checked_by.is_some(),
        loss_on: date_or_empty(app.pregnancy_loss_on, lang),
    }
}

#[derive(Serialize)]
pub struct DocumentView {
    pub id: String,
    pub kind: String,
    pub review_status: String,
    pub review_note: String,
    pub name: String,
    pub content_type: String,
    pub size_kb: i64,
    pub uploaded: String,
}

pub fn document_views(docs: &[Document], lang: Lang) -> Vec<DocumentView> {
    docs.iter()
        .map(|d| DocumentView {
            id: d.id.clone(),
            kind: d.kind.clone(),
            review_status: d.review_status.clone(),
            review_note: d.review_note.clone(),
            name: d.original_name.clone(),
            content_type: d.content_type.clone(),
            size_kb: (d.size_bytes + 1023) / 1024,
            uploaded: format_datetime(d.uploaded_at, lang),
        })
        .collect()
}

#[derive(Serialize)]
pub struct EventView {
    pub at: String,
    pub action: String,
    pub note: String,
    pub by_staff: bool,
}

pub fn event_views(events: &[Event], applicant_id: &str, lang: Lang) -> Vec<EventView> {
    events
        .iter()
        .map(|e| EventView {
            at: format_datetime(e.at, lang),
            action: e.action.clone(),
            note: e.note.clone(),
            by_staff: e.actor_id.as_deref().is_some_and(|a| a != applicant_id),
        })
        .collect()
}

#[derive(Serialize)]
pub struct RulesView {
    pub version: i32,
    pub effective_from: String,
    pub effective_from_value: String,
    pub region_code: String,
    pub region_name: String,
    pub districts: Vec<rules::District>,
    pub districts_text: String,
    pub min_gestational_week: i32,
    pub min_residency_months: i32,
    pub visit_count: i32,
    pub visit_hours: i32,
    pub yearly_capacity: i32,
    pub applications_open: bool,
    pub note: String,
    pub created: String,
    /// Documents asked for: (code, name), each uploaded separately.
    pub documents: Vec<(String, String)>,
    pub priority_groups: Vec<(String, String)>,
    pub priority_use: rules::PriorityUse,
    pub income_percent: Option<i32>,
    pub income_priority_exempt: bool,
    pub loss_after_week: Option<i32>,
    pub excluded_tasks: Vec<String>,
    pub copay_weekday: i32,
    pub copay_saturday: i32,
}

pub fn rules_view(r: &RuleSet, lang: Lang) -> RulesView {
    RulesView {
        version: r.version,
        effective_from: format_date(r.effective_from, lang),
        effective_from_value: r.effective_from.to_string(),
        region_code: r.region_code.clone(),
        region_name: r.region_name.clone(),
        districts: r.districts.clone(),
        districts_text: r.districts.iter().map(|d| format!("{} {}", d.code, d.name)).collect::<Vec<_>>().join("\n"),
        min_gestational_week: r.min_gestational_week,
        min_residency_months: r.min_residency_months,
        visit_count: r.visit_count,
        visit_hours: r.visit_hours,
        yearly_capacity: r.yearly_capacity,
        applications_open: r.applications_open,
        note: r.note.clone(),
        created: format_datetime(r.created_at, lang),
        documents: {
            let en = lang == Lang::En;
            let named: Vec<(String, String)> = r.terms.documents.iter().map(|d| (d.code.clone(), d.label(en).to_string())).collect();
            if named.is_empty() {
                vec![(crate::applications::service::DEFAULT_DOCUMENT.to_string(), String::new())]
            } else {
                named
            }
        },
        priority_groups: r.terms.priority_groups.iter().map(|g| (g.code.clone(), g.label(lang == Lang::En).to_string())).collect(),
        priority_use: r.terms.priority_use,
        income_percent: r.terms.income_test.map(|t| t.max_percent_of_median),
        income_priority_exempt: r.terms.income_test.is_some_and(|t| t.priority_groups_exempt),
        loss_after_week: r.terms.loss_after_week,
        excluded_tasks: r.terms.excluded_tasks.iter().map(|t| t.label(lang == Lang::En).to_string()).collect(),
        copay_weekday: r.terms.copay_weekday_won,
        copay_saturday: r.terms.copay_saturday_won,
    }
}
