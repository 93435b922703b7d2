//! The text about a booking, a move or a cancellation on the clinic server, queued in the
//! change's own transaction (so a change and its text commit together, and a desk's retried
//! command, answered from its stored outcome, never queues a second one).
//!
//! The rule is the core's, the same a one-desk clinic runs (`appointment_texts::change_rule`): a text waits the settle
//! time so quick successive edits send one text about the final state; quiet hours hold it until
//! the morning unless the appointment comes first; a move of an appointment whose confirmation
//! never went out is confirmed at the new time, and a cancellation of one the patient never heard
//! about sends nothing. Patients who did not agree to texts, or replied STOP, get none (the text is
//! kept as `skipped`, with the reason). Sent by the elected sender (sending.rs).

use crate::error::{Result, ServerError};
use crate::settings;
use chrono::{DateTime, Duration, Utc};
use clinicdesk_core::appointment_texts::change_rule::{self, ChangeRules, ChangeTextStore, PlannedText};
use clinicdesk_core::appointment_texts::rules::{
    parse_quiet_hours, QuietHours, DEFAULT_QUIET_HOURS, DEFAULT_SETTLE_SECONDS, KEY_CLINIC_PHONE, KEY_QUIET_HOURS,
    KEY_SETTLE,
};
use clinicdesk_core::appointments::Appointment;
use clinicdesk_core::error::CoreError;
use clinicdesk_core::sms::templates::{format_when, render_body, TemplateData, TemplateName};
use clinicdesk_core::sms::TextKind;
use tokio_postgres::GenericClient;
use uuid::Uuid;

pub use clinicdesk_core::appointment_texts::change_rule::Change;

/// Withdraws what no longer fits and queues the text about `appointment` as it now is (the
/// core's rule, `appointment_texts::change_rule`).
pub async fn on_change(
    db: &(impl GenericClient + Sync),
    appointment: &Appointment,
    change: Change,
    now: DateTime<Utc>,
) -> Result<()> {
    let settle = settings::get(db, KEY_SETTLE).await?.and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_SETTLE_SECONDS);
    let rules = ChangeRules {
        tz: settings::time_zone(db).await?,
        settle: Duration::seconds(settle.into()),
        quiet: quiet_hours(db).await?,
        // Queued whether or not the server has Twilio yet: the sender sends once it has.
        texting_set_up: true,
    };
    change_rule::on_change(&mut PgChangeTexts { db, now }, &rules, appointment, change, now).await?;
    Ok(())
}

/// Change texts on the server, in the change's transaction.
struct PgChangeTexts<'a, C> {
    db: &'a C,
    now: DateTime<Utc>,
}

impl<C: GenericClient + Sync> ChangeTextStore for PgChangeTexts<'_, C> {
    type Error = ServerError;

    async fn patient_was_told(&mut self, appointment: Uuid) -> Result<bool> {
        Ok(self
            .db
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM sms_notifications WHERE appointment_id = $1 AND kind IN ('confirmation', 'reschedule')
                                AND (state IN ('sending', 'sent', 'delivered') OR (state = 'pending' AND needs_reconcile)))",
                &[&appointment],
            )
            .await?
            .get(0))
    }

    async fn withdraw(&mut self, appointment: Uuid, kinds: &[TextKind], reason: &str) -> Result<u64> {
        let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        Ok(self
            .db
            .execute(
                "UPDATE sms_notifications SET state = 'skipped', error_message = $2, updated_at = $3
                 WHERE appointment_id = $1 AND state = 'pending' AND NOT needs_reconcile AND kind = ANY($4)",
                &[&appointment, &reason, &self.now, &kinds],
            )
            .await?)
    }

    async fn render(&mut self, kind: TextKind, appointment: &Appointment) -> Result<String> {
        let name = TemplateName::for_kind(kind).expect("appointment texts have templates");
        let a = appointment;
        render(self.db, name, &a.patient_name, &a.doctor_name, &a.booking_ref, a.starts_at, None).await
    }

    async fn queue(&mut self, appointment: &Appointment, text: &PlannedText) -> Result<(Uuid, Option<String>)> {
        let patient = self
            .db
            .query_one(
                "SELECT phone, sms_consent, opted_out_at IS NOT NULL FROM patients WHERE id = $1",
                &[&appointment.patient_id],
            )
            .await?;
        let (phone, consent, opted_out): (Option<String>, bool, bool) =
            (patient.get(0), patient.get(1), patient.get(2));
        let skipped = if opted_out {
            Some("The patient replied STOP to the clinic's texts.")
        } else if !consent {
            Some("The patient has not agreed to texts.")
        } else if phone.is_none() {
            Some("The patient has no mobile number on record.")
        } else {
            None
        };
        let (segments, encoding) = counted(&text.body);
        let id = Uuid::new_v4();
        let news_before = text.news_before.unwrap_or(text.about_starts_at);
        let added = self
            .db
            .query_opt(
                "INSERT INTO sms_notifications (id, appointment_id, patient_id, kind, to_phone, body, idempotency_key, state,
                                                error_message, next_attempt_at, about_starts_at, created_at, updated_at, news_before,
                                                segments, encoding)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15)
                 ON CONFLICT (idempotency_key) DO NOTHING
                 RETURNING id, state, error_message",
                &[
                    &id,
                    &appointment.id,
                    &appointment.patient_id,
                    &text.kind.as_str(),
                    &phone.unwrap_or_default(),
                    &text.body,
                    &text.idempotency_key,
                    &if skipped.is_some() { "skipped" } else { "pending" },
                    &skipped,
                    &text.due_at,
                    &text.about_starts_at,
                    &self.now,
                    &news_before,
                    &segments,
                    &encoding,
                ],
            )
            .await?;
        let row = match added {
            Some(row) => row,
            // The same key queued before (a new statement: it sees a text committed meanwhile).
            None => {
                self.db
                    .query_one(
                        "SELECT id, state, error_message FROM sms_notifications WHERE idempotency_key = $1",
                        &[&text.idempotency_key],
                    )
                    .await?
            }
        };
        let (id, state, why): (Uuid, String, Option<String>) = (row.get(0), row.get(1), row.get(2));
        Ok((id, (state == "skipped").then(|| why.unwrap_or_default())))
    }
}

