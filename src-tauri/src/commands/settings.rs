//! Clinic settings.

use crate::error::ApiResult;
use crate::state::AppState;
use clinicdesk_core::settings::{ClinicSettings, ClinicSettingsInput, TimeZoneChange};
use tauri::State;

#[tauri::command]
pub async fn settings_get(state: State<'_, AppState>) -> ApiResult<ClinicSettings> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.settings().get(&caller)?)
}

/// `confirm_time_zone_change` is sent only after the person has read the core's explanation of
/// what a new time zone does to upcoming appointments (a `conflict` on `time_zone`).
#[tauri::command]
pub async fn settings_update(
    state: State<'_, AppState>,
    settings: ClinicSettingsInput,
    confirm_time_zone_change: Option<bool>,
) -> ApiResult<ClinicSettings> {
    let (clinic, caller) = state.caller()?;
    let zone_change = TimeZoneChange::confirmed_if(confirm_time_zone_change.unwrap_or(false));
    Ok(clinic.settings().update_with(&caller, settings, zone_change)?)
}
