//! The database's own refusal of double bookings (migration 0005), for writers that bypass the
//! core: raw SQL on the clinic's connection.

mod common;

use clinicdesk_core::appointments::{AppointmentKind, BookingRequest};
use clinicdesk_core::auth::{Caller, Role};
use clinicdesk_core::doctors::Doctor;
use clinicdesk_core::patients::{Patient, PatientInput};
use common::*;
use rusqlite::{params, Connection};

struct Clinic2 {
    t: TestClinic,
    desk: Caller,
    doctor: Doctor,
    other_doctor: Doctor,
    patient: Patient,
    other_patient: Patient,
}

fn clinic() -> Clinic2 {
    let t = TestClinic::set_up();
    let admin = t.admin();
    t.add_user("okafor@clinic.example", Role::Doctor);
    t.add_user("brenner@clinic.example", Role::Doctor);
    let doctor = t.clinic.doctors().add(&admin, "okafor@clinic.example", "General practice").unwrap();
    let other_doctor = t.clinic.doctors().add(&admin, "brenner@clinic.example", "Paediatrics").unwrap();
    let desk = t.add_user("desk@clinic.example", Role::Reception);
    let add = |name: &str, phone: &str| {
        t.clinic
            .patients()
            .add(
                &desk,
                PatientInput { full_name: name.into(), phone: phone.into(), date_of_birth: None, sms_consent: true },
            )
            .unwrap()
    };
    let patient = add("Olivia Smith", "07400 123456");
    let other_patient = add("Noah Jones", "07400 123457");
    Clinic2 { t, desk, doctor, other_doctor, patient, other_patient }
}

/// Writes an appointment straight into the table, skipping every check the core makes.
fn raw_insert(
    conn: &Connection,
    reference: &str,
    patient: &Patient,
    doctor: &Doctor,
    from: &str,
    to: &str,
    status: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        "INSERT INTO appointments (id, booking_ref, patient_id, doctor_id, starts_at, ends_at, kind, status, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'in_person', ?7, '2026-03-02T08:00:00.000Z', '2026-03-02T08:00:00.000Z')",
        params![uuid::Uuid::new_v4().to_string(), reference, patient.id.to_string(), doctor.id.to_string(), from, to, status],
    )
}

fn refused_as(result: rusqlite::Result<usize>, who: &str) {
    let err = result.expect_err("the database must refuse a double booking");
    assert!(err.to_string().contains(&format!("booking_overlap: {who}")), "{err}");
}

const NINE: &str = "2026-03-02T09:00:00.000Z";
const NINE_THIRTY: &str = "2026-03-02T09:30:00.000Z";
const NINE_FIFTEEN: &str = "2026-03-02T09:15:00.000Z";
const NINE_45: &str = "2026-03-02T09:45:00.000Z";
const TEN: &str = "2026-03-02T10:00:00.000Z";

#[test]
fn raw_inserts_that_double_book_a_doctor_or_a_patient_are_refused() {
    let c = clinic();
    let conn = c.t.clinic.db().conn().unwrap();
    raw_insert(&conn, "CD-RAW001", &c.patient, &c.doctor, NINE, NINE_THIRTY, "scheduled").unwrap();
    // Same doctor, another patient, overlapping.
    refused_as(
        raw_insert(&conn, "CD-RAW002", &c.other_patient, &c.doctor, NINE_FIFTEEN, NINE_45, "confirmed"),
        "doctor",
    );
    // Same patient, another doctor, overlapping (enclosing).
    refused_as(
        raw_insert(&conn, "CD-RAW003", &c.patient, &c.other_doctor, "2026-03-02T08:30:00.000Z", TEN, "scheduled"),
        "patient",
    );
    // Back to back (end == start) on both sides is fine, and so is a cancelled or no-show overlap.
    raw_insert(&conn, "CD-RAW004", &c.other_patient, &c.doctor, NINE_THIRTY, TEN, "scheduled").unwrap();
    raw_insert(&conn, "CD-RAW005", &c.patient, &c.other_doctor, "2026-03-02T08:30:00.000Z", NINE, "checked_in")
        .unwrap();
    raw_insert(&conn, "CD-RAW006", &c.other_patient, &c.doctor, NINE_FIFTEEN, NINE_45, "cancelled").unwrap();
    raw_insert(&conn, "CD-RAW007", &c.patient, &c.doctor, NINE, NINE_THIRTY, "no_show").unwrap();
    let active: i64 = conn
        .query_row("SELECT count(*) FROM appointments WHERE status NOT IN ('cancelled', 'no_show')", [], |r| r.get(0))
        .unwrap();
    assert_eq!(active, 3);
}

