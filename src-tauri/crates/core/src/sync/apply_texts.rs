//! The clinic server's texts on a desk (feed kind "text", and the answer to a desk's own text to a
//! patient): kept for the desk's screens only, never sent from here (apply.rs dispatches).

use crate::db::ts;
use crate::error::{CoreError, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use serde::Deserialize;
use uuid::Uuid;

/// A text as the clinic server holds it (its link's key cut off): reception sees on every desk
/// whether it went, was delivered, or failed and why.
#[derive(Deserialize)]
pub(super) struct TextRow {
    id: Uuid,
    appointment_id: Option<Uuid>,
    patient_id: Option<Uuid>,
    kind: String,
    to: String,
    body: String,
    idempotency_key: String,
    state: String,
    twilio_sid: Option<String>,
    error_code: Option<i64>,
    error_message: Option<String>,
    attempts: i64,
    #[serde(default)]
    segments: Option<u32>,
    #[serde(default)]
    encoding: Option<String>,
    #[serde(default)]
    next_attempt_at: Option<DateTime<Utc>>,
    #[serde(default)]
    about_starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    needs_reconcile: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A text the clinic server answered with (this desk's text to a patient), kept at once, before
/// the feed brings it. Returns its id.
pub(crate) fn keep_answered_text(conn: &Connection, row: &serde_json::Value) -> Result<Uuid> {
    let t: TextRow = serde_json::from_value(row.clone()).map_err(|_| {
        CoreError::Database("The clinic server's answer could not be read. Update ClinicDesk on this computer.".into())
    })?;
    apply_text(conn, &t)?;
    Ok(t.id)
}

/// Keeps the server's text in this desk's outbox table, for its screens only: a desk sends no
/// texts (its outbox worker never starts on a desk), so a row here is never sent from here. Never
/// an older copy over a newer one; a text about records this desk does not hold is skipped; and a
/// text that cannot be kept (a Twilio id another text here holds, say) is logged and skipped,
/// never a reason for the whole page, and so the desk's sync, to stop.
pub(super) fn apply_text(conn: &Connection, t: &TextRow) -> Result<()> {
    conn.execute_batch("SAVEPOINT text_row")?;
    match keep_text(conn, t) {
        Ok(()) => conn.execute_batch("RELEASE SAVEPOINT text_row")?,
        Err(e) => {
            tracing::warn!(code = ?e.code(), "a text from the clinic server could not be kept on this desk; skipped");
            conn.execute_batch("ROLLBACK TO SAVEPOINT text_row; RELEASE SAVEPOINT text_row")?;
        }
    }
    Ok(())
}

fn keep_text(conn: &Connection, t: &TextRow) -> Result<()> {
    let known = |table: &str, id: Option<Uuid>| -> Result<bool> {
        let Some(id) = id else { return Ok(true) };
        Ok(conn.query_row(&format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE id = ?1)"), [id.to_string()], |r| {
            r.get(0)
        })?)
    };
    if !known("appointments", t.appointment_id)? || !known("patients", t.patient_id)? {
        tracing::warn!("skipping a text about a record this desk does not hold");
        return Ok(());
    }
    let count = crate::sms::segments::count(&t.body);
    let segments = t.segments.unwrap_or(count.segments);
    let encoding = match t.encoding.as_deref() {
        Some(e @ ("gsm7" | "ucs2")) => e,
        _ => count.encoding.as_str(),
    };
    let sent = matches!(t.state.as_str(), "sent" | "delivered" | "undelivered");
    let final_state = matches!(t.state.as_str(), "delivered" | "undelivered" | "failed" | "skipped");
    conn.execute(
        "INSERT INTO sms_notifications (id, appointment_id, patient_id, kind, to_e164, body, segments, encoding,
                                        idempotency_key, state, twilio_sid, error_code, error_message, attempts,
                                        created_at, updated_at, sent_at, final_at, next_attempt_at, about_starts_at,
                                        needs_reconcile, handled_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,
                 -- A Twilio id this desk already holds for another text is not repeated (UNIQUE).
                 CASE WHEN EXISTS (SELECT 1 FROM sms_notifications WHERE twilio_sid = ?11 AND id <> ?1) THEN NULL ELSE ?11 END,
                 ?12, ?13, ?14, ?15, ?16, CASE WHEN ?17 THEN ?16 END, CASE WHEN ?18 THEN ?16 END, ?19, ?20, ?21,
                 CASE WHEN ?22 THEN ?16 END)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, twilio_sid = excluded.twilio_sid,
           error_code = excluded.error_code, error_message = excluded.error_message, attempts = excluded.attempts,
           updated_at = excluded.updated_at, sent_at = coalesce(sms_notifications.sent_at, excluded.sent_at),
           final_at = coalesce(sms_notifications.final_at, excluded.final_at),
           next_attempt_at = excluded.next_attempt_at, about_starts_at = excluded.about_starts_at,
           needs_reconcile = excluded.needs_reconcile,
           handled_at = coalesce(sms_notifications.handled_at, excluded.handled_at)
         WHERE excluded.updated_at >= sms_notifications.updated_at",
        params![
            t.id.to_string(),
            t.appointment_id.map(|a| a.to_string()),
            t.patient_id.map(|p| p.to_string()),
            t.kind,
            t.to,
            t.body,
            segments,
            encoding,
            t.idempotency_key,
            t.state,
            t.twilio_sid,
            t.error_code,
            t.error_message,
            t.attempts,
            ts(t.created_at),
            ts(t.updated_at),
            sent,
            final_state,
            t.next_attempt_at.map(ts),
            t.about_starts_at.map(ts),
            t.needs_reconcile,
            // The planner's own skips (quiet hours, one reminder not two): nothing to deal with.
            t.kind == "reminder"
                && t.state == "skipped"
                && t.error_message.as_deref().is_some_and(crate::appointment_texts::reminders::skipped_by_plan),
        ],
    )?;
    Ok(())
}
