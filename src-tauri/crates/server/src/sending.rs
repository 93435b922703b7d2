//! The elected sender's work (sender.rs holds the lease): texts whose time has come go to Twilio,
//! one request each, and what Twilio said is written under the lease's generation.
//!
//! Exactly once: a text whose earlier attempt may have reached Twilio (no answer, or a previous
//! sender died mid-send) is first looked for in Twilio's list of messages to that number since the
//! attempt began; found, it is recorded as sent and not sent again.

use crate::error::Result;
use crate::sender::{Claimed, Outcome, SenderLease};
use crate::twilio_setup::Texting;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use clinicdesk_core::appointment_texts::rules::QuietHours;
use clinicdesk_core::appointment_texts::when::{quiet_hold, QuietVerdict};
use clinicdesk_core::sms::{TextKind, TextState};
use clinicdesk_core::twilio::messages;

/// Texts claimed per pass.
const BATCH: i64 = 20;
/// After this many attempts without an answer, the text is failed for reception to see.
const MAX_ATTEMPTS: i32 = 6;
/// How far before an attempt's start a reconcile looks (Twilio's clock may differ from ours).
const CLOCK_SLACK: Duration = Duration::minutes(10);

/// How often a sent text's delivery is asked about.
const DELIVERY_CHECK: Duration = Duration::seconds(60);

/// One pass: claims what is due and sends it, then asks Twilio what became of texts sent before.
/// Returns how many texts were sent or dealt with.
pub async fn pass(lease: &mut SenderLease, texting: &Texting, now: DateTime<Utc>) -> Result<usize> {
    let reclaimed = lease.reclaim_unfinished(now).await?;
    if reclaimed > 0 {
        tracing::warn!(reclaimed, "texts whose result was not written are checked with Twilio again");
    }
    let sent = send_due(lease, texting, now).await?;
    follow_delivery(lease, texting, now).await?;
    Ok(sent)
}

/// Delivered, undelivered or failed, with Twilio's reason in reception's words; still on its way:
/// looked at again a minute later (for up to three days after it was queued).
async fn follow_delivery(lease: &mut SenderLease, texting: &Texting, now: DateTime<Utc>) -> Result<()> {
    for (id, sid) in lease.awaiting_delivery(now, DELIVERY_CHECK, BATCH).await? {
        let message = match messages::fetch(&texting.http, &texting.account, &sid).await {
            Ok(message) => message,
            Err(e) => {
                // Looked at again a minute later, like a text still on its way, so one text Twilio
                // cannot find never takes every pass's turn.
                tracing::debug!(%id, error = %e.explain(), "delivery of a text could not be checked now");
                if !lease.delivered(id, "sent", None, None, Utc::now()).await? {
                    break;
                }
                continue;
            }
        };
        let state = TextState::from_twilio(&message.status);
        let (state, code, why) = match state {
            TextState::Delivered => ("delivered", None, None),
            TextState::Undelivered | TextState::Failed => {
                let code = message.error_code.and_then(|c| u32::try_from(c).ok());
                let why = code
                    .and_then(clinicdesk_core::twilio::error::explain_code)
                    .map(str::to_string)
                    .or(message.error_message.clone())
                    .unwrap_or_else(|| "The text did not reach the patient's phone.".into());
                (if state == TextState::Failed { "failed" } else { "undelivered" }, code.map(|c| c as i32), Some(why))
            }
            // Still on its way: touch it, so the next look comes a minute later.
            _ => ("sent", None, None),
        };
        if !lease.delivered(id, state, code, why.as_deref(), Utc::now()).await? {
            break;
        }
    }
    Ok(())
}

/// The clinic's quiet hours in its own zone, read once per pass.
pub struct Quiet {
    pub hours: Option<QuietHours>,
    pub zone: Tz,
}

