//! Booking rules for home visits as pure functions: notice, horizon, due
//! date, cancellation cut-off, start times in Seoul, the .ics file.

use chrono::{NaiveDate, NaiveDateTime, TimeZone};

use crate::time::seoul;

#[derive(Clone, Debug)]
pub struct Settings {
    pub min_notice_days: i32,
    pub cancel_cutoff_hours: i32,
    pub late_cancel_counts: bool,
    pub no_show_counts: bool,
    pub booking_horizon_days: i32,
}

/// Whether a visit may be booked on `day` (a catalog key when not).
pub fn bookable_day(day: NaiveDate, today: NaiveDate, s: &Settings, due_date: Option<NaiveDate>, birth: Option<NaiveDate>) -> Result<(), &'static str> {
    if birth.is_some() {
        return Err("visits.errors.pregnancy_ended");
    }
    if day < today + chrono::Duration::days(s.min_notice_days as i64) {
        return Err("visits.errors.too_soon");
    }
    if day > today + chrono::Duration::days(s.booking_horizon_days as i64) {
        return Err("visits.errors.too_far");
    }
    if due_date.is_some_and(|due| day > due) {
        return Err("visits.errors.after_due_date");
    }
    Ok(())
}

/// The last day that can be booked.
pub fn last_bookable_day(today: NaiveDate, s: &Settings, due_date: Option<NaiveDate>) -> NaiveDate {
    let horizon = today + chrono::Duration::days(s.booking_horizon_days as i64);
    due_date.map_or(horizon, |d| d.min(horizon))
}

/// The UTC instant of a local (Seoul) day and minute of the day.
pub fn start_utc(day: NaiveDate, start_minute: i32) -> NaiveDateTime {
    let local = day.and_hms_opt(0, 0, 0).unwrap_or_default() + chrono::Duration::minutes(start_minute as i64);
    seoul().from_local_datetime(&local).single().map(|t| t.naive_utc()).unwrap_or(local)
}

/// Cancelled in time when at least `cutoff_hours` remain before the start.
pub fn cancel_in_time(start: NaiveDateTime, now: NaiveDateTime, cutoff_hours: i32) -> bool {
    now <= start - chrono::Duration::hours(cutoff_hours as i64)
}

/// "09:00"
pub fn hhmm(minute: i32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// Parses "09:30" into minutes of the day.
pub fn parse_hhmm(s: &str) -> Option<i32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

fn ics_text(s: &str) -> String {
    s.replace('\\', "\\\\").replace(';', "\\;").replace(',', "\\,").replace('\n', "\\n")
}

/// An iCalendar file for one visit (times in UTC, so every calendar shows the
/// right local time).
pub fn ics(uid: &str, start: NaiveDateTime, hours: i32, summary: &str, description: &str, stamp: NaiveDateTime) -> String {
    let fmt = |t: NaiveDateTime| t.format("%Y%m%dT%H%M%SZ").to_string();
    let end = start + chrono::Duration::hours(hours as i64);
    [
        "BEGIN:VCALENDAR".to_string(),
        "VERSION:2.0".into(),
        "PRODID:-//naju-helper//visits//KO".into(),
        "CALSCALE:GREGORIAN".into(),
        "METHOD:PUBLISH".into(),
        "BEGIN:VEVENT".into(),
        format!("UID:{uid}@naju-helper"),
        format!("DTSTAMP:{}", fmt(stamp)),
        format!("DTSTART:{}", fmt(start)),
        format!("DTEND:{}", fmt(end)),
        format!("SUMMARY:{}", ics_text(summary)),
        format!("DESCRIPTION:{}", ics_text(description)),
        "END:VEVENT".into(),
        "END:VCALENDAR".into(),
        String::new(),
    ]
    .join("\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn settings() -> Settings {
        Settings { min_notice_days: 2, cancel_cutoff_hours: 24, late_cancel_counts: true, no_show_counts: true, booking_horizon_days: 56 }
    }

    #[test]
    fn notice_horizon_and_due_date_bound_the_days() {
        let today = d(2026, 11, 24);
        let s = settings();
        assert_eq!(bookable_day(d(2026, 11, 25), today, &s, None, None), Err("visits.errors.too_soon"));
        assert_eq!(bookable_day(d(2026, 11, 26), today, &s, None, None), Ok(()));
        assert_eq!(bookable_day(today + chrono::Duration::days(56), today, &s, None, None), Ok(()));
        assert_eq!(bookable_day(today + chrono::Duration::days(57), today, &s, None, None), Err("visits.errors.too_far"));
        assert_eq!(bookable_day(d(2026, 12, 10), today, &s, Some(d(2026, 12, 10)), None), Ok(()), "on the due date");
        assert_eq!(bookable_day(d(2026, 12, 11), today, &s, Some(d(2026, 12, 10)), None), Err("visits.errors.after_due_date"));
        assert_eq!(bookable_day(d(2026, 12, 1), today, &s, None, Some(d(2026, 11, 20))), Err("visits.errors.pregnancy_ended"));
        assert_eq!(last_bookable_day(today, &s, Some(d(2026, 12, 10))), d(2026, 12, 10));
    }

    #[test]
    fn times_are_seoul_and_the_cut_off_is_inclusive() {
        let start = start_utc(d(2026, 12, 1), 9 * 60);
        assert_eq!(start, d(2026, 12, 1).and_hms_opt(0, 0, 0).unwrap(), "09:00 KST is 00:00 UTC");
        assert!(cancel_in_time(start, start - chrono::Duration::hours(24), 24));
        assert!(!cancel_in_time(start, start - chrono::Duration::hours(24) + chrono::Duration::seconds(1), 24));
        assert_eq!(hhmm(13 * 60 + 5), "13:05");
        assert_eq!(parse_hhmm("9:30"), Some(570));
        assert_eq!(parse_hhmm("24:00"), None);
        assert_eq!(parse_hhmm("x"), None);
    }

    #[test]
    fn ics_has_utc_times_and_escapes_text() {
        let start = start_utc(d(2026, 12, 1), 9 * 60);
        let body = ics("abc", start, 4, "가사돌봄, 방문", "helper; 김", start);
        assert!(body.contains("DTSTART:20261201T000000Z\r\n"));
        assert!(body.contains("DTEND:20261201T040000Z\r\n"));
        assert!(body.contains("SUMMARY:가사돌봄\\, 방문"));
        assert!(body.contains("DESCRIPTION:helper\\; 김"));
        assert!(body.starts_with("BEGIN:VCALENDAR\r\n"));
    }
}
