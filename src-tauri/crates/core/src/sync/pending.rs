//! Changes made on a desk, waiting for the clinic server (migration 0016). A booking, move or
//! cancellation (or a patient's registration or edit) is written to this desk's copy at once, checked against what the desk knows (the
//! friendly double-booking check), marked provisional, and queued as a command with a client id.
//! The queue is sent in order by the person who made each change, online within a moment,
//! offline when the server is back; the server's engine has the last word.
//!
//! Invariants: an answer, the rows it touches and the queue entry change in one transaction, so
//! a desk stopped at any moment re-sends at most an unanswered command, which the server answers
//! from its record of client ids without applying it twice. A refusal undoes only a row still
//! marked with its own change: a newer copy from the server is never replaced by an older one.

use super::apply;
use super::link::ServerLink;
use super::wire::{Change, DeskCommand};
use crate::appointments::Appointment;
use crate::auth::{Caller, Permission};
use crate::db::{ts, uuid_at};
use crate::error::{CoreError, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use ts_rs::TS;
use uuid::Uuid;

/// What reception sees after a change on a desk, until the server has confirmed it.
pub const NOT_YET_CONFIRMED: &str = "Saved on this desk; not yet confirmed by the clinic server.";

/// Said of the later changes to a booking the server did not accept.
const BOOKING_NOT_ACCEPTED: &str =
    "The booking this change was for was not accepted by the clinic server, so this change was not made either.";

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

/// What one round of sending did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub accepted: usize,
    pub refused: usize,
}

/// Whether this computer is a desk of a clinic server (its writes go through the queue).
pub(crate) fn is_desk(conn: &Connection) -> Result<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM settings WHERE key = ?1", [super::KEY_SERVER_URL], |_| Ok(()))
        .optional()?
        .is_some())
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

/// Queues a patient's registration or edit, made by `caller` and already written on this desk.
pub(crate) fn queue_patient(
    tx: &Connection,
    now: DateTime<Utc>,
    caller: &Caller,
    patient_id: Uuid,
    command: &DeskCommand,
    summary: &str,
) -> Result<Uuid> {
    let client_id = Uuid::new_v4();
    let command = serde_json::to_string(command).map_err(|_| CoreError::Storage)?;
    tx.execute(
        "INSERT INTO desk_pending (client_id, entity, entity_id, command, summary, made_by, made_at)
         VALUES (?1, 'patient', ?2, ?3, ?4, ?5, ?6)",
        params![client_id.to_string(), patient_id.to_string(), command, summary, caller.user_id.to_string(), ts(now)],
    )?;
    Ok(client_id)
}

