//! Booking, moving and cancelling: the rules once, over a small store trait.
//!
//! Two stores keep appointments: the embedded SQLite file (a one-desk clinic, and every desk's
//! cache; [`SqliteAppointments`] in sqlite_store.rs) and the clinic server's PostgreSQL
//! (`clinicdesk-server`'s `PgAppointments`). Each implements [`AppointmentStore`]: plain storage
//! questions and writes, no rules. The rules (the slot in the clinic's time zone, who may be
//! booked, the double-booking check that names the appointment in the way, stale copies, what can
//! no longer change, which audit entries a change needs, every sentence staff read) are the
//! functions below, written once.
//!
//! Invariants: every store method runs inside the caller's write transaction, so a change and its
//! audit entry commit together or not at all. The friendly check runs first; each store's engine is
//! the final word on an overlap (SQLite's triggers, PostgreSQL's exclusion constraints), and a
//! write it refused is reported as [`SlotWrite::Overlaps`], never as a storage error, so the rule
//! can look again and name what took the slot. What follows a change (the desk's queue, the
//! server's feed and texts) is the caller's, after the rule.

use super::{
    booking_slot, check_cancel_reason, check_version, doctor_busy, ensure_cancellable, ensure_movable, patient_busy,
    Appointment, AppointmentKind, BookingRequest, RescheduleRequest,
};
use crate::audit::AuditAction;
use crate::error::CoreError;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

/// Whose diary a slot is checked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Person {
    Doctor,
    Patient,
}

impl Person {
    /// "doctor" or "patient": the name both stores give the person's column (`doctor_id`).
    pub fn as_str(self) -> &'static str {
        match self {
            Person::Doctor => "doctor",
            Person::Patient => "patient",
        }
    }
}

/// What the rules need to know about a doctor before booking them.
#[derive(Debug, Clone)]
pub struct BookableDoctor {
    pub full_name: String,
    /// Taking appointments: the doctor and their staff account are both active.
    pub active: bool,
}

/// A new appointment, after the rules; the store draws its booking reference.
#[derive(Debug, Clone)]
pub struct NewAppointment {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub kind: AppointmentKind,
}

/// How a write of a slot ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotWrite {
    Written,
    /// The engine refused an overlap the rule's check had not seen (another writer's change
    /// committed in between); nothing was written and the transaction is still usable.
    Overlaps,
    /// An appointment with that id exists already (a retried booking); nothing was written.
    IdTaken,
}

/// Storage for appointments, inside one write transaction (see the module's invariants). Every
/// appointment a store returns is worded in the clinic's time zone ([`Appointment::in_zone`]).
#[allow(async_fn_in_trait)] // used with concrete stores only; no caller needs the futures to be Send by bound
pub trait AppointmentStore {
    /// The store's own error; every rule's refusal converts into it.
    type Error: From<CoreError>;

    /// Whether the patient is registered.
    async fn patient_exists(&mut self, id: Uuid) -> Result<bool, Self::Error>;
    /// The doctor, if there is one with this id.
    async fn doctor(&mut self, id: Uuid) -> Result<Option<BookableDoctor>, Self::Error>;
    /// The earliest open appointment (not cancelled, not a no-show) of `who` overlapping
    /// [start, end), other than `except`.
    async fn first_overlapping(
        &mut self,
        who: Person,
        person: Uuid,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        except: Option<Uuid>,
    ) -> Result<Option<Appointment>, Self::Error>;
    /// The appointment as stored, held for the change that follows; `None` if there is none.
    async fn stored_for_change(&mut self, id: Uuid) -> Result<Option<Appointment>, Self::Error>;
    /// The appointment as it now stands in this transaction.
    async fn current(&mut self, id: Uuid) -> Result<Appointment, Self::Error>;
    /// Stores a new scheduled appointment with a fresh booking reference.
    async fn insert(&mut self, new: &NewAppointment, by: Uuid) -> Result<SlotWrite, Self::Error>;
    /// Moves the appointment to [start, end), scheduled again, and its version on.
    async fn set_times(&mut self, id: Uuid, start: DateTime<Utc>, end: DateTime<Utc>)
        -> Result<SlotWrite, Self::Error>;
    /// Cancels the appointment (its slot is free at once) and moves its version on.
    async fn set_cancelled(&mut self, id: Uuid, reason: &str) -> Result<(), Self::Error>;
    /// Whether the appointment's video consultation is running now.
    async fn consultation_running(&mut self, id: Uuid) -> Result<bool, Self::Error>;
    /// An entry in the clinic's audit trail about this appointment and its patient.
    async fn audit(&mut self, action: AuditAction, id: Uuid, patient: Uuid, more: &str) -> Result<(), Self::Error>;
}

/// The clinic's clock and calendar for a rule: its time zone and the instant of the change.
#[derive(Debug, Clone, Copy)]
pub struct ClinicTime {
    pub tz: Tz,
    pub now: DateTime<Utc>,
}

