//! The desks' API for video consultations (consultations/): a doctor's desk starts, joins, chats,
//! records and ends through the clinic server, which holds the clinic's Twilio account; the
//! doctor's and administrators' desks fetch the kept chat attachments. Same headers and error
//! shape as the rest of the API (api.rs).

use crate::api::{signed_in, ApiResult, Shared};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;
use axum::Json;
use chrono::Utc;
use clinicdesk_core::sync::wire::ATTACHMENT_STATE_HEADER;
use serde::Deserialize;
use uuid::Uuid;

/// Starts (or continues starting) a video consultation: its doctor's desk (consultations.rs).
pub async fn consultation_start(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> ApiResult<impl IntoResponse> {
    let (_desk, staff, _) = signed_in(&shared, &headers).await?;
    Ok(Json(crate::consultations::start(&shared.pool, shared.twilio.as_deref(), &staff, id, Utc::now()).await?))
}

#[derive(Deserialize)]
pub struct TokenBody {
    /// A token for the room and the chat; false: the chat only.
    video: bool,
}

/// The doctor's token for a running consultation.
pub async fn consultation_token(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Json(body): Json<TokenBody>,
) -> ApiResult<impl IntoResponse> {
    let (_desk, staff, _) = signed_in(&shared, &headers).await?;
    let twilio = shared.twilio.as_deref();
    Ok(Json(crate::consultations::token(&shared.pool, twilio, &staff, id, body.video, Utc::now()).await?))
}

/// Ends a running consultation and answers with its record.
pub async fn consultation_end(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> ApiResult<impl IntoResponse> {
    let (_desk, staff, _) = signed_in(&shared, &headers).await?;
    Ok(Json(crate::consultations::end(&shared.pool, shared.twilio.as_deref(), &staff, id, Utc::now()).await?))
}

#[derive(Deserialize, Default)]
pub struct InviteBody {
    /// The desk's id for this request: asked again after its answer was lost, the same id answers
    /// with the text already queued instead of texting the patient a second link.
    #[serde(default)]
    request_id: Option<Uuid>,
}

/// Texts the patient a new link to the video consultation (its doctor, or staff who send texts).
pub async fn consultation_invite(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    body: Option<Json<InviteBody>>,
) -> ApiResult<impl IntoResponse> {
    let (_desk, staff, _) = signed_in(&shared, &headers).await?;
    let request = body.map(|Json(b)| b).unwrap_or_default().request_id;
    let twilio = shared.twilio.as_deref();
    Ok(Json(crate::consultations::invite(&shared.pool, twilio, &staff, id, request, Utc::now()).await?))
}

/// The running consultation's chat with both read horizons (polled by a doctor's window whose
/// live connection to Twilio is blocked).
pub async fn consultation_messages(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> ApiResult<impl IntoResponse> {
    let (_desk, staff, _) = signed_in(&shared, &headers).await?;
    Ok(Json(crate::consultations::messages(&shared.pool, shared.twilio.as_deref(), &staff, id, Utc::now()).await?))
}

#[derive(Deserialize)]
pub struct SendBody {
    body: String,
    /// The desk's id for this press: asked again after a lost answer, the message is not posted
    /// twice (older desks send none).
    #[serde(default)]
    request_id: Option<Uuid>,
}

/// Posts a chat message to the patient as the doctor.
pub async fn consultation_send(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Json(message): Json<SendBody>,
) -> ApiResult<impl IntoResponse> {
    let (_desk, staff, _) = signed_in(&shared, &headers).await?;
    let twilio = shared.twilio.as_deref();
    let now = Utc::now();
    Ok(Json(
        crate::consultations::send(&shared.pool, twilio, &staff, id, &message.body, message.request_id, now).await?,
    ))
}

/// Marks the chat read by the doctor.
pub async fn consultation_read(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> ApiResult<impl IntoResponse> {
    let (_desk, staff, _) = signed_in(&shared, &headers).await?;
    Ok(Json(crate::consultations::mark_read(&shared.pool, shared.twilio.as_deref(), &staff, id).await?))
}

/// The patients waiting on the call page now (a doctor's own; all for other staff). Polled by
/// the desks' day views.
pub async fn waiting_room(State(shared): State<Shared>, headers: HeaderMap) -> ApiResult<impl IntoResponse> {
    let (_desk, staff, _) = signed_in(&shared, &headers).await?;
    let twilio = shared.twilio.as_deref();
    Ok(Json(crate::consultations::waiting(&shared.pool, twilio, &shared.waiting, &staff, Utc::now()).await?))
}

/// Records that the patient agreed to be recorded (its doctor, before or during the consultation).
pub async fn consultation_consent(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> ApiResult<impl IntoResponse> {
    let (_desk, staff, _) = signed_in(&shared, &headers).await?;
    Ok(Json(crate::consultations::consent(&shared.pool, &staff, id, Utc::now()).await?))
}

#[derive(Deserialize)]
pub struct RecordingBody {
    on: bool,
}

/// Switches recording on or off while the consultation runs (on: only after the agreement).
pub async fn consultation_recording(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Json(body): Json<RecordingBody>,
) -> ApiResult<impl IntoResponse> {
    let (_desk, staff, _) = signed_in(&shared, &headers).await?;
    let twilio = shared.twilio.as_deref();
    Ok(Json(crate::consultations::set_recording(&shared.pool, twilio, &staff, id, body.on, Utc::now()).await?))
}

/// The consultation's recordings (metadata), for its doctor.
pub async fn consultation_recordings(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> ApiResult<impl IntoResponse> {
    let (_desk, staff, _) = signed_in(&shared, &headers).await?;
    Ok(Json(crate::consultations::recordings(&shared.pool, shared.twilio.as_deref(), &staff, id).await?))
}

/// A kept chat attachment, for the desk of the consultation's doctor or an administrator.
pub async fn consultation_attachment(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path((id, media_sid)): Path<(Uuid, String)>,
) -> ApiResult<impl IntoResponse> {
    let (_desk, staff, _) = signed_in(&shared, &headers).await?;
    let held = crate::consultations::attachment(&shared.pool, &staff, id, &media_sid).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::HeaderName::from_static(ATTACHMENT_STATE_HEADER), held.state),
        ],
        held.bytes,
    ))
}
