//! Video consultations: thin commands over `clinic.consultations()`. Who may do what, the states and
//! the sentences are the core's; the shell passes the one Twilio client and the signed-in caller.

use crate::browser_call::BrowserCalls;
use crate::error::ApiResult;
use crate::state::AppState;
use clinicdesk_core::call_host::{CallReport, CallTicket};
use clinicdesk_core::consultations::{
    ChatLine, ChatView, ConsultationBadge, ConsultationRecording, ConsultationState, ConsultationStatus,
    ConsultationToken, SearchHit, VideoSettings, WaitingPatient,
};
use clinicdesk_core::sms::TextMessage;
use clinicdesk_core::twilio::Endpoints;
use serde::Serialize;
use tauri::{AppHandle, State};
use ts_rs::TS;
use uuid::Uuid;

/// What the window needs to join: the doctor's token (for the call and the chat when the call runs
/// in the window; for the chat only when it runs in the browser), and whether the chat may use Twilio's live
/// connection (the Conversations SDK only ever talks to Twilio's own hosts; when the clinic routes
/// Twilio through another address, as the tests do, the chat goes through the core instead).
#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct ConsultationJoin {
    pub token: ConsultationToken,
    pub live_chat: bool,
}

/// The consultation's state (and, for its doctor, the notes and who was in the room). Polled by the
/// consultation screen: not activity.
#[tauri::command]
pub async fn consultation_status(
    state: State<'_, AppState>,
    calls: State<'_, BrowserCalls>,
    id: Uuid,
) -> ApiResult<ConsultationStatus> {
    let (clinic, caller) = state.caller_passive()?;
    let status = clinic.consultations().status(&caller, id)?;
    // Ended elsewhere (the CLI, another desk, the slot's end): a browser link still unused, and the
    // call page's report key, must not outlive it.
    if status.state != ConsultationState::InProgress {
        calls.revoke(id);
    }
    Ok(status)
}

/// The states of the video appointments among `ids`, for the day view's badges (polled).
#[tauri::command]
pub async fn consultation_states(state: State<'_, AppState>, ids: Vec<Uuid>) -> ApiResult<Vec<ConsultationBadge>> {
    let (clinic, caller) = state.caller_passive()?;
    Ok(clinic.consultations().states(&caller, &ids)?)
}

/// Starts the consultation: at Twilio from this computer, or on a desk through the clinic server
/// (which holds the clinic's Twilio account).
#[tauri::command]
pub async fn consultation_start(state: State<'_, AppState>, id: Uuid) -> ApiResult<ConsultationStatus> {
    let (clinic, caller) = state.caller()?;
    Ok(match state.desk.link(clinic)? {
        Some(link) => clinic.consultations().start_on_server(&caller, &link, id).await?,
        None => clinic.consultations().start(&caller, &state.twilio, id).await?,
    })
}

/// Joins (or rejoins after a restart) the running consultation. `in_window`: the call runs in this
/// window, so the room is opened again if Twilio closed it and the token can join it; otherwise the
/// call runs in the browser (`consultation_open_in_browser` mints its own) and the window gets a
/// chat-only token: the webview never holds a token that can join the room it does not show.
#[tauri::command]
pub async fn consultation_join(state: State<'_, AppState>, id: Uuid, in_window: bool) -> ApiResult<ConsultationJoin> {
    let (clinic, caller) = state.caller()?;
    let consultations = clinic.consultations();
    let token = match (state.desk.link(clinic)?, in_window) {
        (Some(link), video) => consultations.token_on_server(&caller, &link, id, video).await?,
        (None, true) => consultations.rejoin(&caller, &state.twilio, id).await?,
        (None, false) => consultations.chat_token(&caller, id)?,
    };
    Ok(ConsultationJoin { token, live_chat: state.twilio.endpoints.conversations == Endpoints::twilio().conversations })
}

