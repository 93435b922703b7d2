//! How long consultation chats are kept: `consultations.chat_retention_days`, an administrator's
//! setting (not set: kept). Chats (and their kept attachments) of consultations that ended longer ago than that are removed
//! from the database and, through the triggers of migration 0012, from the search index; the
//! notes, who was in the room and the texts stay. Each removal is audited per consultation, and
//! the record says the chat was removed rather than showing none.
//!
//! Run by every outbox pass (it needs no network) and at once when the setting changes.

use super::reminder_link::AUTOMATIC_ACTOR;
use super::Consultations;
use crate::audit::{self, Actor, AuditAction};
use crate::auth::{Caller, Permission};
use crate::db::{ts, uuid_at};
use crate::error::{CoreError, Result};
use crate::Clinic;
use chrono::Duration;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use uuid::Uuid;

pub const KEY_CHAT_RETENTION_DAYS: &str = "consultations.chat_retention_days";
/// A hundred years: beyond it, leave the setting empty (kept).
pub const MAX_RETENTION_DAYS: u32 = 36_500;
/// Consultations cleared per transaction: the write lock is held briefly, the next batch follows.
const BATCH: u32 = 200;

/// The setting: `None` keeps chats.
pub(crate) fn chat_retention_days(conn: &Connection) -> Result<Option<u32>> {
    Ok(conn
        .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
        .query_row([KEY_CHAT_RETENTION_DAYS], |r| r.get::<_, String>(0))
        .optional()?
        .and_then(|v| v.trim().parse().ok()))
}

/// Reads what an administrator typed: a whole number of days, or "" / "kept" to keep chats (a
/// clinic server checks its setting the same way).
pub fn parse_days(value: &str) -> Result<Option<u32>> {
    let value = value.trim();
    if value.is_empty() || value.eq_ignore_ascii_case("kept") || value.eq_ignore_ascii_case("keep") {
        return Ok(None);
    }
    match value.parse::<u32>() {
        Ok(days) if (1..=MAX_RETENTION_DAYS).contains(&days) => Ok(Some(days)),
        _ => Err(CoreError::invalid(
            "chat_retention_days",
            format!(
                "Enter how many days to keep consultation chats (1 to {MAX_RETENTION_DAYS}), or choose to keep them."
            ),
        )),
    }
}

/// Sets the retention (administrators), audited, and applies it at once.
pub(crate) fn set_chat_retention(clinic: &Clinic, caller: &Caller, value: &str) -> Result<u32> {
    caller.require(Permission::ManageSettings)?;
    crate::sync::pending::refuse_on_desk(&*clinic.db().conn()?, crate::sync::pending::ServerKeeps::VideoSettings)?;
    {
        let mut conn = clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut store = crate::settings::store::SqliteSettings { conn: &tx, caller, now: clinic.now() };
        crate::db::at_once(crate::settings::store::change(&mut store, KEY_CHAT_RETENTION_DAYS, value))?;
        tx.commit()?;
    }
    clinic.consultations().remove_expired_chats()
}

impl Consultations<'_> {
    /// Removes the chats the retention setting no longer keeps. Returns how many consultations'
    /// chats were removed.
    pub fn remove_expired_chats(&self) -> Result<u32> {
        let mut removed = 0;
        loop {
            let mut conn = self.clinic.db().conn()?;
            let Some(days) = chat_retention_days(&conn)? else { return Ok(removed) };
            let now = self.clinic.now();
            let cutoff = ts(now - Duration::days(i64::from(days)));
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let expired: Vec<(Uuid, Uuid, i64)> = {
                let mut statement = tx.prepare_cached(
                    "SELECT c.appointment_id, a.patient_id,
                            (SELECT count(*) FROM chat_messages m WHERE m.appointment_id = c.appointment_id)
                     FROM consultations c INDEXED BY consultations_ended JOIN appointments a ON a.id = c.appointment_id
                     WHERE c.ended_at IS NOT NULL AND c.ended_at < ?1 AND c.chat_removed_at IS NULL
                       AND c.record_pending_since IS NULL
                     ORDER BY c.ended_at LIMIT ?2",
                )?;
                let rows =
                    statement.query_map(params![cutoff, BATCH], |r| Ok((uuid_at(r, 0)?, uuid_at(r, 1)?, r.get(2)?)))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            if expired.is_empty() {
                return Ok(removed);
            }
            for (appointment, patient, messages) in &expired {
                let id = appointment.to_string();
                // The delete triggers take each message out of the search index in this transaction.
                tx.prepare_cached("DELETE FROM chat_messages WHERE appointment_id = ?1")?.execute([&id])?;
                let files =
                    tx.prepare_cached("DELETE FROM chat_attachments WHERE appointment_id = ?1")?.execute([&id])?;
                tx.prepare_cached(
                    "UPDATE consultations SET chat_removed_at = ?2, updated_at = ?2 WHERE appointment_id = ?1",
                )?
                .execute(params![id, ts(now)])?;
                audit::record_actor_for_patient(
                    &tx,
                    now,
                    Actor::Anonymous { label: AUTOMATIC_ACTOR, user_id: None },
                    AuditAction::ChatRemoved,
                    ("appointment", &id),
                    *patient,
                    Some(&format!(
                        "patient {patient}; {messages} chat message(s) and {files} attachment(s) removed: chats are kept {days} days ({KEY_CHAT_RETENTION_DAYS})"
                    )),
                )?;
            }
            tx.commit()?;
            removed += expired.len() as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_days_or_kept() {
        assert_eq!(parse_days("").unwrap(), None);
        assert_eq!(parse_days(" kept ").unwrap(), None);
        assert_eq!(parse_days("365").unwrap(), Some(365));
        for bad in ["0", "-3", "1.5", "a year", "36501"] {
            assert!(parse_days(bad).is_err(), "{bad} should be refused");
        }
    }
}
