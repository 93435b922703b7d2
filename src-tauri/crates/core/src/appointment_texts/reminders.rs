//! Reminders: planned a day ahead into the outbox (pending until due), so a move or a cancellation
//! can withdraw them and reception sees them coming.
//!
//! Rules (`sms.reminders`, e.g. "24h,2h"): one reminder per rule per appointment time (the
//! idempotency key names both). The planner keeps a high-water mark (`reminder_plan`): each pass
//! plans the reminders falling due between the mark and now + [`HORIZON`]; after downtime the gap
//! is planned too, so missed reminders are caught up — never for an appointment that has started,
//! and never one whose rule fell due before the appointment was booked (its confirmation said it
//! all). Overdue reminders are then tidied (`tidy_overdue`): of several overdue for one
//! appointment only the latest rule's goes, and none goes within a short gap of another.

use super::context::{self, Ctx};
use super::rules::ReminderRule;
use super::when::{clock, quiet_until, reminder_due};
use crate::appointments::{Appointment, AppointmentStatus};
use crate::db::ts;
use crate::error::Result;
use crate::sms::{outbox, templates, NewText, TextKind};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection, OptionalExtension};

/// How far ahead reminders are put in the outbox.
pub const HORIZON: Duration = Duration::hours(24);
/// Two reminders for one appointment never go closer together than this (or than half the gap
/// between the two rules, if that is shorter: rules "2h,1h" still both go).
pub const MIN_GAP: Duration = Duration::hours(3);

/// What planning a reminder needs of an appointment: one row of [`CANDIDATES`].
pub(crate) struct Candidate {
    id: String,
    patient_id: String,
    phone: String,
    patient_name: String,
    doctor_name: String,
    booking_ref: String,
    starts_at: DateTime<Utc>,
    booked_at: DateTime<Utc>,
}

/// Open appointments starting in a range, with what their reminders need, for patients who can be
/// texted: a patient without consent (or who replied STOP) gets no reminder rows at all — their
/// booking's confirmation already shows reception why they are not texted.
const CANDIDATES: &str =
    "SELECT a.id, a.patient_id, p.phone_e164, p.full_name, u.full_name, a.booking_ref, a.starts_at, a.created_at
     FROM appointments a INDEXED BY appointments_time
     JOIN patients p ON p.id = a.patient_id JOIN doctors d ON d.id = a.doctor_id JOIN users u ON u.id = d.user_id
     WHERE a.starts_at > ?1 AND a.starts_at <= ?2 AND a.status IN ('scheduled', 'confirmed')
       AND p.sms_consent = 1 AND p.opted_out_at IS NULL";

