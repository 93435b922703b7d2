//! The consultation tables: one consultation, created on first use, and the record kept at the end
//! (who was in the room, the whole chat).

use super::model::{ChatLine, ChatMedia, ConsultationParticipant, ConsultationState, ParticipantRole};
use crate::appointments::AppointmentStatus;
use crate::db::ts;
use crate::error::Result;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

/// A row of `consultations`.
pub(super) struct Record {
    pub status: String,
    pub room_name: String,
    pub doctor_identity: String,
    pub patient_identity: String,
    pub start_requested_at: Option<DateTime<Utc>>,
    pub room_sid: Option<String>,
    /// Rooms Twilio closed before the end (see migration 0011), oldest first.
    pub earlier_room_sids: Vec<String>,
    pub conversation_sid: Option<String>,
    pub chat_service_sid: Option<String>,
    pub doctor_participant_sid: Option<String>,
    pub chat_ready: bool,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub notes: String,
    pub recording_consent_at: Option<DateTime<Utc>>,
    pub doctor_read_index: Option<i64>,
    pub recording: bool,
    /// Ended without reaching Twilio: the room and the chat are still to be fetched (late.rs).
    pub record_pending: bool,
}

/// Who `identity` is in a consultation of these two identities.
pub fn role_of(doctor_identity: &str, patient_identity: &str, identity: Option<&str>) -> ParticipantRole {
    match identity {
        Some(i) if i == doctor_identity => ParticipantRole::Doctor,
        Some(i) if i == patient_identity => ParticipantRole::Patient,
        _ => ParticipantRole::Other,
    }
}

pub(super) fn load(conn: &Connection, appointment: Uuid) -> Result<Option<Record>> {
    Ok(conn
        .prepare_cached(
            "SELECT status, room_name, doctor_identity, patient_identity, start_requested_at, room_sid, conversation_sid,
                    chat_service_sid, doctor_participant_sid, chat_ready_at IS NOT NULL, started_at, ended_at, notes,
                    recording_consent_at, doctor_read_index, recording, earlier_room_sids,
                    record_pending_since IS NOT NULL
             FROM consultations WHERE appointment_id = ?1",
        )?
        .query_row([appointment.to_string()], |r| {
            Ok(Record {
                status: r.get(0)?,
                room_name: r.get(1)?,
                doctor_identity: r.get(2)?,
                patient_identity: r.get(3)?,
                start_requested_at: r.get(4)?,
                room_sid: r.get(5)?,
                conversation_sid: r.get(6)?,
                chat_service_sid: r.get(7)?,
                doctor_participant_sid: r.get(8)?,
                chat_ready: r.get(9)?,
                started_at: r.get(10)?,
                ended_at: r.get(11)?,
                notes: r.get(12)?,
                recording_consent_at: r.get(13)?,
                doctor_read_index: r.get(14)?,
                recording: r.get(15)?,
                earlier_room_sids: r.get::<_, String>(16)?.split_whitespace().map(str::to_owned).collect(),
                record_pending: r.get(17)?,
            })
        })
        .optional()?)
}

/// A random id Twilio may see and log: it says nothing about anyone.
fn opaque(prefix: &str) -> String {
    format!("{prefix}{}", Uuid::new_v4().simple())
}

/// The consultation of `appointment`, created (scheduled, with its room name and identities)
/// if it has none yet. The names are drawn once and kept, so every later start, token and end
/// of this consultation uses the same room, conversation and identities.
pub(super) fn ensure(conn: &Connection, appointment: Uuid, now: DateTime<Utc>) -> Result<Record> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO consultations (appointment_id, status, room_name, doctor_identity, patient_identity, created_at, updated_at)
         VALUES (?1, 'scheduled', ?2, ?3, ?4, ?5, ?5)",
    )?
    .execute(params![appointment.to_string(), opaque("cd-"), opaque("d-"), opaque("p-"), ts(now)])?;
    Ok(load(conn, appointment)?.expect("the consultation was just ensured"))
}

/// [`ensure`] for the rest of the core (a desk applying notes from the clinic server).
pub(crate) fn ensure_exists(conn: &Connection, appointment: Uuid, now: DateTime<Utc>) -> Result<()> {
    ensure(conn, appointment, now).map(drop)
}

/// The appointment moved: a link made for the old time must not open the new one. Until a start
/// has made the room, the consultation's names are drawn again (room, both identities) and a
/// waiting room opened for the old time is let go (the next invite or the start opens a new one
/// under the new name; Twilio closes the old one after two quiet days), so an old link's token
/// names a room, a conversation and an identity nobody uses any more; the notes stay. Once a start
/// has made the room the names stay (the call exists under them). True if drawn again.
pub(crate) fn forget_links(conn: &Connection, appointment: Uuid, now: DateTime<Utc>) -> Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE consultations SET room_name = ?2, doctor_identity = ?3, patient_identity = ?4, updated_at = ?5,
                    conversation_sid = NULL, doctor_participant_sid = NULL, chat_ready_at = NULL
         WHERE appointment_id = ?1 AND status = 'scheduled' AND room_sid IS NULL",
        )?
        .execute(params![appointment.to_string(), opaque("cd-"), opaque("d-"), opaque("p-"), ts(now)])?;
    Ok(changed == 1)
}

/// Whether the appointment's video consultation is running. A running one cannot be cancelled or
/// moved (the appointment rules refuse): its room and chat would stay open at Twilio with no
/// screen left to end them.
pub(crate) fn running(conn: &Connection, appointment: Uuid) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM consultations WHERE appointment_id = ?1 AND status = 'in_progress')",
        )?
        .query_row([appointment.to_string()], |r| r.get(0))?)
}

