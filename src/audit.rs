//! The personal-data access log required by Korea's safety standard: who
//! (account, role, IP) did what (view, download, export, change) to whose data,
//! when, and why. Rows are hash-chained with SECRET_KEY, so an edited or
//! removed row breaks the chain that a supervisor can verify. An access is
//! appended freely and chained in batches by the background worker moments
//! later, so staff page views never wait for one another.

use chrono::{NaiveDateTime, Timelike};
use diesel::prelude::*;
use serde::Serialize;

use crate::accounts::models::User;
use crate::crypto::keyed_hash;
use crate::db::schema::{access_log, access_log_pending, users};
use crate::db::{new_id, DbConn};
use crate::error::AppError;
use crate::time::now_utc;

pub struct Access<'a> {
    pub actor: &'a User,
    pub ip: &'a str,
    pub subject_user_id: Option<&'a str>,
    pub record_id: Option<&'a str>,
    /// view, download, export, change
    pub action: &'a str,
    pub reason: &'a str,
}

const GENESIS: &str = "genesis";

#[allow(clippy::too_many_arguments)]
fn row_hash(
    secret: &str,
    seq: i64,
    at: NaiveDateTime,
    actor_id: &str,
    role: &str,
    ip: &str,
    subject: Option<&str>,
    record: Option<&str>,
    action: &str,
    reason: &str,
    prev: &str,
) -> String {
    let line = format!(
        "{seq}|{}|{actor_id}|{role}|{ip}|{}|{}|{action}|{reason}|{prev}",
        at.format("%Y-%m-%dT%H:%M:%S%.6f"),
        subject.unwrap_or(""),
        record.unwrap_or("")
    );
    keyed_hash(secret, "access-log", &line)
}

/// Appends one entry: a plain INSERT into `access_log_pending`, with no read
/// of the chain, so staff page views do not queue behind one another. The
/// worker numbers and chains it within seconds (`chain_pending`), keyed with
/// SECRET_KEY; `_secret` stays in the signature for the callers' sake.
pub fn record(conn: &mut DbConn, _secret: &str, a: Access<'_>) -> Result<(), AppError> {
    let now = now_utc();
    // Stored at microsecond precision on both backends, as the chain hashes it.
    let at = now.with_nanosecond(now.nanosecond() / 1000 * 1000).unwrap_or(now);
    crate::db::write_one(conn, |conn| Ok(diesel::insert_into(access_log_pending::table)
        .values((
            access_log_pending::id.eq(new_id()),
            access_log_pending::at.eq(at),
            access_log_pending::actor_id.eq(&a.actor.id),
            access_log_pending::actor_role.eq(a.actor.role.as_str()),
            access_log_pending::ip.eq(a.ip),
            access_log_pending::subject_user_id.eq(a.subject_user_id),
            access_log_pending::record_id.eq(a.record_id),
            access_log_pending::action.eq(a.action),
            access_log_pending::reason.eq(a.reason),
        ))
        .execute(conn)?))?;
    Ok(())
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = access_log_pending)]
struct Pending {
    id: String,
    at: NaiveDateTime,
    actor_id: String,
    actor_role: String,
    ip: String,
    subject_user_id: Option<String>,
    record_id: Option<String>,
    action: String,
    reason: String,
}

/// Entries chained per transaction: short enough that SQLite's write lock is
/// held for milliseconds.
const CHAIN_BATCH: i64 = 200;

/// Moves the waiting entries into the chain, oldest first, one batch per
/// transaction; returns how many. Each batch first updates the single
/// `access_log_chainer` row, so concurrent chainers (every instance's worker,
/// the supervisor's page) take turns; the unique sequence number is the
/// backstop. Safe to call from anywhere, any number of times.
pub fn chain_pending(conn: &mut DbConn, secret: &str) -> Result<usize, AppError> {
    let mut total = 0;
    loop {
        let waiting: bool = diesel::select(diesel::dsl::exists(access_log_pending::table.select(access_log_pending::id))).get_result(conn)?;
        if !waiting {
            return Ok(total);
        }
        let chained = crate::db::write_tx(conn, |conn| chain_batch(conn, secret))?;
        total += chained;
        if chained < CHAIN_BATCH as usize {
            return Ok(total);
        }
    }
}

