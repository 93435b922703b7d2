//! What reception sees of texts: an appointment's timeline, and the texts that need attention
//! (failed, undelivered or skipped texts about an upcoming appointment as it now stands) with the
//! fix at hand: correct the number, record consent, send again, or mark as handled.

use super::context::Ctx;
use super::when::reminder_due;
use crate::audit::{self, Actor, AuditAction};
use crate::auth::{Caller, Permission};
use crate::db::{ts, uuid_at};
use crate::error::{CoreError, Result};
use crate::sms::outbox::{self, row_to_text};
use crate::sms::{NewText, TextMessage, TextState};
use crate::Clinic;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use ts_rs::TS;
use uuid::Uuid;

/// One of an appointment's texts, with what the outbox knows beyond the message itself.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct AppointmentText {
    #[serde(flatten)]
    #[ts(flatten)]
    pub text: TextMessage,
    /// When it is (or was) due to go.
    pub due_at: Option<DateTime<Utc>>,
    pub reminder_rule: Option<String>,
    pub handled_at: Option<DateTime<Utc>>,
    /// Who marked it handled (a name); `None` with `handled_at` set: ClinicDesk itself withdrew it.
    pub handled_by: Option<String>,
}

/// A reminder the rules will queue later (beyond the planner's day ahead).
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct PlannedReminder {
    pub rule: String,
    pub due_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct TextTimeline {
    pub texts: Vec<AppointmentText>,
    pub planned_reminders: Vec<PlannedReminder>,
}

/// What reception can do about a text that did not arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Fix {
    /// The number is wrong or not a mobile: correct it on the patient's record, then send again.
    CorrectNumber,
    /// The patient has not agreed to texts: record their agreement, then send again.
    RecordConsent,
    /// Send the same text again.
    Resend,
    /// Nothing to send (they replied STOP): phone the patient, then mark it handled.
    PhonePatient,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct AttentionItem {
    #[serde(flatten)]
    #[ts(flatten)]
    pub text: AppointmentText,
    pub patient_name: String,
    pub patient_phone: String,
    pub appointment_starts_at: DateTime<Utc>,
    pub booking_ref: String,
    pub fix: Fix,
}

const COLUMNS: &str = "n.id, n.kind, n.to_e164, n.body, n.segments, n.encoding, n.state, n.twilio_sid, n.twilio_status, n.error_code, n.error_message,
    n.attempts, n.patient_id, n.appointment_id, n.created_at, n.sent_at, n.final_at, n.next_attempt_at, n.reminder_rule, n.handled_at,
    (SELECT u.full_name FROM users u WHERE u.id = n.handled_by)";

fn row_to_appointment_text(r: &rusqlite::Row<'_>) -> rusqlite::Result<AppointmentText> {
    Ok(AppointmentText {
        text: row_to_text(r)?.as_shown(),
        due_at: r.get(17)?,
        reminder_rule: r.get(18)?,
        handled_at: r.get(19)?,
        handled_by: r.get(20)?,
    })
}

pub struct AppointmentTexts<'a> {
    pub(crate) clinic: &'a Clinic,
}

impl Clinic {
    pub fn appointment_texts(&self) -> AppointmentTexts<'_> {
        AppointmentTexts { clinic: self }
    }
}

