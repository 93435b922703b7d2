//! Recording what became of each text of a batch (one commit per batch, see the worker).

use super::model::TextState;
use super::outbox;
use super::worker::{backoff, Claimed, OutboxConfig};
use crate::db::ts;
use crate::error::Result;
use crate::twilio::error::{explain_code, TwilioError};
use crate::twilio::messages;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection};
use std::time::Duration as StdDuration;

pub(super) enum Decision {
    Accepted(messages::Message),
    Adopted(messages::Message),
    Retry { err: TwilioError, reconcile: bool },
    Failed(TwilioError),
}

pub(super) fn record_accepted(
    conn: &Connection,
    config: &OutboxConfig,
    now: DateTime<Utc>,
    id: &str,
    message: &messages::Message,
) -> Result<()> {
    let state = match message.status.as_str() {
        "delivered" => TextState::Delivered,
        "undelivered" => TextState::Undelivered,
        "failed" => TextState::Failed,
        _ => TextState::Sent,
    };
    let explanation = message.error_code.and_then(|c| explain_code(c as u32)).map(str::to_owned);
    conn.execute(
        "UPDATE sms_notifications SET state = ?2, twilio_sid = ?3, twilio_status = ?4, error_code = ?5, error_message = ?6, needs_reconcile = 0,
                sent_at = coalesce(sent_at, ?7), next_poll_at = ?8, final_at = CASE WHEN ?9 THEN ?7 ELSE NULL END, updated_at = ?7
         WHERE id = ?1",
        params![
            id, state.as_str(), message.sid, message.status, message.error_code, explanation, ts(now),
            ts(now + Duration::from_std(config.first_poll).unwrap_or(Duration::seconds(2))), state.is_final(),
        ],
    )?;
    Ok(())
}

pub(super) fn record_retry(
    conn: &Connection,
    config: &OutboxConfig,
    now: DateTime<Utc>,
    text: &Claimed,
    err: &TwilioError,
    reconcile: bool,
) -> Result<()> {
    let retry_after = match err {
        TwilioError::Api { retry_after: Some(r), .. } => Duration::from_std(*r).unwrap_or_default(),
        _ => Duration::zero(),
    };
    let next = now
        + backoff(config.retry_base, text.attempts.saturating_sub(1), StdDuration::from_secs(30 * 60)).max(retry_after);
    conn.execute(
        "UPDATE sms_notifications SET state = 'pending', needs_reconcile = max(needs_reconcile, ?2), next_attempt_at = ?3,
                error_code = ?4, error_message = ?5, updated_at = ?6 WHERE id = ?1 AND state = 'sending'",
        params![text.id, reconcile, ts(next), err.code(), err.explain(), ts(now)],
    )?;
    Ok(())
}

pub(super) fn record_failed(conn: &Connection, now: DateTime<Utc>, text: &Claimed, err: &TwilioError) -> Result<()> {
    let message = if err.is_retryable() {
        format!("Twilio could not take the text after {} attempts. {}", text.attempts, err.explain())
    } else {
        err.explain()
    };
    conn.execute(
        "UPDATE sms_notifications SET state = 'failed', error_code = ?2, error_message = ?3, final_at = ?4, updated_at = ?4 WHERE id = ?1 AND state = 'sending'",
        params![text.id, err.code(), message, ts(now)],
    )?;
    if err.code() == Some(21610) {
        outbox::opt_out(conn, &text.to, now)?;
    }
    Ok(())
}
