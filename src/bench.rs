//! Baselines for the load benchmark (benches/bench.py), measured in the same
//! run as the app: a bare actix-web handler rendering one tera template, and
//! the database's raw write-transaction rate for the booking's write.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix_web::{web, App, HttpResponse, HttpServer};
use diesel::prelude::*;

use crate::config::Config;
use crate::db::schema::{clinic_bookings, clinic_programs, clinic_sessions, clinic_slots, users};
use crate::db::{new_id, write_tx};
use crate::error::AppError;
use crate::startup::Core;
use crate::time::now_utc;

/// `bench-baseline`: GET / renders templates/bench.html, nothing else.
pub fn serve_baseline(config: &Config) -> Result<(), String> {
    let tera = Arc::new(crate::state::load_templates().map_err(|e| e.to_string())?);
    let workers = config.workers.max(1);
    let bind = config.bind_addr.clone();
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            let tera = tera.clone();
            App::new().route(
                "/",
                web::get().to(move || {
                    let tera = tera.clone();
                    async move {
                        let mut c = tera::Context::new();
                        c.insert("title", "baseline");
                        c.insert("items", &["a", "b", "c"]);
                        match tera.render("bench.html", &c) {
                            Ok(body) => HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body),
                            Err(_) => HttpResponse::InternalServerError().finish(),
                        }
                    }
                }),
            )
        })
        .workers(workers)
        .bind(&bind)
        .map_err(|e| e.to_string())?;
        println!("bench-baseline listening on {bind}");
        server.run().await.map_err(|e| e.to_string())
    })
}

