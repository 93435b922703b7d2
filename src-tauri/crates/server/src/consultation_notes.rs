//! A doctor's notes for a video consultation, sent by their desk (`DeskCommand::WriteNotes`): the
//! core's rule (`clinicdesk_core::consultations::notes_rule`: only the appointment's own doctor,
//! only a video appointment, the length limit, the history kept after the end, the trail) over
//! PostgreSQL, kept whole as last saved, and published to the feed as clinical content: only the
//! desks of that doctor and of administrators receive it (`changes::Audience`).

use crate::audit;
use crate::changes;
use crate::desks::Desk;
use crate::error::{Result, ServerError};
use crate::staff::Staff;
use chrono::{DateTime, Utc};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::consultations::notes_rule::{self, KeptVersion, NotesOnFile, NotesSaved, NotesStore};
use clinicdesk_core::error::CoreError;
use serde_json::json;
use tokio_postgres::GenericClient;
use uuid::Uuid;

/// The notes' [`NotesStore`] in the command's transaction.
struct PgNotes<'a, C> {
    db: &'a C,
    desk: &'a Desk,
    staff: &'a Staff,
    /// The version of the notes the desk's save was made on (0: it knew of none).
    expected_version: i64,
    /// The doctor's id (the feed's audience), read with the appointment.
    doctor: Option<Uuid>,
    /// The notes' version this save made (the answer names it).
    saved_version: Option<i64>,
    /// A version of the history was kept: the desks get the whole history again.
    history_changed: bool,
}

impl<C: GenericClient + Sync> NotesStore for PgNotes<'_, C> {
    type Error = ServerError;

    async fn on_file(&mut self, appointment: Uuid) -> Result<NotesOnFile> {
        let row = self
            .db
            .query_opt(
                "SELECT a.patient_id, a.doctor_id, d.user_id, u.full_name, a.kind, coalesce(n.notes, ''),
                        c.status = 'completed', c.ended_at, c.ended_by
                 FROM appointments a JOIN doctors d ON d.id = a.doctor_id JOIN users u ON u.id = d.user_id
                 LEFT JOIN consultation_notes n ON n.appointment_id = a.id
                 LEFT JOIN consultations c ON c.appointment_id = a.id
                 WHERE a.id = $1",
                &[&appointment],
            )
            .await?
            .ok_or_else(|| CoreError::NotFound("That appointment could not be found.".into()))?;
        self.doctor = Some(row.get(1));
        let ended: Option<bool> = row.get(6);
        let ended_at: Option<DateTime<Utc>> = row.get(7);
        Ok(NotesOnFile {
            patient: row.get(0),
            doctor_user: row.get(2),
            doctor_name: row.get(3),
            video: row.get::<_, String>(4) == "video",
            text: row.get(5),
            ended: match (ended, ended_at) {
                (Some(true), Some(at)) => Some((at, row.get(8))),
                _ => None,
            },
        })
    }

    async fn latest_version(&mut self, appointment: Uuid) -> Result<Option<KeptVersion>> {
        Ok(self
            .db
            .query_opt(
                "SELECT version, text, saved_at, saved_by FROM consultation_note_versions WHERE appointment_id = $1
                 ORDER BY version DESC LIMIT 1",
                &[&appointment],
            )
            .await?
            .map(|r| KeptVersion { version: r.get(0), text: r.get(1), saved_at: r.get(2), saved_by: r.get(3) }))
    }

    async fn keep_version(&mut self, appointment: Uuid, v: &KeptVersion) -> Result<()> {
        self.db
            .execute(
                "INSERT INTO consultation_note_versions (appointment_id, version, text, saved_at, saved_by)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (appointment_id, version) DO UPDATE SET text = excluded.text, saved_at = excluded.saved_at",
                &[&appointment, &v.version, &v.text, &v.saved_at, &v.saved_by],
            )
            .await?;
        self.history_changed = true;
        Ok(())
    }

    async fn write(&mut self, appointment: Uuid, text: &str, now: DateTime<Utc>) -> Result<Option<i64>> {
        // Made on an older copy from another computer, the save still wins (the doctor's latest
        // words), but the text it replaces is set aside, not lost. The same desk's own earlier
        // save (its answer lost) is no conflict.
        let set_aside = self
            .db
            .query_opt(
                "INSERT INTO consultation_notes_set_aside (appointment_id, version, notes, updated_at, updated_by, set_aside_at)
                 SELECT appointment_id, version, notes, updated_at, updated_by, $3 FROM consultation_notes
                 WHERE appointment_id = $1 AND version <> $2 AND notes <> '' AND desk_id IS DISTINCT FROM $4
                 ON CONFLICT DO NOTHING
                 RETURNING version",
                &[&appointment, &self.expected_version, &now, &self.desk.id],
            )
            .await?
            .map(|r| r.get(0));
        let version: i64 = self
            .db
            .query_one(
                "INSERT INTO consultation_notes (appointment_id, notes, version, updated_at, updated_by, desk_id)
                 VALUES ($1, $2, 1, $3, $4, $5)
                 ON CONFLICT (appointment_id) DO UPDATE SET notes = excluded.notes, updated_at = excluded.updated_at,
                        updated_by = excluded.updated_by, desk_id = excluded.desk_id, version = consultation_notes.version + 1
                 RETURNING version",
                &[&appointment, &text, &now, &self.staff.user_id, &self.desk.id],
            )
            .await?
            .get(0);
        self.saved_version = Some(version);
        Ok(set_aside)
    }

    async fn noted_since(&mut self, appointment: Uuid, by: Uuid, since: DateTime<Utc>) -> Result<bool> {
        Ok(self
            .db
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM audit_log WHERE record_type = 'appointment' AND record_id = $1
                                AND action = $2 AND actor_id = $3 AND at >= $4)",
                &[&appointment.to_string(), &AuditAction::ConsultationNoted.as_str(), &by, &since],
            )
            .await?
            .get(0))
    }

    async fn trail(&mut self, appointment: Uuid, _patient: Uuid, detail: &str) -> Result<()> {
        let record = Some(("appointment", appointment.to_string()));
        let record = record.as_ref().map(|(kind, id)| (*kind, id.as_str()));
        audit::record(self.db, Some(self.staff), AuditAction::ConsultationNoted, record, Some(detail)).await?;
        Ok(())
    }
}

