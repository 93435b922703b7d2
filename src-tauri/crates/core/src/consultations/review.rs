//! What the review screen, the CLI and the exports show of past consultations (issue 11): the list,
//! and one consultation's record with its timeline. Everything here is read from the clinic
//! database alone, so it all works with no network.
//!
//! Who sees what (`Permission::ReviewConsultations` for the list and the texts,
//! `Permission::ReadConsultationRecords` plus the appointment's own doctor for the rest): the
//! clinical parts (notes, their versions, the chat, who was in the room, the waiting room) are
//! `None` or left out of the timeline when the caller may not read them, never blanked text.

use super::attachments::Attachment;
use super::model::{ConsultationState, ParticipantRole};
use super::waiting::DeviceCheck;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

/// The most consultations one page of the list holds.
pub const PAGE_SIZE: u32 = 50;

/// Which past consultations to list. Dates are the clinic's days, both ends included.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[ts(export)]
pub struct ConsultationFilter {
    /// The doctor's id (as on the schedule).
    #[serde(default)]
    pub doctor_id: Option<Uuid>,
    #[serde(default)]
    pub patient_id: Option<Uuid>,
    #[serde(default)]
    pub from: Option<NaiveDate>,
    #[serde(default)]
    pub to: Option<NaiveDate>,
    /// Only consultations with notes (doctors: their own; administrators: all).
    #[serde(default)]
    pub has_notes: bool,
    /// Only consultations with a kept chat (doctors: their own; administrators: all).
    #[serde(default)]
    pub has_chat: bool,
    /// Where the previous page ended (its `next`); none for the first page.
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One past consultation in the list.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct ConsultationSummary {
    pub appointment_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub patient_id: Uuid,
    pub patient_name: String,
    pub doctor_name: String,
    pub state: ConsultationState,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The caller may read its notes and chat (opening it shows them).
    pub full: bool,
    /// Whether it has notes; `None` where the caller may not know.
    pub has_notes: Option<bool>,
    /// How many chat messages were kept; `None` where the caller may not know.
    #[ts(type = "number | null")]
    pub chat_messages: Option<i64>,
    /// Who was in the room and the chat are still to be fetched from Twilio (the end was offline).
    pub record_pending: bool,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ConsultationPage {
    pub items: Vec<ConsultationSummary>,
    /// Pass as `after` for the next page; none on the last.
    pub next: Option<String>,
}

/// The notes as they stood at the end (version 0) or after an amendment (1, 2, ...).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct NoteVersion {
    #[ts(type = "number")]
    pub version: i64,
    pub text: String,
    pub saved_at: DateTime<Utc>,
    /// Who wrote it (a name).
    pub saved_by: Option<String>,
}

/// How long one person was in the room, over all their connections.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Attendance {
    pub role: ParticipantRole,
    #[ts(type = "number")]
    pub connections: i64,
    #[ts(type = "number")]
    pub seconds: i64,
}

/// One moment of a consultation, oldest first in the record's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum TimelineEntry {
    /// A text about the appointment (confirmation, reminder, the video link ...), with its delivery.
    Text {
        at: DateTime<Utc>,
        text_id: Uuid,
        /// "confirmation", "cancellation", "reschedule", "reminder", "invite" (the video link), "custom".
        text_kind: String,
        /// The outbox state: "pending", "sent", "delivered", "undelivered", "failed", "skipped" ...
        state: String,
        body: String,
        /// When Twilio last told its fate (delivered or not).
        final_at: Option<DateTime<Utc>>,
        /// Why it did not arrive, in words for reception.
        error: Option<String>,
    },
    /// The patient's page said they were waiting, with their device check.
    Waiting {
        at: DateTime<Utc>,
        device_check: DeviceCheck,
    },
    Started {
        at: DateTime<Utc>,
        by: Option<String>,
    },
    Joined {
        at: DateTime<Utc>,
        role: ParticipantRole,
    },
    Left {
        at: DateTime<Utc>,
        role: ParticipantRole,
        /// How long that connection lasted.
        #[ts(type = "number | null")]
        seconds: Option<i64>,
    },
    Message {
        at: DateTime<Utc>,
        #[ts(type = "number")]
        index: i64,
        author: ParticipantRole,
        body: Option<String>,
        /// Attachments, with whether the file is kept here.
        media: Vec<Attachment>,
    },
    RecordingConsent {
        at: DateTime<Utc>,
        by: Option<String>,
    },
    /// Recording switched on or off.
    Recording {
        at: DateTime<Utc>,
        on: bool,
        by: Option<String>,
    },
    Ended {
        at: DateTime<Utc>,
        by: Option<String>,
    },
    NotesAmended {
        at: DateTime<Utc>,
        #[ts(type = "number")]
        version: i64,
        by: Option<String>,
    },
    /// The chat was removed under the clinic's retention rule.
    ChatRemoved {
        at: DateTime<Utc>,
    },
}

impl TimelineEntry {
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            TimelineEntry::Text { at, .. }
            | TimelineEntry::Waiting { at, .. }
            | TimelineEntry::Started { at, .. }
            | TimelineEntry::Joined { at, .. }
            | TimelineEntry::Left { at, .. }
            | TimelineEntry::Message { at, .. }
            | TimelineEntry::RecordingConsent { at, .. }
            | TimelineEntry::Recording { at, .. }
            | TimelineEntry::Ended { at, .. }
            | TimelineEntry::NotesAmended { at, .. }
            | TimelineEntry::ChatRemoved { at } => *at,
        }
    }

    /// Same-instant entries keep the order a person expects: the start before anyone joins, chat
    /// before leaving, leaving before the end.
    pub(super) fn rank(&self) -> u8 {
        match self {
            TimelineEntry::Text { .. } => 0,
            TimelineEntry::Waiting { .. } => 1,
            TimelineEntry::RecordingConsent { .. } => 2,
            TimelineEntry::Started { .. } => 3,
            TimelineEntry::Joined { .. } => 4,
            TimelineEntry::Recording { .. } => 5,
            TimelineEntry::Message { .. } => 6,
            TimelineEntry::Left { .. } => 7,
            TimelineEntry::Ended { .. } => 8,
            TimelineEntry::NotesAmended { .. } => 9,
            TimelineEntry::ChatRemoved { .. } => 10,
        }
    }
}

/// One consultation's record.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ConsultationRecord {
    pub appointment_id: Uuid,
    pub booking_ref: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub patient_id: Uuid,
    pub patient_name: String,
    pub doctor_name: String,
    pub state: ConsultationState,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The caller may read the clinical parts; false: the consultation happened and its texts only.
    pub full: bool,
    /// The notes as they stand now.
    pub notes: Option<String>,
    /// The notes at the end and each amendment since, oldest first (empty until it ends).
    pub note_versions: Vec<NoteVersion>,
    pub attendance: Vec<Attendance>,
    /// The patient agreed to recording (when).
    pub recording_consent_at: Option<DateTime<Utc>>,
    /// Who was in the room and the chat are still to be fetched (the end was offline); they are
    /// fetched by themselves when the network returns.
    pub record_pending: bool,
    pub chat_removed_at: Option<DateTime<Utc>>,
    pub timeline: Vec<TimelineEntry>,
}
