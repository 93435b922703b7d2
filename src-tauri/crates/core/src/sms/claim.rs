//! Claiming due texts: marked 'sending' and committed before any request, oldest due first.

use super::outbox;
use super::record;
use super::worker::{Claimed, OutboxWorker, RunReport};
use crate::db::ts;
use crate::error::Result;
use rusqlite::{params, Transaction};

impl OutboxWorker<'_> {
    /// Marks up to `limit` texts due by `due_by` 'sending' in one fenced commit (before anything
    /// is sent) and returns them, oldest due first. Texts the patient's latest record rules out
    /// (and that need no reconciling) are skipped in the same commit.
    pub(super) fn claim_batch(
        &self,
        due_by: chrono::DateTime<chrono::Utc>,
        limit: u32,
        report: &mut RunReport,
    ) -> Result<Vec<Claimed>> {
        Ok(self.fenced(|tx| self.claim_in(tx, due_by, limit, report))?.unwrap_or_default())
    }

    pub(super) fn claim_in(
        &self,
        tx: &Transaction<'_>,
        due_by: chrono::DateTime<chrono::Utc>,
        limit: u32,
        report: &mut RunReport,
    ) -> Result<Vec<Claimed>> {
        let now = ts(self.clinic.now());
        let mut stmt = tx.prepare_cached(
            "UPDATE sms_notifications SET state = 'sending', attempts = attempts + 1, attempt_started_at = ?1, updated_at = ?1
             WHERE id IN (SELECT id FROM sms_notifications WHERE state = 'pending' AND next_attempt_at <= ?2
                          ORDER BY next_attempt_at, created_at LIMIT ?3)
             RETURNING id, to_e164, body, attempts, needs_reconcile, created_at, next_attempt_at",
        )?;
        let mut claimed: Vec<(Claimed, String)> = stmt
            .query_map(params![now, ts(due_by), limit], |r| {
                let text = Claimed {
                    id: r.get(0)?,
                    to: r.get(1)?,
                    body: r.get(2)?,
                    attempts: r.get(3)?,
                    needs_reconcile: r.get(4)?,
                    created_at: r.get(5)?,
                };
                Ok((text, r.get(6)?))
            })?
            .collect::<Result<_, _>>()?;
        claimed.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.created_at.cmp(&b.0.created_at)));
        let mut wanted = Vec::with_capacity(claimed.len());
        for (text, _) in claimed {
            match outbox::reason_not_to_send_now(tx, &text.id, self.clinic.now())? {
                Some(reason) if !text.needs_reconcile => {
                    record::record_skipped(tx, self.clinic.now(), &text, reason)?;
                    report.skipped += 1;
                }
                _ => wanted.push(text),
            }
        }
        Ok(wanted)
    }

    pub(super) fn skip_unconfigured(&self, batch: &[Claimed]) -> Result<()> {
        let now = self.clinic.now();
        self.fenced(|tx| {
            for text in batch {
                record::record_skipped(tx, now, text, outbox::NOT_CONFIGURED)?;
            }
            Ok(())
        })?;
        Ok(())
    }
}
