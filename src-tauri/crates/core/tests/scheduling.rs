mod common;

use clinicdesk_core::appointments::{AppointmentKind, AppointmentStatus, BookingRequest, RescheduleRequest};
use clinicdesk_core::auth::{Caller, Role};
use clinicdesk_core::doctors::Doctor;
use clinicdesk_core::patients::{Patient, PatientInput};
use common::*;

struct Desk {
    t: TestClinic,
    desk: Caller,
    doctor: Doctor,
    other_doctor: Doctor,
    patient: Patient,
    other_patient: Patient,
}

fn new_patient(t: &TestClinic, who: &Caller, name: &str, phone: &str) -> Patient {
    t.clinic
        .patients()
        .add(
            who,
            PatientInput {
                full_name: name.into(),
                phone: phone.into(),
                date_of_birth: Some("1984-03-27".into()),
                sms_consent: true,
            },
        )
        .unwrap()
}

fn desk() -> Desk {
    let t = TestClinic::set_up();
    let admin = t.admin();
    t.add_user("okafor@clinic.example", Role::Doctor);
    t.add_user("brenner@clinic.example", Role::Doctor);
    let doctor = t.clinic.doctors().add(&admin, "okafor@clinic.example", "General practice").unwrap();
    let other_doctor = t.clinic.doctors().add(&admin, "brenner@clinic.example", "Paediatrics").unwrap();
    let desk = t.add_user("desk@clinic.example", Role::Reception);
    let patient = new_patient(&t, &desk, "Olivia Smith", "07400 123456");
    let other_patient = new_patient(&t, &desk, "Noah Jones", "07400 123457");
    Desk { t, desk, doctor, other_doctor, patient, other_patient }
}

/// A booking on the test day (Monday 2 March 2026; the clock stands at 08:00 London time).
fn booking(patient: &Patient, doctor: &Doctor, time: &str, minutes: u32) -> BookingRequest {
    BookingRequest {
        patient_id: patient.id,
        doctor_id: doctor.id,
        date: "2026-03-02".into(),
        time: time.into(),
        minutes,
        kind: AppointmentKind::InPerson,
    }
}

#[test]
fn reception_books_and_the_day_view_shows_it_in_clinic_time() {
    let d = desk();
    let booked = d.t.clinic.appointments().book(&d.desk, booking(&d.patient, &d.doctor, "09:30", 30)).unwrap();
    assert_eq!(booked.status, AppointmentStatus::Scheduled);
    assert!(booked.booking_ref.starts_with("CD-") && booked.booking_ref.len() == 9, "{}", booked.booking_ref);
    assert_eq!((booked.local_start.as_str(), booked.local_end.as_str()), ("09:30", "10:00"));

    let day = d.t.clinic.appointments().day(&d.desk, "2026-03-02", Some(d.doctor.id)).unwrap();
    assert_eq!(day.appointments.len(), 1);
    assert_eq!(day.appointments[0].patient_name, "Olivia Smith");
    assert!(d
        .t
        .clinic
        .appointments()
        .day(&d.desk, "2026-03-02", Some(d.other_doctor.id))
        .unwrap()
        .appointments
        .is_empty());
    assert!(d.t.clinic.appointments().day(&d.desk, "2026-03-03", None).unwrap().appointments.is_empty());
}

#[test]
fn summer_bookings_are_stored_in_utc_and_shown_in_local_time() {
    let d = desk();
    d.t.clock.set("2026-06-01T07:00:00Z".parse().unwrap());
    let mut req = booking(&d.patient, &d.doctor, "09:30", 30);
    req.date = "2026-06-01".into();
    let booked = d.t.clinic.appointments().book(&d.desk, req).unwrap();
    assert_eq!(booked.starts_at.to_rfc3339(), "2026-06-01T08:30:00+00:00");
    assert_eq!(booked.local_start, "09:30");
}

#[test]
fn a_doctor_cannot_be_double_booked_and_is_told_why() {
    let d = desk();
    d.t.clinic.appointments().book(&d.desk, booking(&d.patient, &d.doctor, "09:30", 30)).unwrap();
    for (time, minutes) in [("09:30", 30), ("09:15", 30), ("09:45", 10), ("09:00", 120)] {
        let err =
            d.t.clinic.appointments().book(&d.desk, booking(&d.other_patient, &d.doctor, time, minutes)).unwrap_err();
        assert_eq!(err.code(), "conflict", "{time} for {minutes} minutes");
        assert!(err.to_string().contains("already booked from 09:30 to 10:00"), "{err}");
    }
    // Back to back is fine, and another doctor is free.
    d.t.clinic.appointments().book(&d.desk, booking(&d.other_patient, &d.doctor, "10:00", 30)).unwrap();
    d.t.clinic.appointments().book(&d.desk, booking(&d.other_patient, &d.other_doctor, "09:30", 30)).unwrap();
}

