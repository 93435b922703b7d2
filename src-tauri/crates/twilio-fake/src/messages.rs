//! Messages, the account, and its phone numbers (API 2010-04-01).

use crate::faults::{after, before, Route};
use crate::state::{sid, FakeMessage, Outcome, Shared, TRIAL_PREFIX};
use crate::{error, Caller, ACCOUNT_SID};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use chrono::{NaiveDate, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;

fn wrong_account(account: &str) -> Option<Response> {
    (account.trim_end_matches(".json") != ACCOUNT_SID)
        .then(|| error(StatusCode::NOT_FOUND, 20404, "The requested resource was not found"))
}

pub(crate) fn segments(body: &str) -> u32 {
    let (single, part, units) =
        if body.is_ascii() { (160, 153, body.len()) } else { (70, 67, body.encode_utf16().count()) };
    if units <= single {
        1
    } else {
        units.div_ceil(part) as u32
    }
}

fn is_e164(number: &str) -> bool {
    let digits = number.strip_prefix('+').unwrap_or("");
    (2..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) && !digits.starts_with('0')
}

pub(crate) fn render(m: &FakeMessage) -> Value {
    json!({
        "account_sid": ACCOUNT_SID,
        "api_version": "2010-04-01",
        "body": m.body,
        "date_created": m.date_created.to_rfc2822(),
        "date_sent": m.date_sent.map(|d| d.to_rfc2822()),
        "date_updated": Utc::now().to_rfc2822(),
        "direction": m.direction,
        "error_code": m.error_code,
        "error_message": m.error_code.map(|c| format!("Error {c}")),
        "from": m.from,
        "messaging_service_sid": m.messaging_service_sid,
        "num_media": "0",
        "num_segments": m.num_segments.to_string(),
        "price": null,
        "price_unit": "USD",
        "sid": m.sid,
        "status": m.status,
        "subresource_uris": { "media": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{}/Media.json", m.sid) },
        "to": m.to,
        "uri": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{}.json", m.sid),
    })
}

pub(crate) async fn create(
    State(state): State<Shared>,
    Path(account): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = wrong_account(&account) {
        return r;
    }
    let fault = match before(&state, Route::CreateMessage).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let answer = create_now(&state, &form);
    after(fault, answer).await
}

fn create_now(state: &Shared, form: &HashMap<String, String>) -> Response {
    let to = form.get("To").cloned().unwrap_or_default();
    let body = form.get("Body").cloned().unwrap_or_default();
    if !is_e164(&to) {
        return error(StatusCode::BAD_REQUEST, 21211, &format!("The 'To' number {to} is not a valid phone number."));
    }
    if body.is_empty() {
        return error(StatusCode::BAD_REQUEST, 21602, "Message body is required.");
    }
    if body.chars().count() > 1600 {
        return error(
            StatusCode::BAD_REQUEST,
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        );
    }
    let from = form.get("From").cloned();
    let service = form.get("MessagingServiceSid").cloned();
    let mut s = state.lock().unwrap();
    // A Messaging Service sends from one of its numbers, and Twilio reports which.
    let from = from.or_else(|| service.as_ref().and_then(|sv| s.services.get(sv)).and_then(|n| n.first().cloned()));
    if s.account_status != "active" {
        return error(StatusCode::UNAUTHORIZED, 10001, "Account is not active");
    }
    match (&from, &service) {
        (Some(f), _) if !s.numbers.contains(f) => {
            return error(
                StatusCode::BAD_REQUEST,
                21606,
                "The From phone number is not a valid, SMS-capable inbound phone number for your account.",
            )
        }
        (None, None) => {
            return error(
                StatusCode::BAD_REQUEST,
                21603,
                "A 'From' or 'MessagingServiceSid' parameter is required to send a message.",
            )
        }
        _ => {}
    }
    if let Some(Outcome::Refused { status, code, message }) = s.outcomes.get(&to).cloned() {
        return error(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), code, &message);
    }
    // A trial account puts its notice before every text: what Twilio keeps is the longer body.
    let body = if s.account_type.eq_ignore_ascii_case("trial") { format!("{TRIAL_PREFIX}{body}") } else { body };
    let message = FakeMessage {
        sid: sid("SM"),
        to,
        from,
        messaging_service_sid: service,
        direction: "outbound-api".into(),
        num_segments: segments(&body),
        body,
        status: "queued".into(),
        error_code: None,
        date_created: s.now(),
        date_sent: None,
    };
    let answer = (StatusCode::CREATED, Json(render(&message))).into_response();
    s.messages.push(message);
    answer
}

pub(crate) async fn fetch(State(state): State<Shared>, Path((account, sid)): Path<(String, String)>) -> Response {
    if let Some(r) = wrong_account(&account) {
        return r;
    }
    let fault = match before(&state, Route::FetchMessage).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let answer = fetch_now(&state, sid.trim_end_matches(".json"));
    after(fault, answer).await
}

fn fetch_now(state: &Shared, sid: &str) -> Response {
    let mut s = state.lock().unwrap();
    let Some(index) = s.messages.iter().position(|m| m.sid == sid) else {
        return error(
            StatusCode::NOT_FOUND,
            20404,
            &format!("The requested resource /2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json was not found"),
        );
    };
    s.advance(index);
    Json(render(&s.messages[index])).into_response()
}

pub(crate) async fn list(
    State(state): State<Shared>,
    Path(account): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = wrong_account(&account) {
        return r;
    }
    let fault = match before(&state, Route::ListMessages).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let answer = list_now(&state, &query);
    after(fault, answer).await
}

fn list_now(state: &Shared, query: &HashMap<String, String>) -> Response {
    // Twilio filters DateSent by day: a full timestamp counts as its date (as the helper
    // libraries' datetimes do in practice), so a reader must page and de-duplicate, not trust it.
    let date =
        |key: &str| query.get(key).and_then(|d| NaiveDate::parse_from_str(d.get(..10).unwrap_or(d), "%Y-%m-%d").ok());
    let (after_date, before_date, on_date) = (date("DateSent>"), date("DateSent<"), date("DateSent"));
    let page_size = query.get("PageSize").and_then(|p| p.parse::<usize>().ok()).unwrap_or(50).clamp(1, 1000);
    let page = query.get("Page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(0);
    let s = state.lock().unwrap();
    // Like Twilio's, the list lags a moment behind a send.
    let visible_before = s.now() - s.list_lag;
    let mut found: Vec<&FakeMessage> = s
        .messages
        .iter()
        .filter(|m| m.date_created <= visible_before)
        .filter(|m| query.get("To").is_none_or(|to| &m.to == to))
        .filter(|m| query.get("From").is_none_or(|from| m.from.as_ref() == Some(from)))
        .filter(|m| {
            // Like Twilio, the DateSent filters only match messages that have been sent.
            let sent = m.date_sent.map(|d| d.date_naive());
            after_date.is_none_or(|d| sent.is_some_and(|s| s >= d))
                && before_date.is_none_or(|d| sent.is_some_and(|s| s <= d))
                && on_date.is_none_or(|d| sent == Some(d))
        })
        .collect();
    // Newest first, ties in a fixed order, so a page token always means the same place.
    found.sort_by(|a, b| b.date_created.cmp(&a.date_created).then_with(|| b.sid.cmp(&a.sid)));
    // Twilio's page token is "PA" + the SID of the previous page's last message: the next page
    // starts after it, however many messages arrived at the top meanwhile. Without a token,
    // `Page` counts from the top.
    let start = match query.get("PageToken").and_then(|t| t.strip_prefix("PA")) {
        Some(last) => match found.iter().position(|m| m.sid == last) {
            Some(i) => i + 1,
            None => return error(StatusCode::BAD_REQUEST, 20001, "Invalid PageToken"),
        },
        None => page * page_size,
    };
    let total = found.len();
    let on_page: Vec<&FakeMessage> = found.into_iter().skip(start).take(page_size).collect();
    let uri = |page: usize, token: Option<&str>| {
        let mut uri = format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json?");
        for key in ["To", "From", "DateSent>", "DateSent<", "DateSent"] {
            if let Some(value) = query.get(key) {
                uri.push_str(&format!("{}={}&", encode(key), encode(value)));
            }
        }
        uri.push_str(&format!("PageSize={page_size}&Page={page}"));
        if let Some(token) = token {
            uri.push_str(&format!("&PageToken={token}"));
        }
        uri
    };
    let next = (start + on_page.len() < total)
        .then(|| on_page.last().map(|m| uri(page + 1, Some(&format!("PA{}", m.sid)))))
        .flatten();
    let this = uri(page, query.get("PageToken").map(String::as_str));
    let messages: Vec<Value> = on_page.into_iter().map(render).collect();
    Json(json!({
        "messages": messages, "page": page, "page_size": page_size, "first_page_uri": uri(0, None), "next_page_uri": next,
        "previous_page_uri": (page > 0).then(|| uri(page - 1, None)), "uri": this, "start": start,
        "end": (start + page_size).min(total).saturating_sub(1),
    }))
    .into_response()
}

/// Percent-encodes a query value the way Twilio's page URIs do (enough for numbers and dates).
fn encode(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '_' | '.' | '~' => c.to_string(),
            other => other.to_string().bytes().map(|b| format!("%{b:02X}")).collect(),
        })
        .collect()
}

