//! Changes made on a desk, waiting for the clinic server (migrations 0016, 0017, 0019). A
//! booking, move or cancellation, a patient's registration, edit or answer about texts, or a
//! doctor's consultation notes, is written to this desk's copy at once, checked against what the
//! desk knows (the friendly double-booking check), marked provisional, and queued as a command
//! with a client id. Sending the queue and applying the server's answers: answers.rs.

use super::wire::DeskCommand;
use crate::appointments::Appointment;
use crate::auth::{Caller, Permission};
use crate::db::{ts, uuid_at};
use crate::error::{CoreError, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use ts_rs::TS;
use uuid::Uuid;

/// What reception sees after a change on a desk, until the server has confirmed it.
pub const NOT_YET_CONFIRMED: &str = "Saved on this desk; not yet confirmed by the clinic server.";

/// A change made on this desk that the clinic server has not accepted (yet).
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct PendingChange {
    pub client_id: Uuid,
    /// The appointment or patient it is about.
    pub entity_id: Uuid,
    /// "Book Ana Silva with Dr Rao, 12 Dec 2026 09:00".
    pub summary: String,
    pub made_by: String,
    pub made_at: DateTime<Utc>,
    /// The server's sentence, for a change it refused.
    pub refusal: Option<String>,
}

/// Whether this computer is a desk of a clinic server (its writes go through the queue).
pub(crate) fn is_desk(conn: &Connection) -> Result<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM settings WHERE key = ?1", [super::KEY_SERVER_URL], |_| Ok(()))
        .optional()?
        .is_some())
}

/// What a desk of a clinic server leaves to the server, in the words a refusal uses.
#[derive(Debug, Clone, Copy)]
pub enum ServerKeeps {
    StaffAccounts,
    Doctors,
    ClinicSettings,
    TextWording,
    Twilio,
    Texts,
    Passwords,
    Imports,
    VideoSettings,
    ReadMarks,
}

impl ServerKeeps {
    fn sentence(self) -> &'static str {
        match self {
            ServerKeeps::StaffAccounts => "Staff accounts are kept on the clinic server: an administrator adds or changes them there (clinicdesk-server add-staff).",
            ServerKeeps::Doctors => "Doctors are kept on the clinic server: an administrator adds them there (clinicdesk-server add-staff --role doctor --specialization …).",
            ServerKeeps::ClinicSettings => "The clinic's name, time zone and country are kept on the clinic server: an administrator changes them there.",
            ServerKeeps::TextWording => "The wording and timing of the clinic's texts are kept on the clinic server: an administrator changes them there.",
            ServerKeeps::Twilio => "Twilio is set up on the clinic server, not on each desk: your IT person configures it there.",
            ServerKeeps::Texts => "Texts are sent by the clinic server, not from a desk. Booking, moving or cancelling here texts the patient once the server confirms it.",
            ServerKeeps::Passwords => "Passwords are kept on the clinic server: ask an administrator to set a new one for you there.",
            ServerKeeps::Imports => "A desk of a clinic server cannot import records: its copy is the server's. Import into a one-desk clinic first, then move that clinic onto the server.",
            ServerKeeps::ReadMarks => "On a desk of a clinic server a patient's text is marked read on the server, so every desk's inbox agrees: mark it read on the Texts screen while the clinic server is connected.",
            ServerKeeps::VideoSettings => "The call page and how long consultation chats are kept are set on the clinic server: your IT person changes them there (clinicdesk-server settings set).",
        }
    }
}

/// Refuses, on a desk of a clinic server, a change that only the server makes (this desk's
/// copy of it would be replaced by the server's, or is never sent).
pub(crate) fn refuse_on_desk(conn: &Connection, what: ServerKeeps) -> Result<()> {
    if is_desk(conn)? {
        return Err(CoreError::Forbidden(what.sentence().into()));
    }
    Ok(())
}

/// Queues `command`, made by `caller` on `appointment` (as now written on this desk), in the
/// caller's transaction. `before` is the appointment before the change; `None` for a booking.
pub(crate) fn queue(
    tx: &Connection,
    now: DateTime<Utc>,
    caller: &Caller,
    appointment: &Appointment,
    command: &DeskCommand,
    before: Option<&Appointment>,
    summary: &str,
) -> Result<Uuid> {
    let client_id = Uuid::new_v4();
    let id = appointment.id.to_string();
    let before = match before {
        None => None,
        Some(before) => {
            let marker: Option<String> =
                tx.query_row("SELECT provisional FROM appointments WHERE id = ?1", [&id], |r| r.get(0))?;
            let mut row = serde_json::to_value(before).map_err(|_| CoreError::Storage)?;
            row["provisional"] = serde_json::json!(marker);
            Some(row.to_string())
        }
    };
    let command = serde_json::to_string(command).map_err(|_| CoreError::Storage)?;
    tx.execute(
        "INSERT INTO desk_pending (client_id, entity, entity_id, command, summary, made_by, made_at, before)
         VALUES (?1, 'appointment', ?2, ?3, ?4, ?5, ?6, ?7)",
        params![client_id.to_string(), id, command, summary, caller.user_id.to_string(), ts(now), before],
    )?;
    tx.execute("UPDATE appointments SET provisional = ?2 WHERE id = ?1", params![id, client_id.to_string()])?;
    Ok(client_id)
}