/// A fresh chat-only token, asked for when the chat's token is about to expire.
#[tauri::command]
pub async fn consultation_chat_token(state: State<'_, AppState>, id: Uuid) -> ApiResult<ConsultationToken> {
    let (clinic, caller) = state.caller_passive()?;
    Ok(match state.desk.link(clinic)? {
        Some(link) => clinic.consultations().token_on_server(&caller, &link, id, false).await?,
        None => clinic.consultations().chat_token(&caller, id)?,
    })
}

#[tauri::command]
pub async fn consultation_end(
    state: State<'_, AppState>,
    calls: State<'_, BrowserCalls>,
    id: Uuid,
) -> ApiResult<ConsultationStatus> {
    let (clinic, caller) = state.caller()?;
    let ended = match state.desk.link(clinic)? {
        Some(link) => clinic.consultations().end_on_server(&caller, &link, id).await?,
        None => clinic.consultations().end(&caller, &state.twilio, id).await?,
    };
    calls.revoke(id);
    Ok(ended)
}

/// Saves the notes as typed (the whole text each time).
#[tauri::command]
pub async fn consultation_note(state: State<'_, AppState>, id: Uuid, text: String) -> ApiResult<ConsultationStatus> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.consultations().note(&caller, id, &text)?)
}

/// Texts the patient a new link to the video consultation (reception, or the doctor).
#[tauri::command]
pub async fn consultation_invite(state: State<'_, AppState>, id: Uuid) -> ApiResult<TextMessage> {
    let (clinic, caller) = state.caller()?;
    // A waiting room that did not open is logged by the core: the text still goes, and the
    // patient joins when the doctor starts.
    if let Some(link) = state.desk.link(clinic)? {
        return Ok(clinic.consultations().invite_on_server(&caller, &link, id).await?);
    }
    let (text, _waiting_room_problem) =
        clinic.consultations().invite_to_waiting_room(&caller, &state.twilio, id).await?;
    Ok(text)
}

/// Past consultations' notes and chat containing the words typed (the doctor's own; all for an
/// administrator), from the clinic database alone.
#[tauri::command]
pub async fn consultations_search(state: State<'_, AppState>, text: String) -> ApiResult<Vec<SearchHit>> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.consultations().search(&caller, &text)?)
}

/// The patients waiting on the call page now (a doctor's own; all for other staff). Polled by the
/// day view every few seconds: not activity.
#[tauri::command]
pub async fn consultations_waiting(state: State<'_, AppState>) -> ApiResult<Vec<WaitingPatient>> {
    let (clinic, caller) = state.caller_passive()?;
    Ok(match state.desk.link(clinic)? {
        Some(link) => clinic.consultations().waiting_on_server(&caller, &link).await?,
        None => clinic.consultations().waiting_patients(&caller, &state.twilio).await?,
    })
}

#[tauri::command]
pub async fn video_settings_get(state: State<'_, AppState>) -> ApiResult<VideoSettings> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.consultations().video_settings(&caller)?)
}

/// Sets where patients' links point (administrators).
#[tauri::command]
pub async fn video_settings_update(state: State<'_, AppState>, call_page_url: String) -> ApiResult<VideoSettings> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.consultations().update_video_settings(&caller, &call_page_url)?)
}

/// The clinic's chat replies (templates `chat.*`) filled in for this consultation.
#[tauri::command]
pub async fn consultation_quick_replies(state: State<'_, AppState>, id: Uuid) -> ApiResult<Vec<String>> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.consultations().quick_replies(&caller, id)?)
}

#[tauri::command]
pub async fn consultation_consent_to_recording(state: State<'_, AppState>, id: Uuid) -> ApiResult<ConsultationStatus> {
    let (clinic, caller) = state.caller()?;
    Ok(match state.desk.link(clinic)? {
        Some(link) => clinic.consultations().consent_on_server(&caller, &link, id).await?,
        None => clinic.consultations().consent_to_recording(&caller, id)?,
    })
}

