//! The link with the last reminder, on the manual clock against the fake Twilio (08:00 London; the
//! clinic's reminders "24h,2h", so the last is two hours ahead): once per appointment time, only
//! for a video appointment booked before that reminder, never in quiet hours, again after a move;
//! and the outbox worker sends it.

mod common;
mod consultation_rig;

use chrono::Duration;
use clinicdesk_core::appointments::{AppointmentKind, RescheduleRequest};
use clinicdesk_core::consultations::{AUTOMATIC_ACTOR, KEY_CALL_PAGE_URL};
use clinicdesk_core::sms::worker::{OutboxConfig, OutboxWorker};
use clinicdesk_core::sms::TextKind;
use consultation_rig::*;
use uuid::Uuid;

const PAGE: &str = "https://call.clinic.example/video/call.html";

fn ready(r: &Rig) {
    r.clinic().settings().set(&r.admin, KEY_CALL_PAGE_URL, PAGE).unwrap();
    r.clinic().patients().record_consent(&r.desk, r.patient.id, true).unwrap();
    r.clinic().settings().set(&r.admin, "sms.quiet_hours", "21:00-07:00").unwrap();
}

fn invites(r: &Rig, appointment: Uuid) -> Vec<clinicdesk_core::sms::TextMessage> {
    let timeline = r.clinic().appointment_texts().timeline(&r.desk, appointment).unwrap();
    timeline.texts.into_iter().map(|t| t.text).filter(|t| t.kind == TextKind::Invite).collect()
}

fn send(r: &Rig) -> usize {
    r.clinic().consultations().send_links_with_last_reminder().unwrap()
}

#[tokio::test]
async fn the_link_goes_once_with_the_last_reminder_and_again_after_a_move() {
    let r = rig().await;
    ready(&r);
    let (eleven, _) = r.book("11:00", 30, AppointmentKind::Video);
    let (in_person, _) = r.book("11:30", 30, AppointmentKind::InPerson);
    // 08:00: the 09:00 appointment was booked after its last reminder fell due (07:00): it gets its
    // link at once (its confirmation cannot carry one). The 11:00 one's last reminder is at 09:00.
    assert_eq!(send(&r), 1);
    assert_eq!(invites(&r, r.appt).len(), 1);
    assert!(invites(&r, eleven).is_empty());

    r.t.advance(Duration::minutes(60)); // 09:00
    assert_eq!(send(&r), 1);
    let sent = invites(&r, eleven);
    assert_eq!(sent.len(), 1, "{sent:?}");
    // Staff see the link without its key (the patient's token); the outbox keeps it to send.
    assert!(sent[0].body.contains(&format!("{PAGE}#…")) && !sent[0].body.contains("#t="), "{}", sent[0].body);
    assert!(invites(&r, in_person).is_empty(), "in-person appointments have no link");
    let audit = r.clinic().audit().recent(&r.admin, Some(&eleven.to_string()), 20).unwrap();
    assert!(audit.iter().any(|e| e.action == "twilio.token" && e.actor == AUTOMATIC_ACTOR), "{audit:?}");

    r.t.advance(Duration::minutes(5));
    assert_eq!(send(&r), 0, "once per appointment time");

    // Moved to 12:15: a new time, a new link when its last reminder falls due (10:15).
    let version = r.clinic().appointments().get(&r.desk, eleven).unwrap().version;
    let request = RescheduleRequest {
        date: "2026-03-02".into(),
        time: "12:15".into(),
        minutes: None,
        expected_version: Some(version),
    };
    r.clinic().appointments().reschedule(&r.desk, eleven, request).unwrap();
    r.t.advance(Duration::minutes(40)); // 09:45
    assert_eq!(send(&r), 0, "not yet for the new time");
    r.t.advance(Duration::minutes(30)); // 10:15
    assert_eq!(send(&r), 1);
    assert_eq!(invites(&r, eleven).len(), 2);
}

