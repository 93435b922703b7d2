//! Recording a consultation run through the clinic server (core consultations/recording.rs and
//! notes.rs, on the server): only with the patient's agreement, recorded first by the doctor;
//! switched on and off with the room's recording rules while it runs; completing the room at the
//! end stops it. The recordings stay at Twilio: the doctor sees them listed.
//!
//! Invariants:
//! - Never on without the agreement, which is recorded once (who, when) and never withdrawn here.
//! - The switch is recorded (and fed to desks) only after Twilio applied it, and only while the
//!   consultation still runs; every switch Twilio applied is audited. A consultation's switches
//!   take turns (an advisory lock, across server processes), so the desks are told what Twilio
//!   applied last.
//! - The end completes the room (recording stops with it) and records recording off.

use super::{booking, load, opaque, own, publish, state, twilio};
use crate::audit;
use crate::error::{Result, ServerError};
use crate::staff::Staff;
use crate::twilio_setup::Texting;
use chrono::{DateTime, Utc};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::consultations::recording::{self, RecordingStore, SwitchPlan};
use clinicdesk_core::consultations::{refusal, ConsultationRecording, ConsultationState};
use clinicdesk_core::sync::wire::ConsultationAnswer;
use deadpool_postgres::Pool;
use uuid::Uuid;

/// Records that the patient agreed to be recorded: its doctor, before or during the consultation.
/// Recording it again changes nothing.
pub async fn consent(pool: &Pool, staff: &Staff, appointment: Uuid, now: DateTime<Utc>) -> Result<ConsultationAnswer> {
    let mut client = pool.get().await?;
    own(&**client, staff, appointment, "record consent for").await?;
    let tx = client.transaction().await?;
    let booking = booking(&*tx, appointment, true).await?;
    let state = state(&booking, load(&*tx, appointment).await?.as_ref());
    if !matches!(state, ConsultationState::Scheduled | ConsultationState::InProgress) {
        return Err(refusal("record consent for", state).into());
    }
    // Before the start the consultation has no row yet: its names are drawn now, as a start would.
    tx.execute(
        "INSERT INTO consultations (appointment_id, room_name, doctor_identity, patient_identity, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (appointment_id) DO NOTHING",
        &[&appointment, &opaque("cd-"), &opaque("d-"), &opaque("p-"), &now],
    )
    .await?;
    let recorded = tx
        .execute(
            "UPDATE consultations SET recording_consent_at = $2, recording_consent_by = $3, updated_at = $2
             WHERE appointment_id = $1 AND recording_consent_at IS NULL",
            &[&appointment, &now, &staff.user_id],
        )
        .await?;
    let stored = load(&*tx, appointment).await?.expect("ensured above");
    if recorded == 1 {
        let detail = format!("patient {}; agreed to recording", booking.patient_id);
        let id = appointment.to_string();
        audit::record(&*tx, Some(staff), AuditAction::RecordingConsented, Some(("appointment", &id)), Some(&detail))
            .await?;
        publish(&*tx, &stored.row).await?;
    }
    tx.commit().await?;
    Ok(ConsultationAnswer { consultation: stored.row, record: None })
}

/// Switches recording on (`true`, only after the agreement) or off, while the consultation runs.
pub async fn set_recording(
    pool: &Pool,
    texting: Option<&Texting>,
    staff: &Staff,
    appointment: Uuid,
    on: bool,
    now: DateTime<Utc>,
) -> Result<ConsultationAnswer> {
    {
        let client = pool.get().await?;
        own(&**client, staff, appointment, "record").await?;
    }
    let Texting { http, account } = twilio(texting, "recording was not switched")?;
    // One switch at a time for this consultation (the doctor's two desks pressing on and off at
    // once, on any server process): what the desks are told is what Twilio applied last. Read
    // again under the lock.
    let lock = switch_lock(pool, appointment).await?;
    let plan = {
        let client = pool.get().await?;
        let booking = booking(&**client, appointment, false).await?;
        match load(&**client, appointment).await? {
            Some(stored) if state(&booking, Some(&stored)) == ConsultationState::InProgress => SwitchPlan {
                patient: booking.patient_id,
                room_sid: stored.row.room_sid,
                consented: stored.row.recording_consent_at.is_some(),
            },
            other => return Err(refusal("record", state(&booking, other.as_ref())).into()),
        }
    };
    let answer = recording::switch(&mut PgSwitch { pool, staff, appointment, now }, &plan, http, account, on).await?;
    lock.execute("SELECT pg_advisory_unlock_all()", &[]).await?;
    Ok(answer)
}