async fn send_due(lease: &mut SenderLease, texting: &Texting, now: DateTime<Utc>) -> Result<usize> {
    let claimed = lease.claim(now, BATCH).await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let quiet = lease.quiet_hours().await?;
    for text in &claimed {
        let outcome = deal_with(texting, lease, text, &quiet, now).await;
        if !lease.finish(text.id, &outcome, Utc::now()).await? {
            tracing::warn!(id = %text.id, "a text's result was not written: this server is no longer the sender");
            break;
        }
    }
    Ok(claimed.len())
}

async fn deal_with(
    texting: &Texting,
    lease: &SenderLease,
    text: &Claimed,
    quiet: &Quiet,
    now: DateTime<Utc>,
) -> Outcome {
    if text.was_in_flight {
        let since = text.attempt_started_at.unwrap_or(now) - CLOCK_SLACK;
        match messages::list_to_since(&texting.http, &texting.account, &text.to_phone, since, 5).await {
            Ok(found) => {
                // Two identical texts to one number close together: one found at Twilio is this
                // text only if no other text already claimed it.
                let sids: Vec<String> = found.iter().map(|m| m.sid.clone()).collect();
                let taken = match lease.sids_taken(&sids, text.id).await {
                    Ok(taken) => taken,
                    Err(e) => return retry(text, now, true, format!("Could not check this text's record: {e}")),
                };
                if let Some(sent) = found.iter().find(|m| {
                    !taken.contains(&m.sid) && m.body.as_deref().is_some_and(|b| messages::same_body(&text.body, b))
                }) {
                    tracing::info!(id = %text.id, "a text whose outcome was unknown had reached Twilio; not sent again");
                    return Outcome::Sent { sid: sent.sid.clone() };
                }
            }
            Err(e) => {
                // Not knowing is not proof it never went: try the reconcile again later.
                return retry(
                    text,
                    now,
                    true,
                    format!("Could not check with Twilio whether this text went: {}", e.explain()),
                );
            }
        }
    }
    if text.about_starts_at.is_some_and(|starts| starts <= now) {
        return Outcome::Skipped { message: "Not sent: the appointment had begun before this text could go.".into() };
    }
    if let Some(held) = held_for_quiet_hours(text, quiet, now) {
        return held;
    }
    match messages::create(&texting.http, &texting.account, &text.to_phone, &text.body, None).await {
        Ok(message) => Outcome::Sent { sid: message.sid },
        Err(e) if e.outcome_unknown() => retry(text, now, true, e.explain()),
        Err(e) if e.is_retryable() => retry(text, now, false, e.explain()),
        Err(e) => Outcome::Failed { code: e.code().map(|c| c as i32), message: e.explain() },
    }
}

/// A text that comes round in quiet hours waits for the morning, goes, or (a reminder too late)
/// is dropped, by the core's rule (`quiet_hold`); asked only once a text that may already be at
/// Twilio was looked for there and not found.
fn held_for_quiet_hours(text: &Claimed, quiet: &Quiet, now: DateTime<Utc>) -> Option<Outcome> {
    let matters = text.news_before.or(text.about_starts_at);
    match quiet_hold(quiet.hours, quiet.zone, now, TextKind::parse(&text.kind), matters) {
        QuietVerdict::Go => None,
        QuietVerdict::Wait { until, message } => Some(Outcome::Wait { at: until, message }),
        QuietVerdict::Skip(message) => Some(Outcome::Skipped { message }),
    }
}

/// Backs off 30 s, 1, 2, 4, 8 min…; gives up after MAX_ATTEMPTS (unless Twilio may have the text:
/// then it keeps reconciling rather than declaring a text failed that the patient may have).
fn retry(text: &Claimed, now: DateTime<Utc>, reconcile: bool, message: String) -> Outcome {
    if text.attempts >= MAX_ATTEMPTS && !reconcile {
        return Outcome::Failed {
            code: None,
            message: format!("Twilio could not be reached after {MAX_ATTEMPTS} tries: {message}"),
        };
    }
    let wait = Duration::seconds(30 << text.attempts.clamp(0, 8));
    Outcome::Retry { at: now + wait.min(Duration::hours(1)), reconcile, message }
}
