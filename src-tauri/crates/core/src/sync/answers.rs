//! Sending a desk's queued changes (pending.rs) to the clinic server and applying its answers.
//!
//! Invariants:
//! - An answer, the rows it touches and the queue entry change in one transaction, so a desk
//!   stopped at any moment re-sends at most an unanswered command, which the server answers from
//!   its record of client ids without applying it twice.
//! - A change goes only with the session of the person who made it (`ServerLink::command_for`),
//!   in the order changes were made; one person's change that builds on another person's
//!   still-queued change (the same record, or a booking for a patient registered offline) waits
//!   until that one has gone.
//! - When the server refuses a change, every later queued change made on top of it (its `before`
//!   carries the refused change's mark, directly or through another) is refused with it: sent
//!   alone it could overwrite another desk's change that the server counted as the version it
//!   expected. A later change made on the server's copy stands on its own.
//! - A refusal puts the row back only while it still carries the mark of a change in that chain
//!   (then every change since the first refused one is in the chain, so its `before` is right):
//!   a copy from the server is never replaced by an older one.

use super::apply;
use super::link::ServerLink;
use super::wire::{Change, DeskCommand};
use crate::db::{ts, uuid_at};
use crate::error::{CoreError, ErrorCode, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use uuid::Uuid;

/// What one round of sending did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub accepted: usize,
    /// Refused by the server, with the later changes refused for their sake.
    pub refused: usize,
}

/// Said of the later changes to a record whose registration or booking the server refused.
const FIRST_NOT_ACCEPTED: &str =
    "The booking or registration this change was for was not accepted by the clinic server, so this change was not made either.";
/// Said of the later changes to a record after an earlier change to it was refused.
const EARLIER_NOT_ACCEPTED: &str =
    "An earlier change to the same record made on this desk was not accepted by the clinic server, so this later one was not made either. Look at the record again and repeat it if it is still needed.";

enum Answered {
    Accepted,
    /// The change and the later ones refused with it.
    Refused(usize),
}

struct Queued {
    client_id: Uuid,
    command: DeskCommand,
}

