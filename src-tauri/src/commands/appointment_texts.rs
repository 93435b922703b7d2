//! Appointment texts: the texting rules, an appointment's texts, the worklist of texts that did
//! not arrive, and the patient's answer about texts.

use crate::error::ApiResult;
use crate::state::AppState;
use clinicdesk_core::appointment_texts::{AttentionItem, TextTimeline, TextingSettings};
use clinicdesk_core::patients::Patient;
use clinicdesk_core::sms::templates::TemplateName;
use clinicdesk_core::sms::TextMessage;
use tauri::State;
use uuid::Uuid;

#[tauri::command]
pub async fn texting_settings_get(state: State<'_, AppState>) -> ApiResult<TextingSettings> {
    let (clinic, _caller) = state.caller()?;
    Ok(clinic.texting_settings()?)
}

#[tauri::command]
pub async fn texting_settings_update(
    state: State<'_, AppState>,
    settings: TextingSettings,
) -> ApiResult<TextingSettings> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.update_texting_settings(&caller, &settings)?)
}

#[tauri::command]
pub async fn appointment_texts(state: State<'_, AppState>, id: Uuid) -> ApiResult<TextTimeline> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.appointment_texts().timeline(&caller, id)?)
}

#[tauri::command]
/// Polled by the Texts screen: not activity (the idle sign-out still applies).
pub async fn texts_needing_attention(state: State<'_, AppState>) -> ApiResult<Vec<AttentionItem>> {
    let (clinic, caller) = state.caller_passive()?;
    Ok(clinic.appointment_texts().needs_attention(&caller, 200)?)
}

#[tauri::command]
pub async fn text_resend(state: State<'_, AppState>, id: Uuid) -> ApiResult<TextMessage> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.appointment_texts().resend(&caller, id)?)
}

#[tauri::command]
pub async fn text_mark_handled(state: State<'_, AppState>, id: Uuid) -> ApiResult<()> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.appointment_texts().mark_handled(&caller, id)?)
}

#[tauri::command]
pub async fn patient_record_consent(state: State<'_, AppState>, id: Uuid, agreed: bool) -> ApiResult<Patient> {
    let (clinic, caller) = state.caller()?;
    let recorded = clinic.patients().record_consent(&caller, id, agreed)?;
    state.desk.wake();
    Ok(recorded)
}

/// One patient's record (the consent's provenance by name, the number's problem).
#[tauri::command]
pub async fn patient_get(state: State<'_, AppState>, id: Uuid) -> ApiResult<Patient> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.patients().get(&caller, id)?)
}

/// A quick text filled in for the patient, to edit before sending.
#[tauri::command]
pub async fn quick_text_for(state: State<'_, AppState>, name: TemplateName, patient: Uuid) -> ApiResult<String> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.appointment_texts().quick_text_for(&caller, name, patient)?)
}

#[tauri::command]
pub async fn text_send_to_patient(state: State<'_, AppState>, patient: Uuid, body: String) -> ApiResult<TextMessage> {
    let (clinic, caller) = state.caller()?;
    Ok(match state.desk.link(clinic)? {
        // On a desk the clinic server sends it (and holds the Twilio account).
        Some(link) => clinic.appointment_texts().send_to_patient_on_server(&caller, &link, patient, &body).await?,
        None => clinic.appointment_texts().send_to_patient(&caller, patient, &body)?,
    })
}
