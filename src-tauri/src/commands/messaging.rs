//! Twilio setup and health, and the texts in the outbox.

use crate::error::ApiResult;
use crate::state::AppState;
use clinicdesk_core::auth::{Caller, Permission};
use clinicdesk_core::sms::{SendingPaused, TextMessage, TextState};
use clinicdesk_core::twilio::check::{Health, TwilioHealth};
use clinicdesk_core::twilio::config::{TwilioSettingsInput, TwilioStatus};
use clinicdesk_core::Clinic;
use serde::Serialize;
use tauri::{AppHandle, State};
use ts_rs::TS;

/// What the UI may know about Twilio. Everyone: whether texts are working (the top-bar
/// indicator) and, if sending is paused, why. Administrators also get the non-secret settings and
/// each part of the last check; nobody ever gets a secret.
#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct TwilioOverview {
    pub configured: bool,
    /// The last check's verdict (`None` before the first check, or when not configured).
    pub overall: Option<Health>,
    pub sending_paused: Option<SendingPaused>,
    /// Twilio could not be reached at the last check: the app works from this computer's database.
    pub offline: bool,
    /// Administrators only.
    pub status: Option<TwilioStatus>,
    /// Administrators only.
    pub health: Option<TwilioHealth>,
}

fn overview(state: &AppState, clinic: &Clinic, caller: &Caller) -> ApiResult<TwilioOverview> {
    let health = state.health();
    let admin = Permission::ManageSettings.allows(caller.role());
    Ok(TwilioOverview {
        configured: clinic.twilio().is_configured()?,
        overall: health.as_ref().map(|h| h.overall),
        sending_paused: clinic.texts().sending_paused(caller)?,
        offline: health.as_ref().is_some_and(|h| h.offline),
        status: if admin { Some(clinic.twilio().status(caller)?) } else { None },
        health: if admin { health } else { None },
    })
}

#[tauri::command]
pub async fn twilio_overview(state: State<'_, AppState>) -> ApiResult<TwilioOverview> {
    let (clinic, caller) = state.caller_passive()?; // the top bar's badge polls this
    overview(&state, clinic, &caller)
}

/// Saves the settings (secrets to the keyring), then checks them at once.
#[tauri::command]
pub async fn twilio_configure(
    app: AppHandle,
    state: State<'_, AppState>,
    settings: TwilioSettingsInput,
) -> ApiResult<TwilioOverview> {
    let (clinic, caller) = state.caller()?;
    clinic.twilio().configure(&caller, settings)?;
    crate::background::check_twilio(&app, &state.twilio).await;
    // Read back after the check: it may have found and kept the account's Conversations service.
    overview(&state, clinic, &caller)
}

#[tauri::command]
pub async fn twilio_check(app: AppHandle, state: State<'_, AppState>) -> ApiResult<TwilioOverview> {
    let (clinic, caller) = state.caller()?;
    caller.require(Permission::ManageSettings)?;
    crate::background::check_twilio(&app, &state.twilio).await;
    overview(&state, clinic, &caller)
}

#[tauri::command]
pub async fn texts_list(state: State<'_, AppState>, status: Option<TextState>) -> ApiResult<Vec<TextMessage>> {
    let (clinic, caller) = state.caller_passive()?; // the Texts screen refreshes this on a timer
    Ok(clinic.texts().list(&caller, status, 200)?)
}
