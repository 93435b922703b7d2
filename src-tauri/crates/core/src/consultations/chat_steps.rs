//! The consultation's chat through Twilio's REST API — send as the doctor, read with both read
//! horizons, mark read — written once for a one-desk clinic (chat.rs) and the clinic server
//! (`clinicdesk-server`'s consultations/chat.rs), which each check who may and keep the doctor's
//! read horizon in their own store.

use super::end::chat_line;
use super::model::{ChatLine, ChatView, ConsultationState};
use super::start_steps::refusal;
use super::words::{self, Step};
use crate::error::CoreError;
use crate::twilio::config::TwilioAccount;
use crate::twilio::{conversations, TwilioError, TwilioHttp};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Twilio's limit for one message's body.
pub const MAX_MESSAGE_CHARS: usize = 1600;

/// What the chat needs of a running consultation.
#[derive(Debug, Clone)]
pub struct ChatPlan {
    pub patient: Uuid,
    pub doctor_identity: String,
    pub patient_identity: String,
    pub conversation_sid: Option<String>,
    pub doctor_participant_sid: Option<String>,
    /// How far the doctor has read, as last kept by the clinic.
    pub doctor_read_index: Option<i64>,
}

/// A message the doctor may send: not empty, within Twilio's limit.
pub fn check_message(body: &str) -> Result<(), CoreError> {
    if body.trim().is_empty() {
        return Err(CoreError::invalid("body", "Write a message first."));
    }
    if body.chars().count() > MAX_MESSAGE_CHARS {
        return Err(CoreError::invalid(
            "body",
            format!("A chat message can be up to {MAX_MESSAGE_CHARS} characters; split this one."),
        ));
    }
    Ok(())
}

/// Why the chat of a consultation that is not running cannot be used.
pub fn not_running(action: &str, state: ConsultationState) -> CoreError {
    match state {
        ConsultationState::Scheduled => CoreError::Conflict("The chat opens when you start the consultation.".into()),
        _ => refusal(action, state),
    }
}

/// A message that was not posted, or may not have been.
#[derive(Debug)]
pub struct NotSent {
    pub error: CoreError,
    /// Twilio may have posted it (no answer after the request went): never post it again blindly.
    pub maybe_posted: bool,
}

impl From<NotSent> for CoreError {
    fn from(failed: NotSent) -> CoreError {
        failed.error
    }
}

/// Posts `body` (checked) to the patient as the doctor: the line as shown, and the trail's detail
/// for the caller to record.
pub async fn send(
    http: &TwilioHttp,
    account: &TwilioAccount,
    plan: &ChatPlan,
    body: &str,
    now: DateTime<Utc>,
) -> Result<(ChatLine, String), NotSent> {
    check_message(body).map_err(|error| NotSent { error, maybe_posted: false })?;
    let chat_sid = plan.conversation_sid.clone().unwrap_or_default();
    let sent = conversations::send(http, account, &chat_sid, &plan.doctor_identity, body)
        .await
        .map_err(|err| NotSent { maybe_posted: err.outcome_unknown(), error: words::failed(&err, Step::Send) })?;
    let detail = format!("patient {}; message {}", plan.patient, sent.index);
    Ok((chat_line(&plan.doctor_identity, &plan.patient_identity, &sent, now), detail))
}

/// The whole chat as Twilio holds it now, oldest first, with how far the doctor and the patient
/// have read.
pub async fn live_view(
    http: &TwilioHttp,
    account: &TwilioAccount,
    plan: &ChatPlan,
    now: DateTime<Utc>,
) -> Result<ChatView, CoreError> {
    let failed = |err: TwilioError| words::failed(&err, Step::Read);
    let chat_sid = plan.conversation_sid.clone().unwrap_or_default();
    let transcript = conversations::transcript(http, account, &chat_sid).await.map_err(failed)?;
    let people = conversations::participants(http, account, &chat_sid).await.map_err(failed)?;
    let horizon = |identity: &str| {
        people.iter().find(|p| p.identity.as_deref() == Some(identity)).and_then(|p| p.last_read_message_index)
    };
    Ok(ChatView {
        messages: transcript.iter().map(|m| chat_line(&plan.doctor_identity, &plan.patient_identity, m, now)).collect(),
        doctor_read_index: horizon(&plan.doctor_identity).or(plan.doctor_read_index),
        patient_read_index: horizon(&plan.patient_identity),
        closed: false,
    })
}

/// Marks everything in the chat read by the doctor at Twilio (the patient sees the read
/// receipt). The index read up to, for the caller to keep (only ever forward); `None` when the
/// chat is empty.
pub async fn mark_read(http: &TwilioHttp, account: &TwilioAccount, plan: &ChatPlan) -> Result<Option<i64>, CoreError> {
    let failed = |err: TwilioError| words::failed(&err, Step::Read);
    let chat_sid = plan.conversation_sid.clone().unwrap_or_default();
    let Some(newest) = conversations::latest(http, account, &chat_sid).await.map_err(failed)? else {
        return Ok(None);
    };
    let me = match &plan.doctor_participant_sid {
        Some(sid) => sid.clone(),
        None => {
            conversations::join(http, account, &chat_sid, &plan.doctor_identity, None, None).await.map_err(failed)?.sid
        }
    };
    conversations::mark_read(http, account, &chat_sid, &me, newest.index).await.map_err(failed)?;
    Ok(Some(newest.index))
}
