//! The monthly statement of one agency: its completed visits of the month
//! helper by helper (date, time, the resident's application reference,
//! planned and actual hours, co-pay, amount), each helper's subtotal and the
//! agency's total, all by the settlement's money rules (`service::settle`).
//! Residents appear only by their application reference (접수번호), never by
//! name: a helper's sheet is handed to her, and her hours are what it is for.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::rules;
use crate::accounts::models::User;
use crate::audit::{self, Access};
use crate::state::AppState;
use crate::time::format_date;
use crate::web::{db, render, Ctx};
use super::service::{settle, Settleable, Settled};
use crate::db::schema::{applications, visits};
use crate::db::DbConn;
use crate::error::AppError;
use crate::web::xlsx::Sheet;

/// One completed visit on the statement.
#[derive(Serialize, Clone, Debug)]
pub struct Line {
    pub visit_id: String,
    pub day: NaiveDate,
    pub time: String,
    /// The resident's application reference (접수번호).
    pub reference: String,
    pub planned_hours: i64,
    /// Recorded actual hours, one decimal ("" when not recorded).
    pub actual_hours: String,
    pub copay: i64,
    pub amount: i64,
}

/// One helper's part: her visits and her subtotal.
#[derive(Serialize, Clone, Debug)]
pub struct HelperPart {
    pub helper_id: String,
    pub name: String,
    pub lines: Vec<Line>,
    pub subtotal: Settled,
    pub actual_hours: String,
}

#[derive(Serialize, Clone, Debug)]
pub struct Statement {
    pub agency_id: String,
    pub agency_name: String,
    pub unit_price: i64,
    /// "2026-11"
    pub month: String,
    pub helpers: Vec<HelperPart>,
    pub total: Settled,
    pub actual_hours: String,
}

fn hours(minutes: i64) -> String {
    format!("{:.1}", minutes as f64 / 60.0)
}

type Row = (String, NaiveDate, i32, i32, Option<NaiveDateTime>, Option<NaiveDateTime>, i32, Option<String>, Option<String>, String);

