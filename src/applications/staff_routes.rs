//! The staff's side: the review queue with filters, an application with its
//! document (every view and download written to the access log), decisions,
//! the waiting list, the access log for supervisors and the rule versions.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::models::{self, QueueFilter, Status};
use super::rules;
use super::rules_admin::{self, RulesInput};
use super::service::{self, Decision};
use super::{documents, views};
use crate::accounts::models::{Role, User};
use crate::audit::{self, Access};
use crate::error::AppError;
use crate::programs::HOUSEWORK;
use crate::state::AppState;
use crate::time::{seoul_midnight_utc, today_seoul};
use crate::web::routes::Routes;
use crate::web::{db, field_errors, redirect, redirect_error, render, render_status, CsrfForm, Ctx, Page};

pub fn configure(r: &mut Routes) {
    r.get("/staff/applications", queue)
        .get("/staff/applications/{id}", show)
        .post("/staff/applications/{id}/decision", decide)
        .get("/staff/applications/{id}/documents/{doc}", download_page)
        .post("/staff/applications/{id}/documents/{doc}", download)
        .post("/staff/applications/{id}/documents/{doc}/review", review_document)
        .get("/staff/access-log", access_log)
        .get("/staff/rules", rules_list)
        .get("/staff/rules/new", rules_new_page)
        .post("/staff/rules", rules_create);
}

pub(super) fn staff(ctx: &Ctx) -> Result<User, AppError> {
    ctx.require(&[Role::Staff]).cloned()
}

#[derive(Deserialize, Serialize, Default, Clone)]
#[serde(default)]
pub struct QueueQuery {
    pub(super) status: String,
    pub(super) district: String,
    pub(super) week_min: String,
    pub(super) week_max: String,
    pub(super) from: String,
    pub(super) to: String,
    /// 1-based page of the queue on screen (`PAGE_SIZE` rows each).
    pub(super) page: String,
}

/// Rows per page of the queue on screen: a page a person can scan, and a
/// page view that stays fast whatever the queue's length.
pub(super) const PAGE_SIZE: i64 = 50;

impl QueueQuery {
    pub(super) fn filter(&self) -> QueueFilter {
        let date = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
        QueueFilter {
            status: Status::parse(&self.status).map(|s| s.as_str().to_string()),
            district: (!self.district.trim().is_empty()).then(|| self.district.trim().to_string()),
            week_min: self.week_min.trim().parse().ok(),
            week_max: self.week_max.trim().parse().ok(),
            submitted_from: date(&self.from).map(seoul_midnight_utc),
            submitted_to: date(&self.to).map(|d| seoul_midnight_utc(d + chrono::Duration::days(1))),
        }
    }

    /// The page asked for (1 when absent or not a number).
    pub(super) fn page(&self) -> i64 {
        self.page.trim().parse::<i64>().ok().filter(|p| (1..=100_000).contains(p)).unwrap_or(1)
    }

    /// Rows (limit, offset) of that page.
    pub(super) fn rows(&self) -> (i64, i64) {
        (PAGE_SIZE, (self.page() - 1) * PAGE_SIZE)
    }
}

/// The queue: her session and the page's queries in one blocking call (`Page`).
async fn queue(page: Page, state: web::Data<AppState>, q: web::Query<QueueQuery>) -> Result<HttpResponse, AppError> {
    let query = q.into_inner();
    let (filter, rows) = (query.filter(), query.rows());
    let (ctx, data) = page
        .db(&state, move |conn, state, visit| {
            let user = visit.require(&[Role::Staff])?.clone();
            queue_rows(conn, state, &user, &visit.ip, (&filter, rows), visit.lang, ("list", ""))
        })
        .await?;
    render_queue(&state, &ctx, &query, data, StatusCode::OK, |_| {})
}

/// The queue's rows, the rules in force, the year's places used and how many
/// applications the filter finds over all pages.
type QueueData = (Vec<views::ApplicationView>, Option<rules::RuleSet>, i32, i64);

