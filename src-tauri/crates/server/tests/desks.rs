//! Two desks, each with its own encrypted SQLite cache and keyring entry, joined to one clinic
//! server through a relay the test cuts and heals: what reception books appears on the doctor's
//! desk; with the network cut the doctor's desk keeps reading its cache and only people who
//! signed in there recently can sign in.
//!
//! Needs the OS keyring (scripts/test.sh runs the suite inside an unlocked test keyring).

mod support;

use clinicdesk_core::auth::Channel;
use clinicdesk_core::error::{CoreError, ErrorCode};
use clinicdesk_core::sync::wire::DeskCommand;
use clinicdesk_core::Clinic;
use clinicdesk_server::desks;
use clinicdesk_server::relay::Relay;
use std::time::Duration;
use uuid::Uuid;

struct DeskComputer {
    _dir: tempfile::TempDir,
    clinic: Clinic,
}

async fn desk_computer(c: &support::TestClinic, server: &str, name: &str) -> DeskComputer {
    let (_, credential) = desks::enroll(&**c.pool.get().await.unwrap(), Some(&c.admin), name).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clinic =
        Clinic::open(dir.path()).expect("open the desk's database (is the test keyring running? use scripts/test.sh)");
    clinic.desk_sync().join(server, &credential).unwrap();
    DeskComputer { _dir: dir, clinic }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_reception_books_appears_on_the_doctors_desk_and_stays_readable_offline() {
    let c = support::clinic().await;
    let (address, _server) = support::serve(&c).await;
    let relay = Relay::start(address).await.unwrap();
    let server = format!("http://{}", relay.address());
    let front = desk_computer(&c, &server, "Front desk").await;
    let room = desk_computer(&c, &server, "Room 1").await;

    // Reception signs in on the front desk (checked by the server), catches up, and books.
    let front_link = front.clinic.desk_sync().link(None).unwrap();
    front
        .clinic
        .desk_sync()
        .sign_in(&front_link, "desk@clinic.example", "desk password 1", Channel::App)
        .await
        .unwrap();
    assert!(front.clinic.desk_sync().pull(&front_link, Duration::ZERO).await.unwrap() > 5, "the directory arrives");
    let request = support::booking(c.patients[0], c.doctors[0], "10:30", 20);
    let outcome = front_link
        .command(Uuid::new_v4(), &DeskCommand::Book { appointment_id: Uuid::new_v4(), booking: request.clone() })
        .await
        .unwrap();
    let booking_ref = outcome["ok"]["booking_ref"].as_str().expect("booked").to_string();
    // This server has no Twilio account: reception's text to a patient is refused in words, not
    // queued to go whenever Twilio is added.
    let text = DeskCommand::TextPatient { patient_id: c.patients[0], body: "Hello".into() };
    match front_link.command(Uuid::new_v4(), &text).await.unwrap_err() {
        clinicdesk_core::error::CoreError::Server { message, .. } => {
            assert!(message.starts_with("Texting is not set up on the clinic server yet"), "{message}")
        }
        other => panic!("expected the server's refusal, got {other:?}"),
    }

    // The doctor's desk, its own database: after signing in and pulling, the day shows the booking.
    let room_link = room.clinic.desk_sync().link(None).unwrap();
    let doctor = room
        .clinic
        .desk_sync()
        .sign_in(&room_link, "grey@clinic.example", "doctor password 1", Channel::App)
        .await
        .unwrap();
    room.clinic.desk_sync().pull(&room_link, Duration::ZERO).await.unwrap();
    let day = room.clinic.appointments().day(&doctor.caller, &request.date, None).unwrap();
    assert_eq!(day.time_zone, "Europe/London", "the clinic's settings came with the feed");
    let shown: Vec<_> = day
        .appointments
        .iter()
        .map(|a| (a.booking_ref.as_str(), a.local_start.as_str(), a.patient_name.as_str()))
        .collect();
    assert_eq!(shown, [(booking_ref.as_str(), "10:30", "Ana Lima")]);

    // Reception moves it ten minutes later, overlapping its own old slot: the doctor's desk takes the
    // new row (the local double-booking backstop stands aside for the server's changes).
    let id: Uuid = outcome["ok"]["id"].as_str().unwrap().parse().unwrap();
    let change = clinicdesk_core::appointments::RescheduleRequest {
        date: request.date.clone(),
        time: "10:40".into(),
        minutes: None,
        expected_version: Some(1),
    };
    let moved = front_link.command(Uuid::new_v4(), &DeskCommand::Move { appointment_id: id, change }).await.unwrap();
    assert!(moved.get("ok").is_some(), "{moved}");
    // The move, and its texts (the confirmation not yet sent withdrawn, the new one queued).
    assert!(room.clinic.desk_sync().pull(&room_link, Duration::ZERO).await.unwrap() >= 1);
    let day = room.clinic.appointments().day(&doctor.caller, &request.date, None).unwrap();
    assert_eq!(day.appointments[0].local_start, "10:40");

    // The network goes down. The doctor's desk says so, keeps its day, and lets the doctor (who
    // signed in here online) sign in again; the administrator, never seen on this desk, cannot.
    relay.cut();
    let offline = room.clinic.desk_sync().pull(&room_link, Duration::ZERO).await.unwrap_err();
    assert!(clinicdesk_core::sync::is_offline(&offline), "{offline:?}");
    let again = room
        .clinic
        .desk_sync()
        .sign_in(&room_link, "grey@clinic.example", "doctor password 1", Channel::App)
        .await
        .unwrap();
    assert_eq!(room.clinic.appointments().day(&again.caller, &request.date, None).unwrap().appointments.len(), 1);
    let wrong = room
        .clinic
        .desk_sync()
        .sign_in(&room_link, "grey@clinic.example", "not the password", Channel::App)
        .await
        .err()
        .unwrap();
    assert!(matches!(wrong, CoreError::BadCredentials), "checked against the remembered hash: {wrong:?}");
    let stranger = room
        .clinic
        .desk_sync()
        .sign_in(&room_link, "admin@clinic.example", "admin password 1", Channel::App)
        .await
        .err()
        .unwrap();
    assert_eq!(stranger.code(), ErrorCode::Unavailable);
    assert!(stranger.to_string().contains("has not signed in on this computer in the last 14 days"), "{stranger}");

    // Healed: the next pull picks up what was booked meanwhile, exactly once.
    let meanwhile = support::booking(c.patients[1], c.doctors[0], "11:00", 20);
    front_link
        .command(Uuid::new_v4(), &DeskCommand::Book { appointment_id: Uuid::new_v4(), booking: meanwhile })
        .await
        .unwrap_err();
    relay.heal();
    let meanwhile = support::booking(c.patients[1], c.doctors[0], "11:00", 20);
    front_link
        .command(Uuid::new_v4(), &DeskCommand::Book { appointment_id: Uuid::new_v4(), booking: meanwhile })
        .await
        .unwrap();
    room.clinic
        .desk_sync()
        .sign_in(&room_link, "grey@clinic.example", "doctor password 1", Channel::App)
        .await
        .unwrap();
    // The booking and its confirmation text.
    assert_eq!(room.clinic.desk_sync().pull(&room_link, Duration::ZERO).await.unwrap(), 2);
    assert_eq!(room.clinic.desk_sync().pull(&room_link, Duration::ZERO).await.unwrap(), 0, "nothing applied twice");
    assert_eq!(room.clinic.appointments().day(&again.caller, &request.date, None).unwrap().appointments.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_whose_answer_was_lost_is_sent_again_and_made_once() {
    let c = support::clinic().await;
    let (address, _server) = support::serve(&c).await;
    let relay = Relay::start(address).await.unwrap();
    let front = desk_computer(&c, &format!("http://{}", relay.address()), "Front desk").await;
    let link = front.clinic.desk_sync().link(None).unwrap();
    front.clinic.desk_sync().sign_in(&link, "desk@clinic.example", "desk password 1", Channel::App).await.unwrap();
    let command = DeskCommand::Book {
        appointment_id: Uuid::new_v4(),
        booking: support::booking(c.patients[2], c.doctors[1], "09:00", 30),
    };
    let client_id = Uuid::new_v4();
    relay.lose_next_answers(1);
    let lost = link.command(client_id, &command).await.unwrap_err();
    assert!(clinicdesk_core::sync::is_offline(&lost), "the desk heard nothing: {lost:?}");
    // The server did book it; the desk does not know, and sends the same command again.
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM appointments"), "1");
    let answer = link.command(client_id, &command).await.unwrap();
    assert!(answer["ok"]["booking_ref"].is_string(), "{answer}");
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM appointments"), "1", "booked once");
}

#[test]
fn a_desk_joins_only_a_server_it_can_talk_to_safely() {
    use clinicdesk_core::sync::check_server_url;
    assert!(check_server_url("https://clinic-server:8640").is_ok());
    assert!(check_server_url("http://127.0.0.1:8640").is_ok(), "loopback (a local proxy, tests)");
    let plain = check_server_url("http://clinic-server:8640").unwrap_err();
    assert!(plain.to_string().contains("must be reached over https"));
    assert!(check_server_url("clinic-server").is_err());
    assert!(check_server_url("ftp://clinic-server").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_trusts_the_server_only_as_far_as_it_should() {
    let c = support::clinic().await;
    let (address, _server) = support::serve(&c).await;
    let desk = desk_computer(&c, &format!("http://{address}"), "Shared desk").await;
    let sync = desk.clinic.desk_sync();
    let link = sync.link(None).unwrap();

    // A joined desk cannot be set up as a clinic of its own.
    let setup = desk.clinic.auth().set_up(clinicdesk_core::auth::SetupRequest {
        clinic: clinicdesk_core::settings::ClinicSettingsInput {
            clinic_name: "Side clinic".into(),
            time_zone: "Europe/London".into(),
            default_country: "GB".into(),
            idle_timeout_minutes: None,
            sms_messages_per_second: None,
        },
        admin_email: "me@side.example".into(),
        admin_name: "Side Admin".into(),
        admin_password: "a long password 1".into(),
    });
    assert!(matches!(setup, Err(CoreError::AlreadyInitialized)), "{setup:?}");

    // Reception pulls first; then a doctor signs in on the same desk and still receives their own
    // clinical rows, which reception's stream never carried.
    sync.sign_in(&link, "desk@clinic.example", "desk password 1", Channel::App).await.unwrap();
    let note = Uuid::new_v4();
    {
        let client = c.pool.get().await.unwrap();
        clinicdesk_server::changes::record(
            &**client,
            "consultation_note",
            note,
            &format!("doctor:{}", c.doctors[0]),
            None,
        )
        .await
        .unwrap();
        // A server (or anyone who took it over) may not set this desk's own settings.
        clinicdesk_server::changes::record(
            &**client,
            "setting",
            Uuid::nil(),
            "all",
            Some(serde_json::json!({ "key": "server.url", "value": "https://elsewhere.example" })),
        )
        .await
        .unwrap();
    }
    sync.pull(&link, Duration::ZERO).await.unwrap();
    assert_eq!(link.stream(), "all");
    sync.sign_in(&link, "grey@clinic.example", "doctor password 1", Channel::App).await.unwrap();
    assert_eq!(link.stream(), format!("doctor:{}", c.doctors[0]));
    let page = link.pull(&sync.cursor(&link.stream()).unwrap(), Duration::ZERO).await.unwrap();
    assert!(page.changes.iter().any(|ch| ch.entity_id == note), "the doctor's stream starts from its own cursor");
    assert_eq!(sync.server_url().unwrap().unwrap().as_str(), format!("http://{address}/"), "its own setting stays");

    // The CLI's plain sign-in (no server involved) obeys the 14-day rule too: reception signed in
    // online here a moment ago, the admin never did.
    assert!(desk.clinic.auth().sign_in("desk@clinic.example", "desk password 1", Channel::Cli).is_ok());
    let never = desk.clinic.auth().sign_in("admin@clinic.example", "admin password 1", Channel::Cli).err().unwrap();
    assert_eq!(never.code(), ErrorCode::Unavailable);

    // Rows arrive in transaction order, not commit order: an older version never replaces a newer.
    let booked = clinicdesk_server::appointments::book(
        &c.pool,
        &c.reception,
        &support::booking(c.patients[1], c.doctors[0], "13:00", 30),
        None,
        support::now(),
    )
    .await
    .unwrap();
    sync.pull(&link, Duration::ZERO).await.unwrap();
    let mut older = serde_json::to_value(&booked).unwrap();
    older["version"] = serde_json::json!(0);
    older["starts_at"] = serde_json::json!((booked.starts_at - chrono::Duration::hours(2)).to_rfc3339());
    older["ends_at"] = serde_json::json!((booked.ends_at - chrono::Duration::hours(2)).to_rfc3339());
    let stale = clinicdesk_core::sync::wire::ChangePage {
        changes: vec![clinicdesk_core::sync::wire::Change {
            cursor: sync.cursor(&link.stream()).unwrap(),
            entity: "appointment".into(),
            entity_id: booked.id,
            row: Some(older),
        }],
        cursor: sync.cursor(&link.stream()).unwrap(),
    };
    sync.apply(&link.stream(), &stale).unwrap();
    let doctor = desk.clinic.auth().sign_in("grey@clinic.example", "doctor password 1", Channel::Cli).unwrap();
    let day = desk.clinic.appointments().day(&doctor.caller, &booked.local_date, None).unwrap();
    let kept = day.appointments.iter().find(|a| a.id == booked.id).unwrap();
    assert_eq!((kept.local_start.as_str(), kept.version), ("13:00", 1), "the newer version stays");

    // Reception is deactivated on the server: once that arrives, no offline sign-in here.
    {
        let client = c.pool.get().await.unwrap();
        let reception = c.reception.user_id();
        client.execute("UPDATE users SET active = false WHERE id = $1", &[&reception]).await.unwrap();
        clinicdesk_server::changes::record(
            &**client,
            "user",
            reception,
            "all",
            Some(serde_json::json!({ "id": reception, "email": "desk@clinic.example", "full_name": "Rita Reception", "role": "reception", "active": false })),
        )
        .await
        .unwrap();
    }
    sync.pull(&link, Duration::ZERO).await.unwrap();
    let gone = desk.clinic.auth().sign_in("desk@clinic.example", "desk password 1", Channel::Cli).err().unwrap();
    assert_eq!(gone.code(), ErrorCode::Unavailable, "{gone}");

    // Signing out ends the server session too.
    link.sign_out().await;
    let after = link.pull("", Duration::ZERO).await.err().unwrap();
    assert_eq!(after.code(), ErrorCode::NotSignedIn);
}

/// Joining from the first-run screen: the server must recognise the credential at that address
/// before anything is kept; a re-enrolled desk takes its new credential; another server is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_checks_the_address_and_credential_before_keeping_them() {
    let c = support::clinic().await;
    let (address, _server) = support::serve(&c).await;
    let (_, credential) = desks::enroll(&**c.pool.get().await.unwrap(), Some(&c.admin), "Front desk").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clinic = Clinic::open(dir.path()).expect("open the desk's database (use scripts/test.sh for the keyring)");
    let sync = clinic.desk_sync();
    let url = format!("http://{address}");

    let unknown = sync.join_checked(&url, &"k".repeat(43), None).await.unwrap_err();
    assert_eq!(unknown.field(), Some("credential"), "{unknown:?}");
    assert!(unknown.to_string().contains("does not know that desk credential"), "{unknown}");
    // Nothing listens on port 9 here.
    let nobody = sync.join_checked("http://127.0.0.1:9", &credential, None).await.unwrap_err();
    assert_eq!(nobody.field(), Some("server_url"), "{nobody:?}");
    assert!(!sync.is_joined().unwrap() && clinic.needs_setup().unwrap(), "nothing was kept");

    let identity = sync.join_checked(&url, &format!("  {credential}\n"), None).await.unwrap();
    assert_eq!((identity.desk.as_str(), identity.clinic.as_str()), ("Front desk", "Riverside Clinic"));
    assert!(sync.is_joined().unwrap());
    assert!(sync.link(None).unwrap().whoami().await.is_ok(), "the kept credential works");

    // Re-enrolled (the old credential revoked): the same server takes the new line.
    let db = c.pool.get().await.unwrap();
    desks::revoke(&**db, "Front desk", support::now()).await.unwrap();
    let (_, renewed) = desks::enroll(&**db, Some(&c.admin), "Front desk").await.unwrap();
    assert_eq!(sync.link(None).unwrap().whoami().await.unwrap_err().code(), ErrorCode::Forbidden);
    // Pasted as the whole line enroll-desk printed before it: the credential is taken from it.
    sync.join_checked(&url, &format!("Its credential (shown only this once): {renewed}"), None).await.unwrap();
    assert!(sync.link(None).unwrap().whoami().await.is_ok());
    let other = sync.join_checked("http://127.0.0.1:9", &renewed, None).await.unwrap_err();
    assert_eq!(other.code(), ErrorCode::Conflict, "a desk of one server does not silently move to another");
}
