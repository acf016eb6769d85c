use std::collections::{BTreeMap, HashSet};

use chrono::{Datelike, NaiveDate, Timelike};
use serde::Serialize;

use super::models::{Slot, Visit, ACTIVE};
use super::rules::{self, Settings};
use crate::i18n::Lang;
use crate::time::{format_date, format_datetime, long_date, month_name, now_utc, weekday_ko};

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

/// Her free start times by day: slots with room, inside her window, on days
/// she has no visit yet.
pub fn free_by_day(slots: &[Slot], busy_days: &HashSet<NaiveDate>, first: NaiveDate, last: NaiveDate) -> BTreeMap<NaiveDate, Vec<Slot>> {
    let mut days: BTreeMap<NaiveDate, Vec<Slot>> = BTreeMap::new();
    for s in slots.iter().filter(|s| s.day >= first && s.day <= last && s.booked < s.capacity && !busy_days.contains(&s.day)) {
        days.entry(s.day).or_default().push(s.clone());
    }
    days
}

/// One day's start times, as radio buttons show them.
pub fn times(slots: &[Slot], hours: i32) -> Vec<SlotView> {
    slots.iter().map(|s| SlotView { id: s.id.clone(), time: time_range(s.start_minute, hours), left: s.capacity - s.booked }).collect()
}

/// "09:00–13:00"
pub fn time_range(start_minute: i32, hours: i32) -> String {
    format!("{}–{}", rules::hhmm(start_minute), rules::hhmm(start_minute + hours * 60))
}

/// The first day of `d`'s month.
pub fn month_of(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

#[derive(Serialize)]
pub struct CalDay {
    pub day: u32,
    pub label: String,
    /// The link to the day's times, when it has any.
    pub href: Option<String>,
}

#[derive(Serialize)]
pub struct Weekday {
    pub short: String,
    pub long: String,
}

#[derive(Serialize)]
pub struct MonthLink {
    pub href: String,
    pub label: String,
}

#[derive(Serialize)]
pub struct MonthView {
    pub caption: String,
    pub weekdays: Vec<Weekday>,
    /// Weeks of seven cells; `None` pads before the 1st and after the last day.
    pub weeks: Vec<Vec<Option<CalDay>>>,
    pub prev: Option<MonthLink>,
    pub next: Option<MonthLink>,
    pub free_days: usize,
}

/// A month as a calendar grid (weeks start on Sunday in Korean, Monday in
/// English), each day with free times a link to `base?day=…`, with links to
/// the months before and after while they overlap `first..=last`.
pub fn month_view(month: NaiveDate, free: &BTreeMap<NaiveDate, Vec<Slot>>, first: NaiveDate, last: NaiveDate, base: &str, lang: Lang) -> MonthView {
    let month = month_of(month);
    let week_start = match lang {
        Lang::Ko => 6,
        Lang::En => 0,
    };
    let weekdays = (0..7)
        .map(|i| {
            // A day of that weekday (Monday + n), for chrono's names.
            let day = month + chrono::Days::new(((week_start + i + 7 - month.weekday().num_days_from_monday() as usize) % 7) as u64);
            match lang {
                Lang::Ko => Weekday { short: weekday_ko(day.weekday()).to_string(), long: format!("{}요일", weekday_ko(day.weekday())) },
                Lang::En => Weekday { short: day.format("%a").to_string(), long: day.format("%A").to_string() },
            }
        })
        .collect();
    let lead = (month.weekday().num_days_from_monday() as usize + 7 - week_start) % 7;
    let mut cells: Vec<Option<CalDay>> = (0..lead).map(|_| None).collect();
    let mut free_days = 0;
    let mut d = month;
    while d.month() == month.month() {
        let href = free.contains_key(&d).then(|| format!("{base}?day={d}"));
        free_days += usize::from(href.is_some());
        cells.push(Some(CalDay { day: d.day(), label: long_date(d, lang), href }));
        d += chrono::Duration::days(1);
    }
    while cells.len() % 7 != 0 {
        cells.push(None);
    }
    let mut weeks = vec![];
    let mut it = cells.into_iter().peekable();
    while it.peek().is_some() {
        weeks.push(it.by_ref().take(7).collect());
    }
    let link = |m: NaiveDate| MonthLink { href: format!("{base}?month={}", m.format("%Y-%m")), label: month_name(m, lang) };
    let prev = month.pred_opt().map(month_of).filter(|m| *m >= month_of(first)).map(link);
    let next = month.checked_add_months(chrono::Months::new(1)).filter(|m| *m <= last).map(link);
    MonthView { caption: month_name(month, lang), weekdays, weeks, prev, next, free_days }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn slot(day: NaiveDate) -> Slot {
        Slot { id: format!("s{day}"), agency_id: "a".into(), day, start_minute: 540, capacity: 1, booked: 0 }
    }

    #[test]
    fn a_month_is_whole_weeks_with_links_on_free_days_only() {
        let free: BTreeMap<NaiveDate, Vec<Slot>> = [d(2026, 12, 3), d(2026, 12, 31)].into_iter().map(|x| (x, vec![slot(x)])).collect();
        let ko = month_view(d(2026, 12, 15), &free, d(2026, 11, 20), d(2027, 1, 10), "/my/visits/new", Lang::Ko);
        assert_eq!(ko.caption, "2026년 12월");
        assert_eq!(ko.weekdays[0].long, "일요일");
        // 1 December 2026 is a Tuesday: Sunday and Monday are empty.
        assert!(ko.weeks[0][0].is_none() && ko.weeks[0][1].is_none());
        assert_eq!(ko.weeks[0][2].as_ref().unwrap().day, 1);
        assert!(ko.weeks.iter().all(|w| w.len() == 7));
        let linked: Vec<&CalDay> = ko.weeks.iter().flatten().flatten().filter(|c| c.href.is_some()).collect();
        assert_eq!(linked.len(), 2);
        assert_eq!(ko.free_days, 2);
        assert_eq!(linked[0].label, "2026년 12월 3일 목요일");
        assert_eq!(linked[0].href.as_deref(), Some("/my/visits/new?day=2026-12-03"));
        assert_eq!(ko.prev.as_ref().unwrap().href, "/my/visits/new?month=2026-11");
        assert_eq!(ko.next.as_ref().unwrap().label, "2027년 1월");
        let en = month_view(d(2026, 12, 1), &free, d(2026, 12, 2), d(2026, 12, 31), "/b", Lang::En);
        assert_eq!(en.weekdays[0].short, "Mon");
        assert_eq!(en.weeks[0][1].as_ref().unwrap().label, "Tuesday 1 December 2026");
        assert!(en.prev.is_none() && en.next.is_none(), "no months outside the window");
    }
}
