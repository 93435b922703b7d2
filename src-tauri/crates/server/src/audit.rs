//! The clinic's audit log on the server: append-only in the database itself (a trigger refuses
//! changes and removals; the working role holds only SELECT and INSERT). Same action names as the
//! desk's trail, so `clinicdesk audit` reads the same words in both modes.

use crate::error::Result;
use crate::staff::Staff;
use clinicdesk_core::audit::{clean_label, AuditAction};
use tokio_postgres::GenericClient;

/// Appends one entry in the caller's transaction (or on its own connection for a refusal).
pub async fn record(
    db: &impl GenericClient,
    actor: Option<&Staff>,
    action: AuditAction,
    record: Option<(&str, &str)>,
    detail: Option<&str>,
) -> Result<i64> {
    let label = actor.map(|s| clean_label(&s.email)).unwrap_or_else(|| "clinic server".to_string());
    let row = db
        .query_one(
            "INSERT INTO audit_log (actor_id, actor_label, action, record_type, record_id, detail)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
            &[&actor.map(|s| s.user_id), &label, &action.as_str(), &record.map(|r| r.0), &record.map(|r| r.1), &detail],
        )
        .await?;
    Ok(row.get(0))
}