impl AppointmentTexts<'_> {
    /// The appointment's texts, oldest first, and the reminders still to be planned.
    pub fn timeline(&self, caller: &Caller, appointment: Uuid) -> Result<TextTimeline> {
        caller.require(Permission::ReadPatients)?;
        let conn = self.clinic.db().conn()?;
        let (patient, starts_at, status): (Uuid, DateTime<Utc>, String) = conn
            .query_row(
                "SELECT patient_id, starts_at, status FROM appointments WHERE id = ?1",
                [appointment.to_string()],
                |r| Ok((uuid_at(r, 0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?
            .ok_or_else(|| CoreError::NotFound("That appointment could not be found.".into()))?;
        let texts = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM sms_notifications n WHERE n.appointment_id = ?1 ORDER BY n.created_at, n.id"
            ))?
            .query_map([appointment.to_string()], row_to_appointment_text)?
            .collect::<Result<Vec<_>, _>>()?;
        let ctx = Ctx::read(&conn)?;
        let now = self.clinic.now();
        let planned_until: Option<DateTime<Utc>> =
            conn.query_row("SELECT planned_until FROM reminder_plan WHERE id = 1", [], |r| r.get(0)).optional()?;
        let open = matches!(status.as_str(), "scheduled" | "confirmed")
            && super::context::patient_verdict(&conn, patient, ctx.tz)?.is_none();
        let planned_reminders = if open && ctx.texting_set_up {
            ctx.rules
                .reminder_rules()
                .into_iter()
                .map(|rule| PlannedReminder { rule: rule.label(), due_at: reminder_due(rule, starts_at, ctx.tz) })
                .filter(|p| p.due_at > now && planned_until.is_none_or(|until| p.due_at > until))
                .collect()
        } else {
            Vec::new()
        };
        audit::record_screen_read(&conn, now, caller, "appointment texts", [patient])?;
        Ok(TextTimeline { texts, planned_reminders })
    }

    /// Texts about upcoming appointments that did not arrive and nobody has dealt with yet,
    /// soonest appointment first. Texts about an appointment's old time (withdrawn when it moved)
    /// are not listed: the text about its current time is what matters.
    pub fn needs_attention(&self, caller: &Caller, limit: u32) -> Result<Vec<AttentionItem>> {
        caller.require(Permission::ReadPatients)?;
        let conn = self.clinic.db().conn()?;
        let now = self.clinic.now();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS}, p.full_name, p.phone_e164, a.starts_at, a.booking_ref, p.sms_consent, p.opted_out_at, p.phone_problem
             FROM sms_notifications n JOIN appointments a ON a.id = n.appointment_id JOIN patients p ON p.id = a.patient_id
             WHERE n.state IN ('failed', 'undelivered', 'skipped') AND n.handled_at IS NULL
               AND a.status IN ('scheduled', 'confirmed') AND a.starts_at > ?1 AND n.about_starts_at = a.starts_at
               AND NOT (p.sms_consent = 0 AND p.sms_consent_at IS NOT NULL)
             ORDER BY a.starts_at, n.created_at LIMIT ?2"
        ))?;
        let items = stmt
            .query_map(params![ts(now), limit.clamp(1, 500)], |r| {
                let text = row_to_appointment_text(r)?;
                let consent: bool = r.get(25)?;
                let opted_out: Option<String> = r.get(26)?;
                let phone_problem: Option<String> = r.get(27)?;
                let fix = if opted_out.is_some() {
                    Fix::PhonePatient
                } else if !consent {
                    Fix::RecordConsent
                } else if phone_problem.is_some()
                    || matches!(text.text.error_code, Some(21211 | 21614 | 30003 | 30005 | 30006))
                {
                    Fix::CorrectNumber
                } else {
                    Fix::Resend
                };
                Ok(AttentionItem {
                    text,
                    patient_name: r.get(21)?,
                    patient_phone: r.get(22)?,
                    appointment_starts_at: r.get(23)?,
                    booking_ref: r.get(24)?,
                    fix,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        // The screen refreshes itself: one entry while the same patients stay on it.
        audit::record_polled_screen_read(
            &conn,
            now,
            caller,
            "texts needing attention",
            items.iter().filter_map(|i| i.text.text.patient_id),
        )?;
        Ok(items)
    }

    /// Sends a text that did not arrive again, to the patient's number as it is now (after a
    /// correction); the original counts as handled. Refused while the patient cannot be texted.
    pub fn resend(&self, caller: &Caller, text: Uuid) -> Result<TextMessage> {
        caller.require(Permission::SendTexts)?;
        crate::sync::pending::refuse_on_desk(&*self.clinic.db().conn()?, crate::sync::pending::ServerKeeps::Texts)?;
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let original = outbox::find(&tx, text)?;
        if !matches!(original.state, TextState::Failed | TextState::Undelivered | TextState::Skipped) {
            return Err(CoreError::Conflict(
                "This text is still on its way or was delivered; there is nothing to send again.".into(),
            ));
        }
        let handled: Option<String> =
            tx.query_row("SELECT handled_at FROM sms_notifications WHERE id = ?1", [text.to_string()], |r| r.get(0))?;
        if handled.is_some() {
            // Two desks clicking "Send again" at once: the second finds it handled (IMMEDIATE).
            return Err(CoreError::Conflict("This text was already sent again or marked as handled.".into()));
        }
        let Some(patient) = original.patient_id else {
            return Err(CoreError::Conflict(
                "This text was not to a patient on record; write a new one instead.".into(),
            ));
        };
        let ctx = Ctx::read(&tx)?;
        if let Some(why) = super::context::patient_verdict(&tx, patient, ctx.tz)? {
            return Err(CoreError::Conflict(format!("{}.", why.replacen("Not texted: ", "Cannot text: ", 1))));
        }
        let (about, rule): (Option<DateTime<Utc>>, Option<String>) = tx.query_row(
            "SELECT about_starts_at, reminder_rule FROM sms_notifications WHERE id = ?1",
            [text.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let resends: u32 = tx.query_row(
            "SELECT count(*) FROM sms_notifications WHERE idempotency_key LIKE ?1",
            [format!("resend:{text}:%")],
            |r| r.get(0),
        )?;
        let copy = NewText {
            kind: original.kind,
            to: super::context::patient_phone(&tx, patient)?,
            body: original.body.clone(),
            patient_id: Some(patient),
            appointment_id: original.appointment_id,
            idempotency_key: format!("resend:{text}:{}", resends + 1),
            due_at: now,
            about_starts_at: about,
            reminder_rule: rule,
        };
        let (id, _) = outbox::enqueue(&tx, now, Some(caller.user_id), &copy, ctx.texting_set_up)?;
        mark(&tx, text, caller, now)?;
        audit::record_for_patient(
            &tx,
            now,
            caller,
            AuditAction::TextSent,
            ("sms", &id.to_string()),
            patient,
            Some(&format!("patient {patient}; again after {text}")),
        )?;
        let stored = outbox::find(&tx, id)?.as_shown();
        tx.commit()?;
        Ok(stored)
    }

    /// One round of the reminder planner and the quiet-hours hold, as the outbox worker runs
    /// before each pass (for benchmarks and tools; the worker's own run is fenced by its lock,
    /// and planning twice is harmless: every reminder has its idempotency key).
    pub fn run_upkeep(&self) -> Result<super::upkeep::Upkeep> {
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let done = super::upkeep::run(&tx, self.clinic.now())?;
        tx.commit()?;
        Ok(done)
    }

    /// Reception dealt with a text that did not arrive (phoned the patient, for example).
    pub fn mark_handled(&self, caller: &Caller, text: Uuid) -> Result<()> {
        caller.require(Permission::SendTexts)?;
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let original = outbox::find(&tx, text)?;
        if !matches!(original.state, TextState::Failed | TextState::Undelivered | TextState::Skipped) {
            return Err(CoreError::Conflict("Only a text that did not arrive can be marked as handled.".into()));
        }
        mark(&tx, text, caller, now)?;
        let detail = original.patient_id.map(|p| format!("patient {p}"));
        match original.patient_id {
            Some(p) => audit::record_for_patient(
                &tx,
                now,
                caller,
                AuditAction::TextHandled,
                ("sms", &text.to_string()),
                p,
                detail.as_deref(),
            )?,
            None => {
                audit::record(
                    &tx,
                    now,
                    Actor::Staff(caller),
                    AuditAction::TextHandled,
                    Some(("sms", &text.to_string())),
                    None,
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

fn mark(tx: &rusqlite::Connection, text: Uuid, caller: &Caller, now: DateTime<Utc>) -> Result<()> {
    tx.execute(
        "UPDATE sms_notifications SET handled_at = coalesce(handled_at, ?2), handled_by = coalesce(handled_by, ?3) WHERE id = ?1",
        params![text.to_string(), ts(now), caller.user_id.to_string()],
    )?;
    Ok(())
}
