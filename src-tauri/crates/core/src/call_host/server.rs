//! The call host's HTTP side: the Host and Origin checks, the page and its assets with their
//! headers, the code exchange and the page's reports.

use super::tickets::{CallHostPhase, CallReport, Refused};
use super::Inner;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// The page's own scripts and styles; media and signalling with Twilio only. Svelte sets inline
/// style attributes, hence 'unsafe-inline' for styles (never for scripts).
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' blob: data:; media-src 'self' blob:; \
connect-src 'self' https://*.twilio.com wss://*.twilio.com; \
frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Requests are small JSON objects: anything bigger is not from the page.
const MAX_BODY_BYTES: usize = 16 * 1024;
/// A report's sentence is cut to this many characters.
const MAX_MESSAGE_CHARS: usize = 300;

type Shared = Arc<Inner>;

pub(super) fn router(inner: Shared) -> Router {
    Router::new()
        .route("/call.html", get(page))
        .route("/assets/{*path}", get(asset))
        .route("/api/exchange", post(exchange))
        .route("/api/report", post(report))
        .fallback(|| async { sentence(StatusCode::NOT_FOUND, "There is nothing here.") })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(inner.clone(), guard))
        .with_state(inner)
}

fn sentence(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

/// Refuses other hosts (DNS rebinding) and cross-origin posts; adds the headers every answer carries.
async fn guard(State(inner): State<Shared>, request: Request, next: Next) -> Response {
    let own = format!("127.0.0.1:{}", inner.port);
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    let mut response = if host != Some(own.as_str()) {
        sentence(StatusCode::MISDIRECTED_REQUEST, "This address only answers ClinicDesk's own call page.")
    } else if request.method() == axum::http::Method::POST && !same_origin(request.headers(), &own) {
        sentence(StatusCode::FORBIDDEN, "Only ClinicDesk's own call page may ask this.")
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// No Origin (a non-browser client on this computer) or this very origin.
fn same_origin(headers: &HeaderMap, own: &str) -> bool {
    match headers.get(header::ORIGIN).map(|o| o.to_str()) {
        None => true,
        Some(Ok(origin)) => origin == format!("http://{own}"),
        Some(Err(_)) => false,
    }
}

fn file(inner: &Inner, path: &str) -> Response {
    match (inner.assets)(path) {
        Some(asset) => {
            let mut response = (StatusCode::OK, Body::from(Bytes::from(asset.bytes.into_owned()))).into_response();
            let mime =
                HeaderValue::from_str(&asset.mime).unwrap_or(HeaderValue::from_static("application/octet-stream"));
            response.headers_mut().insert(header::CONTENT_TYPE, mime);
            response
        }
        None => sentence(StatusCode::NOT_FOUND, "There is nothing here."),
    }
}

async fn page(State(inner): State<Shared>) -> Response {
    let mut response = file(&inner, "call.html");
    if response.status() == StatusCode::OK {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    }
    response
}

/// Only plain names under assets/: no parent steps, no absolute or Windows paths.
fn safe_asset_path(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\\')
        && !path.starts_with('/')
        && path.split('/').all(|part| !part.is_empty() && part != "." && part != ".." && !part.contains(':'))
}

async fn asset(State(inner): State<Shared>, Path(path): Path<String>) -> Response {
    if !safe_asset_path(&path) {
        return sentence(StatusCode::NOT_FOUND, "There is nothing here.");
    }
    file(&inner, &format!("assets/{path}"))
}

#[derive(Deserialize)]
struct Exchange {
    code: String,
}

async fn exchange(
    State(inner): State<Shared>,
    body: Result<Json<Exchange>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let code = match body {
        Ok(Json(Exchange { code })) => code,
        Err(rejection) => {
            return sentence(rejection.status(), "This link is not complete. Open the call again from ClinicDesk.")
        }
    };
    let now = (inner.clock)();
    let result = inner.tickets.lock().expect("tickets lock").exchange(&code, now);
    match result {
        Ok((ticket, report_key)) => {
            let _ = inner.reports.send(CallReport {
                appointment_id: ticket.appointment_id,
                phase: CallHostPhase::Opened,
                message: None,
                at: now,
            });
            let mut answer = serde_json::to_value(&ticket).unwrap_or_default();
            answer["report_key"] = json!(report_key);
            Json(answer).into_response()
        }
        Err(Refused::Used) => {
            sentence(StatusCode::GONE, "This link was already used. Open the call again from ClinicDesk.")
        }
        Err(Refused::Expired) => sentence(
            StatusCode::GONE,
            "This link has expired (links work for two minutes). Open the call again from ClinicDesk.",
        ),
        Err(Refused::Unknown) => {
            sentence(StatusCode::NOT_FOUND, "This link is not valid. Open the call again from ClinicDesk.")
        }
    }
}

#[derive(Deserialize)]
struct Report {
    phase: CallHostPhase,
    message: Option<String>,
}

async fn report(
    State(inner): State<Shared>,
    headers: HeaderMap,
    body: Result<Json<Report>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let Some(appointment_id) = inner.tickets.lock().expect("tickets lock").reporter(key) else {
        return sentence(StatusCode::UNAUTHORIZED, "Open the call again from ClinicDesk.");
    };
    let report = match body {
        Ok(Json(report)) => report,
        Err(rejection) => return sentence(rejection.status(), "The call state could not be read."),
    };
    let message = report.message.map(|m| m.chars().take(MAX_MESSAGE_CHARS).collect::<String>());
    let _ = inner.reports.send(CallReport { appointment_id, phase: report.phase, message, at: (inner.clock)() });
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::safe_asset_path;

    #[test]
    fn asset_paths_stay_under_assets() {
        assert!(safe_asset_path("call-1a2b.js"));
        assert!(safe_asset_path("fonts/a.woff2"));
        for bad in ["", "../secret", "a/../../b", "/etc/passwd", "a\\b", "C:/x", "a//b", "./a"] {
            assert!(!safe_asset_path(bad), "{bad}");
        }
    }

    /// The page carries the same policy as a meta tag, for the patient's copy on a website that sends
    /// none; a meta tag cannot carry frame-ancestors, so that one directive is the header's alone.
    #[test]
    fn the_pages_own_policy_matches_the_header() {
        let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../ui/call.html")).unwrap();
        let meta =
            page.split("http-equiv=\"Content-Security-Policy\" content=\"").nth(1).expect("call.html has a CSP meta");
        let meta = &meta[..meta.find('"').unwrap()];
        let header: Vec<&str> =
            super::PAGE_CSP.split(';').map(str::trim).filter(|d| !d.starts_with("frame-ancestors")).collect();
        assert_eq!(meta.split(';').map(str::trim).collect::<Vec<_>>(), header);
    }
}
