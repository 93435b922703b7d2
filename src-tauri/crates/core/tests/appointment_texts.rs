//! Appointment texts on the core's manual clock, sent by the real outbox worker to the fake
//! Twilio: texts on the change itself, coalescing, quiet hours for change texts, send-time
//! withdrawal, reception's worklist and quick texts, the texting settings. Reminders:
//! appointment_reminders.rs.

mod common;
mod texts_rig;

use chrono::Duration;
use clinicdesk_core::appointment_texts::{Fix, TextNoteState};
use clinicdesk_core::appointments::{AppointmentKind, BookingRequest};
use clinicdesk_core::auth::Role;
use clinicdesk_core::sms::{TextKind, TextState};
use clinicdesk_twilio_fake as fake;
use common::*;
use texts_rig::*;

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
    assert_eq!(d.t.clinic.texting_settings().unwrap().reminders, "", "no reminders stays none, not the default");
    // Each setting that changed is one trail entry "key from to" (the rule both kinds of clinic
    // use); saving the same again writes none.
    let trail = || -> Vec<String> {
        let conn = d.t.clinic.db().conn().unwrap();
        let mut rows = conn
            .prepare("SELECT detail FROM audit_log WHERE action = 'settings.update' AND detail LIKE 'sms.reminders%' ORDER BY rowid")
            .unwrap();
        rows.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(trail(), [r#"sms.reminders "24h,2h" to "48h,2h""#, r#"sms.reminders "48h,2h" to """#]);
    d.t.clinic.set_texting_setting(&d.admin, "sms.reminders", "").unwrap();
    assert_eq!(trail().len(), 2, "unchanged: nothing written");
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

/// A confirmation whose first try met a busy Twilio in the evening comes round again in quiet
/// hours: the pass's upkeep holds it for the morning (as the server's sender does), then it goes once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_that_comes_round_in_quiet_hours_waits_for_the_morning() {
    let d = desk().await;
    d.at(london(2026, 3, 2, 20, 57));
    let booked = d.book(london(2026, 3, 10, 10, 0));
    d.t.advance(Duration::minutes(2));
    d.fake.inject(fake::Route::CreateMessage, fake::Fault::TooManyRequests { retry_after_secs: 0 });
    d.pass().await;
    assert!(d.sent_to(OLIVIA).is_empty(), "Twilio was busy at 20:59");

    d.at(london(2026, 3, 2, 21, 30));
    d.pass().await;
    assert!(d.sent_to(OLIVIA).is_empty(), "nothing goes in quiet hours");
    let texts = d.texts(booked.id);
    assert_eq!(of_kind(&texts, TextKind::Confirmation)[0].state, TextState::Pending);
    d.at(london(2026, 3, 3, 7, 59));
    d.pass().await;
    assert!(d.sent_to(OLIVIA).is_empty(), "still quiet at 07:59");

    d.at(london(2026, 3, 3, 8, 0));
    d.pass().await;
    assert_eq!(d.sent_to(OLIVIA).len(), 1, "sent once, in the morning");
}