fn candidates(tx: &Connection, after: DateTime<Utc>, until: DateTime<Utc>) -> Result<Vec<Candidate>> {
    let mut stmt = tx.prepare_cached(CANDIDATES)?;
    let rows = stmt.query_map(params![ts(after), ts(until)], |r| {
        Ok(Candidate {
            id: r.get(0)?,
            patient_id: r.get(1)?,
            phone: r.get(2)?,
            patient_name: r.get(3)?,
            doctor_name: r.get(4)?,
            booking_ref: r.get(5)?,
            starts_at: r.get(6)?,
            booked_at: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Plans the reminders due up to now + HORIZON that earlier passes have not planned. Returns how
/// many texts were added.
pub(crate) fn plan(tx: &Connection, ctx: &Ctx, now: DateTime<Utc>) -> Result<usize> {
    let rules = ctx.rules.reminder_rules();
    let until = now + HORIZON;
    let mark: Option<DateTime<Utc>> =
        tx.query_row("SELECT planned_until FROM reminder_plan WHERE id = 1", [], |r| r.get(0)).optional()?;
    // The first pass plans from now: an upgraded clinic is not texted about the past.
    let from = mark.unwrap_or(now);
    let mut added = 0;
    if from < until && ctx.texting_set_up {
        for rule in &rules {
            // Whole-day rules keep the clock time, so their offset varies by an hour across DST.
            let slack = Duration::hours(2);
            let (lo, hi) = (from + rule.duration() - slack, until + rule.duration() + slack);
            for c in candidates(tx, lo.max(now), hi)? {
                let due = reminder_due(*rule, c.starts_at, ctx.tz);
                if due > from && due <= until && plan_one(tx, ctx, now, &c, *rule, due)? {
                    added += 1;
                }
            }
        }
    }
    // Without Twilio nothing is planned, and the mark stays at now: once texting is set up the
    // coming day's reminders are planned at the next pass.
    let reached = if ctx.texting_set_up { until } else { now };
    tx.execute(
        "INSERT INTO reminder_plan (id, planned_until) VALUES (1, ?1)
         ON CONFLICT(id) DO UPDATE SET planned_until = max(planned_until, excluded.planned_until)",
        [ts(reached)],
    )?;
    Ok(added)
}

/// After a booking or a move: the reminders for the appointment's (new) time that fall due before
/// the planner's mark (later ones are the planner's).
pub(crate) fn plan_for_appointment(tx: &Connection, ctx: &Ctx, now: DateTime<Utc>, a: &Appointment) -> Result<()> {
    let mark: Option<DateTime<Utc>> =
        tx.query_row("SELECT planned_until FROM reminder_plan WHERE id = 1", [], |r| r.get(0)).optional()?;
    let Some(mark) = mark else { return Ok(()) };
    let rules = ctx.rules.reminder_rules();
    if rules.is_empty() || !matches!(a.status, AppointmentStatus::Scheduled | AppointmentStatus::Confirmed) {
        return Ok(());
    }
    let one =
        candidates(tx, a.starts_at - Duration::seconds(1), a.starts_at)?.into_iter().find(|c| c.id == a.id.to_string());
    let Some(c) = one else { return Ok(()) };
    for rule in rules {
        let due = reminder_due(rule, a.starts_at, ctx.tz);
        if due > now && due <= mark {
            plan_one(tx, ctx, now, &c, rule, due)?;
        }
    }
    Ok(())
}

/// Whether a skipped reminder's reason is the planner's own (quiet hours lasting past the visit,
/// one reminder not two): nothing for reception to deal with, as on one desk (`skip_handled`). A
/// desk keeping the clinic server's texts marks these handled.
pub fn skipped_by_plan(reason: &str) -> bool {
    reason.starts_with("Not sent: this reminder fell due in quiet hours")
        || reason.ends_with("(one reminder, not two).")
}

/// When a reminder goes, as planned at some moment: the rule once, for one desk's planner (here)
/// and the clinic server's (`clinicdesk-server`'s reminders.rs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReminderTiming {
    /// No reminder of this rule: the appointment has begun, or the rule fell due before it was
    /// booked (its confirmation said it all).
    NotThisOne,
    /// It goes then: when it falls due, or when quiet hours end if that is before the appointment.
    At(DateTime<Utc>),
    /// It fell due in quiet hours that last until the appointment starts: kept as skipped with
    /// these words for reception, rather than a text at night.
    QuietUntilAfter(String),
}

/// When the reminder falling due at `due` for an appointment at `starts_at`, booked at
/// `booked_at`, goes, judged at `now`.
pub fn timing(
    due: DateTime<Utc>,
    starts_at: DateTime<Utc>,
    booked_at: DateTime<Utc>,
    now: DateTime<Utc>,
    quiet: Option<super::rules::QuietHours>,
    tz: chrono_tz::Tz,
) -> ReminderTiming {
    if starts_at <= now || due < booked_at {
        return ReminderTiming::NotThisOne;
    }
    match quiet_until(quiet, due, tz) {
        None => ReminderTiming::At(due),
        Some(morning) if morning < starts_at => ReminderTiming::At(morning),
        Some(morning) => ReminderTiming::QuietUntilAfter(format!(
            "Not sent: this reminder fell due in quiet hours, which end at {} — after the appointment starts.",
            clock(morning, tz)
        )),
    }
}

/// Queues one reminder (or records why it cannot go). Returns whether a text was added.
fn plan_one(
    tx: &Connection,
    ctx: &Ctx,
    now: DateTime<Utc>,
    c: &Candidate,
    rule: ReminderRule,
    due: DateTime<Utc>,
) -> Result<bool> {
    let (send_at, skip) = match timing(due, c.starts_at, c.booked_at, now, ctx.rules.quiet(), ctx.tz) {
        ReminderTiming::NotThisOne => return Ok(false),
        ReminderTiming::At(at) => (at, None),
        ReminderTiming::QuietUntilAfter(why) => (due, Some(why)),
    };
    let data = context::data_for(ctx, &c.patient_name, &c.doctor_name, &c.booking_ref, c.starts_at);
    let text = NewText {
        kind: TextKind::Reminder,
        to: c.phone.clone(),
        body: templates::render(tx, TextKind::Reminder, &data)?,
        patient_id: uuid::Uuid::parse_str(&c.patient_id).ok(),
        appointment_id: uuid::Uuid::parse_str(&c.id).ok(),
        idempotency_key: format!("appointment:{}:reminder:{}:{}", c.id, rule.label(), ts(c.starts_at)),
        due_at: send_at,
        about_starts_at: Some(c.starts_at),
        reminder_rule: Some(rule.label()),
    };
    // The candidates are patients who agreed to texts and never replied STOP: judged already.
    let (id, mut added) = outbox::enqueue_checked(tx, now, None, &text, None)?;
    if !added {
        // Moved away and back again: the reminder withdrawn by the first move is due once more.
        added = tx
            .prepare_cached(
                "UPDATE sms_notifications SET state = 'pending', error_message = NULL, final_at = NULL, handled_at = NULL,
                        body = ?2, next_attempt_at = ?3, updated_at = ?4
                 WHERE id = ?1 AND state = 'skipped' AND attempts = 0 AND twilio_sid IS NULL AND handled_by IS NULL
                   AND error_message LIKE 'Withdrawn: the appointment was moved%'",
            )?
            .execute(params![id.to_string(), text.body, ts(send_at), ts(now)])?
            == 1;
    }
    if let (true, Some(reason)) = (added, skip) {
        skip_handled(tx, &id.to_string(), &reason, now)?;
    }
    Ok(added)
}

fn skip_handled(tx: &Connection, id: &str, reason: &str, now: DateTime<Utc>) -> Result<()> {
    tx.prepare_cached(
        "UPDATE sms_notifications SET state = 'skipped', error_message = ?2, final_at = ?3, updated_at = ?3, handled_at = ?3
         WHERE id = ?1 AND state = 'pending' AND needs_reconcile = 0",
    )?
    .execute(params![id, reason, ts(now)])?;
    Ok(())
}

/// Before the worker claims: of the reminders overdue for one appointment time only the latest
/// rule's goes; none goes within the minimum gap of one already sent. Returns how many were held back.
pub(crate) fn tidy_overdue(tx: &Connection, ctx: &Ctx, now: DateTime<Utc>) -> Result<usize> {
    let rules = ctx.rules.reminder_rules();
    let gap = min_gap(&rules);
    let mut stmt = tx.prepare_cached(
        "SELECT id, appointment_id, about_starts_at, reminder_rule FROM sms_notifications
         WHERE state = 'pending' AND needs_reconcile = 0 AND kind = 'reminder' AND next_attempt_at <= ?1
           AND appointment_id IS NOT NULL AND about_starts_at IS NOT NULL
         ORDER BY appointment_id, about_starts_at, next_attempt_at DESC",
    )?;
    let mut overdue: Vec<(String, String, String, String)> = stmt
        .query_map([ts(now)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, Option<String>>(3)?.unwrap_or_default()))
        })?
        .collect::<Result<_, _>>()?;
    // Within an appointment time the shortest rule first (the reminder nearest the appointment
    // goes), whatever their send times: quiet hours can make them equal.
    let length = |rule: &str| {
        super::rules::parse_reminders(rule).ok().and_then(|r| r.first().copied()).map_or(i64::MAX, |r| r.minutes)
    };
    overdue.sort_by(|a, b| (&a.1, &a.2).cmp(&(&b.1, &b.2)).then_with(|| length(&a.3).cmp(&length(&b.3))));
    let mut held = 0;
    // The first of each group is the one that may go; `group` remembers it and why it was held back, if it was.
    let mut group: Option<(String, String, String, Option<String>)> = None;
    for (id, appointment, about, rule) in overdue {
        if let Some((ga, gb, kept_rule, first_held)) = &group {
            if *ga == appointment && *gb == about {
                let reason = first_held.clone().unwrap_or_else(|| {
                    format!("Not sent: it was late, and the {kept_rule} reminder for the same appointment went instead (one reminder, not two).")
                });
                skip_handled(tx, &id, &reason, now)?;
                held += 1;
                continue;
            }
        }
        let recent: Option<(String, DateTime<Utc>)> = tx
            .prepare_cached(
                "SELECT reminder_rule, sent_at FROM sms_notifications
                 WHERE appointment_id = ?1 AND about_starts_at = ?2 AND kind = 'reminder' AND sent_at IS NOT NULL AND sent_at > ?3
                 ORDER BY sent_at DESC LIMIT 1",
            )?
            .query_row(params![appointment, about, ts(now - gap)], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let first_held = recent.map(|(other, at)| {
            format!("Not sent: the {other} reminder went out at {}, too recently for a second one.", clock(at, ctx.tz))
        });
        if let Some(reason) = &first_held {
            skip_handled(tx, &id, reason, now)?;
            held += 1;
        }
        group = Some((appointment, about, rule, first_held));
    }
    Ok(held)
}

/// The shortest gap allowed between two reminders for one appointment.
pub fn min_gap(rules: &[ReminderRule]) -> Duration {
    rules.windows(2).map(|w| (w[0].duration() - w[1].duration()) / 2).fold(MIN_GAP, |a, b| a.min(b))
}
