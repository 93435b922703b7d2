//! `clinicdesk call-page export|publish` with the real binary: the call page's files from a built UI
//! (a small one made here, with Vite's manifest), exported to a folder or published to the fake
//! Twilio's Serverless API; the refusals and their exit codes.

use assert_cmd::Command;
use clinicdesk_twilio_fake::{self as fake, FakeTwilio};
use serde_json::Value;
use std::path::Path;

const ADMIN: &str = "admin@clinic.example";
const DESK: &str = "desk@clinic.example";
const PASSWORD: &str = "admin password 1";

/// A built UI: the doctor's app and the call page, sharing a chunk, with the SDK loaded later.
fn built_ui(dir: &Path) {
    let manifest = r#"{
      "call.html": {"file": "assets/call-1.js", "isEntry": true, "imports": ["_shared-2.js"],
                    "dynamicImports": ["node_modules/twilio-video/index.js"], "css": ["assets/call-1.css"]},
      "index.html": {"file": "assets/main-9.js", "isEntry": true, "imports": ["_shared-2.js"]},
      "_shared-2.js": {"file": "assets/shared-2.js"},
      "node_modules/twilio-video/index.js": {"file": "assets/video-3.js", "isDynamicEntry": true}
    }"#;
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    for (path, body) in [
        ("call-manifest.json", manifest),
        ("call.html", "<!doctype html><script type=module src=/assets/call-1.js></script>"),
        ("index.html", "<!doctype html>the doctor's app"),
        ("assets/call-1.js", "import './shared-2.js'"),
        ("assets/call-1.css", "body{}"),
        ("assets/shared-2.js", "export {}"),
        ("assets/video-3.js", "export const Video = 1"),
        ("assets/main-9.js", "the app"),
    ] {
        std::fs::write(dir.join(path), body).unwrap();
    }
}

fn cli(data: &Path, url: &str) -> Command {
    let mut cmd = Command::cargo_bin("clinicdesk").unwrap();
    cmd.arg("--data-dir")
        .arg(data)
        .env("CLINICDESK_PASSWORD", PASSWORD)
        .env("CLINICDESK_NEW_PASSWORD", PASSWORD)
        .env("CLINICDESK_TWILIO_API_URL", url)
        .env("CLINICDESK_TWILIO_SERVERLESS_URL", url)
        .env("CLINICDESK_TWILIO_SERVERLESS_UPLOAD_URL", url)
        .env("TWILIO_AUTH_TOKEN", fake::AUTH_TOKEN)
        .env("TWILIO_API_KEY_SECRET", fake::API_KEY_SECRET)
        .env_remove("CLINICDESK_UI_DIR");
    cmd
}

#[test]
fn export_writes_only_the_call_page_and_needs_no_sign_in() {
    let ui = tempfile::tempdir().unwrap();
    built_ui(ui.path());
    let out = tempfile::tempdir().unwrap();
    let site = out.path().join("video");
    let data = tempfile::tempdir().unwrap();
    let run = cli(data.path(), "http://127.0.0.1:9")
        .args(["--json", "call-page", "export"])
        .arg(&site)
        .arg("--from")
        .arg(ui.path())
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let summary: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(summary["files"], 5);
    let mut written: Vec<String> = walk(&site);
    written.sort();
    assert_eq!(
        written,
        ["assets/call-1.css", "assets/call-1.js", "assets/shared-2.js", "assets/video-3.js", "call.html"]
    );

    // No built UI there: the sentence says how to get one, exit code 3 (a mistake in the input).
    let empty = tempfile::tempdir().unwrap();
    let run = cli(data.path(), "http://127.0.0.1:9")
        .args(["call-page", "export"])
        .arg(&site)
        .arg("--from")
        .arg(empty.path())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&run.stderr).contains("Build the UI (cd ui && npm run build) or give --from DIR"));
}

fn walk(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path).into_iter().map(|p| format!("{}/{p}", path.file_name().unwrap().to_string_lossy())));
        } else {
            out.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_puts_the_page_at_twilio_and_links_point_at_it() {
    let twilio = FakeTwilio::start().await;
    let url = twilio.url();
    let ui = tempfile::tempdir().unwrap();
    built_ui(ui.path());
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    cli(d, &url).args(["init", "--admin-email", ADMIN, "--time-zone", "Europe/London"]).assert().success();
    cli(d, &url)
        .args([
            "--as",
            ADMIN,
            "twilio",
            "configure",
            "--account-sid",
            fake::ACCOUNT_SID,
            "--api-key-sid",
            fake::API_KEY_SID,
        ])
        .args(["--from", fake::FROM_NUMBER])
        .assert()
        .success();
    cli(d, &url)
        .args(["--as", ADMIN, "user", "add", "--email", DESK, "--role", "reception", "--name", "Desk"])
        .assert()
        .success();

    let refused = cli(d, &url).args(["--as", DESK, "call-page", "publish", "--from"]).arg(ui.path()).output().unwrap();
    assert_eq!(refused.status.code(), Some(6), "reception may not publish");

    let run = cli(d, &url).args(["--as", ADMIN, "call-page", "publish", "--from"]).arg(ui.path()).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("Preparing 5 files") && stderr.contains("Uploaded 5 of 5"), "progress: {stderr}");
    let address = stdout.lines().next().unwrap().strip_prefix("Published: ").expect(&stdout).to_owned();
    let domain = address.strip_prefix("https://").unwrap().split('/').next().unwrap();
    assert_eq!(
        twilio.served(domain, "/call.html").unwrap().content,
        std::fs::read(ui.path().join("call.html")).unwrap()
    );
    assert!(twilio.served(domain, "/assets/main-9.js").is_none(), "the doctor's app stays home");

    let settings = cli(d, &url).args(["--as", ADMIN, "--json", "settings", "list"]).output().unwrap();
    let settings = String::from_utf8_lossy(&settings.stdout);
    assert!(settings.contains(&address), "video.call_page_url is the published address: {settings}");
}
