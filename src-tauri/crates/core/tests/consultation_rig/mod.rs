//! A clinic with two doctors, reception and a patient booked for a video consultation at 09:00
//! (the manual clock says 08:00), its Twilio pointing at a fresh fake.
#![allow(dead_code)]

use crate::common::*;
use chrono::{DateTime, Utc};
use clinicdesk_core::appointments::{AppointmentKind, BookingRequest};
use clinicdesk_core::auth::{Caller, Channel, Role};
use clinicdesk_core::consultations::ConsultationStatus;
use clinicdesk_core::doctors::Doctor;
use clinicdesk_core::patients::{Patient, PatientInput};
use clinicdesk_core::twilio::config::TwilioSettingsInput;
use clinicdesk_core::twilio::http::RetryPolicy;
use clinicdesk_core::twilio::{Endpoints, TwilioHttp};
use clinicdesk_core::{Clinic, Result};
use clinicdesk_twilio_fake::{self as fake, FakeConversation, FakeRoom, FakeTwilio};
use std::time::Duration;
use uuid::Uuid;

pub const OKAFOR: &str = "okafor@clinic.example";
pub const OTHER_DOCTOR: &str = "lee@clinic.example";
pub const DESK: &str = "desk@clinic.example";

pub struct Rig {
    pub t: TestClinic,
    pub fake: FakeTwilio,
    pub http: TwilioHttp,
    pub admin: Caller,
    pub desk: Caller,
    pub okafor: Caller,
    pub other: Caller,
    pub doctor: Doctor,
    pub patient: Patient,
    /// The video appointment, 09:00-09:30 today.
    pub appt: Uuid,
    pub booking_ref: String,
}

/// An HTTP client for `url` that gives up quickly (tests inject faults, never wait for them).
pub fn http_to(url: &str) -> TwilioHttp {
    let mut http = TwilioHttp::with_timeouts(Endpoints::all_at(url), Duration::from_secs(2), Duration::from_secs(1));
    http.retry =
        RetryPolicy { max_attempts: 2, base_delay: Duration::from_millis(10), max_delay: Duration::from_millis(20) };
    http
}

pub async fn rig() -> Rig {
    rig_with(true).await
}

/// `twilio`: whether an administrator has set Twilio up.
pub async fn rig_with(twilio: bool) -> Rig {
    let t = TestClinic::set_up();
    let fake = FakeTwilio::start().await;
    let admin = t.admin();
    if twilio {
        t.clinic
            .twilio()
            .configure(
                &admin,
                TwilioSettingsInput {
                    account_sid: fake::ACCOUNT_SID.into(),
                    api_key_sid: fake::API_KEY_SID.into(),
                    from: Some(fake::FROM_NUMBER.into()),
                    messaging_service_sid: None,
                    conversations_service_sid: None,
                    media_region: Some("ie1".into()),
                    auth_token: Some(fake::AUTH_TOKEN.into()),
                    api_key_secret: Some(fake::API_KEY_SECRET.into()),
                },
            )
            .unwrap();
    }
    let okafor = t.add_user(OKAFOR, Role::Doctor);
    let other = t.add_user(OTHER_DOCTOR, Role::Doctor);
    let doctor = t.clinic.doctors().add(&admin, OKAFOR, "General practice").unwrap();
    t.clinic.doctors().add(&admin, OTHER_DOCTOR, "Dermatology").unwrap();
    let desk = t.add_user(DESK, Role::Reception);
    let input = PatientInput {
        full_name: "Olivia Smith".into(),
        phone: "07400 123456".into(),
        date_of_birth: Some("1980-04-01".into()),
        sms_consent: false,
    };
    let patient = t.clinic.patients().add(&desk, input).unwrap();
    let http = http_to(&fake.url());
    let mut rig = Rig {
        t,
        fake,
        http,
        admin,
        desk,
        okafor,
        other,
        doctor,
        patient,
        appt: Uuid::nil(),
        booking_ref: String::new(),
    };
    let booked = rig.book("09:00", 30, AppointmentKind::Video);
    rig.appt = booked.0;
    rig.booking_ref = booked.1;
    rig
}

impl Rig {
    /// Books the patient with Dr Okafor today at `time` (London).
    pub fn book(&self, time: &str, minutes: u32, kind: AppointmentKind) -> (Uuid, String) {
        let request = BookingRequest {
            patient_id: self.patient.id,
            doctor_id: self.doctor.id,
            date: "2026-03-02".into(),
            time: time.into(),
            minutes,
            kind,
        };
        let a = self.t.clinic.appointments().book(&self.desk, request).unwrap();
        (a.id, a.booking_ref.clone())
    }

    pub fn clinic(&self) -> &Clinic {
        &self.t.clinic
    }

    pub async fn start(&self) -> Result<ConsultationStatus> {
        self.clinic().consultations().start(&self.okafor, &self.http, self.appt).await
    }

    pub async fn end(&self) -> Result<ConsultationStatus> {
        self.clinic().consultations().end(&self.okafor, &self.http, self.appt).await
    }

    pub fn status(&self, who: &Caller) -> ConsultationStatus {
        self.clinic().consultations().status(who, self.appt).unwrap()
    }

    /// The app closes and opens again on the same data folder and clock; everyone signs in again.
    pub fn restart(&mut self) {
        let clinic = Clinic::open_with_clock(self.t.dir.path(), self.t.clock.clone()).expect("reopen");
        self.t.clinic = clinic;
        let sign_in = |email: &str| self.t.clinic.auth().sign_in(email, PASSWORD, Channel::App).unwrap().caller;
        let (admin, desk, okafor, other) =
            (sign_in(ADMIN_EMAIL), sign_in(DESK), sign_in(OKAFOR), sign_in(OTHER_DOCTOR));
        (self.admin, self.desk, self.okafor, self.other) = (admin, desk, okafor, other);
    }

    pub fn rooms(&self) -> Vec<FakeRoom> {
        self.fake.rooms()
    }

    pub fn conversations(&self) -> Vec<FakeConversation> {
        self.fake.conversations()
    }

    /// The actions in the audit trail about the video appointment, oldest first.
    pub fn audit_actions(&self) -> Vec<String> {
        let mut entries = self.clinic().audit().recent(&self.admin, Some(&self.appt.to_string()), 500).unwrap();
        entries.reverse();
        entries.into_iter().map(|e| e.action).collect()
    }

    /// Every `access.refused` entry with its detail (the permission).
    pub fn refusals(&self) -> Vec<String> {
        let entries = self.clinic().audit().recent(&self.admin, None, 1000).unwrap();
        entries.into_iter().filter(|e| e.action == "access.refused").filter_map(|e| e.detail).collect()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clinic().now()
    }
}
