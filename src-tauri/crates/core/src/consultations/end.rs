//! Ending a consultation: the room completed (for everyone in it), the conversation closed, then
//! who was in the room and the whole chat fetched and kept in the clinic database, and the
//! consultation (and its appointment) completed, in one transaction.
//!
//! Until that transaction commits the consultation stays in progress, so an end that fails half-way
//! (Twilio down, the app killed) is simply pressed again: completing a completed room, closing a
//! closed conversation and fetching again are all harmless, and the kept record is replaced whole.

use super::access::{self, Booking};
use super::model::{ChatLine, ConsultationState, ConsultationStatus, ParticipantRole};
use super::start_steps::refusal;
use super::store::{self, KeptMessage, KeptParticipant, Record};
use super::waiting::DeviceCheck;
use super::words::{self, Step};
use super::{status_of, Consultations};
use crate::audit::{self, AuditAction};
use crate::auth::{parse_instant, Caller};
use crate::db::ts;
use crate::error::Result;
use crate::twilio::config::TwilioAccount;
use crate::twilio::conversations::ChatMessage;
use crate::twilio::rooms::{self, RoomParticipant};
use crate::twilio::{conversations, TwilioError, TwilioHttp};
use chrono::{DateTime, SubsecRound, Utc};
use rusqlite::{params, TransactionBehavior};
use uuid::Uuid;

/// Twilio's answers for a room or conversation that is already finished or gone count as done: the
/// end's goal is reached all the same (20404 not found, 53118 room not in progress, 50377
/// conversation already closed).
pub fn done_already<T>(answer: Result<T, TwilioError>) -> Result<(), TwilioError> {
    match answer {
        Err(err) if !matches!(err.code(), Some(20404 | 53118 | 50377)) => Err(err),
        _ => Ok(()),
    }
}

impl Consultations<'_> {
    /// Ends the consultation for everyone and keeps its record: only its doctor, only while it is
    /// in progress ("Cannot end a consultation with status: scheduled").
    pub async fn end(&self, caller: &Caller, http: &TwilioHttp, appointment: Uuid) -> Result<ConsultationStatus> {
        let booking = access::own(self.clinic, caller, appointment, "end")?;
        let record = {
            let conn = self.clinic.db().conn()?;
            let record = store::load(&conn, appointment)?;
            let state = store::state(booking.status, record.as_ref());
            match record {
                Some(record) if state == ConsultationState::InProgress => record,
                _ => return Err(refusal("end", state)),
            }
        };
        let account = self.account(Step::End)?;
        match fetch(http, &account, &record).await {
            Ok(found) => self.keep(caller, &booking, &record, &found),
            // No network: the consultation ends here all the same, and what Twilio holds is
            // fetched when the network returns (late.rs). A refusal by Twilio still stops the end.
            Err(err @ TwilioError::NoAnswer { .. }) => {
                tracing::warn!(code = ?err.code(), "ending a consultation without Twilio; its record is fetched later");
                self.end_offline(caller, &booking)
            }
            Err(err) => Err(words::failed(&err, Step::End)),
        }
    }

    /// Completes the consultation with no answer from Twilio: ended now, by the caller, with its
    /// record marked as still to be fetched.
    fn end_offline(&self, caller: &Caller, booking: &Booking) -> Result<ConsultationStatus> {
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = booking.id.to_string();
        let ended = tx.execute(
            "UPDATE consultations SET status = 'completed', ended_at = ?2, ended_by = ?3, updated_at = ?2,
                    record_pending_since = ?2, recording = 0
             WHERE appointment_id = ?1 AND status = 'in_progress'",
            params![id, ts(now), caller.user_id().to_string()],
        )?;
        if ended == 1 {
            complete_appointment(&tx, &id, now)?;
            store::keep_notes_at_end(&tx, booking.id, caller.user_id(), now)?;
            audit::record_for_patient(
                &tx,
                now,
                caller,
                AuditAction::ConsultationEnded,
                ("appointment", &id),
                booking.patient_id,
                Some(&format!(
                    "patient {}; ended without a connection to Twilio: the room and the chat are fetched when the network returns",
                    booking.patient_id
                )),
            )?;
        }
        let fresh = access::booking(&tx, booking.id)?;
        let status = status_of(&tx, &fresh, true)?;
        tx.commit()?;
        Ok(status)
    }

    fn keep(&self, caller: &Caller, booking: &Booking, record: &Record, found: &Found) -> Result<ConsultationStatus> {
        let now = self.clinic.now();
        let (people, chat) = found.kept(record, now);
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = booking.id.to_string();
        // Another window may have ended it while this one talked to Twilio: its record stands.
        let still_running: bool =
            tx.query_row("SELECT status = 'in_progress' FROM consultations WHERE appointment_id = ?1", [&id], |r| {
                r.get(0)
            })?;
        if still_running {
            store::keep(&tx, booking.id, &people, &chat)?;
            store::keep_waiting(&tx, booking.id, found.waiting)?;
            tx.execute(
                "UPDATE consultations SET status = 'completed', ended_at = ?2, ended_by = ?3, updated_at = ?2 WHERE appointment_id = ?1",
                params![id, ts(now), caller.user_id().to_string()],
            )?;
            complete_appointment(&tx, &id, now)?;
            store::keep_notes_at_end(&tx, booking.id, caller.user_id(), now)?;
            let detail = format!(
                "patient {}; {} participant connection(s), {} chat message(s) kept",
                booking.patient_id,
                people.len(),
                chat.len()
            );
            audit::record_for_patient(
                &tx,
                now,
                caller,
                AuditAction::ConsultationEnded,
                ("appointment", &id),
                booking.patient_id,
                Some(&detail),
            )?;
        }
        let fresh = access::booking(&tx, booking.id)?;
        let status = status_of(&tx, &fresh, true)?;
        tx.commit()?;
        Ok(status)
    }
}

