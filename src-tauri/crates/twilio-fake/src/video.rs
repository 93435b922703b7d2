//! Video Rooms and their Participants (v1), with Twilio's paging (`meta.next_page_url`).

use crate::faults::{after, before, Route};
use crate::state::{sid, Room, Shared};
use crate::{error, Caller};
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use chrono::Utc;
use serde_json::{json, Value};
use std::collections::HashMap;

const TYPES: [&str; 4] = ["group", "group-small", "peer-to-peer", "go"];

fn render(r: &Room) -> Value {
    json!({
        "sid": r.sid, "unique_name": r.unique_name, "status": r.status, "type": r.kind, "max_participants": r.max_participants,
        "media_region": r.media_region, "record_participants_on_connect": r.record_on_connect,
        "empty_room_timeout": r.empty_timeout, "unused_room_timeout": r.unused_timeout, "date_created": r.created.to_rfc3339(), "date_updated": Utc::now().to_rfc3339(),
        "end_time": r.ended.map(|e| e.to_rfc3339()), "duration": r.ended.map(|e| (e - r.created).num_seconds()),
        "url": format!("https://video.twilio.com/v1/Rooms/{}", r.sid),
        "links": { "participants": format!("https://video.twilio.com/v1/Rooms/{}/Participants", r.sid) },
    })
}

/// One page of `items` plus Twilio's `meta`, with `next_page_url` pointing back at this fake.
pub(crate) fn page(
    headers: &HeaderMap,
    uri: &str,
    key: &str,
    items: Vec<Value>,
    query: &HashMap<String, String>,
) -> Value {
    let size = query.get("PageSize").and_then(|p| p.parse::<usize>().ok()).unwrap_or(50).clamp(1, 1000);
    let number = query.get("Page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(0);
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let path = uri.split('?').next().unwrap_or(uri);
    let others: String =
        query.iter().filter(|(k, _)| *k != "Page" && *k != "PageSize").map(|(k, v)| format!("&{k}={v}")).collect();
    let url = |p: usize| format!("http://{host}{path}?PageSize={size}&Page={p}{others}");
    let total = items.len();
    let slice: Vec<Value> = items.into_iter().skip(number * size).take(size).collect();
    let has_next = (number + 1) * size < total;
    json!({
        key: slice,
        "meta": { "page": number, "page_size": size, "first_page_url": url(0), "previous_page_url": if number > 0 { Some(url(number - 1)) } else { None },
                  "url": url(number), "next_page_url": if has_next { Some(url(number + 1)) } else { None }, "key": key },
    })
}

fn needs_key(caller: Caller) -> Option<Response> {
    (caller != Caller::ApiKey).then(|| error(StatusCode::UNAUTHORIZED, 20003, "Authenticate"))
}

pub(crate) async fn create(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let fault = match before(&state, Route::CreateRoom).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let kind = form.get("Type").cloned().unwrap_or_else(|| "group".into());
    if !TYPES.contains(&kind.as_str()) {
        return error(StatusCode::BAD_REQUEST, 53105, "Invalid room type");
    }
    let max = form.get("MaxParticipants").and_then(|m| m.parse().ok()).unwrap_or(50);
    if !(1..=50).contains(&max) {
        return error(StatusCode::BAD_REQUEST, 53107, "MaxParticipants is out of range");
    }
    for timeout in ["EmptyRoomTimeout", "UnusedRoomTimeout"] {
        if form.get(timeout).is_some_and(|t| !t.parse::<u32>().is_ok_and(|m| (1..=60).contains(&m))) {
            return error(StatusCode::BAD_REQUEST, 53123, &format!("{timeout} must be between 1 and 60 minutes"));
        }
    }
    let answer = create_now(&state, &form, kind, max);
    after(fault, answer).await
}

fn create_now(state: &Shared, form: &HashMap<String, String>, kind: String, max: u32) -> Response {
    let mut s = state.lock().unwrap();
    let name = form.get("UniqueName").cloned().unwrap_or_else(|| sid("RM"));
    if s.rooms.iter().any(|r| r.unique_name == name && r.status == "in-progress") {
        return error(StatusCode::BAD_REQUEST, 53113, "Room exists");
    }
    let room = Room {
        sid: sid("RM"),
        unique_name: name,
        status: "in-progress".into(),
        kind,
        max_participants: max,
        media_region: form.get("MediaRegion").cloned().unwrap_or_else(|| "gll".into()),
        created: s.now(),
        ended: None,
        participants: Vec::new(),
        empty_timeout: form.get("EmptyRoomTimeout").and_then(|t| t.parse().ok()),
        unused_timeout: form.get("UnusedRoomTimeout").and_then(|t| t.parse().ok()),
        record_on_connect: form.get("RecordParticipantsOnConnect").map(String::as_str) == Some("true"),
        recording_rules: json!([]),
        recordings: Vec::new(),
    };
    let answer = (StatusCode::CREATED, Json(render(&room))).into_response();
    s.rooms.push(room);
    answer
}

fn find<'a>(rooms: &'a mut [Room], key: &str) -> Option<&'a mut Room> {
    // A UniqueName names the in-progress room; a SID names exactly one.
    rooms.iter_mut().rev().find(|r| r.sid == key || (r.unique_name == key && r.status == "in-progress"))
}

