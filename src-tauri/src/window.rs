//! The main window. The shell opens it itself (tauri.conf.json has `"create": false`) so the page
//! starts with its start-up status already in hand: the first frame is the sign-in form (or setup,
//! or the problem), never an "Opening ClinicDesk…" spinner waiting for a round trip.

use crate::commands::auth::{start_up_status, AppStatus};
use crate::state::AppState;
use tauri::{Manager, WebviewWindowBuilder};

const MAIN: &str = "main";

/// Opens the main window described in tauri.conf.json.
pub fn open_main(app: &tauri::App) -> tauri::Result<()> {
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN)
        .cloned()
        .expect("tauri.conf.json describes the main window");
    let boot = start_up_status(&app.state::<AppState>());
    if let Err(err) = &boot {
        // The page asks again with `app_status` and shows the problem in words.
        tracing::warn!(code = ?err.code, "the start-up status could not be computed before the window");
    }
    let mut builder = WebviewWindowBuilder::from_config(app.handle(), &config)?;
    if let Ok(status) = &boot {
        builder = builder.initialization_script(boot_script(status));
    }
    let window = builder.build()?;
    tune_webview(&window);
    Ok(())
}

/// A script the webview runs before the page's own: `window.__CLINICDESK_BOOT__` holds the status
/// `app_status` would answer now. The page renders from it at once and still asks `app_status`,
/// which stays the source of truth (a reload in the same run would otherwise see this old snapshot).
/// It carries nothing the page may not see: the same fields `app_status` returns.
pub fn boot_script(status: &AppStatus) -> String {
    let json = serde_json::to_string(status).expect("the start-up status serialises");
    format!("Object.defineProperty(window, '__CLINICDESK_BOOT__', {{ value: Object.freeze({json}) }});")
}

/// WebKitGTK settings for a forms-and-tables app (Linux), each measured with
/// scripts/bench-window.sh (BENCHMARKS.md has the figures).
///
/// Hardware acceleration off: WebKit then paints with the CPU instead of compositing through
/// OpenGL, which here saved about 85 MiB of the web process's memory (190 to 110 MiB PSS at the
/// sign-in form) at no cost to first paint; ClinicDesk's screens are forms and tables, with no
/// WebGL, canvas animation or video in this window (video calls open in the browser on Linux).
/// Measured and left out, as they changed nothing: the document-viewer cache model, turning
/// off the page cache and WebGL, and showing the window only once the page had loaded (a hidden
/// window is not painted, so the first frame came later).
fn tune_webview(window: &tauri::WebviewWindow) {
    #[cfg(target_os = "linux")]
    {
        let result = window.with_webview(|webview| {
            use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
            if let Some(settings) = WebViewExt::settings(&webview.inner()) {
                settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            }
        });
        if let Err(err) = result {
            tracing::warn!(%err, "the webview could not be tuned");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::auth::AppPhase;

    #[test]
    fn the_boot_script_defines_the_status_as_a_frozen_read_only_value() {
        let status = AppStatus {
            phase: AppPhase::SignedOut,
            problem: None,
            clinic_name: Some("Riverside </script> \u{2028} \"Clinic\"".into()),
            profile: None,
            suggested_time_zone: "Europe/London".into(),
            data_dir: "/data".into(),
            trial_keyring: false,
        };
        let script = boot_script(&status);
        assert!(script.starts_with("Object.defineProperty(window, '__CLINICDESK_BOOT__', { value: Object.freeze({"));
        let json = &script[script.find("freeze(").unwrap() + 7..script.rfind(") });").unwrap()];
        let back: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(back["phase"], "signed_out");
        assert_eq!(back["clinic_name"], "Riverside </script> \u{2028} \"Clinic\"");
    }
}
