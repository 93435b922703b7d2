//! Records fetched late. A consultation ended while Twilio could not be reached (end.rs) is
//! completed in the clinic database at once, and marked `record_pending_since`. Each outbox pass
//! with a working Twilio account calls [`Consultations::fetch_late_records`], which completes the
//! room, closes the conversation and keeps who was in the room and the chat, exactly as the end
//! would have: nobody needs to do anything when the network returns.
//!
//! Invariants: each step is harmless to repeat (end_steps.rs), and the kept record is replaced whole in
//! one transaction that also clears the mark, so a fetch cut half-way is simply done again by the
//! next pass. One consultation failing does not hold up the others.

use super::end::end_plan;
use super::end_steps::{self, KeptRecord, LateRecord, LateRecordStore};
use super::reminder_link::AUTOMATIC_ACTOR;
use super::store;
use super::Consultations;
use crate::audit::{self, Actor, AuditAction};
use crate::db::{ts, uuid_at};
use crate::error::{CoreError, Result};
use crate::twilio::config::TwilioAccount;
use crate::twilio::TwilioHttp;
use rusqlite::{params, TransactionBehavior};
use uuid::Uuid;

/// The most records one pass fetches (the rest wait for the next pass).
const PER_PASS: u32 = 20;

impl Consultations<'_> {
    /// Fetches what Twilio holds for consultations that ended offline (the core's steps,
    /// end_steps.rs). Returns how many records were completed; stops at the first that cannot
    /// reach Twilio (the network is still down).
    pub async fn fetch_late_records(&self, http: &TwilioHttp, account: &TwilioAccount) -> Result<u32> {
        end_steps::fetch_late_records(&mut DeskLate { consultations: self }, http, account, PER_PASS, self.clinic.now())
            .await
    }
}

/// Records fetched late, kept in the one-desk clinic's SQLite file.
struct DeskLate<'a> {
    consultations: &'a Consultations<'a>,
}

impl LateRecordStore for DeskLate<'_> {
    type Error = CoreError;

    async fn due(&mut self, limit: u32) -> Result<Vec<LateRecord>> {
        let clinic = self.consultations.clinic;
        let conn = clinic.db().conn()?;
        let pending: Vec<(Uuid, Uuid)> = {
            let mut statement = conn.prepare_cached(
                "SELECT c.appointment_id, a.patient_id FROM consultations c JOIN appointments a ON a.id = c.appointment_id
                 WHERE c.record_pending_since IS NOT NULL AND (c.record_fetch_after IS NULL OR c.record_fetch_after <= ?2)
                 ORDER BY c.record_pending_since LIMIT ?1",
            )?;
            let rows =
                statement.query_map(params![limit, ts(clinic.now())], |r| Ok((uuid_at(r, 0)?, uuid_at(r, 1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut due = Vec::with_capacity(pending.len());
        for (appointment, patient) in pending {
            if let Some(record) = store::load(&conn, appointment)? {
                due.push(LateRecord { appointment, patient, plan: end_plan(&record) });
            }
        }
        Ok(due)
    }

    async fn fetch_later(&mut self, appointment: Uuid) -> Result<()> {
        let clinic = self.consultations.clinic;
        let conn = clinic.db().conn()?;
        let attempts: i64 = conn.query_row(
            "UPDATE consultations SET record_fetch_attempts = record_fetch_attempts + 1 WHERE appointment_id = ?1
             RETURNING record_fetch_attempts",
            [appointment.to_string()],
            |r| r.get(0),
        )?;
        let pause = chrono::Duration::minutes(1i64 << attempts.clamp(0, 9)).min(chrono::Duration::hours(6));
        conn.execute(
            "UPDATE consultations SET record_fetch_after = ?2 WHERE appointment_id = ?1",
            params![appointment.to_string(), ts(clinic.now() + pause)],
        )?;
        Ok(())
    }

    async fn keep_late(&mut self, appointment: Uuid, record: &KeptRecord, detail: &str) -> Result<bool> {
        let now = self.consultations.clinic.now();
        let mut conn = self.consultations.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = appointment.to_string();
        // Still pending (a second app window may have fetched it meanwhile).
        let claimed = tx.execute(
            "UPDATE consultations SET record_pending_since = NULL, updated_at = ?2
             WHERE appointment_id = ?1 AND record_pending_since IS NOT NULL",
            params![id, ts(now)],
        )?;
        if claimed == 1 {
            let patient: Uuid =
                tx.query_row("SELECT patient_id FROM appointments WHERE id = ?1", [&id], |r| uuid_at(r, 0))?;
            store::keep(&tx, appointment, &record.people, &record.chat)?;
            store::keep_waiting(&tx, appointment, record.waiting)?;
            audit::record_actor_for_patient(
                &tx,
                now,
                Actor::Anonymous { label: AUTOMATIC_ACTOR, user_id: None },
                AuditAction::ConsultationRecordFetched,
                ("appointment", &id),
                patient,
                Some(detail),
            )?;
        }
        tx.commit()?;
        Ok(claimed == 1)
    }
}
