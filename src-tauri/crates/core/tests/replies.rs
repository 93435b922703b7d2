//! Replies patients text back, read by the outbox worker from the fake Twilio's Messages list:
//! confirmations, opt-outs and opt-ins, the inbox, de-duplication across overlapping and paged
//! reads, Messaging Service numbers, the fence, and numbers Twilio refuses at send.
mod common;
mod outbox_rig;

use chrono::Duration;
use clinicdesk_core::appointments::{Appointment, AppointmentKind, AppointmentStatus, BookingRequest};
use clinicdesk_core::auth::{Caller, Role};
use clinicdesk_core::doctors::Doctor;
use clinicdesk_core::patients::{Patient, PatientInput};
use clinicdesk_core::sms::worker::{OutboxWorker, RunReport};
use clinicdesk_core::sms::{NewText, ReplyHandling, TextKind, TextState};
use clinicdesk_core::twilio::config::TwilioSettingsInput;
use clinicdesk_core::twilio::http::RetryPolicy;
use clinicdesk_core::twilio::{Endpoints, TwilioHttp};
use clinicdesk_twilio_fake::{self as fake, FakeTwilio, Fault, Outcome, Route};
use common::*;
use outbox_rig::{fast_config, PATIENT};

const SERVICE: &str = "MG33333333333333333333333333333333";

/// A clinic on the manual clock (Monday 08:00) with Twilio set up against a fresh fake.
struct Desk {
    t: TestClinic,
    fake: FakeTwilio,
    http: TwilioHttp,
    admin: Caller,
    doctor: Doctor,
}

async fn desk_with(from: Option<&str>, service: Option<&str>) -> Desk {
    let t = TestClinic::set_up();
    let fake = FakeTwilio::start().await;
    let admin = t.admin();
    let settings = TwilioSettingsInput {
        account_sid: fake::ACCOUNT_SID.into(),
        api_key_sid: fake::API_KEY_SID.into(),
        from: from.map(Into::into),
        messaging_service_sid: service.map(Into::into),
        conversations_service_sid: None,
        media_region: None,
        auth_token: Some(fake::AUTH_TOKEN.into()),
        api_key_secret: Some(fake::API_KEY_SECRET.into()),
    };
    t.clinic.twilio().configure(&admin, settings).unwrap();
    let mut http = TwilioHttp::new(Endpoints::all_at(&fake.url()));
    http.retry = RetryPolicy {
        max_attempts: 2,
        base_delay: std::time::Duration::from_millis(10),
        max_delay: std::time::Duration::from_millis(50),
    };
    t.add_user("okafor@clinic.example", Role::Doctor);
    let doctor = t.clinic.doctors().add(&admin, "okafor@clinic.example", "General practice").unwrap();
    Desk { t, fake, http, admin, doctor }
}

async fn desk() -> Desk {
    desk_with(Some(fake::FROM_NUMBER), None).await
}

impl Desk {
    fn patient(&self, name: &str, phone: &str) -> Patient {
        let input =
            PatientInput { full_name: name.into(), phone: phone.into(), date_of_birth: None, sms_consent: true };
        self.t.clinic.patients().add(&self.admin, input).unwrap()
    }
    fn book(&self, patient: &Patient, time: &str) -> Appointment {
        let request = BookingRequest {
            patient_id: patient.id,
            doctor_id: self.doctor.id,
            date: "2026-03-02".into(),
            time: time.into(),
            minutes: 30,
            kind: AppointmentKind::InPerson,
        };
        self.t.clinic.appointments().book(&self.admin, request).unwrap().appointment
    }
    fn appointment(&self, id: uuid::Uuid) -> Appointment {
        self.t.clinic.appointments().get(&self.admin, id).unwrap()
    }
    /// A patient texts the clinic's number.
    fn reply(&self, from: &str, body: &str) -> String {
        self.fake.receive(from, fake::FROM_NUMBER, body)
    }
    /// One worker pass, a minute after the last (replies are read at most every 15 seconds).
    async fn pass(&self) -> RunReport {
        self.t.advance(Duration::minutes(1));
        OutboxWorker::new(&self.t.clinic, &self.http, fast_config()).unwrap().run_once().await.unwrap()
    }
    fn audit_actions(&self, record: uuid::Uuid) -> Vec<(String, String)> {
        let entries = self.t.clinic.audit().recent(&self.admin, Some(&record.to_string()), 100).unwrap();
        entries.into_iter().map(|e| (e.action, e.actor)).collect()
    }
    fn unread(&self) -> u32 {
        self.t.clinic.inbox().unread_count(&self.admin).unwrap()
    }
    fn list_requests(&self) -> usize {
        self.fake.requests().iter().filter(|l| l.starts_with("GET") && l.ends_with("/Messages.json")).count()
    }
}

