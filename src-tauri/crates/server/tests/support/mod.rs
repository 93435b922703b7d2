//! A clinic on a real, throwaway PostgreSQL: schema applied, a time zone, an admin, a receptionist,
//! two doctors and three patients.
#![allow(dead_code)]

use chrono::{DateTime, Duration, Utc};
use clinicdesk_core::appointments::{AppointmentKind, BookingRequest};
use clinicdesk_core::auth::Role;
use clinicdesk_core::patients::PatientInput;
use clinicdesk_server::staff::{signed_in_for_tests, Staff};
use clinicdesk_server::testing::TempPostgres;
use clinicdesk_server::{db, directory, schema, settings};
use deadpool_postgres::Pool;
use uuid::Uuid;

pub const ZONE: &str = "Europe/London";

pub struct TestClinic {
    pub pg: TempPostgres,
    pub url: String,
    pub pool: Pool,
    pub admin: Staff,
    pub reception: Staff,
    pub doctor_staff: Staff,
    pub doctors: Vec<Uuid>,
    pub patients: Vec<Uuid>,
}

pub async fn clinic() -> TestClinic {
    let pg = TempPostgres::start();
    let url = pg.create_database("clinic");
    let mut login = db::connect(&url, false).await.expect("connect");
    schema::migrate(&mut login).await.expect("migrate");
    settings::set(&login, settings::TIME_ZONE, ZONE).await.unwrap();
    settings::set(&login, settings::CLINIC_NAME, "Riverside Clinic").await.unwrap();
    settings::set(&login, settings::COUNTRY, "GB").await.unwrap();
    let admin = directory::add_user(&login, "admin@clinic.example", "Ada Admin", Role::Admin, "admin password 1")
        .await
        .unwrap();
    let reception =
        directory::add_user(&login, "desk@clinic.example", "Rita Reception", Role::Reception, "desk password 1")
            .await
            .unwrap();
    let mut doctors = Vec::new();
    let mut doctor_staff = None;
    for (email, name) in [("grey@clinic.example", "Dr Meredith Grey"), ("house@clinic.example", "Dr Gregory House")] {
        let user = directory::add_user(&login, email, name, Role::Doctor, "doctor password 1").await.unwrap();
        doctors.push(directory::add_doctor(&login, user, "General practice").await.unwrap());
        doctor_staff.get_or_insert(signed_in_for_tests(user, Role::Doctor, email));
    }
    let pool = db::pool(&url, 32).unwrap();
    let reception = signed_in_for_tests(reception, Role::Reception, "desk@clinic.example");
    let mut patients = Vec::new();
    for (name, phone) in
        [("Ana Lima", "+447400123456"), ("Ben Okafor", "+447400123457"), ("Chloé Dubois", "+447911000111")]
    {
        let input =
            PatientInput { full_name: name.into(), phone: phone.into(), date_of_birth: None, sms_consent: true };
        patients.push(directory::add_patient(&pool, &reception, &input, "GB", Utc::now()).await.unwrap());
    }
    TestClinic {
        pg,
        url,
        pool,
        admin: signed_in_for_tests(admin, Role::Admin, "admin@clinic.example"),
        reception,
        doctor_staff: doctor_staff.unwrap(),
        doctors,
        patients,
    }
}

/// Tomorrow at `time` in the clinic's zone, for `minutes`.
pub fn booking(patient: Uuid, doctor: Uuid, time: &str, minutes: u32) -> BookingRequest {
    let tomorrow = (Utc::now() + Duration::days(1)).with_timezone(&ZONE.parse::<chrono_tz::Tz>().unwrap());
    BookingRequest {
        patient_id: patient,
        doctor_id: doctor,
        date: tomorrow.format("%Y-%m-%d").to_string(),
        time: time.into(),
        minutes,
        kind: AppointmentKind::InPerson,
    }
}

pub fn now() -> DateTime<Utc> {
    Utc::now()
}
