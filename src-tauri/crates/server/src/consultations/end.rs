//! Ending a consultation: the room completed, the chat closed, who was in the room and the whole
//! chat kept, the appointment completed: the core's steps (consultations/end_steps.rs, the same a
//! one-desk clinic runs) over PostgreSQL.
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
use clinicdesk_core::consultations::end_steps::{
    self, Completed, EndPlan, EndStore, KeptRecord, LateRecord, LateRecordStore,
};
use clinicdesk_core::consultations::{refusal, ConsultationState};
use clinicdesk_core::sync::wire::{ConsultationAnswer, ConsultationRecordRow};
use deadpool_postgres::Pool;
use serde_json::json;
use tokio_postgres::GenericClient;
use uuid::Uuid;

/// The most late records one pass fetches (the rest wait for the next pass).
const LATE_PER_PASS: u32 = 20;

/// Ends the consultation for everyone and keeps its record: its doctor or an administrator, only
/// while it runs.
pub async fn end(
    pool: &Pool,
    texting: Option<&Texting>,
    staff: &Staff,
    appointment: Uuid,
    now: DateTime<Utc>,
) -> Result<ConsultationAnswer> {
    let patient = {
        let client = pool.get().await?;
        // Its doctor, or an administrator ending one left running (as on one desk: access.rs).
        if staff.role() == clinicdesk_core::auth::Role::Admin {
            let booking = super::booking(&**client, appointment, false).await?;
            if !booking.video {
                return Err(clinicdesk_core::consultations::in_person().into());
            }
            booking.patient_id
        } else {
            own(&**client, staff, appointment, "end").await?.patient_id
        }
    };
    let mut store = PgEnd { pool, staff, appointment, now };
    // Refused by state first ("scheduled", "completed"), then "no Twilio account".
    let plan = store.plan_end().await?;
    let Texting { http, account } = twilio(texting, "the consultation has not finished ending")?;
    end_steps::end(&mut store, plan, http, account, patient, now).await
}

/// The plan the end's steps follow, from the stored row.
fn end_plan(stored: &Stored) -> EndPlan {
    EndPlan {
        doctor_identity: stored.row.doctor_identity.clone(),
        patient_identity: stored.row.patient_identity.clone(),
        room_sid: stored.row.room_sid.clone(),
        earlier_room_sids: stored.earlier_room_sids.clone(),
        conversation_sid: stored.row.conversation_sid.clone(),
        // The server keeps no waiting report: not asked of Twilio.
        read_waiting_report: false,
    }
}

/// The record as desks receive it (the waiting room's report is kept on one desk only).
fn record_row(appointment: Uuid, kept: &KeptRecord) -> ConsultationRecordRow {
    ConsultationRecordRow {
        appointment_id: appointment,
        participants: kept.people.clone(),
        chat: kept.chat.clone(),
        chat_removed_at: None,
    }
}

/// An end recorded on the server.
struct PgEnd<'a> {
    pool: &'a Pool,
    staff: &'a Staff,
    appointment: Uuid,
    now: DateTime<Utc>,
}

impl EndStore for PgEnd<'_> {
    type Error = ServerError;
    type Ended = ConsultationAnswer;

    async fn plan_end(&mut self) -> Result<EndPlan> {
        let client = self.pool.get().await?;
        let booking = booking(&**client, self.appointment, false).await?;
        match load(&**client, self.appointment).await? {
            Some(stored) if state(&booking, Some(&stored)) == ConsultationState::InProgress => Ok(end_plan(&stored)),
            other => Err(refusal("end", state(&booking, other.as_ref())).into()),
        }
    }

    async fn complete(
        &mut self,
        plan: &EndPlan,
        record: Option<&KeptRecord>,
        detail: &str,
    ) -> Result<Completed<ConsultationAnswer>> {
        let (appointment, now, staff) = (self.appointment, self.now, self.staff);
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // The notes' turn before the appointment's row, in the order a notes save takes them (its
        // inserts check the appointment row): the end and a save never wait for each other.
        crate::consultation_notes::take_turn(&*tx, appointment).await?;
        let booking = booking(&*tx, appointment, true).await?;
        let record = record.map(|kept| record_row(appointment, kept));
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
                &[&appointment, &now, &staff.user_id, &participants, &chat, &plan.room_sid, &plan.earlier_room_sids],
            )
            .await?;
        if ended == 0 && load(&*tx, appointment).await?.is_some_and(|s| s.row.status == "in_progress") {
            // The doctor's other window opened the room again while this end talked to Twilio.
            return Ok(Completed::RoomReopened);
        }
        if ended == 1 {
            if let Some(r) = &record {
                super::attachments::note(&*tx, appointment, &r.chat).await?;
            }
            // The notes as they stand now are the first version of their history (notes_rule.rs),
            // taken in turn with saves of them: a save waiting for this end is then an amendment.
            crate::consultation_notes::keep_notes_at_end(
                &*tx,
                appointment,
                booking.doctor_id,
                booking.doctor_user,
                now,
            )
            .await?;
            // Answers kept for desks' repeated chat sends are no longer needed: the record is kept.
            tx.execute("DELETE FROM chat_sends WHERE appointment_id = $1", &[&appointment]).await?;
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
            let id = appointment.to_string();
            audit::record(&*tx, Some(staff), AuditAction::ConsultationEnded, Some(("appointment", &id)), Some(detail))
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
        Ok(Completed::Ended(ConsultationAnswer { consultation: stored.row, record: kept }))
    }
}

