//! How long consultation chats are kept on a clinic server: `consultations.chat_retention_days`
//! (`clinicdesk-server settings set`; empty: kept), as on one desk (core consultations/retention.rs).
//! The elected sender's once-a-minute work removes the chats of consultations that ended longer
//! ago than that: the server's copy and the feed's (so a desk joining later never receives them),
//! and publishes the record without its chat, so the desks of the doctor and administrators remove
//! theirs; every desk also applies the setting to its own copies by itself (it receives the
//! setting), also offline. Who was in the room, the notes and the texts stay. Audited per
//! consultation.

use super::end::publish_record;
use crate::audit;
use crate::error::Result;
use crate::settings;
use chrono::{DateTime, Duration, Utc};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::consultations::{check_chat_retention_days, KEY_CHAT_RETENTION_DAYS};
use clinicdesk_core::sync::wire::ConsultationRecordRow;
use serde_json::json;
use uuid::Uuid;

/// Consultations cleared per transaction.
const BATCH: i64 = 200;

/// Removes the chats the setting no longer keeps; returns how many consultations' chats went.
pub async fn remove_expired_chats(client: &mut tokio_postgres::Client, now: DateTime<Utc>) -> Result<u64> {
    let setting = settings::get(&*client, KEY_CHAT_RETENTION_DAYS).await?.unwrap_or_default();
    let Ok(Some(days)) = check_chat_retention_days(&setting) else { return Ok(0) };
    let cutoff = now - Duration::days(i64::from(days));
    let mut removed = 0;
    loop {
        let tx = client.transaction().await?;
        let expired = tx
            .query(
                "UPDATE consultations c SET chat = '[]'::jsonb, chat_removed_at = $2, updated_at = $2
                 FROM appointments a
                 WHERE a.id = c.appointment_id AND c.appointment_id IN (
                     SELECT appointment_id FROM consultations
                     WHERE status = 'completed' AND ended_at < $1 AND chat_removed_at IS NULL
                       AND record_pending_since IS NULL
                     ORDER BY ended_at LIMIT $3 FOR UPDATE)
                 RETURNING c.appointment_id, a.doctor_id, a.patient_id, c.participants",
                &[&cutoff, &now, &BATCH],
            )
            .await?;
        if expired.is_empty() {
            return Ok(removed);
        }
        for row in &expired {
            let (appointment, doctor, patient): (Uuid, Uuid, Uuid) = (row.get(0), row.get(1), row.get(2));
            // The chat's files go with it.
            tx.execute("DELETE FROM consultation_attachments WHERE appointment_id = $1", &[&appointment]).await?;
            // The feed's copies of the chat go; the record without it replaces them.
            tx.execute("DELETE FROM changes WHERE entity = 'consultation_record' AND entity_id = $1", &[&appointment])
                .await?;
            let participants: Option<serde_json::Value> = row.get(3);
            let record = ConsultationRecordRow {
                appointment_id: appointment,
                participants: serde_json::from_value(participants.unwrap_or(json!([]))).unwrap_or_default(),
                chat: Vec::new(),
                chat_removed_at: Some(now),
            };
            publish_record(&tx, doctor, &record).await?;
            let detail = format!(
                "patient {patient}; the chat was removed: chats are kept {days} days ({KEY_CHAT_RETENTION_DAYS})"
            );
            let id = appointment.to_string();
            audit::record(&tx, None, AuditAction::ChatRemoved, Some(("appointment", &id)), Some(&detail)).await?;
        }
        tx.commit().await?;
        removed += expired.len() as u64;
    }
}
