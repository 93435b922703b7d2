//! A throwaway clinic server for the real-window end-to-end tests (tests/e2e/specs/desks.test.mjs):
//! a PostgreSQL cluster in a temporary directory, the schema, a clinic with a receptionist, a
//! doctor and two patients (one with a video appointment about twenty minutes from now), two
//! enrolled desks, the clinic's Twilio account pointing at the fake Twilio the test run started
//! (`CLINICDESK_TWILIO_*_URL`, as the app's), and the server on a loopback port behind a relay the
//! test can cut and heal (a line `cut` or `heal` on standard input; `replies` reads patients'
//! replies from the fake Twilio now, as the sender does once a minute). Prints one JSON line (`url`,
//! the two desks' credentials, the people's sign-ins, the video appointment), then serves until its
//! standard input closes, and removes everything.
//!
//! `cargo build -p clinicdesk-server --example e2e_clinic`; scripts/test.sh builds and runs it.

use chrono::Utc;
use clinicdesk_core::appointments::{AppointmentKind, BookingRequest};
use clinicdesk_core::auth::Role;
use clinicdesk_core::patients::PatientInput;
use clinicdesk_core::twilio::http::Endpoints;
use clinicdesk_server::testing::TempPostgres;
use clinicdesk_server::{
    appointments, clinic_settings, db, desks, http, schema, settings, staff_accounts, twilio_setup,
};

const PASSWORD: &str = "clinic server pass 1";

#[tokio::main]
async fn main() {
    let pg = TempPostgres::start();
    let url = pg.create_database("clinic");
    let mut owner = db::connect(&url, false).await.expect("connect");
    schema::migrate(&mut owner).await.expect("migrate");
    settings::set(&owner, settings::CLINIC_NAME, "Riverside Clinic").await.unwrap();
    settings::set(&owner, settings::TIME_ZONE, "Europe/London").await.unwrap();
    settings::set(&owner, settings::COUNTRY, "GB").await.unwrap();
    staff_accounts::add_staff(&owner, "rita@riverside.example", "Rita Reception", Role::Reception, PASSWORD, "")
        .await
        .unwrap();
    staff_accounts::add_staff(
        &owner,
        "grey@riverside.example",
        "Dr Meredith Grey",
        Role::Doctor,
        PASSWORD,
        "Cardiology",
    )
    .await
    .unwrap();
    let pool = db::pool(&url, 8).unwrap();
    let reception = {
        let id: uuid::Uuid =
            owner.query_one("SELECT id FROM users WHERE email = 'rita@riverside.example'", &[]).await.unwrap().get(0);
        clinicdesk_server::staff::signed_in_for_tests(id, Role::Reception, "rita@riverside.example")
    };
    let ana = PatientInput {
        full_name: "Ana Lima".into(),
        phone: "07400 123456".into(),
        date_of_birth: None,
        sms_consent: true,
    };
    clinicdesk_server::patients::add_patient(&pool, &reception, &ana, Utc::now()).await.unwrap();
    let ben = PatientInput {
        full_name: "Ben Okafor".into(),
        phone: "07400 123457".into(),
        date_of_birth: None,
        sms_consent: true,
    };
    let ben = clinicdesk_server::patients::add_patient(&pool, &reception, &ben, Utc::now()).await.unwrap();
    // Ben's video appointment with Dr Grey on the next quarter hour at least twenty minutes away
    // (in the clinic's zone), so the doctor's desk offers Start.
    let zone: chrono_tz::Tz = "Europe/London".parse().unwrap();
    let at = {
        use chrono::{DurationRound, TimeDelta};
        (Utc::now() + TimeDelta::minutes(34)).duration_trunc(TimeDelta::minutes(15)).unwrap().with_timezone(&zone)
    };
    let doctor: uuid::Uuid = owner.query_one("SELECT id FROM doctors", &[]).await.unwrap().get(0);
    let video = BookingRequest {
        patient_id: ben,
        doctor_id: doctor,
        date: at.format("%Y-%m-%d").to_string(),
        time: at.format("%H:%M").to_string(),
        minutes: 15,
        kind: AppointmentKind::Video,
    };
    appointments::book(&pool, &reception, &video, None, Utc::now()).await.unwrap();
    clinic_settings::set(&owner, "video.call_page_url", "https://call.riverside.example/join").await.unwrap();
    // The clinic's Twilio account, at the fake Twilio of this test run (a root-only file, as in production).
    let secrets = tempfile::tempdir().unwrap();
    let twilio_file = secrets.path().join("twilio");
    std::fs::write(
        &twilio_file,
        format!(
            "account_sid={}\napi_key_sid={}\napi_key_secret={}\nauth_token={}\nfrom={}\nconversations_service_sid={}\n",
            clinicdesk_twilio_fake::ACCOUNT_SID,
            clinicdesk_twilio_fake::API_KEY_SID,
            clinicdesk_twilio_fake::API_KEY_SECRET,
            clinicdesk_twilio_fake::AUTH_TOKEN,
            clinicdesk_twilio_fake::FROM_NUMBER,
            clinicdesk_twilio_fake::CHAT_SERVICE_SID,
        ),
    )
    .unwrap();
    std::fs::set_permissions(&twilio_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let texting = twilio_setup::load(&twilio_file, Endpoints::from_env()).expect("the fake Twilio's account");
    // The same account for `replies` (the server reads replies once a minute; a test says when).
    let replies = twilio_setup::load(&twilio_file, Endpoints::from_env()).expect("the fake Twilio's account");
    let (_, front) = desks::enroll(&owner, None, "Front desk").await.unwrap();
    let (_, room) = desks::enroll(&owner, None, "Room 1").await.unwrap();
    let (address, _server) =
        http::start_with(&url, "127.0.0.1:0".parse().unwrap(), "e2e".into(), None, Some(texting)).await.unwrap();
    let relay = clinicdesk_server::relay::Relay::start(address).await.unwrap();
    let address = relay.address();
    println!(
        "{}",
        serde_json::json!({
            "url": format!("http://{address}"),
            "front": front,
            "room": room,
            "reception": { "email": "rita@riverside.example", "password": PASSWORD },
            "doctor": { "email": "grey@riverside.example", "password": PASSWORD },
            "video": { "patient": "Ben Okafor", "date": video.date, "time": video.time },
        })
    );
    // Serve until the test closes our standard input (or dies); `cut` and `heal` work the relay.
    let (lines, mut commands) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    while let Some(command) = commands.recv().await {
        match command.trim() {
            "cut" => relay.cut(),
            "heal" => relay.heal(),
            "replies" => {
                let mut client = db::connect(&url, true).await.expect("connect");
                clinicdesk_server::replies::read(&mut client, &replies, Utc::now()).await.expect("read the replies");
            }
            other => eprintln!("e2e_clinic: unknown command {other:?}"),
        }
        println!("ok {}", command.trim());
    }
    drop(pg);
}
