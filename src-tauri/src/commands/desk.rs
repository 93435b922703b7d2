//! This computer as a desk of a clinic server: joining one at first run, the desk's sync state for
//! the top bar, and the changes waiting for the server or refused by it.

use crate::desk::DeskProgress;
use crate::error::ApiResult;
use crate::state::AppState;
use clinicdesk_core::sync::PendingChange;
use serde::Serialize;
use tauri::State;
use ts_rs::TS;
use uuid::Uuid;

/// Joins this (not yet set up) computer to a clinic server. `certificate` is the clinic's own
/// certificate (PEM), when its IT person gave one.
#[tauri::command]
pub async fn desk_join(
    state: State<'_, AppState>,
    server_url: String,
    credential: String,
    certificate: Option<String>,
) -> ApiResult<()> {
    let clinic = state.clinic()?;
    let sync = clinic.desk_sync();
    // Checked before anything is kept, so a bad certificate leaves the computer as it was.
    if let Some(pem) = certificate.as_deref().filter(|p| !p.trim().is_empty()) {
        clinicdesk_core::sync::check_certificate(pem)?;
        sync.join(&server_url, &credential)?;
        sync.trust_certificate(pem)?;
    } else {
        sync.join(&server_url, &credential)?;
    }
    tracing::info!("joined a clinic server");
    state.desk.wake();
    Ok(())
}

#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct DeskStatus {
    #[serde(flatten)]
    #[ts(flatten)]
    pub progress: DeskProgress,
    pub server_url: String,
    /// Changes made here that the server has not answered yet ("not yet confirmed").
    pub waiting: Vec<PendingChange>,
    /// Changes the server refused, with its sentence, for reception to deal with.
    pub needs_attention: Vec<PendingChange>,
}

/// The desk's state; `None` on a one-desk clinic. Polled by the top bar: it does not count as use.
#[tauri::command]
pub async fn desk_status(state: State<'_, AppState>) -> ApiResult<Option<DeskStatus>> {
    let (clinic, caller) = state.caller_passive()?;
    let sync = clinic.desk_sync();
    let Some(server_url) = sync.server_url()? else { return Ok(None) };
    Ok(Some(DeskStatus {
        progress: state.desk.progress(),
        server_url: server_url.to_string(),
        waiting: sync.waiting(&caller)?,
        needs_attention: sync.needs_attention(&caller)?,
    }))
}

/// Reception has dealt with a change the server refused.
#[tauri::command]
pub async fn desk_dismiss(state: State<'_, AppState>, client_id: Uuid) -> ApiResult<()> {
    let (clinic, caller) = state.caller()?;
    clinic.desk_sync().dismiss(&caller, client_id)?;
    state.desk.wake();
    Ok(())
}
