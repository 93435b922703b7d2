//! One consultation's record, assembled from the clinic database only (no network): the
//! appointment, the texts sent for it with their delivery, the waiting room, who joined and left,
//! the chat, recording, the start and the end, the notes and every amendment since.
//!
//! Invariants:
//! - The clinical parts are read only when the caller may see them ([`access::reads_clinical`]);
//!   otherwise they are not queried at all, so nothing clinical can leak through a field forgotten.
//! - The timeline is in time order; entries at the same instant in the order a person expects
//!   ([`TimelineEntry::rank`]), chat messages by their index.
//! - Every read is audited with the patient (the export names itself: "consultation export").

use super::access::{self, Booking};
use super::attachments;
use super::review::{Attendance, ConsultationRecord, NoteVersion, TimelineEntry};
use super::store;
use super::waiting::DeviceCheck;
use super::Consultations;
use crate::audit;
use crate::auth::{Caller, Permission};
use crate::db::uuid_at;
use crate::error::Result;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};
use uuid::Uuid;

impl Consultations<'_> {
    /// The record of a video appointment's consultation, as the caller may see it. Audited.
    pub fn record(&self, caller: &Caller, appointment: Uuid) -> Result<ConsultationRecord> {
        self.read_record(caller, appointment, "consultation record")
    }

    /// [`Consultations::record`], audited as `screen` (the export says "consultation export").
    pub(crate) fn read_record(&self, caller: &Caller, appointment: Uuid, screen: &str) -> Result<ConsultationRecord> {
        caller.require(Permission::ReviewConsultations)?;
        let conn = self.clinic.db().conn()?;
        let booking = access::booking(&conn, appointment)?;
        access::video_only(&booking)?;
        let record = assemble(&conn, &booking, access::reads_clinical(caller, &booking))?;
        audit::record_screen_read(&conn, self.clinic.now(), caller, screen, [booking.patient_id])?;
        Ok(record)
    }
}

/// The consultation row's facts the record shows.
struct Facts {
    status: Option<String>,
    started_at: Option<DateTime<Utc>>,
    started_by: Option<String>,
    ended_at: Option<DateTime<Utc>>,
    ended_by: Option<String>,
    consent_at: Option<DateTime<Utc>>,
    consent_by: Option<String>,
    notes: String,
    pending: bool,
    waiting_since: Option<DateTime<Utc>>,
    device_check: Option<String>,
    chat_removed_at: Option<DateTime<Utc>>,
}

fn facts(conn: &Connection, appointment: Uuid) -> Result<Option<Facts>> {
    let name = |column: &str| format!("(SELECT full_name FROM users WHERE id = c.{column})");
    Ok(conn
        .prepare_cached(&format!(
            "SELECT c.status, c.started_at, {}, c.ended_at, {}, c.recording_consent_at, {}, c.notes,
                    c.record_pending_since IS NOT NULL, c.patient_waiting_since, c.patient_device_check, c.chat_removed_at
             FROM consultations c WHERE c.appointment_id = ?1",
            name("started_by"),
            name("ended_by"),
            name("recording_consent_by")
        ))?
        .query_row([appointment.to_string()], |r| {
            Ok(Facts {
                status: r.get(0)?,
                started_at: r.get(1)?,
                started_by: r.get(2)?,
                ended_at: r.get(3)?,
                ended_by: r.get(4)?,
                consent_at: r.get(5)?,
                consent_by: r.get(6)?,
                notes: r.get(7)?,
                pending: r.get(8)?,
                waiting_since: r.get(9)?,
                device_check: r.get(10)?,
                chat_removed_at: r.get(11)?,
            })
        })
        .optional()?)
}

