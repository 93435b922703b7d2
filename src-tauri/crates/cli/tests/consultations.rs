//! The real `clinicdesk` binary runs a video consultation against the fake Twilio: start by booking
//! reference, status, token, chat, notes, consent, end; the refusals with their exit codes.

use assert_cmd::Command;
use chrono::{Duration, Utc};
use clinicdesk_twilio_fake::{self as fake, FakeTwilio};
use serde_json::Value;

const ADMIN: &str = "admin@clinic.example";
const DOCTOR: &str = "okafor@clinic.example";
const OTHER: &str = "lee@clinic.example";
const DESK: &str = "desk@clinic.example";
const PASSWORD: &str = "admin password 1";

struct Desk {
    dir: tempfile::TempDir,
    url: String,
}

impl Desk {
    fn cmd(&self, who: &str, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("clinicdesk").unwrap();
        cmd.arg("--data-dir")
            .arg(self.dir.path())
            .args(["--as", who])
            .args(args)
            .env("CLINICDESK_PASSWORD", PASSWORD)
            .env("CLINICDESK_NEW_PASSWORD", PASSWORD)
            .env("CLINICDESK_TWILIO_API_URL", &self.url)
            .env("CLINICDESK_TWILIO_VIDEO_URL", &self.url)
            .env("CLINICDESK_TWILIO_CONVERSATIONS_URL", &self.url)
            .env("CLINICDESK_TWILIO_MEDIA_URL", &self.url)
            .env("TWILIO_AUTH_TOKEN", fake::AUTH_TOKEN)
            .env("TWILIO_API_KEY_SECRET", fake::API_KEY_SECRET);
        cmd
    }

    fn json(&self, who: &str, args: &[&str]) -> Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = self.cmd(who, &full).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The exit code and the JSON error of a refused command.
    fn refused(&self, who: &str, args: &[&str]) -> (i32, Value) {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = self.cmd(who, &full).output().unwrap();
        assert!(!out.status.success(), "{args:?} should be refused");
        (out.status.code().unwrap(), serde_json::from_slice(&out.stderr).unwrap())
    }
}

