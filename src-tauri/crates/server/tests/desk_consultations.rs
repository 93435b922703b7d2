//! Video consultations from a doctor's desk: the clinic server holds the clinic's Twilio account,
//! so it makes the room and the chat, mints the doctor's tokens and ends them; the doctor's desk
//! keeps the record (who was in the room, the chat) for offline review, reception's desk sees the
//! state only, and a running consultation cannot be cancelled.
//!
//! Needs the OS keyring (scripts/test.sh runs the suite inside an unlocked test keyring).

mod support;

use clinicdesk_core::appointments::AppointmentKind;
use clinicdesk_core::consultations::ConsultationState;
use clinicdesk_core::error::{CoreError, ErrorCode};
use clinicdesk_core::sync::wire::DeskCommand;
use clinicdesk_core::twilio::http::Endpoints;
use clinicdesk_server::{appointments, commands, twilio_setup};
use clinicdesk_twilio_fake::{FakeTwilio, Fault, Route};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;
use support::{desk_computer, sign_in_on, DeskComputer};
use uuid::Uuid;

/// The server in-process with the clinic's Twilio account (a fake Twilio).
async fn serve_with_twilio(c: &support::TestClinic, fake: &FakeTwilio, dir: &std::path::Path) -> std::net::SocketAddr {
    let path = dir.join("twilio");
    std::fs::write(
        &path,
        format!(
            "account_sid={}\napi_key_sid={}\napi_key_secret={}\nfrom={}\n",
            clinicdesk_twilio_fake::ACCOUNT_SID,
            clinicdesk_twilio_fake::API_KEY_SID,
            clinicdesk_twilio_fake::API_KEY_SECRET,
            clinicdesk_twilio_fake::FROM_NUMBER
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let texting = twilio_setup::load(&path, Endpoints::all_at(&fake.url())).unwrap();
    let listen = "127.0.0.1:0".parse().unwrap();
    let (address, _) =
        clinicdesk_server::http::start_with(&c.url, listen, "test".into(), None, Some(texting)).await.unwrap();
    address
}

async fn video_booking(c: &support::TestClinic) -> Uuid {
    let mut video = support::booking(c.patients[0], c.doctors[0], "09:00", 30);
    video.kind = AppointmentKind::Video;
    appointments::book(&c.pool, &c.reception, &video, None, support::now()).await.unwrap().id
}

fn count_on(desk: &DeskComputer, table: &str, appointment: Uuid) -> i64 {
    desk.clinic
        .db()
        .conn()
        .unwrap()
        .query_row(&format!("SELECT count(*) FROM {table} WHERE appointment_id = ?1"), [appointment.to_string()], |r| {
            r.get(0)
        })
        .unwrap()
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
    let ended = consultations.end_on_server(&grey.caller, &grey_link, appointment).await.unwrap();
    assert_eq!(ended.state, ConsultationState::Completed);
    assert_eq!(ended.participants.len(), 2);
    assert_eq!(fake.rooms()[0].status, "completed");
    grey_room.relay.cut();
    let record = consultations.record(&grey.caller, appointment).unwrap();
    assert_eq!(record.attendance.len(), 2, "who joined, offline on the doctor's desk");
    assert_eq!(count_on(&grey_room, "chat_messages", appointment), 1);
    front.clinic.desk_sync().pull(&front_link, Duration::ZERO).await.unwrap();
    let badges = front.clinic.consultations().states(&rita.caller, &[appointment]).unwrap();
    assert_eq!(badges[0].state, ConsultationState::Completed);
    assert_eq!(count_on(&front, "chat_messages", appointment), 0, "the chat never reaches reception's desk");
    assert_eq!(count_on(&front, "consultation_participants", appointment), 0);
    let trail = c.pg.psql(
        "clinic",
        &format!(
            "SELECT string_agg(DISTINCT action, ',' ORDER BY action) FROM audit_log WHERE record_id = '{appointment}'
             AND action LIKE 'consultation.%' OR (record_id = '{appointment}' AND action = 'twilio.token')"
        ),
    );
    assert_eq!(trail, "consultation.end,consultation.start,twilio.token");

    // Ending twice: the words of a one-desk clinic.
    grey_room.relay.heal();
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

    // Twilio refuses the chat: the room is made and remembered, the consultation not started.
    fake.inject(Route::CreateConversation, Fault::Unavailable);
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
    assert_eq!(fake.conversations().len(), 1);
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
