//! The system-browser host of the doctor's call, for webviews without WebRTC (WebKitGTK today): the
//! core's loopback call host serves the call page from the app's own built assets, the doctor's
//! token goes into a one-time ticket, and the system browser opens the page with its code. This
//! ticket's token goes to the browser only (the window keeps its own token for the chat).
//!
//! The link is never put on a command line: any local account can read another's process arguments
//! (/proc/PID/cmdline) and would win the race to the one-time code. The browser is given the path of a
//! small page, readable by this account only, that forwards to the link; it is removed when the code
//! has been used or has expired.
//!
//! The host starts on first use (most days no call needs it) and lives as long as the app.

use crate::error::{ApiError, ApiErrorCode, ApiResult};
use clinicdesk_core::call_host::{CallHost, CallReport, CallTicket, PageAsset, PageAssets, CODE_LIFETIME_SECONDS};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
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
    pub async fn open<R: Runtime>(&self, app: &AppHandle<R>, data_dir: &Path, ticket: CallTicket) -> ApiResult<()> {
        let appointment = ticket.appointment_id;
        let host = self.host(app).await?;
        let url = host.issue(ticket);
        self.reports.lock().expect("reports lock").remove(&appointment);
        let page = forwarding_page(data_dir, appointment, &url).map_err(|problem| {
            tracing::warn!(%problem, "the call link page could not be written");
            ApiError::new(
                ApiErrorCode::Unavailable,
                "ClinicDesk could not prepare the call link on this computer. Try again.",
            )
        })?;
        let removed = page.clone();
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(CODE_LIFETIME_SECONDS as u64 + 5)).await;
            let _ = std::fs::remove_file(removed);
        });
        let target = tauri::Url::from_file_path(&page).map(String::from).unwrap_or_default();
        open_in_browser(&target).map_err(|problem| {
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

    /// The doctor signed out: every link and report key stops working.
    pub fn revoke_all(&self) {
        if let Some(host) = self.host.get() {
            host.revoke_all();
        }
        self.reports.lock().expect("reports lock").clear();
    }

    pub fn report(&self, appointment: Uuid) -> Option<CallReport> {
        self.reports.lock().expect("reports lock").get(&appointment).cloned()
    }
}

/// The call page and its assets, from the UI built into the app (the same files the window runs).
/// Only files that exist are passed through: Tauri's resolver answers an unknown path with
/// index.html (for single-page apps), which must not be served as "assets/whatever".
pub(crate) fn page_assets<R: Runtime>(app: &AppHandle<R>) -> PageAssets {
    let resolver = app.asset_resolver();
    let known: HashSet<String> = resolver.iter().map(|(path, _)| path.trim_start_matches('/').to_owned()).collect();
    Arc::new(move |path: &str| {
        if !known.contains(path) {
            return None;
        }
        resolver.get(path.to_owned()).map(|asset| PageAsset { bytes: asset.bytes.into(), mime: asset.mime_type })
    })
}

/// Writes `<data dir>/call-links/<appointment>.html` (directory 0700, file 0600) forwarding to `url`.
fn forwarding_page(data_dir: &Path, appointment: Uuid, url: &str) -> std::io::Result<PathBuf> {
    let dir = data_dir.join("call-links");
    std::fs::create_dir_all(&dir)?;
    let page = dir.join(format!("{appointment}.html"));
    let _ = std::fs::remove_file(&page);
    let html = format!(
        "<!doctype html><meta charset=\"utf-8\"><meta name=\"referrer\" content=\"no-referrer\">\
         <meta http-equiv=\"refresh\" content=\"0;url={url}\"><title>ClinicDesk</title>\
         <p>Opening the video call… <a href=\"{url}\">Open it</a> if nothing happens.</p>"
    );
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        options.mode(0o600);
    }
    std::io::Write::write_all(&mut options.open(&page)?, html.as_bytes())?;
    Ok(page)
}

/// Opens `target` (the forwarding page's path) with `CLINICDESK_BROWSER` if set, else the system's
/// default browser.
fn open_in_browser(target: &str) -> Result<(), String> {
    if let Some(program) = std::env::var_os(BROWSER_ENV).filter(|p| !p.is_empty()) {
        return std::process::Command::new(program).arg(target).spawn().map(drop).map_err(|e| e.to_string());
    }
    webbrowser::open(target).map_err(|e| e.to_string())
}
