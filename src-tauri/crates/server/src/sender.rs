//! Exactly one SMS sending worker per clinic, however many server processes run.
//!
//! - **Election.** A process becomes the sender by taking a session-level advisory lock on a
//!   connection of its own. PostgreSQL releases it when that session ends (the process died, the
//!   network dropped), so another process can take over without anyone deciding a timeout.
//! - **Generation.** Taking the lock bumps `sender_lease.generation`. Every claim and every result
//!   names the generation it was made under, and is written only while that generation still holds
//!   the lease (the lease row is read FOR SHARE in the same transaction, so a takeover waits for an
//!   in-flight write and every later write of the old holder is refused). A previous holder that
//!   lost its session mid-send can therefore never overwrite what the new holder decided.
//! - **Claims.** Due rows are claimed with `FOR UPDATE SKIP LOCKED`; a row claimed by an earlier
//!   generation and left in `sending` is the new holder's to reconcile (ask Twilio what happened
//!   since `attempt_started_at`) before anything is sent again, as on a desk.

use crate::db;
use crate::error::Result;
use chrono::{DateTime, Utc};
use tokio_postgres::Client;
use uuid::Uuid;

/// Arbitrary, fixed: the advisory lock key that makes a process the sender ("CDSENDER").
pub const SENDER_LOCK: i64 = 0x4344_5345_4e44_4552;

/// This process's turn as the sender, while its session holds the lock.
pub struct SenderLease {
    session: Client,
    generation: i64,
}

/// A text claimed for sending under a generation.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: Uuid,
    pub to_phone: String,
    pub body: String,
    pub attempts: i32,
    /// Claimed before by a generation that lost the lease, or an earlier attempt's outcome is
    /// unknown: reconcile with Twilio before sending again.
    pub was_in_flight: bool,
    /// When the attempt that may have reached Twilio began (where a reconcile looks from).
    pub attempt_started_at: Option<DateTime<Utc>>,
    /// The appointment the text is about begins then (`None`: not about an appointment).
    pub about_starts_at: Option<DateTime<Utc>>,
    /// When its news matters: a move's old time if that came first (`None`: the start).
    pub news_before: Option<DateTime<Utc>>,
    /// Confirmation, reminder, ... (`TextKind`'s names).
    pub kind: String,
}

/// What became of a send, written only if the lease is still ours.
#[derive(Debug, Clone)]
pub enum Outcome {
    Sent {
        sid: String,
    },
    Failed {
        code: Option<i32>,
        message: String,
    },
    /// Try again at `at`; `reconcile` when Twilio may have taken this attempt.
    Retry {
        at: DateTime<Utc>,
        reconcile: bool,
        message: String,
    },
    /// Not sent, and never will be (the appointment began first).
    Skipped {
        message: String,
    },
    /// Not tried (quiet hours): goes at `at`. The try is given back, and a text that was to be
    /// looked for at Twilio was looked for and is not there.
    Wait {
        at: DateTime<Utc>,
        message: String,
    },
}

impl SenderLease {
    /// Tries to become the sender. `None` when another process holds the lease.
    pub async fn try_acquire(url: &str, holder: &str) -> Result<Option<SenderLease>> {
        let session = db::connect(url, true).await?;
        let got: bool = session.query_one("SELECT pg_try_advisory_lock($1)", &[&SENDER_LOCK]).await?.get(0);
        if !got {
            return Ok(None);
        }
        let generation: i64 = session
            .query_one(
                "UPDATE sender_lease SET generation = generation + 1, holder = $1, since = now() WHERE id = 1 RETURNING generation",
                &[&holder],
            )
            .await?
            .get(0);
        tracing::info!(generation, holder, "this server is now the clinic's text sender");
        Ok(Some(SenderLease { session, generation }))
    }

    pub fn generation(&self) -> i64 {
        self.generation
    }

    /// Still the sender? False once the session is gone (the lock went with it).
    pub async fn still_held(&self) -> bool {
        if self.session.is_closed() {
            return false;
        }
        matches!(
            self.session
                .query_one("SELECT generation FROM sender_lease WHERE id = 1", &[])
                .await
                .map(|r| r.get::<_, i64>(0)),
            Ok(g) if g == self.generation
        )
    }

