//! The history of a one-desk clinic moving onto this server (migration.rs receives the parts):
//! its video consultations (consultations/moved.rs), every text it sent or held back, and every
//! text patients sent it. Rows keep their ids and are fed to the desks by the same rules as rows
//! made here (the texts' and replies' triggers, the consultations' audiences); a consultation
//! whose appointment did not come is skipped, a text or reply about one keeps the rest of itself,
//! and a row already here is left alone, so a move cut short is simply run again.

use crate::error::Result;
use clinicdesk_core::error::CoreError;
use clinicdesk_core::sync::wire::{MigratedConsultation, MigratedFile, MigratedText, TextReplyRow};
use clinicdesk_core::twilio::media::is_sid;
use tokio_postgres::GenericClient;
use uuid::Uuid;

/// Staff ids of the moving clinic mapped to the server's (the same person known by email).
pub type MapIds<'a> = &'a (dyn Fn(Option<Uuid>) -> Option<Uuid> + Sync);

pub async fn consultations(db: &impl GenericClient, moved: &[MigratedConsultation], mapped: MapIds<'_>) -> Result<u64> {
    let mut kept = 0;
    for m in moved {
        let mut m = m.clone();
        m.consultation.started_by = mapped(m.consultation.started_by);
        m.consultation.ended_by = mapped(m.consultation.ended_by);
        m.recording_consent_by = mapped(m.recording_consent_by);
        if crate::consultations::keep_moved(db, &m).await? {
            kept += 1;
        }
    }
    Ok(kept)
}

pub async fn texts(db: &impl GenericClient, moved: &[MigratedText]) -> Result<u64> {
    let mut kept = 0;
    for t in moved {
        // An appointment or patient that did not move is left blank on the text (it is kept: the
        // clinic's texts are its history), rather than the text refused.
        kept += db
            .execute(
                "INSERT INTO sms_notifications (id, appointment_id, patient_id, kind, to_phone, body, idempotency_key, state,
                                                twilio_sid, error_code, error_message, attempts, next_attempt_at,
                                                created_at, updated_at, sent_at, segments, encoding)
                 VALUES ($1, (SELECT id FROM appointments WHERE id = $2), (SELECT id FROM patients WHERE id = $3), $4, $5, $6,
                         $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16, $17)
                 ON CONFLICT DO NOTHING",
                &[
                    &t.id,
                    &t.appointment_id,
                    &t.patient_id,
                    &t.kind,
                    &t.to,
                    &t.body,
                    &t.idempotency_key,
                    &t.state,
                    &t.twilio_sid,
                    &t.error_code,
                    &t.error_message,
                    &t.attempts,
                    &t.created_at,
                    &t.updated_at,
                    &t.sent_at,
                    &t.segments,
                    &t.encoding,
                ],
            )
            .await?;
    }
    Ok(kept)
}

pub async fn replies(db: &impl GenericClient, moved: &[TextReplyRow], mapped: MapIds<'_>) -> Result<u64> {
    let mut kept = 0;
    for r in moved {
        kept += db
            .execute(
                "INSERT INTO sms_inbound (sid, from_phone, to_phone, body, received_at, handling, patient_id, appointment_id,
                                          read_at, read_by, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, (SELECT id FROM patients WHERE id = $7),
                         (SELECT id FROM appointments WHERE id = $8), $9, (SELECT id FROM users WHERE id = $10), $11)
                 ON CONFLICT DO NOTHING",
                &[
                    &r.sid,
                    &r.from,
                    &r.to,
                    &r.body,
                    &r.received_at,
                    &r.handling,
                    &r.patient_id,
                    &r.appointment_id,
                    &r.read_at,
                    &mapped(r.read_by),
                    &r.recorded_at,
                ],
            )
            .await?;
    }
    Ok(kept)
}

/// Chat attachments the clinic had kept: stored on the rows its consultations listed (one not
/// listed, or kept here already, is skipped). Checked whole first (`check_files`).
pub async fn files(db: &impl GenericClient, moved: &[MigratedFile]) -> Result<u64> {
    let mut kept = 0;
    for f in moved {
        let bytes = decoded(f)?;
        let size = bytes.len() as i64;
        kept += db
            .execute(
                "UPDATE consultation_attachments SET state = 'kept', content = $3, size = $4, kept_at = now()
                 WHERE media_sid = $1 AND appointment_id = $2 AND state IN ('waiting', 'unavailable')",
                &[&f.media_sid, &f.appointment_id, &bytes, &size],
            )
            .await?;
    }
    Ok(kept)
}

fn decoded(f: &MigratedFile) -> Result<Vec<u8>> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&f.content)
        .map_err(|_| CoreError::invalid("files", format!("Attachment {} could not be read.", f.media_sid)))?;
    if !is_sid(&f.media_sid, "ME") || bytes.len() as i64 > clinicdesk_core::consultations::attachments::MAX_BYTES {
        return Err(CoreError::invalid(
            "files",
            format!("Attachment {} is not one ClinicDesk would have kept.", f.media_sid),
        )
        .into());
    }
    Ok(bytes)
}

/// The files, checked whole before anything is written.
pub fn check_files(files: &[MigratedFile]) -> Result<()> {
    files.iter().try_for_each(|f| decoded(f).map(drop))
}

/// What arrives must be what this server would have kept itself; the sentence names the row.
pub fn check(consultations: &[MigratedConsultation], texts: &[MigratedText], replies: &[TextReplyRow]) -> Result<()> {
    let refuse = |field: &'static str, message: String| Err(CoreError::invalid(field, message).into());
    for m in consultations {
        let c = &m.consultation;
        let started = c.room_sid.is_some() && c.conversation_sid.is_some() && c.started_at.is_some();
        let whole = match c.status.as_str() {
            "scheduled" => true,
            "in_progress" => false, // a clinic does not move with a consultation running
            "completed" => started && c.ended_at.is_some(),
            _ => false,
        };
        if !whole {
            return refuse(
                "consultations",
                format!("The consultation of appointment {} is not complete.", c.appointment_id),
            );
        }
        // Twilio's ids go into addresses called with the clinic's key: only ids of Twilio's shape.
        let sids = [(&c.room_sid, "RM"), (&c.conversation_sid, "CH"), (&c.chat_service_sid, "IS")];
        let odd = sids.iter().any(|(sid, prefix)| sid.as_deref().is_some_and(|sid| !is_sid(sid, prefix)))
            || m.earlier_room_sids.iter().any(|sid| !is_sid(sid, "RM"));
        if odd {
            return refuse(
                "consultations",
                format!(
                    "The consultation of appointment {} names a Twilio room or chat that is not Twilio's.",
                    c.appointment_id
                ),
            );
        }
    }
    for t in texts {
        let known_kind = matches!(
            t.kind.as_str(),
            "confirmation" | "cancellation" | "reschedule" | "reminder" | "invite" | "custom"
        );
        let settled = matches!(t.state.as_str(), "sent" | "delivered" | "undelivered" | "failed" | "skipped");
        let counted = t.segments > 0 && matches!(t.encoding.as_str(), "gsm7" | "ucs2");
        if !known_kind
            || !settled
            || !counted
            || t.body.chars().count() > 2 * clinicdesk_core::sms::outbox::MAX_BODY_CHARS
        {
            return refuse("texts", format!("Text {} is not one ClinicDesk would have kept.", t.id));
        }
    }
    for r in replies {
        if !matches!(r.handling.as_str(), "confirmed" | "opted_out" | "opted_in" | "help" | "inbox") {
            return refuse("replies", format!("Reply {} is not one ClinicDesk would have kept.", r.sid));
        }
    }
    Ok(())
}
