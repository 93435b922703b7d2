//! The consultation types shared with the UI and the CLI.

use chrono::{DateTime, Utc};
use serde::Serialize;
use ts_rs::TS;
use uuid::Uuid;

/// Where a video appointment's consultation stands. `Cancelled` and `NoShow` are the appointment's
/// own states, shown here so one field answers "can this still happen?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ConsultationState {
    Scheduled,
    InProgress,
    Completed,
    Cancelled,
    NoShow,
}

impl ConsultationState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsultationState::Scheduled => "scheduled",
            ConsultationState::InProgress => "in_progress",
            ConsultationState::Completed => "completed",
            ConsultationState::Cancelled => "cancelled",
            ConsultationState::NoShow => "no_show",
        }
    }

    /// As the refusals say it: "Cannot start a consultation with status: in-progress".
    pub fn label(self) -> &'static str {
        match self {
            ConsultationState::Scheduled => "scheduled",
            ConsultationState::InProgress => "in-progress",
            ConsultationState::Completed => "completed",
            ConsultationState::Cancelled => "cancelled",
            ConsultationState::NoShow => "no-show",
        }
    }
}

/// Who a Twilio identity is in this consultation (the UI names them from the clinic's records).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ParticipantRole {
    Doctor,
    Patient,
    Other,
}

impl ParticipantRole {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ParticipantRole::Doctor => "doctor",
            ParticipantRole::Patient => "patient",
            ParticipantRole::Other => "other",
        }
    }
    pub(crate) fn parse(text: &str) -> ParticipantRole {
        match text {
            "doctor" => ParticipantRole::Doctor,
            "patient" => ParticipantRole::Patient,
            _ => ParticipantRole::Other,
        }
    }
}

/// A consultation as a screen shows it. Reception and other doctors see the state only; the
/// clinical parts (`notes`, `participants`) are filled for the appointment's own doctor.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ConsultationStatus {
    pub appointment_id: Uuid,
    pub state: ConsultationState,
    /// A start was asked for and did not finish (Twilio failed, or the app stopped half-way):
    /// starting again continues from where it stopped.
    pub starting: bool,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// When the doctor recorded that the patient agreed to be recorded (recording stays off without it).
    pub recording_consent_at: Option<DateTime<Utc>>,
    /// Recording is on (only ever with consent; it stops when the consultation ends).
    pub recording: bool,
    /// True when the caller is the appointment's doctor: the one who starts, joins, chats, notes, ends.
    pub is_own: bool,
    /// The doctor's notes, for the appointment's doctor only.
    pub notes: Option<String>,
    /// Who was in the room, stored at the end; for the appointment's doctor only.
    pub participants: Vec<ConsultationParticipant>,
    /// Ended while Twilio could not be reached: who was in the room and the chat are fetched by
    /// themselves when the network returns.
    pub record_pending: bool,
}

/// A video appointment's consultation state for a schedule screen (Start / Rejoin for its doctor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ConsultationBadge {
    pub appointment_id: Uuid,
    pub state: ConsultationState,
    pub starting: bool,
    /// The caller is the appointment's doctor (shows Start, or Rejoin while in progress).
    pub is_own: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct ConsultationParticipant {
    pub role: ParticipantRole,
    pub joined_at: Option<DateTime<Utc>>,
    pub left_at: Option<DateTime<Utc>>,
    #[ts(type = "number | null")]
    pub seconds: Option<i64>,
}

/// One chat message. The author is a role, never a Twilio identity.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, TS)]
#[ts(export)]
pub struct ChatLine {
    #[ts(type = "number")]
    pub index: i64,
    pub author: ParticipantRole,
    pub body: Option<String>,
    /// Attachments: metadata only (the file stays at Twilio).
    pub media: Vec<ChatMedia>,
    pub sent_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, TS)]
#[ts(export)]
pub struct ChatMedia {
    pub sid: Option<String>,
    pub content_type: Option<String>,
    pub filename: Option<String>,
    #[ts(type = "number | null")]
    pub size: Option<i64>,
}

/// The chat as the doctor sees it: live from Twilio while the consultation runs, from the clinic's
/// own copy once it has ended.
#[derive(Debug, Clone, Serialize, serde::Deserialize, TS)]
#[ts(export)]
pub struct ChatView {
    pub messages: Vec<ChatLine>,
    /// The last message the doctor marked read, and the last the patient has read (read receipts).
    #[ts(type = "number | null")]
    pub doctor_read_index: Option<i64>,
    #[ts(type = "number | null")]
    pub patient_read_index: Option<i64>,
    /// True once the consultation ended: nothing more can be posted.
    pub closed: bool,
}

/// The doctor's Access Token for the consultation's room and chat, and what it grants (on a desk
/// of a clinic server, minted by the server and passed on as it came).
#[derive(Clone, Serialize, serde::Deserialize, TS)]
#[ts(export)]
pub struct ConsultationToken {
    pub token: String,
    /// The doctor's opaque identity in this consultation.
    pub identity: String,
    /// The room's unique name (the video grant).
    pub room: String,
    /// The patient's opaque identity in this consultation (the UI names them from the clinic's records).
    pub patient_identity: String,
    pub chat_service_sid: Option<String>,
    /// The consultation's conversation (the chat), once the start created it.
    pub conversation_sid: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub ttl_seconds: u32,
}

impl std::fmt::Debug for ConsultationToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsultationToken")
            .field("identity", &self.identity)
            .field("room", &self.room)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// One recording of a consultation, as the doctor sees it listed (metadata only: the media stays
/// in the clinic's Twilio account). Deserialized from a clinic server's answer on a desk.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, TS)]
#[ts(export)]
pub struct ConsultationRecording {
    pub sid: String,
    /// "audio" or "video".
    pub kind: String,
    /// "processing" (recording, or Twilio still finishing the file) or "completed".
    pub status: String,
    pub started_at: Option<DateTime<Utc>>,
    #[ts(type = "number | null")]
    pub seconds: Option<i64>,
    #[ts(type = "number | null")]
    pub bytes: Option<i64>,
}
