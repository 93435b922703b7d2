//! Starting a video consultation at Twilio: the steps and their order written once, for a
//! one-desk clinic (start.rs, over SQLite) and the clinic server (`clinicdesk-server`'s
//! consultations/start.rs, over PostgreSQL), each implementing [`StartStore`].
//!
//! Invariants (what makes a start resumable and never repeated):
//! - The intent (room name, identities) is committed before the first request to Twilio, and
//!   every SID is recorded as it arrives, each in its own short write: no database transaction or
//!   connection is held across a request to Twilio. So whatever stops a start half-way (Twilio
//!   down, a timeout after Twilio acted, the app or server killed), pressing Start again continues
//!   it: the room is created by unique name and a live one reused (53113), the conversation
//!   likewise (50353), a participant already added (50433) looked up.
//! - Every remembered step applies only while the consultation is still scheduled: an ended one
//!   keeps its record as it was.
//! - The consultation is in progress only once the room and the conversation are both recorded;
//!   a start refused at that point (the appointment cancelled while Twilio was being set up)
//!   closes the room and the chat it made, so the patient is not left in an open conversation.

use super::end_steps::done_already;
use super::words::{self, Step};
use crate::error::CoreError;
use crate::twilio::config::TwilioAccount;
use crate::twilio::conversations::{self, Conversation};
use crate::twilio::rooms::{self, RoomOptions};
use crate::twilio::{TwilioError, TwilioHttp};
use serde_json::json;

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

/// What the steps need of a consultation's stored row.
#[derive(Debug, Clone)]
pub struct StartPlan {
    pub room_name: String,
    pub doctor_identity: String,
    pub patient_identity: String,
    pub conversation_sid: Option<String>,
    /// Both participants are in the conversation recorded.
    pub chat_ready: bool,
}

/// Where a consultation's chat steps are recorded: each method is its own short write, applied
/// only while the consultation is still scheduled (see the module's invariants).
#[allow(async_fn_in_trait)] // used with concrete stores only
pub trait ChatStore {
    /// The store's own error; every rule's refusal converts into it.
    type Error: From<CoreError>;
    /// The conversation (and its Conversation Service) as Twilio gave it.
    async fn remember_chat(&mut self, chat: &Conversation) -> Result<(), Self::Error>;
    /// Both participants are in; the doctor's participant SID.
    async fn remember_chat_ready(&mut self, doctor_participant_sid: &str) -> Result<(), Self::Error>;
}

/// Where a start is recorded (see the module's invariants).
#[allow(async_fn_in_trait)] // used with concrete stores only
pub trait StartStore: ChatStore {
    /// What the store answers once the consultation is in progress.
    type Started;
    /// Commits the intent before any request to Twilio, the appointment read again under its
    /// lock: the row made once (random room name and identities), the start requested. Refused
    /// with [`refusal`]`("start", …)` unless the consultation is scheduled.
    async fn record_intent(&mut self) -> Result<StartPlan, Self::Error>;
    /// The room as Twilio gave it.
    async fn remember_room(&mut self, room_sid: &str) -> Result<(), Self::Error>;
    /// In progress (audited, once) if the room and the conversation are recorded and it is still
    /// scheduled; reported as it is if another start got there first. `Ok(Err(refusal))` when it
    /// is neither scheduled nor in progress any more (cancelled, ended).
    async fn mark_started(&mut self) -> Result<Result<Self::Started, CoreError>, Self::Error>;
}

/// Starts (or continues starting) a consultation: the intent, the room, the chat, in progress.
/// The caller has checked who may start it and has the clinic's Twilio account.
pub async fn start<S: StartStore>(
    store: &mut S,
    http: &TwilioHttp,
    account: &TwilioAccount,
) -> Result<S::Started, S::Error> {
    let plan = store.record_intent().await?;
    let room = rooms::create_or_reuse(http, account, &plan.room_name, &ROOM)
        .await
        .map_err(|err| words::failed(&err, Step::Start))?;
    store.remember_room(&room.sid).await?;
    let chat = open_chat(store, http, account, &plan, Step::Start).await?;
    match store.mark_started().await? {
        Ok(started) => Ok(started),
        Err(refused) => {
            // Cancelled (or otherwise closed) while Twilio was being set up.
            if let Err(err) = done_already(rooms::complete(http, account, &room.sid).await) {
                tracing::warn!(code = ?err.code(), "could not close a start's room");
            }
            if let Err(err) = done_already(conversations::close(http, account, &chat.sid).await) {
                tracing::warn!(code = ?err.code(), "could not close a start's chat");
            }
            Err(refused.into())
        }
    }
}

/// The consultation's conversation (named like the room) with the doctor and the patient in it,
/// each SID recorded as it arrives: at the first start, or earlier for the waiting room (a link
/// texted by hand). Once both are in (`chat_ready`) they are not added again.
pub async fn open_chat<S: ChatStore>(
    store: &mut S,
    http: &TwilioHttp,
    account: &TwilioAccount,
    plan: &StartPlan,
    step: Step,
) -> Result<Conversation, S::Error> {
    let failed = |err: TwilioError| words::failed(&err, step);
    let attributes = json!({ "consultation": plan.room_name });
    let chat =
        conversations::ensure(http, account, &plan.room_name, "Consultation", &attributes).await.map_err(failed)?;
    store.remember_chat(&chat).await?;
    if plan.chat_ready && plan.conversation_sid.as_deref() == Some(chat.sid.as_str()) {
        return Ok(chat);
    }
    // The patient's page writes its own attributes (the waiting room) and chats; nothing more.
    let patient_role =
        conversations::ensure_role(http, account, PATIENT_ROLE, PATIENT_PERMISSIONS).await.map_err(failed)?;
    let doctor = json!({ "role": "doctor" });
    let patient = json!({ "role": "patient" });
    let me = conversations::join(http, account, &chat.sid, &plan.doctor_identity, Some(&doctor), None)
        .await
        .map_err(failed)?;
    conversations::join(http, account, &chat.sid, &plan.patient_identity, Some(&patient), Some(&patient_role))
        .await
        .map_err(failed)?;
    store.remember_chat_ready(&me.sid).await?;
    Ok(chat)
}

/// "Cannot start a consultation with status: in-progress", and the like for the other verbs.
pub fn refusal(verb: &str, state: super::ConsultationState) -> CoreError {
    CoreError::Conflict(format!("Cannot {verb} a consultation with status: {}", state.label()))
}
