//! What the API shows: serde structs of their own, so no database row (and no
//! field a role may not see) leaks into a response by accident.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::applications::models::Application;
use crate::clinic::models::{Booking, ClinicProgram, ClinicSession, ClinicSlot};
use crate::i18n::Lang;
use crate::results::service as results;
use crate::visits::models::{Slot, Visit};
use crate::visits::rules::hhmm;

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

fn split_tasks(tasks: &str) -> Vec<String> {
    tasks.split(',').filter(|t| !t.is_empty()).map(str::to_string).collect()
}

#[derive(Serialize, ToSchema)]
pub struct ProgramDto {
    #[schema(example = "housework")]
    pub code: String,
    pub name: String,
    pub summary: String,
}

impl From<crate::programs::ProgramView> for ProgramDto {
    fn from(p: crate::programs::ProgramView) -> Self {
        ProgramDto { code: p.code, name: p.name, summary: p.summary }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ClinicSlotDto {
    pub id: String,
    pub program_code: String,
    pub program_name: String,
    /// Local time (Asia/Seoul), HH:MM.
    #[schema(example = "09:30")]
    pub start: String,
    pub end: String,
    pub capacity: i32,
    pub left: i32,
}

#[derive(Serialize, ToSchema)]
pub struct ClinicSessionDto {
    pub id: String,
    pub day: NaiveDate,
    pub start: String,
    pub end: String,
    /// open or cancelled
    pub status: String,
    pub slots: Vec<ClinicSlotDto>,
}

impl ClinicSessionDto {
    pub fn new(s: ClinicSession, slots: Vec<ClinicSlot>, programs: &[ClinicProgram], lang: Lang) -> Self {
        let slots = slots
            .into_iter()
            .filter_map(|slot| {
                let p = programs.iter().find(|p| p.id == slot.program_id)?;
                Some(ClinicSlotDto {
                    id: slot.id,
                    program_code: p.code.clone(),
                    program_name: p.name(lang).to_string(),
                    start: hhmm(slot.start_minute),
                    end: hhmm(slot.end_minute),
                    capacity: slot.capacity,
                    left: (slot.capacity - slot.booked).max(0),
                })
            })
            .collect();
        ClinicSessionDto { id: s.id, day: s.day, start: hhmm(s.start_minute), end: hhmm(s.end_minute), status: s.status, slots }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ApplicationDto {
    pub id: String,
    pub reference: String,
    pub program_id: String,
    /// draft, submitted, info_requested, approved, waitlisted, rejected, withdrawn, …
    pub status: String,
    pub due_date: Option<NaiveDate>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<Application> for ApplicationDto {
    fn from(a: Application) -> Self {
        ApplicationDto {
            id: a.id,
            reference: a.reference,
            program_id: a.program_id,
            status: a.status,
            due_date: a.due_date,
            submitted_at: a.submitted_at.map(utc),
            decided_at: a.decided_at.map(utc),
            created_at: utc(a.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct VisitDto {
    pub id: String,
    pub application_id: String,
    pub day: NaiveDate,
    /// Local time (Asia/Seoul), HH:MM.
    #[schema(example = "09:00")]
    pub start: String,
    pub hours: i32,
    /// requested, confirmed, declined, completed, no_show, cancelled
    pub status: String,
    pub tasks: Vec<String>,
    pub notes: String,
    pub helper_name: Option<String>,
    pub decline_reason: Option<String>,
    pub copay_won: i32,
    pub created_at: DateTime<Utc>,
}

impl From<Visit> for VisitDto {
    fn from(v: Visit) -> Self {
        VisitDto {
            tasks: split_tasks(&v.tasks),
            id: v.id,
            application_id: v.application_id,
            day: v.day,
            start: hhmm(v.start_minute),
            hours: v.hours,
            status: v.status,
            notes: v.notes,
            helper_name: v.helper_name,
            decline_reason: v.decline_reason,
            copay_won: v.copay_won,
            created_at: utc(v.created_at),
        }
    }
}

/// A visit's status, as a filter.
#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum VisitStatus {
    Requested,
    Confirmed,
    Declined,
    Completed,
    NoShow,
    Cancelled,
}

impl VisitStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VisitStatus::Requested => "requested",
            VisitStatus::Confirmed => "confirmed",
            VisitStatus::Declined => "declined",
            VisitStatus::Completed => "completed",
            VisitStatus::NoShow => "no_show",
            VisitStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct VisitSlotDto {
    pub id: String,
    pub day: NaiveDate,
    pub start: String,
    pub capacity: i32,
    pub left: i32,
}

impl From<Slot> for VisitSlotDto {
    fn from(s: Slot) -> Self {
        VisitSlotDto { id: s.id, day: s.day, start: hhmm(s.start_minute), capacity: s.capacity, left: (s.capacity - s.booked).max(0) }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ClinicBookingDto {
    pub id: String,
    pub session_id: String,
    pub slot_id: String,
    pub program_id: String,
    pub child_id: Option<String>,
    pub due_date: Option<NaiveDate>,
    pub seats: i32,
    /// booked, waitlisted, cancelled, attended, no_show, session_cancelled
    pub status: String,
    pub created_at: DateTime<Utc>,
}

impl From<Booking> for ClinicBookingDto {
    fn from(b: Booking) -> Self {
        ClinicBookingDto {
            id: b.id,
            session_id: b.session_id,
            slot_id: b.slot_id,
            program_id: b.program_id,
            child_id: b.child_id,
            due_date: b.due_date,
            seats: b.seats,
            status: b.status,
            created_at: utc(b.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct HelperDto {
    pub id: String,
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
pub struct BookVisitRequest {
    pub slot_id: String,
    /// Any of cleaning, laundry, tidying.
    #[serde(default)]
    pub tasks: Vec<String>,
    /// At most 1,000 characters.
    #[serde(default)]
    pub notes: String,
}

#[derive(Serialize, ToSchema)]
pub struct CancelledVisit {
    pub visit: VisitDto,
    /// Cancelled after the cut-off (it may count against her quota).
    pub late: bool,
}

#[derive(Deserialize, ToSchema)]
pub struct BookClinicRequest {
    pub slot_id: String,
    /// For infant programs: which of her children comes.
    #[serde(default)]
    pub child_id: Option<String>,
    /// For prenatal programs.
    #[serde(default)]
    pub due_date: Option<NaiveDate>,
    /// A second seat for a partner, where the program offers one.
    #[serde(default)]
    pub with_partner: bool,
    /// Join the waiting list when the slot is full.
    #[serde(default)]
    pub join_waitlist: bool,
}

#[derive(Deserialize, ToSchema)]
pub struct ConfirmVisitRequest {
    /// A helper of the agency's roster (GET /api/v1/agency/helpers).
    pub helper_id: String,
}

#[derive(Deserialize, ToSchema)]
pub struct CompleteVisitRequest {
    /// Local time HH:MM.
    #[schema(example = "09:05", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub actual_start: String,
    #[schema(example = "12:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub actual_end: String,
    #[serde(default)]
    pub tasks_done: String,
}

#[derive(Serialize, ToSchema)]
pub struct ReportRowDto {
    pub code: String,
    pub name: String,
    pub unit: String,
    pub target: i64,
    pub actual: i64,
    pub cum_target: i64,
    pub cum_actual: i64,
    /// Achievement rate in percent, capped at 100.
    pub rate: Option<f64>,
    pub rate_text: String,
    pub progress: Option<f64>,
    pub progress_text: String,
}

#[derive(Serialize, ToSchema)]
pub struct OutsideFigureDto {
    pub indicator: String,
    pub period: String,
    pub value: i64,
}

#[derive(Serialize, ToSchema)]
pub struct BudgetSourceDto {
    pub source: String,
    pub per_year: Vec<i64>,
    pub total: i64,
}

#[derive(Serialize, ToSchema)]
pub struct BudgetDto {
    pub years: Vec<i32>,
    pub sources: Vec<BudgetSourceDto>,
    pub total: Vec<i64>,
    pub total_sum: i64,
    pub executed: Vec<i64>,
    pub executed_sum: i64,
    pub rate: Vec<String>,
    pub rate_sum: String,
}

/// The results report (성과 보고), as the staff dashboard and its JSON export show it.
#[derive(Serialize, ToSchema)]
pub struct ReportDto {
    pub program_code: String,
    pub program_name: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub decimals: i32,
    pub rows: Vec<ReportRowDto>,
    pub overall: Option<f64>,
    pub overall_text: String,
    pub progress_year: Option<i32>,
    pub quarter_labels: Vec<String>,
    /// Per indicator (same order as rows): actual per quarter.
    pub quarters: Vec<Vec<i64>>,
    pub span_labels: Vec<String>,
    pub spans: Vec<Vec<Option<i64>>>,
    pub outside: Vec<OutsideFigureDto>,
    pub budget: BudgetDto,
}

impl From<results::Report> for ReportDto {
    fn from(r: results::Report) -> Self {
        let b = r.budget;
        ReportDto {
            program_code: r.program_code,
            program_name: r.program_name,
            from: r.from,
            to: r.to,
            decimals: r.decimals,
            rows: r
                .rows
                .into_iter()
                .map(|x| ReportRowDto {
                    code: x.code,
                    name: x.name,
                    unit: x.unit,
                    target: x.target,
                    actual: x.actual,
                    cum_target: x.cum_target,
                    cum_actual: x.cum_actual,
                    rate: x.rate.filter(|v| v.is_finite()),
                    rate_text: x.rate_text,
                    progress: x.progress.filter(|v| v.is_finite()),
                    progress_text: x.progress_text,
                })
                .collect(),
            overall: r.overall.filter(|v| v.is_finite()),
            overall_text: r.overall_text,
            progress_year: r.progress_year,
            quarter_labels: r.quarter_labels,
            quarters: r.quarters,
            span_labels: r.span_labels,
            spans: r.spans,
            outside: r.outside.into_iter().map(|o| OutsideFigureDto { indicator: o.indicator, period: o.period, value: o.value }).collect(),
            budget: BudgetDto {
                years: b.years,
                sources: b.sources.into_iter().map(|(source, per_year, total)| BudgetSourceDto { source, per_year, total }).collect(),
                total: b.total,
                total_sum: b.total_sum,
                executed: b.executed,
                executed_sum: b.executed_sum,
                rate: b.rate,
                rate_sum: b.rate_sum,
            },
        }
    }
}
