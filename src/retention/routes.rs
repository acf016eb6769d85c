//! The supervisor's retention page: the periods, what the next run removes
//! (per kind, with its cut-off date), the button to run it now, and the log
//! of every run.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::service::{self, Trigger};
use crate::audit::{self, Access};
use crate::city::routes::supervisor;
use crate::error::AppError;
use crate::state::AppState;
use crate::time::{format_date, format_datetime, now_utc, today_seoul};
use crate::web::routes::Routes;
use crate::web::{db, redirect, render, CsrfForm, Ctx};

pub fn configure(r: &mut Routes) {
    r.get("/staff/retention", page).post("/staff/retention/run", run_now);
}

#[derive(Serialize)]
struct KindRow {
    kind: &'static str,
    days: i32,
    cutoff: String,
    count: i64,
}

#[derive(Serialize)]
struct RunRow {
    id: String,
    started_at: String,
    as_of: String,
    trigger: String,
    by: String,
    counts: Vec<(&'static str, i32)>,
}

async fn page(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    supervisor(&ctx)?;
    let lang = ctx.lang;
    let (preview, runs) = db(&state, |conn, _| Ok((service::preview(conn, today_seoul())?, service::recent_runs(conn, 50)?))).await?;
    let kinds: Vec<KindRow> =
        preview.kinds.into_iter().map(|k| KindRow { kind: k.kind, days: k.days, cutoff: format_date(k.cutoff, lang), count: k.count }).collect();
    let runs: Vec<RunRow> = runs
        .into_iter()
        .map(|r| RunRow {
            id: r.run.id,
            started_at: format_datetime(r.run.started_at, lang),
            as_of: format_date(r.run.as_of, lang),
            trigger: r.run.trigger_kind,
            by: r.actor_name,
            counts: r.counts,
        })
        .collect();
    let mut c = tera::Context::new();
    c.insert("total", &kinds.iter().map(|k| k.count).sum::<i64>());
    c.insert("kinds", &kinds);
    c.insert("runs", &runs);
    c.insert("as_of", &format_date(preview.as_of, lang));
    render(&state, &ctx, "retention/page.html", c)
}

#[derive(Deserialize)]
pub struct RunForm {}

async fn run_now(ctx: Ctx, state: web::Data<AppState>, form: CsrfForm<RunForm>) -> Result<HttpResponse, AppError> {
    form.verify(&ctx)?;
    let user = supervisor(&ctx)?;
    let ip = ctx.ip.clone();
    db(&state, move |conn, state| {
        let run = service::run(conn, today_seoul(), Trigger::Manual, Some(&user.id), now_utc())?;
        let record = run.as_ref().map(|r| r.id.clone());
        audit::record(
            conn,
            &state.config.secret_key,
            Access { actor: &user, ip: &ip, subject_user_id: None, record_id: record.as_deref(), action: "change", reason: "retention run" },
        )
    })
    .await?;
    Ok(redirect("/staff/retention", Some("retention.flash.ran")))
}
