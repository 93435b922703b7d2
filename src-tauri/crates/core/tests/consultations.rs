//! Video consultations on the manual clock against the fake Twilio: who may do what, the states and
//! their exact sentences, the room and chat Twilio is asked for, tokens scoped to the consultation,
//! chat with read horizons, and the record kept at the end. Failures and restarts are in
//! consultation_faults.rs.

mod common;
mod consultation_rig;

use chrono::Duration;
use clinicdesk_core::appointments::AppointmentKind;
use clinicdesk_core::consultations::{ConsultationState, ParticipantRole};
use clinicdesk_core::error::ErrorCode;
use clinicdesk_twilio_fake as fake;
use consultation_rig::*;

#[tokio::test]
async fn only_the_appointments_doctor_runs_it_and_reception_sees_the_state() {
    let r = rig().await;
    let c = r.clinic().consultations();
    for who in [&r.desk, &r.admin] {
        let err = c.start(who, &r.http, r.appt).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Forbidden, "{err}");
        assert!(err.to_string().contains("not allowed to run video consultations"), "{err}");
    }
    let err = c.start(&r.other, &r.http, r.appt).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Forbidden);
    assert_eq!(err.to_string(), "This is Test Doctor's appointment: only they can start its video consultation.");
    assert!(r.rooms().is_empty(), "a refused start never reaches Twilio");

    let started = r.start().await.unwrap();
    assert_eq!(started.state, ConsultationState::InProgress);
    assert!(started.is_own);
    c.note(&r.okafor, r.appt, "Rash on the left forearm.").unwrap();

    // Everyone else: the state only, nothing clinical.
    for who in [&r.desk, &r.admin, &r.other] {
        let seen = r.status(who);
        assert_eq!(seen.state, ConsultationState::InProgress);
        assert!(!seen.is_own && seen.notes.is_none() && seen.participants.is_empty());
    }
    assert_eq!(r.status(&r.okafor).notes.as_deref(), Some("Rash on the left forearm."));

    // Every other door is shut to the other doctor too, and to reception.
    assert_eq!(c.token(&r.other, r.appt).unwrap_err().code(), ErrorCode::Forbidden);
    assert_eq!(c.note(&r.other, r.appt, "x").unwrap_err().code(), ErrorCode::Forbidden);
    assert_eq!(c.send(&r.other, &r.http, r.appt, "hi").await.unwrap_err().code(), ErrorCode::Forbidden);
    assert_eq!(c.messages(&r.desk, &r.http, r.appt).await.unwrap_err().code(), ErrorCode::Forbidden);
    assert_eq!(c.consent_to_recording(&r.desk, r.appt).unwrap_err().code(), ErrorCode::Forbidden);
    assert_eq!(c.end(&r.other, &r.http, r.appt).await.unwrap_err().code(), ErrorCode::Forbidden);
    assert_eq!(c.status(&r.desk, r.appt).unwrap().state, ConsultationState::InProgress, "still running");
    // Each refusal is in the audit trail.
    let refused = r.refusals().iter().filter(|d| d.as_str() == "run_consultations").count();
    assert_eq!(refused, 9, "{:?}", r.refusals());

    // An in-person appointment has no consultation; a schedule gets every video one's state at once.
    let (visit, _) = r.book("11:00", 20, AppointmentKind::InPerson);
    let err = c.status(&r.desk, visit).unwrap_err();
    assert_eq!(err.to_string(), "This is an in-person appointment, so it has no video consultation.");
    let (later, _) = r.book("12:00", 30, AppointmentKind::Video);
    let badges = c.states(&r.okafor, &[r.appt, visit, later]).unwrap();
    let seen: Vec<_> = badges.iter().map(|b| (b.appointment_id, b.state, b.is_own)).collect();
    assert_eq!(seen, [(r.appt, ConsultationState::InProgress, true), (later, ConsultationState::Scheduled, true)]);
    assert!(c.states(&r.desk, &[r.appt]).unwrap().iter().all(|b| !b.is_own));
}

