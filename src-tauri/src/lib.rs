//! The ClinicDesk desktop shell: opens the clinic, sets up logging, and exposes thin commands over
//! `clinicdesk-core` to the webview. Clinic rules live in the core, never here.

mod background;
mod browser_call;
mod commands;
mod desk;
pub mod error;
mod media_permission;
mod state;
mod window;

use state::AppState;
use std::path::PathBuf;

/// Set to 1 by `scripts/run.sh` when it falls back to its own keyring (public unlock password).
const TRIAL_KEYRING_ENV: &str = "CLINICDESK_TRIAL_KEYRING";

/// `--data-dir DIR` (or `--data-dir=DIR`) from the command line, if given.
fn data_dir_argument() -> Option<PathBuf> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--data-dir" {
            return args.next().map(PathBuf::from);
        }
        if let Some(dir) = arg.strip_prefix("--data-dir=") {
            return Some(PathBuf::from(dir));
        }
    }
    None
}

/// Logs go to `<data dir>/logs/clinicdesk.log.<date>`, one file a day, two weeks kept. The core logs
/// ids only, never names, phone numbers or message bodies.
fn start_logging(data_dir: &std::path::Path) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    // The browser opener logs the command it runs at debug level; the call link in it must never
    // reach the log files, whatever RUST_LOG says.
    let filter = filter.add_directive("webbrowser=warn".parse().expect("a fixed directive"));
    let _ = std::fs::create_dir_all(data_dir.join("logs"));
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("clinicdesk.log")
        .max_log_files(14)
        .build(data_dir.join("logs"));
    let (file_layer, guard) = match appender {
        Ok(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            (Some(tracing_subscriber::fmt::layer().with_ansi(false).with_writer(writer)), Some(guard))
        }
        Err(err) => {
            eprintln!("ClinicDesk: cannot write logs in {}: {err}", data_dir.display());
            (None, None)
        }
    };
    let stderr_layer = cfg!(debug_assertions).then(|| tracing_subscriber::fmt::layer().with_writer(std::io::stderr));
    tracing_subscriber::registry().with(filter).with(file_layer).with(stderr_layer).init();
    guard
}

pub fn run() {
    let data_dir =
        clinicdesk_core::resolve_data_dir(data_dir_argument()).unwrap_or_else(|_| PathBuf::from("clinicdesk-data"));
    let _ = std::fs::create_dir_all(&data_dir);
    let _log_guard = start_logging(&data_dir);
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "ClinicDesk starting");
    let clinic = clinicdesk_core::Clinic::open(&data_dir);
    if let Err(err) = &clinic {
        tracing::error!(code = %err.code(), "the clinic could not be opened");
    }
    let trial_keyring = std::env::var(TRIAL_KEYRING_ENV).is_ok_and(|v| v == "1");
    if trial_keyring {
        tracing::warn!("trial keyring: the keys are protected by a public password");
    }
    tauri::Builder::default()
        .manage(AppState::new(data_dir, clinic, trial_keyring))
        .manage(browser_call::BrowserCalls::default())
        .invoke_handler(tauri::generate_handler![
            commands::auth::app_status,
            commands::auth::set_up,
            commands::auth::sign_in,
            commands::auth::sign_out,
            commands::auth::session_touch,
            commands::auth::password_change,
            commands::users::users_list,
            commands::users::user_add,
            commands::users::user_update,
            commands::users::user_reset_password,
            commands::users::user_unlock,
            commands::users::audit_recent,
            commands::directory::patients_search,
            commands::directory::patient_add,
            commands::directory::patient_update,
            commands::directory::doctors_list,
            commands::directory::doctor_add,
            commands::directory::demo_seed,
            commands::appointments::appointments_day,
            commands::appointments::appointment_book,
            commands::appointments::appointment_reschedule,
            commands::appointments::appointment_cancel,
            commands::desk::desk_join,
            commands::desk::desk_status,
            commands::desk::desk_dismiss,
            commands::settings::settings_get,
            commands::settings::settings_update,
            commands::messaging::twilio_overview,
            commands::messaging::twilio_configure,
            commands::messaging::twilio_check,
            commands::messaging::texts_list,
            commands::appointment_texts::texting_settings_get,
            commands::appointment_texts::texting_settings_update,
            commands::appointment_texts::appointment_texts,
            commands::appointment_texts::texts_needing_attention,
            commands::appointment_texts::text_resend,
            commands::appointment_texts::text_mark_handled,
            commands::appointment_texts::patient_record_consent,
            commands::appointment_texts::patient_get,
            commands::appointment_texts::quick_text_for,
            commands::appointment_texts::text_send_to_patient,
            commands::templates::templates_list,
            commands::templates::template_save,
            commands::templates::template_reset,
            commands::templates::template_preview,
            commands::inbox::inbox_list,
            commands::inbox::inbox_unread_count,
            commands::inbox::inbox_mark_read,
            commands::consultations::consultation_status,
            commands::consultations::consultation_states,
            commands::consultations::consultation_start,
            commands::consultations::consultation_join,
            commands::consultations::consultation_chat_token,
            commands::consultations::consultation_end,
            commands::consultations::consultation_note,
            commands::consultations::consultation_consent_to_recording,
            commands::consultations::consultation_set_recording,
            commands::consultations::consultation_messages,
            commands::consultations::consultation_send,
            commands::consultations::consultation_mark_read,
            commands::consultations::consultation_open_in_browser,
            commands::consultations::consultation_call_report,
            commands::consultations::consultation_recordings,
            commands::consultations::consultation_quick_replies,
            commands::consultations::consultation_invite,
            commands::consultations::consultations_waiting,
            commands::consultations::consultations_search,
            commands::review::consultations_list,
            commands::review::consultation_record,
            commands::review::consultation_export,
            commands::review::consultation_attachment_save,
            commands::review::consultation_attachment_picture,
            commands::review::consultation_printed,
            commands::review::consultation_retention_update,
            commands::consultations::video_settings_get,
            commands::consultations::video_settings_update,
            commands::call_page::call_page_publish,
        ])
        .setup(|app| {
            window::open_main(app)?;
            background::start(app.handle());
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("ClinicDesk could not start its window");
}

#[cfg(test)]
mod tests {
    /// The commands registered with the app, granted by the capability and declared in the app
    /// manifest must be the same list: a command missing from one is unreachable or over-exposed.
    #[test]
    fn every_command_is_declared_registered_and_granted_exactly_once() {
        let build = include_str!("../build.rs");
        let lib = include_str!("lib.rs");
        let capability: serde_json::Value = serde_json::from_str(include_str!("../capabilities/main.json")).unwrap();
        let declared: Vec<String> =
            build.lines().filter_map(|l| l.trim().strip_prefix('"')?.strip_suffix("\",").map(str::to_owned)).collect();
        let handler = &lib[lib.find("generate_handler![").unwrap()..lib.find("])").unwrap()];
        let mut registered: Vec<String> = handler
            .lines()
            .filter_map(|l| l.trim().strip_suffix(',')?.rsplit("::").next().map(str::to_owned))
            .collect();
        let mut granted: Vec<String> = capability["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p.as_str()?.strip_prefix("allow-").map(|c| c.replace('-', "_")))
            .collect();
        let mut declared_sorted = declared.clone();
        declared_sorted.sort();
        registered.sort();
        granted.sort();
        assert!(declared.len() > 10);
        assert_eq!(registered, declared_sorted, "generate_handler! vs build.rs");
        assert_eq!(granted, declared_sorted, "capabilities/main.json vs build.rs");
        assert_eq!(capability["windows"], serde_json::json!(["main"]));
    }
}
