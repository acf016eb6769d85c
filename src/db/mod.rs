//! Database access: one connection type over SQLite and PostgreSQL, a pool,
//! per-backend embedded migrations and the write-transaction helper.

pub mod schema;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::AppError;

/// One connection type for both backends; queries are written once against it.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

pub type DbPool = r2d2::Pool<Manager>;
pub type PooledConn = r2d2::PooledConnection<Manager>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Splits `DATABASE_URL` into a backend and the string its driver expects.
/// `postgres://` / `postgresql://` pick PostgreSQL; `sqlite://path`, `sqlite:path`
/// or a bare path pick SQLite.
pub fn parse_database_url(url: &str) -> (Backend, String) {
    let trimmed = url.trim();
    if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
        return (Backend::Postgres, trimmed.to_string());
    }
    let path = trimmed
        .strip_prefix("sqlite://")
        .or_else(|| trimmed.strip_prefix("sqlite:"))
        .unwrap_or(trimmed);
    (Backend::Sqlite, path.to_string())
}

/// r2d2 manager that opens the right backend and applies SQLite's pragmas on
/// every new connection (WAL, foreign keys, busy timeout).
///
/// Connections are not tested on checkout (r2d2's default sends `SELECT 1`
/// before every use: a network round trip per request on PostgreSQL).
/// Instead each connection carries a `FailureWatch` that sees every query's
/// outcome; when a connection is given back after a failed query, `has_broken`
/// decides: a lost connection (diesel's `ClosedConnection` or
/// `UnableToSendCommand`) is dropped at once, any other failure is followed by
/// the `SELECT 1` that r2d2 used to send every time, and the connection is
/// dropped if that fails too. The pool then opens a fresh one, so a database
/// restart costs the requests that were using the lost connections, not every
/// later request.
#[derive(Clone, Debug)]
pub struct Manager {
    backend: Backend,
    url: String,
    /// SQLite: the connection every write of this pool runs on, one at a
    /// time (see `write_tx`).
    writer: Arc<Writer>,
}

const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 15000;\
     PRAGMA journal_mode = WAL;\
     PRAGMA synchronous = NORMAL;\
     PRAGMA foreign_keys = ON;";

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        match self.backend {
            Backend::Sqlite => open_sqlite(&self.url, Some(self.writer.clone())),
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.url).map_err(r2d2::Error::ConnectionError)?;
                conn.set_instrumentation(FailureWatch::default());
                Ok(DbConn::Pg(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)
    }

    /// Called when a connection goes back to the pool. Broken: its thread
    /// panicked (it may be mid-transaction), it is left inside a transaction
    /// or diesel's transaction manager is in error (diesel's own check), or a
    /// query failed since it was checked out and the connection is lost.
    fn has_broken(&self, conn: &mut DbConn) -> bool {
        use diesel::r2d2::R2D2Connection;
        std::thread::panicking() || conn.is_broken() || failed_since_checked(conn)
    }
}

/// Reads and resets what the connection's `FailureWatch` saw: whether a
/// failure since the last check left it unusable. A lost connection is; a
/// transaction whose `ROLLBACK` failed may still be open, so it is too; any
/// other failed query is followed by a `SELECT 1`, and the connection is
/// unusable if that fails as well.
fn failed_since_checked(conn: &mut DbConn) -> bool {
    let (seen, left_open) = match conn.instrumentation().downcast_mut::<FailureWatch>() {
        Some(watch) => (std::mem::take(&mut watch.seen), std::mem::take(&mut watch.left_open)),
        None => (Failure::None, false),
    };
    match seen {
        _ if left_open => true,
        Failure::None => false,
        Failure::Lost => true,
        Failure::Query => conn.batch_execute("SELECT 1").is_err(),
    }
}

