//! The consultation's chat through the server, for a doctor's desk whose window cannot use
//! Twilio's live connection (a clinic network that blocks it): read with both read horizons, send
//! as the doctor, mark read; the core's steps and words (core consultations/chat_steps.rs). Once the
//! consultation has ended the desk reads its own kept copy, with no network.

use super::{load, own, state, twilio, Booking, Stored};
use crate::audit;
use crate::error::{Result, ServerError};
use crate::staff::Staff;
use crate::twilio_setup::Texting;
use chrono::{DateTime, Utc};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::consultations::chat_steps::{self, ChatPlan};
use clinicdesk_core::consultations::{ChatLine, ChatView, ConsultationState};
use clinicdesk_core::error::CoreError;
use deadpool_postgres::Pool;
use uuid::Uuid;

/// The running consultation of `staff`'s own appointment (`action` completes the refusal).
async fn running(pool: &Pool, staff: &Staff, appointment: Uuid, action: &str) -> Result<ChatPlan> {
    let client = pool.get().await?;
    let booking = own(&**client, staff, appointment, action).await?;
    let found = load(&**client, appointment).await?;
    match found {
        Some(stored) if state(&booking, Some(&stored)) == ConsultationState::InProgress => {
            Ok(chat_plan(&booking, &stored))
        }
        other => Err(chat_steps::not_running(action, state(&booking, other.as_ref())).into()),
    }
}

fn chat_plan(booking: &Booking, stored: &Stored) -> ChatPlan {
    ChatPlan {
        patient: booking.patient_id,
        doctor_identity: stored.row.doctor_identity.clone(),
        patient_identity: stored.row.patient_identity.clone(),
        conversation_sid: stored.row.conversation_sid.clone(),
        doctor_participant_sid: stored.doctor_participant_sid.clone(),
        doctor_read_index: stored.doctor_read_index,
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
    let plan = running(pool, staff, appointment, "read the chat of").await?;
    let Texting { http, account } = twilio(texting, "the chat could not be loaded")?;
    Ok(chat_steps::live_view(http, account, &plan, now).await?)
}

/// Posts `body` to the patient as the doctor, while the consultation runs. Audited. Once per
/// `request` (a desk's id for one press): asked again, it answers with the message posted the
/// first time.
pub async fn send(
    pool: &Pool,
    texting: Option<&Texting>,
    staff: &Staff,
    appointment: Uuid,
    body: &str,
    request: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<ChatLine> {
    chat_steps::check_message(body)?;
    let plan = running(pool, staff, appointment, "chat in").await?;
    let Texting { http, account } = twilio(texting, "the message was not sent")?;
    if let Some(request) = request {
        let mut client = pool.get().await?;
        let tx = client.transaction().await?;
        // Taken while the consultation still runs, waiting for an end under way: an end commits
        // either before (then nothing is claimed) or after (its cleanup removes the claim).
        let running: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM consultations WHERE appointment_id = $1 AND status = 'in_progress' FOR SHARE)",
                &[&appointment],
            )
            .await?
            .get(0);
        if !running {
            return Err(chat_steps::not_running("chat in", ConsultationState::Completed).into());
        }
        let claimed = tx
            .execute(
                "INSERT INTO chat_sends (request_id, appointment_id, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (request_id) DO NOTHING",
                &[&request, &appointment, &now],
            )
            .await?;
        tx.commit().await?;
        if claimed == 0 {
            let row = client
                .query_opt(
                    "SELECT line FROM chat_sends WHERE request_id = $1 AND appointment_id = $2",
                    &[&request, &appointment],
                )
                .await?;
            return match row.and_then(|r| r.get::<_, Option<serde_json::Value>>(0)) {
                Some(line) => {
                    let line: ChatLine = serde_json::from_value(line).map_err(|e| ServerError::Setup(e.to_string()))?;
                    // The same press asked again carries the same words; other words under its id
                    // are not that message (a desk never does this): refused, nothing posted.
                    if line.body.as_deref() != Some(body) {
                        return Err(CoreError::Conflict(
                            "That message was sent already with other words. Send this one again.".into(),
                        )
                        .into());
                    }
                    Ok(line)
                }
                None => Err(CoreError::Conflict(
                    "This message may still be on its way, or its sending stopped half-way: the chat shows it if it went.".into(),
                )
                .into()),
            };
        }
    }
    let (line, detail) = match chat_steps::send(http, account, &plan, body, now).await {
        Ok(sent) => sent,
        Err(failed) => {
            if let (Some(request), false) = (request, failed.maybe_posted) {
                // Certainly not posted: the claim goes, so asking again posts it.
                pool.get().await?.execute("DELETE FROM chat_sends WHERE request_id = $1", &[&request]).await?;
            }
            return Err(failed.error.into());
        }
    };
    // The trail first, with the answer kept, in one transaction: the message went.
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let id = appointment.to_string();
    audit::record(&*tx, Some(staff), AuditAction::ChatMessageSent, Some(("appointment", &id)), Some(&detail)).await?;
    if let Some(request) = request {
        let kept = serde_json::to_value(&line).map_err(|e| ServerError::Setup(e.to_string()))?;
        tx.execute("UPDATE chat_sends SET line = $2 WHERE request_id = $1", &[&request, &kept]).await?;
    }
    tx.commit().await?;
    Ok(line)
}

/// Marks everything in the chat read by the doctor (the patient sees the read receipt). Returns
/// the index read up to, `None` when the chat is empty.
pub async fn mark_read(
    pool: &Pool,
    texting: Option<&Texting>,
    staff: &Staff,
    appointment: Uuid,
) -> Result<Option<i64>> {
    let plan = running(pool, staff, appointment, "read the chat of").await?;
    let Texting { http, account } = twilio(texting, "the chat could not be loaded")?;
    let Some(newest) = chat_steps::mark_read(http, account, &plan).await? else { return Ok(None) };
    // The horizon only moves forward (two windows marking at once keep the later one).
    pool.get()
        .await?
        .execute(
            "UPDATE consultations SET doctor_read_index = greatest(coalesce(doctor_read_index, -1), $2) WHERE appointment_id = $1",
            &[&appointment, &newest],
        )
        .await?;
    Ok(Some(newest))
}
