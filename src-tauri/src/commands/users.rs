//! Staff accounts (administrators).

use crate::error::ApiResult;
use crate::state::AppState;
use clinicdesk_core::users::{NewStaffUser, StaffUser, StaffUserChange};
use tauri::State;
use uuid::Uuid;

#[tauri::command]
pub async fn users_list(state: State<'_, AppState>) -> ApiResult<Vec<StaffUser>> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.users().list(&caller)?)
}

#[tauri::command]
pub async fn user_add(state: State<'_, AppState>, user: NewStaffUser) -> ApiResult<StaffUser> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.users().add(&caller, user)?)
}

#[tauri::command]
pub async fn user_update(state: State<'_, AppState>, id: Uuid, change: StaffUserChange) -> ApiResult<StaffUser> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.users().update(&caller, id, change)?)
}

#[tauri::command]
pub async fn user_reset_password(state: State<'_, AppState>, id: Uuid, password: String) -> ApiResult<()> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.users().reset_password(&caller, id, &password)?)
}

#[tauri::command]
pub async fn user_unlock(state: State<'_, AppState>, id: Uuid) -> ApiResult<StaffUser> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.users().unlock(&caller, id)?)
}

/// The audit trail, newest first, optionally about one record (administrators).
#[tauri::command]
pub async fn audit_recent(
    state: State<'_, AppState>,
    record_id: Option<String>,
) -> ApiResult<Vec<clinicdesk_core::audit::AuditEntry>> {
    let (clinic, caller) = state.caller()?;
    let record = record_id.as_deref().map(str::trim).filter(|r| !r.is_empty());
    Ok(clinic.audit().recent(&caller, record, 300)?)
}
