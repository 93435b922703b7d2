//! Absurd dates, times and lengths typed by a person get a sentence about the field, never a
//! panic or an overflow: booking, moving, the day view and a patient's date of birth.

mod common;

use clinicdesk_core::appointments::{AppointmentKind, BookingRequest, RescheduleRequest};
use clinicdesk_core::auth::Role;
use clinicdesk_core::patients::PatientInput;
use common::*;
use proptest::prelude::*;

const FAR: [&str; 6] =
    ["9999-12-31", "2100-01-01", "275760-09-13", "+262143-12-31", "99999999999999999999-01-01", "2031-03-03"];

struct Desk {
    t: TestClinic,
    desk: clinicdesk_core::auth::Caller,
    patient: uuid::Uuid,
    doctor: uuid::Uuid,
}

fn desk() -> Desk {
    let t = TestClinic::set_up();
    let admin = t.admin();
    t.add_user("okafor@clinic.example", Role::Doctor);
    let doctor = t.clinic.doctors().add(&admin, "okafor@clinic.example", "General practice").unwrap().id;
    let desk = t.add_user("desk@clinic.example", Role::Reception);
    let patient = t
        .clinic
        .patients()
        .add(
            &desk,
            PatientInput {
                full_name: "Olivia Smith".into(),
                phone: "07400 123456".into(),
                date_of_birth: None,
                sms_consent: true,
            },
        )
        .unwrap()
        .id;
    Desk { t, desk, patient, doctor }
}

fn booking(d: &Desk, date: &str, time: &str, minutes: u32) -> BookingRequest {
    BookingRequest {
        patient_id: d.patient,
        doctor_id: d.doctor,
        date: date.into(),
        time: time.into(),
        minutes,
        kind: AppointmentKind::InPerson,
    }
}

#[test]
fn booking_or_moving_to_a_far_future_date_says_how_far_ahead_is_allowed() {
    let d = desk();
    // The clock stands at Monday 2 March 2026: the horizon is five years, to 2 March 2031.
    for date in FAR {
        let err = d.t.clinic.appointments().book(&d.desk, booking(&d, date, "09:00", 30)).unwrap_err();
        assert_eq!(err.field(), Some("date"), "{date}");
        assert_eq!(err.to_string(), "Choose a date within the next 5 years (up to 2 Mar 2031).", "{date}");
    }
    let last = d.t.clinic.appointments().book(&d.desk, booking(&d, "2031-03-02", "09:00", 30)).unwrap();
    for date in FAR {
        let err =
            d.t.clinic
                .appointments()
                .reschedule(
                    &d.desk,
                    last.id,
                    RescheduleRequest {
                        date: date.into(),
                        time: "10:00".into(),
                        minutes: Some(480),
                        expected_version: None,
                    },
                )
                .unwrap_err();
        assert_eq!(err.field(), Some("date"), "{date}");
    }
    assert_eq!(
        d.t.clinic.appointments().book(&d.desk, booking(&d, "1999-01-01", "09:00", 30)).unwrap_err().field(),
        Some("date")
    );
}

#[test]
fn the_last_days_chrono_can_represent_are_refused_not_overflowed() {
    let d = desk();
    for date in ["262142-12-31", "+262142-12-31", "+262143-12-31"] {
        let err = d.t.clinic.appointments().book(&d.desk, booking(&d, date, "23:59", 480)).unwrap_err();
        assert_eq!(err.field(), Some("date"), "{date}");
    }
}

#[test]
fn the_day_view_refuses_absurd_dates_in_words() {
    let d = desk();
    for date in FAR.iter().chain(&["1900-01-01", "-0001-01-01", "0000-01-01"]) {
        let err = d.t.clinic.appointments().day(&d.desk, date, None).unwrap_err();
        assert_eq!(err.field(), Some("date"), "{date}");
        assert_eq!(err.to_string(), "Choose a date between 2 Mar 1976 and 2 Mar 2031.", "{date}");
    }
    assert!(d.t.clinic.appointments().day(&d.desk, "1976-03-02", None).is_ok());
    assert!(d.t.clinic.appointments().day(&d.desk, "2031-03-02", None).is_ok());
    assert_eq!(d.t.clinic.appointments().day(&d.desk, "2026-02-30", None).unwrap_err().field(), Some("date"));
}

#[test]
fn a_far_future_date_of_birth_is_refused_in_words() {
    let d = desk();
    for (i, dob) in FAR.iter().chain(&["-200000-01-01", "0000-01-01"]).enumerate() {
        let err =
            d.t.clinic
                .patients()
                .add(
                    &d.desk,
                    PatientInput {
                        full_name: format!("Amy Pond {i}"),
                        phone: "07400 123450".into(),
                        date_of_birth: Some((*dob).into()),
                        sms_consent: false,
                    },
                )
                .unwrap_err();
        assert_eq!(err.field(), Some("date_of_birth"), "{dob}");
    }
}

fn any_date() -> impl Strategy<Value = String> {
    prop_oneof![
        (-300_000i64..300_000, 0u32..14, 0u32..33).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        // The edge of what chrono represents, where adding a length used to overflow.
        (prop::sample::select(vec!["", "+"]), 262_140i64..262_145, 12u32..13, 28u32..32)
            .prop_map(|(sign, y, m, d)| format!("{sign}{y}-{m:02}-{d:02}")),
        (2026i32..2033, 1u32..13, 1u32..29).prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}")),
        "\\PC{0,20}",
    ]
}

/// One clinic for every case (setting one up hashes passwords), so bookings pile up across cases:
/// a clash is an acceptable answer too, a panic or a storage error is not.
#[test]
fn nothing_typed_at_the_desk_panics() {
    let d = desk();
    let clinic = &d.t.clinic;
    let anchor = clinic.appointments().book(&d.desk, booking(&d, "2026-03-03", "09:00", 30)).unwrap();
    let typed = (
        any_date(),
        prop_oneof![(0u32..30, 0u32..70).prop_map(|(h, m)| format!("{h:02}:{m:02}")), "\\PC{0,6}"],
        prop_oneof![any::<u32>(), 0u32..600],
        any_date(),
    );
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(200));
    runner
        .run(&typed, |(date, time, minutes, dob)| {
            let told = |err: &clinicdesk_core::CoreError| err.field().is_some() || err.code() == "conflict";
            if let Err(err) = clinic.appointments().book(&d.desk, booking(&d, &date, &time, minutes)) {
                prop_assert!(told(&err), "{err}");
            }
            if let Err(err) = clinic.appointments().day(&d.desk, &date, None) {
                prop_assert_eq!(err.field(), Some("date"));
            }
            let request = RescheduleRequest {
                date: date.clone(),
                time: time.clone(),
                minutes: Some(minutes),
                expected_version: None,
            };
            if let Err(err) = clinic.appointments().reschedule(&d.desk, anchor.id, request) {
                prop_assert!(told(&err), "{err}");
            }
            let input = PatientInput {
                full_name: "Amy Pond".into(),
                phone: "07400 123450".into(),
                date_of_birth: Some(dob),
                sms_consent: false,
            };
            if let Err(err) = clinic.patients().add(&d.desk, input) {
                prop_assert!(err.field() == Some("date_of_birth") || err.code() == "conflict", "{err}");
            }
            Ok(())
        })
        .unwrap();
}
