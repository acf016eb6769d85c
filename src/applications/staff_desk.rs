//! Desk tools on the review queue: one "request more information" for several
//! applications at once, the filtered queue as a spreadsheet (the reason asked
//! and written to the access log), and a printable application summary.
//! Only the safe bulk action exists: approving or rejecting stays one by one.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::models::{self, Status};
use super::rules::{self, RuleSet};
use super::service::{self, Decision};
use super::staff_routes::{detail, queue_page, queue_rows, staff, Detail, QueueQuery};
use crate::accounts::session_notes;
use crate::audit::{self, Access};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::programs::HOUSEWORK;
use crate::state::AppState;
use crate::time::{format_datetime, now_utc, today_seoul};
use crate::web::routes::Routes;
use crate::web::{db, field_errors, redirect, render, render_status, CsrfForm, Ctx};

/// The queue shows at most this many rows, so no bulk action or export is larger.
const MAX_ROWS: usize = 500;

pub fn configure(r: &mut Routes) {
    r.post("/staff/applications/bulk", bulk)
        .get("/staff/applications/bulk/{id}", bulk_result)
        .get("/staff/applications/export", export_page)
        .post("/staff/applications/export", export)
        .get("/staff/applications/{id}/print", print);
}

/// A posted form as name/value pairs: the bulk form repeats `ids`, once per
/// ticked row, which a struct cannot hold.
type Pairs = Vec<(String, String)>;

fn value<'a>(pairs: &'a Pairs, name: &str) -> &'a str {
    pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
}

/// The queue's filter sent along with a form, to show the same queue again.
fn query_of(pairs: &Pairs) -> QueueQuery {
    let filter: Vec<(&str, &str)> = ["status", "district", "week_min", "week_max", "from", "to", "page"].iter().map(|k| (*k, value(pairs, k))).collect();
    serde_urlencoded::to_string(&filter).ok().and_then(|s| serde_urlencoded::from_str(&s).ok()).unwrap_or_default()
}

#[derive(Serialize, Deserialize)]
struct Outcome {
    id: String,
    reference: String,
    name: String,
    /// Why it was skipped, translated; empty for a changed one.
    reason: String,
}

/// What a bulk request did, kept for its result page (a session note).
#[derive(Serialize, Deserialize)]
struct BulkResult {
    changed: Vec<Outcome>,
    skipped: Vec<Outcome>,
    message: String,
    q_string: String,
}

/// How long a bulk request's result page can be shown again.
const RESULT_KEPT_MINUTES: i64 = 60;

