//! The patient's link texted as the doctor starts (the clinic's video invite), as a one-desk clinic
//! does (core consultations/invite.rs): a token for this consultation only (the patient's random
//! identity, its room and chat), working at once and until the slot's end plus the margin, in the
//! fragment of a link to the clinic's call page (`video.call_page_url`), queued in the outbox for
//! the elected sender.
//!
//! It never fails the start: a clinic without a call page, a patient who cannot be texted, an
//! invite sent in the last few minutes are the doctor's to handle by phone; why is logged (no
//! patient data). Queued once per start (its key), so a start asked for twice texts once.

use super::load;
use crate::appointments;
use crate::audit;
use crate::error::Result;
use crate::settings;
use crate::staff::Staff;
use crate::texts;
use crate::twilio_setup::Texting;
use chrono::{DateTime, Duration, Utc};
use clinicdesk_core::appointment_texts::rules::KEY_CLINIC_PHONE;
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::consultations::{link_window, PatientGreeting, KEY_CALL_PAGE_URL, START_INVITE_QUIET_MINUTES};
use clinicdesk_core::sms::templates::TemplateName;
use clinicdesk_core::sms::TextKind;
use clinicdesk_core::twilio::token::{TokenKey, TokenMinter, TokenRequest, TWILIO_MAX_TTL_SECONDS};
use deadpool_postgres::Pool;
use uuid::Uuid;

/// Why no invite went at the start (logged, and returned for tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoInvite {
    RecentlyInvited,
    NoCallPage,
    CannotBeTexted,
    TooEarly,
}

/// Texts the patient their link, unless there is a reason not to (logged). Errors are logged too.
pub(super) async fn on_start(pool: &Pool, texting: &Texting, staff: &Staff, appointment: Uuid, now: DateTime<Utc>) {
    match queue(pool, texting, staff, appointment, now).await {
        Ok(None) => {}
        Ok(Some(why)) => tracing::info!(reason = ?why, "no video invite texted at the start"),
        Err(e) => tracing::warn!(error = %e, "the video invite at the start could not be queued"),
    }
}

async fn queue(
    pool: &Pool,
    texting: &Texting,
    staff: &Staff,
    appointment: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<NoInvite>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let since = now - Duration::minutes(START_INVITE_QUIET_MINUTES);
    let recent: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM sms_notifications WHERE appointment_id = $1 AND kind = 'invite' AND created_at > $2)",
            &[&appointment, &since],
        )
        .await?
        .get(0);
    if recent {
        return Ok(Some(NoInvite::RecentlyInvited));
    }
    let Some(page) = settings::get(&*tx, KEY_CALL_PAGE_URL).await?.filter(|p| !p.is_empty()) else {
        return Ok(Some(NoInvite::NoCallPage));
    };
    let tz = settings::time_zone(&*tx).await?;
    let booking = appointments::find(&*tx, appointment, tz).await?;
    let patient = tx
        .query_one(
            "SELECT phone, sms_consent AND opted_out_at IS NULL FROM patients WHERE id = $1",
            &[&booking.patient_id],
        )
        .await?;
    let (phone, may_text): (Option<String>, bool) = (patient.get(0), patient.get(1));
    let Some(phone) = phone.filter(|_| may_text) else { return Ok(Some(NoInvite::CannotBeTexted)) };
    let Ok((_, valid_until)) = link_window(now, booking.starts_at, booking.ends_at) else {
        return Ok(Some(NoInvite::TooEarly));
    };
    let consultation = load(&*tx, appointment).await?.expect("a started consultation has a row").row;
    let account = &texting.account;
    let key = TokenKey {
        account_sid: &account.settings.account_sid,
        api_key_sid: &account.settings.api_key_sid,
        api_key_secret: &account.api_key_secret,
        region: None,
    };
    let request = TokenRequest {
        identity: consultation.patient_identity.clone(),
        video_room: Some(consultation.room_name.clone()),
        chat_service_sid: consultation
            .chat_service_sid
            .clone()
            .or_else(|| account.settings.conversations_service_sid.clone()),
        ttl_seconds: (valid_until - now).num_seconds() as u32,
    };
    // The doctor is ready now, maybe well before the appointment: this link works at once.
    let token =
        TokenMinter::new(&key, TWILIO_MAX_TTL_SECONDS).mint_not_before(&request, now.timestamp(), now.timestamp())?;
    let greeting = PatientGreeting {
        clinic_name: settings::get(&*tx, settings::CLINIC_NAME).await?.unwrap_or_default(),
        clinic_phone: settings::get(&*tx, KEY_CLINIC_PHONE).await?.unwrap_or_default(),
        doctor_name: booking.doctor_name.clone(),
        first_name: booking.patient_name.split_whitespace().next().unwrap_or("").to_owned(),
    };
    let link = format!("{page}#{}", greeting.fragment(&token, booking.starts_at));
    let body = texts::render(
        &*tx,
        TemplateName::VideoInvite,
        &booking.patient_name,
        &booking.doctor_name,
        &booking.booking_ref,
        booking.starts_at,
        Some(link),
    )
    .await?;
    let text_id = Uuid::new_v4();
    let queued = tx
        .execute(
            "INSERT INTO sms_notifications (id, appointment_id, patient_id, kind, to_phone, body, idempotency_key, state,
                                            next_attempt_at, about_starts_at, created_at, updated_at, news_before)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $8, $8, $9)
             ON CONFLICT (idempotency_key) DO NOTHING",
            &[
                &text_id,
                &appointment,
                &booking.patient_id,
                &TextKind::Invite.as_str(),
                &phone,
                &body,
                &format!("appointment:{appointment}:invite-at-start"),
                &now,
                &booking.starts_at,
            ],
        )
        .await?;
    if queued == 1 {
        let detail = format!(
            "patient {}; patient's link, identity {}, valid {} to {}",
            booking.patient_id,
            consultation.patient_identity,
            now.to_rfc3339(),
            valid_until.to_rfc3339()
        );
        let record = Some(("appointment", appointment.to_string()));
        let record = record.as_ref().map(|(t, id)| (*t, id.as_str()));
        audit::record(&*tx, Some(staff), AuditAction::TokenMinted, record, Some(&detail)).await?;
        let detail = format!("patient {}; video invite", booking.patient_id);
        audit::record(&*tx, Some(staff), AuditAction::TextSent, Some(("sms", &text_id.to_string())), Some(&detail))
            .await?;
    }
    tx.commit().await?;
    Ok(None)
}
