//! Start-up status, first-run setup, sign-in, sign-out and the person's own password.

use crate::error::ApiResult;
use crate::state::AppState;
use clinicdesk_core::auth::{Channel, SetupRequest, StaffProfile};
use clinicdesk_core::error::SessionEnd;
use clinicdesk_core::settings::system_time_zone;
use serde::Serialize;
use tauri::State;
use ts_rs::TS;

#[derive(Debug, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum AppPhase {
    /// The clinic could not be opened; `problem` says why and what to do.
    Unavailable,
    NeedsSetup,
    SignedOut,
    SignedIn,
}

#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct AppStatus {
    pub phase: AppPhase,
    pub problem: Option<String>,
    pub clinic_name: Option<String>,
    pub profile: Option<StaffProfile>,
    /// This computer's time zone, offered as the default during setup.
    pub suggested_time_zone: String,
    pub data_dir: String,
    /// True when `scripts/run.sh` fell back to a keyring of its own whose unlock password is public:
    /// the window then warns on every screen not to enter real patient data.
    pub trial_keyring: bool,
    /// The clinic server this computer is a desk of; `None` on a one-desk clinic.
    pub desk_server: Option<String>,
    /// Set when this folder's clinic moved (or is moving) onto a clinic server: the sentence the
    /// window shows on every screen (every change is refused with it too).
    pub moved: Option<String>,
}

#[tauri::command]
pub async fn app_status(state: State<'_, AppState>) -> ApiResult<AppStatus> {
    start_up_status(&state)
}

/// Which screen the window should show. Also computed once by the shell before the page runs
/// (`window.rs`), so the first frame is already that screen.
pub fn start_up_status(state: &AppState) -> ApiResult<AppStatus> {
    let mut status = AppStatus {
        phase: AppPhase::Unavailable,
        problem: state.problem().map(str::to_owned),
        clinic_name: None,
        profile: None,
        suggested_time_zone: system_time_zone(),
        data_dir: state.data_dir.display().to_string(),
        trial_keyring: state.trial_keyring,
        desk_server: None,
        moved: None,
    };
    let Ok(clinic) = state.clinic() else { return Ok(status) };
    status.desk_server = clinic.desk_sync().server_url()?.map(|url| url.to_string());
    status.moved = clinic.desk_sync().move_notice()?;
    if clinic.needs_setup()? {
        status.phase = AppPhase::NeedsSetup;
        return Ok(status);
    }
    status.clinic_name = Some(clinic.settings().clinic_name()?);
    status.phase = AppPhase::SignedOut;
    // Asking who is signed in is not using ClinicDesk: it must not restart the idle time.
    if let Ok((clinic, caller)) = state.caller_passive() {
        status.profile = Some(clinic.auth().profile(&caller)?);
        status.phase = AppPhase::SignedIn;
    }
    Ok(status)
}

/// Creates the clinic and its first administrator, signs them in, and optionally loads the sample clinic.
#[tauri::command]
pub async fn set_up(state: State<'_, AppState>, request: SetupRequest, load_sample: bool) -> ApiResult<StaffProfile> {
    let clinic = state.clinic()?;
    let email = request.admin_email.clone();
    let password = request.admin_password.clone();
    clinic.auth().set_up(request)?;
    let signed = clinic.auth().sign_in(&email, &password, Channel::App)?;
    if load_sample {
        clinicdesk_core::demo::seed(clinic, &signed.caller, None)?;
    }
    state.set_token(Some(signed.token));
    Ok(signed.profile)
}

#[tauri::command]
pub async fn sign_in(state: State<'_, AppState>, email: String, password: String) -> ApiResult<StaffProfile> {
    let password = zeroize::Zeroizing::new(password);
    let clinic = state.clinic()?;
    if let Some(old) = state.token() {
        let _ = clinic.auth().sign_out(&old, SessionEnd::SignedOut);
    }
    state.desk.forget_unchecked();
    let signed = match state.desk.link(clinic)? {
        // A desk of a clinic server: the server checks the password when it can be reached.
        Some(link) => {
            let signed = clinic.desk_sync().sign_in(&link, &email, password.as_str(), Channel::App).await?;
            // The session first: the sync loop forgets an unchecked password while nobody is
            // signed in.
            state.set_token(Some(signed.token.clone()));
            if !link.has_session() {
                // Signed in offline: the server checks the password once it is back (desk.rs).
                state.desk.remember_unchecked(signed.profile.user_id, &email, password);
            }
            state.desk.wake();
            signed
        }
        None => clinic.auth().sign_in(&email, password.as_str(), Channel::App)?,
    };
    state.set_token(Some(signed.token));
    tracing::info!(user = %signed.profile.user_id, "signed in");
    Ok(signed.profile)
}

/// `idle` is true when the window signs out after the idle time without input. The shell forgets
/// the session even if the core fails to record the sign-out.
#[tauri::command]
pub async fn sign_out(
    state: State<'_, AppState>,
    calls: State<'_, crate::browser_call::BrowserCalls>,
    idle: bool,
) -> ApiResult<()> {
    // Call links not yet opened and the call pages' report keys die with the session.
    calls.revoke_all();
    state.desk.forget_unchecked();
    let server_session = state.clinic().ok().and_then(|clinic| state.desk.link(clinic).ok().flatten());
    let signed_out = state.sign_out(if idle { SessionEnd::Idle } else { SessionEnd::SignedOut });
    if let Some(link) = server_session {
        link.sign_out().await;
    }
    signed_out
}

/// Called while the person is using the window (typing, clicking) so the core's idle clock,
/// which otherwise only sees commands, knows they are still there.
#[tauri::command]
pub async fn session_touch(state: State<'_, AppState>) -> ApiResult<StaffProfile> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.auth().profile(&caller)?)
}

/// The signed-in person changes their own password; their other sessions end, this one stays.
#[tauri::command]
pub async fn password_change(
    state: State<'_, AppState>,
    current_password: String,
    new_password: String,
) -> ApiResult<()> {
    let (clinic, caller) = state.caller()?;
    let result = clinic.auth().change_password(&caller, &current_password, &new_password);
    if let Err(err) = &result {
        // Too many wrong guesses locked the account and ended this session in the core too.
        if err.code() == "account_locked" {
            state.set_token(None);
        }
    }
    Ok(result?)
}
