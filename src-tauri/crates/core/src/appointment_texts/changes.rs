//! The text about a booking, a move or a cancellation, written in the change's own transaction.
//!
//! Quick successive edits send one text about the final state: a change text waits
//! `sms.settle_seconds` before it may go, and the next change withdraws it while it waits. Which
//! text replaces it depends on what the patient has already been told: a move of an appointment
//! whose confirmation never went out is confirmed at the new time (not "rescheduled"), and a
//! cancellation of one the patient never heard about sends nothing.

use super::context::{self, Ctx};
use super::when::{moment, quiet_until};
use super::{reminders, TextNote, TextNoteState};
use crate::appointments::Appointment;
use crate::error::Result;
use crate::sms::{outbox, templates, NewText, TextKind};
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use uuid::Uuid;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Change {
    Booked,
    Moved { from: DateTime<Utc> },
    Cancelled,
}

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
    let told = patient_was_told(tx, appointment.id)?;
    let withdrawn_reason = match change {
        Change::Booked => None,
        Change::Moved { .. } => Some(format!(
            "Withdrawn: the appointment was moved to {} before this text went out; the text about the new time replaces it.",
            moment(appointment.starts_at, ctx.tz)
        )),
        Change::Cancelled => Some("Withdrawn: the appointment was cancelled before this text went out.".to_owned()),
    };
    let mut withdrawn_unsent_news = 0;
    if let Some(reason) = &withdrawn_reason {
        withdrawn_unsent_news = context::withdraw(tx, appointment.id, &["confirmation", "reschedule"], reason, now)?;
        // A video link waiting to go names the old time's room (a move draws new names): withdrawn
        // too, or a move away and back would send a link that opens nothing.
        context::withdraw(tx, appointment.id, &["reminder", "invite"], reason, now)?;
    }
    if !ctx.texting_set_up {
        return Ok(TextNote::not_texted("Not texted: texting is not set up yet (Settings, Twilio)"));
    }
    let kind = match change {
        Change::Booked => TextKind::Confirmation,
        Change::Moved { .. } if told => TextKind::Reschedule,
        Change::Moved { .. } => TextKind::Confirmation,
        Change::Cancelled if told || withdrawn_unsent_news == 0 => TextKind::Cancellation,
        Change::Cancelled => {
            return Ok(TextNote::not_texted(
                "Not texted: the confirmation had not gone out yet, so it was withdrawn and the patient never heard of this appointment",
            ))
        }
    };
    let verdict = context::patient_verdict(tx, appointment.patient_id, ctx.tz)?;
    let note = queue(tx, &ctx, now, staff, appointment, kind, change)?;
    if !matches!(change, Change::Cancelled) {
        reminders::plan_for_appointment(tx, &ctx, now, appointment)?;
    }
    Ok(match verdict {
        Some(why) => TextNote { state: TextNoteState::NotTexted, message: why, ..note },
        None => note,
    })
}

/// True if a confirmation or reschedule about this appointment has reached Twilio (or may have:
/// an attempt in doubt counts, since the patient may have it).
fn patient_was_told(conn: &Connection, appointment: Uuid) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM sms_notifications WHERE appointment_id = ?1 AND kind IN ('confirmation', 'reschedule')
                           AND (state IN ('sending', 'sent', 'delivered') OR (state = 'pending' AND needs_reconcile = 1)))",
        )?
        .query_row([appointment.to_string()], |r| r.get(0))?)
}

fn queue(
    tx: &Connection,
    ctx: &Ctx,
    now: DateTime<Utc>,
    staff: Uuid,
    appointment: &Appointment,
    kind: TextKind,
    change: Change,
) -> Result<TextNote> {
    let body = templates::render(tx, kind, &context::template_data(ctx, appointment, appointment.starts_at))?;
    // The earliest appointment time the patient may act on: a move from 07:30 tomorrow is news
    // before the morning even if the new time is next week.
    let soonest = match change {
        Change::Moved { from } => from.min(appointment.starts_at),
        _ => appointment.starts_at,
    };
    let mut due = now + ctx.rules.settle();
    let mut waits_for_morning = None;
    if let Some(morning) = quiet_until(ctx.rules.quiet(), due, ctx.tz) {
        // Quiet hours: the text waits for the morning, unless the appointment comes first.
        if morning < soonest {
            due = morning;
            waits_for_morning = Some(morning);
        }
    }
    let text = NewText {
        kind,
        to: context::patient_phone(tx, appointment.patient_id)?,
        body,
        patient_id: Some(appointment.patient_id),
        appointment_id: Some(appointment.id),
        idempotency_key: match kind {
            TextKind::Cancellation => format!("appointment:{}:cancelled", appointment.id),
            _ => format!("appointment:{}:v{}:{}", appointment.id, appointment.version, kind.as_str()),
        },
        due_at: due,
        about_starts_at: Some(appointment.starts_at),
        reminder_rule: None,
    };
    let (id, _) = outbox::enqueue(tx, now, Some(staff), &text, true)?;
    if soonest < appointment.starts_at {
        // Upkeep's quiet-hours hold must see that this move is news before the morning.
        tx.prepare_cached("UPDATE sms_notifications SET news_before = ?2 WHERE id = ?1")?
            .execute(rusqlite::params![id.to_string(), crate::db::ts(soonest)])?;
    }
    // The note follows what was stored: the outbox may have skipped it for a reason of its own
    // (another patient on the same number replied STOP, for example).
    let (state, why): (String, Option<String>) = tx
        .prepare_cached("SELECT state, error_message FROM sms_notifications WHERE id = ?1")?
        .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if state == "skipped" {
        let why = why.unwrap_or_default();
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
