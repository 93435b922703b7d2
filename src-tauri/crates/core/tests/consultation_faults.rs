//! Consultations when Twilio fails or the app stops: at each step of start and end, the next press
//! continues from what was recorded and never makes a second room, conversation or participant;
//! a doctor whose app restarts mid-call rejoins the same room.

mod common;
mod consultation_rig;

use clinicdesk_core::consultations::ConsultationState;
use clinicdesk_core::error::ErrorCode;
use clinicdesk_twilio_fake::{Fault, Route};
use consultation_rig::*;

/// After a full start: one room, one conversation, two participants, in progress.
fn exactly_one_of_each(r: &Rig) {
    assert_eq!(r.rooms().len(), 1, "{:?}", r.rooms());
    let chats = r.conversations();
    assert_eq!(chats.len(), 1, "{chats:?}");
    assert_eq!(chats[0].participants.len(), 2, "{:?}", chats[0].participants);
    assert_eq!(r.status(&r.desk).state, ConsultationState::InProgress);
}

#[tokio::test]
async fn a_start_that_fails_at_any_step_is_continued_by_the_next_without_duplicates() {
    let steps: [(Route, Fault, &str); 6] = [
        (Route::CreateRoom, Fault::Unavailable, "Twilio had a problem of its own"),
        (Route::CreateRoom, Fault::DropAfterProcessing, "Twilio did not answer in time"),
        (Route::CreateConversation, Fault::ErrorAfterProcessing { status: 502 }, "Twilio had a problem of its own"),
        (Route::CreateConversation, Fault::TooManyRequests { retry_after_secs: 0 }, "Twilio is busy"),
        (Route::AddParticipant, Fault::DropAfterProcessing, "Twilio did not answer in time"),
        (
            Route::AddParticipant,
            Fault::Error { status: 401, code: 20003, message: "Authenticate".into() },
            "The video consultation has not started: Twilio refused ClinicDesk's credentials (Twilio 20003).",
        ),
    ];
    for (route, fault, words) in steps {
        let r = rig().await;
        // A 429 is retried once by the client: make both attempts fail.
        if matches!(fault, Fault::TooManyRequests { .. }) {
            r.fake.inject(route, fault.clone());
        }
        r.fake.inject(route, fault.clone());
        let err = r.start().await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Unavailable, "{route:?}");
        assert!(err.to_string().starts_with(words), "{route:?} {fault:?}: {err}");
        assert!(err.to_string().contains("Press Start again"), "{err}");
        let status = r.status(&r.okafor);
        assert_eq!(status.state, ConsultationState::Scheduled, "{route:?}");
        assert!(status.starting, "{route:?}: the intent is recorded");
        // Notes still work while Twilio does not.
        r.clinic().consultations().note(&r.okafor, r.appt, "Patient could not connect at first.").unwrap();

        let started = r.start().await.unwrap();
        assert_eq!(started.state, ConsultationState::InProgress, "{route:?}");
        assert!(!started.starting);
        exactly_one_of_each(&r);
        let starts = r.audit_actions().iter().filter(|a| *a == "consultation.start").count();
        assert_eq!(starts, 1, "{route:?}");
    }
}

#[tokio::test]
async fn without_a_connection_the_doctor_is_told_and_can_still_write_notes() {
    let mut r = rig().await;
    r.http = http_to("http://127.0.0.1:9");
    let err = r.start().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "ClinicDesk could not reach Twilio (no internet connection?), so the video consultation has not started. Press Start again: it carries on from where it stopped. You can write your notes meanwhile."
    );
    let saved = r.clinic().consultations().note(&r.okafor, r.appt, "Phoned the patient instead.").unwrap();
    assert_eq!(saved.notes.as_deref(), Some("Phoned the patient instead."));
    r.http = http_to(&r.fake.url());
    r.start().await.unwrap();
    exactly_one_of_each(&r);
}

