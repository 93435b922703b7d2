//! The desks' API: sign-in, the sync feed (long-poll) and commands. Every request names its desk
//! (`X-ClinicDesk-Desk: <credential>`); all but sign-in also carry the staff member's session
//! (`Authorization: Bearer <token>`). Errors travel as `{"code", "message"}` with the core's codes
//! and sentences, so a desk shows reception the same words in both modes.

use crate::changes::{self, Audience, Cursor};
use crate::commands::{self, DeskCommand};
use crate::desks::{self, Desk};
use crate::error::ServerError;
use crate::sessions;
use crate::staff::Staff;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use clinicdesk_core::auth::Role;
use clinicdesk_core::error::{CoreError, ErrorCode};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

pub use crate::http::Shared;

/// The longest a desk's pull waits for news before answering empty.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// How often a waiting pull looks again without a notification (see wake.rs).
const RECHECK: Duration = Duration::from_secs(1);
const PAGE: i64 = 500;

pub struct ApiError(ServerError);

impl<E: Into<ServerError>> From<E> for ApiError {
    fn from(e: E) -> ApiError {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match &self.0 {
            ServerError::Rule(e) => {
                let status = match e.code() {
                    ErrorCode::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::NotFound => StatusCode::NOT_FOUND,
                    ErrorCode::Conflict => StatusCode::CONFLICT,
                    ErrorCode::Forbidden => StatusCode::FORBIDDEN,
                    // Twilio could not do its part for the server (a consultation's step).
                    ErrorCode::Unavailable => StatusCode::BAD_GATEWAY,
                    ErrorCode::NotSignedIn | ErrorCode::BadCredentials | ErrorCode::AccountLocked => {
                        StatusCode::UNAUTHORIZED
                    }
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                (status, e.code().as_str(), e.to_string())
            }
            ServerError::Database(_) | ServerError::Pool(_) => {
                tracing::error!(error = ?self.0, "database failure answering a desk");
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable", self.0.to_string())
            }
            ServerError::Setup(message) => (StatusCode::INTERNAL_SERVER_ERROR, "storage", message.clone()),
        };
        (status, Json(json!({ "code": code, "message": message }))).into_response()
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn desk(shared: &Shared, headers: &HeaderMap) -> ApiResult<Desk> {
    let credential = header(headers, "x-clinicdesk-desk").unwrap_or_default();
    let client = shared.pool.get().await?;
    let desk = desks::authenticate(&**client, credential, Utc::now()).await?;
    shared.limiter.recognised(credential);
    Ok(desk)
}

pub(crate) async fn signed_in(shared: &Shared, headers: &HeaderMap) -> ApiResult<(Desk, Staff, Option<Uuid>)> {
    let desk = desk(shared, headers).await?;
    let token =
        header(headers, "authorization").and_then(|v| v.strip_prefix("Bearer ")).ok_or(CoreError::NotSignedIn)?;
    let client = shared.pool.get().await?;
    let (staff, doctor) = sessions::check(&**client, &desk, token, Utc::now()).await?;
    Ok((desk, staff, doctor))
}

/// Which desk this credential is and which clinic it belongs to: a joining desk checks its
/// address and credential with it before keeping them.
pub async fn whoami(State(shared): State<Shared>, headers: HeaderMap) -> ApiResult<impl IntoResponse> {
    let desk = desk(&shared, &headers).await?;
    let client = shared.pool.get().await?;
    let clinic = crate::settings::get(&**client, crate::settings::CLINIC_NAME).await?.unwrap_or_default();
    Ok(Json(json!({ "desk": desk.name, "clinic": clinic })))
}

#[derive(Deserialize)]
pub struct SignInBody {
    email: String,
    password: String,
}

pub async fn sign_in(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<SignInBody>,
) -> ApiResult<impl IntoResponse> {
    let desk = desk(&shared, &headers).await?;
    Ok(Json(sessions::sign_in(&shared.pool, &desk, &body.email, &body.password, Utc::now()).await?))
}

/// Ends the caller's server session (the desk signed the person out, or they went idle there).
pub async fn sign_out(State(shared): State<Shared>, headers: HeaderMap) -> ApiResult<impl IntoResponse> {
    let desk = desk(&shared, &headers).await?;
    let token =
        header(&headers, "authorization").and_then(|v| v.strip_prefix("Bearer ")).ok_or(CoreError::NotSignedIn)?;
    let client = shared.pool.get().await?;
    sessions::sign_out(&**client, &desk, token, Utc::now()).await?;
    Ok(Json(json!({ "signed_out": true })))
}

#[derive(Deserialize)]
pub struct PullQuery {
    #[serde(default)]
    after: Option<String>,
    /// Seconds to wait for news when there is none yet (long-poll), at most 30.
    #[serde(default)]
    wait: Option<u64>,
}

pub async fn pull(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<PullQuery>,
) -> ApiResult<impl IntoResponse> {
    let (_desk, staff, doctor) = signed_in(&shared, &headers).await?;
    let after: Cursor = match query.after.as_deref() {
        None | Some("") => Cursor::default(),
        Some(text) => text.parse().map_err(|_| CoreError::invalid("after", "That sync position is not valid."))?,
    };
    let audience = match (staff.role(), doctor) {
        (Role::Admin, _) => Audience::Everything,
        (Role::Doctor, Some(id)) => Audience::Doctor(id),
        _ => Audience::ScheduleOnly,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(query.wait.unwrap_or(0)).min(MAX_WAIT);
    let mut wake = shared.wake.clone();
    loop {
        let page = {
            let client = shared.pool.get().await?;
            changes::pull(&**client, after, &audience, PAGE).await?
        };
        let now = tokio::time::Instant::now();
        if !page.is_empty() || now >= deadline {
            let cursor = page.last().map(|c| c.cursor.clone()).unwrap_or_else(|| after.to_string());
            return Ok(Json(json!({ "changes": page, "cursor": cursor })));
        }
        let _ = tokio::time::timeout(RECHECK.min(deadline - now), wake.changed()).await;
    }
}

/// A part of the desk's own audit trail (audit.rs, `from_desk`).
pub async fn audit(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Json(upload): Json<clinicdesk_core::sync::wire::AuditUpload>,
) -> ApiResult<impl IntoResponse> {
    let (desk, staff, _) = signed_in(&shared, &headers).await?;
    if upload.entries.len() > 1000 {
        return Err(CoreError::invalid("entries", "Send at most 1000 audit entries at a time.").into());
    }
    let client = shared.pool.get().await?;
    let added = crate::audit::from_desk(&**client, &desk, &staff, &upload, Utc::now()).await?;
    Ok(Json(json!({ "added": added })))
}

/// A part of a one-desk clinic moving onto this server (migration.rs). Administrators only.
pub async fn migrate(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Json(batch): Json<clinicdesk_core::sync::wire::MigrationBatch>,
) -> ApiResult<impl IntoResponse> {
    let (_desk, staff, _) = signed_in(&shared, &headers).await?;
    Ok(Json(crate::migration::receive(&shared.pool, &staff, &batch).await?))
}

#[derive(Deserialize)]
pub struct CommandBody {
    client_id: Uuid,
    command: DeskCommand,
}

pub async fn command(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<CommandBody>,
) -> ApiResult<impl IntoResponse> {
    let (desk, staff, _) = signed_in(&shared, &headers).await?;
    if matches!(body.command, DeskCommand::TextPatient { .. }) && shared.twilio.is_none() {
        // Queued here it would go whenever Twilio is added, out of its moment (as on one desk).
        return Err(CoreError::Conflict(
            "Texting is not set up on the clinic server yet: your IT person adds the clinic's Twilio account there."
                .into(),
        )
        .into());
    }
    Ok(Json(commands::apply(&shared.pool, &desk, &staff, body.client_id, &body.command, Utc::now()).await?))
}

/// Marks a patient's text read (staff who text patients); every desk sees it through the feed.
pub async fn text_read(
    State(shared): State<Shared>,
    headers: HeaderMap,
    axum::extract::Path(sid): axum::extract::Path<String>,
) -> ApiResult<impl IntoResponse> {
    let (_desk, staff, _) = signed_in(&shared, &headers).await?;
    Ok(Json(crate::inbox::mark_read(&shared.pool, &staff, &sid, Utc::now()).await?))
}