fn chain_batch(conn: &mut DbConn, secret: &str) -> Result<usize, AppError> {
    use crate::db::schema::access_log_chainer as chainer;
    let turn = diesel::update(chainer::table.find(1))
        .set((chainer::batches.eq(chainer::batches + 1), chainer::chained_at.eq(Some(now_utc()))))
        .execute(conn)?;
    if turn != 1 {
        return Err(AppError::Internal("access log: the chainer row is missing".into()));
    }
    let batch: Vec<Pending> = access_log_pending::table
        .order((access_log_pending::at.asc(), access_log_pending::id.asc()))
        .limit(CHAIN_BATCH)
        .select(Pending::as_select())
        .load(conn)?;
    // Retention never removes the newest entry, but should the log ever be
    // empty the chain goes on from the last entry it removed.
    let last = match tail(conn)? {
        Some(t) => Some(t),
        None => crate::retention::service::access_log_horizon(conn)?,
    };
    let (mut seq, mut prev) = last.unwrap_or((0, GENESIS.to_string()));
    for p in &batch {
        seq += 1;
        let (subject, record) = (p.subject_user_id.as_deref(), p.record_id.as_deref());
        let hash = row_hash(secret, seq, p.at, &p.actor_id, &p.actor_role, &p.ip, subject, record, &p.action, &p.reason, &prev);
        diesel::insert_into(access_log::table)
            .values((
                access_log::seq.eq(seq),
                access_log::at.eq(p.at),
                access_log::actor_id.eq(&p.actor_id),
                access_log::actor_role.eq(&p.actor_role),
                access_log::ip.eq(&p.ip),
                access_log::subject_user_id.eq(subject),
                access_log::record_id.eq(record),
                access_log::action.eq(&p.action),
                access_log::reason.eq(&p.reason),
                access_log::prev_hash.eq(&prev),
                access_log::hash.eq(&hash),
            ))
            .execute(conn)?;
        prev = hash;
    }
    let ids: Vec<&str> = batch.iter().map(|p| p.id.as_str()).collect();
    diesel::delete(access_log_pending::table.filter(access_log_pending::id.eq_any(&ids))).execute(conn)?;
    Ok(batch.len())
}

/// Entries not chained yet and the time of the oldest: the worker keeps
/// these few and seconds old; until chained they are not tamper-evident.
pub fn waiting(conn: &mut DbConn) -> Result<(i64, Option<NaiveDateTime>), AppError> {
    let count: i64 = access_log_pending::table.count().get_result(conn)?;
    let oldest: Option<NaiveDateTime> = access_log_pending::table.select(diesel::dsl::min(access_log_pending::at)).first(conn)?;
    Ok((count, oldest))
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = access_log)]
pub struct Entry {
    pub seq: i64,
    pub at: NaiveDateTime,
    pub actor_id: String,
    pub actor_role: String,
    pub ip: String,
    pub subject_user_id: Option<String>,
    pub record_id: Option<String>,
    pub action: String,
    pub reason: String,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Serialize)]
pub struct EntryView {
    pub seq: i64,
    pub at: String,
    pub actor_name: String,
    pub actor_role: String,
    pub ip: String,
    pub subject_name: String,
    pub record_id: String,
    pub action: String,
    pub reason: String,
}

/// The newest entries, with names resolved, for the supervisor's page.
pub fn recent(conn: &mut DbConn, limit: i64, lang: crate::i18n::Lang) -> Result<Vec<EntryView>, AppError> {
    let entries: Vec<Entry> = access_log::table.order(access_log::seq.desc()).limit(limit).select(Entry::as_select()).load(conn)?;
    let mut ids: Vec<&str> = entries.iter().map(|e| e.actor_id.as_str()).collect();
    ids.extend(entries.iter().filter_map(|e| e.subject_user_id.as_deref()));
    let names: std::collections::HashMap<String, String> =
        users::table.filter(users::id.eq_any(&ids)).select((users::id, users::name)).load(conn)?.into_iter().collect();
    Ok(entries
        .iter()
        .map(|e| EntryView {
            seq: e.seq,
            at: crate::time::format_datetime(e.at, lang),
            actor_name: names.get(&e.actor_id).cloned().unwrap_or_else(|| e.actor_id.clone()),
            actor_role: e.actor_role.clone(),
            ip: e.ip.clone(),
            subject_name: e.subject_user_id.as_ref().and_then(|s| names.get(s).cloned()).unwrap_or_default(),
            record_id: e.record_id.clone().unwrap_or_default(),
            action: e.action.clone(),
            reason: e.reason.clone(),
        })
        .collect())
}

