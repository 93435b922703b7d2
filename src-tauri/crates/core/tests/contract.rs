//! Contract: every kind of request the core makes to Twilio, sent for real to Prism mocks of
//! Twilio's official OpenAPI specs (../shared/twilio-oai). Prism answers 422 to a request that
//! breaks the spec and 401 without basic auth; each call here must succeed, and its answer (the
//! spec's own example) must parse into the core's types.
//!
//! Needs the mocks: run through `scripts/contract.sh` (part of `scripts/test.sh`).

use clinicdesk_core::consultations::{PATIENT_PERMISSIONS, PATIENT_ROLE};
use clinicdesk_core::twilio::check::check;
use clinicdesk_core::twilio::config::{TwilioAccount, TwilioSettings};
use clinicdesk_core::twilio::http::{Auth, RetryPolicy};
use clinicdesk_core::twilio::rooms::{self, RoomOptions};
use clinicdesk_core::twilio::{conversations, messages, messaging, serverless, Endpoints, TwilioError, TwilioHttp};
use std::time::Duration;

const ACCOUNT: &str = "AC00000000000000000000000000000000";
const KEY: &str = "SK11111111111111111111111111111111";

fn prism() -> TwilioHttp {
    let url = |var: &str| std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: run scripts/contract.sh"));
    let mut http = TwilioHttp::new(Endpoints {
        api: url("CLINICDESK_PRISM_API_URL"),
        video: url("CLINICDESK_PRISM_VIDEO_URL"),
        conversations: url("CLINICDESK_PRISM_CONVERSATIONS_URL"),
        messaging: url("CLINICDESK_PRISM_MESSAGING_URL"),
        serverless: url("CLINICDESK_PRISM_SERVERLESS_URL"),
        // Not in Twilio's spec (a host of its own): the fake Twilio's tests cover the upload.
        serverless_upload: "http://127.0.0.1:9".into(),
        // The Media Content Service is not in Twilio's specs either: the fake Twilio's tests cover it.
        media: "http://127.0.0.1:9".into(),
    });
    http.retry =
        RetryPolicy { max_attempts: 1, base_delay: Duration::from_millis(10), max_delay: Duration::from_millis(10) };
    http
}

fn account(service: Option<&str>) -> TwilioAccount {
    TwilioAccount {
        settings: TwilioSettings {
            account_sid: ACCOUNT.into(),
            api_key_sid: KEY.into(),
            from: Some("+15005550006".into()),
            messaging_service_sid: service.map(Into::into),
            conversations_service_sid: Some("IS22222222222222222222222222222222".into()),
            media_region: Some("ie1".into()),
        },
        auth_token: Some("prism-does-not-check-the-password".into()),
        api_key_secret: "prism-does-not-check-the-password".into(),
    }
}

fn accepted<T: std::fmt::Debug>(what: &str, result: Result<T, TwilioError>) -> T {
    match result {
        Ok(value) => value,
        Err(TwilioError::Api { status: 422, message, .. }) => {
            panic!("{what}: Prism says the request breaks Twilio's spec: {message}")
        }
        Err(err) => panic!("{what}: {err:?}"),
    }
}

#[tokio::test]
#[ignore = "needs the Prism mocks of Twilio's specs; run by scripts/contract.sh"]
async fn prism_rejects_a_request_that_breaks_the_spec() {
    // Proof the mocks validate: without this, passing calls would prove nothing.
    let http = prism();
    let url = format!("{}/2010-04-01/Accounts/{ACCOUNT}/Messages.json", http.endpoints.api);
    let missing_to = http
        .post::<serde_json::Value>(
            &url,
            &Auth { user: ACCOUNT, password: "x" },
            &[("Body", "no To".into()), ("From", "+15005550006".into())],
        )
        .await;
    assert!(matches!(missing_to, Err(TwilioError::Api { status: 422, .. })), "{missing_to:?}");
    let bad_sid = http
        .get::<serde_json::Value>(
            &format!("{}/2010-04-01/Accounts/{ACCOUNT}/Messages/XX123.json", http.endpoints.api),
            &Auth { user: ACCOUNT, password: "x" },
            &[],
        )
        .await;
    assert!(matches!(bad_sid, Err(TwilioError::Api { status: 422, .. })), "{bad_sid:?}");
}

