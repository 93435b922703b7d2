//! Chat attachments kept in the clinic database, so a past consultation's record shows (and can
//! save) the photo or letter a patient sent with no network at all.
//!
//! When a chat is kept (end.rs, late.rs) each attachment it lists gets a row in `chat_attachments`:
//! `waiting`, or `too_large` over [`MAX_BYTES`], or `over_limit` past [`MAX_FILES`] files or
//! [`MAX_TOTAL_BYTES`] for the consultation. The files are fetched afterwards, in the background
//! (attachment_fetch.rs). Ending a call never waits for files.
//!
//! Invariants:
//! - A file is only ever in the database, never loose on the disk; its bytes are read only by
//!   [`Consultations::attachment`], which only the consultation's doctor or an administrator may
//!   call, and which is audited.
//! - A patient decides what they send, not how much the clinic keeps: at most [`MAX_FILES`] files
//!   and [`MAX_TOTAL_BYTES`] per consultation, each at most [`MAX_BYTES`].
//! - Only SIDs of Twilio's shape (ME + 32 hex digits) are noted; names are shown and saved made
//!   safe (file_names.rs).

use super::access;
use super::file_names::safe_filename;
use super::Consultations;
use crate::audit::{self, AuditAction};
use crate::auth::{Caller, Permission};
use crate::error::{CoreError, Result};
use crate::twilio::media;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::collections::HashMap;
use ts_rs::TS;
use uuid::Uuid;

/// The largest file kept: the chat's own limit for sending (ui/src/lib/call/attachments.ts).
pub const MAX_BYTES: i64 = 10 * 1024 * 1024;
/// The most files, and bytes, kept for one consultation.
pub const MAX_FILES: i64 = 20;
pub const MAX_TOTAL_BYTES: i64 = 50 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum AttachmentState {
    /// Not fetched yet (the network was down, or the call ended moments ago).
    Waiting,
    /// In the clinic database: it can be saved.
    Kept,
    /// Larger than the limit: never downloaded.
    TooLarge,
    /// Twilio no longer has it, or would not give it.
    Unavailable,
    /// Past the most files or bytes one consultation keeps.
    OverLimit,
}

impl AttachmentState {
    pub(super) fn parse(text: &str) -> AttachmentState {
        match text {
            "kept" => AttachmentState::Kept,
            "too_large" => AttachmentState::TooLarge,
            "unavailable" => AttachmentState::Unavailable,
            "over_limit" => AttachmentState::OverLimit,
            _ => AttachmentState::Waiting,
        }
    }

    /// In words, for the record's printed and terminal forms.
    pub fn in_words(self) -> &'static str {
        match self {
            AttachmentState::Waiting => "not fetched yet",
            AttachmentState::Kept => "kept",
            AttachmentState::TooLarge => "not kept: larger than 10 MB",
            AttachmentState::Unavailable => "not kept: Twilio no longer has it or would not give it",
            AttachmentState::OverLimit => "not kept: this consultation already keeps 20 files or 50 MB",
        }
    }
}

/// An attachment as a record shows it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Attachment {
    pub sid: Option<String>,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    #[ts(type = "number | null")]
    pub size: Option<i64>,
    pub state: AttachmentState,
}

/// A kept file, to save.
#[derive(Debug, Clone)]
pub struct AttachmentFile {
    /// Safe as a file name on any system (no folders, no control characters).
    pub filename: String,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// Notes the attachments of a kept chat message (in the transaction that keeps the chat). A file
/// already known keeps its state and content: keeping a chat again (a repeated end) loses nothing.
pub(super) fn note(tx: &Connection, appointment: Uuid, index: i64, listed: &[super::model::ChatMedia]) -> Result<()> {
    let id = appointment.to_string();
    for m in listed {
        let Some(sid) = m.sid.as_deref().filter(|sid| media::is_sid(sid, "ME")) else { continue };
        let known: bool = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM chat_attachments WHERE media_sid = ?1)")?
            .query_row([sid], |r| r.get(0))?;
        if known {
            continue;
        }
        // What this consultation already keeps, or will once fetched.
        let (files, bytes): (i64, i64) = tx
            .prepare_cached(
                "SELECT count(*), coalesce(sum(size), 0) FROM chat_attachments
                 WHERE appointment_id = ?1 AND state IN ('waiting', 'kept')",
            )?
            .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let state = noted_state(m.size, files, bytes);
        tx.prepare_cached(
            "INSERT INTO chat_attachments (media_sid, appointment_id, message_index, filename, content_type, size, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![sid, id, index, m.filename, m.content_type, m.size, state])?;
    }
    Ok(())
}

/// The state a newly listed file starts in, given what its consultation already keeps or will
/// (`files`, `bytes`: those waiting or kept): the same rule here and on a clinic server.
pub fn noted_state(size: Option<i64>, files: i64, bytes: i64) -> &'static str {
    let size = size.unwrap_or(0).max(0);
    if size > MAX_BYTES {
        "too_large"
    } else if files >= MAX_FILES || bytes + size > MAX_TOTAL_BYTES {
        "over_limit"
    } else {
        "waiting"
    }
}

