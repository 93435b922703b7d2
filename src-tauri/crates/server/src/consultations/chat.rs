//! The consultation's chat through the server, for a doctor's desk whose window cannot use
//! Twilio's live connection (a clinic network that blocks it): read with both read horizons, send
//! as the doctor, mark read; the core's rules and words (core consultations/chat.rs). Once the
//! consultation has ended the desk reads its own kept copy, with no network.

use super::{load, own, state, twilio, Stored};
use crate::audit;
use crate::error::{Result, ServerError};
use crate::staff::Staff;
use crate::twilio_setup::Texting;
use chrono::{DateTime, Utc};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::consultations::{
    failed_at_twilio, kept_record, refusal, ChatLine, ChatView, ConsultationState, TwilioStep, MAX_MESSAGE_CHARS,
};
use clinicdesk_core::error::CoreError;
use clinicdesk_core::twilio::{conversations, TwilioError};
use deadpool_postgres::Pool;
use uuid::Uuid;

/// The running consultation of `staff`'s own appointment (`action` completes the refusal).
async fn running(pool: &Pool, staff: &Staff, appointment: Uuid, action: &str) -> Result<(Uuid, Stored)> {
    let client = pool.get().await?;
    let booking = own(&**client, staff, appointment, action).await?;
    let found = load(&**client, appointment).await?;
    match found {
        Some(stored) if state(&booking, Some(&stored)) == ConsultationState::InProgress => {
            Ok((booking.patient_id, stored))
        }
        _ if state(&booking, None) == ConsultationState::Scheduled => {
            Err(CoreError::Conflict("The chat opens when you start the consultation.".into()).into())
        }
        other => Err(refusal(action, state(&booking, other.as_ref())).into()),
    }
}

/// The whole chat, oldest first, with how far the doctor and the patient have read.
pub async fn messages(
    pool: &Pool,
    texting: Option<&Texting>,
    staff: &Staff,
    appointment: Uuid,
    now: DateTime<Utc>,
) -> Result<ChatView> {
    let (_, stored) = running(pool, staff, appointment, "read the chat of").await?;
    let Texting { http, account } = twilio(texting, "the chat could not be loaded")?;
    let failed = |err: TwilioError| ServerError::from(failed_at_twilio(&err, TwilioStep::Read));
    let chat_sid = stored.row.conversation_sid.clone().unwrap_or_default();
    let transcript = conversations::transcript(http, account, &chat_sid).await.map_err(failed)?;
    let people = conversations::participants(http, account, &chat_sid).await.map_err(failed)?;
    let horizon = |identity: &str| {
        people.iter().find(|p| p.identity.as_deref() == Some(identity)).and_then(|p| p.last_read_message_index)
    };
    let (doctor, patient) = (&stored.row.doctor_identity, &stored.row.patient_identity);
    let (_, kept) = kept_record(doctor, patient, &[], &transcript, now);
    Ok(ChatView {
        messages: kept.into_iter().map(|m| m.line).collect(),
        doctor_read_index: horizon(doctor).or(stored.doctor_read_index),
        patient_read_index: horizon(patient),
        closed: false,
    })
}

/// Posts `body` to the patient as the doctor, while the consultation runs. Audited.
pub async fn send(
    pool: &Pool,
    texting: Option<&Texting>,
    staff: &Staff,
    appointment: Uuid,
    body: &str,
    now: DateTime<Utc>,
) -> Result<ChatLine> {
    if body.trim().is_empty() {
        return Err(CoreError::invalid("body", "Write a message first.").into());
    }
    if body.chars().count() > MAX_MESSAGE_CHARS {
        let words = format!("A chat message can be up to {MAX_MESSAGE_CHARS} characters; split this one.");
        return Err(CoreError::invalid("body", words).into());
    }
    let (patient, stored) = running(pool, staff, appointment, "chat in").await?;
    let Texting { http, account } = twilio(texting, "the message was not sent")?;
    let chat_sid = stored.row.conversation_sid.clone().unwrap_or_default();
    let sent = conversations::send(http, account, &chat_sid, &stored.row.doctor_identity, body)
        .await
        .map_err(|err| failed_at_twilio(&err, TwilioStep::Send))?;
    let detail = format!("patient {patient}; message {}", sent.index);
    let client = pool.get().await?;
    let id = appointment.to_string();
    audit::record(&**client, Some(staff), AuditAction::ChatMessageSent, Some(("appointment", &id)), Some(&detail))
        .await?;
    let (doctor, patient) = (&stored.row.doctor_identity, &stored.row.patient_identity);
    let (_, mut kept) = kept_record(doctor, patient, &[], std::slice::from_ref(&sent), now);
    Ok(kept.remove(0).line)
}

/// Marks everything in the chat read by the doctor (the patient sees the read receipt). Returns
/// the index read up to, `None` when the chat is empty.
pub async fn mark_read(
    pool: &Pool,
    texting: Option<&Texting>,
    staff: &Staff,
    appointment: Uuid,
) -> Result<Option<i64>> {
    let (_, stored) = running(pool, staff, appointment, "read the chat of").await?;
    let Texting { http, account } = twilio(texting, "the chat could not be loaded")?;
    let failed = |err: TwilioError| ServerError::from(failed_at_twilio(&err, TwilioStep::Read));
    let chat_sid = stored.row.conversation_sid.clone().unwrap_or_default();
    let Some(newest) = conversations::latest(http, account, &chat_sid).await.map_err(failed)? else {
        return Ok(None);
    };
    let me = match &stored.doctor_participant_sid {
        Some(sid) => sid.clone(),
        None => {
            conversations::join(http, account, &chat_sid, &stored.row.doctor_identity, None, None)
                .await
                .map_err(failed)?
                .sid
        }
    };
    conversations::mark_read(http, account, &chat_sid, &me, newest.index).await.map_err(failed)?;
    // The horizon only moves forward (two windows marking at once keep the later one).
    pool.get()
        .await?
        .execute(
            "UPDATE consultations SET doctor_read_index = greatest(coalesce(doctor_read_index, -1), $2) WHERE appointment_id = $1",
            &[&appointment, &newest.index],
        )
        .await?;
    Ok(Some(newest.index))
}
