//! Booking on the clinic server: the core's rules (slot, permissions, sentences) inside one
//! PostgreSQL transaction, with the engine's exclusion constraints as the final word on double
//! booking.
//!
//! Invariant: two desks booking the same doctor (or patient) at overlapping times cannot both
//! commit. The friendly check runs first and names the appointment in the way; if two bookings pass
//! it at once, the second INSERT waits for the first transaction and then fails with
//! `exclusion_violation` (23P01), which is turned into the same sentence after re-reading.

use crate::audit;
use crate::changes;
use crate::error::{Result, ServerError};
use crate::settings;
use crate::staff::Staff;
use crate::texts;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clinicdesk_core::appointments::{
    booking_slot, check_cancel_reason, check_version, doctor_busy, ensure_cancellable, ensure_movable, new_booking_ref,
    patient_busy, Appointment, AppointmentKind, AppointmentRecord, AppointmentStatus, BookingRequest,
    RescheduleRequest,
};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::auth::Permission;
use clinicdesk_core::error::CoreError;
use deadpool_postgres::Pool;
use tokio_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

const SELECT: &str = "SELECT a.id, a.booking_ref, a.patient_id, p.full_name, a.doctor_id, u.full_name,
                             a.starts_at, a.ends_at, a.kind, a.status, a.cancel_reason, a.version
                      FROM appointments a
                      JOIN patients p ON p.id = a.patient_id
                      JOIN doctors d ON d.id = a.doctor_id
                      JOIN users u ON u.id = d.user_id";

/// SQLSTATEs the booking path turns into words.
const EXCLUSION_VIOLATION: &str = "23P01";
const UNIQUE_VIOLATION: &str = "23505";

fn record(r: &Row) -> AppointmentRecord {
    AppointmentRecord {
        id: r.get(0),
        booking_ref: r.get(1),
        patient_id: r.get(2),
        patient_name: r.get(3),
        doctor_id: r.get(4),
        doctor_name: r.get(5),
        starts_at: r.get(6),
        ends_at: r.get(7),
        kind: AppointmentKind::parse(r.get(8)),
        status: AppointmentStatus::parse(r.get(9)),
        cancel_reason: r.get(10),
        version: r.get(11),
    }
}

pub async fn find(db: &impl GenericClient, id: Uuid, tz: Tz) -> Result<Appointment> {
    fetch(db, id, tz, "").await
}

/// The appointment, locked until the transaction ends, so its version check and its change are one.
async fn find_for_update(db: &impl GenericClient, id: Uuid, tz: Tz) -> Result<Appointment> {
    fetch(db, id, tz, " FOR UPDATE OF a").await
}

async fn fetch(db: &impl GenericClient, id: Uuid, tz: Tz, locking: &str) -> Result<Appointment> {
    let row = db.query_opt(&format!("{SELECT} WHERE a.id = $1{locking}"), &[&id]).await?;
    let row = row.ok_or_else(|| CoreError::NotFound("That appointment could not be found.".into()))?;
    Ok(Appointment::in_zone(record(&row), tz))
}