/// The states of a consultation's attachments, by media SID.
pub(super) fn states(conn: &Connection, appointment: Uuid) -> Result<HashMap<String, AttachmentState>> {
    let mut statement =
        conn.prepare_cached("SELECT media_sid, state FROM chat_attachments WHERE appointment_id = ?1")?;
    let rows = statement.query_map([appointment.to_string()], |r| {
        Ok((r.get::<_, String>(0)?, AttachmentState::parse(&r.get::<_, String>(1)?)))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A message's attachments as the record shows them.
pub(super) fn shown(
    listed: Vec<super::model::ChatMedia>,
    states: &HashMap<String, AttachmentState>,
) -> Vec<Attachment> {
    listed
        .into_iter()
        .map(|m| {
            let state = m.sid.as_ref().and_then(|sid| states.get(sid)).copied().unwrap_or(AttachmentState::Unavailable);
            // Shown as it would be saved: no folders, invisible characters or misleading extensions.
            let filename = m.filename.as_deref().map(|name| safe_filename(Some(name), "attachment"));
            Attachment { sid: m.sid, filename, content_type: m.content_type, size: m.size, state }
        })
        .collect()
}

/// An attachment's row, as saving reads it.
struct Stored {
    filename: Option<String>,
    content_type: Option<String>,
    state: String,
    content: Option<Vec<u8>>,
}

impl Consultations<'_> {
    /// A kept attachment's file, to save: only the consultation's doctor or an administrator.
    /// Audited as an export (a file with health information leaves ClinicDesk).
    pub fn attachment(&self, caller: &Caller, appointment: Uuid, media_sid: &str) -> Result<AttachmentFile> {
        let (conn, patient, file) = self.kept_file(caller, appointment, media_sid)?;
        audit::record_for_patient(
            &conn,
            self.clinic.now(),
            caller,
            AuditAction::ConsultationExported,
            ("appointment", &appointment.to_string()),
            patient,
            Some(&format!("patient {patient}; chat attachment {media_sid} saved ({} bytes)", file.bytes.len())),
        )?;
        Ok(file)
    }

    /// A kept attachment that is a picture, to show in the record (the same people as
    /// [`Self::attachment`]); its type is read from its first bytes, never taken from the sender.
    /// Audited as a read of the record.
    pub fn attachment_picture(&self, caller: &Caller, appointment: Uuid, media_sid: &str) -> Result<AttachmentFile> {
        let (conn, patient, mut file) = self.kept_file(caller, appointment, media_sid)?;
        let Some(kind) = picture_kind(&file.bytes) else {
            return Err(CoreError::invalid(
                "media_sid",
                "This attachment is not a picture ClinicDesk can show: save it to open it.",
            ));
        };
        file.content_type = Some(kind.to_owned());
        audit::record_screen_read(&conn, self.clinic.now(), caller, "consultation attachment", [patient])?;
        Ok(file)
    }

    /// The file, if the caller may open it and it is kept here; with the patient, for the audit.
    fn kept_file(
        &self,
        caller: &Caller,
        appointment: Uuid,
        media_sid: &str,
    ) -> Result<(crate::db::PooledConnection, Uuid, AttachmentFile)> {
        caller.require(Permission::ReviewConsultations)?;
        let conn = self.clinic.db().conn()?;
        let booking = access::booking(&conn, appointment)?;
        access::video_only(&booking)?;
        if !access::reads_clinical(caller, &booking) {
            return Err(caller.refuse(
                Permission::ReadConsultationRecords,
                "Chat attachments are part of the clinical record: only the consultation's doctor or an administrator can open them.",
            ));
        }
        let found: Option<Stored> = conn
            .prepare_cached(
                "SELECT filename, content_type, state, content FROM chat_attachments
                 WHERE appointment_id = ?1 AND media_sid = ?2",
            )?
            .query_row(params![appointment.to_string(), media_sid], |r| {
                Ok(Stored { filename: r.get(0)?, content_type: r.get(1)?, state: r.get(2)?, content: r.get(3)? })
            })
            .optional()?;
        let Some(Stored { filename, content_type, state, content }) = found else {
            return Err(CoreError::NotFound("This consultation has no such attachment.".into()));
        };
        let Some(bytes) = content else {
            let state = AttachmentState::parse(&state);
            return Err(CoreError::Unavailable(match state {
                AttachmentState::Waiting => "This attachment has not been fetched from Twilio yet: ClinicDesk fetches it by itself when the network is available. Try again later.".into(),
                other => format!("This attachment is {}.", other.in_words()),
            }));
        };
        let filename = safe_filename(filename.as_deref(), &format!("attachment-{media_sid}"));
        Ok((conn, booking.patient_id, AttachmentFile { filename, content_type, bytes }))
    }
}

/// The picture kinds a record shows, recognised by their first bytes.
pub fn picture_kind(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0x89, b'P', b'N', b'G', ..] => Some("image/png"),
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [b'G', b'I', b'F', b'8', ..] => Some("image/gif"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_picture_is_known_by_its_first_bytes_not_its_name() {
        use super::picture_kind;
        assert_eq!(picture_kind(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(picture_kind(b"\xff\xd8\xff\xe0JFIF"), Some("image/jpeg"));
        assert_eq!(picture_kind(b"GIF89a"), Some("image/gif"));
        assert_eq!(picture_kind(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(picture_kind(b"<svg onload=alert(1)>"), None, "no SVG: it can carry script");
        assert_eq!(picture_kind(b"%PDF-1.4"), None);
        assert_eq!(picture_kind(b""), None);
    }
}