#[test]
fn a_cancelled_appointment_does_not_block_its_slot_in_the_database() {
    let c = clinic();
    let conn = c.t.clinic.db().conn().unwrap();
    raw_insert(&conn, "CD-RAW001", &c.patient, &c.doctor, NINE, NINE_THIRTY, "cancelled").unwrap();
    raw_insert(&conn, "CD-RAW002", &c.other_patient, &c.doctor, NINE, NINE_THIRTY, "scheduled").unwrap();
    raw_insert(&conn, "CD-RAW003", &c.patient, &c.other_doctor, NINE, NINE_THIRTY, "scheduled").unwrap();
}

#[test]
fn raw_updates_that_move_into_a_taken_slot_are_refused() {
    let c = clinic();
    let conn = c.t.clinic.db().conn().unwrap();
    raw_insert(&conn, "CD-RAW001", &c.patient, &c.doctor, NINE, NINE_THIRTY, "scheduled").unwrap();
    raw_insert(&conn, "CD-RAW002", &c.other_patient, &c.doctor, TEN, "2026-03-02T10:30:00.000Z", "scheduled").unwrap();
    raw_insert(&conn, "CD-RAW003", &c.patient, &c.other_doctor, TEN, "2026-03-02T10:30:00.000Z", "cancelled").unwrap();
    let update = |sql: &str| conn.execute(sql, []);

    // Moving the 10:00 into 09:15 clashes with the doctor's 09:00.
    refused_as(update(&format!("UPDATE appointments SET starts_at = '{NINE_FIFTEEN}', ends_at = '{NINE_45}' WHERE booking_ref = 'CD-RAW002'")), "doctor");
    // Giving the 10:00 to the other doctor's patient who is... the first patient: a patient clash.
    refused_as(update(&format!("UPDATE appointments SET patient_id = '{}', starts_at = '{NINE}', doctor_id = '{}' WHERE booking_ref = 'CD-RAW002'", c.patient.id, c.other_doctor.id)), "patient");
    // Changing doctor into a clash.
    update(&format!("UPDATE appointments SET starts_at = '{NINE}', ends_at = '{NINE_THIRTY}', doctor_id = '{}' WHERE booking_ref = 'CD-RAW002'", c.other_doctor.id)).unwrap();
    refused_as(
        update(&format!("UPDATE appointments SET doctor_id = '{}' WHERE booking_ref = 'CD-RAW002'", c.doctor.id)),
        "doctor",
    );
    // Moving a cancelled appointment is not checked, but re-opening it into a taken slot is.
    update(&format!(
        "UPDATE appointments SET starts_at = '{NINE}', ends_at = '{NINE_THIRTY}' WHERE booking_ref = 'CD-RAW003'"
    ))
    .unwrap();
    refused_as(update("UPDATE appointments SET status = 'scheduled' WHERE booking_ref = 'CD-RAW003'"), "doctor");
    // A move that ends exactly when the next one starts is fine; its own old slot never blocks it.
    update(&format!("UPDATE appointments SET starts_at = '2026-03-02T08:30:00.000Z', ends_at = '{NINE}' WHERE booking_ref = 'CD-RAW001'")).unwrap();
    update(&format!("UPDATE appointments SET starts_at = '2026-03-02T08:45:00.000Z', ends_at = '{NINE}' WHERE booking_ref = 'CD-RAW001'")).unwrap();
    // Checking in, completing and cancelling never move a slot and are never refused.
    update("UPDATE appointments SET status = 'checked_in' WHERE booking_ref = 'CD-RAW001'").unwrap();
    update("UPDATE appointments SET status = 'completed' WHERE booking_ref = 'CD-RAW001'").unwrap();
    update("UPDATE appointments SET status = 'cancelled' WHERE booking_ref = 'CD-RAW002'").unwrap();
}

#[test]
fn the_core_still_explains_clashes_itself_and_its_writes_pass_the_backstop() {
    let c = clinic();
    let book = |patient: &Patient, doctor: &Doctor, time: &str| {
        c.t.clinic.appointments().book(
            &c.desk,
            BookingRequest {
                patient_id: patient.id,
                doctor_id: doctor.id,
                date: "2026-03-02".into(),
                time: time.into(),
                minutes: 30,
                kind: AppointmentKind::InPerson,
            },
        )
    };
    book(&c.patient, &c.doctor, "09:00").unwrap();
    let err = book(&c.other_patient, &c.doctor, "09:15").unwrap_err();
    assert_eq!(err.code(), "conflict");
    assert!(err.to_string().contains("is already booked from 09:00 to 09:30"), "{err}");
    book(&c.other_patient, &c.doctor, "09:30").unwrap();
    let a = book(&c.patient, &c.other_doctor, "10:00").unwrap();
    c.t.clinic.appointments().cancel(&c.desk, a.id, "Patient called", None).unwrap();
    book(&c.other_patient, &c.other_doctor, "10:00").unwrap();
}