/// Books an appointment. `id` is the desk's own id for it (so a booking made offline keeps its id
/// once confirmed); the server makes one when absent.
pub async fn book(
    pool: &Pool,
    staff: &Staff,
    request: &BookingRequest,
    id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Appointment> {
    let mut client = pool.get().await?;
    // Before the transaction: a refusal is audited even though nothing else is written.
    staff.require(&**client, Permission::WriteSchedule).await?;
    let tx = client.transaction().await?;
    let booked = book_in(&*tx, staff, request, id, now).await?;
    tx.commit().await?;
    Ok(booked)
}

/// The booking inside the caller's transaction (the desk command path stores its outcome in the
/// same one). The caller has checked `WriteSchedule`. On a refusal the transaction is still usable:
/// the INSERT runs under a savepoint.
pub async fn book_in(
    tx: &impl GenericClient,
    staff: &Staff,
    request: &BookingRequest,
    id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Appointment> {
    let tz = settings::time_zone(tx).await?;
    let (start, end) = booking_slot(&request.date, &request.time, request.minutes, tz, now)?;
    let id = id.unwrap_or_else(Uuid::new_v4);
    check_people(tx, request).await?;
    ensure_free(tx, tz, request.doctor_id, request.patient_id, start, end, None).await?;
    // A fresh booking reference can collide with an existing one (31^6 codes): try a few.
    for _ in 0..5 {
        tx.batch_execute("SAVEPOINT booking").await?;
        let inserted = tx
            .execute(
                "INSERT INTO appointments (id, booking_ref, patient_id, doctor_id, starts_at, ends_at, kind, created_by, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
                &[&id, &new_booking_ref(), &request.patient_id, &request.doctor_id, &start, &end, &request.kind.as_str(), &staff.user_id, &now],
            )
            .await;
        match inserted {
            Ok(_) => {
                tx.batch_execute("RELEASE SAVEPOINT booking").await?;
                let booked = find(tx, id, tz).await?;
                changes::appointment(tx, &booked).await?;
                texts::on_change(tx, &booked, texts::Change::Booked, now).await?;
                audit::record(
                    tx,
                    Some(staff),
                    AuditAction::AppointmentBooked,
                    Some(("appointment", &id.to_string())),
                    Some(&booked.booking_ref),
                )
                .await?;
                return Ok(booked);
            }
            Err(e) => {
                tx.batch_execute("ROLLBACK TO SAVEPOINT booking").await?;
                match (code(&e), constraint(&e)) {
                    (Some(UNIQUE_VIOLATION), Some("appointments_booking_ref_key")) => continue,
                    (Some(UNIQUE_VIOLATION), Some("appointments_pkey")) => {
                        return Err(CoreError::Conflict("This booking has already been made.".into()).into())
                    }
                    (Some(EXCLUSION_VIOLATION), _) => {
                        // Another desk's booking committed between our check and our insert (the
                        // insert waited for it). A new statement sees it, so the check can name it.
                        ensure_free(tx, tz, request.doctor_id, request.patient_id, start, end, None).await?;
                        return Err(CoreError::Conflict(
                            "Someone else booked that time a moment ago. Refresh the day and choose another time."
                                .into(),
                        )
                        .into());
                    }
                    _ => return Err(e.into()),
                }
            }
        }
    }
    Err(ServerError::Setup("Could not find a free booking reference; please try again.".into()))
}

/// Moves an appointment (the caller has checked `WriteSchedule`), with the desk's rules: not on a
/// stale copy, only while it is still to happen, into a free slot in the future.
pub async fn move_in(
    tx: &impl GenericClient,
    staff: &Staff,
    id: Uuid,
    change: &RescheduleRequest,
    now: DateTime<Utc>,
) -> Result<Appointment> {
    let tz = settings::time_zone(tx).await?;
    let current = find_for_update(tx, id, tz).await?;
    check_version(&current, change.expected_version)?;
    ensure_movable(&current)?;
    let (start, end) = booking_slot(&change.date, &change.time, change.minutes.unwrap_or(current.minutes), tz, now)?;
    ensure_free(tx, tz, current.doctor_id, current.patient_id, start, end, Some(id)).await?;
    tx.batch_execute("SAVEPOINT moving").await?;
    let moved = tx
        .execute(
            "UPDATE appointments SET starts_at = $2, ends_at = $3, status = 'scheduled', version = version + 1, updated_at = $4 WHERE id = $1",
            &[&id, &start, &end, &now],
        )
        .await;
    if let Err(e) = moved {
        tx.batch_execute("ROLLBACK TO SAVEPOINT moving").await?;
        if code(&e) == Some(EXCLUSION_VIOLATION) {
            return Err(taken_meanwhile(tx, tz, current.doctor_id, current.patient_id, start, end, Some(id)).await);
        }
        return Err(e.into());
    }
    let moved = find(tx, id, tz).await?;
    changes::appointment(tx, &moved).await?;
    texts::on_change(tx, &moved, texts::Change::Moved { from: current.starts_at }, now).await?;
    let from = format!("; from {}", current.starts_at.to_rfc3339());
    audit::record(
        tx,
        Some(staff),
        AuditAction::AppointmentRescheduled,
        Some(("appointment", &id.to_string())),
        Some(&from),
    )
    .await?;
    Ok(moved)
}

/// Cancels an appointment (the caller has checked `WriteSchedule`); its slot is free at once.
pub async fn cancel_in(
    tx: &impl GenericClient,
    staff: &Staff,
    id: Uuid,
    reason: &str,
    expected_version: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Appointment> {
    let reason = check_cancel_reason(reason)?;
    let tz = settings::time_zone(tx).await?;
    let current = find_for_update(tx, id, tz).await?;
    check_version(&current, expected_version)?;
    ensure_cancellable(&current)?;
    tx.execute(
        "UPDATE appointments SET status = 'cancelled', cancel_reason = $2, version = version + 1, updated_at = $3 WHERE id = $1",
        &[&id, &reason, &now],
    )
    .await?;
    let cancelled = find(tx, id, tz).await?;
    changes::appointment(tx, &cancelled).await?;
    texts::on_change(tx, &cancelled, texts::Change::Cancelled, now).await?;
    audit::record(tx, Some(staff), AuditAction::AppointmentCancelled, Some(("appointment", &id.to_string())), None)
        .await?;
    Ok(cancelled)
}

/// The engine refused an overlap our check had not seen: another desk's write committed between
/// the check and ours (ours waited for it). A new statement sees it, so the check can name it.
async fn taken_meanwhile(
    tx: &impl GenericClient,
    tz: Tz,
    doctor: Uuid,
    patient: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    except: Option<Uuid>,
) -> ServerError {
    match ensure_free(tx, tz, doctor, patient, start, end, except).await {
        Err(named) => named,
        Ok(()) => CoreError::Conflict(
            "Someone else booked that time a moment ago. Refresh the day and choose another time.".into(),
        )
        .into(),
    }
}

async fn check_people(db: &impl GenericClient, request: &BookingRequest) -> Result<()> {
    if db.query_opt("SELECT 1 FROM patients WHERE id = $1", &[&request.patient_id]).await?.is_none() {
        return Err(CoreError::invalid("patient", "Choose a patient for this appointment.").into());
    }
    let doctor = db
        .query_opt(
            "SELECT u.full_name, d.active FROM doctors d JOIN users u ON u.id = d.user_id WHERE d.id = $1",
            &[&request.doctor_id],
        )
        .await?
        .ok_or_else(|| CoreError::invalid("doctor", "Choose a doctor for this appointment."))?;
    if !doctor.get::<_, bool>(1) {
        let name: String = doctor.get(0);
        return Err(CoreError::invalid("doctor", format!("{name} is not taking appointments at the moment.")).into());
    }
    Ok(())
}

/// The core's double-booking check, in the core's words: the slot [start, end) must be free for the
/// doctor and the patient (ignoring `except`, the appointment being moved).
pub async fn ensure_free(
    db: &impl GenericClient,
    tz: Tz,
    doctor: Uuid,
    patient: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    except: Option<Uuid>,
) -> Result<()> {
    for who in ["doctor", "patient"] {
        let person = if who == "doctor" { doctor } else { patient };
        let sql = format!(
            "{SELECT} WHERE a.{who}_id = $1 AND a.status NOT IN ('cancelled', 'no_show')
               AND a.starts_at < $3 AND a.ends_at > $2 AND a.id IS DISTINCT FROM $4
             ORDER BY a.starts_at LIMIT 1"
        );
        if let Some(row) = db.query_opt(&sql, &[&person, &start, &end, &except]).await? {
            let other = Appointment::in_zone(record(&row), tz);
            return Err(if who == "doctor" { doctor_busy(&other) } else { patient_busy(&other) }.into());
        }
    }
    Ok(())
}

fn code(e: &tokio_postgres::Error) -> Option<&str> {
    e.code().map(|c| c.code())
}

fn constraint(e: &tokio_postgres::Error) -> Option<&str> {
    e.as_db_error().and_then(|d| d.constraint())
}
