//! `clinicdesk templates list | set KIND --body TEXT | preview KIND | reset KIND` with the real
//! binary, data folder and keyring (run through scripts/with-keyring.sh).

use assert_cmd::Command;
use serde_json::Value;

const ADMIN: &str = "admin@clinic.example";
const PASSWORD: &str = "admin password 1";
const DESK: &str = "desk@clinic.example";
const DESK_PASSWORD: &str = "desk password 1";

struct Terminal {
    dir: tempfile::TempDir,
}

impl Terminal {
    fn initialised() -> Terminal {
        let t = Terminal { dir: tempfile::tempdir().unwrap() };
        t.cmd(&["init", "--admin-email", ADMIN, "--clinic-name", "Riverside Clinic", "--time-zone", "Europe/London"])
            .assert()
            .success();
        t
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("clinicdesk").unwrap();
        cmd.arg("--data-dir").arg(self.dir.path()).args(args).env("CLINICDESK_PASSWORD", PASSWORD);
        cmd
    }

    fn admin(&self, args: &[&str]) -> std::process::Output {
        let mut full = vec!["--as", ADMIN];
        full.extend_from_slice(args);
        self.cmd(&full).output().unwrap()
    }

    fn admin_json(&self, args: &[&str]) -> Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = self.admin(&full);
        assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn admins_list_set_preview_and_reset_templates() {
    let t = Terminal::initialised();
    let list = t.admin_json(&["templates", "list"]);
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names[..5], ["confirmation", "reschedule", "cancellation", "reminder", "video_invite"]);
    assert!(names.contains(&"quick.please_call"), "{names:?}");

    // Pasted with CR-LF and a tab: saved with LF and a space.
    let saved = t.admin_json(&[
        "templates",
        "set",
        "reminder",
        "--body",
        "{clinic_name}: see {doctor}\r\non {date}\tat {time}.",
    ]);
    assert_eq!(saved["body"], "{clinic_name}: see {doctor}\non {date} at {time}.");
    assert_eq!(saved["is_default"], false);

    let preview = t.admin_json(&["templates", "preview", "reminder"]);
    // The sample appointment is tomorrow (by the real clock) at 14:30 in the clinic's zone.
    let sample = preview["text"].as_str().unwrap();
    assert!(
        sample.starts_with("Riverside Clinic: see Dr Amara Okafor\non ") && sample.ends_with(" at 14:30."),
        "{sample}"
    );
    assert_eq!((preview["segments"].as_u64(), preview["encoding"].as_str()), (Some(1), Some("gsm7")));

    let human = t.admin(&["templates", "preview", "reminder"]);
    assert!(human.status.success());
    let out = text(&human.stdout);
    assert!(
        out.contains("1 segment, GSM-7") && out.contains("Cost: unknown until sms.price_per_segment is set."),
        "{out}"
    );

    let reset = t.admin_json(&["templates", "reset", "reminder"]);
    assert_eq!(reset["is_default"], true);
    assert!(reset["body"].as_str().unwrap().contains("Reply C to confirm"));
}

#[test]
fn mistakes_and_look_alikes_are_explained_and_reception_may_only_read() {
    let t = Terminal::initialised();
    let wrong = t.admin(&["--json", "templates", "set", "confirmation", "--body", "Hi {frist_name}"]);
    assert_eq!(wrong.status.code(), Some(3));
    let err: Value = serde_json::from_slice(&wrong.stderr).unwrap();
    assert_eq!(err["code"], "invalid");
    assert!(err["message"].as_str().unwrap().contains("Did you mean {first_name}?"), "{err}");
    let unknown_kind = t.admin(&["templates", "preview", "thank_you"]);
    assert_eq!(unknown_kind.status.code(), Some(3));
    assert!(text(&unknown_kind.stderr).contains("quick.running_late"), "{}", text(&unknown_kind.stderr));

    let curly = "Hi {first_name}, we’re running late – sorry…";
    let offered = t.admin(&["templates", "preview", "running_late", "--body", curly]);
    let out = text(&offered.stdout);
    assert!(out.contains("UCS-2") && out.contains("’ -> '") && out.contains("--replace-look-alikes"), "{out}");
    let swapped = t.admin_json(&["templates", "set", "quick.running_late", "--replace-look-alikes", "--body", curly]);
    assert_eq!(swapped["body"], "Hi {first_name}, we're running late - sorry...");

    t.cmd(&["--as", ADMIN, "user", "add", "--email", DESK, "--role", "reception", "--name", "Rita"])
        .env("CLINICDESK_NEW_PASSWORD", DESK_PASSWORD)
        .assert()
        .success();
    let desk = |args: &[&str]| {
        let mut full = vec!["--as", DESK];
        full.extend_from_slice(args);
        t.cmd(&full).env("CLINICDESK_PASSWORD", DESK_PASSWORD).output().unwrap()
    };
    assert!(desk(&["templates", "list"]).status.success());
    assert_eq!(desk(&["templates", "set", "reminder", "--body", "Hi"]).status.code(), Some(6));
    assert_eq!(desk(&["templates", "reset", "quick.running_late"]).status.code(), Some(6));
}