/// Fetches the records of consultations that ended while Twilio could not be reached (the
/// elected sender, once a minute), by the core's steps. Returns how many were kept.
pub async fn fetch_late_records(
    client: &mut tokio_postgres::Client,
    texting: &Texting,
    now: DateTime<Utc>,
) -> Result<u32> {
    let mut store = PgLate { client, now };
    end_steps::fetch_late_records(&mut store, &texting.http, &texting.account, LATE_PER_PASS, now).await
}

/// Records fetched late, kept on the server.
struct PgLate<'a> {
    client: &'a mut tokio_postgres::Client,
    now: DateTime<Utc>,
}

impl LateRecordStore for PgLate<'_> {
    type Error = ServerError;

    async fn due(&mut self, limit: u32) -> Result<Vec<LateRecord>> {
        let rows = self
            .client
            .query(
                "SELECT c.appointment_id, a.patient_id FROM consultations c JOIN appointments a ON a.id = c.appointment_id
                 WHERE c.record_pending_since IS NOT NULL AND (c.record_fetch_after IS NULL OR c.record_fetch_after <= $2)
                 ORDER BY c.record_pending_since LIMIT $1",
                &[&i64::from(limit), &self.now],
            )
            .await?;
        let mut due = Vec::with_capacity(rows.len());
        for row in rows {
            let (appointment, patient): (Uuid, Uuid) = (row.get(0), row.get(1));
            if let Some(stored) = load(&*self.client, appointment).await? {
                due.push(LateRecord { appointment, patient, plan: end_plan(&stored) });
            }
        }
        Ok(due)
    }

    async fn fetch_later(&mut self, appointment: Uuid) -> Result<()> {
        self.client
            .execute(
                "UPDATE consultations SET record_fetch_attempts = record_fetch_attempts + 1,
                        record_fetch_after = $2::timestamptz + least(interval '1 minute' * power(2, least(record_fetch_attempts, 9)), interval '6 hours')
                 WHERE appointment_id = $1",
                &[&appointment, &self.now],
            )
            .await?;
        Ok(())
    }

    async fn keep_late(&mut self, appointment: Uuid, record: &KeptRecord, detail: &str) -> Result<bool> {
        let record = record_row(appointment, record);
        let tx = self.client.transaction().await?;
        let kept = tx
            .query_opt(
                "UPDATE consultations c SET participants = $2, chat = $3, record_pending_since = NULL, updated_at = $4
                 FROM appointments a WHERE c.appointment_id = $1 AND a.id = c.appointment_id AND c.record_pending_since IS NOT NULL
                 RETURNING a.doctor_id",
                &[&appointment, &to_json(&record.participants)?, &to_json(&record.chat)?, &self.now],
            )
            .await?;
        let Some(row) = kept else { return Ok(false) };
        let doctor: Uuid = row.get(0);
        super::attachments::note(&tx, appointment, &record.chat).await?;
        let id = appointment.to_string();
        audit::record(&tx, None, AuditAction::ConsultationRecordFetched, Some(("appointment", &id)), Some(detail))
            .await?;
        let stored = load(&tx, appointment).await?.expect("kept above");
        publish(&tx, &stored.row).await?;
        publish_record(&tx, doctor, &record).await?;
        tx.commit().await?;
        Ok(true)
    }
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
