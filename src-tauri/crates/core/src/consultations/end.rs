//! Ending a consultation on a one-desk clinic: the steps at Twilio, the decision on its answer and
//! the trail's words are the core's (end_steps.rs, also the clinic server's); this is their
//! [`EndStore`] over the embedded SQLite file: who was in the room and the whole chat kept, and
//! the consultation (and its appointment) completed, in one IMMEDIATE transaction.

use super::access::{self, Booking};
use super::end_steps::{self, Completed, EndPlan, EndStore, KeptRecord};
use super::model::{ChatLine, ConsultationState, ConsultationStatus, ParticipantRole};
use super::start_steps::refusal;
use super::store::{self, KeptMessage, KeptParticipant, Record};
use super::words::Step;
use super::{status_of, Consultations};
use crate::audit::{self, AuditAction};
use crate::auth::{parse_instant, Caller};
use crate::db::ts;
use crate::error::{CoreError, Result};
use crate::twilio::conversations::ChatMessage;
use crate::twilio::rooms::RoomParticipant;
use crate::twilio::TwilioHttp;
use chrono::{DateTime, SubsecRound, Utc};
use rusqlite::{params, TransactionBehavior};
use uuid::Uuid;

impl Consultations<'_> {
    /// Ends the consultation for everyone and keeps its record: its doctor, or an administrator
    /// ending one left running; only while it is in progress ("Cannot end a consultation with
    /// status: scheduled").
    pub async fn end(&self, caller: &Caller, http: &TwilioHttp, appointment: Uuid) -> Result<ConsultationStatus> {
        let booking = access::ender(self.clinic, caller, appointment)?;
        let mut desk = DeskEnd { consultations: self, caller, booking: &booking };
        // Refused by state first ("scheduled", "completed"), then "no Twilio account".
        let plan = desk.plan_end().await?;
        let account = self.account(Step::End)?;
        end_steps::end(&mut desk, plan, http, &account, booking.patient_id, self.clinic.now()).await
    }
}

/// The plan the end's steps follow, from the stored row.
pub(super) fn end_plan(record: &Record) -> EndPlan {
    EndPlan {
        doctor_identity: record.doctor_identity.clone(),
        patient_identity: record.patient_identity.clone(),
        room_sid: record.room_sid.clone(),
        earlier_room_sids: record.earlier_room_sids.clone(),
        conversation_sid: record.conversation_sid.clone(),
        read_waiting_report: true,
    }
}

/// An end recorded in the one-desk clinic's SQLite file.
struct DeskEnd<'a> {
    consultations: &'a Consultations<'a>,
    caller: &'a Caller,
    booking: &'a Booking,
}

impl EndStore for DeskEnd<'_> {
    type Error = CoreError;
    type Ended = ConsultationStatus;

    async fn plan_end(&mut self) -> Result<EndPlan> {
        let conn = self.consultations.clinic.db().conn()?;
        let record = store::load(&conn, self.booking.id)?;
        let state = store::state(self.booking.status, record.as_ref());
        match record {
            Some(record) if state == ConsultationState::InProgress => Ok(end_plan(&record)),
            _ => Err(refusal("end", state)),
        }
    }

    async fn complete(
        &mut self,
        plan: &EndPlan,
        record: Option<&KeptRecord>,
        detail: &str,
    ) -> Result<Completed<ConsultationStatus>> {
        let now = self.consultations.clinic.now();
        let (booking, caller) = (self.booking, self.caller);
        let mut conn = self.consultations.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = booking.id.to_string();
        // Another window may have ended it while this one talked to Twilio (its record stands),
        // or opened the room again (that room is not in this record yet).
        let Some(stored) = store::load(&tx, booking.id)? else {
            return Err(CoreError::NotFound("That consultation could not be found.".into()));
        };
        if stored.status == "in_progress" {
            if stored.room_sid != plan.room_sid || stored.earlier_room_sids != plan.earlier_room_sids {
                return Ok(Completed::RoomReopened);
            }
            match record {
                Some(kept) => {
                    store::keep(&tx, booking.id, &kept.people, &kept.chat)?;
                    store::keep_waiting(&tx, booking.id, kept.waiting)?;
                }
                None => {
                    tx.execute(
                        "UPDATE consultations SET record_pending_since = ?2 WHERE appointment_id = ?1",
                        params![id, ts(now)],
                    )?;
                }
            }
            tx.execute(
                "UPDATE consultations SET status = 'completed', ended_at = ?2, ended_by = ?3, updated_at = ?2, recording = 0
                 WHERE appointment_id = ?1",
                params![id, ts(now), caller.user_id().to_string()],
            )?;
            complete_appointment(&tx, &id, now)?;
            // The doctor's words (an administrator may be the one ending it).
            store::keep_notes_at_end(&tx, booking.id, booking.doctor_user, now)?;
            audit::record_for_patient(
                &tx,
                now,
                caller,
                AuditAction::ConsultationEnded,
                ("appointment", &id),
                booking.patient_id,
                Some(detail),
            )?;
        }
        let fresh = access::booking(&tx, booking.id)?;
        // An administrator ending it sees the state, as any status of theirs shows it (the record
        // stays theirs to read, audited, through the review).
        let status = status_of(&tx, &fresh, access::is_own(caller, &fresh))?;
        tx.commit()?;
        Ok(Completed::Ended(status))
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

/// A Twilio message as the clinic shows and keeps it (the author as a role, never an identity).
pub(super) fn chat_line(
    doctor_identity: &str,
    patient_identity: &str,
    m: &ChatMessage,
    fallback: DateTime<Utc>,
) -> ChatLine {
    line_as(store::role_of(doctor_identity, patient_identity, m.author.as_deref()), m, fallback)
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
