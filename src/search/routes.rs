//! `/staff/search`: a GET form (a search changes nothing), staff only.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::service;
use crate::accounts::models::Role;
use crate::audit::{self, Access};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::routes::Routes;
use crate::web::{db, field_errors, render, render_status, Ctx};

pub fn configure(r: &mut Routes) {
    r.get("/staff/search", search);
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SearchQuery {
    /// Absent: the empty form; present (even empty): a search.
    q: Option<String>,
}

async fn search(ctx: Ctx, state: web::Data<AppState>, query: web::Query<SearchQuery>) -> Result<HttpResponse, AppError> {
    let user = ctx.require(&[Role::Staff])?.clone();
    let mut c = tera::Context::new();
    c.insert("limit", &service::LIMIT);
    c.insert("min_name", &super::MIN_NAME_CHARS);
    c.insert("min_digits", &super::MIN_PHONE_DIGITS);
    let Some(raw) = query.into_inner().q else {
        c.insert("q", "");
        return render(&state, &ctx, "search/page.html", c);
    };
    c.insert("q", &raw);
    let term = match super::parse(&raw) {
        Ok(term) => term,
        Err(key) => {
            c.insert("errors", &field_errors(&state, ctx.lang, &[("q", key)]));
            return render_status(&state, &ctx, "search/page.html", &mut c, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let (lang, ip, kind) = (ctx.lang, ctx.ip.clone(), term.kind());
    let results = db(&state, move |conn, state| {
        let results = service::search(conn, &term, lang)?;
        // The log keeps who searched, when, for what kind of term and how
        // much was found; not the term (a name or a phone number kept for
        // years would itself be personal data). A search that found one
        // resident names her, so her own access history shows it.
        let reason = results.summary(&term);
        audit::record(
            conn,
            &state.config.secret_key,
            Access { actor: &user, ip: &ip, subject_user_id: results.sole_resident(), record_id: None, action: "search", reason: &reason },
        )?;
        Ok(results)
    })
    .await?;
    c.insert("kind", kind);
    c.insert("total", &results.total());
    c.insert("results", &results);
    render(&state, &ctx, "search/page.html", c)
}