/// The record as `full` allows (see the module's invariants).
pub(crate) fn assemble(conn: &Connection, booking: &Booking, full: bool) -> Result<ConsultationRecord> {
    let (booking_ref, patient_name): (String, String) = conn
        .prepare_cached(
            "SELECT a.booking_ref, p.full_name FROM appointments a JOIN patients p ON p.id = a.patient_id WHERE a.id = ?1",
        )?
        .query_row([booking.id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let facts = facts(conn, booking.id)?;
    let kept = store::load(conn, booking.id)?;
    let state = store::state(booking.status, kept.as_ref());

    let mut timeline = texts(conn, booking.id)?;
    let mut record = ConsultationRecord {
        appointment_id: booking.id,
        booking_ref,
        starts_at: booking.starts_at,
        ends_at: booking.ends_at,
        patient_id: booking.patient_id,
        patient_name,
        doctor_name: booking.doctor_name.clone(),
        state,
        started_at: facts.as_ref().and_then(|f| f.started_at),
        ended_at: facts.as_ref().and_then(|f| f.ended_at),
        full,
        notes: None,
        note_versions: Vec::new(),
        attendance: Vec::new(),
        recording_consent_at: None,
        record_pending: facts.as_ref().is_some_and(|f| f.pending),
        chat_removed_at: None,
        timeline: Vec::new(),
    };
    if let Some(f) = &facts {
        if let Some(at) = f.started_at {
            timeline.push(TimelineEntry::Started { at, by: f.started_by.clone() });
        }
        if let (Some(at), Some("completed")) = (f.ended_at, f.status.as_deref()) {
            timeline.push(TimelineEntry::Ended { at, by: f.ended_by.clone() });
        }
    }
    if full {
        if let Some(f) = facts {
            clinical(conn, booking.id, f, &mut record, &mut timeline)?;
        }
    }
    timeline.sort_by(|a, b| a.at().cmp(&b.at()).then(a.rank().cmp(&b.rank())));
    record.timeline = timeline;
    Ok(record)
}

/// The texts sent (or meant to be sent) for the appointment, with their delivery.
fn texts(conn: &Connection, appointment: Uuid) -> Result<Vec<TimelineEntry>> {
    let mut statement = conn.prepare_cached(
        "SELECT id, kind, state, body, coalesce(sent_at, created_at), final_at, error_message
         FROM sms_notifications WHERE appointment_id = ?1 ORDER BY created_at, id",
    )?;
    let rows = statement.query_map([appointment.to_string()], |r| {
        Ok(TimelineEntry::Text {
            text_id: uuid_at(r, 0)?,
            text_kind: r.get(1)?,
            state: r.get(2)?,
            body: crate::text::without_link_keys(&r.get::<_, String>(3)?),
            at: r.get(4)?,
            final_at: r.get(5)?,
            error: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The notes, their versions, the waiting room, the room, the chat and recording.
fn clinical(
    conn: &Connection,
    appointment: Uuid,
    f: Facts,
    record: &mut ConsultationRecord,
    timeline: &mut Vec<TimelineEntry>,
) -> Result<()> {
    record.notes = Some(f.notes);
    record.recording_consent_at = f.consent_at;
    record.chat_removed_at = f.chat_removed_at;
    if let Some(at) = f.consent_at {
        timeline.push(TimelineEntry::RecordingConsent { at, by: f.consent_by });
    }
    if let Some(at) = f.waiting_since {
        timeline.push(TimelineEntry::Waiting { at, device_check: DeviceCheck::parse(f.device_check.as_deref()) });
    }
    if let Some(at) = f.chat_removed_at {
        timeline.push(TimelineEntry::ChatRemoved { at });
    }
    record.note_versions = note_versions(conn, appointment)?;
    for v in record.note_versions.iter().filter(|v| v.version > 0) {
        timeline.push(TimelineEntry::NotesAmended { at: v.saved_at, version: v.version, by: v.saved_by.clone() });
    }

    let people = store::participants(conn, appointment)?;
    for p in &people {
        if let Some(at) = p.joined_at {
            timeline.push(TimelineEntry::Joined { at, role: p.role });
        }
        if let Some(at) = p.left_at {
            timeline.push(TimelineEntry::Left { at, role: p.role, seconds: p.seconds });
        }
        match record.attendance.iter_mut().find(|a| a.role == p.role) {
            Some(a) => {
                a.connections += 1;
                a.seconds += p.seconds.unwrap_or(0);
            }
            None => {
                record.attendance.push(Attendance { role: p.role, connections: 1, seconds: p.seconds.unwrap_or(0) })
            }
        }
    }
    let files = attachments::states(conn, appointment)?;
    for m in store::messages(conn, appointment)? {
        timeline.push(TimelineEntry::Message {
            at: m.sent_at,
            index: m.index,
            author: m.author,
            body: m.body,
            media: attachments::shown(m.media, &files),
        });
    }
    // Switching recording on and off is kept in the audit trail only (the trail is append-only).
    let mut switches = conn.prepare_cached(
        "SELECT l.at, l.detail LIKE '%recording on', (SELECT full_name FROM users WHERE id = l.actor_id)
         FROM audit_log l WHERE l.record_type = 'appointment' AND l.record_id = ?1 AND l.action = 'consultation.recording'
         ORDER BY l.id",
    )?;
    let rows = switches.query_map([appointment.to_string()], |r| {
        Ok(TimelineEntry::Recording { at: r.get(0)?, on: r.get(1)?, by: r.get(2)? })
    })?;
    for row in rows {
        timeline.push(row?);
    }
    Ok(())
}

pub(super) fn note_versions(conn: &Connection, appointment: Uuid) -> Result<Vec<NoteVersion>> {
    let mut statement = conn.prepare_cached(
        "SELECT v.version, v.text, v.saved_at, u.full_name FROM consultation_note_versions v
         LEFT JOIN users u ON u.id = v.saved_by WHERE v.appointment_id = ?1 ORDER BY v.version",
    )?;
    let rows = statement.query_map([appointment.to_string()], |r| {
        Ok(NoteVersion { version: r.get(0)?, text: r.get(1)?, saved_at: r.get(2)?, saved_by: r.get(3)? })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
