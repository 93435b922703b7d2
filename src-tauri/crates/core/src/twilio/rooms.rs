//! Video Rooms: create (or reuse the live room of the same name), complete, and list who joined.

use super::config::TwilioAccount;
use super::error::TwilioError;
use super::http::TwilioHttp;
use super::pages;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Room {
    pub sid: String,
    pub unique_name: String,
    pub status: String,
    #[serde(default)]
    pub duration: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RoomParticipant {
    pub sid: String,
    pub identity: String,
    pub status: String,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub end_time: Option<String>,
    /// Seconds in the room; set once the participant has left.
    #[serde(default)]
    pub duration: Option<i64>,
}

/// A track recording of a room (metadata; the media stays at Twilio).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RoomRecording {
    pub sid: String,
    /// "processing" while recording and until Twilio has finished the file, then "completed".
    pub status: String,
    /// "audio", "video" or "data".
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub duration: Option<i64>,
    #[serde(default)]
    pub size: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct RoomOptions {
    pub max_participants: u32,
    /// Minutes an empty room stays open after everyone left (1-60).
    pub empty_timeout_minutes: u32,
    /// Minutes a room nobody joined stays open (1-60).
    pub unused_timeout_minutes: u32,
    /// Record only with the patient's recorded consent.
    pub record: bool,
}

impl Default for RoomOptions {
    fn default() -> Self {
        RoomOptions { max_participants: 4, empty_timeout_minutes: 5, unused_timeout_minutes: 15, record: false }
    }
}

/// Creates the group room `unique_name`; if one by that name is already in progress (53113), that
/// room is fetched and reused, so starting a consultation twice joins the same room.
pub async fn create_or_reuse(
    http: &TwilioHttp,
    account: &TwilioAccount,
    unique_name: &str,
    options: &RoomOptions,
) -> Result<Room, TwilioError> {
    let url = format!("{}/v1/Rooms", http.endpoints.video);
    let mut form = vec![
        ("UniqueName", unique_name.to_owned()),
        ("Type", "group".to_owned()),
        ("MaxParticipants", options.max_participants.clamp(2, 50).to_string()),
        ("EmptyRoomTimeout", options.empty_timeout_minutes.clamp(1, 60).to_string()),
        ("UnusedRoomTimeout", options.unused_timeout_minutes.clamp(1, 60).to_string()),
    ];
    if options.record {
        form.push(("RecordParticipantsOnConnect", "true".to_owned()));
    }
    if let Some(region) = &account.settings.media_region {
        form.push(("MediaRegion", region.clone()));
    }
    match http.post::<Room>(&url, &account.key_auth(), &form).await {
        Err(err) if err.code() == Some(53113) => fetch(http, account, unique_name).await,
        other => other,
    }
}

pub async fn fetch(http: &TwilioHttp, account: &TwilioAccount, sid_or_name: &str) -> Result<Room, TwilioError> {
    http.get(&format!("{}/v1/Rooms/{}", http.endpoints.video, sid_or_name), &account.key_auth(), &[]).await
}

/// Ends the room for everyone in it.
pub async fn complete(http: &TwilioHttp, account: &TwilioAccount, sid_or_name: &str) -> Result<Room, TwilioError> {
    http.post(
        &format!("{}/v1/Rooms/{}", http.endpoints.video, sid_or_name),
        &account.key_auth(),
        &[("Status", "completed".to_owned())],
    )
    .await
}

/// Switches recording on (every track of everyone) or off for a room in progress (Recording Rules).
/// Only ever called with the patient's recorded consent.
pub async fn set_recording(
    http: &TwilioHttp,
    account: &TwilioAccount,
    room_sid: &str,
    record: bool,
) -> Result<serde_json::Value, TwilioError> {
    let rule = if record { "include" } else { "exclude" };
    let rules = serde_json::json!([{ "type": rule, "all": true }]);
    http.post(
        &format!("{}/v1/Rooms/{}/RecordingRules", http.endpoints.video, room_sid),
        &account.key_auth(),
        &[("Rules", rules.to_string())],
    )
    .await
}

/// Everyone who has left the room, across all pages.
pub async fn participants(
    http: &TwilioHttp,
    account: &TwilioAccount,
    room_sid: &str,
) -> Result<Vec<RoomParticipant>, TwilioError> {
    let url = format!("{}/v1/Rooms/{}/Participants", http.endpoints.video, room_sid);
    let query = [("Status", "disconnected".to_owned()), ("PageSize", "50".to_owned())];
    pages::all(http, &http.endpoints.video, &url, &query, &account.key_auth(), "participants", 200).await
}

/// The room's track recordings, across all pages.
pub async fn recordings(
    http: &TwilioHttp,
    account: &TwilioAccount,
    room_sid: &str,
) -> Result<Vec<RoomRecording>, TwilioError> {
    let url = format!("{}/v1/Rooms/{}/Recordings", http.endpoints.video, room_sid);
    let query = [("PageSize", "50".to_owned())];
    pages::all(http, &http.endpoints.video, &url, &query, &account.key_auth(), "recordings", 200).await
}
