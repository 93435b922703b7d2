//! Recording what became of each text of a batch (one fenced commit per batch, see the worker).
//! Every UPDATE is guarded by `state = 'sending'`, so nothing but the claimed row changes.

use super::model::TextState;
use super::outbox;
use super::worker::{backoff, Claimed, OutboxConfig};
use crate::db::ts;
use crate::error::Result;
use crate::twilio::error::{explain_code, TwilioError};
use crate::twilio::http::MAX_RETRY_AFTER;
use crate::twilio::messages;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection};
use std::time::Duration as StdDuration;

pub(super) enum Decision {
    /// Twilio took the text: its SID is recorded before the text counts as sent.
    Accepted(messages::Message),
    /// Found in Twilio's records after an attempt without an answer: adopted, not resent.
    Adopted(messages::Message),
    Retry {
        err: TwilioError,
        /// The attempt may have reached Twilio: look in its records before any resend.
        reconcile: bool,
    },
    Failed(TwilioError),
    /// Not in Twilio's records after every attempt: certainly not sent, and no more tries.
    GaveUp,
    /// The patient's latest record says not to send (opted out, consent withdrawn, new number).
    Skipped(String),
    /// The clinic's Twilio setup is broken: the text waits, its attempt not counted.
    Held(TwilioError),
    /// Not attempted after all (the lock was lost before the request, or the patient's record
    /// could not be read): if the lock is still ours the text goes back to the queue, otherwise
    /// the new holder reconciles it.
    Abandoned,
}

pub(super) fn record_accepted(
    conn: &Connection,
    config: &OutboxConfig,
    now: DateTime<Utc>,
    id: &str,
    message: &messages::Message,
) -> Result<()> {
    let state = TextState::from_twilio(&message.status);
    let explanation = message.error_code.and_then(|c| explain_code(c as u32)).map(str::to_owned);
    conn.prepare_cached(
        "UPDATE sms_notifications SET state = ?2, twilio_sid = ?3, twilio_status = ?4, error_code = ?5, error_message = ?6, needs_reconcile = 0,
                sent_at = coalesce(sent_at, ?7), next_poll_at = ?8, final_at = CASE WHEN ?9 THEN ?7 ELSE NULL END, updated_at = ?7
         WHERE id = ?1 AND state = 'sending'")?
    .execute(
        params![
            id,
            state.as_str(),
            message.sid,
            message.status,
            message.error_code,
            explanation,
            ts(now),
            ts(now + Duration::from_std(config.first_poll).unwrap_or(Duration::seconds(2))),
            state.is_final(),
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
        TwilioError::Api { retry_after: Some(r), .. } => {
            Duration::from_std((*r).min(MAX_RETRY_AFTER)).unwrap_or_default()
        }
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
    finish(conn, now, &text.id, "failed", err.code(), &message)?;
    match err.code() {
        Some(21610) => outbox::opt_out(conn, &text.to, now, now)?,
        Some(code @ (21614 | 21211)) => mark_phone_problem(conn, now, &text.to, code)?,
        _ => {}
    }
    Ok(())
}

/// Twilio refused the number itself (21614 not a mobile, 21211 not a valid number): every
/// patient with it shows on reception's worklist until the number is corrected. In the same
/// transaction as the text's failure, so the two never disagree.
fn mark_phone_problem(conn: &Connection, now: DateTime<Utc>, number: &str, code: u32) -> Result<()> {
    let problem = match code {
        21614 => format!("Twilio says {number} is not a mobile number: correct it or phone the patient."),
        _ => format!("Twilio says {number} is not a valid phone number: correct it or phone the patient."),
    };
    conn.execute(
        "UPDATE patients SET phone_problem = ?2, updated_at = ?3 WHERE phone_e164 = ?1",
        params![number, problem, ts(now)],
    )?;
    Ok(())
}

pub(super) fn record_gave_up(conn: &Connection, now: DateTime<Utc>, text: &Claimed) -> Result<()> {
    let message = format!(
        "Twilio did not confirm this text in {} attempts, and it is not in Twilio's records, so it was not sent. Check the Twilio setup, then send it again if it is still needed.",
        text.attempts.saturating_sub(1)
    );
    finish(conn, now, &text.id, "failed", None, &message)
}

pub(super) fn record_skipped(conn: &Connection, now: DateTime<Utc>, text: &Claimed, reason: &str) -> Result<()> {
    finish(conn, now, &text.id, "skipped", None, reason)
}

/// The text goes back to the queue, due at once, without using up an attempt: the problem is
/// the clinic's setup, and it will be sent as soon as that works again.
pub(super) fn record_held(conn: &Connection, now: DateTime<Utc>, text: &Claimed, err: &TwilioError) -> Result<()> {
    conn.execute(
        "UPDATE sms_notifications SET state = 'pending', attempts = max(attempts - 1, 0), next_attempt_at = ?2,
                error_code = ?3, error_message = ?4, updated_at = ?2 WHERE id = ?1 AND state = 'sending'",
        params![text.id, ts(now), err.code(), format!("Waiting: sending is paused. {}", err.explain())],
    )?;
    Ok(())
}

/// Back to the queue, due at once, attempt not counted: it was claimed but never sent.
pub(super) fn record_put_back(conn: &Connection, now: DateTime<Utc>, text: &Claimed) -> Result<()> {
    conn.execute(
        "UPDATE sms_notifications SET state = 'pending', attempts = max(attempts - 1, 0), next_attempt_at = ?2, updated_at = ?2
         WHERE id = ?1 AND state = 'sending'",
        params![text.id, ts(now)],
    )?;
    Ok(())
}

/// True when a text already carries this Twilio SID (each message belongs to one text).
pub(super) fn sid_taken(conn: &Connection, sid: &str) -> Result<bool> {
    Ok(conn.query_row("SELECT EXISTS(SELECT 1 FROM sms_notifications WHERE twilio_sid = ?1)", [sid], |r| r.get(0))?)
}

fn finish(
    conn: &Connection,
    now: DateTime<Utc>,
    id: &str,
    state: &str,
    code: Option<u32>,
    message: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE sms_notifications SET state = ?2, error_code = ?3, error_message = ?4, final_at = ?5, updated_at = ?5
         WHERE id = ?1 AND state = 'sending'",
        params![id, state, code, message, ts(now)],
    )?;
    Ok(())
}
