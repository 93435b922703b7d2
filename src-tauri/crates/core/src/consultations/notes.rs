//! What the doctor writes down, with or without Twilio: the notes (saved as typed) and the
//! patient's consent to recording (who recorded it, when).

use super::access;
use super::model::{ConsultationState, ConsultationStatus};
use super::notes_rule::{self, KeptVersion, NotesOnFile, NotesSaved, NotesStore, NOTES_ACTION};
use super::start_steps::refusal;
use super::store;
use super::{status_of, Consultations};
use crate::audit::{self, AuditAction};
use crate::auth::Caller;
use crate::db::ts;
use crate::error::{CoreError, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use uuid::Uuid;

/// The notes' [`NotesStore`] over the embedded SQLite file, in the save's immediate transaction
/// (which also serialises saves: SQLite has one writer).
struct SqliteNotes<'a> {
    tx: &'a rusqlite::Connection,
    caller: &'a Caller,
    now: DateTime<Utc>,
}

impl NotesStore for SqliteNotes<'_> {
    type Error = CoreError;

    async fn on_file(&mut self, appointment: Uuid) -> Result<NotesOnFile> {
        let booking = access::booking(self.tx, appointment)?;
        let record = store::ensure(self.tx, appointment, self.now)?;
        let ended = match record.status.as_str() {
            "completed" => {
                let by: Option<String> = self
                    .tx
                    .prepare_cached("SELECT ended_by FROM consultations WHERE appointment_id = ?1")?
                    .query_row([appointment.to_string()], |r| r.get(0))?;
                Some((record.ended_at.unwrap_or(self.now), by.and_then(|b| Uuid::parse_str(&b).ok())))
            }
            _ => None,
        };
        Ok(NotesOnFile {
            patient: booking.patient_id,
            doctor_user: booking.doctor_user,
            doctor_name: booking.doctor_name,
            video: booking.video,
            text: record.notes,
            ended,
        })
    }

    async fn latest_version(&mut self, appointment: Uuid) -> Result<Option<KeptVersion>> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT version, text, saved_at, saved_by FROM consultation_note_versions WHERE appointment_id = ?1
                 ORDER BY version DESC LIMIT 1",
            )?
            .query_row([appointment.to_string()], kept_version)
            .optional()?)
    }

    async fn keep_version(&mut self, appointment: Uuid, v: &KeptVersion) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO consultation_note_versions (appointment_id, version, text, saved_at, saved_by)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (appointment_id, version) DO UPDATE SET text = excluded.text, saved_at = excluded.saved_at",
            )?
            .execute(params![
                appointment.to_string(),
                v.version,
                v.text,
                ts(v.saved_at),
                v.saved_by.map(|b| b.to_string())
            ])?;
        Ok(())
    }

    async fn write(&mut self, appointment: Uuid, text: &str, now: DateTime<Utc>) -> Result<Option<i64>> {
        self.tx.execute(
            "UPDATE consultations SET notes = ?2, notes_updated_at = ?3, updated_at = ?3 WHERE appointment_id = ?1",
            params![appointment.to_string(), text, ts(now)],
        )?;
        Ok(None)
    }

    async fn noted_since(&mut self, appointment: Uuid, by: Uuid, since: DateTime<Utc>) -> Result<bool> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM audit_log WHERE record_type = 'appointment' AND record_id = ?1
                               AND action = ?2 AND actor_id = ?3 AND at >= ?4)",
            )?
            .query_row(
                params![appointment.to_string(), AuditAction::ConsultationNoted.as_str(), by.to_string(), ts(since)],
                |r| r.get(0),
            )?)
    }

    async fn trail(&mut self, appointment: Uuid, patient: Uuid, detail: &str) -> Result<()> {
        audit::record_for_patient(
            self.tx,
            self.now,
            self.caller,
            AuditAction::ConsultationNoted,
            ("appointment", &appointment.to_string()),
            patient,
            Some(detail),
        )
    }
}

impl Consultations<'_> {
    /// Saves the doctor's notes exactly as typed (the whole text each time; the rule is
    /// notes_rule.rs). Works in every state and without Twilio, so a consultation can be documented
    /// when video is not possible. After the end each sitting of changes is kept as an amendment
    /// (who, when), the earlier text too.
    pub fn note(&self, caller: &Caller, appointment: Uuid, text: &str) -> Result<ConsultationStatus> {
        let booking = access::own(self.clinic, caller, appointment, NOTES_ACTION)?;
        notes_rule::check_notes(text)?;
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut notes = SqliteNotes { tx: &tx, caller, now };
        let saved = crate::db::at_once(notes_rule::save(&mut notes, caller.user_id(), appointment, text, now))?;
        if saved != NotesSaved::Unchanged && crate::sync::pending::is_desk(&tx)? {
            // On a desk of a clinic server the notes also go to the server (and from it to the
            // other desks allowed to read them); here they are kept at once, as typed. The server
            // keeps the history after the end by the same rule, and its copy replaces this one.
            let summary = format!("Notes for {}'s consultation", patient_name(&tx, booking.patient_id)?);
            // The version it was made on is filled in when it is sent (answers.rs): by then the
            // answers to this desk's earlier saves have moved it on.
            let command = crate::sync::wire::DeskCommand::WriteNotes {
                appointment_id: appointment,
                notes: text.into(),
                expected_version: 0,
                made_at: Some(now),
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

/// The notes' history after the end, oldest first (a clinic's move carries it to its server).
pub(crate) fn note_history(conn: &rusqlite::Connection, appointment: Uuid) -> Result<Vec<KeptVersion>> {
    let mut statement = conn.prepare_cached(
        "SELECT version, text, saved_at, saved_by FROM consultation_note_versions WHERE appointment_id = ?1 ORDER BY version",
    )?;
    let rows = statement.query_map([appointment.to_string()], kept_version)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The clinic server's history of the notes replaces this desk's copy (the server's is the one
/// every desk shows; this desk's own amendments were made by the same rule and are in it once its
/// saves are applied). Kept back while this desk has saves of its own still queued: the server's
/// answer to the last of them brings the history that includes them.
pub(crate) fn keep_history_from_server(
    conn: &rusqlite::Connection,
    history: &crate::sync::wire::NoteHistoryRow,
    now: DateTime<Utc>,
) -> Result<()> {
    let id = history.appointment_id.to_string();
    let held: bool = conn.query_row(
        "SELECT NOT EXISTS (SELECT 1 FROM appointments WHERE id = ?1)
             OR EXISTS (SELECT 1 FROM desk_pending WHERE entity = 'consultation_notes' AND entity_id = ?1 AND state = 'queued')",
        [&id],
        |r| r.get(0),
    )?;
    if held {
        return Ok(());
    }
    store::ensure_exists(conn, history.appointment_id, now)?;
    conn.execute("DELETE FROM consultation_note_versions WHERE appointment_id = ?1", [&id])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO consultation_note_versions (appointment_id, version, text, saved_at, saved_by)
         VALUES (?1, ?2, ?3, ?4, (SELECT id FROM users WHERE id = ?5))",
    )?;
    for v in &history.versions {
        insert.execute(params![id, v.version, v.text, ts(v.saved_at), v.saved_by.map(|b| b.to_string())])?;
    }
    Ok(())
}

fn kept_version(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeptVersion> {
    Ok(KeptVersion {
        version: r.get(0)?,
        text: r.get(1)?,
        saved_at: r.get(2)?,
        saved_by: r.get::<_, Option<String>>(3)?.and_then(|b| Uuid::parse_str(&b).ok()),
    })
}
