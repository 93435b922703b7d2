//! The doctor's Access Token for a consultation: minted only for its doctor, only while it is in
//! progress, for the consultation's own identity and room (opaque ids), audited on every mint.
//!
//! `rejoin` first makes sure the room is still open at Twilio: a room left empty for 15 minutes (the
//! doctor's computer restarted, the patient waited elsewhere) is closed by Twilio, and is opened
//! again under the same name, its SID recorded and the earlier one kept for the end.
//!
//! A Video token cannot be refreshed inside a call, so it lives until the end of the appointment's
//! slot plus a margin, never less than the margin (a call running over can rejoin) and never more
//! than four hours (a leaked token is soon useless). The chat side refreshes with a new token, so
//! a chat-only token ([`Consultations::chat_token`]: no Video grant) lives at most an hour: it is
//! what the app window holds while the call itself runs in the system browser.

use super::access;
use super::model::{ConsultationState, ConsultationToken};
use super::start_steps::refusal;
use super::start_steps::ROOM;
use super::store;
use super::words::{self, Step};
use super::Consultations;
use crate::audit::{self, AuditAction};
use crate::auth::Caller;
use crate::db::ts;
use crate::error::Result;
use crate::twilio::rooms;
use crate::twilio::token::{mint, TokenRequest, DEFAULT_MAX_TTL_SECONDS};
use crate::twilio::TwilioHttp;
use chrono::{DateTime, Duration, Utc};
use rusqlite::params;
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

impl Consultations<'_> {
    /// Joins or rejoins: the room is opened again if Twilio closed it, then the doctor's token.
    pub async fn rejoin(&self, caller: &Caller, http: &TwilioHttp, appointment: Uuid) -> Result<ConsultationToken> {
        let booking = access::own(self.clinic, caller, appointment, "join")?;
        let record = store::load(&*self.clinic.db().conn()?, appointment)?;
        let state = store::state(booking.status, record.as_ref());
        let record = match record {
            Some(record) if state == ConsultationState::InProgress => record,
            _ => return Err(refusal("join", state)),
        };
        let account = self.account(Step::Join)?;
        let room = rooms::create_or_reuse(http, &account, &record.room_name, &ROOM)
            .await
            .map_err(|err| words::failed(&err, Step::Join))?;
        if record.room_sid.as_deref() != Some(room.sid.as_str()) {
            // Only if no other window recorded a newer room meanwhile (the SID it replaces is checked).
            self.clinic.db().conn()?.execute(
                "UPDATE consultations SET earlier_room_sids = trim(earlier_room_sids || ' ' || coalesce(room_sid, '')),
                        room_sid = ?2, updated_at = ?4
                 WHERE appointment_id = ?1 AND status = 'in_progress' AND room_sid IS ?3",
                params![appointment.to_string(), room.sid, record.room_sid, ts(self.clinic.now())],
            )?;
        }
        self.token(caller, appointment)
    }

    /// The doctor's token to join the consultation's room and chat (also to rejoin after the app
    /// restarted: the same identity and room every time).
    pub fn token(&self, caller: &Caller, appointment: Uuid) -> Result<ConsultationToken> {
        self.mint_token(caller, appointment, true)
    }

    /// A token for the chat only (no Video grant, at most [`CHAT_TOKEN_MAX_SECONDS`]): for a window
    /// whose call runs elsewhere, and for the chat's refreshes. `room` in the answer still names the
    /// consultation's room, for display; the token cannot join it.
    pub fn chat_token(&self, caller: &Caller, appointment: Uuid) -> Result<ConsultationToken> {
        self.mint_token(caller, appointment, false)
    }

    fn mint_token(&self, caller: &Caller, appointment: Uuid, with_video: bool) -> Result<ConsultationToken> {
        let booking = access::own(self.clinic, caller, appointment, "join")?;
        let record = store::load(&*self.clinic.db().conn()?, appointment)?;
        let state = store::state(booking.status, record.as_ref());
        let record = match record {
            Some(record) if state == ConsultationState::InProgress => record,
            _ => return Err(refusal("join", state)),
        };
        let account = self.account(Step::Join)?;
        let chat_service_sid =
            record.chat_service_sid.clone().or_else(|| account.settings.conversations_service_sid.clone());
        let now = self.clinic.now();
        let ttl_seconds = match with_video {
            true => token_lifetime(now, booking.ends_at),
            false => token_lifetime(now, booking.ends_at).min(CHAT_TOKEN_MAX_SECONDS),
        };
        let key = account.token_key();
        let request = TokenRequest {
            identity: record.doctor_identity.clone(),
            video_room: with_video.then(|| record.room_name.clone()),
            chat_service_sid: chat_service_sid.clone(),
            ttl_seconds,
        };
        let token = mint(&key, &request, now.timestamp(), DEFAULT_MAX_TTL_SECONDS)?;
        let conn = self.clinic.db().conn()?;
        audit::record_for_patient(
            &conn,
            now,
            caller,
            AuditAction::TokenMinted,
            ("appointment", &appointment.to_string()),
            booking.patient_id,
            Some(&format!(
                "patient {}; {} token, identity {}, {ttl_seconds} s",
                booking.patient_id,
                if with_video { "consultation" } else { "chat-only" },
                record.doctor_identity
            )),
        )?;
        Ok(ConsultationToken {
            token,
            identity: record.doctor_identity,
            room: record.room_name,
            patient_identity: record.patient_identity,
            chat_service_sid,
            conversation_sid: record.conversation_sid,
            expires_at: now + Duration::seconds(i64::from(ttl_seconds)),
            ttl_seconds,
        })
    }
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