/// A switch recorded on the server.
struct PgSwitch<'a> {
    pool: &'a Pool,
    staff: &'a Staff,
    appointment: Uuid,
    now: DateTime<Utc>,
}

impl RecordingStore for PgSwitch<'_> {
    type Error = ServerError;
    type Switched = ConsultationAnswer;

    async fn record_switch(&mut self, on: bool, detail: &str) -> Result<ConsultationAnswer> {
        let appointment = self.appointment;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        booking(&*tx, appointment, true).await?;
        // Only while it runs: an end meanwhile completed the room at Twilio, which stops recording.
        let switched = tx
            .execute(
                "UPDATE consultations SET recording = $2, updated_at = $3
                 WHERE appointment_id = $1 AND status = 'in_progress' AND recording IS DISTINCT FROM $2",
                &[&appointment, &on, &self.now],
            )
            .await?;
        let stored = load(&*tx, appointment).await?.expect("loaded above");
        let id = appointment.to_string();
        audit::record(&*tx, Some(self.staff), AuditAction::RecordingSwitched, Some(("appointment", &id)), Some(detail))
            .await?;
        if switched == 1 {
            publish(&*tx, &stored.row).await?;
        }
        tx.commit().await?;
        Ok(ConsultationAnswer { consultation: stored.row, record: None })
    }
}

/// The advisory locks' first key for recording switches ("REC1" as bytes); the second is the
/// appointment's hash (two appointments sharing one only take turns, harmlessly).
const SWITCH_LOCKS: i32 = 0x5245_4331;

/// Holds the consultation's switch lock until the returned connection closes or unlocks. The
/// connection is taken out of the pool, so the lock ends with it whatever happens to the request
/// (cancelled halfway included): no pooled connection ever keeps it. No transaction is open on it
/// (an open one would hold back every desk's feed).
async fn switch_lock(pool: &Pool, appointment: Uuid) -> Result<deadpool_postgres::ClientWrapper> {
    let client = deadpool_postgres::Object::take(pool.get().await?);
    let bytes = appointment.as_bytes();
    let hash =
        i32::from_be_bytes([bytes[0] ^ bytes[8], bytes[1] ^ bytes[9], bytes[2] ^ bytes[10], bytes[3] ^ bytes[11]]);
    client.execute("SELECT pg_advisory_lock($1, $2)", &[&SWITCH_LOCKS, &hash]).await?;
    Ok(client)
}

/// The consultation's recordings (metadata) from every room it used: its doctor only. Empty when
/// it never started or the patient never agreed (nothing to ask Twilio).
pub async fn recordings(
    pool: &Pool,
    texting: Option<&Texting>,
    staff: &Staff,
    appointment: Uuid,
) -> Result<Vec<ConsultationRecording>> {
    let stored = {
        let client = pool.get().await?;
        own(&**client, staff, appointment, "see the recordings of").await?;
        load(&**client, appointment).await?
    };
    let Some(stored) = stored else { return Ok(Vec::new()) };
    let rooms: Vec<String> = stored.earlier_room_sids.iter().cloned().chain(stored.row.room_sid.clone()).collect();
    let consented = stored.row.recording_consent_at.is_some();
    let clinic_twilio = || twilio(texting, "the recordings cannot be listed").map(|t| (&t.http, &t.account));
    recording::list_recordings(clinic_twilio, &rooms, consented).await
}
