//! Time: stored as UTC `NaiveDateTime`, shown in Asia/Seoul (UTC+9, no DST)
//! with the date written out, so nobody reads a UTC time as local.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

use crate::i18n::Lang;

pub fn now_utc() -> NaiveDateTime {
    Utc::now().naive_utc()
}

pub fn seoul() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("UTC+9 is a valid offset")
}

pub fn to_seoul(utc: NaiveDateTime) -> DateTime<FixedOffset> {
    seoul().from_utc_datetime(&utc)
}

/// Today's date in Seoul.
pub fn today_seoul() -> NaiveDate {
    to_seoul(now_utc()).date_naive()
}

/// The UTC instant a Seoul day begins (00:00 in Seoul).
pub fn seoul_midnight_utc(day: NaiveDate) -> NaiveDateTime {
    day.and_time(chrono::NaiveTime::MIN) - chrono::Duration::hours(9)
}

/// Korean weekday names, Monday first (chrono has English names only).
const WEEKDAYS_KO: [&str; 7] = ["월", "화", "수", "목", "금", "토", "일"];

/// "화" for a Tuesday.
pub fn weekday_ko(weekday: chrono::Weekday) -> &'static str {
    WEEKDAYS_KO[weekday.num_days_from_monday() as usize]
}

/// "2026년 11월 24일 (화)" / "Tue 24 Nov 2026"
pub fn format_date(date: NaiveDate, lang: Lang) -> String {
    match lang {
        Lang::Ko => format!("{}년 {}월 {}일 ({})", date.year(), date.month(), date.day(), weekday_ko(date.weekday())),
        Lang::En => date.format("%a %-d %b %Y").to_string(),
    }
}

/// "2026년 12월 3일 목요일" / "Thursday 3 December 2026": what a screen reader announces for a day.
pub fn long_date(date: NaiveDate, lang: Lang) -> String {
    match lang {
        Lang::Ko => format!("{}년 {}월 {}일 {}요일", date.year(), date.month(), date.day(), weekday_ko(date.weekday())),
        Lang::En => date.format("%A %-d %B %Y").to_string(),
    }
}

/// "2026년 12월" / "December 2026"
pub fn month_name(month: NaiveDate, lang: Lang) -> String {
    match lang {
        Lang::Ko => format!("{}년 {}월", month.year(), month.month()),
        Lang::En => month.format("%B %Y").to_string(),
    }
}

/// "2026년 11월 24일 (화) 오후 3:05 (한국 시간)" / "Tue 24 Nov 2026, 15:05 (Korea time)"
pub fn format_datetime(utc: NaiveDateTime, lang: Lang) -> String {
    let local = to_seoul(utc);
    let date = format_date(local.date_naive(), lang);
    let (h, m) = (local.hour(), local.minute());
    match lang {
        Lang::Ko => {
            let (ampm, h12) = if h < 12 { ("오전", if h == 0 { 12 } else { h }) } else { ("오후", if h == 12 { 12 } else { h - 12 }) };
            format!("{date} {ampm} {h12}:{m:02} (한국 시간)")
        }
        Lang::En => format!("{date}, {h:02}:{m:02} (Korea time)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_seoul_time_with_written_date() {
        let utc = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap().and_hms_opt(6, 5, 0).unwrap();
        assert_eq!(format_datetime(utc, Lang::Ko), "2026년 11월 24일 (화) 오후 3:05 (한국 시간)");
        assert_eq!(format_datetime(utc, Lang::En), "Tue 24 Nov 2026, 15:05 (Korea time)");
        let late = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap().and_hms_opt(15, 30, 0).unwrap();
        assert_eq!(format_datetime(late, Lang::Ko), "2026년 11월 25일 (수) 오전 12:30 (한국 시간)");
    }

    #[test]
    fn a_seoul_day_begins_at_15_utc_the_day_before() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert_eq!(seoul_midnight_utc(day), NaiveDate::from_ymd_opt(2026, 11, 29).unwrap().and_hms_opt(15, 0, 0).unwrap());
        assert_eq!(to_seoul(seoul_midnight_utc(day)).date_naive(), day);
    }
}
