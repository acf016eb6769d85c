//! "My schedule": a resident's upcoming home visits and Saturday clinic
//! bookings in one list, in time order, with what to bring and the links to
//! change, cancel or add each to a calendar.

use actix_web::{web, HttpResponse};
use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

use crate::accounts::models::Role;
use crate::clinic::models as clinic;
use crate::db::DbConn;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::state::AppState;
use crate::time::{format_date, now_utc, today_seoul};
use crate::visits::models::{self as visits, ACTIVE};
use crate::visits::rules::{hhmm, start_utc};
use crate::web::routes::Routes;
use crate::web::{db, render, Ctx};

pub fn configure(r: &mut Routes) {
    r.get("/my/schedule", page);
}

/// One appointment on the list.
#[derive(Serialize, Debug)]
pub struct Item {
    /// "visit" or "clinic".
    pub kind: &'static str,
    pub id: String,
    pub title: String,
    pub date: String,
    pub time: String,
    pub status: String,
    /// Key (in the catalog's `schedule` section) of what to prepare, and the
    /// visit's requested tasks.
    pub prepare: &'static str,
    pub tasks: Vec<String>,
    pub can_change: bool,
    pub can_cancel: bool,
    pub has_ics: bool,
    #[serde(skip)]
    pub starts: NaiveDateTime,
}

/// The resident's visits still to come (requested or confirmed) and her
/// clinic bookings still to come (booked or waiting), soonest first.
pub fn upcoming(conn: &mut DbConn, user_id: &str, today: NaiveDate, now: NaiveDateTime, lang: Lang) -> Result<Vec<Item>, AppError> {
    let mut items = Vec::new();
    if let Some(app) = crate::visits::service::approved_application(conn, user_id)? {
        let settings = visits::settings(conn)?;
        for v in visits::for_application(conn, &app.id)? {
            if v.day < today || !ACTIVE.contains(&v.status.as_str()) {
                continue;
            }
            let starts = start_utc(v.day, v.start_minute);
            let in_time = crate::visits::rules::cancel_in_time(starts, now, settings.cancel_cutoff_hours);
            items.push(Item {
                kind: "visit",
                title: String::new(),
                date: format_date(v.day, lang),
                time: format!("{}–{}", hhmm(v.start_minute), hhmm(v.start_minute + v.hours * 60)),
                prepare: "prepare_visit",
                tasks: v.tasks.split(',').filter(|t| !t.is_empty()).map(str::to_string).collect(),
                can_change: in_time,
                can_cancel: true,
                has_ics: v.status == "confirmed",
                status: v.status,
                id: v.id,
                starts,
            });
        }
    }
    for b in clinic::bookings_of_user(conn, user_id)? {
        if !matches!(b.status.as_str(), "booked" | "waitlisted") {
            continue;
        }
        let session = clinic::session(conn, &b.session_id)?.ok_or(AppError::NotFound)?;
        if session.day < today {
            continue;
        }
        let slot = clinic::slot(conn, &b.slot_id)?.ok_or(AppError::NotFound)?;
        let program = clinic::program(conn, &b.program_id)?;
        items.push(Item {
            kind: "clinic",
            title: program.name(lang).to_string(),
            date: format_date(session.day, lang),
            time: format!("{}–{}", hhmm(slot.start_minute), hhmm(slot.end_minute)),
            prepare: if b.child_id.is_some() { "prepare_infant" } else { "prepare_pregnant" },
            tasks: Vec::new(),
            can_change: false,
            can_cancel: true,
            has_ics: b.status == "booked",
            status: b.status,
            id: b.id,
            starts: start_utc(session.day, slot.start_minute),
        });
    }
    items.sort_by_key(|i| i.starts);
    Ok(items)
}

async fn page(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let user = ctx.require(&[Role::Resident])?.clone();
    let lang = ctx.lang;
    let items = db(&state, move |conn, _| upcoming(conn, &user.id, today_seoul(), now_utc(), lang)).await?;
    let mut c = tera::Context::new();
    c.insert("items", &items);
    render(&state, &ctx, "schedule/my.html", c)
}
