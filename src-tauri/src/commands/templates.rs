//! The wording of the clinic's texts: the template editor in Settings.

use crate::error::ApiResult;
use crate::state::AppState;
use clinicdesk_core::sms::templates::{Template, TemplateName, TemplatePreview};
use tauri::State;

#[tauri::command]
pub async fn templates_list(state: State<'_, AppState>) -> ApiResult<Vec<Template>> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.templates().list(&caller)?)
}

#[tauri::command]
pub async fn template_save(state: State<'_, AppState>, name: TemplateName, body: String) -> ApiResult<Template> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.templates().set(&caller, name, &body)?)
}

#[tauri::command]
pub async fn template_reset(state: State<'_, AppState>, name: TemplateName) -> ApiResult<Template> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.templates().reset(&caller, name)?)
}

/// `body`: the editor's unsaved text (`None`: the saved template).
#[tauri::command]
pub async fn template_preview(
    state: State<'_, AppState>,
    name: TemplateName,
    body: Option<String>,
) -> ApiResult<TemplatePreview> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.templates().preview(&caller, name, body.as_deref())?)
}
