//! The system-browser host of the doctor's call, for webviews without WebRTC (WebKitGTK today): the
//! core's loopback call host serves the call page from the app's own built assets, the doctor's
//! token goes into a one-time ticket, and the system browser opens the page with its code. The token
//! never passes through the webview; the webview only sees the call's state, reported by the page.
//!
//! The host starts on first use (most days no call needs it) and lives as long as the app.

use crate::error::{ApiError, ApiErrorCode, ApiResult};
use clinicdesk_core::call_host::{CallHost, CallReport, CallTicket, PageAsset, PageAssets};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tauri::{AppHandle, Runtime};
use tokio::sync::OnceCell;
use uuid::Uuid;

/// Set by tests (and by anyone who wants another browser): the program the call link is opened
/// with. Otherwise the system's default browser (`$BROWSER`, then the desktop's default).
pub const BROWSER_ENV: &str = "CLINICDESK_BROWSER";

#[derive(Default)]
pub struct BrowserCalls {
    host: OnceCell<CallHost>,
    /// The last state each call page reported, by appointment.
    reports: Arc<Mutex<HashMap<Uuid, CallReport>>>,
}

impl BrowserCalls {
    async fn host<R: Runtime>(&self, app: &AppHandle<R>) -> ApiResult<&CallHost> {
        self.host
            .get_or_try_init(|| async {
                let host = CallHost::start(page_assets(app)).await.map_err(ApiError::from)?;
                let mut reports = host.subscribe();
                let kept = self.reports.clone();
                tauri::async_runtime::spawn(async move {
                    use tokio::sync::broadcast::error::RecvError;
                    loop {
                        match reports.recv().await {
                            Ok(report) => {
                                kept.lock().expect("reports lock").insert(report.appointment_id, report);
                            }
                            Err(RecvError::Lagged(_)) => continue,
                            Err(RecvError::Closed) => break,
                        }
                    }
                });
                Ok(host)
            })
            .await
    }

    /// Issues a one-time link for `ticket` and opens it in the system browser.
    pub async fn open<R: Runtime>(&self, app: &AppHandle<R>, ticket: CallTicket) -> ApiResult<()> {
        let appointment = ticket.appointment_id;
        let host = self.host(app).await?;
        let url = host.issue(ticket);
        self.reports.lock().expect("reports lock").remove(&appointment);
        open_in_browser(&url).map_err(|problem| {
            tracing::warn!(%problem, "the call page could not be opened in the browser");
            ApiError::new(
                ApiErrorCode::Unavailable,
                "ClinicDesk could not open your web browser for the call. Check that a browser is installed and set as the default, then try again.",
            )
        })
    }

    /// The consultation ended: its links and the page's report key stop working.
    pub fn revoke(&self, appointment: Uuid) {
        if let Some(host) = self.host.get() {
            host.revoke(appointment);
        }
        self.reports.lock().expect("reports lock").remove(&appointment);
    }

    pub fn report(&self, appointment: Uuid) -> Option<CallReport> {
        self.reports.lock().expect("reports lock").get(&appointment).cloned()
    }
}

/// The call page and its assets, from the UI built into the app (the same files the window runs).
/// Only files that exist are passed through: Tauri's resolver answers an unknown path with
/// index.html (for single-page apps), which must not be served as "assets/whatever".
fn page_assets<R: Runtime>(app: &AppHandle<R>) -> PageAssets {
    let resolver = app.asset_resolver();
    let known: HashSet<String> = resolver.iter().map(|(path, _)| path.trim_start_matches('/').to_owned()).collect();
    Arc::new(move |path: &str| {
        if !known.contains(path) {
            return None;
        }
        resolver.get(path.to_owned()).map(|asset| PageAsset { bytes: asset.bytes.into(), mime: asset.mime_type })
    })
}

/// Opens `url` with `CLINICDESK_BROWSER` if set, else the system's default browser. The link's code
/// is in the fragment and never logged.
fn open_in_browser(url: &str) -> Result<(), String> {
    if let Some(program) = std::env::var_os(BROWSER_ENV).filter(|p| !p.is_empty()) {
        return std::process::Command::new(program).arg(url).spawn().map(drop).map_err(|e| e.to_string());
    }
    webbrowser::open(url).map_err(|e| e.to_string())
}