/// A SQLite connection with the app's pragmas, watched by `FailureWatch`;
/// `writer` is the pool's writer (None for the writer's own connection).
fn open_sqlite(url: &str, writer: Option<Arc<Writer>>) -> Result<DbConn, r2d2::Error> {
    let mut conn = SqliteConnection::establish(url).map_err(r2d2::Error::ConnectionError)?;
    conn.batch_execute(SQLITE_PRAGMAS).map_err(r2d2::Error::QueryError)?;
    if writer.is_none() {
        // The writer's savepoints journal the pages each write changes
        // (`Writer`): in memory, instead of a temporary file once they
        // outgrow 64 KiB.
        conn.batch_execute("PRAGMA temp_store = MEMORY").map_err(r2d2::Error::QueryError)?;
    }
    conn.set_instrumentation(FailureWatch { writer, ..FailureWatch::default() });
    Ok(DbConn::Sqlite(conn))
}

/// SQLite: the pool's writer. Every write transaction (and single write) of
/// the pool waits its turn here and runs on this one connection, opened on
/// first use and opened again after a failure that left it unusable.
///
/// Why one connection: SQLite lets one writer in at a time anyway, and a
/// connection's page cache is emptied whenever another connection has
/// written since its last transaction. With the writes spread over the
/// pool, every write transaction began by emptying its cache and read each
/// page it touched (the table's and every index's path from root to leaf)
/// again from the file, while holding the write lock. The writer's cache
/// stays valid from one write to the next, and so do its prepared
/// statements (BENCHMARKS.md, session 9).
///
/// Group commit: writes that queue up while one runs share its
/// transaction. Each runs in a `SAVEPOINT` of its own (a failed one is
/// rolled back to it, and only its caller hears of it); when a write ends
/// and others are waiting for their turn, it leaves the transaction open
/// for them and waits; the write after which nobody is waiting (or the
/// `GROUP_LIMIT`th) commits, and every write of the group returns only
/// then, with its own result or, when the commit failed, an error. So no
/// caller hears "done" before its write is committed, and a write that runs
/// alone commits at once, as before. Why: in a burst of bookings the
/// writer's turn was busy end to end, and a third of each turn was `BEGIN`
/// and `COMMIT` writing the same pages (the slot, the indexes' last leaves,
/// the outbox) into the WAL again for each booking (BENCHMARKS.md, session 10).
pub struct Writer {
    url: String,
    state: Mutex<WriterState>,
    /// Threads waiting for `state`: the open transaction is kept for them.
    queued: AtomicUsize,
    outcomes: Mutex<Outcomes>,
    decided: Condvar,
}

/// At most this many writes share one commit (`bench-db` sets it to 1 to
/// measure the database's rate for one transaction per write).
pub static GROUP_LIMIT: AtomicUsize = AtomicUsize::new(32);

#[derive(Default)]
struct WriterState {
    conn: Option<DbConn>,
    /// The transaction left open for the writes queued behind it.
    open: Option<Group>,
    last_id: u64,
}

struct Group {
    id: u64,
    /// Writes that ran in it so far.
    members: usize,
    /// Of them, those waiting for its commit.
    waiting: usize,
}

/// How the groups ended, for the writes waiting on them.
#[derive(Default)]
struct Outcomes {
    /// Every group up to this one is committed or has failed.
    through: u64,
    /// Failed groups whose waiting writes are still to be told: the error
    /// and how many are still to read it.
    failed: std::collections::HashMap<u64, (String, usize)>,
}

