//! The waiting room against the fake Twilio, on the manual clock (08:00, Olivia booked by video with
//! Dr Okafor at 09:00): the invite opens the consultation's conversation with both participants,
//! the patient's page says it is waiting by writing its own participant's attributes (done here
//! over the fake's REST API, as the Conversations SDK would), the day view's list shows it to the
//! right people in the link's window only, and Start admits the patient into the same conversation.

mod common;
mod consultation_rig;

use chrono::Duration;
use clinicdesk_core::appointments::AppointmentKind;
use clinicdesk_core::consultations::{DeviceCheck, KEY_CALL_PAGE_URL};
use clinicdesk_core::error::ErrorCode;
use clinicdesk_twilio_fake::{self as fake, Fault, Route};
use consultation_rig::*;
use uuid::Uuid;

const PAGE: &str = "https://call.clinic.example/video/call.html";

async fn invited(r: &Rig, appointment: Uuid) -> Option<String> {
    let c = r.clinic().consultations();
    let (text, problem) = c.invite_to_waiting_room(&r.desk, &r.http, appointment).await.unwrap();
    assert_eq!(text.appointment_id, Some(appointment));
    problem
}

fn ready(r: &Rig) {
    r.clinic().settings().set(&r.admin, KEY_CALL_PAGE_URL, PAGE).unwrap();
    r.clinic().patients().record_consent(&r.desk, r.patient.id, true).unwrap();
}

/// What the patient's page does through the SDK: write its own participant's attributes.
async fn patient_page_says(r: &Rig, attributes: serde_json::Value) {
    let conversation = r.conversations().into_iter().last().expect("the waiting room's conversation");
    let me = conversation.participants.iter().find(|p| p.identity.starts_with("p-")).expect("the patient is in it");
    let url = format!("{}/v1/Conversations/{}/Participants/{}", r.fake.url(), conversation.sid, me.sid);
    let answer = reqwest::Client::new()
        .post(url)
        .basic_auth(fake::API_KEY_SID, Some(fake::API_KEY_SECRET))
        .form(&[("Attributes", attributes.to_string())])
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
}

async fn waiting(r: &Rig, who: &clinicdesk_core::auth::Caller) -> Vec<clinicdesk_core::consultations::WaitingPatient> {
    r.clinic().consultations().waiting_patients(who, &r.http).await.unwrap()
}

#[tokio::test]
async fn a_waiting_patient_shows_in_the_day_view_and_start_admits_them_into_the_same_chat() {
    let r = rig().await;
    ready(&r);
    assert!(waiting(&r, &r.okafor).await.is_empty());
    assert!(r.fake.requests().is_empty(), "nothing to ask Twilio while no waiting room is open");

    assert_eq!(invited(&r, r.appt).await, None);
    let conversations = r.conversations();
    assert_eq!(conversations.len(), 1, "the invite opened the waiting room's conversation");
    assert_eq!(conversations[0].participants.len(), 2, "doctor and patient are in it before the start");
    let roles: Vec<Option<String>> = conversations[0].participants.iter().map(|p| p.role_sid.clone()).collect();
    assert!(roles.contains(&None), "the doctor has the service's default role: {roles:?}");
    assert!(roles.iter().flatten().any(|r| r.starts_with("RL")), "the patient has the patient role: {roles:?}");
    assert!(waiting(&r, &r.okafor).await.is_empty(), "the patient has not opened the page yet");

    // 08:50: the patient passed the device check and waits.
    r.t.advance(Duration::minutes(50));
    let since = r.now() - Duration::seconds(20);
    patient_page_says(
        &r,
        serde_json::json!({ "role": "patient", "waiting_since": since.to_rfc3339(), "device_check": "passed" }),
    )
    .await;
    let seen = waiting(&r, &r.okafor).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!((seen[0].appointment_id, seen[0].since, seen[0].device_check), (r.appt, since, DeviceCheck::Passed));
    assert_eq!(seen[0].patient_name, "Olivia Smith");
    assert_eq!(seen[0].doctor_name, r.doctor.full_name);
    assert_eq!((seen[0].local_start.as_str(), seen[0].is_own), ("09:00", true));
    let at_desk = waiting(&r, &r.desk).await;
    assert_eq!(at_desk.len(), 1, "reception sees every waiting patient");
    assert!(!at_desk[0].is_own, "and cannot start it");
    assert!(waiting(&r, &r.other).await.is_empty(), "another doctor does not see Dr Okafor's patient");

    // A second invite (the patient lost the text) keeps the same waiting room.
    assert_eq!(invited(&r, r.appt).await, None);
    assert_eq!(r.conversations().len(), 1);

    // Start: the same conversation, nobody added twice, and the patient is no longer waiting.
    r.start().await.unwrap();
    let after = r.conversations();
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].participants.len(), 2);
    assert!(waiting(&r, &r.okafor).await.is_empty(), "admitted: the call runs");
}

