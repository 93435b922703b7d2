//! A desk's audit trail reaches the clinic server's, exactly once: every entry written here
//! (reads of patient records, sign-ins and the like, whether the server could be reached or not) is
//! sent in order after the last one the server acknowledged; writes sent as commands are audited
//! by the server when it applies them instead. The server keeps an entry once per
//! (this desk's source id, its number), so a part sent again after a lost answer adds nothing; the
//! position is saved only after the server's answer.

use super::link::ServerLink;
use super::migration::source_id;
use super::wire::{AuditUpload, MigratedAuditEntry};
use crate::error::Result;
use rusqlite::{params, OptionalExtension};

const SENT_UP_TO: &str = "audit_sent_up_to";
/// Writes a desk sends as commands: the server audits each when it applies it (naming its maker),
/// so the desk's own entry for it would be the same event twice.
const SENT_AS_COMMANDS: &str = "('appointment.book', 'appointment.reschedule', 'appointment.cancel', 'patient.create', 'patient.update', 'patient.consent')";
/// A doctor's saves of notes go as commands too: the server audits them by the same rule
/// (notes_rule.rs), amendments after the end included — those written after this desk learnt
/// that (desk migration 0020); earlier ones go up as before, so an upgrade loses none.
const NOTES_SAVED: &str = "(action = 'consultation.note' AND (detail LIKE '%; notes saved'
     OR (detail LIKE '%; notes amended after the end (version %)'
         AND id > coalesce((SELECT CAST(value AS INTEGER) FROM sync_state WHERE key = 'amendments_audited_by_server_after'), 0))))";
/// Entries per request: well under the server's request limit.
const PART: i64 = 200;

impl super::DeskSync<'_> {
    /// Sends the entries the server has not acknowledged yet. Returns how many were sent.
    pub async fn send_audit(&self, link: &ServerLink) -> Result<usize> {
        let mut sent = 0;
        loop {
            let (source, entries) = self.audit_part()?;
            let Some(last) = entries.last().map(|e| e.seq) else { return Ok(sent) };
            link.send_audit(&AuditUpload { source, entries }).await?;
            let conn = self.clinic.db().conn()?;
            conn.execute(
                "INSERT INTO sync_state (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![SENT_UP_TO, last.to_string()],
            )?;
            sent += 1;
        }
    }

    fn audit_part(&self) -> Result<(uuid::Uuid, Vec<MigratedAuditEntry>)> {
        let conn = self.clinic.db().conn()?;
        let after: i64 = conn
            .query_row("SELECT value FROM sync_state WHERE key = ?1", [SENT_UP_TO], |r| r.get::<_, String>(0))
            .optional()?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut statement = conn.prepare(&format!(
            "{ENTRY} WHERE id > ?1 AND action NOT IN {SENT_AS_COMMANDS} AND NOT {NOTES_SAVED} ORDER BY id LIMIT ?2"
        ))?;
        let rows = statement.query_map(params![after, PART], entry)?;
        let entries = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((source_id(&conn)?, entries))
    }
}

/// The columns `entry` reads, in its order.
pub(crate) const ENTRY: &str =
    "SELECT id, at, actor_id, actor_label, action, record_type, record_id, detail, patients FROM audit_log";

/// One audit entry as it travels to the server, with the patients a screen showed unpacked.
pub(crate) fn entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<MigratedAuditEntry> {
    let actor: Option<String> = r.get(2)?;
    let packed: Option<Vec<u8>> = r.get(8)?;
    let patients = packed.unwrap_or_default().chunks_exact(16).filter_map(|c| uuid::Uuid::from_slice(c).ok()).collect();
    Ok(MigratedAuditEntry {
        seq: r.get(0)?,
        at: r.get(1)?,
        actor_id: actor.and_then(|a| uuid::Uuid::parse_str(&a).ok()),
        actor_label: r.get(3)?,
        action: r.get(4)?,
        record_type: r.get(5)?,
        record_id: r.get(6)?,
        detail: r.get(7)?,
        patients,
    })
}
