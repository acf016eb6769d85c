//! Booking rules for home visits as pure functions: notice, horizon, due
//! date, cancellation cut-off, start times in Seoul, the .ics file.

use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use icalendar::{Calendar, Component, Event, EventLike};

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

/// An iCalendar file for one visit (times in UTC, so every calendar shows the
/// right local time). icalendar escapes text and folds lines at 75 octets.
pub fn ics(uid: &str, start: NaiveDateTime, minutes: i32, summary: &str, description: &str, stamp: NaiveDateTime) -> String {
    // A bare CR would break the CRLF line structure; line breaks become \n.
    let text = |s: &str| s.replace("\r\n", "\n").replace('\r', "\n");
    let event = Event::new()
        .uid(&format!("{uid}@naju-helper"))
        .timestamp(stamp.and_utc())
        .starts(start.and_utc())
        .ends((start + chrono::Duration::minutes(minutes as i64)).and_utc())
        .summary(&text(summary))
        .description(&text(description))
        .done();
    let mut calendar = Calendar::empty();
    calendar
        .append_property(("VERSION", "2.0"))
        .append_property(("PRODID", "-//naju-helper//visits//KO"))
        .append_property(("CALSCALE", "GREGORIAN"))
        .append_property(("METHOD", "PUBLISH"))
        .push(event);
    calendar.to_string()
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
        let body = ics("abc", start, 240, "가사돌봄, 방문", "helper; 김", start);
        assert!(body.contains("DTSTART:20261201T000000Z\r\n"));
        assert!(body.contains("DTEND:20261201T040000Z\r\n"));
        assert!(body.contains("SUMMARY:가사돌봄\\, 방문"));
        assert!(body.contains("DESCRIPTION:helper\\; 김"));
        assert!(body.starts_with("BEGIN:VCALENDAR\r\n"));
        assert!(body.contains("\r\nBEGIN:VEVENT\r\n") && body.ends_with("END:VEVENT\r\nEND:VCALENDAR\r\n"));
        assert!(body.contains("UID:abc@naju-helper\r\n"));
    }

    /// RFC 5545 3.3.11: commas, semicolons, backslashes and line breaks in text
    /// are escaped, so a calendar does not read them as separators or new lines.
    #[test]
    fn ics_escapes_separators_and_line_breaks_in_text() {
        let start = start_utc(d(2026, 12, 1), 9 * 60);
        let body = ics("abc", start, 240, "방문, 오전; 1회\n메모", "a\\b\r\nc\rd", start);
        assert!(body.contains("SUMMARY:방문\\, 오전\\; 1회\\n메모\r\n"), "{body}");
        assert!(body.contains("DESCRIPTION:a\\\\b\\nc\\nd\r\n"), "{body}");
        assert!(!body.replace("\r\n", "").contains(['\r', '\n']), "no bare CR or LF: {body:?}");
    }

    /// RFC 5545 3.1: content lines longer than 75 octets are folded (CRLF and a
    /// space), never inside a UTF-8 character, and unfold to the same text.
    #[test]
    fn ics_folds_long_lines_at_75_octets() {
        let start = start_utc(d(2026, 12, 1), 9 * 60);
        let long = "도우미 최도우미 님이 방문합니다. 현관 비밀번호와 주차 안내를 확인해 주세요. 방문 시간 변경은 하루 전까지 가능합니다.";
        let body = ics("abc", start, 240, "방문", long, start);
        let lines: Vec<&str> = body.split("\r\n").collect();
        assert!(lines.iter().all(|l| l.len() <= 75), "{lines:#?}");
        assert!(lines.iter().any(|l| l.starts_with(' ')), "the description is folded: {lines:#?}");
        assert!(body.replace("\r\n ", "").contains(&format!("DESCRIPTION:{long}\r\n")));
    }
}