#[tokio::test]
#[ignore = "needs the Prism mocks of Twilio's specs; run by scripts/contract.sh"]
async fn messages_send_fetch_and_list_follow_the_spec() {
    let http = prism();
    let sent = accepted(
        "send (From)",
        messages::create(&http, &account(None), "+447400123456", "Your appointment is confirmed.", Some(3600)).await,
    );
    assert!(sent.sid.starts_with("SM") || sent.sid.starts_with("MM"), "{sent:?}");
    accepted(
        "send (Messaging Service)",
        messages::create(&http, &account(Some("MG33333333333333333333333333333333")), "+447400123456", "Hello", None)
            .await,
    );
    accepted("fetch", messages::fetch(&http, &account(None), "SM44444444444444444444444444444444").await);
    // Reconciliation's list: by To, newest first, following next_page_uri (re-rooted on our host).
    let long_ago = chrono::DateTime::parse_from_rfc3339("2000-01-01T00:00:00Z").unwrap().with_timezone(&chrono::Utc);
    // Prism's fixed example always names a next page, so after the 2 pages allowed here the
    // lookup reports an unfinished search (never "not found"); both page requests were accepted.
    match messages::list_to_since(&http, &account(None), "+447400123456", long_ago, 2).await {
        Err(TwilioError::Unreadable(why)) => assert!(why.contains("pages of messages"), "{why}"),
        other => {
            accepted("list by To, every page", other);
        }
    }
}

