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
use clinicdesk_server::relay::Relay;
use clinicdesk_server::{desks, http};
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
    let (address, _server) = http::start(&c.url, "127.0.0.1:0".parse().unwrap(), "test".into(), None).await.unwrap();
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
    assert_eq!(room.clinic.desk_sync().pull(&room_link, Duration::ZERO).await.unwrap(), 1);
    assert_eq!(room.clinic.desk_sync().pull(&room_link, Duration::ZERO).await.unwrap(), 0, "nothing applied twice");
    assert_eq!(room.clinic.appointments().day(&again.caller, &request.date, None).unwrap().appointments.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_whose_answer_was_lost_is_sent_again_and_made_once() {
    let c = support::clinic().await;
    let (address, _server) = http::start(&c.url, "127.0.0.1:0".parse().unwrap(), "test".into(), None).await.unwrap();
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
