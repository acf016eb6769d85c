//! The resident's side: a guided form (a few questions per page, check your
//! answers, confirmation with a reference number), status and history,
//! withdrawal, answering a request for more information.

use actix_multipart::Multipart;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::models::{self, Application, Status};
use super::rules::{self, Eligibility, RuleSet};
use super::service::{self, DetailsInput, NewDocument, PregnancyInput, SubmitOutcome};
use super::{documents, views};
use crate::accounts::models::{Role, User};
use crate::accounts::routes::Empty;
use crate::error::AppError;
use crate::programs::HOUSEWORK;
use crate::state::AppState;
use crate::time::today_seoul;
use crate::web::routes::Routes;
use crate::web::{db, field_errors, redirect, render, render_status, CsrfForm, Ctx, FormErrors};

pub fn configure(r: &mut Routes) {
    r.get("/apply/housework", start_page)
        .post("/apply/housework", start)
        .get("/my/applications", list)
        .get("/my/applications/{id}", show)
        .get("/my/applications/{id}/details", details_page)
        .post("/my/applications/{id}/details", save_details)
        .get("/my/applications/{id}/pregnancy", pregnancy_page)
        .post("/my/applications/{id}/pregnancy", save_pregnancy)
        .get("/my/applications/{id}/document", document_page)
        .post("/my/applications/{id}/document", upload_document)
        .get("/my/applications/{id}/check", check_page)
        .post("/my/applications/{id}/submit", submit)
        .get("/my/applications/{id}/confirmation", confirmation)
        .get("/my/applications/{id}/withdraw", withdraw_page)
        .post("/my/applications/{id}/withdraw", withdraw)
        .post("/my/applications/{id}/resubmit", resubmit)
        .get("/my/applications/{id}/documents/{doc}", download);
}

fn resident(ctx: &Ctx) -> Result<User, AppError> {
    ctx.require(&[Role::Resident]).cloned()
}

/// The resident's application with its rule set and documents.
struct Loaded {
    app: Application,
    rules: RuleSet,
    docs: Vec<models::Document>,
}

async fn load(state: &web::Data<AppState>, user_id: &str, app_id: &str) -> Result<Loaded, AppError> {
    let (user_id, app_id) = (user_id.to_string(), app_id.to_string());
    db(state, move |conn, _| {
        let app = models::find_own(conn, &user_id, &app_id)?.ok_or(AppError::NotFound)?;
        let rules = rules::find(conn, &app.rule_set_id)?;
        let docs = models::documents(conn, &app.id)?;
        Ok(Loaded { app, rules, docs })
    })
    .await
}

fn base_context(state: &AppState, ctx: &Ctx, l: &Loaded) -> tera::Context {
    let mut c = tera::Context::new();
    c.insert("app", &views::application_view(&l.app, &l.rules, &state.i18n, ctx.lang, today_seoul()));
    c.insert("rules", &views::rules_view(&l.rules, ctx.lang));
    c.insert("documents", &views::document_views(&l.docs, ctx.lang));
    c
}

async fn start_page(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let user = resident(&ctx)?;
    let today = today_seoul();
    let lang = ctx.lang;
    let loaded = db(&state, move |conn, _| {
        if crate::programs::open_name(conn, HOUSEWORK, lang)?.is_none() {
            return Ok(None);
        }
        let program = service::program_id(conn, HOUSEWORK)?;
        let rules = rules::in_force(conn, &program, today)?;
        let open = models::open_for(conn, &user.id, &program)?;
        let used = service::places_used(conn, &program, rules::capacity_year(today))?;
        Ok(Some((rules, open, used)))
    })
    .await?;
    // Not set up, closed, or no rules in force yet (and nothing of hers open):
    // a clear "not open yet" page.
    let Some((rules, open, used)) = loaded.filter(|(rules, open, _)| rules.is_some() || open.is_some()) else {
        return crate::web::pages::not_open(&state, &ctx, None);
    };
    let mut c = tera::Context::new();
    if let Some(r) = &rules {
        c.insert("rules", &views::rules_view(r, ctx.lang));
        c.insert("places_left", &(r.yearly_capacity - used).max(0));
    }
    if let Some(open) = &open {
        c.insert("open_id", &open.id);
        c.insert("open_status", &open.status);
    }
    render(&state, &ctx, "applications/start.html", c)
}

async fn start(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<Empty>) -> Result<HttpResponse, AppError> {
    form.verify(&ctx)?;
    let user = resident(&ctx)?;
    let today = today_seoul();
    let result = db(&state, move |conn, _| {
        let program = service::program_id(conn, HOUSEWORK)?;
        service::start(conn, &user, &program, today)
    })
    .await;
    match result {
        Ok(app) => Ok(redirect(&format!("/my/applications/{}/details", app.id), None)),
        Err(AppError::Conflict("applications.errors.already_open")) => Ok(redirect("/apply/housework", Some("applications.errors.already_open"))),
        Err(e) => Err(e),
    }
}

