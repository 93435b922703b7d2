//! The outbox table: putting texts in, reading them back, and the state changes the worker makes.
//! Every change is one UPDATE guarded by the state it expects, so a stale worker changes nothing.

use super::model::{NewText, TextKind, TextMessage, TextState};
use super::segments;
use crate::db::{ts, uuid_at};
use crate::error::{CoreError, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

pub const MAX_BODY_CHARS: usize = 1600;
pub const NOT_CONFIGURED: &str = "SMS not configured";
const OPTED_OUT: &str = "The patient replied STOP to the clinic's texts, so no texts are sent until they reply START.";
const NO_CONSENT: &str = "The patient has not agreed to receive text messages.";
const CONSENT_WITHDRAWN: &str =
    "The patient withdrew their agreement to receive texts before this one went out, so it was not sent.";
const APPOINTMENT_CLOSED: &str =
    "Withdrawn: the appointment was cancelled or closed before this text went out, so it no longer applied.";
const APPOINTMENT_MOVED: &str =
    "Withdrawn: the appointment was moved before this text went out; the text about the new time replaces it.";
const APPOINTMENT_STARTED: &str = "Not sent: the appointment had already started when this text could go.";
const NUMBER_CHANGED: &str = "The patient's phone number changed after this text was written, so it was not sent to the old number. Send it again if it is still needed.";

pub(crate) const SELECT: &str =
    "SELECT id, kind, to_e164, body, segments, encoding, state, twilio_sid, twilio_status, error_code, error_message,
        attempts, patient_id, appointment_id, created_at, sent_at, final_at FROM sms_notifications";

pub(crate) fn row_to_text(r: &rusqlite::Row<'_>) -> rusqlite::Result<TextMessage> {
    let opt_uuid = |i: usize| -> rusqlite::Result<Option<Uuid>> {
        Ok(r.get::<_, Option<String>>(i)?.and_then(|s| Uuid::parse_str(&s).ok()))
    };
    Ok(TextMessage {
        id: uuid_at(r, 0)?,
        kind: TextKind::parse(&r.get::<_, String>(1)?),
        to: r.get(2)?,
        body: r.get(3)?,
        segments: r.get(4)?,
        encoding: if r.get::<_, String>(5)? == "ucs2" { segments::Encoding::Ucs2 } else { segments::Encoding::Gsm7 },
        state: TextState::parse(&r.get::<_, String>(6)?).unwrap_or(TextState::Pending),
        twilio_sid: r.get(7)?,
        twilio_status: r.get(8)?,
        error_code: r.get(9)?,
        error_message: r.get(10)?,
        attempts: r.get(11)?,
        patient_id: opt_uuid(12)?,
        appointment_id: opt_uuid(13)?,
        created_at: r.get(14)?,
        sent_at: r.get(15)?,
        final_at: r.get(16)?,
    })
}

/// Refuses a body that cannot go out as it is. Callers that take text from people normalise it first
/// (`smart_encoding::normalise`: pasted line ends, tabs and odd spaces), so what still fails here is
/// empty, too long, or has a control character no normalising can explain.
pub fn check_body(body: &str) -> Result<()> {
    if body.trim().is_empty() {
        return Err(CoreError::invalid("body", "Write the text to send."));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(CoreError::invalid(
            "body",
            format!("A text can have at most {MAX_BODY_CHARS} characters (this one has {}).", body.chars().count()),
        ));
    }
    if let Some(c) = body.chars().find(|c| c.is_control() && *c != '\n') {
        return Err(CoreError::invalid(
            "body",
            format!(
                "The text contains an invisible control character (U+{:04X}) that phones cannot show. Retype the text around it.",
                u32::from(c)
            ),
        ));
    }
    Ok(())
}

/// Why a text must not be sent, if it must not.
fn reason_to_skip(conn: &Connection, text: &NewText, configured: bool) -> Result<Option<&'static str>> {
    if !configured {
        return Ok(Some(NOT_CONFIGURED));
    }
    // Cached statements here and below: schedulers enqueue thousands of texts in one pass.
    let opted_out: bool = conn
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM patients WHERE phone_e164 = ?1 AND opted_out_at IS NOT NULL)")?
        .query_row([&text.to], |r| r.get(0))?;
    if opted_out {
        return Ok(Some(OPTED_OUT));
    }
    if let Some(patient) = text.patient_id {
        let consent: Option<bool> = conn
            .prepare_cached("SELECT sms_consent FROM patients WHERE id = ?1")?
            .query_row([patient.to_string()], |r| r.get(0))
            .optional()?;
        if consent == Some(false) {
            return Ok(Some(NO_CONSENT));
        }
    }
    Ok(None)
}

