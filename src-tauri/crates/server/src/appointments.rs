//! Booking on the clinic server: the core's appointment rules (`clinicdesk_core::appointments::
//! store`: slot, who may be booked, stale copies, sentences, audit) over PostgreSQL, inside one
//! transaction, with the engine's exclusion constraints as the final word on double booking; then
//! what only the server does after a change (the desks' feed, the patient's text).
//!
//! Invariant: two desks booking the same doctor (or patient) at overlapping times cannot both
//! commit. The friendly check runs first and names the appointment in the way; if two bookings pass
//! it at once, the second write waits for the first transaction and then fails with
//! `exclusion_violation` (23P01): the store reports an overlap and the rule looks again to name it.

use crate::audit;
use crate::changes;
use crate::error::{Result, ServerError};
use crate::settings;
use crate::staff::Staff;
use crate::texts;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clinicdesk_core::appointments::store::{
    self, AppointmentStore, BookableDoctor, ClinicTime, NewAppointment, Person, SlotWrite,
};
use clinicdesk_core::appointments::{
    new_booking_ref, Appointment, AppointmentKind, AppointmentRecord, AppointmentStatus, BookingRequest,
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

async fn fetch(db: &impl GenericClient, id: Uuid, tz: Tz, locking: &str) -> Result<Appointment> {
    let row = db.query_opt(&format!("{SELECT} WHERE a.id = $1{locking}"), &[&id]).await?;
    let row = row.ok_or_else(|| CoreError::NotFound("That appointment could not be found.".into()))?;
    Ok(Appointment::in_zone(record(&row), tz))
}

/// Appointments in the clinic's PostgreSQL database, in the caller's transaction: the store the
/// core's appointment rules (`clinicdesk_core::appointments::store`) run over here.
pub struct PgAppointments<'a, C> {
    db: &'a C,
    staff: &'a Staff,
    now: DateTime<Utc>,
    tz: Tz,
}

impl<C: GenericClient + Sync> PgAppointments<'_, C> {
    /// Runs one write under a savepoint, so an engine's refusal leaves the transaction usable:
    /// an overlap (another desk's booking committed between the rule's check and this write; the
    /// write waited for it) is [`SlotWrite::Overlaps`], `taken` maps other refusals.
    async fn slot_write(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        taken: impl Fn(&tokio_postgres::Error) -> Option<SlotWrite>,
    ) -> Result<Option<SlotWrite>> {
        self.db.batch_execute("SAVEPOINT slot_write").await?;
        match self.db.execute(sql, params).await {
            Ok(_) => {
                self.db.batch_execute("RELEASE SAVEPOINT slot_write").await?;
                Ok(Some(SlotWrite::Written))
            }
            Err(e) => {
                self.db.batch_execute("ROLLBACK TO SAVEPOINT slot_write").await?;
                if code(&e) == Some(EXCLUSION_VIOLATION) {
                    return Ok(Some(SlotWrite::Overlaps));
                }
                match taken(&e) {
                    Some(outcome) => Ok(Some(outcome)),
                    None if code(&e) == Some(UNIQUE_VIOLATION)
                        && constraint(&e) == Some("appointments_booking_ref_key") =>
                    {
                        Ok(None)
                    }
                    None => Err(e.into()),
                }
            }
        }
    }
}

