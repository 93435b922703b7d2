//! Starting a consultation: the room, the conversation and its two participants at Twilio, then
//! the state in progress.
//!
//! Each step is safe to repeat, and every repeat finds what an earlier attempt made: the intent
//! (room name, identities) is committed before the first request; the room is created by unique
//! name, and a live room of that name (53113) is fetched and reused; the conversation likewise
//! (50353); a participant already added (50433) is looked up. Each SID is recorded as it arrives.
//! So whatever stops a start half-way (Twilio down, a timeout after Twilio acted, the app killed),
//! pressing Start again continues it and never makes a second room or conversation.

use super::access::{self, Booking};
use super::store::{self, Record};
use super::words::{self, Step};
use super::{status_of, ConsultationState, ConsultationStatus, Consultations};
use crate::audit::{self, AuditAction};
use crate::auth::Caller;
use crate::db::ts;
use crate::error::{CoreError, Result};
use crate::twilio::config::TwilioAccount;
use crate::twilio::rooms::{self, RoomOptions};
use crate::twilio::{conversations, TwilioError, TwilioHttp};
use rusqlite::{params, TransactionBehavior};
use serde_json::json;
use uuid::Uuid;

/// The room a consultation runs in: a doctor, a patient and room for one more (an interpreter, a
/// relative). Recording is off; it is only ever switched on with the patient's recorded consent.
/// A room left empty stays open for 15 minutes, so a doctor whose app restarts mid-call rejoins
/// the same room; one nobody joins closes after an hour.
pub const ROOM: RoomOptions =
    RoomOptions { max_participants: 3, empty_timeout_minutes: 15, unused_timeout_minutes: 60, record: false };

/// The conversation role patients are added with, at the clinic's Conversation Service.
pub const PATIENT_ROLE: &str = "clinicdesk-patient";

/// What a patient may do in their consultation's conversation: chat (text and files), edit or
/// delete their own messages, leave, and write their own participant attributes (the waiting
/// room's signal: waiting.rs). Not: add or remove anyone, or change the conversation or others.
pub const PATIENT_PERMISSIONS: &[&str] = &[
    "sendMessage",
    "sendMediaMessage",
    "editOwnMessage",
    "deleteOwnMessage",
    "leaveConversation",
    "editOwnParticipantAttributes",
];