/// Why a queued text must not go out now, judged on the patient's record and the appointment as
/// they are at the moment of sending (not as they were when the text was written): the patient
/// replied STOP, withdrew consent, or changed number; or the appointment the text speaks of was
/// moved, cancelled or has started. The rule for a changed number is to skip, never to
/// re-address: the text was written for the old number, and whoever has it now must not get it.
pub(crate) fn reason_not_to_send_now(
    conn: &Connection,
    text_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<&'static str>> {
    // Cached: run for every text claimed.
    let verdict: Option<String> = conn.prepare_cached(
        "SELECT CASE
                  WHEN p.opted_out_at IS NOT NULL
                       OR EXISTS (SELECT 1 FROM patients o WHERE o.phone_e164 = n.to_e164 AND o.opted_out_at IS NOT NULL)
                    THEN 'opted_out'
                  WHEN p.id IS NOT NULL AND p.sms_consent = 0 THEN 'no_consent'
                  WHEN p.id IS NOT NULL AND p.phone_e164 IS NOT n.to_e164 THEN 'number_changed'
                  WHEN a.id IS NULL OR n.kind IN ('cancellation', 'custom') THEN NULL
                  WHEN a.status IN ('cancelled', 'no_show', 'completed') THEN 'appointment_closed'
                  WHEN n.about_starts_at IS NOT NULL AND a.starts_at IS NOT n.about_starts_at THEN 'appointment_moved'
                  WHEN n.kind <> 'invite' AND a.starts_at <= ?2 THEN 'appointment_started'
                END
         FROM sms_notifications n LEFT JOIN patients p ON p.id = n.patient_id LEFT JOIN appointments a ON a.id = n.appointment_id
         WHERE n.id = ?1",
    )?
    .query_row(params![text_id, ts(now)], |r| r.get(0))?;
    Ok(match verdict.as_deref() {
        Some("opted_out") => Some(OPTED_OUT),
        Some("no_consent") => Some(CONSENT_WITHDRAWN),
        Some("number_changed") => Some(NUMBER_CHANGED),
        Some("appointment_closed") => Some(APPOINTMENT_CLOSED),
        Some("appointment_moved") => Some(APPOINTMENT_MOVED),
        Some("appointment_started") => Some(APPOINTMENT_STARTED),
        _ => None,
    })
}

/// Puts a text in the outbox (inside the caller's transaction). Returns its id, and whether it is
/// new (`false` when a text with the same idempotency key was already there).
pub fn enqueue(
    conn: &Connection,
    now: DateTime<Utc>,
    created_by: Option<Uuid>,
    text: &NewText,
    configured: bool,
) -> Result<(Uuid, bool)> {
    check_body(&text.body)?;
    let skip = reason_to_skip(conn, text, configured)?;
    enqueue_checked(conn, now, created_by, text, skip)
}

