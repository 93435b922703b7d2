//! What the doctor writes down, with or without Twilio: the notes (saved as typed) and the
//! patient's consent to recording (who recorded it, when).

use super::access;
use super::model::{ConsultationState, ConsultationStatus};
use super::start_steps::refusal;
use super::store;
use super::{status_of, Consultations};
use crate::audit::{self, AuditAction};
use crate::auth::Caller;
use crate::db::ts;
use crate::error::{CoreError, Result};
use rusqlite::{params, TransactionBehavior};
use uuid::Uuid;

/// An amendment is one sitting: saves by the same doctor this close to the last one continue it.
const SITTING_MINUTES: i64 = 10;

enum Amendment {
    /// A new version was started (its number).
    New(i64),
    /// The current sitting's version was brought up to date.
    Continued,
}

/// Keeps the notes' history once the consultation has ended: the notes at the end are version 0
/// (written by the end itself; written here for one ended before versions were kept), and each
/// sitting of changes after it a new version with who and when. Never changes an older version.
fn amend(
    tx: &rusqlite::Connection,
    caller: &Caller,
    appointment: Uuid,
    text: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Amendment> {
    let id = appointment.to_string();
    tx.prepare_cached(
        "INSERT OR IGNORE INTO consultation_note_versions (appointment_id, version, text, saved_at, saved_by)
         SELECT appointment_id, 0, notes, coalesce(ended_at, ?2), ended_by FROM consultations WHERE appointment_id = ?1",
    )?
    .execute(params![id, ts(now)])?;
    let (latest, by, at): (i64, Option<String>, chrono::DateTime<chrono::Utc>) = tx
        .prepare_cached(
            "SELECT version, saved_by, saved_at FROM consultation_note_versions WHERE appointment_id = ?1
             ORDER BY version DESC LIMIT 1",
        )?
        .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let same_sitting = latest > 0
        && by.as_deref() == Some(caller.user_id().to_string().as_str())
        && at >= now - chrono::Duration::minutes(SITTING_MINUTES);
    if same_sitting {
        tx.prepare_cached(
            "UPDATE consultation_note_versions SET text = ?3, saved_at = ?4 WHERE appointment_id = ?1 AND version = ?2",
        )?
        .execute(params![id, latest, text, ts(now)])?;
        Ok(Amendment::Continued)
    } else {
        tx.prepare_cached(
            "INSERT INTO consultation_note_versions (appointment_id, version, text, saved_at, saved_by) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![id, latest + 1, text, ts(now), caller.user_id().to_string()])?;
        Ok(Amendment::New(latest + 1))
    }
}

/// About 30 pages of text: far beyond one consultation's notes, small enough to save on every
/// keystroke pause.
pub const MAX_NOTES_CHARS: usize = 100_000;

/// How a refusal to someone other than the appointment's doctor ends: "only they can {action}
/// its video consultation" (access.rs; the clinic server uses the same words).
pub const NOTES_ACTION: &str = "write notes for";

/// Notes longer than [`MAX_NOTES_CHARS`] are refused, on a desk and on the clinic server alike.
pub fn check_notes(text: &str) -> Result<()> {
    if text.chars().count() > MAX_NOTES_CHARS {
        return Err(CoreError::invalid(
            "notes",
            format!("The notes are longer than {MAX_NOTES_CHARS} characters; shorten them to save."),
        ));
    }
    Ok(())
}

impl Consultations<'_> {
    /// Saves the doctor's notes exactly as typed (the whole text each time). Works in every state
    /// and without Twilio, so a consultation can be documented when video is not possible. After
    /// the end each sitting of changes is kept as an amendment (who, when), the earlier text too.
    pub fn note(&self, caller: &Caller, appointment: Uuid, text: &str) -> Result<ConsultationStatus> {
        let booking = access::own(self.clinic, caller, appointment, NOTES_ACTION)?;
        check_notes(text)?;
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let record = store::ensure(&tx, appointment, now)?;
        if record.notes == text {
            return status_of(&tx, &booking, true); // nothing changed: no new version, no entry
        }
        let amended = match record.status.as_str() {
            "completed" => Some(amend(&tx, caller, appointment, text, now)?),
            _ => None,
        };
        tx.execute(
            "UPDATE consultations SET notes = ?2, notes_updated_at = ?3, updated_at = ?3 WHERE appointment_id = ?1",
            params![appointment.to_string(), text, ts(now)],
        )?;
        if let Some(Amendment::New(version)) = amended {
            audit::record_for_patient(
                &tx,
                now,
                caller,
                AuditAction::ConsultationNoted,
                ("appointment", &appointment.to_string()),
                booking.patient_id,
                Some(&format!("patient {}; notes amended after the end (version {version})", booking.patient_id)),
            )?;
        }
        // Saved on every pause in typing: one trail entry per doctor and consultation per ten
        // minutes says who wrote the notes and when, without an entry per keystroke pause.
        let noted_lately: bool = tx
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM audit_log WHERE record_type = 'appointment' AND record_id = ?1
                               AND action = ?2 AND actor_id = ?3 AND at >= ?4)",
            )?
            .query_row(
                params![
                    appointment.to_string(),
                    AuditAction::ConsultationNoted.as_str(),
                    caller.user_id().to_string(),
                    ts(now - chrono::Duration::minutes(10))
                ],
                |r| r.get(0),
            )?;
        if !noted_lately {
            audit::record_for_patient(
                &tx,
                now,
                caller,
                AuditAction::ConsultationNoted,
                ("appointment", &appointment.to_string()),
                booking.patient_id,
                Some(&format!("patient {}; notes saved", booking.patient_id)),
            )?;
        }
        if crate::sync::pending::is_desk(&tx)? {
            // On a desk of a clinic server the notes also go to the server (and from it to the
            // other desks allowed to read them); here they are kept at once, as typed.
            let summary = format!("Notes for {}'s consultation", patient_name(&tx, booking.patient_id)?);
            // The version it was made on is filled in when it is sent (answers.rs): by then the
            // answers to this desk's earlier saves have moved it on.
            let command = crate::sync::wire::DeskCommand::WriteNotes {
                appointment_id: appointment,
                notes: text.into(),
                expected_version: 0,
            };
            crate::sync::pending::queue_notes(&tx, now, caller, appointment, &command, &summary)?;
        }
        let status = status_of(&tx, &booking, true)?;
        tx.commit()?;
        Ok(status)
    }

    /// Records that the patient agreed to the consultation being recorded: who recorded it and
    /// when (kept from the first time). Recording itself stays off until switched on.
    pub fn consent_to_recording(&self, caller: &Caller, appointment: Uuid) -> Result<ConsultationStatus> {
        let booking = access::own(self.clinic, caller, appointment, "record consent for")?;
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let fresh = access::booking(&tx, appointment)?;
        let state = store::state(fresh.status, store::load(&tx, appointment)?.as_ref());
        if !matches!(state, ConsultationState::Scheduled | ConsultationState::InProgress) {
            return Err(refusal("record consent for", state));
        }
        store::ensure(&tx, appointment, now)?;
        let recorded = tx.execute(
            "UPDATE consultations SET recording_consent_at = ?2, recording_consent_by = ?3, updated_at = ?2
             WHERE appointment_id = ?1 AND recording_consent_at IS NULL",
            params![appointment.to_string(), ts(now), caller.user_id().to_string()],
        )?;
        if recorded == 1 {
            audit::record_for_patient(
                &tx,
                now,
                caller,
                AuditAction::RecordingConsented,
                ("appointment", &appointment.to_string()),
                booking.patient_id,
                Some(&format!("patient {}; agreed to recording", booking.patient_id)),
            )?;
        }
        let status = status_of(&tx, &fresh, true)?;
        tx.commit()?;
        Ok(status)
    }
}

fn patient_name(tx: &rusqlite::Connection, patient: Uuid) -> Result<String> {
    Ok(tx.query_row("SELECT full_name FROM patients WHERE id = ?1", [patient.to_string()], |r| r.get(0))?)
}
