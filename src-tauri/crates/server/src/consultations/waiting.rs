//! The waiting room on the server (core consultations/waiting.rs): a link texted by hand opens the
//! consultation's conversation with both participants, so the patient's page can chat and say
//! that the patient waits (its own participant attributes); the desks' day views ask who waits.
//! The attributes are the patient's words about themselves: shown, never trusted for anything
//! else (the doctor still admits by Start).

use super::start::open_chat;
use super::{load, Stored};
use crate::error::Result;
use crate::settings;
use crate::staff::Staff;
use crate::twilio_setup::Texting;
use chrono::{DateTime, Duration, Utc};
use clinicdesk_core::auth::Permission;
use clinicdesk_core::consultations::{
    read_attributes, TwilioStep, WaitingPatient, EARLY_MINUTES, TOKEN_MARGIN_MINUTES,
};
use clinicdesk_core::twilio::conversations;
use deadpool_postgres::Pool;
use uuid::Uuid;

/// Opens the waiting room of `appointment` after its link was made: nothing to do once it is open,
/// running or over. Logged, never an error to the caller: the text goes anyway, and the patient
/// joins when the doctor starts.
pub(super) async fn open(pool: &Pool, texting: &Texting, appointment: Uuid, now: DateTime<Utc>) {
    let stored: Option<Stored> = match pool.get().await {
        Ok(client) => load(&**client, appointment).await.ok().flatten(),
        Err(_) => None,
    };
    let Some(stored) = stored.filter(|s| s.row.status == "scheduled") else { return };
    if stored.chat_ready && stored.row.conversation_sid.is_some() {
        return;
    }
    if let Err(e) = open_chat(pool, texting, &stored, TwilioStep::WaitingRoom, now).await {
        tracing::warn!(error = %e, "the waiting room did not open; the patient joins when the doctor starts");
    }
}

/// The patients waiting now: a doctor sees their own, other staff who see the schedule see all.
/// One read at Twilio per consultation whose link works now and whose waiting room is open.
pub async fn waiting(
    pool: &Pool,
    texting: Option<&Texting>,
    staff: &Staff,
    now: DateTime<Utc>,
) -> Result<Vec<WaitingPatient>> {
    let client = pool.get().await?;
    staff.require(&**client, Permission::ReadSchedule).await?;
    let Some(Texting { http, account }) = texting else { return Ok(Vec::new()) };
    let doctor = (staff.role() == clinicdesk_core::auth::Role::Doctor).then_some(staff.user_id);
    let tz = settings::time_zone(&**client).await?;
    let candidates = client
        .query(
            "SELECT a.id, p.full_name, u.full_name, d.user_id, a.starts_at, c.conversation_sid, c.patient_identity
             FROM consultations c
             JOIN appointments a ON a.id = c.appointment_id
             JOIN patients p ON p.id = a.patient_id
             JOIN doctors d ON d.id = a.doctor_id JOIN users u ON u.id = d.user_id
             WHERE c.status = 'scheduled' AND c.conversation_sid IS NOT NULL AND c.chat_ready_at IS NOT NULL
               AND a.kind = 'video' AND a.status IN ('scheduled', 'confirmed', 'checked_in')
               AND a.starts_at <= $1 AND a.ends_at >= $2 AND ($3::uuid IS NULL OR d.user_id = $3)
             ORDER BY a.starts_at",
            &[&(now + Duration::minutes(EARLY_MINUTES)), &(now - Duration::minutes(TOKEN_MARGIN_MINUTES)), &doctor],
        )
        .await?;
    drop(client);
    let mut waiting = Vec::new();
    for c in candidates {
        let conversation: String = c.get(5);
        let patient_identity: String = c.get(6);
        // One waiting room that cannot be read does not hide the others.
        let people = match conversations::participants(http, account, &conversation).await {
            Ok(people) => people,
            Err(err) => {
                tracing::warn!(code = ?err.code(), "a waiting room could not be read");
                continue;
            }
        };
        let patient = people.iter().find(|p| p.identity.as_deref() == Some(patient_identity.as_str()));
        let Some((since, device_check)) = patient.and_then(|p| p.attributes.as_deref()).and_then(read_attributes)
        else {
            continue;
        };
        let starts_at: DateTime<Utc> = c.get(4);
        let doctor_user: Uuid = c.get(3);
        waiting.push(WaitingPatient {
            appointment_id: c.get(0),
            patient_name: c.get(1),
            doctor_name: c.get(2),
            local_start: starts_at.with_timezone(&tz).format("%H:%M").to_string(),
            is_own: staff.role() == clinicdesk_core::auth::Role::Doctor && doctor_user == staff.user_id,
            since,
            device_check,
        });
    }
    // Who has waited longest first, as on one desk.
    waiting.sort_by_key(|w| w.since);
    Ok(waiting)
}