fn confirmed_by_text(d: &Desk, appointment: uuid::Uuid) -> bool {
    d.audit_actions(appointment)
        .contains(&("appointment.confirm_by_text".to_owned(), "Patient's text reply".to_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_and_yes_confirm_the_next_appointment_only_and_are_audited() {
    let d = desk().await;
    let olivia = d.patient("Olivia Smith", "07400 123456");
    let (first, second) = (d.book(&olivia, "10:00"), d.book(&olivia, "14:00"));
    d.reply(PATIENT, " c. ");
    assert_eq!(d.pass().await.replies, 1);
    let confirmed = d.appointment(first.id);
    assert_eq!(confirmed.status, AppointmentStatus::Confirmed);
    assert_eq!((confirmed.version, confirmed.starts_at), (first.version + 1, first.starts_at), "time untouched");
    assert_eq!(d.appointment(second.id).status, AppointmentStatus::Scheduled, "one reply, one appointment");
    assert!(confirmed_by_text(&d, first.id));
    d.reply(PATIENT, "Yes!");
    d.pass().await;
    assert_eq!(d.appointment(second.id).status, AppointmentStatus::Confirmed);
    assert!(confirmed_by_text(&d, second.id));
    assert_eq!(d.unread(), 0, "handled replies wait for nobody");
    // Nothing left to confirm: a person reads it.
    d.reply(PATIENT, "YES");
    d.pass().await;
    let inbox = d.t.clinic.inbox().list(&d.admin, true, 50).unwrap();
    assert_eq!((inbox.len(), inbox[0].handling, inbox[0].patient_id), (1, ReplyHandling::Inbox, Some(olivia.id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_number_confirms_the_earliest_open_appointment_of_anyone_with_it() {
    let d = desk().await;
    let parent = d.patient("Amara Okoye", "07400 123456");
    let child = d.patient("Tobi Okoye", "07400 123456");
    let (parents, childs) = (d.book(&parent, "15:00"), d.book(&child, "09:00"));
    d.reply(PATIENT, "C");
    d.pass().await;
    assert_eq!(d.appointment(childs.id).status, AppointmentStatus::Confirmed);
    assert_eq!(d.appointment(parents.id).status, AppointmentStatus::Scheduled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_read_late_never_confirms_an_appointment_booked_after_it() {
    let d = desk().await;
    let olivia = d.patient("Olivia Smith", "07400 123456");
    // Written two hours ago (the app was closed); the booking was made just now.
    d.fake.receive_at(PATIENT, fake::FROM_NUMBER, "C", chrono::Utc::now() - Duration::hours(2));
    let later = d.book(&olivia, "11:00");
    d.pass().await;
    assert_eq!(d.appointment(later.id).status, AppointmentStatus::Scheduled);
    assert_eq!(d.unread(), 1, "the C waits for a person instead");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_words_opt_out_and_skip_waiting_texts_and_start_words_opt_back_in() {
    let d = desk().await;
    let words = ["STOP", "stopall", "Unsubscribe", "cancel", "END.", " quit "];
    let mut people = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let number = format!("+4474001000{i:02}");
        let patient = d.patient(&format!("Patient {i}"), &number);
        let waiting = NewText {
            kind: TextKind::Reminder,
            to: number.clone(),
            body: "Reminder: tomorrow at 09:30.".into(),
            patient_id: Some(patient.id),
            appointment_id: None,
            idempotency_key: format!("test:{i}"),
            due_at: d.t.clinic.now() + Duration::hours(3),
            about_starts_at: None,
            reminder_rule: None,
        };
        let (text, _) = d.t.clinic.texts().enqueue(&d.admin, &[waiting]).unwrap()[0];
        d.fake.receive(&number, fake::FROM_NUMBER, word);
        people.push((patient, number, text));
    }
    assert_eq!(d.pass().await.replies, 6);
    for (patient, _, text) in &people {
        assert!(
            d.t.clinic.patients().get(&d.admin, patient.id).unwrap().opted_out_at.is_some(),
            "{}",
            patient.full_name
        );
        let skipped = d.t.clinic.texts().get(&d.admin, *text).unwrap();
        assert_eq!(skipped.state, TextState::Skipped);
        assert!(d.audit_actions(patient.id).iter().any(|(a, _)| a == "patient.opt_out"));
    }
    // Opt-outs are done, and still shown to a person: "cancel" may have meant an appointment.
    assert_eq!(d.unread(), 6);
    let inbox = d.t.clinic.inbox().list(&d.admin, true, 50).unwrap();
    assert!(inbox.iter().all(|t| t.handling == ReplyHandling::OptedOut));
    // Two of them change their minds; the others stay opted out.
    for ((_, number, _), word) in people.iter().zip(["start", "UNSTOP"]) {
        d.fake.receive(number, fake::FROM_NUMBER, word);
    }
    d.pass().await;
    for (i, (patient, _, _)) in people.iter().enumerate() {
        let now_opted_out = d.t.clinic.patients().get(&d.admin, patient.id).unwrap().opted_out_at.is_some();
        assert_eq!(now_opted_out, i >= 2, "{}", patient.full_name);
        assert_eq!(d.audit_actions(patient.id).iter().any(|(a, _)| a == "patient.opt_in"), i < 2);
    }
    let later = d.t.clinic.texts().send(&d.admin, &people[0].1, "Welcome back.").unwrap();
    assert_eq!(later.state, TextState::Pending, "texts go out again after START");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_is_left_to_twilio_and_other_texts_wait_in_the_inbox_until_read() {
    let d = desk().await;
    let olivia = d.patient("Olivia Smith", "07400 123456");
    d.reply(PATIENT, "HELP");
    let question = d.reply(PATIENT, "Can I bring my son along?");
    let stranger = d.fake.receive("+447911000111", fake::FROM_NUMBER, "Who is this?");
    assert_eq!(d.pass().await.replies, 3);
    assert_eq!(d.unread(), 2, "HELP is not in the inbox");
    let inbox = d.t.clinic.inbox().list(&d.admin, true, 50).unwrap();
    let find = |sid: &str| inbox.iter().find(|t| t.sid == sid).unwrap().clone();
    let asked = find(&question);
    assert_eq!((asked.patient_id, asked.patient_name.as_deref()), (Some(olivia.id), Some("Olivia Smith")));
    assert_eq!(asked.body, "Can I bring my son along?");
    let unknown = find(&stranger);
    assert_eq!((unknown.patient_id, unknown.from.as_str()), (None, "+447911000111"));
    // A doctor may read the inbox but replies are reception's to deal with.
    let doctor = d.t.sign_in("okafor@clinic.example");
    assert_eq!(d.t.clinic.inbox().list(&doctor, false, 50).unwrap().len(), 2);
    assert!(d.t.clinic.inbox().mark_read(&doctor, &question).is_err());
    let read = d.t.clinic.inbox().mark_read(&d.admin, &question).unwrap();
    assert!(read.read_at.is_some());
    assert_eq!(d.unread(), 1);
    assert_eq!(d.t.clinic.inbox().list(&d.admin, true, 50).unwrap().len(), 1);
    assert_eq!(d.t.clinic.inbox().list(&d.admin, false, 50).unwrap().len(), 2, "read texts stay listed");
    assert!(d.audit_actions(olivia.id).iter().any(|(a, _)| a == "sms.handled"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_listed_again_by_overlapping_and_paged_reads_is_recorded_once() {
    let d = desk().await;
    let start = chrono::Utc::now() - Duration::minutes(5);
    // 450 texts: three pages of 200 at each read.
    for i in 0..450 {
        let at = start + Duration::milliseconds(i * 500);
        d.fake.receive_at(&format!("+4479110{:05}", i), fake::FROM_NUMBER, &format!("Text number {i}"), at);
    }
    let before = d.list_requests();
    assert_eq!(d.pass().await.replies, 450);
    assert!(d.list_requests() - before >= 3, "followed next_page_uri across three pages");
    // The next read goes back over the same ten minutes: everything listed again, nothing recorded twice.
    let newest = d.reply(PATIENT, "One more");
    assert_eq!(d.pass().await.replies, 1);
    assert_eq!(d.pass().await.replies, 0);
    assert_eq!(d.unread(), 451);
    assert!(d.t.clinic.inbox().list(&d.admin, true, 1).unwrap()[0].sid == newest, "newest first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_are_read_at_most_every_fifteen_seconds() {
    let d = desk().await;
    d.pass().await;
    let before = d.list_requests();
    d.reply(PATIENT, "Running late");
    d.t.advance(Duration::seconds(5));
    OutboxWorker::new(&d.t.clinic, &d.http, fast_config()).unwrap().run_once().await.unwrap();
    assert_eq!((d.list_requests(), d.unread()), (before, 0), "not asked again within 15 seconds");
    d.pass().await;
    assert_eq!(d.unread(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_to_every_number_of_a_messaging_service_are_read() {
    let d = desk_with(None, Some(SERVICE)).await;
    d.fake.add_messaging_service(SERVICE, &["+447700900001", "+447700900002"]);
    let olivia = d.patient("Olivia Smith", "07400 123456");
    let appointment = d.book(&olivia, "10:00");
    d.fake.receive(PATIENT, "+447700900002", "yes");
    d.fake.receive("+447911000111", "+447700900001", "Hello?");
    // The account's other number is not the service's: replies to it are not the clinic's texts.
    d.fake.receive("+447911000222", fake::FROM_NUMBER, "Not for ClinicDesk");
    assert_eq!(d.pass().await.replies, 2);
    assert_eq!(d.appointment(appointment.id).status, AppointmentStatus::Confirmed);
    let inbox = d.t.clinic.inbox().list(&d.admin, false, 50).unwrap();
    assert_eq!(inbox.iter().map(|t| t.body.as_str()).collect::<Vec<_>>(), vec!["Hello?"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_lost_its_lock_records_no_reply() {
    let d = desk().await;
    let olivia = d.patient("Olivia Smith", "07400 123456");
    let appointment = d.book(&olivia, "10:00");
    d.reply(PATIENT, "C");
    d.reply(PATIENT, "See you then");
    // Twilio lists slowly; meanwhile another worker takes the lock (next generation).
    d.fake.inject(Route::ListMessages, Fault::SlowAfter(std::time::Duration::from_millis(500)));
    d.t.advance(Duration::minutes(1));
    let mut worker = OutboxWorker::new(&d.t.clinic, &d.http, fast_config()).unwrap();
    let clinic = &d.t.clinic;
    let (report, ()) = tokio::join!(worker.run_once(), async {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let conn = clinic.db().conn().unwrap();
        conn.execute("UPDATE outbox_lock SET holder = 'thief', pid = 999999999, generation = generation + 1", [])
            .unwrap();
    });
    assert_eq!(report.unwrap().replies, 0);
    assert_eq!(d.unread(), 0);
    assert_eq!(d.appointment(appointment.id).status, AppointmentStatus::Scheduled);
    drop(worker);
    // The next worker reads the same replies and records them, once.
    assert_eq!(d.pass().await.replies, 2);
    assert_eq!(d.appointment(appointment.id).status, AppointmentStatus::Confirmed);
    assert_eq!(d.unread(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_twilio_refuses_at_send_is_marked_for_correction() {
    let d = desk().await;
    let landline = d.patient("Olivia Smith", "07400 123456");
    let invalid = d.patient("Noah Jones", "07400 123457");
    let fine = d.patient("Ava Brown", "07400 123458");
    let refuse = |code: u32| Outcome::Refused { status: 400, code, message: "refused".into() };
    d.fake.set_outcome(PATIENT, refuse(21614));
    d.fake.set_outcome("+447400123457", refuse(21211));
    for to in [PATIENT, "+447400123457", "+447400123458"] {
        d.t.clinic.texts().send(&d.admin, to, "Your appointment is confirmed.").unwrap();
    }
    d.pass().await;
    let problem = |p: &Patient| -> Option<String> {
        let conn = d.t.clinic.db().conn().unwrap();
        conn.query_row("SELECT phone_problem FROM patients WHERE id = ?1", [p.id.to_string()], |r| r.get(0)).unwrap()
    };
    assert_eq!(
        problem(&landline).as_deref(),
        Some("Twilio says +447400123456 is not a mobile number: correct it or phone the patient.")
    );
    assert_eq!(
        problem(&invalid).as_deref(),
        Some("Twilio says +447400123457 is not a valid phone number: correct it or phone the patient.")
    );
    assert_eq!(problem(&fine), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_c_answers_the_reminder_it_follows_not_another_patient_on_the_same_number() {
    let d = desk().await;
    let parent = d.patient("Amara Okoye", "07400 123456");
    let child = d.patient("Tobi Okoye", "07400 123456");
    let (parents, childs) = (d.book(&parent, "15:00"), d.book(&child, "09:00"));
    // The parent's reminder went out; the C answers it, though the child's visit is earlier.
    let reminder = NewText {
        kind: TextKind::Reminder,
        to: PATIENT.into(),
        body: "Reminder: today at 15:00. Reply C to confirm.".into(),
        patient_id: Some(parent.id),
        appointment_id: Some(parents.id),
        idempotency_key: "test:parent-reminder".into(),
        due_at: d.t.clinic.now(),
        about_starts_at: Some(parents.starts_at),
        reminder_rule: Some("2h".into()),
    };
    d.t.clinic.texts().enqueue(&d.admin, &[reminder]).unwrap();
    d.pass().await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    d.reply(PATIENT, "C");
    d.pass().await;
    assert_eq!(d.appointment(parents.id).status, AppointmentStatus::Confirmed);
    assert_eq!(d.appointment(childs.id).status, AppointmentStatus::Scheduled);
}
