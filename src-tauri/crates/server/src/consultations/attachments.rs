//! Chat attachments of consultations run through the clinic server (core consultations/
//! attachments.rs and attachment_fetch.rs, on the server): listed when the chat is kept, fetched
//! from Twilio by the elected sender, and handed to the desks allowed to read the record (the
//! consultation's doctor, administrators), which keep them so the record shows them offline.
//!
//! Invariants (as on one desk):
//! - At most 10 MB a file, 20 files and 50 MB a consultation: the limits are checked when a file
//!   is listed and again in the statement that stores it.
//! - No connection to Twilio, or a refusal about the account: the pass stops and no file is
//!   charged with it. A file's own failure delays it alone (1, 2, 4 … minutes), then it is given up.
//! - A file is handed only to the consultation's doctor or an administrator; the chat's retention
//!   removes the files with the chat.

use super::booking;
use crate::audit;
use crate::error::Result;
use crate::staff::Staff;
use crate::twilio_setup::Texting;
use chrono::{DateTime, Utc};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::auth::{Permission, Role};
use clinicdesk_core::consultations::attachments::{noted_state, MAX_BYTES, MAX_FILES, MAX_TOTAL_BYTES};
use clinicdesk_core::consultations::{fetch_media, Fetched, KeptMessage, GIVE_UP_AFTER};
use clinicdesk_core::error::CoreError;
use clinicdesk_core::twilio::media;
use deadpool_postgres::Pool;
use tokio_postgres::GenericClient;
use uuid::Uuid;

/// The most files one pass fetches, and about the most bytes (the rest wait for the next pass).
const PER_PASS: i64 = 5;
const BYTES_PER_PASS: usize = MAX_BYTES as usize;

/// Lists the attachments of a kept chat (in the transaction that keeps it). A file already
/// listed keeps its state and content: keeping a chat again loses nothing.
pub(super) async fn note(db: &impl GenericClient, appointment: Uuid, chat: &[KeptMessage]) -> Result<()> {
    for message in chat {
        for m in &message.line.media {
            let Some(sid) = m.sid.as_deref().filter(|sid| media::is_sid(sid, "ME")) else { continue };
            let row = db
                .query_one(
                    "SELECT count(*), coalesce(sum(size), 0)::bigint FROM consultation_attachments
                     WHERE appointment_id = $1 AND state IN ('waiting', 'kept')",
                    &[&appointment],
                )
                .await?;
            let state = noted_state(m.size, row.get(0), row.get(1));
            db.execute(
                "INSERT INTO consultation_attachments (media_sid, appointment_id, message_index, filename, content_type, size, state)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (media_sid) DO NOTHING",
                &[&sid, &appointment, &message.line.index, &m.filename, &m.content_type, &m.size, &state],
            )
            .await?;
        }
    }
    Ok(())
}

/// Lists the files of chats kept before this server kept files (a server updated from an older
/// one): their consultations' doctors' desks already wait for them. Run once at the start of the
/// sender's attachment loop; harmless to repeat. Returns how many consultations were listed.
pub async fn list_kept_before(client: &mut tokio_postgres::Client) -> Result<u64> {
    let rows = client
        .query(
            "SELECT c.appointment_id, c.chat FROM consultations c
             WHERE c.status = 'completed' AND c.chat_removed_at IS NULL AND c.chat::text LIKE '%\"ME%'
               AND NOT EXISTS (SELECT 1 FROM consultation_attachments a WHERE a.appointment_id = c.appointment_id)",
            &[],
        )
        .await?;
    let mut listed = 0;
    for row in rows {
        let appointment: Uuid = row.get(0);
        let Ok(chat) = serde_json::from_value::<Vec<KeptMessage>>(row.get(1)) else { continue };
        let tx = client.transaction().await?;
        note(&tx, appointment, &chat).await?;
        tx.commit().await?;
        listed += 1;
    }
    Ok(listed)
}

