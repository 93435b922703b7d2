//! Who may do what with a consultation. The role table (`Permission::RunConsultations`) says a
//! doctor may; this file adds the rule the table cannot: only the appointment's own doctor. Both
//! refusals are written to the audit trail.

use crate::appointments::AppointmentStatus;
use crate::auth::{Caller, Permission, Role};
use crate::db::uuid_at;
use crate::error::{CoreError, Result};
use crate::Clinic;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};
use uuid::Uuid;

/// The appointment facts a consultation depends on.
pub(super) struct Booking {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub doctor_user: Uuid,
    pub doctor_name: String,
    pub video: bool,
    pub status: AppointmentStatus,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

pub(super) fn booking(conn: &Connection, id: Uuid) -> Result<Booking> {
    conn.prepare_cached(
        "SELECT a.id, a.patient_id, d.user_id, u.full_name, a.kind, a.status, a.starts_at, a.ends_at
         FROM appointments a JOIN doctors d ON d.id = a.doctor_id JOIN users u ON u.id = d.user_id
         WHERE a.id = ?1",
    )?
    .query_row([id.to_string()], |r| {
        Ok(Booking {
            id: uuid_at(r, 0)?,
            patient_id: uuid_at(r, 1)?,
            doctor_user: uuid_at(r, 2)?,
            doctor_name: r.get(3)?,
            video: r.get::<_, String>(4)? == "video",
            status: AppointmentStatus::parse(&r.get::<_, String>(5)?),
            starts_at: r.get(6)?,
            ends_at: r.get(7)?,
        })
    })
    .optional()?
    .ok_or_else(|| CoreError::NotFound("That appointment could not be found.".into()))
}

/// Said of anything about the video consultation of an in-person appointment.
pub fn in_person() -> CoreError {
    CoreError::invalid("appointment", "This is an in-person appointment, so it has no video consultation.")
}

/// Only video appointments have a consultation.
pub(super) fn video_only(booking: &Booking) -> Result<()> {
    if booking.video {
        Ok(())
    } else {
        Err(in_person())
    }
}

/// The refusal to anyone but the appointment's doctor: "only they can {action} its video
/// consultation" (the clinic server says the same).
pub fn only_their_doctor(doctor_name: &str, action: &str) -> String {
    format!("This is {doctor_name}'s appointment: only they can {action} its video consultation.")
}

/// True when `caller` is the appointment's doctor.
pub(super) fn is_own(caller: &Caller, booking: &Booking) -> bool {
    caller.role() == Role::Doctor && booking.doctor_user == caller.user_id()
}

/// True when `caller` may read the consultation's clinical parts (notes, chat, who was in the room):
/// the appointment's own doctor, or an administrator (`Permission::ReadConsultationRecords`).
pub(super) fn reads_clinical(caller: &Caller, booking: &Booking) -> bool {
    Permission::ReadConsultationRecords.allows(caller.role())
        && (caller.role() == Role::Admin || is_own(caller, booking))
}

/// The appointment, if `caller` is its doctor and it is a video appointment. `action` completes
/// the refusal: "only they can {action} its video consultation".
pub(super) fn own(clinic: &Clinic, caller: &Caller, id: Uuid, action: &str) -> Result<Booking> {
    caller.require(Permission::RunConsultations)?;
    let booking = booking(&*clinic.db().conn()?, id)?;
    if !is_own(caller, &booking) {
        return Err(caller.refuse(Permission::RunConsultations, only_their_doctor(&booking.doctor_name, action)));
    }
    video_only(&booking)?;
    Ok(booking)
}

/// The appointment, if `caller` may end its consultation: its own doctor, or an administrator
/// (a consultation left running — the doctor's computer closed, the doctor gone — would otherwise
/// keep its room and chat open and its appointment unmovable). Refusals audited.
pub(super) fn ender(clinic: &Clinic, caller: &Caller, id: Uuid) -> Result<Booking> {
    if caller.role() != Role::Admin {
        return own(clinic, caller, id, "end");
    }
    // Allowed by the role, not the table: a folder moved onto a clinic server is refused here too.
    caller.refuse_if_moved()?;
    let booking = booking(&*clinic.db().conn()?, id)?;
    video_only(&booking)?;
    Ok(booking)
}

/// The appointment, if `caller` may invite its patient in: its own doctor, or staff who send the
/// clinic's texts (reception, from the appointment dialog).
pub(super) fn inviter(clinic: &Clinic, caller: &Caller, id: Uuid) -> Result<Booking> {
    let booking = booking(&*clinic.db().conn()?, id)?;
    if is_own(caller, &booking) {
        caller.refuse_if_moved()?;
    } else {
        caller.require(Permission::SendTexts)?;
    }
    video_only(&booking)?;
    Ok(booking)
}
