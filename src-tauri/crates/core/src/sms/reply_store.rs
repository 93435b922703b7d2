//! Replies in the embedded SQLite file: the [`ReplyStore`] a one-desk clinic's sending worker
//! uses, inside its fenced transaction (which holds the file's write lock, so "look, then write"
//! cannot interleave with another writer).

use super::outbox;
use super::reply_actions::{Handled, RemindedVisit, Reply, ReplyStore, REPLY_ACTOR};
use crate::audit::{self, Actor, AuditAction};
use crate::db::{ts, uuid_at};
use crate::error::{CoreError, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

pub(super) struct SqliteReplies<'a> {
    pub tx: &'a Connection,
    pub now: DateTime<Utc>,
}

impl SqliteReplies<'_> {
    /// Patients with `number` whose opt-out is (`opted_out`) or is not recorded, in the order
    /// they were added.
    fn patients_with(&self, number: &str, opted_out: bool) -> Result<Vec<Uuid>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT id FROM patients WHERE phone_e164 = ?1 AND (opted_out_at IS NOT NULL) = ?2 ORDER BY created_at, id",
        )?;
        let rows = stmt.query_map(params![number, opted_out], |r| uuid_at(r, 0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl ReplyStore for SqliteReplies<'_> {
    type Error = CoreError;

    async fn known(&mut self, sid: &str) -> Result<bool> {
        Ok(self
            .tx
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM sms_inbound WHERE sid = ?1)")?
            .query_row([sid], |r| r.get(0))?)
    }

    async fn patient_texted_last(&mut self, number: &str) -> Result<Option<Uuid>> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT p.id FROM patients p WHERE p.phone_e164 = ?1
                 ORDER BY (SELECT max(n.created_at) FROM sms_notifications n WHERE n.patient_id = p.id AND n.to_e164 = ?1) DESC NULLS LAST,
                          p.created_at, p.id
                 LIMIT 1",
            )?
            .query_row([number], |r| uuid_at(r, 0))
            .optional()?)
    }

    async fn last_reminded(&mut self, number: &str, sent_by: DateTime<Utc>) -> Result<Option<RemindedVisit>> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT a.id, a.patient_id, a.status = 'scheduled', a.starts_at
                 FROM sms_notifications n JOIN appointments a ON a.id = n.appointment_id
                 WHERE n.to_e164 = ?1 AND n.kind = 'reminder' AND n.sent_at IS NOT NULL AND n.sent_at <= ?2
                 ORDER BY n.sent_at DESC LIMIT 1",
            )?
            .query_row(params![number, ts(sent_by)], |r| {
                Ok(RemindedVisit {
                    appointment: uuid_at(r, 0)?,
                    patient: uuid_at(r, 1)?,
                    scheduled: r.get(2)?,
                    starts_at: r.get(3)?,
                })
            })
            .optional()?)
    }

    async fn next_scheduled(
        &mut self,
        number: &str,
        after: DateTime<Utc>,
        booked_by: DateTime<Utc>,
    ) -> Result<Option<(Uuid, Uuid)>> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT a.id, a.patient_id FROM appointments a JOIN patients p ON p.id = a.patient_id
                 WHERE p.phone_e164 = ?1 AND a.status = 'scheduled' AND a.starts_at > ?2 AND a.created_at <= ?3
                 ORDER BY a.starts_at, a.id LIMIT 1",
            )?
            .query_row(params![number, ts(after), ts(booked_by)], |r| Ok((uuid_at(r, 0)?, uuid_at(r, 1)?)))
            .optional()?)
    }

    async fn confirm(&mut self, appointment: Uuid) -> Result<bool> {
        let changed = self.tx.execute(
            "UPDATE appointments SET status = 'confirmed', version = version + 1, updated_at = ?2
             WHERE id = ?1 AND status = 'scheduled'",
            params![appointment.to_string(), ts(self.now)],
        )?;
        Ok(changed == 1)
    }

    async fn opt_out(&mut self, number: &str, at: DateTime<Utc>) -> Result<Vec<Uuid>> {
        // Read, then written, under the worker's write lock: exactly the patients changed.
        let newly = self.patients_with(number, false)?;
        outbox::opt_out(self.tx, number, at, self.now)?;
        Ok(newly)
    }

    async fn opt_in(&mut self, number: &str) -> Result<Vec<Uuid>> {
        let were_out = self.patients_with(number, true)?;
        self.tx.execute(
            "UPDATE patients SET opted_out_at = NULL, updated_at = ?2 WHERE phone_e164 = ?1 AND opted_out_at IS NOT NULL",
            params![number, ts(self.now)],
        )?;
        Ok(were_out)
    }

    async fn audit(&mut self, action: AuditAction, record: (&str, Uuid), patient: Uuid, detail: &str) -> Result<()> {
        let entry = audit::record(
            self.tx,
            self.now,
            Actor::Anonymous { label: REPLY_ACTOR, user_id: None },
            action,
            Some((record.0, &record.1.to_string())),
            Some(detail),
        )?;
        audit::link_patients(self.tx, entry, &[patient])
    }

    async fn keep(&mut self, reply: &Reply<'_>, handled: &Handled) -> Result<bool> {
        // The worker's transaction holds the file's write lock: nobody kept it since `known`.
        self.tx
            .prepare_cached(
                "INSERT INTO sms_inbound (sid, from_e164, to_e164, body, received_at, patient_id, appointment_id, handling, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                reply.sid,
                reply.from,
                reply.to,
                reply.body,
                ts(reply.received_at),
                handled.patient.map(|p| p.to_string()),
                handled.appointment.map(|a| a.to_string()),
                handled.handling.as_str(),
                ts(self.now)
            ])?;
        Ok(true)
    }
}
