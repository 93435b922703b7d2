//! The patient's video link on a clinic server: texted by hand from a desk (reception, or the
//! appointment's doctor), opening the waiting room every desk's day view reads; a move before the
//! start drawing the consultation's names again, a move or a cancel withdrawing a link still
//! waiting; and the link going by itself with the clinic's last reminder, once.
//!
//! Needs the OS keyring (scripts/test.sh runs the suite inside an unlocked test keyring).

mod support;

use chrono::TimeDelta;
use clinicdesk_core::error::{CoreError, ErrorCode};
use clinicdesk_server::appointments;
use clinicdesk_twilio_fake::FakeTwilio;
use std::time::Duration;
use support::video::{clinic_twilio, serve_with_twilio, video_booking, video_in};
use support::{desk_computer, sign_in_on};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reception_texts_the_video_link_from_a_desk_and_a_move_draws_new_names() {
    let c = support::clinic().await;
    let fake = FakeTwilio::start().await;
    let dir = tempfile::tempdir().unwrap();
    let address = serve_with_twilio(&c, &fake, dir.path()).await;
    let front = desk_computer(&c, address, "Front desk").await;
    let house_room = desk_computer(&c, address, "Dr House's room").await;
    let appointment = video_booking(&c).await;
    let (front_link, rita) = sign_in_on(&front, "desk@clinic.example", "desk password 1").await;
    let (house_link, house) = sign_in_on(&house_room, "house@clinic.example", "doctor password 1").await;
    let grey_room = desk_computer(&c, address, "Dr Grey's room").await;
    let (grey_link, grey) = sign_in_on(&grey_room, "grey@clinic.example", "doctor password 1").await;
    let consultations = front.clinic.consultations();

    // No call page yet: said, with who sets it.
    let no_page = consultations.invite_on_server(&rita.caller, &front_link, appointment).await.unwrap_err();
    assert!(no_page.to_string().contains("video.call_page_url"), "{no_page}");
    let db = c.pool.get().await.unwrap();
    clinicdesk_server::clinic_settings::set(&**db, "video.call_page_url", "https://call.clinic.example/join")
        .await
        .unwrap();

    // Reception texts the link: staff see it without its key; the patient gets the whole link once.
    let text = consultations.invite_on_server(&rita.caller, &front_link, appointment).await.unwrap();
    assert_eq!(text.to, "+447400123456");
    assert!(text.body.contains("https://call.clinic.example/join#…") && !text.body.contains("#t="), "{}", text.body);
    for _ in 0..300 {
        if !fake.messages_to("+447400123456").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sent = fake.messages_to("+447400123456");
    assert_eq!(sent.len(), 1);
    assert!(sent[0].body.contains("https://call.clinic.example/join#t="), "{}", sent[0].body);

    // A patient whose appointment starts within minutes opens their texted link early: the
    // waiting room (the chat, opened when the link went) says they wait, to their doctor's desk and
    // to reception's, not to another doctor's.
    let soon = {
        let video = video_in(c.patients[1], c.doctors[0], 15, TimeDelta::minutes(6), TimeDelta::minutes(5));
        appointments::book(&c.pool, &c.reception, &video, None, support::now()).await.unwrap().id
    };
    front.clinic.desk_sync().pull(&front_link, Duration::ZERO).await.unwrap();
    consultations.invite_on_server(&rita.caller, &front_link, soon).await.unwrap();
    let sid: String =
        c.pg.psql("clinic", &format!("SELECT conversation_sid FROM consultations WHERE appointment_id = '{soon}'"));
    let waiting_room = fake.conversations().into_iter().find(|c| c.sid == sid).expect("the waiting room opened");
    assert_eq!(waiting_room.participants.len(), 2, "the doctor and the patient are in it");
    let patient = waiting_room.participants.iter().find(|p| p.attributes.contains("patient")).unwrap();
    let wrote = reqwest::Client::new()
        .post(format!("{}/v1/Conversations/{}/Participants/{}", fake.url(), waiting_room.sid, patient.sid))
        .basic_auth(clinicdesk_twilio_fake::API_KEY_SID, Some(clinicdesk_twilio_fake::API_KEY_SECRET))
        .form(&[(
            "Attributes",
            format!(
                r#"{{"role":"patient","waiting_since":"{}","device_check":"camera_off"}}"#,
                support::now().to_rfc3339()
            ),
        )])
        .send()
        .await
        .unwrap();
    assert!(wrote.status().is_success(), "{}", wrote.status());
    let at_front = consultations.waiting_on_server(&rita.caller, &front_link).await.unwrap();
    let for_grey = grey_room.clinic.consultations().waiting_on_server(&grey.caller, &grey_link).await.unwrap();
    assert_eq!(at_front.len(), 1);
    assert_eq!((at_front[0].patient_name.as_str(), at_front[0].is_own), ("Ben Okafor", false));
    assert_eq!(at_front[0].device_check, clinicdesk_core::consultations::DeviceCheck::CameraOff);
    let for_house = house_room.clinic.consultations().waiting_on_server(&house.caller, &house_link).await.unwrap();
    assert!(for_house.is_empty(), "another doctor's patient is not shown to Dr House");
    assert_eq!(for_grey.len(), 1, "their own patient waits");
    assert!(for_grey[0].is_own);
    // Desks ask every few seconds: two desks asking within moments read the waiting room at
    // Twilio once (reception's ask above, then Dr Grey's from what it said).
    let reads =
        fake.requests().iter().filter(|r| r.starts_with("GET ") && r.ends_with(&format!("{sid}/Participants"))).count();
    assert_eq!(reads, 1, "the server keeps what Twilio said for a few seconds");
    front.relay.cut();
    assert!(
        consultations.waiting_on_server(&rita.caller, &front_link).await.unwrap().is_empty(),
        "offline: none shown, no error"
    );
    front.relay.heal();
    // The server texted the link but its answer was lost on the way back: the desk does not say
    // "not texted" (reception would send a second link), it says to look first.
    let invites = || {
        c.pg.psql(
            "clinic",
            &format!(
                "SELECT count(*) FROM sms_notifications WHERE appointment_id = '{appointment}' AND kind = 'invite'"
            ),
        )
    };
    let before: i64 = invites().parse().unwrap();
    // One answer lost: the desk asks again with the same request id and the server answers with
    // the text it queued — one link texted, shown without its key.
    front.relay.lose_next_answers(1);
    let answered = consultations.invite_on_server(&rita.caller, &front_link, appointment).await.unwrap();
    assert_eq!(invites().parse::<i64>().unwrap(), before + 1, "one text for one press");
    assert!(answered.body.contains("#…") && !answered.body.contains("#t="), "shown without its key: {}", answered.body);
    let stored_id = c.pg.psql(
        "clinic",
        &format!("SELECT id FROM sms_notifications WHERE appointment_id = '{appointment}' AND kind = 'invite' ORDER BY created_at DESC LIMIT 1"),
    );
    assert_eq!(answered.id.to_string(), stored_id);
    // Both answers lost: it says to look first, and still only one more text went.
    front.relay.lose_next_answers(2);
    let lost = consultations.invite_on_server(&rita.caller, &front_link, appointment).await.unwrap_err();
    assert!(lost.to_string().contains("may not have been texted: look at the appointment's texts"), "{lost}");
    assert_eq!(invites().parse::<i64>().unwrap(), before + 2, "it did go, once");

    // Another doctor may not text this appointment's patient (doctors do not send the clinic's texts).
    let refused = house_link
        .consultation::<serde_json::Value>(house.profile.user_id, appointment, "invite", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(matches!(refused, CoreError::Server { code: ErrorCode::Forbidden, .. }), "{refused:?}");

    // A patient who has not agreed to texts: the core's words.
    c.pg.psql("clinic", &format!("UPDATE patients SET sms_consent = false WHERE id = '{}'", c.patients[0]));
    let no_consent = consultations.invite_on_server(&rita.caller, &front_link, appointment).await.unwrap_err();
    assert_eq!(no_consent.to_string(), "Cannot text the link: the patient has not agreed to texts.");

    // A move before the start: the consultation's names are drawn again (the old link's room and
    // identity are used by nobody), and an invite still waiting is withdrawn.
    let names = |c: &support::TestClinic| {
        c.pg.psql(
            "clinic",
            &format!("SELECT room_name || patient_identity FROM consultations WHERE appointment_id = '{appointment}'"),
        )
    };
    let before = names(&c);
    c.pg.psql(
        "clinic",
        &format!(
            "INSERT INTO sms_notifications (id, appointment_id, patient_id, kind, to_phone, body, idempotency_key, next_attempt_at)
             VALUES (gen_random_uuid(), '{appointment}', '{}', 'invite', '+447400123456', 'link', 'waiting invite', now() + interval '1 hour')",
            c.patients[0]
        ),
    );
    let version: i64 =
        c.pg.psql("clinic", &format!("SELECT version FROM appointments WHERE id = '{appointment}'")).parse().unwrap();
    let later = support::booking(c.patients[0], c.doctors[0], "09:00", 30);
    let change = clinicdesk_core::appointments::RescheduleRequest {
        date: later.date,
        time: "11:00".into(),
        minutes: None,
        expected_version: Some(version),
    };
    let tx_client = &mut *c.pool.get().await.unwrap();
    let tx = tx_client.transaction().await.unwrap();
    appointments::move_in(&*tx, &c.reception, appointment, &change, support::now()).await.unwrap();
    tx.commit().await.unwrap();
    assert_ne!(names(&c), before, "new names after the move");
    assert_eq!(
        c.pg.psql(
            "clinic",
            "SELECT state || ': ' || error_message FROM sms_notifications WHERE idempotency_key = 'waiting invite'"
        ),
        "skipped: Withdrawn: the appointment moved before this link went out. Send the link again."
    );

    // A cancellation withdraws a link still waiting too.
    c.pg.psql(
        "clinic",
        &format!(
            "INSERT INTO sms_notifications (id, appointment_id, patient_id, kind, to_phone, body, idempotency_key, next_attempt_at)
             VALUES (gen_random_uuid(), '{soon}', '{}', 'invite', '+447400123457', 'link', 'waiting invite 2', now() + interval '1 hour')",
            c.patients[1]
        ),
    );
    let tx_client = &mut *c.pool.get().await.unwrap();
    let tx = tx_client.transaction().await.unwrap();
    appointments::cancel_in(&*tx, &c.reception, soon, "Patient called", None, support::now()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        c.pg.psql("clinic", "SELECT state FROM sms_notifications WHERE idempotency_key = 'waiting invite 2'"),
        "skipped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_appointments_link_goes_with_its_last_reminder_once() {
    let c = support::clinic().await;
    let fake = FakeTwilio::start().await;
    let dir = tempfile::tempdir().unwrap();
    // No server process: nothing but this test runs the sender's work.
    let texting = clinic_twilio(&fake, dir.path());
    let db = c.pool.get().await.unwrap();
    for (key, value) in [("sms.reminders", "2h"), ("video.call_page_url", "https://call.clinic.example/join")] {
        clinicdesk_server::clinic_settings::set(&**db, key, value).await.unwrap();
    }
    let book = |patient: Uuid, minutes_ahead: i64| {
        video_in(patient, c.doctors[0], 15, TimeDelta::minutes(minutes_ahead), TimeDelta::minutes(15))
    };
    // One within its last reminder (two hours), one further ahead.
    let near = appointments::book(&c.pool, &c.reception, &book(c.patients[0], 75), None, support::now()).await.unwrap();
    let far = appointments::book(&c.pool, &c.reception, &book(c.patients[1], 300), None, support::now()).await.unwrap();
    let links = |c: &support::TestClinic, id: Uuid| {
        c.pg.psql(
            "clinic",
            &format!("SELECT count(*) FROM sms_notifications WHERE appointment_id = '{id}' AND kind = 'invite'"),
        )
    };

    // Quiet hours now: it waits.
    clinicdesk_server::clinic_settings::set(&**db, "sms.quiet_hours", "00:00-23:59").await.unwrap();
    let sent = clinicdesk_server::consultations::send_links_with_last_reminder(&c.pool, &texting, support::now()).await;
    assert_eq!(sent.unwrap(), 0);
    clinicdesk_server::clinic_settings::set(&**db, "sms.quiet_hours", "off").await.unwrap();

    let sent = clinicdesk_server::consultations::send_links_with_last_reminder(&c.pool, &texting, support::now()).await;
    assert_eq!(sent.unwrap(), 1);
    assert_eq!((links(&c, near.id), links(&c, far.id)), ("1".to_string(), "0".to_string()));
    let body = c.pg.psql(
        "clinic",
        &format!("SELECT body FROM sms_notifications WHERE appointment_id = '{}' AND kind = 'invite'", near.id),
    );
    assert!(body.contains("https://call.clinic.example/join#t="), "{body}");
    // Once per appointment time: the next pass sends nothing more.
    let again =
        clinicdesk_server::consultations::send_links_with_last_reminder(&c.pool, &texting, support::now()).await;
    assert_eq!(again.unwrap(), 0);
    assert_eq!(links(&c, near.id), "1");
}