/// The agency's statement for the month starting on `month` (its first day).
pub fn statement(conn: &mut DbConn, agency_id: &str, month: NaiveDate, next_month: NaiveDate) -> Result<Statement, AppError> {
    let agency = crate::agencies::find(conn, agency_id)?.ok_or(AppError::NotFound)?;
    let unit_price = agency.unit_price_won as i64;
    let rows: Vec<Row> = visits::table
        .inner_join(applications::table)
        .filter(visits::agency_id.eq(agency_id))
        .filter(visits::status.eq("completed"))
        .filter(visits::day.ge(month))
        .filter(visits::day.lt(next_month))
        .order((visits::helper_name.asc(), visits::helper_id.asc(), visits::day.asc(), visits::start_minute.asc()))
        .select((
            visits::id,
            visits::day,
            visits::start_minute,
            visits::hours,
            visits::actual_start,
            visits::actual_end,
            visits::copay_won,
            visits::helper_id,
            visits::helper_name,
            applications::reference,
        ))
        .load(conn)?;
    let mut helpers: Vec<(HelperPart, Vec<Settleable>)> = vec![];
    let mut all: Vec<Settleable> = vec![];
    for (id, day, start, planned, actual_start, actual_end, copay, helper_id, helper_name, reference) in rows {
        let money: Settleable = (planned, actual_start, actual_end, copay);
        let one = settle(unit_price, std::slice::from_ref(&money));
        let line = Line {
            visit_id: id,
            day,
            time: format!("{}–{}", rules::hhmm(start), rules::hhmm(start + planned * 60)),
            reference,
            planned_hours: one.planned_hours,
            actual_hours: if actual_start.is_some() && actual_end.is_some() { hours(one.actual_minutes) } else { String::new() },
            copay: one.copays,
            amount: one.amount,
        };
        let helper_id = helper_id.unwrap_or_default();
        if helpers.last().is_none_or(|(h, _)| h.helper_id != helper_id) {
            let name = helper_name.unwrap_or_else(|| "—".into());
            helpers.push((HelperPart { helper_id, name, lines: vec![], subtotal: Settled::default(), actual_hours: String::new() }, vec![]));
        }
        let (part, money_of_hers) = helpers.last_mut().expect("pushed above");
        part.lines.push(line);
        money_of_hers.push(money);
        all.push(money);
    }
    let helpers = helpers
        .into_iter()
        .map(|(mut part, money)| {
            part.subtotal = settle(unit_price, &money);
            part.actual_hours = hours(part.subtotal.actual_minutes);
            part
        })
        .collect();
    let total = settle(unit_price, &all);
    Ok(Statement {
        agency_id: agency.id,
        agency_name: agency.name,
        unit_price,
        month: month.format("%Y-%m").to_string(),
        helpers,
        total,
        actual_hours: hours(total.actual_minutes),
    })
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`,
/// and not one already used (a second "김민지" becomes "김민지 (2)").
fn sheet_name(wanted: &str, used: &mut Vec<String>) -> String {
    let clean: String = wanted.chars().map(|c| if "[]:*?/\\".contains(c) { '_' } else { c }).collect();
    let clean = clean.trim_matches('\'').trim();
    let clean = if clean.is_empty() { "_" } else { clean };
    let mut n = 1;
    loop {
        let suffix = if n == 1 { String::new() } else { format!(" ({n})") };
        let name: String = clean.chars().take(31 - suffix.chars().count()).collect::<String>() + &suffix;
        if !used.iter().any(|u| u.to_lowercase() == name.to_lowercase()) {
            used.push(name.clone());
            return name;
        }
        n += 1;
    }
}

/// The statement as a workbook's sheets: a summary (one row per helper and
/// the agency's total), then one sheet per helper with her visits and subtotal.
/// `t` translates a `visits.statement.*` key.
pub fn sheets(s: &Statement, t: impl Fn(&str) -> String) -> Vec<Sheet> {
    let mut used = vec![];
    let money_header = |first: &str| -> Vec<String> {
        [first, "visits", "planned_hours", "actual_hours", "amount", "copays", "city_share"].iter().map(|k| t(k)).collect()
    };
    let money_row = |label: String, m: &Settled, actual: &str| -> Vec<String> {
        vec![label, m.visits.to_string(), m.planned_hours.to_string(), actual.to_string(), m.amount.to_string(), m.copays.to_string(), m.city_share.to_string()]
    };
    let mut summary = vec![money_header("helper")];
    for h in &s.helpers {
        summary.push(money_row(h.name.clone(), &h.subtotal, &h.actual_hours));
    }
    summary.push(money_row(t("total"), &s.total, &s.actual_hours));
    let title = |who: &str| {
        let who = if who.is_empty() { String::new() } else { format!(" · {who}") };
        format!("{} {} · {}{who} · {} {}", t("title"), s.month, s.agency_name, t("unit_price"), s.unit_price)
    };
    let mut out = vec![Sheet { name: sheet_name(&t("summary"), &mut used), title: title(""), rows: summary }];
    for h in &s.helpers {
        let mut rows = vec![["date", "time", "reference", "planned_hours", "actual_hours", "copay", "amount"].iter().map(|k| t(k)).collect::<Vec<_>>()];
        for l in &h.lines {
            rows.push(vec![l.day.to_string(), l.time.clone(), l.reference.clone(), l.planned_hours.to_string(), l.actual_hours.clone(), l.copay.to_string(), l.amount.to_string()]);
        }
        rows.push(vec![
            t("subtotal"),
            String::new(),
            String::new(),
            h.subtotal.planned_hours.to_string(),
            h.actual_hours.clone(),
            h.subtotal.copays.to_string(),
            h.subtotal.amount.to_string(),
        ]);
        out.push(Sheet { name: sheet_name(&h.name, &mut used), title: title(&h.name), rows });
    }
    out
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct StatementQuery {
    pub month: String,
    pub format: String,
}

/// The statement as a page (with a month picker) or, with `format=xlsx`, a
/// workbook; either is written to the access log (export or view), since it
/// lists residents' visits (by reference) and helpers' hours. `base` is the
/// page's own path: the agency's, or staff's read-only view of an agency.
pub async fn respond(ctx: &Ctx, state: &web::Data<AppState>, user: User, agency_id: String, q: StatementQuery, base: String) -> Result<HttpResponse, AppError> {
    let start = super::staff_routes::month_start(&q.month);
    let xlsx = q.format == "xlsx";
    let ip = ctx.ip.clone();
    let s = db(state, move |conn, state| {
        let s = statement(conn, &agency_id, start, super::staff_routes::next_month(start))?;
        let what = format!("statement {} {}", s.month, agency_id);
        let action = if xlsx { "export" } else { "view" };
        audit::record(conn, &state.config.secret_key, Access { actor: &user, ip: &ip, subject_user_id: None, record_id: None, action, reason: &what })?;
        Ok(s)
    })
    .await?;
    if xlsx {
        let t = |k: &str| state.i18n.t(ctx.lang, &format!("visits.statement.{k}"));
        return Ok(HttpResponse::Ok()
            .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"naju-statement-{}.xlsx\"", s.month)))
            .body(crate::web::xlsx::workbook(&sheets(&s, t))?));
    }
    let mut c = tera::Context::new();
    c.insert("dates", &s.helpers.iter().map(|h| h.lines.iter().map(|l| format_date(l.day, ctx.lang)).collect::<Vec<_>>()).collect::<Vec<_>>());
    c.insert("s", &s);
    c.insert("base", &base);
    c.insert("staff_view", &base.starts_with("/staff/"));
    render(state, ctx, "visits/statement.html", c)
}

#[cfg(test)]
mod tests {
    use super::sheet_name;

    #[test]
    fn sheet_names_are_short_clean_and_unique() {
        let mut used = vec![];
        assert_eq!(sheet_name("김민지", &mut used), "김민지");
        assert_eq!(sheet_name("김민지", &mut used), "김민지 (2)");
        assert_eq!(sheet_name("a/b:c", &mut used), "a_b_c");
        let long = "x".repeat(40);
        assert_eq!(sheet_name(&long, &mut used).chars().count(), 31);
        assert_eq!(sheet_name(&long, &mut used), format!("{} (2)", "x".repeat(27)));
        assert_eq!(sheet_name("", &mut used), "_");
    }
}
