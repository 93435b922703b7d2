//! Reviewing past consultations (issue 11): thin commands over the core's list, record, search,
//! export, kept attachments and retention. Who sees what is the core's; nothing here needs the network.

use crate::error::ApiResult;
use crate::state::AppState;
use clinicdesk_core::consultations::{
    ConsultationFilter, ConsultationPage, ConsultationRecord, ExportFormat, VideoSettings,
};
use clinicdesk_core::error::CoreError;
use serde::Serialize;
use std::path::{Path, PathBuf};
use tauri::{AppHandle, Manager, State};
use ts_rs::TS;
use uuid::Uuid;

/// A page of past consultations, newest first.
#[tauri::command]
pub async fn consultations_list(state: State<'_, AppState>, filter: ConsultationFilter) -> ApiResult<ConsultationPage> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.consultations().list(&caller, &filter)?)
}

/// One consultation's record, as the signed-in person may see it.
#[tauri::command]
pub async fn consultation_record(state: State<'_, AppState>, id: Uuid) -> ApiResult<ConsultationRecord> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.consultations().record(&caller, id)?)
}

/// Where an export was saved.
#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct SavedExport {
    pub path: String,
    #[ts(type = "number")]
    pub bytes: u64,
}

/// The folder exports go to: `CLINICDESK_EXPORT_DIR` when the clinic's IT sets one, otherwise the
/// person's Downloads folder (Documents, then home, where there is none).
fn export_folder(app: &AppHandle) -> Option<PathBuf> {
    std::env::var_os("CLINICDESK_EXPORT_DIR")
        .map(PathBuf::from)
        .or_else(|| app.path().download_dir().ok())
        .or_else(|| app.path().document_dir().ok())
        .or_else(|| app.path().home_dir().ok())
}

/// Creates `name` (`consultation-REF.pdf`), or `consultation-REF (2).pdf` when that name is
/// taken, and so on: never overwrites, never follows a link left under that name (`create_new`),
/// readable by its owner only (it holds health information).
fn save_new(folder: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write;
    let (stem, extension) = match name.rsplit_once('.') {
        Some((stem, extension)) if !stem.is_empty() => (stem, format!(".{extension}")),
        _ => (name, String::new()),
    };
    for n in 1..1000 {
        let name = if n == 1 { format!("{stem}{extension}") } else { format!("{stem} ({n}){extension}") };
        let path = folder.join(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(mut file) => return file.write_all(bytes).map(|_| path),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::AlreadyExists, "too many files of this name"))
}

/// Saves `bytes` as a new file named `name` in the export folder.
fn save_in_export_folder(app: &AppHandle, name: &str, bytes: &[u8]) -> Result<SavedExport, CoreError> {
    let folder = export_folder(app).ok_or_else(|| {
        CoreError::Unavailable(
            "There is no folder to save into on this computer (no Downloads, Documents or home folder).".into(),
        )
    })?;
    let unwritable = |_| {
        CoreError::Unavailable(format!(
            "The file could not be saved in {}. Check that the folder exists and can be written to.",
            folder.display()
        ))
    };
    std::fs::create_dir_all(&folder).map_err(unwritable)?;
    let path = save_new(&folder, name, bytes).map_err(unwritable)?;
    Ok(SavedExport { path: path.display().to_string(), bytes: bytes.len() as u64 })
}

/// Saves the record as a PDF or JSON file in the export folder. Audited by the core.
#[tauri::command]
pub async fn consultation_export(
    app: AppHandle,
    state: State<'_, AppState>,
    id: Uuid,
    format: String,
) -> ApiResult<SavedExport> {
    let (clinic, caller) = state.caller()?;
    let format = ExportFormat::parse(&format).ok_or_else(|| CoreError::invalid("format", "Choose PDF or JSON."))?;
    let export = clinic.consultations().export(&caller, id, format)?;
    Ok(save_in_export_folder(&app, &format!("{}.{}", export.file_stem, format.as_str()), &export.bytes)?)
}

/// Saves a chat attachment kept with the record (its doctor or an administrator). Audited by the core.
#[tauri::command]
pub async fn consultation_attachment_save(
    app: AppHandle,
    state: State<'_, AppState>,
    id: Uuid,
    media_sid: String,
) -> ApiResult<SavedExport> {
    let (clinic, caller) = state.caller()?;
    let file = clinic.consultations().attachment(&caller, id, &media_sid)?;
    let saved = save_in_export_folder(&app, &file.filename, &file.bytes)?;
    // Marked as from the internet (a patient sent it), so Windows' SmartScreen and Office's
    // Protected View treat it as any downloaded file. Best effort: the file is saved either way.
    #[cfg(windows)]
    let _ = std::fs::write(format!("{}:Zone.Identifier", saved.path), "[ZoneTransfer]\r\nZoneId=3\r\n");
    Ok(saved)
}

/// The record is about to be printed from the screen: audited by the core as an export.
#[tauri::command]
pub async fn consultation_printed(state: State<'_, AppState>, id: Uuid) -> ApiResult<()> {
    let (clinic, caller) = state.caller()?;
    Ok(clinic.consultations().printed(&caller, id)?)
}

/// A kept picture from the chat, as raw bytes for the record to show (its doctor or an
/// administrator; audited by the core). The core checked it is a PNG, JPEG, GIF or WebP.
#[tauri::command]
pub async fn consultation_attachment_picture(
    state: State<'_, AppState>,
    id: Uuid,
    media_sid: String,
) -> ApiResult<tauri::ipc::Response> {
    let (clinic, caller) = state.caller()?;
    let file = clinic.consultations().attachment_picture(&caller, id, &media_sid)?;
    Ok(tauri::ipc::Response::new(file.bytes))
}

/// How long consultation chats are kept: a number of days, or empty to keep them (administrators).
#[tauri::command]
pub async fn consultation_retention_update(state: State<'_, AppState>, days: String) -> ApiResult<VideoSettings> {
    let (clinic, caller) = state.caller()?;
    clinic.settings().set(&caller, clinicdesk_core::consultations::KEY_CHAT_RETENTION_DAYS, &days)?;
    Ok(clinic.consultations().video_settings(&caller)?)
}
