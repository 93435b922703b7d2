//! Video consultations: a video appointment's room and chat at Twilio, the doctor's notes and token,
//! and the record kept when it ends (who was in the room, the whole chat), readable offline.
//!
//! Invariants:
//! - Only the appointment's own doctor starts, joins (token), chats, writes notes, records consent
//!   and ends; everyone who may see the schedule sees the state, and nothing clinical. Refusals are
//!   audited (access.rs).
//! - States: scheduled -> in_progress -> completed, each step once: "Cannot start a consultation
//!   with status: in-progress", "Cannot end a consultation with status: scheduled".
//! - Starting is resumable, never repeated: the intent (room name, identities) is committed before
//!   the first Twilio call and every SID as it arrives; Twilio finds the room and the conversation
//!   again by that name (53113, 50353), and adding a participant twice is harmless (50433). So a
//!   crash or a failure at any step is continued by the next start without a second room,
//!   conversation or participant (start.rs).
//! - Nothing Twilio sees names a person: the room name and identities are random ids.
//! - Notes never need Twilio: they are saved in the clinic database whatever Twilio does.
//! - No database connection is held across a Twilio call.

mod access;
mod attachment_fetch;
mod attachment_pull;
pub mod attachments;
mod chat;
pub mod chat_steps;
pub mod describe;
mod end;
pub mod end_steps;
mod export;
pub mod file_names;
mod invite;
pub mod invite_rule;
pub mod join_steps;
mod late;
mod list;
pub mod model;
mod notes;
pub mod notes_rule;
mod on_server;
pub mod patient_link;
mod pdf;
mod record;
pub mod recording;
mod reminder_link;
mod retention;
pub mod review;
mod search;
mod start;
pub mod start_steps;
pub(crate) mod store;
mod token;
mod waiting;
mod words;

pub use access::{in_person, only_their_doctor};
pub use attachment_fetch::{fetch_media, Fetched, GIVE_UP_AFTER};
pub use attachments::{Attachment, AttachmentFile, AttachmentState};
pub use chat::MAX_MESSAGE_CHARS;
pub use end::kept_record;
pub use end_steps::done_already;
pub use export::{ExportFormat, Exported, PHI_NOTICE};
pub(crate) use invite::set_call_page_url;
pub use invite::{check_call_page_url, VideoSettings, KEY_CALL_PAGE_URL};
pub use invite_rule::START_INVITE_QUIET_MINUTES;
pub use model::*;
pub(crate) use notes::{keep_history_from_server, note_history};
pub use notes_rule::{check_notes, MAX_NOTES_CHARS, NOTES_ACTION};
pub(crate) use on_server::{keep_from_server, keep_record_from_server};
pub use patient_link::{link_window, Greeting as PatientGreeting, PatientLink, EARLY_MINUTES};
pub use recording::{consent_first, in_order as recordings_in_order, recording_of};
pub use reminder_link::AUTOMATIC_ACTOR;
pub(crate) use retention::set_chat_retention;
pub use retention::{parse_days as check_chat_retention_days, KEY_CHAT_RETENTION_DAYS, MAX_RETENTION_DAYS};
pub use review::*;
pub use search::{query_of, HitSource, SearchHit, SnippetPart, MAX_HITS};
pub use start_steps::{refusal, PATIENT_PERMISSIONS, PATIENT_ROLE, ROOM};
pub use store::{state_of, KeptMessage, KeptParticipant};
pub use token::{token_lifetime, CHAT_TOKEN_MAX_SECONDS, TOKEN_MARGIN_MINUTES};
pub use waiting::{read_attributes, reported, DeviceCheck, WaitingPatient};
pub use words::{failed as failed_at_twilio, Step as TwilioStep};

use crate::auth::{Caller, Permission};
use crate::error::{CoreError, Result};
use crate::twilio::config::{AccountState, TwilioAccount};
use crate::Clinic;
use rusqlite::Connection;
use uuid::Uuid;
use words::Step;

pub struct Consultations<'a> {
    pub(crate) clinic: &'a Clinic,
}

impl Consultations<'_> {
    /// The consultation's state for anyone who may see the schedule; the notes and who was in the
    /// room for the appointment's doctor only. Audited as a (polled) read of the patient's record.
    pub fn status(&self, caller: &Caller, appointment: Uuid) -> Result<ConsultationStatus> {
        caller.require(Permission::ReadSchedule)?;
        let conn = self.clinic.db().conn()?;
        let booking = access::booking(&conn, appointment)?;
        access::video_only(&booking)?;
        crate::audit::record_polled_screen_read(
            &conn,
            self.clinic.now(),
            caller,
            &format!("consultation {appointment}"),
            [booking.patient_id],
        )?;
        status_of(&conn, &booking, access::is_own(caller, &booking))
    }

    /// The state of each video appointment among `appointments` (others are left out), for a
    /// schedule screen: two cached lookups each, and no audit entry of its own (the schedule's
    /// read is audited, and a state shows nothing clinical).
    pub fn states(&self, caller: &Caller, appointments: &[Uuid]) -> Result<Vec<ConsultationBadge>> {
        caller.require(Permission::ReadSchedule)?;
        let conn = self.clinic.db().conn()?;
        let mut badges = Vec::with_capacity(appointments.len());
        for id in appointments {
            let booking = match access::booking(&conn, *id) {
                Ok(booking) if booking.video => booking,
                Ok(_) | Err(CoreError::NotFound(_)) => continue,
                Err(err) => return Err(err),
            };
            let record = store::load(&conn, *id)?;
            let state = store::state(booking.status, record.as_ref());
            badges.push(ConsultationBadge {
                appointment_id: *id,
                state,
                starting: state == ConsultationState::Scheduled
                    && record.is_some_and(|r| r.start_requested_at.is_some()),
                is_own: access::is_own(caller, &booking),
            });
        }
        Ok(badges)
    }

    /// The clinic's Twilio account, or the sentence saying it is not set up.
    fn account(&self, step: Step) -> Result<TwilioAccount> {
        match self.clinic.twilio().account_state()? {
            AccountState::Ready(account) => Ok(account),
            other => Err(words::not_ready(&other, step)),
        }
    }
}

/// The consultation as `status` shows it; `own` adds the clinical parts.
fn status_of(conn: &Connection, booking: &access::Booking, own: bool) -> Result<ConsultationStatus> {
    let record = store::load(conn, booking.id)?;
    let state = store::state(booking.status, record.as_ref());
    let r = record.as_ref();
    Ok(ConsultationStatus {
        appointment_id: booking.id,
        state,
        starting: state == ConsultationState::Scheduled && r.is_some_and(|r| r.start_requested_at.is_some()),
        started_at: r.and_then(|r| r.started_at),
        ended_at: r.and_then(|r| r.ended_at),
        recording_consent_at: r.and_then(|r| r.recording_consent_at),
        recording: state == ConsultationState::InProgress && r.is_some_and(|r| r.recording),
        is_own: own,
        notes: own.then(|| r.map(|r| r.notes.clone()).unwrap_or_default()),
        participants: if own { store::participants(conn, booking.id)? } else { Vec::new() },
        record_pending: r.is_some_and(|r| r.record_pending),
    })
}
