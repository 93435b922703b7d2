//! The doctor's Access Token for a running consultation, minted with the clinic's key.

use super::{load, own, publish, state, stored_row, twilio, COLUMNS};
use crate::audit;
use crate::error::Result;
use crate::staff::Staff;
use crate::twilio_setup::Texting;
use chrono::{DateTime, Duration, Utc};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::consultations::{
    done_already, failed_at_twilio, refusal, token_lifetime, ConsultationState, ConsultationToken, TwilioStep,
    CHAT_TOKEN_MAX_SECONDS, ROOM,
};
use clinicdesk_core::twilio::rooms;
use clinicdesk_core::twilio::token::{mint, TokenRequest, DEFAULT_MAX_TTL_SECONDS};
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
    let (booking, stored) = {
        let client = pool.get().await?;
        let booking = own(&**client, staff, appointment, "join").await?;
        let found = load(&**client, appointment).await?;
        match found {
            Some(stored) if state(&booking, Some(&stored)) == ConsultationState::InProgress => (booking, stored),
            other => return Err(refusal("join", state(&booking, other.as_ref())).into()),
        }
    };
    let Texting { http, account } = twilio(texting, "the video consultation cannot be joined from here")?;
    if video {
        let room = rooms::create_or_reuse(http, account, &stored.row.room_name, &ROOM)
            .await
            .map_err(|err| failed_at_twilio(&err, TwilioStep::Join))?;
        // One transaction with the appointment's row locked, as the end takes it: a room opened
        // again while the consultation was being ended is closed at once, and no token is minted.
        let mut client = pool.get().await?;
        let tx = client.transaction().await?;
        let booking = super::booking(&*tx, appointment, true).await?;
        let now_stored = load(&*tx, appointment).await?;
        let state = state(&booking, now_stored.as_ref());
        if state != ConsultationState::InProgress {
            drop(tx);
            if let Err(err) = done_already(rooms::complete(http, account, &room.sid).await) {
                tracing::warn!(code = ?err.code(), "a room opened again after the end could not be closed");
            }
            return Err(refusal("join", state).into());
        }
        if stored.row.room_sid.as_deref() != Some(room.sid.as_str()) {
            // Only if nobody recorded a newer room meanwhile (the SID it replaces is checked).
            let moved = tx
                .query_opt(
                    &format!(
                        "UPDATE consultations SET earlier_room_sids = earlier_room_sids || room_sid, room_sid = $2, updated_at = $4
                         WHERE appointment_id = $1 AND status = 'in_progress' AND room_sid IS NOT DISTINCT FROM $3
                         RETURNING {COLUMNS}"
                    ),
                    &[&appointment, &room.sid, &stored.row.room_sid, &now],
                )
                .await?;
            if let Some(moved) = moved {
                publish(&*tx, &stored_row(&moved).row).await?;
            }
        }
        tx.commit().await?;
    }
    let chat_service_sid =
        stored.row.chat_service_sid.clone().or_else(|| account.settings.conversations_service_sid.clone());
    let ttl_seconds = match video {
        true => token_lifetime(now, booking.ends_at),
        false => token_lifetime(now, booking.ends_at).min(CHAT_TOKEN_MAX_SECONDS),
    };
    let key = account.token_key();
    let request = TokenRequest {
        identity: stored.row.doctor_identity.clone(),
        video_room: video.then(|| stored.row.room_name.clone()),
        chat_service_sid: chat_service_sid.clone(),
        ttl_seconds,
    };
    let token = mint(&key, &request, now.timestamp(), DEFAULT_MAX_TTL_SECONDS)?;
    let detail = format!(
        "patient {}; {} token, identity {}, {ttl_seconds} s",
        booking.patient_id,
        if video { "consultation" } else { "chat-only" },
        stored.row.doctor_identity
    );
    let client = pool.get().await?;
    audit::record(
        &**client,
        Some(staff),
        AuditAction::TokenMinted,
        Some(("appointment", &appointment.to_string())),
        Some(&detail),
    )
    .await?;
    Ok(ConsultationToken {
        token,
        identity: stored.row.doctor_identity,
        room: stored.row.room_name,
        patient_identity: stored.row.patient_identity,
        chat_service_sid,
        conversation_sid: stored.row.conversation_sid,
        expires_at: now + Duration::seconds(i64::from(ttl_seconds)),
        ttl_seconds,
    })
}
