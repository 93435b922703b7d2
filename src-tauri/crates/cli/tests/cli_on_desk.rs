//! The CLI on a desk of a clinic server (a real PostgreSQL, the server in-process): `server join`,
//! sign-in checked by the server, changes sent in the same command.
//!
//! Needs the OS keyring (scripts/test.sh runs the suite inside an unlocked test keyring).

mod clinic_server_support;

use clinic_server_support::{clinicdesk, empty_server, PASSWORD};
use clinicdesk_core::auth::Role;
use clinicdesk_server::{db, desks, directory, http};
use serde_json::Value;

/// The CLI on a desk: `server join` makes an empty data folder a desk; staff sign in with their
/// server accounts (the server checks the password); a booking made with the CLI reaches the
/// server in the same command; `server status` and `server sync` say where things stand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_works_on_a_desk_of_a_clinic_server() {
    let (pg, url, owner) = empty_server().await;
    let rita =
        directory::add_user(&owner, "rita@clinic.example", "Rita Reception", Role::Reception, PASSWORD).await.unwrap();
    let grey =
        directory::add_user(&owner, "grey@clinic.example", "Dr Grey", Role::Doctor, "doctor password 1").await.unwrap();
    let doctor = directory::add_doctor(&owner, grey, "GP").await.unwrap();
    let pool = db::pool(&url, 2).unwrap();
    let staff = clinicdesk_server::staff::signed_in_for_tests(rita, Role::Reception, "rita@clinic.example");
    let input = clinicdesk_core::patients::PatientInput {
        full_name: "Olivia Smith".into(),
        phone: "07400 123456".into(),
        date_of_birth: None,
        sms_consent: true,
    };
    let patient = clinicdesk_server::patients::add_patient(&pool, &staff, &input, chrono::Utc::now()).await.unwrap();
    let (_, credential) = desks::enroll(&owner, None, "Back office").await.unwrap();
    let (address, _server) = http::start(&url, "127.0.0.1:0".parse().unwrap(), "test".into(), None).await.unwrap();
    let desk = tempfile::tempdir().unwrap();
    let d = desk.path();

    let joined =
        clinicdesk(d, &["server", "join", "--server", &format!("http://{address}"), "--credential", &credential])
            .output()
            .unwrap();
    assert!(joined.status.success(), "{}", String::from_utf8_lossy(&joined.stderr));
    assert!(String::from_utf8_lossy(&joined.stdout).contains("desk \"Back office\" of Riverside Clinic"));

    let as_rita = |args: &[&str]| {
        let mut full = vec!["--json", "--as", "rita@clinic.example"];
        full.extend_from_slice(args);
        clinicdesk(d, &full).output().unwrap()
    };
    let wrong = clinicdesk(d, &["--as", "rita@clinic.example", "server", "status"])
        .env("CLINICDESK_PASSWORD", "not her password")
        .output()
        .unwrap();
    assert_eq!(
        wrong.status.code(),
        Some(6),
        "the server refuses a wrong password: {}",
        String::from_utf8_lossy(&wrong.stderr)
    );

    let day = (chrono::Utc::now().date_naive() + chrono::Duration::days(30)).to_string();
    let booked = as_rita(&[
        "appointment",
        "book",
        "--patient",
        &patient.to_string(),
        "--doctor",
        &doctor.to_string(),
        "--at",
        &format!("{day} 09:30"),
        "--minutes",
        "20",
    ]);
    assert!(booked.status.success(), "{}", String::from_utf8_lossy(&booked.stderr));
    assert_eq!(
        pg.psql("clinic", "SELECT count(*) FROM appointments"),
        "1",
        "the booking reached the server in the same command"
    );
    let status: Value = serde_json::from_slice(&as_rita(&["server", "status"]).stdout).unwrap();
    assert_eq!(status["waiting"].as_array().map(Vec::len), Some(0), "{status}");
    let synced: Value = serde_json::from_slice(&as_rita(&["server", "sync"]).stdout).unwrap();
    assert_eq!(synced["refused"], 0, "{synced}");
}
