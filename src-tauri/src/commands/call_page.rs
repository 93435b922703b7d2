//! Publishing the patients' call page to the clinic's Twilio account from Settings: the same files
//! the app serves (its built-in UI), the core's publication, progress streamed to the window.

use crate::error::ApiResult;
use crate::state::AppState;
use clinicdesk_core::call_page::{self, PublishOptions, PublishProgress, PublishedPage};
use tauri::ipc::Channel;
use tauri::{AppHandle, State};

/// Publishes the call page (administrators; the core checks) and points patients' links at it.
/// Each step is sent on `on_progress` as it begins.
#[tauri::command]
pub async fn call_page_publish(
    app: AppHandle,
    state: State<'_, AppState>,
    on_progress: Channel<PublishProgress>,
) -> ApiResult<PublishedPage> {
    let (clinic, caller) = state.caller()?;
    caller.require(clinicdesk_core::auth::Permission::ManageSettings)?;
    let files = call_page::files(&crate::browser_call::page_assets(&app))?;
    let progress = move |step: PublishProgress| {
        // A closed window only stops the display; publishing carries on.
        let _ = on_progress.send(step);
    };
    Ok(clinic.call_page().publish(&caller, &state.twilio, &files, PublishOptions::default(), progress).await?)
}
