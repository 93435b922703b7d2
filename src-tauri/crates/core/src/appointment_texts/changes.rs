//! The text about a booking, a move or a cancellation on a one-desk clinic (and a desk's own
//! provisional changes): the rule is the core's (change_rule.rs, also the clinic server's); this
//! is its [`ChangeTextStore`] over the embedded SQLite file, in the change's own transaction, and
//! the note the person who made the change reads.

use super::change_rule::{self, ChangeRules, ChangeText, ChangeTextStore, PlannedText};
use super::context::{self, Ctx};
use super::{reminders, TextNote, TextNoteState};
use crate::appointments::Appointment;
use crate::error::{CoreError, Result};
use crate::sms::{outbox, templates, NewText, TextKind};
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use uuid::Uuid;

pub(crate) use super::change_rule::Change;

/// Withdraws what no longer fits, queues the text about `appointment` as it now is (and plans its
/// reminders), and says what happened. Never fails the change for a texting reason; a database
/// error is still an error (the transaction is the change's).
pub(crate) fn on_change(
    tx: &Connection,
    now: DateTime<Utc>,
    staff: Uuid,
    appointment: &Appointment,
    change: Change,
) -> Result<TextNote> {
    let ctx = Ctx::read(tx)?;
    let rules = ChangeRules {
        tz: ctx.tz,
        settle: ctx.rules.settle(),
        quiet: ctx.rules.quiet(),
        texting_set_up: ctx.texting_set_up,
    };
    let mut store = SqliteChangeTexts { tx, ctx: &ctx, now, staff };
    let done = crate::db::at_once(change_rule::on_change(&mut store, &rules, appointment, change, now))?;
    let (kind, id, skipped, waits_for_morning) = match done {
        ChangeText::NotTexted(why) => return Ok(TextNote::not_texted(why)),
        ChangeText::Queued { kind, id, skipped, waits_for_morning } => (kind, id, skipped, waits_for_morning),
    };
    if !matches!(change, Change::Cancelled) {
        reminders::plan_for_appointment(tx, &ctx, now, appointment)?;
    }
    // Reception's sentence about the patient first (consent, STOP), then the outbox's own reason
    // (another patient on the same number replied STOP, for example).
    if let Some(why) = context::patient_verdict(tx, appointment.patient_id, ctx.tz)? {
        return Ok(TextNote { state: TextNoteState::NotTexted, kind: Some(kind), message: why, text_id: Some(id) });
    }
    if let Some(why) = skipped {
        let mut chars = why.trim_end_matches('.').chars();
        let why: String = chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default();
        let message = format!("Not texted: {why}");
        return Ok(TextNote { state: TextNoteState::NotTexted, kind: Some(kind), message, text_id: Some(id) });
    }
    let what = match kind {
        TextKind::Confirmation => "Confirmation",
        TextKind::Reschedule => "Reschedule",
        _ => "Cancellation",
    };
    let message = match waits_for_morning {
        Some(at) => format!("{what} text queued; it goes at {} (quiet hours)", super::when::clock(at, ctx.tz)),
        None => format!("{what} text queued"),
    };
    Ok(TextNote { state: TextNoteState::Queued, kind: Some(kind), message, text_id: Some(id) })
}

/// Change texts in the one-desk clinic's SQLite file, in the change's transaction.
struct SqliteChangeTexts<'a> {
    tx: &'a Connection,
    ctx: &'a Ctx,
    now: DateTime<Utc>,
    staff: Uuid,
}

impl ChangeTextStore for SqliteChangeTexts<'_> {
    type Error = CoreError;

    async fn patient_was_told(&mut self, appointment: Uuid) -> Result<bool> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM sms_notifications WHERE appointment_id = ?1 AND kind IN ('confirmation', 'reschedule')
                               AND (state IN ('sending', 'sent', 'delivered') OR (state = 'pending' AND needs_reconcile = 1)))",
            )?
            .query_row([appointment.to_string()], |r| r.get(0))?)
    }

    async fn withdraw(&mut self, appointment: Uuid, kinds: &[TextKind], reason: &str) -> Result<u64> {
        let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        Ok(context::withdraw(self.tx, appointment, &kinds, reason, self.now)? as u64)
    }

    async fn render(&mut self, kind: TextKind, appointment: &Appointment) -> Result<String> {
        templates::render(self.tx, kind, &context::template_data(self.ctx, appointment, appointment.starts_at))
    }

    async fn queue(&mut self, appointment: &Appointment, text: &PlannedText) -> Result<(Uuid, Option<String>)> {
        let new = NewText {
            kind: text.kind,
            to: context::patient_phone(self.tx, appointment.patient_id)?,
            body: text.body.clone(),
            patient_id: Some(appointment.patient_id),
            appointment_id: Some(appointment.id),
            idempotency_key: text.idempotency_key.clone(),
            due_at: text.due_at,
            about_starts_at: Some(text.about_starts_at),
            reminder_rule: None,
        };
        let (id, _) = outbox::enqueue(self.tx, self.now, Some(self.staff), &new, true)?;
        if let Some(soonest) = text.news_before {
            // Upkeep's quiet-hours hold must see that this move is news before the morning.
            self.tx
                .prepare_cached("UPDATE sms_notifications SET news_before = ?2 WHERE id = ?1")?
                .execute(rusqlite::params![id.to_string(), crate::db::ts(soonest)])?;
        }
        // What was stored: the outbox may have skipped it for a reason of its own.
        let (state, why): (String, Option<String>) = self
            .tx
            .prepare_cached("SELECT state, error_message FROM sms_notifications WHERE id = ?1")?
            .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok((id, (state == "skipped").then(|| why.unwrap_or_default())))
    }
}
