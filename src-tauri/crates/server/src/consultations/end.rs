//! Ending a consultation: the room completed, the chat closed, who was in the room and the whole
//! chat kept, the appointment completed.

use super::{booking, load, own, publish, state, twilio};
use crate::audit;
use crate::changes;
use crate::error::{Result, ServerError};
use crate::settings;
use crate::staff::Staff;
use crate::twilio_setup::Texting;
use chrono::{DateTime, Utc};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::consultations::{
    done_already, failed_at_twilio, kept_record, refusal, ConsultationState, TwilioStep,
};
use clinicdesk_core::error::CoreError;
use clinicdesk_core::sync::wire::{ConsultationAnswer, ConsultationRecordRow};
use clinicdesk_core::twilio::{conversations, rooms};
use deadpool_postgres::Pool;
use serde_json::json;
use tokio_postgres::GenericClient;
use uuid::Uuid;

/// Ends the consultation for everyone and keeps its record (who was in every room it had, the
/// whole chat): only its doctor, only while it runs. Until the last transaction commits it stays
/// in progress, so an end stopped half-way is simply asked for again (every step is harmless to
/// repeat). Unlike a one-desk clinic, a server that cannot reach Twilio does not end it without
/// its record: the doctor presses End again (the words say so).
pub async fn end(
    pool: &Pool,
    texting: Option<&Texting>,
    staff: &Staff,
    appointment: Uuid,
    now: DateTime<Utc>,
) -> Result<ConsultationAnswer> {
    let stored = {
        let client = pool.get().await?;
        let booking = own(&**client, staff, appointment, "end").await?;
        match load(&**client, appointment).await? {
            Some(stored) if state(&booking, Some(&stored)) == ConsultationState::InProgress => stored,
            other => return Err(refusal("end", state(&booking, other.as_ref())).into()),
        }
    };
    let Texting { http, account } = twilio(texting, "the consultation has not finished ending")?;
    let failed = |err: clinicdesk_core::twilio::TwilioError| ServerError::from(failed_at_twilio(&err, TwilioStep::End));
    let room_sid = stored.row.room_sid.clone().unwrap_or_default();
    let chat_sid = stored.row.conversation_sid.clone().unwrap_or_default();
    done_already(rooms::complete(http, account, &room_sid).await).map_err(failed)?;
    done_already(conversations::close(http, account, &chat_sid).await).map_err(failed)?;
    let mut people = Vec::new();
    for sid in stored.earlier_room_sids.iter().chain([&room_sid]) {
        people.extend(rooms::participants(http, account, sid).await.map_err(failed)?);
    }
    let transcript = conversations::transcript(http, account, &chat_sid).await.map_err(failed)?;
    let (participants, chat) =
        kept_record(&stored.row.doctor_identity, &stored.row.patient_identity, &people, &transcript, now);
    let record = ConsultationRecordRow { appointment_id: appointment, participants, chat };
    let to_json = |v: serde_json::Result<serde_json::Value>| v.map_err(|e| ServerError::Setup(e.to_string()));
    let (participants, chat) =
        (to_json(serde_json::to_value(&record.participants))?, to_json(serde_json::to_value(&record.chat))?);

    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let booking = booking(&*tx, appointment, true).await?;
    let ended = tx
        .execute(
            "UPDATE consultations SET status = 'completed', ended_at = $2, ended_by = $3, updated_at = $2,
                    participants = $4, chat = $5
             WHERE appointment_id = $1 AND status = 'in_progress'
               AND room_sid IS NOT DISTINCT FROM $6 AND earlier_room_sids = $7",
            &[
                &appointment,
                &now,
                &staff.user_id,
                &participants,
                &chat,
                &stored.row.room_sid,
                &stored.earlier_room_sids,
            ],
        )
        .await?;
    if ended == 0 && load(&*tx, appointment).await?.is_some_and(|s| s.row.status == "in_progress") {
        // The doctor's other window opened the room again while this end talked to Twilio: that
        // room is not in the record yet. Nothing is kept; the next End completes it too.
        return Err(CoreError::Conflict(
            "The consultation's room was opened again while it was ending. Press End again.".into(),
        )
        .into());
    }
    if ended == 1 {
        // The visit happened: the appointment is completed too (its waiting texts are then skipped).
        let completed = tx
            .execute(
                "UPDATE appointments SET status = 'completed', version = version + 1, updated_at = $2
                 WHERE id = $1 AND status IN ('scheduled', 'confirmed', 'checked_in')",
                &[&appointment, &now],
            )
            .await?;
        if completed == 1 {
            let tz = settings::time_zone(&*tx).await?;
            changes::appointment(&*tx, &crate::appointments::find(&*tx, appointment, tz).await?).await?;
        }
        let detail = format!(
            "patient {}; {} participant connection(s), {} chat message(s) kept",
            booking.patient_id,
            record.participants.len(),
            record.chat.len()
        );
        audit::record(
            &*tx,
            Some(staff),
            AuditAction::ConsultationEnded,
            Some(("appointment", &appointment.to_string())),
            Some(&detail),
        )
        .await?;
    }
    let stored = load(&*tx, appointment).await?.expect("an ended consultation has a row");
    let kept = kept_of(&*tx, appointment).await?;
    if ended == 1 {
        publish(&*tx, &stored.row).await?;
        if let Some(kept) = &kept {
            let value = serde_json::to_value(kept).map_err(|e| ServerError::Setup(e.to_string()))?;
            changes::record(
                &*tx,
                "consultation_record",
                appointment,
                &format!("doctor:{}", booking.doctor_id),
                Some(value),
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(ConsultationAnswer { consultation: stored.row, record: kept })
}

/// The record kept at the end, as stored (another end may have kept it first).
async fn kept_of(db: &impl GenericClient, appointment: Uuid) -> Result<Option<ConsultationRecordRow>> {
    let row = db
        .query_opt(
            "SELECT participants, chat FROM consultations WHERE appointment_id = $1 AND status = 'completed'",
            &[&appointment],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    fn read<T: serde::de::DeserializeOwned>(v: Option<serde_json::Value>) -> Result<Vec<T>> {
        serde_json::from_value(v.unwrap_or(json!([]))).map_err(|e| ServerError::Setup(e.to_string()))
    }
    Ok(Some(ConsultationRecordRow {
        appointment_id: appointment,
        participants: read(row.get(0))?,
        chat: read(row.get(1))?,
    }))
}
