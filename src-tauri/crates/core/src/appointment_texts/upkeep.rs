//! The appointment-text work of each outbox pass, before it claims anything: plan reminders,
//! tidy late ones, and hold what can wait while quiet hours last. Runs in the worker's fenced
//! transaction (the app's background task and `clinicdesk outbox run` both get it that way).

use super::context::Ctx;
use super::reminders;
use super::when::{clock, quiet_until};
use crate::db::ts;
use crate::error::Result;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Upkeep {
    pub reminders_planned: usize,
    pub reminders_held: usize,
    pub waiting_for_morning: usize,
}

pub(crate) fn run(tx: &Connection, now: DateTime<Utc>) -> Result<Upkeep> {
    let ctx = Ctx::read(tx)?;
    let reminders_planned = reminders::plan(tx, &ctx, now)?;
    let mut reminders_held = reminders::tidy_overdue(tx, &ctx, now)?;
    let mut waiting_for_morning = 0;
    if let Some(morning) = quiet_until(ctx.rules.quiet(), now, ctx.tz) {
        // Texts that can wait (about an appointment after the morning) go in the morning; a
        // reminder for an appointment before then is pointless by the time it could go.
        waiting_for_morning = tx
            .prepare_cached(
                "UPDATE sms_notifications SET next_attempt_at = ?2, updated_at = ?1
                 WHERE state = 'pending' AND needs_reconcile = 0 AND next_attempt_at <= ?1
                   AND kind IN ('confirmation', 'reschedule', 'cancellation', 'reminder')
                   AND coalesce(news_before, about_starts_at) > ?2",
            )?
            .execute(params![ts(now), ts(morning)])?;
        let reason = format!(
            "Not sent: it fell due in quiet hours, which end at {} — after the appointment starts.",
            clock(morning, ctx.tz)
        );
        reminders_held += tx
            .prepare_cached(
                "UPDATE sms_notifications SET state = 'skipped', error_message = ?3, final_at = ?1, updated_at = ?1, handled_at = ?1
                 WHERE state = 'pending' AND needs_reconcile = 0 AND next_attempt_at <= ?1 AND kind = 'reminder' AND about_starts_at <= ?2",
            )?
            .execute(params![ts(now), ts(morning), reason])?;
    }
    Ok(Upkeep { reminders_planned, reminders_held, waiting_for_morning })
}