impl Consultations<'_> {
    /// Starts (or continues starting) the video consultation of `appointment`: only its doctor.
    /// Refused once it is in progress or over ("Cannot start a consultation with status: …").
    pub async fn start(&self, caller: &Caller, http: &TwilioHttp, appointment: Uuid) -> Result<ConsultationStatus> {
        let booking = access::own(self.clinic, caller, appointment, "start")?;
        let account = self.account(Step::Start)?;
        let record = self.record_intent(&booking)?;
        let failed = |err: crate::twilio::TwilioError| words::failed(&err, Step::Start);

        let id = appointment.to_string();
        let room = rooms::create_or_reuse(http, &account, &record.room_name, &ROOM).await.map_err(failed)?;
        self.remember(
            "UPDATE consultations SET room_sid = ?2, updated_at = ?3 WHERE appointment_id = ?1 AND status = 'scheduled'",
            params![id, room.sid, ts(self.clinic.now())],
        )?;

        self.open_chat(http, &account, appointment, &record, Step::Start).await?;
        let status = self.mark_started(caller, &booking)?;
        if status.state == ConsultationState::InProgress {
            self.invite_on_start(caller, appointment);
        }
        Ok(status)
    }

    /// The consultation's conversation (named like the room) with the doctor and the patient in it,
    /// each SID recorded as it arrives. Done at the first start, or earlier for the waiting room
    /// (waiting.rs); once both are in (`chat_ready`) it is not done again. Only while the
    /// consultation is still scheduled: an ended one keeps its record as it was.
    pub(super) async fn open_chat(
        &self,
        http: &TwilioHttp,
        account: &TwilioAccount,
        appointment: Uuid,
        record: &Record,
        step: Step,
    ) -> Result<()> {
        let failed = |err: TwilioError| words::failed(&err, step);
        let id = appointment.to_string();
        let attributes = json!({ "consultation": record.room_name });
        let chat = conversations::ensure(http, account, &record.room_name, "Consultation", &attributes)
            .await
            .map_err(failed)?;
        self.remember(
            "UPDATE consultations SET conversation_sid = ?2, chat_service_sid = coalesce(?3, chat_service_sid), updated_at = ?4
             WHERE appointment_id = ?1 AND status = 'scheduled'",
            params![id, chat.sid, chat.chat_service_sid, ts(self.clinic.now())],
        )?;
        if record.chat_ready && record.conversation_sid.as_deref() == Some(chat.sid.as_str()) {
            return Ok(());
        }
        let doctor = json!({ "role": "doctor" });
        let patient = json!({ "role": "patient" });
        // The patient's page writes its own attributes (the waiting room) and chats; nothing more.
        let patient_role =
            conversations::ensure_role(http, account, PATIENT_ROLE, PATIENT_PERMISSIONS).await.map_err(failed)?;
        let me = conversations::join(http, account, &chat.sid, &record.doctor_identity, Some(&doctor), None)
            .await
            .map_err(failed)?;
        conversations::join(http, account, &chat.sid, &record.patient_identity, Some(&patient), Some(&patient_role))
            .await
            .map_err(failed)?;
        self.remember(
            "UPDATE consultations SET doctor_participant_sid = ?2, chat_ready_at = ?3, updated_at = ?3
             WHERE appointment_id = ?1 AND status = 'scheduled'",
            params![id, me.sid, ts(self.clinic.now())],
        )
    }

    /// Checks the consultation may start and commits the intent before any request to Twilio.
    fn record_intent(&self, booking: &Booking) -> Result<Record> {
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Read again inside the write lock: reception may have cancelled it a moment ago.
        let fresh = access::booking(&tx, booking.id)?;
        let state = store::state(fresh.status, store::load(&tx, booking.id)?.as_ref());
        if state != ConsultationState::Scheduled {
            return Err(refusal("start", state));
        }
        store::ensure(&tx, booking.id, now)?;
        tx.execute(
            "UPDATE consultations SET start_requested_at = coalesce(start_requested_at, ?2), updated_at = ?2 WHERE appointment_id = ?1",
            params![booking.id.to_string(), ts(now)],
        )?;
        let record = store::load(&tx, booking.id)?.expect("ensured above");
        tx.commit()?;
        Ok(record)
    }

    /// Records what Twilio gave (only while the consultation is still being started), at once:
    /// the next step may fail, and the next start must find this one done.
    fn remember(&self, sql: &str, values: impl rusqlite::Params) -> Result<()> {
        self.clinic.db().conn()?.execute(sql, values)?;
        Ok(())
    }

    /// Everything is in place at Twilio: the consultation is in progress. A start running beside
    /// this one (another window) may have got here first; then this one simply reports the state.
    fn mark_started(&self, caller: &Caller, booking: &Booking) -> Result<ConsultationStatus> {
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let fresh = access::booking(&tx, booking.id)?;
        let record = store::load(&tx, booking.id)?;
        let state = store::state(fresh.status, record.as_ref());
        if state != ConsultationState::Scheduled && state != ConsultationState::InProgress {
            return Err(refusal("start", state));
        }
        let changed = tx.execute(
            "UPDATE consultations SET status = 'in_progress', started_at = ?2, started_by = ?3, updated_at = ?2
             WHERE appointment_id = ?1 AND status = 'scheduled' AND room_sid IS NOT NULL AND conversation_sid IS NOT NULL",
            params![booking.id.to_string(), ts(now), caller.user_id().to_string()],
        )?;
        if changed == 1 {
            let room = record.map(|r| r.room_name).unwrap_or_default();
            audit::record_for_patient(
                &tx,
                now,
                caller,
                AuditAction::ConsultationStarted,
                ("appointment", &booking.id.to_string()),
                booking.patient_id,
                Some(&format!("patient {}; room {room}", booking.patient_id)),
            )?;
        }
        let status = status_of(&tx, booking, true)?;
        tx.commit()?;
        Ok(status)
    }
}

/// "Cannot start a consultation with status: in-progress", and the like for the other verbs.
pub fn refusal(verb: &str, state: ConsultationState) -> CoreError {
    CoreError::Conflict(format!("Cannot {verb} a consultation with status: {}", state.label()))
}
