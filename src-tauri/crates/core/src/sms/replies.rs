//! Texts patients send back. A desktop cannot receive Twilio's webhooks, so once per worker pass
//! (at most every `READ_EVERY`) the worker lists the texts received at each of the clinic's
//! numbers (its sending number, or every number of its Messaging Service) since the last read,
//! and records each once (reply_actions.rs says what a reply does).
//!
//! Invariants:
//! - A reply is recorded once, by its Twilio SID, however often it is listed. That is what makes
//!   overlap safe: each read goes back `OVERLAP` before the newest reply already recorded (Twilio's
//!   list can show a message a little after a newer one, and `DateSent>` only narrows by whole
//!   days), and whatever is listed twice is ignored the second time.
//! - The read mark only moves forward, and only in the transaction that records the replies
//!   read, so a failed or cut-short read is simply done again.
//! - Requests to Twilio are made holding no database lock; what was read is written in one fenced
//!   transaction per number, so a worker that lost its lock records nothing.
//! - Replies are handled oldest first, so STOP then START leaves the patient opted in.

use super::reply_actions::{self, Reply};
use super::reply_store::SqliteReplies;
use super::worker::{OutboxWorker, RunReport};
use crate::db::at_once;
use crate::db::ts;
use crate::error::Result;
use crate::twilio::config::TwilioAccount;
use crate::twilio::messages::{self, Message, Sender};
use crate::twilio::messaging;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, OptionalExtension};

/// At most one read per this long (this computer's clock): the worker passes every few seconds,
/// and replies a few seconds late are fine.
const READ_EVERY: Duration = Duration::seconds(15);
/// How far before the newest reply recorded each read goes back (see the invariants).
const OVERLAP: Duration = Duration::minutes(10);
/// The first read of a number goes back this far: replies to texts sent just before replies
/// were read at all (an upgrade) still count, week-old ones do not.
const FIRST_LOOK_BACK: Duration = Duration::hours(24);
/// Pages of 200 at most per number and read (10,000 replies since the last read, far beyond a
/// clinic's day). Past that nothing is recorded and the mark stays: the read is tried again.
const MAX_PAGES: usize = 50;

impl OutboxWorker<'_> {
    pub(super) async fn read_replies(&self, account: &TwilioAccount, report: &mut RunReport) -> Result<()> {
        if self.lock.is_lost() || !self.reply_read_due()? {
            return Ok(());
        }
        let numbers = match self.reply_numbers(account).await {
            Ok(numbers) => numbers,
            Err(err) => {
                tracing::warn!(code = ?err.code(), "could not list the Messaging Service's numbers; replies are read next pass");
                return Ok(());
            }
        };
        for number in numbers {
            if self.lock.is_lost() {
                break;
            }
            let Some(recorded) = self.read_replies_to(account, &number).await? else { break };
            report.replies += recorded;
        }
        Ok(())
    }

    fn reply_read_due(&self) -> Result<bool> {
        let last: Option<DateTime<Utc>> =
            self.conn().query_row("SELECT max(read_at) FROM sms_reply_marks", [], |r| r.get(0))?;
        Ok(last.is_none_or(|last| self.clinic.now() - last >= READ_EVERY || last > self.clinic.now()))
    }

    /// The numbers replies arrive at: every number of the Messaging Service when texts go out
    /// through one, and the sending number if one is set.
    async fn reply_numbers(&self, account: &TwilioAccount) -> Result<Vec<String>, crate::twilio::TwilioError> {
        let mut numbers = match Sender::of(account) {
            Some(Sender::MessagingService(sid)) => messaging::service_numbers(self.http, account, &sid).await?,
            _ => Vec::new(),
        };
        numbers.extend(account.settings.from.clone());
        numbers.sort();
        numbers.dedup();
        Ok(numbers)
    }

    /// Reads and records the replies to one number. The count recorded, or `None` when the lock
    /// was lost (nothing recorded).
    async fn read_replies_to(&self, account: &TwilioAccount, number: &str) -> Result<Option<u32>> {
        let newest: Option<DateTime<Utc>> = self
            .conn()
            .query_row("SELECT newest_sent_at FROM sms_reply_marks WHERE number = ?1", [number], |r| r.get(0))
            .optional()?
            .flatten();
        let not_before = match newest {
            Some(newest) => newest - OVERLAP,
            None => self.twilio_now() - FIRST_LOOK_BACK,
        };
        let listed = messages::list_received(self.http, account, number, not_before, MAX_PAGES).await;
        let now = self.clinic.now();
        let twilio_now = self.twilio_now();
        let outcome = self.fenced(|tx| {
            // A failed read still counts as a read for `READ_EVERY`: a Twilio outage is not asked
            // every pass.
            let (mut replies, complete) = match listed {
                Ok(Some(replies)) => (replies, true),
                Ok(None) => {
                    tracing::warn!("more replies than one read takes; will try again");
                    (Vec::new(), false)
                }
                Err(err) => {
                    tracing::warn!(code = ?err.code(), "could not read replies; will try again");
                    (Vec::new(), false)
                }
            };
            replies.sort_by(|a, b| sent_at(a, twilio_now).cmp(&sent_at(b, twilio_now)).then_with(|| a.sid.cmp(&b.sid)));
            let mut recorded = 0;
            for m in &replies {
                let received_at = sent_at(m, twilio_now);
                let reply = Reply {
                    sid: &m.sid,
                    from: m.from.as_deref().unwrap_or_default(),
                    to: &m.to,
                    body: m.body.as_deref().unwrap_or_default(),
                    received_at,
                    // Its age by Twilio's clock, back from now by ours: right even when the two
                    // clocks disagree.
                    written_at: now - (twilio_now - received_at).max(Duration::zero()),
                };
                let mut store = SqliteReplies { tx, now };
                if at_once(reply_actions::handle(&mut store, &reply, now))?.is_some() {
                    recorded += 1;
                }
            }
            let seen = replies.iter().map(|m| sent_at(m, twilio_now)).max();
            let advance = if complete { seen } else { None };
            tx.execute(
                "INSERT INTO sms_reply_marks (number, newest_sent_at, read_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(number) DO UPDATE SET read_at = excluded.read_at,
                     newest_sent_at = CASE WHEN excluded.newest_sent_at > coalesce(newest_sent_at, '')
                                           THEN excluded.newest_sent_at ELSE newest_sent_at END",
                params![number, advance.map(ts), ts(now)],
            )?;
            Ok(recorded)
        })?;
        Ok(outcome)
    }

    /// Twilio's clock now, as last measured (this computer's until a first answer).
    fn twilio_now(&self) -> DateTime<Utc> {
        Utc::now() + self.http.twilio_clock_offset().unwrap_or_else(Duration::zero)
    }
}

/// When Twilio received the text (its date_sent; its creation, or now, if that is missing).
fn sent_at(m: &Message, twilio_now: DateTime<Utc>) -> DateTime<Utc> {
    m.sent_at().or_else(|| m.created_at()).unwrap_or(twilio_now)
}