impl super::DeskSync<'_> {
    /// Sends `person`'s queued changes in the order they were made, until the queue is empty or
    /// the server cannot be reached (an error: the rest wait for the next round).
    pub async fn send_pending(&self, link: &ServerLink, person: Uuid) -> Result<Sent> {
        let mut sent = Sent::default();
        while let Some((client_id, command)) = self.next_queued(person)? {
            let outcome = link.command(client_id, &command).await?;
            if self.answered(client_id, &outcome)? {
                sent.accepted += 1;
            } else {
                sent.refused += 1;
            }
        }
        Ok(sent)
    }

    fn next_queued(&self, person: Uuid) -> Result<Option<(Uuid, DeskCommand)>> {
        let conn = self.clinic.db().conn()?;
        let next: Option<(Uuid, String)> = conn
            .query_row(
                "SELECT client_id, command FROM desk_pending WHERE state = 'queued' AND made_by = ?1 ORDER BY seq LIMIT 1",
                [person.to_string()],
                |r| Ok((uuid_at(r, 0)?, r.get(1)?)),
            )
            .optional()?;
        next.map(|(id, json)| {
            serde_json::from_str(&json).map(|command| (id, command)).map_err(|e| {
                tracing::error!(error = %e, client_id = %id, "a queued change could not be read back");
                CoreError::Storage
            })
        })
        .transpose()
    }

    /// Records the server's answer to one queued change. Returns whether it was accepted.
    fn answered(&self, client_id: Uuid, outcome: &serde_json::Value) -> Result<bool> {
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some((entity, entity_id, before)) = tx
            .query_row(
                "SELECT entity, entity_id, before FROM desk_pending WHERE client_id = ?1 AND state = 'queued'",
                [client_id.to_string()],
                |r| Ok((r.get::<_, String>(0)?, uuid_at(r, 1)?, r.get::<_, Option<String>>(2)?)),
            )
            .optional()?
        else {
            return Ok(true); // answered already (another round got there first)
        };
        // The server's rows and the undone ones may look like overlaps here for a moment (see 0015).
        tx.execute("INSERT INTO sync_state (key, value) VALUES ('applying', '1')", [])?;
        let accepted = match outcome.get("ok") {
            Some(row) if row.is_object() => {
                let change =
                    Change { cursor: String::new(), entity: entity.clone(), entity_id, row: Some(row.clone()) };
                apply::apply(&tx, &change, now)?;
                tx.execute("DELETE FROM desk_pending WHERE client_id = ?1", [client_id.to_string()])?;
                true
            }
            _ => {
                let refusal = outcome["refused"]["message"]
                    .as_str()
                    .unwrap_or("The clinic server did not accept this change.")
                    .to_string();
                refuse(&tx, client_id, &refusal, now)?;
                if entity == "appointment" {
                    undo(&tx, client_id, entity_id, before.as_deref(), now)?;
                }
                tracing::info!(%client_id, "the clinic server refused a change made on this desk");
                false
            }
        };
        tx.execute("DELETE FROM sync_state WHERE key = 'applying'", [])?;
        tx.commit()?;
        Ok(accepted)
    }

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
        caller.require(Permission::WriteSchedule)?;
        let conn = self.clinic.db().conn()?;
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
             FROM desk_pending p LEFT JOIN users u ON u.id = p.made_by WHERE p.state = ?1 ORDER BY p.seq",
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

fn refuse(tx: &Connection, client_id: Uuid, refusal: &str, now: DateTime<Utc>) -> Result<()> {
    tx.execute(
        "UPDATE desk_pending SET state = 'refused', refusal = ?2, answered_at = ?3 WHERE client_id = ?1",
        params![client_id.to_string(), refusal, ts(now)],
    )?;
    Ok(())
}

/// Puts the appointment back as it was before the refused change, if the row is still that
/// change's provisional copy. A refused booking is removed, and later changes to it are refused too.
fn undo(
    tx: &Connection,
    client_id: Uuid,
    appointment_id: Uuid,
    before: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    let (id, marker) = (appointment_id.to_string(), client_id.to_string());
    let Some(before) = before else {
        let later: Vec<String> = tx
            .prepare("SELECT client_id FROM desk_pending WHERE entity_id = ?1 AND state = 'queued'")?
            .query_map([&id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for later in later {
            refuse(tx, Uuid::parse_str(&later).map_err(|_| CoreError::Storage)?, BOOKING_NOT_ACCEPTED, now)?;
        }
        // Only a booking the server never held: any row from the server cleared the marker.
        tx.execute("DELETE FROM appointments WHERE id = ?1 AND provisional IS NOT NULL", [&id])?;
        return Ok(());
    };
    let row: serde_json::Value = serde_json::from_str(before).map_err(|_| CoreError::Storage)?;
    let field = |name: &str| row[name].as_str().map(str::to_owned);
    let starts_at: Option<DateTime<Utc>> = serde_json::from_value(row["starts_at"].clone()).ok();
    let ends_at: Option<DateTime<Utc>> = serde_json::from_value(row["ends_at"].clone()).ok();
    let (Some(starts_at), Some(ends_at), Some(status)) = (starts_at, ends_at, field("status")) else {
        tracing::error!(%client_id, "a queued change's earlier copy could not be read back");
        return Err(CoreError::Storage);
    };
    tx.execute(
        "UPDATE appointments SET starts_at = ?3, ends_at = ?4, status = ?5, cancel_reason = ?6, version = ?7,
                provisional = ?8, updated_at = ?9
         WHERE id = ?1 AND provisional = ?2",
        params![
            id,
            marker,
            ts(starts_at),
            ts(ends_at),
            status,
            field("cancel_reason"),
            row["version"].as_i64(),
            field("provisional"),
            ts(now)
        ],
    )?;
    Ok(())
}
