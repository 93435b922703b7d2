//! Starting a consultation on a one-desk clinic: the steps at Twilio are the core's
//! (start_steps.rs, also the clinic server's); this is their [`StartStore`] over the embedded
//! SQLite file, each step its own short IMMEDIATE write.

use super::access::{self, Booking};
use super::start_steps::{self, refusal, ChatStore, StartPlan, StartStore};
use super::store::{self, Record};
use super::words::Step;
use super::{status_of, ConsultationState, ConsultationStatus, Consultations};
use crate::audit::{self, AuditAction};
use crate::auth::Caller;
use crate::db::ts;
use crate::error::{CoreError, Result};
use crate::twilio::conversations::Conversation;
use crate::twilio::TwilioHttp;
use rusqlite::{params, TransactionBehavior};
use uuid::Uuid;

impl Consultations<'_> {
    /// Starts (or continues starting) the video consultation of `appointment`: only its doctor.
    /// Refused once it is in progress or over ("Cannot start a consultation with status: …").
    pub async fn start(&self, caller: &Caller, http: &TwilioHttp, appointment: Uuid) -> Result<ConsultationStatus> {
        let booking = access::own(self.clinic, caller, appointment, "start")?;
        let account = self.account(Step::Start)?;
        let mut desk = DeskStart { consultations: self, caller, booking: &booking };
        let status = start_steps::start(&mut desk, http, &account).await?;
        if status.state == ConsultationState::InProgress {
            self.invite_on_start(caller, appointment);
        }
        Ok(status)
    }
}

/// The plan the steps follow, from the stored row.
pub(super) fn plan_of(record: &Record) -> StartPlan {
    StartPlan {
        room_name: record.room_name.clone(),
        doctor_identity: record.doctor_identity.clone(),
        patient_identity: record.patient_identity.clone(),
        conversation_sid: record.conversation_sid.clone(),
        chat_ready: record.chat_ready,
    }
}

/// A consultation's steps recorded in the one-desk clinic's SQLite file.
pub(super) struct DeskStart<'a> {
    pub consultations: &'a Consultations<'a>,
    pub caller: &'a Caller,
    pub booking: &'a Booking,
}

impl DeskStart<'_> {
    /// Records what Twilio gave at once (only while still scheduled): the next step may fail, and
    /// the next start must find this one done.
    fn remember(&self, sql: &str, values: impl rusqlite::Params) -> Result<()> {
        self.consultations.clinic.db().conn()?.execute(sql, values)?;
        Ok(())
    }
}

impl ChatStore for DeskStart<'_> {
    type Error = CoreError;

    async fn remember_chat(&mut self, chat: &Conversation) -> Result<()> {
        self.remember(
            "UPDATE consultations SET conversation_sid = ?2, chat_service_sid = coalesce(?3, chat_service_sid), updated_at = ?4
             WHERE appointment_id = ?1 AND status = 'scheduled'",
            params![self.booking.id.to_string(), chat.sid, chat.chat_service_sid, ts(self.consultations.clinic.now())],
        )
    }

    async fn remember_chat_ready(&mut self, doctor_participant_sid: &str) -> Result<()> {
        self.remember(
            "UPDATE consultations SET doctor_participant_sid = ?2, chat_ready_at = ?3, updated_at = ?3
             WHERE appointment_id = ?1 AND status = 'scheduled'",
            params![self.booking.id.to_string(), doctor_participant_sid, ts(self.consultations.clinic.now())],
        )
    }
}

impl StartStore for DeskStart<'_> {
    type Started = ConsultationStatus;

    async fn record_intent(&mut self) -> Result<StartPlan> {
        let clinic = self.consultations.clinic;
        let now = clinic.now();
        let mut conn = clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Read again inside the write lock: reception may have cancelled it a moment ago.
        let fresh = access::booking(&tx, self.booking.id)?;
        let state = store::state(fresh.status, store::load(&tx, self.booking.id)?.as_ref());
        if state != ConsultationState::Scheduled {
            return Err(refusal("start", state));
        }
        store::ensure(&tx, self.booking.id, now)?;
        tx.execute(
            "UPDATE consultations SET start_requested_at = coalesce(start_requested_at, ?2), updated_at = ?2 WHERE appointment_id = ?1",
            params![self.booking.id.to_string(), ts(now)],
        )?;
        let record = store::load(&tx, self.booking.id)?.expect("ensured above");
        tx.commit()?;
        Ok(plan_of(&record))
    }

    async fn remember_room(&mut self, room_sid: &str) -> Result<()> {
        self.remember(
            "UPDATE consultations SET room_sid = ?2, updated_at = ?3 WHERE appointment_id = ?1 AND status = 'scheduled'",
            params![self.booking.id.to_string(), room_sid, ts(self.consultations.clinic.now())],
        )
    }

    async fn mark_started(&mut self) -> Result<Result<ConsultationStatus>> {
        let clinic = self.consultations.clinic;
        let now = clinic.now();
        let booking = self.booking;
        let mut conn = clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let fresh = access::booking(&tx, booking.id)?;
        let record = store::load(&tx, booking.id)?;
        let state = store::state(fresh.status, record.as_ref());
        if state != ConsultationState::Scheduled && state != ConsultationState::InProgress {
            return Ok(Err(refusal("start", state)));
        }
        let changed = tx.execute(
            "UPDATE consultations SET status = 'in_progress', started_at = ?2, started_by = ?3, updated_at = ?2
             WHERE appointment_id = ?1 AND status = 'scheduled' AND room_sid IS NOT NULL AND conversation_sid IS NOT NULL",
            params![booking.id.to_string(), ts(now), self.caller.user_id().to_string()],
        )?;
        if changed == 1 {
            let room = record.map(|r| r.room_name).unwrap_or_default();
            audit::record_for_patient(
                &tx,
                now,
                self.caller,
                AuditAction::ConsultationStarted,
                ("appointment", &booking.id.to_string()),
                booking.patient_id,
                Some(&format!("patient {}; room {room}", booking.patient_id)),
            )?;
        }
        let status = status_of(&tx, booking, true)?;
        tx.commit()?;
        Ok(Ok(status))
    }
}
