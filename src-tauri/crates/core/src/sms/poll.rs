//! Following sent texts until Twilio reports a final status (a desktop has no public webhook).

use super::model::TextState;
use super::outbox;
use super::worker::{backoff, OutboxWorker, RunReport};
use crate::db::ts;
use crate::error::Result;
use crate::twilio::config::TwilioAccount;
use crate::twilio::error::explain_code;
use crate::twilio::messages;
use rusqlite::params;

impl OutboxWorker<'_> {
    /// Asks Twilio about every sent text whose next poll is due (at most 100 per pass).
    pub(super) async fn poll_due(&self, account: &TwilioAccount, report: &mut RunReport) -> Result<()> {
        let due: Vec<(String, String, u32, String)> = {
            let conn = self.conn();
            let mut stmt = conn.prepare(
                "SELECT id, twilio_sid, polls, to_e164 FROM sms_notifications
                 WHERE state = 'sent' AND next_poll_at <= ?1 ORDER BY next_poll_at LIMIT 100",
            )?;
            let rows = stmt.query_map([ts(self.clinic.now())], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (id, sid, polls, to) in due {
            if self.lock.is_lost() {
                break;
            }
            report.polled += 1;
            // Ask Twilio first: no connection is held across the request.
            let answer = messages::fetch(self.http, account, &sid).await;
            let now = self.clinic.now();
            let next = now + backoff(self.config.first_poll, polls, self.config.max_poll);
            let finished = self.fenced(|tx| {
                match &answer {
                    Ok(m) if m.is_final() => {
                        let explanation = m.error_code.map(|c| {
                            explain_code(c as u32)
                                .map(str::to_owned)
                                .unwrap_or_else(|| format!("Twilio reported error {c}."))
                        });
                        tx.execute(
                            "UPDATE sms_notifications SET state = ?2, twilio_status = ?3, error_code = ?4, error_message = ?5,
                                    polls = polls + 1, final_at = ?6, updated_at = ?6
                             WHERE id = ?1 AND state = 'sent'",
                            params![
                                id,
                                TextState::from_twilio(&m.status).as_str(),
                                m.status,
                                m.error_code,
                                explanation,
                                ts(now)
                            ],
                        )?;
                        if m.error_code == Some(21610) {
                            outbox::opt_out(tx, &to, now, now)?;
                        }
                        return Ok(true);
                    }
                    Ok(m) => tx.execute(
                        "UPDATE sms_notifications SET twilio_status = ?2, polls = polls + 1, next_poll_at = ?3, updated_at = ?4
                         WHERE id = ?1",
                        params![id, m.status, ts(next), ts(now)],
                    )?,
                    Err(err) => {
                        tracing::warn!(text = %id, code = ?err.code(), "status poll failed; will poll again");
                        tx.execute(
                            "UPDATE sms_notifications SET polls = polls + 1, next_poll_at = ?2, updated_at = ?3 WHERE id = ?1",
                            params![id, ts(next), ts(now)],
                        )?
                    }
                };
                Ok(false)
            })?;
            if finished == Some(true) {
                report.finished += 1;
            }
        }
        Ok(())
    }
}
