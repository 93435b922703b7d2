//! The clinic's audit log on the server: append-only in the database itself (a trigger refuses
//! changes and removals; the working role holds only SELECT and INSERT). Same action names as the
//! desk's trail, so `clinicdesk audit` reads the same words in both modes.

use crate::error::Result;
use crate::staff::Staff;
use clinicdesk_core::audit::{clean_label, AuditAction};
use clinicdesk_core::error::CoreError;
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

/// An entry whose "who" is not a member of staff (a patient's text reply).
pub async fn record_as(
    db: &impl GenericClient,
    label: &str,
    action: AuditAction,
    record: Option<(&str, &str)>,
    detail: Option<&str>,
) -> Result<()> {
    db.execute(
        "INSERT INTO audit_log (actor_label, action, record_type, record_id, detail) VALUES ($1, $2, $3, $4, $5)",
        &[&label, &action.as_str(), &record.map(|r| r.0), &record.map(|r| r.1), &detail],
    )
    .await?;
    Ok(())
}

/// A desk's own entries (reads and writes done there), kept once each: the client id is made
/// from the desk database's source id and the entry's number there. The source is bound to the
/// desk at its first upload; an entry must name staff who have had a session on this desk (or
/// nobody: a failed sign-in), must not be dated in the future, and names a known kind of action;
/// the detail says on which desk and who sent it. Returns how many were new.
pub async fn from_desk(
    db: &impl GenericClient,
    desk: &crate::desks::Desk,
    uploader: &Staff,
    upload: &clinicdesk_core::sync::wire::AuditUpload,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64> {
    let bound = db
        .query_one(
            "UPDATE desks SET audit_source = coalesce(audit_source, $2) WHERE id = $1 RETURNING audit_source = $2",
            &[&desk.id, &upload.source],
        )
        .await
        .map_err(|_| CoreError::Forbidden("That audit trail belongs to another desk.".into()))?
        .get::<_, bool>(0);
    if !bound {
        return Err(CoreError::Forbidden(
            "This desk's audit trail comes from another database: enrol the computer again.".into(),
        )
        .into());
    }
    let mut added = 0;
    for e in &upload.entries {
        if e.at > now + chrono::Duration::minutes(5) {
            return Err(CoreError::invalid("at", "An audit entry is dated in the future.").into());
        }
        if e.action.len() > 64 || !e.action.bytes().all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_') {
            return Err(CoreError::invalid("action", "That is not a kind of audit entry.").into());
        }
        if let Some(actor) = e.actor_id {
            let here: bool = db
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM staff_sessions WHERE desk_id = $1 AND user_id = $2)",
                    &[&desk.id, &actor],
                )
                .await?
                .get(0);
            if !here {
                return Err(CoreError::Forbidden(
                    "An audit entry names someone who never signed in on this desk.".into(),
                )
                .into());
            }
        }
        let place = format!("{}, sent by {}", desk.name, clean_label(&uploader.email));
        added += insert_kept(db, upload.source, e, Some(&place), e.actor_id).await?;
    }
    Ok(added)
}

/// Keeps one entry from a desk's or a moved clinic's trail, once per (source, number). A read of
/// one patient names them as its record; of several, lists them in the detail.
pub async fn insert_kept(
    db: &impl GenericClient,
    source: uuid::Uuid,
    e: &clinicdesk_core::sync::wire::MigratedAuditEntry,
    desk: Option<&str>,
    actor_id: Option<uuid::Uuid>,
) -> Result<u64> {
    let client_id = uuid::Uuid::new_v5(&source, &e.seq.to_be_bytes());
    let (mut record_type, mut record_id) = (e.record_type.clone(), e.record_id.clone());
    let mut detail = e.detail.clone().unwrap_or_default();
    match e.patients.as_slice() {
        [one] if record_id.is_none() => {
            record_type = Some("patient".into());
            record_id = Some(one.to_string());
        }
        [] | [_] => {}
        many => {
            let ids: Vec<String> = many.iter().map(|p| p.to_string()).collect();
            detail = format!("{detail}; patients {}", ids.join(","));
        }
    }
    if let Some(desk) = desk {
        detail = if detail.is_empty() { format!("on desk {desk}") } else { format!("{detail}; on desk {desk}") };
    }
    let detail = (!detail.is_empty()).then_some(detail);
    Ok(db
        .execute(
            "INSERT INTO audit_log (at, actor_id, actor_label, action, record_type, record_id, detail, client_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (client_id) DO NOTHING",
            &[&e.at, &actor_id, &clean_label(&e.actor_label), &e.action, &record_type, &record_id, &detail, &client_id],
        )
        .await?)
}
