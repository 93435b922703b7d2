//! Forward-only schema migrations, compiled into the binary from `migrations/`.
//!
//! `PRAGMA user_version` holds the number of migrations applied. Each migration runs in its own
//! transaction together with the version bump, so a crash leaves the database at a whole version.

use crate::error::{CoreError, Result};
use rusqlite::Connection;

/// Every migration, in order. A test checks that this list matches the files in `migrations/`.
pub const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init.sql", include_str!("../../../../../migrations/0001_init.sql")),
    ("0002_directory.sql", include_str!("../../../../../migrations/0002_directory.sql")),
    ("0003_sms_outbox.sql", include_str!("../../../../../migrations/0003_sms_outbox.sql")),
    ("0004_outbox_fencing.sql", include_str!("../../../../../migrations/0004_outbox_fencing.sql")),
];

/// The schema version this build writes.
pub fn latest_version() -> u32 {
    MIGRATIONS.len() as u32
}

pub fn current_version(conn: &Connection) -> Result<u32> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get::<_, u32>(0))?)
}

/// Applies every migration newer than the database. Refuses a database from a newer build.
pub fn migrate(conn: &mut Connection) -> Result<u32> {
    migrate_to(conn, latest_version())
}

/// Applies migrations up to `target` (tests use this to build every historical version).
pub fn migrate_to(conn: &mut Connection, target: u32) -> Result<u32> {
    let found = current_version(conn)?;
    if found > latest_version() {
        return Err(CoreError::Database(format!(
            "This clinic database was written by a newer version of ClinicDesk (schema {found}; this version knows up to {}). Install the newer ClinicDesk; the database was not changed.",
            latest_version()
        )));
    }
    for (index, (name, sql)) in MIGRATIONS.iter().enumerate().take(target as usize).skip(found as usize) {
        let version = index as u32 + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql).map_err(|err| {
            tracing::error!(migration = name, error = %err, "migration failed");
            CoreError::Database(format!(
                "The database could not be upgraded (step {name}). Nothing was changed; contact support."
            ))
        })?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(migration = name, version, "applied migration");
    }
    current_version(conn)
}
