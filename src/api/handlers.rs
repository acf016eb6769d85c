//! The `/api/v1` handlers: check the token's role, call the same services as
//! the HTML forms (same rules, same transactions), answer with DTOs.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::{lang_of, ApiError, ApiUser, ErrorBody};
use super::dto::*;
use crate::accounts::models::Role;
use crate::applications::models as apps;
use crate::clinic::{models as clinic_models, service as clinic};
use crate::error::AppError;
use crate::results::routes::{load_report, ReportQuery};
use crate::state::AppState;
use crate::time::{now_utc, today_seoul};
use crate::visits::resident_routes::TASKS;
use crate::visits::rules::parse_hhmm;
use crate::visits::{models as visit_models, service as visits};
use crate::web::db;

type ApiResult = Result<HttpResponse, ApiError>;

/// Text from the caller goes into queries: PostgreSQL refuses a NUL
/// character in text, so it is refused here as bad input, not left to fail.
fn plain_text<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<(), ApiError> {
    if values.into_iter().any(|v| v.contains('\0')) {
        return Err(AppError::BadRequest("api.errors.control_character").into());
    }
    Ok(())
}

#[utoipa::path(get, path = "/api/v1/programs", tag = "catalog",
    responses((status = 200, body = [ProgramDto]), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn programs(_who: ApiUser, req: HttpRequest, state: web::Data<AppState>) -> ApiResult {
    let lang = lang_of(&req);
    let list = db(&state, move |conn, state| Ok(state.programs.list(conn, lang)?)).await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(ProgramDto::from).collect::<Vec<_>>()))
}

