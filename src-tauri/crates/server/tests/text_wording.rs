//! The wording of the clinic's texts, set at the clinic server's command line: checked as on one
//! desk, used by the server's texts, received by desks (their quick texts and chat replies), and
//! back to the built-in wording on reset. The real binary, a real PostgreSQL, a desk's copy.
//!
//! Needs the OS keyring (scripts/test.sh runs the suite inside an unlocked test keyring).

mod support;

use clinicdesk_core::sms::templates::TemplateName;
use std::process::{Command, Output};
use support::{desk_computer, sign_in_on};

fn templates(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_clinicdesk-server"))
        .arg("templates")
        .args(args)
        .env("CLINICDESK_DATABASE_URL", url)
        .env("CLINICDESK_LOG", "warn")
        .output()
        .expect("the server's command line runs")
}

fn said(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn desk_setting(desk: &support::DeskComputer, key: &str) -> Option<String> {
    desk.clinic.db().conn().unwrap().query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0)).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clinics_wording_is_checked_used_for_texts_and_reaches_desks() {
    let c = support::clinic().await;
    let (address, _server) = support::serve(&c).await;
    let front = desk_computer(&c, address, "Front desk").await;
    let (link, _rita) = sign_in_on(&front, "desk@clinic.example", "desk password 1").await;
    let key = TemplateName::Confirmation.settings_key();

    // A wording with a placeholder ClinicDesk does not know is refused, in words, and nothing changes.
    let refused = templates(&c.url, &["set", "confirmation", "--body", "See you {tomorrow}!"]);
    assert!(!refused.status.success());
    assert!(said(&refused).contains('{'), "the refusal names the placeholder: {}", said(&refused));
    assert_eq!(c.pg.psql("clinic", &format!("SELECT count(*) FROM settings WHERE key = '{key}'")), "0");
    // A video invite without its link could not be used.
    let no_link = templates(&c.url, &["set", "video_invite", "--body", "Your video visit is today."]);
    assert!(!no_link.status.success());
    assert!(said(&no_link).contains("{video_link}"), "{}", said(&no_link));

    // The clinic's own wording: saved, audited, used for the next confirmation, on the desk.
    let own = format!("{} Please bring your medication list.", TemplateName::Confirmation.default_body());
    let saved = templates(&c.url, &["set", "confirmation", "--body", &own]);
    assert!(saved.status.success(), "{}", said(&saved));
    let listed = said(&templates(&c.url, &["list"]));
    assert!(listed.contains("confirmation\t(Booking confirmation, the clinic's wording)"), "{listed}");
    let booked = clinicdesk_server::appointments::book(
        &c.pool,
        &c.reception,
        &support::booking(c.patients[0], c.doctors[0], "10:00", 30),
        None,
        support::now(),
    )
    .await
    .unwrap();
    let body = c.pg.psql(
        "clinic",
        &format!("SELECT body FROM sms_notifications WHERE appointment_id = '{}' AND kind = 'confirmation'", booked.id),
    );
    assert!(body.ends_with("Please bring your medication list."), "{body}");
    front.clinic.desk_sync().pull(&link, std::time::Duration::ZERO).await.unwrap();
    assert_eq!(desk_setting(&front, &key).as_deref(), Some(own.as_str()));

    // Back to the built-in wording: on the server and on the desk.
    let reset = templates(&c.url, &["reset", "confirmation"]);
    assert!(reset.status.success(), "{}", said(&reset));
    assert_eq!(c.pg.psql("clinic", &format!("SELECT count(*) FROM settings WHERE key = '{key}'")), "0");
    front.clinic.desk_sync().pull(&link, std::time::Duration::ZERO).await.unwrap();
    assert_eq!(desk_setting(&front, &key), None);
    let trail = c.pg.psql("clinic", "SELECT count(*) FROM audit_log WHERE action = 'sms.template'");
    assert_eq!(trail, "2");
}
