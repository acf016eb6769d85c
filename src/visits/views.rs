use std::collections::HashSet;

use chrono::{NaiveDate, Timelike};
use serde::Serialize;

use super::models::{Slot, Visit, ACTIVE};
use super::rules::{self, Settings};
use crate::i18n::Lang;
use crate::time::{format_date, format_datetime, now_utc};

#[derive(Serialize)]
pub struct VisitView {
    pub id: String,
    pub date: String,
    pub day_value: String,
    pub time: String,
    pub status: String,
    pub helper_name: String,
    pub tasks: Vec<String>,
    pub notes: String,
    pub decline_reason: String,
    pub tasks_done: String,
    pub actual: String,
    pub counts: bool,
    pub rating: Option<i32>,
    pub rating_key: String,
    pub comment: String,
    pub confirmed_by_resident: bool,
    pub can_change: bool,
    pub can_rate: bool,
    pub hours: i32,
}

pub fn visit_view(v: &Visit, s: &Settings, lang: Lang) -> VisitView {
    let start = rules::start_utc(v.day, v.start_minute);
    let active = ACTIVE.contains(&v.status.as_str());
    let actual = match (v.actual_start, v.actual_end) {
        (Some(a), Some(b)) => {
            let end = crate::time::to_seoul(b);
            format!("{} – {}", format_datetime(a, lang), rules::hhmm((end.hour() * 60 + end.minute()) as i32))
        }
        _ => String::new(),
    };
    VisitView {
        id: v.id.clone(),
        date: format_date(v.day, lang),
        day_value: v.day.to_string(),
        time: format!("{}–{}", rules::hhmm(v.start_minute), rules::hhmm(v.start_minute + v.hours * 60)),
        status: v.status.clone(),
        helper_name: v.helper_name.clone().unwrap_or_default(),
        tasks: v.tasks.split(',').filter(|t| !t.is_empty()).map(str::to_string).collect(),
        notes: v.notes.clone(),
        decline_reason: v.decline_reason.clone().unwrap_or_default(),
        tasks_done: v.tasks_done.clone().unwrap_or_default(),
        actual,
        counts: v.counts_against_quota,
        rating: v.rating,
        rating_key: v.rating.map(|r| r.to_string()).unwrap_or_default(),
        comment: v.comment.clone().unwrap_or_default(),
        confirmed_by_resident: v.resident_confirmed_at.is_some(),
        can_change: active && rules::cancel_in_time(start, now_utc(), s.cancel_cutoff_hours),
        can_rate: v.status == "completed" && v.resident_confirmed_at.is_none(),
        hours: v.hours,
    }
}

#[derive(Serialize)]
pub struct SlotView {
    pub id: String,
    pub time: String,
    pub left: i32,
}

#[derive(Serialize)]
pub struct DayView {
    pub date: String,
    pub slots: Vec<SlotView>,
}

/// Open start times grouped by day, without days she already has a visit.
pub fn calendar(slots: &[Slot], busy_days: &HashSet<NaiveDate>, first: NaiveDate, last: NaiveDate, hours: i32, lang: Lang) -> Vec<DayView> {
    let mut days: Vec<DayView> = Vec::new();
    let mut current: Option<NaiveDate> = None;
    for s in slots.iter().filter(|s| s.day >= first && s.day <= last && s.booked < s.capacity && !busy_days.contains(&s.day)) {
        if current != Some(s.day) {
            days.push(DayView { date: format_date(s.day, lang), slots: vec![] });
            current = Some(s.day);
        }
        if let Some(day) = days.last_mut() {
            day.slots.push(SlotView {
                id: s.id.clone(),
                time: format!("{}–{}", rules::hhmm(s.start_minute), rules::hhmm(s.start_minute + hours * 60)),
                left: s.capacity - s.booked,
            });
        }
    }
    days
}
