//! This computer as a desk of a clinic server: joining one at first run, the desk's sync state for
//! the top bar, and the changes waiting for the server or refused by it.

use crate::desk::DeskProgress;
use crate::error::ApiResult;
use crate::state::AppState;
use clinicdesk_core::sync::wire::DeskIdentity;
use clinicdesk_core::sync::PendingChange;
use serde::Serialize;
use tauri::State;
use ts_rs::TS;
use uuid::Uuid;

/// Joins this (not yet set up) computer to a clinic server, once the server has recognised the
/// desk's credential at that address. `certificate` is the clinic's own certificate (PEM), when
/// its IT person gave one. Returns the desk's and the clinic's names.
#[tauri::command]
pub async fn desk_join(
    state: State<'_, AppState>,
    server_url: String,
    credential: String,
    certificate: Option<String>,
) -> ApiResult<DeskIdentity> {
    let clinic = state.clinic()?;
    if clinic.desk_sync().is_joined()? {
        // A new credential for a desk already joined: an administrator's to give.
        let (_, caller) = state.caller()?;
        caller.require(clinicdesk_core::auth::Permission::ManageSettings)?;
    }
    let identity = clinic.desk_sync().join_checked(&server_url, &credential, certificate.as_deref()).await?;
    tracing::info!(desk = %identity.desk, "joined a clinic server");
    // A link made before (a re-join with a new credential) is made again from what was kept.
    state.desk.drop_link();
    state.desk.wake();
    Ok(identity)
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
