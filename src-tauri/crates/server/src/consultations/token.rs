//! The doctor's Access Token for a running consultation, minted with the clinic's key: the rules
//! are the core's (`consultations::join_steps`, the same a one-desk clinic runs); this is their
//! store over PostgreSQL.

use super::{load, own, publish, state, stored_row, twilio, Booking, Stored, COLUMNS};
use crate::audit;
use crate::error::{Result, ServerError};
use crate::staff::Staff;
use crate::twilio_setup::Texting;
use chrono::{DateTime, Utc};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::consultations::join_steps::{self, JoinPlan, JoinStore};
use clinicdesk_core::consultations::{refusal, ConsultationState, ConsultationToken};
use clinicdesk_core::error::CoreError;
use deadpool_postgres::Pool;
use uuid::Uuid;

/// The doctor's token for the running consultation: the room and the chat (`video`; the room is
/// opened again if Twilio closed it), or the chat only (at most an hour). Audited on every mint.
pub async fn token(
    pool: &Pool,
    texting: Option<&Texting>,
    staff: &Staff,
    appointment: Uuid,
    video: bool,
    now: DateTime<Utc>,
) -> Result<ConsultationToken> {
    let plan = {
        let client = pool.get().await?;
        let booking = own(&**client, staff, appointment, "join").await?;
        let found = load(&**client, appointment).await?;
        match found {
            Some(stored) if state(&booking, Some(&stored)) == ConsultationState::InProgress => {
                join_plan(&booking, &stored)
            }
            other => return Err(refusal("join", state(&booking, other.as_ref())).into()),
        }
    };
    let Texting { http, account } = twilio(texting, "the video consultation cannot be joined from here")?;
    if video {
        join_steps::reopen_room(&mut PgJoin { pool, appointment, now }, http, account, &plan).await?;
    }
    let (token, detail) = join_steps::doctor_token(&plan, account, video, now)?;
    let client = pool.get().await?;
    audit::record(
        &**client,
        Some(staff),
        AuditAction::TokenMinted,
        Some(("appointment", &appointment.to_string())),
        Some(&detail),
    )
    .await?;
    Ok(token)
}

fn join_plan(booking: &Booking, stored: &Stored) -> JoinPlan {
    JoinPlan {
        patient: booking.patient_id,
        ends_at: booking.ends_at,
        room_name: stored.row.room_name.clone(),
        room_sid: stored.row.room_sid.clone(),
        doctor_identity: stored.row.doctor_identity.clone(),
        patient_identity: stored.row.patient_identity.clone(),
        conversation_sid: stored.row.conversation_sid.clone(),
        chat_service_sid: stored.row.chat_service_sid.clone(),
    }
}

/// A join recorded on the server.
struct PgJoin<'a> {
    pool: &'a Pool,
    appointment: Uuid,
    now: DateTime<Utc>,
}

impl JoinStore for PgJoin<'_> {
    type Error = ServerError;

    async fn record_room(
        &mut self,
        room_sid: &str,
        replaces: Option<&str>,
    ) -> Result<std::result::Result<(), CoreError>> {
        let appointment = self.appointment;
        // One transaction with the appointment's row locked, as the end takes it.
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let (_, _, state) = super::locked(&*tx, appointment).await?;
        if state != ConsultationState::InProgress {
            return Ok(Err(refusal("join", state)));
        }
        if replaces == Some(room_sid) {
            return Ok(Ok(()));
        }
        // Only if nobody recorded a newer room meanwhile (the SID it replaces is checked).
        let moved = tx
            .query_opt(
                &format!(
                    "UPDATE consultations SET earlier_room_sids = earlier_room_sids || room_sid, room_sid = $2, updated_at = $4
                     WHERE appointment_id = $1 AND status = 'in_progress' AND room_sid IS NOT DISTINCT FROM $3
                     RETURNING {COLUMNS}"
                ),
                &[&appointment, &room_sid, &replaces, &self.now],
            )
            .await?;
        if let Some(moved) = moved {
            publish(&*tx, &stored_row(&moved).row).await?;
        }
        tx.commit().await?;
        Ok(Ok(()))
    }
}