pub(crate) async fn fetch(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(room): Path<String>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    if let Err(r) = before(&state, Route::FetchRoom).await {
        return r;
    }
    let mut s = state.lock().unwrap();
    match find(&mut s.rooms, &room) {
        Some(r) => Json(render(r)).into_response(),
        None => error(StatusCode::NOT_FOUND, 20404, &format!("The requested resource /Rooms/{room} was not found")),
    }
}

pub(crate) async fn update(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(room): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let fault = match before(&state, Route::UpdateRoom).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if form.get("Status").map(String::as_str) != Some("completed") {
        return error(StatusCode::BAD_REQUEST, 53120, "Invalid Room status");
    }
    let answer = complete_now(&state, &room);
    after(fault, answer).await
}

fn complete_now(state: &Shared, room: &str) -> Response {
    let mut s = state.lock().unwrap();
    let now = s.now();
    match find(&mut s.rooms, room) {
        Some(r) => {
            if r.status == "in-progress" {
                // Completing a room disconnects everyone in it (and so stops any recording).
                r.status = "completed".into();
                r.ended = Some(now);
                for p in r.participants.iter_mut().filter(|p| p.end.is_none()) {
                    p.end = Some(now);
                }
                r.sync_recordings(now);
            }
            (StatusCode::ACCEPTED, Json(render(r))).into_response()
        }
        None => error(StatusCode::NOT_FOUND, 20404, &format!("The requested resource /Rooms/{room} was not found")),
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
    if let Err(r) = before(&state, Route::ListRooms).await {
        return r;
    }
    let s = state.lock().unwrap();
    let rooms: Vec<Value> = s
        .rooms
        .iter()
        .filter(|r| query.get("Status").is_none_or(|st| &r.status == st))
        .filter(|r| query.get("UniqueName").is_none_or(|n| &r.unique_name == n))
        .map(render)
        .collect();
    Json(page(&headers, &uri.to_string(), "rooms", rooms, &query)).into_response()
}

pub(crate) async fn participants(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(room): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    if let Err(r) = before(&state, Route::ListParticipants).await {
        return r;
    }
    let mut s = state.lock().unwrap();
    let Some(r) = s.rooms.iter_mut().find(|r| r.sid == room) else {
        return error(
            StatusCode::NOT_FOUND,
            20404,
            &format!("The requested resource /Rooms/{room}/Participants was not found"),
        );
    };
    let room_sid = r.sid.clone();
    let wanted = query.get("Status").cloned();
    let status = |p: &crate::state::Participant| if p.end.is_some() { "disconnected" } else { "connected" };
    let items: Vec<Value> = r
        .participants
        .iter()
        .filter(|p| wanted.as_deref().is_none_or(|w| w == status(p)))
        .map(|p| {
            json!({ "sid": p.sid, "room_sid": room_sid, "identity": p.identity, "status": status(p),
                    "start_time": p.start.to_rfc3339(), "end_time": p.end.map(|e| e.to_rfc3339()),
                    "duration": p.end.map(|e| (e - p.start).num_seconds()) })
        })
        .collect();
    Json(page(&headers, &uri.to_string(), "participants", items, &query)).into_response()
}

fn rules_answer(r: &Room) -> Value {
    json!({ "room_sid": r.sid, "rules": r.recording_rules, "date_created": r.created.to_rfc3339(),
            "date_updated": Utc::now().to_rfc3339() })
}

pub(crate) async fn recording_rules(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(room): Path<String>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let s = state.lock().unwrap();
    match s.rooms.iter().find(|r| r.sid == room) {
        Some(r) => Json(rules_answer(r)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            20404,
            &format!("The requested resource /Rooms/{room}/RecordingRules was not found"),
        ),
    }
}

/// Sets the room's Recording Rules: a JSON array of `{"type": "include"|"exclude", "all": true, ...}`.
pub(crate) async fn set_recording_rules(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(room): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let fault = match before(&state, Route::RecordingRules).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let rules = form.get("Rules").and_then(|r| serde_json::from_str::<Value>(r).ok());
    let valid = rules.as_ref().and_then(Value::as_array).is_some_and(|rules| {
        rules.iter().all(|r| matches!(r.get("type").and_then(Value::as_str), Some("include" | "exclude")))
    });
    if !valid {
        return error(StatusCode::BAD_REQUEST, 53120, "Rules must be a JSON array of include/exclude rules");
    }
    let answer = {
        let mut s = state.lock().unwrap();
        let now = s.now();
        match s.rooms.iter_mut().find(|r| r.sid == room) {
            Some(r) if r.status != "in-progress" => error(StatusCode::BAD_REQUEST, 53118, "Room is not in progress"),
            Some(r) => {
                r.recording_rules = rules.unwrap_or_default();
                r.sync_recordings(now);
                Json(rules_answer(r)).into_response()
            }
            None => error(
                StatusCode::NOT_FOUND,
                20404,
                &format!("The requested resource /Rooms/{room}/RecordingRules was not found"),
            ),
        }
    };
    after(fault, answer).await
}

/// The room's track recordings (metadata; the media itself is not kept by the fake).
pub(crate) async fn recordings(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(room): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let s = state.lock().unwrap();
    let Some(r) = s.rooms.iter().find(|r| r.sid == room) else {
        return error(
            StatusCode::NOT_FOUND,
            20404,
            &format!("The requested resource /Rooms/{room}/Recordings was not found"),
        );
    };
    let items = r
        .recordings
        .iter()
        .map(|rec| {
            let duration = rec.end.map(|end| (end - rec.start).num_seconds());
            json!({ "sid": rec.sid, "account_sid": crate::ACCOUNT_SID, "room_sid": r.sid, "type": rec.kind,
                    "status": if rec.end.is_some() { "completed" } else { "processing" },
                    "date_created": rec.start.to_rfc3339(), "start_time": rec.start.to_rfc3339(),
                    "duration": duration, "size": duration.map(|d| d * if rec.kind == "video" { 62_500 } else { 4_000 }),
                    "container": if rec.kind == "video" { "mkv" } else { "mka" },
                    "codec": if rec.kind == "video" { "VP8" } else { "opus" },
                    "track_name": format!("{}-{}", rec.kind, &rec.participant_sid[2..10]),
                    "source_sid": format!("M{}", &rec.sid[1..]), "offset": 0,
                    "grouping_sids": { "room_sid": r.sid, "participant_sid": rec.participant_sid },
                    "links": {}, "url": format!("/v1/Rooms/{}/Recordings/{}", r.sid, rec.sid) })
        })
        .collect();
    Json(page(&headers, &uri.to_string(), "recordings", items, &query)).into_response()
}
