//! The arithmetic of the results tables, as pure functions: periods, the
//! achievement rate (capped at 100 %), the progress toward a year's target
//! (not capped), the overall rate (mean of the indicator rates), which
//! figures do not fit one quarter, and how rates are written.

use chrono::{Datelike, NaiveDate};

/// A reporting period, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Period {
    pub fn contains(&self, other: &Period) -> bool {
        other.start >= self.start && other.end <= self.end
    }

    pub fn overlaps(&self, other: &Period) -> bool {
        other.start <= self.end && other.end >= self.start
    }

    /// The calendar year of `day`.
    pub fn year_of(day: NaiveDate) -> Period {
        let year = day.year();
        Period { start: NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(day), end: NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(day) }
    }

    /// How a period is labelled where it stands on its own: "2014-07-01~2017-12-31".
    pub fn label(&self) -> String {
        format!("{}~{}", self.start, self.end)
    }
}

fn last_day_of_month(year: i32, month: u32) -> Option<NaiveDate> {
    let next = if month == 12 { NaiveDate::from_ymd_opt(year + 1, 1, 1) } else { NaiveDate::from_ymd_opt(year, month + 1, 1) };
    next.map(|d| d - chrono::Duration::days(1))
}

/// Reads a period as written in the seed tables and in imports:
/// "2017" (a year), "2018.6" (January to June 2018, a part-year),
/// "2015Q2" (a quarter), or "2014-07-01~2014-12-31".
pub fn parse_period(raw: &str) -> Option<Period> {
    let s = raw.trim();
    if let Some((a, b)) = s.split_once('~') {
        let start = NaiveDate::parse_from_str(a.trim(), "%Y-%m-%d").ok()?;
        let end = NaiveDate::parse_from_str(b.trim(), "%Y-%m-%d").ok()?;
        return (start <= end).then_some(Period { start, end });
    }
    if let Some((y, q)) = s.split_once(['Q', 'q']) {
        let year: i32 = y.trim_end_matches('.').parse().ok()?;
        let q: u32 = q.parse().ok().filter(|q| (1..=4).contains(q))?;
        let start = NaiveDate::from_ymd_opt(year, 3 * q - 2, 1)?;
        return Some(Period { start, end: last_day_of_month(year, 3 * q)? });
    }
    if let Some((y, m)) = s.split_once('.') {
        let year: i32 = y.parse().ok()?;
        let month: u32 = m.parse().ok().filter(|m| (1..=12).contains(m))?;
        return Some(Period { start: NaiveDate::from_ymd_opt(year, 1, 1)?, end: last_day_of_month(year, month)? });
    }
    let year: i32 = s.parse().ok().filter(|y| (1900..=2200).contains(y))?;
    Some(Period { start: NaiveDate::from_ymd_opt(year, 1, 1)?, end: NaiveDate::from_ymd_opt(year, 12, 31)? })
}

/// The quarters overlapping a period, each cut to the period.
pub fn quarters(p: Period) -> Vec<(String, Period)> {
    let mut out = vec![];
    let mut year = p.start.year();
    let mut q = (p.start.month() - 1) / 3 + 1;
    loop {
        let Some(start) = NaiveDate::from_ymd_opt(year, 3 * q - 2, 1) else { break };
        if start > p.end {
            break;
        }
        let Some(end) = last_day_of_month(year, 3 * q) else { break };
        out.push((format!("{year}Q{q}"), Period { start: start.max(p.start), end: end.min(p.end) }));
        if q == 4 {
            q = 1;
            year += 1;
        } else {
            q += 1;
        }
    }
    out
}

/// The figures' periods that lie inside `p` but inside none of its quarters
/// (as `quarters` cuts them), in date order, each once. Such a figure cannot
/// be put in one quarter's column without inventing how it was spread.
pub fn spanning(p: Period, quarters: &[(String, Period)], figures: impl IntoIterator<Item = Period>) -> Vec<Period> {
    let mut out: Vec<Period> = figures.into_iter().filter(|f| p.contains(f) && !quarters.iter().any(|(_, q)| q.contains(f))).collect();
    out.sort_by_key(|f| (f.start, f.end));
    out.dedup();
    out
}

/// Achievement rate in percent: actual / target, capped at 100. None without a target.
pub fn rate(actual: i64, target: i64) -> Option<f64> {
    progress(actual, target).map(|r| r.min(100.0))
}

/// Progress in percent toward a target, not capped (107.7 means 7.7 % over). None without a target.
pub fn progress(actual: i64, target: i64) -> Option<f64> {
    (target > 0).then(|| actual as f64 / target as f64 * 100.0)
}

