//! The appointment-texts rig: a set-up clinic on the manual clock with Twilio configured against a
//! fresh fake Twilio, a doctor, reception, a patient who agreed to texts, and the worker run by hand.
#![allow(dead_code)]

use super::common::*;
use chrono::{DateTime, TimeZone, Utc};
use clinicdesk_core::appointment_texts::AppointmentChange;
use clinicdesk_core::appointments::{AppointmentKind, BookingRequest, RescheduleRequest};
use clinicdesk_core::auth::{Caller, Role};
use clinicdesk_core::doctors::Doctor;
use clinicdesk_core::patients::{Patient, PatientInput};
use clinicdesk_core::sms::worker::{OutboxConfig, OutboxWorker};
use clinicdesk_core::sms::{TextKind, TextMessage};
use clinicdesk_core::twilio::{Endpoints, TwilioHttp};
use clinicdesk_twilio_fake::FakeTwilio;
use std::time::Duration as StdDuration;

pub const OLIVIA: &str = "+447400123456";

pub struct Desk {
    pub t: TestClinic,
    pub fake: FakeTwilio,
    pub http: TwilioHttp,
    pub admin: Caller,
    pub desk: Caller,
    pub doctor: Doctor,
    pub patient: Patient,
}

/// London wall-clock time as UTC.
pub fn london(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono_tz::Europe::London.with_ymd_and_hms(y, m, d, h, min, 0).single().unwrap().with_timezone(&Utc)
}

pub async fn desk() -> Desk {
    let t = TestClinic::set_up();
    let fake = FakeTwilio::start().await;
    let admin = t.admin();
    t.configure_fake_twilio();
    let http =
        TwilioHttp::with_timeouts(Endpoints::all_at(&fake.url()), StdDuration::from_secs(2), StdDuration::from_secs(1));
    t.add_user("okafor@clinic.example", Role::Doctor);
    let doctor = t.clinic.doctors().add(&admin, "okafor@clinic.example", "General practice").unwrap();
    let desk = t.add_user("desk@clinic.example", Role::Reception);
    let patient = add_patient(&t, &desk, "Olivia Smith", "07400 123456", true);
    Desk { t, fake, http, admin, desk, doctor, patient }
}

pub fn add_patient(t: &TestClinic, who: &Caller, name: &str, phone: &str, consent: bool) -> Patient {
    let input = PatientInput { full_name: name.into(), phone: phone.into(), date_of_birth: None, sms_consent: consent };
    t.clinic.patients().add(who, input).unwrap()
}

impl Desk {
    pub fn book_for(&self, patient: &Patient, at: DateTime<Utc>) -> AppointmentChange {
        let local = at.with_timezone(&chrono_tz::Europe::London);
        let request = BookingRequest {
            patient_id: patient.id,
            doctor_id: self.doctor.id,
            date: local.format("%Y-%m-%d").to_string(),
            time: local.format("%H:%M").to_string(),
            minutes: 30,
            kind: AppointmentKind::InPerson,
        };
        self.t.clinic.appointments().book(&self.desk, request).unwrap()
    }
    pub fn book(&self, at: DateTime<Utc>) -> AppointmentChange {
        self.book_for(&self.patient, at)
    }
    pub fn move_to(&self, id: uuid::Uuid, at: DateTime<Utc>) -> AppointmentChange {
        let local = at.with_timezone(&chrono_tz::Europe::London);
        let request = RescheduleRequest {
            date: local.format("%Y-%m-%d").to_string(),
            time: local.format("%H:%M").to_string(),
            minutes: None,
            expected_version: None,
        };
        self.t.clinic.appointments().reschedule(&self.desk, id, request).unwrap()
    }
    pub fn cancel(&self, id: uuid::Uuid) -> AppointmentChange {
        self.t.clinic.appointments().cancel(&self.desk, id, "Patient called to cancel", None).unwrap()
    }
    pub fn texts(&self, appointment: uuid::Uuid) -> Vec<TextMessage> {
        let timeline = self.t.clinic.appointment_texts().timeline(&self.desk, appointment).unwrap();
        timeline.texts.into_iter().map(|t| t.text).collect()
    }
    pub fn set(&self, key: &str, value: &str) {
        self.t.clinic.set_texting_setting(&self.admin, key, value).unwrap();
    }
    /// One worker pass at the clinic's current (manual) time: plans, tidies, sends what is due.
    pub async fn pass(&self) {
        let config = OutboxConfig {
            messages_per_second: 0,
            retry_base: StdDuration::from_millis(10),
            first_poll: StdDuration::from_millis(10),
            ..Default::default()
        };
        OutboxWorker::new(&self.t.clinic, &self.http, config).unwrap().run_once().await.unwrap();
    }
    pub fn sent_to(&self, number: &str) -> Vec<String> {
        self.fake.messages_to(number).into_iter().map(|m| m.body).collect()
    }
    pub fn at(&self, instant: DateTime<Utc>) {
        self.t.clock.set(instant);
    }
}

pub fn of_kind(texts: &[TextMessage], kind: TextKind) -> Vec<&TextMessage> {
    texts.iter().filter(|t| t.kind == kind).collect()
}
