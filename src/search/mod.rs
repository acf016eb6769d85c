//! Staff search (`/staff/search`): one box that finds residents across
//! applications, visits and Saturday-clinic bookings by part of a name, a
//! phone number, an application's reference or a child's date of birth.
//! The term is read here (a pure function); `service` runs the lookups and
//! `routes` serves the page.

pub mod routes;
pub mod service;

use chrono::NaiveDate;

use crate::accounts::domain::Phone;

/// What a search term was read as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    /// An application's reference, as shown to residents: `HW-20261130-1A2B3C`.
    Reference(String),
    /// A whole phone number, in the stored format (`010-1234-5678`).
    Phone(String),
    /// Part of a phone number: its digits (at least 4).
    PhoneDigits(String),
    /// A child's date of birth.
    BirthDate(NaiveDate),
    /// Part of a name.
    Name(String),
}

impl Term {
    /// The kind of term, for the page and the access log (never the term).
    pub fn kind(&self) -> &'static str {
        match self {
            Term::Reference(_) => "reference",
            Term::Phone(_) => "phone",
            Term::PhoneDigits(_) => "phone_part",
            Term::BirthDate(_) => "birth_date",
            Term::Name(_) => "name",
        }
    }
}

/// Shortest part of a name searched for, and of a phone number.
pub const MIN_NAME_CHARS: usize = 2;
pub const MIN_PHONE_DIGITS: usize = 4;
/// Longest term read (a name or a reference is far shorter).
const MAX_CHARS: usize = 100;

/// Reads a term typed into the box; `Err` is a catalog key for the error
/// summary. Order matters: a reference, then a date (8 digits that make a
/// valid date of birth are a date, not part of a phone number), then digits.
pub fn parse(raw: &str) -> Result<Term, &'static str> {
    let term: String = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if term.is_empty() {
        return Err("search.errors.empty");
    }
    if term.chars().count() > MAX_CHARS {
        return Err("search.errors.too_long");
    }
    if let Some(r) = reference(&term) {
        return Ok(Term::Reference(r));
    }
    if let Some(d) = birth_date(&term) {
        return Ok(Term::BirthDate(d));
    }
    let phone_like = term.chars().all(|c| c.is_ascii_digit() || matches!(c, '-' | ' ' | '.' | '(' | ')'));
    if phone_like {
        if let Ok(p) = Phone::parse(&term) {
            return Ok(Term::Phone(p.as_str().to_string()));
        }
        let digits: String = term.chars().filter(|c| c.is_ascii_digit()).collect();
        if digits.len() < MIN_PHONE_DIGITS {
            return Err("search.errors.too_short_digits");
        }
        return Ok(Term::PhoneDigits(digits));
    }
    if term.chars().count() < MIN_NAME_CHARS {
        return Err("search.errors.too_short");
    }
    Ok(Term::Name(term))
}

/// `HW-20261130-1A2B3C`, case and dashes as typed: two letters, the date
/// the application was started, six hexadecimal characters.
fn reference(term: &str) -> Option<String> {
    let compact: String = term.chars().filter(|c| !matches!(c, '-' | ' ')).collect::<String>().to_ascii_uppercase();
    let b = compact.as_bytes();
    let ok = b.len() == 16
        && b[..2].iter().all(u8::is_ascii_alphabetic)
        && b[2..10].iter().all(u8::is_ascii_digit)
        && b[10..].iter().all(u8::is_ascii_hexdigit);
    ok.then(|| format!("{}-{}-{}", &compact[..2], &compact[2..10], &compact[10..]))
}

/// YYYY-MM-DD or YYYYMMDD (also with dots or slashes, as dates are often
/// written in Korea), a real date from 1900 on.
fn birth_date(term: &str) -> Option<NaiveDate> {
    let digits: String = term.chars().filter(|c| c.is_ascii_digit()).collect();
    let separators_ok = term.chars().all(|c| c.is_ascii_digit() || matches!(c, '-' | '.' | '/'));
    let shape_ok = match term.len() {
        8 => term.chars().all(|c| c.is_ascii_digit()),
        10 => {
            let b = term.as_bytes();
            let sep = b[4];
            matches!(sep, b'-' | b'.' | b'/') && b[7] == sep
        }
        _ => false,
    };
    if !(separators_ok && shape_ok && digits.len() == 8) {
        return None;
    }
    NaiveDate::parse_from_str(&digits, "%Y%m%d").ok().filter(|d| *d >= NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(*d))
}

/// A LIKE pattern matching `part` anywhere, its own `%`, `_` and `\` taken
/// literally (with `ESCAPE '\'`).
pub fn contains_pattern(part: &str) -> String {
    let mut p = String::with_capacity(part.len() + 2);
    p.push('%');
    for c in part.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn references_are_read_with_or_without_dashes_in_any_case() {
        assert_eq!(parse("HW-20261130-1A2B3C"), Ok(Term::Reference("HW-20261130-1A2B3C".into())));
        assert_eq!(parse(" hw-20261130-1a2b3c "), Ok(Term::Reference("HW-20261130-1A2B3C".into())));
        assert_eq!(parse("HW202611301A2B3C"), Ok(Term::Reference("HW-20261130-1A2B3C".into())));
        // Not hexadecimal at the end: a name, not a reference.
        assert_eq!(parse("HW-20261130-ZZZZZZ").map(|t| t.kind()), Ok("name"));
    }

    #[test]
    fn dates_of_birth_in_both_formats() {
        assert_eq!(parse("2025-03-04"), Ok(Term::BirthDate(date(2025, 3, 4))));
        assert_eq!(parse("20250304"), Ok(Term::BirthDate(date(2025, 3, 4))));
        assert_eq!(parse("2025.03.04"), Ok(Term::BirthDate(date(2025, 3, 4))));
        // Not a date: 8 digits are then part of a phone number.
        assert_eq!(parse("20251340"), Ok(Term::PhoneDigits("20251340".into())));
        assert_eq!(parse("2025-0304").map(|t| t.kind()), Ok("phone_part"));
    }

    #[test]
    fn phones_whole_or_in_part() {
        assert_eq!(parse("01012345678"), Ok(Term::Phone("010-1234-5678".into())));
        assert_eq!(parse("010-1234-5678"), Ok(Term::Phone("010-1234-5678".into())));
        assert_eq!(parse("061 339 8114"), Ok(Term::Phone("061-339-8114".into())));
        assert_eq!(parse("5678"), Ok(Term::PhoneDigits("5678".into())));
        assert_eq!(parse("1234-5678"), Ok(Term::PhoneDigits("12345678".into())));
        assert_eq!(parse("567"), Err("search.errors.too_short_digits"));
    }

    #[test]
    fn names_need_two_characters() {
        assert_eq!(parse("김민"), Ok(Term::Name("김민".into())));
        assert_eq!(parse("  Kim   Ji "), Ok(Term::Name("Kim Ji".into())));
        assert_eq!(parse("김"), Err("search.errors.too_short"));
        assert_eq!(parse("   "), Err("search.errors.empty"));
        assert_eq!(parse(&"가".repeat(101)), Err("search.errors.too_long"));
    }

    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(contains_pattern("김민"), "%김민%");
        assert_eq!(contains_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }
}
