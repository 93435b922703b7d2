//! Appointments: booking, the day's schedule, rescheduling and cancelling.
//!
//! Invariants: a doctor (and a patient) is never in two open appointments at once — checked inside
//! the same IMMEDIATE transaction that writes, so two desks booking at once cannot both succeed,
//! and refused by the database itself for any other writer (conflicts.rs); nothing is booked or
//! moved into the past or beyond the booking horizon (slot.rs); every change bumps `version`.

mod conflicts;
pub mod local_time;
mod model;
mod rules;
mod slot;
mod sqlite_store;
pub mod store;
pub(crate) mod zone_change;

pub use model::*;
pub use rules::{check_cancel_reason, check_version, ensure_cancellable, ensure_movable, status_words};
pub use slot::{booking_slot, parse_minutes};

pub(crate) use conflicts::write_error;
pub use conflicts::{doctor_busy, patient_busy, INACTIVE_STATUSES};
pub(crate) use slot::check_minutes;

use crate::appointment_texts::{after_change, AppointmentChange, Change, TextNote};
use crate::audit;
use crate::auth::{Caller, Permission};
use crate::db::{at_once, ts, uuid_at};
use crate::error::{CoreError, Result};
use crate::sync::pending::is_desk;
use crate::sync::wire::DeskCommand;
use crate::Clinic;
use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sqlite_store::SqliteAppointments;
use store::ClinicTime;
use uuid::Uuid;

pub const MIN_MINUTES: u32 = 5;
pub const MAX_MINUTES: u32 = 480;

const SELECT: &str =
    "SELECT a.id, a.booking_ref, a.patient_id, p.full_name, a.doctor_id, u.full_name, a.starts_at, a.ends_at,
                             a.kind, a.status, a.cancel_reason, a.version
                      FROM appointments a
                      JOIN patients p ON p.id = a.patient_id
                      JOIN doctors d ON d.id = a.doctor_id
                      JOIN users u ON u.id = d.user_id";

// Both name the patient through the covering index of migration 0007 (INDEXED BY: without
// statistics the planner would take the unique id index and then read every patient's row).

/// One doctor's day: the (doctor_id, starts_at) index range.
pub const DAY_OF_DOCTOR: &str = concat!(
    "SELECT a.id, a.booking_ref, a.patient_id, p.full_name, a.doctor_id, u.full_name, a.starts_at, a.ends_at, a.kind, a.status, a.cancel_reason, a.version",
    " FROM appointments a JOIN patients p INDEXED BY patients_id_name ON p.id = a.patient_id JOIN doctors d ON d.id = a.doctor_id JOIN users u ON u.id = d.user_id",
    " WHERE a.doctor_id = ?1 AND a.starts_at >= ?2 AND a.starts_at < ?3 ORDER BY a.starts_at"
);
/// Every doctor's day: the (starts_at) index range.
pub const DAY_OF_CLINIC: &str = concat!(
    "SELECT a.id, a.booking_ref, a.patient_id, p.full_name, a.doctor_id, u.full_name, a.starts_at, a.ends_at, a.kind, a.status, a.cancel_reason, a.version",
    " FROM appointments a JOIN patients p INDEXED BY patients_id_name ON p.id = a.patient_id JOIN doctors d ON d.id = a.doctor_id JOIN users u ON u.id = d.user_id",
    " WHERE a.starts_at >= ?1 AND a.starts_at < ?2 ORDER BY a.starts_at, u.full_name"
);

pub(crate) fn row_to_appointment(r: &rusqlite::Row<'_>, tz: Tz) -> rusqlite::Result<Appointment> {
    Ok(Appointment::in_zone(
        AppointmentRecord {
            id: uuid_at(r, 0)?,
            booking_ref: r.get(1)?,
            patient_id: uuid_at(r, 2)?,
            patient_name: r.get(3)?,
            doctor_id: uuid_at(r, 4)?,
            doctor_name: r.get(5)?,
            starts_at: r.get(6)?,
            ends_at: r.get(7)?,
            kind: AppointmentKind::parse(&r.get::<_, String>(8)?),
            status: AppointmentStatus::parse(&r.get::<_, String>(9)?),
            cancel_reason: r.get(10)?,
            version: r.get(11)?,
        },
        tz,
    ))
}

/// An appointment as any store holds it (UTC instants, no wall-clock words yet).
#[derive(Debug, Clone)]
pub struct AppointmentRecord {
    pub id: Uuid,
    pub booking_ref: String,
    pub patient_id: Uuid,
    pub patient_name: String,
    pub doctor_id: Uuid,
    pub doctor_name: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub kind: AppointmentKind,
    pub status: AppointmentStatus,
    pub cancel_reason: Option<String>,
    pub version: i64,
}

