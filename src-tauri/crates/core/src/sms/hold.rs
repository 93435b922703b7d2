//! Sending paused while the clinic's Twilio setup is broken.
//!
//! Refused credentials (20003), an inactive account, a sender the account cannot use, or a secret
//! missing from the keyring are problems of the setup, not of any one text: failing the texts would
//! lose them, and sending the rest would only be refused too. So the worker pauses: the texts stay
//! queued, the reason is kept here for the top-bar indicator and `twilio check`, and the worker
//! checks the setup again every so often, resuming by itself once the check passes.

use crate::db::ts;
use crate::error::Result;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use ts_rs::TS;

/// Why sending is paused, for staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SendingPaused {
    /// Twilio's error code, when Twilio gave one.
    pub code: Option<u32>,
    /// What is wrong and what to do, in words.
    pub reason: String,
    pub since: DateTime<Utc>,
}

pub(crate) fn current(conn: &Connection) -> Result<Option<SendingPaused>> {
    Ok(conn
        .query_row("SELECT code, reason, since FROM outbox_hold WHERE id = 1", [], |r| {
            Ok(SendingPaused { code: r.get(0)?, reason: r.get(1)?, since: r.get(2)? })
        })
        .optional()?)
}

/// True when sending is paused and it is not yet time to check the setup again.
pub(crate) fn waiting(conn: &Connection, now: DateTime<Utc>) -> Result<bool> {
    let next: Option<String> =
        conn.query_row("SELECT next_check_at FROM outbox_hold WHERE id = 1", [], |r| r.get(0)).optional()?;
    Ok(next.is_some_and(|next| next > ts(now)))
}

/// When a paused worker checks the setup again, if sending is paused.
pub(crate) fn next_check(conn: &Connection) -> Result<Option<DateTime<Utc>>> {
    Ok(conn.query_row("SELECT next_check_at FROM outbox_hold WHERE id = 1", [], |r| r.get(0)).optional()?)
}

/// Pauses sending (or keeps it paused with the newest reason; `since` stays the first time).
pub(crate) fn pause(
    conn: &Connection,
    now: DateTime<Utc>,
    code: Option<u32>,
    reason: &str,
    check_again_at: DateTime<Utc>,
) -> Result<()> {
    let before = current(conn)?;
    conn.execute(
        "INSERT INTO outbox_hold (id, code, reason, since, next_check_at) VALUES (1, ?1, ?2, ?3, ?4)
         ON CONFLICT(id) DO UPDATE SET code = excluded.code, reason = excluded.reason, next_check_at = excluded.next_check_at",
        params![code, reason, ts(now), ts(check_again_at)],
    )?;
    // Logged once per reason, not at every re-check.
    if before.is_none_or(|b| b.reason != reason) {
        tracing::warn!(code = ?code, "sending texts is paused until the Twilio setup works again");
    }
    Ok(())
}

pub(crate) fn resume(conn: &Connection) -> Result<()> {
    if conn.execute("DELETE FROM outbox_hold WHERE id = 1", [])? > 0 {
        tracing::info!("the Twilio setup works again; sending texts resumes");
    }
    Ok(())
}

/// Asks the worker to check the setup at its next pass (after an administrator changed it).
pub(crate) fn check_soon(conn: &Connection, now: DateTime<Utc>) -> Result<()> {
    conn.execute("UPDATE outbox_hold SET next_check_at = ?1 WHERE id = 1", [ts(now)])?;
    Ok(())
}
