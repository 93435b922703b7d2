//! The outbox worker: sends due texts at the configured pace, records Twilio's SID before a text
//! counts as sent, reconciles any attempt that ended without a clear answer before trying again,
//! pauses (never fails) texts while the clinic's Twilio setup is broken, and polls sent texts
//! until Twilio reports a final status.
//!
//! Crash safety: a row is set to 'sending' (committed, `synchronous=FULL`) before its request. If
//! the process dies at any instant, the next worker finds the row 'sending' and looks for the text
//! in Twilio's records before it may send again: no text is lost, none is doubled. One worker per
//! database, fenced by generation (`lock.rs`): a worker that lost its lock records nothing and
//! stops before its next request.

pub use super::tuning::{OutboxConfig, RunReport};

use super::hold;
use super::lock::WorkerLock;
use super::outbox;
use super::pacer::Pacer;
use super::record::{self, Decision};
use crate::db::ts;
use crate::error::Result;
use crate::twilio::check;
use crate::twilio::config::{AccountState, TwilioAccount};
use crate::twilio::{messages, TwilioHttp};
use crate::Clinic;
use chrono::Duration;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::time::Duration as StdDuration;

pub struct OutboxWorker<'a> {
    pub(super) clinic: &'a Clinic,
    pub(super) http: &'a TwilioHttp,
    /// The worker's own connection (warm page cache). Locked only for synchronous work, never
    /// across an await, so concurrent sends and the heartbeat can share it.
    db: std::sync::Mutex<Connection>,
    pub(super) config: OutboxConfig,
    pacer: tokio::sync::Mutex<Pacer>,
    pub(super) lock: WorkerLock,
}

pub(super) fn backoff(base: StdDuration, step: u32, max: StdDuration) -> Duration {
    let d = base.saturating_mul(2u32.saturating_pow(step.min(16))).min(max);
    Duration::from_std(d).unwrap_or(Duration::minutes(15))
}

impl<'a> OutboxWorker<'a> {
    pub fn new(clinic: &'a Clinic, http: &'a TwilioHttp, config: OutboxConfig) -> Result<Self> {
        Ok(OutboxWorker {
            clinic,
            http,
            db: std::sync::Mutex::new(clinic.db().dedicated()?),
            pacer: tokio::sync::Mutex::new(Pacer::new(config.messages_per_second)),
            lock: WorkerLock::new(config.lock_stale_after),
            config,
        })
    }

    pub(super) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes the one-worker lock (or refreshes it). `false` means another live worker holds it, the
    /// clinic moved onto a clinic server, or this computer is a desk of one (the server sends).
    pub fn acquire(&self) -> Result<bool> {
        // A clinic that moved onto a clinic server is texted by the server: sending from here
        // too would text its patients twice. A desk holds the server's texts for its screens only.
        if crate::sync::migration::moved_notice(&self.conn())?.is_some() || crate::sync::pending::is_desk(&self.conn())?
        {
            return Ok(false);
        }
        self.lock.acquire(&mut self.conn(), self.clinic.now())
    }

    pub fn release(&self) -> Result<()> {
        self.lock.release(&self.conn())
    }

    /// Runs `write` in an IMMEDIATE transaction that first checks the lock is still this
    /// worker's. `None`: it is not, and nothing was written.
    pub(super) fn fenced<T>(&self, write: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<Option<T>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if !self.lock.still_ours(&tx)? {
            return Ok(None);
        }
        let value = write(&tx)?;
        tx.commit()?;
        Ok(Some(value))
    }

    /// One pass: send what is due (paced), then poll what awaits a final status. The heartbeat
    /// beats beside the pass for as long as it runs, however long Twilio makes it wait.
    pub async fn run_once(&mut self) -> Result<RunReport> {
        if !self.acquire()? {
            return Ok(RunReport::default());
        }
        let this = &*self;
        let pass = std::pin::pin!(this.pass());
        let beat = std::pin::pin!(this.keep_beating());
        match futures_util::future::select(pass, beat).await {
            futures_util::future::Either::Left((report, _)) => report,
            futures_util::future::Either::Right(_) => unreachable!("the heartbeat never ends"),
        }
    }

