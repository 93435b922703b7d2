//! The outbox worker: sends due texts at the configured pace, records Twilio's SID before a text
//! counts as sent, reconciles any attempt that ended without an answer before trying again, and
//! polls sent texts until Twilio reports a final status.
//!
//! Crash safety: a row is set to 'sending' (committed) before its HTTP request. If the process dies
//! at any instant, the next worker finds the row 'sending' (or marked `needs_reconcile`) and looks
//! for the text in Twilio's Messages list before it may send again: no text is lost, none is doubled.

use super::model::TextState;
use super::outbox::{self, row_to_text, SELECT};
use super::pacer::Pacer;
use super::record::{record_accepted, record_failed, record_retry, Decision};
use crate::db::ts;
use crate::error::Result;
use crate::twilio::config::TwilioAccount;
use crate::twilio::error::{explain_code, TwilioError};
use crate::twilio::{messages, TwilioHttp};
use crate::Clinic;
use chrono::Duration;
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use std::time::Duration as StdDuration;

/// How the worker paces, retries and polls. `from_settings` gives the clinic's configuration.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    pub messages_per_second: u32,
    /// Texts in flight at once (pacing still applies across all of them).
    pub concurrency: u32,
    pub max_attempts: u32,
    pub retry_base: StdDuration,
    pub first_poll: StdDuration,
    pub max_poll: StdDuration,
    /// A lock whose heartbeat is older than this belongs to a worker that died.
    pub lock_stale_after: StdDuration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            messages_per_second: 1,
            concurrency: 1,
            max_attempts: 6,
            retry_base: StdDuration::from_secs(30),
            first_poll: StdDuration::from_secs(2),
            max_poll: StdDuration::from_secs(15 * 60),
            lock_stale_after: StdDuration::from_secs(60),
        }
    }
}

/// What one pass of the worker did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunReport {
    pub sent: u32,
    pub adopted: u32,
    pub retrying: u32,
    pub failed: u32,
    pub polled: u32,
    pub finished: u32,
}

pub struct OutboxWorker<'a> {
    clinic: &'a Clinic,
    http: &'a TwilioHttp,
    /// The worker's own connection (warm page cache). Locked only for synchronous work, never
    /// across an await, so concurrent sends can share it.
    db: std::sync::Mutex<rusqlite::Connection>,
    config: OutboxConfig,
    pacer: tokio::sync::Mutex<Pacer>,
    holder: String,
    last_beat: std::sync::Mutex<std::time::Instant>,
}

pub(super) fn backoff(base: StdDuration, step: u32, max: StdDuration) -> Duration {
    let d = base.saturating_mul(2u32.saturating_pow(step.min(16))).min(max);
    Duration::from_std(d).unwrap_or(Duration::minutes(15))
}

fn pid_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true // elsewhere the heartbeat alone decides
    }
}