async fn list(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let user = resident(&ctx)?;
    let today = today_seoul();
    let lang = ctx.lang;
    let rows = db(&state, move |conn, state| {
        let apps = models::list_for_user(conn, &user.id)?;
        let mut out = Vec::with_capacity(apps.len());
        for app in apps {
            let rules = rules::find(conn, &app.rule_set_id)?;
            out.push(views::application_view(&app, &rules, &state.i18n, lang, today));
        }
        Ok(out)
    })
    .await?;
    let mut c = tera::Context::new();
    c.insert("applications", &rows);
    render(&state, &ctx, "applications/list.html", c)
}

async fn show(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let user = resident(&ctx)?;
    let l = load(&state, &user.id, &path).await?;
    if l.app.status() == Status::Draft {
        return Ok(redirect(&format!("/my/applications/{}/check", l.app.id), None));
    }
    let app_id = l.app.id.clone();
    let events = db(&state, move |conn, _| Ok(models::events(conn, &app_id)?)).await?;
    let mut c = base_context(&state, &ctx, &l);
    c.insert("events", &views::event_views(&events, &user.id, ctx.lang));
    c.insert("can_withdraw", &l.app.status().withdrawable());
    render(&state, &ctx, "applications/show.html", c)
}

/// Draft pages only: the resident's draft, or (once submitted) the redirect
/// to its status page.
async fn load_draft(state: &web::Data<AppState>, ctx: &Ctx, app_id: &str) -> Result<Result<(User, Loaded), HttpResponse>, AppError> {
    let user = resident(ctx)?;
    let l = load(state, &user.id, app_id).await?;
    if l.app.status() != Status::Draft {
        return Ok(Err(redirect(&format!("/my/applications/{}", l.app.id), None)));
    }
    Ok(Ok((user, l)))
}