/// The queue as the screen shows it: one view per application of the page
/// (`rows`: limit and offset) of what the filter finds, the rules in force,
/// the year's places used and the total found. The list is written to the
/// access log (`action`: list, or export with its reason).
pub(super) fn queue_rows(
    conn: &mut crate::db::DbConn,
    state: &AppState,
    user: &User,
    ip: &str,
    (filter, rows): (&QueueFilter, (i64, i64)),
    lang: crate::i18n::Lang,
    (action, reason): (&str, &str),
) -> Result<QueueData, AppError> {
    let today = today_seoul();
    let program = service::program_id(conn, HOUSEWORK)?;
    let apps = models::queue(conn, &program, filter, today, rows)?;
    let total = if rows.1 == 0 && (apps.len() as i64) < rows.0 { apps.len() as i64 } else { models::queue_count(conn, &program, filter, today)? };
    let current = rules::in_force(conn, &program, today)?;
    let used = service::places_used(conn, &program, rules::capacity_year(today))?;
    audit::record(conn, &state.config.secret_key, Access { actor: user, ip, subject_user_id: None, record_id: None, action, reason })?;
    // Few rule versions, many applications: load each version once.
    let mut versions: std::collections::HashMap<String, rules::RuleSet> = std::collections::HashMap::new();
    let mut views_of = Vec::with_capacity(apps.len());
    for app in &apps {
        if !versions.contains_key(&app.rule_set_id) {
            versions.insert(app.rule_set_id.clone(), rules::find(conn, &app.rule_set_id)?);
        }
        let r = &versions[&app.rule_set_id];
        views_of.push(views::application_view(app, r, &state.i18n, lang, today));
    }
    Ok((views_of, current, used, total))
}

/// Renders the queue for `query`; `extra` adds to the page (the bulk form's
/// errors and what was typed, when it is shown again).
pub(super) async fn queue_page(
    ctx: Ctx,
    state: web::Data<AppState>,
    query: QueueQuery,
    status: StatusCode,
    extra: impl FnOnce(&mut tera::Context),
) -> Result<HttpResponse, AppError> {
    let user = staff(&ctx)?;
    let (filter, rows) = (query.filter(), query.rows());
    let (lang, ip) = (ctx.lang, ctx.ip.clone());
    let data = db(&state, move |conn, state| queue_rows(conn, state, &user, &ip, (&filter, rows), lang, ("list", ""))).await?;
    render_queue(&state, &ctx, &query, data, status, extra)
}

fn render_queue(
    state: &web::Data<AppState>,
    ctx: &Ctx,
    query: &QueueQuery,
    (rows, rules, used, total): QueueData,
    status: StatusCode,
    extra: impl FnOnce(&mut tera::Context),
) -> Result<HttpResponse, AppError> {
    let mut c = tera::Context::new();
    let (page, offset) = (query.page(), query.rows().1);
    c.insert("applications", &rows);
    c.insert("total", &total);
    c.insert("first", &(offset + 1));
    c.insert("last", &(offset + rows.len() as i64));
    c.insert("offset", &offset);
    c.insert("page", &page);
    let at_page = |p: i64| serde_urlencoded::to_string(QueueQuery { page: p.to_string(), ..query.clone() }).unwrap_or_default();
    if page > 1 {
        c.insert("prev_q", &at_page(page - 1));
    }
    if offset + (rows.len() as i64) < total {
        c.insert("next_q", &at_page(page + 1));
    }
    // The export and the filters keep the filter, not the page.
    c.insert("q", query);
    c.insert("q_string", &serde_urlencoded::to_string(QueueQuery { page: String::new(), ..query.clone() }).unwrap_or_default());
    c.insert("statuses", &Status::ALL.iter().filter(|s| **s != Status::Draft).map(|s| s.as_str()).collect::<Vec<_>>());
    if let Some(r) = &rules {
        c.insert("rules", &views::rules_view(r, ctx.lang));
        c.insert("places_used", &used);
    }
    c.insert("selected", &Vec::<String>::new());
    c.insert("bulk_message", "");
    extra(&mut c);
    render_status(state, ctx, "applications/staff_queue.html", &mut c, status)
}

