//! The real `clinicdesk` binary against the fake Twilio: configuration, the check, tokens, texts,
//! and a process killed in the middle of sending.

use assert_cmd::Command;
use clinicdesk_twilio_fake::{self as fake, FakeTwilio, Fault, Route};
use serde_json::Value;
use std::time::Duration;

const ADMIN: &str = "admin@clinic.example";
const PASSWORD: &str = "admin password 1";
const PATIENT: &str = "+447400123456";

struct Desk {
    dir: tempfile::TempDir,
    url: String,
}

impl Desk {
    fn new(fake: &FakeTwilio) -> Desk {
        let desk = Desk { dir: tempfile::tempdir().unwrap(), url: fake.url() };
        desk.cmd(&["init", "--admin-email", ADMIN, "--time-zone", "Europe/London"]).assert().success();
        desk
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("clinicdesk").unwrap();
        cmd.arg("--data-dir")
            .arg(self.dir.path())
            .args(args)
            .env("CLINICDESK_PASSWORD", PASSWORD)
            .env("CLINICDESK_TWILIO_API_URL", &self.url)
            .env("CLINICDESK_TWILIO_VIDEO_URL", &self.url)
            .env("CLINICDESK_TWILIO_CONVERSATIONS_URL", &self.url)
            .env_remove("TWILIO_AUTH_TOKEN")
            .env_remove("TWILIO_API_KEY_SECRET");
        cmd
    }