/// Asks every ticked application for more information with one message. Each
/// goes through the single decision's service function (`service::decide`),
/// so the same status rule applies and its email is rendered before its
/// write; each application is its own transaction, so one that cannot change
/// (its status moved on, even between the page and the click) is skipped and
/// reported without undoing the others, and no lock is held across hundreds.
/// The outcome is kept on the server for this session and shown by a GET
/// (Post/Redirect/Get), so reloading the result page sends nothing again.
async fn bulk(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<Pairs>) -> Result<HttpResponse, AppError> {
    let pairs = form.verify(&ctx)?;
    let user = staff(&ctx)?;
    if value(&pairs, "action") != "request_info" {
        return Err(AppError::BadRequest("errors.bad_form"));
    }
    let query = query_of(&pairs);
    let mut ids: Vec<String> = Vec::new();
    for (k, v) in &pairs {
        if k == "ids" && !v.is_empty() && !ids.contains(v) && ids.len() < MAX_ROWS {
            ids.push(v.clone());
        }
    }
    let message: String = value(&pairs, "message").trim().chars().take(1000).collect();
    let mut errors = vec![];
    if ids.is_empty() {
        errors.push(("ids", "desk.bulk.errors.none_selected"));
    }
    if message.is_empty() {
        errors.push(("message", "applications.errors.message_required"));
    }
    if !errors.is_empty() {
        let errors = field_errors(&state, ctx.lang, &errors);
        let typed = value(&pairs, "message").to_string();
        return queue_page(ctx, state, query, StatusCode::UNPROCESSABLE_ENTITY, move |c| {
            c.insert("errors", &errors);
            c.insert("selected", &ids);
            c.insert("bulk_message", &typed);
        })
        .await;
    }
    let (lang, ip, session_key) = (ctx.lang, ctx.ip.clone(), ctx.session_key.clone());
    let q_string = serde_urlencoded::to_string(&query).unwrap_or_default();
    let note = db(&state, move |conn, state| {
        let (mut changed, mut skipped) = (vec![], vec![]);
        let t = |key: &str, args: &[(&str, &str)]| state.i18n.t_with(lang, key, args);
        for id in &ids {
            let Some(app) = models::find(conn, id)?.filter(|a| a.status() != Status::Draft) else {
                skipped.push(Outcome { id: id.clone(), reference: String::new(), name: String::new(), reason: t("desk.bulk.skip.not_found", &[]) });
                continue;
            };
            let mut outcome = Outcome { id: app.id.clone(), reference: app.reference.clone(), name: app.applicant_name.clone(), reason: String::new() };
            match service::decide(conn, &state.notifier, &user, &app.id, Decision::RequestInfo(message.clone()), today_seoul()) {
                Ok(()) => {
                    audit::record(
                        conn,
                        &state.config.secret_key,
                        Access { actor: &user, ip: &ip, subject_user_id: Some(&app.user_id), record_id: Some(&app.id), action: "change", reason: "bulk decision" },
                    )?;
                    changed.push(outcome);
                }
                Err(AppError::Conflict("applications.errors.not_decidable")) => {
                    // Read again: the status that refused it may be newer than the one loaded above.
                    let now = models::find(conn, &app.id)?.map(|a| a.status).unwrap_or(app.status);
                    outcome.reason = t("desk.bulk.skip.status", &[("status", &state.i18n.t(lang, &format!("status.{now}")))]);
                    skipped.push(outcome);
                }
                Err(AppError::Conflict(key)) => {
                    outcome.reason = t(key, &[]);
                    skipped.push(outcome);
                }
                Err(e) => {
                    // The ones before were saved and notified; report this one and go on.
                    tracing::error!(error = %e, "bulk request for information failed for one application");
                    outcome.reason = t("desk.bulk.skip.failed", &[]);
                    skipped.push(outcome);
                }
            }
        }
        let result = BulkResult { changed, skipped, message, q_string };
        let body = serde_json::to_string(&result).map_err(|e| AppError::Internal(e.to_string()))?;
        session_notes::put(conn, &session_key, session_notes::BULK_RESULT, &body, chrono::Duration::minutes(RESULT_KEPT_MINUTES))
    })
    .await?;
    Ok(redirect(&format!("/staff/applications/bulk/{note}"), None))
}

/// A bulk request's result (which were asked, which skipped and why), for
/// the session that made it while it is kept; otherwise back to the queue.
async fn bulk_result(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    staff(&ctx)?;
    let (session_key, id) = (ctx.session_key.clone(), path.into_inner());
    let body = db(&state, move |conn, _| session_notes::read(conn, &session_key, &id, session_notes::BULK_RESULT)).await?;
    let Some(result) = body.and_then(|b| serde_json::from_str::<BulkResult>(&b).ok()) else {
        return Ok(redirect("/staff/applications", Some("desk.bulk.result_gone")));
    };
    let mut c = tera::Context::new();
    c.insert("changed", &result.changed);
    c.insert("skipped", &result.skipped);
    c.insert("message", &result.message);
    c.insert("q_string", &result.q_string);
    render(&state, &ctx, "applications/staff_bulk_result.html", c)
}

/// The filter's conditions in words, for the export page.
fn filter_texts(state: &AppState, lang: Lang, q: &QueueQuery, rules: Option<&RuleSet>) -> Vec<(String, String)> {
    let t = |k: &str| state.i18n.t(lang, k);
    let mut out = vec![];
    if let Some(s) = Status::parse(&q.status) {
        out.push((t("staff_apps.queue.status"), t(&format!("status.{}", s.as_str()))));
    }
    for (key, v) in [
        ("applications.details.district", &q.district),
        ("staff_apps.queue.week_min", &q.week_min),
        ("staff_apps.queue.week_max", &q.week_max),
        ("staff_apps.queue.from", &q.from),
        ("staff_apps.queue.to", &q.to),
    ] {
        if !v.trim().is_empty() {
            let shown = if key == "applications.details.district" { rules.and_then(|r| r.district_name(v.trim())).unwrap_or(v.trim()).to_string() } else { v.trim().to_string() };
            out.push((t(key), shown));
        }
    }
    out
}

