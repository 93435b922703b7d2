//! Starting a consultation from a doctor's desk: the steps at Twilio are the core's
//! (`consultations::start_steps`, the same a one-desk clinic runs); this is their store over
//! PostgreSQL, each step its own short transaction. After the start the patient's link is
//! texted (invite.rs).

use super::{booking, load, locked, own, publish, state, twilio, Stored};
use crate::audit;
use crate::error::{Result, ServerError};
use crate::staff::Staff;
use crate::twilio_setup::Texting;
use chrono::{DateTime, Utc};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::consultations::start_steps::{self, ChatStore, StartPlan, StartStore};
use clinicdesk_core::consultations::{refusal, ConsultationState};
use clinicdesk_core::error::CoreError;
use clinicdesk_core::sync::wire::ConsultationAnswer;
use clinicdesk_core::twilio::conversations::Conversation;
use deadpool_postgres::Pool;
use uuid::Uuid;

/// Starts (or continues starting) the consultation: only its doctor.
pub async fn start(
    pool: &Pool,
    texting: Option<&Texting>,
    staff: &Staff,
    appointment: Uuid,
    now: DateTime<Utc>,
) -> Result<ConsultationAnswer> {
    let not_started = "the video consultation has not started";
    let client = pool.get().await?;
    own(&**client, staff, appointment, "start").await?;
    let clinic_twilio = match twilio(texting, not_started) {
        Ok(found) => found,
        Err(no_account) => {
            // The state's refusal ("in progress", "completed") comes before "no Twilio account";
            // nothing is recorded for a start that cannot go on.
            let booking = booking(&**client, appointment, false).await?;
            let state = state(&booking, load(&**client, appointment).await?.as_ref());
            if state != ConsultationState::Scheduled {
                return Err(refusal("start", state).into());
            }
            return Err(no_account);
        }
    };
    drop(client);
    let mut steps = PgStart { pool, staff, appointment, now };
    let answer = start_steps::start(&mut steps, &clinic_twilio.http, &clinic_twilio.account).await?;
    super::invite::on_start(pool, clinic_twilio, staff, appointment, now).await;
    Ok(answer)
}

/// The plan the steps follow, from the stored row.
pub(super) fn plan_of(stored: &Stored) -> StartPlan {
    StartPlan {
        room_name: stored.row.room_name.clone(),
        doctor_identity: stored.row.doctor_identity.clone(),
        patient_identity: stored.row.patient_identity.clone(),
        conversation_sid: stored.row.conversation_sid.clone(),
        chat_ready: stored.chat_ready,
    }
}

/// A consultation's chat steps recorded on the server (also the waiting room's, waiting.rs).
pub(super) struct PgChat<'a> {
    pub pool: &'a Pool,
    pub appointment: Uuid,
    pub now: DateTime<Utc>,
}

impl PgChat<'_> {
    /// Records what Twilio gave at once (only while still scheduled): the next step may fail, and
    /// the next start must find this one done.
    async fn remember(&self, sql: &str, values: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> Result<()> {
        self.pool.get().await?.execute(sql, values).await?;
        Ok(())
    }
}

impl ChatStore for PgChat<'_> {
    type Error = ServerError;

    async fn remember_chat(&mut self, chat: &Conversation) -> Result<()> {
        self.remember(
            "UPDATE consultations SET conversation_sid = $2, chat_service_sid = coalesce($3, chat_service_sid), updated_at = $4
             WHERE appointment_id = $1 AND status = 'scheduled'",
            &[&self.appointment, &chat.sid, &chat.chat_service_sid, &self.now],
        )
        .await
    }

    async fn remember_chat_ready(&mut self, doctor_participant_sid: &str) -> Result<()> {
        self.remember(
            "UPDATE consultations SET doctor_participant_sid = $3, chat_ready_at = $2, updated_at = $2
             WHERE appointment_id = $1 AND status = 'scheduled'",
            &[&self.appointment, &self.now, &doctor_participant_sid],
        )
        .await
    }
}

/// A start's steps recorded on the server.
struct PgStart<'a> {
    pool: &'a Pool,
    staff: &'a Staff,
    appointment: Uuid,
    now: DateTime<Utc>,
}

impl PgStart<'_> {
    fn chat(&self) -> PgChat<'_> {
        PgChat { pool: self.pool, appointment: self.appointment, now: self.now }
    }
}

impl ChatStore for PgStart<'_> {
    type Error = ServerError;

    async fn remember_chat(&mut self, chat: &Conversation) -> Result<()> {
        self.chat().remember_chat(chat).await
    }

    async fn remember_chat_ready(&mut self, doctor_participant_sid: &str) -> Result<()> {
        self.chat().remember_chat_ready(doctor_participant_sid).await
    }
}

impl StartStore for PgStart<'_> {
    type Started = ConsultationAnswer;

    async fn record_intent(&mut self) -> Result<StartPlan> {
        let (appointment, now) = (self.appointment, self.now);
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let (_, _, state) = locked(&*tx, appointment).await?;
        if state != ConsultationState::Scheduled {
            return Err(refusal("start", state).into());
        }
        tx.execute(
            "INSERT INTO consultations (appointment_id, room_name, doctor_identity, patient_identity, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (appointment_id) DO NOTHING",
            &[&appointment, &super::opaque("cd-"), &super::opaque("d-"), &super::opaque("p-"), &now],
        )
        .await?;
        tx.execute(
            "UPDATE consultations SET start_requested_at = coalesce(start_requested_at, $2), updated_at = $2 WHERE appointment_id = $1",
            &[&appointment, &now],
        )
        .await?;
        let stored = load(&*tx, appointment).await?.expect("ensured above");
        // Desks show "starting" meanwhile.
        publish(&*tx, &stored.row).await?;
        tx.commit().await?;
        Ok(plan_of(&stored))
    }

    async fn remember_room(&mut self, room_sid: &str) -> Result<()> {
        self.chat()
            .remember(
                "UPDATE consultations SET room_sid = $2, updated_at = $3 WHERE appointment_id = $1 AND status = 'scheduled'",
                &[&self.appointment, &room_sid, &self.now],
            )
            .await
    }

    async fn mark_started(&mut self) -> Result<std::result::Result<ConsultationAnswer, CoreError>> {
        let (appointment, now) = (self.appointment, self.now);
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let (booking, _, state) = locked(&*tx, appointment).await?;
        if state != ConsultationState::Scheduled && state != ConsultationState::InProgress {
            return Ok(Err(refusal("start", state)));
        }
        let changed = tx
            .execute(
                "UPDATE consultations SET status = 'in_progress', started_at = $2, started_by = $3, updated_at = $2
                 WHERE appointment_id = $1 AND status = 'scheduled' AND room_sid IS NOT NULL AND conversation_sid IS NOT NULL",
                &[&appointment, &now, &self.staff.user_id],
            )
            .await?;
        let stored = load(&*tx, appointment).await?.expect("a started consultation has a row");
        if changed == 1 {
            let detail = format!("patient {}; room {}", booking.patient_id, stored.row.room_name);
            audit::record(
                &*tx,
                Some(self.staff),
                AuditAction::ConsultationStarted,
                Some(("appointment", &appointment.to_string())),
                Some(&detail),
            )
            .await?;
            publish(&*tx, &stored.row).await?;
        }
        tx.commit().await?;
        Ok(Ok(ConsultationAnswer { consultation: stored.row, record: None }))
    }
}
