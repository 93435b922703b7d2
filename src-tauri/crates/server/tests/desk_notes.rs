//! A doctor's consultation notes written on their desk: saved there at once (also offline), sent to
//! the clinic server (only the latest of several saves still queued), and carried by the feed only
//! to the desks allowed to read them: that doctor's and administrators', never reception's or
//! another doctor's.
//!
//! Needs the OS keyring (scripts/test.sh runs the suite inside an unlocked test keyring).

mod support;

use clinicdesk_core::appointments::AppointmentKind;
use clinicdesk_core::auth::Channel;
use clinicdesk_core::sync::wire::DeskCommand;
use clinicdesk_core::sync::Sent;
use clinicdesk_server::{appointments, commands};
use std::time::Duration;
use support::{desk_computer, sign_in_on, DeskComputer};
use uuid::Uuid;

/// The server's version of the notes this desk last knew.
fn notes_version_on(desk: &DeskComputer, appointment: Uuid) -> Option<i64> {
    desk.clinic
        .db()
        .conn()
        .unwrap()
        .query_row(
            "SELECT notes_version FROM consultations WHERE appointment_id = ?1",
            [appointment.to_string()],
            |r| r.get(0),
        )
        .unwrap()
}

/// The notes this desk's own database holds for the appointment (`None`: it holds none).
fn notes_on(desk: &DeskComputer, appointment: Uuid) -> Option<String> {
    desk.clinic
        .db()
        .conn()
        .unwrap()
        .query_row(
            "SELECT notes FROM consultations WHERE appointment_id = ?1 AND notes <> ''",
            [appointment.to_string()],
            |r| r.get(0),
        )
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_written_on_a_doctors_desk_reach_the_server_and_only_the_desks_allowed_to_read_them() {
    let c = support::clinic().await;
    let (address, _server) = support::serve(&c).await;
    let grey_room = desk_computer(&c, address, "Dr Grey's room").await;
    let house_room = desk_computer(&c, address, "Dr House's room").await;
    let front = desk_computer(&c, address, "Front desk").await;
    let office = desk_computer(&c, address, "Office").await;
    let mut video = support::booking(c.patients[0], c.doctors[0], "09:00", 30);
    video.kind = AppointmentKind::Video;
    let booked = appointments::book(&c.pool, &c.reception, &video, None, support::now()).await.unwrap();

    let (grey_link, grey) = sign_in_on(&grey_room, "grey@clinic.example", "doctor password 1").await;
    let (house_link, _house) = sign_in_on(&house_room, "house@clinic.example", "doctor password 1").await;
    let (front_link, _rita) = sign_in_on(&front, "desk@clinic.example", "desk password 1").await;
    let (office_link, ada) = sign_in_on(&office, "admin@clinic.example", "admin password 1").await;

    // Online: saved on the desk at once, sent in the next round, kept on the server.
    let consultations = grey_room.clinic.consultations();
    consultations.note(&grey.caller, booked.id, "Headache since Monday.").unwrap();
    let waiting = grey_room.clinic.desk_sync().waiting(&grey.caller).unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].summary, "Notes for Ana Lima's consultation");
    let grey_sync = grey_room.clinic.desk_sync();
    let person = grey.profile.user_id;
    let round = grey_sync.sync_once(&grey_link, person, Duration::ZERO).await.unwrap();
    assert_eq!(round.sent, Sent { accepted: 1, refused: 0 });
    let on_server = |c: &support::TestClinic| {
        c.pg.psql(
            "clinic",
            &format!("SELECT notes || ' v' || version FROM consultation_notes WHERE appointment_id = '{}'", booked.id),
        )
    };
    assert_eq!(on_server(&c), "Headache since Monday. v1");
    assert_eq!(notes_version_on(&grey_room, booked.id), Some(1), "the answer moved the desk's base on");

    // Offline: three saves while the doctor types, kept on the desk; only the last one goes.
    grey_room.relay.cut();
    consultations.note(&grey.caller, booked.id, "Headache since Monday. Worse").unwrap();
    consultations.note(&grey.caller, booked.id, "Headache since Monday. Worse in the morning").unwrap();
    consultations.note(&grey.caller, booked.id, "Headache since Monday. Worse in the morning; no fever.").unwrap();
    assert!(grey_sync.sync_once(&grey_link, person, Duration::ZERO).await.is_err(), "offline");
    assert_eq!(grey_sync.waiting(&grey.caller).unwrap().len(), 1, "one line for the notes, not one per save");
    assert_eq!(
        notes_on(&grey_room, booked.id).as_deref(),
        Some("Headache since Monday. Worse in the morning; no fever."),
        "the doctor's words are kept on the desk meanwhile"
    );
    grey_room.relay.heal();
    let round = grey_sync.sync_once(&grey_link, person, Duration::ZERO).await.unwrap();
    assert_eq!(round.sent, Sent { accepted: 1, refused: 0 }, "the superseded saves never went");
    assert_eq!(on_server(&c), "Headache since Monday. Worse in the morning; no fever. v2");
    assert_eq!(notes_version_on(&grey_room, booked.id), Some(2));
    assert_eq!(
        c.pg.psql("clinic", "SELECT count(*) FROM consultation_notes_set_aside"),
        "0",
        "no conflict: nothing set aside"
    );
    assert_eq!(
        c.pg.psql("clinic", "SELECT count(*) FROM changes WHERE entity = 'consultation_notes'"),
        "1",
        "the feed keeps only the latest copy of the notes"
    );
    assert_eq!(
        notes_on(&grey_room, booked.id).as_deref(),
        Some("Headache since Monday. Worse in the morning; no fever."),
        "the server's copy (from the feed) is the desk's own"
    );
    assert_eq!(
        c.pg.psql("clinic", "SELECT count(*) FROM audit_log WHERE action = 'consultation.note'"),
        "1",
        "one trail entry for a sitting of saves"
    );
    // A save whose answer is lost on the way back, then another: the desk's own earlier save is no
    // conflict with itself (nothing set aside, no such trail entry).
    grey_room.relay.lose_next_answers(1);
    consultations
        .note(&grey.caller, booked.id, "Headache since Monday. Worse in the morning; no fever. Rest.")
        .unwrap();
    assert!(grey_sync.sync_once(&grey_link, person, Duration::ZERO).await.is_err(), "the answer was lost");
    consultations.note(&grey.caller, booked.id, "Rest and fluids.").unwrap();
    grey_sync.sync_once(&grey_link, person, Duration::ZERO).await.unwrap();
    assert_eq!(on_server(&c), "Rest and fluids. v4");
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM consultation_notes_set_aside"), "0");

    // The feed: the administrator's desk holds the notes; another doctor's and reception's do not,
    // though all of them hold the appointment.
    for (desk, link) in [(&house_room, &house_link), (&front, &front_link), (&office, &office_link)] {
        desk.clinic.desk_sync().pull(link, Duration::ZERO).await.unwrap();
        let held: i64 = desk
            .clinic
            .db()
            .conn()
            .unwrap()
            .query_row("SELECT count(*) FROM appointments WHERE id = ?1", [booked.id.to_string()], |r| r.get(0))
            .unwrap();
        assert_eq!(held, 1, "every desk holds the schedule");
    }
    assert_eq!(notes_on(&house_room, booked.id), None, "another doctor's desk");
    assert_eq!(notes_on(&front, booked.id), None, "reception's desk");
    assert_eq!(notes_on(&office, booked.id).as_deref(), Some("Rest and fluids."), "the latest copy only");
    let record = office.clinic.consultations().record(&ada.caller, booked.id).unwrap();
    assert_eq!(record.notes.as_deref(), Some("Rest and fluids."));
}

