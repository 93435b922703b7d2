//! Conversation participants (v1): add (once per identity, 50433 after), list, fetch, and update
//! (attributes and the read horizon, `LastReadMessageIndex`).

use crate::conversations::{closed, needs_key};
use crate::faults::{after, before, Route};
use crate::state::{sid, ChatParticipant, Shared};
use crate::video::page;
use crate::{error, Caller, ACCOUNT_SID};
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use serde_json::{json, Value};
use std::collections::HashMap;

fn render(conversation: &str, p: &ChatParticipant) -> Value {
    json!({ "sid": p.sid, "conversation_sid": conversation, "account_sid": ACCOUNT_SID, "identity": p.identity,
            "attributes": p.attributes, "last_read_message_index": p.last_read_message_index,
            "messaging_binding": null, "role_sid": p.role_sid })
}

fn not_found(what: &str) -> Response {
    error(StatusCode::NOT_FOUND, 20404, &format!("The requested resource {what} was not found"))
}

pub(crate) async fn add(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let fault = match before(&state, Route::AddParticipant).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(identity) = form.get("Identity").cloned() else {
        return error(StatusCode::BAD_REQUEST, 50407, "Identity or MessagingBinding is required");
    };
    let attributes = form.get("Attributes").cloned().unwrap_or_else(|| "{}".into());
    if serde_json::from_str::<Value>(&attributes).is_err() {
        return error(StatusCode::BAD_REQUEST, 50228, "Attributes must be valid JSON");
    }
    let role_sid = form.get("RoleSid").cloned();
    let answer = {
        let mut s = state.lock().unwrap();
        let known_role =
            role_sid.as_ref().is_none_or(|r| s.roles.iter().any(|x| &x.sid == r && x.kind == "conversation"));
        match s.conversation(&key) {
            _ if !known_role => {
                error(StatusCode::BAD_REQUEST, 50201, "Invalid role: not a conversation role of this service")
            }
            None => not_found(&format!("/Conversations/{key}/Participants")),
            Some(c) if c.state == "closed" => closed(),
            Some(c) if c.participants.iter().any(|p| p.identity == identity) => {
                error(StatusCode::CONFLICT, 50433, "Participant already exists")
            }
            Some(c) => {
                let p =
                    ChatParticipant { sid: sid("MB"), identity, attributes, last_read_message_index: None, role_sid };
                let answer = (StatusCode::CREATED, Json(render(&c.sid, &p))).into_response();
                c.participants.push(p);
                answer
            }
        }
    };
    after(fault, answer).await
}

pub(crate) async fn list(
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
    if let Err(r) = before(&state, Route::ListChatParticipants).await {
        return r;
    }
    let mut s = state.lock().unwrap();
    match s.conversation(&key) {
        None => not_found(&format!("/Conversations/{key}/Participants")),
        Some(c) => {
            let items = c.participants.iter().map(|p| render(&c.sid, p)).collect();
            Json(page(&headers, &uri.to_string(), "participants", items, &query)).into_response()
        }
    }
}

/// A participant by SID or (as Twilio also accepts) identity.
pub(crate) async fn fetch(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((key, who)): Path<(String, String)>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let mut s = state.lock().unwrap();
    let Some(c) = s.conversation(&key) else {
        return not_found(&format!("/Conversations/{key}/Participants/{who}"));
    };
    match c.participants.iter().find(|p| p.sid == who || p.identity == who) {
        Some(p) => Json(render(&c.sid, p)).into_response(),
        None => not_found(&format!("/Conversations/{key}/Participants/{who}")),
    }
}

/// Updates `Attributes` and the read horizon `LastReadMessageIndex`.
pub(crate) async fn update(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((key, who)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let fault = match before(&state, Route::UpdateChatParticipant).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let index = match form.get("LastReadMessageIndex").map(|i| i.parse::<i64>()) {
        Some(Ok(i)) if i >= 0 => Some(i),
        Some(_) => return error(StatusCode::BAD_REQUEST, 50100, "LastReadMessageIndex must be a message index"),
        None => None,
    };
    let role_sid = form.get("RoleSid").cloned();
    let answer = {
        let mut s = state.lock().unwrap();
        let known_role =
            role_sid.as_ref().is_none_or(|r| s.roles.iter().any(|x| &x.sid == r && x.kind == "conversation"));
        match s.conversation(&key) {
            _ if !known_role => {
                error(StatusCode::BAD_REQUEST, 50201, "Invalid role: not a conversation role of this service")
            }
            None => not_found(&format!("/Conversations/{key}/Participants/{who}")),
            Some(c) if c.state == "closed" => closed(),
            Some(c) => {
                let sid = c.sid.clone();
                match c.participants.iter_mut().find(|p| p.sid == who || p.identity == who) {
                    None => not_found(&format!("/Conversations/{key}/Participants/{who}")),
                    Some(p) => {
                        if let Some(index) = index {
                            p.last_read_message_index = Some(index);
                        }
                        if let Some(attributes) = form.get("Attributes") {
                            p.attributes = attributes.clone();
                        }
                        Json(render(&sid, p)).into_response()
                    }
                }
            }
        }
    };
    after(fault, answer).await
}
