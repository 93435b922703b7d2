//! The text about a booking, a move or a cancellation: the rule once, for a one-desk clinic
//! (changes.rs, over SQLite) and the clinic server (`clinicdesk-server`'s texts.rs, over
//! PostgreSQL), each implementing [`ChangeTextStore`] inside the change's own transaction, so a
//! change and its text commit together (and a desk's retried command never queues a second one).
//!
//! Rules:
//! - Quick successive edits send one text about the final state: a change text waits the settle
//!   time before it may go, and the next change withdraws it while it waits (with the reminders
//!   and video links for the old time: a link names the old time's room).
//! - What replaces it depends on what the patient has been told: a move of an appointment whose
//!   confirmation never went out is confirmed at the new time (not "rescheduled"), and a
//!   cancellation of one the patient never heard about sends nothing.
//! - Quiet hours hold a text until the morning, unless the appointment (or, for a move, the old
//!   time) comes first.
//! - One text per change: keyed by the appointment's version and the kind (a cancellation once).

use super::when::{moment, quiet_until};
use crate::appointments::Appointment;
use crate::error::CoreError;
use crate::sms::TextKind;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use super::rules::QuietHours;

/// What happened to the appointment.
#[derive(Debug, Clone, Copy)]
pub enum Change {
    Booked,
    Moved { from: DateTime<Utc> },
    Cancelled,
}

/// The clinic's settings a change text follows.
#[derive(Debug, Clone, Copy)]
pub struct ChangeRules {
    pub tz: Tz,
    pub settle: Duration,
    pub quiet: Option<QuietHours>,
    /// Twilio is set up: without it nothing is queued (a one-desk clinic that never texts does
    /// not collect a skipped row per booking). A clinic server always queues.
    pub texting_set_up: bool,
}

/// A change text as the rule plans it.
#[derive(Debug, Clone)]
pub struct PlannedText {
    pub kind: TextKind,
    pub body: String,
    pub idempotency_key: String,
    pub due_at: DateTime<Utc>,
    pub about_starts_at: DateTime<Utc>,
    /// The earliest appointment time the patient may act on, when before the new time (a move
    /// from 07:30 tomorrow is news before the morning even if the new time is next week): the
    /// outbox's quiet-hours hold must see it.
    pub news_before: Option<DateTime<Utc>>,
}

/// What the rule did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeText {
    /// Nothing queued; the sentence says why ("Not texted: …").
    NotTexted(String),
    /// Queued under `id`; `skipped` is the store's reason when the patient cannot be texted (the
    /// text is kept, skipped); `waits_for_morning` when quiet hours hold it.
    Queued { kind: TextKind, id: Uuid, skipped: Option<String>, waits_for_morning: Option<DateTime<Utc>> },
}

/// Where change texts are kept, inside the change's transaction.
#[allow(async_fn_in_trait)] // used with concrete stores only
pub trait ChangeTextStore {
    /// The store's own error; every rule's refusal converts into it.
    type Error: From<CoreError>;
    /// A confirmation or reschedule about the appointment reached Twilio, or may have (an
    /// attempt in doubt counts: the patient may have it).
    async fn patient_was_told(&mut self, appointment: Uuid) -> Result<bool, Self::Error>;
    /// Withdraws the appointment's texts of `kinds` still waiting (never one being sent or in
    /// doubt), with `reason`. How many.
    async fn withdraw(&mut self, appointment: Uuid, kinds: &[TextKind], reason: &str) -> Result<u64, Self::Error>;
    /// The text of `kind` about the appointment as it now is, in the clinic's wording.
    async fn render(&mut self, kind: TextKind, appointment: &Appointment) -> Result<String, Self::Error>;
    /// Queues it (kept as skipped, with the reason, when the patient cannot be texted); the same
    /// key queued before is the same text. Its id and the reason it was skipped, if it was.
    async fn queue(
        &mut self,
        appointment: &Appointment,
        text: &PlannedText,
    ) -> Result<(Uuid, Option<String>), Self::Error>;
}

/// Withdraws what no longer fits and queues the text about `appointment` as it now is.
pub async fn on_change<S: ChangeTextStore>(
    store: &mut S,
    rules: &ChangeRules,
    appointment: &Appointment,
    change: Change,
    now: DateTime<Utc>,
) -> Result<ChangeText, S::Error> {
    let told = store.patient_was_told(appointment.id).await?;
    let reason = match change {
        Change::Booked => None,
        Change::Moved { .. } => Some(format!(
            "Withdrawn: the appointment was moved to {} before this text went out; the text about the new time replaces it.",
            moment(appointment.starts_at, rules.tz)
        )),
        Change::Cancelled => Some("Withdrawn: the appointment was cancelled before this text went out.".to_owned()),
    };
    let mut withdrawn_news = 0;
    if let Some(reason) = &reason {
        withdrawn_news =
            store.withdraw(appointment.id, &[TextKind::Confirmation, TextKind::Reschedule], reason).await?;
        store.withdraw(appointment.id, &[TextKind::Reminder, TextKind::Invite], reason).await?;
    }
    if !rules.texting_set_up {
        return Ok(ChangeText::NotTexted("Not texted: texting is not set up yet (Settings, Twilio)".into()));
    }
    let kind = match change {
        Change::Booked => TextKind::Confirmation,
        Change::Moved { .. } if told => TextKind::Reschedule,
        Change::Moved { .. } => TextKind::Confirmation,
        Change::Cancelled if told || withdrawn_news == 0 => TextKind::Cancellation,
        Change::Cancelled => {
            return Ok(ChangeText::NotTexted(
                "Not texted: the confirmation had not gone out yet, so it was withdrawn and the patient never heard of this appointment".into(),
            ))
        }
    };
    let soonest = match change {
        Change::Moved { from } => from.min(appointment.starts_at),
        _ => appointment.starts_at,
    };
    let mut due = now + rules.settle;
    let mut waits_for_morning = None;
    if let Some(morning) = quiet_until(rules.quiet, due, rules.tz) {
        // Quiet hours: the text waits for the morning, unless the appointment comes first.
        if morning < soonest {
            due = morning;
            waits_for_morning = Some(morning);
        }
    }
    let text = PlannedText {
        kind,
        body: store.render(kind, appointment).await?,
        idempotency_key: match kind {
            TextKind::Cancellation => format!("appointment:{}:cancelled", appointment.id),
            _ => format!("appointment:{}:v{}:{}", appointment.id, appointment.version, kind.as_str()),
        },
        due_at: due,
        about_starts_at: appointment.starts_at,
        news_before: (soonest < appointment.starts_at).then_some(soonest),
    };
    let (id, skipped) = store.queue(appointment, &text).await?;
    Ok(ChangeText::Queued { kind, id, skipped, waits_for_morning })
}
