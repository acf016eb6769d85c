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
use crate::time::{seoul, today_seoul};
use crate::web::routes::Routes;
use crate::web::{db, field_errors, redirect, render, render_status, CsrfForm, Ctx, Page};

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

fn staff(ctx: &Ctx) -> Result<User, AppError> {
    ctx.require(&[Role::Staff]).cloned()
}

#[derive(Deserialize, Serialize, Default, Clone)]
#[serde(default)]
pub struct QueueQuery {
    status: String,
    district: String,
    week_min: String,
    week_max: String,
    from: String,
    to: String,
}

fn seoul_day_start_utc(d: NaiveDate) -> Option<chrono::NaiveDateTime> {
    use chrono::TimeZone;
    d.and_hms_opt(0, 0, 0).and_then(|t| seoul().from_local_datetime(&t).single()).map(|t| t.naive_utc())
}

impl QueueQuery {
    fn filter(&self) -> QueueFilter {
        let date = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
        QueueFilter {
            status: Status::parse(&self.status).map(|s| s.as_str().to_string()),
            district: (!self.district.trim().is_empty()).then(|| self.district.trim().to_string()),
            week_min: self.week_min.trim().parse().ok(),
            week_max: self.week_max.trim().parse().ok(),
            submitted_from: date(&self.from).and_then(seoul_day_start_utc),
            submitted_to: date(&self.to).and_then(|d| seoul_day_start_utc(d + chrono::Duration::days(1))),
        }
    }
}

async fn queue(page: Page, state: web::Data<AppState>, q: web::Query<QueueQuery>) -> Result<HttpResponse, AppError> {
    let query = q.into_inner();
    let filter = query.filter();
    let today = today_seoul();
    let (ctx, (rows, rules, used)) = page.db(&state, move |conn, state, visit| {
        let user = visit.require(&[Role::Staff])?;
        let (lang, ip) = (visit.lang, &visit.ip);
        let program = service::program_id(conn, HOUSEWORK)?;
        let apps = models::queue(conn, &program, &filter, today, 500)?;
        let current = rules::in_force(conn, &program, today)?;
        let used = service::places_used(conn, &program, rules::capacity_year(today))?;
        audit::record(conn, &state.config.secret_key, Access { actor: user, ip, subject_user_id: None, record_id: None, action: "list", reason: "" })?;
        // Few rule versions, many applications: load each version once.
        let mut versions: std::collections::HashMap<String, rules::RuleSet> = std::collections::HashMap::new();
        let mut rows = Vec::with_capacity(apps.len());
        for app in &apps {
            if !versions.contains_key(&app.rule_set_id) {
                versions.insert(app.rule_set_id.clone(), rules::find(conn, &app.rule_set_id)?);
            }
            let r = &versions[&app.rule_set_id];
            rows.push(views::application_view(app, r, &state.i18n, lang, today));
        }
        Ok((rows, current, used))
    })
    .await?;
    let mut c = tera::Context::new();
    c.insert("applications", &rows);
    c.insert("q", &query);
    c.insert("statuses", &Status::ALL.iter().filter(|s| **s != Status::Draft).map(|s| s.as_str()).collect::<Vec<_>>());
    if let Some(r) = &rules {
        c.insert("rules", &views::rules_view(r, ctx.lang));
        c.insert("places_used", &used);
    }
    render(&state, &ctx, "applications/staff_queue.html", c)
}

async fn show(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let user = staff(&ctx)?;
    let app_id = path.into_inner();
    let (lang, ip, today) = (ctx.lang, ctx.ip.clone(), today_seoul());
    let (view, rules_view, docs, events, in_force_check) = db(&state, move |conn, state| {
        let app = models::find(conn, &app_id)?.ok_or(AppError::NotFound)?;
        if app.status() == Status::Draft {
            return Err(AppError::NotFound);
        }
        audit::record(
            conn,
            &state.config.secret_key,
            Access { actor: &user, ip: &ip, subject_user_id: Some(&app.user_id), record_id: Some(&app.id), action: "view", reason: "" },
        )?;
        let rules = rules::find(conn, &app.rule_set_id)?;
        let docs = models::documents(conn, &app.id)?;
        let events = models::events(conn, &app.id)?;
        // Eligibility today under the rules in force today, for the decision.
        let current = rules::in_force(conn, &app.program_id, today)?;
        let check = current.map(|r| views::eligibility_texts(&state.i18n, lang, &service::precheck(&r, &app, today)));
        Ok((
            views::application_view(&app, &rules, &state.i18n, lang, today),
            views::rules_view(&rules, lang),
            views::document_views(&docs, lang),
            views::event_views(&events, &app.user_id, lang),
            check,
        ))
    })
    .await?;
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
        "reject" => return Ok(redirect(&format!("/staff/applications/{app_id}"), Some("applications.errors.reason_required"))),
        "request_info" => return Ok(redirect(&format!("/staff/applications/{app_id}"), Some("applications.errors.message_required"))),
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
        Err(AppError::Conflict(key @ "applications.errors.income_unchecked")) => Ok(redirect(&format!("/staff/applications/{app_id}"), Some(key))),
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
        "reject" => return Ok(redirect(&back, Some("documents.errors.note_required"))),
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
