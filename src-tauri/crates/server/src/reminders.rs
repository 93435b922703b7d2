//! Reminders on the clinic server: the elected sender plans, about once a minute, the reminders
//! falling due within the coming day (`sms.reminders`, default 24h and 2h before), into the same
//! outbox as every other text, so a move or a cancellation withdraws them (texts.rs) and the
//! sender sends them once.
//!
//! One reminder per rule per appointment time: the idempotency key names the rule and the
//! version, so planning again changes nothing and a moved appointment (a new version) gets
//! reminders for its new time; a new version at the same time (a visit confirmed by a reply)
//! finds its reminder already there.
//! Never for an appointment that has begun, never a rule that fell due before the booking was
//! made (its confirmation said it all), never more than an hour late (after the server was down),
//! never in quiet hours unless the morning comes before the appointment (otherwise kept skipped
//! with reception's words: the core's `reminders::timing`, as on one desk), and one reminder, not
//! two, within the clinic's minimum gap (core `reminders::min_gap`: the rule nearer the visit
//! goes, a waiting one of a longer rule is withdrawn); patients without consent, or who replied
//! STOP, get none. A reminder is inserted only while its appointment is
//! still that version and open (its row held for the statement), so a concurrent move or
//! cancellation never leaves one behind for the old time.

use crate::error::Result;
use crate::settings;
use crate::texts;
use chrono::{DateTime, Duration, Utc};
use clinicdesk_core::appointment_texts::reminders::{min_gap, timing, ReminderTiming};
use clinicdesk_core::appointment_texts::rules::{parse_reminders, DEFAULT_REMINDERS, KEY_REMINDERS};
use clinicdesk_core::appointment_texts::when::reminder_due;
use clinicdesk_core::sms::templates::TemplateName;
use tokio_postgres::GenericClient;
use uuid::Uuid;

/// How far ahead reminders are put in the outbox.
pub const HORIZON: Duration = Duration::hours(24);
/// A reminder that fell due while nobody planned it still goes within this time.
const CATCH_UP: Duration = Duration::hours(1);

/// Arbitrary, fixed: the advisory lock that makes planning and a change of the reminder times take
/// turns ("CDREMIND" as bytes).
const REMINDER_TIMES_LOCK: i64 = 0x4344_5245_4d49_4e44;

/// Holds the reminder times until the caller's transaction ends: a plan run meanwhile cannot queue
/// a reminder of a time being dropped after the drop withdrew the waiting ones, and a change waits
/// for a plan under way, then withdraws what it queued. Run both in a transaction.
pub async fn hold_reminder_times(db: &impl GenericClient) -> Result<()> {
    db.execute("SELECT pg_advisory_xact_lock($1)", &[&REMINDER_TIMES_LOCK]).await?;
    Ok(())
}