#[tokio::test]
#[ignore = "needs the Prism mocks of Twilio's specs; run by scripts/contract.sh"]
async fn reading_replies_follows_the_spec() {
    let http = prism();
    // The reply reader's list: To one of the clinic's numbers, DateSent> as a date-time, paged.
    let since = chrono::DateTime::parse_from_rfc3339("2019-05-24T00:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let replies =
        accepted("list replies", messages::list_received(&http, &account(None), "+15005550006", since, 2).await);
    // Prism's fixed example always names a next page: 2 pages read, the list goes on.
    assert!(replies.is_none(), "{replies:?}");
    let service = "MG33333333333333333333333333333333";
    let numbers = accepted(
        "Messaging Service numbers",
        messaging::service_numbers(&http, &account(Some(service)), service).await,
    );
    assert!(!numbers.is_empty() && numbers.iter().all(|n| n.starts_with('+')), "{numbers:?}");
}

#[tokio::test]
#[ignore = "needs the Prism mocks of Twilio's specs; run by scripts/contract.sh"]
async fn the_credential_check_follows_the_spec() {
    // Account fetch, a Rooms list with the API key, IncomingPhoneNumbers, /v1/Configuration.
    let health = check(&prism(), &account(None), chrono::Utc::now()).await;
    for item in &health.items {
        assert!(
            !item.message.contains("422") && !item.message.contains("could not be reached"),
            "{}: {}",
            item.part,
            item.message
        );
    }
    assert_eq!(health.items.len(), 4);
}

#[tokio::test]
#[ignore = "needs the Prism mocks of Twilio's specs; run by scripts/contract.sh"]
async fn rooms_follow_the_spec() {
    let http = prism();
    let room = accepted(
        "create room",
        rooms::create_or_reuse(&http, &account(None), "appt-42", &RoomOptions { record: true, ..Default::default() })
            .await,
    );
    assert!(room.sid.starts_with("RM"));
    accepted("complete room", rooms::complete(&http, &account(None), "RM55555555555555555555555555555555").await);
    accepted(
        "list participants",
        rooms::participants(&http, &account(None), "RM55555555555555555555555555555555").await,
    );
}

#[tokio::test]
#[ignore = "needs the Prism mocks of Twilio's specs; run by scripts/contract.sh"]
async fn conversations_follow_the_spec() {
    let http = prism();
    let c = accepted(
        "create conversation",
        conversations::ensure(
            &http,
            &account(None),
            "consult-a1",
            "Consultation",
            &serde_json::json!({"appointment": "a1"}),
        )
        .await,
    );
    assert!(c.sid.starts_with("CH"));
    accepted(
        "add participant",
        conversations::add_participant(&http, &account(None), "CH66666666666666666666666666666666", "doctor-1").await,
    );
    accepted(
        "list messages",
        conversations::transcript(&http, &account(None), "CH66666666666666666666666666666666").await,
    );
}

#[tokio::test]
#[ignore = "needs the Prism mocks of Twilio's specs; run by scripts/contract.sh"]
async fn consultation_rooms_follow_the_spec() {
    // The consultation's room: group, limit, timeouts, media region, recording off.
    let http = prism();
    let options =
        RoomOptions { max_participants: 3, empty_timeout_minutes: 15, unused_timeout_minutes: 60, record: false };
    let room = accepted(
        "create consultation room",
        rooms::create_or_reuse(&http, &account(None), "cd-0123abcd", &options).await,
    );
    assert!(room.sid.starts_with("RM"));
    accepted("fetch room", rooms::fetch(&http, &account(None), "RM55555555555555555555555555555555").await);
    for on in [true, false] {
        accepted(
            "recording rules",
            rooms::set_recording(&http, &account(None), "RM55555555555555555555555555555555", on).await,
        );
    }
    // The recordings list (metadata only) parses from the spec's example answer.
    accepted("room recordings", rooms::recordings(&http, &account(None), "RM55555555555555555555555555555555").await);
}

#[tokio::test]
#[ignore = "needs the Prism mocks of Twilio's specs; run by scripts/contract.sh"]
async fn consultation_chat_follows_the_spec() {
    let http = prism();
    let chat = "CH66666666666666666666666666666666";
    let joined = accepted(
        "add participant with attributes",
        conversations::join(
            &http,
            &account(None),
            chat,
            "d-0123abcd",
            Some(&serde_json::json!({ "role": "doctor" })),
            None,
        )
        .await,
    );
    assert!(joined.sid.starts_with("MB"));
    let role = "RL88888888888888888888888888888888";
    let patient = serde_json::json!({ "role": "patient" });
    accepted(
        "add the patient with the patient role",
        conversations::join(&http, &account(None), chat, "p-0123abcd", Some(&patient), Some(role)).await,
    );

    // The patient role: listed, then created (Prism's example role has another name), with one
    // Permission per permission; and the correction an older role would get.
    let made = accepted(
        "ensure the patient role",
        conversations::ensure_role(&http, &account(None), PATIENT_ROLE, PATIENT_PERMISSIONS).await,
    );
    assert!(made.starts_with("RL"), "{made}");
    let roles_url = format!("{}/v1/Roles/{role}", http.endpoints.conversations);
    let correct = conversations::role_form(PATIENT_PERMISSIONS);
    accepted::<serde_json::Value>(
        "correct the patient role",
        http.post(&roles_url, &Auth { user: KEY, password: "x" }, &correct).await,
    );
    accepted("list participants", conversations::participants(&http, &account(None), chat).await);
    let sent = accepted("send message", conversations::send(&http, &account(None), chat, "d-0123abcd", "Hello").await);
    assert!(sent.sid.as_deref().is_some_and(|s| s.starts_with("IM")), "{sent:?}");
    accepted("newest message", conversations::latest(&http, &account(None), chat).await);
    accepted(
        "read horizon",
        conversations::mark_read(&http, &account(None), chat, "MB77777777777777777777777777777777", 3).await,
    );
    accepted("close conversation", conversations::close(&http, &account(None), chat).await);
}

#[tokio::test]
#[ignore = "needs the Prism mocks of Twilio's specs; run by scripts/contract.sh"]
async fn publishing_the_call_page_follows_the_spec() {
    // Every Serverless request the publication makes (TWILIO.md, "Serverless"), except the asset
    // version upload, which goes to a host the spec does not describe.
    let http = prism();
    let a = account(None);
    let found =
        accepted("fetch service by unique name", serverless::find_service(&http, &a, "clinicdesk-call-page").await);
    assert!(found.is_some_and(|s| s.sid.starts_with("ZS")));
    let service = accepted(
        "create service",
        serverless::create_service(&http, &a, "clinicdesk-call-page", "ClinicDesk call page for patients").await,
    );
    assert!(service.sid.starts_with("ZS"), "{service:?}");
    let zs = "ZS00000000000000000000000000000000";
    accepted("list assets", serverless::list_assets(&http, &a, zs).await);
    let asset = accepted("create asset", serverless::create_asset(&http, &a, zs, "/call.html").await);
    assert!(asset.sid.starts_with("ZH"), "{asset:?}");
    let versions =
        vec!["ZN00000000000000000000000000000000".to_owned(), "ZN00000000000000000000000000000001".to_owned()];
    // One AssetVersions per version, repeated (scripts/contract.sh makes Prism read that as an array).
    let form = serverless::build_form(&versions);
    assert_eq!(form.iter().filter(|(key, _)| *key == "AssetVersions").count(), versions.len());
    let build = accepted("create build", serverless::create_build(&http, &a, zs, &versions).await);
    assert!(build.sid.starts_with("ZB"), "{build:?}");
    // Proof the array is read and checked, not skipped: a version SID of the wrong shape is refused.
    let wrong = serverless::create_build(&http, &a, zs, &[versions[0].clone(), "ZX-not-a-version".to_owned()]).await;
    assert!(matches!(wrong, Err(TwilioError::Api { status: 422, .. })), "{wrong:?}");
    accepted("build status", serverless::build_status(&http, &a, zs, "ZB00000000000000000000000000000000").await);
    accepted("list environments", serverless::find_environment(&http, &a, zs, "patients").await);
    let environment =
        accepted("create environment", serverless::create_environment(&http, &a, zs, "patients", "patients").await);
    assert!(environment.domain_name.is_some(), "{environment:?}");
    let deployment = accepted(
        "deploy",
        serverless::deploy(&http, &a, zs, "ZE00000000000000000000000000000000", "ZB00000000000000000000000000000000")
            .await,
    );
    assert!(deployment.sid.starts_with("ZD"), "{deployment:?}");
}
