//! Database access: one connection type over SQLite and PostgreSQL, a pool,
//! per-backend embedded migrations and the write-transaction helper.

pub mod schema;

use std::sync::{Arc, Mutex};
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
pub struct Writer {
    url: String,
    conn: Mutex<Option<DbConn>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    fn new(url: &str) -> Writer {
        Writer { url: url.to_string(), conn: Mutex::new(None) }
    }

    /// Runs `f` on the writer's connection, this thread's turn.
    fn run<T>(&self, f: impl FnOnce(&mut DbConn) -> Result<T, AppError>) -> Result<T, AppError> {
        let mut slot = self.conn.lock().unwrap_or_else(|poisoned| {
            // A writer panicked: its transaction was rolled back on the way
            // out (RollbackGuard), but the connection is not trusted again.
            let mut slot = poisoned.into_inner();
            *slot = None;
            self.conn.clear_poison();
            slot
        });
        let _turn = Turn::begin();
        let conn = match &mut *slot {
            Some(conn) => conn,
            empty => empty.insert(open_sqlite(&self.url, None).map_err(|e| AppError::Internal(format!("database writer: {e}")))?),
        };
        let result = f(conn);
        if failed_since_checked(conn) {
            *slot = None;
        }
        result
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
            Some(writer) if !Turn::held() => writer.run(|w| sqlite_tx(w, f)),
            _ => sqlite_tx(conn, f),
        },
    }
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
        Some(writer) if !Turn::held() => writer.run(f),
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
        let (pool, _) = super::build_pool(path.to_str().expect("utf-8 path"), 8).expect("pool");
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