impl Appointment {
    /// The appointment as staff read it: its times in the clinic's zone. Every store builds its
    /// appointments here, so the desk and the clinic server word them the same way.
    pub fn in_zone(a: AppointmentRecord, tz: Tz) -> Appointment {
        let (ls, le) = (a.starts_at.with_timezone(&tz), a.ends_at.with_timezone(&tz));
        Appointment {
            id: a.id,
            booking_ref: a.booking_ref,
            patient_id: a.patient_id,
            patient_name: a.patient_name,
            doctor_id: a.doctor_id,
            doctor_name: a.doctor_name,
            starts_at: a.starts_at,
            ends_at: a.ends_at,
            // Written by hand: chrono's `format` parses its pattern for every call, and a day view
            // formats 640 rows three times each.
            local_date: format!("{:04}-{:02}-{:02}", ls.year(), ls.month(), ls.day()),
            local_start: format!("{:02}:{:02}", ls.hour(), ls.minute()),
            local_end: format!("{:02}:{:02}", le.hour(), le.minute()),
            minutes: (a.ends_at - a.starts_at).num_minutes().max(0) as u32,
            kind: a.kind,
            status: a.status,
            cancel_reason: a.cancel_reason,
            version: a.version,
        }
    }
}

fn find(conn: &Connection, id: Uuid, tz: Tz) -> Result<Appointment> {
    conn.query_row(&format!("{SELECT} WHERE a.id = ?1"), [id.to_string()], |r| row_to_appointment(r, tz))
        .optional()?
        .ok_or_else(|| CoreError::NotFound("That appointment could not be found.".into()))
}

/// A fresh booking reference such as "CD-7KQ2XM" (unique per clinic: every store's index says so).
pub fn new_booking_ref() -> String {
    use rand::Rng;
    // No 0/O, 1/I/L: the code is read out over the phone.
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    let code: String = (0..6).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    format!("CD-{code}")
}

pub struct Appointments<'a> {
    pub(crate) clinic: &'a Clinic,
}

