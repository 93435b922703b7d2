//! Ending a consultation: the room completed, the chat closed, who was in the room and the whole
//! chat kept, the appointment completed (core consultations/end.rs and late.rs, on the server).
//!
//! Until the last transaction commits the consultation stays in progress, so an end stopped
//! half-way is simply asked for again (every step is harmless to repeat). When Twilio cannot be
//! reached at all it ends all the same, marked `record_pending_since`, and the elected sender
//! fetches the record later (`fetch_late_records`): nobody needs to do anything when the network
//! returns.

use super::{booking, load, own, publish, state, twilio, Stored};
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
use clinicdesk_core::twilio::{conversations, rooms, TwilioError};
use deadpool_postgres::Pool;
use serde_json::json;
use tokio_postgres::GenericClient;
use uuid::Uuid;

/// The most late records one pass fetches (the rest wait for the next pass).
const LATE_PER_PASS: i64 = 20;

/// Ends the consultation for everyone and keeps its record: only its doctor, only while it runs.
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
    let record = match fetch(http, account, &stored, now).await {
        Ok(record) => Some(record),
        // No network: it ends here all the same; the record is fetched when Twilio answers again.
        Err(err @ TwilioError::NoAnswer { .. }) => {
            tracing::warn!(code = ?err.code(), "ending a consultation without Twilio; its record is fetched later");
            None
        }
        Err(err) => return Err(failed_at_twilio(&err, TwilioStep::End).into()),
    };
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let booking = booking(&*tx, appointment, true).await?;
    let (participants, chat) = match &record {
        Some(r) => (Some(to_json(&r.participants)?), Some(to_json(&r.chat)?)),
        None => (None, None),
    };
    let ended = tx
        .execute(
            "UPDATE consultations SET status = 'completed', ended_at = $2, ended_by = $3, updated_at = $2, recording = false,
                    participants = $4, chat = $5, record_pending_since = CASE WHEN $4::jsonb IS NULL THEN $2::timestamptz END
             WHERE appointment_id = $1 AND status = 'in_progress'
               AND room_sid IS NOT DISTINCT FROM $6 AND earlier_room_sids = $7",
            &[&appointment, &now, &staff.user_id, &participants, &chat, &stored.row.room_sid, &stored.earlier_room_sids],
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
        if let Some(r) = &record {
            super::attachments::note(&*tx, appointment, &r.chat).await?;
        }
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
        let detail = match &record {
            Some(r) => format!(
                "patient {}; {} participant connection(s), {} chat message(s) kept",
                booking.patient_id,
                r.participants.len(),
                r.chat.len()
            ),
            None => format!(
                "patient {}; ended without a connection to Twilio: the room and the chat are fetched when the network returns",
                booking.patient_id
            ),
        };
        let id = appointment.to_string();
        audit::record(&*tx, Some(staff), AuditAction::ConsultationEnded, Some(("appointment", &id)), Some(&detail))
            .await?;
    }
    let stored = load(&*tx, appointment).await?.expect("an ended consultation has a row");
    let kept = kept_of(&*tx, appointment).await?;
    if ended == 1 {
        publish(&*tx, &stored.row).await?;
        if let Some(kept) = &kept {
            publish_record(&*tx, booking.doctor_id, kept).await?;
        }
    }
    tx.commit().await?;
    Ok(ConsultationAnswer { consultation: stored.row, record: kept })
}

/// Completes the room (for everyone in it) and closes the chat, then fetches who was in every
/// room the consultation had and the whole chat, as the clinic keeps them. Harmless to repeat.
async fn fetch(
    http: &clinicdesk_core::twilio::TwilioHttp,
    account: &clinicdesk_core::twilio::config::TwilioAccount,
    stored: &Stored,
    now: DateTime<Utc>,
) -> std::result::Result<ConsultationRecordRow, TwilioError> {
    let room_sid = stored.row.room_sid.clone().unwrap_or_default();
    let chat_sid = stored.row.conversation_sid.clone().unwrap_or_default();
    done_already(rooms::complete(http, account, &room_sid).await)?;
    done_already(conversations::close(http, account, &chat_sid).await)?;
    let mut people = Vec::new();
    for sid in stored.earlier_room_sids.iter().chain([&room_sid]) {
        people.extend(rooms::participants(http, account, sid).await?);
    }
    let transcript = conversations::transcript(http, account, &chat_sid).await?;
    let (participants, chat) =
        kept_record(&stored.row.doctor_identity, &stored.row.patient_identity, &people, &transcript, now);
    Ok(ConsultationRecordRow { appointment_id: stored.row.appointment_id, participants, chat, chat_removed_at: None })
}

