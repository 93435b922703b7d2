//! Changes made on a desk while the clinic server cannot be reached: saved at once as "not yet
//! confirmed", sent in order when the network is back, accepted ones replaced by the server's copy,
//! refused ones undone and listed for reception with the server's sentence.
//!
//! Needs the OS keyring (scripts/test.sh runs the suite inside an unlocked test keyring).

mod support;

use clinicdesk_core::appointments::RescheduleRequest;
use clinicdesk_core::auth::Channel;
use clinicdesk_core::sync::{Sent, NOT_YET_CONFIRMED};
use std::time::Duration;
use support::desk_computer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_bookings_are_confirmed_or_listed_for_attention_when_the_network_returns() {
    let c = support::clinic().await;
    let (address, _server) = support::serve(&c).await;
    let front = desk_computer(&c, address, "Front desk").await;
    let back = desk_computer(&c, address, "Back office").await;
    let (front_sync, back_sync) = (front.clinic.desk_sync(), back.clinic.desk_sync());
    let (front_link, back_link) = (front_sync.link(None).unwrap(), back_sync.link(None).unwrap());
    let rita = front_sync.sign_in(&front_link, "desk@clinic.example", "desk password 1", Channel::App).await.unwrap();
    let rita_back =
        back_sync.sign_in(&back_link, "desk@clinic.example", "desk password 1", Channel::App).await.unwrap();
    let person = rita.profile.user_id;
    front_sync.pull(&front_link, Duration::ZERO).await.unwrap();
    back_sync.pull(&back_link, Duration::ZERO).await.unwrap();

    // Online, a booking made on the front desk is confirmed within the same round.
    let online = support::booking(c.patients[2], c.doctors[1], "09:00", 30);
    let booked = front.clinic.appointments().book(&rita.caller, online.clone()).unwrap();
    assert_eq!(booked.text.message, NOT_YET_CONFIRMED);
    let round = front_sync.sync_once(&front_link, person, Duration::ZERO).await.unwrap();
    assert_eq!(round.sent, Sent { accepted: 1, refused: 0 });
    assert!(front_sync.waiting(&rita.caller).unwrap().is_empty());
    let server_ref = c.pg.psql("clinic", &format!("SELECT booking_ref FROM appointments WHERE id = '{}'", booked.id));
    let day = front.clinic.appointments().day(&rita.caller, &online.date, None).unwrap();
    assert_eq!(day.appointments[0].booking_ref, server_ref, "the desk now holds the server's copy");
    back_sync.pull(&back_link, Duration::ZERO).await.unwrap();

    // The front desk's network goes down. Reception keeps working: two bookings and a move, each
    // saved at once and shown as not yet confirmed.
    front.relay.cut();
    let clash = support::booking(c.patients[0], c.doctors[0], "10:30", 20);
    let fine = support::booking(c.patients[1], c.doctors[0], "11:30", 20);
    let clashing = front.clinic.appointments().book(&rita.caller, clash.clone()).unwrap();
    let kept = front.clinic.appointments().book(&rita.caller, fine.clone()).unwrap();
    let later =
        RescheduleRequest { date: online.date.clone(), time: "15:00".into(), minutes: None, expected_version: None };
    front.clinic.appointments().reschedule(&rita.caller, booked.id, later).unwrap();
    // A new patient walks in: registered and booked offline (the registration is sent first).
    let dara = front
        .clinic
        .patients()
        .add(
            &rita.caller,
            clinicdesk_core::patients::PatientInput {
                full_name: "Dara Quinn".into(),
                phone: "07400 123458".into(),
                date_of_birth: None,
                sms_consent: true,
            },
        )
        .unwrap();
    front.clinic.appointments().book(&rita.caller, support::booking(dara.id, c.doctors[1], "12:00", 15)).unwrap();
    let offline = front_sync.sync_once(&front_link, person, Duration::ZERO).await.unwrap_err();
    assert!(clinicdesk_core::sync::is_offline(&offline), "{offline:?}");
    let waiting: Vec<_> = front_sync.waiting(&rita.caller).unwrap().into_iter().map(|p| p.summary).collect();
    assert_eq!(waiting.len(), 5, "{waiting:?}");
    assert_eq!(waiting[3], "Register Dara Quinn");
    assert!(waiting[0].starts_with("Book Ana Lima with Dr Meredith Grey"), "{waiting:?}");
    assert!(waiting[2].starts_with("Move Chloé Dubois") && waiting[2].ends_with("15:00"), "{waiting:?}");
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM appointments"), "1", "nothing reached the server");

    // Meanwhile the back office, online, books Dr Grey at 10:30 and cancels the 09:00 booking.
    back.clinic
        .appointments()
        .book(&rita_back.caller, support::booking(c.patients[2], c.doctors[0], "10:30", 20))
        .unwrap();
    back.clinic.appointments().cancel(&rita_back.caller, booked.id, "Patient phoned to cancel", None).unwrap();
    let round = back_sync.sync_once(&back_link, person, Duration::ZERO).await.unwrap();
    assert_eq!(round.sent, Sent { accepted: 2, refused: 0 });

    // The network returns; the first answer is lost on the way back, so that change is sent twice.
    front.relay.heal();
    front.relay.lose_next_answers(1);
    assert!(front_sync.sync_once(&front_link, person, Duration::ZERO).await.is_err());
    let round = front_sync.sync_once(&front_link, person, Duration::ZERO).await.unwrap();
    assert_eq!(round.sent, Sent { accepted: 3, refused: 2 }, "the lost one was refused the first time already");
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM appointments"), "4", "each booking made once on the server");
    assert_eq!(
        c.pg.psql("clinic", &format!("SELECT full_name || ' ' || phone FROM patients WHERE id = '{}'", dara.id)),
        "Dara Quinn +447400123458",
        "registered under the desk's id, the number read as the clinic's country"
    );

    // Refused: the 10:30 booking (the slot went to the back office's patient) and the move (the
    // appointment was cancelled meanwhile). Both are listed with the server's sentence; the desk
    // shows what the server holds.
    assert!(front_sync.waiting(&rita.caller).unwrap().is_empty());
    let attention = front_sync.needs_attention(&rita.caller).unwrap();
    assert_eq!(attention.len(), 2, "{attention:?}");
    assert_eq!(attention[0].entity_id, clashing.id);
    assert!(attention[0].refusal.as_deref().unwrap().contains("Dr Meredith Grey"), "{attention:?}");
    assert_eq!(attention[1].entity_id, booked.id);
    assert!(attention[1].refusal.as_deref().unwrap().contains("changed"), "{attention:?}");
    let day = front.clinic.appointments().day(&rita.caller, &clash.date, None).unwrap();
    let shown: Vec<_> =
        day.appointments.iter().map(|a| (a.local_start.as_str(), a.patient_name.as_str(), a.status.as_str())).collect();
    assert_eq!(
        shown,
        [
            ("09:00", "Chloé Dubois", "cancelled"),
            ("10:30", "Chloé Dubois", "scheduled"),
            ("11:30", "Ben Okafor", "scheduled"),
            ("12:00", "Dara Quinn", "scheduled")
        ],
        "the refused booking is gone, the refused move undone and the cancellation arrived"
    );
    assert!(day.appointments.iter().any(|a| a.id == kept.id));

    // Reception rebooks and clears the item.
    front_sync.dismiss(&rita.caller, attention[0].client_id).unwrap();
    assert_eq!(front_sync.needs_attention(&rita.caller).unwrap().len(), 1);
    assert!(front_sync.dismiss(&rita.caller, attention[0].client_id).is_err(), "gone already");
}
