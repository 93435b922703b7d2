//! What writing an appointment's text needs, read inside the caller's transaction so the text
//! matches the data it commits with: the clinic's settings, the patient's texting status, and the
//! template's data.

use super::rules::{self, TextingSettings};
use crate::appointments::Appointment;
use crate::db::ts;
use crate::error::Result;
use crate::sms::templates::TemplateData;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::{Connection, OptionalExtension};
use uuid::Uuid;

pub(crate) struct Ctx {
    pub tz: Tz,
    pub clinic_name: String,
    /// The clinic's country: how dates and times are written in texts (12-hour clocks in the US).
    pub country: String,
    pub rules: TextingSettings,
    /// Twilio has been set up: without it nothing is queued (a clinic that never texts does not
    /// collect a skipped row per booking).
    pub texting_set_up: bool,
}

impl Ctx {
    pub fn read(conn: &Connection) -> Result<Ctx> {
        let setting = |key: &str| -> Result<Option<String>> {
            Ok(conn
                .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()?)
        };
        let tz = setting(crate::settings::KEY_TIME_ZONE)?.and_then(|z| z.parse().ok()).unwrap_or(Tz::UTC);
        let clinic_name = setting(crate::settings::KEY_NAME)?.unwrap_or_else(|| "ClinicDesk".into());
        let country = setting(crate::settings::KEY_COUNTRY)?.unwrap_or_else(|| "GB".into());
        let texting_set_up = setting("twilio.account_sid")?.is_some() && setting("twilio.api_key_sid")?.is_some();
        Ok(Ctx { tz, clinic_name, country, rules: rules::read(conn)?, texting_set_up })
    }
}

/// Whether the patient can be texted now, and if not the sentence for reception.
pub(crate) fn patient_verdict(conn: &Connection, patient: Uuid, tz: Tz) -> Result<Option<String>> {
    let (consent, opted_out): (bool, Option<DateTime<Utc>>) = conn
        .prepare_cached("SELECT sms_consent, opted_out_at FROM patients WHERE id = ?1")?
        .query_row([patient.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(verdict(consent, opted_out, tz))
}

/// Why a patient with this consent and STOP reply cannot be texted, for reception ("Not texted:
/// …"); `None` when they can. The same words on a clinic server.
pub fn verdict(consent: bool, opted_out: Option<DateTime<Utc>>, tz: Tz) -> Option<String> {
    match (consent, opted_out) {
        (_, Some(at)) => {
            Some(format!("Not texted: the patient replied STOP on {}", at.with_timezone(&tz).format("%-d %B")))
        }
        (false, None) => Some("Not texted: the patient has not agreed to texts".into()),
        (true, None) => None,
    }
}

pub(crate) fn patient_phone(conn: &Connection, patient: Uuid) -> Result<String> {
    Ok(conn
        .prepare_cached("SELECT phone_e164 FROM patients WHERE id = ?1")?
        .query_row([patient.to_string()], |r| r.get(0))?)
}

/// The template's data for `appointment` at `start` (the time the text speaks of).
pub(crate) fn template_data(ctx: &Ctx, appointment: &Appointment, start: DateTime<Utc>) -> TemplateData {
    data_for(ctx, &appointment.patient_name, &appointment.doctor_name, &appointment.booking_ref, start)
}

pub(crate) fn data_for(
    ctx: &Ctx,
    patient_name: &str,
    doctor_name: &str,
    booking_ref: &str,
    start: DateTime<Utc>,
) -> TemplateData {
    let (date, time) = crate::sms::templates::format_when(start, ctx.tz, &ctx.country);
    TemplateData {
        patient_first_name: patient_name.split_whitespace().next().unwrap_or("").to_owned(),
        clinic_name: ctx.clinic_name.clone(),
        clinic_phone: ctx.rules.clinic_phone.clone(),
        doctor_name: doctor_name.to_owned(),
        date,
        time,
        booking_ref: booking_ref.to_owned(),
        video_link: None,
    }
}

/// Withdraws the appointment's texts of `kinds` still waiting (never one being sent: that one is
/// the worker's), with `reason`; they count as handled. Returns how many.
pub(crate) fn withdraw(
    conn: &Connection,
    appointment: Uuid,
    kinds: &[&str],
    reason: &str,
    now: DateTime<Utc>,
) -> Result<usize> {
    let mut total = 0;
    for kind in kinds {
        total += conn
            .prepare_cached(
                "UPDATE sms_notifications SET state = 'skipped', error_message = ?3, final_at = ?4, updated_at = ?4, handled_at = ?4
                 WHERE appointment_id = ?1 AND kind = ?2 AND state = 'pending' AND needs_reconcile = 0",
            )?
            .execute(rusqlite::params![appointment.to_string(), kind, reason, ts(now)])?;
    }
    Ok(total)
}