/// Plans the reminders due up to `now + HORIZON`. Returns how many texts were added.
pub async fn plan(db: &impl GenericClient, now: DateTime<Utc>) -> Result<usize> {
    hold_reminder_times(db).await?;
    if crate::migration::under_way(db).await? {
        return Ok(0);
    }
    // A clinic that moved here: reminders due before the move ended were its old computer's (the
    // catch-up below must not send one of those again).
    let moved_at = crate::migration::finished_at(db).await?;
    let text = settings::get(db, KEY_REMINDERS).await?.unwrap_or_else(|| DEFAULT_REMINDERS.into());
    let rules = parse_reminders(&text).unwrap_or_default();
    let Some(longest) = rules.iter().map(|r| r.duration()).max() else { return Ok(0) };
    let gap = min_gap(&rules);
    let tz = settings::time_zone(db).await?;
    let quiet = texts::quiet_hours(db).await?;
    // Whole-day rules keep the clock time, so their offset varies by an hour across DST.
    let until = now + HORIZON + longest + Duration::hours(2);
    let rows = db
        .query(
            "SELECT a.id, a.version, a.patient_id, p.full_name, p.phone, u.full_name, a.booking_ref, a.starts_at, a.created_at
             FROM appointments a
             JOIN patients p ON p.id = a.patient_id JOIN doctors d ON d.id = a.doctor_id JOIN users u ON u.id = d.user_id
             WHERE a.starts_at > $1 AND a.starts_at <= $2 AND a.status IN ('scheduled', 'confirmed')
               AND p.sms_consent AND p.opted_out_at IS NULL AND p.phone IS NOT NULL",
            &[&now, &until],
        )
        .await?;
    let mut added = 0;
    for row in rows {
        let (id, version, patient): (Uuid, i64, Uuid) = (row.get(0), row.get(1), row.get(2));
        let (patient_name, phone, doctor, booking_ref): (String, String, String, String) =
            (row.get(3), row.get(4), row.get(5), row.get(6));
        let (starts_at, booked_at): (DateTime<Utc>, DateTime<Utc>) = (row.get(7), row.get(8));
        for rule in &rules {
            let due = reminder_due(*rule, starts_at, tz);
            if due > now + HORIZON || due < now - CATCH_UP || moved_at.is_some_and(|at| due < at) {
                continue;
            }
            // When it goes, by the core's rule; quiet hours lasting until the appointment: kept
            // as skipped with the words reception reads, rather than a text at night.
            let (send_at, quiet_words) = match timing(due, starts_at, booked_at, now, quiet, tz) {
                ReminderTiming::NotThisOne => continue,
                ReminderTiming::At(at) => (at, None),
                ReminderTiming::QuietUntilAfter(why) => (due, Some(why)),
            };
            // One reminder, not two (as on one desk): another of this visit's reminders gone, in
            // doubt, or of a shorter rule, going within the gap, and this one is not planned.
            let near = if quiet_words.is_some() {
                Vec::new()
            } else {
                db
                .query(
                    "SELECT id, split_part(idempotency_key, ':', 5), state IN ('sending', 'sent', 'delivered') OR needs_reconcile
                     FROM sms_notifications
                     WHERE appointment_id = $1 AND kind = 'reminder' AND about_starts_at = $2
                       AND state IN ('pending', 'sending', 'sent', 'delivered')
                       AND split_part(idempotency_key, ':', 5) <> $3
                       AND coalesce(sent_at, next_attempt_at) > $4 AND coalesce(sent_at, next_attempt_at) < $5",
                    &[&id, &starts_at, &rule.label(), &(send_at - gap), &(send_at + gap)],
                )
                .await?
            };
            let shorter = |label: &str| parse_reminders(label).ok().and_then(|r| r.first().map(|r| r.duration()));
            if near.iter().any(|r| r.get::<_, bool>(2) || shorter(r.get(1)).is_some_and(|d| d < rule.duration())) {
                continue;
            }
            let key = format!("appointment:{id}:v{version}:reminder:{}", rule.label());
            let body = texts::render(db, TemplateName::Reminder, &patient_name, &doctor, &booking_ref, starts_at, None)
                .await?;
            let (segments, encoding) = texts::counted(&body);
            // Only while the appointment is still this version and open, holding its row for the
            // statement: a move or cancellation either waits for this reminder (and withdraws it)
            // or commits first (and this inserts nothing). And only if this rule's reminder for
            // this time is not there already under an earlier version: a visit confirmed by a "C"
            // (or checked back) moves the version on but is the same time, reminded once.
            let inserted = db
                .execute(
                    "WITH current AS (
                       SELECT id FROM appointments
                       WHERE id = $2 AND version = $10 AND status IN ('scheduled', 'confirmed') FOR SHARE)
                     INSERT INTO sms_notifications (id, appointment_id, patient_id, kind, to_phone, body, idempotency_key,
                                                    next_attempt_at, about_starts_at, created_at, updated_at, segments, encoding,
                                                    state, error_message)
                     SELECT $1, current.id, $3, 'reminder', $4, $5, $6, $7, $8, $9, $9, $11, $12,
                            CASE WHEN $14::text IS NULL THEN 'pending' ELSE 'skipped' END, $14 FROM current
                     WHERE NOT EXISTS (SELECT 1 FROM sms_notifications n
                                       WHERE n.appointment_id = $2 AND n.kind = 'reminder' AND n.about_starts_at = $8
                                         AND (n.state <> 'skipped' OR n.error_message = $14)
                                         AND n.idempotency_key LIKE $13)
                     ON CONFLICT (idempotency_key) DO NOTHING",
                    &[
                        &Uuid::new_v4(),
                        &id,
                        &patient,
                        &phone,
                        &body,
                        &key,
                        &send_at.max(now),
                        &starts_at,
                        &now,
                        &version,
                        &segments,
                        &encoding,
                        &format!("appointment:{id}:v%:reminder:{}", rule.label()),
                        &quiet_words,
                    ],
                )
                .await? as usize;
            if inserted == 1 {
                // The longer rule's reminder still waiting for the same moment gives way.
                let reason = format!(
                    "Not sent: the {} reminder for the same appointment goes at the same time (one reminder, not two).",
                    rule.label()
                );
                for r in &near {
                    db.execute(
                        "UPDATE sms_notifications SET state = 'skipped', error_message = $2, updated_at = $3
                         WHERE id = $1 AND state = 'pending' AND NOT needs_reconcile",
                        &[&r.get::<_, Uuid>(0), &reason, &now],
                    )
                    .await?;
                }
            }
            added += inserted;
        }
    }
    Ok(added)
}
