//! The waiting room on the server (core consultations/waiting.rs): a link texted by hand opens the
//! consultation's conversation with both participants, so the patient's page can chat and say
//! that the patient waits (its own participant attributes); the desks' day views ask who waits.
//! The attributes are the patient's words about themselves: shown, never trusted for anything
//! else (the doctor still admits by Start).
//!
//! Every desk's day view asks every few seconds; what Twilio said about one waiting room is kept
//! for a few seconds ([`WaitingCache`]), so the reads at Twilio do not grow with the number of desks.

use super::start::{plan_of, PgChat};
use super::{load, Stored};
use crate::error::Result;
use crate::settings;
use crate::staff::Staff;
use crate::twilio_setup::Texting;
use chrono::{DateTime, Duration, Utc};
use clinicdesk_core::auth::Permission;
use clinicdesk_core::consultations::start_steps;
use clinicdesk_core::consultations::{
    read_attributes, TwilioStep, WaitingPatient, EARLY_MINUTES, TOKEN_MARGIN_MINUTES,
};
use clinicdesk_core::twilio::conversations;
use deadpool_postgres::Pool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
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
    let mut chat = PgChat { pool, appointment, now };
    let opened =
        start_steps::open_chat(&mut chat, &texting.http, &texting.account, &plan_of(&stored), TwilioStep::WaitingRoom)
            .await;
    if let Err(e) = opened {
        tracing::warn!(error = %e, "the waiting room did not open; the patient joins when the doctor starts");
    }
}

/// How long what Twilio said about a waiting room is used again (desks poll every few seconds).
const FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(3);

/// When a waiting room was read at Twilio, and its patient's attributes then.
type Reported = (Instant, Option<String>);

/// What each waiting room's patient reported, as last read at Twilio, by conversation.
#[derive(Default, Clone)]
pub struct WaitingCache(Arc<Mutex<HashMap<String, Reported>>>);

impl WaitingCache {
    fn fresh(&self, conversation: &str) -> Option<Option<String>> {
        let cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(conversation).filter(|(at, _)| at.elapsed() < FRESH_FOR).map(|(_, attributes)| attributes.clone())
    }

    fn keep(&self, conversation: &str, attributes: Option<String>) {
        let mut cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|_, (at, _)| at.elapsed() < FRESH_FOR);
        cache.insert(conversation.to_owned(), (Instant::now(), attributes));
    }
}

/// The patients waiting now: a doctor sees their own, other staff who see the schedule see all.
/// At most one read at Twilio per consultation whose link works now and whose waiting room is
/// open, every few seconds whoever asks.
pub async fn waiting(
    pool: &Pool,
    texting: Option<&Texting>,
    cache: &WaitingCache,
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
        let attributes = match cache.fresh(&conversation) {
            Some(attributes) => attributes,
            None => {
                // One waiting room that cannot be read does not hide the others.
                let people = match conversations::participants(http, account, &conversation).await {
                    Ok(people) => people,
                    Err(err) => {
                        tracing::warn!(code = ?err.code(), "a waiting room could not be read");
                        continue;
                    }
                };
                let patient = people.iter().find(|p| p.identity.as_deref() == Some(patient_identity.as_str()));
                let attributes = patient.and_then(|p| p.attributes.clone());
                cache.keep(&conversation, attributes.clone());
                attributes
            }
        };
        let Some((since, device_check)) = attributes.as_deref().and_then(read_attributes) else { continue };
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