#[tokio::test]
async fn an_administrator_ends_a_consultation_its_doctor_left_running_and_nobody_else_may() {
    let r = rig().await;
    let c = r.clinic().consultations();
    r.start().await.unwrap();
    c.note(&r.okafor, r.appt, "Seen; left without ending.").unwrap();
    // Reception and another doctor may not; the refusal is the one every other door gives.
    let err = c.end(&r.desk, &r.http, r.appt).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let err = c.end(&r.other, &r.http, r.appt).await.unwrap_err();
    assert_eq!(err.to_string(), "This is Test Doctor's appointment: only they can end its video consultation.");
    assert_eq!(r.status(&r.desk).state, ConsultationState::InProgress);
    // An administrator may: the room and the chat close at Twilio, the record is kept, the trail
    // says who ended it, and the notes at the end stay the doctor's words.
    let ended = c.end(&r.admin, &r.http, r.appt).await.unwrap();
    assert_eq!(ended.state, ConsultationState::Completed);
    assert!(!ended.is_own && ended.notes.is_none(), "the state, as the administrator's status shows it");
    assert!(r.rooms().iter().all(|room| room.status == "completed"), "the room is closed at Twilio");
    let record = c.record(&r.admin, r.appt).unwrap();
    assert_eq!(record.notes.as_deref(), Some("Seen; left without ending."));
    assert_eq!(record.note_versions.len(), 1);
    assert_eq!(record.note_versions[0].saved_by.as_deref(), Some("Test Doctor"), "the doctor's words, not the admin's");
    let conn = r.clinic().db().conn().unwrap();
    let (actor, ended_by_admin): (String, bool) = conn
        .query_row(
            "SELECT l.actor_label, c.ended_by = l.actor_id FROM audit_log l JOIN consultations c ON c.appointment_id = l.record_id
             WHERE l.action = 'consultation.end' AND l.record_id = ?1",
            [r.appt.to_string()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert!(ended_by_admin, "recorded as ended by the administrator ({actor})");
    // Ending twice: the state's words, for an administrator too.
    let again = c.end(&r.admin, &r.http, r.appt).await.unwrap_err();
    assert_eq!(again.to_string(), "Cannot end a consultation with status: completed");
}

#[tokio::test]
async fn states_move_once_each_way_with_the_exact_sentences() {
    let r = rig().await;
    let c = r.clinic().consultations();
    assert_eq!(r.status(&r.desk).state, ConsultationState::Scheduled);
    let not_yet = c.end(&r.okafor, &r.http, r.appt).await.unwrap_err();
    assert_eq!(not_yet.to_string(), "Cannot end a consultation with status: scheduled");
    assert_eq!(not_yet.code(), ErrorCode::Conflict);
    assert_eq!(
        c.token(&r.okafor, r.appt).unwrap_err().to_string(),
        "Cannot join a consultation with status: scheduled"
    );

    r.start().await.unwrap();
    assert_eq!(r.start().await.unwrap_err().to_string(), "Cannot start a consultation with status: in-progress");
    let ended = r.end().await.unwrap();
    assert_eq!(ended.state, ConsultationState::Completed);
    assert!(ended.ended_at.is_some());
    assert_eq!(r.end().await.unwrap_err().to_string(), "Cannot end a consultation with status: completed");
    assert_eq!(r.start().await.unwrap_err().to_string(), "Cannot start a consultation with status: completed");
    // The visit happened: the appointment is completed too.
    let appointment = r.clinic().appointments().get(&r.desk, r.appt).unwrap();
    assert_eq!(appointment.status.as_str(), "completed");
    let actions = r.audit_actions();
    for action in ["consultation.start", "consultation.end"] {
        assert_eq!(actions.iter().filter(|a| *a == action).count(), 1, "{action}: {actions:?}");
    }

    // A cancelled appointment cannot start.
    let (later, _) = r.book("14:00", 30, AppointmentKind::Video);
    r.clinic().appointments().cancel(&r.desk, later, "Patient called to cancel", None).unwrap();
    let err = c.start(&r.okafor, &r.http, later).await.unwrap_err();
    assert_eq!(err.to_string(), "Cannot start a consultation with status: cancelled");
    assert_eq!(c.status(&r.desk, later).unwrap().state, ConsultationState::Cancelled);
}

#[tokio::test]
async fn twilio_gets_an_opaque_group_room_and_a_conversation_with_both_participants() {
    let r = rig().await;
    r.start().await.unwrap();
    let rooms = r.rooms();
    assert_eq!(rooms.len(), 1);
    let room = &rooms[0];
    assert!(room.unique_name.starts_with("cd-") && room.unique_name.len() == 35, "{}", room.unique_name);
    assert_eq!(
        (room.kind.as_str(), room.max_participants, room.media_region.as_str()),
        ("group", 3, "ie1"),
        "group room, participant limit, media region from the settings"
    );
    assert!(!room.record_on_connect && !room.recording, "recording is off");
    assert_eq!((room.empty_timeout, room.unused_timeout), (Some(15), Some(60)));
    let chats = r.conversations();
    assert_eq!(chats.len(), 1);
    let chat = &chats[0];
    assert_eq!(chat.unique_name.as_deref(), Some(room.unique_name.as_str()));
    assert_eq!(chat.friendly_name.as_deref(), Some("Consultation"));
    assert_eq!(chat.participants.len(), 2);
    let roles: Vec<&str> = chat.participants.iter().map(|p| p.attributes.as_str()).collect();
    assert_eq!(roles, [r#"{"role":"doctor"}"#, r#"{"role":"patient"}"#]);
    // Nothing Twilio sees names anyone.
    let seen = format!("{room:?} {chat:?}");
    let appointment_id = r.appt.to_string();
    for private in ["Olivia", "Smith", "okafor", "Test Doctor", r.booking_ref.as_str(), appointment_id.as_str(), "+44"]
    {
        assert!(!seen.contains(private), "Twilio was told {private:?}: {seen}");
    }
}

#[tokio::test]
async fn the_doctors_token_is_for_the_consultation_only_and_lives_for_the_slot() {
    let r = rig().await;
    let c = r.clinic().consultations();
    r.start().await.unwrap();
    let token = c.token(&r.okafor, r.appt).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let key = jsonwebtoken::DecodingKey::from_secret(fake::API_KEY_SECRET.as_bytes());
    let claims = jsonwebtoken::decode::<serde_json::Value>(&token.token, &key, &validation).unwrap().claims;
    let room = r.rooms()[0].unique_name.clone();
    assert_eq!(claims["grants"]["video"]["room"], room.as_str());
    assert_eq!(claims["grants"]["chat"]["service_sid"], fake::CHAT_SERVICE_SID);
    let identity = claims["grants"]["identity"].as_str().unwrap();
    assert_eq!(identity, token.identity);
    assert!(identity.starts_with("d-") && !identity.contains('@') && !identity.contains("okafor"), "{identity}");
    assert!(r.conversations()[0].participants.iter().any(|p| p.identity == identity), "the chat knows this identity");
    assert_eq!((claims["sub"].as_str(), claims["iss"].as_str()), (Some(fake::ACCOUNT_SID), Some(fake::API_KEY_SID)));
    // 08:00 now, the slot ends 09:30: until 10:00.
    let ttl = claims["exp"].as_i64().unwrap() - claims["nbf"].as_i64().unwrap();
    assert_eq!(ttl, 2 * 3600);
    assert_eq!(token.ttl_seconds, 7200);
    // Running over: never less than the margin.
    r.t.advance(Duration::hours(3));
    assert_eq!(c.token(&r.okafor, r.appt).unwrap().ttl_seconds, 30 * 60);
    let minted = r.audit_actions().iter().filter(|a| *a == "twilio.token").count();
    assert_eq!(minted, 2, "each mint is audited");

    // A long slot is capped at four hours; the free-form token is an administrator's diagnostic.
    let (long, _) = r.book("16:00", 480, AppointmentKind::Video);
    c.start(&r.okafor, &r.http, long).await.unwrap();
    assert_eq!(c.token(&r.okafor, long).unwrap().ttl_seconds, 4 * 3600);
    let free = r.clinic().twilio().access_token(&r.okafor, "anyone", Some(&room), true, None);
    assert_eq!(free.unwrap_err().code(), ErrorCode::Forbidden);
    assert!(r.clinic().twilio().access_token(&r.admin, "diagnostic-1", None, false, None).is_ok());
}

#[tokio::test]
async fn a_window_whose_call_runs_elsewhere_gets_a_chat_only_token() {
    let r = rig().await;
    let c = r.clinic().consultations();
    assert_eq!(
        c.chat_token(&r.okafor, r.appt).unwrap_err().to_string(),
        "Cannot join a consultation with status: scheduled"
    );
    r.start().await.unwrap();
    assert_eq!(c.chat_token(&r.other, r.appt).unwrap_err().code(), ErrorCode::Forbidden);
    let token = c.chat_token(&r.okafor, r.appt).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let key = jsonwebtoken::DecodingKey::from_secret(fake::API_KEY_SECRET.as_bytes());
    let claims = jsonwebtoken::decode::<serde_json::Value>(&token.token, &key, &validation).unwrap().claims;
    assert!(claims["grants"].get("video").is_none(), "no Video grant: {claims}");
    assert_eq!(claims["grants"]["chat"]["service_sid"], fake::CHAT_SERVICE_SID);
    assert_eq!(claims["grants"]["identity"], token.identity.as_str());
    // 08:00 now, the slot ends 09:30: the call token would live 2 h; the chat's at most one.
    assert_eq!(token.ttl_seconds, clinicdesk_core::consultations::CHAT_TOKEN_MAX_SECONDS);
    assert!(r.audit_actions().iter().any(|a| a == "twilio.token"), "chat-only mints are audited too");
}

#[tokio::test]
async fn chat_replies_come_from_the_clinics_templates_filled_in_for_the_patient() {
    let r = rig().await;
    let c = r.clinic().consultations();
    let replies = c.quick_replies(&r.okafor, r.appt).unwrap();
    assert_eq!(replies.len(), 4, "{replies:?}");
    assert!(replies.contains(&"Hello Olivia, I will be with you in a minute.".to_owned()), "{replies:?}");
    let name = clinicdesk_core::sms::templates::TemplateName::parse("camera_off").unwrap();
    r.clinic().templates().set(&r.admin, name, "{doctor} here, {first_name}: please switch your camera on.").unwrap();
    let replies = c.quick_replies(&r.okafor, r.appt).unwrap();
    let edited = format!("{} here, Olivia: please switch your camera on.", r.doctor.full_name);
    assert!(replies.contains(&edited), "the clinic's own wording is used: {replies:?}");
    // Another doctor's consultation, or reception: refused like the chat itself.
    assert_eq!(c.quick_replies(&r.other, r.appt).unwrap_err().code(), ErrorCode::Forbidden);
    assert_eq!(c.quick_replies(&r.desk, r.appt).unwrap_err().code(), ErrorCode::Forbidden);
    // A chat reply is never offered, nor sent, as a text to a patient.
    let texted = r.clinic().appointment_texts().quick_text_for(&r.desk, name, r.patient.id);
    assert_eq!(texted.unwrap_err().field(), Some("template"));
}

#[tokio::test]
async fn chat_reads_and_the_record_kept_at_the_end_need_no_network_afterwards() {
    let mut r = rig().await;
    let c = r.clinic().consultations();
    let before = c.messages(&r.okafor, &r.http, r.appt).await.unwrap();
    assert!(before.messages.is_empty() && !before.closed);
    assert_eq!(
        c.send(&r.okafor, &r.http, r.appt, "Hello").await.unwrap_err().to_string(),
        "The chat opens when you start the consultation."
    );
    r.start().await.unwrap();
    let token = c.token(&r.okafor, r.appt).unwrap();
    let chat = r.conversations()[0].clone();
    let patient = chat.participants.iter().find(|p| p.identity != token.identity).unwrap().identity.clone();
    r.fake.connect(&token.room, &token.identity);
    r.fake.connect(&token.room, &patient);

    let sent = c.send(&r.okafor, &r.http, r.appt, "Good morning, can you hear me?").await.unwrap();
    assert_eq!((sent.index, sent.author), (0, ParticipantRole::Doctor));
    r.fake.add_chat_message(&chat.sid, &patient, "Yes, loud and clear.");
    let photo = serde_json::json!([{ "sid": "ME11111111111111111111111111111111", "content_type": "image/jpeg",
                                     "filename": "rash.jpg", "size": 48213, "category": "media" }]);
    assert!(r.fake.add_chat_media(&chat.sid, &patient, None, photo));
    r.fake.read_up_to(&chat.sid, &patient, 0);
    let view = c.messages(&r.okafor, &r.http, r.appt).await.unwrap();
    let authors: Vec<ParticipantRole> = view.messages.iter().map(|m| m.author).collect();
    assert_eq!(authors, [ParticipantRole::Doctor, ParticipantRole::Patient, ParticipantRole::Patient]);
    assert_eq!(view.messages[2].media[0].filename.as_deref(), Some("rash.jpg"));
    assert_eq!((view.patient_read_index, view.doctor_read_index), (Some(0), None));
    assert_eq!(c.mark_read(&r.okafor, &r.http, r.appt).await.unwrap(), Some(2));
    let me = r.conversations()[0].participants.iter().find(|p| p.identity == token.identity).cloned().unwrap();
    assert_eq!(me.last_read_message_index, Some(2), "the patient sees the read receipt");
    assert_eq!(c.messages(&r.okafor, &r.http, r.appt).await.unwrap().doctor_read_index, Some(2));
    assert!(c.send(&r.okafor, &r.http, r.appt, " ").await.is_err());
    assert!(c.send(&r.okafor, &r.http, r.appt, &"x".repeat(1601)).await.is_err());

    r.fake.disconnect(&token.room, &patient, 600);
    let ended = r.end().await.unwrap();
    assert_eq!(r.rooms()[0].status, "completed");
    assert_eq!(r.conversations()[0].state, "closed");
    let mut people: Vec<(ParticipantRole, Option<i64>)> =
        ended.participants.iter().map(|p| (p.role, p.seconds)).collect();
    people.sort_by_key(|p| p.0 == ParticipantRole::Patient);
    assert_eq!(people.len(), 2);
    assert_eq!(people[0].0, ParticipantRole::Doctor);
    assert_eq!(people[1], (ParticipantRole::Patient, Some(600)));
    assert!(ended.participants.iter().all(|p| p.joined_at.is_some() && p.left_at.is_some()));
    assert!(r.audit_actions().contains(&"consultation.message".to_owned()));

    // Twilio gone: the kept chat is still there, after a restart too.
    let fake_url = r.fake.url();
    drop(std::mem::replace(&mut r.fake, fake::FakeTwilio::start().await));
    r.http = http_to(&fake_url);
    r.restart();
    let c = r.clinic().consultations();
    let kept = c.messages(&r.okafor, &r.http, r.appt).await.unwrap();
    assert!(kept.closed);
    assert_eq!(kept.messages, view.messages, "the whole transcript, as it was");
    assert_eq!(r.status(&r.okafor).participants.len(), 2);
    let err = c.send(&r.okafor, &r.http, r.appt, "one more thing").await.unwrap_err();
    assert_eq!(err.to_string(), "Cannot chat in a consultation with status: completed");
}

#[tokio::test]
async fn consent_and_notes_are_the_doctors_and_work_without_twilio() {
    let r = rig_with(false).await;
    let c = r.clinic().consultations();
    let err = r.start().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Unavailable);
    assert!(err.to_string().starts_with("Video consultations need Twilio, so the video consultation has not started. Twilio is not set up on this computer."), "{err}");
    assert!(err.to_string().ends_with("You can write your notes meanwhile."), "{err}");
    let typed = "  Seen by phone instead.\n\tBP 120/80  ";
    let saved = c.note(&r.okafor, r.appt, typed).unwrap();
    assert_eq!(saved.notes.as_deref(), Some(typed), "saved exactly as typed");
    assert_eq!(saved.state, ConsultationState::Scheduled);
    assert!(!saved.starting, "no start was recorded: Twilio was not set up");

    assert!(r.status(&r.okafor).recording_consent_at.is_none());
    let consented = c.consent_to_recording(&r.okafor, r.appt).unwrap();
    assert_eq!(consented.recording_consent_at, Some(r.now()));
    r.t.advance(Duration::minutes(5));
    let again = c.consent_to_recording(&r.okafor, r.appt).unwrap();
    assert_eq!(again.recording_consent_at, consented.recording_consent_at, "the first agreement is kept");
    assert_eq!(c.consent_to_recording(&r.other, r.appt).unwrap_err().code(), ErrorCode::Forbidden);
    let actions = r.audit_actions();
    assert_eq!(actions.iter().filter(|a| *a == "consultation.recording_consent").count(), 1, "{actions:?}");
    assert!(actions.contains(&"consultation.note".to_owned()));
    assert_eq!(r.status(&r.desk).recording_consent_at, consented.recording_consent_at);
    assert!(c.note(&r.okafor, r.appt, &"x".repeat(100_001)).is_err());
    // Saved on every pause in typing, audited once per ten minutes.
    let noted = |r: &Rig| r.audit_actions().iter().filter(|a| *a == "consultation.note").count();
    c.note(&r.okafor, r.appt, "  Seen by phone instead.\n\tBP 120/80, pulse 72").unwrap();
    assert_eq!(noted(&r), 1);
    r.t.advance(Duration::minutes(6));
    c.note(&r.okafor, r.appt, "Seen by phone instead. BP 120/80, pulse 72. Review in a week.").unwrap();
    assert_eq!(noted(&r), 2);
}

#[tokio::test]
async fn recording_is_switched_on_only_after_consent_and_stops_at_the_end() {
    let r = rig().await;
    let c = r.clinic().consultations();
    let err = c.set_recording(&r.okafor, &r.http, r.appt, true).await.unwrap_err();
    assert_eq!(err.to_string(), "Cannot record a consultation with status: scheduled");
    r.start().await.unwrap();
    let err = c.set_recording(&r.okafor, &r.http, r.appt, true).await.unwrap_err();
    assert_eq!(err.to_string(), "Record the patient's agreement first: a consultation is never recorded without it.");
    assert!(!r.rooms()[0].recording);
    c.consent_to_recording(&r.okafor, r.appt).unwrap();
    assert!(c.recordings(&r.okafor, &r.http, r.appt).await.unwrap().is_empty(), "nothing recorded yet");
    let room = r.rooms()[0].unique_name.clone();
    r.fake.connect(&room, "someone-in-the-room");
    assert_eq!(c.set_recording(&r.other, &r.http, r.appt, true).await.unwrap_err().code(), ErrorCode::Forbidden);
    assert!(c.set_recording(&r.okafor, &r.http, r.appt, true).await.unwrap().recording);
    let listed = c.recordings(&r.okafor, &r.http, r.appt).await.unwrap();
    let kinds: Vec<(&str, &str)> = listed.iter().map(|x| (x.kind.as_str(), x.status.as_str())).collect();
    assert_eq!(kinds, [("audio", "processing"), ("video", "processing")], "one track each while recording");
    assert_eq!(c.recordings(&r.other, &r.http, r.appt).await.unwrap_err().code(), ErrorCode::Forbidden);
    assert!(r.rooms()[0].recording, "the room's Recording Rules include everyone");
    assert!(!c.set_recording(&r.okafor, &r.http, r.appt, false).await.unwrap().recording);
    assert!(!r.rooms()[0].recording);
    c.set_recording(&r.okafor, &r.http, r.appt, true).await.unwrap();
    let ended = r.end().await.unwrap();
    assert!(!ended.recording, "it stops at the end");
    assert_eq!(r.rooms()[0].status, "completed");
    let kept = c.recordings(&r.okafor, &r.http, r.appt).await.unwrap();
    assert_eq!(kept.len(), 4, "two stretches of recording, audio and video each");
    assert!(kept.iter().all(|x| x.status == "completed" && x.seconds.is_some()), "{kept:?}");
    let switched = r.audit_actions().iter().filter(|a| *a == "consultation.recording").count();
    assert_eq!(switched, 3);
}