#[test]
fn a_patient_cannot_be_in_two_places_at_once() {
    let d = desk();
    d.t.clinic.appointments().book(&d.desk, booking(&d.patient, &d.doctor, "11:00", 30)).unwrap();
    let err = d.t.clinic.appointments().book(&d.desk, booking(&d.patient, &d.other_doctor, "11:15", 30)).unwrap_err();
    assert_eq!(err.code(), "conflict");
    assert!(err.to_string().contains("Olivia Smith already has an appointment"), "{err}");
}

#[test]
fn times_in_the_past_and_silly_lengths_are_refused() {
    let d = desk();
    let err = d.t.clinic.appointments().book(&d.desk, booking(&d.patient, &d.doctor, "07:30", 30)).unwrap_err();
    assert_eq!(err.field(), Some("time"));
    assert!(err.to_string().contains("already passed"));
    assert_eq!(
        d.t.clinic.appointments().book(&d.desk, booking(&d.patient, &d.doctor, "10:00", 0)).unwrap_err().field(),
        Some("minutes")
    );
    assert_eq!(
        d.t.clinic.appointments().book(&d.desk, booking(&d.patient, &d.doctor, "10:00", 600)).unwrap_err().field(),
        Some("minutes")
    );
    let mut bad_date = booking(&d.patient, &d.doctor, "10:00", 30);
    bad_date.date = "02/03/2026".into();
    assert_eq!(d.t.clinic.appointments().book(&d.desk, bad_date).unwrap_err().field(), Some("date"));
}

#[test]
fn rescheduling_moves_the_slot_and_refuses_clashes_and_stale_copies() {
    let d = desk();
    let a = d.t.clinic.appointments().book(&d.desk, booking(&d.patient, &d.doctor, "09:30", 30)).unwrap();
    d.t.clinic.appointments().book(&d.desk, booking(&d.other_patient, &d.doctor, "11:00", 30)).unwrap();

    let clash = d.t.clinic.appointments().reschedule(
        &d.desk,
        a.id,
        RescheduleRequest {
            date: "2026-03-02".into(),
            time: "11:15".into(),
            minutes: None,
            expected_version: Some(a.version),
        },
    );
    assert_eq!(clash.unwrap_err().code(), "conflict");

    // Moving within its own slot is not a clash with itself.
    let moved =
        d.t.clinic
            .appointments()
            .reschedule(
                &d.desk,
                a.id,
                RescheduleRequest {
                    date: "2026-03-02".into(),
                    time: "09:45".into(),
                    minutes: Some(45),
                    expected_version: Some(a.version),
                },
            )
            .unwrap();
    assert_eq!(
        (moved.local_start.as_str(), moved.local_end.as_str(), moved.version),
        ("09:45", "10:30", a.version + 1)
    );

    let stale = d.t.clinic.appointments().reschedule(
        &d.desk,
        a.id,
        RescheduleRequest {
            date: "2026-03-03".into(),
            time: "09:00".into(),
            minutes: None,
            expected_version: Some(a.version),
        },
    );
    let err = stale.unwrap_err();
    assert_eq!(err.code(), "conflict");
    assert!(err.to_string().contains("Someone else changed"));
}

#[test]
fn cancelling_needs_a_reason_frees_the_slot_and_cannot_happen_twice() {
    let d = desk();
    let a = d.t.clinic.appointments().book(&d.desk, booking(&d.patient, &d.doctor, "09:30", 30)).unwrap();
    assert_eq!(d.t.clinic.appointments().cancel(&d.desk, a.id, "   ", None).unwrap_err().field(), Some("reason"));
    let cancelled =
        d.t.clinic.appointments().cancel(&d.desk, a.id, "Patient  called to cancel", Some(a.version)).unwrap();
    assert_eq!(cancelled.status, AppointmentStatus::Cancelled);
    assert_eq!(cancelled.cancel_reason.as_deref(), Some("Patient called to cancel"));
    assert_eq!(d.t.clinic.appointments().cancel(&d.desk, a.id, "again", None).unwrap_err().code(), "conflict");
    // The slot is free again.
    d.t.clinic.appointments().book(&d.desk, booking(&d.other_patient, &d.doctor, "09:30", 30)).unwrap();
}

