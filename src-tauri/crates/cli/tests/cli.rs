//! The real `clinicdesk` binary against a real data folder and the real keyring
//! (run through scripts/test.sh, which provides an unlocked Secret Service).

use assert_cmd::Command;
use serde_json::Value;

const ADMIN: &str = "admin@clinic.example";
const PASSWORD: &str = "admin password 1";

struct Terminal {
    dir: tempfile::TempDir,
}

impl Terminal {
    fn new() -> Terminal {
        Terminal { dir: tempfile::tempdir().unwrap() }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("clinicdesk").unwrap();
        cmd.arg("--data-dir")
            .arg(self.dir.path())
            .args(args)
            .env("CLINICDESK_PASSWORD", PASSWORD)
            .env_remove("CLINICDESK_NEW_PASSWORD");
        cmd
    }

    fn admin_json(&self, args: &[&str]) -> Value {
        let mut full = vec!["--as", ADMIN, "--json"];
        full.extend_from_slice(args);
        let out = self.cmd(&full).output().unwrap();
        assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn initialised() -> Terminal {
        let t = Terminal::new();
        t.cmd(&[
            "init",
            "--admin-email",
            ADMIN,
            "--clinic-name",
            "Riverside Clinic",
            "--time-zone",
            "Europe/London",
            "--country",
            "GB",
        ])
        .assert()
        .success();
        t
    }

    /// A doctor and a patient, returning (doctor id, patient id).
    fn with_doctor_and_patient(&self) -> (String, String) {
        self.cmd(&[
            "--as",
            ADMIN,
            "user",
            "add",
            "--email",
            "okafor@clinic.example",
            "--role",
            "doctor",
            "--name",
            "Dr Amara Okafor",
        ])
        .env("CLINICDESK_NEW_PASSWORD", "doctor password 1")
        .assert()
        .success();
        let doctor = self.admin_json(&[
            "doctor",
            "add",
            "--user",
            "okafor@clinic.example",
            "--specialization",
            "General practice",
        ]);
        let patient = self.admin_json(&[
            "patient",
            "add",
            "--name",
            "Olivia Smith",
            "--phone",
            "07400 123456",
            "--dob",
            "1984-03-27",
        ]);
        (doctor["id"].as_str().unwrap().to_owned(), patient["id"].as_str().unwrap().to_owned())
    }
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn init_creates_the_administrator_once() {
    let t = Terminal::initialised();
    let out = t.cmd(&["init", "--admin-email", "other@clinic.example"]).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already set up"), "{}", stderr(&out));
    let users = t.admin_json(&["user", "list"]);
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(users[0]["role"], "admin");
}

#[test]
fn commands_need_a_signed_in_user_and_a_right_password() {
    let t = Terminal::initialised();
    let out = t.cmd(&["patient", "list"]).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--as EMAIL"));
    let out = t
        .cmd(&["--as", ADMIN, "--json", "patient", "list"])
        .env("CLINICDESK_PASSWORD", "wrong password")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["code"], "bad_credentials");
    assert_eq!(err["message"], "The email or password is not correct.");
}

#[test]
fn roles_are_enforced_for_cli_users_too() {
    let t = Terminal::initialised();
    t.cmd(&[
        "--as",
        ADMIN,
        "user",
        "add",
        "--email",
        "desk@clinic.example",
        "--role",
        "reception",
        "--name",
        "Rita Reception",
    ])
    .env("CLINICDESK_NEW_PASSWORD", "desk password 1")
    .assert()
    .success();
    let out = t
        .cmd(&["--as", "desk@clinic.example", "--json", "user", "list"])
        .env("CLINICDESK_PASSWORD", "desk password 1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["code"], "forbidden");
    // Reception can add patients.
    t.cmd(&["--as", "desk@clinic.example", "patient", "add", "--name", "Noah Jones", "--phone", "07400 123457"])
        .env("CLINICDESK_PASSWORD", "desk password 1")
        .assert()
        .success();
}

#[test]
fn book_list_reschedule_and_cancel_an_appointment() {
    let t = Terminal::initialised();
    let (doctor, patient) = t.with_doctor_and_patient();
    let booked = t.admin_json(&[
        "appointment",
        "book",
        "--patient",
        &patient,
        "--doctor",
        &doctor,
        "--at",
        "2031-01-06 09:30",
        "--video",
    ]);
    assert_eq!(booked["local_start"], "09:30");
    assert_eq!(booked["kind"], "video");
    assert_eq!(booked["starts_at"], "2031-01-06T09:30:00Z");
    let reference = booked["booking_ref"].as_str().unwrap().to_owned();

    let day = t.admin_json(&["appointment", "list", "--date", "2031-01-06", "--doctor", &doctor]);
    assert_eq!(day["appointments"].as_array().unwrap().len(), 1);

    // Double booking is refused with a sentence and exit code 5.
    let out = t
        .cmd(&[
            "--as",
            ADMIN,
            "appointment",
            "book",
            "--patient",
            &patient,
            "--doctor",
            &doctor,
            "--at",
            "2031-01-06 09:45",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(stderr(&out).contains("already booked from 09:30 to 10:00"), "{}", stderr(&out));

    let moved = t.admin_json(&["appointment", "reschedule", &reference, "--at", "2031-07-06 10:00"]);
    assert_eq!(moved["local_start"], "10:00");
    assert_eq!(moved["starts_at"], "2031-07-06T09:00:00Z", "summer time in London");

    let cancelled = t.admin_json(&["appointment", "cancel", &reference, "--reason", "Patient is travelling"]);
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancel_reason"], "Patient is travelling");
}

#[test]
fn bad_input_is_explained_and_nothing_is_saved() {
    let t = Terminal::initialised();
    let (doctor, patient) = t.with_doctor_and_patient();
    let cases: &[(&[&str], &str)] = &[
        (&["patient", "add", "--name", "Amy Pond", "--phone", "12345"], "not a valid phone number"),
        (&["patient", "add", "--name", "Amy Pond", "--phone", "07400 123450", "--dob", "31/12/1990"], "YYYY-MM-DD"),
        (
            &["appointment", "book", "--patient", &patient, "--doctor", &doctor, "--at", "2020-01-06 09:30"],
            "already passed",
        ),
        (&["appointment", "book", "--patient", &patient, "--doctor", &doctor, "--at", "tomorrow"], "YYYY-MM-DD HH:MM"),
        (
            &["appointment", "book", "--patient", "nobody", "--doctor", &doctor, "--at", "2031-01-06 09:30"],
            "not a patient id",
        ),
        (&["appointment", "cancel", "CD-NOPE99", "--reason", "x"], "no appointment with the reference"),
        (&["settings", "set", "clinic.time_zone", "Moon/Base"], "not a time zone"),
    ];
    for (args, expected) in cases {
        let mut full = vec!["--as", ADMIN];
        full.extend_from_slice(args);
        let out = t.cmd(&full).output().unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("Error {") && !stderr(&out).contains("panicked"),
            "no debug output: {}",
            stderr(&out)
        );
    }
    assert_eq!(t.admin_json(&["patient", "list"]).as_array().unwrap().len(), 1);
}

#[test]
fn settings_can_be_listed_and_changed() {
    let t = Terminal::initialised();
    let s = t.admin_json(&["settings", "set", "security.idle_timeout_minutes", "30"]);
    assert_eq!(s["idle_timeout_minutes"], 30);
    assert_eq!(t.admin_json(&["settings", "list"])["time_zone"], "Europe/London");
}

#[test]
fn demo_seed_fills_an_empty_clinic() {
    let t = Terminal::initialised();
    let summary = t.admin_json(&["demo-seed"]);
    assert_eq!(summary["doctors"], 5);
    assert_eq!(summary["patients"], 200);
    assert!(summary["appointments"].as_u64().unwrap() > 2000);
    assert_eq!(t.admin_json(&["doctor", "list"]).as_array().unwrap().len(), 5);
    let found = t.admin_json(&["patient", "search", "Smith"]);
    assert!(!found.as_array().unwrap().is_empty());
}

#[test]
fn the_data_folder_can_come_from_the_environment() {
    let t = Terminal::new();
    let mut cmd = Command::cargo_bin("clinicdesk").unwrap();
    cmd.env("CLINICDESK_DATA_DIR", t.dir.path())
        .env("CLINICDESK_PASSWORD", PASSWORD)
        .args(["init", "--admin-email", ADMIN])
        .assert()
        .success();
    assert!(t.dir.path().join("clinicdesk.db").exists());
    assert!(t.dir.path().join("installation.json").exists());
}

#[test]
fn the_audit_trail_shows_who_read_a_patient() {
    let t = Terminal::initialised();
    let (_, patient) = t.with_doctor_and_patient();
    t.admin_json(&["patient", "search", "Olivia"]);
    let entries = t.admin_json(&["audit", "--record", &patient]);
    let actions: Vec<&str> = entries.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"patient.create") && actions.contains(&"patient.read"), "{actions:?}");
    assert!(entries.as_array().unwrap().iter().all(|e| e["actor"] == ADMIN));
    // Reception may not read the trail.
    t.cmd(&["--as", ADMIN, "user", "add", "--email", "desk@clinic.example", "--role", "reception", "--name", "Rita"])
        .env("CLINICDESK_NEW_PASSWORD", "desk password 1")
        .assert()
        .success();
    let out = t
        .cmd(&["--as", "desk@clinic.example", "audit"])
        .env("CLINICDESK_PASSWORD", "desk password 1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
}

#[test]
fn staff_change_their_own_password_with_the_documented_exit_codes() {
    let t = Terminal::initialised();
    const NEW: &str = "a brand new passphrase";
    let change = |current: &str, new: Option<&str>| {
        let mut cmd = t.cmd(&["--as", ADMIN, "--json", "password", "change"]);
        cmd.env("CLINICDESK_PASSWORD", current);
        if let Some(new) = new {
            cmd.env("CLINICDESK_NEW_PASSWORD", new);
        }
        cmd.output().unwrap()
    };
    let code_of = |out: &std::process::Output| -> String {
        serde_json::from_slice::<Value>(&out.stderr).unwrap()["code"].as_str().unwrap().to_owned()
    };

    // 3: the new password breaks the rules, is the same, or is missing (no terminal to ask on).
    let short = change(PASSWORD, Some("short"));
    assert_eq!((short.status.code(), code_of(&short)), (Some(3), "invalid".into()));
    assert!(stderr(&short).contains("at least 10 characters"), "{}", stderr(&short));
    assert_eq!(change(PASSWORD, Some(PASSWORD)).status.code(), Some(3));
    let missing = change(PASSWORD, None);
    assert_eq!(missing.status.code(), Some(3));
    assert!(stderr(&missing).contains("CLINICDESK_NEW_PASSWORD"), "{}", stderr(&missing));
    // 6: the current password is wrong.
    let wrong = change("not the password", Some(NEW));
    assert_eq!((wrong.status.code(), code_of(&wrong)), (Some(6), "bad_credentials".into()));

    // 0: changed; the old password no longer works, the new one does.
    let done = change(PASSWORD, Some(NEW));
    assert!(done.status.success(), "{}", stderr(&done));
    let json: Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!(json["password_changed"], true);
    assert_eq!(change(PASSWORD, Some("yet another passphrase")).status.code(), Some(6));
    let out = t.cmd(&["--as", ADMIN, "user", "list"]).env("CLINICDESK_PASSWORD", NEW).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let trail = t.cmd(&["--as", ADMIN, "--json", "audit"]).env("CLINICDESK_PASSWORD", NEW).output().unwrap();
    let trail: Value = serde_json::from_slice(&trail.stdout).unwrap();
    assert!(trail.as_array().unwrap().iter().any(|e| e["action"] == "auth.password_changed"));
}

#[test]
fn a_refused_command_is_in_the_audit_trail() {
    let t = Terminal::initialised();
    t.cmd(&["--as", ADMIN, "user", "add", "--email", "desk@clinic.example", "--role", "reception", "--name", "Rita"])
        .env("CLINICDESK_NEW_PASSWORD", "desk password 1")
        .assert()
        .success();
    let out = t
        .cmd(&["--as", "desk@clinic.example", "settings", "set", "security.idle_timeout_minutes", "240"])
        .env("CLINICDESK_PASSWORD", "desk password 1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    let trail = t.admin_json(&["audit"]);
    let refused: Vec<&Value> = trail.as_array().unwrap().iter().filter(|e| e["action"] == "access.refused").collect();
    assert_eq!(refused.len(), 1, "{trail:#}");
    assert_eq!(refused[0]["actor"], "desk@clinic.example");
    assert_eq!(refused[0]["detail"], "manage_settings");
}
