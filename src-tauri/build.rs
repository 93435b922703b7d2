/// Every IPC command the app exposes. Tauri generates an `allow-<command>` permission for each;
/// `capabilities/main.json` grants them to the main window only (a test keeps the two in step).
pub const COMMANDS: &[&str] = &[
    "app_status",
    "set_up",
    "sign_in",
    "sign_out",
    "session_touch",
    "password_change",
    "users_list",
    "user_add",
    "user_update",
    "user_reset_password",
    "user_unlock",
    "audit_recent",
    "patients_search",
    "patient_add",
    "patient_update",
    "doctors_list",
    "doctor_add",
    "demo_seed",
    "appointments_day",
    "appointment_book",
    "appointment_reschedule",
    "appointment_cancel",
    "settings_get",
    "settings_update",
    "twilio_overview",
    "twilio_configure",
    "twilio_check",
    "texts_list",
    "inbox_list",
    "inbox_unread_count",
    "inbox_mark_read",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build script");
}