/// Saves `notes` as the consultation's notes in the caller's transaction (the caller has checked
/// `RunConsultations`), made on the copy of `expected_version`; answers with the version saved.
pub async fn write_in(
    db: &(impl GenericClient + Sync),
    desk: &Desk,
    staff: &Staff,
    appointment: Uuid,
    notes: &str,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<serde_json::Value> {
    // Saves of one consultation's notes take turns (two computers of one doctor saving at once,
    // or the end): each reads the notes and their history only after the one before it committed.
    take_turn(db, appointment).await?;
    let mut store =
        PgNotes { db, desk, staff, expected_version, doctor: None, saved_version: None, history_changed: false };
    let saved = notes_rule::save(&mut store, staff.user_id, appointment, notes, now).await?;
    let doctor = store.doctor.expect("on_file read the appointment");
    let audience = format!("doctor:{doctor}");
    if saved == NotesSaved::Unchanged {
        // Nothing was written: the answer names the version the desk now holds. A desk holding
        // back the history while this save was queued gets it again.
        let kept: bool = db
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM consultation_note_versions WHERE appointment_id = $1)",
                &[&appointment],
            )
            .await?
            .get(0);
        if kept {
            publish_history(db, appointment, &audience).await?;
        }
        let row = db
            .query_opt("SELECT version, updated_at FROM consultation_notes WHERE appointment_id = $1", &[&appointment])
            .await?;
        let (version, updated_at): (i64, DateTime<Utc>) = row.map(|r| (r.get(0), r.get(1))).unwrap_or((0, now));
        return Ok(json!({ "appointment_id": appointment, "version": version, "updated_at": updated_at }));
    }
    let version = store.saved_version.expect("a save that changed the notes wrote them");
    // Each save carries the whole text: a desk that has not pulled the earlier rows needs only this
    // one, so they go (no copy of every pause in typing stays in the feed). The history likewise.
    db.execute("DELETE FROM changes WHERE entity = 'consultation_notes' AND entity_id = $1", &[&appointment]).await?;
    let row = json!({ "appointment_id": appointment, "notes": notes, "version": version, "updated_at": now });
    changes::record(db, "consultation_notes", appointment, &audience, Some(row)).await?;
    if store.history_changed {
        publish_history(db, appointment, &audience).await?;
    }
    // The answer to the desk names the version only: it holds the text it sent, and the server
    // keeps no second copy of every save in its record of answers.
    Ok(json!({ "appointment_id": appointment, "version": version, "updated_at": now }))
}

/// Waits for the consultation's notes until the caller's transaction ends: saves and the end take
/// turns. Taken before anything else is locked (a save's inserts check the appointment's row,
/// which the end holds).
pub async fn take_turn(db: &impl GenericClient, appointment: Uuid) -> Result<()> {
    db.execute("SELECT pg_advisory_xact_lock(hashtext('consultation notes ' || $1::uuid::text))", &[&appointment])
        .await?;
    Ok(())
}

/// At the end (in its transaction): the notes as they stand become version 0 of their history
/// (written by `doctor_user`, whoever ended it), published to the doctor's and administrators' desks. Takes the notes' turn first, so a save
/// under way finishes before (a plain save) or waits and follows (an amendment).
pub async fn keep_notes_at_end(
    db: &impl GenericClient,
    appointment: Uuid,
    doctor: Uuid,
    doctor_user: Uuid,
    now: DateTime<Utc>,
) -> Result<()> {
    take_turn(db, appointment).await?;
    let kept = db
        .execute(
            "INSERT INTO consultation_note_versions (appointment_id, version, text, saved_at, saved_by)
             SELECT $1, 0, coalesce((SELECT notes FROM consultation_notes WHERE appointment_id = $1), ''), $2, $3
             ON CONFLICT DO NOTHING",
            &[&appointment, &now, &doctor_user],
        )
        .await?;
    if kept == 1 {
        publish_history(db, appointment, &format!("doctor:{doctor}")).await?;
    }
    Ok(())
}

/// Puts the consultation's whole notes history in the feed for `audience`, in place of the last.
pub async fn publish_history(db: &impl GenericClient, appointment: Uuid, audience: &str) -> Result<()> {
    let versions: Vec<KeptVersion> = db
        .query(
            "SELECT version, text, saved_at, saved_by FROM consultation_note_versions WHERE appointment_id = $1 ORDER BY version",
            &[&appointment],
        )
        .await?
        .iter()
        .map(|r| KeptVersion { version: r.get(0), text: r.get(1), saved_at: r.get(2), saved_by: r.get(3) })
        .collect();
    db.execute("DELETE FROM changes WHERE entity = 'consultation_note_history' AND entity_id = $1", &[&appointment])
        .await?;
    let row = json!({ "appointment_id": appointment, "versions": versions });
    changes::record(db, "consultation_note_history", appointment, audience, Some(row)).await?;
    Ok(())
}
