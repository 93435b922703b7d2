//! Double bookings. The core's own check runs first (store.rs), inside the transaction that
//! writes, and names the appointment in the way; the database's triggers (migration 0005) are the
//! backstop for any writer that skipped it. If a trigger ever refuses one of the core's own
//! writes, the refusal is still a conflict explained in words, never a storage error.

use super::{Appointment, AppointmentStatus};
use crate::error::CoreError;

/// Statuses that no longer hold a slot. The triggers in 0005 and the clinic server's exclusion
/// constraints use the same list.
pub const INACTIVE_STATUSES: [AppointmentStatus; 2] = [AppointmentStatus::Cancelled, AppointmentStatus::NoShow];
pub(crate) const INACTIVE: &str = "('cancelled', 'no_show')";

/// The doctor is already in `other` at that time: what reception reads, naming the clash.
pub fn doctor_busy(other: &Appointment) -> CoreError {
    CoreError::Conflict(format!(
        "{} is already booked from {} to {} on {} ({}). Choose another time or another doctor.",
        other.doctor_name, other.local_start, other.local_end, other.local_date, other.booking_ref
    ))
}

/// The patient already has `other` at that time.
pub fn patient_busy(other: &Appointment) -> CoreError {
    CoreError::Conflict(format!(
        "{} already has an appointment with {} from {} to {} on {} ({}).",
        other.patient_name, other.doctor_name, other.local_start, other.local_end, other.local_date, other.booking_ref
    ))
}

/// Which double booking a trigger of migration 0005 refused, if `err` is one.
pub(crate) fn backstop_refusal(err: &rusqlite::Error) -> Option<&'static str> {
    match err {
        rusqlite::Error::SqliteFailure(e, Some(message))
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_TRIGGER =>
        {
            match message.as_str() {
                "booking_overlap: doctor" => Some("doctor"),
                "booking_overlap: patient" => Some("patient"),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A failed appointment write as the person should hear it: a double booking the database
/// refused becomes the same kind of conflict the core's own check reports.
pub(crate) fn write_error(err: rusqlite::Error) -> CoreError {
    match backstop_refusal(&err) {
        Some("doctor") => {
            tracing::warn!("the database refused a double booking for a doctor that the core's check let through");
            CoreError::Conflict(
                "The doctor already has another appointment at that time, so it was not saved. Look at the day again and choose another time or another doctor.".into(),
            )
        }
        Some(_) => {
            tracing::warn!("the database refused a double booking for a patient that the core's check let through");
            CoreError::Conflict(
                "The patient already has another appointment at that time, so it was not saved. Look at their appointments and choose another time.".into(),
            )
        }
        None => err.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn clinic_schema() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::db::migrations::migrate(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO users (id, email, full_name, role, password_hash, created_at, updated_at)
               VALUES ('u1', 'a@b.c', 'Dr A', 'doctor', 'x', 't', 't');
             INSERT INTO doctors (id, user_id, specialization, created_at) VALUES ('d1', 'u1', 'GP', 't');
             INSERT INTO patients (id, full_name, phone_e164, created_at, updated_at) VALUES ('p1', 'P', '+1', 't', 't'), ('p2', 'Q', '+2', 't', 't');
             INSERT INTO appointments (id, booking_ref, patient_id, doctor_id, starts_at, ends_at, kind, status, created_at, updated_at)
               VALUES ('a1', 'CD-1', 'p1', 'd1', '2026-03-02T09:00:00.000Z', '2026-03-02T09:30:00.000Z', 'in_person', 'scheduled', 't', 't');",
        )
        .unwrap();
        conn
    }

    #[test]
    fn a_trigger_refusal_becomes_a_conflict_in_words() {
        let conn = clinic_schema();
        let err = conn
            .execute(
                "INSERT INTO appointments (id, booking_ref, patient_id, doctor_id, starts_at, ends_at, kind, status, created_at, updated_at)
                 VALUES ('a2', 'CD-2', 'p2', 'd1', '2026-03-02T09:15:00.000Z', '2026-03-02T09:45:00.000Z', 'in_person', 'scheduled', 't', 't')",
                [],
            )
            .unwrap_err();
        assert_eq!(backstop_refusal(&err), Some("doctor"));
        let core = write_error(err);
        assert_eq!(core.code(), "conflict");
        assert!(core.to_string().starts_with("The doctor already has another appointment"), "{core}");
    }

    #[test]
    fn other_constraint_failures_are_not_mistaken_for_double_bookings() {
        let conn = clinic_schema();
        let err = conn
            .execute(
                "INSERT INTO appointments (id, booking_ref, patient_id, doctor_id, starts_at, ends_at, kind, status, created_at, updated_at)
                 VALUES ('a3', 'CD-1', 'p2', 'd1', '2026-03-03T09:00:00.000Z', '2026-03-03T09:30:00.000Z', 'in_person', 'scheduled', 't', 't')",
                [],
            )
            .unwrap_err();
        assert_eq!(backstop_refusal(&err), None);
        assert_eq!(write_error(err).code(), "storage");
    }
}
