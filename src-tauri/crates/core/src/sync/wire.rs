//! What desks and the clinic server say to each other (JSON over HTTPS). Shared by both ends, so a
//! field renamed on one side is a compile error on the other.

use crate::appointments::{BookingRequest, RescheduleRequest};
use crate::consultations::notes_rule::KeptVersion;
use crate::patients::PatientInput;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One changed record in the server's feed. `row` is the record as the server holds it now
/// (`None` when it was removed); `cursor` is where a desk has read up to once it applied it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub cursor: String,
    pub entity: String,
    pub entity_id: Uuid,
    pub row: Option<serde_json::Value>,
}

/// A page of the feed and the cursor to ask from next (unchanged when the page is empty).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangePage {
    pub changes: Vec<Change>,
    pub cursor: String,
}

/// Which desk a credential is, and of which clinic (`GET /v1/desk`).
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct DeskIdentity {
    pub desk: String,
    pub clinic: String,
}

/// The server's answer to a sign-in on a desk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerSignIn {
    pub token: String,
    pub user_id: Uuid,
    pub email: String,
    pub full_name: String,
    pub role: String,
    /// The doctor record of a doctor.
    pub doctor_id: Option<Uuid>,
}

/// A write a desk asks the server to make.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DeskCommand {
    /// `appointment_id` is the id the desk gave the booking (it may already show it, provisional).
    Book {
        appointment_id: Uuid,
        booking: BookingRequest,
    },
    /// Moves an appointment; `change.expected_version` refuses a move made on a stale copy.
    Move {
        appointment_id: Uuid,
        change: RescheduleRequest,
    },
    Cancel {
        appointment_id: Uuid,
        reason: String,
        expected_version: Option<i64>,
    },
    /// Registers a patient under the id the desk gave them (bookings for them may follow).
    AddPatient {
        patient_id: Uuid,
        patient: PatientInput,
    },
    /// Corrects a patient's details; `expected_version` refuses an edit made on a stale copy
    /// (`None` from desks older than the check).
    UpdatePatient {
        patient_id: Uuid,
        patient: PatientInput,
        #[serde(default)]
        expected_version: Option<i64>,
    },
    /// Records the patient's answer about texts, on the copy of version `expected_version`.
    RecordConsent {
        patient_id: Uuid,
        agreed: bool,
        expected_version: Option<i64>,
    },
    /// The doctor's notes for a video consultation, the whole text as typed (each save replaces
    /// the last; a desk sends only the latest of several saves still queued).
    WriteNotes {
        appointment_id: Uuid,
        notes: String,
        /// The server's version of the notes this desk's copy was made on (0: none known).
        #[serde(default)]
        expected_version: i64,
        /// When the doctor typed it (a save queued offline goes later): the notes' history after
        /// the end is kept by the doctor's sittings, not by when the saves arrived.
        #[serde(default)]
        made_at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Reception's text to a patient, to the number on their record (a reply from the inbox, a
    /// quick text). Sent at once, never queued on the desk: the answer is the queued text.
    TextPatient {
        patient_id: Uuid,
        body: String,
    },
}

/// The error body of every refusal: the core's code and sentence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: crate::error::ErrorCode,
    pub message: String,
}

