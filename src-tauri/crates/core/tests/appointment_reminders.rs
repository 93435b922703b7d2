//! Reminders on the core's manual clock against the fake Twilio: planned a day ahead, moved and
//! withdrawn with their appointment, caught up after downtime (one, not two), the minimum gap, quiet
//! hours, DST, rule changes, and waiting for Twilio to be set up.

mod common;
mod texts_rig;

use chrono::Duration;
use clinicdesk_core::appointments::{AppointmentKind, BookingRequest};
use clinicdesk_core::auth::Role;
use clinicdesk_core::sms::{TextKind, TextState};
use common::*;
use texts_rig::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_are_planned_a_day_ahead_moved_with_the_appointment_and_withdrawn_by_a_cancel() {
    let d = desk().await;
    d.pass().await; // the planner's first pass sets its mark at now + 24 h (Tue 08:00)
    let booked = d.book(london(2026, 3, 3, 10, 0)); // Tuesday 10:00: 24h due Mon 10:00, 2h Tue 08:00
    let reminders = |d: &Desk, id| d.texts(id).into_iter().filter(|t| t.kind == TextKind::Reminder).collect::<Vec<_>>();
    let planned = reminders(&d, booked.id);
    assert_eq!(planned.len(), 2, "both fall due before the planner's mark: {planned:?}");
    assert!(planned.iter().all(|t| t.state == TextState::Pending));

    // To 15:00: the 24h reminder (Mon 15:00) is planned at once; the 2h (Tue 13:00) lies beyond
    // the planner's mark and is shown as planned, to be queued by a later pass.
    let moved = d.move_to(booked.id, london(2026, 3, 3, 15, 0));
    let after = reminders(&d, moved.id);
    let withdrawn = after.iter().filter(|t| t.state == TextState::Skipped).count();
    let pending: Vec<_> = after.iter().filter(|t| t.state == TextState::Pending).collect();
    assert_eq!((withdrawn, pending.len()), (2, 1), "{after:?}");
    assert!(pending[0].body.contains("15:00"));
    let timeline = d.t.clinic.appointment_texts().timeline(&d.desk, moved.id).unwrap();
    assert_eq!(timeline.planned_reminders.len(), 1);
    assert_eq!(timeline.planned_reminders[0].rule, "2h");
    assert_eq!(timeline.planned_reminders[0].due_at, london(2026, 3, 3, 13, 0));
    d.at(london(2026, 3, 2, 13, 30));
    d.pass().await;
    assert_eq!(reminders(&d, moved.id).iter().filter(|t| t.state == TextState::Pending).count(), 2);

    d.cancel(booked.id);
    let after = reminders(&d, booked.id);
    assert!(after.iter().all(|t| t.state == TextState::Skipped), "{after:?}");
    // Nothing goes at the reminders' times.
    d.at(london(2026, 3, 3, 13, 0));
    d.pass().await;
    d.pass().await;
    assert!(d.sent_to(OLIVIA).iter().all(|b| !b.contains("reminder")), "{:?}", d.sent_to(OLIVIA));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_downtime_one_late_reminder_goes_not_two_and_none_for_an_appointment_that_started() {
    let d = desk().await;
    d.pass().await; // mark: Tue 08:00
    let wednesday = d.book(london(2026, 3, 4, 10, 0));
    let early = d.book(london(2026, 3, 4, 8, 30));
    d.t.advance(Duration::minutes(2));
    d.pass().await; // the confirmations go
    d.pass().await;
    assert_eq!(d.sent_to(OLIVIA).len(), 2);

    // The app is closed until Wednesday 09:00: the 24h and 2h reminders of the 10:00 are both
    // late; the 08:30 has started.
    d.at(london(2026, 3, 4, 9, 0));
    d.pass().await;
    d.pass().await;
    let sent = d.sent_to(OLIVIA);
    assert_eq!(sent.len(), 3, "one reminder only: {sent:?}");
    assert!(sent[2].contains("10:00"));
    let reminders = of_kind(&d.texts(wednesday.id), TextKind::Reminder).into_iter().cloned().collect::<Vec<_>>();
    let skipped: Vec<_> = reminders.iter().filter(|t| t.state == TextState::Skipped).collect();
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].error_message.as_deref().unwrap().contains("reminder for the same appointment went instead"));
    assert!(of_kind(&d.texts(early.id), TextKind::Reminder).iter().all(|t| t.state != TextState::Sent));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_sent_late_is_not_followed_by_another_within_the_gap() {
    let d = desk().await;
    d.set("sms.quiet_hours", "off");
    d.pass().await; // mark: Tue 08:00
    let booked = d.book(london(2026, 3, 4, 10, 0));
    // Back on Wednesday 07:30: the 24h reminder is late and goes; the 2h falls due at 08:00.
    d.at(london(2026, 3, 4, 7, 30));
    d.pass().await;
    d.at(london(2026, 3, 4, 8, 1));
    d.pass().await;
    d.pass().await;
    let reminders = of_kind(&d.texts(booked.id), TextKind::Reminder).into_iter().cloned().collect::<Vec<_>>();
    assert_eq!(reminders.iter().filter(|t| t.state == TextState::Sent).count(), 1, "{reminders:?}");
    let held = reminders.iter().find(|t| t.state == TextState::Skipped).expect("the 2h reminder held back");
    assert!(held.error_message.as_deref().unwrap().contains("too recently"), "{:?}", held.error_message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_hours_hold_reminders_for_the_morning_or_skip_them_when_the_morning_is_too_late() {
    let d = desk().await;
    d.pass().await;
    let half_eight = d.book(london(2026, 3, 3, 8, 30)); // 2h reminder due 06:30: waits for 08:00
    let seven = d.book(london(2026, 3, 3, 7, 0)); // 2h reminder due 05:00: 08:00 is too late
    let due = |id| {
        d.t.clinic
            .appointment_texts()
            .timeline(&d.desk, id)
            .unwrap()
            .texts
            .into_iter()
            .filter(|t| t.reminder_rule.as_deref() == Some("2h"))
            .collect::<Vec<_>>()
    };
    let held = due(half_eight.id);
    assert_eq!(held[0].due_at, Some(london(2026, 3, 3, 8, 0)));
    let skipped = due(seven.id);
    assert_eq!(skipped[0].text.state, TextState::Skipped);
    assert!(skipped[0].text.error_message.as_deref().unwrap().contains("quiet hours"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_before_reminder_keeps_the_clock_time_across_the_clocks_going_forward() {
    let d = desk().await;
    d.at(london(2026, 3, 27, 12, 0));
    d.pass().await; // mark: Sat 28 Mar 12:00
    let sunday = d.book(london(2026, 3, 29, 9, 0));
    d.at(london(2026, 3, 28, 11, 0));
    d.pass().await; // plans up to Sun 11:00
    let reminders = d.t.clinic.appointment_texts().timeline(&d.desk, sunday.id).unwrap().texts;
    let day_before = reminders.iter().find(|t| t.reminder_rule.as_deref() == Some("24h")).expect("24h reminder");
    // Saturday 09:00 GMT: 23 hours before Sunday 09:00 BST.
    assert_eq!(day_before.due_at, Some(london(2026, 3, 28, 9, 0)));
    let two_hours = reminders.iter().find(|t| t.reminder_rule.as_deref() == Some("2h")).expect("2h reminder");
    assert_eq!(two_hours.due_at, Some(london(2026, 3, 29, 8, 0)), "07:00 BST is in quiet hours: 08:00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_reminder_rules_withdraw_the_old_ones_and_plan_the_new_ones() {
    let d = desk().await;
    d.pass().await;
    let booked = d.book(london(2026, 3, 3, 10, 0));
    assert_eq!(of_kind(&d.texts(booked.id), TextKind::Reminder).len(), 2);
    d.set("sms.reminders", "3h");
    d.pass().await;
    let reminders = d.t.clinic.appointment_texts().timeline(&d.desk, booked.id).unwrap().texts;
    let waiting: Vec<_> =
        reminders.iter().filter(|t| t.text.state == TextState::Pending && t.text.kind == TextKind::Reminder).collect();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].reminder_rule.as_deref(), Some("3h"));
    let withdrawn = reminders.iter().filter(|t| t.text.state == TextState::Skipped).count();
    assert_eq!(withdrawn, 2, "24h and 2h withdrawn with the reason");
    assert!(reminders.iter().any(|t| t
        .text
        .error_message
        .as_deref()
        .is_some_and(|m| m.contains("reminder times changed"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moved_away_and_back_the_reminders_are_due_again() {
    let d = desk().await;
    d.pass().await;
    let booked = d.book(london(2026, 3, 3, 10, 0));
    d.move_to(booked.id, london(2026, 3, 3, 11, 0));
    d.move_to(booked.id, london(2026, 3, 3, 10, 0));
    let reminders = d.t.clinic.appointment_texts().timeline(&d.desk, booked.id).unwrap().texts;
    let waiting: Vec<_> =
        reminders.iter().filter(|t| t.text.kind == TextKind::Reminder && t.text.state == TextState::Pending).collect();
    assert_eq!(waiting.len(), 2, "{reminders:?}");
    assert!(waiting.iter().all(|t| t.text.body.contains("10:00")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_twilio_the_planner_waits_and_plans_the_coming_day_once_texting_is_set_up() {
    let t = TestClinic::set_up();
    let admin = t.admin();
    t.add_user("okafor@clinic.example", Role::Doctor);
    let doctor = t.clinic.doctors().add(&admin, "okafor@clinic.example", "General practice").unwrap();
    let patient = add_patient(&t, &admin, "Olivia Smith", "07400 123456", true);
    let request = BookingRequest {
        patient_id: patient.id,
        doctor_id: doctor.id,
        date: "2026-03-03".into(),
        time: "10:00".into(),
        minutes: 30,
        kind: AppointmentKind::InPerson,
    };
    let booked = t.clinic.appointments().book(&admin, request).unwrap();
    t.clinic.appointment_texts().run_upkeep().unwrap(); // not set up: nothing planned
    t.advance(Duration::hours(3));
    t.configure_fake_twilio();
    let planned = t.clinic.appointment_texts().run_upkeep().unwrap();
    assert_eq!(planned.reminders_planned, 2, "the 24h (Mon 10:00) and 2h (Tue 08:00) reminders");
    let texts = t.clinic.appointment_texts().timeline(&admin, booked.id).unwrap().texts;
    assert_eq!(texts.iter().filter(|t| t.text.kind == TextKind::Reminder).count(), 2);
}