#[tauri::command]
pub async fn consultation_set_recording(
    state: State<'_, AppState>,
    id: Uuid,
    on: bool,
) -> ApiResult<ConsultationStatus> {
    let (clinic, caller) = state.caller()?;
    Ok(match state.desk.link(clinic)? {
        Some(link) => clinic.consultations().set_recording_on_server(&caller, &link, id, on).await?,
        None => clinic.consultations().set_recording(&caller, &state.twilio, id, on).await?,
    })
}

/// The chat through the core (Twilio's REST API while it runs, the kept copy after the end). Polled.
#[tauri::command]
pub async fn consultation_messages(state: State<'_, AppState>, id: Uuid) -> ApiResult<ChatView> {
    let (clinic, caller) = state.caller_passive()?;
    Ok(match state.desk.link(clinic)? {
        Some(link) => clinic.consultations().messages_on_server(&caller, &link, &state.twilio, id).await?,
        None => clinic.consultations().messages(&caller, &state.twilio, id).await?,
    })
}

#[tauri::command]
pub async fn consultation_send(state: State<'_, AppState>, id: Uuid, body: String) -> ApiResult<ChatLine> {
    let (clinic, caller) = state.caller()?;
    Ok(match state.desk.link(clinic)? {
        Some(link) => clinic.consultations().send_on_server(&caller, &link, id, &body).await?,
        None => clinic.consultations().send(&caller, &state.twilio, id, &body).await?,
    })
}

#[tauri::command]
pub async fn consultation_mark_read(state: State<'_, AppState>, id: Uuid) -> ApiResult<Option<i64>> {
    let (clinic, caller) = state.caller_passive()?;
    Ok(match state.desk.link(clinic)? {
        Some(link) => clinic.consultations().mark_read_on_server(&caller, &link, &state.twilio, id).await?,
        None => clinic.consultations().mark_read(&caller, &state.twilio, id).await?,
    })
}

/// Where the window cannot carry video: a token for the browser goes into a one-time link to the
/// core's loopback call page, opened in the system browser (the window keeps its own token, for the chat).
#[tauri::command]
pub async fn consultation_open_in_browser(
    app: AppHandle,
    state: State<'_, AppState>,
    calls: State<'_, BrowserCalls>,
    id: Uuid,
) -> ApiResult<()> {
    let (clinic, caller) = state.caller()?;
    let token = match state.desk.link(clinic)? {
        Some(link) => clinic.consultations().token_on_server(&caller, &link, id, true).await?,
        None => clinic.consultations().rejoin(&caller, &state.twilio, id).await?,
    };
    let appointment = clinic.appointments().get(&caller, id)?;
    let ticket = CallTicket {
        appointment_id: id,
        token: token.token,
        identity: token.identity,
        room: token.room,
        remote_name: appointment.patient_name,
        expires_at: token.expires_at,
    };
    calls.open(&app, &state.data_dir, ticket).await
}

/// The state the browser's call page last reported (joining, in the call, reconnecting, left). Polled.
#[tauri::command]
pub async fn consultation_call_report(
    state: State<'_, AppState>,
    calls: State<'_, BrowserCalls>,
    id: Uuid,
) -> ApiResult<Option<CallReport>> {
    let (clinic, caller) = state.caller_passive()?;
    // The browser call belongs to the appointment's doctor: nobody else sees how it is going.
    if !clinic.consultations().status(&caller, id)?.is_own {
        return Err(
            clinicdesk_core::CoreError::Forbidden("Only the appointment's doctor follows this call.".into()).into()
        );
    }
    Ok(calls.report(id))
}

/// The consultation's recordings (metadata only), for its doctor.
#[tauri::command]
pub async fn consultation_recordings(state: State<'_, AppState>, id: Uuid) -> ApiResult<Vec<ConsultationRecording>> {
    let (clinic, caller) = state.caller_passive()?;
    Ok(match state.desk.link(clinic)? {
        Some(link) => clinic.consultations().recordings_on_server(&caller, &link, id).await?,
        None => clinic.consultations().recordings(&caller, &state.twilio, id).await?,
    })
}