/// [`enqueue`] for a caller that has already judged the patient (the reminder planner reads
/// consent and opt-out with its candidates): `skip` is the reason not to send, if any. The worker
/// still re-checks everything at send time.
pub(crate) fn enqueue_checked(
    conn: &Connection,
    now: DateTime<Utc>,
    created_by: Option<Uuid>,
    text: &NewText,
    skip: Option<&str>,
) -> Result<(Uuid, bool)> {
    check_body(&text.body)?;
    let count = segments::count(&text.body);
    let id = Uuid::new_v4();
    let state = if skip.is_some() { TextState::Skipped } else { TextState::Pending };
    let added = conn
        .prepare_cached(
            "INSERT INTO sms_notifications (id, appointment_id, patient_id, kind, to_e164, body, segments, encoding, idempotency_key, state,
                                            error_message, next_attempt_at, created_by, created_at, updated_at, final_at, about_starts_at, reminder_rule)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, ?15, ?16, ?17)
             ON CONFLICT(idempotency_key) DO NOTHING",
        )?
        .execute(params![
            id.to_string(), text.appointment_id.map(|u| u.to_string()), text.patient_id.map(|u| u.to_string()), text.kind.as_str(), text.to, text.body,
            count.segments, count.encoding.as_str(), text.idempotency_key, state.as_str(), skip, ts(text.due_at), created_by.map(|u| u.to_string()),
            ts(now), skip.map(|_| ts(now)), text.about_starts_at.map(ts), text.reminder_rule,
        ])?;
    if added == 1 {
        return Ok((id, true));
    }
    // The same idempotency key was there already: the same text, so nothing new.
    let existing = conn
        .prepare_cached("SELECT id FROM sms_notifications WHERE idempotency_key = ?1")?
        .query_row([&text.idempotency_key], |r| uuid_at(r, 0))?;
    Ok((existing, false))
}

pub(crate) fn find(conn: &Connection, id: Uuid) -> Result<TextMessage> {
    conn.query_row(&format!("{SELECT} WHERE id = ?1"), [id.to_string()], row_to_text)
        .optional()?
        .ok_or_else(|| CoreError::NotFound("That text message could not be found.".into()))
}

pub(crate) fn list(conn: &Connection, state: Option<TextState>, limit: u32) -> Result<Vec<TextMessage>> {
    let mut stmt =
        conn.prepare(&format!("{SELECT} WHERE (?1 IS NULL OR state = ?1) ORDER BY created_at DESC, id LIMIT ?2"))?;
    let rows = stmt.query_map(params![state.map(|s| s.as_str()), limit.clamp(1, 1000)], row_to_text)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Texts still on their way: waiting to be sent, being sent, or sent and awaiting a final status.
pub(crate) fn unfinished(conn: &Connection) -> Result<u32> {
    Ok(conn.query_row(
        "SELECT count(*) FROM sms_notifications WHERE state IN ('pending', 'sending', 'sent')",
        [],
        |r| r.get(0),
    )?)
}

/// The earliest time the worker has something to do, if anything is waiting.
pub(crate) fn next_due(conn: &Connection) -> Result<Option<DateTime<Utc>>> {
    let text: Option<String> = conn.query_row(
        "SELECT min(t) FROM (SELECT min(next_attempt_at) AS t FROM sms_notifications WHERE state = 'pending'
                             UNION ALL SELECT min(next_poll_at) FROM sms_notifications WHERE state = 'sent')",
        [],
        |r| r.get(0),
    )?;
    Ok(text.and_then(|t| crate::auth::parse_instant(&t)))
}

/// Marks a patient's number as opted out (Twilio 21610) and skips their waiting texts.
pub(crate) fn opt_out(conn: &Connection, number: &str, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<()> {
    conn.execute(
        "UPDATE patients SET opted_out_at = coalesce(opted_out_at, ?2), updated_at = ?3 WHERE phone_e164 = ?1",
        params![number, ts(at), ts(now)],
    )?;
    conn.execute(
        "UPDATE sms_notifications SET state = 'skipped', error_message = ?2, final_at = ?3, updated_at = ?3
         WHERE to_e164 = ?1 AND state = 'pending' AND needs_reconcile = 0",
        params![number, OPTED_OUT, ts(now)],
    )?;
    Ok(())
}
