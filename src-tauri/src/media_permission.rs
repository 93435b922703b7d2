//! Camera and microphone for the app's own pages, and nothing for anyone else.
//!
//! The doctor's call runs in the window where the webview has WebRTC (WebView2, WKWebView). Left to
//! itself WebView2 asks the user, and a "Block" is remembered for good, so the call never works
//! again on that computer (tauri-apps/tauri#4434, #5042). Tauri's permission hook (WebView2's
//! PermissionRequested, WKUIDelegate's media capture request, WebKitGTK's permission-request
//! signal) answers instead: the camera, the microphone and media autoplay are granted while the
//! window shows the app's own origin, and every other request, or any request from any other
//! origin, is denied. The operating system's own camera prompt (macOS) still applies.
//!
//! Checked here (Linux): with WebKitGTK's fake devices the window's getUserMedia succeeded whatever
//! the hook answered (Allow, Default or Deny), so on Linux the hook is not in the way and the call
//! runs in the browser anyway; its effect on WebView2 and WKWebView needs those builds. The decision
//! itself is unit-tested below.

use tauri::webview::{PermissionKind, PermissionResponse};
use tauri::Url;

/// The origins the app's own pages are served from.
#[derive(Debug, Clone)]
pub struct AppOrigins(Vec<String>);

impl AppOrigins {
    /// Tauri's custom protocol (`tauri://localhost` on macOS and Linux; `http://tauri.localhost`,
    /// or `https://` with `useHttpsScheme`, on Windows) and, in development only, the dev server.
    pub fn new(dev_url: Option<&Url>) -> AppOrigins {
        let mut origins: Vec<String> =
            ["tauri://localhost", "http://tauri.localhost", "https://tauri.localhost"].map(String::from).to_vec();
        if let Some(origin) = dev_url.and_then(origin_of) {
            origins.push(origin);
        }
        AppOrigins(origins)
    }

    fn contains(&self, url: &Url) -> bool {
        origin_of(url).is_some_and(|origin| self.0.contains(&origin))
    }
}

/// `scheme://host[:port]`, written out by hand because the URL standard gives custom schemes such
/// as `tauri:` an opaque origin. A URL with a user name or password is never an app page.
fn origin_of(url: &Url) -> Option<String> {
    if !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

/// The answer to a permission request made while the window shows `page`.
pub fn decide(origins: &AppOrigins, page: Option<&Url>, kind: PermissionKind) -> PermissionResponse {
    let media = matches!(kind, PermissionKind::Camera | PermissionKind::Microphone | PermissionKind::Autoplay);
    match page {
        Some(page) if media && origins.contains(page) => PermissionResponse::Allow,
        _ => PermissionResponse::Deny,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(origins: &AppOrigins, page: &str, kind: PermissionKind) -> PermissionResponse {
        decide(origins, Some(&Url::parse(page).unwrap()), kind)
    }

    #[test]
    fn the_apps_own_pages_get_the_camera_and_microphone() {
        let shipped = AppOrigins::new(None);
        for page in ["tauri://localhost/index.html", "http://tauri.localhost/", "https://tauri.localhost/#/schedule"] {
            for kind in [PermissionKind::Camera, PermissionKind::Microphone, PermissionKind::Autoplay] {
                assert_eq!(answer(&shipped, page, kind), PermissionResponse::Allow, "{page} {kind}");
            }
        }
        let dev = AppOrigins::new(Some(&Url::parse("http://localhost:5173").unwrap()));
        assert_eq!(answer(&dev, "http://localhost:5173/", PermissionKind::Camera), PermissionResponse::Allow);
        assert_eq!(answer(&shipped, "http://localhost:5173/", PermissionKind::Camera), PermissionResponse::Deny);
    }

    #[test]
    fn other_origins_and_other_permissions_are_denied() {
        let origins = AppOrigins::new(Some(&Url::parse("http://localhost:5173").unwrap()));
        for page in [
            "http://tauri.localhost.evil.example/",
            "http://evil.example/?tauri.localhost",
            "http://tauri.localhost@evil.example/",
            "http://user@tauri.localhost/",
            "http://tauri.localhost:8080/",
            "http://localhost:5174/",
            "https://evil.example/",
            "file:///tmp/page.html",
            "data:text/html,hello",
        ] {
            assert_eq!(answer(&origins, page, PermissionKind::Camera), PermissionResponse::Deny, "{page}");
        }
        for kind in [
            PermissionKind::Geolocation,
            PermissionKind::Notifications,
            PermissionKind::ClipboardRead,
            PermissionKind::DisplayCapture,
            PermissionKind::Other,
        ] {
            assert_eq!(answer(&origins, "tauri://localhost/", kind), PermissionResponse::Deny, "{kind}");
        }
        assert_eq!(decide(&origins, None, PermissionKind::Camera), PermissionResponse::Deny, "no page known");
    }
}
