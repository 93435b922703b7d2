//! Patients' replies on a clinic server, as on one desk: "C" or "YES" confirms the appointment
//! the last reminder was about (YES also lets texts go again), anything else waits in reception's
//! inbox on every desk until someone marks it read, once, for all desks.
//!
//! Needs the OS keyring (scripts/test.sh runs the suite inside an unlocked test keyring).

mod support;

use chrono::Duration;
use clinicdesk_core::error::{CoreError, ErrorCode};
use clinicdesk_core::sms::ReplyHandling;
use clinicdesk_twilio_fake::{FakeTwilio, FROM_NUMBER};
use support::video::clinic_twilio;
use support::{desk_computer, sign_in_on, DeskComputer};
use uuid::Uuid;

const ANA: &str = "+447400123456";
const BEN: &str = "+447400123457";
const CHLOE: &str = "+447911000111";
const STRANGER: &str = "+447700900999";

fn status_on(desk: &DeskComputer, appointment: Uuid) -> String {
    let conn = desk.clinic.db().conn().unwrap();
    conn.query_row("SELECT status FROM appointments WHERE id = ?1", [appointment.to_string()], |r| r.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_confirm_the_reminded_visit_and_the_rest_wait_in_every_desks_inbox() {
    let c = support::clinic().await;
    let fake = FakeTwilio::start().await;
    let dir = tempfile::tempdir().unwrap();
    let texting = clinic_twilio(&fake, dir.path());
    // The server holds the clinic's Twilio account (it sends reception's answer below); its sender
    // also reads replies once a minute, which may overlap the reads here: each reply acts once.
    let address = support::video::serve_with_twilio(&c, &fake, dir.path()).await;
    let front = desk_computer(&c, address, "Front desk").await;
    let office = desk_computer(&c, address, "Back office").await;
    let grey_room = desk_computer(&c, address, "Dr Grey's room").await;
    let book = |patient: Uuid, time: &str| {
        let request = support::booking(patient, c.doctors[0], time, 15);
        let pool = c.pool.clone();
        let reception = c.reception.clone();
        async move {
            clinicdesk_server::appointments::book(&pool, &reception, &request, None, support::now()).await.unwrap().id
        }
    };
    // Ana has two visits tomorrow; her reminder was about the later one. Ben has one, and had
    // replied STOP before.
    let ana_early = book(c.patients[0], "09:00").await;
    let ana_late = book(c.patients[0], "11:00").await;
    let ben_visit = book(c.patients[1], "10:00").await;
    c.pg.psql(
        "clinic",
        &format!(
            "INSERT INTO sms_notifications (id, appointment_id, patient_id, kind, to_phone, body, idempotency_key, state, twilio_sid, sent_at)
             VALUES (gen_random_uuid(), '{ana_late}', '{}', 'reminder', '{ANA}', 'Reminder: reply C to confirm', 'reminder-test', 'delivered',
                     'SM{}', now() - interval '35 minutes')",
            c.patients[0],
            "a".repeat(32)
        ),
    );
    c.pg.psql("clinic", &format!("UPDATE patients SET opted_out_at = now() - interval '1 day' WHERE phone = '{BEN}'"));

    let (front_link, rita) = sign_in_on(&front, "desk@clinic.example", "desk password 1").await;
    let (office_link, ada) = sign_in_on(&office, "admin@clinic.example", "admin password 1").await;
    let (grey_link, grey) = sign_in_on(&grey_room, "grey@clinic.example", "doctor password 1").await;

    // Twilio's clock runs 20 minutes behind the server's: a reply's age, not its time, says which
    // reminder it answers (Ana's C, written 30 minutes ago, answers the one sent 35 minutes ago).
    fake.set_clock_offset(-Duration::minutes(20));
    let twilio_now = chrono::Utc::now() - Duration::minutes(20);
    fake.receive_at(ANA, FROM_NUMBER, " c. ", twilio_now - Duration::minutes(30));
    let second_c = fake.receive_at(ANA, FROM_NUMBER, "C", twilio_now - Duration::minutes(10));
    // Twilio's times are to the second: Ben answers a moment after his booking.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    fake.receive(BEN, FROM_NUMBER, "Yes!");
    let late = fake.receive(CHLOE, FROM_NUMBER, "Running 10 minutes late, sorry <script>alert(1)</script>");
    let stranger = fake.receive(STRANGER, FROM_NUMBER, "Who is this?");

    let mut db = c.pool.get().await.unwrap();
    clinicdesk_server::replies::read(&mut **db, &texting, support::now()).await.unwrap();
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM sms_inbound"), "5");
    assert_eq!(clinicdesk_server::replies::read(&mut **db, &texting, support::now()).await.unwrap(), 0, "each once");

    // On the server: the reminded visit confirmed (not the earlier one), Ben's too and his texts
    // allowed again; the second C had nothing left to confirm and waits for a person.
    let status = |id: Uuid| c.pg.psql("clinic", &format!("SELECT status FROM appointments WHERE id = '{id}'"));
    assert_eq!(
        (status(ana_early), status(ana_late), status(ben_visit)),
        ("scheduled".into(), "confirmed".into(), "confirmed".into())
    );
    assert_eq!(c.pg.psql("clinic", &format!("SELECT opted_out_at IS NULL FROM patients WHERE phone = '{BEN}'")), "t");
    assert_eq!(
        c.pg.psql(
            "clinic",
            "SELECT string_agg(from_phone || ' ' || handling, ',' ORDER BY from_phone, received_at) FROM sms_inbound"
        ),
        format!("{ANA} confirmed,{ANA} inbox,{BEN} confirmed,{STRANGER} inbox,{CHLOE} inbox")
    );
    assert_eq!(
        c.pg.psql(
            "clinic",
            "SELECT actor_label || ' ' || count(*) FROM audit_log WHERE action = 'appointment.confirm_by_text' GROUP BY actor_label"
        ),
        "Patient's text reply 2"
    );
    // The trail's words are the core's rule's, the same as on one desk.
    assert_eq!(
        c.pg.psql(
            "clinic",
            "SELECT actor_label || ': ' || regexp_replace(detail, '[0-9a-f-]{36}|SM[0-9a-f]{32}', 'X', 'g')
             FROM audit_log WHERE action = 'patient.opt_in'"
        ),
        "Patient's text reply: patient X; agreed to texts again by text reply X"
    );

    // Every desk: the confirmed visits, and the inbox (with the patient where one has the number).
    for (desk, link) in [(&front, &front_link), (&office, &office_link)] {
        desk.clinic.desk_sync().pull(link, std::time::Duration::ZERO).await.unwrap();
        assert_eq!((status_on(desk, ana_early), status_on(desk, ana_late)), ("scheduled".into(), "confirmed".into()));
    }
    let inbox = front.clinic.inbox().list(&rita.caller, false, 50).unwrap();
    let shown: Vec<(&str, Option<&str>, ReplyHandling)> =
        inbox.iter().map(|t| (t.body.as_str(), t.patient_name.as_deref(), t.handling)).collect();
    assert_eq!(shown.len(), 3, "{shown:?}");
    assert!(shown.contains(&("Who is this?", None, ReplyHandling::Inbox)), "{shown:?}");
    assert!(shown.contains(&("C", Some("Ana Lima"), ReplyHandling::Inbox)), "{shown:?}");
    assert!(shown.contains(&(
        "Running 10 minutes late, sorry <script>alert(1)</script>",
        Some("Chloé Dubois"),
        ReplyHandling::Inbox
    )));
    assert_eq!(front.clinic.inbox().unread_count(&rita.caller).unwrap(), 3);
    assert!(inbox.iter().any(|t| t.sid == second_c));

    // Reception marks Chloé's text read: on the server, once, and every desk's inbox agrees.
    let marked = front.clinic.inbox().mark_read_on_server(&rita.caller, &front_link, &late).await.unwrap();
    assert!(marked.read_at.is_some());
    front.clinic.inbox().mark_read_on_server(&rita.caller, &front_link, &late).await.unwrap();
    assert_eq!(front.clinic.inbox().unread_count(&rita.caller).unwrap(), 2);
    office.clinic.desk_sync().pull(&office_link, std::time::Duration::ZERO).await.unwrap();
    assert_eq!(office.clinic.inbox().unread_count(&ada.caller).unwrap(), 2);
    assert_eq!(
        c.pg.psql(
            "clinic",
            "SELECT actor_label || ' ' || count(*) FROM audit_log WHERE action = 'sms.handled' GROUP BY actor_label"
        ),
        "desk@clinic.example 1",
        "marked once"
    );

    // A kind of change the desk does not know yet (a newer server) is skipped and remembered with
    // where its page began; a desk that once skipped the replies (older than the server) pulls
    // them again once it knows them.
    c.pg.psql("clinic", "INSERT INTO changes (entity, entity_id, audience, row_data) VALUES ('future_kind', gen_random_uuid(), 'all', '{}')");
    let stream = office_link.stream();
    let before = office.clinic.desk_sync().cursor(&stream).unwrap();
    office.clinic.desk_sync().pull(&office_link, std::time::Duration::ZERO).await.unwrap();
    let state = |key: &str| -> Option<String> {
        let conn = office.clinic.db().conn().unwrap();
        conn.query_row("SELECT value FROM sync_state WHERE key = ?1", [format!("{key}:{stream}")], |r| r.get(0)).ok()
    };
    assert_eq!((state("skipped_kinds").as_deref(), state("skipped_from")), (Some("[\"future_kind\"]"), Some(before)));
    {
        let conn = office.clinic.db().conn().unwrap();
        conn.execute("DELETE FROM sms_inbound", []).unwrap();
        conn.execute(
            "UPDATE sync_state SET value = '[\"future_kind\",\"text_reply\"]' WHERE key = ?1",
            [format!("skipped_kinds:{stream}")],
        )
        .unwrap();
        conn.execute("UPDATE sync_state SET value = '' WHERE key = ?1", [format!("skipped_from:{stream}")]).unwrap();
    }
    assert_eq!(office.clinic.inbox().list(&ada.caller, false, 50).unwrap().len(), 0);
    office.clinic.desk_sync().pull(&office_link, std::time::Duration::ZERO).await.unwrap();
    assert_eq!(office.clinic.inbox().list(&ada.caller, false, 50).unwrap().len(), 3, "pulled again");
    assert_eq!(office.clinic.inbox().unread_count(&ada.caller).unwrap(), 2, "Chloé's read as the server says");
    assert!(state("skipped_kinds").is_some(), "the kind it still does not know is remembered again");

    // Reception answers Chloé from the front desk: the server queues the text to the number on
    // her record (once, however often the command is retried) and the desk shows it at once.
    let texts = front.clinic.appointment_texts();
    let answer = texts
        .send_to_patient_on_server(&rita.caller, &front_link, c.patients[2], "No problem, see you soon.")
        .await
        .unwrap();
    assert_eq!((answer.to.as_str(), answer.body.as_str()), (CHLOE, "No problem, see you soon."));
    assert_eq!(
        c.pg.psql("clinic", &format!("SELECT kind || ' ' || state FROM sms_notifications WHERE to_phone = '{CHLOE}'")),
        "custom pending"
    );
    let command =
        clinicdesk_core::sync::wire::DeskCommand::TextPatient { patient_id: c.patients[2], body: "Again?".into() };
    let client_id = Uuid::new_v4();
    let first = front_link.command_for(rita.profile.user_id, client_id, &command).await.unwrap();
    let retried = front_link.command_for(rita.profile.user_id, client_id, &command).await.unwrap();
    assert_eq!(first, retried, "a retried command is answered from its first outcome");
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM sms_notifications WHERE body = 'Again?'"), "1");
    // The server has the last word: a patient who withdrew their agreement meanwhile is not texted.
    c.pg.psql("clinic", &format!("UPDATE patients SET sms_consent = false WHERE phone = '{ANA}'"));
    let refused = texts.send_to_patient_on_server(&rita.caller, &front_link, c.patients[0], "Hello").await.unwrap_err();
    assert_eq!(refused.to_string(), "Cannot text: the patient has not agreed to texts.");
    let empty = texts.send_to_patient_on_server(&rita.caller, &front_link, c.patients[2], "  ").await.unwrap_err();
    assert_eq!(empty.to_string(), "Write the text to send.");

    // A doctor does not deal with the clinic's texts; a desk alone cannot mark one read; and
    // without the server it says so.
    let refused = grey_link.text_read(grey.profile.user_id, &stranger).await.unwrap_err();
    assert!(matches!(refused, CoreError::Server { code: ErrorCode::Forbidden, .. }), "{refused:?}");
    let alone = front.clinic.inbox().mark_read(&rita.caller, &stranger).unwrap_err();
    assert_eq!(alone.code(), ErrorCode::Forbidden);
    assert!(alone.to_string().contains("marked read on the server"), "{alone}");
    front.relay.cut();
    let offline = front.clinic.inbox().mark_read_on_server(&rita.caller, &front_link, &stranger).await.unwrap_err();
    assert_eq!(offline.code(), ErrorCode::Unavailable);
    assert!(offline.to_string().contains("was not marked read"), "{offline}");
    assert_eq!(front.clinic.inbox().unread_count(&rita.caller).unwrap(), 2, "nothing changed");
    let unsent = texts.send_to_patient_on_server(&rita.caller, &front_link, c.patients[2], "Hello").await.unwrap_err();
    assert!(unsent.to_string().contains("may not have been sent"), "{unsent}");
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM sms_notifications WHERE body = 'Hello'"), "0");
    front.relay.heal();
    // The server's answer lost on the way back: the desk asks again with the same id, and the
    // patient gets one text.
    front.relay.lose_next_answers(1);
    let once =
        texts.send_to_patient_on_server(&rita.caller, &front_link, c.patients[2], "See you at ten.").await.unwrap();
    assert_eq!(once.body, "See you at ten.");
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM sms_notifications WHERE body = 'See you at ten.'"), "1");
    front.relay.cut();
    // The inbox itself is read offline.
    assert_eq!(front.clinic.inbox().list(&rita.caller, true, 50).unwrap().len(), 2);
}
