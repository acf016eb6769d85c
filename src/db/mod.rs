//! Database access: one connection type over SQLite and PostgreSQL, a pool,
//! per-backend embedded migrations and the write-transaction helper.

pub mod schema;

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
            Backend::Sqlite => {
                let mut conn =
                    SqliteConnection::establish(&self.url).map_err(r2d2::Error::ConnectionError)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(r2d2::Error::QueryError)?;
                conn.set_instrumentation(FailureWatch::default());
                Ok(DbConn::Sqlite(conn))
            }
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
        if std::thread::panicking() || conn.is_broken() {
            return true;
        }
        let seen = match conn.instrumentation().downcast_mut::<FailureWatch>() {
            Some(watch) => std::mem::take(&mut watch.seen),
            None => Failure::None,
        };
        match seen {
            Failure::None => false,
            Failure::Lost => true,
            Failure::Query => self.is_valid(conn).is_err(),
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
        .build(Manager { backend, url })
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
pub fn write_tx<T, F>(conn: &mut DbConn, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConn) -> Result<T, AppError>,
{
    match conn {
        DbConn::Pg(_) => conn.transaction::<T, AppError, _>(f),
        DbConn::Sqlite(_) => {
            conn.batch_execute("BEGIN IMMEDIATE")?;
            let mut guard = RollbackGuard { conn, done: false };
            let value = f(guard.conn)?;
            guard.conn.batch_execute("COMMIT")?;
            guard.done = true;
            Ok(value)
        }
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
}
