//! Video consultations for doctors' desks (issue 12): the server holds the clinic's Twilio account,
//! so it makes the room and the chat, mints the doctor's tokens and ends them, by the core's rules
//! and in its words (only the appointment's own doctor, video only, scheduled → in progress →
//! completed once each), with the core's Twilio calls.
//!
//! Invariants (as on a one-desk clinic; the start's steps are the core's, consultations/start_steps.rs):
//! - Starting is resumable, never repeated: the intent (room name, identities: random ids) is
//!   committed before the first request to Twilio and every SID as it arrives; Twilio finds the
//!   room and the conversation again by name, so a start stopped half-way (Twilio down, the server
//!   restarted, two of the doctor's computers at once) is continued by the next.
//! - No database connection is held across a request to Twilio.
//! - Start and end lock the appointment's row before deciding, as reception's changes do
//!   (appointments.rs, `stored_for_change`): a consultation never starts on an appointment
//!   cancelled a moment ago, and a running one is never cancelled or moved.
//! - The state goes to every desk's feed; who was in the room and the chat (kept at the end) only
//!   to the doctor's and administrators' desks.

use crate::audit;
use crate::changes;
use crate::error::{Result, ServerError};
use crate::staff::Staff;
use crate::twilio_setup::Texting;
use chrono::{DateTime, Utc};
use clinicdesk_core::appointments::AppointmentStatus;
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::auth::Permission;
use clinicdesk_core::consultations::{in_person, only_their_doctor, state_of, ConsultationState};
use clinicdesk_core::error::CoreError;
use clinicdesk_core::sync::wire::ConsultationRow;
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

mod attachments;
mod chat;
mod end;
mod invite;
mod moved;
mod recording;
mod retention;
mod start;
mod token;
mod waiting;

pub use attachments::{fetch_waiting as fetch_attachments, file as attachment, list_kept_before, HeldFile};
pub use chat::{mark_read, messages, send};
pub use end::{end, fetch_late_records};
pub use invite::{forget_links, invite, send_links_with_last_reminder};
pub use moved::keep_moved;
pub use recording::{consent, recordings, set_recording};
pub use retention::remove_expired_chats;
pub use start::start;
pub use token::token;
pub use waiting::{waiting, WaitingCache};

/// The appointment facts a consultation depends on.
pub(super) struct Booking {
    pub(super) patient_id: Uuid,
    pub(super) doctor_id: Uuid,
    pub(super) doctor_user: Uuid,
    pub(super) doctor_name: String,
    pub(super) video: bool,
    pub(super) status: AppointmentStatus,
    pub(super) ends_at: DateTime<Utc>,
}

pub(super) const COLUMNS: &str =
    "appointment_id, status, room_name, doctor_identity, patient_identity, start_requested_at, room_sid,
                       conversation_sid, chat_service_sid, started_at, started_by, ended_at, ended_by,
                       earlier_room_sids, chat_ready_at IS NOT NULL, doctor_participant_sid, doctor_read_index,
                       record_pending_since IS NOT NULL, recording_consent_at, recording";

/// A row of `consultations`, and what only the server uses.
pub(super) struct Stored {
    pub(super) row: ConsultationRow,
    pub(super) earlier_room_sids: Vec<String>,
    pub(super) chat_ready: bool,
    pub(super) doctor_participant_sid: Option<String>,
    pub(super) doctor_read_index: Option<i64>,
}

pub(super) fn stored_row(r: &Row) -> Stored {
    Stored {
        row: ConsultationRow {
            appointment_id: r.get(0),
            status: r.get(1),
            room_name: r.get(2),
            doctor_identity: r.get(3),
            patient_identity: r.get(4),
            start_requested_at: r.get(5),
            room_sid: r.get(6),
            conversation_sid: r.get(7),
            chat_service_sid: r.get(8),
            started_at: r.get(9),
            started_by: r.get(10),
            ended_at: r.get(11),
            ended_by: r.get(12),
            record_pending: r.get(17),
            recording_consent_at: r.get(18),
            recording: r.get(19),
        },
        earlier_room_sids: r.get(13),
        chat_ready: r.get(14),
        doctor_participant_sid: r.get(15),
        doctor_read_index: r.get(16),
    }
}