#[tokio::test]
async fn no_link_when_reception_sent_one_the_patient_cannot_be_texted_or_it_is_quiet_hours() {
    let r = rig().await;
    ready(&r);
    let (eleven, _) = r.book("11:00", 30, AppointmentKind::Video);
    let (noon, _) = r.book("12:00", 30, AppointmentKind::Video);
    r.clinic().consultations().invite(&r.desk, eleven).unwrap();
    r.t.advance(Duration::minutes(60)); // 09:00
    assert_eq!(send(&r), 0, "reception's invite for this time is the one");
    assert_eq!(invites(&r, eleven).len(), 1);

    // The patient withdrew their agreement to texts: nothing for the 12:00 appointment at 10:00.
    r.clinic().patients().record_consent(&r.desk, r.patient.id, false).unwrap();
    r.t.advance(Duration::minutes(60));
    assert_eq!(send(&r), 0);
    assert!(invites(&r, noon).is_empty());

    // Quiet hours over the clinic's morning: nothing is texted while they last.
    r.clinic().patients().record_consent(&r.desk, r.patient.id, true).unwrap();
    r.clinic().settings().set(&r.admin, "sms.quiet_hours", "09:30-10:30").unwrap();
    assert_eq!(send(&r), 0, "10:00 is in quiet hours");
    r.t.advance(Duration::minutes(31)); // 10:31
    assert_eq!(send(&r), 1);
    assert_eq!(invites(&r, noon).len(), 1);
}

#[tokio::test]
async fn the_outbox_worker_sends_it() {
    let r = rig().await;
    ready(&r);
    let (eleven, _) = r.book("11:00", 30, AppointmentKind::Video);
    r.t.advance(Duration::minutes(60)); // 09:00
    let config = OutboxConfig {
        messages_per_second: 0,
        first_poll: std::time::Duration::from_millis(10),
        max_poll: std::time::Duration::from_millis(40),
        retry_base: std::time::Duration::from_millis(20),
        ..OutboxConfig::default()
    };
    let mut worker = OutboxWorker::new(r.clinic(), &r.http, config).unwrap();
    // One pass: the link is queued before the claim, so this pass sends it.
    worker.run_once().await.unwrap();
    let texted = r.fake.messages();
    let links: Vec<_> = texted.iter().filter(|m| m.body.contains(&format!("{PAGE}#t="))).collect();
    assert_eq!(links.len(), 1, "the invite reached Twilio once: {texted:?}");
    assert!(links[0].body.starts_with("Hi Olivia"), "{}", links[0].body);
    // Beside the appointment's other texts (its confirmation and its 2-hour reminder, due now too).
    assert!(texted.iter().any(|m| !m.body.contains("#t=") && m.body.contains("11:00")), "{texted:?}");
    assert_eq!(invites(&r, eleven).len(), 1);
}

fn move_to(r: &Rig, appointment: Uuid, time: &str) {
    let version = r.clinic().appointments().get(&r.desk, appointment).unwrap().version;
    let request = RescheduleRequest {
        date: "2026-03-02".into(),
        time: time.into(),
        minutes: None,
        expected_version: Some(version),
    };
    r.clinic().appointments().reschedule(&r.desk, appointment, request).unwrap();
}

fn tokens_minted(r: &Rig, appointment: Uuid) -> usize {
    let audit = r.clinic().audit().recent(&r.admin, Some(&appointment.to_string()), 200).unwrap();
    audit.iter().filter(|e| e.action == "twilio.token").count()
}

#[tokio::test]
async fn a_withdrawn_automatic_link_is_not_made_again_every_pass() {
    let r = rig().await;
    ready(&r);
    let (eleven, _) = r.book("11:00", 30, AppointmentKind::Video);
    r.t.advance(Duration::minutes(60)); // 09:00
    send(&r);
    assert_eq!(invites(&r, eleven).len(), 1);
    // Moved away (the waiting link is withdrawn) and back: that time's automatic link was made once.
    move_to(&r, eleven, "12:15");
    move_to(&r, eleven, "11:00");
    let withdrawn = invites(&r, eleven);
    assert_eq!(withdrawn.len(), 1);
    assert_eq!(withdrawn[0].state, clinicdesk_core::sms::TextState::Skipped, "withdrawn by the first move");
    let minted = tokens_minted(&r, eleven);
    for _ in 0..3 {
        assert_eq!(send(&r), 0);
    }
    assert_eq!(tokens_minted(&r, eleven), minted, "no token minted for a text that cannot be queued");
}