/// How a write meets the group's transaction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `write_tx`: all or nothing: rolled back to its savepoint when it fails.
    Tx,
    /// `write_one`: statements that succeeded stay, as they would outside a
    /// transaction (SQLite undoes a failed statement by itself).
    One,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    fn new(url: &str) -> Writer {
        Writer {
            url: url.to_string(),
            state: Mutex::new(WriterState::default()),
            queued: AtomicUsize::new(0),
            outcomes: Mutex::new(Outcomes::default()),
            decided: Condvar::new(),
        }
    }

    /// Runs `f` on the writer's connection in this thread's turn, inside
    /// the group's transaction (see `Writer`); returns once it is committed.
    fn run<T>(&self, kind: Kind, f: impl FnOnce(&mut DbConn) -> Result<T, AppError>) -> Result<T, AppError> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let locked = self.state.lock();
        self.queued.fetch_sub(1, Ordering::SeqCst);
        let mut guard = locked.unwrap_or_else(|poisoned| {
            // Only the writer's own code can panic here (a write's panic is
            // caught below): the connection is not trusted again.
            let mut state = poisoned.into_inner();
            state.conn = None;
            if let Some(group) = state.open.take() {
                self.decide(group, Some("the database writer failed".into()));
            }
            self.state.clear_poison();
            state
        });
        let state = &mut *guard;
        let conn = match &mut state.conn {
            Some(conn) => conn,
            empty => empty.insert(open_sqlite(&self.url, None).map_err(|e| AppError::Internal(format!("database writer: {e}")))?),
        };
        let mut group = match state.open.take() {
            Some(group) => group,
            None => {
                if let Err(e) = conn.batch_execute("BEGIN IMMEDIATE") {
                    if failed_since_checked(conn) {
                        state.conn = None;
                    }
                    return Err(e.into());
                }
                state.last_id += 1;
                Group { id: state.last_id, members: 0, waiting: 0 }
            }
        };
        group.members += 1;

        let turn = Turn::begin();
        let ran = conn.batch_execute("SAVEPOINT write").map_err(AppError::from).map(|()| std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn))));
        drop(turn);
        let result = match ran {
            Err(e) => Err(e),
            Ok(Err(panic)) => {
                // Its partial work may be anywhere: the whole group is undone.
                if conn.batch_execute("ROLLBACK").is_err() {
                    tracing::error!("rollback after a panicked write failed");
                }
                state.conn = None;
                self.decide(group, Some("a write in the same transaction failed".into()));
                drop(guard);
                std::panic::resume_unwind(panic);
            }
            Ok(Ok(result)) => result,
        };
        // Ends the write's savepoint: kept, or (a failed transaction) undone.
        // Either failing means the transaction itself is gone.
        let undo = result.is_err() && kind == Kind::Tx;
        let ended = if undo { conn.batch_execute("ROLLBACK TO write; RELEASE write") } else { conn.batch_execute("RELEASE write") };
        if let Err(e) = ended {
            let _ = conn.batch_execute("ROLLBACK");
            if failed_since_checked(conn) {
                state.conn = None;
            }
            self.decide(group, Some(e.to_string()));
            return Err(result.err().unwrap_or_else(|| e.into()));
        }

        let leave_open = self.queued.load(Ordering::SeqCst) > 0 && group.members < GROUP_LIMIT.load(Ordering::Relaxed);
        let committed = match result {
            Ok(value) if leave_open => {
                // Others are waiting: they go on in this transaction, and
                // this write returns once it is committed.
                group.waiting += 1;
                let id = group.id;
                state.open = Some(group);
                drop(guard);
                return self.wait_for(id).map(|()| value);
            }
            Err(e) if leave_open => {
                // Its caller hears of the failure now. Nothing of a failed
                // transaction is left; a single write's statements that
                // succeeded are committed with the group, as on their own.
                state.open = Some(group);
                return Err(e);
            }
            result => (result, conn.batch_execute("COMMIT")),
        };
        let failure = match &committed.1 {
            Ok(()) => None,
            Err(e) => {
                if conn.batch_execute("ROLLBACK").is_err() {
                    tracing::error!("rollback after a failed commit failed");
                }
                Some(e.to_string())
            }
        };
        if failed_since_checked(conn) {
            state.conn = None;
        }
        self.decide(group, failure);
        match committed {
            (result, Ok(())) => result,
            (_, Err(e)) => Err(e.into()),
        }
    }

    /// Waits until group `id` is decided: Ok when committed.
    fn wait_for(&self, id: u64) -> Result<(), AppError> {
        let mut outcomes = self.outcomes.lock().unwrap_or_else(PoisonError::into_inner);
        while outcomes.through < id {
            outcomes = self.decided.wait(outcomes).unwrap_or_else(PoisonError::into_inner);
        }
        let Some((message, left)) = outcomes.failed.get_mut(&id) else { return Ok(()) };
        let message = format!("database write not committed: {message}");
        *left -= 1;
        if *left == 0 {
            outcomes.failed.remove(&id);
        }
        Err(AppError::Internal(message))
    }

    /// Records how `group` ended and wakes the writes waiting on it.
    fn decide(&self, group: Group, failure: Option<String>) {
        let mut outcomes = self.outcomes.lock().unwrap_or_else(PoisonError::into_inner);
        outcomes.through = group.id;
        if let (Some(failure), true) = (failure, group.waiting > 0) {
            outcomes.failed.insert(group.id, (failure, group.waiting));
        }
        drop(outcomes);
        if group.waiting > 0 {
            self.decided.notify_all();
        }
    }
}

