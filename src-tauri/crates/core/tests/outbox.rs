//! The SMS outbox against the project's fake Twilio over real HTTP: every failure path of
//! TWILIO.md, and the guarantee that no text is lost or sent twice.
mod common;
mod outbox_rig;

use clinicdesk_core::auth::Role;
use clinicdesk_core::patients::PatientInput;
use clinicdesk_core::sms::worker::OutboxWorker;
use clinicdesk_core::sms::{outbox, NewText, TextKind, TextState};
use clinicdesk_twilio_fake::{Fault, Outcome, Route};
use common::*;
use outbox_rig::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_are_sent_once_with_their_sid_recorded_and_polled_to_delivered() {
    let r = rig().await;
    let ids: Vec<_> = ["Your appointment is confirmed.", "See you at 09:30.", "Reply STOP to opt out."]
        .iter()
        .map(|b| r.send(b))
        .collect();
    r.drain().await;
    let at_twilio = r.fake.messages_to(PATIENT);
    assert_eq!(at_twilio.len(), 3);
    for id in ids {
        let text = r.state(id);
        assert_eq!(text.state, TextState::Delivered, "{text:?}");
        let sid = text.twilio_sid.clone().unwrap();
        assert!(at_twilio.iter().any(|m| m.sid == sid && m.body == text.body));
        assert_eq!((text.segments, text.attempts), (1, 1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_idempotency_key_enqueues_one_text() {
    let r = rig().await;
    let conn = r.t.clinic.db().conn().unwrap();
    let text = NewText {
        kind: TextKind::Reminder,
        to: PATIENT.into(),
        body: "Reminder: tomorrow at 09:30.".into(),
        patient_id: None,
        appointment_id: None,
        idempotency_key: "appointment:42:reminder:2026-03-03T09:30:00Z".into(),
        due_at: chrono::Utc::now(),
        about_starts_at: None,
        reminder_rule: None,
    };
    let (first, created) = outbox::enqueue(&conn, chrono::Utc::now(), None, &text, true).unwrap();
    let (second, created_again) = outbox::enqueue(&conn, chrono::Utc::now(), None, &text, true).unwrap();
    assert!(created && !created_again);
    assert_eq!(first, second);
    drop(conn);
    r.drain().await;
    assert_eq!(r.fake.messages_to(PATIENT).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_twilio_configured_texts_are_skipped_with_the_reason() {
    let t = TestClinic::set_up_live();
    let text = t.clinic.texts().send(&t.admin(), PATIENT, "Hello").unwrap();
    assert_eq!(text.state, TextState::Skipped);
    assert_eq!(text.error_message.as_deref(), Some("SMS not configured"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_retried_after_retry_after_and_the_text_goes_once() {
    let r = rig().await;
    r.fake.inject(Route::CreateMessage, Fault::TooManyRequests { retry_after_secs: 1 });
    r.fake.inject(Route::CreateMessage, Fault::TooManyRequests { retry_after_secs: 0 });
    let id = r.send("Throttled but delivered.");
    r.drain().await;
    assert_eq!(r.state(id).state, TextState::Delivered);
    assert_eq!(r.fake.messages_to(PATIENT).len(), 1);
    let posts = r.fake.requests().iter().filter(|l| l.starts_with("POST") && l.ends_with("Messages.json")).count();
    assert_eq!(posts, 3, "two refused attempts and one accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twilio_outage_is_waited_out_and_explained_meanwhile() {
    let r = rig().await;
    // Each 503 is an unknown outcome: the worker looks in Twilio's records before every retry.
    for _ in 0..3 {
        r.fake.inject(Route::CreateMessage, Fault::Unavailable);
    }
    let id = r.send("Sent after the outage.");
    r.once().await;
    let waiting = r.state(id);
    assert_eq!(waiting.state, TextState::Pending);
    assert!(waiting.error_message.unwrap().contains("Twilio had a problem of its own"));
    r.drain().await;
    assert_eq!(r.state(id).state, TextState::Delivered);
    assert_eq!(r.fake.messages_to(PATIENT).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_final_and_explained_in_words() {
    let r = rig().await;
    r.fake.set_outcome(
        PATIENT,
        Outcome::Refused { status: 400, code: 21614, message: "'To' number is not a valid mobile number".into() },
    );
    let id = r.send("This cannot reach a landline.");
    r.drain().await;
    let text = r.state(id);
    assert_eq!(text.state, TextState::Failed);
    assert_eq!(text.error_code, Some(21614));
    assert!(text.error_message.unwrap().contains("not a mobile phone"));
    assert!(r.fake.messages_to(PATIENT).is_empty());
    assert_eq!(text.attempts, 1, "a 4xx is never retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_marks_the_patient_opted_out_and_later_texts_are_skipped() {
    let r = rig().await;
    let admin = r.t.admin();
    let patient =
        r.t.clinic
            .patients()
            .add(
                &admin,
                PatientInput {
                    full_name: "Olivia Smith".into(),
                    phone: "07400 123456".into(),
                    date_of_birth: None,
                    sms_consent: true,
                },
            )
            .unwrap();
    r.fake.set_outcome(
        PATIENT,
        Outcome::Refused { status: 400, code: 21610, message: "Attempt to send to unsubscribed recipient".into() },
    );
    let id = r.send("First text.");
    r.drain().await;
    assert_eq!(r.state(id).state, TextState::Failed);
    assert!(r.t.clinic.patients().get(&admin, patient.id).unwrap().opted_out_at.is_some());
    let later = r.t.clinic.texts().send(&admin, PATIENT, "Second text.").unwrap();
    assert_eq!(later.state, TextState::Skipped);
    assert!(later.error_message.unwrap().contains("replied STOP"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carrier_failures_after_sending_are_explained() {
    let r = rig().await;
    r.fake.set_outcome(PATIENT, Outcome::Undelivered(30003));
    let id = r.send("Phone is off.");
    r.drain().await;
    let text = r.state(id);
    assert_eq!((text.state, text.error_code), (TextState::Undelivered, Some(30003)));
    assert!(text.error_message.unwrap().contains("could not be reached (Twilio 30003)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_after_twilio_accepted_is_adopted_not_resent() {
    let r = rig().await;
    r.fake.inject(Route::CreateMessage, Fault::DropAfterProcessing);
    let id = r.send("Accepted, answer lost.");
    r.once().await;
    let unknown = r.state(id);
    assert_eq!(unknown.state, TextState::Pending);
    assert!(unknown.error_message.unwrap().contains("check whether the text went out"));
    r.drain().await;
    let at_twilio = r.fake.messages_to(PATIENT);
    assert_eq!(at_twilio.len(), 1, "sent exactly once");
    let text = r.state(id);
    assert_eq!(text.twilio_sid.as_deref(), Some(at_twilio[0].sid.as_str()));
    assert_eq!(text.state, TextState::Delivered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_after_twilio_accepted_is_adopted_not_resent() {
    let r = rig().await;
    r.fake.inject(Route::CreateMessage, Fault::SlowAfter(Duration::from_secs(2)));
    let id = r.send("Accepted, answer too slow.");
    r.drain().await;
    assert_eq!(r.fake.messages_to(PATIENT).len(), 1);
    assert_eq!(r.state(id).state, TextState::Delivered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_before_twilio_acted_is_sent_once_after_reconciling() {
    let r = rig().await;
    r.fake.inject(Route::CreateMessage, Fault::DropBeforeProcessing);
    let id = r.send("Lost on the way.");
    r.drain().await;
    assert_eq!(r.fake.messages_to(PATIENT).len(), 1);
    assert_eq!(r.state(id).state, TextState::Delivered);
    // A list of the texts to the patient (the reply reader's lists are of texts to the clinic).
    let lists = r
        .fake
        .requests_with_query()
        .iter()
        .filter(|l| l.starts_with("GET") && l.contains("Messages.json?") && l.contains(&PATIENT[1..]))
        .count();
    assert!(lists >= 1, "the Messages list was consulted before sending again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_mid_send_when_the_worker_died_is_reconciled_by_the_next_worker() {
    let r = rig().await;
    let id = r.send("Claimed, then the app died.");
    // Simulate a worker that marked the text 'sending' (committed) and died holding the lock.
    {
        let conn = r.t.clinic.db().conn().unwrap();
        conn.execute("UPDATE sms_notifications SET state = 'sending', attempts = 1 WHERE id = ?1", [id.to_string()])
            .unwrap();
        // Silent for ten minutes: longer than any wait a live worker can be in.
        conn.execute(
            "INSERT INTO outbox_lock (id, holder, pid, heartbeat_at) VALUES (1, 'dead-worker', 999999999, ?1)",
            [clinicdesk_core::db::ts(chrono::Utc::now() - chrono::Duration::minutes(10))],
        )
        .unwrap();
    }
    // ...and Twilio had received it.
    let conn = r.t.clinic.db().conn().unwrap();
    drop(conn);
    let body = r.state(id).body;
    let account_http = &r.http;
    let account = r.t.clinic.twilio().account().unwrap().unwrap();
    clinicdesk_core::twilio::messages::create(account_http, &account, PATIENT, &body, None).await.unwrap();
    r.drain().await;
    assert_eq!(r.fake.messages_to(PATIENT).len(), 1, "adopted, not resent");
    let text = r.state(id);
    assert_eq!(text.state, TextState::Delivered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_one_worker_sends_at_a_time() {
    let r = rig().await;
    let a = OutboxWorker::new(&r.t.clinic, &r.http, r.config.clone()).unwrap();
    let b = OutboxWorker::new(&r.t.clinic, &r.http, r.config.clone()).unwrap();
    assert!(a.acquire().unwrap());
    assert!(!b.acquire().unwrap(), "a live worker's lock is respected");
    a.release().unwrap();
    assert!(b.acquire().unwrap());
}

/// A clinic moved onto a clinic server is texted by the server: its old folder's worker never
/// takes the outbox (it would text the patients a second time), and the folder refuses changes
/// with a sentence pointing to the server while its records stay readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clinic_moved_onto_a_server_sends_nothing_and_is_kept_to_read() {
    let r = rig().await;
    let id = r.send("Queued before the move");
    let admin = r.t.admin();
    r.t.clinic.desk_sync().mark_moved(&admin, "https://clinic-server.example:8640/").unwrap();

    let worker = OutboxWorker::new(&r.t.clinic, &r.http, r.config.clone()).unwrap();
    assert!(!worker.acquire().unwrap(), "the moved folder's worker stands aside");
    assert!(r.fake.messages_to(PATIENT).is_empty());

    // Sessions made after the move (and checked again on every call) refuse changes...
    let admin = r.t.admin();
    let refused = r.t.clinic.texts().send(&admin, PATIENT, "After the move").unwrap_err();
    assert!(
        refused.to_string().contains("moved onto the clinic server at https://clinic-server.example:8640/"),
        "{refused}"
    );
    assert!(refused.to_string().contains("make changes from a desk joined to the server"), "{refused}");
    let input = PatientInput {
        full_name: "New Person".into(),
        phone: "+447400123999".into(),
        date_of_birth: None,
        sms_consent: true,
    };
    assert!(r.t.clinic.patients().add(&admin, input).unwrap_err().to_string().contains("kept to read only"));
    // ...and still read: the text queued before the move is there to review.
    assert_eq!(r.state(id).state, TextState::Pending);
    assert!(r.t.clinic.patients().search(&admin, "", 10).is_ok());
}

/// While a move onto a clinic server runs, changes and texts wait (a change made then would be
/// missing on the server); the mover reads the clinic out. A move that stops early lets them go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clinic_being_moved_pauses_changes_and_texts_until_the_move_stops() {
    let r = rig().await;
    let id = r.send("Queued before the move");
    let admin = r.t.admin();
    let sync = r.t.clinic.desk_sync();
    // The server does not take the outbox over: a move waits until this text has gone.
    let waiting = sync.mark_moving(&admin, "https://clinic-server.example:8640/").unwrap_err();
    assert!(
        waiting.to_string().starts_with("1 text(s) to patients are still waiting to be sent from this computer"),
        "{waiting}"
    );
    assert_eq!(sync.move_notice().unwrap(), None, "nothing paused by a refused move");
    r.drain().await;
    assert_eq!(r.state(id).state, TextState::Delivered);
    sync.mark_moving(&admin, "https://clinic-server.example:8640/").unwrap();
    // The window shows the same sentence on every screen (AppStatus.moved).
    assert!(sync.move_notice().unwrap().is_some_and(|notice| notice.contains("is being moved")));

    let mut worker = OutboxWorker::new(&r.t.clinic, &r.http, r.config.clone()).unwrap();
    assert!(!worker.acquire().unwrap(), "no text goes while the clinic is being moved");
    let admin = r.t.admin();
    let paused = r.t.clinic.texts().send(&admin, PATIENT, "During the move").unwrap_err();
    assert!(
        paused.to_string().contains("is being moved onto the clinic server at https://clinic-server.example:8640/"),
        "{paused}"
    );
    assert!(paused.to_string().contains("ask whoever is moving it"), "{paused}");
    let input = PatientInput {
        full_name: "New Person".into(),
        phone: "+447400123999".into(),
        date_of_birth: None,
        sms_consent: true,
    };
    assert!(r.t.clinic.patients().add(&admin, input.clone()).unwrap_err().to_string().contains("paused"));
    // The mover's own steps go on: the clinic is read out whole.
    let whole = sync.export_for_server(&admin).unwrap();
    assert!(whole.users.iter().any(|u| u.email == "admin@clinic.example"), "the staff are read out");

    // The move stopped before the server had the clinic: everything goes on as before.
    sync.resume_after_unfinished_move(&admin).unwrap();
    assert_eq!(sync.move_notice().unwrap(), None, "no banner once the clinic carries on");
    let admin = r.t.admin();
    r.t.clinic.patients().add(&admin, input).unwrap();
    let after = r.t.clinic.texts().send(&admin, PATIENT, "After the move stopped").unwrap();
    assert!(worker.acquire().unwrap(), "the outbox sends again");
    worker.run_until_empty(std::time::Duration::from_secs(20)).await.unwrap();
    assert_eq!(r.state(after.id).state, TextState::Delivered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pacing_never_exceeds_the_rate_in_any_second() {
    let mut r = rig().await;
    r.config.messages_per_second = 2;
    r.config.concurrency = 3; // the limit holds across texts in flight together
    for i in 0..6 {
        r.send(&format!("Paced text {i}"));
    }
    r.drain().await;
    let mut times: Vec<_> = r.fake.messages_to(PATIENT).iter().map(|m| m.date_created).collect();
    times.sort();
    assert_eq!(times.len(), 6);
    for (i, start) in times.iter().enumerate() {
        let in_window = times[i..].iter().take_while(|t| **t - *start < chrono::Duration::milliseconds(1000)).count();
        assert!(in_window <= 2, "{in_window} texts within one second starting at {start}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_and_encoding_are_stored_and_bad_bodies_refused() {
    let r = rig().await;
    let desk = r.t.add_user("desk@clinic.example", Role::Reception);
    let emoji = r.t.clinic.texts().send(&desk, PATIENT, &format!("{} 🙂", "a".repeat(70))).unwrap();
    assert_eq!((emoji.segments, emoji.encoding), (2, clinicdesk_core::sms::segments::Encoding::Ucs2));
    assert_eq!(r.t.clinic.texts().send(&desk, PATIENT, "   ").unwrap_err().field(), Some("body"));
    assert_eq!(r.t.clinic.texts().send(&desk, PATIENT, &"a".repeat(1601)).unwrap_err().field(), Some("body"));
    assert_eq!(r.t.clinic.texts().send(&desk, "12345", "Hello").unwrap_err().field(), Some("phone"));
    let doctor = r.t.add_user("doc@clinic.example", Role::Doctor);
    assert_eq!(r.t.clinic.texts().send(&doctor, PATIENT, "Hello").unwrap_err().code(), "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sending_still_sends_each_text_exactly_once() {
    let mut r = rig().await;
    r.config.concurrency = 4;
    r.fake.inject(Route::CreateMessage, Fault::DropAfterProcessing);
    r.fake.inject(Route::CreateMessage, Fault::TooManyRequests { retry_after_secs: 0 });
    let ids: Vec<_> = (0..12).map(|i| r.send(&format!("Concurrent text {i}"))).collect();
    r.drain().await;
    let at_twilio = r.fake.messages_to(PATIENT);
    assert_eq!(at_twilio.len(), 12);
    for id in ids {
        let text = r.state(id);
        assert_eq!(text.state, TextState::Delivered);
        assert_eq!(at_twilio.iter().filter(|m| m.body == text.body).count(), 1, "{} sent once", text.body);
    }
}