pub(super) async fn load(db: &impl GenericClient, appointment: Uuid) -> Result<Option<Stored>> {
    let row = db
        .query_opt(&format!("SELECT {COLUMNS} FROM consultations WHERE appointment_id = $1"), &[&appointment])
        .await?;
    Ok(row.as_ref().map(stored_row))
}

/// The appointment; `lock` holds its row until the transaction ends (as reception's changes do).
pub(super) async fn booking(db: &impl GenericClient, id: Uuid, lock: bool) -> Result<Booking> {
    let sql = format!(
        "SELECT a.patient_id, a.doctor_id, d.user_id, u.full_name, a.kind, a.status, a.ends_at
         FROM appointments a JOIN doctors d ON d.id = a.doctor_id JOIN users u ON u.id = d.user_id
         WHERE a.id = $1{}",
        if lock { " FOR UPDATE OF a" } else { "" }
    );
    let row = db
        .query_opt(&sql, &[&id])
        .await?
        .ok_or_else(|| CoreError::NotFound("That appointment could not be found.".into()))?;
    Ok(Booking {
        patient_id: row.get(0),
        doctor_id: row.get(1),
        doctor_user: row.get(2),
        doctor_name: row.get(3),
        video: row.get::<_, String>(4) == "video",
        status: AppointmentStatus::parse(row.get(5)),
        ends_at: row.get(6),
    })
}

/// The appointment, if `staff` is its doctor and it is a video appointment (refusals audited).
pub(super) async fn own(db: &impl GenericClient, staff: &Staff, appointment: Uuid, action: &str) -> Result<Booking> {
    staff.require(db, Permission::RunConsultations).await?;
    let booking = booking(db, appointment, false).await?;
    if booking.doctor_user != staff.user_id {
        let words = only_their_doctor(&booking.doctor_name, action);
        audit::record(
            db,
            Some(staff),
            AuditAction::AccessRefused,
            Some(("appointment", &appointment.to_string())),
            Some(&words),
        )
        .await?;
        return Err(CoreError::Forbidden(words).into());
    }
    if !booking.video {
        return Err(in_person().into());
    }
    Ok(booking)
}

/// The appointment held for a change (its row locked until the transaction ends, as reception's
/// changes and the end take it), the consultation as it now stands, and its state.
pub(super) async fn locked(
    db: &impl GenericClient,
    appointment: Uuid,
) -> Result<(Booking, Option<Stored>, ConsultationState)> {
    let booking = booking(db, appointment, true).await?;
    let stored = load(db, appointment).await?;
    let state = state(&booking, stored.as_ref());
    Ok((booking, stored, state))
}

pub(super) fn state(booking: &Booking, stored: Option<&Stored>) -> ConsultationState {
    state_of(booking.status, stored.map(|s| s.row.status.as_str()))
}

/// The clinic's Twilio account on this server, or the sentence saying there is none.
pub(super) fn twilio<'a>(texting: Option<&'a Texting>, step: &str) -> Result<&'a Texting> {
    texting.ok_or_else(|| {
        CoreError::Twilio(format!(
            "Video consultations need the clinic's Twilio account on the clinic server, so {step}. Ask your IT person to add it (README, \"Several desks\", step 8). You can write your notes meanwhile."
        ))
        .into()
    })
}

/// A random id Twilio may see and log: it says nothing about anyone.
pub(super) fn opaque(prefix: &str) -> String {
    format!("{prefix}{}", Uuid::new_v4().simple())
}

/// The consultation's state, for every desk.
pub(super) async fn publish(db: &impl GenericClient, row: &ConsultationRow) -> Result<()> {
    let value = serde_json::to_value(row).map_err(|e| ServerError::Setup(e.to_string()))?;
    changes::record(db, "consultation", row.appointment_id, "all", Some(value)).await
}

/// Whether the appointment's consultation is running (reception may not cancel or move it).
pub async fn running(db: &impl GenericClient, appointment: Uuid) -> Result<bool> {
    Ok(db
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM consultations WHERE appointment_id = $1 AND status = 'in_progress')",
            &[&appointment],
        )
        .await?
        .get(0))
}