/// Fetches waiting attachments from Twilio (the elected sender, once a minute), oldest
/// consultations first. Returns how many files were kept.
pub async fn fetch_waiting(client: &tokio_postgres::Client, texting: &Texting, now: DateTime<Utc>) -> Result<u32> {
    let waiting = client
        .query(
            "SELECT a.media_sid, a.appointment_id, c.chat_service_sid FROM consultation_attachments a
             JOIN consultations c ON c.appointment_id = a.appointment_id
             WHERE a.state = 'waiting' AND (a.fetch_after IS NULL OR a.fetch_after <= $2)
             ORDER BY c.ended_at, a.message_index LIMIT $1",
            &[&PER_PASS, &now],
        )
        .await?;
    let (mut kept, mut bytes_this_pass) = (0, 0);
    for row in waiting {
        if bytes_this_pass >= BYTES_PER_PASS {
            break;
        }
        let (sid, appointment, service): (String, Uuid, Option<String>) = (row.get(0), row.get(1), row.get(2));
        let service = service.or_else(|| texting.account.settings.conversations_service_sid.clone());
        match fetch_media(&texting.http, &texting.account, service.as_deref(), &sid).await {
            Fetched::Bytes(bytes) => {
                bytes_this_pass += bytes.len();
                if keep(client, &sid, appointment, &bytes, now).await? {
                    kept += 1;
                }
            }
            Fetched::TooLarge => settle(client, &sid, "too_large").await?,
            Fetched::Gone => settle(client, &sid, "unavailable").await?,
            Fetched::NoConnection | Fetched::AccountRefused => break,
            Fetched::Failed => later(client, &sid, now).await?,
        }
    }
    Ok(kept)
}

/// Stores the file if the consultation's kept files and bytes allow it (else `over_limit`), in
/// one statement. A file removed meanwhile (retention) stays removed.
async fn keep(db: &impl GenericClient, sid: &str, appointment: Uuid, bytes: &[u8], now: DateTime<Utc>) -> Result<bool> {
    let size = bytes.len() as i64;
    let stored = db
        .execute(
            "UPDATE consultation_attachments SET state = 'kept', content = $2, size = $3, kept_at = $4
             WHERE media_sid = $1 AND state = 'waiting'
               AND (SELECT count(*) FROM consultation_attachments WHERE appointment_id = $5 AND state = 'kept') < $6
               AND (SELECT coalesce(sum(length(content)), 0) FROM consultation_attachments
                    WHERE appointment_id = $5 AND state = 'kept') + $3 <= $7",
            &[&sid, &bytes, &size, &now, &appointment, &MAX_FILES, &MAX_TOTAL_BYTES],
        )
        .await?;
    if stored == 0 {
        settle(db, sid, "over_limit").await?;
    }
    Ok(stored == 1)
}

async fn settle(db: &impl GenericClient, sid: &str, state: &str) -> Result<()> {
    db.execute(
        "UPDATE consultation_attachments SET state = $2 WHERE media_sid = $1 AND state = 'waiting'",
        &[&sid, &state],
    )
    .await?;
    Ok(())
}

/// This file failed: the next try waits 1, 2, 4 ... minutes; given up after a while.
async fn later(db: &impl GenericClient, sid: &str, now: DateTime<Utc>) -> Result<()> {
    let attempts: Option<i32> = db
        .query_opt(
            "UPDATE consultation_attachments SET fetch_attempts = fetch_attempts + 1,
                    fetch_after = $2::timestamptz + interval '1 minute' * power(2, least(fetch_attempts, 9))
             WHERE media_sid = $1 RETURNING fetch_attempts",
            &[&sid, &now],
        )
        .await?
        .map(|r| r.get(0));
    if attempts.is_some_and(|a| i64::from(a) >= GIVE_UP_AFTER) {
        settle(db, sid, "unavailable").await?;
    }
    Ok(())
}

/// An attachment as the server holds it, for a desk: its state and, once kept, its bytes.
pub struct HeldFile {
    /// "waiting", "kept", "too_large", "unavailable" or "over_limit".
    pub state: String,
    pub bytes: Vec<u8>,
}

/// The attachment, for the desk of the consultation's doctor or an administrator (who keep the
/// record). Not audited here: handing the file to a desk is like the feed handing it the chat;
/// the desk audits each time a person opens or saves it (and uploads that trail).
pub async fn file(pool: &Pool, staff: &Staff, appointment: Uuid, media_sid: &str) -> Result<HeldFile> {
    let client = pool.get().await?;
    staff.require(&**client, Permission::ReadConsultationRecords).await?;
    let booking = booking(&**client, appointment, false).await?;
    if staff.role() != Role::Admin && booking.doctor_user != staff.user_id {
        let words = "Chat attachments are part of the clinical record: only the consultation's doctor or an administrator can open them.";
        let id = appointment.to_string();
        audit::record(&**client, Some(staff), AuditAction::AccessRefused, Some(("appointment", &id)), Some(words))
            .await?;
        return Err(CoreError::Forbidden(words.into()).into());
    }
    let row = client
        .query_opt(
            "SELECT state, content FROM consultation_attachments WHERE appointment_id = $1 AND media_sid = $2",
            &[&appointment, &media_sid],
        )
        .await?
        .ok_or_else(|| CoreError::NotFound("This consultation has no such attachment.".into()))?;
    Ok(HeldFile { state: row.get(0), bytes: row.get::<_, Option<Vec<u8>>>(1).unwrap_or_default() })
}