#[tokio::test]
async fn the_server_refuses_notes_from_anyone_but_the_appointments_doctor_in_the_cores_words() {
    let c = support::clinic().await;
    let (desk, _) =
        clinicdesk_server::desks::enroll(&**c.pool.get().await.unwrap(), Some(&c.admin), "Room 2").await.unwrap();
    let mut video = support::booking(c.patients[0], c.doctors[1], "10:00", 30);
    video.kind = AppointmentKind::Video;
    let house_patient = appointments::book(&c.pool, &c.reception, &video, None, support::now()).await.unwrap();
    let in_person = appointments::book(
        &c.pool,
        &c.reception,
        &support::booking(c.patients[1], c.doctors[0], "11:00", 30),
        None,
        support::now(),
    )
    .await
    .unwrap();
    let write = |appointment: Uuid, notes: String| DeskCommand::WriteNotes {
        appointment_id: appointment,
        notes,
        expected_version: 0,
        made_at: None,
    };
    let refused = |outcome: serde_json::Value| outcome["refused"]["message"].as_str().unwrap_or_default().to_string();

    // Dr Grey (c.doctor_staff) writing for Dr House's patient.
    let outcome = commands::apply(
        &c.pool,
        &desk,
        &c.doctor_staff,
        Uuid::new_v4(),
        &write(house_patient.id, "x".into()),
        support::now(),
    )
    .await
    .unwrap();
    assert_eq!(
        refused(outcome),
        "This is Dr Gregory House's appointment: only they can write notes for its video consultation."
    );
    // Reception may not write notes at all (the core's permission table).
    let outcome =
        commands::apply(&c.pool, &desk, &c.reception, Uuid::new_v4(), &write(in_person.id, "x".into()), support::now())
            .await
            .unwrap();
    assert!(refused(outcome).starts_with("Your role (Reception) is not allowed to"));
    // Their own appointment, but in person: no video consultation.
    let outcome = commands::apply(
        &c.pool,
        &desk,
        &c.doctor_staff,
        Uuid::new_v4(),
        &write(in_person.id, "x".into()),
        support::now(),
    )
    .await
    .unwrap();
    assert_eq!(refused(outcome), "This is an in-person appointment, so it has no video consultation.");
    // Too long, for their own video appointment (refused by who and what first, as on a desk).
    let mut own_video = support::booking(c.patients[1], c.doctors[0], "12:00", 30);
    own_video.kind = AppointmentKind::Video;
    let own_video = appointments::book(&c.pool, &c.reception, &own_video, None, support::now()).await.unwrap();
    let long = "a".repeat(clinicdesk_core::consultations::MAX_NOTES_CHARS + 1);
    let outcome =
        commands::apply(&c.pool, &desk, &c.doctor_staff, Uuid::new_v4(), &write(own_video.id, long), support::now())
            .await
            .unwrap();
    assert!(refused(outcome).starts_with("The notes are longer than"));
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM consultation_notes"), "0", "nothing kept");
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM changes WHERE entity = 'consultation_notes'"), "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doctor_writing_on_two_computers_loses_nothing_and_reception_never_waits_for_notes() {
    let c = support::clinic().await;
    let (address, _server) = support::serve(&c).await;
    let room = desk_computer(&c, address, "Dr Grey's room").await;
    let laptop = desk_computer(&c, address, "Dr Grey's laptop").await;
    let mut video = support::booking(c.patients[0], c.doctors[0], "09:00", 30);
    video.kind = AppointmentKind::Video;
    let booked = appointments::book(&c.pool, &c.reception, &video, None, support::now()).await.unwrap();
    let (room_link, at_room) = sign_in_on(&room, "grey@clinic.example", "doctor password 1").await;
    let (laptop_link, at_laptop) = sign_in_on(&laptop, "grey@clinic.example", "doctor password 1").await;
    // Reception shares the room's computer: signed in there too.
    let rita = room
        .clinic
        .desk_sync()
        .sign_in(&room_link, "desk@clinic.example", "desk password 1", Channel::App)
        .await
        .unwrap();
    let grey = at_room.profile.user_id;

    // The laptop is offline; the doctor writes there, then in the room, which is online.
    laptop.relay.cut();
    laptop.clinic.consultations().note(&at_laptop.caller, booked.id, "Written on the laptop.").unwrap();
    room.clinic.consultations().note(&at_room.caller, booked.id, "Written in the room.").unwrap();
    // Reception moves the appointment on the same computer: its change does not wait for the
    // doctor's notes queued before it.
    let later = clinicdesk_core::appointments::RescheduleRequest {
        date: video.date.clone(),
        time: "09:30".into(),
        minutes: None,
        expected_version: None,
    };
    room.clinic.appointments().reschedule(&rita.caller, booked.id, later).unwrap();
    let round = room.clinic.desk_sync().sync_once(&room_link, rita.profile.user_id, Duration::ZERO).await.unwrap();
    assert_eq!(round.sent, Sent { accepted: 1, refused: 0 }, "reception's move went ahead of the notes");
    // The doctor signs in there again (one person at a time on a desk): their notes go.
    room.clinic
        .desk_sync()
        .sign_in(&room_link, "grey@clinic.example", "doctor password 1", Channel::App)
        .await
        .unwrap();
    let round = room.clinic.desk_sync().sync_once(&room_link, grey, Duration::ZERO).await.unwrap();
    assert_eq!(round.sent, Sent { accepted: 1, refused: 0 });

    // The laptop comes back: its save was made on an older copy. It wins (the doctor's latest
    // words), and the room's text is set aside on the server, not lost; the trail says so.
    laptop.relay.heal();
    let round = laptop.clinic.desk_sync().sync_once(&laptop_link, grey, Duration::ZERO).await.unwrap();
    assert_eq!(round.sent, Sent { accepted: 1, refused: 0 });
    assert_eq!(
        c.pg.psql("clinic", &format!("SELECT notes FROM consultation_notes WHERE appointment_id = '{}'", booked.id)),
        "Written on the laptop."
    );
    assert_eq!(
        c.pg.psql("clinic", "SELECT notes || ' v' || version FROM consultation_notes_set_aside"),
        "Written in the room. v1"
    );
    assert!(
        c.pg.psql("clinic", "SELECT string_agg(detail, ' | ') FROM audit_log WHERE action = 'consultation.note'")
            .contains("the text it replaced was set aside (version 1)"),
        "the trail says a text was set aside"
    );
    // The room's desk now shows what the server holds.
    room.clinic.desk_sync().pull(&room_link, Duration::ZERO).await.unwrap();
    assert_eq!(notes_on(&room, booked.id).as_deref(), Some("Written on the laptop."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_saves_of_one_doctors_notes_at_once_take_turns_and_the_first_is_set_aside_not_lost() {
    let c = support::clinic().await;
    let db = c.pool.get().await.unwrap();
    let (room, _) = clinicdesk_server::desks::enroll(&**db, Some(&c.admin), "Room").await.unwrap();
    let (laptop, _) = clinicdesk_server::desks::enroll(&**db, Some(&c.admin), "Laptop").await.unwrap();
    let mut video = support::booking(c.patients[0], c.doctors[0], "10:00", 30);
    video.kind = AppointmentKind::Video;
    let booked = appointments::book(&c.pool, &c.reception, &video, None, support::now()).await.unwrap();
    // Both computers saved from no notes at all (version 0); the room's save is made and not yet
    // committed when the laptop's arrives.
    let mut first = c.pool.get().await.unwrap();
    let first_tx = first.transaction().await.unwrap();
    clinicdesk_server::consultation_notes::write_in(
        &*first_tx,
        &room,
        &c.doctor_staff,
        booked.id,
        "From the room.",
        0,
        support::now(),
    )
    .await
    .unwrap();
    let (pool, staff, id) = (c.pool.clone(), c.doctor_staff.clone(), booked.id);
    let second = tokio::spawn(async move {
        let mut client = pool.get().await.unwrap();
        let tx = client.transaction().await.unwrap();
        clinicdesk_server::consultation_notes::write_in(
            &*tx,
            &laptop,
            &staff,
            id,
            "From the laptop.",
            0,
            support::now(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    });
    support::until_waiting_on_an_advisory_lock(&c.pool, &second, "the laptop's save").await;
    first_tx.commit().await.unwrap();
    second.await.unwrap();
    assert_eq!(c.pg.psql("clinic", "SELECT notes || ' v' || version FROM consultation_notes"), "From the laptop. v2");
    assert_eq!(
        c.pg.psql("clinic", "SELECT notes || ' v' || version FROM consultation_notes_set_aside"),
        "From the room. v1",
        "the room's text, saved first, is kept"
    );
}
