//! The real `clinicdesk` binary: what booking, moving and cancelling say about the patient's
//! text, consent from the command line, the texting settings, and a reminder batch killed with
//! SIGKILL half-way (nothing lost, nothing sent twice).

use assert_cmd::Command;
use chrono::{Duration as Span, Timelike, Utc};
use clinicdesk_twilio_fake::{self as fake, FakeTwilio, Fault, Route};
use serde_json::Value;
use std::time::Duration;

const ADMIN: &str = "admin@clinic.example";
const PASSWORD: &str = "admin password 1";

struct Desk {
    dir: tempfile::TempDir,
    url: String,
    doctor: String,
}

impl Desk {
    fn new(fake: &FakeTwilio) -> Desk {
        let mut desk = Desk { dir: tempfile::tempdir().unwrap(), url: fake.url(), doctor: String::new() };
        desk.cmd(&["init", "--admin-email", ADMIN, "--time-zone", "Europe/London", "--country", "GB"])
            .assert()
            .success();
        desk.cmd(&[
            "--as",
            ADMIN,
            "user",
            "add",
            "--email",
            "okafor@clinic.example",
            "--role",
            "doctor",
            "--name",
            "Dr Okafor",
        ])
        .env("CLINICDESK_NEW_PASSWORD", "doctor password 1")
        .assert()
        .success();
        desk.doctor = desk.json(&["doctor", "add", "--user", "okafor@clinic.example", "--specialization", "GP"])["id"]
            .as_str()
            .unwrap()
            .into();
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
            .env_remove("CLINICDESK_NEW_PASSWORD")
            .env_remove("TWILIO_AUTH_TOKEN")
            .env_remove("TWILIO_API_KEY_SECRET");
        cmd
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut full = vec!["--as", ADMIN, "--json"];
        full.extend_from_slice(args);
        let out = self.cmd(&full).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn text(&self, args: &[&str]) -> String {
        let mut full = vec!["--as", ADMIN];
        full.extend_from_slice(args);
        let out = self.cmd(&full).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn configure(&self) {
        self.cmd(&[
            "--as",
            ADMIN,
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

    fn patient(&self, name: &str, phone: &str) -> String {
        self.json(&["patient", "add", "--name", name, "--phone", phone])["id"].as_str().unwrap().into()
    }
}

/// "YYYY-MM-DD HH:MM" in London, `from_now` ahead, on a 5-minute boundary.
fn london_at(from_now: Span) -> String {
    let t = (Utc::now() + from_now).with_timezone(&chrono_tz::Europe::London);
    let t = t.with_minute(t.minute() / 5 * 5).unwrap();
    t.format("%Y-%m-%d %H:%M").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_moving_and_cancelling_say_what_happened_to_the_text() {
    let fake = FakeTwilio::start().await;
    let desk = Desk::new(&fake);
    let olivia = desk.patient("Olivia Smith", "07400 123456");
    let at = london_at(Span::days(3));

    let human = desk.text(&["appointment", "book", "--patient", &olivia, "--doctor", &desk.doctor, "--at", &at]);
    assert!(human.contains("Not texted: texting is not set up yet"), "{human}");

    desk.configure();
    // The sentences below are the daytime ones: quiet hours off, so the test reads the same at any hour.
    desk.json(&["settings", "set", "sms.quiet_hours", "off"]);
    let booked = desk.json(&[
        "appointment",
        "book",
        "--patient",
        &olivia,
        "--doctor",
        &desk.doctor,
        "--at",
        &london_at(Span::days(4)),
    ]);
    assert_eq!(booked["text"]["state"], "queued");
    assert_eq!(booked["text"]["kind"], "confirmation");
    assert_eq!(booked["text"]["message"], "Confirmation text queued");
    let reference = booked["booking_ref"].as_str().unwrap();
    let moved = desk.json(&["appointment", "reschedule", reference, "--at", &london_at(Span::days(5))]);
    assert_eq!(moved["text"]["message"], "Confirmation text queued", "never told, so confirmed at the new time");

    let consent = desk.json(&["patient", "consent", &olivia, "--sms", "no"]);
    assert_eq!(consent["sms_consent"], false);
    assert!(consent["sms_consent_at"].is_string());
    let cancelled = desk.json(&["appointment", "cancel", reference, "--reason", "Patient called"]);
    assert_eq!(cancelled["text"]["state"], "not_texted");
    let refused = desk.cmd(&["--as", ADMIN, "patient", "consent", &olivia, "--sms", "maybe"]).output().unwrap();
    assert!(!refused.status.success());

    let settings = desk.json(&["settings", "set", "sms.reminders", "2h, 24h"]);
    assert_eq!(settings["reminders"], "24h,2h");
    let settings = desk.json(&["settings", "set", "sms.quiet_hours", " 21:00 - 08:00 "]);
    assert_eq!(settings["quiet_hours"], "21:00-08:00");
    let bad = desk.cmd(&["--as", ADMIN, "settings", "set", "sms.quiet_hours", "late"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("21:00-08:00"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_batch_killed_half_way_reaches_every_patient_exactly_once() {
    let fake = FakeTwilio::start().await;
    let desk = Desk::new(&fake);
    desk.configure();
    for (key, value) in [
        ("sms.messages_per_second", "0"),
        ("sms.quiet_hours", "off"),
        ("sms.reminders", "24h"),
        ("sms.settle_seconds", "0"),
    ] {
        desk.json(&["settings", "set", key, value]);
    }
    let phones: Vec<String> = (0..6).map(|i| format!("+4474001234{i:02}")).collect();
    for (i, phone) in phones.iter().enumerate() {
        let patient = desk.patient(&format!("Patient Number{i}"), phone);
        // Tomorrow, under 24 hours away: each 24h reminder is already late.
        let at = london_at(Span::hours(20) + Span::minutes(30 * i as i64));
        desk.json(&["appointment", "book", "--patient", &patient, "--doctor", &desk.doctor, "--at", &at]);
    }
    desk.json(&["outbox", "run", "--until-empty", "--max-wait", "60"]); // the confirmations
    assert!(phones.iter().all(|p| fake.messages_to(p).len() == 1));

    // As if the app had been closed since two days ago, when these were booked.
    {
        let clinic = clinicdesk_core::Clinic::open(desk.dir.path()).unwrap();
        let conn = clinic.db().conn().unwrap();
        let two_days_ago = (Utc::now() - Span::days(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        conn.execute("UPDATE appointments SET created_at = ?1", [&two_days_ago]).unwrap();
        conn.execute("UPDATE reminder_plan SET planned_until = ?1", [&two_days_ago]).unwrap();
    }

    // Twilio takes each reminder and is slow to answer; the worker is killed in the middle.
    for _ in 0..3 {
        fake.inject(Route::CreateMessage, Fault::SlowAfter(Duration::from_secs(10)));
    }
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("clinicdesk"))
        .args(["--data-dir", desk.dir.path().to_str().unwrap(), "--as", ADMIN, "outbox", "run"])
        .env("CLINICDESK_PASSWORD", PASSWORD)
        .env("CLINICDESK_TWILIO_API_URL", &desk.url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let reminded = || phones.iter().filter(|p| fake.messages_to(p).len() == 2).count();
    for _ in 0..200 {
        if reminded() >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reminded() >= 1, "Twilio received a reminder before the kill");
    child.kill().unwrap(); // SIGKILL: no clean-up runs
    child.wait().unwrap();
    assert!(reminded() < phones.len(), "the batch was cut short");

    desk.json(&["outbox", "run", "--until-empty", "--max-wait", "90"]);
    for phone in &phones {
        let bodies: Vec<String> = fake.messages_to(phone).into_iter().map(|m| m.body).collect();
        assert_eq!(bodies.len(), 2, "{phone}: one confirmation and one reminder, none twice: {bodies:?}");
    }
    let texts = desk.json(&["sms", "list"]);
    let reminders: Vec<&Value> = texts.as_array().unwrap().iter().filter(|t| t["kind"] == "reminder").collect();
    assert_eq!(reminders.len(), phones.len());
    assert!(
        reminders.iter().all(|t| t["twilio_sid"].is_string()),
        "each reminder has its one Twilio SID: {reminders:?}"
    );
}
