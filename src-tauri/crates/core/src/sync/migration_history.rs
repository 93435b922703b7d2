//! The clinic's history read out for a clinic server when it moves (`export_for_server`): its
//! video consultations (state, who joined, the chat), every text it sent or held back, and every
//! text patients sent it, so the server and its desks show the same history. Read in the export's
//! snapshot; the consultations' note amendments and kept attachment files stay in the folder (the
//! server fetches the attachments again from Twilio while Twilio keeps them).

use super::wire::{ConsultationRecordRow, ConsultationRow, MigratedConsultation, MigratedText, TextReplyRow};
use crate::consultations::{ChatLine, ParticipantRole};
use crate::consultations::{KeptMessage, KeptParticipant};
use crate::db::uuid_at;
use crate::error::{CoreError, Result};
use rusqlite::Connection;
use uuid::Uuid;

fn opt_uuid(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<Uuid>> {
    let text: Option<String> = r.get(i)?;
    Ok(text.and_then(|t| Uuid::parse_str(&t).ok()))
}

/// A clinic does not move with a video consultation running: its room and chat are this
/// computer's to end (the server could not end them).
pub(super) fn refuse_while_consultations_run(conn: &Connection) -> Result<()> {
    let running: i64 =
        conn.query_row("SELECT count(*) FROM consultations WHERE status = 'in_progress'", [], |r| r.get(0))?;
    if running > 0 {
        return Err(CoreError::Conflict(format!(
            "{running} video consultation(s) are still running here: end them first, then move the clinic."
        )));
    }
    Ok(())
}

/// Consultations that started, or hold the patient's agreement to recording (a scheduled one
/// without it has nothing the server needs: its notes travel on their own).
pub(super) fn consultations(conn: &Connection) -> Result<Vec<MigratedConsultation>> {
    let mut statement = conn.prepare(
        "SELECT appointment_id, status, room_name, doctor_identity, patient_identity, start_requested_at, room_sid,
                conversation_sid, chat_service_sid, started_at, started_by, ended_at, ended_by,
                record_pending_since IS NOT NULL, recording_consent_at, earlier_room_sids, chat_removed_at,
                recording_consent_by
         FROM consultations WHERE status <> 'scheduled' OR recording_consent_at IS NOT NULL ORDER BY appointment_id",
    )?;
    let rows = statement.query_map([], |r| {
        let row = ConsultationRow {
            appointment_id: uuid_at(r, 0)?,
            status: r.get(1)?,
            room_name: r.get(2)?,
            doctor_identity: r.get(3)?,
            patient_identity: r.get(4)?,
            start_requested_at: r.get(5)?,
            room_sid: r.get(6)?,
            conversation_sid: r.get(7)?,
            chat_service_sid: r.get(8)?,
            started_at: r.get(9)?,
            started_by: opt_uuid(r, 10)?,
            ended_at: r.get(11)?,
            ended_by: opt_uuid(r, 12)?,
            record_pending: r.get(13)?,
            recording_consent_at: r.get(14)?,
            recording: false,
        };
        let earlier: String = r.get(15)?;
        let removed: Option<chrono::DateTime<chrono::Utc>> = r.get(16)?;
        Ok((row, earlier.split_whitespace().map(str::to_owned).collect::<Vec<_>>(), removed, opt_uuid(r, 17)?))
    })?;
    let mut all = Vec::new();
    for found in rows {
        let (consultation, earlier_room_sids, chat_removed_at, recording_consent_by) = found?;
        let record = (consultation.status == "completed" && !consultation.record_pending)
            .then(|| -> Result<ConsultationRecordRow> {
                Ok(ConsultationRecordRow {
                    appointment_id: consultation.appointment_id,
                    participants: participants(conn, consultation.appointment_id)?,
                    chat: chat(conn, consultation.appointment_id)?,
                    chat_removed_at,
                })
            })
            .transpose()?;
        all.push(MigratedConsultation { consultation, earlier_room_sids, record, recording_consent_by });
    }
    Ok(all)
}

fn participants(conn: &Connection, appointment: Uuid) -> Result<Vec<KeptParticipant>> {
    let mut statement = conn.prepare_cached(
        "SELECT participant_sid, role, identity, joined_at, left_at, seconds FROM consultation_participants
         WHERE appointment_id = ?1 ORDER BY joined_at, participant_sid",
    )?;
    let rows = statement.query_map([appointment.to_string()], |r| {
        Ok(KeptParticipant {
            sid: r.get(0)?,
            role: ParticipantRole::parse(&r.get::<_, String>(1)?),
            identity: r.get(2)?,
            joined_at: r.get(3)?,
            left_at: r.get(4)?,
            seconds: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn chat(conn: &Connection, appointment: Uuid) -> Result<Vec<KeptMessage>> {
    let mut statement = conn.prepare_cached(
        "SELECT message_sid, author_identity, message_index, author_role, body, media, sent_at FROM chat_messages
         WHERE appointment_id = ?1 ORDER BY message_index",
    )?;
    let rows = statement.query_map([appointment.to_string()], |r| {
        let media: Option<String> = r.get(5)?;
        Ok(KeptMessage {
            sid: r.get(0)?,
            author: r.get(1)?,
            line: ChatLine {
                index: r.get(2)?,
                author: ParticipantRole::parse(&r.get::<_, String>(3)?),
                body: r.get(4)?,
                media: media.and_then(|m| serde_json::from_str(&m).ok()).unwrap_or_default(),
                sent_at: r.get(6)?,
            },
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every text, oldest first, a video link's key cut; not the reminders still waiting (a move
/// waits for no other text, and the server plans its own reminders from the move on).
pub(super) fn texts(conn: &Connection) -> Result<Vec<MigratedText>> {
    let mut statement = conn.prepare(
        "SELECT id, appointment_id, patient_id, kind, to_e164, body, idempotency_key, state, twilio_sid, error_code,
                error_message, attempts, created_at, updated_at, sent_at, segments, encoding
         FROM sms_notifications WHERE state NOT IN ('pending', 'sending') ORDER BY created_at, id",
    )?;
    let rows = statement.query_map([], |r| {
        Ok(MigratedText {
            id: uuid_at(r, 0)?,
            appointment_id: opt_uuid(r, 1)?,
            patient_id: opt_uuid(r, 2)?,
            kind: r.get(3)?,
            to: r.get(4)?,
            body: without_link_keys(&r.get::<_, String>(5)?),
            idempotency_key: r.get(6)?,
            state: r.get(7)?,
            twilio_sid: r.get(8)?,
            error_code: r.get(9)?,
            error_message: r.get(10)?,
            attempts: r.get(11)?,
            created_at: r.get(12)?,
            updated_at: r.get(13)?,
            sent_at: r.get(14)?,
            segments: r.get(15)?,
            encoding: r.get(16)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every reply patients sent, oldest first.
pub(super) fn replies(conn: &Connection) -> Result<Vec<TextReplyRow>> {
    let mut statement = conn.prepare(
        "SELECT sid, from_e164, to_e164, body, received_at, patient_id, appointment_id, handling, read_at, read_by, recorded_at
         FROM sms_inbound ORDER BY received_at, sid",
    )?;
    let rows = statement.query_map([], |r| {
        Ok(TextReplyRow {
            sid: r.get(0)?,
            from: r.get(1)?,
            to: r.get(2)?,
            body: r.get(3)?,
            received_at: r.get(4)?,
            patient_id: opt_uuid(r, 5)?,
            appointment_id: opt_uuid(r, 6)?,
            handling: r.get(7)?,
            read_at: r.get(8)?,
            read_by: opt_uuid(r, 9)?,
            recorded_at: r.get(10)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A text as staff see it: a video link's key (everything from "#t=" to the end of the word) cut,
/// as the server's feed cuts it.
fn without_link_keys(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.find("#t=") {
        out.push_str(&rest[..at]);
        out.push_str("#…");
        let after = &rest[at..];
        let end = after.find(char::is_whitespace).unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

impl super::DeskSync<'_> {
    /// The chat attachments this clinic kept, to move one at a time after the rest (their bytes
    /// are read one by one, never all at once). The read is audited here once.
    pub fn kept_files_for_server(&self, caller: &crate::auth::Caller) -> Result<Vec<(Uuid, String)>> {
        caller.require_to_move()?;
        let conn = self.clinic.db().conn()?;
        let files: Vec<(Uuid, String)> = conn
            .prepare(
                "SELECT appointment_id, media_sid FROM chat_attachments WHERE state = 'kept' AND content IS NOT NULL
                 ORDER BY appointment_id, message_index, media_sid",
            )?
            .query_map([], |r| Ok((uuid_at(r, 0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        if files.is_empty() {
            return Ok(files);
        }
        let detail = format!("{} chat attachment(s) read to move onto a clinic server", files.len());
        crate::audit::record(
            &conn,
            self.clinic.now(),
            crate::audit::Actor::Staff(caller),
            crate::audit::AuditAction::ClinicMoved,
            None,
            Some(&detail),
        )?;
        Ok(files)
    }

    /// One kept attachment, to move.
    pub fn kept_file_for_server(
        &self,
        caller: &crate::auth::Caller,
        appointment: Uuid,
        media_sid: &str,
    ) -> Result<super::wire::MigratedFile> {
        use base64::Engine;
        caller.require_to_move()?;
        let bytes: Vec<u8> = self.clinic.db().conn()?.query_row(
            "SELECT content FROM chat_attachments WHERE appointment_id = ?1 AND media_sid = ?2 AND state = 'kept'",
            rusqlite::params![appointment.to_string(), media_sid],
            |r| r.get(0),
        )?;
        Ok(super::wire::MigratedFile {
            appointment_id: appointment,
            media_sid: media_sid.to_owned(),
            content: base64::engine::general_purpose::STANDARD.encode(bytes),
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_video_links_key_is_cut_and_the_rest_kept() {
        use super::without_link_keys;
        assert_eq!(
            without_link_keys("Join: https://call.example/join#t=eyJabc.def&d=Dr%20Grey see you"),
            "Join: https://call.example/join#… see you"
        );
        assert_eq!(without_link_keys("a #t=1\nb #t=2"), "a #…\nb #…");
        assert_eq!(without_link_keys("no link here"), "no link here");
    }
}