/// What the queries on a connection ran into since it was last given back.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    #[default]
    None,
    /// A query failed (a constraint, a lock timeout... or a lost connection
    /// that the driver did not recognise as such).
    Query,
    /// The driver reported the connection closed or unable to send.
    Lost,
}

/// Diesel instrumentation that records the worst query failure on its
/// connection (read and reset by `Manager::has_broken`). It costs a call per
/// query, and nothing is formatted.
#[derive(Default)]
struct FailureWatch {
    seen: Failure,
    /// SQLite: the pool's writer, which `write_tx` runs on.
    writer: Option<Arc<Writer>>,
    /// SQLite: a transaction's `ROLLBACK` failed, so it may still be open.
    left_open: bool,
}

impl Instrumentation for FailureWatch {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        use diesel::result::{DatabaseErrorKind, Error};
        let error = match event {
            InstrumentationEvent::FinishQuery { error: Some(error), .. } => error,
            _ => return,
        };
        let failure = match error {
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand, _) => Failure::Lost,
            // Expected outcomes that say nothing about the connection.
            Error::NotFound | Error::RollbackTransaction | Error::DeserializationError(_) | Error::SerializationError(_) => Failure::None,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation | DatabaseErrorKind::ForeignKeyViolation | DatabaseErrorKind::CheckViolation | DatabaseErrorKind::NotNullViolation, _) => Failure::None,
            _ => Failure::Query,
        };
        if failure == Failure::Lost || (failure == Failure::Query && self.seen == Failure::None) {
            self.seen = failure;
        }
    }
}

/// Runs a query on the backend's own connection instead of through `DbConn`:
/// `natively!(conn, |c| query.load(c))`. The body is compiled once per
/// backend. Why: diesel's `MultiConnection` wraps every query in a type that
/// writes the query's SQL text again on each of the statement cache's passes
/// (several per execution), so even a cached statement costs its SQL string
/// each time; on the backend's own connection a query with a static query id
/// is found in the cache by its type, and its SQL is built once, when first
/// prepared. Measured with callgrind: about 40,000 instructions per query,
/// a quarter of a simple page (BENCHMARKS.md). Used on the hot paths: the
/// session lookup of every request, the home pages, the booking transaction.
#[macro_export]
macro_rules! natively {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite($c) => $body,
            $crate::db::DbConn::Pg($c) => $body,
        }
    };
}

/// Builds the pool. For SQLite the parent directory of the file is created.
pub fn build_pool(database_url: &str, max_size: u32) -> Result<(DbPool, Backend), AppError> {
    let (backend, url) = parse_database_url(database_url);
    if backend == Backend::Sqlite {
        if let Some(parent) = std::path::Path::new(&url).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| AppError::Internal(format!("cannot create {}: {e}", parent.display())))?;
            }
        }
    }
    let pool = r2d2::Pool::builder()
        .max_size(max_size)
        .test_on_check_out(false)
        .connection_timeout(Duration::from_secs(15))
        .build(Manager { backend, writer: Arc::new(Writer::new(&url)), url })
        .map_err(|e| AppError::Internal(format!("database pool: {e}")))?;
    Ok((pool, backend))
}

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Applies pending migrations; returns how many were applied.
pub fn run_migrations(conn: &mut DbConn) -> Result<usize, AppError> {
    let applied = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        DbConn::Pg(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|v| v.len()),
    };
    applied.map_err(|e| AppError::Internal(format!("migration failed: {e}")))
}

pub fn backend_of(conn: &DbConn) -> Backend {
    match conn {
        DbConn::Sqlite(_) => Backend::Sqlite,
        DbConn::Pg(_) => Backend::Postgres,
    }
}