impl<'a> OutboxWorker<'a> {
    pub fn new(clinic: &'a Clinic, http: &'a TwilioHttp, config: OutboxConfig) -> Result<Self> {
        let pacer = tokio::sync::Mutex::new(Pacer::new(config.messages_per_second));
        let db = std::sync::Mutex::new(clinic.db().dedicated()?);
        Ok(OutboxWorker {
            clinic,
            http,
            db,
            config,
            pacer,
            holder: uuid::Uuid::new_v4().to_string(),
            last_beat: std::sync::Mutex::new(std::time::Instant::now()),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.db.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes the one-worker lock (or refreshes it). `false` means another live worker holds it.
    /// On taking it from a dead worker, its in-flight texts are marked for reconciliation.
    pub fn acquire(&self) -> Result<bool> {
        let now = self.clinic.now();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: Option<(String, u32, String)> = tx
            .query_row("SELECT holder, pid, heartbeat_at FROM outbox_lock WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let ours = match &current {
            None => true,
            Some((holder, _, _)) if *holder == self.holder => true,
            Some((_, pid, beat)) => {
                let stale = crate::auth::parse_instant(beat).is_none_or(|b| {
                    now - b > Duration::from_std(self.config.lock_stale_after).unwrap_or(Duration::minutes(1))
                });
                stale || !pid_alive(*pid)
            }
        };
        if !ours {
            return Ok(false);
        }
        let taking_over = current.as_ref().is_some_and(|(h, _, _)| *h != self.holder) || current.is_none();
        tx.execute(
            "INSERT INTO outbox_lock (id, holder, pid, heartbeat_at) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT(id) DO UPDATE SET holder = excluded.holder, pid = excluded.pid, heartbeat_at = excluded.heartbeat_at",
            params![self.holder, std::process::id(), ts(now)],
        )?;
        if taking_over {
            let orphans = tx.execute(
                "UPDATE sms_notifications SET state = 'pending', needs_reconcile = 1, next_attempt_at = ?1, updated_at = ?1 WHERE state = 'sending'",
                [ts(now)],
            )?;
            if orphans > 0 {
                tracing::warn!(orphans, "texts were mid-send when the last worker stopped; they will be reconciled");
            }
        }
        tx.commit()?;
        Ok(true)
    }

    /// Refreshes the lock's heartbeat every few seconds (each refresh is a commit).
    fn heartbeat(&self) -> Result<()> {
        let mut last = self.last_beat.lock().unwrap_or_else(|p| p.into_inner());
        if last.elapsed() >= StdDuration::from_secs(5) {
            *last = std::time::Instant::now();
            drop(last);
            self.acquire()?;
        }
        Ok(())
    }

    pub fn release(&self) -> Result<()> {
        let conn = self.conn();
        conn.execute("DELETE FROM outbox_lock WHERE holder = ?1", [&self.holder])?;
        Ok(())
    }

    /// One pass: send what is due (paced), then poll what awaits a final status.
    pub async fn run_once(&mut self) -> Result<RunReport> {
        let mut report = RunReport::default();
        if !self.acquire()? {
            return Ok(report);
        }
        let account = self.clinic.twilio().account()?;
        // One attempt per text per pass: only texts due when the pass began are claimed, so a
        // text rescheduled during this pass waits for the next one.
        let pass_started = self.clinic.now();
        loop {
            let batch = self.claim_batch(pass_started, self.config.concurrency.max(1))?;
            if batch.is_empty() {
                break;
            }
            match &account {
                Some(account) => {
                    let outcomes =
                        futures_util::future::join_all(batch.into_iter().map(|text| self.deliver(account, text))).await;
                    self.record(outcomes, &mut report)?;
                }
                None => {
                    for text in &batch {
                        self.skip_unconfigured(text)?;
                    }
                }
            }
            self.heartbeat()?;
        }
        if let Some(account) = &account {
            self.poll_due(account, &mut report).await?;
        }
        Ok(report)
    }

    /// Runs passes until nothing is waiting to be sent or awaiting a final status.
    pub async fn run_until_empty(&mut self, give_up_after: StdDuration) -> Result<RunReport> {
        let started = tokio::time::Instant::now();
        let mut total = RunReport::default();
        loop {
            let r = self.run_once().await?;
            total.sent += r.sent;
            total.adopted += r.adopted;
            total.retrying += r.retrying;
            total.failed += r.failed;
            total.polled += r.polled;
            total.finished += r.finished;
            let conn = self.conn();
            if outbox::unfinished(&conn)? == 0 || started.elapsed() >= give_up_after {
                drop(conn);
                self.release()?;
                return Ok(total);
            }
            let next = outbox::next_due(&conn)?;
            drop(conn);
            let wait = next
                .map(|t| (t - self.clinic.now()).to_std().unwrap_or_default())
                .unwrap_or(StdDuration::from_millis(200));
            tokio::time::sleep(wait.clamp(StdDuration::from_millis(20), StdDuration::from_secs(5))).await;
        }
    }

    /// Marks up to `limit` texts due by `due_by` 'sending' in one commit (before anything is sent)
    /// and returns them, oldest due first.
    fn claim_batch(&self, due_by: chrono::DateTime<chrono::Utc>, limit: u32) -> Result<Vec<Claimed>> {
        let now = ts(self.clinic.now());
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "UPDATE sms_notifications SET state = 'sending', attempts = attempts + 1, attempt_started_at = ?1, updated_at = ?1
             WHERE id IN (SELECT id FROM sms_notifications WHERE state = 'pending' AND next_attempt_at <= ?2 ORDER BY next_attempt_at, created_at LIMIT ?3)
             RETURNING id, to_e164, body, attempts, needs_reconcile, created_at, next_attempt_at",
        )?;
        let mut claimed: Vec<(Claimed, String)> = stmt
            .query_map(params![now, ts(due_by), limit], |r| {
                Ok((
                    Claimed {
                        id: r.get(0)?,
                        to: r.get(1)?,
                        body: r.get(2)?,
                        attempts: r.get(3)?,
                        needs_reconcile: r.get(4)?,
                        created_at: r.get(5)?,
                    },
                    r.get(6)?,
                ))
            })?
            .collect::<Result<_, _>>()?;
        claimed.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.created_at.cmp(&b.0.created_at)));
        Ok(claimed.into_iter().map(|(c, _)| c).collect())
    }

