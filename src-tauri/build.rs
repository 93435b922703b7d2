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
    "texting_settings_get",
    "texting_settings_update",
    "appointment_texts",
    "texts_needing_attention",
    "text_resend",
    "text_mark_handled",
    "patient_record_consent",
    "patient_get",
    "quick_text_for",
    "text_send_to_patient",
    "templates_list",
    "template_save",
    "template_reset",
    "template_preview",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build script");
}
