//! Consultations of a one-desk clinic moving onto this server (migration_history.rs): kept as
//! the server would have kept them, and fed to the desks (the state to every desk, the record to
//! the doctor's and administrators'); a kept chat's attachments are listed, so the sender fetches
//! them from Twilio while Twilio still has them.

use super::end::{publish_record, to_json};
use super::{load, publish};
use crate::error::Result;
use clinicdesk_core::sync::wire::MigratedConsultation;
use tokio_postgres::GenericClient;
use uuid::Uuid;

/// Keeps `moved` (staff ids already mapped to the server's). `false`: skipped, because its
/// appointment did not come (an overlap the server refused) or it is here already.
pub async fn keep_moved(db: &impl GenericClient, moved: &MigratedConsultation) -> Result<bool> {
    let c = &moved.consultation;
    let record = moved.record.as_ref().filter(|r| r.appointment_id == c.appointment_id);
    let (participants, chat) = match record {
        Some(r) => (Some(to_json(&r.participants)?), Some(to_json(&r.chat)?)),
        None => (None, None),
    };
    let chat_removed_at = record.and_then(|r| r.chat_removed_at);
    let added = db
        .query_opt(
            "INSERT INTO consultations (appointment_id, status, room_name, doctor_identity, patient_identity, start_requested_at,
                                        room_sid, earlier_room_sids, conversation_sid, chat_service_sid, started_at, started_by,
                                        ended_at, ended_by, participants, chat, record_pending_since, chat_removed_at,
                                        recording_consent_at, recording_consent_by, created_at, updated_at)
             SELECT a.id, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                    (SELECT id FROM users WHERE id = $12), $13, (SELECT id FROM users WHERE id = $14), $15, $16,
                    CASE WHEN $17 THEN coalesce($13, now()) END, $18, $19, (SELECT id FROM users WHERE id = $20),
                    coalesce($11, now()), coalesce($13, $11, now())
             FROM appointments a WHERE a.id = $1
             ON CONFLICT DO NOTHING
             RETURNING (SELECT doctor_id FROM appointments WHERE id = $1)",
            &[
                &c.appointment_id,
                &c.status,
                &c.room_name,
                &c.doctor_identity,
                &c.patient_identity,
                &c.start_requested_at,
                &c.room_sid,
                &moved.earlier_room_sids,
                &c.conversation_sid,
                &c.chat_service_sid,
                &c.started_at,
                &c.started_by,
                &c.ended_at,
                &c.ended_by,
                &participants,
                &chat,
                &c.record_pending,
                &chat_removed_at,
                &c.recording_consent_at,
                &moved.recording_consent_by,
            ],
        )
        .await?;
    let Some(row) = added else { return Ok(false) };
    let doctor: Uuid = row.get(0);
    let stored = load(db, c.appointment_id).await?.expect("kept above");
    publish(db, &stored.row).await?;
    if let Some(r) = record {
        if chat_removed_at.is_none() {
            super::attachments::note(db, c.appointment_id, &r.chat).await?;
        }
        publish_record(db, doctor, r).await?;
    }
    Ok(true)
}
