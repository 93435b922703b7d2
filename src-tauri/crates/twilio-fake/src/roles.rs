//! Conversations roles (v1, the default Conversation Service): list, create and update, with
//! `Permission` repeated once per permission as Twilio takes it. A participant may be added with a
//! conversation-scoped role's `RoleSid`; another SID is refused (50201), as Twilio refuses it.

use crate::conversations::needs_key;
use crate::state::{sid, Shared};
use crate::video::page;
use crate::{error, Caller, ACCOUNT_SID};
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The permissions Twilio accepts for a conversation-scoped role.
const CONVERSATION_PERMISSIONS: &[&str] = &[
    "addNonChatParticipant",
    "addParticipant",
    "deleteAnyMessage",
    "deleteOwnMessage",
    "editAnyMessage",
    "editAnyMessageAttributes",
    "editAnyParticipantAttributes",
    "editConversationAttributes",
    "editConversationName",
    "editNotificationLevel",
    "editOwnMessage",
    "editOwnMessageAttributes",
    "editOwnParticipantAttributes",
    "leaveConversation",
    "removeParticipant",
    "sendMediaMessage",
    "sendMessage",
];

#[derive(Debug, Clone)]
pub(crate) struct Role {
    pub sid: String,
    pub friendly_name: String,
    /// "conversation" or "service".
    pub kind: String,
    pub permissions: Vec<String>,
}

fn render(r: &Role) -> Value {
    json!({ "sid": r.sid, "account_sid": ACCOUNT_SID, "friendly_name": r.friendly_name, "type": r.kind,
            "permissions": r.permissions })
}

/// The `Permission` values, or Twilio's refusal (its code and message).
fn permissions(form: &[(String, String)]) -> Result<Vec<String>, (u32, String)> {
    let wanted: Vec<String> = form.iter().filter(|(k, _)| k == "Permission").map(|(_, v)| v.clone()).collect();
    if wanted.is_empty() {
        return Err((20001, "Missing required parameter Permission in the post body".into()));
    }
    match wanted.iter().find(|p| !CONVERSATION_PERMISSIONS.contains(&p.as_str())) {
        Some(p) => Err((50200, format!("Invalid permission: {p}"))),
        None => Ok(wanted),
    }
}

pub(crate) async fn list(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let items = state.lock().unwrap().roles.iter().map(render).collect();
    Json(page(&headers, &uri.to_string(), "roles", items, &query)).into_response()
}

pub(crate) async fn create(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let (Some(friendly_name), Some(kind)) = (field("FriendlyName"), field("Type")) else {
        return error(
            StatusCode::BAD_REQUEST,
            20001,
            "Missing required parameter FriendlyName or Type in the post body",
        );
    };
    if kind != "conversation" {
        return error(StatusCode::BAD_REQUEST, 20001, "The fake knows conversation roles only");
    }
    let permissions = match permissions(&form) {
        Ok(p) => p,
        Err((code, message)) => return error(StatusCode::BAD_REQUEST, code, &message),
    };
    let mut s = state.lock().unwrap();
    if s.roles.iter().any(|r| r.friendly_name == friendly_name) {
        return error(StatusCode::CONFLICT, 50201, "Role with this friendly name already exists");
    }
    let role = Role { sid: sid("RL"), friendly_name, kind, permissions };
    let answer = (StatusCode::CREATED, Json(render(&role))).into_response();
    s.roles.push(role);
    answer
}

pub(crate) async fn update(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(role): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let permissions = match permissions(&form) {
        Ok(p) => p,
        Err((code, message)) => return error(StatusCode::BAD_REQUEST, code, &message),
    };
    let mut s = state.lock().unwrap();
    match s.roles.iter_mut().find(|r| r.sid == role) {
        Some(r) => {
            r.permissions = permissions;
            Json(render(r)).into_response()
        }
        None => error(StatusCode::NOT_FOUND, 20404, "The requested resource was not found"),
    }
}