#[test]
fn doctors_can_see_the_schedule_but_not_book() {
    let d = desk();
    let doctor = d.t.sign_in("okafor@clinic.example");
    assert!(d.t.clinic.appointments().day(&doctor, "2026-03-02", None).is_ok());
    let err = d.t.clinic.appointments().book(&doctor, booking(&d.patient, &d.doctor, "09:30", 30)).unwrap_err();
    assert_eq!(err.code(), "forbidden");
    assert!(err.to_string().contains("not allowed to book"));
    let err =
        d.t.clinic
            .patients()
            .add(
                &doctor,
                PatientInput {
                    full_name: "X Y".into(),
                    phone: "07400 123450".into(),
                    date_of_birth: None,
                    sms_consent: false,
                },
            )
            .unwrap_err();
    assert_eq!(err.code(), "forbidden");
}

#[test]
fn patients_are_normalised_validated_and_found_by_name_or_number() {
    let d = desk();
    assert_eq!(d.patient.phone, "+447400123456");
    let found = d.t.clinic.patients().search(&d.desk, "olivia", 10).unwrap().patients;
    assert_eq!(found.iter().map(|p| p.full_name.as_str()).collect::<Vec<_>>(), ["Olivia Smith"]);
    let by_number = d.t.clinic.patients().search(&d.desk, "07400 123457", 10).unwrap().patients;
    assert_eq!(by_number.iter().map(|p| p.full_name.as_str()).collect::<Vec<_>>(), ["Noah Jones"]);
    // LIKE wildcards typed by a person are matched literally.
    assert!(d.t.clinic.patients().search(&d.desk, "%", 10).unwrap().patients.is_empty());

    let add = |name: &str, phone: &str, dob: Option<&str>| {
        d.t.clinic.patients().add(
            &d.desk,
            PatientInput {
                full_name: name.into(),
                phone: phone.into(),
                date_of_birth: dob.map(Into::into),
                sms_consent: true,
            },
        )
    };
    assert_eq!(add("", "07400 123450", None).unwrap_err().field(), Some("full_name"));
    assert_eq!(add("<script>alert(1)</script>", "07400 123450", None).unwrap_err().field(), Some("full_name"));
    assert_eq!(add(&"A".repeat(500), "07400 123450", None).unwrap_err().field(), Some("full_name"));
    assert_eq!(add("Amy Pond", "12345", None).unwrap_err().field(), Some("phone"));
    assert_eq!(add("Amy Pond", "07400 123450", Some("2030-01-01")).unwrap_err().field(), Some("date_of_birth"));
    assert_eq!(add("Amy Pond", "07400 123450", Some("27/03/1984")).unwrap_err().field(), Some("date_of_birth"));
    assert_eq!(add("olivia  smith", "+44 7400 123456", None).unwrap_err().code(), "conflict");
    assert_eq!(d.t.clinic.patients().count(&d.desk).unwrap(), 2, "refused patients are not half-saved");
}

#[test]
fn reading_and_writing_patients_is_audited() {
    let d = desk();
    d.t.clinic.patients().get(&d.desk, d.patient.id).unwrap();
    let admin = d.t.admin();
    let entries = d.t.clinic.audit().recent(&admin, Some(&d.patient.id.to_string()), 50).unwrap();
    let actions: Vec<_> = entries.iter().map(|e| (e.action.as_str(), e.actor.as_str())).collect();
    assert!(actions.contains(&("patient.create", "desk@clinic.example")), "{actions:?}");
    assert!(actions.contains(&("patient.read", "desk@clinic.example")), "{actions:?}");
    assert!(
        entries.iter().all(|e| !e.detail.clone().unwrap_or_default().contains("Olivia")),
        "no names in the audit detail"
    );
}