/// What the application page and its printable summary show.
pub(super) struct Detail {
    pub view: views::ApplicationView,
    pub rules: views::RulesView,
    pub documents: Vec<views::DocumentView>,
    pub events: Vec<views::EventView>,
    /// Why she would not be eligible today under the rules in force (empty: eligible).
    pub reasons_now: Option<Vec<String>>,
}

/// Loads one application for staff and writes the view to the access log
/// (`reason`: empty for the page, "print" for the printable summary).
pub(super) fn detail(conn: &mut crate::db::DbConn, state: &AppState, user: &User, ip: &str, app_id: &str, lang: crate::i18n::Lang, reason: &str) -> Result<Detail, AppError> {
    let today = today_seoul();
    let app = models::find(conn, app_id)?.ok_or(AppError::NotFound)?;
    if app.status() == Status::Draft {
        return Err(AppError::NotFound);
    }
    audit::record(
        conn,
        &state.config.secret_key,
        Access { actor: user, ip, subject_user_id: Some(&app.user_id), record_id: Some(&app.id), action: "view", reason },
    )?;
    let rules = rules::find(conn, &app.rule_set_id)?;
    let docs = models::documents(conn, &app.id)?;
    let events = models::events(conn, &app.id)?;
    // Eligibility today under the rules in force today, for the decision.
    let current = rules::in_force(conn, &app.program_id, today)?;
    let check = current.map(|r| views::eligibility_texts(&state.i18n, lang, &service::precheck(&r, &app, today)));
    Ok(Detail {
        view: views::application_view(&app, &rules, &state.i18n, lang, today),
        rules: views::rules_view(&rules, lang),
        documents: views::document_views(&docs, lang),
        events: views::event_views(&events, &app.user_id, lang),
        reasons_now: check,
    })
}

