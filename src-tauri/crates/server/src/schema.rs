//! The server's PostgreSQL schema: forward-only migrations compiled into the binary, applied in
//! order, each in its own transaction with its row in `schema_migrations`. Two servers starting at
//! once take turns on an advisory lock, so a migration never runs twice.

use crate::error::{Result, ServerError};
use tokio_postgres::Client;

/// (version, name, SQL). Append only: never edit or reorder a released migration.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "clinic", include_str!("../migrations/0001_clinic.sql")),
    (2, "desks", include_str!("../migrations/0002_desks.sql")),
    (3, "texts", include_str!("../migrations/0003_texts.sql")),
    (4, "replies", include_str!("../migrations/0004_replies.sql")),
    (5, "desk_audit", include_str!("../migrations/0005_desk_audit.sql")),
    (6, "patient_numbers", include_str!("../migrations/0006_patient_numbers.sql")),
    (7, "text_news_before", include_str!("../migrations/0007_text_news_before.sql")),
    (8, "consultation_notes", include_str!("../migrations/0008_consultation_notes.sql")),
    (9, "consultations", include_str!("../migrations/0009_consultations.sql")),
    (10, "text_feed", include_str!("../migrations/0010_text_feed.sql")),
    (11, "recording_attachments", include_str!("../migrations/0011_recording_attachments.sql")),
    (12, "reply_inbox", include_str!("../migrations/0012_reply_inbox.sql")),
    (13, "chat_sends", include_str!("../migrations/0013_chat_sends.sql")),
    (14, "note_versions", include_str!("../migrations/0014_note_versions.sql")),
];

/// Arbitrary, fixed: the advisory lock key serialising migrations ("CDMIGRAT" as bytes).
const MIGRATION_LOCK: i64 = 0x4344_4d49_4752_4154;

pub fn latest() -> i32 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

/// Brings the database up to the newest schema. Returns the versions applied now.
pub async fn migrate(client: &mut Client) -> Result<Vec<i32>> {
    migrate_to(client, latest()).await
}

/// Brings the database up to `target` (tests walk every upgrade path with it).
pub async fn migrate_to(client: &mut Client, target: i32) -> Result<Vec<i32>> {
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK]).await?;
    let result = apply(client, target).await;
    client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await?;
    result
}

async fn apply(client: &mut Client, target: i32) -> Result<Vec<i32>> {
    // Checked first rather than CREATE ... IF NOT EXISTS, whose notice would be logged on every start.
    let exists: bool = client.query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[]).await?.get(0);
    if !exists {
        client
            .batch_execute(
                "CREATE TABLE schema_migrations (
                   version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
            )
            .await?;
    }
    let current: i32 = client.query_one("SELECT COALESCE(max(version), 0) FROM schema_migrations", &[]).await?.get(0);
    if current > latest() {
        return Err(ServerError::Setup(format!(
            "This clinic database was set up by a newer ClinicDesk server (schema {current}; this one knows {}). Install the newer server.",
            latest()
        )));
    }
    let mut applied = Vec::new();
    for &(version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current && m.0 <= target) {
        let tx = client.transaction().await?;
        tx.batch_execute(sql)
            .await
            .map_err(|e| ServerError::Setup(format!("Schema migration {version} ({name}) failed: {}", describe(&e))))?;
        tx.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", &[&version, &name]).await?;
        tx.commit().await?;
        tracing::info!(version, name, "schema migration applied");
        applied.push(version);
    }
    Ok(applied)
}

/// The database's own message (tokio-postgres's Display says only "db error").
pub fn describe(e: &tokio_postgres::Error) -> String {
    e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string())
}