#[test]
fn the_sample_clinic_is_realistic_and_only_loads_into_an_empty_clinic() {
    let t = TestClinic::set_up();
    let admin = t.admin();
    let summary = clinicdesk_core::demo::seed(&t.clinic, &admin, None).unwrap();
    assert_eq!((summary.doctors, summary.patients), (5, 200));
    assert!(summary.appointments > 2000, "about three months for five doctors: {}", summary.appointments);
    let doctors = t.clinic.doctors().list(&admin).unwrap();
    assert_eq!(doctors.len(), 5);
    // Past days have history, future days have bookings, and nobody is double-booked.
    let past = t.clinic.appointments().day(&admin, "2026-02-02", None).unwrap().appointments;
    assert!(past.iter().any(|a| a.status == AppointmentStatus::Completed));
    let future = t.clinic.appointments().day(&admin, "2026-03-16", None).unwrap().appointments;
    assert!(future.iter().any(|a| matches!(a.status, AppointmentStatus::Scheduled | AppointmentStatus::Confirmed)));
    let conn = t.clinic.db().conn().unwrap();
    let overlaps: i64 = conn
        .query_row(
            "SELECT count(*) FROM appointments a JOIN appointments b ON a.id < b.id AND a.status NOT IN ('cancelled','no_show') AND b.status NOT IN ('cancelled','no_show')
             AND (a.doctor_id = b.doctor_id OR a.patient_id = b.patient_id) AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(overlaps, 0);
    // Every sample phone number passes the same validation as a typed one.
    for p in t.clinic.patients().search(&admin, "", 500).unwrap().patients {
        assert_eq!(clinicdesk_core::patients::phone::normalise(&p.phone, "GB").unwrap(), p.phone);
    }
    assert_eq!(clinicdesk_core::demo::seed(&t.clinic, &admin, None).unwrap_err().code(), "conflict");
    let desk = t.add_user("desk@clinic.example", Role::Reception);
    assert_eq!(clinicdesk_core::demo::seed(&t.clinic, &desk, None).unwrap_err().code(), "forbidden");
}

#[test]
fn a_change_checked_a_moment_before_a_move_began_is_refused_by_the_database_itself() {
    let d = desk();
    let booked = d.t.clinic.appointments().book(&d.desk, booking(&d.patient, &d.doctor, "09:30", 30)).unwrap();
    // `d.desk` was signed in before the move began: it carries no pause of its own, as a change
    // already past its checks when the mark is written. Only the database can still stop it.
    let admin = d.t.admin();
    let sync = d.t.clinic.desk_sync();
    sync.mark_moving(&admin, "https://clinic-server.example:8640/").unwrap();
    let paused = |err: clinicdesk_core::error::CoreError| {
        assert_eq!(err.code(), "forbidden", "{err:?}");
        assert!(err.to_string().contains("paused"), "{err}");
    };
    paused(d.t.clinic.appointments().book(&d.desk, booking(&d.other_patient, &d.doctor, "11:00", 30)).unwrap_err());
    let later =
        RescheduleRequest { date: "2026-03-02".into(), time: "12:00".into(), minutes: None, expected_version: None };
    paused(d.t.clinic.appointments().reschedule(&d.desk, booked.id, later.clone()).unwrap_err());
    paused(d.t.clinic.appointments().cancel(&d.desk, booked.id, "Patient called", None).unwrap_err());
    let walk_in = PatientInput {
        full_name: "Ada Walk-in".into(),
        phone: "07400 123999".into(),
        date_of_birth: None,
        sms_consent: false,
    };
    paused(d.t.clinic.patients().add(&d.desk, walk_in.clone()).unwrap_err());
    // Who the staff are is read out too: an administrator's change past its checks is refused.
    let leaving = clinicdesk_core::users::StaffUserChange { active: Some(false), ..Default::default() };
    paused(d.t.clinic.users().update(&admin, d.desk.user_id(), leaving).unwrap_err());
    // Signing in still works (it writes its own counts, not who the person is).
    let again = d.t.sign_in("desk@clinic.example");
    assert_eq!(again.user_id(), d.desk.user_id());
    // Nothing of it landed: what the move reads out is what there was when it began.
    let whole = sync.export_for_server(&admin).unwrap();
    assert_eq!(whole.appointments.len(), 1);
    assert_eq!(whole.appointments[0].starts_at, booked.starts_at);
    assert_eq!(whole.patients.len(), 2);

    // The move stopped early: the same desk's changes go through again.
    sync.resume_after_unfinished_move(&admin).unwrap();
    d.t.clinic.appointments().reschedule(&d.desk, booked.id, later).unwrap();
    d.t.clinic.patients().add(&d.desk, walk_in).unwrap();
}