impl<C: GenericClient + Sync> AppointmentStore for PgAppointments<'_, C> {
    type Error = ServerError;

    async fn patient_exists(&mut self, id: Uuid) -> Result<bool> {
        Ok(self.db.query_one("SELECT EXISTS (SELECT 1 FROM patients WHERE id = $1)", &[&id]).await?.get(0))
    }

    async fn doctor(&mut self, id: Uuid) -> Result<Option<BookableDoctor>> {
        let row = self
            .db
            .query_opt(
                "SELECT u.full_name, d.active AND u.active FROM doctors d JOIN users u ON u.id = d.user_id WHERE d.id = $1",
                &[&id],
            )
            .await?;
        Ok(row.map(|r| BookableDoctor { full_name: r.get(0), active: r.get(1) }))
    }

    async fn first_overlapping(
        &mut self,
        who: Person,
        person: Uuid,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        except: Option<Uuid>,
    ) -> Result<Option<Appointment>> {
        let who = who.as_str();
        let sql = format!(
            "{SELECT} WHERE a.{who}_id = $1 AND a.status NOT IN ('cancelled', 'no_show')
               AND a.starts_at < $3 AND a.ends_at > $2 AND a.id IS DISTINCT FROM $4
             ORDER BY a.starts_at LIMIT 1"
        );
        let row = self.db.query_opt(&sql, &[&person, &start, &end, &except]).await?;
        Ok(row.map(|r| Appointment::in_zone(record(&r), self.tz)))
    }

    async fn stored_for_change(&mut self, id: Uuid) -> Result<Option<Appointment>> {
        // Locked until the transaction ends, so its version check and its change are one.
        let row = self.db.query_opt(&format!("{SELECT} WHERE a.id = $1 FOR UPDATE OF a"), &[&id]).await?;
        Ok(row.map(|r| Appointment::in_zone(record(&r), self.tz)))
    }

    async fn current(&mut self, id: Uuid) -> Result<Appointment> {
        find(self.db, id, self.tz).await
    }

    async fn insert(&mut self, new: &NewAppointment, by: Uuid) -> Result<SlotWrite> {
        // A fresh booking reference can collide with an existing one (31^6 codes): try a few.
        for _ in 0..5 {
            let written = self
                .slot_write(
                    "INSERT INTO appointments (id, booking_ref, patient_id, doctor_id, starts_at, ends_at, kind, created_by, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
                    &[&new.id, &new_booking_ref(), &new.patient_id, &new.doctor_id, &new.starts_at, &new.ends_at, &new.kind.as_str(), &by, &self.now],
                    |e| (code(e) == Some(UNIQUE_VIOLATION) && constraint(e) == Some("appointments_pkey")).then_some(SlotWrite::IdTaken),
                )
                .await?;
            if let Some(outcome) = written {
                return Ok(outcome);
            }
        }
        Err(ServerError::Setup("Could not find a free booking reference; please try again.".into()))
    }

    async fn set_times(&mut self, id: Uuid, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<SlotWrite> {
        let written = self
            .slot_write(
                "UPDATE appointments SET starts_at = $2, ends_at = $3, status = 'scheduled', version = version + 1, updated_at = $4 WHERE id = $1",
                &[&id, &start, &end, &self.now],
                |_| None,
            )
            .await?;
        Ok(written.unwrap_or(SlotWrite::Written))
    }

    async fn set_cancelled(&mut self, id: Uuid, reason: &str) -> Result<()> {
        self.db
            .execute(
                "UPDATE appointments SET status = 'cancelled', cancel_reason = $2, version = version + 1, updated_at = $3 WHERE id = $1",
                &[&id, &reason, &self.now],
            )
            .await?;
        Ok(())
    }

    async fn consultation_running(&mut self, id: Uuid) -> Result<bool> {
        crate::consultations::running(self.db, id).await
    }

    async fn audit(&mut self, action: AuditAction, id: Uuid, patient: Uuid, more: &str) -> Result<()> {
        let detail = format!("patient {patient}{more}");
        audit::record(self.db, Some(self.staff), action, Some(("appointment", &id.to_string())), Some(&detail)).await?;
        Ok(())
    }
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
/// same one), by the core's rules; then the desks' feed and the patient's text. The caller has
/// checked `WriteSchedule`. On a refusal the transaction is still usable.
pub async fn book_in(
    tx: &(impl GenericClient + Sync),
    staff: &Staff,
    request: &BookingRequest,
    id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Appointment> {
    let tz = settings::time_zone(tx).await?;
    let id = id.unwrap_or_else(Uuid::new_v4);
    let mut store = PgAppointments { db: tx, staff, now, tz };
    let booked = store::book(&mut store, id, request, staff.user_id, ClinicTime { tz, now }).await?;
    changes::appointment(tx, &booked).await?;
    texts::on_change(tx, &booked, texts::Change::Booked, now).await?;
    Ok(booked)
}

/// Moves an appointment by the core's rules (the caller has checked `WriteSchedule`).
pub async fn move_in(
    tx: &(impl GenericClient + Sync),
    staff: &Staff,
    id: Uuid,
    change: &RescheduleRequest,
    now: DateTime<Utc>,
) -> Result<Appointment> {
    let tz = settings::time_zone(tx).await?;
    let mut store = PgAppointments { db: tx, staff, now, tz };
    let (before, moved) = store::reschedule(&mut store, id, change, ClinicTime { tz, now }).await?;
    crate::consultations::forget_links(tx, id, now).await?;
    changes::appointment(tx, &moved).await?;
    texts::on_change(tx, &moved, texts::Change::Moved { from: before.starts_at }, now).await?;
    Ok(moved)
}

/// Cancels an appointment by the core's rules (the caller has checked `WriteSchedule`); its slot
/// is free at once.
pub async fn cancel_in(
    tx: &(impl GenericClient + Sync),
    staff: &Staff,
    id: Uuid,
    reason: &str,
    expected_version: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Appointment> {
    let tz = settings::time_zone(tx).await?;
    let mut store = PgAppointments { db: tx, staff, now, tz };
    let (_, cancelled) = store::cancel(&mut store, id, reason, expected_version).await?;
    changes::appointment(tx, &cancelled).await?;
    texts::on_change(tx, &cancelled, texts::Change::Cancelled, now).await?;
    Ok(cancelled)
}

fn code(e: &tokio_postgres::Error) -> Option<&str> {
    e.code().map(|c| c.code())
}

fn constraint(e: &tokio_postgres::Error) -> Option<&str> {
    e.as_db_error().and_then(|d| d.constraint())
}