#[tokio::test]
async fn an_end_twilio_refuses_at_any_step_is_finished_by_the_next() {
    // GETs are retried by the client: enough faults to outlast its two attempts.
    let steps: [(Route, Fault, usize); 3] = [
        (Route::UpdateRoom, Fault::Unavailable, 1),
        (Route::UpdateConversation, Fault::ErrorAfterProcessing { status: 500 }, 1),
        (Route::ListParticipants, Fault::Unavailable, 2),
    ];
    for (route, fault, times) in steps {
        let r = rig().await;
        r.start().await.unwrap();
        let room = r.rooms()[0].sid.clone();
        let chat = r.conversations()[0].sid.clone();
        r.fake.add_participant(&room, "someone", 42);
        r.fake.add_chat_message(&chat, "system", "Welcome");
        for _ in 0..times {
            r.fake.inject(route, fault.clone());
        }
        let err = r.end().await.unwrap_err();
        assert!(err.to_string().contains("the consultation has not finished ending"), "{route:?}: {err}");
        assert!(err.to_string().contains("Press End again"), "{err}");
        assert_eq!(r.status(&r.desk).state, ConsultationState::InProgress, "{route:?}: still in progress");

        let ended = r.end().await.unwrap();
        assert_eq!(ended.state, ConsultationState::Completed, "{route:?}");
        assert!(!ended.record_pending);
        assert_eq!(ended.participants.len(), 1, "{route:?}: kept once");
        let view = r.clinic().consultations().messages(&r.okafor, &r.http, r.appt).await.unwrap();
        assert_eq!(view.messages.len(), 1, "{route:?}");
        assert_eq!((r.rooms().len(), r.rooms()[0].status.as_str()), (1, "completed"));
        assert_eq!(r.conversations()[0].state, "closed");
        let ends = r.audit_actions().iter().filter(|a| *a == "consultation.end").count();
        assert_eq!(ends, 1, "{route:?}");
    }
}

#[tokio::test]
async fn an_end_with_no_answer_at_any_step_completes_here_and_the_next_pass_fetches_the_record() {
    let steps: [(Route, Fault, usize); 2] =
        [(Route::UpdateRoom, Fault::DropAfterProcessing, 1), (Route::ListChatMessages, Fault::DropBeforeProcessing, 2)];
    for (route, fault, times) in steps {
        let r = rig().await;
        r.start().await.unwrap();
        let room = r.rooms()[0].sid.clone();
        let chat = r.conversations()[0].sid.clone();
        r.fake.add_participant(&room, "someone", 42);
        r.fake.add_chat_message(&chat, "system", "Welcome");
        for _ in 0..times {
            r.fake.inject(route, fault.clone());
        }
        let ended = r.end().await.unwrap();
        assert_eq!(ended.state, ConsultationState::Completed, "{route:?}: ended here");
        assert!(ended.record_pending, "{route:?}");
        assert!(ended.participants.is_empty(), "{route:?}: nothing kept yet");

        let clinicdesk_core::twilio::config::AccountState::Ready(account) =
            r.clinic().twilio().account_state().unwrap()
        else {
            panic!("Twilio is set up")
        };
        assert_eq!(r.clinic().consultations().fetch_late_records(&r.http, &account).await.unwrap(), 1, "{route:?}");
        let status = r.status(&r.okafor);
        assert!(!status.record_pending);
        assert_eq!(status.participants.len(), 1, "{route:?}: kept once");
        let view = r.clinic().consultations().messages(&r.okafor, &r.http, r.appt).await.unwrap();
        assert_eq!(view.messages.len(), 1, "{route:?}");
        assert_eq!((r.rooms().len(), r.rooms()[0].status.as_str()), (1, "completed"));
        assert_eq!(r.conversations()[0].state, "closed");
        let ends = r.audit_actions().iter().filter(|a| *a == "consultation.end").count();
        assert_eq!(ends, 1, "{route:?}");
    }
}

#[tokio::test]
async fn a_doctor_whose_app_restarts_mid_call_rejoins_the_same_room() {
    let mut r = rig().await;
    r.start().await.unwrap();
    let before = r.clinic().consultations().token(&r.okafor, r.appt).unwrap();
    r.restart();
    assert_eq!(r.status(&r.okafor).state, ConsultationState::InProgress);
    let after = r.clinic().consultations().token(&r.okafor, r.appt).unwrap();
    assert_eq!((after.room.as_str(), after.identity.as_str()), (before.room.as_str(), before.identity.as_str()));
    assert_eq!(r.start().await.unwrap_err().to_string(), "Cannot start a consultation with status: in-progress");
    exactly_one_of_each(&r);
}

#[tokio::test]
async fn an_app_stopped_half_way_through_a_start_continues_in_the_same_room() {
    let mut r = rig().await;
    // The room is made, then the app dies before the conversation (a lost answer stands for it).
    r.fake.inject(Route::CreateConversation, Fault::DropBeforeProcessing);
    r.start().await.unwrap_err();
    let room = r.rooms()[0].unique_name.clone();
    assert!(r.conversations().is_empty());
    r.restart();
    assert!(r.status(&r.okafor).starting);
    r.start().await.unwrap();
    exactly_one_of_each(&r);
    assert_eq!(r.clinic().consultations().token(&r.okafor, r.appt).unwrap().room, room);
}