/// The export page: the filter in words, kept in hidden fields, and the reason asked.
async fn export_form(state: &web::Data<AppState>, ctx: &Ctx, query: &QueueQuery) -> Result<tera::Context, AppError> {
    let rules = db(state, |conn, _| {
        let program = service::program_id(conn, HOUSEWORK)?;
        Ok(rules::in_force(conn, &program, today_seoul())?)
    })
    .await?;
    let mut c = tera::Context::new();
    c.insert("q", query);
    c.insert("q_string", &serde_urlencoded::to_string(query).unwrap_or_default());
    c.insert("conditions", &filter_texts(state, ctx.lang, query, rules.as_ref()));
    Ok(c)
}

async fn export_page(ctx: Ctx, state: web::Data<AppState>, q: web::Query<QueueQuery>) -> Result<HttpResponse, AppError> {
    staff(&ctx)?;
    let c = export_form(&state, &ctx, &q).await?;
    render(&state, &ctx, "applications/staff_export.html", c)
}

/// The queue as filtered, as an XLSX file with the screen's columns. It holds
/// personal data, so the reason is required and logged with the export.
async fn export(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<Pairs>) -> Result<HttpResponse, AppError> {
    let pairs = form.verify(&ctx)?;
    let user = staff(&ctx)?;
    let query = query_of(&pairs);
    let reason: String = value(&pairs, "reason").trim().chars().take(300).collect();
    if reason.is_empty() {
        let mut c = export_form(&state, &ctx, &query).await?;
        c.insert("errors", &field_errors(&state, ctx.lang, &[("reason", "audit.errors.reason_required")]));
        return render_status(&state, &ctx, "applications/staff_export.html", &mut c, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (lang, ip, filter) = (ctx.lang, ctx.ip.clone(), query.filter());
    // The whole filtered queue, not the page on screen (up to MAX_ROWS).
    let all = (MAX_ROWS as i64, 0);
    let (rows, rules, _, _) = db(&state, move |conn, state| queue_rows(conn, state, &user, &ip, (&filter, all), lang, ("export", &reason))).await?;
    let t = |k: &str| state.i18n.t(lang, k);
    let waitlist = query.status == Status::Waitlisted.as_str();
    // The same columns as the queue on screen (staff_queue.html), in its order.
    let mut header = vec![];
    if waitlist {
        header.push(t("staff_apps.queue.position"));
    }
    for k in ["applications.confirmation.reference", "applications.details.name", "applications.details.district", "staff_apps.queue.week", "applications.show.submitted", "staff_apps.queue.status", "staff_apps.queue.precheck"] {
        header.push(t(k));
    }
    let mut table = vec![header];
    for (i, a) in rows.iter().enumerate() {
        let mut row = vec![];
        if waitlist {
            row.push((i + 1).to_string());
        }
        let precheck = if a.precheck_eligible == Some(true) { "staff_apps.queue.looks_eligible" } else { "staff_apps.queue.check_needed" };
        row.extend([a.reference.clone(), a.applicant_name.clone(), a.district.clone(), a.week_today.clone(), a.submitted.clone(), t(&format!("status.{}", a.status)), t(precheck)]);
        table.push(row);
    }
    let when = format_datetime(now_utc(), lang);
    let conditions = filter_texts(&state, lang, &query, rules.as_ref()).iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ");
    let title = format!("{} ({when}{}{conditions})", t("staff_apps.queue.title"), if conditions.is_empty() { "" } else { "; " });
    let sheet = crate::web::xlsx::Sheet { name: t("desk.export.sheet"), title, rows: table };
    let file = format!("naju-applications-{}.xlsx", today_seoul().format("%Y%m%d"));
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(crate::web::xlsx::workbook(&[sheet])?))
}

/// A one-page summary of an application to print (applicant, dates, status
/// history, documents, decision); the view is logged like the page's.
async fn print(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let user = staff(&ctx)?;
    let app_id = path.into_inner();
    let (lang, ip) = (ctx.lang, ctx.ip.clone());
    let Detail { view, rules, documents, events, .. } = db(&state, move |conn, state| detail(conn, state, &user, &ip, &app_id, lang, "print")).await?;
    let mut c = tera::Context::new();
    c.insert("app", &view);
    c.insert("rules", &rules);
    c.insert("documents", &documents);
    c.insert("events", &events);
    c.insert("printed_at", &format_datetime(now_utc(), lang));
    render(&state, &ctx, "applications/staff_print.html", c)
}
