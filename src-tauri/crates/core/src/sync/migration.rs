//! A one-desk clinic read out whole for a clinic server (`clinicdesk server migrate-from`): its
//! clinic-wide settings, staff (with their password hashes, so everyone keeps their password),
//! doctors, patients, appointments, consultations' notes, audit trail, and its history
//! (migration_history.rs: consultations, texts, replies), ids kept. Read by an administrator; the read
//! itself is audited in the clinic being moved.

use super::wire::{
    MigratedAppointment, MigratedAuditEntry, MigratedDoctor, MigratedNotes, MigratedPatient, MigratedUser,
    MigrationBatch,
};
use crate::audit::{self, Actor, AuditAction};
use crate::auth::Caller;
use crate::db::uuid_at;
use crate::error::{CoreError, Result};
use rusqlite::{Connection, OptionalExtension};
use uuid::Uuid;

fn opt_uuid(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<Uuid>> {
    let text: Option<String> = r.get(i)?;
    Ok(text.and_then(|t| Uuid::parse_str(&t).ok()))
}

impl super::DeskSync<'_> {
    /// Everything a clinic server needs to carry on this clinic. Refused on a desk (its copy is
    /// another server's).
    pub fn export_for_server(&self, caller: &Caller) -> Result<MigrationBatch> {
        caller.require_to_move()?;
        let conn = self.clinic.db().conn()?;
        refuse_on_a_desk(&conn)?;
        let source = source_id(&conn)?;
        super::migration_history::refuse_while_consultations_run(&conn)?;
        // One snapshot: every table as of the same moment (no appointment without its patient).
        let snapshot = conn.unchecked_transaction()?;
        let batch = MigrationBatch {
            source,
            settings: settings(&snapshot)?,
            users: users(&snapshot)?,
            doctors: doctors(&snapshot)?,
            patients: patients(&snapshot)?,
            appointments: appointments(&snapshot)?,
            audit: audit_entries(&snapshot)?,
            notes: notes(&snapshot)?,
            consultations: super::migration_history::consultations(&snapshot)?,
            texts: super::migration_history::texts(&snapshot)?,
            replies: super::migration_history::replies(&snapshot)?,
            // Moved one at a time after the rest (`kept_files_for_server`).
            files: Vec::new(),
            finished: false,
        };
        snapshot.commit()?;
        let detail = format!(
            "{} staff, {} patients, {} appointments, {} consultation notes, {} consultations, {} texts, {} replies, {} audit entries read to move onto a clinic server",
            batch.users.len(),
            batch.patients.len(),
            batch.appointments.len(),
            batch.notes.len(),
            batch.consultations.len(),
            batch.texts.len(),
            batch.replies.len(),
            batch.audit.len()
        );
        audit::record(&conn, self.clinic.now(), Actor::Staff(caller), AuditAction::ClinicMoved, None, Some(&detail))?;
        Ok(batch)
    }
}

/// Where this folder's clinic went: `{"url", "at", "finished"}`. Written with `finished: false`
/// when a move starts (changes pause, so none is made after it was read out and lost), and with
/// `finished: true` once the clinic server confirmed the move's last part: the folder is then kept
/// to read. A mark without `finished` (written before moves paused changes) is a finished move.
const KEY_MOVED_TO: &str = "clinic.moved_to";

/// Where a folder stands with a move onto a clinic server.
#[derive(Debug, Clone)]
pub(crate) struct MoveNotice {
    /// The sentence every change is refused with.
    pub sentence: String,
    /// The move is done (`false`: under way, or cut short before the server took its last part).
    pub finished: bool,
}

