//! Compacting the sync feed: of each record's rows the first and the last stay, so the feed stops
//! growing with every edit, and every desk — one that pulled it all before, one whose cursor was
//! half-way, one enrolled after — ends with the same schedule, directory and notes as the server.
//!
//! Needs the OS keyring (scripts/test.sh runs the suite inside an unlocked test keyring).

mod support;

use clinicdesk_core::appointments::{AppointmentKind, RescheduleRequest};
use clinicdesk_core::patients::PatientInput;
use clinicdesk_core::sync::wire::DeskCommand;
use clinicdesk_server::{appointments, changes, commands, consultation_notes, desks};
use std::time::Duration;
use support::{desk_computer, sign_in_on, DeskComputer};
use uuid::Uuid;

/// What a desk holds that a compaction could lose: every patient, appointment and note as text.
fn held(desk: &DeskComputer) -> Vec<String> {
    let conn = desk.clinic.db().conn().unwrap();
    let mut rows = Vec::new();
    for sql in [
        "SELECT key || '=' || value FROM settings WHERE key LIKE 'clinic.%' OR key LIKE 'sms.template.%' ORDER BY key",
        "SELECT id || ' ' || full_name || ' ' || phone_e164 FROM patients ORDER BY id",
        "SELECT id || ' ' || patient_id || ' ' || starts_at || ' ' || status || ' v' || version FROM appointments ORDER BY id",
        "SELECT appointment_id || ' ' || notes FROM consultations WHERE notes <> '' ORDER BY appointment_id",
    ] {
        let mut statement = conn.prepare(sql).unwrap();
        rows.extend(statement.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap));
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compacted_feed_keeps_each_records_first_and_last_rows_and_every_desk_the_same_data() {
    let c = support::clinic().await;
    let (address, _server) = support::serve(&c).await;
    let db = c.pool.get().await.unwrap();
    let (front, _) = desks::enroll(&**db, Some(&c.admin), "Commands").await.unwrap();
    let run = |command: DeskCommand| {
        let (pool, front, staff) = (c.pool.clone(), front.clone(), c.reception.clone());
        async move {
            commands::apply(&pool, &front, &staff, Uuid::new_v4(), &command, support::now()).await.unwrap();
        }
    };

    // A new patient, booked, then edited and moved again and again.
    let patient = Uuid::new_v4();
    let details = |name: &str| PatientInput {
        full_name: name.into(),
        phone: "+447400123999".into(),
        date_of_birth: None,
        sms_consent: true,
    };
    run(DeskCommand::AddPatient { patient_id: patient, patient: details("Zoe Quinn") }).await;
    let mut booking = support::booking(patient, c.doctors[0], "09:00", 20);
    booking.kind = AppointmentKind::Video;
    let appointment = appointments::book(&c.pool, &c.reception, &booking, None, support::now()).await.unwrap().id;
    let move_to = |time: &str, version: i64| DeskCommand::Move {
        appointment_id: appointment,
        change: RescheduleRequest {
            date: booking.date.clone(),
            time: time.into(),
            minutes: None,
            expected_version: Some(version),
        },
    };
    run(move_to("09:30", 1)).await;
    // This desk's cursor stops here, half-way through the edits.
    let halfway = desk_computer(&c, address, "Half-way").await;
    let (halfway_link, _) = sign_in_on(&halfway, "admin@clinic.example", "admin password 1").await;
    for (n, time) in ["10:00", "10:30", "11:00"].iter().enumerate() {
        run(move_to(time, 2 + n as i64)).await;
    }
    for (n, name) in ["Zoe Quinn-Hart", "Zoë Quinn-Hart"].iter().enumerate() {
        run(DeskCommand::UpdatePatient {
            patient_id: patient,
            patient: details(name),
            expected_version: Some(1 + n as i64),
        })
        .await;
    }
    for (version, notes) in [(0, "Cough."), (1, "Cough, two weeks.")] {
        let mut client = c.pool.get().await.unwrap();
        let tx = client.transaction().await.unwrap();
        consultation_notes::write_in(&*tx, &front, &c.doctor_staff, appointment, notes, version, support::now())
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    // This one pulled every row before the compaction.
    let before = desk_computer(&c, address, "Before").await;
    let (before_link, _) = sign_in_on(&before, "admin@clinic.example", "admin password 1").await;
    let rows_of = |entity: &str, id: Uuid| {
        c.pg.psql("clinic", &format!("SELECT count(*) FROM changes WHERE entity = '{entity}' AND entity_id = '{id}'"))
    };
    assert_eq!((rows_of("appointment", appointment), rows_of("patient", patient)), ("5".into(), "3".into()));

    let removed = changes::compact(&**db).await.unwrap();
    assert!(removed >= 4, "the moves and edits in between went: {removed}");
    assert_eq!(
        (rows_of("appointment", appointment), rows_of("patient", patient)),
        ("2".into(), "2".into()),
        "the first and the last row of each"
    );
    assert_eq!(
        c.pg.psql(
            "clinic",
            "SELECT coalesce(max(n), 0) FROM (SELECT count(*) n FROM changes GROUP BY entity, entity_id, audience, row_data->>'key') t"
        ),
        "2"
    );
    assert_eq!(changes::compact(&**db).await.unwrap(), 0, "nothing more to remove");

    // Every desk ends with the same data: the one that had it all, the half-way one, a new one.
    let after = desk_computer(&c, address, "After").await;
    sign_in_on(&after, "admin@clinic.example", "admin password 1").await;
    before.clinic.desk_sync().pull(&before_link, Duration::ZERO).await.unwrap();
    halfway.clinic.desk_sync().pull(&halfway_link, Duration::ZERO).await.unwrap();
    let expected = held(&before);
    assert!(expected.iter().any(|r| r.contains("Zoë Quinn-Hart")), "{expected:?}");
    assert!(expected.iter().any(|r| r.starts_with("clinic.time_zone=Europe/London")), "{expected:?}");
    assert!(
        expected.iter().any(|r| r.ends_with("scheduled v5") && r.starts_with(&appointment.to_string())),
        "{expected:?}"
    );
    assert!(expected.iter().any(|r| r.ends_with("Cough, two weeks.")), "{expected:?}");
    assert_eq!(held(&halfway), expected, "the desk that was half-way");
    assert_eq!(held(&after), expected, "the desk enrolled after the compaction");
}