impl Appointments<'_> {
    fn tz(&self) -> Result<Tz> {
        self.clinic.settings().time_zone()
    }

    fn clock(&self) -> Result<ClinicTime> {
        Ok(ClinicTime { tz: self.tz()?, now: self.clinic.now() })
    }

    /// The appointment rules' store: this clinic's SQLite file, in the caller's transaction.
    fn store<'t>(&self, tx: &'t Connection, caller: &'t Caller, at: ClinicTime) -> SqliteAppointments<'t> {
        SqliteAppointments { tx, caller, now: at.now, tz: at.tz }
    }

    pub fn book(&self, caller: &Caller, request: BookingRequest) -> Result<AppointmentChange> {
        caller.require(Permission::WriteSchedule)?;
        let at = self.clock()?;
        let mut conn = self.clinic.db().conn()?;
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = Uuid::new_v4();
        let booked = at_once(store::book(&mut self.store(&tx, caller, at), id, &request, caller.user_id, at))?;
        let text = if is_desk(&tx)? {
            let summary = format!("Book {}", when_and_who(&booked));
            let command = DeskCommand::Book { appointment_id: id, booking: request };
            desk_queue(&tx, at.now, caller, &booked, &command, None, &summary)?
        } else {
            after_change(&mut tx, at.now, caller.user_id, &booked, Change::Booked)
        };
        tx.commit()?;
        Ok(AppointmentChange { appointment: booked, text })
    }

    /// The appointment a person means by `text`: its id, or its booking reference ("CD-7KQ2XM").
    pub fn resolve(&self, caller: &Caller, text: &str) -> Result<Uuid> {
        caller.require(Permission::ReadSchedule)?;
        let text = text.trim();
        if let Ok(id) = Uuid::parse_str(text) {
            return Ok(id);
        }
        let conn = self.clinic.db().conn()?;
        conn.query_row("SELECT id FROM appointments WHERE booking_ref = ?1", [text.to_ascii_uppercase()], |r| {
            uuid_at(r, 0)
        })
        .optional()?
        .ok_or_else(|| CoreError::NotFound(format!("There is no appointment with the reference \"{text}\".")))
    }

    pub fn get(&self, caller: &Caller, id: Uuid) -> Result<Appointment> {
        caller.require(Permission::ReadSchedule)?;
        let conn = self.clinic.db().conn()?;
        let appointment = find(&conn, id, self.tz()?)?;
        audit::record_screen_read(&conn, self.clinic.now(), caller, "appointment details", [appointment.patient_id])?;
        Ok(appointment)
    }

    /// One clinic day, optionally for one doctor, in start order (cancelled ones included). One
    /// audit entry for the screen, linked to each patient on it.
    pub fn day(&self, caller: &Caller, date: &str, doctor: Option<Uuid>) -> Result<DaySchedule> {
        caller.require(Permission::ReadSchedule)?;
        let tz = self.tz()?;
        let day = local_time::parse_view_date(date, self.clinic.now().with_timezone(&tz).date_naive())?;
        let (from, to) = local_time::day_range(day, tz);
        let conn = self.clinic.db().conn()?;
        let (from, to) = (ts(from), ts(to));
        // Two statements, not `?3 IS NULL OR doctor_id = ?3`: a prepared plan is chosen once, and
        // that OR would make the one-doctor view scan every doctor's day. tests/query_plans.rs
        // checks each uses its index.
        let appointments = match doctor {
            Some(doctor) => conn
                .prepare_cached(DAY_OF_DOCTOR)?
                .query_map(params![doctor.to_string(), from, to], |r| row_to_appointment(r, tz))?
                .collect::<Result<Vec<_>, _>>()?,
            None => conn
                .prepare_cached(DAY_OF_CLINIC)?
                .query_map(params![from, to], |r| row_to_appointment(r, tz))?
                .collect::<Result<Vec<_>, _>>()?,
        };
        let screen = match doctor {
            Some(doctor) => format!("day schedule {day}, doctor {doctor}"),
            None => format!("day schedule {day}, all doctors"),
        };
        audit::record_screen_read(
            &conn,
            self.clinic.now(),
            caller,
            &screen,
            appointments.iter().map(|a| a.patient_id),
        )?;
        Ok(DaySchedule { date: day.to_string(), time_zone: tz.name().to_owned(), appointments })
    }

    pub fn reschedule(&self, caller: &Caller, id: Uuid, request: RescheduleRequest) -> Result<AppointmentChange> {
        caller.require(Permission::WriteSchedule)?;
        let at = self.clock()?;
        let mut conn = self.clinic.db().conn()?;
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (current, moved) = at_once(store::reschedule(&mut self.store(&tx, caller, at), id, &request, at))?;
        // Links sent for the old time must not open the new one's room.
        crate::consultations::store::forget_links(&tx, id, at.now)?;
        let text = if is_desk(&tx)? {
            let summary = format!("Move {} to {} {}", when_and_who(&current), moved.local_date, moved.local_start);
            // The version this desk saw: the server refuses the move if someone changed it since.
            let change = RescheduleRequest { expected_version: Some(current.version), ..request };
            let command = DeskCommand::Move { appointment_id: id, change };
            desk_queue(&tx, at.now, caller, &moved, &command, Some(&current), &summary)?
        } else {
            after_change(&mut tx, at.now, caller.user_id, &moved, Change::Moved { from: current.starts_at })
        };
        tx.commit()?;
        Ok(AppointmentChange { appointment: moved, text })
    }

    pub fn cancel(
        &self,
        caller: &Caller,
        id: Uuid,
        reason: &str,
        expected_version: Option<i64>,
    ) -> Result<AppointmentChange> {
        caller.require(Permission::WriteSchedule)?;
        let at = self.clock()?;
        let mut conn = self.clinic.db().conn()?;
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (current, cancelled) =
            at_once(store::cancel(&mut self.store(&tx, caller, at), id, reason, expected_version))?;
        let text = if is_desk(&tx)? {
            let summary = format!("Cancel {}", when_and_who(&current));
            let reason = cancelled.cancel_reason.clone().unwrap_or_default();
            let command = DeskCommand::Cancel { appointment_id: id, reason, expected_version: Some(current.version) };
            desk_queue(&tx, at.now, caller, &cancelled, &command, Some(&current), &summary)?
        } else {
            after_change(&mut tx, at.now, caller.user_id, &cancelled, Change::Cancelled)
        };
        tx.commit()?;
        Ok(AppointmentChange { appointment: cancelled, text })
    }
}

/// "Ana Silva with Dr Rao, 2026-12-12 09:00", for a change's line in the desk's queue.
fn when_and_who(a: &Appointment) -> String {
    format!("{} with {}, {} {}", a.patient_name, a.doctor_name, a.local_date, a.local_start)
}

/// On a desk of a clinic server: the change is queued for the server, and the patient's text is
/// the server's to send once it accepts (sync/pending.rs).
fn desk_queue(
    tx: &Connection,
    now: DateTime<Utc>,
    caller: &Caller,
    now_written: &Appointment,
    command: &DeskCommand,
    before: Option<&Appointment>,
    summary: &str,
) -> Result<TextNote> {
    crate::sync::pending::queue(tx, now, caller, now_written, command, before, summary)?;
    Ok(TextNote::not_texted(crate::sync::NOT_YET_CONFIRMED))
}

/// Runs `insert` with a newly drawn booking reference, drawing again on a collision (1 in ~900
/// million). Only a UNIQUE failure: a double-booking trigger is also a constraint failure, and final.
pub(crate) fn with_fresh_booking_ref(
    mut insert: impl FnMut(&str) -> rusqlite::Result<usize>,
) -> rusqlite::Result<usize> {
    let mut attempts = 0;
    loop {
        match insert(&new_booking_ref()) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE && attempts < 5 =>
            {
                attempts += 1
            }
            done => return done,
        }
    }
}
