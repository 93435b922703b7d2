//! A fake Twilio that behaves like Twilio where ClinicDesk can tell: it keeps state (messages,
//! accounts, numbers, rooms, participants, conversations), checks basic auth, answers with
//! Twilio-shaped errors, advances message status as it is polled, and can be told to misbehave:
//! error codes, 429 with Retry-After, 5xx, slow answers, and connections dropped after the request
//! was processed. It listens on a loopback port; tests start one per test.

mod chat_participants;
mod conversations;
mod faults;
mod incoming;
mod media;
mod messages;
mod roles;
mod serverless;
mod snapshot;
mod state;
mod video;

pub use faults::{Fault, Route};
pub use serverless::FakeAsset;
pub use snapshot::{FakeChatMessage, FakeChatParticipant, FakeConversation, FakeRoom};
pub use state::{FakeMessage, Outcome};

use axum::extract::{Request, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use state::{Shared, State};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub const ACCOUNT_SID: &str = "AC00000000000000000000000000000000";
pub const AUTH_TOKEN: &str = "fake-auth-token-0123456789abcdef";
pub const API_KEY_SID: &str = "SK11111111111111111111111111111111";
pub const API_KEY_SECRET: &str = "test-api-key-secret-0123456789abcdef";
pub const FROM_NUMBER: &str = "+15005550006";
pub const CHAT_SERVICE_SID: &str = "IS22222222222222222222222222222222";

pub struct FakeTwilio {
    pub addr: SocketAddr,
    state: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FakeTwilio {
    /// Starts on 127.0.0.1 with a free port, with one active full account owning `FROM_NUMBER`.
    pub async fn start() -> FakeTwilio {
        let state: Shared = Arc::new(Mutex::new(State::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let app = router(state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        FakeTwilio { addr, state, shutdown: Some(tx) }
    }

    /// The base URL for every API it fakes (set each CLINICDESK_TWILIO_*_URL to it).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queue a misbehaviour for the next `fault.times()` requests on `route`.
    pub fn inject(&self, route: Route, fault: Fault) {
        self.state.lock().unwrap().faults.push(route, fault);
    }

    /// What happens to texts sent to `number` (delivered by default).
    pub fn set_outcome(&self, number: &str, outcome: Outcome) {
        self.state.lock().unwrap().outcomes.insert(number.to_owned(), outcome);
    }

    pub fn messages(&self) -> Vec<FakeMessage> {
        self.state.lock().unwrap().messages.clone()
    }

    pub fn messages_to(&self, number: &str) -> Vec<FakeMessage> {
        self.messages().into_iter().filter(|m| m.to == number).collect()
    }

    /// Requests seen, as "METHOD /path".
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Every request with its query string, to tell apart lists filtered differently.
    pub fn requests_with_query(&self) -> Vec<String> {
        self.state.lock().unwrap().requests_with_query.clone()
    }

    /// Moves Twilio's clock (its timestamps and `Date` header) away from this computer's.
    pub fn set_clock_offset(&self, offset: chrono::Duration) {
        self.state.lock().unwrap().clock_offset = offset;
    }

    /// Hides each new message from the Messages list for this long after it is created.
    pub fn set_list_lag(&self, lag: chrono::Duration) {
        self.state.lock().unwrap().list_lag = lag;
    }

    /// Refuses (`true`) or accepts again (`false`) every request's credentials, as Twilio does
    /// after the Auth Token or API key was rotated.
    pub fn reject_credentials(&self, rejected: bool) {
        self.state.lock().unwrap().credentials_rejected = rejected;
    }

    /// Adds a message as if sent earlier by this or another program (for reconciliation tests).
    pub fn add_message(&self, to: &str, body: &str, created: chrono::DateTime<chrono::Utc>) -> String {
        let mut s = self.state.lock().unwrap();
        let message = FakeMessage {
            sid: state::sid("SM"),
            to: to.into(),
            from: Some(FROM_NUMBER.into()),
            messaging_service_sid: None,
            direction: "outbound-api".into(),
            body: body.into(),
            status: "delivered".into(),
            error_code: None,
            date_created: created,
            date_sent: Some(created),
            num_segments: 1,
        };
        let sid = message.sid.clone();
        s.messages.push(message);
        sid
    }

    /// A patient's text to one of the account's numbers, received now (Twilio's clock). Returns
    /// its SID. The same as `POST /fake/incoming`.
    pub fn receive(&self, from: &str, to: &str, body: &str) -> String {
        let mut s = self.state.lock().unwrap();
        let now = s.now();
        s.receive(from, to, body, now)
    }

    /// A patient's text received at `at` (Twilio's clock): for replies read late.
    pub fn receive_at(&self, from: &str, to: &str, body: &str, at: chrono::DateTime<chrono::Utc>) -> String {
        self.state.lock().unwrap().receive(from, to, body, at)
    }

    /// A Messaging Service with these numbers (the account owns them; texts sent through the
    /// service go out from the first).
    pub fn add_messaging_service(&self, service_sid: &str, numbers: &[&str]) {
        let mut s = self.state.lock().unwrap();
        for n in numbers {
            if !s.numbers.iter().any(|owned| owned == n) {
                s.numbers.push((*n).to_owned());
            }
        }
        s.services.insert(service_sid.to_owned(), numbers.iter().map(|n| (*n).to_owned()).collect());
    }

    pub fn set_account(&self, status: &str, kind: &str) {
        let mut s = self.state.lock().unwrap();
        s.account_status = status.to_owned();
        s.account_type = kind.to_owned();
    }

    /// Adds a participant who joined and left a room (seconds in the room).
    pub fn add_participant(&self, room_sid: &str, identity: &str, seconds: u32) {
        self.state.lock().unwrap().add_participant(room_sid, identity, seconds);
    }

    /// The next Serverless build fails (Twilio's status "failed") instead of completing.
    pub fn fail_next_build(&self) {
        self.state.lock().unwrap().serverless.fail_next_build = true;
    }

    /// How many status polls a new build stays "building" (2 unless set).
    pub fn set_build_polls(&self, polls: u32) {
        self.state.lock().unwrap().serverless.build_polls = polls;
    }

    /// Serverless services, environments, builds and deployments in the account.
    pub fn serverless_counts(&self) -> (usize, usize, usize, usize) {
        self.state.lock().unwrap().serverless.counts()
    }

    /// What `https://{domain}{path}` serves now (the last deployment's file at that path).
    pub fn served(&self, domain: &str, path: &str) -> Option<FakeAsset> {
        self.state.lock().unwrap().serverless.served(domain, path)
    }

    /// Adds a chat message to a conversation, as if a participant had typed it.
    pub fn add_chat_message(&self, conversation_sid: &str, author: &str, body: &str) {
        self.state.lock().unwrap().add_chat_message(conversation_sid, author, Some(body), None);
    }
}

impl Drop for FakeTwilio {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn router(state: Shared) -> Router {
    Router::new()
        .route("/2010-04-01/Accounts/{account}", get(messages::account))
        .route("/2010-04-01/Accounts/{account}/Messages.json", post(messages::create).get(messages::list))
        .route("/2010-04-01/Accounts/{account}/Messages/{sid}", get(messages::fetch))
        .route("/2010-04-01/Accounts/{account}/IncomingPhoneNumbers.json", get(messages::incoming_numbers))
        .route("/v1/Services/{service}/PhoneNumbers", get(incoming::service_numbers))
        // Serverless; asset versions arrive on Twilio's upload host, here on the same port.
        .route("/v1/Services", post(serverless::create_service))
        .route("/v1/Services/{service}", get(serverless::fetch_service))
        .route("/v1/Services/{service}/Assets", post(serverless::create_asset).get(serverless::list_assets))
        .route("/v1/Services/{service}/Assets/{asset}/Versions", post(serverless::upload_version))
        .route("/v1/Services/{service}/Builds", post(serverless::create_build))
        .route("/v1/Services/{service}/Builds/{build}/Status", get(serverless::build_status))
        .route(
            "/v1/Services/{service}/Environments",
            post(serverless::create_environment).get(serverless::list_environments),
        )
        .route("/v1/Services/{service}/Environments/{environment}/Deployments", post(serverless::deploy))
        .route("/fake/incoming", post(incoming::post))
        .route("/v1/Rooms", post(video::create).get(video::list))
        .route("/v1/Rooms/{room}", get(video::fetch).post(video::update))
        .route("/v1/Rooms/{room}/Participants", get(video::participants))
        .route("/v1/Rooms/{room}/Recordings", get(video::recordings))
        .route("/v1/Rooms/{room}/RecordingRules", get(video::recording_rules).post(video::set_recording_rules))
        .route("/v1/Configuration", get(conversations::configuration))
        .route("/v1/Roles", get(roles::list).post(roles::create))
        .route("/v1/Roles/{role}", post(roles::update))
        .route("/v1/Conversations", post(conversations::create))
        .route("/v1/Conversations/{conversation}", get(conversations::fetch).post(conversations::update))
        .route(
            "/v1/Conversations/{conversation}/Participants",
            post(chat_participants::add).get(chat_participants::list),
        )
        .route(
            "/v1/Conversations/{conversation}/Participants/{participant}",
            get(chat_participants::fetch).post(chat_participants::update),
        )
        .route(
            "/v1/Conversations/{conversation}/Messages",
            get(conversations::messages).post(conversations::post_message),
        )
        .route("/v1/Services/{service}/Media/{media}", get(media::fetch))
        .route("/fake/media-content/{media}", get(media::content))
        .fallback(|| async { error(StatusCode::NOT_FOUND, 20404, "The requested resource was not found") })
        .layer(middleware::from_fn_with_state(state.clone(), authenticate_and_log))
        .with_state(state)
}

/// Who is calling: Twilio accepts the account's Auth Token, or an API key with its secret.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    AuthToken,
    ApiKey,
}

async fn authenticate_and_log(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    mut request: Request,
    next: Next,
) -> Response {
    let line = format!("{} {}", request.method(), request.uri().path());
    let test_hook = request.uri().path().starts_with("/fake/");
    let (rejected, now) = {
        let mut s = state.lock().unwrap();
        s.requests.push(line);
        s.requests_with_query.push(format!("{} {}", request.method(), request.uri()));
        (s.credentials_rejected, s.now())
    };
    if test_hook {
        // The fake's own hooks stand for the outside world (a patient's phone), not for a client.
        return dated(next.run(request).await, now);
    }
    let credentials = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let caller = match credentials.as_deref().and_then(|c| c.split_once(':')) {
        Some((ACCOUNT_SID, AUTH_TOKEN)) => Caller::AuthToken,
        Some((API_KEY_SID, API_KEY_SECRET)) => Caller::ApiKey,
        _ => return dated(error(StatusCode::UNAUTHORIZED, 20003, "Authenticate"), now),
    };
    if rejected {
        return dated(error(StatusCode::UNAUTHORIZED, 20003, "Authenticate"), now);
    }
    request.extensions_mut().insert(caller);
    dated(next.run(request).await, now)
}

/// Every answer carries Twilio's own clock in its `Date` header, as a real HTTP server's does.
fn dated(mut response: Response, now: chrono::DateTime<chrono::Utc>) -> Response {
    let value = now.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    if let Ok(value) = value.parse() {
        response.headers_mut().insert(axum::http::header::DATE, value);
    }
    response
}

/// A classic Twilio error body.
pub(crate) fn error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = serde_json::json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status.as_u16(),
    });
    (status, Json(body)).into_response()
}
