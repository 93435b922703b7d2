//! Texts patients sent back that wait for a person (the inbox on the Texts screen, and the
//! unread count in the top bar).

use crate::error::ApiResult;
use crate::state::AppState;
use clinicdesk_core::sms::IncomingText;
use tauri::State;

/// How many inbox texts the screen shows at most.
const INBOX_LIMIT: u32 = 200;

#[tauri::command]
pub async fn inbox_list(state: State<'_, AppState>, unread_only: bool) -> ApiResult<Vec<IncomingText>> {
    let (clinic, caller) = state.caller_passive()?; // the Texts screen refreshes this on a timer
    Ok(clinic.inbox().list(&caller, unread_only, INBOX_LIMIT)?)
}

#[tauri::command]
pub async fn inbox_unread_count(state: State<'_, AppState>) -> ApiResult<u32> {
    let (clinic, caller) = state.caller_passive()?; // the top bar polls this
    Ok(clinic.inbox().unread_count(&caller)?)
}

#[tauri::command]
pub async fn inbox_mark_read(state: State<'_, AppState>, sid: String) -> ApiResult<IncomingText> {
    let (clinic, caller) = state.caller()?;
    // On a desk the server keeps whether a text was read, so every desk's inbox agrees.
    Ok(match state.desk.link(clinic)? {
        Some(link) => clinic.inbox().mark_read_on_server(&caller, &link, &sid).await?,
        None => clinic.inbox().mark_read(&caller, &sid)?,
    })
}