/// Runs `f` in a write transaction. On SQLite the transaction begins IMMEDIATE so
/// that it takes the write lock up front (no lock upgrade deadlocks, the busy
/// timeout applies); on PostgreSQL it is an ordinary transaction.
///
/// On SQLite the pool's writes run one at a time on the pool's writer
/// connection (`Writer`), queued on an in-process lock before `BEGIN
/// IMMEDIATE`. Without the queue, every waiting writer polls SQLite's lock
/// through the busy handler, which sleeps 1, 2, 5, 10 … up to 100 ms between
/// tries: the lock sits free while the next writer is still asleep, and a
/// burst of bookings ran at a fraction of the database's write rate. Queued
/// on a mutex, the next writer is woken the moment the previous one commits.
/// Writes that queue up while one runs share its transaction and commit
/// (group commit, see `Writer`); each returns once its write is committed.
/// Writers in other processes (the CLI, a second instance) still meet the
/// busy timeout as before. A write transaction begun inside another (the
/// thread already has the turn) runs on the connection it is given, and
/// meets SQLite's lock: the busy timeout, not a deadlock.
pub fn write_tx<T, F>(conn: &mut DbConn, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConn) -> Result<T, AppError>,
{
    match conn {
        DbConn::Pg(_) => conn.transaction::<T, AppError, _>(f),
        DbConn::Sqlite(_) => match sqlite_writer(conn) {
            Some(writer) if !Turn::held() => writer.run(Kind::Tx, f),
            _ => sqlite_tx(conn, f),
        },
    }
}

/// Runs `f`, which only reads, in one read transaction on SQLite (`BEGIN`
/// … `COMMIT`): its reads see one snapshot, and SQLite takes its read locks
/// (`fcntl` calls on the file and the WAL index, under a process-wide mutex
/// that every connection's reader waits on) once instead of at every
/// statement (BENCHMARKS.md, session 10). On PostgreSQL `f` just runs.
/// For a pooled connection outside a write transaction (SQLite refuses a
/// `BEGIN` inside one); a write `f` makes through `write_tx` or `write_one`
/// goes to the writer and is not seen by `f`'s later reads.
pub fn read_together<T>(conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> Result<T, AppError>) -> Result<T, AppError> {
    if let DbConn::Pg(_) = conn {
        return f(conn);
    }
    conn.batch_execute("BEGIN")?;
    let mut guard = RollbackGuard { conn, done: false };
    let value = f(guard.conn);
    guard.done = guard.conn.batch_execute("COMMIT").is_ok();
    value
}

/// `BEGIN IMMEDIATE`, `f`, `COMMIT` on this SQLite connection (rolled back
/// if `f` fails or panics).
fn sqlite_tx<T>(conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> Result<T, AppError>) -> Result<T, AppError> {
    conn.batch_execute("BEGIN IMMEDIATE")?;
    let mut guard = RollbackGuard { conn, done: false };
    let value = f(guard.conn)?;
    guard.conn.batch_execute("COMMIT")?;
    guard.done = true;
    Ok(value)
}

/// One write statement outside a transaction (an access-log row, a session's
/// new expiry). On SQLite it runs on the pool's writer in its turn, like
/// `write_tx`, instead of polling SQLite's lock through the busy handler
/// while queued writers pass it by; inside a write transaction (the thread
/// already has the turn) and on PostgreSQL it just runs.
pub fn write_one<T, F>(conn: &mut DbConn, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConn) -> Result<T, AppError>,
{
    match sqlite_writer(conn) {
        Some(writer) if !Turn::held() => writer.run(Kind::One, f),
        _ => f(conn),
    }
}

/// The pool's SQLite writer this connection carries (None on PostgreSQL
/// and for the writer's own connection).
fn sqlite_writer(conn: &mut DbConn) -> Option<Arc<Writer>> {
    match conn {
        DbConn::Sqlite(_) => conn.instrumentation().downcast_mut::<FailureWatch>().and_then(|w| w.writer.clone()),
        DbConn::Pg(_) => None,
    }
}

