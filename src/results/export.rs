//! The report as CSV (UTF-8 with BOM, so spreadsheet programs read Korean),
//! XLSX (one sheet per table) and JSON. Headings follow the language.

use super::service::Report;
use crate::error::AppError;
use crate::i18n::{I18n, Lang};
use crate::web::xlsx::Sheet;

/// Rows as RFC 4180 CSV (CRLF, fields quoted only when they must be) after a
/// UTF-8 BOM, so Korean Excel opens the file as UTF-8.
fn csv_bytes(rows: &[Vec<String>]) -> Result<Vec<u8>, AppError> {
    let cerr = |e: String| AppError::Internal(format!("csv: {e}"));
    let mut out = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).flexible(true).from_writer("\u{feff}".as_bytes().to_vec());
    for row in rows {
        out.write_record(row).map_err(|e| cerr(e.to_string()))?;
    }
    out.into_inner().map_err(|e| cerr(e.to_string()))
}

/// The tables of a report as rows of cells: (sheet key, rows).
pub fn tables(r: &Report, i18n: &I18n, lang: Lang) -> Vec<(&'static str, Vec<Vec<String>>)> {
    let t = |k: &str| i18n.t(lang, &format!("results.cols.{k}"));
    // The progress column (진도율) is there only for a period inside one year.
    let progress = |cell: String| r.progress_year.map(|_| cell);
    let mut head = vec![t("indicator"), t("unit"), t("target"), t("actual"), t("cum_target"), t("cum_actual"), t("rate")];
    head.extend(r.progress_year.map(|y| i18n.t_with(lang, "results.cols.progress", &[("year", &y.to_string())])));
    let mut summary = vec![head];
    for row in &r.rows {
        let mut cells = vec![
            row.name.clone(),
            row.unit.clone(),
            row.target.to_string(),
            row.actual.to_string(),
            row.cum_target.to_string(),
            row.cum_actual.to_string(),
            row.rate_text.clone(),
        ];
        cells.extend(progress(row.progress_text.clone()));
        summary.push(cells);
    }
    let mut overall = vec![t("overall"), String::new(), String::new(), String::new(), String::new(), String::new(), r.overall_text.clone()];
    overall.extend(progress(String::new()));
    summary.push(overall);

    let mut quarterly =
        vec![std::iter::once(t("indicator")).chain(r.quarter_labels.iter().cloned()).chain(r.span_labels.iter().cloned()).chain(std::iter::once(t("total"))).collect::<Vec<_>>()];
    for (row, cells) in r.rows.iter().zip(r.quarterly_cells(|v| v.to_string())) {
        quarterly.push(std::iter::once(row.name.clone()).chain(cells).collect());
    }

    let b = &r.budget;
    let mut budget = vec![std::iter::once(t("source")).chain(b.years.iter().map(|y| y.to_string())).chain(std::iter::once(t("total"))).collect::<Vec<_>>()];
    budget.push(std::iter::once(t("budget_total")).chain(b.total.iter().map(|v| v.to_string())).chain(std::iter::once(b.total_sum.to_string())).collect());
    for (source, per_year, sum) in &b.sources {
        budget.push(std::iter::once(i18n.t(lang, &format!("results.sources.{source}"))).chain(per_year.iter().map(|v| v.to_string())).chain(std::iter::once(sum.to_string())).collect());
    }
    budget.push(std::iter::once(t("executed")).chain(b.executed.iter().map(|v| v.to_string())).chain(std::iter::once(b.executed_sum.to_string())).collect());
    budget.push(std::iter::once(t("execution_rate")).chain(b.rate.iter().cloned()).chain(std::iter::once(b.rate_sum.clone())).collect());
    vec![("summary", summary), ("quarterly", quarterly), ("budget", budget)]
}

pub fn to_csv(r: &Report, i18n: &I18n, lang: Lang, table: &str) -> Result<Vec<u8>, AppError> {
    let all = tables(r, i18n, lang);
    let rows = all.into_iter().find(|(k, _)| *k == table).map(|(_, rows)| rows).unwrap_or_default();
    csv_bytes(&rows)
}

pub fn to_xlsx(r: &Report, i18n: &I18n, lang: Lang) -> Result<Vec<u8>, AppError> {
    let title = format!("{} {} ~ {}", r.program_name, r.from, r.to);
    let sheets: Vec<Sheet> = tables(r, i18n, lang)
        .into_iter()
        .map(|(key, rows)| Sheet { name: i18n.t(lang, &format!("results.sheets.{key}")), title: title.clone(), rows })
        .collect();
    crate::web::xlsx::workbook(&sheets)
}

pub fn to_json(r: &Report) -> Result<String, AppError> {
    serde_json::to_string_pretty(r).map_err(|e| AppError::Internal(format!("json: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_starts_with_a_bom_ends_lines_with_crlf_and_quotes_only_what_it_must() {
        let rows = vec![vec!["지표".to_string(), "목표".into()], vec!["토요 진료".into(), "36.7".into()]];
        let text = String::from_utf8(csv_bytes(&rows).unwrap()).unwrap();
        assert_eq!(text, "\u{feff}지표,목표\r\n토요 진료,36.7\r\n");
    }

    /// Fields with a delimiter, a quote or a line break (CR alone too, which the
    /// hand-written writer left unquoted) read back as the same cells.
    #[test]
    fn csv_fields_with_separators_and_line_breaks_round_trip() {
        let rows = vec![vec!["a,b".to_string(), "say \"hi\"".into(), "line\nbreak".into(), "cr\ronly".into(), String::new(), "-".into()]];
        let bytes = csv_bytes(&rows).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("\"a,b\",\"say \"\"hi\"\"\",\"line\nbreak\",\"cr\ronly\",,-\r\n"), "{text:?}");
        let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(&bytes[3..]);
        let read: Vec<Vec<String>> = reader.records().map(|r| r.unwrap().iter().map(String::from).collect()).collect();
        assert_eq!(read, rows);
    }
}