/// A clinic with Twilio set up, two doctors, reception, and a video appointment tomorrow at 09:00
/// with Dr Okafor. Returns the desk and the booking reference.
fn clinic(fake: &FakeTwilio) -> (Desk, String) {
    let desk = Desk { dir: tempfile::tempdir().unwrap(), url: fake.url() };
    let mut init = Command::cargo_bin("clinicdesk").unwrap();
    init.arg("--data-dir").arg(desk.dir.path()).env("CLINICDESK_PASSWORD", PASSWORD);
    init.args(["init", "--admin-email", ADMIN, "--time-zone", "Europe/London"]).assert().success();
    desk.cmd(ADMIN, &["twilio", "configure", "--account-sid", fake::ACCOUNT_SID, "--api-key-sid", fake::API_KEY_SID])
        .args(["--from", fake::FROM_NUMBER, "--conversations-service", fake::CHAT_SERVICE_SID])
        .assert()
        .success();
    for (email, role) in [(DOCTOR, "doctor"), (OTHER, "doctor"), (DESK, "reception")] {
        desk.cmd(ADMIN, &["user", "add", "--email", email, "--role", role, "--name", "Dr Test"]).assert().success();
    }
    let doctor = desk.json(ADMIN, &["doctor", "add", "--user", DOCTOR, "--specialization", "GP"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    desk.json(ADMIN, &["doctor", "add", "--user", OTHER, "--specialization", "GP"]);
    let patient = desk.json(DESK, &["patient", "add", "--name", "Olivia Smith", "--phone", "07400 123456"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tomorrow = (Utc::now() + Duration::days(1)).with_timezone(&chrono_tz::Europe::London).date_naive();
    let at = format!("{tomorrow} 09:00");
    let booked =
        desk.json(DESK, &["appointment", "book", "--patient", &patient, "--doctor", &doctor, "--at", &at, "--video"]);
    (desk, booked["booking_ref"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doctor_runs_a_consultation_from_the_terminal() {
    let fake = FakeTwilio::start().await;
    let (desk, reference) = clinic(&fake);
    let appt = reference.as_str();

    let (code, err) = desk.refused(DOCTOR, &["consultation", "end", appt]);
    assert_eq!((code, err["code"].as_str()), (5, Some("conflict")));
    assert_eq!(err["message"], "Cannot end a consultation with status: scheduled");

    let started = desk.json(DOCTOR, &["consultation", "start", appt]);
    assert_eq!(started["state"], "in_progress");
    let (_, again) = desk.refused(DOCTOR, &["consultation", "start", appt]);
    assert_eq!(again["message"], "Cannot start a consultation with status: in-progress");
    assert_eq!(fake.rooms().len(), 1);

    let token = desk.json(DOCTOR, &["consultation", "token", appt]);
    assert_eq!(token["room"].as_str(), Some(fake.rooms()[0].unique_name.as_str()));
    assert!(token["identity"].as_str().unwrap().starts_with("d-"));
    let plain = desk.cmd(DOCTOR, &["consultation", "token", appt]).output().unwrap();
    assert_eq!(String::from_utf8(plain.stdout).unwrap().trim().split('.').count(), 3, "a JWT alone on stdout");

    let sent = desk.json(DOCTOR, &["consultation", "send", appt, "--body", "Good morning"]);
    assert_eq!(sent["index"], 0);
    let chat = fake.conversations()[0].clone();
    let patient = chat.participants.iter().find(|p| p.attributes.contains("patient")).unwrap().identity.clone();
    fake.add_chat_message(&chat.sid, &patient, "Hello doctor");
    let photo = fake.add_chat_file(&chat.sid, &patient, "rash.jpg", "image/jpeg", b"\xff\xd8 a photo").unwrap();
    let listed = desk.cmd(DOCTOR, &["consultation", "messages", appt]).output().unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains("Good morning") && listed.contains("Hello doctor") && listed.contains("patient"),
        "{listed}"
    );
    assert_eq!(desk.json(DOCTOR, &["consultation", "read", appt])["read_up_to"], 2);

    desk.cmd(DOCTOR, &["consultation", "note", appt, "--text", "Follow up in two weeks."]).assert().success();
    desk.cmd(DOCTOR, &["consultation", "consent", appt, "--recording"]).assert().success();
    desk.cmd(DOCTOR, &["consultation", "consent", appt]).assert().failure();

    // Reception sees the state, nothing clinical; the other doctor is refused the doors.
    let seen = desk.json(DESK, &["consultation", "status", appt]);
    assert_eq!((seen["state"].as_str(), seen["notes"].is_null()), (Some("in_progress"), true));
    assert!(seen["recording_consent_at"].is_string());
    for args in [["consultation", "token", appt], ["consultation", "end", appt], ["consultation", "messages", appt]] {
        let (code, err) = desk.refused(OTHER, &args);
        assert_eq!((code, err["code"].as_str()), (6, Some("forbidden")), "{args:?}");
    }
    let (code, _) = desk.refused(DESK, &["consultation", "start", appt]);
    assert_eq!(code, 6);

    let ended = desk.json(DOCTOR, &["consultation", "end", appt]);
    assert_eq!(ended["state"], "completed");
    assert_eq!(ended["notes"], "Follow up in two weeks.");
    assert_eq!(fake.rooms()[0].status, "completed");
    let kept = desk.json(DOCTOR, &["consultation", "messages", appt]);
    assert_eq!((kept["closed"].as_bool(), kept["messages"].as_array().unwrap().len()), (Some(true), 3));
    // The outbox pass keeps the chat's files in the clinic database.
    desk.cmd(ADMIN, &["outbox", "run"]).assert().success();
    let status = desk.cmd(DOCTOR, &["consultation", "status", appt]).output().unwrap();
    assert!(String::from_utf8(status.stdout).unwrap().contains("Status: completed"));
    review_it_offline(desk, appt, &photo);
}

/// After the consultation: the list, the record and the exports, with Twilio unreachable.
fn review_it_offline(mut desk: Desk, appt: &str, photo: &str) {
    desk.url = "http://127.0.0.1:9".into();
    let listed = desk.json(DOCTOR, &["consultation", "list"]);
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(
        (listed["items"][0]["has_notes"].as_bool(), listed["items"][0]["chat_messages"].as_i64()),
        (Some(true), Some(3))
    );
    let for_desk = desk.json(DESK, &["consultation", "list"]);
    assert!(for_desk["items"][0]["has_notes"].is_null(), "reception is not told: {for_desk}");
    let (code, _) = desk.refused(DESK, &["consultation", "list", "--has-notes"]);
    assert_eq!(code, 6);
    let (code, err) = desk.refused(DESK, &["consultation", "list", "--from", "yesterday"]);
    assert_eq!((code, err["field"].as_str()), (3, Some("from")));
    let table = desk.cmd(DESK, &["consultation", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&table.stdout).contains("Olivia Smith"));

    let shown = desk.cmd(DOCTOR, &["consultation", "show", appt]).output().unwrap();
    let shown = String::from_utf8(shown.stdout).unwrap();
    let listed_photo = format!("  {photo}  rash.jpg, 10 bytes: kept");
    for expected in [
        "Notes:\nFollow up in two weeks.",
        "The patient: Hello doctor",
        "The patient: [attachment: rash.jpg]",
        "Consultation ended by",
        &listed_photo,
    ] {
        assert!(shown.contains(expected), "{expected} in:\n{shown}");
    }
    let for_desk = desk.cmd(DESK, &["consultation", "show", appt]).output().unwrap();
    let for_desk = String::from_utf8(for_desk.stdout).unwrap();
    assert!(!for_desk.contains("Hello doctor") && !for_desk.contains("Follow up"), "{for_desk}");
    assert!(for_desk.contains("its notes and chat are for its doctor"), "{for_desk}");

    let pdf = desk.dir.path().join("record.pdf");
    let out =
        desk.cmd(DOCTOR, &["consultation", "export", appt, "--format", "pdf", "--out"]).arg(&pdf).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("personal health information"));
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&pdf).unwrap().permissions().mode() & 0o777, 0o600, "for its owner only");
    }
    let again = desk
        .cmd(DOCTOR, &["--json", "consultation", "export", appt, "--format", "pdf", "--out"])
        .arg(&pdf)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(3), "never overwrites");
    let json = desk.dir.path().join("record.json");
    desk.cmd(DOCTOR, &["consultation", "export", appt, "--format", "json", "--out"]).arg(&json).assert().success();
    let exported: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(exported["notice"].as_str().unwrap().contains("personal health information"));
    assert_eq!(exported["record"]["notes"], "Follow up in two weeks.");
    let saved = desk.dir.path().join("rash.jpg");
    desk.cmd(DOCTOR, &["consultation", "attachment", appt, photo, "--out"]).arg(&saved).assert().success();
    assert_eq!(std::fs::read(&saved).unwrap(), b"\xff\xd8 a photo");
    let (code, _) = desk.refused(DESK, &["consultation", "attachment", appt, photo, "--out", "x.jpg"]);
    assert_eq!(code, 6, "reception cannot open the chat's files");
    let (code, err) = desk.refused(DOCTOR, &["consultation", "export", appt, "--format", "docx", "--out", "x.docx"]);
    assert_eq!((code, err["field"].as_str()), (3, Some("format")));
    let audit = desk.cmd(ADMIN, &["--json", "audit", "--limit", "50"]).output().unwrap();
    let audit = String::from_utf8_lossy(&audit.stdout);
    assert_eq!(audit.matches("consultation.export").count(), 3, "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_twilio_the_doctor_gets_a_sentence_and_notes_still_save() {
    let fake = FakeTwilio::start().await;
    let (mut desk, reference) = clinic(&fake);
    desk.url = "http://127.0.0.1:9".into();
    let (code, err) = desk.refused(DOCTOR, &["consultation", "start", &reference]);
    assert_eq!((code, err["code"].as_str()), (1, Some("unavailable")));
    assert!(err["message"].as_str().unwrap().starts_with("ClinicDesk could not reach Twilio"), "{err}");
    desk.cmd(DOCTOR, &["consultation", "note", &reference, "--text", "Phoned instead."]).assert().success();
    let status = desk.json(DOCTOR, &["consultation", "status", &reference]);
    assert_eq!((status["state"].as_str(), status["starting"].as_bool()), (Some("scheduled"), Some(true)));
    assert_eq!(status["notes"], "Phoned instead.");

    // Searching the notes needs no network either: the doctor finds them, reception may not look.
    let hits = desk.json(DOCTOR, &["consultation", "search", "phon"]);
    assert_eq!(hits.as_array().map(Vec::len), Some(1), "{hits}");
    assert_eq!(hits[0]["source"], "notes");
    assert_eq!(hits[0]["snippet"][0]["text"], "Phoned");
    assert_eq!(hits[0]["snippet"][0]["matched"], true);
    let table = desk.cmd(DOCTOR, &["consultation", "search", "phon"]).output().unwrap();
    assert!(String::from_utf8_lossy(&table.stdout).contains("«Phoned» instead."), "{table:?}");
    let (code, _) = desk.refused(DESK, &["consultation", "search", "phoned"]);
    assert_eq!(code, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reception_texts_the_patient_a_link_once_there_is_a_call_page() {
    use chrono::Timelike;
    let fake = FakeTwilio::start().await;
    let (desk, reference) = clinic(&fake);
    // The booked appointment's patient and doctor, for one two hours from now (a link is refused
    // more than a day ahead, so "tomorrow 09:00" would depend on the hour the test runs).
    let tomorrow = (Utc::now() + Duration::days(1)).with_timezone(&chrono_tz::Europe::London).date_naive();
    let listed = desk.json(DESK, &["appointment", "list", "--date", &tomorrow.to_string()]);
    let booked = &listed["appointments"][0];
    assert_eq!(booked["booking_ref"], reference.as_str());
    let soon = (Utc::now() + Duration::hours(2)).with_timezone(&chrono_tz::Europe::London);
    let at = format!("{} {:02}:{:02}", soon.date_naive(), soon.hour(), soon.minute() / 15 * 15);
    let (patient, doctor) = (booked["patient_id"].as_str().unwrap(), booked["doctor_id"].as_str().unwrap());
    let appt =
        desk.json(DESK, &["appointment", "book", "--patient", patient, "--doctor", doctor, "--at", &at, "--video"]);
    let appt = appt["booking_ref"].as_str().unwrap();

    let (code, err) = desk.refused(DESK, &["consultation", "invite", appt]);
    assert_eq!((code, err["code"].as_str()), (5, Some("conflict")));
    assert!(err["message"].as_str().unwrap().starts_with("There is no call page for patients yet"), "{err}");
    let page = "https://call.clinic.example/call.html";
    desk.cmd(ADMIN, &["settings", "set", "video.call_page_url", page]).assert().success();

    desk.cmd(DESK, &["patient", "consent", patient, "--sms", "no"]).assert().success();
    let (code, err) = desk.refused(DESK, &["consultation", "invite", appt]);
    assert_eq!(
        (code, err["message"].as_str()),
        (5, Some("Cannot text the link: the patient has not agreed to texts."))
    );
    desk.cmd(DESK, &["patient", "consent", patient, "--sms", "yes"]).assert().success();

    let text = desk.json(DESK, &["consultation", "invite", appt]);
    assert_eq!(text["kind"], "invite");
    assert!(text["body"].as_str().unwrap().contains(&format!("{page}#…")), "the link without its key: {text}");
    // Without --json the link (a credential) is not printed, only what happened.
    let plain = desk.cmd(DESK, &["consultation", "invite", appt]).output().unwrap();
    let plain = String::from_utf8(plain.stdout).unwrap();
    assert!(plain.starts_with("Video invite queued to +447400123456") && !plain.contains("#t="), "{plain}");
    let (code, _) = desk.refused(OTHER, &["consultation", "invite", appt]);
    assert_eq!(code, 6, "another doctor may not invite this doctor's patient");
}
