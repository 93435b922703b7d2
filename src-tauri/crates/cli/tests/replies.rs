//! `outbox run` reads the texts patients send back, and `sms inbox` shows the ones waiting for a
//! person: the real `clinicdesk` binary against the fake Twilio.

use assert_cmd::Command;
use clinicdesk_twilio_fake::{self as fake, FakeTwilio};
use serde_json::Value;

const ADMIN: &str = "admin@clinic.example";
const PASSWORD: &str = "admin password 1";
const PATIENT: &str = "+447400123456";

struct Desk {
    dir: tempfile::TempDir,
    url: String,
}

impl Desk {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("clinicdesk").unwrap();
        cmd.arg("--data-dir").arg(self.dir.path()).args(args).env("CLINICDESK_PASSWORD", PASSWORD);
        for api in ["API", "VIDEO", "CONVERSATIONS", "MESSAGING"] {
            cmd.env(format!("CLINICDESK_TWILIO_{api}_URL"), &self.url);
        }
        cmd.env("TWILIO_AUTH_TOKEN", fake::AUTH_TOKEN).env("TWILIO_API_KEY_SECRET", fake::API_KEY_SECRET);
        cmd
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut full = vec!["--as", ADMIN, "--json"];
        full.extend_from_slice(args);
        let out = self.cmd(&full).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_run_reads_replies_and_sms_inbox_lists_and_marks_them() {
    let fake = FakeTwilio::start().await;
    let desk = Desk { dir: tempfile::tempdir().unwrap(), url: fake.url() };
    desk.cmd(&["init", "--admin-email", ADMIN, "--time-zone", "Europe/London"]).assert().success();
    let configure = [
        "twilio",
        "configure",
        "--account-sid",
        fake::ACCOUNT_SID,
        "--api-key-sid",
        fake::API_KEY_SID,
        "--from",
        fake::FROM_NUMBER,
    ];
    desk.json(&configure);
    desk.json(&["patient", "add", "--name", "Olivia Smith", "--phone", "07400 123456"]);
    fake.receive(PATIENT, fake::FROM_NUMBER, "HELP");
    let question = fake.receive(PATIENT, fake::FROM_NUMBER, "Can I come\nat 10 instead?\u{1b}[2J");

    let run = desk.json(&["outbox", "run"]);
    assert_eq!(run["report"]["replies"], 2, "{run}");

    let unread = desk.json(&["sms", "inbox", "--unread"]);
    let texts = unread.as_array().unwrap();
    assert_eq!(texts.len(), 1, "HELP is Twilio's to answer: {unread}");
    assert_eq!((texts[0]["sid"].as_str(), texts[0]["patient_name"].as_str()), (Some(&*question), Some("Olivia Smith")));
    assert_eq!(texts[0]["handling"], "inbox");

    // For people: one line per text, the patient's control characters made harmless.
    let out = desk.cmd(&["--as", ADMIN, "sms", "inbox"]).output().unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("Olivia Smith") && table.contains("UNREAD") && table.contains("Can I come at 10 instead?"),
        "{table}"
    );
    assert!(!table.contains('\u{1b}'), "{table:?}");

    let after = desk.json(&["sms", "inbox", "--unread", "--mark-read", &question]);
    assert_eq!(after, serde_json::json!([]));
    let all = desk.json(&["sms", "inbox"]);
    assert!(all[0]["read_at"].is_string(), "{all}");
}