/// The overall rate: the mean of the indicator rates that exist.
pub fn overall(rates: &[Option<f64>]) -> Option<f64> {
    let known: Vec<f64> = rates.iter().flatten().copied().collect();
    (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64)
}

/// "96.6", "100", "68.75": rounded to `decimals`, without trailing zeros, as
/// in the seed documents.
pub fn format_rate(value: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, value + 1e-9);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// 2706 → "2,706"
pub fn thousands(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn periods_as_the_seeds_write_them() {
        assert_eq!(parse_period("2017"), Some(Period { start: d(2017, 1, 1), end: d(2017, 12, 31) }));
        assert_eq!(parse_period("2018.6"), Some(Period { start: d(2018, 1, 1), end: d(2018, 6, 30) }));
        assert_eq!(parse_period("2026. 6.".replace(' ', "").trim_end_matches('.')), Some(Period { start: d(2026, 1, 1), end: d(2026, 6, 30) }));
        assert_eq!(parse_period("2015Q3"), Some(Period { start: d(2015, 7, 1), end: d(2015, 9, 30) }));
        assert_eq!(parse_period("2014-07-01~2014-12-31"), Some(Period { start: d(2014, 7, 1), end: d(2014, 12, 31) }));
        assert_eq!(parse_period("2015Q5"), None);
        assert_eq!(parse_period("soon"), None);
    }

    #[test]
    fn quarters_are_cut_to_the_period() {
        let q = quarters(Period { start: d(2014, 7, 1), end: d(2015, 2, 15) });
        let labels: Vec<&str> = q.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(labels, vec!["2014Q3", "2014Q4", "2015Q1"]);
        assert_eq!(q[2].1.end, d(2015, 2, 15));
    }

    #[test]
    fn figures_that_fit_no_single_quarter_are_kept_apart() {
        let p = Period { start: d(2014, 7, 1), end: d(2018, 6, 30) };
        let q = quarters(p);
        let term = Period { start: d(2014, 7, 1), end: d(2017, 12, 31) };
        let half = Period { start: d(2014, 7, 1), end: d(2014, 12, 31) };
        let one_quarter = Period { start: d(2015, 1, 1), end: d(2015, 3, 31) };
        let one_month = Period { start: d(2015, 2, 1), end: d(2015, 2, 28) };
        let beyond = Period { start: d(2018, 1, 1), end: d(2018, 12, 31) };
        assert_eq!(spanning(p, &q, [term, one_quarter, half, one_month, beyond, term]), vec![half, term], "sorted, once each, only inside the report");
        // A quarter cut by the report's start is still one quarter.
        let p = Period { start: d(2015, 2, 1), end: d(2015, 12, 31) };
        assert_eq!(spanning(p, &quarters(p), [one_month, Period { start: d(2015, 2, 1), end: d(2015, 3, 31) }]), vec![]);
        assert_eq!(term.label(), "2014-07-01~2017-12-31");
        assert!(p.overlaps(&term) && !p.overlaps(&half));
        assert_eq!(Period::year_of(d(2015, 6, 30)), Period { start: d(2015, 1, 1), end: d(2015, 12, 31) });
    }

    #[test]
    fn progress_toward_a_target_is_not_capped() {
        assert_eq!(format_rate(progress(377, 350).unwrap(), 1), "107.7");
        assert_eq!(format_rate(progress(44, 120).unwrap(), 1), "36.7");
        assert_eq!(rate(377, 350), Some(100.0));
        assert_eq!(progress(5, 0), None);
    }

    #[test]
    fn the_seed_tables_come_out_right() {
        // Seed 000 (Saturday clinic), one decimal.
        let r = [rate(2706, 2800), rate(497, 480), rate(1021, 800)];
        let shown: Vec<String> = r.iter().map(|x| format_rate(x.unwrap(), 1)).collect();
        assert_eq!(shown, vec!["96.6", "100", "100"]);
        assert_eq!(format_rate(overall(&r).unwrap(), 1), "98.9");
        // Seed 001 (housework), two decimals.
        let r = [rate(11, 16), rate(1344, 2205)];
        let shown: Vec<String> = r.iter().map(|x| format_rate(x.unwrap(), 2)).collect();
        assert_eq!(shown, vec!["68.75", "60.95"]);
        assert_eq!(format_rate(overall(&r).unwrap(), 2), "64.85");
        assert_eq!(rate(5, 0), None);
        assert_eq!(overall(&[None, Some(50.0)]), Some(50.0));
        assert_eq!(thousands(2706), "2,706");
        assert_eq!(thousands(504000000), "504,000,000");
    }
}
