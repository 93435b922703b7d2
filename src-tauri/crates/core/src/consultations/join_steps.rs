//! Joining a running consultation: the doctor's Access Token, and the room opened again if Twilio
//! closed it, written once for a one-desk clinic (token.rs, over SQLite) and the clinic server
//! (`clinicdesk-server`'s consultations/token.rs, over PostgreSQL), each implementing
//! [`JoinStore`].
//!
//! Invariants:
//! - A token is minted only for the consultation's doctor (the caller checks), only while it is in
//!   progress, for its own opaque identity and room, and every mint is audited.
//! - A room left empty for 15 minutes is closed by Twilio; joining opens it again under the same
//!   name (the patient's link still works), its SID recorded and the one it replaces kept for the
//!   end — only if nobody recorded a newer one meanwhile. A room opened again after the
//!   consultation ended (an end racing a rejoin) is closed at once and no token is minted.
//! - A Video token cannot be refreshed inside a call, so it lives until the end of the slot plus a
//!   margin (never less than the margin, never more than four hours); a chat-only token (no Video
//!   grant) lives at most an hour, the chat asking for a new one.

use super::end_steps::done_already;
use super::model::ConsultationToken;
use super::start_steps::ROOM;
use super::words::{self, Step};
use crate::error::CoreError;
use crate::twilio::config::TwilioAccount;
use crate::twilio::rooms;
use crate::twilio::token::{mint, TokenRequest, DEFAULT_MAX_TTL_SECONDS};
use crate::twilio::TwilioHttp;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

/// Minutes a token outlives the appointment's slot, and the shortest lifetime minted.
pub const TOKEN_MARGIN_MINUTES: i64 = 30;

/// The longest a chat-only token lives: the Conversations SDK asks for a new one before it expires.
pub const CHAT_TOKEN_MAX_SECONDS: u32 = 3600;

/// Seconds a token minted at `now` lives for an appointment ending at `ends_at`.
pub fn token_lifetime(now: DateTime<Utc>, ends_at: DateTime<Utc>) -> u32 {
    let margin = Duration::minutes(TOKEN_MARGIN_MINUTES).num_seconds();
    let wanted = (ends_at - now).num_seconds().saturating_add(margin);
    wanted.clamp(margin, i64::from(DEFAULT_MAX_TTL_SECONDS)) as u32
}

/// What joining needs of a running consultation and its appointment.
#[derive(Debug, Clone)]
pub struct JoinPlan {
    pub patient: Uuid,
    pub ends_at: DateTime<Utc>,
    pub room_name: String,
    pub room_sid: Option<String>,
    pub doctor_identity: String,
    pub patient_identity: String,
    pub conversation_sid: Option<String>,
    pub chat_service_sid: Option<String>,
}

/// Where a join is recorded.
#[allow(async_fn_in_trait)] // used with concrete stores only
pub trait JoinStore {
    /// The store's own error; every rule's refusal converts into it.
    type Error: From<CoreError>;
    /// In one transaction holding the appointment as the end does: if the consultation is still in
    /// progress and `room_sid` is not the room it `replaces`, `room_sid` recorded as its room and
    /// the other kept for the end (only if that is still the one recorded). `Ok(Err(refusal))` when
    /// it no longer runs: nothing written.
    async fn record_room(
        &mut self,
        room_sid: &str,
        replaces: Option<&str>,
    ) -> Result<Result<(), CoreError>, Self::Error>;
}

/// Makes sure the consultation's room is open at Twilio (opened again under the same name if
/// Twilio closed it), recorded as its room. A room opened after the consultation ended is closed.
pub async fn reopen_room<S: JoinStore>(
    store: &mut S,
    http: &TwilioHttp,
    account: &TwilioAccount,
    plan: &JoinPlan,
) -> Result<(), S::Error> {
    let room = rooms::create_or_reuse(http, account, &plan.room_name, &ROOM)
        .await
        .map_err(|err| words::failed(&err, Step::Join))?;
    // Asked even when the room is the one recorded: an end may have finished meanwhile.
    if let Err(refused) = store.record_room(&room.sid, plan.room_sid.as_deref()).await? {
        if let Err(err) = done_already(rooms::complete(http, account, &room.sid).await) {
            tracing::warn!(code = ?err.code(), "a room opened again after the end could not be closed");
        }
        return Err(refused.into());
    }
    Ok(())
}

/// The doctor's token: the room and the chat (`video`), or the chat only; with the trail's detail
/// for the mint, which the caller records.
pub fn doctor_token(
    plan: &JoinPlan,
    account: &TwilioAccount,
    video: bool,
    now: DateTime<Utc>,
) -> Result<(ConsultationToken, String), CoreError> {
    let chat_service_sid = plan.chat_service_sid.clone().or_else(|| account.settings.conversations_service_sid.clone());
    let ttl_seconds = match video {
        true => token_lifetime(now, plan.ends_at),
        false => token_lifetime(now, plan.ends_at).min(CHAT_TOKEN_MAX_SECONDS),
    };
    let request = TokenRequest {
        identity: plan.doctor_identity.clone(),
        video_room: video.then(|| plan.room_name.clone()),
        chat_service_sid: chat_service_sid.clone(),
        ttl_seconds,
    };
    let token = mint(&account.token_key(), &request, now.timestamp(), DEFAULT_MAX_TTL_SECONDS)?;
    let detail = format!(
        "patient {}; {} token, identity {}, {ttl_seconds} s",
        plan.patient,
        if video { "consultation" } else { "chat-only" },
        plan.doctor_identity
    );
    let token = ConsultationToken {
        token,
        identity: plan.doctor_identity.clone(),
        room: plan.room_name.clone(),
        patient_identity: plan.patient_identity.clone(),
        chat_service_sid,
        conversation_sid: plan.conversation_sid.clone(),
        expires_at: now + Duration::seconds(i64::from(ttl_seconds)),
        ttl_seconds,
    };
    Ok((token, detail))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_token_covers_the_slot_and_a_margin_within_bounds() {
        let at = |h: u32, m: u32| Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap();
        // Started five minutes early for a 09:00-09:30 slot: until 10:00.
        assert_eq!(token_lifetime(at(8, 55), at(9, 30)), 65 * 60);
        // Running over: never less than the margin.
        assert_eq!(token_lifetime(at(11, 0), at(9, 30)), 30 * 60);
        // Started a day early, or an eight-hour slot: capped at four hours.
        assert_eq!(token_lifetime(at(8, 0), at(18, 0)), 4 * 3600);
    }
}