    async fn keep_beating(&self) {
        loop {
            tokio::time::sleep(self.lock.beat_every()).await;
            let beat = self.lock.beat(&self.conn(), self.clinic.now());
            match beat {
                Ok(true) => {}
                // Lost: the pass notices before its next request. Nothing more to beat for.
                Ok(false) => std::future::pending::<()>().await,
                Err(err) => tracing::warn!(code = %err.code(), "could not refresh the outbox lock; will try again"),
            }
        }
    }

    async fn pass(&self) -> Result<RunReport> {
        let mut report = RunReport::default();
        let now = self.clinic.now();
        // Between passes nothing of this worker's is in flight, so a 'sending' row here is one a
        // failed pass left behind (a database error after its claim): back to reconciliation.
        self.fenced(|tx| {
            Ok(tx.execute(
                "UPDATE sms_notifications SET state = 'pending', needs_reconcile = 1, next_attempt_at = ?1, updated_at = ?1
                 WHERE state = 'sending'",
                [ts(now)],
            )?)
        })?;
        // Reminders planned, late ones tidied, what can wait held for the morning: before the claim.
        if let Some(upkeep) = self.fenced(|tx| crate::appointment_texts::upkeep::run(tx, now))? {
            report.reminders_planned += upkeep.reminders_planned as u32;
            report.skipped += upkeep.reminders_held as u32;
        }
        // Chats past the clinic's retention go (no network needed; consultations/retention.rs).
        match self.clinic.consultations().remove_expired_chats() {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "consultation chats removed under the retention setting"),
            Err(err) => tracing::warn!(code = ?err.code(), "removing expired consultation chats failed"),
        }
        // Paused, and not yet time to look again: nothing to do (and nothing to log) this pass.
        if hold::waiting(&self.conn(), now)? {
            return Ok(report);
        }
        let account = match self.clinic.twilio().account_state() {
            Ok(AccountState::NotConfigured) => None,
            Ok(AccountState::Ready(account)) => Some(account),
            Ok(AccountState::MissingSecret(reason)) => {
                self.pause(None, reason)?;
                return Ok(report);
            }
            // The keyring is locked or unavailable: a setup problem like any other.
            Err(err) => {
                self.pause(None, &err.to_string())?;
                return Ok(report);
            }
        };
        match &account {
            Some(account) if !self.setup_works(account).await? => return Ok(report),
            Some(_) => {}
            None => {
                self.fenced(|tx| hold::resume(tx))?;
            }
        }
        if account.is_some() {
            // A video appointment's link goes with its last reminder (consultations/reminder_link.rs);
            // queued before the claim (it goes this pass or the next). Its failure stops no other text.
            match self.clinic.consultations().send_links_with_last_reminder() {
                Ok(0) => {}
                Ok(queued) => tracing::info!(queued, "video links queued with the last reminder"),
                Err(err) => tracing::warn!(code = ?err.code(), "video links with the last reminder failed"),
            }
        }
        // One attempt per text per pass: only texts due when the pass began are claimed, so a
        // text rescheduled during this pass waits for the next one.
        let limit = self.config.concurrency.max(1);
        let mut batch = self.claim_batch(now, limit, &mut report)?;
        while !batch.is_empty() && !self.lock.is_lost() {
            match &account {
                Some(account) => {
                    let outcomes =
                        futures_util::future::join_all(batch.into_iter().map(|text| self.deliver(account, text))).await;
                    let (paused, next) = self.record_then_claim(outcomes, &mut report, now, limit)?;
                    if paused {
                        return Ok(report); // the rest waits for the setup to work
                    }
                    batch = next;
                }
                None => {
                    self.skip_unconfigured(&batch)?;
                    batch = self.claim_batch(now, limit, &mut report)?;
                }
            }
        }
        if let Some(account) = &account {
            self.poll_due(account, &mut report).await?;
            self.read_replies(account, &mut report).await?;
            // Consultations ended offline get their record now that Twilio answers (consultations/late.rs).
            match self.clinic.consultations().fetch_late_records(self.http, account).await {
                Ok(0) => {}
                Ok(fetched) => tracing::info!(fetched, "late consultation records fetched"),
                Err(err) => tracing::warn!(code = ?err.code(), "fetching late consultation records failed"),
            }
        }
        Ok(report)
    }

    /// Runs passes until nothing is waiting to be sent or awaiting a final status.
    pub async fn run_until_empty(&mut self, give_up_after: StdDuration) -> Result<RunReport> {
        let started = tokio::time::Instant::now();
        let mut total = RunReport::default();
        loop {
            total.add(&self.run_once().await?);
            let (unfinished, next) = {
                let conn = self.conn();
                let next = match hold::next_check(&conn)? {
                    Some(check) => Some(check),
                    None => outbox::next_due(&conn)?,
                };
                (outbox::unfinished(&conn)?, next)
            };
            if unfinished == 0 || started.elapsed() >= give_up_after || self.lock.is_lost() {
                self.release()?;
                return Ok(total);
            }
            let wait = next
                .map(|t| (t - self.clinic.now()).to_std().unwrap_or_default())
                .unwrap_or(StdDuration::from_millis(200));
            // Never longer than a heartbeat period: the next pass's acquire proves this worker alive.
            let longest = self.lock.beat_every().max(StdDuration::from_millis(20));
            tokio::time::sleep(wait.clamp(StdDuration::from_millis(20), longest)).await;
        }
    }

    /// While sending is paused: `false` until the setup check passes (checked every
    /// `hold_recheck`), then sending resumes by itself.
    /// Called only when a check is due: `pass` has already returned while a pause is waiting.
    async fn setup_works(&self, account: &TwilioAccount) -> Result<bool> {
        let now = self.clinic.now();
        if hold::current(&self.conn())?.is_none() {
            return Ok(true);
        }
        let health = check::check(self.http, account, now).await;
        match check::sending_problem(&health) {
            Some(problem) => {
                self.pause(None, &problem)?;
                Ok(false)
            }
            None => Ok(self.fenced(|tx| hold::resume(tx))?.is_some()),
        }
    }

    fn pause(&self, code: Option<u32>, reason: &str) -> Result<()> {
        let now = self.clinic.now();
        let again = now + Duration::from_std(self.config.hold_recheck).unwrap_or(Duration::minutes(1));
        self.fenced(|tx| hold::pause(tx, now, code, reason, again))?;
        Ok(())
    }

    /// One attempt at one claimed text. Writes nothing: the batch's outcomes are recorded together.
    async fn deliver(&self, account: &TwilioAccount, text: Claimed) -> (Claimed, Decision) {
        if text.needs_reconcile {
            match self.find_at_twilio(account, &text).await {
                Ok(Some(found)) => {
                    tracing::info!(text = %text.id, sid = %found.sid, "adopted a text Twilio already had");
                    return (text, Decision::Adopted(found));
                }
                // Certainly not sent, and out of attempts: say so rather than try for ever.
                Ok(None) if text.attempts > self.config.max_attempts => return (text, Decision::GaveUp),
                Ok(None) => {} // Twilio never got it: sending now is safe.
                Err(err) if err.is_setup_problem() => return (text, Decision::Held(err)),
                // Cannot tell whether it went out: never guess, try again later.
                Err(err) => return (text, Decision::Retry { err, reconcile: true }),
            }
            // Not sent after all: judge it on the patient's record as it is now.
            let reason = outbox::reason_not_to_send_now(&self.conn(), &text.id, self.clinic.now());
            match reason {
                Ok(Some(reason)) => return (text, Decision::Skipped(reason.to_owned())),
                Ok(None) => {}
                Err(_) => return (text, Decision::Abandoned),
            }
        }
        self.pacer.lock().await.wait_turn().await;
        // The fence before every request: a worker that lost its lock sends nothing more.
        if !self.lock.still_ours(&self.conn()).unwrap_or(false) {
            return (text, Decision::Abandoned);
        }
        let decision = match messages::create(self.http, account, &text.to, &text.body, None).await {
            Ok(message) => Decision::Accepted(message),
            Err(err) if err.is_setup_problem() => Decision::Held(err),
            Err(err) if err.outcome_unknown() => {
                tracing::warn!(text = %text.id, code = ?err.code(), "send ended without a clear answer; will reconcile before any retry");
                Decision::Retry { err, reconcile: true }
            }
            Err(err) if err.is_retryable() && text.attempts < self.config.max_attempts => {
                Decision::Retry { err, reconcile: false }
            }
            Err(err) => Decision::Failed(err),
        };
        (text, decision)
    }

    /// Records a batch's outcomes and claims the next batch in one fenced commit (one fsync, not
    /// two). Until then the batch's texts stay 'sending', so a crash here leaves them to
    /// reconciliation, never to a second send; and the next batch is still claimed, committed,
    /// before any of its requests. Returns whether sending paused (then nothing more is claimed).
    fn record_then_claim(
        &self,
        mut outcomes: Vec<(Claimed, Decision)>,
        report: &mut RunReport,
        due_by: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<(bool, Vec<Claimed>)> {
        let now = self.clinic.now();
        // Fresh sends first: an adoption in the same batch must never take a sibling's message.
        outcomes.sort_by_key(|(_, decision)| !matches!(decision, Decision::Accepted(_)));
        let again = now + Duration::from_std(self.config.hold_recheck).unwrap_or(Duration::minutes(1));
        let paused = self.fenced(|tx| {
            let mut paused = false;
            for (text, decision) in &outcomes {
                match decision {
                    Decision::Accepted(message) => {
                        record::record_accepted(tx, &self.config, now, &text.id, message)?;
                        report.sent += 1;
                    }
                    Decision::Adopted(message) if record::sid_taken(tx, &message.sid)? => {
                        // Another text of this batch has just been recorded with it: look again.
                        let err = crate::twilio::TwilioError::Unreadable("message already adopted".into());
                        record::record_retry(tx, &self.config, now, text, &err, true)?;
                        report.retrying += 1;
                    }
                    Decision::Adopted(message) => {
                        record::record_accepted(tx, &self.config, now, &text.id, message)?;
                        report.adopted += 1;
                    }
                    Decision::Retry { err, reconcile } => {
                        record::record_retry(tx, &self.config, now, text, err, *reconcile)?;
                        report.retrying += 1;
                    }
                    Decision::Failed(err) => {
                        record::record_failed(tx, now, text, err)?;
                        report.failed += 1;
                    }
                    Decision::GaveUp => {
                        record::record_gave_up(tx, now, text)?;
                        report.failed += 1;
                    }
                    Decision::Skipped(reason) => {
                        record::record_skipped(tx, now, text, reason)?;
                        report.skipped += 1;
                    }
                    Decision::Held(err) => {
                        record::record_held(tx, now, text, err)?;
                        hold::pause(tx, now, err.code(), &err.explain(), again)?;
                        paused = true;
                    }
                    // Not attempted after all (this commit only happens while the lock is ours).
                    Decision::Abandoned => record::record_put_back(tx, now, text)?,
                }
            }
            let next = if paused { Vec::new() } else { self.claim_in(tx, due_by, limit, report)? };
            Ok((paused, next))
        })?;
        Ok(paused.unwrap_or_default())
    }
}

impl Drop for OutboxWorker<'_> {
    /// A worker that ends normally hands the lock back at once; one whose process is killed cannot,
    /// and the next worker takes over when it sees the process gone or the heartbeat stale.
    fn drop(&mut self) {
        if let Err(err) = self.release() {
            tracing::warn!(error = %err, "could not release the outbox lock");
        }
    }
}

pub(super) struct Claimed {
    pub(super) id: String,
    pub(super) to: String,
    pub(super) body: String,
    pub(super) attempts: u32,
    pub(super) needs_reconcile: bool,
    pub(super) created_at: String,
}