impl super::DeskSync<'_> {
    /// Pauses every change in this folder while its clinic is read out and sent to the clinic
    /// server at `url` (a change made meanwhile would be missing on the server). The mover's own
    /// reading out and marking go on. Refused if the clinic already moved. Returns whether an
    /// earlier move had already paused it (its parts may be on the server).
    pub fn mark_moving(&self, caller: &Caller, url: &str) -> Result<bool> {
        caller.require_to_move()?;
        let conn = self.clinic.db().conn()?;
        refuse_on_a_desk(&conn)?;
        let earlier = moved_notice(&conn)?;
        if let Some(notice) = earlier.as_ref().filter(|n| n.finished) {
            return Err(CoreError::Conflict(notice.sentence.clone()));
        }
        if earlier.is_none() {
            refuse_while_texts_wait(&conn)?;
        }
        let detail = format!("moving onto the clinic server at {url}; changes on this computer are paused");
        self.write_mark(&conn, caller, url, false, &detail)?;
        Ok(earlier.is_some())
    }

    /// Marks this one-desk clinic as moved onto the clinic server at `url`, once the server has
    /// confirmed the move's last part. From then on its staff can still sign in and read (its
    /// history stays at hand), but every change is refused with a sentence pointing to the
    /// server, and its outbox sends nothing: the server texts the patients now, and two senders
    /// would text them twice.
    pub fn mark_moved(&self, caller: &Caller, url: &str) -> Result<()> {
        caller.require_to_move()?;
        let conn = self.clinic.db().conn()?;
        let detail = format!("moved onto the clinic server at {url}; this folder is now kept to read");
        self.write_mark(&conn, caller, url, true, &detail)
    }

    /// Lets changes go on again after a move that stopped before the server took its last part
    /// (the server unreachable, a part refused). Nothing if the clinic finished moving.
    pub fn resume_after_unfinished_move(&self, caller: &Caller) -> Result<()> {
        caller.require_to_move()?;
        let conn = self.clinic.db().conn()?;
        let tx = conn.unchecked_transaction()?;
        let removed = tx
            .execute("DELETE FROM settings WHERE key = ?1 AND json_extract(value, '$.finished') = 0", [KEY_MOVED_TO])?;
        if removed == 1 {
            let detail = "the move onto a clinic server stopped before it finished; changes on this computer go on";
            audit::record(&tx, self.clinic.now(), Actor::Staff(caller), AuditAction::ClinicMoved, None, Some(detail))?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The sentence to show on every screen of a folder whose clinic moved (or is moving) onto a
    /// clinic server; `None` for a clinic that never started a move.
    pub fn move_notice(&self) -> Result<Option<String>> {
        Ok(moved_notice(&*self.clinic.db().conn()?)?.map(|notice| notice.sentence))
    }

    fn write_mark(&self, conn: &Connection, caller: &Caller, url: &str, finished: bool, detail: &str) -> Result<()> {
        let now = self.clinic.now();
        let value = serde_json::json!({ "url": url, "at": now, "finished": finished }).to_string();
        let tx = conn.unchecked_transaction()?;
        tx.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, datetime('now'))
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            rusqlite::params![KEY_MOVED_TO, value],
        )?;
        audit::record(&tx, now, Actor::Staff(caller), AuditAction::ClinicMoved, None, Some(detail))?;
        tx.commit()?;
        Ok(())
    }
}

/// A desk's records are its server's copy: there is nothing of its own to move.
fn refuse_on_a_desk(conn: &Connection) -> Result<()> {
    if super::pending::is_desk(conn)? {
        return Err(CoreError::Conflict(
            "This computer is already a desk of a clinic server: there is nothing of its own to move.".into(),
        ));
    }
    Ok(())
}

/// A move does not carry the outbox over: a text about a change still waiting here (held for the
/// morning, say) would never be sent. Reminders are not counted: the server plans its own.
fn refuse_while_texts_wait(conn: &Connection) -> Result<()> {
    let (waiting, next): (i64, Option<chrono::DateTime<chrono::Utc>>) = conn.query_row(
        "SELECT count(*), min(next_attempt_at) FROM sms_notifications
         WHERE state IN ('pending', 'sending') AND kind <> 'reminder'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if waiting == 0 {
        return Ok(());
    }
    let tz = crate::settings::parse_time_zone(
        &conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [crate::settings::KEY_TIME_ZONE], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .unwrap_or_else(|| "UTC".into()),
    )?;
    let when =
        next.map(|at| format!(" (the next at {})", crate::appointment_texts::when::moment(at, tz))).unwrap_or_default();
    Err(CoreError::Conflict(format!(
        "{waiting} text(s) to patients are still waiting to be sent from this computer{when}. Move the clinic once they have gone: the clinic server does not take them over, so they would never be sent."
    )))
}

/// Where this folder stands with a move onto a clinic server; `None` if it never started one.
pub(crate) fn moved_notice(conn: &Connection) -> Result<Option<MoveNotice>> {
    let kept: Option<String> =
        conn.query_row("SELECT value FROM settings WHERE key = ?1", [KEY_MOVED_TO], |r| r.get(0)).optional()?;
    let Some(kept) = kept else { return Ok(None) };
    let value: serde_json::Value = serde_json::from_str(&kept).unwrap_or_default();
    let url = value["url"].as_str().unwrap_or("its clinic server");
    if value["finished"] == false {
        return Ok(Some(MoveNotice {
            sentence: format!(
                "This clinic is being moved onto the clinic server at {url}. Changes on this computer are paused until the move finishes: ask whoever is moving it."
            ),
            finished: false,
        }));
    }
    let on = value["at"]
        .as_str()
        .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
        .map(|at| format!(" on {}", at.format("%-d %b %Y")))
        .unwrap_or_default();
    Ok(Some(MoveNotice {
        sentence: format!(
            "This clinic moved onto the clinic server at {url}{on}. The records on this computer are kept to read only: make changes from a desk joined to the server."
        ),
        finished: true,
    }))
}

/// A stable id for this database (kept in its settings the first time it is needed): it names
/// where a moved clinic, or a desk's audit entries, come from.
pub(crate) fn source_id(conn: &Connection) -> Result<Uuid> {
    let key = "migration.source";
    let kept: Option<String> = conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0)).ok();
    if let Some(id) = kept.and_then(|k| Uuid::parse_str(&k).ok()) {
        return Ok(id);
    }
    let id = Uuid::new_v4();
    conn.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, datetime('now'))",
        rusqlite::params![key, id.to_string()],
    )?;
    Ok(id)
}

