//! Texts driven by appointments: the confirmation, reschedule or cancellation written in the same
//! transaction as the change, reminders planned by rule, quiet hours, and what reception sees of
//! an appointment's texts. Built on the outbox (`sms::outbox`): nothing here talks to Twilio.
//!
//! Invariants:
//! - A booking, move or cancellation never fails because of texting: anything that stops a text
//!   becomes the sentence in [`TextNote`], and the change commits.
//! - One text per appointment state: a change withdraws the appointment's texts still waiting
//!   (confirmation, reschedule, reminders) before writing the one about the new state, and the
//!   worker re-checks at send time that a text still matches its appointment (`about_starts_at`).
//! - Withdrawn and collapsed texts stay in the outbox as `skipped` with their reason, marked
//!   handled by the system, so the timeline explains them and the worklist does not nag about them.

pub mod change_rule;
mod changes;
pub(crate) mod context;
pub use context::verdict as patient_text_verdict;
pub mod reminders;
pub mod rules;
mod to_patient;
pub mod upkeep;
pub mod when;
pub mod worklist;

pub use rules::TextingSettings;
pub use worklist::{AppointmentText, AppointmentTexts, AttentionItem, Fix, PlannedReminder, TextTimeline};

pub(crate) use changes::{on_change, Change};

use crate::appointments::Appointment;
use crate::sms::TextKind;
use serde::Serialize;
use ts_rs::TS;
use uuid::Uuid;

/// What happened to the text about a change, for the person who made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct TextNote {
    /// `queued`: a text will go; `not_texted`: none will, `message` says why.
    pub state: TextNoteState,
    pub kind: Option<TextKind>,
    /// "Confirmation text queued", "Not texted: the patient has not agreed to texts".
    pub message: String,
    pub text_id: Option<Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum TextNoteState {
    Queued,
    NotTexted,
}

impl TextNote {
    pub(crate) fn not_texted(message: impl Into<String>) -> TextNote {
        TextNote { state: TextNoteState::NotTexted, kind: None, message: message.into(), text_id: None }
    }
}

/// A booking, move or cancellation as it was saved, and what happened to the patient's text.
/// Derefs to the appointment, so callers read `change.id`, `change.version` as before.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct AppointmentChange {
    #[serde(flatten)]
    #[ts(flatten)]
    pub appointment: Appointment,
    pub text: TextNote,
}

impl std::ops::Deref for AppointmentChange {
    type Target = Appointment;
    fn deref(&self) -> &Appointment {
        &self.appointment
    }
}

/// The text about a change, inside the change's transaction but in a savepoint of its own: if
/// anything about the text fails (a broken template, a database error in the outbox), the text's
/// part is rolled back and said so, and the booking itself still commits.
pub(crate) fn after_change(
    tx: &mut rusqlite::Transaction<'_>,
    now: chrono::DateTime<chrono::Utc>,
    staff: Uuid,
    appointment: &Appointment,
    change: Change,
) -> TextNote {
    let mut attempt = || -> crate::error::Result<TextNote> {
        let savepoint = tx.savepoint()?;
        let note = on_change(&savepoint, now, staff, appointment, change)?;
        savepoint.commit()?;
        Ok(note)
    };
    attempt().unwrap_or_else(|err| {
        tracing::error!(code = %err.code(), appointment = %appointment.id, "the text about an appointment change could not be queued");
        TextNote::not_texted("Not texted: the text could not be queued. Text the patient from their record.")
    })
}
