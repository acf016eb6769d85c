//! The Saturday clinic's rules as pure functions: which Saturdays, slot times,
//! who may book what, when booking opens.

use chrono::{Datelike, NaiveDate, Weekday};

/// The 2nd and 4th Saturday of a month.
pub fn open_saturdays(year: i32, month: u32) -> Vec<NaiveDate> {
    let Some(first) = NaiveDate::from_ymd_opt(year, month, 1) else { return vec![] };
    let offset = (7 + Weekday::Sat.num_days_from_monday() - first.weekday().num_days_from_monday()) % 7;
    let first_saturday = first + chrono::Duration::days(offset as i64);
    vec![first_saturday + chrono::Duration::days(7), first_saturday + chrono::Duration::days(21)]
}

/// Every 2nd and 4th Saturday from `from` for `months` calendar months.
pub fn sessions_ahead(from: NaiveDate, months: u32) -> Vec<NaiveDate> {
    (0..months)
        .filter_map(|i| from.with_day(1)?.checked_add_months(chrono::Months::new(i)))
        .flat_map(|m| open_saturdays(m.year(), m.month()))
        .filter(|d| *d >= from)
        .collect()
}

/// (start, end) minutes of each slot a program offers in a session.
pub fn slot_times(kind: &str, start: i32, end: i32, slot_minutes: i32) -> Vec<(i32, i32)> {
    if kind == "class" {
        return vec![(start, end)];
    }
    let mut out = vec![];
    let mut t = start;
    while slot_minutes > 0 && t + slot_minutes <= end {
        out.push((t, t + slot_minutes));
        t += slot_minutes;
    }
    out
}

/// Whole months of age on `on`.
pub fn age_in_months(birth: NaiveDate, on: NaiveDate) -> i32 {
    let mut months = (on.year() - birth.year()) * 12 + on.month() as i32 - birth.month() as i32;
    if on.day() < birth.day() {
        months -= 1;
    }
    months
}

/// Who is booking: her declared due date (pregnant) or a registered child.
pub struct Booker {
    pub due_date: Option<NaiveDate>,
    pub child_birth: Option<NaiveDate>,
}

/// Whether she may book this program for a session on `day`.
pub fn may_book(audience: &str, infant_max_months: i32, booker: &Booker, day: NaiveDate, today: NaiveDate) -> Result<(), &'static str> {
    let pregnant_ok = booker
        .due_date
        .is_some_and(|due| due >= day && due <= today + chrono::Duration::weeks(42));
    let infant_ok = booker
        .child_birth
        .is_some_and(|b| b <= day && age_in_months(b, day) <= infant_max_months);
    match audience {
        "pregnant" if pregnant_ok => Ok(()),
        "pregnant" => Err("clinic.errors.pregnant_only"),
        "infant" if infant_ok => Ok(()),
        "infant" => Err("clinic.errors.infant_only"),
        _ if pregnant_ok || infant_ok => Ok(()),
        _ => Err("clinic.errors.pregnant_or_infant"),
    }
}

/// Booking opens `opens_days` before the session.
pub fn booking_open(day: NaiveDate, today: NaiveDate, opens_days: i32) -> Result<(), &'static str> {
    if day < today {
        Err("clinic.errors.past")
    } else if day > today + chrono::Duration::days(opens_days as i64) {
        Err("clinic.errors.not_open_yet")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn second_and_fourth_saturdays() {
        assert_eq!(open_saturdays(2026, 11), vec![d(2026, 11, 14), d(2026, 11, 28)]);
        assert_eq!(open_saturdays(2026, 8), vec![d(2026, 8, 8), d(2026, 8, 22)], "month starting on a Saturday");
        assert_eq!(open_saturdays(2027, 2), vec![d(2027, 2, 13), d(2027, 2, 27)]);
        let ahead = sessions_ahead(d(2026, 11, 24), 3);
        assert_eq!(ahead, vec![d(2026, 11, 28), d(2026, 12, 12), d(2026, 12, 26), d(2027, 1, 9), d(2027, 1, 23)]);
        assert!(ahead.iter().all(|d| d.weekday() == Weekday::Sat));
    }

    #[test]
    fn slots_fill_the_window() {
        assert_eq!(slot_times("slots", 540, 660, 30), vec![(540, 570), (570, 600), (600, 630), (630, 660)]);
        assert_eq!(slot_times("slots", 540, 650, 30).len(), 3, "no slot runs past the end");
        assert_eq!(slot_times("class", 600, 690, 30), vec![(600, 690)]);
    }

    #[test]
    fn who_may_book() {
        let day = d(2026, 12, 12);
        let today = d(2026, 11, 24);
        let pregnant = Booker { due_date: Some(d(2027, 2, 1)), child_birth: None };
        let delivered = Booker { due_date: Some(d(2026, 12, 1)), child_birth: None };
        let baby = Booker { due_date: None, child_birth: Some(d(2026, 6, 12)) };
        let toddler = Booker { due_date: None, child_birth: Some(d(2020, 1, 1)) };
        assert_eq!(may_book("pregnant", 0, &pregnant, day, today), Ok(()));
        assert_eq!(may_book("pregnant", 0, &delivered, day, today), Err("clinic.errors.pregnant_only"));
        assert_eq!(may_book("infant", 12, &baby, day, today), Ok(()));
        assert_eq!(may_book("infant", 12, &toddler, day, today), Err("clinic.errors.infant_only"));
        assert_eq!(may_book("pregnant_or_infant", 12, &baby, day, today), Ok(()));
        assert_eq!(age_in_months(d(2026, 6, 12), day), 6);
        assert_eq!(age_in_months(d(2025, 12, 13), day), 11);
        assert_eq!(age_in_months(d(2025, 12, 12), day), 12);
    }

    #[test]
    fn booking_opens_ahead() {
        let today = d(2026, 11, 24);
        assert_eq!(booking_open(d(2026, 12, 24), today, 30), Ok(()));
        assert_eq!(booking_open(d(2026, 12, 25), today, 30), Err("clinic.errors.not_open_yet"));
        assert_eq!(booking_open(d(2026, 11, 23), today, 30), Err("clinic.errors.past"));
    }
}