thread_local! {
    /// Whether this thread has its turn on a SQLite writer: a write begun
    /// inside another must not wait for the turn its own thread holds.
    static WRITING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// This thread's turn as a pool's SQLite writer, until dropped.
struct Turn;

impl Turn {
    fn begin() -> Turn {
        WRITING.with(|w| w.set(true));
        Turn
    }

    fn held() -> bool {
        WRITING.with(|w| w.get())
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        WRITING.with(|w| w.set(false));
    }
}

/// Rolls an open SQLite transaction back when the closure fails or panics.
struct RollbackGuard<'a> {
    conn: &'a mut DbConn,
    done: bool,
}

impl Drop for RollbackGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            if let Err(e) = self.conn.batch_execute("ROLLBACK") {
                tracing::error!(error = %e, "rollback failed");
                if let Some(watch) = self.conn.instrumentation().downcast_mut::<FailureWatch>() {
                    watch.left_open = true;
                }
            }
        }
    }
}

/// True when the error is a unique-constraint violation.
pub fn is_unique_violation(err: &diesel::result::Error) -> bool {
    matches!(
        err,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    #[derive(QueryableByName)]
    struct CompileOption {
        #[diesel(sql_type = Text)]
        compile_options: String,
    }

    /// .cargo/config.toml builds SQLite with ENABLE_QPSG; without it every query
    /// with a bound LIMIT is re-prepared on each run (BENCHMARKS.md).
    #[test]
    fn sqlite_keeps_plans_independent_of_bound_values() {
        let mut conn = diesel::sqlite::SqliteConnection::establish(":memory:").expect("in-memory SQLite");
        let options: Vec<CompileOption> = diesel::sql_query("PRAGMA compile_options").load(&mut conn).expect("compile options");
        assert!(options.iter().any(|o| o.compile_options == "ENABLE_QPSG"), "SQLite built without ENABLE_QPSG");
    }

    fn temp_pool(name: &str) -> (super::DbPool, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!("naju-writer-{name}-{}.db", uuid::Uuid::new_v4()));
        let (pool, _) = super::build_pool(path.to_str().expect("utf-8 path"), 32).expect("pool");
        diesel::sql_query("CREATE TABLE counter (n INTEGER NOT NULL)").execute(&mut *pool.get().expect("conn")).expect("table");
        diesel::sql_query("INSERT INTO counter VALUES (0)").execute(&mut *pool.get().expect("conn")).expect("row");
        (pool, path)
    }

    fn remove(path: &std::path::Path) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }

    /// Every write transaction of a pool runs on its one writer connection,
    /// whichever pooled connection it is begun from: a TEMP table (seen only
    /// by the connection that made it) made in one is there in the next. A
    /// failed transaction is rolled back and the writer goes on; after a
    /// writer panicked, a fresh connection takes over.
    #[test]
    fn sqlite_writes_run_on_the_pools_one_writer_connection_which_survives_failures() {
        let (pool, path) = temp_pool("writer");
        let (mut a, mut b) = (pool.get().expect("conn"), pool.get().expect("conn"));
        let on_writer = |c: &mut super::DbConn, sql: &str| super::write_tx(c, |w| Ok(diesel::sql_query(sql).execute(w)?));
        on_writer(&mut a, "CREATE TEMP TABLE mark (x INTEGER)").expect("temp table on the writer");
        on_writer(&mut b, "INSERT INTO mark VALUES (1)").expect("the same connection from another pooled one");
        super::write_one(&mut b, |w| Ok(diesel::sql_query("INSERT INTO mark VALUES (2)").execute(w)?)).expect("a single write too");
        // Not on the pooled connections themselves.
        assert!(diesel::sql_query("SELECT x FROM mark").execute(&mut *a).is_err());

        // A failed transaction: rolled back, the writer serves the next.
        let failed: Result<(), _> = super::write_tx(&mut a, |w| {
            diesel::sql_query("UPDATE counter SET n = 99").execute(w)?;
            Err(crate::error::AppError::Conflict("refused"))
        });
        assert!(failed.is_err());
        on_writer(&mut a, "INSERT INTO mark VALUES (3)").expect("after a failure, the same writer");

        // A writer that panics: its transaction is rolled back, and the
        // next write gets a new connection (the TEMP table is gone with the old).
        let pool2 = pool.clone();
        let panicked = std::thread::spawn(move || {
            let mut c = pool2.get().expect("conn");
            let _: Result<(), _> = super::write_tx(&mut c, |w| {
                diesel::sql_query("UPDATE counter SET n = 77").execute(w).expect("update");
                panic!("a writer panics");
            });
        })
        .join();
        assert!(panicked.is_err());
        assert!(on_writer(&mut a, "INSERT INTO mark VALUES (4)").is_err(), "a new writer connection has no TEMP table");
        on_writer(&mut a, "UPDATE counter SET n = n + 1").expect("the new writer writes");
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let n: N = diesel::sql_query("SELECT n FROM counter").get_result(&mut *b).expect("count");
        assert_eq!(n.n, 1, "neither the failed nor the panicked transaction left its update");
        drop((a, b));
        remove(&path);
    }

    /// Writes that queue up share one commit (`Writer`), each keeping its
    /// own outcome: a write told Ok is in the database; a write transaction
    /// told Err is not, whether it failed itself (rolled back to its
    /// savepoint while the others of its group are kept) or a write of its
    /// group panicked (the whole group undone, every member told Err). A
    /// write that sees another's row which a separate connection does not
    /// see yet shows two writes in one open transaction: grouping happened.
    #[test]
    fn sqlite_grouped_writes_each_keep_their_own_outcome() {
        use std::collections::BTreeSet;
        let (pool, path) = temp_pool("group");
        diesel::sql_query("CREATE TABLE mark (k INTEGER PRIMARY KEY)").execute(&mut *pool.get().expect("conn")).expect("table");
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let count = |c: &mut super::DbConn| diesel::sql_query("SELECT count(*) AS n FROM mark").get_result::<N>(c).map(|r| r.n);
        let threads: Vec<_> = (0..12i64)
            .map(|t| {
                let pool = pool.clone();
                std::thread::spawn(move || {
                    let (mut conn, mut reader) = (pool.get().expect("conn"), pool.get().expect("reader"));
                    let (mut told_ok, mut told_err, mut grouped) = (Vec::new(), Vec::new(), false);
                    for i in 0..60i64 {
                        let k = t * 1000 + i;
                        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            super::write_tx(&mut conn, |w| {
                                let before = count(w)?;
                                diesel::sql_query(format!("INSERT INTO mark VALUES ({k})")).execute(w)?;
                                if before > count(&mut reader)? {
                                    grouped = true;
                                }
                                match (t, i % 10) {
                                    (_, 3) => Err(crate::error::AppError::Conflict("refused")),
                                    (0, 7) => panic!("a write panics"),
                                    _ => Ok(()),
                                }
                            })
                        }));
                        match outcome {
                            Ok(Ok(())) => told_ok.push(k),
                            _ => told_err.push(k),
                        }
                    }
                    (told_ok, told_err, grouped)
                })
            })
            .collect();
        let (mut told_ok, mut told_err, mut grouped) = (BTreeSet::new(), BTreeSet::new(), false);
        for t in threads {
            let (ok, err, g) = t.join().expect("writer thread");
            told_ok.extend(ok);
            told_err.extend(err);
            grouped |= g;
        }
        let present: BTreeSet<i64> = diesel::sql_query("SELECT k AS n FROM mark")
            .load::<N>(&mut *pool.get().expect("conn"))
            .expect("marks")
            .into_iter()
            .map(|r| r.n)
            .collect();
        assert!(grouped, "no write ever shared a transaction with another");
        assert!(told_err.len() >= 12 * 6, "every failed write was told so");
        assert!(told_ok.is_subset(&present), "a write told Ok is missing: {:?}", told_ok.difference(&present).collect::<Vec<_>>());
        assert!(present.is_disjoint(&told_err), "a write told Err is there: {:?}", present.intersection(&told_err).collect::<Vec<_>>());
        assert_eq!(told_ok.len() + told_err.len(), 12 * 60);
        remove(&path);
    }

    /// Reads together see one snapshot: a write committed between two of
    /// them is not seen until the read transaction ends, and the connection
    /// is back to reading the latest after it, also when `f` failed.
    #[test]
    fn sqlite_reads_together_see_one_snapshot() {
        let (pool, path) = temp_pool("snapshot");
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let n = |c: &mut super::DbConn| diesel::sql_query("SELECT n FROM counter").get_result::<N>(c).map(|r| r.n);
        let (mut reader, mut other) = (pool.get().expect("conn"), pool.get().expect("conn"));
        let bump = |c: &mut super::DbConn| super::write_tx(c, |w| Ok(diesel::sql_query("UPDATE counter SET n = n + 1").execute(w)?));
        let (first, second) = super::read_together(&mut reader, |c| {
            let first = n(c)?;
            bump(&mut other)?;
            Ok((first, n(c)?))
        })
        .expect("reads");
        assert_eq!((first, second), (0, 0), "the second read saw a write committed after the first");
        assert_eq!(n(&mut reader).expect("after"), 1, "after the read transaction the write is seen");
        let failed: Result<(), _> = super::read_together(&mut reader, |c| {
            n(c)?;
            Err(crate::error::AppError::NotFound)
        });
        assert!(failed.is_err());
        bump(&mut other).expect("write");
        assert_eq!(n(&mut reader).expect("after a failed read"), 2, "a failed read transaction was ended too");
        drop((reader, other));
        remove(&path);
    }

    /// Writers queued on the pool's lock all get their turn and none is lost.
    #[test]
    fn sqlite_writers_take_turns_and_every_write_lands() {
        let (pool, path) = temp_pool("turns");
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let pool = pool.clone();
                std::thread::spawn(move || {
                    let mut conn = pool.get().expect("conn");
                    for _ in 0..50 {
                        super::write_tx(&mut conn, |c| Ok(diesel::sql_query("UPDATE counter SET n = n + 1").execute(c)?)).expect("write");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("writer thread");
        }
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let n: N = diesel::sql_query("SELECT n FROM counter").get_result(&mut *pool.get().expect("conn")).expect("count");
        assert_eq!(n.n, 400);
        remove(&path);
    }

    /// A write transaction begun inside another on a second connection must
    /// not wait forever for the lock its own thread holds: SQLite's busy
    /// timeout answers "locked", as it did before the lock existed.
    #[test]
    fn a_nested_sqlite_writer_on_the_same_thread_gets_busy_not_a_deadlock() {
        let (pool, path) = temp_pool("nested");
        let (mut outer, mut inner) = (pool.get().expect("conn"), pool.get().expect("conn"));
        diesel::sql_query("PRAGMA busy_timeout = 50").execute(&mut *inner).expect("pragma");
        let nested = super::write_tx(&mut outer, |_| Ok(super::write_tx(&mut inner, |c| Ok(diesel::sql_query("UPDATE counter SET n = 1").execute(c)?))))
            .expect("outer transaction");
        assert!(nested.is_err(), "the inner writer meets SQLite's lock");
        // Both turns are over: a later writer on this thread goes through.
        super::write_tx(&mut inner, |c| Ok(diesel::sql_query("UPDATE counter SET n = 2").execute(c)?)).expect("later write");
        remove(&path);
    }

    /// A single write inside a write transaction runs in that transaction
    /// (the thread has the turn already); outside one it waits its turn.
    #[test]
    fn a_single_write_runs_inside_a_transaction_and_on_its_own() {
        let (pool, path) = temp_pool("one");
        let mut conn = pool.get().expect("conn");
        super::write_tx(&mut conn, |c| super::write_one(c, |c| Ok(diesel::sql_query("UPDATE counter SET n = 5").execute(c)?))).expect("inside");
        super::write_one(&mut conn, |c| Ok(diesel::sql_query("UPDATE counter SET n = n + 1").execute(c)?)).expect("alone");
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let n: N = diesel::sql_query("SELECT n FROM counter").get_result(&mut *conn).expect("count");
        assert_eq!(n.n, 6);
        remove(&path);
    }
}