/// Books an appointment under `id` (a desk's own id for it, so a booking made offline keeps its id
/// once confirmed): a registered patient, a doctor taking appointments, a slot in the future that
/// is free for both. Audited; returns the appointment as stored.
pub async fn book<S: AppointmentStore>(
    store: &mut S,
    id: Uuid,
    request: &BookingRequest,
    by: Uuid,
    at: ClinicTime,
) -> Result<Appointment, S::Error> {
    let (start, end) = booking_slot(&request.date, &request.time, request.minutes, at.tz, at.now)?;
    if !store.patient_exists(request.patient_id).await? {
        return Err(CoreError::invalid("patient", "Choose a patient for this appointment.").into());
    }
    let doctor = store
        .doctor(request.doctor_id)
        .await?
        .ok_or_else(|| CoreError::invalid("doctor", "Choose a doctor for this appointment."))?;
    if !doctor.active {
        return Err(CoreError::invalid(
            "doctor",
            format!("{} is not taking appointments at the moment.", doctor.full_name),
        )
        .into());
    }
    ensure_free(store, request.doctor_id, request.patient_id, start, end, None).await?;
    let new = NewAppointment {
        id,
        patient_id: request.patient_id,
        doctor_id: request.doctor_id,
        starts_at: start,
        ends_at: end,
        kind: request.kind,
    };
    match store.insert(&new, by).await? {
        SlotWrite::Written => {}
        SlotWrite::IdTaken => return Err(CoreError::Conflict("This booking has already been made.".into()).into()),
        SlotWrite::Overlaps => {
            return Err(taken_meanwhile(store, request.doctor_id, request.patient_id, start, end, None).await)
        }
    }
    store.audit(AuditAction::AppointmentBooked, id, request.patient_id, "").await?;
    store.current(id).await
}

/// Moves an appointment: not on a stale copy, only while it is still to happen and its video
/// consultation is not running, into a free slot in the future (same length unless a new one is
/// given). Audited with the old time; returns the appointment before and after.
pub async fn reschedule<S: AppointmentStore>(
    store: &mut S,
    id: Uuid,
    change: &RescheduleRequest,
    at: ClinicTime,
) -> Result<(Appointment, Appointment), S::Error> {
    let before = for_change(store, id, change.expected_version).await?;
    ensure_movable(&before)?;
    refuse_while_running(store, id, "moved").await?;
    let minutes = change.minutes.unwrap_or(before.minutes);
    let (start, end) = booking_slot(&change.date, &change.time, minutes, at.tz, at.now)?;
    ensure_free(store, before.doctor_id, before.patient_id, start, end, Some(id)).await?;
    if store.set_times(id, start, end).await? == SlotWrite::Overlaps {
        return Err(taken_meanwhile(store, before.doctor_id, before.patient_id, start, end, Some(id)).await);
    }
    let from = format!("; from {}", crate::db::ts(before.starts_at));
    store.audit(AuditAction::AppointmentRescheduled, id, before.patient_id, &from).await?;
    let after = store.current(id).await?;
    Ok((before, after))
}

/// Cancels an appointment with a reason: not on a stale copy, only while it is still to happen and
/// its video consultation is not running. Audited; returns the appointment before and after.
pub async fn cancel<S: AppointmentStore>(
    store: &mut S,
    id: Uuid,
    reason: &str,
    expected_version: Option<i64>,
) -> Result<(Appointment, Appointment), S::Error> {
    let reason = check_cancel_reason(reason)?;
    let before = for_change(store, id, expected_version).await?;
    ensure_cancellable(&before)?;
    refuse_while_running(store, id, "cancelled").await?;
    store.set_cancelled(id, &reason).await?;
    store.audit(AuditAction::AppointmentCancelled, id, before.patient_id, "").await?;
    let after = store.current(id).await?;
    Ok((before, after))
}

async fn for_change<S: AppointmentStore>(
    store: &mut S,
    id: Uuid,
    expected: Option<i64>,
) -> Result<Appointment, S::Error> {
    let current = store
        .stored_for_change(id)
        .await?
        .ok_or_else(|| CoreError::NotFound("That appointment could not be found.".into()))?;
    check_version(&current, expected)?;
    Ok(current)
}

/// A running consultation's room and chat would stay open at Twilio with no screen left to end
/// them. `verb`: "cancelled", "moved".
async fn refuse_while_running<S: AppointmentStore>(store: &mut S, id: Uuid, verb: &str) -> Result<(), S::Error> {
    if store.consultation_running(id).await? {
        return Err(CoreError::Conflict(format!(
            "The video consultation of this appointment is in progress. The doctor ends it first; then it can be {verb}."
        ))
        .into());
    }
    Ok(())
}

/// The slot [start, end) must be free for the doctor and the patient (ignoring `except`, the
/// appointment being moved); a clash is named in words.
async fn ensure_free<S: AppointmentStore>(
    store: &mut S,
    doctor: Uuid,
    patient: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    except: Option<Uuid>,
) -> Result<(), S::Error> {
    if let Some(other) = store.first_overlapping(Person::Doctor, doctor, start, end, except).await? {
        return Err(doctor_busy(&other).into());
    }
    if let Some(other) = store.first_overlapping(Person::Patient, patient, start, end, except).await? {
        return Err(patient_busy(&other).into());
    }
    Ok(())
}

/// The engine refused an overlap the check had not seen: another writer's change committed
/// between the check and ours (ours waited for it). Looking again names it; if even that finds
/// nothing (it was cancelled since), the sentence still says what to do.
async fn taken_meanwhile<S: AppointmentStore>(
    store: &mut S,
    doctor: Uuid,
    patient: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    except: Option<Uuid>,
) -> S::Error {
    match ensure_free(store, doctor, patient, start, end, except).await {
        Err(named) => named,
        Ok(()) => CoreError::Conflict(
            "Someone else booked that time a moment ago. Refresh the day and choose another time.".into(),
        )
        .into(),
    }
}
