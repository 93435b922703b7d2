//! Texts on every desk: the server publishes each text and each change a person would see (sent,
//! delivered, undelivered and why), so reception reads on any desk what the server's sender did,
//! as on one desk; a video link reaches desks without its key.
//!
//! Needs the OS keyring (scripts/test.sh runs the suite inside an unlocked test keyring).

mod support;

use chrono::TimeDelta;
use clinicdesk_core::sms::TextState;
use clinicdesk_core::sync::wire::DeskCommand;
use clinicdesk_server::{commands, desks, http, settings};
use clinicdesk_twilio_fake::FakeTwilio;
use std::time::Duration;
use support::video::{clinic_twilio, video_in};
use support::{desk_computer, sign_in_on};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reception_reads_on_a_desk_what_the_servers_sender_did_with_each_text() {
    let c = support::clinic().await;
    let fake = FakeTwilio::start().await;
    let dir = tempfile::tempdir().unwrap();
    {
        let db = c.pool.get().await.unwrap();
        settings::set(&**db, "sms.settle_seconds", "0").await.unwrap();
        settings::set(&**db, "sms.quiet_hours", "off").await.unwrap();
        clinicdesk_server::clinic_settings::set(&**db, "video.call_page_url", "https://call.clinic.example/join")
            .await
            .unwrap();
    }
    let listen = "127.0.0.1:0".parse().unwrap();
    let (address, _server) =
        http::start_with(&c.url, listen, "sender".into(), None, Some(clinic_twilio(&fake, dir.path()))).await.unwrap();
    let front = desk_computer(&c, address, "Front desk").await;
    let (link, rita) = sign_in_on(&front, "desk@clinic.example", "desk password 1").await;
    let (desk, _) = desks::enroll(&**c.pool.get().await.unwrap(), Some(&c.admin), "Back office").await.unwrap();

    // Ana's confirmation arrives; Ben's phone is off (the carrier says 30003).
    fake.set_outcome("+447400123457", clinicdesk_twilio_fake::Outcome::Undelivered(30003));
    for (patient, time) in [(c.patients[0], "10:00"), (c.patients[1], "11:00")] {
        let book = DeskCommand::Book {
            appointment_id: Uuid::new_v4(),
            booking: support::booking(patient, c.doctors[0], time, 20),
        };
        commands::apply(&c.pool, &desk, &c.reception, Uuid::new_v4(), &book, support::now()).await.unwrap();
    }
    let settled = || {
        c.pg.psql(
            "clinic",
            "SELECT string_agg(state, ',' ORDER BY to_phone) FROM sms_notifications WHERE kind = 'confirmation'",
        )
    };
    for _ in 0..100 {
        if settled() == "delivered,undelivered" {
            break;
        }
        // A minute passes between two looks at a text still on its way.
        c.pg.psql(
            "clinic",
            "UPDATE sms_notifications SET updated_at = now() - interval '2 minutes' WHERE state = 'sent'",
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(settled(), "delivered,undelivered");

    front.clinic.desk_sync().pull(&link, Duration::ZERO).await.unwrap();
    let texts = front.clinic.texts().list(&rita.caller, None, 50).unwrap();
    let shown: Vec<(String, TextState)> = texts.iter().map(|t| (t.to.clone(), t.state)).collect();
    assert!(shown.contains(&("+447400123456".into(), TextState::Delivered)), "{shown:?}");
    assert!(shown.contains(&("+447400123457".into(), TextState::Undelivered)), "{shown:?}");
    let failed = texts.iter().find(|t| t.state == TextState::Undelivered).unwrap();
    assert_eq!(
        failed.error_message.as_deref(),
        Some("The patient's phone could not be reached (Twilio 30003): it may be switched off or out of coverage.")
    );
    assert!(failed.twilio_sid.as_deref().is_some_and(|sid| sid.starts_with("SM")));

    // A video link texted by hand reaches the desk without its key; the patient gets all of it.
    let video = video_in(c.patients[2], c.doctors[1], 15, TimeDelta::hours(3), TimeDelta::minutes(15));
    let soon =
        clinicdesk_server::appointments::book(&c.pool, &c.reception, &video, None, support::now()).await.unwrap().id;
    let texting = clinic_twilio(&fake, dir.path());
    clinicdesk_server::consultations::invite(&c.pool, Some(&texting), &c.reception, soon, None, support::now())
        .await
        .unwrap();
    front.clinic.desk_sync().pull(&link, Duration::ZERO).await.unwrap();
    let everything: Vec<(String, String)> = front
        .clinic
        .db()
        .conn()
        .unwrap()
        .prepare("SELECT kind, body FROM sms_notifications")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let invite = everything.iter().find(|(kind, _)| kind == "invite").expect("the invite is on the desk");
    // Counted by the server on the whole text (the desk's copy, its key cut, could not be).
    let (segments, encoding): (i64, String) = front
        .clinic
        .db()
        .conn()
        .unwrap()
        .query_row("SELECT segments, encoding FROM sms_notifications WHERE kind = 'invite'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let on_the_server =
        c.pg.psql("clinic", &format!("SELECT segments || ' ' || encoding FROM sms_notifications WHERE appointment_id = '{soon}' AND kind = 'invite'"));
    assert_eq!(format!("{segments} {encoding}"), on_the_server);
    assert_eq!(encoding, "gsm7", "the invite is plain text; only the desk's cut copy has a '…'");
    assert!(segments > 1, "the patient's link makes the invite several segments long");
    assert_eq!(
        clinicdesk_core::sms::segments::count(&invite.1).encoding.as_str(),
        "ucs2",
        "why the desk does not count it"
    );
    assert!(invite.1.contains("https://call.clinic.example/join#…"), "{}", invite.1);
    assert!(everything.iter().all(|(_, body)| !body.contains("#t=")), "no desk holds a patient's working link");
    let on_server = c.pg.psql("clinic", &format!("SELECT body FROM sms_notifications WHERE appointment_id = '{soon}'"));
    assert!(on_server.contains("#t="), "the server keeps the whole link to send");

    // Two texts the server holds with one Twilio id (two identical texts matched to one message):
    // the desk keeps both, the second without the id, and its sync goes on.
    let sid = failed.twilio_sid.clone().unwrap();
    let twin = |id: Uuid| clinicdesk_core::sync::wire::Change {
        cursor: String::new(),
        entity: "text".into(),
        entity_id: id,
        row: Some(serde_json::json!({
            "id": id, "appointment_id": null, "patient_id": c.patients[1], "kind": "custom", "to": "+447400123457",
            "body": "Please call the clinic.", "idempotency_key": format!("custom:{id}"), "state": "sent",
            "twilio_sid": sid, "error_code": null, "error_message": null, "attempts": 1,
            "created_at": support::now(), "updated_at": support::now(),
        })),
    };
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let sync = front.clinic.desk_sync();
    let stream = link.stream();
    let cursor = sync.cursor(&stream).unwrap();
    let page = clinicdesk_core::sync::wire::ChangePage { changes: vec![twin(a), twin(b)], cursor: cursor.clone() };
    assert_eq!(sync.apply(&stream, &page).unwrap(), 2);
    let kept: i64 = front
        .clinic
        .db()
        .conn()
        .unwrap()
        .query_row("SELECT count(*) FROM sms_notifications WHERE id IN (?1, ?2)", [a.to_string(), b.to_string()], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(kept, 2);
}
