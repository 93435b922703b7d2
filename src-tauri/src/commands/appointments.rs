//! The schedule: day view, booking, rescheduling, cancelling. On a desk of a clinic server a
//! change is queued for the server by the core; the desk's sync loop is woken to send it now.

use crate::error::ApiResult;
use crate::state::AppState;
use clinicdesk_core::appointment_texts::AppointmentChange;
use clinicdesk_core::appointments::{BookingRequest, DaySchedule, RescheduleRequest};
use tauri::State;
use uuid::Uuid;

#[tauri::command]
pub async fn appointments_day(
    state: State<'_, AppState>,
    date: String,
    doctor_id: Option<Uuid>,
) -> ApiResult<DaySchedule> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.appointments().day(&caller, &date, doctor_id)?)
}

#[tauri::command]
pub async fn appointment_book(state: State<'_, AppState>, request: BookingRequest) -> ApiResult<AppointmentChange> {
    let (clinic, caller) = state.caller()?;
    let booked = clinic.appointments().book(&caller, request)?;
    state.desk.wake();
    Ok(booked)
}

#[tauri::command]
pub async fn appointment_reschedule(
    state: State<'_, AppState>,
    id: Uuid,
    request: RescheduleRequest,
) -> ApiResult<AppointmentChange> {
    let (clinic, caller) = state.caller()?;
    let moved = clinic.appointments().reschedule(&caller, id, request)?;
    state.desk.wake();
    Ok(moved)
}

#[tauri::command]
pub async fn appointment_cancel(
    state: State<'_, AppState>,
    id: Uuid,
    reason: String,
    expected_version: Option<i64>,
) -> ApiResult<AppointmentChange> {
    let (clinic, caller) = state.caller()?;
    let cancelled = clinic.appointments().cancel(&caller, id, &reason, expected_version)?;
    state.desk.wake();
    Ok(cancelled)
}
