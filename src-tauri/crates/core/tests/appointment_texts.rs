//! Appointment texts on the core's manual clock, sent by the real outbox worker to the fake
//! Twilio: texts on the change itself, coalescing, reminders (planning, moves, cancels, downtime
//! catch-up, collapse, DST), quiet hours, send-time withdrawal, and reception's worklist.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use clinicdesk_core::appointment_texts::{AppointmentChange, Fix, TextNoteState};
use clinicdesk_core::appointments::{AppointmentKind, BookingRequest, RescheduleRequest};
use clinicdesk_core::auth::{Caller, Role};
use clinicdesk_core::doctors::Doctor;
use clinicdesk_core::patients::{Patient, PatientInput};
use clinicdesk_core::sms::worker::{OutboxConfig, OutboxWorker};
use clinicdesk_core::sms::{TextKind, TextMessage, TextState};
use clinicdesk_core::twilio::config::TwilioSettingsInput;
use clinicdesk_core::twilio::{Endpoints, TwilioHttp};
use clinicdesk_twilio_fake::{self as fake, FakeTwilio};
use common::*;
use std::time::Duration as StdDuration;

const OLIVIA: &str = "+447400123456";

struct Desk {
    t: TestClinic,
    fake: FakeTwilio,
    http: TwilioHttp,
    admin: Caller,
    desk: Caller,
    doctor: Doctor,
    patient: Patient,
}

/// London wall-clock time as UTC.
fn london(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono_tz::Europe::London.with_ymd_and_hms(y, m, d, h, min, 0).single().unwrap().with_timezone(&Utc)
}

async fn desk() -> Desk {
    let t = TestClinic::set_up();
    let fake = FakeTwilio::start().await;
    let admin = t.admin();
    t.clinic
        .twilio()
        .configure(
            &admin,
            TwilioSettingsInput {
                account_sid: fake::ACCOUNT_SID.into(),
                api_key_sid: fake::API_KEY_SID.into(),
                from: Some(fake::FROM_NUMBER.into()),
                messaging_service_sid: None,
                conversations_service_sid: None,
                media_region: None,
                auth_token: Some(fake::AUTH_TOKEN.into()),
                api_key_secret: Some(fake::API_KEY_SECRET.into()),
            },
        )
        .unwrap();
    let http =
        TwilioHttp::with_timeouts(Endpoints::all_at(&fake.url()), StdDuration::from_secs(2), StdDuration::from_secs(1));
    t.add_user("okafor@clinic.example", Role::Doctor);
    let doctor = t.clinic.doctors().add(&admin, "okafor@clinic.example", "General practice").unwrap();
    let desk = t.add_user("desk@clinic.example", Role::Reception);
    let patient = add_patient(&t, &desk, "Olivia Smith", "07400 123456", true);
    Desk { t, fake, http, admin, desk, doctor, patient }
}

fn add_patient(t: &TestClinic, who: &Caller, name: &str, phone: &str, consent: bool) -> Patient {
    let input = PatientInput { full_name: name.into(), phone: phone.into(), date_of_birth: None, sms_consent: consent };
    t.clinic.patients().add(who, input).unwrap()
}

impl Desk {
    fn book_for(&self, patient: &Patient, at: DateTime<Utc>) -> AppointmentChange {
        let local = at.with_timezone(&chrono_tz::Europe::London);
        let request = BookingRequest {
            patient_id: patient.id,
            doctor_id: self.doctor.id,
            date: local.format("%Y-%m-%d").to_string(),
            time: local.format("%H:%M").to_string(),
            minutes: 30,
            kind: AppointmentKind::InPerson,
        };
        self.t.clinic.appointments().book(&self.desk, request).unwrap()
    }
    fn book(&self, at: DateTime<Utc>) -> AppointmentChange {
        self.book_for(&self.patient, at)
    }
    fn move_to(&self, id: uuid::Uuid, at: DateTime<Utc>) -> AppointmentChange {
        let local = at.with_timezone(&chrono_tz::Europe::London);
        let request = RescheduleRequest {
            date: local.format("%Y-%m-%d").to_string(),
            time: local.format("%H:%M").to_string(),
            minutes: None,
            expected_version: None,
        };
        self.t.clinic.appointments().reschedule(&self.desk, id, request).unwrap()
    }
    fn cancel(&self, id: uuid::Uuid) -> AppointmentChange {
        self.t.clinic.appointments().cancel(&self.desk, id, "Patient called to cancel", None).unwrap()
    }
    fn texts(&self, appointment: uuid::Uuid) -> Vec<TextMessage> {
        let timeline = self.t.clinic.appointment_texts().timeline(&self.desk, appointment).unwrap();
        timeline.texts.into_iter().map(|t| t.text).collect()
    }
    fn set(&self, key: &str, value: &str) {
        self.t.clinic.set_texting_setting(&self.admin, key, value).unwrap();
    }
    /// One worker pass at the clinic's current (manual) time: plans, tidies, sends what is due.
    async fn pass(&self) {
        let config = OutboxConfig {
            messages_per_second: 0,
            retry_base: StdDuration::from_millis(10),
            first_poll: StdDuration::from_millis(10),
            ..Default::default()
        };
        OutboxWorker::new(&self.t.clinic, &self.http, config).unwrap().run_once().await.unwrap();
    }
    fn sent_to(&self, number: &str) -> Vec<String> {
        self.fake.messages_to(number).into_iter().map(|m| m.body).collect()
    }
    fn at(&self, instant: DateTime<Utc>) {
        self.t.clock.set(instant);
    }
}

