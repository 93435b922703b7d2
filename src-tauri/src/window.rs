//! The main window. The shell opens it itself (tauri.conf.json has `"create": false`) so the page
//! starts with its start-up status already in hand: the first frame is the sign-in form (or setup,
//! or the problem), never an "Opening ClinicDesk…" spinner waiting for a round trip.

use crate::commands::auth::{start_up_status, AppStatus};
use crate::media_permission::{self, AppOrigins};
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
    let dev_url = if tauri::is_dev() { app.config().build.dev_url.clone() } else { None };
    let origins = AppOrigins::new(dev_url.as_ref());
    builder = builder.on_permission_request(move |webview, kind| {
        let page = webview.url().ok();
        let answer = media_permission::decide(&origins, page.as_ref(), kind);
        // The page's origin only (never its path or fragment), and the answer.
        tracing::info!(%kind, ?answer, origin = page.as_ref().map(|p| p.origin().ascii_serialization()), "webview permission request");
        answer
    });
    #[cfg(target_os = "macos")]
    {
        builder = builder.user_agent(&safari_user_agent());
    }
    if let Ok(status) = &boot {
        builder = builder.initialization_script(boot_script(status));
    }
    let window = builder.build()?;
    tune_webview(&window);
    Ok(())
}

/// WKWebView's own user agent has no "Safari" token, so twilio-video's browser check (it looks for
/// Chrome, Firefox or Safari) says the window cannot do video calls on macOS. This is Safari's shape,
/// naming the app at the end, set for macOS only (WebView2 already reads as Edge/Chrome).
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
pub fn safari_user_agent() -> String {
    format!(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15 ClinicDesk/{}",
        env!("CARGO_PKG_VERSION")
    )
}

/// A script the webview runs before the page's own: `window.__CLINICDESK_BOOT__` holds the status
/// `app_status` would answer now. The page renders from it at once and still asks `app_status`,
/// which stays the source of truth (a reload in the same run would otherwise see this old snapshot).
/// It carries nothing the page may not see: the same fields `app_status` returns.
pub fn boot_script(status: &AppStatus) -> String {
    let json = serde_json::to_string(status).expect("the start-up status serialises");
    format!("Object.defineProperty(window, '__CLINICDESK_BOOT__', {{ value: Object.freeze({json}) }});")
}

/// Set to `off` to have WebKit paint with the CPU instead of compositing through OpenGL.
const ACCELERATION_ENV: &str = "CLINICDESK_WEBVIEW_ACCELERATION";

/// WebKitGTK settings (Linux), each measured with scripts/bench-window.sh
/// (benches/window/README.md has the figures).
///
/// Hardware acceleration off saved about 85 MiB of the web process's memory (190 to 110 MiB PSS at
/// the sign-in form, under Xvfb's software OpenGL) at no cost to first paint. It is not the
/// default yet: with it, WebKitWebDriver's screenshot request hung in the end-to-end test (after
/// setup and sign-out), and that must be understood before the shipped app paints this way.
/// Measured and left out, as they changed nothing: the document-viewer cache model, turning off
/// the page cache and WebGL; and showing the window only once the page had loaded made the first
/// frame later (a hidden window is not painted).
fn tune_webview(window: &tauri::WebviewWindow) {
    #[cfg(target_os = "linux")]
    if std::env::var(ACCELERATION_ENV).is_ok_and(|v| v == "off") {
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
    let _ = (window, ACCELERATION_ENV);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::auth::AppPhase;

    #[test]
    fn the_macos_user_agent_reads_as_safari_and_names_the_app() {
        let agent = safari_user_agent();
        assert!(agent.contains(" Safari/") && agent.contains(" Version/"), "{agent}");
        assert!(!agent.contains("Chrome") && !agent.contains("Firefox"), "{agent}");
        assert!(agent.ends_with(&format!("ClinicDesk/{}", env!("CARGO_PKG_VERSION"))), "{agent}");
    }

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
            desk_server: None,
            moved: None,
        };
        let script = boot_script(&status);
        assert!(script.starts_with("Object.defineProperty(window, '__CLINICDESK_BOOT__', { value: Object.freeze({"));
        let json = &script[script.find("freeze(").unwrap() + 7..script.rfind(") });").unwrap()];
        let back: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(back["phase"], "signed_out");
        assert_eq!(back["clinic_name"], "Riverside </script> \u{2028} \"Clinic\"");
    }
}