    fn skip_unconfigured(&self, text: &Claimed) -> Result<()> {
        let now = ts(self.clinic.now());
        let conn = self.conn();
        conn.execute(
            "UPDATE sms_notifications SET state = 'skipped', error_message = ?2, final_at = ?3, updated_at = ?3 WHERE id = ?1 AND state = 'sending'",
            params![text.id, outbox::NOT_CONFIGURED, now],
        )?;
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
                Ok(None) => {} // Twilio never got it: sending now is safe.
                // Cannot tell whether it went out: never guess, try again later.
                Err(err) => return (text, Decision::Retry { err, reconcile: true }),
            }
        }
        self.pacer.lock().await.wait_turn().await;
        let decision = match messages::create(self.http, account, &text.to, &text.body, None).await {
            Ok(message) => Decision::Accepted(message),
            Err(err) if err.outcome_unknown() => {
                tracing::warn!(text = %text.id, "send ended without an answer; will reconcile before any retry");
                Decision::Retry { err, reconcile: true }
            }
            Err(err) if err.is_retryable() && text.attempts < self.config.max_attempts => {
                Decision::Retry { err, reconcile: false }
            }
            Err(err) => Decision::Failed(err),
        };
        (text, decision)
    }

    /// Records a batch's outcomes in one commit. Until then its texts stay 'sending', so a crash
    /// here leaves them to reconciliation, never to a second send.
    fn record(&self, outcomes: Vec<(Claimed, Decision)>, report: &mut RunReport) -> Result<()> {
        let now = self.clinic.now();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for (text, decision) in outcomes {
            match decision {
                Decision::Accepted(message) => {
                    record_accepted(&tx, &self.config, now, &text.id, &message)?;
                    report.sent += 1;
                }
                Decision::Adopted(message) => {
                    record_accepted(&tx, &self.config, now, &text.id, &message)?;
                    report.adopted += 1;
                }
                Decision::Retry { err, reconcile } => {
                    record_retry(&tx, &self.config, now, &text, &err, reconcile)?;
                    report.retrying += 1;
                }
                Decision::Failed(err) => {
                    record_failed(&tx, now, &text, &err)?;
                    report.failed += 1;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The text in Twilio's Messages list, if this attempt (or an earlier one) reached Twilio.
    async fn find_at_twilio(
        &self,
        account: &TwilioAccount,
        text: &Claimed,
    ) -> Result<Option<messages::Message>, TwilioError> {
        let since =
            crate::auth::parse_instant(&text.created_at).unwrap_or_else(|| self.clinic.now()) - Duration::minutes(1);
        let known: Vec<String> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare("SELECT twilio_sid FROM sms_notifications WHERE to_e164 = ?1 AND twilio_sid IS NOT NULL")
                .map_err(|_| TwilioError::Unreadable("database".into()))?;
            let rows =
                stmt.query_map([&text.to], |r| r.get(0)).map_err(|_| TwilioError::Unreadable("database".into()))?;
            rows.filter_map(|r| r.ok()).collect()
        };
        let matches = |m: &messages::Message| {
            m.body.as_deref() == Some(text.body.as_str())
                && m.created_at().is_none_or(|c| c >= since)
                && !known.contains(&m.sid)
        };
        // Sent messages by DateSent (a day early, for clock skew), then the newest few, which also
        // covers messages still queued (they have no DateSent yet).
        let sent = messages::list_to(self.http, account, &text.to, Some((since - Duration::days(1)).date_naive()), 100)
            .await?;
        if let Some(found) = sent.into_iter().find(|m| matches(m)) {
            return Ok(Some(found));
        }
        let newest = messages::list_to(self.http, account, &text.to, None, 50).await?;
        Ok(newest.into_iter().find(|m| matches(m)))
    }

    async fn poll_due(&self, account: &TwilioAccount, report: &mut RunReport) -> Result<()> {
        let due: Vec<(String, String, u32, String)> = {
            let conn = self.conn();
            let mut stmt = conn.prepare("SELECT id, twilio_sid, polls, to_e164 FROM sms_notifications WHERE state = 'sent' AND next_poll_at <= ?1 ORDER BY next_poll_at LIMIT 100")?;
            let rows = stmt.query_map([ts(self.clinic.now())], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (id, sid, polls, to) in due {
            report.polled += 1;
            let now = self.clinic.now();
            let next = now + backoff(self.config.first_poll, polls, self.config.max_poll);
            // Ask Twilio first: no pooled connection is held across the request.
            let answer = messages::fetch(self.http, account, &sid).await;
            let conn = self.conn();
            match answer {
                Ok(m) if m.is_final() => {
                    let state = match m.status.as_str() {
                        "delivered" | "read" => TextState::Delivered,
                        "undelivered" => TextState::Undelivered,
                        _ => TextState::Failed,
                    };
                    let explanation = m.error_code.map(|c| {
                        explain_code(c as u32)
                            .map(str::to_owned)
                            .unwrap_or_else(|| format!("Twilio reported error {c}."))
                    });
                    conn.execute(
                        "UPDATE sms_notifications SET state = ?2, twilio_status = ?3, error_code = ?4, error_message = ?5, polls = polls + 1, final_at = ?6, updated_at = ?6
                         WHERE id = ?1 AND state = 'sent'",
                        params![id, state.as_str(), m.status, m.error_code, explanation, ts(now)],
                    )?;
                    if m.error_code == Some(21610) {
                        outbox::opt_out(&conn, &to, now)?;
                    }
                    report.finished += 1;
                }
                Ok(m) => {
                    conn.execute(
                        "UPDATE sms_notifications SET twilio_status = ?2, polls = polls + 1, next_poll_at = ?3, updated_at = ?4 WHERE id = ?1",
                        params![id, m.status, ts(next), ts(now)],
                    )?;
                }
                Err(err) => {
                    tracing::warn!(text = %id, code = ?err.code(), "status poll failed; will poll again");
                    conn.execute("UPDATE sms_notifications SET polls = polls + 1, next_poll_at = ?2, updated_at = ?3 WHERE id = ?1", params![id, ts(next), ts(now)])?;
                }
            }
        }
        Ok(())
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

/// A text as the worker last left it (for `sms send` to report the first attempt).
pub fn text_state(clinic: &Clinic, id: uuid::Uuid) -> Result<super::model::TextMessage> {
    let conn = clinic.db().conn()?;
    Ok(conn.query_row(&format!("{SELECT} WHERE id = ?1"), [id.to_string()], row_to_text)?)
}
