//! A throwaway clinic server for the real-window end-to-end tests (tests/e2e/specs/desks.test.mjs):
//! a PostgreSQL cluster in a temporary directory, the schema, a clinic with a receptionist, a
//! doctor and a patient, two enrolled desks, and the server on a loopback port behind a relay the
//! test can cut and heal (a line `cut` or `heal` on standard input). Prints one JSON line (`url`,
//! the two desks' credentials, the people's sign-ins), then serves until its standard input
//! closes, and removes everything.
//!
//! `cargo build -p clinicdesk-server --example e2e_clinic`; scripts/test.sh builds and runs it.

use chrono::Utc;
use clinicdesk_core::auth::Role;
use clinicdesk_core::patients::PatientInput;
use clinicdesk_server::testing::TempPostgres;
use clinicdesk_server::{db, desks, http, schema, settings, staff_accounts};

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
    let (_, front) = desks::enroll(&owner, None, "Front desk").await.unwrap();
    let (_, room) = desks::enroll(&owner, None, "Room 1").await.unwrap();
    let (address, _server) = http::start(&url, "127.0.0.1:0".parse().unwrap(), "e2e".into(), None).await.unwrap();
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
            other => eprintln!("e2e_clinic: unknown command {other:?}"),
        }
        println!("ok {}", command.trim());
    }
    drop(pg);
}
