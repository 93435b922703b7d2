//! Rooms, Conversations and the credential check against the fake Twilio over real HTTP.
use clinicdesk_core::twilio::check::{check, Health};
use clinicdesk_core::twilio::config::{TwilioAccount, TwilioSettings};
use clinicdesk_core::twilio::rooms::{self, RoomOptions};
use clinicdesk_core::twilio::{conversations, Endpoints, TwilioHttp};
use clinicdesk_twilio_fake::{self as fake, FakeTwilio, Fault, Route};
use serde_json::json;

fn account() -> TwilioAccount {
    TwilioAccount {
        settings: TwilioSettings {
            account_sid: fake::ACCOUNT_SID.into(),
            api_key_sid: fake::API_KEY_SID.into(),
            from: Some(fake::FROM_NUMBER.into()),
            messaging_service_sid: None,
            conversations_service_sid: None,
            media_region: Some("ie1".into()),
        },
        auth_token: Some(fake::AUTH_TOKEN.into()),
        api_key_secret: fake::API_KEY_SECRET.into(),
    }
}

async fn setup() -> (FakeTwilio, TwilioHttp) {
    let fake = FakeTwilio::start().await;
    let http = TwilioHttp::new(Endpoints::all_at(&fake.url()));
    (fake, http)
}

#[tokio::test]
async fn starting_a_room_twice_reuses_the_live_room_and_completing_ends_it() {
    let (_fake, http) = setup().await;
    let first = rooms::create_or_reuse(&http, &account(), "appt-42", &RoomOptions::default()).await.unwrap();
    assert!(first.sid.starts_with("RM") && first.status == "in-progress");
    let again = rooms::create_or_reuse(&http, &account(), "appt-42", &RoomOptions::default()).await.unwrap();
    assert_eq!(again.sid, first.sid, "53113 means fetch and reuse");
    let done = rooms::complete(&http, &account(), &first.sid).await.unwrap();
    assert_eq!(done.status, "completed");
    let next = rooms::create_or_reuse(&http, &account(), "appt-42", &RoomOptions::default()).await.unwrap();
    assert_ne!(next.sid, first.sid, "a completed room's name can be used again");
}

#[tokio::test]
async fn every_page_of_participants_is_read() {
    let (fake, http) = setup().await;
    let room = rooms::create_or_reuse(&http, &account(), "appt-7", &RoomOptions::default()).await.unwrap();
    for i in 0..120 {
        fake.add_participant(&room.sid, &format!("identity-{i}"), 60 + i);
    }
    let people = rooms::participants(&http, &account(), &room.sid).await.unwrap();
    assert_eq!(people.len(), 120);
    assert_eq!(people[119].identity, "identity-119");
    assert_eq!(people[0].duration, Some(60));
    let pages = fake.requests().iter().filter(|r| r.ends_with("/Participants")).count();
    assert_eq!(pages, 3, "50 + 50 + 20");
}

#[tokio::test]
async fn a_conversation_is_made_once_participants_added_once_and_the_whole_transcript_read() {
    let (fake, http) = setup().await;
    let attributes = json!({ "appointment": "a1" });
    let c = conversations::ensure(&http, &account(), "consult-a1", "Consultation", &attributes).await.unwrap();
    let again = conversations::ensure(&http, &account(), "consult-a1", "Consultation", &attributes).await.unwrap();
    assert_eq!(c.sid, again.sid);
    conversations::add_participant(&http, &account(), &c.sid, "doctor-1").await.unwrap();
    conversations::add_participant(&http, &account(), &c.sid, "doctor-1").await.unwrap();
    conversations::add_participant(&http, &account(), &c.sid, "patient-1").await.unwrap();
    for i in 0..230 {
        fake.add_chat_message(&c.sid, if i % 2 == 0 { "doctor-1" } else { "patient-1" }, &format!("message {i}"));
    }
    let transcript = conversations::transcript(&http, &account(), &c.sid).await.unwrap();
    assert_eq!(transcript.len(), 230);
    assert_eq!(transcript.iter().map(|m| m.index).collect::<Vec<_>>(), (0..230).collect::<Vec<_>>());
    assert_eq!(transcript[1].author.as_deref(), Some("patient-1"));
    assert!(transcript[0].participant_sid.as_deref().unwrap().starts_with("MB"));
}

#[tokio::test]
async fn a_healthy_setup_checks_out_in_every_part() {
    let (_fake, http) = setup().await;
    let health = check(&http, &account(), chrono::Utc::now()).await;
    assert_eq!(health.overall, Health::Ok, "{health:?}");
    assert_eq!(
        health.items.iter().map(|i| i.part.as_str()).collect::<Vec<_>>(),
        ["Account", "API key", "Sender", "Conversations"]
    );
    assert_eq!(
        health.conversations_service_sid.as_deref(),
        Some(fake::CHAT_SERVICE_SID),
        "the account's default service"
    );
}

#[tokio::test]
async fn each_broken_part_is_explained() {
    let (fake, http) = setup().await;
    fake.set_account("active", "Trial");
    let mut wrong = account();
    wrong.api_key_secret = "not the secret".into();
    wrong.settings.from = Some("+15005550009".into());
    let health = check(&http, &wrong, chrono::Utc::now()).await;
    let says = |part: &str| health.items.iter().find(|i| i.part == part).unwrap().clone();
    assert_eq!(says("Account").health, Health::Warning);
    assert!(says("Account").message.contains("trial account"));
    assert_eq!(says("API key").health, Health::Problem);
    assert!(says("API key").message.contains("Twilio 20003"));
    assert_eq!(says("Sender").health, Health::Problem);
    assert!(says("Sender").message.contains("does not own +15005550009"));
    assert_eq!(health.overall, Health::Problem);
    assert!(!health.offline, "Twilio answered, refusing: not offline");

    fake.set_account("suspended", "Full");
    let health = check(&http, &account(), chrono::Utc::now()).await;
    assert!(health.items[0].message.contains("is suspended"));
}

#[tokio::test]
async fn an_unreachable_twilio_is_reported_not_hung_on() {
    let mut http = TwilioHttp::new(Endpoints::all_at("http://127.0.0.1:9"));
    http.retry = clinicdesk_core::twilio::http::RetryPolicy {
        max_attempts: 2,
        base_delay: std::time::Duration::from_millis(10),
        max_delay: std::time::Duration::from_millis(20),
    };
    let health = check(&http, &account(), chrono::Utc::now()).await;
    assert_eq!(health.overall, Health::Problem);
    assert!(health.items.iter().all(|i| i.message.contains("could not be reached")), "{health:?}");
    assert!(health.offline, "no answer at all: the app says it is offline");
}

#[tokio::test]
async fn gets_are_retried_through_throttling_and_outages() {
    let (fake, http) = setup().await;
    let room = rooms::create_or_reuse(&http, &account(), "appt-9", &RoomOptions::default()).await.unwrap();
    fake.inject(Route::ListParticipants, Fault::TooManyRequests { retry_after_secs: 0 });
    fake.inject(Route::ListParticipants, Fault::Unavailable);
    assert!(rooms::participants(&http, &account(), &room.sid).await.unwrap().is_empty());
}
