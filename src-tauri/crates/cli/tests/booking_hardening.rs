//! The CLI's side of issue 6: absurd dates and lengths get sentences (never a panic), and a
//! time-zone change with appointments booked needs `--confirm`.

use assert_cmd::Command;
use serde_json::Value;

const ADMIN: &str = "admin@clinic.example";
const PASSWORD: &str = "admin password 1";

struct Terminal {
    dir: tempfile::TempDir,
}

impl Terminal {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("clinicdesk").unwrap();
        cmd.arg("--data-dir")
            .arg(self.dir.path())
            .args(args)
            .env("CLINICDESK_PASSWORD", PASSWORD)
            .env_remove("CLINICDESK_NEW_PASSWORD");
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

    /// A London clinic with one doctor and one patient: (doctor id, patient id).
    fn with_doctor_and_patient() -> (Terminal, String, String) {
        let t = Terminal { dir: tempfile::tempdir().unwrap() };
        t.cmd(&["init", "--admin-email", ADMIN, "--time-zone", "Europe/London", "--country", "GB"]).assert().success();
        t.cmd(&[
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
        let doctor = t.admin_json(&["doctor", "add", "--user", "okafor@clinic.example", "--specialization", "GP"]);
        let patient = t.admin_json(&["patient", "add", "--name", "Olivia Smith", "--phone", "07400 123456"]);
        (t, doctor["id"].as_str().unwrap().to_owned(), patient["id"].as_str().unwrap().to_owned())
    }
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A day a month from now: inside the booking horizon whenever the test runs.
fn next_month() -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(30)).to_string()
}

#[test]
fn absurd_dates_and_lengths_are_explained_never_a_panic() {
    let (t, doctor, patient) = Terminal::with_doctor_and_patient();
    let book = |at: &str, minutes: &str| {
        t.admin(&["appointment", "book", "--patient", &patient, "--doctor", &doctor, "--at", at, "--minutes", minutes])
    };
    let cases = [
        (book("9999-12-31 09:00", "30"), "within the next 5 years"),
        (book("275760-09-13 09:00", "30"), "within the next 5 years"),
        (book("+262142-12-31 23:59", "480"), "within the next 5 years"),
        (book(&format!("{} 09:00", next_month()), "99999999999999999999"), "between 5 and 480 minutes"),
        (book(&format!("{} 09:00", next_month()), "half an hour"), "whole minutes"),
        (t.admin(&["appointment", "list", "--date", "275760-09-13"]), "Choose a date between"),
        (t.admin(&["appointment", "list", "--date", "9999-01-01"]), "Choose a date between"),
    ];
    for (out, expected) in cases {
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{expected}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
    let booked = t.admin_json(&[
        "appointment",
        "book",
        "--patient",
        &patient,
        "--doctor",
        &doctor,
        "--at",
        &format!("{} 09:00", next_month()),
        "--minutes",
        "45",
    ]);
    assert_eq!(booked["minutes"], 45);
}

#[test]
fn a_time_zone_change_with_appointments_booked_needs_confirm() {
    let (t, doctor, patient) = Terminal::with_doctor_and_patient();
    let at = format!("{} 09:00", next_month());
    t.admin_json(&["appointment", "book", "--patient", &patient, "--doctor", &doctor, "--at", &at]);

    let out = t.admin(&["settings", "set", "clinic.time_zone", "Asia/Tokyo"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(said.contains("1 upcoming appointment will keep its moment in time"), "{said}");
    assert!(said.contains("Asia/Tokyo, e.g. 09:00 on"), "{said}");
    assert!(said.contains("run the command again with --confirm"), "{said}");
    assert_eq!(t.admin_json(&["settings", "list"])["time_zone"], "Europe/London");

    let changed = t.admin_json(&["settings", "set", "clinic.time_zone", "Asia/Tokyo", "--confirm"]);
    assert_eq!(changed["time_zone"], "Asia/Tokyo");
    let day = t.admin_json(&["appointment", "list", "--date", &next_month()]);
    let shown = day["appointments"][0]["local_start"].as_str().unwrap().to_owned();
    assert!(shown == "17:00" || shown == "18:00", "09:00 in London is 17:00 or 18:00 in Tokyo: {shown}");
}
