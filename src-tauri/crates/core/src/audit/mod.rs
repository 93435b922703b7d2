//! The audit trail: an append-only record of sign-ins, staff changes and every read or write of a
//! patient's record. The table refuses UPDATE and DELETE (triggers in 0001_init.sql).

use crate::auth::{Caller, Permission};
use crate::error::Result;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use serde::Serialize;
use ts_rs::TS;

mod reads;

pub(crate) use reads::link_patients;
pub use reads::{
    index_pending, patients_of, record_actor_for_patient, record_for_patient, record_polled_screen_read,
    record_screen_read,
};

/// Who did it: a signed-in member of staff, or an unauthenticated attempt under some email.
pub enum Actor<'a> {
    Staff(&'a Caller),
    Anonymous { label: &'a str, user_id: Option<&'a str> },
}

/// The longest actor label kept: an email address's maximum length.
pub const MAX_ACTOR_LABEL_CHARS: usize = 254;

/// An actor label safe to show as one line of the trail. The label can be typed text (the email
/// given at a failed sign-in), so line breaks, terminal escapes, invisible and direction-changing
/// characters are dropped and the length is capped: nobody can forge extra lines or flood the trail.
pub fn clean_label(text: &str) -> String {
    let mut kept = text.chars().filter(|c| !c.is_control() && !is_invisible_format(*c));
    let mut label: String = kept.by_ref().take(MAX_ACTOR_LABEL_CHARS).collect();
    if kept.next().is_some() {
        label.push('…');
    }
    label
}

/// Unicode format characters that change how a line reads without being seen: zero-width
/// characters, bidirectional overrides and isolates, line/paragraph separators, the BOM.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{061C}')
}

/// Everything the trail records. Stored as its dotted name (`as_str`), which the audit screen and
/// `clinicdesk audit` show and filter on; the names are part of the record, so never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    AccessRefused,
    AccountLocked,
    PasswordChangeFailed,
    PasswordChanged,
    SignIn,
    SignInFailed,
    SignedOutIdle,
    SignOut,
    DoctorAdded,
    PatientCreated,
    PatientUpdated,
    PatientRead,
    SettingsUpdated,
    TwilioConfigured,
    TokenMinted,
    PasswordReset,
    UserUnlocked,
    UserUpdated,
    UserAdded,
    SampleClinicLoaded,
    ClinicSetUp,
    TextSent,
    TextsQueued,
    AppointmentBooked,
    AppointmentRescheduled,
    AppointmentCancelled,
    PatientsImported,
    AppointmentsImported,
    TemplateChanged,
    TextHandled,
    ConsentRecorded,
    AppointmentConfirmedByText,
    PatientOptedOut,
    PatientOptedIn,
    ConsultationStarted,
    ConsultationEnded,
    ConsultationNoted,
    RecordingConsented,
    RecordingSwitched,
    ChatMessageSent,
    CallPagePublished,
    ConsultationRecordFetched,
    ChatRemoved,
    ConsultationExported,
    /// A computer enrolled with the clinic server as a desk (server mode).
    DeskEnrolled,
    /// The whole clinic read out to move onto a clinic server (`clinicdesk server migrate-from`),
    /// and, on the server, each part of it received.
    ClinicMoved,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::AccessRefused => "access.refused",
            AuditAction::AccountLocked => "auth.account_locked",
            AuditAction::PasswordChangeFailed => "auth.password_change_failed",
            AuditAction::PasswordChanged => "auth.password_changed",
            AuditAction::SignIn => "auth.sign_in",
            AuditAction::SignInFailed => "auth.sign_in_failed",
            AuditAction::SignedOutIdle => "auth.signed_out_idle",
            AuditAction::SignOut => "auth.sign_out",
            AuditAction::DoctorAdded => "doctor.add",
            AuditAction::PatientCreated => "patient.create",
            AuditAction::PatientUpdated => "patient.update",
            AuditAction::PatientRead => "patient.read",
            AuditAction::SettingsUpdated => "settings.update",
            AuditAction::TwilioConfigured => "twilio.configure",
            AuditAction::TokenMinted => "twilio.token",
            AuditAction::PasswordReset => "user.reset_password",
            AuditAction::UserUnlocked => "user.unlock",
            AuditAction::UserUpdated => "user.update",
            AuditAction::UserAdded => "user.add",
            AuditAction::SampleClinicLoaded => "demo.seed",
            AuditAction::ClinicSetUp => "setup.first_admin",
            AuditAction::TextSent => "sms.send",
            AuditAction::TextsQueued => "sms.enqueue",
            AuditAction::AppointmentBooked => "appointment.book",
            AuditAction::AppointmentRescheduled => "appointment.reschedule",
            AuditAction::AppointmentCancelled => "appointment.cancel",
            AuditAction::PatientsImported => "import.patients",
            AuditAction::AppointmentsImported => "import.appointments",
            AuditAction::TemplateChanged => "sms.template",
            AuditAction::TextHandled => "sms.handled",
            AuditAction::ConsentRecorded => "patient.consent",
            AuditAction::AppointmentConfirmedByText => "appointment.confirm_by_text",
            AuditAction::PatientOptedOut => "patient.opt_out",
            AuditAction::PatientOptedIn => "patient.opt_in",
            AuditAction::ConsultationStarted => "consultation.start",
            AuditAction::ConsultationEnded => "consultation.end",
            AuditAction::ConsultationNoted => "consultation.note",
            AuditAction::RecordingConsented => "consultation.recording_consent",
            AuditAction::RecordingSwitched => "consultation.recording",
            AuditAction::ChatMessageSent => "consultation.message",
            AuditAction::CallPagePublished => "video.call_page_publish",
            AuditAction::ConsultationRecordFetched => "consultation.record_fetched",
            AuditAction::ChatRemoved => "consultation.chat_removed",
            AuditAction::ConsultationExported => "consultation.export",
            AuditAction::DeskEnrolled => "desk.enroll",
            AuditAction::ClinicMoved => "clinic.move_to_server",
        }
    }
}