/// The visit happened: the appointment is completed too (its texts still waiting are then skipped
/// by the outbox as "appointment closed").
fn complete_appointment(tx: &rusqlite::Connection, id: &str, now: DateTime<Utc>) -> Result<()> {
    tx.execute(
        "UPDATE appointments SET status = 'completed', version = version + 1, updated_at = ?2
         WHERE id = ?1 AND status IN ('scheduled', 'confirmed', 'checked_in')",
        params![id, ts(now)],
    )?;
    Ok(())
}

/// What Twilio holds about a consultation, fetched at its end (or later, late.rs).
pub(super) struct Found {
    pub people: Vec<RoomParticipant>,
    pub transcript: Vec<ChatMessage>,
    /// What the patient's page reported while waiting (their participant attributes).
    pub waiting: Option<(DateTime<Utc>, DeviceCheck)>,
}

impl Found {
    /// As the clinic keeps them: roles, never identities, shown.
    pub fn kept(&self, record: &Record, now: DateTime<Utc>) -> (Vec<KeptParticipant>, Vec<KeptMessage>) {
        kept_record(&record.doctor_identity, &record.patient_identity, &self.people, &self.transcript, now)
    }
}

/// Who was in the room and the whole chat as the clinic keeps them (roles beside the identities),
/// from Twilio's lists; the same on a one-desk clinic and on a clinic server.
pub fn kept_record(
    doctor_identity: &str,
    patient_identity: &str,
    people: &[RoomParticipant],
    transcript: &[ChatMessage],
    now: DateTime<Utc>,
) -> (Vec<KeptParticipant>, Vec<KeptMessage>) {
    let role = |identity: Option<&str>| store::role_of(doctor_identity, patient_identity, identity);
    let people = people
        .iter()
        .map(|p| KeptParticipant {
            sid: p.sid.clone(),
            role: role(Some(p.identity.as_str())),
            identity: p.identity.clone(),
            joined_at: p.start_time.as_deref().and_then(parse_instant),
            left_at: p.end_time.as_deref().and_then(parse_instant),
            seconds: p.duration,
        })
        .collect();
    let chat = transcript
        .iter()
        .map(|m| KeptMessage {
            sid: m.sid.clone(),
            author: m.author.clone(),
            line: line_as(role(m.author.as_deref()), m, now),
        })
        .collect();
    (people, chat)
}

/// Completes the room (for everyone in it) and closes the conversation, then fetches who was in
/// every room the consultation had (a rejoin after Twilio closed an empty room opens a new one
/// under the same name), the whole chat, and what the patient's page reported. Each step is
/// harmless to repeat.
pub(super) async fn fetch(http: &TwilioHttp, account: &TwilioAccount, record: &Record) -> Result<Found, TwilioError> {
    // In progress (or ended offline) means both SIDs are recorded (a CHECK in migration 0011).
    let room_sid = record.room_sid.clone().unwrap_or_default();
    let chat_sid = record.conversation_sid.clone().unwrap_or_default();
    done_already(rooms::complete(http, account, &room_sid).await)?;
    done_already(conversations::close(http, account, &chat_sid).await)?;
    let mut people = Vec::new();
    for sid in record.earlier_room_sids.iter().chain([&room_sid]) {
        people.extend(rooms::participants(http, account, sid).await?);
    }
    let transcript = conversations::transcript(http, account, &chat_sid).await?;
    // The waiting room is a nicety of the record: its failure does not hold up the end.
    let waiting = match conversations::participants(http, account, &chat_sid).await {
        Ok(members) => members
            .iter()
            .find(|m| m.identity.as_deref() == Some(record.patient_identity.as_str()))
            .and_then(|m| m.attributes.as_deref())
            .and_then(super::waiting::reported),
        Err(err) => {
            tracing::warn!(code = ?err.code(), "could not read the waiting room for the record");
            None
        }
    };
    Ok(Found { people, transcript, waiting })
}

/// A Twilio message as the clinic shows and keeps it (the author as a role, never an identity).
pub(super) fn line(record: &Record, m: &ChatMessage, fallback: DateTime<Utc>) -> ChatLine {
    line_as(record.role_of(m.author.as_deref()), m, fallback)
}

fn line_as(author: ParticipantRole, m: &ChatMessage, fallback: DateTime<Utc>) -> ChatLine {
    ChatLine {
        index: m.index,
        author,
        body: m.body.clone(),
        media: store::media_of(m.media.as_ref()),
        // Kept to the millisecond, as the clinic stores instants, so the live and the kept chat agree.
        sent_at: parse_instant(&m.date_created).unwrap_or(fallback).trunc_subsecs(3),
    }
}