async fn details_page(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (_, l) = match load_draft(&state, &ctx, &path).await? {
        Ok(found) => found,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let form = DetailsInput {
        applicant_name: l.app.applicant_name.clone(),
        birth_date: l.app.birth_date.map(|d| d.to_string()).unwrap_or_default(),
        phone: l.app.phone.clone(),
        email: l.app.email.clone(),
        district_code: l.app.district_code.clone(),
        street_address: l.app.street_address.clone(),
    };
    let mut c = base_context(&state, &ctx, &l);
    c.insert("form", &form);
    render(&state, &ctx, "applications/step_details.html", c)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StepQuery {
    #[serde(rename = "return")]
    return_to: String,
}

fn next_step(app_id: &str, q: &StepQuery, default_step: &str) -> String {
    if q.return_to == "check" {
        format!("/my/applications/{app_id}/check")
    } else {
        format!("/my/applications/{app_id}/{default_step}")
    }
}

async fn save_details(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<StepQuery>,
    form: CsrfForm<DetailsInput>,
) -> Result<HttpResponse, AppError> {
    let input = form.verify(&ctx)?;
    let (user, l) = match load_draft(&state, &ctx, &path).await? {
        Ok(found) => found,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let (uid, aid, rules, inp, today) = (user.id.clone(), l.app.id.clone(), l.rules.clone(), input.clone(), today_seoul());
    let saved = db(&state, move |conn, _| service::save_details(conn, &uid, &aid, &rules, &inp, today)).await?;
    after_step(&state, &ctx, &l, saved, &input, "applications/step_details.html", next_step(&l.app.id, &q, "pregnancy"))
}

/// After a form step: on to the next page, or the same page again with the
/// answers kept and each problem next to its field.
fn after_step<T: serde::Serialize>(
    state: &AppState,
    ctx: &Ctx,
    l: &Loaded,
    saved: Result<(), crate::accounts::service::FieldErrors>,
    input: &T,
    template: &str,
    next: String,
) -> Result<HttpResponse, AppError> {
    match saved {
        Ok(()) => Ok(redirect(&next, None)),
        Err(errors) => {
            let mut c = base_context(state, ctx, l);
            c.insert("form", input);
            c.insert("errors", &field_errors(state, ctx.lang, &errors));
            render_status(state, ctx, template, &mut c, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

async fn pregnancy_page(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (_, l) = match load_draft(&state, &ctx, &path).await? {
        Ok(found) => found,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let declared: Vec<String> = serde_json::from_str(&l.app.priority_groups).unwrap_or_default();
    let form = PregnancyInput {
        due_date: l.app.due_date.map(|d| d.to_string()).unwrap_or_default(),
        residency_start: l.app.residency_start.map(|d| d.to_string()).unwrap_or_default(),
        loss_on: l.app.pregnancy_loss_on.map(|d| d.to_string()).unwrap_or_default(),
        income_within_limit: match l.app.income_within_limit {
            Some(true) => "yes".into(),
            Some(false) => "no".into(),
            None => String::new(),
        },
        extra: declared.into_iter().map(|code| (format!("priority_{code}"), "yes".to_string())).collect(),
    };
    let mut c = base_context(&state, &ctx, &l);
    c.insert("form", &form);
    render(&state, &ctx, "applications/step_pregnancy.html", c)
}

async fn save_pregnancy(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<StepQuery>,
    form: CsrfForm<PregnancyInput>,
) -> Result<HttpResponse, AppError> {
    let input = form.verify(&ctx)?;
    let (user, l) = match load_draft(&state, &ctx, &path).await? {
        Ok(found) => found,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let (uid, aid, rules, inp, today) = (user.id.clone(), l.app.id.clone(), l.rules.clone(), input.clone(), today_seoul());
    let saved = db(&state, move |conn, _| service::save_pregnancy(conn, &uid, &aid, &rules, &inp, today)).await?;
    after_step(&state, &ctx, &l, saved, &input, "applications/step_pregnancy.html", next_step(&l.app.id, &q, "document"))
}

async fn document_page(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (_, l) = match load_draft(&state, &ctx, &path).await? {
        Ok(found) => found,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let c = base_context(&state, &ctx, &l);
    render(&state, &ctx, "applications/step_document.html", c)
}

async fn upload_document(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, payload: Multipart) -> Result<HttpResponse, AppError> {
    let upload = crate::web::upload::read_file(payload, "document", documents::MAX_BYTES).await?;
    ctx.check_csrf(&upload.csrf_token)?;
    let user = resident(&ctx)?;
    let l = load(&state, &user.id, &path).await?;
    let status = l.app.status();
    if !matches!(status, Status::Draft | Status::InfoRequested) {
        return Ok(redirect(&format!("/my/applications/{}", l.app.id), None));
    }
    let template = if status == Status::Draft { "applications/step_document.html" } else { "applications/show.html" };
    let content_type = match documents::validate(&upload.bytes, upload.truncated) {
        Ok(t) => t,
        Err(key) => {
            let mut c = base_context(&state, &ctx, &l);
            // A draft asked for several kinds has one file input per kind
            // (`f-document{kind}`): the error belongs to the one that was sent.
            let kinds = service::required_documents(&l.rules);
            let failed_kind = if status == Status::Draft && kinds.len() > 1 && kinds.contains(&upload.kind) { upload.kind.clone() } else { String::new() };
            let message = state.i18n.t(ctx.lang, key);
            c.insert(
                "errors",
                &serde_json::json!({"list": [{"field": format!("document{failed_kind}"), "message": message}], "by_field": {"document": message}}),
            );
            c.insert("failed_kind", &failed_kind);
            if status != Status::Draft {
                let app_id = l.app.id.clone();
                let events = db(&state, move |conn, _| Ok(models::events(conn, &app_id)?)).await?;
                c.insert("events", &views::event_views(&events, &user.id, ctx.lang));
                c.insert("can_withdraw", &true);
            }
            return render_status(&state, &ctx, template, &mut c, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let kind = if upload.kind.is_empty() { service::DEFAULT_DOCUMENT.to_string() } else { upload.kind.clone() };
    if !service::required_documents(&l.rules).contains(&kind) {
        return Err(AppError::BadRequest("errors.bad_form"));
    }
    let (uid, aid, doc_kind) = (user.id.clone(), l.app.id.clone(), kind.clone());
    let name = if upload.file_name.is_empty() { "document".to_string() } else { upload.file_name.clone() };
    db(&state, move |conn, state| {
        let doc = NewDocument { original_name: &name, content_type, bytes: &upload.bytes };
        service::attach_document(conn, &state.config.document_keys, &uid, &aid, &doc_kind, doc)
    })
    .await?;
    // A draft goes on to the check page once every kind of document is in.
    let all_in = {
        let mut kinds: Vec<String> = l.docs.iter().map(|d| d.kind.clone()).collect();
        kinds.push(kind);
        service::required_documents(&l.rules).iter().all(|k| kinds.contains(k))
    };
    let next = match status {
        Status::Draft if all_in => format!("/my/applications/{}/check", l.app.id),
        Status::Draft => format!("/my/applications/{}/document", l.app.id),
        _ => format!("/my/applications/{}", l.app.id),
    };
    Ok(redirect(&next, Some("documents.flash.uploaded")))
}

async fn check_page(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (_, l) = match load_draft(&state, &ctx, &path).await? {
        Ok(found) => found,
        Err(elsewhere) => return Ok(elsewhere),
    };
    check_page_with(&state, &ctx, &l, FormErrors::default(), StatusCode::OK)
}

fn check_page_with(state: &AppState, ctx: &Ctx, l: &Loaded, errors: FormErrors, status: StatusCode) -> Result<HttpResponse, AppError> {
    let today = today_seoul();
    let missing = service::missing_steps(&l.app, &l.rules, &l.docs);
    let mut c = base_context(state, ctx, l);
    c.insert("missing", &missing);
    if missing.iter().all(|m| *m == "document") && l.app.due_date.is_some() {
        let result = service::precheck(&l.rules, &l.app, today);
        c.insert("precheck_eligible", &(result == Eligibility::Eligible));
        c.insert("precheck_reasons", &views::eligibility_texts(&state.i18n, ctx.lang, &result));
    }
    c.insert("errors", &errors);
    render_status(state, ctx, "applications/check.html", &mut c, status)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SubmitForm {
    consent: String,
}

async fn submit(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<SubmitForm>) -> Result<HttpResponse, AppError> {
    let form = form.verify(&ctx)?;
    let (user, l) = match load_draft(&state, &ctx, &path).await? {
        Ok(found) => found,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let (uid, aid, today, consent) = (user.id.clone(), l.app.id.clone(), today_seoul(), form.consent == "yes");
    let outcome = db(&state, move |conn, state| service::submit(conn, &state.notifier, &uid, &aid, consent, today)).await?;
    match outcome {
        SubmitOutcome::Submitted(app) => Ok(redirect(&format!("/my/applications/{}/confirmation", app.id), None)),
        SubmitOutcome::ConsentMissing => {
            let errors = field_errors(&state, ctx.lang, &[("consent", "applications.errors.consent_required")]);
            check_page_with(&state, &ctx, &l, errors, StatusCode::UNPROCESSABLE_ENTITY)
        }
        SubmitOutcome::Incomplete(_) => {
            let errors = field_errors(&state, ctx.lang, &[("missing", "applications.errors.incomplete")]);
            check_page_with(&state, &ctx, &l, errors, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

async fn confirmation(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let user = resident(&ctx)?;
    let l = load(&state, &user.id, &path).await?;
    if l.app.status() == Status::Draft {
        return Ok(redirect(&format!("/my/applications/{}/check", l.app.id), None));
    }
    let c = base_context(&state, &ctx, &l);
    render(&state, &ctx, "applications/confirmation.html", c)
}

async fn withdraw_page(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let user = resident(&ctx)?;
    let l = load(&state, &user.id, &path).await?;
    if !l.app.status().withdrawable() {
        return Ok(redirect(&format!("/my/applications/{}", l.app.id), None));
    }
    let c = base_context(&state, &ctx, &l);
    render(&state, &ctx, "applications/withdraw.html", c)
}

async fn withdraw(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<Empty>) -> Result<HttpResponse, AppError> {
    form.verify(&ctx)?;
    let user = resident(&ctx)?;
    let app_id = path.into_inner();
    let aid = app_id.clone();
    db(&state, move |conn, state| service::withdraw(conn, &state.notifier, &user.id, &aid)).await?;
    Ok(redirect("/my/applications", Some("applications.flash.withdrawn")))
}

async fn resubmit(ctx: Ctx, state: web::Data<AppState>, path: web::Path<String>, form: CsrfForm<Empty>) -> Result<HttpResponse, AppError> {
    form.verify(&ctx)?;
    let user = resident(&ctx)?;
    let app_id = path.into_inner();
    let aid = app_id.clone();
    db(&state, move |conn, _| service::resubmit(conn, &user.id, &aid)).await?;
    Ok(redirect(&format!("/my/applications/{app_id}"), Some("applications.flash.resubmitted")))
}

/// A stored document as a download that the browser must not sniff or cache.
pub fn file_response(doc: &models::Document, bytes: Vec<u8>) -> HttpResponse {
    let ascii_name: String = doc.original_name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect();
    HttpResponse::Ok()
        .content_type(doc.content_type.as_str())
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{}", crate::web::urlencode(&doc.original_name)),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(bytes)
}

async fn download(ctx: Ctx, state: web::Data<AppState>, path: web::Path<(String, String)>) -> Result<HttpResponse, AppError> {
    let user = resident(&ctx)?;
    let (app_id, doc_id) = path.into_inner();
    let (doc, bytes) = db(&state, move |conn, state| {
        let app = models::find_own(conn, &user.id, &app_id)?.ok_or(AppError::NotFound)?;
        let doc = models::document(conn, &app.id, &doc_id)?.ok_or(AppError::NotFound)?;
        let bytes = documents::content(conn, &state.config.document_keys, &doc.id)?;
        Ok((doc, bytes))
    })
    .await?;
    Ok(file_response(&doc, bytes))
}