/// `bench-db --n N --threads T`: N transactions of the booking's write (a
/// conditional UPDATE of the seat counter and an INSERT of a booking row),
/// straight through the pool, on a slot made for the purpose and removed after.
///
/// `tx_per_s` is the database's rate with one commit per transaction: on
/// SQLite the writer's group commit is turned off for it
/// (`db::GROUP_LIMIT` = 1), so that the baseline the bookings are compared
/// with is what the database does, not what the app's grouping does. Then
/// N more with the grouping on, as the app runs: `grouped_tx_per_s`.
pub fn raw_writes(config: &Config, n: usize, threads: usize) -> Result<String, String> {
    let core = Core::open(config).map_err(|e| e.to_string())?;
    let mut conn = core.pool.get().map_err(|e| e.to_string())?;
    let err = |e: AppError| e.to_string();
    let user_id: String = users::table.filter(users::role.eq("resident")).select(users::id).first(&mut conn).map_err(|e| e.to_string())?;
    let program_id: String = clinic_programs::table.select(clinic_programs::id).first(&mut conn).map_err(|e| e.to_string())?;
    let (session_id, slot_id) = (new_id(), new_id());
    let day = chrono::NaiveDate::from_ymd_opt(2099, 1, 1).unwrap_or_default() + chrono::Duration::days((uuid::Uuid::new_v4().as_u128() % 3000) as i64);
    write_tx(&mut conn, |c| {
        diesel::insert_into(clinic_sessions::table)
            .values((
                clinic_sessions::id.eq(&session_id),
                clinic_sessions::day.eq(day),
                clinic_sessions::start_minute.eq(540),
                clinic_sessions::end_minute.eq(780),
                clinic_sessions::status.eq("open"),
                clinic_sessions::created_at.eq(now_utc()),
            ))
            .execute(c)?;
        diesel::insert_into(clinic_slots::table)
            .values((
                clinic_slots::id.eq(&slot_id),
                clinic_slots::session_id.eq(&session_id),
                clinic_slots::program_id.eq(&program_id),
                clinic_slots::start_minute.eq(540),
                clinic_slots::end_minute.eq(600),
                clinic_slots::capacity.eq(2 * n as i32 + 1),
                clinic_slots::booked.eq(0),
            ))
            .execute(c)?;
        Ok(())
    })
    .map_err(err)?;
    drop(conn);
    let measure = |group_limit: usize| -> Result<f64, String> {
        crate::db::GROUP_LIMIT.store(group_limit, Ordering::SeqCst);
        let done = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                let (pool, done, user_id, program_id, session_id, slot_id) =
                    (core.pool.clone(), done.clone(), user_id.clone(), program_id.clone(), session_id.clone(), slot_id.clone());
                std::thread::spawn(move || -> Result<(), String> {
                    let mut conn = pool.get().map_err(|e| e.to_string())?;
                    while done.fetch_add(1, Ordering::SeqCst) < n {
                        write_tx(&mut conn, |c| {
                            let taken = diesel::update(clinic_slots::table.find(&slot_id).filter(clinic_slots::booked.lt(clinic_slots::capacity)))
                                .set(clinic_slots::booked.eq(clinic_slots::booked + 1))
                                .execute(c)?;
                            if taken != 1 {
                                return Err(AppError::Conflict("full"));
                            }
                            let now = now_utc();
                            // 'cancelled' rows are outside the one-booking-per-person index.
                            diesel::insert_into(clinic_bookings::table)
                                .values((
                                    clinic_bookings::id.eq(new_id()),
                                    clinic_bookings::slot_id.eq(&slot_id),
                                    clinic_bookings::session_id.eq(&session_id),
                                    clinic_bookings::program_id.eq(&program_id),
                                    clinic_bookings::user_id.eq(&user_id),
                                    clinic_bookings::seats.eq(1),
                                    clinic_bookings::status.eq("cancelled"),
                                    clinic_bookings::created_at.eq(now),
                                    clinic_bookings::updated_at.eq(now),
                                ))
                                .execute(c)?;
                            Ok(())
                        })
                        .map_err(|e| e.to_string())?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| "bench thread panicked".to_string())??;
        }
        Ok(started.elapsed().as_secs_f64())
    };
    let group_limit = crate::db::GROUP_LIMIT.load(Ordering::SeqCst);
    let seconds = measure(1)?;
    let grouped = measure(group_limit)?;
    let mut conn = core.pool.get().map_err(|e| e.to_string())?;
    diesel::delete(clinic_sessions::table.find(&session_id)).execute(&mut conn).map_err(|e| e.to_string())?;
    Ok(serde_json::json!({"tx": n, "threads": threads, "seconds": seconds, "tx_per_s": n as f64 / seconds, "grouped_tx_per_s": n as f64 / grouped}).to_string())
}

/// `bench-report [--program P] [--from D --to D] [--reps N]`: the results
/// report timed alone in this process, from the maintained figures and
/// counted from the raw rows as before they were maintained (the same
/// figures, checked equal), median and minimum of N runs each.
pub fn report_timing(config: &Config, program: &str, from: Option<chrono::NaiveDate>, to: Option<chrono::NaiveDate>, reps: usize) -> Result<String, String> {
    use crate::results::{calc::Period, service};
    let core = Core::open(config).map_err(|e| e.to_string())?;
    let mut conn = core.pool.get().map_err(|e| e.to_string())?;
    let term = service::settings(&mut conn, program).map_err(|e| e.to_string())?.term;
    let p = Period { start: from.unwrap_or(term.start), end: to.unwrap_or(term.end) };
    let lang = crate::i18n::Lang::Ko;
    let mut time = |recounted: bool| -> Result<(Vec<f64>, serde_json::Value), String> {
        let mut ms = vec![];
        let mut last = serde_json::Value::Null;
        for _ in 0..reps.max(1) {
            let started = Instant::now();
            let r = if recounted { service::report_recounted(&mut conn, program, p, lang) } else { service::report(&mut conn, program, p, lang) };
            let r = r.map_err(|e| e.to_string())?;
            ms.push(started.elapsed().as_secs_f64() * 1000.0);
            last = serde_json::to_value(&r).map_err(|e| e.to_string())?;
        }
        ms.sort_by(f64::total_cmp);
        Ok((ms, last))
    };
    let (maintained, a) = time(false)?;
    let (recounted, b) = time(true)?;
    let median = |v: &[f64]| v[v.len() / 2];
    Ok(serde_json::json!({
        "program": program, "from": p.start, "to": p.end, "reps": reps.max(1), "same_figures": a == b,
        "maintained_ms": {"median": median(&maintained), "min": maintained[0]},
        "recounted_ms": {"median": median(&recounted), "min": recounted[0]},
    })
    .to_string())
}
