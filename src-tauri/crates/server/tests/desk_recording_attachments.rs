//! Recording and chat attachments of a video consultation run from a doctor's desk through the
//! clinic server: the patient's agreement and the recording switch go through the server (which
//! holds the room at Twilio); the files a patient sends in the chat are kept by the server and
//! taken by the desks that keep the record, so the doctor opens them with no network.
//!
//! Needs the OS keyring (scripts/test.sh runs the suite inside an unlocked test keyring).

mod support;

use clinicdesk_core::consultations::ConsultationState;
use clinicdesk_core::error::{CoreError, ErrorCode};
use clinicdesk_twilio_fake::FakeTwilio;
use std::time::Duration;
use support::video::{clinic_twilio, count_on, serve_with_twilio, video_booking};
use support::{desk_computer, sign_in_on, DeskComputer};
use uuid::Uuid;

/// The server's audit actions for the appointment, counted ("action n,…").
fn trail_of(c: &support::TestClinic, appointment: Uuid, like: &str) -> String {
    c.pg.psql(
        "clinic",
        &format!(
            "SELECT string_agg(action || ' ' || n, ',' ORDER BY action) FROM (
               SELECT action, count(*) AS n FROM audit_log WHERE record_id = '{appointment}' AND action LIKE '{like}'
               GROUP BY action) a"
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doctors_desk_records_only_after_the_patients_agreement_through_the_server() {
    let c = support::clinic().await;
    let fake = FakeTwilio::start().await;
    let dir = tempfile::tempdir().unwrap();
    let address = serve_with_twilio(&c, &fake, dir.path()).await;
    let grey_room = desk_computer(&c, address, "Dr Grey's room").await;
    let house_room = desk_computer(&c, address, "Dr House's room").await;
    let appointment = video_booking(&c).await;
    let (grey_link, grey) = sign_in_on(&grey_room, "grey@clinic.example", "doctor password 1").await;
    let (house_link, house) = sign_in_on(&house_room, "house@clinic.example", "doctor password 1").await;
    let consultations = grey_room.clinic.consultations();

    // Without the server the agreement is not recorded, and the desk says why in words.
    grey_room.relay.cut();
    let offline = consultations.consent_on_server(&grey.caller, &grey_link, appointment).await.unwrap_err();
    assert_eq!(offline.code(), ErrorCode::Unavailable);
    assert!(offline.to_string().contains("the patient's agreement was not recorded"), "{offline}");
    grey_room.relay.heal();

    // Recording before the start: refused in a one-desk clinic's words.
    let early = consultations.set_recording_on_server(&grey.caller, &grey_link, appointment, true).await.unwrap_err();
    assert_eq!(early.to_string(), "Cannot record a consultation with status: scheduled");

    // The agreement, recorded before the start (the patient agreed on the phone): once, on the
    // server and on the desk; recording it again keeps the first.
    let consented = consultations.consent_on_server(&grey.caller, &grey_link, appointment).await.unwrap();
    let agreed_at = consented.recording_consent_at.expect("the agreement is recorded");
    let again = consultations.consent_on_server(&grey.caller, &grey_link, appointment).await.unwrap();
    assert_eq!(again.recording_consent_at, Some(agreed_at));
    assert_eq!(
        c.pg.psql(
            "clinic",
            &format!("SELECT status || ' ' || (recording_consent_by = '{}') FROM consultations WHERE appointment_id = '{appointment}'", grey.profile.user_id)
        ),
        "scheduled true"
    );
    // Another doctor cannot, even asking the server directly.
    let refused = house_link
        .consultation::<serde_json::Value>(house.profile.user_id, appointment, "consent", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(matches!(refused, CoreError::Server { code: ErrorCode::Forbidden, .. }), "{refused:?}");

    // The start keeps the agreement; recording goes on at Twilio and on the desk.
    let started = consultations.start_on_server(&grey.caller, &grey_link, appointment).await.unwrap();
    assert_eq!((started.state, started.recording_consent_at), (ConsultationState::InProgress, Some(agreed_at)));
    assert!(!started.recording && !fake.rooms()[0].recording, "off until switched on");
    assert!(consultations.recordings_on_server(&grey.caller, &grey_link, appointment).await.unwrap().is_empty());
    fake.connect(&fake.rooms()[0].unique_name, "someone-in-the-room"); // tracks to record
    let on = consultations.set_recording_on_server(&grey.caller, &grey_link, appointment, true).await.unwrap();
    assert!(on.recording);
    assert!(fake.rooms()[0].recording, "Twilio records the room");
    let listed = consultations.recordings_on_server(&grey.caller, &grey_link, appointment).await.unwrap();
    let kinds: Vec<(&str, &str)> = listed.iter().map(|r| (r.kind.as_str(), r.status.as_str())).collect();
    assert_eq!(kinds, [("audio", "processing"), ("video", "processing")], "one track each while recording");
    let not_theirs = house_link
        .consultation::<serde_json::Value>(
            house.profile.user_id,
            appointment,
            "recording",
            &serde_json::json!({"on": false}),
        )
        .await
        .unwrap_err();
    assert!(matches!(not_theirs, CoreError::Server { code: ErrorCode::Forbidden, .. }), "{not_theirs:?}");
    assert!(fake.rooms()[0].recording, "still recording");

    // Twilio refusing the switch: nothing changes on the server or the desk.
    fake.inject(
        clinicdesk_twilio_fake::Route::RecordingRules,
        clinicdesk_twilio_fake::Fault::Error { status: 400, code: 53000, message: "Something went wrong".into() },
    );
    let failed = consultations.set_recording_on_server(&grey.caller, &grey_link, appointment, false).await.unwrap_err();
    assert!(failed.to_string().starts_with("Recording was not switched: Twilio refused"), "{failed}");
    assert!(consultations.status(&grey.caller, appointment).unwrap().recording);
    assert_eq!(
        c.pg.psql("clinic", &format!("SELECT recording FROM consultations WHERE appointment_id = '{appointment}'")),
        "t",
        "the server still says recording, as Twilio does"
    );
    // The doctor's other desk learns it from the feed.
    let other_room = desk_computer(&c, address, "Dr Grey's laptop").await;
    let (other_link, grey_elsewhere) = sign_in_on(&other_room, "grey@clinic.example", "doctor password 1").await;
    let there = other_room.clinic.consultations().status(&grey_elsewhere.caller, appointment).unwrap();
    assert_eq!((there.recording_consent_at, there.recording), (Some(agreed_at), true));
    let off = consultations.set_recording_on_server(&grey.caller, &grey_link, appointment, false).await.unwrap();
    assert!(!off.recording && !fake.rooms()[0].recording);

    other_room.clinic.desk_sync().pull(&other_link, Duration::ZERO).await.unwrap();
    assert!(!other_room.clinic.consultations().status(&grey_elsewhere.caller, appointment).unwrap().recording);

    consultations.set_recording_on_server(&grey.caller, &grey_link, appointment, true).await.unwrap();
    let ended = consultations.end_on_server(&grey.caller, &grey_link, appointment).await.unwrap();
    assert_eq!((ended.state, ended.recording), (ConsultationState::Completed, false));
    assert!(!fake.rooms()[0].recording, "completing the room stops it");
    assert_eq!(
        c.pg.psql("clinic", &format!("SELECT recording FROM consultations WHERE appointment_id = '{appointment}'")),
        "f",
        "the end records it off"
    );
    let kept = consultations.recordings_on_server(&grey.caller, &grey_link, appointment).await.unwrap();
    assert!(
        kept.len() == 4 && kept.iter().all(|r| r.status == "completed"),
        "two stretches, audio and video: {kept:?}"
    );
    assert_eq!(
        trail_of(&c, appointment, "consultation.recording%"),
        "consultation.recording 3,consultation.recording_consent 1",
        "the agreement once, each switch Twilio applied once"
    );
}

/// The desk's attachments of the appointment, in the chat's order: (file name as sent, state).
fn files_on(desk: &DeskComputer, appointment: Uuid) -> Vec<(String, String)> {
    let conn = desk.clinic.db().conn().unwrap();
    let mut rows = conn
        .prepare("SELECT filename, state FROM chat_attachments WHERE appointment_id = ?1 ORDER BY message_index")
        .unwrap();
    rows.query_map([appointment.to_string()], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

/// (name, state) pairs as `files_on` gives them.
fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_files_a_patient_sent_reach_the_doctors_desk_for_offline_review() {
    let c = support::clinic().await;
    let fake = FakeTwilio::start().await;
    let dir = tempfile::tempdir().unwrap();
    let address = serve_with_twilio(&c, &fake, dir.path()).await;
    let grey_room = desk_computer(&c, address, "Dr Grey's room").await;
    let house_room = desk_computer(&c, address, "Dr House's room").await;
    let front = desk_computer(&c, address, "Front desk").await;
    let appointment = video_booking(&c).await;
    let (grey_link, grey) = sign_in_on(&grey_room, "grey@clinic.example", "doctor password 1").await;
    let (house_link, house) = sign_in_on(&house_room, "house@clinic.example", "doctor password 1").await;
    let (front_link, rita) = sign_in_on(&front, "desk@clinic.example", "desk password 1").await;
    let consultations = grey_room.clinic.consultations();

    consultations.start_on_server(&grey.caller, &grey_link, appointment).await.unwrap();
    let token = consultations.token_on_server(&grey.caller, &grey_link, appointment, false).await.unwrap();
    let chat = fake.conversations()[0].sid.clone();
    let photo: Vec<u8> = b"\x89PNG\r\n\x1a\n".iter().copied().chain((0..3000).map(|i| (i % 251) as u8)).collect();
    let photo_sid = fake.add_chat_file(&chat, &token.patient_identity, "rash.png", "image/png", &photo).unwrap();
    let letter_sid =
        fake.add_chat_file(&chat, &token.patient_identity, "../../letter.pdf", "application/pdf", b"%PDF-1.4").unwrap();
    fake.delete_chat_media(&letter_sid); // Twilio no longer has it by the time it is fetched
    consultations.end_on_server(&grey.caller, &grey_link, appointment).await.unwrap();

    // Listed on the server and on the doctor's desk at the end; not fetched yet.
    assert_eq!(
        c.pg.psql(
            "clinic",
            &format!(
                "SELECT string_agg(state, ',') FROM consultation_attachments WHERE appointment_id = '{appointment}'"
            )
        ),
        "waiting,waiting"
    );
    // A server updated from one that kept no files lists those of the chats it kept before.
    let listed = |c: &support::TestClinic| {
        c.pg.psql(
            "clinic",
            &format!(
                "SELECT string_agg(state, ',') FROM consultation_attachments WHERE appointment_id = '{appointment}'"
            ),
        )
    };
    c.pg.psql("clinic", "DELETE FROM consultation_attachments");
    let mut lister = clinicdesk_server::db::connect(&c.url, true).await.unwrap();
    assert_eq!(clinicdesk_server::consultations::list_kept_before(&mut lister).await.unwrap(), 1);
    assert_eq!(listed(&c), "waiting,waiting");
    assert_eq!(clinicdesk_server::consultations::list_kept_before(&mut lister).await.unwrap(), 0, "once");
    let waiting = files(&[("rash.png", "waiting"), ("../../letter.pdf", "waiting")]);
    assert_eq!(files_on(&grey_room, appointment), waiting);
    // The desk asks before the server has them: still waiting, asked again a minute later.
    grey_room.clinic.desk_sync().sync_once(&grey_link, grey.profile.user_id, Duration::ZERO).await.unwrap();
    assert_eq!(files_on(&grey_room, appointment), waiting);
    let asked: (i64, bool) = grey_room
        .clinic
        .db()
        .conn()
        .unwrap()
        .query_row("SELECT max(fetch_attempts), min(fetch_after IS NOT NULL) FROM chat_attachments", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(asked, (0, true), "asked again later, never charged for the server's wait");

    // The sender fetches them from Twilio: the photo kept, the letter gone.
    let client = clinicdesk_server::db::connect(&c.url, true).await.unwrap();
    let texting = clinic_twilio(&fake, dir.path());
    assert_eq!(
        clinicdesk_server::consultations::fetch_attachments(&client, &texting, support::now()).await.unwrap(),
        1
    );
    assert_eq!(
        c.pg.psql(
            "clinic",
            &format!("SELECT string_agg(state || ' ' || coalesce(length(content), 0), ',' ORDER BY message_index) FROM consultation_attachments WHERE appointment_id = '{appointment}'")
        ),
        format!("kept {},unavailable 0", photo.len())
    );

    // A minute later the doctor's desk takes them; then, with no network, the doctor opens the photo.
    grey_room.clinic.db().conn().unwrap().execute("UPDATE chat_attachments SET fetch_after = NULL", []).unwrap();
    grey_room.clinic.desk_sync().sync_once(&grey_link, grey.profile.user_id, Duration::ZERO).await.unwrap();
    assert_eq!(files_on(&grey_room, appointment), files(&[("rash.png", "kept"), ("../../letter.pdf", "unavailable")]));
    grey_room.relay.cut();
    let opened = consultations.attachment_picture(&grey.caller, appointment, &photo_sid).unwrap();
    assert_eq!((opened.bytes, opened.content_type.as_deref()), (photo.clone(), Some("image/png")));
    let saved = consultations.attachment(&grey.caller, appointment, &photo_sid).unwrap();
    assert_eq!(saved.filename, "rash.png");
    let gone = consultations.attachment(&grey.caller, appointment, &letter_sid).unwrap_err();
    assert!(gone.to_string().contains("Twilio no longer has it"), "{gone}");
    grey_room.relay.heal();

    // Nobody else's desk holds them, and the server hands them to nobody else.
    front.clinic.desk_sync().sync_once(&front_link, rita.profile.user_id, Duration::ZERO).await.unwrap();
    assert_eq!(count_on(&front, "chat_attachments", appointment), 0);
    let refused = house_link.attachment(house.profile.user_id, appointment, &photo_sid).await.unwrap_err();
    assert!(matches!(refused, CoreError::Server { code: ErrorCode::Forbidden, .. }), "{refused:?}");
    let refused = front_link.attachment(rita.profile.user_id, appointment, &photo_sid).await.unwrap_err();
    assert!(matches!(refused, CoreError::Server { code: ErrorCode::Forbidden, .. }), "{refused:?}");
    assert_eq!(
        c.pg.psql(
            "clinic",
            &format!("SELECT count(*) FROM audit_log WHERE action = 'access.refused' AND record_id = '{appointment}'")
        ),
        "1",
        "the other doctor's try is in the trail"
    );
    let unknown = grey_link.attachment(grey.profile.user_id, appointment, "ME00000000000000000000000000000000").await;
    assert!(matches!(unknown, Err(CoreError::Server { code: ErrorCode::NotFound, .. })), "{unknown:?}");

    // An administrator's desk keeps the record too, files included.
    let office = desk_computer(&c, address, "Back office").await;
    let (office_link, admin) = sign_in_on(&office, "admin@clinic.example", "admin password 1").await;
    office.clinic.desk_sync().sync_once(&office_link, admin.profile.user_id, Duration::ZERO).await.unwrap();
    assert_eq!(files_on(&office, appointment), files(&[("rash.png", "kept"), ("../../letter.pdf", "unavailable")]));

    // The clinic's chat retention removes the files with the chat on the server.
    let db = c.pool.get().await.unwrap();
    clinicdesk_server::clinic_settings::set(&**db, "consultations.chat_retention_days", "1").await.unwrap();
    let mut client = clinicdesk_server::db::connect(&c.url, true).await.unwrap();
    let removed =
        clinicdesk_server::consultations::remove_expired_chats(&mut client, support::now() + chrono::Duration::days(2))
            .await
            .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(
        c.pg.psql(
            "clinic",
            &format!("SELECT count(*) FROM consultation_attachments WHERE appointment_id = '{appointment}'")
        ),
        "0"
    );
    grey_room.clinic.desk_sync().pull(&grey_link, Duration::ZERO).await.unwrap();
    assert_eq!(count_on(&grey_room, "chat_attachments", appointment), 0, "and the doctor's desk removes its copies");
}
