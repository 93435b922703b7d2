//! Clinic settings.

use crate::error::ApiResult;
use crate::state::AppState;
use clinicdesk_core::settings::{ClinicSettings, ClinicSettingsInput};
use tauri::State;

#[tauri::command]
pub async fn settings_get(state: State<'_, AppState>) -> ApiResult<ClinicSettings> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.settings().get(&caller)?)
}

#[tauri::command]
pub async fn settings_update(state: State<'_, AppState>, settings: ClinicSettingsInput) -> ApiResult<ClinicSettings> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.settings().update(&caller, settings)?)
}
