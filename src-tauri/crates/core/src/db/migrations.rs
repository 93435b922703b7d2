//! Forward-only schema migrations, compiled into the binary from `migrations/`.
//!
//! `PRAGMA user_version` holds the number of migrations applied. Each migration runs in its own
//! transaction together with the version bump, so a crash leaves the database at a whole version.
//!
//! The desktop app and the CLI may open the same old database at the same moment. Each step
//! therefore takes the write lock first (`BEGIN EXCLUSIVE`) and only then reads `user_version`:
//! the second process waits for the first, sees the version it committed, and skips what is done,
//! so every migration runs exactly once and neither process fails.

use crate::error::{CoreError, Result};
use rusqlite::{Connection, TransactionBehavior};

/// Every migration, in order. A test checks that this list matches the files in `migrations/`.
pub const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init.sql", include_str!("../../../../../migrations/0001_init.sql")),
    ("0002_directory.sql", include_str!("../../../../../migrations/0002_directory.sql")),
    ("0003_sms_outbox.sql", include_str!("../../../../../migrations/0003_sms_outbox.sql")),
    ("0004_outbox_fencing.sql", include_str!("../../../../../migrations/0004_outbox_fencing.sql")),
    ("0005_booking_backstop.sql", include_str!("../../../../../migrations/0005_booking_backstop.sql")),
    ("0006_audit_screen_reads.sql", include_str!("../../../../../migrations/0006_audit_screen_reads.sql")),
    ("0007_day_view_index.sql", include_str!("../../../../../migrations/0007_day_view_index.sql")),
    ("0008_patient_search.sql", include_str!("../../../../../migrations/0008_patient_search.sql")),
    ("0009_appointment_texts.sql", include_str!("../../../../../migrations/0009_appointment_texts.sql")),
    ("0010_text_replies.sql", include_str!("../../../../../migrations/0010_text_replies.sql")),
    ("0011_consultations.sql", include_str!("../../../../../migrations/0011_consultations.sql")),
    ("0012_consultation_search.sql", include_str!("../../../../../migrations/0012_consultation_search.sql")),
    ("0013_consultation_review.sql", include_str!("../../../../../migrations/0013_consultation_review.sql")),
    ("0014_chat_attachments.sql", include_str!("../../../../../migrations/0014_chat_attachments.sql")),
    ("0015_desk_sync.sql", include_str!("../../../../../migrations/0015_desk_sync.sql")),
    ("0016_desk_pending.sql", include_str!("../../../../../migrations/0016_desk_pending.sql")),
    ("0017_desk_pending_patients.sql", include_str!("../../../../../migrations/0017_desk_pending_patients.sql")),
    ("0018_paused_while_moving.sql", include_str!("../../../../../migrations/0018_paused_while_moving.sql")),
    ("0019_desk_notes.sql", include_str!("../../../../../migrations/0019_desk_notes.sql")),
    (
        "0020_amendments_audited_by_server.sql",
        include_str!("../../../../../migrations/0020_amendments_audited_by_server.sql"),
    ),
];

/// The schema version this build writes.
pub fn latest_version() -> u32 {
    MIGRATIONS.len() as u32
}

pub fn current_version(conn: &Connection) -> Result<u32> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get::<_, u32>(0))?)
}

/// The one sentence for a database this build is too old for: at start-up, and when a newer
/// ClinicDesk upgrades the database underneath a running one.
pub fn newer_schema(found: u32) -> CoreError {
    CoreError::Database(format!(
        "This clinic database was written by a newer version of ClinicDesk (schema {found}; this version knows up to {}). Install the newer ClinicDesk; the database was not changed.",
        latest_version()
    ))
}

/// Refuses a database whose schema is newer than this build knows.
pub fn ensure_not_newer(conn: &Connection) -> Result<u32> {
    let found = current_version(conn)?;
    if found > latest_version() {
        return Err(newer_schema(found));
    }
    Ok(found)
}

/// Applies every migration newer than the database. Refuses a database from a newer build.
pub fn migrate(conn: &mut Connection) -> Result<u32> {
    migrate_to(conn, latest_version())
}

/// Applies migrations up to `target` (tests use this to build every historical version).
pub fn migrate_to(conn: &mut Connection, target: u32) -> Result<u32> {
    // Usually nothing is due: answer without the write lock, so opening the clinic (every CLI
    // command does) never waits for another process's write.
    let found = ensure_not_newer(conn)?;
    if found >= target {
        return Ok(found);
    }
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive).map_err(busy_upgrading)?;
        // Read inside the lock: another process may have migrated while this one waited.
        let found = ensure_not_newer(&tx)?;
        if found >= target {
            return Ok(found);
        }
        let (name, sql) = MIGRATIONS[found as usize];
        let version = found + 1;
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
}

/// The lock is held by another ClinicDesk for longer than the busy timeout (a long upgrade).
fn busy_upgrading(err: rusqlite::Error) -> CoreError {
    match err.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            tracing::warn!(error = %err, "database busy while checking its schema");
            CoreError::Database(
                "Another ClinicDesk window or command is using the clinic database and has not finished. Wait a minute and try again.".into(),
            )
        }
        _ => err.into(),
    }
}
