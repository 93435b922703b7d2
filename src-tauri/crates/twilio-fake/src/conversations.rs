//! Conversations (v1): configuration, conversations, participants and the transcript.

use crate::faults::{after, before, Route};
use crate::state::{sid, Conversation, Shared};
use crate::video::page;
use crate::{error, Caller, ACCOUNT_SID, CHAT_SERVICE_SID};
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use chrono::Utc;
use serde_json::{json, Value};
use std::collections::HashMap;

fn needs_key(caller: Caller) -> Option<Response> {
    (caller != Caller::ApiKey).then(|| error(StatusCode::UNAUTHORIZED, 20003, "Authenticate"))
}

pub(crate) async fn configuration(State(state): State<Shared>, Extension(caller): Extension<Caller>) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    if let Err(r) = before(&state, Route::Configuration).await {
        return r;
    }
    Json(json!({
        "account_sid": ACCOUNT_SID, "default_chat_service_sid": CHAT_SERVICE_SID, "default_messaging_service_sid": null,
        "default_inactive_timer": null, "default_closed_timer": null, "url": "https://conversations.twilio.com/v1/Configuration",
        "links": { "addresses": "https://conversations.twilio.com/v1/Configuration/Addresses" },
    }))
    .into_response()
}

fn render(c: &Conversation) -> Value {
    json!({
        "sid": c.sid, "account_sid": ACCOUNT_SID, "chat_service_sid": CHAT_SERVICE_SID, "unique_name": c.unique_name,
        "friendly_name": c.friendly_name, "attributes": c.attributes, "state": "active",
        "date_created": c.created.to_rfc3339(), "date_updated": Utc::now().to_rfc3339(),
        "url": format!("https://conversations.twilio.com/v1/Conversations/{}", c.sid),
    })
}

pub(crate) async fn create(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let fault = match before(&state, Route::CreateConversation).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let attributes = form.get("Attributes").cloned().unwrap_or_else(|| "{}".into());
    if serde_json::from_str::<Value>(&attributes).is_err() {
        return error(StatusCode::BAD_REQUEST, 50228, "Attributes must be valid JSON");
    }
    let answer = create_now(&state, &form, attributes);
    after(fault, answer).await
}

fn create_now(state: &Shared, form: &HashMap<String, String>, attributes: String) -> Response {
    let mut s = state.lock().unwrap();
    let unique_name = form.get("UniqueName").cloned();
    if unique_name.is_some() && s.conversations.iter().any(|c| c.unique_name == unique_name) {
        return error(StatusCode::CONFLICT, 50353, "Conversation with provided unique name already exists");
    }
    let conversation = Conversation {
        sid: sid("CH"),
        unique_name,
        friendly_name: form.get("FriendlyName").cloned(),
        attributes,
        created: Utc::now(),
        participants: Vec::new(),
        messages: Vec::new(),
    };
    let answer = (StatusCode::CREATED, Json(render(&conversation))).into_response();
    s.conversations.push(conversation);
    answer
}

pub(crate) async fn add_participant(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    if let Err(r) = before(&state, Route::AddParticipant).await {
        return r;
    }
    let Some(identity) = form.get("Identity").cloned() else {
        return error(StatusCode::BAD_REQUEST, 50407, "Identity or MessagingBinding is required");
    };
    let mut s = state.lock().unwrap();
    let Some(c) = s.conversations.iter_mut().find(|c| c.sid == key || c.unique_name.as_deref() == Some(&key)) else {
        return error(
            StatusCode::NOT_FOUND,
            20404,
            &format!("The requested resource /Conversations/{key}/Participants was not found"),
        );
    };
    if c.participants.iter().any(|(_, i)| *i == identity) {
        return error(StatusCode::CONFLICT, 50433, "Participant already exists");
    }
    let participant_sid = sid("MB");
    c.participants.push((participant_sid.clone(), identity.clone()));
    (StatusCode::CREATED, Json(json!({ "sid": participant_sid, "conversation_sid": c.sid, "account_sid": ACCOUNT_SID, "identity": identity, "attributes": "{}" }))).into_response()
}

pub(crate) async fn messages(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(key): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    if let Err(r) = before(&state, Route::ListChatMessages).await {
        return r;
    }
    let s = state.lock().unwrap();
    let Some(c) = s.conversations.iter().find(|c| c.sid == key || c.unique_name.as_deref() == Some(&key)) else {
        return error(
            StatusCode::NOT_FOUND,
            20404,
            &format!("The requested resource /Conversations/{key}/Messages was not found"),
        );
    };
    let mut items: Vec<Value> = c
        .messages
        .iter()
        .map(|m| {
            json!({ "sid": m.sid, "index": m.index, "author": m.author, "body": m.body, "media": null,
                         "participant_sid": c.participants.iter().find(|(_, i)| *i == m.author).map(|(p, _)| p.clone()),
                         "date_created": m.created.to_rfc3339(), "conversation_sid": c.sid })
        })
        .collect();
    if query.get("Order").map(String::as_str) == Some("desc") {
        items.reverse();
    }
    Json(page(&headers, &uri.to_string(), "messages", items, &query)).into_response()
}

pub(crate) async fn fetch(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let s = state.lock().unwrap();
    match s.conversations.iter().find(|c| c.sid == key || c.unique_name.as_deref() == Some(&key)) {
        Some(c) => Json(render(c)).into_response(),
        None => {
            error(StatusCode::NOT_FOUND, 20404, &format!("The requested resource /Conversations/{key} was not found"))
        }
    }
}