#[tokio::test]
async fn only_a_patient_on_the_page_in_the_links_window_is_waiting() {
    let r = rig().await;
    ready(&r);
    let (later, _) = r.book("11:00", 30, AppointmentKind::Video);
    assert_eq!(invited(&r, later).await, None);
    let at = r.now().to_rfc3339();
    patient_page_says(&r, serde_json::json!({ "waiting_since": at, "device_check": "camera_off" })).await;
    assert!(waiting(&r, &r.okafor).await.is_empty(), "08:00 is before the 11:00 link opens (10:45)");
    r.t.advance(Duration::minutes(170)); // 10:50
    let seen = waiting(&r, &r.okafor).await;
    assert_eq!((seen.len(), seen[0].device_check), (1, DeviceCheck::CameraOff));

    // The patient closed the page: left after they began waiting.
    let left = r.now().to_rfc3339();
    patient_page_says(&r, serde_json::json!({ "waiting_since": at, "left_at": left })).await;
    assert!(waiting(&r, &r.okafor).await.is_empty());

    // Far past the slot's end and margin (11:30 + 30 min), a stale "waiting" is not shown.
    patient_page_says(&r, serde_json::json!({ "waiting_since": r.now().to_rfc3339() })).await;
    assert_eq!(waiting(&r, &r.okafor).await.len(), 1);
    r.t.advance(Duration::minutes(75)); // 12:05
    assert!(waiting(&r, &r.okafor).await.is_empty());
}

#[tokio::test]
async fn twilio_failing_at_the_invite_still_sends_the_link_and_the_start_opens_the_chat() {
    let r = rig().await;
    ready(&r);
    // A POST that may have been acted on is not repeated: one failure is the invite's answer.
    r.fake.inject(Route::CreateConversation, Fault::Error { status: 500, code: 20500, message: "Internal".into() });
    let problem = invited(&r, r.appt).await.expect("the waiting room did not open, and says so");
    assert!(problem.contains("Twilio had a problem of its own"), "{problem}");
    assert!(problem.contains("the patient joins when you press Start"), "{problem}");
    assert!(waiting(&r, &r.okafor).await.is_empty(), "no waiting room to look in");

    r.start().await.unwrap();
    assert_eq!(r.conversations().len(), 1);
    assert_eq!(r.conversations()[0].participants.len(), 2);
}

#[tokio::test]
async fn a_waiting_room_that_cannot_be_read_says_why_and_who_may_open_one() {
    let r = rig().await;
    ready(&r);
    assert_eq!(invited(&r, r.appt).await, None);
    r.t.advance(Duration::minutes(50)); // 08:50: the link works, so the room is looked in
    r.fake.inject(Route::ListChatParticipants, Fault::Unavailable);
    r.fake.inject(Route::ListChatParticipants, Fault::Unavailable);
    let err = r.clinic().consultations().waiting_patients(&r.okafor, &r.http).await.unwrap_err();
    assert!(err.to_string().contains("the day view cannot say when they wait"), "{err}");

    let refused = r.clinic().consultations().open_waiting_room(&r.other, &r.http, r.appt).await.unwrap_err();
    assert_eq!(refused.code(), ErrorCode::Forbidden, "another doctor");
}

#[tokio::test]
async fn after_a_move_the_old_links_waiting_room_is_let_go() {
    let r = rig().await;
    ready(&r);
    assert_eq!(invited(&r, r.appt).await, None);
    let old = r.conversations()[0].clone();
    let old_patient = old.participants.iter().find(|p| p.identity.starts_with("p-")).unwrap().identity.clone();
    let version = r.clinic().appointments().get(&r.desk, r.appt).unwrap().version;
    let request = clinicdesk_core::appointments::RescheduleRequest {
        date: "2026-03-02".into(),
        time: "10:00".into(),
        minutes: None,
        expected_version: Some(version),
    };
    r.clinic().appointments().reschedule(&r.desk, r.appt, request).unwrap();

    // The old link's patient waiting in the old conversation is nobody's business now.
    r.t.advance(Duration::minutes(110)); // 09:50, inside the new link's window
    patient_page_says(&r, serde_json::json!({ "waiting_since": r.now().to_rfc3339() })).await;
    assert!(waiting(&r, &r.okafor).await.is_empty(), "the old waiting room is not looked in");

    assert_eq!(invited(&r, r.appt).await, None);
    r.start().await.unwrap();
    let now = r.conversations();
    assert_eq!(now.len(), 2, "a new conversation under the new name");
    let current = now.iter().find(|c| c.sid != old.sid).unwrap();
    assert_ne!(current.unique_name, old.unique_name);
    assert!(current.participants.iter().all(|p| p.identity != old_patient), "the old identity is not let in");
    assert_eq!(r.rooms()[0].unique_name.as_str(), current.unique_name.as_deref().unwrap());
}

#[tokio::test]
async fn one_waiting_room_that_cannot_be_read_does_not_hide_the_others() {
    let r = rig().await;
    ready(&r);
    let (later, _) = r.book("09:30", 30, AppointmentKind::Video);
    assert_eq!(invited(&r, r.appt).await, None);
    assert_eq!(invited(&r, later).await, None);
    r.t.advance(Duration::minutes(80)); // 09:20: both links work
    patient_page_says(&r, serde_json::json!({ "waiting_since": r.now().to_rfc3339(), "device_check": "passed" })).await;
    // The 09:00 waiting room is read first and fails (a GET is tried twice here); the 09:30 one answers.
    r.fake.inject(Route::ListChatParticipants, Fault::Unavailable);
    r.fake.inject(Route::ListChatParticipants, Fault::Unavailable);
    let seen = waiting(&r, &r.okafor).await;
    assert_eq!(seen.iter().map(|w| w.appointment_id).collect::<Vec<_>>(), vec![later]);
}