    fn admin(&self, args: &[&str]) -> Command {
        let mut full = vec!["--as", ADMIN, "--json"];
        full.extend_from_slice(args);
        self.cmd(&full)
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.admin(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn configure(&self) {
        self.admin(&[
            "twilio",
            "configure",
            "--account-sid",
            fake::ACCOUNT_SID,
            "--api-key-sid",
            fake::API_KEY_SID,
            "--from",
            fake::FROM_NUMBER,
        ])
        .env("TWILIO_AUTH_TOKEN", fake::AUTH_TOKEN)
        .env("TWILIO_API_KEY_SECRET", fake::API_KEY_SECRET)
        .assert()
        .success();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configure_check_and_mint_a_token() {
    let fake = FakeTwilio::start().await;
    let desk = Desk::new(&fake);
    let out = desk.admin(&["twilio", "check"]).output().unwrap();
    assert!(!out.status.success(), "checking before configuring is refused");
    desk.configure();
    let health = desk.json(&["twilio", "check"]);
    assert_eq!(health["overall"], "ok");
    // The secrets are not in the database or its settings.
    let settings = desk.json(&["settings", "list"]);
    assert!(!settings.to_string().contains(fake::AUTH_TOKEN) && !settings.to_string().contains(fake::API_KEY_SECRET));

    let out = desk
        .cmd(&["--as", ADMIN, "token", "--identity", "doctor-7", "--room", "appt-42", "--chat", "--ttl", "900"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap();
    let claims: Value = {
        use base64::Engine;
        let payload = token.trim().split('.').nth(1).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    };
    assert_eq!(claims["grants"]["identity"], "doctor-7");
    assert_eq!(claims["grants"]["video"]["room"], "appt-42");
    assert_eq!(claims["grants"]["chat"]["service_sid"], fake::CHAT_SERVICE_SID, "the default found by the check");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["nbf"].as_i64().unwrap(), 900);
    let out = desk.cmd(&["--as", ADMIN, "token", "--identity", "doctor-7", "--ttl", "90000"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "over the cap is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_is_sent_and_followed_to_delivery() {
    let fake = FakeTwilio::start().await;
    let desk = Desk::new(&fake);
    let skipped = desk.json(&["sms", "send", "--to", "07400 123456", "--body", "Before setup"]);
    assert_eq!(skipped["state"], "skipped");
    assert_eq!(skipped["error_message"], "SMS not configured");

    desk.configure();
    desk.json(&["settings", "set", "sms.messages_per_second", "0"]);
    let sent = desk.json(&["sms", "send", "--to", "07400 123456", "--body", "Your appointment is confirmed."]);
    assert_eq!(sent["state"], "sent");
    assert!(sent["twilio_sid"].as_str().unwrap().starts_with("SM"));
    desk.json(&["outbox", "run", "--until-empty", "--max-wait", "60"]);
    let delivered = desk.json(&["sms", "list", "--status", "delivered"]);
    assert_eq!(delivered.as_array().unwrap().len(), 1);
    assert_eq!(fake.messages_to(PATIENT).len(), 1);
    let bad = desk.admin(&["sms", "list", "--status", "lost"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_process_mid_send_neither_loses_nor_repeats_the_text() {
    let fake = FakeTwilio::start().await;
    let desk = Desk::new(&fake);
    desk.configure();
    desk.json(&["sms", "send", "--no-wait", "--to", "07400 123456", "--body", "Reminder: tomorrow at 09:30."]);
    // Twilio takes the text, then is slow to answer; the worker is killed while it waits.
    fake.inject(Route::CreateMessage, Fault::SlowAfter(Duration::from_secs(10)));
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("clinicdesk"))
        .args(["--data-dir", desk.dir.path().to_str().unwrap(), "--as", ADMIN, "outbox", "run"])
        .env("CLINICDESK_PASSWORD", PASSWORD)
        .env("CLINICDESK_TWILIO_API_URL", &desk.url)
        .env("CLINICDESK_TWILIO_VIDEO_URL", &desk.url)
        .env("CLINICDESK_TWILIO_CONVERSATIONS_URL", &desk.url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if !fake.messages_to(PATIENT).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fake.messages_to(PATIENT).len(), 1, "Twilio received the text");
    child.kill().unwrap(); // SIGKILL: no clean-up runs
    child.wait().unwrap();
    let before = desk.json(&["sms", "list"]);
    assert_eq!(before[0]["state"], "sending", "the row shows it was mid-send");

    // The next worker notices the dead one, reconciles, adopts Twilio's SID and follows it up.
    desk.json(&["outbox", "run", "--until-empty", "--max-wait", "60"]);
    assert_eq!(fake.messages_to(PATIENT).len(), 1, "not sent twice");
    let after = desk.json(&["sms", "list"]);
    assert_eq!(after[0]["state"], "delivered");
    assert_eq!(after[0]["twilio_sid"], fake.messages_to(PATIENT)[0].sid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_process_before_twilio_saw_the_text_sends_it_exactly_once() {
    let fake = FakeTwilio::start().await;
    let desk = Desk::new(&fake);
    desk.configure();
    desk.json(&["sms", "send", "--no-wait", "--to", "07400 123456", "--body", "Reminder: Friday at 14:00."]);
    // A worker claims the text and sends it to a server that swallows requests without acting
    // (to the outbox, the same as Twilio never receiving it), and is killed while waiting.
    let swallow = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let swallow_url = format!("http://{}", swallow.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = swallow.accept().await {
            open.push(socket);
        }
    });
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("clinicdesk"))
        .args(["--data-dir", desk.dir.path().to_str().unwrap(), "--as", ADMIN, "outbox", "run"])
        .env("CLINICDESK_PASSWORD", PASSWORD)
        .env("CLINICDESK_TWILIO_API_URL", &swallow_url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    held.abort();
    assert!(fake.messages_to(PATIENT).is_empty());
    desk.json(&["outbox", "run", "--until-empty", "--max-wait", "60"]);
    assert_eq!(fake.messages_to(PATIENT).len(), 1);
    assert_eq!(desk.json(&["sms", "list"])[0]["state"], "delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_outbox_run_during_a_long_retry_after_sends_nothing_twice() {
    let fake = FakeTwilio::start().await;
    let desk = Desk::new(&fake);
    desk.configure();
    desk.json(&["settings", "set", "sms.messages_per_second", "0"]);
    desk.json(&["sms", "send", "--no-wait", "--to", "07400 123456", "--body", "One text, two workers."]);
    fake.inject(Route::CreateMessage, Fault::TooManyRequests { retry_after_secs: 4 });
    let first = std::process::Command::new(assert_cmd::cargo::cargo_bin("clinicdesk"))
        .args(["--data-dir", desk.dir.path().to_str().unwrap(), "--as", ADMIN, "outbox", "run", "--until-empty"])
        .env("CLINICDESK_PASSWORD", PASSWORD)
        .env("CLINICDESK_TWILIO_API_URL", &desk.url)
        .env("CLINICDESK_TWILIO_VIDEO_URL", &desk.url)
        .env("CLINICDESK_TWILIO_CONVERSATIONS_URL", &desk.url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first worker's refused attempt: it is now waiting out Retry-After.
    for _ in 0..200 {
        if fake.requests().iter().any(|l| l.starts_with("POST") && l.ends_with("Messages.json")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = desk.admin(&["outbox", "run", "--until-empty", "--max-wait", "2"]).output().unwrap();
    assert_eq!(second.status.code(), Some(5), "the second worker stands aside");
    assert!(String::from_utf8_lossy(&second.stderr).contains("Another ClinicDesk"));
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(fake.messages_to(PATIENT).len(), 1, "sent exactly once");
    assert_eq!(desk.json(&["sms", "list"])[0]["state"], "delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_pause_sending_and_the_check_says_so_to_admins_only() {
    let fake = FakeTwilio::start().await;
    let desk = Desk::new(&fake);
    desk.configure();
    desk.json(&["settings", "set", "sms.messages_per_second", "0"]);
    desk.admin(&["user", "add", "--email", "rita@clinic.example", "--role", "reception", "--name", "Rita Desk"])
        .env("CLINICDESK_NEW_PASSWORD", "reception password 1")
        .assert()
        .success();
    fake.reject_credentials(true);
    let queued = desk.json(&["sms", "send", "--to", "07400 123456", "--body", "Sent after the outage."]);
    assert_eq!(queued["state"], "pending", "held, not failed");
    let check = desk.admin(&["twilio", "check"]).output().unwrap();
    assert_eq!(check.status.code(), Some(5), "the check reports the problem");
    let report: Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(report["overall"], "problem");
    assert_eq!(report["sending_paused"]["code"], 20003);
    let reception = desk
        .cmd(&["--as", "rita@clinic.example", "twilio", "check"])
        .env("CLINICDESK_PASSWORD", "reception password 1")
        .output()
        .unwrap();
    assert_eq!(reception.status.code(), Some(6), "the check's details are for administrators");
    fake.reject_credentials(false);
    let plain = desk.cmd(&["--as", ADMIN, "twilio", "check"]).output().unwrap();
    assert!(plain.status.success());
    assert!(String::from_utf8_lossy(&plain.stdout).contains("sending resumes"));
    desk.json(&["outbox", "run", "--until-empty", "--max-wait", "60"]);
    assert_eq!(fake.messages_to(PATIENT).len(), 1);
    assert_eq!(desk.json(&["sms", "list"])[0]["state"], "delivered");
}
