//! Twilio setup and health, and the texts in the outbox.

use crate::error::ApiResult;
use crate::state::AppState;
use clinicdesk_core::sms::{TextMessage, TextState};
use clinicdesk_core::twilio::check::TwilioHealth;
use clinicdesk_core::twilio::config::{TwilioSettingsInput, TwilioStatus};
use clinicdesk_core::twilio::{Endpoints, TwilioHttp};
use serde::Serialize;
use tauri::{AppHandle, State};
use ts_rs::TS;

/// What the UI may know about Twilio: whether it is set up, its non-secret settings, the last check.
#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct TwilioOverview {
    pub status: TwilioStatus,
    pub health: Option<TwilioHealth>,
}

#[tauri::command]
pub async fn twilio_overview(state: State<'_, AppState>) -> ApiResult<TwilioOverview> {
    let (clinic, caller) = state.caller_passive()?; // the top bar's badge polls this
    Ok(TwilioOverview { status: clinic.twilio().status(&caller)?, health: state.health() })
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
    crate::background::check_twilio(&app, &TwilioHttp::new(Endpoints::from_env())).await;
    // Read back after the check: it may have found and kept the account's Conversations service.
    Ok(TwilioOverview { status: clinic.twilio().status(&caller)?, health: state.health() })
}

#[tauri::command]
pub async fn twilio_check(app: AppHandle, state: State<'_, AppState>) -> ApiResult<TwilioOverview> {
    let (clinic, caller) = state.caller()?;
    crate::background::check_twilio(&app, &TwilioHttp::new(Endpoints::from_env())).await;
    Ok(TwilioOverview { status: clinic.twilio().status(&caller)?, health: state.health() })
}

#[tauri::command]
pub async fn texts_list(state: State<'_, AppState>, status: Option<TextState>) -> ApiResult<Vec<TextMessage>> {
    let (clinic, caller) = state.caller_passive()?; // the Texts screen refreshes this on a timer
    Ok(clinic.texts().list(&caller, status, 200)?)
}