/// Appends one entry and returns its id.
pub fn record(
    conn: &Connection,
    at: DateTime<Utc>,
    actor: Actor<'_>,
    action: AuditAction,
    record: Option<(&str, &str)>,
    detail: Option<&str>,
) -> Result<i64> {
    insert_entry(conn, at, actor, action, record, detail, None)
}

/// `patients`: for a screen read, the patients shown (reads.rs).
fn insert_entry(
    conn: &Connection,
    at: DateTime<Utc>,
    actor: Actor<'_>,
    action: AuditAction,
    record: Option<(&str, &str)>,
    detail: Option<&str>,
    patients: Option<&[u8]>,
) -> Result<i64> {
    let (actor_id, label) = match actor {
        Actor::Staff(c) => (Some(c.user_id.to_string()), clean_label(&c.email)),
        Actor::Anonymous { label, user_id } => (user_id.map(str::to_owned), clean_label(label)),
    };
    conn.prepare_cached(
        "INSERT INTO audit_log (at, actor_id, actor_label, action, record_type, record_id, detail, patients)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        crate::db::ts(at),
        actor_id,
        label,
        action.as_str(),
        record.map(|r| r.0),
        record.map(|r| r.1),
        detail,
        patients
    ])?;
    Ok(conn.last_insert_rowid())
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub record_type: Option<String>,
    pub record_id: Option<String>,
    pub detail: Option<String>,
}

pub struct AuditTrail<'a> {
    pub(crate) clinic: &'a crate::Clinic,
}

impl AuditTrail<'_> {
    /// The newest entries first, optionally only those about one record. For a patient's id that
    /// includes every screen that showed the patient (audit_patients), so it answers "who saw
    /// this patient, and when".
    pub fn recent(&self, caller: &Caller, record_id: Option<&str>, limit: u32) -> Result<Vec<AuditEntry>> {
        caller.require(Permission::ReadAudit)?;
        let limit = limit.min(1000);
        let conn = self.clinic.db().conn()?;
        let Some(record_id) = record_id else {
            let mut stmt = conn.prepare_cached(&format!("{ENTRY} ORDER BY id DESC LIMIT ?1"))?;
            return Ok(stmt.query_map([limit], entry)?.collect::<rusqlite::Result<_>>()?);
        };
        // Screens read moments ago may not be linked to their patients yet: link them first, so
        // the answer is complete.
        index_pending(&conn)?;
        // Two index range reads, each newest first and capped, merged: an OR in one WHERE would
        // walk the whole trail backwards for a record seen rarely.
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT * FROM (
               SELECT * FROM ({ENTRY} WHERE id IN (
                   SELECT audit_id FROM audit_patients WHERE patient_id = ?3 ORDER BY audit_id DESC LIMIT ?2)
               )
               UNION
               SELECT * FROM ({ENTRY} WHERE record_id = ?1 ORDER BY id DESC LIMIT ?2)
             ) ORDER BY id DESC LIMIT ?2"
        ))?;
        let patient_key = uuid::Uuid::parse_str(record_id).map(|u| u.as_bytes().to_vec()).unwrap_or_default();
        let rows = stmt.query_map(params![record_id, limit, patient_key], entry)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

const ENTRY: &str = "SELECT id, at, actor_label, action, record_type, record_id, detail FROM audit_log";

fn entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        at: r.get(1)?,
        // Rows written before labels were cleaned are cleaned on the way out.
        actor: clean_label(&r.get::<_, String>(2)?),
        action: r.get(3)?,
        record_type: r.get(4)?,
        record_id: r.get(5)?,
        detail: r.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_lose_line_breaks_escapes_and_invisible_characters_and_are_capped() {
        assert_eq!(clean_label("ada@clinic.org"), "ada@clinic.org");
        assert_eq!(clean_label("x@y.org\n2026-01-01 admin user.add"), "x@y.org2026-01-01 admin user.add");
        assert_eq!(clean_label("\u{1b}[2Jeve@y.org\r\t"), "[2Jeve@y.org");
        assert_eq!(clean_label("eve\u{202E}gro.y@"), "evegro.y@");
        let long = clean_label(&"a".repeat(10_000));
        assert_eq!(long.chars().count(), MAX_ACTOR_LABEL_CHARS + 1);
        assert!(long.ends_with('…'));
        assert_eq!(clean_label(&"a".repeat(MAX_ACTOR_LABEL_CHARS)).chars().count(), MAX_ACTOR_LABEL_CHARS);
    }
}