/// One part of a one-desk clinic moving onto a clinic server (`clinicdesk server migrate-from`):
/// rows keep their ids. `source` names the clinic they come from, so a migration cut short can be
/// run again (rows already moved are skipped) but another clinic cannot be mixed in.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MigrationBatch {
    pub source: Uuid,
    pub settings: Vec<(String, String)>,
    pub users: Vec<MigratedUser>,
    pub doctors: Vec<MigratedDoctor>,
    pub patients: Vec<MigratedPatient>,
    pub appointments: Vec<MigratedAppointment>,
    pub audit: Vec<MigratedAuditEntry>,
    /// The doctors' notes of the clinic's video consultations (the latest text of each).
    #[serde(default)]
    pub notes: Vec<MigratedNotes>,
    /// The clinic's video consultations that started or hold the patient's agreement to recording,
    /// with who joined and the chat of those that ended.
    #[serde(default)]
    pub consultations: Vec<MigratedConsultation>,
    /// Every text the clinic sent or held back, and what became of it.
    #[serde(default)]
    pub texts: Vec<MigratedText>,
    /// Every text patients sent the clinic, and what was done with it.
    #[serde(default)]
    pub replies: Vec<TextReplyRow>,
    /// Chat attachments the clinic had already kept (one a part: each up to 10 MB).
    #[serde(default)]
    pub files: Vec<MigratedFile>,
    /// The last part: the server then holds the clinic, and refuses any further part (the old
    /// folder is kept to read from then on).
    #[serde(default)]
    pub finished: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MigratedUser {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub role: String,
    /// The argon2id PHC string: staff keep their passwords.
    pub password_hash: String,
    pub active: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MigratedDoctor {
    pub id: Uuid,
    pub user_id: Uuid,
    pub specialization: String,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MigratedPatient {
    pub id: Uuid,
    pub full_name: String,
    pub phone: String,
    pub date_of_birth: Option<chrono::NaiveDate>,
    pub sms_consent: bool,
    pub opted_out_at: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MigratedAppointment {
    pub id: Uuid,
    pub booking_ref: String,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub starts_at: chrono::DateTime<chrono::Utc>,
    pub ends_at: chrono::DateTime<chrono::Utc>,
    pub kind: String,
    pub status: String,
    pub cancel_reason: Option<String>,
    pub version: i64,
    pub created_by: Option<Uuid>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MigratedNotes {
    pub appointment_id: Uuid,
    pub notes: String,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// The notes' history after the end (version 0: at the end; then each amendment).
    #[serde(default)]
    pub versions: Vec<KeptVersion>,
}

/// A consultation's notes history after the end as the clinic server keeps it (`entity`
/// "consultation_note_history", keyed by the appointment): the whole history each time, so a desk
/// replaces its copy with it. Clinical, so only the desks of its doctor and of administrators
/// receive it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoteHistoryRow {
    pub appointment_id: Uuid,
    pub versions: Vec<KeptVersion>,
}

/// A consultation of a clinic moving onto a server: as desks receive it, the rooms Twilio
/// closed before its end, and its record once ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MigratedConsultation {
    pub consultation: ConsultationRow,
    #[serde(default)]
    pub earlier_room_sids: Vec<String>,
    #[serde(default)]
    pub record: Option<ConsultationRecordRow>,
    /// Who recorded the patient's agreement to recording.
    #[serde(default)]
    pub recording_consent_by: Option<Uuid>,
}

/// A chat attachment a clinic moving onto a server had already kept, so the server need not
/// fetch it again from Twilio (which may no longer have it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MigratedFile {
    pub appointment_id: Uuid,
    pub media_sid: String,
    /// The file's bytes, base64 (standard alphabet, padded).
    pub content: String,
}

/// A text of a clinic moving onto a server. Settled (a clinic with texts waiting does not move);
/// a video link's key is cut (it was the patient's alone, and it has expired).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MigratedText {
    pub id: Uuid,
    pub appointment_id: Option<Uuid>,
    pub patient_id: Option<Uuid>,
    pub kind: String,
    pub to: String,
    pub body: String,
    pub idempotency_key: String,
    pub state: String,
    pub twilio_sid: Option<String>,
    pub error_code: Option<i32>,
    pub error_message: Option<String>,
    pub attempts: i32,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
    /// As counted when it was queued (a link's cut key would count differently).
    pub segments: i32,
    pub encoding: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MigratedAuditEntry {
    /// Its number in the clinic's own trail (with `source`, what makes a re-sent entry land once).
    pub seq: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor_id: Option<Uuid>,
    pub actor_label: String,
    pub action: String,
    pub record_type: Option<String>,
    pub record_id: Option<String>,
    pub detail: Option<String>,
    /// The patients a screen showed (a read of a list or a record): who saw whom stays answerable.
    #[serde(default)]
    pub patients: Vec<Uuid>,
}

/// A desk's own audit entries (reads and writes done there, online or offline), sent to the
/// clinic server's trail: `source` and each entry's `seq` make it land once however often it is sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditUpload {
    pub source: Uuid,
    pub entries: Vec<MigratedAuditEntry>,
}

/// A video consultation's state as the clinic server holds it (`entity` "consultation" in the
/// feed, for every desk: the schedule shows it and reception may not cancel a running one).
/// Nothing clinical: the names are the random ids Twilio sees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsultationRow {
    pub appointment_id: Uuid,
    /// "scheduled", "in_progress" or "completed".
    pub status: String,
    pub room_name: String,
    pub doctor_identity: String,
    pub patient_identity: String,
    pub start_requested_at: Option<chrono::DateTime<chrono::Utc>>,
    pub room_sid: Option<String>,
    pub conversation_sid: Option<String>,
    pub chat_service_sid: Option<String>,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub started_by: Option<Uuid>,
    pub ended_at: Option<chrono::DateTime<chrono::Utc>>,
    pub ended_by: Option<Uuid>,
    /// Ended while the server could not reach Twilio: who joined and the chat follow later.
    #[serde(default)]
    pub record_pending: bool,
    /// When the doctor recorded the patient's agreement to be recorded (recording stays off without it).
    #[serde(default)]
    pub recording_consent_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Recording is switched on (only ever while it runs; completing the room stops it).
    #[serde(default)]
    pub recording: bool,
}

/// A text a patient sent to the clinic, as the clinic server recorded it (`entity` "text_reply",
/// every desk: reception's inbox). `handling` in the core's words (sms::inbox::ReplyHandling).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextReplyRow {
    pub sid: String,
    pub from: String,
    pub to: String,
    pub body: String,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub patient_id: Option<Uuid>,
    pub appointment_id: Option<Uuid>,
    pub handling: String,
    pub read_at: Option<chrono::DateTime<chrono::Utc>>,
    pub read_by: Option<Uuid>,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
}

/// The header of the clinic server's answer naming a chat attachment's state there; the body is
/// the file once "kept" (`GET /v1/consultations/{id}/attachments/{media_sid}`).
pub const ATTACHMENT_STATE_HEADER: &str = "x-clinicdesk-attachment-state";

/// Who was in the room and the whole chat, kept when a consultation ends on the clinic server
/// (`entity` "consultation_record"): clinical, so only the desks of its doctor and of
/// administrators receive it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsultationRecordRow {
    pub appointment_id: Uuid,
    pub participants: Vec<crate::consultations::KeptParticipant>,
    pub chat: Vec<crate::consultations::KeptMessage>,
    /// The clinic's chat retention removed the chat then (`chat` is empty): desks remove theirs.
    #[serde(default)]
    pub chat_removed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The server's answer to a start or an end asked for by a desk: the consultation as it now
/// stands, and its record once ended (the desk keeps both at once, before the feed brings them).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsultationAnswer {
    pub consultation: ConsultationRow,
    #[serde(default)]
    pub record: Option<ConsultationRecordRow>,
}
