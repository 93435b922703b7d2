//! Records fetched late. A consultation ended while Twilio could not be reached (end.rs) is
//! completed in the clinic database at once, and marked `record_pending_since`. Each outbox pass
//! with a working Twilio account calls [`Consultations::fetch_late_records`], which completes the
//! room, closes the conversation and keeps who was in the room and the chat, exactly as the end
//! would have: nobody needs to do anything when the network returns.
//!
//! Invariants: each step is harmless to repeat (end.rs), and the kept record is replaced whole in
//! one transaction that also clears the mark, so a fetch cut half-way is simply done again by the
//! next pass. One consultation failing does not hold up the others.

use super::end::fetch;
use super::reminder_link::AUTOMATIC_ACTOR;
use super::store;
use super::Consultations;
use crate::audit::{self, Actor, AuditAction};
use crate::db::{ts, uuid_at};
use crate::error::Result;
use crate::twilio::config::TwilioAccount;
use crate::twilio::TwilioHttp;
use rusqlite::{params, TransactionBehavior};
use uuid::Uuid;

/// The most records one pass fetches (the rest wait for the next pass).
const PER_PASS: u32 = 20;

impl Consultations<'_> {
    /// Fetches what Twilio holds for consultations that ended offline. Returns how many records
    /// were completed; stops at the first that cannot reach Twilio (the network is still down).
    pub async fn fetch_late_records(&self, http: &TwilioHttp, account: &TwilioAccount) -> Result<u32> {
        let pending: Vec<(Uuid, Uuid)> = {
            let conn = self.clinic.db().conn()?;
            let mut statement = conn.prepare_cached(
                "SELECT c.appointment_id, a.patient_id FROM consultations c JOIN appointments a ON a.id = c.appointment_id
                 WHERE c.record_pending_since IS NOT NULL AND (c.record_fetch_after IS NULL OR c.record_fetch_after <= ?2)
                 ORDER BY c.record_pending_since LIMIT ?1",
            )?;
            let now = ts(self.clinic.now());
            let rows = statement.query_map(params![PER_PASS, now], |r| Ok((uuid_at(r, 0)?, uuid_at(r, 1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut done = 0;
        for (appointment, patient) in pending {
            let Some(record) = store::load(&*self.clinic.db().conn()?, appointment)? else { continue };
            let found = match fetch(http, account, &record).await {
                Ok(found) => found,
                Err(err @ crate::twilio::TwilioError::NoAnswer { .. }) => {
                    tracing::info!(code = ?err.code(), "Twilio still unreachable; late consultation records wait");
                    break;
                }
                Err(err) => {
                    tracing::warn!(code = ?err.code(), "could not fetch a consultation's record late; trying again later");
                    self.fetch_later(appointment)?;
                    continue;
                }
            };
            let now = self.clinic.now();
            let (people, chat) = found.kept(&record, now);
            let mut conn = self.clinic.db().conn()?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let id = appointment.to_string();
            // Still pending (a second app window may have fetched it meanwhile).
            let claimed = tx.execute(
                "UPDATE consultations SET record_pending_since = NULL, updated_at = ?2
                 WHERE appointment_id = ?1 AND record_pending_since IS NOT NULL",
                params![id, ts(now)],
            )?;
            if claimed == 1 {
                store::keep(&tx, appointment, &people, &chat)?;
                store::keep_waiting(&tx, appointment, found.waiting)?;
                audit::record_actor_for_patient(
                    &tx,
                    now,
                    Actor::Anonymous { label: AUTOMATIC_ACTOR, user_id: None },
                    AuditAction::ConsultationRecordFetched,
                    ("appointment", &id),
                    patient,
                    Some(&format!(
                        "patient {patient}; fetched after an offline end: {} participant connection(s), {} chat message(s) kept",
                        people.len(),
                        chat.len()
                    )),
                )?;
                done += 1;
            }
            tx.commit()?;
        }
        Ok(done)
    }

    /// Twilio refused this record's fetch: the next try waits 1, 2, 4 ... minutes, at most six hours.
    fn fetch_later(&self, appointment: Uuid) -> Result<()> {
        let conn = self.clinic.db().conn()?;
        let attempts: i64 = conn.query_row(
            "UPDATE consultations SET record_fetch_attempts = record_fetch_attempts + 1 WHERE appointment_id = ?1
             RETURNING record_fetch_attempts",
            [appointment.to_string()],
            |r| r.get(0),
        )?;
        let pause = chrono::Duration::minutes(1i64 << attempts.clamp(0, 9)).min(chrono::Duration::hours(6));
        conn.execute(
            "UPDATE consultations SET record_fetch_after = ?2 WHERE appointment_id = ?1",
            params![appointment.to_string(), ts(self.clinic.now() + pause)],
        )?;
        Ok(())
    }
}
