//! The outbox's promise under Twilio's harder failures: a create answered 5xx after Twilio acted,
//! reconciliation that finds what Twilio really sent (trial prefix, clock skew, deep pages, a
//! lagging list), one fenced worker, setup problems that hold texts instead of failing them, and
//! texts that follow the patient's latest record.
mod common;
mod outbox_rig;

use clinicdesk_core::patients::PatientInput;
use clinicdesk_core::secrets::SecretName;
use clinicdesk_core::sms::worker::OutboxWorker;
use clinicdesk_core::sms::TextState;
use clinicdesk_twilio_fake::{Fault, Route};
use outbox_rig::*;
use std::time::Duration;

fn count_at_twilio(r: &Rig, body: &str) -> usize {
    r.fake.messages_to(PATIENT).iter().filter(|m| m.body.ends_with(body)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_texts_processed_then_answered_5xx_reach_the_patient_exactly_once() {
    let mut r = rig().await;
    r.config.concurrency = 4;
    for status in [500, 502, 503, 504].iter().cycle().take(30) {
        r.fake.inject(Route::CreateMessage, Fault::ErrorAfterProcessing { status: *status });
    }
    let ids: Vec<_> = (0..30).map(|i| r.send(&format!("Gateway text {i}"))).collect();
    r.drain().await;
    assert_eq!(r.fake.messages_to(PATIENT).len(), 30, "every text reached Twilio exactly once");
    for id in ids {
        let text = r.state(id);
        assert_eq!(count_at_twilio(&r, &text.body), 1, "{}", text.body);
        assert_eq!(text.state, TextState::Delivered, "{text:?}");
        let sid = text.twilio_sid.clone().unwrap();
        assert!(r.fake.messages_to(PATIENT).iter().any(|m| m.sid == sid && m.body == text.body));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trial_accounts_prefixed_copy_is_recognised_as_the_text() {
    let r = rig().await;
    r.fake.set_account("active", "Trial");
    r.fake.inject(Route::CreateMessage, Fault::DropAfterProcessing);
    let id = r.send("Your appointment is on Friday at 10:00.");
    r.drain().await;
    let at_twilio = r.fake.messages_to(PATIENT);
    assert_eq!(at_twilio.len(), 1, "adopted despite the trial notice, not resent");
    assert!(at_twilio[0].body.starts_with("Sent from your Twilio trial account - "));
    assert_eq!(r.state(id).twilio_sid.as_deref(), Some(at_twilio[0].sid.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_clock_minutes_off_twilios_does_not_cause_a_resend() {
    for offset_minutes in [-20, 20] {
        let r = rig().await;
        r.fake.set_clock_offset(chrono::Duration::minutes(offset_minutes));
        r.fake.inject(Route::CreateMessage, Fault::DropAfterProcessing);
        let id = r.send("Please bring your inhaler.");
        r.drain().await;
        assert_eq!(r.fake.messages_to(PATIENT).len(), 1, "Twilio {offset_minutes} min off: adopted, not resent");
        assert_eq!(r.state(id).state, TextState::Delivered);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_match_on_a_later_page_of_twilios_list_is_found() {
    let r = rig().await;
    r.fake.inject(Route::CreateMessage, Fault::DropAfterProcessing);
    let id = r.send("The one text that matters.");
    r.once().await;
    assert_eq!(r.state(id).state, TextState::Pending, "outcome unknown, waiting to reconcile");
    // 150 newer texts to the same number (another desk's, a bulk reminder run): the match is on
    // the second page of 100.
    for i in 0..150 {
        r.fake.add_message(PATIENT, &format!("Another text {i}"), chrono::Utc::now());
    }
    r.drain().await;
    assert_eq!(count_at_twilio(&r, "The one text that matters."), 1, "found on page 2, not resent");
    assert_eq!(r.state(id).state, TextState::Delivered);
    let pages = r.fake.requests().iter().filter(|l| l.starts_with("GET") && l.ends_with("Messages.json")).count();
    assert!(pages >= 2, "followed next_page_uri ({pages} list requests)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_that_lags_behind_the_send_is_looked_at_again_before_resending() {
    let mut r = rig().await;
    r.config.reconcile_recheck = Duration::from_millis(600);
    r.fake.set_list_lag(chrono::Duration::milliseconds(400));
    r.fake.inject(Route::CreateMessage, Fault::DropAfterProcessing);
    let id = r.send("Sent, but not listed yet.");
    r.drain().await;
    assert_eq!(r.fake.messages_to(PATIENT).len(), 1, "the second look found it");
    assert_eq!(r.state(id).state, TextState::Delivered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_worker_started_during_a_long_retry_after_sends_nothing_twice() {
    let mut r = rig().await;
    // A heartbeat older than a second would be stale: the first worker must keep beating while
    // it waits out Twilio's 3-second Retry-After.
    r.config.lock_stale_after = Duration::from_secs(1);
    r.fake.inject(Route::CreateMessage, Fault::TooManyRequests { retry_after_secs: 3 });
    let id = r.send("Sent once despite two workers.");
    let mut first = OutboxWorker::new(&r.t.clinic, &r.http, r.config.clone()).unwrap();
    let mut second = OutboxWorker::new(&r.t.clinic, &r.http, r.config.clone()).unwrap();
    let (first_report, second_report) = tokio::join!(first.run_until_empty(Duration::from_secs(20)), async {
        tokio::time::sleep(Duration::from_millis(1800)).await;
        second.run_until_empty(Duration::from_millis(2500)).await
    });
    let (first_report, second_report) = (first_report.unwrap(), second_report.unwrap());
    assert_eq!(r.fake.messages_to(PATIENT).len(), 1, "the patient got the text once");
    assert_eq!((first_report.sent, second_report.sent), (1, 0), "{first_report:?} / {second_report:?}");
    assert_eq!(r.state(id).state, TextState::Delivered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_lost_its_lock_records_nothing_and_sends_no_more() {
    let r = rig().await;
    let first = r.send("First, in flight when the lock is lost.");
    let later: Vec<_> = (0..2).map(|i| r.send(&format!("Later text {i}"))).collect();
    // Twilio takes the first text slowly; meanwhile another worker's take-over is simulated by
    // writing the lock row as a new holder would (next generation, a process that has since died).
    r.fake.inject(Route::CreateMessage, Fault::SlowAfter(Duration::from_millis(500)));
    let mut worker = OutboxWorker::new(&r.t.clinic, &r.http, r.config.clone()).unwrap();
    let clinic = &r.t.clinic;
    let (report, ()) = tokio::join!(worker.run_once(), async {
        tokio::time::sleep(Duration::from_millis(250)).await;
        clinic
            .db()
            .conn()
            .unwrap()
            .execute("UPDATE outbox_lock SET holder = 'thief', pid = 999999999, generation = generation + 1", [])
            .unwrap();
    });
    let report = report.unwrap();
    assert_eq!(report.sent, 0, "nothing recorded after the lock was lost: {report:?}");
    assert_eq!(r.fake.messages_to(PATIENT).len(), 1, "no request after the lock was lost");
    assert_eq!(r.state(first).state, TextState::Sending, "left for the new holder to reconcile");
    for id in &later {
        assert_eq!(r.state(*id).state, TextState::Pending);
    }
    drop(worker);
    // The next worker takes over from the dead holder, adopts the first text and sends the rest.
    r.drain().await;
    assert_eq!(r.fake.messages_to(PATIENT).len(), 3);
    for id in std::iter::once(first).chain(later) {
        let text = r.state(id);
        assert_eq!((text.state, count_at_twilio(&r, &text.body)), (TextState::Delivered, 1), "{}", text.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_queued_during_a_401_outage_all_go_out_exactly_once_after_it() {
    let r = rig().await;
    r.fake.reject_credentials(true);
    let ids: Vec<_> = (0..5).map(|i| r.send(&format!("Queued in the outage {i}"))).collect();
    r.once().await;
    for id in &ids {
        let text = r.state(*id);
        assert_eq!(text.state, TextState::Pending, "held, never failed: {text:?}");
    }
    let refused = r.state(ids[0]).error_message.unwrap_or_default();
    assert!(refused.contains("sending is paused"), "{refused}");
    let paused = r.t.clinic.texts().sending_paused(&r.t.admin()).unwrap().expect("sending is paused");
    assert_eq!(paused.code, Some(20003));
    assert!(paused.reason.contains("An administrator should check"), "{}", paused.reason);
    // Still refused: a second pass checks again and keeps holding.
    tokio::time::sleep(Duration::from_millis(150)).await;
    r.once().await;
    assert!(r.fake.messages_to(PATIENT).is_empty());
    r.fake.reject_credentials(false);
    r.drain().await;
    assert!(r.t.clinic.texts().sending_paused(&r.t.admin()).unwrap().is_none(), "resumed by itself");
    assert_eq!(r.fake.messages_to(PATIENT).len(), 5);
    for id in ids {
        let text = r.state(id);
        assert_eq!((text.state, count_at_twilio(&r, &text.body)), (TextState::Delivered, 1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_account_holds_texts_until_it_is_active_again() {
    let r = rig().await;
    r.fake.set_account("suspended", "Full");
    let id = r.send("Waiting for the account.");
    r.once().await;
    assert_eq!(r.state(id).state, TextState::Pending);
    let paused = r.t.clinic.texts().sending_paused(&r.t.admin()).unwrap().expect("paused");
    assert!(paused.reason.contains("not active"), "{}", paused.reason);
    tokio::time::sleep(Duration::from_millis(150)).await;
    r.once().await; // the check still finds the account suspended
    assert!(r.t.clinic.texts().sending_paused(&r.t.admin()).unwrap().unwrap().reason.contains("suspended"));
    r.fake.set_account("active", "Full");
    r.drain().await;
    assert_eq!((r.state(id).state, r.fake.messages_to(PATIENT).len()), (TextState::Delivered, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_missing_from_the_keyring_holds_texts_until_it_is_back() {
    let r = rig().await;
    r.t.clinic.secrets().delete(SecretName::TwilioApiKeySecret).unwrap();
    let id = r.send("Queued without the secret.");
    assert_eq!(r.state(id).state, TextState::Pending, "queued, not skipped as 'not configured'");
    r.once().await;
    assert_eq!(r.state(id).state, TextState::Pending);
    let paused = r.t.clinic.texts().sending_paused(&r.t.admin()).unwrap().expect("paused");
    assert!(paused.reason.contains("keyring"), "{}", paused.reason);
    r.t.clinic.secrets().set(SecretName::TwilioApiKeySecret, clinicdesk_twilio_fake::API_KEY_SECRET).unwrap();
    r.drain().await;
    assert_eq!((r.state(id).state, r.fake.messages_to(PATIENT).len()), (TextState::Delivered, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_text_follows_the_patients_latest_record() {
    let r = rig().await;
    let admin = r.t.admin();
    let patients = r.t.clinic.patients();
    let input = |name: &str, phone: &str, consent: bool| PatientInput {
        full_name: name.into(),
        phone: phone.into(),
        date_of_birth: None,
        sms_consent: consent,
    };
    let olivia = patients.add(&admin, input("Olivia Smith", "07400 123456", true)).unwrap();
    let noah = patients.add(&admin, input("Noah Jones", "07400 222333", true)).unwrap();
    let amelia = patients.add(&admin, input("Amelia Brown", "07400 444555", true)).unwrap();
    let texts = r.t.clinic.texts();
    let to_olivia = texts.send(&admin, "07400 123456", "For Olivia.").unwrap().id;
    let to_noah = texts.send(&admin, "07400 222333", "For Noah.").unwrap().id;
    let to_amelia = texts.send(&admin, "07400 444555", "For Amelia.").unwrap().id;
    // Before the worker runs: Olivia replies STOP, Noah withdraws consent, Amelia changes number.
    r.t.clinic
        .db()
        .conn()
        .unwrap()
        .execute(
            "UPDATE patients SET opted_out_at = '2026-01-01T00:00:00.000000Z' WHERE id = ?1",
            [olivia.id.to_string()],
        )
        .unwrap();
    patients.update(&admin, noah.id, input("Noah Jones", "07400 222333", false)).unwrap();
    patients.update(&admin, amelia.id, input("Amelia Brown", "07400 999888", true)).unwrap();
    r.drain().await;
    assert!(r.fake.messages().is_empty(), "nothing sent against the patients' latest records");
    let reason = |id| {
        let text = r.state(id);
        assert_eq!(text.state, TextState::Skipped);
        text.error_message.unwrap()
    };
    assert!(reason(to_olivia).contains("replied STOP"));
    assert!(reason(to_noah).contains("withdrew their agreement"));
    assert!(reason(to_amelia).contains("number changed"));
}

#[test]
fn every_connection_commits_with_synchronous_full() {
    let t = common::TestClinic::set_up();
    let pooled: i64 = t.clinic.db().conn().unwrap().query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
    let worker: i64 = t.clinic.db().dedicated().unwrap().query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
    assert_eq!((pooled, worker), (2, 2), "FULL: a commit is on disk before it returns");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_keeps_its_lock_through_a_slow_create_longer_than_the_stale_time() {
    let mut r = rig().await;
    r.config.lock_stale_after = Duration::from_secs(1);
    // Twilio takes 2.5 s to answer the create: longer than a heartbeat may be silent.
    let mut patient = clinicdesk_core::twilio::TwilioHttp::with_timeouts(
        clinicdesk_core::twilio::Endpoints::all_at(&r.fake.url()),
        Duration::from_secs(2),
        Duration::from_secs(10),
    );
    patient.retry = r.http.retry;
    r.fake.inject(Route::CreateMessage, Fault::SlowBefore(Duration::from_millis(2500)));
    let id = r.send("Slow to be taken, sent once.");
    let mut first = OutboxWorker::new(&r.t.clinic, &patient, r.config.clone()).unwrap();
    let second = OutboxWorker::new(&r.t.clinic, &patient, r.config.clone()).unwrap();
    let (report, taken_over) = tokio::join!(first.run_once(), async {
        tokio::time::sleep(Duration::from_millis(1800)).await;
        second.acquire().unwrap()
    });
    assert!(!taken_over, "the first worker's heartbeat beat during the request");
    assert_eq!(report.unwrap().sent, 1);
    assert_eq!((r.fake.messages_to(PATIENT).len(), r.state(id).state), (1, TextState::Sent));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_left_sending_by_a_failed_pass_is_reconciled_by_the_same_worker() {
    let r = rig().await;
    let id = r.send("Claimed, then the pass failed.");
    let mut worker = OutboxWorker::new(&r.t.clinic, &r.http, r.config.clone()).unwrap();
    assert!(worker.acquire().unwrap());
    // What a pass that failed after its claim leaves behind, while its worker keeps the lock.
    r.t.clinic
        .db()
        .conn()
        .unwrap()
        .execute("UPDATE sms_notifications SET state = 'sending', attempts = 1 WHERE id = ?1", [id.to_string()])
        .unwrap();
    worker.run_until_empty(Duration::from_secs(20)).await.unwrap();
    assert_eq!((r.state(id).state, r.fake.messages_to(PATIENT).len()), (TextState::Delivered, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_identical_texts_in_one_batch_never_share_one_twilio_message() {
    let mut r = rig().await;
    r.config.concurrency = 2;
    let body = "Please call the clinic.";
    let first = r.send(body);
    let second = r.send(body);
    // One pass sends both together: one reaches Twilio (answer lost), the other never does. Both
    // are then reconciled together, and both find the one message with their body.
    r.fake.inject(Route::CreateMessage, Fault::DropAfterProcessing);
    r.fake.inject(Route::CreateMessage, Fault::DropBeforeProcessing);
    r.once().await;
    assert_eq!(r.fake.messages_to(PATIENT).len(), 1);
    r.drain().await;
    let (a, b) = (r.state(first), r.state(second));
    assert_eq!((a.state, b.state), (TextState::Delivered, TextState::Delivered));
    assert_ne!(a.twilio_sid, b.twilio_sid, "each text has its own message");
    assert_eq!(count_at_twilio(&r, body), 2, "both went out, once each");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_the_account_does_not_own_holds_texts_until_an_admin_fixes_it() {
    let r = rig().await;
    let admin = r.t.admin();
    let settings = |from: &str| clinicdesk_core::twilio::config::TwilioSettingsInput {
        account_sid: clinicdesk_twilio_fake::ACCOUNT_SID.into(),
        api_key_sid: clinicdesk_twilio_fake::API_KEY_SID.into(),
        from: Some(from.into()),
        messaging_service_sid: None,
        conversations_service_sid: None,
        media_region: None,
        auth_token: None,
        api_key_secret: None,
    };
    r.t.clinic.twilio().configure(&admin, settings("+15005550009")).unwrap();
    let id = r.send("From the right number only.");
    r.once().await;
    assert_eq!(r.state(id).state, TextState::Pending, "held, not failed");
    let paused = r.t.clinic.texts().sending_paused(&admin).unwrap().expect("paused");
    assert_eq!(paused.code, Some(21606));
    tokio::time::sleep(Duration::from_millis(150)).await;
    r.once().await; // the check confirms the account does not own the number
    assert!(r.t.clinic.texts().sending_paused(&admin).unwrap().unwrap().reason.contains("does not own"));
    // The administrator corrects the number: the worker looks again at once and sends.
    r.t.clinic.twilio().configure(&admin, settings(clinicdesk_twilio_fake::FROM_NUMBER)).unwrap();
    r.drain().await;
    let text = r.state(id);
    assert_eq!((text.state, r.fake.messages_to(PATIENT).len()), (TextState::Delivered, 1));
    assert!(r.t.clinic.texts().sending_paused(&admin).unwrap().is_none());
}
