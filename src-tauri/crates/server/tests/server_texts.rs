//! The clinic server texts patients about bookings made on any desk: one text per change, sent by
//! the elected sender through (fake) Twilio, never twice even when Twilio's answer is lost, and
//! none to a patient who did not agree to texts.

mod support;

use clinicdesk_core::appointments::RescheduleRequest;
use clinicdesk_core::patients::PatientInput;
use clinicdesk_core::sync::wire::DeskCommand;
use clinicdesk_core::twilio::http::Endpoints;
use clinicdesk_server::{commands, desks, http, settings, twilio_setup};
use clinicdesk_twilio_fake::{FakeTwilio, Fault, Route};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;
use uuid::Uuid;

fn twilio_file(dir: &std::path::Path, mode: u32) -> std::path::PathBuf {
    let path = dir.join("twilio");
    std::fs::write(
        &path,
        format!(
            "# the clinic's Twilio account\naccount_sid={}\napi_key_sid={}\napi_key_secret={}\nauth_token={}\nfrom={}\n",
            clinicdesk_twilio_fake::ACCOUNT_SID,
            clinicdesk_twilio_fake::API_KEY_SID,
            clinicdesk_twilio_fake::API_KEY_SECRET,
            clinicdesk_twilio_fake::AUTH_TOKEN,
            clinicdesk_twilio_fake::FROM_NUMBER
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// Waits (a liveness ceiling, not a timing assertion) until `done` holds.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..300 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_change_texts_the_patient_once_through_the_elected_sender() {
    let c = support::clinic().await;
    let fake = FakeTwilio::start().await;
    let dir = tempfile::tempdir().unwrap();
    // A file others can read is refused: it holds the account's secrets.
    let open = twilio_file(dir.path(), 0o644);
    let refused = twilio_setup::load(&open, Endpoints::all_at(&fake.url())).err().expect("refused");
    assert!(refused.to_string().contains("chmod 600"), "{refused}");
    let file = twilio_file(dir.path(), 0o600);
    let texting = twilio_setup::load(&file, Endpoints::all_at(&fake.url())).unwrap();
    {
        let db = c.pool.get().await.unwrap();
        settings::set(&**db, "sms.settle_seconds", "0").await.unwrap();
        settings::set(&**db, "sms.quiet_hours", "off").await.unwrap();
    }
    let (_address, _server) =
        http::start_with(&c.url, "127.0.0.1:0".parse().unwrap(), "sender".into(), None, Some(texting)).await.unwrap();
    let (desk, _) = desks::enroll(&**c.pool.get().await.unwrap(), Some(&c.admin), "Front desk").await.unwrap();
    let command = |command: DeskCommand| {
        let (pool, desk, staff) = (c.pool.clone(), desk.clone(), c.reception.clone());
        async move { commands::apply(&pool, &desk, &staff, Uuid::new_v4(), &command, support::now()).await.unwrap() }
    };
    let ana = "+447400123456";

    // Twilio takes the confirmation but its answer is lost: the sender must not send it again.
    fake.inject(Route::CreateMessage, Fault::DropAfterProcessing);
    let visit = support::booking(c.patients[0], c.doctors[0], "10:00", 20);
    let booked = command(DeskCommand::Book { appointment_id: Uuid::new_v4(), booking: visit.clone() }).await;
    let id = booked["ok"]["id"].as_str().unwrap().to_string();
    eventually("the lost answer is noted for reconciling", || {
        c.pg.psql("clinic", "SELECT count(*) FROM sms_notifications WHERE needs_reconcile AND state = 'pending'") == "1"
    })
    .await;
    // Time passes until the retry is due.
    c.pg.psql(
        "clinic",
        "UPDATE sms_notifications SET next_attempt_at = now() - interval '1 second' WHERE needs_reconcile",
    );
    eventually("the confirmation is recorded as sent", || {
        c.pg.psql("clinic", "SELECT state FROM sms_notifications WHERE kind = 'confirmation'") == "sent"
    })
    .await;
    let to_ana = fake.messages_to(ana);
    assert_eq!(to_ana.len(), 1, "sent once although the first answer was lost: {to_ana:?}");
    assert!(
        to_ana[0].body.starts_with("Hi Ana, you are booked with Dr Meredith Grey at Riverside Clinic"),
        "{}",
        to_ana[0].body
    );
    assert_eq!(
        c.pg.psql("clinic", "SELECT twilio_sid FROM sms_notifications WHERE kind = 'confirmation'"),
        to_ana[0].sid
    );

    // Moved, then cancelled: one text each, in the clinic's words.
    let change =
        RescheduleRequest { date: visit.date.clone(), time: "11:30".into(), minutes: None, expected_version: Some(1) };
    command(DeskCommand::Move { appointment_id: id.parse().unwrap(), change }).await;
    eventually("the reschedule text goes", || fake.messages_to(ana).len() == 2).await;
    assert!(fake.messages_to(ana)[1].body.contains("is now on") && fake.messages_to(ana)[1].body.contains("11:30"));
    command(DeskCommand::Cancel {
        appointment_id: id.parse().unwrap(),
        reason: "Patient phoned".into(),
        expected_version: Some(2),
    })
    .await;
    eventually("the cancellation text goes", || fake.messages_to(ana).len() == 3).await;
    assert!(fake.messages_to(ana)[2].body.contains("is cancelled"));

    // A patient who has not agreed to texts is booked: nothing goes, and the reason is kept.
    let input = PatientInput {
        full_name: "Noor Haddad".into(),
        phone: "07400 555666".into(),
        date_of_birth: None,
        sms_consent: false,
    };
    let noor = clinicdesk_server::patients::add_patient(&c.pool, &c.reception, &input, support::now()).await.unwrap();
    command(DeskCommand::Book {
        appointment_id: Uuid::new_v4(),
        booking: support::booking(noor, c.doctors[1], "09:00", 15),
    })
    .await;
    assert_eq!(
        c.pg.psql(
            "clinic",
            &format!("SELECT state || ': ' || error_message FROM sms_notifications WHERE patient_id = '{noor}'")
        ),
        "skipped: The patient has not agreed to texts."
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(fake.messages_to("+447400555666").is_empty());
    assert_eq!(fake.messages().len(), 3, "exactly one text per change");

    // Delivery is followed: Ben's phone is off (the carrier says 30003), Ana's texts arrive.
    fake.set_outcome("+447400123457", clinicdesk_twilio_fake::Outcome::Undelivered(30003));
    command(DeskCommand::Book {
        appointment_id: Uuid::new_v4(),
        booking: support::booking(c.patients[1], c.doctors[1], "14:00", 15),
    })
    .await;
    eventually("Ben's confirmation is sent", || fake.messages_to("+447400123457").len() == 1).await;
    let settled = || {
        c.pg.psql(
            "clinic",
            "SELECT string_agg(kind || ' ' || to_phone || ' ' || state, ', ' ORDER BY created_at) FROM sms_notifications WHERE state <> 'skipped'",
        )
    };
    for _ in 0..40 {
        if !settled().contains(" sent") {
            break;
        }
        // A minute passes between two looks at a text still on its way.
        c.pg.psql(
            "clinic",
            "UPDATE sms_notifications SET updated_at = now() - interval '2 minutes' WHERE state = 'sent'",
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        settled(),
        "confirmation +447400123456 delivered, reschedule +447400123456 delivered, cancellation +447400123456 delivered, confirmation +447400123457 undelivered"
    );
    assert_eq!(
        c.pg.psql(
            "clinic",
            "SELECT error_code || ': ' || error_message FROM sms_notifications WHERE state = 'undelivered'"
        ),
        "30003: The patient's phone could not be reached (Twilio 30003): it may be switched off or out of coverage."
    );

    // Ana replies STOP: she is opted out at once (desks told), nothing more is sent to her; a
    // reply read again changes nothing; START lets texts go again.
    let replies = twilio_setup::load(&file, Endpoints::all_at(&fake.url())).unwrap();
    let mut db = c.pool.get().await.unwrap();
    fake.receive(ana, clinicdesk_twilio_fake::FROM_NUMBER, "Stop.");
    assert_eq!(clinicdesk_server::replies::read(&mut **db, &replies, support::now()).await.unwrap(), 1);
    assert_eq!(clinicdesk_server::replies::read(&mut **db, &replies, support::now()).await.unwrap(), 0, "read once");
    assert_eq!(
        c.pg.psql("clinic", &format!("SELECT opted_out_at IS NOT NULL FROM patients WHERE phone = '{ana}'")),
        "t"
    );
    assert_eq!(
        c.pg.psql("clinic", "SELECT actor_label FROM audit_log WHERE action = 'patient.opt_out'"),
        "Patient's text reply"
    );
    assert!(c
        .pg
        .psql("clinic", "SELECT row_data::text FROM changes WHERE entity = 'patient' ORDER BY seq DESC LIMIT 1")
        .contains("opted_out_at\": \"20"));
    command(DeskCommand::Book {
        appointment_id: Uuid::new_v4(),
        booking: support::booking(c.patients[0], c.doctors[1], "16:00", 15),
    })
    .await;
    assert_eq!(
        c.pg.psql(
            "clinic",
            "SELECT state || ': ' || error_message FROM sms_notifications ORDER BY created_at DESC LIMIT 1"
        ),
        "skipped: The patient replied STOP to the clinic's texts."
    );
    fake.receive(ana, clinicdesk_twilio_fake::FROM_NUMBER, "START");
    assert_eq!(clinicdesk_server::replies::read(&mut **db, &replies, support::now()).await.unwrap(), 1);
    assert_eq!(c.pg.psql("clinic", &format!("SELECT opted_out_at IS NULL FROM patients WHERE phone = '{ana}'")), "t");
}

/// A clinic whose texts go through a sender driven by hand (`sending::pass`) to a fake Twilio: no
/// settle time, the given quiet hours, one desk.
struct Sender {
    c: support::TestClinic,
    fake: FakeTwilio,
    texting: twilio_setup::Texting,
    desk: clinicdesk_server::desks::Desk,
    _dir: tempfile::TempDir,
}

async fn sender_and_twilio(quiet_hours: &str) -> Sender {
    let c = support::clinic().await;
    let fake = FakeTwilio::start().await;
    let dir = tempfile::tempdir().unwrap();
    let texting = twilio_setup::load(&twilio_file(dir.path(), 0o600), Endpoints::all_at(&fake.url())).unwrap();
    let db = c.pool.get().await.unwrap();
    settings::set(&**db, "sms.settle_seconds", "0").await.unwrap();
    settings::set(&**db, "sms.quiet_hours", quiet_hours).await.unwrap();
    let (desk, _) = desks::enroll(&**db, Some(&c.admin), "Front desk").await.unwrap();
    Sender { c, fake, texting, desk, _dir: dir }
}

/// A text whose first try failed in the evening comes round again in quiet hours: it waits for the
/// morning (saying so to reception) instead of waking the patient, then goes once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_that_comes_round_in_quiet_hours_waits_for_the_morning() {
    use chrono::{Duration as Days, NaiveTime, TimeZone};
    use clinicdesk_server::sending;
    let Sender { c, fake, texting, desk, _dir } = sender_and_twilio("21:00-08:00").await;
    let zone: chrono_tz::Tz = support::ZONE.parse().unwrap();
    let evening = (support::now().with_timezone(&zone) + Days::days(5)).date_naive();
    let local = |day: chrono::NaiveDate, time: &str| {
        let at = day.and_time(NaiveTime::parse_from_str(time, "%H:%M:%S").unwrap());
        zone.from_local_datetime(&at).unwrap().with_timezone(&chrono::Utc)
    };

    // Booked at 20:59:30 for three days later: the confirmation is due at once, before quiet hours.
    let mut booking = support::booking(c.patients[0], c.doctors[0], "10:00", 20);
    booking.date = (evening + Days::days(3)).to_string();
    let now = local(evening, "20:59:30");
    let book = DeskCommand::Book { appointment_id: Uuid::new_v4(), booking };
    commands::apply(&c.pool, &desk, &c.reception, Uuid::new_v4(), &book, now).await.unwrap();
    let mut lease = clinicdesk_server::sender::SenderLease::try_acquire(&c.url, "test").await.unwrap().unwrap();

    // Twilio is busy: the retry falls due at 21:00:30, in quiet hours.
    fake.inject(Route::CreateMessage, Fault::TooManyRequests { retry_after_secs: 0 });
    sending::pass(&mut lease, &texting, now).await.unwrap();
    let retry_at = |c: &support::TestClinic| {
        c.pg.psql("clinic", "SELECT to_char(next_attempt_at AT TIME ZONE 'Europe/London', 'HH24:MI:SS') FROM sms_notifications WHERE kind = 'confirmation'")
    };
    let retry = retry_at(&c);
    assert!(retry.as_str() > "21:00:00", "the retry falls in quiet hours: {retry}");

    // It comes round at 21:00:30: not sent, held until 08:00, and reception reads why.
    sending::pass(&mut lease, &texting, local(evening, "21:00:30")).await.unwrap();
    assert!(fake.messages_to("+447400123456").is_empty(), "nothing goes in quiet hours");
    assert_eq!(retry_at(&c), "08:00:00");
    assert_eq!(
        c.pg.psql("clinic", "SELECT state || ': ' || error_message FROM sms_notifications WHERE kind = 'confirmation'"),
        "pending: Waiting for the end of the clinic's quiet hours: it goes at 08:00."
    );
    // Waiting is not a try: only the busy evening one counts towards giving up.
    assert_eq!(c.pg.psql("clinic", "SELECT attempts FROM sms_notifications WHERE kind = 'confirmation'"), "1");

    // In the morning it goes, once.
    sending::pass(&mut lease, &texting, local(evening + Days::days(1), "08:00:00")).await.unwrap();
    assert_eq!(fake.messages_to("+447400123456").len(), 1);
    assert_eq!(c.pg.psql("clinic", "SELECT state FROM sms_notifications WHERE kind = 'confirmation'"), "sent");
}

/// A send whose result could not be written (the database went away between the send and its
/// record) does not wait for another sender to take over: the next pass looks for it at Twilio,
/// finds it, and records it. Sent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_whose_result_was_not_written_is_found_at_twilio_on_the_next_pass() {
    use clinicdesk_core::twilio::messages;
    use clinicdesk_server::sending;
    let Sender { c, fake, texting, desk, _dir } = sender_and_twilio("off").await;
    let now = support::now();
    let book = DeskCommand::Book {
        appointment_id: Uuid::new_v4(),
        booking: support::booking(c.patients[0], c.doctors[0], "10:00", 20),
    };
    commands::apply(&c.pool, &desk, &c.reception, Uuid::new_v4(), &book, now).await.unwrap();

    // A pass claims the confirmation and Twilio takes it, but its result is never written.
    let mut lease = clinicdesk_server::sender::SenderLease::try_acquire(&c.url, "test").await.unwrap().unwrap();
    let claimed = lease.claim(now, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let sent =
        messages::create(&texting.http, &texting.account, &claimed[0].to_phone, &claimed[0].body, None).await.unwrap();

    // The same sender's next pass: found at Twilio and recorded, not sent again.
    sending::pass(&mut lease, &texting, now + chrono::Duration::minutes(1)).await.unwrap();
    assert_eq!(fake.messages_to("+447400123456").len(), 1, "sent once");
    assert_eq!(
        c.pg.psql("clinic", "SELECT state || ' ' || twilio_sid FROM sms_notifications WHERE kind = 'confirmation'"),
        format!("sent {}", sent.sid)
    );
}