/// Once a day (Seoul date) the chain's tail is anchored: its last sequence
/// number and hash are stored in `access_log_anchors` and emailed to every
/// active supervisor, a copy outside the database. Safe to run from every
/// instance: the day is the anchor's key. Returns whether this call anchored.
pub fn anchor_daily(conn: &mut DbConn, notifier: &crate::notify::Notifier, now: NaiveDateTime) -> Result<bool, AppError> {
    use crate::db::schema::access_log_anchors as anchors;
    let day = crate::time::to_seoul(now).date_naive();
    let done: i64 = anchors::table.filter(anchors::day.eq(day)).count().get_result(conn)?;
    if done > 0 {
        return Ok(false);
    }
    // The digests, rendered before the transaction from the tail and the
    // supervisors as they are now; used inside it if they are still the same.
    let ready: Vec<crate::notify::Rendered> = match tail(conn)? {
        Some((seq, hash)) => {
            let supervisors = supervisors(conn)?;
            supervisors.iter().filter_map(|s| notifier.prepare(conn, Ok(digest_mail(s, day, seq, &hash)))).collect()
        }
        None => Vec::new(),
    };
    let result = crate::db::write_tx(conn, |conn| {
        // An empty log has no tail to anchor yet: the next round tries again.
        let Some((seq, hash)) = tail(conn)? else {
            return Ok(false);
        };
        diesel::insert_into(anchors::table)
            .values((anchors::day.eq(day), anchors::last_seq.eq(seq), anchors::last_hash.eq(&hash), anchors::created_at.eq(now)))
            .execute(conn)?;
        for (i, s) in supervisors(conn)?.iter().enumerate() {
            notifier.enqueue_prepared(conn, digest_mail(s, day, seq, &hash), ready.get(i))?;
        }
        Ok(true)
    });
    match result {
        Ok(anchored) => Ok(anchored),
        Err(AppError::Db(e)) if crate::db::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The chain's last sequence number and hash.
fn tail(conn: &mut DbConn) -> Result<Option<(i64, String)>, AppError> {
    Ok(access_log::table.order(access_log::seq.desc()).select((access_log::seq, access_log::hash)).first(conn).optional()?)
}

/// Active supervisors: (id, email, locale), in a fixed order.
fn supervisors(conn: &mut DbConn) -> Result<Vec<(String, String, String)>, AppError> {
    Ok(users::table
        .filter(users::role.eq("staff"))
        .filter(users::is_supervisor.eq(true))
        .filter(users::active.eq(true))
        .order(users::id.asc())
        .select((users::id, users::email, users::locale))
        .load(conn)?)
}

fn digest_mail<'a>((id, email, locale): &'a (String, String, String), day: chrono::NaiveDate, seq: i64, hash: &str) -> crate::notify::Email<'a> {
    let lang = crate::i18n::Lang::from_code(locale).unwrap_or(crate::i18n::Lang::Ko);
    let mut context = tera::Context::new();
    context.insert("day", &day.to_string());
    context.insert("seq", &seq);
    context.insert("hash", hash);
    crate::notify::Email { user_id: Some(id), to: email, kind: "access_log_digest", lang, context }
}

/// Walks the whole chain, then checks every daily anchor against it.
/// Returns the first sequence number that does not match (an edited,
/// inserted or removed row, or an anchored row that is gone, as when the
/// newest rows were deleted), or None when it is intact.
pub fn verify_chain(conn: &mut DbConn, secret: &str) -> Result<Option<i64>, AppError> {
    let entries: Vec<Entry> = access_log::table.order(access_log::seq.asc()).select(Entry::as_select()).load(conn)?;
    // Retention removes the oldest entries and keeps the last removed one's
    // number and hash: the chain starts after it.
    let horizon = crate::retention::service::access_log_horizon(conn)?;
    let (mut expected_seq, mut prev) = match &horizon {
        Some((seq, hash)) => (seq + 1, hash.clone()),
        None => (1, GENESIS.to_string()),
    };
    for e in entries {
        let hash = row_hash(
            secret,
            e.seq,
            e.at,
            &e.actor_id,
            &e.actor_role,
            &e.ip,
            e.subject_user_id.as_deref(),
            e.record_id.as_deref(),
            &e.action,
            &e.reason,
            &e.prev_hash,
        );
        if e.seq != expected_seq || e.prev_hash != prev || e.hash != hash {
            return Ok(Some(e.seq));
        }
        prev = e.hash;
        expected_seq += 1;
    }
    use crate::db::schema::access_log_anchors as anchors;
    let tail: Vec<(i64, String)> = anchors::table.order(anchors::last_seq.asc()).select((anchors::last_seq, anchors::last_hash)).load(conn)?;
    let removed_through = horizon.map_or(0, |(seq, _)| seq);
    for (seq, hash) in tail.into_iter().filter(|(seq, _)| *seq > removed_through) {
        let stored: Option<String> = access_log::table.find(seq).select(access_log::hash).first(conn).optional()?;
        if stored.as_deref() != Some(hash.as_str()) {
            return Ok(Some(seq));
        }
    }
    Ok(None)
}

/// The daily anchors, newest first, for the supervisor's page.
pub fn anchors(conn: &mut DbConn, limit: i64) -> Result<Vec<(chrono::NaiveDate, i64, String)>, AppError> {
    use crate::db::schema::access_log_anchors as a;
    Ok(a::table.order(a::day.desc()).limit(limit).select((a::day, a::last_seq, a::last_hash)).load(conn)?)
}
