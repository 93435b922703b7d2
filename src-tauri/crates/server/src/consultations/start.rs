//! Starting a consultation from a doctor's desk: the room, the conversation and its two
//! participants at Twilio, then in progress, and the patient's link texted (invite.rs).

use super::{booking, load, opaque, own, publish, state, twilio, Stored};
use crate::audit;
use crate::error::{Result, ServerError};
use crate::staff::Staff;
use crate::twilio_setup::Texting;
use chrono::{DateTime, Utc};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::consultations::{
    done_already, failed_at_twilio, refusal, ConsultationState, TwilioStep, PATIENT_PERMISSIONS, PATIENT_ROLE, ROOM,
};
use clinicdesk_core::error::CoreError;
use clinicdesk_core::sync::wire::ConsultationAnswer;
use clinicdesk_core::twilio::{conversations, rooms};
use deadpool_postgres::Pool;
use serde_json::json;
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
    let stored = {
        let mut client = pool.get().await?;
        own(&**client, staff, appointment, "start").await?;
        let texting_ok = twilio(texting, not_started).map(drop);
        let tx = client.transaction().await?;
        let booking = booking(&*tx, appointment, true).await?;
        let found = load(&*tx, appointment).await?;
        let state = state(&booking, found.as_ref());
        if state != ConsultationState::Scheduled {
            return Err(refusal("start", state).into());
        }
        texting_ok?;
        tx.execute(
            "INSERT INTO consultations (appointment_id, room_name, doctor_identity, patient_identity, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (appointment_id) DO NOTHING",
            &[&appointment, &opaque("cd-"), &opaque("d-"), &opaque("p-"), &now],
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
        stored
    };
    let clinic_twilio = twilio(texting, not_started)?;
    let Texting { http, account } = clinic_twilio;
    let failed =
        |err: clinicdesk_core::twilio::TwilioError| ServerError::from(failed_at_twilio(&err, TwilioStep::Start));
    let room = rooms::create_or_reuse(http, account, &stored.row.room_name, &ROOM).await.map_err(failed)?;
    remember(
        pool,
        "UPDATE consultations SET room_sid = $2, updated_at = $3 WHERE appointment_id = $1 AND status = 'scheduled'",
        &[&appointment, &room.sid, &now],
    )
    .await?;

    let chat = open_chat(pool, clinic_twilio, &stored, TwilioStep::Start, now).await?;
    let answer = match mark_started(pool, staff, appointment, now).await {
        Ok(answer) => answer,
        Err(refused @ ServerError::Rule(CoreError::Conflict(_))) => {
            // Cancelled (or otherwise closed) while Twilio was being set up: the room and the chat
            // made for it are closed, not left open with the patient in the conversation.
            let _ = done_already(rooms::complete(http, account, &room.sid).await)
                .and(done_already(conversations::close(http, account, &chat.sid).await))
                .inspect_err(|err| tracing::warn!(code = ?err.code(), "could not close a start's room or chat"));
            return Err(refused);
        }
        Err(other) => return Err(other),
    };
    super::invite::on_start(pool, clinic_twilio, staff, appointment, now).await;
    Ok(answer)
}

/// Records what Twilio gave at once (only while the consultation is still being started): the
/// next step may fail, and the next start must find this one done.
async fn remember(pool: &Pool, sql: &str, values: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> Result<()> {
    pool.get().await?.execute(sql, values).await?;
    Ok(())
}

/// Everything is in place at Twilio: in progress. A start running beside this one (the doctor's
/// other computer) may have got here first; then this one reports the state.
async fn mark_started(pool: &Pool, staff: &Staff, appointment: Uuid, now: DateTime<Utc>) -> Result<ConsultationAnswer> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let booking = booking(&*tx, appointment, true).await?;
    let found = load(&*tx, appointment).await?;
    let state = state(&booking, found.as_ref());
    if state != ConsultationState::Scheduled && state != ConsultationState::InProgress {
        return Err(refusal("start", state).into());
    }
    let changed = tx
        .execute(
            "UPDATE consultations SET status = 'in_progress', started_at = $2, started_by = $3, updated_at = $2
             WHERE appointment_id = $1 AND status = 'scheduled' AND room_sid IS NOT NULL AND conversation_sid IS NOT NULL",
            &[&appointment, &now, &staff.user_id],
        )
        .await?;
    let stored = load(&*tx, appointment).await?.expect("a started consultation has a row");
    if changed == 1 {
        let detail = format!("patient {}; room {}", booking.patient_id, stored.row.room_name);
        audit::record(
            &*tx,
            Some(staff),
            AuditAction::ConsultationStarted,
            Some(("appointment", &appointment.to_string())),
            Some(&detail),
        )
        .await?;
        publish(&*tx, &stored.row).await?;
    }
    tx.commit().await?;
    Ok(ConsultationAnswer { consultation: stored.row, record: None })
}

/// The consultation's conversation (named like the room) with the doctor and the patient in it,
/// each SID recorded as it arrives: at the start, or earlier for the waiting room (a link texted
/// by hand). Once both are in (`chat_ready`) it is not done again; only while still scheduled.
pub(super) async fn open_chat(
    pool: &Pool,
    clinic_twilio: &Texting,
    stored: &Stored,
    step: TwilioStep,
    now: DateTime<Utc>,
) -> Result<conversations::Conversation> {
    let Texting { http, account } = clinic_twilio;
    let failed = |err: clinicdesk_core::twilio::TwilioError| ServerError::from(failed_at_twilio(&err, step));
    let appointment = stored.row.appointment_id;
    let attributes = json!({ "consultation": stored.row.room_name });
    let chat = conversations::ensure(http, account, &stored.row.room_name, "Consultation", &attributes)
        .await
        .map_err(failed)?;
    remember(
        pool,
        "UPDATE consultations SET conversation_sid = $2, chat_service_sid = coalesce($3, chat_service_sid), updated_at = $4
         WHERE appointment_id = $1 AND status = 'scheduled'",
        &[&appointment, &chat.sid, &chat.chat_service_sid, &now],
    )
    .await?;
    if !(stored.chat_ready && stored.row.conversation_sid.as_deref() == Some(chat.sid.as_str())) {
        // The patient's page writes its own attributes (the waiting room) and chats; nothing more.
        let patient_role =
            conversations::ensure_role(http, account, PATIENT_ROLE, PATIENT_PERMISSIONS).await.map_err(failed)?;
        let doctor = json!({ "role": "doctor" });
        let patient = json!({ "role": "patient" });
        let me = conversations::join(http, account, &chat.sid, &stored.row.doctor_identity, Some(&doctor), None)
            .await
            .map_err(failed)?;
        conversations::join(
            http,
            account,
            &chat.sid,
            &stored.row.patient_identity,
            Some(&patient),
            Some(&patient_role),
        )
        .await
        .map_err(failed)?;
        remember(
            pool,
            "UPDATE consultations SET doctor_participant_sid = $3, chat_ready_at = $2, updated_at = $2
             WHERE appointment_id = $1 AND status = 'scheduled'",
            &[&appointment, &now, &me.sid],
        )
        .await?;
    }
    Ok(chat)
}
