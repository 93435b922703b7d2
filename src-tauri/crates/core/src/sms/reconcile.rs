//! Finding a text in Twilio's records before it may be sent again.
//!
//! An attempt that ended without a clear answer (a 5xx, a timeout, a dropped connection, a crash)
//! may or may not have reached Twilio; Messages has no idempotency key. So before any resend the
//! worker lists the messages to that number and adopts a match. Matching is tolerant of what
//! really happens: a trial account's prefix on the body, this computer's clock minutes off
//! Twilio's (compared through Twilio's own `Date` header, with a margin), a busy number whose
//! match is pages deep, and a list that lags just behind a send (look once more after a pause).

use super::worker::{Claimed, OutboxWorker};
use crate::twilio::config::TwilioAccount;
use crate::twilio::error::TwilioError;
use crate::twilio::messages::{self, Message};
use chrono::Duration;

/// Margin around Twilio's clock as measured (the `Date` header has whole seconds, and the
/// measurement includes the trip).
const CLOCK_MARGIN_MINUTES: i64 = 10;
/// Without any measurement of Twilio's clock yet: a computer's clock can be hours off.
const UNMEASURED_MARGIN_HOURS: i64 = 12;
/// Pages of 100 looked through at most (a number texted 5,000 times since the attempt); past
/// that the outcome stays unknown and the text waits, rather than be resent on a partial look.
const MAX_PAGES: usize = 50;

impl OutboxWorker<'_> {
    /// The text in Twilio's records, if this attempt (or an earlier one) reached Twilio.
    pub(super) async fn find_at_twilio(
        &self,
        account: &TwilioAccount,
        text: &Claimed,
    ) -> Result<Option<Message>, TwilioError> {
        if let Some(found) = self.look_for(account, text).await? {
            return Ok(Some(found));
        }
        // Twilio's list can lag a moment behind a send: look once more before concluding.
        tokio::time::sleep(self.config.reconcile_recheck).await;
        self.look_for(account, text).await
    }

    async fn look_for(&self, account: &TwilioAccount, text: &Claimed) -> Result<Option<Message>, TwilioError> {
        let created = crate::auth::parse_instant(&text.created_at).unwrap_or_else(|| self.clinic.now());
        // The text cannot have reached Twilio before it was written; in Twilio's clock that is
        // `created + offset`.
        let not_before = match self.http.twilio_clock_offset() {
            Some(offset) => created + offset - Duration::minutes(CLOCK_MARGIN_MINUTES),
            None => created - Duration::hours(UNMEASURED_MARGIN_HOURS),
        };
        let adopted = self.sids_already_adopted(&text.to).map_err(|_| TwilioError::Unreadable("database".into()))?;
        let listed = messages::list_to_since(self.http, account, &text.to, not_before, MAX_PAGES).await?;
        // Oldest first: with two identical texts in flight, each row adopts a different message.
        Ok(listed.into_iter().rev().find(|m| {
            m.body.as_deref().is_some_and(|b| messages::same_body(&text.body, b)) && !adopted.contains(&m.sid)
        }))
    }

    /// Messages already recorded against another text to this number (never adopted twice).
    fn sids_already_adopted(&self, to: &str) -> crate::error::Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT twilio_sid FROM sms_notifications WHERE to_e164 = ?1 AND twilio_sid IS NOT NULL")?;
        let rows = stmt.query_map([to], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