async fn show(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let user = staff(&ctx)?;
    let app_id = path.into_inner();
    let (lang, ip) = (ctx.lang, ctx.ip.clone());
    let Detail { view, rules: rules_view, documents: docs, events, reasons_now: in_force_check } =
        db(&state, move |conn, state| detail(conn, state, &user, &ip, &app_id, lang, "")).await?;
    let mut c = tera::Context::new();
    let decidable = matches!(Status::parse(&view.status), Some(Status::Submitted | Status::InfoRequested));
    c.insert("can_reject", &(decidable || view.status == "waitlisted"));
    c.insert("decidable", &decidable);
    c.insert("app", &view);
    c.insert("rules", &rules_view);
    c.insert("documents", &docs);
    c.insert("events", &events);
    c.insert("eligible_now", &in_force_check.as_ref().map(|r| r.is_empty()));
    c.insert("reasons_now", &in_force_check.unwrap_or_default());
    render(&state, &ctx, "applications/staff_show.html", c)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DecisionForm {
    action: String,
    income_checked: String,
    reason: String,
    message: String,
}

async fn decide(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<DecisionForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let user = staff(&ctx)?;
    let app_id = path.into_inner();
    let decision = match form.action.as_str() {
        "approve" => Decision::Approve { income_checked: form.income_checked == "yes" },
        "reject" if !form.reason.trim().is_empty() => Decision::Reject(form.reason.trim().chars().take(1000).collect()),
        "request_info" if !form.message.trim().is_empty() => Decision::RequestInfo(form.message.trim().chars().take(1000).collect()),
        "reject" => return Ok(redirect_error(&format!("/staff/applications/{app_id}"), "reason", "applications.errors.reason_required")),
        "request_info" => return Ok(redirect_error(&format!("/staff/applications/{app_id}"), "message", "applications.errors.message_required")),
        _ => return Err(AppError::BadRequest("errors.bad_form")),
    };
    let flash = match &decision {
        Decision::Approve { .. } => "applications.flash.approved",
        Decision::Reject(_) => "applications.flash.rejected",
        Decision::RequestInfo(_) => "applications.flash.info_requested",
    };
    let (aid, ip, today) = (app_id.clone(), ctx.ip.clone(), today_seoul());
    let decided = db(&state, move |conn, state| {
        service::decide(conn, &state.notifier, &user, &aid, decision, today)?;
        let subject = models::find(conn, &aid)?.map(|a| a.user_id);
        audit::record(
            conn,
            &state.config.secret_key,
            Access { actor: &user, ip: &ip, subject_user_id: subject.as_deref(), record_id: Some(&aid), action: "change", reason: "decision" },
        )
    })
    .await;
    match decided {
        Ok(()) => Ok(redirect(&format!("/staff/applications/{app_id}"), Some(flash))),
        Err(AppError::Conflict(key @ "applications.errors.income_unchecked")) => Ok(redirect_error(&format!("/staff/applications/{app_id}"), "income_checked", key)),
        Err(e) => Err(e),
    }
}

async fn download_page(ctx: Ctx, state: web::Data<AppState>, path: web::Path<(String, String)>) -> Result<HttpResponse, AppError> {
    staff(&ctx)?;
    let (app_id, doc_id) = path.into_inner();
    let (aid, did) = (app_id.clone(), doc_id.clone());
    let doc = db(&state, move |conn, _| models::document(conn, &aid, &did)?.ok_or(AppError::NotFound)).await?;
    let mut c = tera::Context::new();
    c.insert("app_id", &app_id);
    c.insert("doc", &views::document_views(std::slice::from_ref(&doc), ctx.lang)[0]);
    render(&state, &ctx, "applications/staff_download.html", c)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReviewForm {
    decision: String,
    note: String,
}

/// Staff accept one document, or mark it to be sent again with what is wrong.
async fn review_document(ctx: Ctx, state: web::Data<AppState>, path: web::Path<(String, String)>, form: CsrfForm<ReviewForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let user = staff(&ctx)?;
    let (app_id, doc_id) = path.into_inner();
    let back = format!("/staff/applications/{app_id}");
    let note: String = form.note.trim().chars().take(300).collect();
    let accepted = match form.decision.as_str() {
        "accept" => true,
        "reject" if !note.is_empty() => false,
        "reject" => return Ok(redirect_error(&back, &format!("note-{doc_id}"), "documents.errors.note_required")),
        _ => return Err(AppError::BadRequest("errors.bad_form")),
    };
    let ip = ctx.ip.clone();
    db(&state, move |conn, state| {
        service::review_document(conn, &user, &app_id, &doc_id, accepted, &note)?;
        let subject = models::find(conn, &app_id)?.map(|a| a.user_id);
        audit::record(
            conn,
            &state.config.secret_key,
            Access { actor: &user, ip: &ip, subject_user_id: subject.as_deref(), record_id: Some(&doc_id), action: "change", reason: "document review" },
        )
    })
    .await?;
    Ok(redirect(&back, Some(if accepted { "documents.flash.accepted" } else { "documents.flash.rejected" })))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReasonForm {
    reason: String,
}

/// Downloads are personal-data exports: the reason is asked and logged.
async fn download(ctx: Ctx, state: web::Data<AppState>, path: web::Path<(String, String)>, form: CsrfForm<ReasonForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let user = staff(&ctx)?;
    let (app_id, doc_id) = path.into_inner();
    let reason = form.reason.trim().chars().take(300).collect::<String>();
    if reason.is_empty() {
        let (aid, did) = (app_id.clone(), doc_id.clone());
        let doc = db(&state, move |conn, _| models::document(conn, &aid, &did)?.ok_or(AppError::NotFound)).await?;
        let mut c = tera::Context::new();
        c.insert("app_id", &app_id);
        c.insert("doc", &views::document_views(std::slice::from_ref(&doc), ctx.lang)[0]);
        c.insert("errors", &field_errors(&state, ctx.lang, &[("reason", "audit.errors.reason_required")]));
        return render_status(&state, &ctx, "applications/staff_download.html", &mut c, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let ip = ctx.ip.clone();
    let (doc, bytes) = db(&state, move |conn, state| {
        let app = models::find(conn, &app_id)?.ok_or(AppError::NotFound)?;
        let doc = models::document(conn, &app.id, &doc_id)?.ok_or(AppError::NotFound)?;
        audit::record(
            conn,
            &state.config.secret_key,
            Access { actor: &user, ip: &ip, subject_user_id: Some(&app.user_id), record_id: Some(&doc.id), action: "download", reason: &reason },
        )?;
        let bytes = documents::content(conn, &state.config.document_keys, &doc.id)?;
        Ok((doc, bytes))
    })
    .await?;
    Ok(super::resident_routes::file_response(&doc, bytes))
}

async fn access_log(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let user = staff(&ctx)?;
    if !user.is_supervisor {
        return Err(AppError::Forbidden);
    }
    let lang = ctx.lang;
    let (entries, broken_at, anchors, waiting) = db(&state, move |conn, state| {
        // Chain what is waiting first, so the page verifies every entry up to now.
        audit::chain_pending(conn, &state.config.secret_key)?;
        let entries = audit::recent(conn, 500, lang)?;
        let broken = audit::verify_chain(conn, &state.config.secret_key)?;
        let anchors: Vec<(String, i64, String)> = audit::anchors(conn, 30)?.into_iter().map(|(d, s, h)| (crate::time::format_date(d, lang), s, h)).collect();
        let (waiting, oldest) = audit::waiting(conn)?;
        Ok((entries, broken, anchors, (waiting, oldest.map(|t| crate::time::format_datetime(t, lang)))))
    })
    .await?;
    let mut c = tera::Context::new();
    c.insert("waiting", &waiting.0);
    c.insert("waiting_since", &waiting.1);
    c.insert("anchors", &anchors);
    c.insert("entries", &entries);
    c.insert("chain_ok", &broken_at.is_none());
    c.insert("broken_at", &broken_at);
    render(&state, &ctx, "applications/access_log.html", c)
}

async fn rules_list(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    staff(&ctx)?;
    let (lang, today) = (ctx.lang, today_seoul());
    let (versions, current) = db(&state, move |conn, _| {
        let program = service::program_id(conn, HOUSEWORK)?;
        let all = rules::list(conn, &program)?;
        let current = rules::in_force(conn, &program, today)?.map(|r| r.version);
        Ok((all.iter().map(|r| views::rules_view(r, lang)).collect::<Vec<_>>(), current))
    })
    .await?;
    let mut c = tera::Context::new();
    c.insert("versions", &versions);
    c.insert("current_version", &current);
    render(&state, &ctx, "applications/rules_list.html", c)
}

async fn rules_new_page(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    staff(&ctx)?;
    let today = today_seoul();
    let input = db(&state, move |conn, _| {
        let program = service::program_id(conn, HOUSEWORK)?;
        let latest = rules::list(conn, &program)?.into_iter().next();
        Ok(latest.map(|r| rules_admin::input_from(&r, today)).unwrap_or_default())
    })
    .await?;
    let mut c = tera::Context::new();
    c.insert("form", &input);
    render(&state, &ctx, "applications/rules_new.html", c)
}

async fn rules_create(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<RulesInput>) -> Result<HttpResponse, AppError> {
    let input = form.verify(&ctx)?;
    let user = staff(&ctx)?;
    match rules_admin::validate(&input) {
        Ok(valid) => {
            db(&state, move |conn, _| {
                let program = service::program_id(conn, HOUSEWORK)?;
                rules_admin::create_version(conn, &program, &valid, Some(&user.id))
            })
            .await?;
            Ok(redirect("/staff/rules", Some("rules.flash.created")))
        }
        Err(errors) => {
            let mut c = tera::Context::new();
            c.insert("form", &input);
            c.insert("errors", &field_errors(&state, ctx.lang, &errors));
            render_status(&state, &ctx, "applications/rules_new.html", &mut c, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}