/// The patient as this desk holds them now (JSON), kept with a queued edit to put back if the
/// server refuses it; its `version` is the one the edit was made on.
pub(crate) fn patient_before(tx: &Connection, patient_id: Uuid) -> Result<serde_json::Value> {
    tx.query_row(
        "SELECT json_object('full_name', full_name, 'phone_e164', phone_e164, 'date_of_birth', date_of_birth,
                'sms_consent', sms_consent, 'sms_consent_at', sms_consent_at, 'sms_consent_by', sms_consent_by,
                'version', version, 'provisional', provisional)
         FROM patients WHERE id = ?1",
        [patient_id.to_string()],
        |r| r.get::<_, String>(0),
    )
    .optional()?
    .ok_or_else(|| CoreError::NotFound("That patient could not be found. They may have been removed.".into()))
    .and_then(|json| serde_json::from_str(&json).map_err(|_| CoreError::Storage))
}

/// Queues a patient's registration (`before` is `None`) or edit, made by `caller` and already
/// written on this desk (an edit moved the desk's copy one version on, as the server will when it
/// accepts it, so a second edit made before the first is answered names the version the first
/// one makes), in the caller's transaction.
pub(crate) fn queue_patient(
    tx: &Connection,
    now: DateTime<Utc>,
    caller: &Caller,
    patient_id: Uuid,
    command: &DeskCommand,
    before: Option<&serde_json::Value>,
    summary: &str,
) -> Result<Uuid> {
    let client_id = Uuid::new_v4();
    let command = serde_json::to_string(command).map_err(|_| CoreError::Storage)?;
    tx.execute(
        "INSERT INTO desk_pending (client_id, entity, entity_id, command, summary, made_by, made_at, before)
         VALUES (?1, 'patient', ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            client_id.to_string(),
            patient_id.to_string(),
            command,
            summary,
            caller.user_id.to_string(),
            ts(now),
            before.map(|b| b.to_string())
        ],
    )?;
    tx.execute(
        "UPDATE patients SET provisional = ?2 WHERE id = ?1",
        params![patient_id.to_string(), client_id.to_string()],
    )?;
    Ok(client_id)
}

/// Queues a doctor's notes for a consultation, already saved on this desk, in the caller's
/// transaction. Each save is queued (the whole text); only the latest of one person's saves still
/// queued is sent (answers.rs), so a save never overtakes one that is on its way.
pub(crate) fn queue_notes(
    tx: &Connection,
    now: DateTime<Utc>,
    caller: &Caller,
    appointment_id: Uuid,
    command: &DeskCommand,
    summary: &str,
) -> Result<Uuid> {
    let client_id = Uuid::new_v4();
    let command = serde_json::to_string(command).map_err(|_| CoreError::Storage)?;
    tx.execute(
        "INSERT INTO desk_pending (client_id, entity, entity_id, command, summary, made_by, made_at)
         VALUES (?1, 'consultation_notes', ?2, ?3, ?4, ?5, ?6)",
        params![
            client_id.to_string(),
            appointment_id.to_string(),
            command,
            summary,
            caller.user_id.to_string(),
            ts(now)
        ],
    )?;
    Ok(client_id)
}

impl super::DeskSync<'_> {
    /// Changes made on this desk and not yet answered by the server, oldest first.
    pub fn waiting(&self, caller: &Caller) -> Result<Vec<PendingChange>> {
        caller.require(Permission::ReadSchedule)?;
        self.list("queued")
    }

    /// Changes the server refused, for reception to deal with, oldest first.
    pub fn needs_attention(&self, caller: &Caller) -> Result<Vec<PendingChange>> {
        caller.require(Permission::ReadSchedule)?;
        self.list("refused")
    }

    /// Reception has dealt with a refused change (rebooked, or told the patient): it leaves the list.
    pub fn dismiss(&self, caller: &Caller, client_id: Uuid) -> Result<()> {
        let conn = self.clinic.db().conn()?;
        let change: Option<(String, String)> = conn
            .query_row("SELECT entity, made_by FROM desk_pending WHERE client_id = ?1", [client_id.to_string()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        // Whoever may make that kind of change deals with its refusal; a doctor's notes, only they.
        caller.require(match change.as_ref().map(|c| c.0.as_str()) {
            Some("patient") => Permission::WritePatients,
            Some("consultation_notes") => Permission::RunConsultations,
            _ => Permission::WriteSchedule,
        })?;
        if let Some((_, made_by)) = change.filter(|c| c.0 == "consultation_notes") {
            if made_by != caller.user_id.to_string() {
                return Err(caller.refuse(
                    Permission::RunConsultations,
                    "Only the doctor who wrote these notes can mark them as dealt with.",
                ));
            }
        }
        let gone = conn
            .execute("DELETE FROM desk_pending WHERE client_id = ?1 AND state = 'refused'", [client_id.to_string()])?;
        if gone == 0 {
            return Err(CoreError::NotFound("That change is no longer waiting for attention.".into()));
        }
        Ok(())
    }

    fn list(&self, state: &str) -> Result<Vec<PendingChange>> {
        let conn = self.clinic.db().conn()?;
        let mut statement = conn.prepare(
            "SELECT p.client_id, p.entity_id, p.summary, coalesce(u.full_name, ''), p.made_at, p.refusal
             FROM desk_pending p LEFT JOIN users u ON u.id = p.made_by WHERE p.state = ?1
               -- Of one person's saves of the same notes still queued, only the latest will go.
               AND NOT (p.state = 'queued' AND p.entity = 'consultation_notes' AND EXISTS (
                    SELECT 1 FROM desk_pending n WHERE n.state = 'queued' AND n.entity = p.entity
                      AND n.entity_id = p.entity_id AND n.made_by = p.made_by AND n.seq > p.seq))
             ORDER BY p.seq",
        )?;
        let rows = statement.query_map([state], |r| {
            Ok(PendingChange {
                client_id: uuid_at(r, 0)?,
                entity_id: uuid_at(r, 1)?,
                summary: r.get(2)?,
                made_by: r.get(3)?,
                made_at: r.get(4)?,
                refusal: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}