    /// Claims up to `limit` due texts: pending ones whose time has come, and ones an earlier
    /// generation left in `sending` (to reconcile).
    pub async fn claim(&mut self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Claimed>> {
        let generation = self.generation;
        let tx = self.session.transaction().await?;
        if !lease_is(&tx, generation).await? {
            return Ok(Vec::new());
        }
        // A text planned a day ahead is checked against the patient as they are now: withdrawn
        // consent, a STOP reply or a corrected number since it was queued means it does not go.
        tx.execute(
            "UPDATE sms_notifications s
             SET state = 'skipped', updated_at = $1, error_message = CASE
                   WHEN p.opted_out_at IS NOT NULL THEN 'Not sent: the patient replied STOP to the clinic''s texts.'
                   WHEN NOT p.sms_consent THEN 'Not sent: the patient no longer agrees to texts.'
                   ELSE 'Not sent: the patient''s number changed after this text was queued.' END
             FROM patients p
             WHERE s.patient_id = p.id AND s.state = 'pending' AND NOT s.needs_reconcile AND s.next_attempt_at <= $1
               AND (p.opted_out_at IS NOT NULL OR NOT p.sms_consent OR p.phone IS DISTINCT FROM s.to_phone)",
            &[&now],
        )
        .await?;
        let rows = tx
            .query(
                "WITH due AS (
                   SELECT id, state = 'sending' AS taken_over, state = 'sending' OR needs_reconcile AS in_flight
                   FROM sms_notifications
                   WHERE (state = 'pending' AND next_attempt_at <= $1)
                      OR (state = 'sending' AND claimed_generation < $2)
                   ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
                 UPDATE sms_notifications s
                 SET state = 'sending', claimed_generation = $2,
                     attempts = s.attempts + CASE WHEN due.taken_over THEN 0 ELSE 1 END,
                     attempt_started_at = CASE WHEN due.in_flight THEN s.attempt_started_at ELSE $1 END,
                     updated_at = $1
                 FROM due WHERE s.id = due.id
                 RETURNING s.id, s.to_phone, s.body, s.attempts, due.in_flight, s.attempt_started_at, s.about_starts_at, s.kind, s.news_before",
                &[&now, &generation, &limit],
            )
            .await?;
        tx.commit().await?;
        Ok(rows
            .iter()
            .map(|r| Claimed {
                id: r.get(0),
                to_phone: r.get(1),
                body: r.get(2),
                attempts: r.get(3),
                was_in_flight: r.get(4),
                attempt_started_at: r.get(5),
                about_starts_at: r.get(6),
                kind: r.get(7),
                news_before: r.get(8),
            })
            .collect())
    }

    /// Texts this sender claimed whose result was never written (the database went away between
    /// a send and its record). Between passes nothing of this sender's is in flight, so they go
    /// back, to be looked for at Twilio before any new try; without this they would wait for the
    /// lease to change hands.
    pub async fn reclaim_unfinished(&mut self, now: DateTime<Utc>) -> Result<u64> {
        let generation = self.generation;
        let tx = self.session.transaction().await?;
        if !lease_is(&tx, generation).await? {
            return Ok(0);
        }
        let reclaimed = tx
            .execute(
                "UPDATE sms_notifications SET state = 'pending', needs_reconcile = true, next_attempt_at = $1, updated_at = $1
                 WHERE state = 'sending' AND claimed_generation = $2",
                &[&now, &generation],
            )
            .await?;
        tx.commit().await?;
        Ok(reclaimed)
    }

    /// The clinic's quiet hours and time zone as they are now (a setting changed since a text was
    /// queued counts at the moment it goes).
    pub async fn quiet_hours(&self) -> Result<crate::sending::Quiet> {
        Ok(crate::sending::Quiet {
            hours: crate::texts::quiet_hours(&self.session).await?,
            zone: crate::settings::time_zone(&self.session).await?,
        })
    }

    /// The Twilio ids among `sids` already recorded for another text than `id` (a text found at
    /// Twilio by its number and wording must not be taken for one already matched).
    pub async fn sids_taken(&self, sids: &[String], id: Uuid) -> Result<Vec<String>> {
        let rows = self
            .session
            .query("SELECT twilio_sid FROM sms_notifications WHERE twilio_sid = ANY($1) AND id <> $2", &[&sids, &id])
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Records what became of a claimed text. Returns false (and writes nothing) when this process
    /// is no longer the sender, or the row is no longer its claim.
    pub async fn finish(&mut self, id: Uuid, outcome: &Outcome, now: DateTime<Utc>) -> Result<bool> {
        let generation = self.generation;
        let tx = self.session.transaction().await?;
        if !lease_is(&tx, generation).await? {
            return Ok(false);
        }
        let written = match outcome {
            Outcome::Sent { sid } => {
                tx.execute(
                    "UPDATE sms_notifications SET state = 'sent', twilio_sid = $3, needs_reconcile = false, updated_at = $4, sent_at = $4
                     WHERE id = $1 AND state = 'sending' AND claimed_generation = $2",
                    &[&id, &generation, sid, &now],
                )
                .await?
            }
            Outcome::Failed { code, message } => {
                tx.execute(
                    "UPDATE sms_notifications SET state = 'failed', error_code = $3, error_message = $4,
                            needs_reconcile = false, updated_at = $5
                     WHERE id = $1 AND state = 'sending' AND claimed_generation = $2",
                    &[&id, &generation, code, message, &now],
                )
                .await?
            }
            Outcome::Retry { at, reconcile, message } => {
                tx.execute(
                    "UPDATE sms_notifications SET state = 'pending', next_attempt_at = $3,
                            needs_reconcile = needs_reconcile OR $4, error_message = $5, updated_at = $6
                     WHERE id = $1 AND state = 'sending' AND claimed_generation = $2",
                    &[&id, &generation, at, reconcile, message, &now],
                )
                .await?
            }
            Outcome::Wait { at, message } => {
                tx.execute(
                    "UPDATE sms_notifications SET state = 'pending', next_attempt_at = $3, attempts = greatest(attempts - 1, 0),
                            needs_reconcile = false, error_message = $4, updated_at = $5
                     WHERE id = $1 AND state = 'sending' AND claimed_generation = $2",
                    &[&id, &generation, at, message, &now],
                )
                .await?
            }
            Outcome::Skipped { message } => {
                tx.execute(
                    "UPDATE sms_notifications SET state = 'skipped', error_message = $3, updated_at = $4
                     WHERE id = $1 AND state = 'sending' AND claimed_generation = $2",
                    &[&id, &generation, message, &now],
                )
                .await?
            }
        };
        tx.commit().await?;
        Ok(written == 1)
    }

    /// Texts handed to Twilio whose delivery is not known yet, oldest check first, at most `limit`,
    /// each looked at no more than once every `every` (so a slow carrier costs one request a minute).
    pub async fn awaiting_delivery(
        &mut self,
        now: DateTime<Utc>,
        every: chrono::Duration,
        limit: i64,
    ) -> Result<Vec<(Uuid, String)>> {
        let rows = self
            .session
            .query(
                "SELECT id, twilio_sid FROM sms_notifications
                 WHERE state = 'sent' AND twilio_sid IS NOT NULL AND updated_at <= $1
                   AND created_at > $2
                 ORDER BY updated_at LIMIT $3",
                &[&(now - every), &(now - chrono::Duration::days(3)), &limit],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Records what Twilio says became of a sent text (while this process is the sender). A text
    /// still on its way is only touched, so the next look comes a while later.
    pub async fn delivered(
        &mut self,
        id: Uuid,
        state: &str,
        code: Option<i32>,
        message: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let generation = self.generation;
        let tx = self.session.transaction().await?;
        if !lease_is(&tx, generation).await? {
            return Ok(false);
        }
        let written = tx
            .execute(
                "UPDATE sms_notifications SET state = $2, error_code = coalesce($3, error_code),
                        error_message = coalesce($4, error_message), updated_at = $5
                 WHERE id = $1 AND state = 'sent'",
                &[&id, &state, &code, &message, &now],
            )
            .await?;
        tx.commit().await?;
        Ok(written == 1)
    }

    /// Gives the lease up (clean shutdown); the next process to try takes over at once.
    pub async fn release(self) -> Result<()> {
        self.session.execute("SELECT pg_advisory_unlock($1)", &[&SENDER_LOCK]).await?;
        Ok(())
    }
}

/// Whether `generation` still holds the lease, holding the lease row FOR SHARE until the
/// transaction ends so a takeover cannot slip in between this check and the write it guards.
async fn lease_is(tx: &tokio_postgres::Transaction<'_>, generation: i64) -> Result<bool> {
    let current: i64 = tx.query_one("SELECT generation FROM sender_lease WHERE id = 1 FOR SHARE", &[]).await?.get(0);
    Ok(current == generation)
}