fn settings(conn: &Connection) -> Result<Vec<(String, String)>> {
    let keys = [crate::settings::KEY_NAME, crate::settings::KEY_TIME_ZONE, crate::settings::KEY_COUNTRY];
    let mut out = Vec::new();
    for key in keys {
        if let Ok(value) = conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get::<_, String>(0))
        {
            out.push((key.to_string(), value));
        }
    }
    Ok(out)
}

fn users(conn: &Connection) -> Result<Vec<MigratedUser>> {
    let mut statement = conn.prepare(
        "SELECT id, email, full_name, role, password_hash, active, created_at FROM users ORDER BY created_at",
    )?;
    let rows = statement.query_map([], |r| {
        Ok(MigratedUser {
            id: uuid_at(r, 0)?,
            email: r.get(1)?,
            full_name: r.get(2)?,
            role: r.get(3)?,
            password_hash: r.get(4)?,
            active: r.get(5)?,
            created_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn doctors(conn: &Connection) -> Result<Vec<MigratedDoctor>> {
    let mut statement = conn.prepare("SELECT id, user_id, specialization, active FROM doctors")?;
    let rows = statement.query_map([], |r| {
        Ok(MigratedDoctor { id: uuid_at(r, 0)?, user_id: uuid_at(r, 1)?, specialization: r.get(2)?, active: r.get(3)? })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn patients(conn: &Connection) -> Result<Vec<MigratedPatient>> {
    // Read as the core reads a patient everywhere (patients::row_to_patient), oldest first.
    let mut statement = conn.prepare(&format!("{} ORDER BY created_at", crate::patients::SELECT))?;
    let rows = statement.query_map([], crate::patients::row_to_patient)?;
    let moved = |p: crate::patients::Patient| MigratedPatient {
        id: p.id,
        full_name: p.full_name,
        phone: p.phone,
        date_of_birth: p.date_of_birth,
        sms_consent: p.sms_consent,
        opted_out_at: p.opted_out_at,
        created_at: p.created_at,
    };
    Ok(rows.map(|row| row.map(moved)).collect::<rusqlite::Result<_>>()?)
}

fn appointments(conn: &Connection) -> Result<Vec<MigratedAppointment>> {
    let mut statement = conn.prepare(
        "SELECT id, booking_ref, patient_id, doctor_id, starts_at, ends_at, kind, status, cancel_reason, version, created_by, created_at
         FROM appointments ORDER BY starts_at",
    )?;
    let rows = statement.query_map([], |r| {
        Ok(MigratedAppointment {
            id: uuid_at(r, 0)?,
            booking_ref: r.get(1)?,
            patient_id: uuid_at(r, 2)?,
            doctor_id: uuid_at(r, 3)?,
            starts_at: r.get(4)?,
            ends_at: r.get(5)?,
            kind: r.get(6)?,
            status: r.get(7)?,
            cancel_reason: r.get(8)?,
            version: r.get(9)?,
            created_by: opt_uuid(r, 10)?,
            created_at: r.get(11)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Each consultation's notes as they stand, with their history after the end.
fn notes(conn: &Connection) -> Result<Vec<MigratedNotes>> {
    let mut statement = conn.prepare(
        "SELECT c.appointment_id, c.notes, coalesce(c.notes_updated_at, c.updated_at) FROM consultations c
         WHERE c.notes <> '' OR EXISTS (SELECT 1 FROM consultation_note_versions v WHERE v.appointment_id = c.appointment_id)
         ORDER BY c.appointment_id",
    )?;
    let rows = statement.query_map([], |r| {
        Ok(MigratedNotes {
            appointment_id: uuid_at(r, 0)?,
            notes: r.get(1)?,
            updated_at: r.get(2)?,
            versions: Vec::new(),
        })
    })?;
    let mut notes = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    for n in &mut notes {
        n.versions = crate::consultations::note_history(conn, n.appointment_id)?;
    }
    Ok(notes)
}

fn audit_entries(conn: &Connection) -> Result<Vec<MigratedAuditEntry>> {
    let mut statement = conn.prepare(&format!("{} ORDER BY id", super::audit_upload::ENTRY))?;
    let rows = statement.query_map([], super::audit_upload::entry)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