/// Fetches the records of consultations that ended while Twilio could not be reached (the
/// elected sender, once a minute). Stops at the first that still cannot reach Twilio; one that
/// Twilio refuses waits for the next pass without holding up the others. Returns how many were kept.
pub async fn fetch_late_records(
    client: &mut tokio_postgres::Client,
    texting: &Texting,
    now: DateTime<Utc>,
) -> Result<u32> {
    let pending: Vec<Uuid> = client
        .query(
            "SELECT appointment_id FROM consultations
             WHERE record_pending_since IS NOT NULL AND (record_fetch_after IS NULL OR record_fetch_after <= $2)
             ORDER BY record_pending_since LIMIT $1",
            &[&LATE_PER_PASS, &now],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut done = 0;
    for appointment in pending {
        let Some(stored) = load(&*client, appointment).await? else { continue };
        let record = match fetch(&texting.http, &texting.account, &stored, now).await {
            Ok(record) => record,
            Err(err @ TwilioError::NoAnswer { .. }) => {
                tracing::info!(code = ?err.code(), "Twilio still unreachable; late consultation records wait");
                break;
            }
            Err(err) => {
                // Refused (not "no answer"): this one waits longer each time, so it never holds
                // up the others.
                tracing::warn!(code = ?err.code(), "could not fetch a consultation's record late; trying again later");
                client
                    .execute(
                        "UPDATE consultations SET record_fetch_attempts = record_fetch_attempts + 1,
                                record_fetch_after = $2::timestamptz + least(interval '1 minute' * power(2, least(record_fetch_attempts, 9)), interval '6 hours')
                         WHERE appointment_id = $1",
                        &[&appointment, &now],
                    )
                    .await?;
                continue;
            }
        };
        let tx = client.transaction().await?;
        let kept = tx
            .query_opt(
                "UPDATE consultations c SET participants = $2, chat = $3, record_pending_since = NULL, updated_at = $4
                 FROM appointments a WHERE c.appointment_id = $1 AND a.id = c.appointment_id AND c.record_pending_since IS NOT NULL
                 RETURNING a.doctor_id, a.patient_id",
                &[&appointment, &to_json(&record.participants)?, &to_json(&record.chat)?, &now],
            )
            .await?;
        if let Some(row) = kept {
            let (doctor, patient): (Uuid, Uuid) = (row.get(0), row.get(1));
            super::attachments::note(&tx, appointment, &record.chat).await?;
            let detail = format!(
                "patient {patient}; fetched after an offline end: {} participant connection(s), {} chat message(s) kept",
                record.participants.len(),
                record.chat.len()
            );
            let id = appointment.to_string();
            audit::record(&tx, None, AuditAction::ConsultationRecordFetched, Some(("appointment", &id)), Some(&detail))
                .await?;
            let stored = load(&tx, appointment).await?.expect("kept above");
            publish(&tx, &stored.row).await?;
            publish_record(&tx, doctor, &record).await?;
            done += 1;
        }
        tx.commit().await?;
    }
    Ok(done)
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| ServerError::Setup(e.to_string()))
}

/// Who was in the room and the chat: clinical, so only to the doctor's and administrators' desks.
pub(super) async fn publish_record(
    db: &impl GenericClient,
    doctor: Uuid,
    record: &ConsultationRecordRow,
) -> Result<()> {
    changes::record(
        db,
        "consultation_record",
        record.appointment_id,
        &format!("doctor:{doctor}"),
        Some(to_json(record)?),
    )
    .await
}

/// The record kept at the end, as stored (another end may have kept it first); `None` while it
/// is still to be fetched.
async fn kept_of(db: &impl GenericClient, appointment: Uuid) -> Result<Option<ConsultationRecordRow>> {
    let row = db
        .query_opt(
            "SELECT participants, chat, chat_removed_at FROM consultations
             WHERE appointment_id = $1 AND status = 'completed' AND participants IS NOT NULL",
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
        chat_removed_at: row.get(2),
    }))
}
