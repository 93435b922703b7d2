//! A clinic on a real, throwaway PostgreSQL: schema applied, a time zone, an admin, a receptionist,
//! two doctors and three patients.
#![allow(dead_code)]

pub mod video;

use chrono::{DateTime, Duration, Utc};
use clinicdesk_core::appointments::{AppointmentKind, BookingRequest};
use clinicdesk_core::auth::Role;
use clinicdesk_core::patients::PatientInput;
use clinicdesk_server::staff::{signed_in_for_tests, Staff};
use clinicdesk_server::testing::TempPostgres;
use clinicdesk_server::{db, directory};
use deadpool_postgres::Pool;
use uuid::Uuid;

/// The zone `testing::empty_london_clinic` sets.
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
    let (url, login) = clinicdesk_server::testing::empty_london_clinic(&pg).await;
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
        patients.push(clinicdesk_server::patients::add_patient(&pool, &reception, &input, Utc::now()).await.unwrap());
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

/// The clinic server in-process on a loopback port (plain HTTP: loopback only), serving `c`'s
/// clinic for as long as the test runs.
pub async fn serve(
    c: &TestClinic,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<clinicdesk_server::error::Result<()>>) {
    clinicdesk_server::http::start(&c.url, "127.0.0.1:0".parse().unwrap(), "test".into(), None).await.unwrap()
}

/// `email` signs in on `desk` through the server (a link of its own), and the desk pulls the
/// feed once.
pub async fn sign_in_on(
    desk: &DeskComputer,
    email: &str,
    password: &str,
) -> (clinicdesk_core::sync::ServerLink, clinicdesk_core::auth::SignedIn) {
    let sync = desk.clinic.desk_sync();
    let link = sync.link(None).unwrap();
    let signed = sync.sign_in(&link, email, password, clinicdesk_core::auth::Channel::App).await.unwrap();
    sync.pull(&link, std::time::Duration::ZERO).await.unwrap();
    (link, signed)
}

/// A desk's computer: its own SQLCipher database, joined to the server through a relay the test
/// can cut, heal, or make drop answers.
pub struct DeskComputer {
    _dir: tempfile::TempDir,
    pub clinic: clinicdesk_core::Clinic,
    pub relay: clinicdesk_server::relay::Relay,
}

/// Enrols a desk called `name` and joins a fresh desk database to the server at `server`.
pub async fn desk_computer(c: &TestClinic, server: std::net::SocketAddr, name: &str) -> DeskComputer {
    desk_computer_with_clock(c, server, name, std::sync::Arc::new(clinicdesk_core::clock::SystemClock)).await
}

/// [`desk_computer`] whose own clock is `clock` (the server keeps the real one).
pub async fn desk_computer_with_clock(
    c: &TestClinic,
    server: std::net::SocketAddr,
    name: &str,
    clock: std::sync::Arc<dyn clinicdesk_core::clock::Clock>,
) -> DeskComputer {
    let (_, credential) =
        clinicdesk_server::desks::enroll(&**c.pool.get().await.unwrap(), Some(&c.admin), name).await.unwrap();
    let relay = clinicdesk_server::relay::Relay::start(server).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clinic = clinicdesk_core::Clinic::open_with_clock(dir.path(), clock)
        .expect("open the desk's database (use scripts/test.sh for the keyring)");
    clinic.desk_sync().join(&format!("http://{}", relay.address()), &credential).unwrap();
    DeskComputer { _dir: dir, clinic, relay }
}

/// Returns once a transaction is waiting for an advisory lock another holds (seen in pg_locks);
/// fails if `task`, the one expected to wait, finished instead. A liveness poll, not a timing
/// assertion: it asserts an order (the task waited), never how long anything took.
pub async fn until_waiting_on_an_advisory_lock<T>(pool: &Pool, task: &tokio::task::JoinHandle<T>, what: &str) {
    let monitor = pool.get().await.unwrap();
    loop {
        let waiting: i64 = monitor
            .query_one("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted", &[])
            .await
            .unwrap()
            .get(0);
        if waiting == 1 {
            return;
        }
        assert!(!task.is_finished(), "{what} did not wait for the lock");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