/// The one state a screen shows: the consultation's own while it runs or once it ended,
/// otherwise the appointment's (cancelled, no-show, completed without video).
pub(super) fn state(appointment: AppointmentStatus, record: Option<&Record>) -> ConsultationState {
    state_of(appointment, record.map(|r| r.status.as_str()))
}

/// [`state`] from the consultation's own status column.
pub fn state_of(appointment: AppointmentStatus, consultation: Option<&str>) -> ConsultationState {
    match consultation {
        Some("in_progress") => ConsultationState::InProgress,
        Some("completed") => ConsultationState::Completed,
        _ => match appointment {
            AppointmentStatus::Cancelled => ConsultationState::Cancelled,
            AppointmentStatus::NoShow => ConsultationState::NoShow,
            AppointmentStatus::Completed => ConsultationState::Completed,
            _ => ConsultationState::Scheduled,
        },
    }
}

pub(super) fn participants(conn: &Connection, appointment: Uuid) -> Result<Vec<ConsultationParticipant>> {
    let mut stmt = conn.prepare_cached(
        "SELECT role, joined_at, left_at, seconds FROM consultation_participants
         WHERE appointment_id = ?1 ORDER BY joined_at, participant_sid",
    )?;
    let rows = stmt.query_map([appointment.to_string()], |r| {
        Ok(ConsultationParticipant {
            role: ParticipantRole::parse(&r.get::<_, String>(0)?),
            joined_at: r.get(1)?,
            left_at: r.get(2)?,
            seconds: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn messages(conn: &Connection, appointment: Uuid) -> Result<Vec<ChatLine>> {
    let mut stmt = conn.prepare_cached(
        "SELECT message_index, author_role, body, media, sent_at FROM chat_messages
         WHERE appointment_id = ?1 ORDER BY message_index",
    )?;
    let rows = stmt.query_map([appointment.to_string()], |r| {
        let media: Option<String> = r.get(3)?;
        Ok(ChatLine {
            index: r.get(0)?,
            author: ParticipantRole::parse(&r.get::<_, String>(1)?),
            body: r.get(2)?,
            media: media.and_then(|m| serde_json::from_str(&m).ok()).unwrap_or_default(),
            sent_at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One participant's connection to the room, as kept at the end (and as a clinic server sends it
/// to the desks allowed to read it).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KeptParticipant {
    pub sid: String,
    pub role: ParticipantRole,
    pub identity: String,
    pub joined_at: Option<DateTime<Utc>>,
    pub left_at: Option<DateTime<Utc>>,
    pub seconds: Option<i64>,
}

/// One chat message as kept at the end: Twilio's SID and author identity beside what is shown.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KeptMessage {
    pub sid: Option<String>,
    pub author: Option<String>,
    pub line: ChatLine,
}

/// Replaces the kept record of who was in the room and what was said: an end that is repeated
/// after a failure half-way stores the same things once.
pub(crate) fn keep(tx: &Connection, appointment: Uuid, people: &[KeptParticipant], chat: &[KeptMessage]) -> Result<()> {
    let id = appointment.to_string();
    tx.execute("DELETE FROM consultation_participants WHERE appointment_id = ?1", [&id])?;
    tx.execute("DELETE FROM chat_messages WHERE appointment_id = ?1", [&id])?;
    let mut insert = tx.prepare_cached(
        "INSERT OR REPLACE INTO consultation_participants (appointment_id, participant_sid, identity, role, joined_at, left_at, seconds)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for p in people {
        insert.execute(params![
            id,
            p.sid,
            p.identity,
            p.role.as_str(),
            p.joined_at.map(ts),
            p.left_at.map(ts),
            p.seconds
        ])?;
    }
    let mut insert = tx.prepare_cached(
        "INSERT OR REPLACE INTO chat_messages (appointment_id, message_index, message_sid, author_identity, author_role, body, media, sent_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for KeptMessage { sid, author, line } in chat {
        let media: Option<String> =
            (!line.media.is_empty()).then(|| serde_json::to_string(&line.media).expect("media serialises"));
        insert.execute(params![
            id,
            line.index,
            sid,
            author,
            line.author.as_str(),
            line.body,
            media,
            ts(line.sent_at)
        ])?;
        super::attachments::note(tx, appointment, line.index, &line.media)?;
    }
    Ok(())
}

/// The notes as they stand at the end are version 0 of their history (notes.rs keeps amendments).
pub(super) fn keep_notes_at_end(tx: &Connection, appointment: Uuid, by: Uuid, now: DateTime<Utc>) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO consultation_note_versions (appointment_id, version, text, saved_at, saved_by)
         SELECT appointment_id, 0, notes, ?2, ?3 FROM consultations WHERE appointment_id = ?1",
    )?
    .execute(params![appointment.to_string(), ts(now), by.to_string()])?;
    Ok(())
}

/// What the patient's page reported while waiting, kept for the record.
pub(super) fn keep_waiting(
    tx: &Connection,
    appointment: Uuid,
    waiting: Option<(DateTime<Utc>, super::waiting::DeviceCheck)>,
) -> Result<()> {
    if let Some((since, check)) = waiting {
        tx.prepare_cached(
            "UPDATE consultations SET patient_waiting_since = ?2, patient_device_check = ?3 WHERE appointment_id = ?1",
        )?
        .execute(params![appointment.to_string(), ts(since), check.as_str()])?;
    }
    Ok(())
}

/// Twilio's media list as the clinic keeps it: metadata only.
pub(super) fn media_of(value: Option<&serde_json::Value>) -> Vec<ChatMedia> {
    value.and_then(|v| serde_json::from_value::<Vec<ChatMedia>>(v.clone()).ok()).unwrap_or_default()
}
