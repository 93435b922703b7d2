//! Work the app does while it is open: the SMS outbox worker, chat attachments kept, the clinic's upkeep (audit linking,
//! WAL checkpoints), and a Twilio credential check at start-up, every 15 minutes (every 30 seconds
//! while Twilio cannot be reached), and whenever the settings change.
//! All are the core's; this only schedules them.

use crate::state::AppState;
use clinicdesk_core::sms::worker::OutboxWorker;
use clinicdesk_core::twilio::check::check;
use clinicdesk_core::twilio::TwilioHttp;
use clinicdesk_core::Clinic;
use std::sync::Arc;
use std::time::Duration;
use tauri::{AppHandle, Manager};

const OUTBOX_PASS_EVERY: Duration = Duration::from_secs(3);
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(2);
const ATTACHMENTS_EVERY: Duration = Duration::from_secs(10);
const RECHECK_OFFLINE: Duration = Duration::from_secs(30);
const RECHECK_ONLINE: Duration = Duration::from_secs(15 * 60);

pub fn start(app: &AppHandle) {
    let Some(clinic) = app.state::<AppState>().shared_clinic() else { return };
    tauri::async_runtime::spawn(run_housekeeping(clinic.clone()));
    tauri::async_runtime::spawn(crate::desk::run(app.clone()));
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        // The first use builds the HTTP client (it reads the CA certificates): not on the main
        // thread, which is opening the window meanwhile.
        let builder = handle.clone();
        let Ok(http) = tauri::async_runtime::spawn_blocking(move || builder.state::<AppState>().twilio.clone()).await
        else {
            return tracing::error!("the Twilio client could not be made; outbox worker not started");
        };
        tauri::async_runtime::spawn(run_outbox(clinic.clone(), http.clone()));
        tauri::async_runtime::spawn(run_attachments(handle.clone(), clinic, http.clone()));
        // Checked again now and then, and often while Twilio cannot be reached, so the top bar's
        // "Offline" goes by itself when the network returns.
        loop {
            check_twilio(&handle, &http).await;
            let offline = handle.state::<AppState>().health().is_some_and(|h| h.offline);
            tokio::time::sleep(if offline { RECHECK_OFFLINE } else { RECHECK_ONLINE }).await;
        }
    });
}

/// Sends due texts and follows up on delivery for as long as the app runs. One worker per
/// database: if the CLI is running one, this waits its turn.
async fn run_outbox(clinic: Arc<Clinic>, http: TwilioHttp) {
    let config = match clinic.texts().worker_config() {
        Ok(config) => config,
        Err(err) => return tracing::error!(code = %err.code(), "outbox worker not started"),
    };
    let mut worker = match OutboxWorker::new(&clinic, &http, config) {
        Ok(worker) => worker,
        Err(err) => return tracing::error!(code = %err.code(), "outbox worker not started"),
    };
    loop {
        // A desk of a clinic server sends no texts: the server does (and holds the Twilio secrets).
        // The clinic's chat retention still applies to this desk's copies (the worker's pass does
        // it on one desk), also offline: an indexed look, nothing to do on most passes.
        if clinic.desk_sync().is_joined().unwrap_or(false) {
            if let Err(err) = clinic.consultations().remove_expired_chats() {
                tracing::warn!(code = %err.code(), "could not remove expired consultation chats on this desk");
            }
            tokio::time::sleep(OUTBOX_PASS_EVERY).await;
            continue;
        }
        match worker.run_once().await {
            Ok(report) if report != Default::default() => tracing::info!(?report, "outbox pass"),
            Ok(_) => {}
            Err(err) => tracing::warn!(code = %err.code(), "outbox pass failed; will try again"),
        }
        tokio::time::sleep(OUTBOX_PASS_EVERY).await;
    }
}

/// Keeps the files patients sent in consultation chats in the clinic database, on a timer of its
/// own so that no text (and no sync) waits behind a download: from Twilio on one desk (core:
/// consultations/attachment_fetch.rs), from the clinic server on a desk, as the person signed in
/// (attachment_pull.rs).
async fn run_attachments(app: AppHandle, clinic: Arc<Clinic>, http: TwilioHttp) {
    loop {
        tokio::time::sleep(ATTACHMENTS_EVERY).await;
        // Nothing to fetch (nearly always): no keyring read, no log line.
        match clinic.consultations().attachments_due() {
            Ok(true) => {}
            Ok(false) => continue,
            Err(err) => {
                tracing::warn!(code = %err.code(), "could not look for chat attachments to fetch");
                continue;
            }
        }
        if clinic.desk_sync().is_joined().unwrap_or(false) {
            let state = app.state::<AppState>();
            let Ok(Some(link)) = state.desk.link(&clinic) else { continue };
            // Only for the person signed in here now, with their own server session: a session
            // left open after an idle sign-out is never used to take clinical files.
            let Ok((_, caller)) = state.caller_passive() else { continue };
            let person = caller.user_id();
            if link.signed_in_as() != Some(person) {
                continue;
            }
            match clinic.consultations().fetch_attachments_from_server(&link, person).await {
                Ok(0) => {}
                Ok(kept) => tracing::info!(kept, "chat attachments kept from the clinic server"),
                Err(err) => tracing::warn!(code = %err.code(), "taking chat attachments from the clinic server failed"),
            }
            continue;
        }
        let account = match clinic.twilio().account() {
            Ok(Some(account)) => account,
            Ok(None) => continue,
            Err(err) => {
                tracing::warn!(code = %err.code(), "could not read the Twilio account for chat attachments");
                continue;
            }
        };
        match clinic.consultations().fetch_attachments(&http, &account).await {
            Ok(0) => {}
            Ok(kept) => tracing::info!(kept, "chat attachments kept"),
            Err(err) => tracing::warn!(code = %err.code(), "fetching chat attachments failed; will try again"),
        }
    }
}

/// The clinic's upkeep beside the screens: links the audit's screen reads to their patients and
/// checkpoints the database's WAL, so no click pays for either (core: `Clinic::housekeeping`).
async fn run_housekeeping(clinic: Arc<Clinic>) {
    loop {
        tokio::time::sleep(HOUSEKEEPING_EVERY).await;
        let clinic = clinic.clone();
        match tauri::async_runtime::spawn_blocking(move || clinic.housekeeping()).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::warn!(code = %err.code(), "housekeeping failed; will try again"),
            Err(err) => tracing::error!(error = %err, "housekeeping task failed"),
        }
    }
}

/// Checks the Twilio setup and keeps the result for the health indicator.
pub async fn check_twilio(app: &AppHandle, http: &TwilioHttp) {
    let state = app.state::<AppState>();
    let Ok(clinic) = state.clinic() else { return };
    let account = match clinic.twilio().account() {
        Ok(Some(account)) => account,
        _ => return state.set_health(None),
    };
    let health = check(http, &account, clinic.now()).await;
    if let (None, Some(found)) = (&account.settings.conversations_service_sid, &health.conversations_service_sid) {
        let _ = clinic.twilio().remember_conversations_service(found);
    }
    if clinicdesk_core::twilio::check::sending_problem(&health).is_none() {
        let _ = clinic.texts().setup_checked_ok();
    }
    tracing::info!(overall = ?health.overall, "Twilio check");
    state.set_health(Some(health));
}
