//! The text-message types shared with the UI and the CLI.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum TextKind {
    Confirmation,
    Cancellation,
    Reschedule,
    Reminder,
    Invite,
    Custom,
}

impl TextKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TextKind::Confirmation => "confirmation",
            TextKind::Cancellation => "cancellation",
            TextKind::Reschedule => "reschedule",
            TextKind::Reminder => "reminder",
            TextKind::Invite => "invite",
            TextKind::Custom => "custom",
        }
    }
    pub fn parse(s: &str) -> TextKind {
        match s {
            "confirmation" => TextKind::Confirmation,
            "cancellation" => TextKind::Cancellation,
            "reschedule" => TextKind::Reschedule,
            "reminder" => TextKind::Reminder,
            "invite" => TextKind::Invite,
            _ => TextKind::Custom,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum TextState {
    /// Waiting to be sent (or to be retried).
    Pending,
    /// Handed to Twilio, answer not yet recorded.
    Sending,
    /// Twilio accepted it (its SID is recorded); delivery not yet confirmed.
    Sent,
    Delivered,
    Undelivered,
    Failed,
    /// Deliberately not sent (not configured, opted out, no consent).
    Skipped,
}

impl TextState {
    pub fn as_str(self) -> &'static str {
        match self {
            TextState::Pending => "pending",
            TextState::Sending => "sending",
            TextState::Sent => "sent",
            TextState::Delivered => "delivered",
            TextState::Undelivered => "undelivered",
            TextState::Failed => "failed",
            TextState::Skipped => "skipped",
        }
    }
    pub fn parse(s: &str) -> Option<TextState> {
        Some(match s {
            "pending" => TextState::Pending,
            "sending" => TextState::Sending,
            "sent" => TextState::Sent,
            "delivered" => TextState::Delivered,
            "undelivered" => TextState::Undelivered,
            "failed" => TextState::Failed,
            "skipped" => TextState::Skipped,
            _ => return None,
        })
    }
    /// The one place a Twilio message status becomes a text's state. Twilio's own non-final
    /// states (queued, accepted, scheduled, sending, sent) are all "sent": Twilio has the text.
    pub fn from_twilio(status: &str) -> TextState {
        match status {
            "delivered" | "read" => TextState::Delivered,
            "undelivered" => TextState::Undelivered,
            "failed" | "canceled" => TextState::Failed,
            _ => TextState::Sent,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, TextState::Delivered | TextState::Undelivered | TextState::Failed | TextState::Skipped)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TextMessage {
    pub id: Uuid,
    pub kind: TextKind,
    pub to: String,
    pub body: String,
    pub segments: u32,
    pub encoding: super::segments::Encoding,
    pub state: TextState,
    pub twilio_sid: Option<String>,
    pub twilio_status: Option<String>,
    pub error_code: Option<u32>,
    /// Why it failed or was skipped, in words for reception.
    pub error_message: Option<String>,
    pub attempts: u32,
    pub patient_id: Option<Uuid>,
    pub appointment_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub final_at: Option<DateTime<Utc>>,
}

impl TextMessage {
    /// As staff see it: a video link's key cut off (`text::without_link_keys`).
    pub fn as_shown(mut self) -> TextMessage {
        self.body = crate::text::without_link_keys(&self.body);
        self
    }
}

/// A text to put in the outbox.
#[derive(Debug, Clone)]
pub struct NewText {
    pub kind: TextKind,
    /// E.164.
    pub to: String,
    pub body: String,
    pub patient_id: Option<Uuid>,
    pub appointment_id: Option<Uuid>,
    /// The same key twice means the same text: the second enqueue does nothing.
    pub idempotency_key: String,
    pub due_at: DateTime<Utc>,
    /// For a text about an appointment: the appointment time it speaks of. If the appointment
    /// has moved (or was cancelled) by the time it is sent, it is withdrawn instead.
    pub about_starts_at: Option<DateTime<Utc>>,
    /// For a reminder: its rule ("24h").
    pub reminder_rule: Option<String>,
}
