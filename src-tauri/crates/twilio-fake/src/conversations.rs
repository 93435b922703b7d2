//! Conversations (v1): configuration, conversations (state active / closed), and messages with
//! media metadata. Participants are in chat_participants.rs.

use crate::faults::{after, before, Route};
use crate::state::{sid, ChatMessage, Conversation, Shared};
use crate::video::page;
use crate::{error, Caller, ACCOUNT_SID, CHAT_SERVICE_SID};
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use chrono::Utc;
use serde_json::{json, Value};
use std::collections::HashMap;

pub(crate) fn needs_key(caller: Caller) -> Option<Response> {
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
        "friendly_name": c.friendly_name, "attributes": c.attributes, "state": c.state,
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
        state: "active".into(),
        created: s.now(),
        participants: Vec::new(),
        messages: Vec::new(),
    };
    let answer = (StatusCode::CREATED, Json(render(&conversation))).into_response();
    s.conversations.push(conversation);
    answer
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
    let mut items: Vec<Value> = c.messages.iter().map(|m| render_message(c, m)).collect();
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
    if let Err(r) = before(&state, Route::FetchConversation).await {
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

fn render_message(c: &Conversation, m: &ChatMessage) -> Value {
    let participant = c.participants.iter().find(|p| p.identity == m.author).map(|p| p.sid.clone());
    json!({ "sid": m.sid, "index": m.index, "author": m.author, "body": m.body, "media": m.media,
            "participant_sid": participant, "attributes": "{}", "date_created": m.created.to_rfc3339(),
            "date_updated": null, "conversation_sid": c.sid, "account_sid": ACCOUNT_SID })
}

/// A closed conversation is final: Twilio refuses any change or message (50377).
pub(crate) fn closed() -> Response {
    error(StatusCode::BAD_REQUEST, 50377, "Can't update conversation as it's in final closed state")
}

/// Changes the state (active, inactive, closed), friendly name or attributes.
pub(crate) async fn update(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let fault = match before(&state, Route::UpdateConversation).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if form.get("State").is_some_and(|s| !["active", "inactive", "closed"].contains(&s.as_str())) {
        return error(StatusCode::BAD_REQUEST, 50100, "State must be active, inactive or closed");
    }
    let answer = {
        let mut s = state.lock().unwrap();
        match s.conversation(&key) {
            None => error(
                StatusCode::NOT_FOUND,
                20404,
                &format!("The requested resource /Conversations/{key} was not found"),
            ),
            Some(c) if c.state == "closed" => closed(),
            Some(c) => {
                if let Some(new) = form.get("State") {
                    c.state = new.clone();
                }
                if let Some(name) = form.get("FriendlyName") {
                    c.friendly_name = Some(name.clone());
                }
                if let Some(attributes) = form.get("Attributes") {
                    c.attributes = attributes.clone();
                }
                Json(render(c)).into_response()
            }
        }
    };
    after(fault, answer).await
}

/// Posts a message (`Author`, `Body`; `MediaSid` names one attachment in the Media Content Service).
pub(crate) async fn post_message(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let fault = match before(&state, Route::SendChatMessage).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let body = form.get("Body").map(String::as_str);
    let media_sid = form.get("MediaSid");
    if body.is_none_or(str::is_empty) && media_sid.is_none() {
        return error(StatusCode::BAD_REQUEST, 50006, "Body or MediaSid is required");
    }
    if body.is_some_and(|b| b.chars().count() > 1600) {
        return error(StatusCode::BAD_REQUEST, 50006, "Body is longer than 1600 characters");
    }
    let author = form.get("Author").cloned().unwrap_or_else(|| "system".into());
    let answer = {
        let mut s = state.lock().unwrap();
        // The media as its upload to the Media Content Service described it (unknown: no details).
        let media = media_sid.map(|sid| {
            let known = s.media.iter().find(|m| &m.sid == sid).map(crate::media::Media::listed);
            json!(
                [known.unwrap_or_else(|| json!({ "sid": sid, "content_type": null, "filename": null, "size": null }))]
            )
        });
        let open = s.conversation(&key).map(|c| c.state != "closed");
        match open {
            None => error(
                StatusCode::NOT_FOUND,
                20404,
                &format!("The requested resource /Conversations/{key}/Messages was not found"),
            ),
            Some(false) => closed(),
            Some(true) => {
                let m = s.add_chat_message(&key, &author, body, media).expect("the conversation is open");
                let c = s.conversation(&key).expect("it exists");
                (StatusCode::CREATED, Json(render_message(c, &m))).into_response()
            }
        }
    };
    after(fault, answer).await
}
