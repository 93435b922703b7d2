//! A consultation its doctor left running (their computer closed, the doctor gone): an
//! administrator's desk ends it through the clinic server, as on one desk; reception's may not.
//! Until it ends its room and chat stay open at Twilio and its appointment cannot be moved.
//!
//! Needs the OS keyring (scripts/test.sh runs the suite inside an unlocked test keyring).

mod support;

use clinicdesk_core::consultations::ConsultationState;
use clinicdesk_core::error::ErrorCode;
use clinicdesk_twilio_fake::FakeTwilio;
use support::video::{serve_with_twilio, video_booking};
use support::{desk_computer, sign_in_on};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrators_desk_ends_a_consultation_left_running_and_receptions_may_not() {
    let c = support::clinic().await;
    let fake = FakeTwilio::start().await;
    let dir = tempfile::tempdir().unwrap();
    let address = serve_with_twilio(&c, &fake, dir.path()).await;
    let grey_room = desk_computer(&c, address, "Dr Grey's room").await;
    let front = desk_computer(&c, address, "Front desk").await;
    let office = desk_computer(&c, address, "Office").await;
    let appointment = video_booking(&c).await;
    let (grey_link, grey) = sign_in_on(&grey_room, "grey@clinic.example", "doctor password 1").await;
    let (front_link, rita) = sign_in_on(&front, "desk@clinic.example", "desk password 1").await;
    let (office_link, ada) = sign_in_on(&office, "admin@clinic.example", "admin password 1").await;
    grey_room.clinic.consultations().start_on_server(&grey.caller, &grey_link, appointment).await.unwrap();
    grey_room.clinic.consultations().note(&grey.caller, appointment, "Left in a hurry.").unwrap();
    // Dr Grey's computer is closed with the notes still queued on it.
    grey_room.relay.cut();

    let refused = front.clinic.consultations().end_on_server(&rita.caller, &front_link, appointment).await.unwrap_err();
    assert_eq!(refused.code(), ErrorCode::Forbidden, "{refused}");
    // The server itself refuses reception too, in the core's words, past the desk's own check.
    let asked = front_link
        .consultation::<serde_json::Value>(rita.profile.user_id, appointment, "end", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(asked.to_string().contains("(Reception) is not allowed to run video consultations"), "{asked}");
    assert_eq!(c.pg.psql("clinic", "SELECT status FROM consultations"), "in_progress");

    let ended = office.clinic.consultations().end_on_server(&ada.caller, &office_link, appointment).await.unwrap();
    assert_eq!(ended.state, ConsultationState::Completed);
    assert_eq!(fake.rooms()[0].status, "completed", "the room is closed at Twilio");
    assert_eq!(
        c.pg.psql(
            "clinic",
            "SELECT c.status || ' ' || (c.ended_by = u.id) FROM consultations c, users u WHERE u.email = 'admin@clinic.example'"
        ),
        "completed true",
        "recorded as ended by the administrator"
    );
    assert_eq!(
        c.pg.psql(
            "clinic",
            "SELECT count(*) FROM audit_log l JOIN users u ON u.id = l.actor_id
             WHERE l.action = 'consultation.end' AND u.email = 'admin@clinic.example'"
        ),
        "1"
    );
    // Version 0 of the notes' history is the doctor's (empty: their save never reached the
    // server), written as theirs; their queued save arrives later as an amendment.
    assert_eq!(
        c.pg.psql(
            "clinic",
            "SELECT v.version || ':' || v.text || ':' || u.email FROM consultation_note_versions v JOIN users u ON u.id = v.saved_by"
        ),
        "0::grey@clinic.example"
    );
}
