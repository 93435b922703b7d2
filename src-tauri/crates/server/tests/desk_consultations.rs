//! Video consultations from a doctor's desk: the clinic server holds the clinic's Twilio account,
//! so it makes the room and the chat, mints the doctor's tokens and ends them; the doctor's desk
//! keeps the record (who was in the room, the chat) for offline review, reception's desk sees the
//! state only, and a running consultation cannot be cancelled.
//!
//! Needs the OS keyring (scripts/test.sh runs the suite inside an unlocked test keyring).

mod support;

use clinicdesk_core::consultations::ConsultationState;
use clinicdesk_core::error::{CoreError, ErrorCode};
use clinicdesk_core::sync::wire::DeskCommand;
use clinicdesk_core::twilio::http::Endpoints;
use clinicdesk_server::commands;
use clinicdesk_twilio_fake::{FakeTwilio, Fault, Route};
use std::time::Duration;
use support::video::{clinic_twilio, count_on, serve_with_twilio, video_booking};
use support::{desk_computer, sign_in_on, DeskComputer};
use uuid::Uuid;

/// A Twilio client the desk never uses for a running consultation (it has no account): the
/// kept chat is read without it.
fn http() -> clinicdesk_core::twilio::TwilioHttp {
    clinicdesk_core::twilio::TwilioHttp::new(Endpoints::twilio())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doctors_desk_starts_joins_and_ends_a_video_consultation_through_the_server() {
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

    // The clinic's call page (set at the server's command line): the start texts the patient a link.
    clinicdesk_server::clinic_settings::set(
        &**c.pool.get().await.unwrap(),
        "video.call_page_url",
        "https://call.clinic.example/join",
    )
    .await
    .unwrap();

    // Notes written before the start (a row with names drawn on the desk) are kept through it.
    let consultations = grey_room.clinic.consultations();
    consultations.note(&grey.caller, appointment, "Rash on the left arm.").unwrap();

    let started = consultations.start_on_server(&grey.caller, &grey_link, appointment).await.unwrap();
    assert_eq!(started.state, ConsultationState::InProgress);
    assert_eq!(started.notes.as_deref(), Some("Rash on the left arm."));
    let rooms = fake.rooms();
    assert_eq!(rooms.len(), 1, "one room at Twilio");
    let conversation = &fake.conversations()[0];
    assert_eq!(conversation.participants.len(), 2, "the doctor and the patient are in the chat");
    assert_eq!(
        c.pg.psql("clinic", &format!("SELECT status FROM consultations WHERE appointment_id = '{appointment}'")),
        "in_progress"
    );
    // One invite queued for the sender, to the patient, whose link's token is theirs alone.
    let invite = c.pg.psql(
        "clinic",
        &format!("SELECT to_phone || ' ' || body FROM sms_notifications WHERE appointment_id = '{appointment}' AND kind = 'invite'"),
    );
    assert!(invite.starts_with("+447400123456 Hi Ana"), "{invite}");
    let fragment = invite.split_once("https://call.clinic.example/join#").expect("the call page link").1;
    let fragment = fragment.split_whitespace().next().unwrap();
    let fields: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(fragment.as_bytes()).into_owned().collect();
    assert_eq!(fields["d"], "Dr Meredith Grey");
    // The elected sender (this server) sends it: the patient's phone gets the link.
    for _ in 0..300 {
        if fake.messages_to("+447400123456").iter().any(|m| m.body.contains("https://call.clinic.example/join#t=")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(fake.messages_to("+447400123456").len(), 1, "the invite reached Twilio once");

    // The token is minted by the server with the clinic's key: the consultation's room and the
    // doctor's identity in it, nothing that names anyone.
    let token = consultations.token_on_server(&grey.caller, &grey_link, appointment, true).await.unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let key = jsonwebtoken::DecodingKey::from_secret(clinicdesk_twilio_fake::API_KEY_SECRET.as_bytes());
    let claims = jsonwebtoken::decode::<serde_json::Value>(&token.token, &key, &validation).unwrap().claims;
    assert_eq!(claims["grants"]["video"]["room"], rooms[0].unique_name.as_str());
    assert_eq!(claims["grants"]["identity"], token.identity.as_str());
    assert!(token.identity.starts_with("d-") && !token.identity.contains("grey"), "{}", token.identity);
    assert!(conversation.participants.iter().any(|p| p.identity == token.identity));
    let chat_only = consultations.token_on_server(&grey.caller, &grey_link, appointment, false).await.unwrap();
    let claims = jsonwebtoken::decode::<serde_json::Value>(&chat_only.token, &key, &validation).unwrap().claims;
    assert!(claims["grants"].get("video").is_none(), "a chat-only token cannot join the room");
    let patient = jsonwebtoken::decode::<serde_json::Value>(&fields["t"], &key, &validation).unwrap().claims;
    assert_eq!(patient["grants"]["identity"], token.patient_identity.as_str());
    assert_eq!(patient["grants"]["video"]["room"], rooms[0].unique_name.as_str());

    // Another doctor is refused by the server itself, in the core's words (their desk asks it
    // directly here, past its own check).
    let refused = house_link
        .consultation::<serde_json::Value>(
            house.profile.user_id,
            appointment,
            "token",
            &serde_json::json!({"video": true}),
        )
        .await
        .unwrap_err();
    match refused {
        CoreError::Server { code: ErrorCode::Forbidden, message } => {
            assert_eq!(message, "This is Dr Meredith Grey's appointment: only they can join its video consultation.")
        }
        other => panic!("expected the server's refusal, got {other:?}"),
    }

    // Reception's desk sees it running, and the server refuses to cancel a running consultation.
    front.clinic.desk_sync().pull(&front_link, Duration::ZERO).await.unwrap();
    let badges = front.clinic.consultations().states(&rita.caller, &[appointment]).unwrap();
    assert_eq!(badges[0].state, ConsultationState::InProgress);
    let cancel =
        DeskCommand::Cancel { appointment_id: appointment, reason: "Patient called".into(), expected_version: None };
    let (desk, _) =
        clinicdesk_server::desks::enroll(&**c.pool.get().await.unwrap(), Some(&c.admin), "Back office").await.unwrap();
    let answer = commands::apply(&c.pool, &desk, &c.reception, Uuid::new_v4(), &cancel, support::now()).await.unwrap();
    assert!(answer["refused"]["message"].as_str().unwrap_or_default().contains("video consultation"), "{answer}");

    // In the room and in the chat, then the end: the record is kept on the server and on the
    // doctor's desk, readable offline; reception's desk gets the state and the appointment only.
    let identities = (token.identity.clone(), token.patient_identity.clone());
    fake.add_participant(&rooms[0].sid, &identities.0, 600);
    fake.add_participant(&rooms[0].sid, &identities.1, 590);
    fake.add_chat_message(&conversation.sid, &identities.1, "Can you see the rash?");
    // The chat through the server (the window's live connection to Twilio blocked): the doctor
    // sends, reads both sides with roles, never identities, and marks read (the patient's receipt).
    // The server's answer is lost on the way back: the desk asks again with the same request id
    // and is answered with the message already posted — posted once (the chat below has two).
    grey_room.relay.lose_next_answers(1);
    let mine = consultations.send_on_server(&grey.caller, &grey_link, appointment, "I can see it now.").await.unwrap();
    assert_eq!((mine.index, mine.author), (1, clinicdesk_core::consultations::ParticipantRole::Doctor));
    // Twilio refuses a send outright: nothing was posted, so the same press asked again posts it
    // (the claim did not stay); a send whose outcome Twilio left unknown is never posted again.
    let press = serde_json::json!({ "body": "One more thing.", "request_id": Uuid::new_v4() });
    fake.inject(Route::SendChatMessage, Fault::Error { status: 400, code: 50000, message: "Refused".into() });
    let refused: Result<serde_json::Value, _> =
        grey_link.consultation(grey.profile.user_id, appointment, "send", &press).await;
    assert!(refused.is_err());
    let posted: serde_json::Value =
        grey_link.consultation(grey.profile.user_id, appointment, "send", &press).await.unwrap();
    assert_eq!(posted["body"], "One more thing.");
    // Other words under the same press's id are not that message: refused, nothing posted.
    let other = serde_json::json!({ "body": "Something else.", "request_id": press["request_id"] });
    let refused: Result<serde_json::Value, _> =
        grey_link.consultation(grey.profile.user_id, appointment, "send", &other).await;
    assert!(refused.unwrap_err().to_string().contains("sent already with other words"));
    let unknown = serde_json::json!({ "body": "Did this go?", "request_id": Uuid::new_v4() });
    fake.inject(Route::SendChatMessage, Fault::DropAfterProcessing);
    let lost: Result<serde_json::Value, _> =
        grey_link.consultation(grey.profile.user_id, appointment, "send", &unknown).await;
    assert!(lost.is_err());
    let again: Result<serde_json::Value, _> =
        grey_link.consultation(grey.profile.user_id, appointment, "send", &unknown).await;
    assert!(again.unwrap_err().to_string().contains("the chat shows it if it went"));
    let said = |text: &str| fake.conversations()[0].messages.iter().filter(|m| m.body.as_deref() == Some(text)).count();
    assert_eq!((said("One more thing."), said("Did this go?"), said("Something else.")), (1, 1, 0), "each posted once");
    let too_long = "x".repeat(1601);
    let refused = consultations.send_on_server(&grey.caller, &grey_link, appointment, &too_long).await.unwrap_err();
    assert_eq!(refused.to_string(), "A chat message can be up to 1600 characters; split this one.");
    let chat = consultations.messages_on_server(&grey.caller, &grey_link, &http(), appointment).await.unwrap();
    let lines: Vec<_> = chat.messages.iter().map(|m| (m.author, m.body.clone().unwrap_or_default())).collect();
    use clinicdesk_core::consultations::ParticipantRole::{Doctor, Patient};
    assert_eq!(
        lines,
        [
            (Patient, "Can you see the rash?".to_string()),
            (Doctor, "I can see it now.".to_string()),
            (Doctor, "One more thing.".to_string()),
            (Doctor, "Did this go?".to_string()),
        ]
    );
    assert!(!chat.closed);
    assert_eq!(
        consultations.mark_read_on_server(&grey.caller, &grey_link, &http(), appointment).await.unwrap(),
        Some(3)
    );
    let doctor_in_chat =
        fake.conversations()[0].participants.iter().find(|p| p.identity == identities.0).cloned().unwrap();
    assert_eq!(doctor_in_chat.last_read_message_index, Some(3));
    let not_theirs = house_link
        .consultation::<serde_json::Value>(
            house.profile.user_id,
            appointment,
            "send",
            &serde_json::json!({"body": "hi"}),
        )
        .await
        .unwrap_err();
    assert!(matches!(not_theirs, CoreError::Server { code: ErrorCode::Forbidden, .. }), "{not_theirs:?}");

    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM chat_sends WHERE line IS NOT NULL"), "2");
    let ended = consultations.end_on_server(&grey.caller, &grey_link, appointment).await.unwrap();
    assert_eq!(ended.state, ConsultationState::Completed);
    assert_eq!(ended.participants.len(), 2);
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM chat_sends"), "0", "not kept past the end");
    assert_eq!(fake.rooms()[0].status, "completed");
    grey_room.relay.cut();
    let record = consultations.record(&grey.caller, appointment).unwrap();
    assert_eq!(record.attendance.len(), 2, "who joined, offline on the doctor's desk");
    assert_eq!(count_on(&grey_room, "chat_messages", appointment), 4);
    let kept = consultations.messages_on_server(&grey.caller, &grey_link, &http(), appointment).await.unwrap();
    assert!(kept.closed && kept.messages.len() == 4, "the kept chat, read offline");
    front.clinic.desk_sync().pull(&front_link, Duration::ZERO).await.unwrap();
    let badges = front.clinic.consultations().states(&rita.caller, &[appointment]).unwrap();
    assert_eq!(badges[0].state, ConsultationState::Completed);
    assert_eq!(count_on(&front, "chat_messages", appointment), 0, "the chat never reaches reception's desk");
    assert_eq!(count_on(&front, "consultation_participants", appointment), 0);
    // The visit happened: the appointment is completed on the server and on every desk; the
    // doctor's desk, pulling the feed after the server's answer, keeps the same (never goes back).
    assert_eq!(
        c.pg.psql("clinic", &format!("SELECT status FROM appointments WHERE id = '{appointment}'")),
        "completed"
    );
    let on_desk = |desk: &DeskComputer| -> String {
        desk.clinic
            .db()
            .conn()
            .unwrap()
            .query_row("SELECT status FROM appointments WHERE id = ?1", [appointment.to_string()], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(on_desk(&front), "completed");
    grey_room.relay.heal();
    grey_room.clinic.desk_sync().pull(&grey_link, Duration::ZERO).await.unwrap();
    assert_eq!(on_desk(&grey_room), "completed");
    let status = consultations.status(&grey.caller, appointment).unwrap();
    assert_eq!((status.state, status.participants.len()), (ConsultationState::Completed, 2));
    assert_eq!(count_on(&grey_room, "chat_messages", appointment), 4);
    let trail = c.pg.psql(
        "clinic",
        &format!(
            "SELECT string_agg(action || ' ' || n, ',' ORDER BY action) FROM (
               SELECT action, count(*) AS n FROM audit_log WHERE record_id = '{appointment}' GROUP BY action) a"
        ),
    );
    // Two doctor's tokens and the patient's link; the two messages the server saw go (once each,
    // the repeated press not again; the one whose answer Twilio lost is not known to have gone);
    // Dr House's two refusals; the notes written before the start, sent by the end (they are the
    // notes at the end: version 0 of their history).
    assert_eq!(trail, "access.refused 2,appointment.book 1,consultation.end 1,consultation.message 2,consultation.note 1,consultation.start 1,twilio.token 3");
    assert_eq!(
        c.pg.psql(
            "clinic",
            &format!(
                "SELECT version || ':' || text FROM consultation_note_versions WHERE appointment_id = '{appointment}'"
            )
        ),
        "0:Rash on the left arm."
    );

    // Ending twice: the words of a one-desk clinic.
    let again = consultations.end_on_server(&grey.caller, &grey_link, appointment).await.unwrap_err();
    assert_eq!(again.to_string(), "Cannot end a consultation with status: completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_stopped_half_way_continues_and_an_unreachable_server_is_said_in_words() {
    let c = support::clinic().await;
    let fake = FakeTwilio::start().await;
    let dir = tempfile::tempdir().unwrap();
    let address = serve_with_twilio(&c, &fake, dir.path()).await;
    let grey_room = desk_computer(&c, address, "Dr Grey's room").await;
    let appointment = video_booking(&c).await;
    let (link, grey) = sign_in_on(&grey_room, "grey@clinic.example", "doctor password 1").await;
    let consultations = grey_room.clinic.consultations();

    // The server cannot be reached: nothing starts, and the doctor reads why and what to do.
    grey_room.relay.cut();
    let offline = consultations.start_on_server(&grey.caller, &link, appointment).await.unwrap_err();
    assert!(offline.to_string().contains("clinic server, which cannot be reached now"), "{offline}");
    assert!(fake.rooms().is_empty());
    grey_room.relay.heal();

    // Twilio fails adding the patient to the chat: the room and the chat are made and remembered,
    // the consultation not started.
    fake.inject(Route::AddParticipant, Fault::Unavailable);
    let failed = consultations.start_on_server(&grey.caller, &link, appointment).await.unwrap_err();
    assert!(failed.to_string().contains("Press Start again"), "{failed}");
    assert_eq!(
        c.pg.psql(
            "clinic",
            &format!("SELECT status, room_sid IS NOT NULL FROM consultations WHERE appointment_id = '{appointment}'")
        ),
        "scheduled|t"
    );
    // Pressed again: it carries on with the same room, never a second one.
    let started = consultations.start_on_server(&grey.caller, &link, appointment).await.unwrap();
    assert_eq!(started.state, ConsultationState::InProgress);
    assert_eq!(fake.rooms().len(), 1);
    assert_eq!(fake.conversations().len(), 1, "the chat made by the first press is used");
    assert_eq!(fake.conversations()[0].participants.len(), 2);
    let again = consultations.start_on_server(&grey.caller, &link, appointment).await.unwrap_err();
    assert_eq!(again.to_string(), "Cannot start a consultation with status: in-progress");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_the_clinics_twilio_account_says_who_can_set_it_up() {
    let c = support::clinic().await;
    let (address, _server) = support::serve(&c).await;
    let grey_room = desk_computer(&c, address, "Dr Grey's room").await;
    let appointment = video_booking(&c).await;
    let (link, grey) = sign_in_on(&grey_room, "grey@clinic.example", "doctor password 1").await;
    let refused = grey_room.clinic.consultations().start_on_server(&grey.caller, &link, appointment).await.unwrap_err();
    assert!(refused.to_string().contains("Ask your IT person"), "{refused}");
    assert_eq!(
        c.pg.psql("clinic", &format!("SELECT count(*) FROM consultations WHERE appointment_id = '{appointment}'")),
        "0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consultation_ended_while_twilio_cannot_be_reached_ends_and_its_record_follows() {
    let c = support::clinic().await;
    let fake = FakeTwilio::start().await;
    let dir = tempfile::tempdir().unwrap();
    let address = serve_with_twilio(&c, &fake, dir.path()).await;
    let grey_room = desk_computer(&c, address, "Dr Grey's room").await;
    let appointment = video_booking(&c).await;
    let (link, grey) = sign_in_on(&grey_room, "grey@clinic.example", "doctor password 1").await;
    let consultations = grey_room.clinic.consultations();
    consultations.start_on_server(&grey.caller, &link, appointment).await.unwrap();
    let token = consultations.token_on_server(&grey.caller, &link, appointment, true).await.unwrap();
    let room = fake.rooms()[0].sid.clone();
    fake.add_participant(&room, &token.identity, 300);
    fake.add_participant(&room, &token.patient_identity, 290);
    fake.add_chat_message(&fake.conversations()[0].sid, &token.patient_identity, "Thank you, doctor.");

    // Twilio cannot be reached at the end: it ends all the same (the appointment completed), the
    // doctor's desk shows the record as still to come.
    fake.inject(Route::UpdateRoom, Fault::DropBeforeProcessing);
    let ended = consultations.end_on_server(&grey.caller, &link, appointment).await.unwrap();
    assert_eq!(ended.state, ConsultationState::Completed);
    assert!(ended.record_pending, "who joined and the chat follow later");
    assert_eq!(
        c.pg.psql("clinic", &format!("SELECT status FROM appointments WHERE id = '{appointment}'")),
        "completed"
    );
    assert_eq!(fake.rooms()[0].status, "in-progress", "Twilio never heard of the end");

    // The sender's pass fetches it once Twilio answers: the room completed, the record kept and
    // sent to the doctor's desk.
    let mut client = clinicdesk_server::db::connect(&c.url, true).await.unwrap();
    let texting = clinic_twilio(&fake, dir.path());
    let late = clinicdesk_server::consultations::fetch_late_records;
    // Twilio refuses the first late try: that record waits (a minute, then longer each time)
    // instead of being asked for every pass and holding up the others.
    fake.inject(Route::UpdateRoom, Fault::Error { status: 400, code: 53000, message: "Something went wrong".into() });
    assert_eq!(late(&mut client, &texting, support::now()).await.unwrap(), 0);
    assert_eq!(late(&mut client, &texting, support::now()).await.unwrap(), 0, "not asked for again at once");
    let later = support::now() + chrono::Duration::minutes(2);
    assert_eq!(late(&mut client, &texting, later).await.unwrap(), 1);
    assert_eq!(fake.rooms()[0].status, "completed");
    assert_eq!(
        c.pg.psql("clinic", &format!("SELECT record_pending_since IS NULL, jsonb_array_length(participants) FROM consultations WHERE appointment_id = '{appointment}'")),
        "t|2"
    );
    grey_room.clinic.desk_sync().pull(&link, Duration::ZERO).await.unwrap();
    let status = consultations.status(&grey.caller, appointment).unwrap();
    assert!(!status.record_pending);
    assert_eq!(status.participants.len(), 2);
    assert_eq!(count_on(&grey_room, "chat_messages", appointment), 1);

    // The clinic keeps chats a day; this one ended two days ago (as if): the server removes its
    // copy and the feed's, the doctor's desk removes its own, the participants stay, and a desk
    // joining later never receives the chat.
    let db = c.pool.get().await.unwrap();
    clinicdesk_server::clinic_settings::set(&**db, "consultations.chat_retention_days", "1").await.unwrap();
    c.pg.psql(
        "clinic",
        &format!(
            "UPDATE consultations SET ended_at = now() - interval '2 days' WHERE appointment_id = '{appointment}'"
        ),
    );
    let removed = clinicdesk_server::consultations::remove_expired_chats(&mut client, support::now()).await.unwrap();
    assert_eq!(removed, 1);
    assert_eq!(
        c.pg.psql("clinic", &format!("SELECT chat::text, jsonb_array_length(participants) FROM consultations WHERE appointment_id = '{appointment}'")),
        "[]|2"
    );
    let feed = c.pg.psql("clinic", &format!("SELECT count(*) FROM changes WHERE row_data::text LIKE '%Thank you, doctor.%' AND entity_id = '{appointment}'"));
    assert_eq!(feed, "0", "no copy of the chat left in the feed");
    grey_room.clinic.desk_sync().pull(&link, Duration::ZERO).await.unwrap();
    assert_eq!(count_on(&grey_room, "chat_messages", appointment), 0);
    assert_eq!(count_on(&grey_room, "consultation_participants", appointment), 2);
    assert!(
        consultations.record(&grey.caller, appointment).unwrap().chat_removed_at.is_some(),
        "the record says it was removed"
    );
    let office = desk_computer(&c, address, "Office").await;
    let (_, ada) = sign_in_on(&office, "admin@clinic.example", "admin password 1").await;
    // The desk has the server's setting, and does not change it itself.
    assert_eq!(office.clinic.consultations().video_settings(&ada.caller).unwrap().chat_retention_days, Some(1));
    let refused = office.clinic.settings().set(&ada.caller, "consultations.chat_retention_days", "30").unwrap_err();
    assert!(refused.to_string().contains("set on the clinic server"), "{refused}");
    assert_eq!(
        count_on(&office, "consultation_participants", appointment),
        2,
        "the administrator's new desk has the record"
    );
    assert_eq!(count_on(&office, "chat_messages", appointment), 0, "but not the removed chat");
}
