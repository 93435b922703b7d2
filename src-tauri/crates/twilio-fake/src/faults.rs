//! Misbehaviour on demand: each injected fault applies to one request on its route, in order.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    CreateMessage,
    FetchMessage,
    ListMessages,
    Account,
    IncomingNumbers,
    ListServiceNumbers,
    CreateRoom,
    UpdateRoom,
    ListRooms,
    ListParticipants,
    Configuration,
    CreateConversation,
    AddParticipant,
    ListChatMessages,
    FetchRoom,
    RecordingRules,
    FetchConversation,
    UpdateConversation,
    ListChatParticipants,
    UpdateChatParticipant,
    SendChatMessage,
    UploadAssetVersion,
    BuildStatus,
    /// A chat attachment's metadata (MCS).
    FetchMedia,
    /// A chat attachment's bytes, behind its pre-signed direct link.
    MediaContent,
}

#[derive(Debug, Clone)]
pub enum Fault {
    /// Refuse without acting, with this HTTP status and Twilio error code.
    Error { status: u16, code: u32, message: String },
    /// 429 with `Retry-After` (seconds) and code 20429; nothing is done.
    TooManyRequests { retry_after_secs: u64 },
    /// 503 with an HTML body, as a struggling proxy would answer; nothing is done.
    Unavailable,
    /// Wait before doing anything (a client that gives up first never reaches Twilio's logic).
    SlowBefore(Duration),
    /// Do the work, then wait before answering (a client that gives up does not know it was done).
    SlowAfter(Duration),
    /// Do the work, then cut the connection in the middle of the answer.
    DropAfterProcessing,
    /// Cut the connection without doing anything (the client cannot tell this from the above).
    DropBeforeProcessing,
    /// Do the work, then answer this 5xx status anyway (a gateway that lost Twilio's answer:
    /// 500, 502, 503 or 504). The client cannot tell this from `Unavailable`.
    ErrorAfterProcessing { status: u16 },
}

#[derive(Default)]
pub(crate) struct Faults {
    queue: Vec<(Route, Fault)>,
}

impl Faults {
    pub fn push(&mut self, route: Route, fault: Fault) {
        self.queue.push((route, fault));
    }

    pub fn take(&mut self, route: Route) -> Option<Fault> {
        let index = self.queue.iter().position(|(r, _)| *r == route)?;
        Some(self.queue.remove(index).1)
    }
}

use crate::state::Shared;
use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// Applies the fault queued for `route`, if any, before the work. `Err` is the answer to give
/// instead of working; `Ok(Some(..))` is a fault to apply after the work.
pub(crate) async fn before(state: &Shared, route: Route) -> Result<Option<Fault>, Response> {
    let fault = state.lock().unwrap().faults.take(route);
    match fault {
        None => Ok(None),
        Some(Fault::Error { status, code, message }) => {
            Err(crate::error(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), code, &message))
        }
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            let mut response = crate::error(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests");
            response.headers_mut().insert(header::RETRY_AFTER, retry_after_secs.to_string().parse().unwrap());
            Err(response)
        }
        Some(Fault::Unavailable) => Err((
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>503 Service Unavailable</body></html>",
        )
            .into_response()),
        Some(Fault::DropBeforeProcessing) => {
            Err(after(Some(Fault::DropAfterProcessing), StatusCode::CREATED.into_response()).await)
        }
        Some(Fault::SlowBefore(delay)) => {
            tokio::time::sleep(delay).await;
            Ok(None)
        }
        Some(after) => Ok(Some(after)),
    }
}

/// Applies an after-the-work fault to the answer.
pub(crate) async fn after(fault: Option<Fault>, response: Response) -> Response {
    match fault {
        Some(Fault::SlowAfter(delay)) => {
            tokio::time::sleep(delay).await;
            response
        }
        Some(Fault::ErrorAfterProcessing { status }) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>Bad gateway</body></html>",
        )
            .into_response(),
        Some(Fault::DropAfterProcessing) => {
            // Promise a long body, send a little, then fail the stream: the connection is cut.
            let chunks: Vec<Result<Bytes, std::io::Error>> =
                vec![Ok(Bytes::from_static(b"{\"sid\": \"SM")), Err(std::io::Error::other("connection dropped"))];
            let mut cut = Response::new(Body::from_stream(futures_util::stream::iter(chunks)));
            *cut.status_mut() = response.status();
            cut.headers_mut().insert(header::CONTENT_LENGTH, "4096".parse().unwrap());
            cut.headers_mut().insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
            cut
        }
        _ => response,
    }
}
