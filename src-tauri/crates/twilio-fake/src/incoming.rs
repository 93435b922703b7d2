//! Texts patients send in, and the Messaging Services whose numbers receive them.
//!
//! Twilio would deliver an incoming text to a webhook; a desktop has none, so ClinicDesk reads
//! them from the Messages list. Tests post a patient's text here (`POST /fake/incoming`, or
//! `FakeTwilio::receive`) and read it back through the list, as the app does.

use crate::faults::{before, Route};
use crate::state::Shared;
use crate::{error, ACCOUNT_SID};
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The test hook: form {From, To, Body} as a patient's phone would send it. Answers {"sid"}.
/// Not a Twilio endpoint, and not behind Twilio's credentials (a test harness posts here).
pub(crate) async fn post(State(state): State<Shared>, Form(form): Form<HashMap<String, String>>) -> Response {
    let field = |key: &str| form.get(key).map(String::as_str).unwrap_or_default().to_owned();
    let (from, to, body) = (field("From"), field("To"), field("Body"));
    let mut s = state.lock().unwrap();
    if !s.numbers.contains(&to) {
        return error(
            StatusCode::BAD_REQUEST,
            21606,
            &format!("The account does not own {to}, so it cannot receive texts."),
        );
    }
    if from.is_empty() || body.is_empty() {
        return error(StatusCode::BAD_REQUEST, 21602, "From and Body are required.");
    }
    let now = s.now();
    let sid = s.receive(&from, &to, &body, now);
    (StatusCode::CREATED, Json(json!({ "sid": sid }))).into_response()
}

/// `GET /v1/Services/{MG}/PhoneNumbers` (Messaging API v1), paged with `meta` like Twilio's v1 APIs.
pub(crate) async fn service_numbers(
    State(state): State<Shared>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(service): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = before(&state, Route::ListServiceNumbers).await {
        return r;
    }
    let s = state.lock().unwrap();
    let Some(numbers) = s.services.get(&service) else {
        return error(
            StatusCode::NOT_FOUND,
            20404,
            &format!("The requested resource /Services/{service}/PhoneNumbers was not found"),
        );
    };
    let items: Vec<Value> = numbers
        .iter()
        .map(|n| {
            let sid = format!("PN{:0>32}", n.trim_start_matches('+'));
            json!({
                "account_sid": ACCOUNT_SID, "service_sid": service, "sid": sid,
                "date_created": "2024-01-01T00:00:00Z", "date_updated": "2024-01-01T00:00:00Z",
                "phone_number": n, "country_code": country(n), "capabilities": ["SMS"],
                "url": format!("https://messaging.twilio.com/v1/Services/{service}/PhoneNumbers/{sid}"),
            })
        })
        .collect();
    Json(crate::video::page(&headers, &uri.to_string(), "phone_numbers", items, &query)).into_response()
}

fn country(number: &str) -> &'static str {
    match number {
        n if n.starts_with("+44") => "GB",
        n if n.starts_with("+1") => "US",
        _ => "ZZ",
    }
}
