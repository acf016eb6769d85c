//! Backups while the app serves, and restoring one into an empty database.
//! SQLite: `VACUUM INTO` writes a consistent copy from one read transaction
//! (writers go on meanwhile). PostgreSQL: `pg_dump --format=custom` (one
//! snapshot) and `pg_restore`, the server's own tools. Documents are in the
//! database, encrypted: the copy holds them, and DOCUMENT_KEY (kept apart
//! from backups) is needed to read them.

use std::path::Path;
use std::process::Command;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::config::Config;
use crate::db::{self, Backend};

/// Writes a consistent copy of the database to `file` (which must not exist).
pub fn backup(config: &Config, file: &Path) -> Result<(), String> {
    if file.exists() {
        return Err(format!("{} exists: choose a new file", file.display()));
    }
    let (backend, url) = db::parse_database_url(&config.database_url);
    match backend {
        Backend::Sqlite => {
            let (pool, _) = db::build_pool(&config.database_url, 1).map_err(|e| e.to_string())?;
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            let target = file.to_str().ok_or("the backup path must be valid UTF-8")?.replace('\'', "''");
            conn.batch_execute(&format!("VACUUM INTO '{target}'")).map_err(|e| format!("backup failed: {e}"))
        }
        Backend::Postgres => run(Command::new("pg_dump").args(["--format=custom", "--no-owner", "--no-privileges", "--file"]).arg(file).arg(&url), "pg_dump"),
    }
}

/// Restores `file` into the configured database, which must be empty (a new
/// SQLite path, or a PostgreSQL database without tables). Migrations newer
/// than the backup are applied afterwards, as at every start.
pub fn restore(config: &Config, file: &Path) -> Result<(), String> {
    if !file.is_file() {
        return Err(format!("{} is not a file", file.display()));
    }
    let (backend, url) = db::parse_database_url(&config.database_url);
    match backend {
        Backend::Sqlite => {
            let target = Path::new(&url);
            if target.exists() && std::fs::metadata(target).map(|m| m.len() > 0).unwrap_or(true) {
                return Err(format!("{} exists: restore into a new database file", target.display()));
            }
            if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            std::fs::copy(file, target).map_err(|e| format!("restore failed: {e}"))?;
        }
        Backend::Postgres => {
            let mut conn = PgConnection::establish(&url).map_err(|e| format!("cannot connect: {e}"))?;
            let tables: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "(SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public')",
            ))
            .get_result(&mut conn)
            .map_err(|e| e.to_string())?;
            if tables > 0 {
                return Err("the database is not empty: restore into a new database (createdb)".into());
            }
            run(Command::new("pg_restore").args(["--no-owner", "--no-privileges", "--exit-on-error", "--dbname"]).arg(&url).arg(file), "pg_restore")?;
        }
    }
    let (pool, _) = db::build_pool(&config.database_url, 1).map_err(|e| e.to_string())?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    db::run_migrations(&mut conn).map_err(|e| e.to_string())?;
    Ok(())
}

fn run(cmd: &mut Command, tool: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{tool} could not be run ({e}): install the PostgreSQL client tools of the server's version"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{tool} failed: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}
