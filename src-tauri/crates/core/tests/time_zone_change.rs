//! Changing the clinic's time zone with appointments booked: refused until confirmed, with a
//! sentence saying what happens, computed from the real schedule.

mod common;

use clinicdesk_core::appointments::{AppointmentKind, BookingRequest};
use clinicdesk_core::auth::{Caller, Role};
use clinicdesk_core::patients::PatientInput;
use clinicdesk_core::settings::{ClinicSettingsInput, TimeZoneChange, KEY_TIME_ZONE};
use common::*;

struct Desk {
    t: TestClinic,
    admin: Caller,
    desk: Caller,
    doctor: uuid::Uuid,
    patients: Vec<uuid::Uuid>,
}

fn desk() -> Desk {
    let t = TestClinic::set_up();
    let admin = t.admin();
    t.add_user("okafor@clinic.example", Role::Doctor);
    let doctor = t.clinic.doctors().add(&admin, "okafor@clinic.example", "General practice").unwrap().id;
    let desk = t.add_user("desk@clinic.example", Role::Reception);
    let patients = (0..3)
        .map(|i| {
            t.clinic
                .patients()
                .add(
                    &desk,
                    PatientInput {
                        full_name: format!("Patient {i}"),
                        phone: format!("07400 12345{i}"),
                        date_of_birth: None,
                        sms_consent: true,
                    },
                )
                .unwrap()
                .id
        })
        .collect();
    Desk { t, admin, desk, doctor, patients }
}

fn book(d: &Desk, patient: usize, date: &str, time: &str) -> clinicdesk_core::appointments::Appointment {
    d.t.clinic
        .appointments()
        .book(
            &d.desk,
            BookingRequest {
                patient_id: d.patients[patient],
                doctor_id: d.doctor,
                date: date.into(),
                time: time.into(),
                minutes: 30,
                kind: AppointmentKind::InPerson,
            },
        )
        .unwrap()
        .appointment
}

fn zone(d: &Desk) -> String {
    d.t.clinic.settings().get(&d.admin).unwrap().time_zone
}

fn input(d: &Desk, time_zone: &str) -> ClinicSettingsInput {
    let s = d.t.clinic.settings().get(&d.admin).unwrap();
    ClinicSettingsInput {
        clinic_name: s.clinic_name,
        time_zone: time_zone.into(),
        default_country: s.default_country,
        idle_timeout_minutes: Some(s.idle_timeout_minutes),
        sms_messages_per_second: Some(s.sms_messages_per_second),
    }
}

#[test]
fn a_zone_change_with_upcoming_appointments_is_explained_and_needs_confirmation() {
    let d = desk();
    book(&d, 0, "2026-03-03", "09:00");
    book(&d, 1, "2026-03-04", "11:30");
    let past = book(&d, 2, "2026-03-02", "08:30");
    let cancelled = book(&d, 2, "2026-03-05", "09:00");
    d.t.clinic.appointments().cancel(&d.desk, cancelled.id, "Patient called", None).unwrap();
    d.t.advance(chrono::Duration::hours(1)); // 09:00: the 08:30 one has started, so is not upcoming
    assert!(past.starts_at < d.t.clinic.now());

    let err = d.t.clinic.settings().update(&d.admin, input(&d, "Europe/Paris")).unwrap_err();
    assert_eq!(err.code(), "conflict");
    assert_eq!(err.field(), Some("time_zone"));
    assert_eq!(
        err.to_string(),
        "2 upcoming appointments will keep their moment in time; their clock times will show in the new zone, Europe/Paris, e.g. 09:00 on Tue 3 Mar becomes 10:00."
    );
    assert_eq!(zone(&d), "Europe/London", "nothing is saved before confirmation");

    let saved =
        d.t.clinic.settings().update_with(&d.admin, input(&d, "Europe/Paris"), TimeZoneChange::Confirmed).unwrap();
    assert_eq!(saved.time_zone, "Europe/Paris");
    // Same moment in time, new clock time.
    let day = d.t.clinic.appointments().day(&d.desk, "2026-03-03", None).unwrap();
    assert_eq!(
        (day.appointments[0].local_start.as_str(), day.appointments[0].starts_at.to_rfc3339()),
        ("10:00", "2026-03-03T09:00:00+00:00".into())
    );
    let entries = d.t.clinic.audit().recent(&d.admin, None, 5).unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e.action == "settings.update"
                && e.detail.as_deref() == Some("time zone Europe/London to Europe/Paris")),
        "{entries:?}"
    );
}

#[test]
fn one_appointment_is_named_in_the_singular_and_a_date_change_is_shown() {
    let d = desk();
    book(&d, 0, "2026-03-03", "23:30");
    let err = d.t.clinic.settings().set(&d.admin, KEY_TIME_ZONE, "Asia/Tokyo").unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 upcoming appointment will keep its moment in time; its clock time will show in the new zone, Asia/Tokyo, e.g. 23:30 on Tue 3 Mar becomes 08:30 on Wed 4 Mar."
    );
    d.t.clinic.settings().set_with(&d.admin, KEY_TIME_ZONE, "Asia/Tokyo", TimeZoneChange::Confirmed).unwrap();
    assert_eq!(zone(&d), "Asia/Tokyo");
}

#[test]
fn the_example_is_an_appointment_whose_clock_time_really_changes() {
    let d = desk();
    // London and Lisbon agree in winter and in summer; Dublin too. Reykjavik stays on GMT all year,
    // so only a summer appointment shows a different clock time.
    book(&d, 0, "2026-03-03", "09:00");
    book(&d, 1, "2026-06-03", "09:00");
    let err = d.t.clinic.settings().set(&d.admin, KEY_TIME_ZONE, "Atlantic/Reykjavik").unwrap_err();
    assert!(err.to_string().ends_with("e.g. 09:00 on Wed 3 Jun becomes 08:00."), "{err}");
    // When no upcoming clock time changes, the sentence says so.
    let err = d.t.clinic.settings().set(&d.admin, KEY_TIME_ZONE, "Europe/Lisbon").unwrap_err();
    assert!(err.to_string().ends_with("e.g. 09:00 on Tue 3 Mar stays 09:00."), "{err}");
}

#[test]
fn without_upcoming_appointments_or_without_a_zone_change_nothing_is_asked() {
    let d = desk();
    d.t.clinic.settings().set(&d.admin, KEY_TIME_ZONE, "Europe/Paris").unwrap();
    book(&d, 0, "2026-03-03", "09:00");
    // Other settings can still be changed while appointments are booked.
    d.t.clinic.settings().set(&d.admin, "clinic.name", "Riverside Health").unwrap();
    d.t.clinic.settings().update(&d.admin, input(&d, " Europe/Paris ")).unwrap();
    // A zone ClinicDesk does not know is still a plain mistake on the field.
    let err = d.t.clinic.settings().set(&d.admin, KEY_TIME_ZONE, "Moon/Base").unwrap_err();
    assert_eq!((err.code().as_str(), err.field()), ("invalid", Some("time_zone")));
    // Only administrators reach the explanation at all.
    let err = d.t.clinic.settings().set(&d.desk, KEY_TIME_ZONE, "Europe/London").unwrap_err();
    assert_eq!(err.code(), "forbidden");
}
