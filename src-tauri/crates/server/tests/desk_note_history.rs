//! The notes' history after a consultation's end, through the clinic server: the same rule as a
//! one-desk clinic (the core's notes_rule.rs): version 0 is the notes at the end, each sitting of
//! amendments a new version; the server keeps it, audits each amendment once, and carries the whole
//! history to the desks allowed to read it, which show it with no network.
//!
//! Needs the OS keyring (scripts/test.sh runs the suite inside an unlocked test keyring).

mod support;

use chrono::{Duration as Minutes, Utc};
use clinicdesk_core::consultations::ConsultationState;
use clinicdesk_core::sync::Sent;
use clinicdesk_twilio_fake::FakeTwilio;
use std::time::Duration;
use support::video::{count_on, serve_with_twilio, video_booking};
use support::{desk_computer, sign_in_on};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_amended_after_the_end_keep_their_history_on_the_server_and_the_desks_allowed_to_read_it() {
    let c = support::clinic().await;
    let fake = FakeTwilio::start().await;
    let dir = tempfile::tempdir().unwrap();
    let address = serve_with_twilio(&c, &fake, dir.path()).await;
    let grey_room = desk_computer(&c, address, "Dr Grey's room").await;
    let front = desk_computer(&c, address, "Front desk").await;
    let office = desk_computer(&c, address, "Office").await;
    let appointment = video_booking(&c).await;
    let (grey_link, grey) = sign_in_on(&grey_room, "grey@clinic.example", "doctor password 1").await;
    let (front_link, _rita) = sign_in_on(&front, "desk@clinic.example", "desk password 1").await;
    let (office_link, ada) = sign_in_on(&office, "admin@clinic.example", "admin password 1").await;
    let history = || {
        c.pg.psql(
            "clinic",
            &format!(
                "SELECT string_agg(version || ':' || text || ':' || coalesce(saved_by::text, '-'), ' | ' ORDER BY version)
                 FROM consultation_note_versions WHERE appointment_id = '{appointment}'"
            ),
        )
    };
    let amended_entries = || {
        c.pg.psql(
            "clinic",
            "SELECT count(*) FROM audit_log WHERE action = 'consultation.note' AND detail LIKE '%amended after the end%'",
        )
    };
    let grey_user = grey.profile.user_id;
    let grey_sync = grey_room.clinic.desk_sync();

    // During the consultation the notes are simply replaced; the end keeps them as version 0.
    let consultations = grey_room.clinic.consultations();
    consultations.start_on_server(&grey.caller, &grey_link, appointment).await.unwrap();
    consultations.note(&grey.caller, appointment, "Sore throat.").unwrap();
    consultations.note(&grey.caller, appointment, "Sore throat, three days.").unwrap();
    grey_sync.sync_once(&grey_link, grey_user, Duration::ZERO).await.unwrap();
    let ended = consultations.end_on_server(&grey.caller, &grey_link, appointment).await.unwrap();
    assert_eq!(ended.state, ConsultationState::Completed);
    assert_eq!(history(), format!("0:Sore throat, three days.:{grey_user}"), "the end keeps the notes as they stood");

    // After the end: one sitting of saves on the doctor's desk is one amendment, on the server as
    // on the desk; the notes at the end are version 0.
    consultations.note(&grey.caller, appointment, "Sore throat, three days. Amoxicillin").unwrap();
    consultations.note(&grey.caller, appointment, "Sore throat, three days. Amoxicillin 500 mg.").unwrap();
    let round = grey_sync.sync_once(&grey_link, grey_user, Duration::ZERO).await.unwrap();
    assert_eq!(round.sent, Sent { accepted: 1, refused: 0 });
    assert_eq!(
        history(),
        format!("0:Sore throat, three days.:{grey_user} | 1:Sore throat, three days. Amoxicillin 500 mg.:{grey_user}")
    );
    assert_eq!(amended_entries(), "1", "the amendment is in the server's trail once");
    // The desk's own entry for it is not sent up as well: the server audited the command.
    grey_sync.send_audit(&grey_link).await.unwrap();
    assert_eq!(amended_entries(), "1", "the desk's copy of the entry was not sent up too");

    // A later sitting (here another of the doctor's computers, 15 minutes on) is a new version;
    // within it the version follows the doctor's words; an older version never changes.
    let db = c.pool.get().await.unwrap();
    let (laptop, _) = clinicdesk_server::desks::enroll(&**db, Some(&c.admin), "Laptop").await.unwrap();
    let current: i64 =
        c.pg.psql("clinic", &format!("SELECT version FROM consultation_notes WHERE appointment_id = '{appointment}'"))
            .parse()
            .unwrap();
    let later = Utc::now() + Minutes::minutes(15);
    let write = |text: &'static str, version: i64, at| {
        let (pool, laptop, staff) = (c.pool.clone(), laptop.clone(), c.doctor_staff.clone());
        async move {
            let mut client = pool.get().await.unwrap();
            let tx = client.transaction().await.unwrap();
            let answer =
                clinicdesk_server::consultation_notes::write_in(&*tx, &laptop, &staff, appointment, text, version, at)
                    .await
                    .unwrap();
            tx.commit().await.unwrap();
            answer["version"].as_i64().unwrap()
        }
    };
    let version = write("Amoxicillin 500 mg, seven days.", current, later).await;
    let version =
        write("Amoxicillin 500 mg, seven days. Review in a week.", version, later + Minutes::minutes(3)).await;
    assert_eq!(
        history(),
        format!(
            "0:Sore throat, three days.:{grey_user} | 1:Sore throat, three days. Amoxicillin 500 mg.:{grey_user} | \
             2:Amoxicillin 500 mg, seven days. Review in a week.:{grey_user}"
        )
    );
    assert_eq!(amended_entries(), "2");
    // The same text again writes nothing and names the version the desk holds.
    assert_eq!(write("Amoxicillin 500 mg, seven days. Review in a week.", version, later).await, version);
    assert_eq!(amended_entries(), "2");
    // The database itself keeps earlier versions as they were.
    let changed = db
        .execute(
            "UPDATE consultation_note_versions SET text = 'x' WHERE appointment_id = $1 AND version = 1",
            &[&appointment],
        )
        .await
        .unwrap_err();
    let why = changed.as_db_error().map(|e| e.message().to_string()).unwrap_or_default();
    assert_eq!(why, "an earlier version of a consultation's notes is never changed");

    // The feed carries the whole history once (the latest copy) to the doctor's and the
    // administrator's desks only; they show it with no network.
    assert_eq!(
        c.pg.psql(
            "clinic",
            "SELECT count(*) || ' ' || min(audience) FROM changes WHERE entity = 'consultation_note_history'"
        ),
        format!("1 doctor:{}", c.doctors[0])
    );
    office.clinic.desk_sync().pull(&office_link, Duration::ZERO).await.unwrap();
    front.clinic.desk_sync().pull(&front_link, Duration::ZERO).await.unwrap();
    grey_sync.pull(&grey_link, Duration::ZERO).await.unwrap();
    assert_eq!(count_on(&front, "consultation_note_versions", appointment), 0, "never on reception's desk");
    office.relay.cut();
    grey_room.relay.cut();
    for (desk, caller) in [(&office, &ada.caller), (&grey_room, &grey.caller)] {
        let record = desk.clinic.consultations().record(caller, appointment).unwrap();
        let versions: Vec<_> =
            record.note_versions.iter().map(|v| (v.version, v.text.as_str(), v.saved_by.as_deref())).collect();
        assert_eq!(
            versions,
            [
                (0, "Sore throat, three days.", Some("Dr Meredith Grey")),
                (1, "Sore throat, three days. Amoxicillin 500 mg.", Some("Dr Meredith Grey")),
                (2, "Amoxicillin 500 mg, seven days. Review in a week.", Some("Dr Meredith Grey")),
            ]
        );
        assert_eq!(record.notes.as_deref(), Some("Amoxicillin 500 mg, seven days. Review in a week."));
    }
}