#[utoipa::path(get, path = "/api/v1/clinic/sessions", tag = "catalog",
    description = "Upcoming Saturday clinic sessions with their slots and seats left.",
    responses((status = 200, body = [ClinicSessionDto]), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn clinic_sessions(_who: ApiUser, req: HttpRequest, state: web::Data<AppState>) -> ApiResult {
    let lang = lang_of(&req);
    let list = db(&state, move |conn, _| {
        let programs = clinic_models::programs(conn, false)?;
        let sessions = clinic::upcoming(conn, today_seoul(), 12)?;
        Ok(sessions.into_iter().map(|(s, slots)| ClinicSessionDto::new(s, slots, &programs, lang)).collect::<Vec<_>>())
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(get, path = "/api/v1/me/applications", tag = "resident",
    responses((status = 200, body = [ApplicationDto]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn my_applications(who: ApiUser, state: web::Data<AppState>) -> ApiResult {
    let user_id = who.require(&[Role::Resident])?.id.clone();
    let list = db(&state, move |conn, _| Ok(apps::list_for_user(conn, &user_id)?)).await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(ApplicationDto::from).collect::<Vec<_>>()))
}

#[utoipa::path(get, path = "/api/v1/me/visits", tag = "resident",
    description = "Her home visits (under her approved application).",
    responses((status = 200, body = [VisitDto]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn my_visits(who: ApiUser, state: web::Data<AppState>) -> ApiResult {
    let user_id = who.require(&[Role::Resident])?.id.clone();
    let list = db(&state, move |conn, _| {
        let Some(app) = visits::approved_application(conn, &user_id)? else { return Ok(vec![]) };
        Ok(visit_models::for_application(conn, &app.id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(VisitDto::from).collect::<Vec<_>>()))
}

#[utoipa::path(get, path = "/api/v1/me/visit-slots", tag = "resident",
    description = "Start times she may book now (with places left), from her agency.",
    responses((status = 200, body = [VisitSlotDto]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn my_visit_slots(who: ApiUser, state: web::Data<AppState>) -> ApiResult {
    let user_id = who.require(&[Role::Resident])?.id.clone();
    let slots = db(&state, move |conn, _| {
        let app = visits::approved_application(conn, &user_id)?.ok_or(AppError::Conflict("visits.errors.not_approved"))?;
        let agency = visits::agency_for(conn, &app)?;
        visits::offered_slots(conn, &app, &agency.id, today_seoul())
    })
    .await?;
    Ok(HttpResponse::Ok().json(slots.into_iter().filter(|s| s.booked < s.capacity).map(VisitSlotDto::from).collect::<Vec<_>>()))
}

#[utoipa::path(post, path = "/api/v1/me/visits", tag = "resident",
    request_body = BookVisitRequest,
    responses((status = 201, body = VisitDto), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn book_visit(who: ApiUser, state: web::Data<AppState>, body: web::Json<BookVisitRequest>) -> ApiResult {
    let user = who.require(&[Role::Resident])?.clone();
    let body = body.into_inner();
    plain_text([body.slot_id.as_str(), body.notes.as_str()].into_iter().chain(body.tasks.iter().map(String::as_str)))?;
    if body.slot_id.is_empty() {
        return Err(AppError::BadRequest("visits.errors.choose_time").into());
    }
    if body.notes.chars().count() > 1000 {
        return Err(AppError::BadRequest("visits.errors.notes_too_long").into());
    }
    if body.tasks.iter().any(|t| !TASKS.contains(&t.as_str())) {
        return Err(AppError::BadRequest("api.errors.unknown_task").into());
    }
    // Stored in the catalog's order, as the form does.
    let tasks = TASKS.iter().filter(|t| body.tasks.iter().any(|b| b == *t)).copied().collect::<Vec<_>>().join(",");
    let input = visits::BookingInput { slot_id: body.slot_id, tasks, notes: body.notes.trim().to_string() };
    let visit = db(&state, move |conn, state| visits::book(conn, &state.notifier, &user, &input, today_seoul())).await?;
    Ok(HttpResponse::Created().json(VisitDto::from(visit)))
}

#[utoipa::path(post, path = "/api/v1/me/visits/{id}/cancel", tag = "resident",
    params(("id" = String, Path, description = "The visit's id")),
    responses((status = 200, body = CancelledVisit), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn cancel_visit(who: ApiUser, state: web::Data<AppState>, path: web::Path<String>) -> ApiResult {
    let user_id = who.require(&[Role::Resident])?.id.clone();
    let visit_id = path.into_inner();
    plain_text([visit_id.as_str()])?;
    let (visit, late) = db(&state, move |conn, state| {
        let late = visits::cancel(conn, &state.notifier, &user_id, &visit_id, now_utc())?;
        Ok((visit_models::find_own(conn, &user_id, &visit_id)?.ok_or(AppError::NotFound)?, late))
    })
    .await?;
    Ok(HttpResponse::Ok().json(CancelledVisit { visit: visit.into(), late }))
}

#[utoipa::path(get, path = "/api/v1/me/clinic-bookings", tag = "resident",
    responses((status = 200, body = [ClinicBookingDto]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn my_clinic_bookings(who: ApiUser, state: web::Data<AppState>) -> ApiResult {
    let user_id = who.require(&[Role::Resident])?.id.clone();
    let list = db(&state, move |conn, _| Ok(clinic_models::bookings_of_user(conn, &user_id)?)).await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(ClinicBookingDto::from).collect::<Vec<_>>()))
}

#[utoipa::path(post, path = "/api/v1/me/clinic-bookings", tag = "resident",
    description = "Books a seat (or, with join_waitlist, a place on the waiting list of a full slot).",
    request_body = BookClinicRequest,
    responses((status = 201, body = ClinicBookingDto), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn book_clinic(who: ApiUser, state: web::Data<AppState>, body: web::Json<BookClinicRequest>) -> ApiResult {
    let user = who.require(&[Role::Resident])?.clone();
    let body = body.into_inner();
    plain_text([body.slot_id.as_str(), body.child_id.as_deref().unwrap_or("")])?;
    let input = clinic::BookingInput {
        slot_id: body.slot_id,
        child_id: body.child_id.filter(|c| !c.is_empty()),
        due_date: body.due_date,
        with_partner: body.with_partner,
        join_waitlist: body.join_waitlist,
    };
    let booking = db(&state, move |conn, state| {
        clinic::book(conn, &state.notifier, &user, &input, today_seoul())?;
        clinic_models::bookings_of_user(conn, &user.id)?
            .into_iter()
            .find(|b| b.slot_id == input.slot_id && matches!(b.status.as_str(), "booked" | "waitlisted"))
            .ok_or(AppError::NotFound)
    })
    .await?;
    Ok(HttpResponse::Created().json(ClinicBookingDto::from(booking)))
}

#[utoipa::path(post, path = "/api/v1/me/clinic-bookings/{id}/cancel", tag = "resident",
    params(("id" = String, Path, description = "The booking's id")),
    responses((status = 200, body = ClinicBookingDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn cancel_clinic(who: ApiUser, state: web::Data<AppState>, path: web::Path<String>) -> ApiResult {
    let user_id = who.require(&[Role::Resident])?.id.clone();
    let booking_id = path.into_inner();
    plain_text([booking_id.as_str()])?;
    let booking = db(&state, move |conn, state| {
        clinic::cancel(conn, &state.notifier, &user_id, &booking_id, now_utc())?;
        clinic_models::bookings_of_user(conn, &user_id)?.into_iter().find(|b| b.id == booking_id).ok_or(AppError::NotFound)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ClinicBookingDto::from(booking)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgencyVisitsQuery {
    /// Only visits in this status.
    pub status: Option<VisitStatus>,
    /// From this day (YYYY-MM-DD).
    pub from: Option<chrono::NaiveDate>,
    /// Up to this day (YYYY-MM-DD).
    pub to: Option<chrono::NaiveDate>,
}

#[utoipa::path(get, path = "/api/v1/agency/visits", tag = "agency",
    description = "The agency's own visits (at most 500, by day).",
    params(AgencyVisitsQuery),
    responses((status = 200, body = [VisitDto]), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn agency_visits(who: ApiUser, state: web::Data<AppState>, q: web::Query<AgencyVisitsQuery>) -> ApiResult {
    let agency_id = who.agency_id()?;
    let q = q.into_inner();
    let filter = visit_models::VisitFilter { agency_id: Some(agency_id), status: q.status.map(|s| s.as_str().to_string()), from: q.from, to: q.to, application_id: None };
    let list = db(&state, move |conn, _| Ok(visit_models::list(conn, &filter, 500)?)).await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(VisitDto::from).collect::<Vec<_>>()))
}

#[utoipa::path(get, path = "/api/v1/agency/helpers", tag = "agency",
    description = "The agency's active helpers, to assign when confirming a visit.",
    responses((status = 200, body = [HelperDto]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn agency_helpers(who: ApiUser, state: web::Data<AppState>) -> ApiResult {
    let agency_id = who.agency_id()?;
    let list = db(&state, move |conn, _| Ok(crate::agencies::helpers_of(conn, &agency_id, true)?)).await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(|h| HelperDto { id: h.id, name: h.name }).collect::<Vec<_>>()))
}

async fn agency_act(who: ApiUser, state: web::Data<AppState>, visit_id: String, action: visits::AgencyAction) -> ApiResult {
    let agency_id = who.agency_id()?;
    plain_text([visit_id.as_str()])?;
    if let visits::AgencyAction::Confirm { helper_id } = &action {
        plain_text([helper_id.as_str()])?;
    }
    let visit = db(&state, move |conn, state| {
        visits::agency_update(conn, &state.notifier, &agency_id, &visit_id, action)?;
        visit_models::find(conn, &visit_id)?.ok_or(AppError::NotFound)
    })
    .await?;
    Ok(HttpResponse::Ok().json(VisitDto::from(visit)))
}

#[utoipa::path(post, path = "/api/v1/agency/visits/{id}/confirm", tag = "agency",
    params(("id" = String, Path, description = "The visit's id")),
    request_body = ConfirmVisitRequest,
    responses((status = 200, body = VisitDto), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn confirm_visit(who: ApiUser, state: web::Data<AppState>, path: web::Path<String>, body: web::Json<ConfirmVisitRequest>) -> ApiResult {
    agency_act(who, state, path.into_inner(), visits::AgencyAction::Confirm { helper_id: body.into_inner().helper_id }).await
}

#[utoipa::path(post, path = "/api/v1/agency/visits/{id}/complete", tag = "agency",
    params(("id" = String, Path, description = "The visit's id")),
    request_body = CompleteVisitRequest,
    responses((status = 200, body = VisitDto), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn complete_visit(who: ApiUser, state: web::Data<AppState>, path: web::Path<String>, body: web::Json<CompleteVisitRequest>) -> ApiResult {
    let body = body.into_inner();
    let (Some(actual_start), Some(actual_end)) = (parse_hhmm(&body.actual_start), parse_hhmm(&body.actual_end)) else {
        return Err(AppError::BadRequest("visits.errors.times").into());
    };
    plain_text([body.tasks_done.as_str()])?;
    if body.tasks_done.chars().count() > 1000 {
        return Err(AppError::BadRequest("visits.errors.notes_too_long").into());
    }
    agency_act(who, state, path.into_inner(), visits::AgencyAction::Complete { actual_start, actual_end, tasks_done: body.tasks_done }).await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// housework (default) or saturday_clinic
    pub program: Option<String>,
    /// Start of the period (YYYY-MM-DD); with `to`, else the program's term.
    pub from: Option<String>,
    pub to: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/staff/reports/results", tag = "staff",
    description = "The results report (targets, actuals, rates, quarters, budget) — the dashboard's JSON export.",
    params(ReportParams),
    responses((status = 200, body = ReportDto), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn results_report(who: ApiUser, req: HttpRequest, state: web::Data<AppState>, q: web::Query<ReportParams>) -> ApiResult {
    who.require(&[Role::Staff])?;
    let lang = lang_of(&req);
    let q = q.into_inner();
    let q = ReportQuery { program: q.program.unwrap_or_default(), from: q.from.unwrap_or_default(), to: q.to.unwrap_or_default(), ..Default::default() };
    let (report, _) = load_report(&state, &q, lang).await?;
    Ok(HttpResponse::Ok().json(ReportDto::from(report)))
}
