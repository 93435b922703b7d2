//! The clinic's administrator manages staff from the server's command line: accounts added there
//! sign in on any desk; a new password ends their sessions; a deactivated account is refused.
//! The real binary, a real PostgreSQL, the desks' HTTP API.

use clinicdesk_core::sync::ServerLink;
use clinicdesk_server::testing::TempPostgres;
use clinicdesk_server::{db, desks, http};
use std::process::{Command, Output};
use std::time::Duration;

/// Runs the server's command line; `password` is the new password for `add-staff` and
/// `set-password` (the administrator's own for `init`).
fn server_cli(url: &str, password: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_clinicdesk-server"));
    command.args(args).env("CLINICDESK_DATABASE_URL", url).env("CLINICDESK_LOG", "warn");
    command.env_remove("CLINICDESK_PASSWORD").env_remove("CLINICDESK_NEW_PASSWORD");
    if let Some(p) = password {
        let variable = if args[0] == "init" { "CLINICDESK_PASSWORD" } else { "CLINICDESK_NEW_PASSWORD" };
        command.env(variable, p);
    }
    command.output().expect("the server's command line runs")
}

fn said(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// `init` of a London clinic with admin@clinic.example as its administrator.
fn init_clinic(url: &str) {
    let init = server_cli(
        url,
        Some("a long admin password"),
        &[
            "init",
            "--clinic-name",
            "Riverside Clinic",
            "--time-zone",
            "Europe/London",
            "--country",
            "GB",
            "--admin-email",
            "admin@clinic.example",
        ],
    );
    assert!(init.status.success(), "{}", said(&init));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_added_at_the_server_sign_in_on_desks_until_deactivated() {
    let pg = TempPostgres::start();
    let url = pg.create_database("clinic");
    init_clinic(&url);

    let add = |email: &str, name: &str, role: &str, extra: &[&str], password: &str| {
        let mut args = vec!["add-staff", "--email", email, "--name", name, "--role", role];
        args.extend_from_slice(extra);
        server_cli(&url, Some(password), &args)
    };
    let rita = add("desk@clinic.example", "Rita Reception", "reception", &[], "reception password 1");
    assert!(rita.status.success(), "{}", said(&rita));
    assert!(said(&rita).contains("Rita Reception (desk@clinic.example) can now sign in"), "{}", said(&rita));
    let grey = add(
        "grey@clinic.example",
        "Dr Meredith Grey",
        "doctor",
        &["--specialization", "Cardiology"],
        "doctor password 1",
    );
    assert!(grey.status.success(), "{}", said(&grey));
    // The core's rules, in the administrator's words.
    let twice = add("DESK@clinic.example", "Rita Again", "reception", &[], "reception password 2");
    assert!(!twice.status.success() && said(&twice).contains("There is already an account for"), "{}", said(&twice));
    let short = add("nurse@clinic.example", "Nina Nurse", "reception", &[], "short");
    assert!(!short.status.success(), "{}", said(&short));
    assert_eq!(pg.psql("clinic", "SELECT count(*) FROM users WHERE email = 'nurse@clinic.example'"), "0");
    let listed = said(&server_cli(&url, None, &["list-staff"]));
    assert!(listed.contains("grey@clinic.example\tDr Meredith Grey\tdoctor (Cardiology)\tactive"), "{listed}");
    assert!(listed.contains("desk@clinic.example\tRita Reception\treception\tactive"), "{listed}");
    assert_eq!(
        pg.psql("clinic", "SELECT string_agg(action || ' ' || actor_label, ', ' ORDER BY seq) FROM audit_log WHERE action = 'user.add'"),
        "user.add clinic server, user.add clinic server, user.add clinic server",
        "each account added is in the audit log, the first administrator's (at init) too"
    );

    // A desk: Rita signs in with the password the administrator gave; the doctor is bookable.
    let pool = db::pool(&url, 4).unwrap();
    let (_, credential) = desks::enroll(&**pool.get().await.unwrap(), None, "Front desk").await.unwrap();
    let (address, _server) = http::start(&url, "127.0.0.1:0".parse().unwrap(), "test".into(), None).await.unwrap();
    let link = ServerLink::new(&format!("http://{address}").parse().unwrap(), &credential, None).unwrap();
    let signed = link.sign_in("desk@clinic.example", "reception password 1").await.unwrap();
    link.set_person(&signed);
    let page = link.pull("", Duration::ZERO).await.unwrap();
    assert!(page
        .changes
        .iter()
        .any(|c| c.entity == "doctor" && c.row.as_ref().unwrap()["specialization"] == "Cardiology"));

    // Forgotten password: a new one ends her session; the old password no longer works.
    let reset = server_cli(&url, Some("reception password 9"), &["set-password", "--email", "desk@clinic.example"]);
    assert!(reset.status.success(), "{}", said(&reset));
    assert_eq!(link.pull("", Duration::ZERO).await.unwrap_err().code().as_str(), "not_signed_in");
    assert!(link.sign_in("desk@clinic.example", "reception password 1").await.is_err());
    let signed = link.sign_in("desk@clinic.example", "reception password 9").await.unwrap();
    link.set_person(&signed);

    // She leaves the clinic: signed out everywhere, refused from then on, and desks are told.
    let gone = server_cli(&url, None, &["deactivate-staff", "--email", "desk@clinic.example"]);
    assert!(gone.status.success(), "{}", said(&gone));
    assert_eq!(link.pull("", Duration::ZERO).await.unwrap_err().code().as_str(), "not_signed_in");
    assert!(link.sign_in("desk@clinic.example", "reception password 9").await.is_err());
    let missing = server_cli(&url, None, &["deactivate-staff", "--email", "nobody@clinic.example"]);
    assert!(!missing.status.success() && said(&missing).contains("no staff account for nobody@clinic.example"));
    let admin = link.sign_in("admin@clinic.example", "a long admin password").await.unwrap();
    link.set_person(&admin);
    let page = link.pull("", Duration::ZERO).await.unwrap();
    let rita_now = page
        .changes
        .iter()
        .rev()
        .find(|c| c.entity == "user" && c.row.as_ref().unwrap()["email"] == "desk@clinic.example")
        .unwrap();
    assert_eq!(rita_now.row.as_ref().unwrap()["active"], false, "desks learn she was deactivated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clinics_settings_are_changed_at_the_servers_command_line_with_the_desks_rules() {
    let pg = TempPostgres::start();
    let url = pg.create_database("clinic");
    init_clinic(&url);
    let set = |key: &str, value: &str| server_cli(&url, None, &["settings", "set", key, value]);
    assert!(set("sms.quiet_hours", "20:00-07:30").status.success());
    assert!(set("sms.reminders", "48h, 3h").status.success());
    let bad = set("sms.quiet_hours", "evenings");
    assert!(!bad.status.success() && said(&bad).contains("is not a time range"), "{}", said(&bad));
    let zone = set("clinic.time_zone", "Europe/Paris");
    assert!(!zone.status.success() && said(&zone).contains("set once, at init"), "{}", said(&zone));
    let unknown = set("sms.colour", "blue");
    assert!(!unknown.status.success() && said(&unknown).contains("is not a setting"), "{}", said(&unknown));
    let listed = said(&server_cli(&url, None, &["settings", "list"]));
    assert!(listed.contains("sms.quiet_hours\t20:00-07:30"), "{listed}");
    assert!(listed.contains("sms.reminders\t48h, 3h"), "{listed}");
    assert!(listed.contains("sms.settle_seconds\t60\t"), "defaults are shown: {listed}");

    // The desk's "Join" form takes the credential line as enroll-desk prints it.
    let enrolled = said(&server_cli(&url, None, &["enroll-desk", "--name", "Front desk"]));
    let credential = enrolled.lines().last().unwrap().trim();
    assert!(credential.len() >= 43 && !credential.contains(' '), "the credential has a line of its own: {enrolled}");
}
