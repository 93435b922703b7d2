//! Patients and doctors.

use crate::error::ApiResult;
use crate::state::AppState;
use clinicdesk_core::demo::DemoSummary;
use clinicdesk_core::doctors::Doctor;
use clinicdesk_core::patients::{Patient, PatientInput, PatientMatches, MAX_SEARCH_RESULTS};
use tauri::State;
use uuid::Uuid;

#[tauri::command]
pub async fn patients_search(state: State<'_, AppState>, text: String) -> ApiResult<PatientMatches> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.patients().search(&caller, &text, MAX_SEARCH_RESULTS)?)
}

#[tauri::command]
pub async fn patient_add(state: State<'_, AppState>, patient: PatientInput) -> ApiResult<Patient> {
    let (clinic, caller) = state.caller()?;
    let added = clinic.patients().add(&caller, patient)?;
    state.desk.wake();
    Ok(added)
}

/// `expected_version`: the record's version when the form was opened (a later change refuses it).
#[tauri::command]
pub async fn patient_update(
    state: State<'_, AppState>,
    id: Uuid,
    patient: PatientInput,
    expected_version: Option<i64>,
) -> ApiResult<Patient> {
    let (clinic, caller) = state.caller()?;
    let updated = clinic.patients().update_seen(&caller, id, patient, expected_version)?;
    state.desk.wake();
    Ok(updated)
}

#[tauri::command]
pub async fn doctors_list(state: State<'_, AppState>) -> ApiResult<Vec<Doctor>> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.doctors().list(&caller)?)
}

#[tauri::command]
pub async fn doctor_add(state: State<'_, AppState>, email: String, specialization: String) -> ApiResult<Doctor> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.doctors().add(&caller, &email, &specialization)?)
}

#[tauri::command]
pub async fn demo_seed(state: State<'_, AppState>) -> ApiResult<DemoSummary> {
    let (clinic, caller) = state.caller()?;
    Ok(clinicdesk_core::demo::seed(clinic, &caller, None)?)
}