#[tokio::test]
async fn a_room_twilio_closed_while_empty_is_opened_again_under_the_same_name() {
    let mut r = rig().await;
    r.start().await.unwrap();
    let first = r.rooms()[0].clone();
    r.fake.add_participant(&first.sid, "p-before", 120);
    // The doctor's computer restarts; the room stays empty too long and Twilio closes it.
    r.fake.close_room(&first.sid);
    r.restart();
    let c = r.clinic().consultations();
    let token = c.rejoin(&r.okafor, &r.http, r.appt).await.unwrap();
    let rooms = r.rooms();
    assert_eq!(rooms.len(), 2);
    assert_eq!((rooms[1].unique_name.as_str(), rooms[1].status.as_str()), (first.unique_name.as_str(), "in-progress"));
    assert_eq!(token.room, first.unique_name, "the same room name: the patient's link still works");
    // Rejoining a live room changes nothing.
    c.rejoin(&r.okafor, &r.http, r.appt).await.unwrap();
    assert_eq!(r.rooms().len(), 2);
    r.fake.add_participant(&rooms[1].sid, "p-after", 300);
    let ended = r.end().await.unwrap();
    let mut seconds: Vec<Option<i64>> = ended.participants.iter().map(|p| p.seconds).collect();
    seconds.sort();
    assert_eq!(seconds, [Some(120), Some(300)], "participants of both rooms are kept");
}

#[tokio::test]
async fn a_start_whose_appointment_is_cancelled_half_way_closes_the_room_and_chat_it_made() {
    let r = rig().await;
    // The patient is being added to the chat slowly; reception cancels meanwhile.
    r.fake.inject(Route::AddParticipant, Fault::SlowAfter(std::time::Duration::from_millis(600)));
    let cancel = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        r.clinic().appointments().cancel(&r.desk, r.appt, "Patient called to cancel", None).unwrap();
    };
    let (started, ()) = tokio::join!(r.start(), cancel);
    let err = started.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict, "{err}");
    assert!(err.to_string().starts_with("Cannot start a consultation with status: cancelled"), "{err}");
    // What the start made at Twilio is closed, not left open with the patient in it.
    let rooms = r.rooms();
    assert_eq!((rooms.len(), rooms[0].status.as_str()), (1, "completed"));
    let chats = r.conversations();
    assert_eq!((chats.len(), chats[0].state.as_str()), (1, "closed"));
    assert!(!r.audit_actions().iter().any(|a| a == "consultation.start"));
}

#[tokio::test]
async fn an_end_during_which_the_room_is_opened_again_keeps_nothing_and_asks_to_be_pressed_again() {
    let r = rig().await;
    r.start().await.unwrap();
    let first = r.rooms()[0].clone();
    // Twilio completes the room, then is slow to answer; meanwhile the doctor's other window
    // rejoins, finds the room closed and opens it again under the same name.
    r.fake.inject(Route::UpdateRoom, Fault::SlowAfter(std::time::Duration::from_millis(600)));
    let rejoin = async {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        r.clinic().consultations().rejoin(&r.okafor, &r.http, r.appt).await.unwrap()
    };
    let (ended, _) = tokio::join!(r.end(), rejoin);
    let err = ended.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict, "{err}");
    assert_eq!(err.to_string(), "The consultation's room was opened again while it was ending. Press End again.");
    assert_eq!(r.status(&r.okafor).state, ConsultationState::InProgress, "nothing kept");
    assert!(!r.audit_actions().iter().any(|a| a == "consultation.end"));
    let rooms = r.rooms();
    assert_eq!(rooms.len(), 2);
    assert_eq!(rooms[0].sid, first.sid);

    // Pressed again: both rooms are completed and the end is kept once.
    let ended = r.end().await.unwrap();
    assert_eq!(ended.state, ConsultationState::Completed);
    assert!(r.rooms().iter().all(|room| room.status == "completed"));
    assert_eq!(r.audit_actions().iter().filter(|a| *a == "consultation.end").count(), 1);
}

#[tokio::test]
async fn a_room_opened_again_by_a_rejoin_after_the_end_is_closed_and_no_token_is_minted() {
    let r = rig().await;
    r.start().await.unwrap();
    // The rejoin reaches Twilio only after the end has finished: Twilio makes a new room.
    r.fake.inject(Route::CreateRoom, Fault::SlowBefore(std::time::Duration::from_millis(800)));
    let end = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        r.end().await.unwrap()
    };
    let c = r.clinic().consultations();
    let (rejoined, ended) = tokio::join!(c.rejoin(&r.okafor, &r.http, r.appt), end);
    assert_eq!(ended.state, ConsultationState::Completed);
    let err = rejoined.unwrap_err();
    assert_eq!(err.to_string(), "Cannot join a consultation with status: completed");
    let rooms = r.rooms();
    assert_eq!(rooms.len(), 2, "the rejoin made a second room");
    assert!(rooms.iter().all(|room| room.status == "completed"), "and it was closed at once");
    assert!(!r.audit_actions().iter().any(|a| a == "twilio.token"), "{:?}", r.audit_actions());
}