/// A doctor amends the notes offline in two sittings (half an hour apart) after the end: the desk
/// sends the last save of each sitting with when it was typed, so the server keeps two versions
/// dated as typed, audits each once, and the desk's history equals the server's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amendments_typed_offline_in_two_sittings_are_two_versions_dated_as_typed() {
    let c = support::clinic().await;
    let fake = FakeTwilio::start().await;
    let dir = tempfile::tempdir().unwrap();
    let address = serve_with_twilio(&c, &fake, dir.path()).await;
    let clock = std::sync::Arc::new(clinicdesk_core::clock::ManualClock::at(Utc::now()));
    let grey_room = support::desk_computer_with_clock(&c, address, "Dr Grey's room", clock.clone()).await;
    let appointment = video_booking(&c).await;
    let (grey_link, grey) = sign_in_on(&grey_room, "grey@clinic.example", "doctor password 1").await;
    let consultations = grey_room.clinic.consultations();
    consultations.start_on_server(&grey.caller, &grey_link, appointment).await.unwrap();
    // Typed during the call and still queued when the doctor presses End: it goes first, so it is
    // the notes at the end (version 0), not an amendment.
    consultations.note(&grey.caller, appointment, "Knee pain.").unwrap();
    consultations.end_on_server(&grey.caller, &grey_link, appointment).await.unwrap();
    let history = || {
        c.pg.psql(
            "clinic",
            &format!(
                "SELECT string_agg(version || ':' || text, ' | ' ORDER BY version)
                 FROM consultation_note_versions WHERE appointment_id = '{appointment}'"
            ),
        )
    };
    assert_eq!(history(), "0:Knee pain.", "the end keeps the notes as they stood");
    // The end was two hours ago (by both clocks); the doctor amends offline since.
    let ended = Utc::now() - Minutes::hours(2);
    c.pg.psql(
        "clinic",
        &format!(
            "UPDATE consultations SET ended_at = '{ended}' WHERE appointment_id = '{appointment}';
             UPDATE consultation_note_versions SET saved_at = '{ended}' WHERE appointment_id = '{appointment}'"
        ),
    );
    clock.set(ended + Minutes::minutes(30));
    grey_room.relay.cut();
    for (text, after) in
        [("Knee pain. Ice", 0), ("Knee pain. Ice and rest.", 3), ("Physio referral.", 30), ("Physio referral sent.", 2)]
    {
        clock.advance(Minutes::minutes(after));
        consultations.note(&grey.caller, appointment, text).unwrap();
    }
    let sync = grey_room.clinic.desk_sync();
    assert!(sync.sync_once(&grey_link, grey.profile.user_id, Duration::ZERO).await.is_err(), "offline");
    grey_room.relay.heal();
    let round = sync.sync_once(&grey_link, grey.profile.user_id, Duration::ZERO).await.unwrap();
    assert_eq!(round.sent, Sent { accepted: 2, refused: 0 }, "the last save of each sitting");
    assert_eq!(history(), "0:Knee pain. | 1:Knee pain. Ice and rest. | 2:Physio referral sent.");
    let typed = c.pg.psql(
        "clinic",
        &format!(
            "SELECT string_agg(to_char(saved_at AT TIME ZONE 'UTC', 'HH24:MI'), ' ' ORDER BY version)
             FROM consultation_note_versions WHERE appointment_id = '{appointment}' AND version > 0"
        ),
    );
    let at = |minutes| (ended + Minutes::minutes(minutes)).format("%H:%M").to_string();
    assert_eq!(typed, format!("{} {}", at(33), at(65)), "dated as typed, not as they arrived");
    assert_eq!(
        c.pg.psql(
            "clinic",
            "SELECT count(*) FROM audit_log WHERE action = 'consultation.note' AND detail LIKE '%amended after the end%'"
        ),
        "2"
    );
    sync.pull(&grey_link, Duration::ZERO).await.unwrap();
    let record = consultations.record(&grey.caller, appointment).unwrap();
    let versions: Vec<_> = record.note_versions.iter().map(|v| (v.version, v.text.as_str())).collect();
    assert_eq!(versions, [(0, "Knee pain."), (1, "Knee pain. Ice and rest."), (2, "Physio referral sent.")]);
}
