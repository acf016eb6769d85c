//! Importing paper-era figures from CSV: `program,indicator,period,value[,kind]`
//! where kind is `actual` (default), `target`, `budget_national`,
//! `budget_provincial`, `budget_city`, `budget_other` or `executed` (for the
//! budget kinds the indicator column is left empty and the period is a year).
//! Further columns (a note, say) are ignored. All or nothing: one
//! transaction, every bad line reported with the line it starts on.
//!
//! Files come from spreadsheets: `decode` reads UTF-8 (with or without a
//! BOM) and CP949/EUC-KR, which Korean Excel writes for "CSV (쉼표로 분리)";
//! the `csv` crate parses quoting (a quoted field may hold commas, quotes and
//! line breaks).

use std::borrow::Cow;

use chrono::Datelike;
use encoding_rs::{Encoding, EUC_KR};

use super::calc::parse_period;
use super::service;
use crate::db::{write_tx, DbConn};
use crate::error::AppError;

/// The text of an uploaded file: in the encoding its byte-order mark names
/// (the mark dropped), else UTF-8, else CP949/EUC-KR (encoding_rs's EUC-KR
/// is the WHATWG one, which is CP949). None when it is none of these, such
/// as a spreadsheet uploaded instead of its CSV.
pub fn decode(bytes: &[u8]) -> Option<Cow<'_, str>> {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        return (!had_errors).then_some(text);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Some(Cow::Borrowed(text));
    }
    let (text, had_errors) = EUC_KR.decode_without_bom_handling(bytes);
    (!had_errors).then_some(text)
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
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
        let mut record = csv::StringRecord::new();
        for index in 0usize.. {
            let read = reader.read_record(&mut record);
            // The record's position is where the reader stood before it,
            // ahead of any blank lines it skipped: count those to name the
            // line the record starts on.
            let from = record.position().cloned().unwrap_or_else(csv::Position::new);
            let raw = text.get(from.byte() as usize..reader.position().byte() as usize).unwrap_or_default();
            let body = raw.trim_start_matches(['\r', '\n']);
            let n = from.line() as usize + raw[..raw.len() - body.len()].matches('\n').count();
            let line = body.trim_end();
            match read {
                Ok(true) => {}
                Ok(false) => break,
                Err(_) => {
                    report.errors.push((n, "results.import.errors.columns", line.to_string()));
                    break;
                }
            }
            let f: Vec<String> = record.iter().map(str::to_string).collect();
            if f.iter().all(String::is_empty) {
                continue;
            }
            if index == 0 && f[0].eq_ignore_ascii_case("program") {
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
    fn numbers_as_spreadsheets_write_them() {
        assert_eq!(number("2,800"), Some(2800));
        assert_eq!(number("-1"), None);
    }

    #[test]
    fn files_are_read_as_utf8_or_as_korean_excel_saves_them() {
        let line = "saturday_clinic,모유수유클리닉 운영,2015,120,target";
        assert_eq!(decode(line.as_bytes()).as_deref(), Some(line));
        assert_eq!(decode(format!("\u{feff}{line}").as_bytes()).as_deref(), Some(line), "the BOM is dropped");
        let (cp949, _, unmappable) = EUC_KR.encode(line);
        assert!(!unmappable && std::str::from_utf8(&cp949).is_err());
        assert_eq!(decode(&cp949).as_deref(), Some(line));
        assert_eq!(decode(b"PK\x03\x04\x14\x00\x08\x08\x80\xff\x00"), None, "an XLSX is not a CSV");
    }
}
