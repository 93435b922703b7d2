//! Twilio's Media Content Service (MCS) for chat attachments, as ClinicDesk uses it: a media's
//! metadata at `GET /v1/Services/{IS}/Media/{ME}` (API key), whose `links.content_direct_temporary`
//! is a short-lived, pre-signed link to the bytes. The link carries its own signature, as a cloud
//! store's does, so a request that also sends credentials is refused, and an expired one too.
//!
//! Tests add media with [`crate::FakeTwilio::add_chat_media`] (the patient's browser uploads it
//! through the SDK, which ClinicDesk's core never does).

use crate::conversations::needs_key;
use crate::faults::{after, before, Route};
use crate::state::Shared;
use crate::{error, Caller, ACCOUNT_SID};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::HashMap;

/// How long a direct link works (Twilio's are valid for about five minutes).
const LINK_LIFETIME_SECS: i64 = 300;

#[derive(Debug, Clone)]
pub(crate) struct Media {
    pub sid: String,
    pub service_sid: String,
    pub content_type: String,
    pub filename: Option<String>,
    pub content: Vec<u8>,
    pub message_sid: Option<String>,
    pub conversation_sid: Option<String>,
    pub author: String,
    pub created: DateTime<Utc>,
}

impl Media {
    /// As a message lists it.
    pub fn listed(&self) -> serde_json::Value {
        json!({ "sid": self.sid, "size": self.content.len(), "content_type": self.content_type,
                "filename": self.filename, "category": "media" })
    }
}

pub(crate) async fn fetch(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Path((service, media)): Path<(String, String)>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let fault = match before(&state, Route::FetchMedia).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1").to_owned();
    let answer = {
        let s = state.lock().unwrap();
        match s.media.iter().find(|m| m.sid == media && m.service_sid == service) {
            None => {
                error(StatusCode::NOT_FOUND, 20404, &format!("The requested resource /Media/{media} was not found"))
            }
            Some(m) => {
                let expires = (s.now().timestamp() + LINK_LIFETIME_SECS).to_string();
                Json(json!({
                    "sid": m.sid, "account_sid": ACCOUNT_SID, "service_sid": m.service_sid,
                    "date_created": m.created.to_rfc3339(), "date_upload_updated": m.created.to_rfc3339(),
                    "date_updated": m.created.to_rfc3339(), "size": m.content.len(),
                    "content_type": m.content_type, "filename": m.filename, "author": m.author,
                    "category": "media", "message_sid": m.message_sid, "channel_sid": m.conversation_sid,
                    "url": format!("/v1/Services/{}/Media/{}", m.service_sid, m.sid),
                    "is_multipart_upstream": false,
                    "links": {
                        "content": format!("/v1/Services/{}/Media/{}/Content", m.service_sid, m.sid),
                        "content_direct_temporary": format!(
                            "http://{host}/fake/media-content/{}?Expires={expires}&Signature=fake-signature", m.sid
                        ),
                    },
                }))
                .into_response()
            }
        }
    };
    after(fault, answer).await
}

/// The bytes behind a direct link.
pub(crate) async fn content(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(media): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let fault = match before(&state, Route::MediaContent).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if headers.contains_key(header::AUTHORIZATION) {
        // A pre-signed link is its own authorisation; credentials must never travel with it.
        return (StatusCode::BAD_REQUEST, "Only one auth mechanism allowed").into_response();
    }
    let answer = {
        let s = state.lock().unwrap();
        let fresh = query.get("Expires").and_then(|e| e.parse::<i64>().ok()).is_some_and(|e| e >= s.now().timestamp());
        match s.media.iter().find(|m| m.sid == media) {
            _ if !fresh || !query.contains_key("Signature") => {
                (StatusCode::FORBIDDEN, "Request has expired or is not signed").into_response()
            }
            None => (StatusCode::NOT_FOUND, "NoSuchKey").into_response(),
            Some(m) => ([(header::CONTENT_TYPE, m.content_type.clone())], m.content.clone()).into_response(),
        }
    };
    after(fault, answer).await
}
