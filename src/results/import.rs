//! Importing paper-era figures from CSV: `program,indicator,period,value[,kind]`
//! where kind is `actual` (default), `target`, `budget_national`,
//! `budget_provincial`, `budget_city`, `budget_other` or `executed` (for the
//! budget kinds the indicator column is left empty and the period is a year).
//! All or nothing: one transaction, every bad line reported.

use chrono::Datelike;

use super::calc::parse_period;
use super::service;
use crate::db::{write_tx, DbConn};
use crate::error::AppError;

/// Splits one CSV line, honouring double quotes ("2,800").
pub fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = vec![];
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields.into_iter().map(|f| f.trim().to_string()).collect()
}

fn number(raw: &str) -> Option<i64> {
    raw.replace([',', ' '], "").parse().ok().filter(|n: &i64| *n >= 0)
}

#[derive(Debug, Default)]
pub struct ImportReport {
    pub imported: usize,
    /// (line number, catalog key, the line's text)
    pub errors: Vec<(usize, &'static str, String)>,
}

/// Parses and stores the file; stores nothing when any line is wrong.
pub fn import_csv(conn: &mut DbConn, text: &str, user_id: Option<&str>) -> Result<ImportReport, AppError> {
    let text = text.trim_start_matches('\u{feff}');
    let mut report = ImportReport::default();
    let result = write_tx(conn, |conn| {
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            if line.trim().is_empty() {
                continue;
            }
            let f = split_csv_line(line);
            if n == 1 && f.first().is_some_and(|h| h.eq_ignore_ascii_case("program")) {
                continue;
            }
            let fail = |key: &'static str| (n, key, line.to_string());
            if f.len() < 4 {
                report.errors.push(fail("results.import.errors.columns"));
                continue;
            }
            let kind = f.get(4).map(String::as_str).filter(|k| !k.is_empty()).unwrap_or("actual");
            let program = f[0].as_str();
            let Some(period) = parse_period(&f[2]) else {
                report.errors.push(fail("results.import.errors.period"));
                continue;
            };
            let Some(value) = number(&f[3]) else {
                report.errors.push(fail("results.import.errors.value"));
                continue;
            };
            match kind {
                "actual" | "target" => {
                    let Some(ind) = service::find_indicator(conn, program, &f[1])? else {
                        report.errors.push(fail("results.import.errors.indicator"));
                        continue;
                    };
                    service::upsert_figure(conn, &ind.id, &f[2], period, value, kind == "target", "import", user_id)?;
                }
                "executed" => service::upsert_execution(conn, program, period.start.year(), value)?,
                k if k.starts_with("budget_") && service::SOURCES.contains(&&k["budget_".len()..]) => {
                    service::upsert_budget(conn, program, period.start.year(), &k["budget_".len()..], value)?
                }
                _ => {
                    report.errors.push(fail("results.import.errors.kind"));
                    continue;
                }
            }
            report.imported += 1;
        }
        if report.errors.is_empty() {
            Ok(())
        } else {
            // Roll everything back: a partly imported history would mislead.
            Err(AppError::Conflict("results.import.errors.none_saved"))
        }
    });
    match result {
        Ok(()) => Ok(report),
        Err(AppError::Conflict("results.import.errors.none_saved")) => {
            report.imported = 0;
            Ok(report)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_with_quotes() {
        assert_eq!(split_csv_line(r#"saturday_clinic,sc_checkups,2017,"2,800",target"#), vec!["saturday_clinic", "sc_checkups", "2017", "2,800", "target"]);
        assert_eq!(split_csv_line(r#"a,"say ""hi""",c"#), vec!["a", "say \"hi\"", "c"]);
        assert_eq!(number("2,800"), Some(2800));
        assert_eq!(number("-1"), None);
    }
}