fn of_kind(texts: &[TextMessage], kind: TextKind) -> Vec<&TextMessage> {
    texts.iter().filter(|t| t.kind == kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_queues_its_confirmation_in_the_same_transaction_and_it_goes_after_the_settle_delay() {
    let d = desk().await;
    let booked = d.book(london(2026, 3, 4, 10, 0));
    assert_eq!(booked.text.state, TextNoteState::Queued);
    assert_eq!(booked.text.message, "Confirmation text queued");
    let texts = d.texts(booked.id);
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0].kind, TextKind::Confirmation);
    assert_eq!(texts[0].state, TextState::Pending);
    assert!(texts[0].body.contains("Wed 4 Mar") && texts[0].body.contains("10:00"), "{}", texts[0].body);
    assert!(texts[0].body.contains(&booked.booking_ref));

    // Within the settle delay nothing goes; after it, exactly one text.
    d.pass().await;
    assert!(d.sent_to(OLIVIA).is_empty());
    d.t.advance(Duration::seconds(61));
    d.pass().await;
    d.pass().await;
    assert_eq!(d.sent_to(OLIVIA).len(), 1);
    assert_eq!(d.texts(booked.id)[0].state, TextState::Sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patients_without_consent_or_who_replied_stop_are_not_texted_and_the_desk_is_told_why() {
    let d = desk().await;
    let refused = add_patient(&d.t, &d.desk, "Noah Jones", "07400 123457", false);
    let booked = d.book_for(&refused, london(2026, 3, 4, 10, 0));
    assert_eq!(booked.text.state, TextNoteState::NotTexted);
    assert_eq!(booked.text.message, "Not texted: the patient has not agreed to texts");
    assert_eq!(d.texts(booked.id)[0].state, TextState::Skipped);

    d.t.clinic
        .db()
        .conn()
        .unwrap()
        .execute("UPDATE patients SET opted_out_at = '2026-03-02T07:00:00Z' WHERE id = ?1", [d.patient.id.to_string()])
        .unwrap();
    let booked = d.book(london(2026, 3, 4, 11, 0));
    assert_eq!(booked.text.message, "Not texted: the patient replied STOP on 2 March");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_twilio_nothing_is_queued_and_the_booking_says_texting_is_not_set_up() {
    let t = TestClinic::set_up();
    let admin = t.admin();
    t.add_user("okafor@clinic.example", Role::Doctor);
    let doctor = t.clinic.doctors().add(&admin, "okafor@clinic.example", "General practice").unwrap();
    let patient = add_patient(&t, &admin, "Olivia Smith", "07400 123456", true);
    let request = BookingRequest {
        patient_id: patient.id,
        doctor_id: doctor.id,
        date: "2026-03-04".into(),
        time: "10:00".into(),
        minutes: 30,
        kind: AppointmentKind::InPerson,
    };
    let booked = t.clinic.appointments().book(&admin, request).unwrap();
    assert_eq!(booked.text.message, "Not texted: texting is not set up yet (Settings, Twilio)");
    assert!(t.clinic.appointment_texts().timeline(&admin, booked.id).unwrap().texts.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moved_twice_in_a_minute_the_patient_gets_one_confirmation_for_the_final_time() {
    let d = desk().await;
    let booked = d.book(london(2026, 3, 4, 10, 0));
    d.t.advance(Duration::seconds(20));
    d.move_to(booked.id, london(2026, 3, 4, 11, 0));
    d.t.advance(Duration::seconds(20));
    let last = d.move_to(booked.id, london(2026, 3, 5, 9, 30));
    assert_eq!(last.text.message, "Confirmation text queued");
    d.t.advance(Duration::seconds(61));
    d.pass().await;
    d.pass().await;
    let sent = d.sent_to(OLIVIA);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains("Thu 5 Mar") && sent[0].contains("09:30"), "{}", sent[0]);
    let texts = d.texts(booked.id);
    let withdrawn: Vec<_> = texts.iter().filter(|t| t.state == TextState::Skipped).collect();
    assert_eq!(withdrawn.len(), 2);
    assert!(withdrawn.iter().all(|t| t
        .error_message
        .as_deref()
        .unwrap()
        .starts_with("Withdrawn: the appointment was moved")));

    // Told once, a later move is a reschedule; a cancellation after that is a cancellation.
    let moved = d.move_to(booked.id, london(2026, 3, 6, 9, 30));
    assert_eq!(moved.text.message, "Reschedule text queued");
    d.t.advance(Duration::seconds(61));
    d.pass().await;
    let cancelled = d.cancel(booked.id);
    assert_eq!(cancelled.text.message, "Cancellation text queued");
    d.t.advance(Duration::seconds(61));
    d.pass().await;
    d.pass().await;
    let sent = d.sent_to(OLIVIA);
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(sent[1].contains("now on") && sent[2].contains("cancelled"), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_cancelled_before_its_confirmation_went_out_sends_nothing() {
    let d = desk().await;
    let booked = d.book(london(2026, 3, 4, 10, 0));
    let cancelled = d.cancel(booked.id);
    assert_eq!(cancelled.text.state, TextNoteState::NotTexted);
    assert!(cancelled.text.message.contains("never heard of this appointment"), "{}", cancelled.text.message);
    d.t.advance(Duration::minutes(5));
    d.pass().await;
    assert!(d.sent_to(OLIVIA).is_empty());
}

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
async fn an_evening_booking_is_confirmed_in_the_morning_unless_the_appointment_comes_first() {
    let d = desk().await;
    d.at(london(2026, 3, 2, 22, 0));
    let next_week = d.book(london(2026, 3, 9, 10, 0));
    assert_eq!(next_week.text.message, "Confirmation text queued; it goes at 08:00 (quiet hours)");
    let early = d.book(london(2026, 3, 3, 7, 0));
    assert_eq!(early.text.message, "Confirmation text queued");
    d.t.advance(Duration::minutes(2));
    d.pass().await;
    d.pass().await;
    let sent = d.sent_to(OLIVIA);
    assert_eq!(sent.len(), 1, "only the 07:00 one goes at night: {sent:?}");
    d.at(london(2026, 3, 3, 8, 0));
    d.pass().await;
    d.pass().await;
    assert_eq!(d.sent_to(OLIVIA).len(), 2);
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
async fn a_text_whose_appointment_moved_behind_the_desks_back_is_withdrawn_at_send_time() {
    let d = desk().await;
    d.pass().await;
    let booked = d.book(london(2026, 3, 3, 10, 0));
    // Another writer moves the appointment without going through the desk (an import, a
    // repair): the queued texts no longer match and must not go.
    d.t.clinic
        .db()
        .conn()
        .unwrap()
        .execute("UPDATE appointments SET starts_at = '2026-03-03T14:00:00Z', ends_at = '2026-03-03T14:30:00Z' WHERE id = ?1", [booked.id.to_string()])
        .unwrap();
    d.t.advance(Duration::minutes(2));
    d.pass().await;
    assert!(d.sent_to(OLIVIA).is_empty());
    let texts = d.texts(booked.id);
    assert!(
        texts
            .iter()
            .any(|t| t.error_message.as_deref().is_some_and(|m| m.starts_with("Withdrawn: the appointment was moved"))),
        "{texts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_texting_failure_never_fails_the_booking() {
    let d = desk().await;
    d.t.clinic
        .db()
        .conn()
        .unwrap()
        .execute_batch("CREATE TRIGGER break_outbox BEFORE INSERT ON sms_notifications BEGIN SELECT RAISE(ABORT, 'disk trouble'); END;")
        .unwrap();
    let booked = d.book(london(2026, 3, 4, 10, 0));
    assert_eq!(booked.text.state, TextNoteState::NotTexted);
    assert!(booked.text.message.starts_with("Not texted: the text could not be queued"), "{}", booked.text.message);
    let day = d.t.clinic.appointments().day(&d.desk, "2026-03-04", None).unwrap();
    assert_eq!(day.appointments.len(), 1, "the booking committed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worklist_offers_the_fix_and_clears_when_reception_acts() {
    let d = desk().await;
    // A patient who said no to texts is not nagged about; one never asked (recorded before
    // consent was captured) is, with "record consent" as the fix.
    let said_no = add_patient(&d.t, &d.desk, "Ruth Said-No", "07400 123459", false);
    d.book_for(&said_no, london(2026, 3, 4, 11, 0));
    let refused = add_patient(&d.t, &d.desk, "Noah Jones", "07400 123457", false);
    let conn = d.t.clinic.db().conn().unwrap();
    conn.execute(
        "UPDATE patients SET sms_consent_at = NULL, sms_consent_by = NULL WHERE id = ?1",
        [refused.id.to_string()],
    )
    .unwrap();
    drop(conn);
    let booked = d.book_for(&refused, london(2026, 3, 4, 10, 0));
    let list = d.t.clinic.appointment_texts().needs_attention(&d.desk, 50).unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].fix, Fix::RecordConsent);
    assert_eq!(list[0].patient_name, "Noah Jones");
    let skipped_id = list[0].text.text.id;

    // Resending before consent is refused with the reason; after consent it queues a copy.
    let err = d.t.clinic.appointment_texts().resend(&d.desk, skipped_id).unwrap_err();
    assert!(err.to_string().contains("has not agreed"), "{err}");
    let consented = d.t.clinic.patients().record_consent(&d.desk, refused.id, true).unwrap();
    assert!(consented.sms_consent && consented.sms_consent_at.is_some());
    assert_eq!(consented.sms_consent_by.as_deref(), Some("Test Reception"));
    let copy = d.t.clinic.appointment_texts().resend(&d.desk, skipped_id).unwrap();
    assert_eq!(copy.state, TextState::Pending);
    let twice = d.t.clinic.appointment_texts().resend(&d.desk, skipped_id).unwrap_err();
    assert!(twice.to_string().contains("already sent again"), "a second desk's click sends nothing: {twice}");
    assert!(d.t.clinic.appointment_texts().mark_handled(&d.desk, copy.id).is_err(), "a waiting text is not 'handled'");
    assert!(d.t.clinic.appointment_texts().needs_attention(&d.desk, 50).unwrap().is_empty());
    d.pass().await;
    d.pass().await;
    assert_eq!(d.sent_to("+447400123457").len(), 1);

    // Withdrawn texts (the appointment moved) never show up; a failure does, until handled.
    d.fake.set_outcome(OLIVIA, fake::Outcome::Undelivered(30003));
    let other = d.book(london(2026, 3, 5, 10, 0));
    d.move_to(other.id, london(2026, 3, 5, 11, 0));
    d.t.advance(Duration::minutes(2));
    // Twilio reports the final status over a few polls.
    for _ in 0..8 {
        d.pass().await;
        d.t.advance(Duration::seconds(30));
    }
    let list = d.t.clinic.appointment_texts().needs_attention(&d.desk, 50).unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].fix, Fix::CorrectNumber);
    d.t.clinic.appointment_texts().mark_handled(&d.desk, list[0].text.text.id).unwrap();
    assert!(d.t.clinic.appointment_texts().needs_attention(&d.desk, 50).unwrap().is_empty());
    let _ = booked;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texting_settings_are_checked_saved_canonically_and_admin_only() {
    let d = desk().await;
    let saved = d.t.clinic.set_texting_setting(&d.admin, "sms.reminders", " 2h, 48h ").unwrap();
    assert_eq!(saved.reminders, "48h,2h");
    let err = d.t.clinic.set_texting_setting(&d.admin, "sms.quiet_hours", "9pm-8am").unwrap_err();
    assert_eq!(err.field(), Some("quiet_hours"));
    let err = d.t.clinic.set_texting_setting(&d.desk, "sms.reminders", "24h").unwrap_err();
    assert!(err.to_string().to_lowercase().contains("settings"), "{err}");
    assert_eq!(d.t.clinic.set_texting_setting(&d.admin, "sms.reminders", "").unwrap().reminders, "");
    // The generic `settings set` reaches the texting keys too (as `clinicdesk settings set` does).
    d.t.clinic.settings().set(&d.admin, "sms.quiet_hours", "22:00-07:30").unwrap();
    assert_eq!(d.t.clinic.texting_settings().unwrap().quiet_hours, "22:00-07:30");
    assert_eq!(d.t.clinic.settings().set(&d.admin, "sms.nonsense", "1").unwrap_err().field(), Some("key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reception_texts_a_patient_from_their_record_with_a_quick_text() {
    use clinicdesk_core::sms::templates::TemplateName;
    let d = desk().await;
    d.set("clinic.phone", "020 7946 0000");
    let texts = d.t.clinic.appointment_texts();
    let body = texts.quick_text_for(&d.desk, TemplateName::parse("quick.please_call").unwrap(), d.patient.id).unwrap();
    assert!(body.contains("Olivia") && body.contains("Riverside Clinic"), "{body}");
    let err = texts.quick_text_for(&d.desk, TemplateName::Confirmation, d.patient.id).unwrap_err();
    assert_eq!(err.field(), Some("template"));

    // Pasted text is tidied, not refused; it goes to the number on record.
    let sent = texts.send_to_patient(&d.desk, d.patient.id, "Hello Olivia,\r\nplease call us.\t").unwrap();
    assert_eq!(sent.to, OLIVIA);
    assert_eq!(sent.body, "Hello Olivia,\nplease call us.");
    assert_eq!(sent.patient_id, Some(d.patient.id));

    let refused = add_patient(&d.t, &d.desk, "Noah Jones", "07400 123457", false);
    let err = texts.send_to_patient(&d.desk, refused.id, "Hello").unwrap_err();
    assert!(err.to_string().contains("Cannot text: the patient has not agreed to texts"), "{err}");
    let doctor = d.t.sign_in("okafor@clinic.example");
    assert!(texts.send_to_patient(&doctor, d.patient.id, "Hello").is_err(), "doctors do not send texts");
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
async fn a_late_evening_move_away_from_an_early_slot_is_texted_at_once() {
    let d = desk().await;
    let early = d.book(london(2026, 3, 3, 7, 30));
    d.t.advance(Duration::minutes(2));
    d.pass().await;
    d.pass().await;
    assert_eq!(d.sent_to(OLIVIA).len(), 1, "the confirmation");
    d.at(london(2026, 3, 2, 22, 0));
    let moved = d.move_to(early.id, london(2026, 3, 10, 10, 0));
    assert_eq!(moved.text.message, "Reschedule text queued", "news before the morning: not held");
    d.t.advance(Duration::minutes(2));
    d.pass().await;
    d.pass().await;
    assert_eq!(d.sent_to(OLIVIA).len(), 2, "sent at night: the patient would otherwise come at 07:30");
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
    t.clinic
        .twilio()
        .configure(
            &admin,
            TwilioSettingsInput {
                account_sid: fake::ACCOUNT_SID.into(),
                api_key_sid: fake::API_KEY_SID.into(),
                from: Some(fake::FROM_NUMBER.into()),
                messaging_service_sid: None,
                conversations_service_sid: None,
                media_region: None,
                auth_token: Some(fake::AUTH_TOKEN.into()),
                api_key_secret: Some(fake::API_KEY_SECRET.into()),
            },
        )
        .unwrap();
    let planned = t.clinic.appointment_texts().run_upkeep().unwrap();
    assert_eq!(planned.reminders_planned, 2, "the 24h (Mon 10:00) and 2h (Tue 08:00) reminders");
    let texts = t.clinic.appointment_texts().timeline(&admin, booked.id).unwrap().texts;
    assert_eq!(texts.iter().filter(|t| t.text.kind == TextKind::Reminder).count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screen_that_refreshes_itself_is_audited_once_while_it_shows_the_same_patients() {
    let d = desk().await;
    let refused = add_patient(&d.t, &d.desk, "Noah Jones", "07400 123457", false);
    let conn = d.t.clinic.db().conn().unwrap();
    conn.execute("UPDATE patients SET sms_consent_at = NULL WHERE id = ?1", [refused.id.to_string()]).unwrap();
    drop(conn);
    d.book_for(&refused, london(2026, 3, 4, 10, 0));
    let entries = |d: &Desk| -> i64 {
        d.t.clinic
            .db()
            .conn()
            .unwrap()
            .query_row("SELECT count(*) FROM audit_log WHERE detail LIKE 'texts needing attention%'", [], |r| r.get(0))
            .unwrap()
    };
    for _ in 0..5 {
        d.t.clinic.appointment_texts().needs_attention(&d.desk, 50).unwrap();
        d.t.advance(Duration::seconds(10));
    }
    assert_eq!(entries(&d), 1, "five refreshes of the same list");
    d.t.advance(Duration::minutes(11));
    d.t.clinic.appointment_texts().needs_attention(&d.desk, 50).unwrap();
    assert_eq!(entries(&d), 2, "after a pause the screen is audited again");
    let who = d.t.clinic.audit().recent(&d.admin, Some(&refused.id.to_string()), 50).unwrap();
    assert!(who.iter().any(|e| e.detail.as_deref().is_some_and(|x| x.starts_with("texts needing attention"))));
}
