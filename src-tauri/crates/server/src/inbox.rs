//! Reception's inbox on a clinic server: the patients' texts no rule handled (replies.rs keeps
//! them), read on every desk from the feed (migration 12's trigger) and marked read here, once,
//! by staff who text patients (as on one desk, core sms/inbox.rs).

use crate::audit;
use crate::error::{Result, ServerError};
use crate::staff::Staff;
use chrono::{DateTime, Utc};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::auth::Permission;
use clinicdesk_core::error::CoreError;
use clinicdesk_core::sync::wire::TextReplyRow;
use deadpool_postgres::Pool;
use uuid::Uuid;

/// Marks a patient's text read (dealt with) by `staff`; marking it again changes nothing.
/// Answers with the reply as desks keep it.
pub async fn mark_read(pool: &Pool, staff: &Staff, sid: &str, now: DateTime<Utc>) -> Result<TextReplyRow> {
    let mut client = pool.get().await?;
    staff.require(&**client, Permission::SendTexts).await?;
    let tx = client.transaction().await?;
    let marked = tx
        .query_opt(
            "UPDATE sms_inbound SET read_at = $2, read_by = $3 WHERE sid = $1 AND read_at IS NULL RETURNING patient_id",
            &[&sid, &now, &staff.user_id],
        )
        .await?;
    if let Some(row) = marked {
        let patient: Option<Uuid> = row.get(0);
        let detail = patient.map(|p| format!("patient {p}; reply marked read"));
        audit::record(&*tx, Some(staff), AuditAction::TextHandled, Some(("sms_inbound", sid)), detail.as_deref())
            .await?;
    }
    let row = tx
        .query_opt("SELECT reply_for_desks(r) FROM sms_inbound r WHERE sid = $1", &[&sid])
        .await?
        .ok_or_else(|| CoreError::NotFound("That text from a patient could not be found.".into()))?;
    tx.commit().await?;
    serde_json::from_value(row.get(0)).map_err(|e| ServerError::Setup(e.to_string()))
}