impl super::DeskSync<'_> {
    /// Sends `person`'s queued changes in the order they were made, until none is left that can
    /// go now, or the server cannot be reached (an error: the rest wait for the next round).
    pub async fn send_pending(&self, link: &ServerLink, person: Uuid) -> Result<Sent> {
        let mut sent = self.refuse_orphans()?;
        loop {
            self.drop_superseded_notes(person)?;
            let Some(next) = self.next_queued(person)? else { break };
            let command = self.as_sent(next.client_id, next.command)?;
            let outcome = match link.command_for(person, next.client_id, &command).await {
                Ok(outcome) => outcome,
                // The server's own words about this command (it cannot be read, or names what
                // no longer exists): an answer for this change, not a reason to hold the queue.
                Err(CoreError::Server {
                    code: code @ (ErrorCode::Invalid | ErrorCode::NotFound | ErrorCode::Conflict),
                    message,
                }) => serde_json::json!({ "refused": { "code": code.as_str(), "message": message } }),
                Err(other) => return Err(other),
            };
            match self.answered(next.client_id, &outcome)? {
                Answered::Accepted => sent.accepted += 1,
                Answered::Refused(changes) => sent.refused += changes,
            }
        }
        Ok(sent)
    }

    /// A doctor's notes go with the server's version this desk last knew (answers to its own
    /// earlier saves included): a save made on an older copy than the server's (the doctor wrote
    /// on another computer meanwhile) is then known to the server, which sets the text it replaces
    /// aside instead of losing it.
    fn as_sent(&self, client_id: Uuid, command: DeskCommand) -> Result<DeskCommand> {
        match command {
            DeskCommand::WriteNotes { appointment_id, notes, made_at, .. } => {
                let conn = self.clinic.db().conn()?;
                let expected_version: i64 = conn
                    .query_row(
                        "SELECT coalesce(notes_version, 0) FROM consultations WHERE appointment_id = ?1",
                        [appointment_id.to_string()],
                        |r| r.get(0),
                    )
                    .optional()?
                    .unwrap_or(0);
                // Saves queued before saves carried their time: when the change was queued.
                let made_at = match made_at {
                    Some(at) => Some(at),
                    None => conn
                        .query_row(
                            "SELECT made_at FROM desk_pending WHERE client_id = ?1",
                            [client_id.to_string()],
                            |r| r.get(0),
                        )
                        .optional()?,
                };
                Ok(DeskCommand::WriteNotes { appointment_id, notes, expected_version, made_at })
            }
            other => Ok(other),
        }
    }

    /// Each save of a doctor's notes carries the whole text: of `person`'s saves of the same notes
    /// still queued, only the latest needs to go — until the consultation has ended. After it,
    /// each sitting of changes is a version of the notes' history (notes_rule.rs), so the last
    /// save of each sitting goes (a save followed by another within the sitting's minutes is the
    /// only one dropped), each with when it was typed. Run before picking the next change to
    /// send, so a save already on its way is never dropped (a save made meanwhile goes after it).
    fn drop_superseded_notes(&self, person: Uuid) -> Result<()> {
        let conn = self.clinic.db().conn()?;
        conn.execute(
            "DELETE FROM desk_pending
             WHERE state = 'queued' AND entity = 'consultation_notes' AND made_by = ?1 AND EXISTS (
                   SELECT 1 FROM desk_pending n WHERE n.state = 'queued' AND n.entity = 'consultation_notes'
                     AND n.entity_id = desk_pending.entity_id AND n.made_by = ?1 AND n.seq > desk_pending.seq
                     AND (julianday(n.made_at) < julianday(desk_pending.made_at) + ?2 / 1440.0
                          OR NOT EXISTS (SELECT 1 FROM consultations c
                                         WHERE c.appointment_id = desk_pending.entity_id AND c.status = 'completed')))",
            rusqlite::params![person.to_string(), crate::consultations::notes_rule::SITTING_MINUTES],
        )?;
        Ok(())
    }

    /// `person`'s first queued change that does not wait for another person's: one that builds
    /// on another person's queued change (the same record, or a booking for a patient they
    /// registered offline) is skipped until that one has gone; their unrelated changes go on.
    fn next_queued(&self, person: Uuid) -> Result<Option<Queued>> {
        let conn = self.clinic.db().conn()?;
        let next: Option<(Uuid, String)> = conn
            .query_row(
                "SELECT p.client_id, p.command FROM desk_pending p
                 WHERE p.state = 'queued' AND p.made_by = ?1 AND NOT EXISTS (
                        SELECT 1 FROM desk_pending o
                        WHERE o.state = 'queued' AND o.seq < p.seq AND o.made_by <> p.made_by
                          -- A change to an appointment never waits for a doctor's notes about it
                          -- (notes wait for the booking they are about).
                          AND NOT (o.entity = 'consultation_notes' AND p.entity <> 'consultation_notes')
                          AND (o.entity_id = p.entity_id OR o.entity_id = json_extract(p.command, '$.booking.patient_id')))
                 ORDER BY p.seq LIMIT 1",
                [person.to_string()],
                |r| Ok((uuid_at(r, 0)?, r.get(1)?)),
            )
            .optional()?;
        next.map(|(client_id, json)| {
            serde_json::from_str(&json).map(|command| Queued { client_id, command }).map_err(|e| {
                tracing::error!(error = %e, %client_id, "a queued change could not be read back");
                CoreError::Storage
            })
        })
        .transpose()
    }

    /// Changes whose maker's account was closed (the server's feed said so) can never be sent as
    /// them: refused here, undone like any refusal, and listed for reception to redo.
    fn refuse_orphans(&self) -> Result<Sent> {
        let orphans: Vec<(Uuid, String)> = {
            let conn = self.clinic.db().conn()?;
            let mut statement = conn.prepare(
                "SELECT p.client_id, u.full_name FROM desk_pending p JOIN users u ON u.id = p.made_by
                 WHERE p.state = 'queued' AND u.active = 0 ORDER BY p.seq",
            )?;
            let rows = statement.query_map([], |r| Ok((uuid_at(r, 0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut sent = Sent::default();
        for (client_id, name) in orphans {
            let message = format!(
                "{name}'s account was closed before this change reached the clinic server, so it was not made. Redo it if it is still needed."
            );
            if let Answered::Refused(changes) =
                self.answered(client_id, &serde_json::json!({ "refused": { "message": message } }))?
            {
                sent.refused += changes;
            }
        }
        Ok(sent)
    }

    /// Records the server's answer to one queued change.
    fn answered(&self, client_id: Uuid, outcome: &serde_json::Value) -> Result<Answered> {
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some((seq, entity, entity_id, before)) = tx
            .query_row(
                "SELECT seq, entity, entity_id, before FROM desk_pending WHERE client_id = ?1 AND state = 'queued'",
                [client_id.to_string()],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, uuid_at(r, 2)?, r.get::<_, Option<String>>(3)?)),
            )
            .optional()?
        else {
            return Ok(Answered::Accepted); // answered already (another round got there first)
        };
        // The later changes to the same record, still queued, in order, with the mark of the
        // change each was made on top of (none: made on the server's copy).
        let later: Vec<(String, Option<String>)> = tx
            .prepare(
                "SELECT client_id, json_extract(before, '$.provisional') FROM desk_pending
                 WHERE entity_id = ?1 AND state = 'queued' AND seq > ?2 ORDER BY seq",
            )?
            .query_map(params![entity_id.to_string(), seq], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let id = client_id.to_string();
        // The server's rows and the undone ones may look like overlaps here for a moment (see 0015).
        tx.execute("INSERT INTO sync_state (key, value) VALUES ('applying', '1')", [])?;
        let answer = match outcome.get("ok") {
            Some(row) if row.is_object() && entity == "consultation_notes" => {
                // The desk holds the text it sent (and perhaps newer saves): only the version the
                // server gave it is new, the base of this desk's next save.
                tx.execute("DELETE FROM desk_pending WHERE client_id = ?1", [&id])?;
                tx.execute(
                    "UPDATE consultations SET notes_version = max(coalesce(notes_version, 0), ?2) WHERE appointment_id = ?1",
                    params![entity_id.to_string(), row["version"].as_i64().unwrap_or(0)],
                )?;
                Answered::Accepted
            }
            Some(row) if row.is_object() => {
                // The server's row replaces this change's own provisional copy (or a server copy,
                // by version); a copy showing another change still queued waits for that one's answer.
                if matches!(mark(&tx, &entity, entity_id)?, Some(m) if m != id) {
                    tracing::debug!(%client_id, "a later change is shown; its answer brings the server's row");
                } else {
                    let change =
                        Change { cursor: String::new(), entity: entity.clone(), entity_id, row: Some(row.clone()) };
                    apply::apply(&tx, &change, now)?;
                }
                tx.execute("DELETE FROM desk_pending WHERE client_id = ?1", [&id])?;
                Answered::Accepted
            }
            _ => {
                let refusal = outcome["refused"]["message"]
                    .as_str()
                    .unwrap_or("The clinic server did not accept this change.")
                    .to_string();
                // This change and every later one made on top of it (directly or through another):
                // they cannot stand without it. A later change made on the server's copy stands.
                let mut chain = vec![id.clone()];
                for (later_id, made_on) in later {
                    if made_on.is_some_and(|m| chain.contains(&m)) {
                        chain.push(later_id);
                    }
                }
                refuse(&tx, &id, &refusal, now)?;
                let why = if before.is_none() { FIRST_NOT_ACCEPTED } else { EARLIER_NOT_ACCEPTED };
                for dependent in &chain[1..] {
                    refuse(&tx, dependent, why, now)?;
                }
                let refused = chain.len();
                let chain = serde_json::json!(chain);
                match entity.as_str() {
                    "appointment" => undo_appointment(&tx, &chain, entity_id, before.as_deref(), now)?,
                    "patient" => undo_patient(&tx, &chain, entity_id, before.as_deref())?,
                    _ => {}
                }
                tracing::info!(%client_id, refused, "the clinic server refused a change made on this desk");
                Answered::Refused(refused)
            }
        };
        tx.execute("DELETE FROM sync_state WHERE key = 'applying'", [])?;
        tx.commit()?;
        Ok(answer)
    }
}

/// The pending change whose copy of the record this desk shows, if any.
fn mark(tx: &Connection, entity: &str, id: Uuid) -> Result<Option<String>> {
    let table = match entity {
        "appointment" => "appointments",
        "patient" => "patients",
        _ => return Ok(None),
    };
    Ok(tx
        .query_row(&format!("SELECT provisional FROM {table} WHERE id = ?1"), [id.to_string()], |r| r.get(0))
        .optional()?
        .flatten())
}

fn refuse(tx: &Connection, client_id: &str, refusal: &str, now: DateTime<Utc>) -> Result<()> {
    tx.execute(
        "UPDATE desk_pending SET state = 'refused', refusal = ?2, answered_at = ?3 WHERE client_id = ?1",
        params![client_id, refusal, ts(now)],
    )?;
    Ok(())
}

fn read_before(before: &str) -> Result<serde_json::Value> {
    serde_json::from_str(before).map_err(|_| {
        tracing::error!("a queued change's earlier copy could not be read back");
        CoreError::Storage
    })
}

/// Puts the appointment back as it was before the first refused change of `chain` (a JSON
/// array of client ids), if the row is still one of theirs. A refused booking is removed.
fn undo_appointment(
    tx: &Connection,
    chain: &serde_json::Value,
    appointment_id: Uuid,
    before: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    let (id, chain) = (appointment_id.to_string(), chain.to_string());
    let Some(before) = before else {
        // Only a booking the server never held: any row from the server cleared the mark.
        tx.execute(
            "DELETE FROM appointments WHERE id = ?1 AND provisional IN (SELECT value FROM json_each(?2))",
            params![id, chain],
        )?;
        return Ok(());
    };
    let row = read_before(before)?;
    let field = |name: &str| row[name].as_str().map(str::to_owned);
    let starts_at: Option<DateTime<Utc>> = serde_json::from_value(row["starts_at"].clone()).ok();
    let ends_at: Option<DateTime<Utc>> = serde_json::from_value(row["ends_at"].clone()).ok();
    let (Some(starts_at), Some(ends_at), Some(status)) = (starts_at, ends_at, field("status")) else {
        tracing::error!(%appointment_id, "a queued change's earlier copy is missing its times");
        return Err(CoreError::Storage);
    };
    // Back to the copy the first refused change was made on: still marked as another queued
    // change's, if it was one (an answered one's mark goes: the server's row replaces it).
    tx.execute(
        "UPDATE appointments SET starts_at = ?3, ends_at = ?4, status = ?5, cancel_reason = ?6, version = ?7,
                provisional = (SELECT client_id FROM desk_pending WHERE client_id = ?8 AND state = 'queued'),
                updated_at = ?9
         WHERE id = ?1 AND provisional IN (SELECT value FROM json_each(?2))",
        params![
            id,
            chain,
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

/// Puts the patient back as they were before the first refused edit of `chain`, if the row is
/// still one of theirs. A refused registration stays on this desk, listed for reception (the
/// desk keeps what they typed); bookings made for the patient go on to the server, which refuses
/// them for want of the patient, and are listed too.
fn undo_patient(tx: &Connection, chain: &serde_json::Value, patient_id: Uuid, before: Option<&str>) -> Result<()> {
    let Some(before) = before else { return Ok(()) };
    let row = read_before(before)?;
    tx.execute(
        "UPDATE patients SET full_name = json_extract(?3, '$.full_name'), phone_e164 = json_extract(?3, '$.phone_e164'),
                date_of_birth = json_extract(?3, '$.date_of_birth'), sms_consent = json_extract(?3, '$.sms_consent'),
                sms_consent_at = json_extract(?3, '$.sms_consent_at'), sms_consent_by = json_extract(?3, '$.sms_consent_by'),
                version = json_extract(?3, '$.version'),
                provisional = (SELECT client_id FROM desk_pending WHERE client_id = json_extract(?3, '$.provisional') AND state = 'queued')
         WHERE id = ?1 AND provisional IN (SELECT value FROM json_each(?2))",
        params![patient_id.to_string(), chain.to_string(), row.to_string()],
    )?;
    Ok(())
}