/// How many segments `body` takes and its encoding, kept with each text when it is queued (the
/// desks' copy of a video invite has its key cut, so they cannot count it themselves).
pub(crate) fn counted(body: &str) -> (i32, &'static str) {
    let count = clinicdesk_core::sms::segments::count(body);
    (i32::try_from(count.segments).unwrap_or(i32::MAX), count.encoding.as_str())
}

/// The text of template `name` about an appointment, in the clinic's words and time zone.
pub(crate) async fn render(
    db: &impl GenericClient,
    name: TemplateName,
    patient_name: &str,
    doctor_name: &str,
    booking_ref: &str,
    starts_at: DateTime<Utc>,
    video_link: Option<String>,
) -> Result<String> {
    let tz = settings::time_zone(db).await?;
    let country = settings::get(db, settings::COUNTRY).await?.unwrap_or_else(|| "GB".into());
    let (date, time) = format_when(starts_at, tz, &country);
    let data = TemplateData {
        patient_first_name: patient_name.split_whitespace().next().unwrap_or("").to_owned(),
        clinic_name: settings::get(db, settings::CLINIC_NAME).await?.unwrap_or_default(),
        clinic_phone: settings::get(db, KEY_CLINIC_PHONE).await?.unwrap_or_default(),
        doctor_name: doctor_name.to_owned(),
        date,
        time,
        booking_ref: booking_ref.to_owned(),
        video_link,
    };
    let stored = settings::get(db, &name.settings_key()).await?.filter(|b| !b.is_empty());
    Ok(render_body(stored.as_deref(), name, &data)?)
}

/// The clinic's quiet hours (`sms.quiet_hours`, default 21:00-08:00; "off" for none).
pub(crate) async fn quiet_hours(db: &impl GenericClient) -> Result<Option<QuietHours>> {
    let text = settings::get(db, KEY_QUIET_HOURS).await?.unwrap_or_else(|| DEFAULT_QUIET_HOURS.into());
    Ok(parse_quiet_hours(&text).unwrap_or(None))
}

/// Reception's text to a patient from a desk (core `appointment_texts::to_patient`, on the
/// server): to the number on their record, at once (a person chose to send it now), refused in
/// the one-desk words when the patient cannot be texted. Keyed by the desk's command id, so a
/// retried command never queues a second text. Answers with the text as desks keep it.
pub async fn to_patient(
    db: &impl GenericClient,
    staff: &crate::staff::Staff,
    patient: Uuid,
    body: &str,
    client_id: Uuid,
    now: DateTime<Utc>,
) -> Result<serde_json::Value> {
    let body = clinicdesk_core::sms::smart_encoding::normalise(body);
    clinicdesk_core::sms::outbox::check_body(&body)?;
    let tz = settings::time_zone(db).await?;
    let row = db
        .query_opt("SELECT phone, sms_consent, opted_out_at FROM patients WHERE id = $1", &[&patient])
        .await?
        .ok_or_else(|| CoreError::NotFound("That patient could not be found.".into()))?;
    let (phone, consent, opted_out): (Option<String>, bool, Option<DateTime<Utc>>) =
        (row.get(0), row.get(1), row.get(2));
    if let Some(why) = clinicdesk_core::appointment_texts::patient_text_verdict(consent, opted_out, tz) {
        return Err(CoreError::Conflict(format!("{}.", why.replacen("Not texted: ", "Cannot text: ", 1))).into());
    }
    let phone = phone.ok_or_else(|| CoreError::Conflict("Cannot text: the patient has no mobile number.".into()))?;
    let (segments, encoding) = counted(&body);
    let id = Uuid::new_v4();
    db.execute(
        "INSERT INTO sms_notifications (id, patient_id, kind, to_phone, body, idempotency_key, state, next_attempt_at,
                                        created_at, updated_at, segments, encoding)
         VALUES ($1, $2, 'custom', $3, $4, $5, 'pending', $6, $6, $6, $7, $8)",
        &[&id, &patient, &phone, &body, &format!("custom:{client_id}"), &now, &segments, &encoding],
    )
    .await?;
    crate::audit::record(
        db,
        Some(staff),
        clinicdesk_core::audit::AuditAction::TextSent,
        Some(("sms", &id.to_string())),
        Some(&format!("patient {patient}")),
    )
    .await?;
    Ok(db.query_one("SELECT text_for_desks(t) FROM sms_notifications t WHERE id = $1", &[&id]).await?.get(0))
}