pub(crate) async fn account(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(account): Path<String>,
) -> Response {
    if let Some(r) = wrong_account(&account) {
        return r;
    }
    if caller != Caller::AuthToken {
        // Standard API keys cannot read /Accounts (TWILIO.md).
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    if let Err(r) = before(&state, Route::Account).await {
        return r;
    }
    let s = state.lock().unwrap();
    Json(json!({
        "sid": ACCOUNT_SID, "friendly_name": "Fake clinic account", "status": s.account_status, "type": s.account_type,
        "date_created": "Mon, 01 Jan 2024 00:00:00 +0000", "owner_account_sid": ACCOUNT_SID, "auth_token": "[redacted]",
        "uri": format!("/2010-04-01/Accounts/{ACCOUNT_SID}.json"),
    }))
    .into_response()
}

pub(crate) async fn incoming_numbers(
    State(state): State<Shared>,
    Path(account): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = wrong_account(&account) {
        return r;
    }
    if let Err(r) = before(&state, Route::IncomingNumbers).await {
        return r;
    }
    let s = state.lock().unwrap();
    let numbers: Vec<Value> = s
        .numbers
        .iter()
        .filter(|n| query.get("PhoneNumber").is_none_or(|want| want == *n))
        .map(|n| json!({ "sid": format!("PN{:0>32}", n.trim_start_matches('+')), "phone_number": n, "capabilities": { "sms": true, "mms": false, "voice": true } }))
        .collect();
    Json(json!({ "incoming_phone_numbers": numbers, "page": 0, "page_size": 50, "next_page_uri": null }))
        .into_response()
}
