//! Offline changes that build on each other: several changes to one record, a patient edited on
//! two desks, and two people's changes queued on one desk. The server must never accept a change
//! made on a stale copy, and a change must reach it as the person who made it.
//!
//! Needs the OS keyring (scripts/test.sh runs the suite inside an unlocked test keyring).

mod support;

use clinicdesk_core::appointments::RescheduleRequest;
use clinicdesk_core::auth::Channel;
use clinicdesk_core::patients::PatientInput;
use clinicdesk_core::sync::Sent;
use std::time::Duration;
use support::desk_computer;

fn move_to(date: &str, time: &str) -> RescheduleRequest {
    RescheduleRequest { date: date.into(), time: time.into(), minutes: None, expected_version: None }
}

/// Two moves of one appointment made offline on the front desk, while the back office moved it
/// too. The first move is refused (stale); the second, made on top of it, must be refused with it,
/// although its version happens to be the one the server now holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_offline_changes_to_a_refused_record_are_refused_with_it() {
    let c = support::clinic().await;
    let (address, _server) = support::serve(&c).await;
    let front = desk_computer(&c, address, "Front desk").await;
    let back = desk_computer(&c, address, "Back office").await;
    let (front_sync, back_sync) = (front.clinic.desk_sync(), back.clinic.desk_sync());
    let (front_link, back_link) = (front_sync.link(None).unwrap(), back_sync.link(None).unwrap());
    let ada = front_sync.sign_in(&front_link, "admin@clinic.example", "admin password 1", Channel::App).await.unwrap();
    let rita = front_sync.sign_in(&front_link, "desk@clinic.example", "desk password 1", Channel::App).await.unwrap();
    let rita_back =
        back_sync.sign_in(&back_link, "desk@clinic.example", "desk password 1", Channel::App).await.unwrap();
    let rita_id = rita.profile.user_id;
    back_sync.pull(&back_link, Duration::ZERO).await.unwrap();

    let visit = support::booking(c.patients[0], c.doctors[0], "09:00", 20);
    let booked = back.clinic.appointments().book(&rita_back.caller, visit.clone()).unwrap();
    back_sync.sync_once(&back_link, rita_id, Duration::ZERO).await.unwrap();
    front_sync.sync_once(&front_link, rita_id, Duration::ZERO).await.unwrap();

    // Offline, the front desk moves it twice; the back office moves it once, online.
    front.relay.cut();
    front.clinic.appointments().reschedule(&rita.caller, booked.id, move_to(&visit.date, "10:00")).unwrap();
    front.clinic.appointments().reschedule(&rita.caller, booked.id, move_to(&visit.date, "11:00")).unwrap();
    back.clinic.appointments().reschedule(&rita_back.caller, booked.id, move_to(&visit.date, "14:00")).unwrap();
    assert_eq!(back_sync.sync_once(&back_link, rita_id, Duration::ZERO).await.unwrap().sent.accepted, 1);

    // The network returns while Ada is signed in at the front desk: Rita's moves do not go with
    // Ada's session, but the server's copy replaces the provisional one at once.
    front.relay.heal();
    let ada_again =
        front_sync.sign_in(&front_link, "admin@clinic.example", "admin password 1", Channel::App).await.unwrap();
    assert_eq!(ada_again.profile.user_id, ada.profile.user_id);
    let err = front_sync.send_pending(&front_link, rita_id).await.unwrap_err();
    assert_eq!(err.code(), "not_signed_in", "Rita's changes wait for Rita's own session");
    let round = front_sync.sync_once(&front_link, ada.profile.user_id, Duration::ZERO).await.unwrap();
    assert_eq!(round.sent, Sent::default());
    let day = front.clinic.appointments().day(&ada.caller, &visit.date, None).unwrap();
    assert_eq!(day.appointments[0].local_start, "14:00", "the server's copy is shown while Rita's moves wait");
    assert_eq!(front_sync.waiting(&ada.caller).unwrap().len(), 2);
    // Ada moves it on from the server's copy: her change does not build on Rita's, so it stands
    // whatever becomes of theirs. (The desk is offline for a moment, so it waits too.)
    front.relay.cut();
    front.clinic.appointments().reschedule(&ada.caller, booked.id, move_to(&visit.date, "15:00")).unwrap();
    front.relay.heal();

    // Rita signs in again: both her moves are refused, the second for the first's sake; Ada's waits.
    let rita = front_sync.sign_in(&front_link, "desk@clinic.example", "desk password 1", Channel::App).await.unwrap();
    let round = front_sync.sync_once(&front_link, rita_id, Duration::ZERO).await.unwrap();
    assert_eq!(round.sent, Sent { accepted: 0, refused: 2 });
    let on_server = || {
        c.pg.psql(
            "clinic",
            &format!(
                "SELECT to_char(starts_at AT TIME ZONE 'Europe/London', 'HH24:MI') FROM appointments WHERE id = '{}'",
                booked.id
            ),
        )
    };
    assert_eq!(on_server(), "14:00", "the back office's move stands");
    let attention = front_sync.needs_attention(&rita.caller).unwrap();
    assert_eq!(attention.len(), 2, "{attention:?}");
    assert!(attention[0].refusal.as_deref().unwrap().contains("changed"), "{attention:?}");
    assert!(attention[1].refusal.as_deref().unwrap().contains("earlier change"), "{attention:?}");
    let day = front.clinic.appointments().day(&rita.caller, &visit.date, None).unwrap();
    assert_eq!(day.appointments[0].local_start, "15:00", "Ada's waiting move is still shown, not an older copy");
    assert_eq!(front_sync.waiting(&rita.caller).unwrap().len(), 1);

    // Ada signs in: her move, made on the server's copy, is accepted.
    let ada = front_sync.sign_in(&front_link, "admin@clinic.example", "admin password 1", Channel::App).await.unwrap();
    let round = front_sync.sync_once(&front_link, ada.profile.user_id, Duration::ZERO).await.unwrap();
    assert_eq!(round.sent, Sent { accepted: 1, refused: 0 });
    assert_eq!(on_server(), "15:00");
    let day = front.clinic.appointments().day(&ada.caller, &visit.date, None).unwrap();
    assert_eq!((day.appointments[0].local_start.as_str(), day.appointments[0].version), ("15:00", 3));
}

/// A patient's answer about texts withdrawn at the back office must not be granted again by an
/// older edit made offline at the front desk; a walk-in registered on both desks is registered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_patient_edit_is_refused_and_consent_is_audited_on_the_server() {
    let c = support::clinic().await;
    let (address, _server) = support::serve(&c).await;
    let front = desk_computer(&c, address, "Front desk").await;
    let back = desk_computer(&c, address, "Back office").await;
    let (front_sync, back_sync) = (front.clinic.desk_sync(), back.clinic.desk_sync());
    let (front_link, back_link) = (front_sync.link(None).unwrap(), back_sync.link(None).unwrap());
    let rita = front_sync.sign_in(&front_link, "desk@clinic.example", "desk password 1", Channel::App).await.unwrap();
    let rita_back =
        back_sync.sign_in(&back_link, "desk@clinic.example", "desk password 1", Channel::App).await.unwrap();
    let person = rita.profile.user_id;
    front_sync.pull(&front_link, Duration::ZERO).await.unwrap();
    back_sync.pull(&back_link, Duration::ZERO).await.unwrap();
    let ana = c.patients[0];

    front.relay.cut();
    let corrected = PatientInput {
        full_name: "Ana Lima".into(),
        phone: "07400 123450".into(),
        date_of_birth: None,
        sms_consent: true,
    };
    front.clinic.patients().update(&rita.caller, ana, corrected).unwrap();
    let walk_in = PatientInput {
        full_name: "Eve Stone".into(),
        phone: "07400 999000".into(),
        date_of_birth: None,
        sms_consent: false,
    };
    front.clinic.patients().add(&rita.caller, walk_in.clone()).unwrap();

    // Meanwhile, at the back office: Ana asks for no more texts; the walk-in is registered there too.
    back.clinic.patients().record_consent(&rita_back.caller, ana, false).unwrap();
    back.clinic.patients().add(&rita_back.caller, walk_in).unwrap();
    assert_eq!(
        back_sync.sync_once(&back_link, person, Duration::ZERO).await.unwrap().sent,
        Sent { accepted: 2, refused: 0 }
    );

    front.relay.heal();
    let round = front_sync.sync_once(&front_link, person, Duration::ZERO).await.unwrap();
    assert_eq!(round.sent, Sent { accepted: 0, refused: 2 });
    assert_eq!(
        c.pg.psql("clinic", &format!("SELECT sms_consent::text || ' ' || phone FROM patients WHERE id = '{ana}'")),
        "false +447400123456",
        "the withdrawal stands and the stale edit changed nothing"
    );
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM patients WHERE full_name = 'Eve Stone'"), "1");
    let attention = front_sync.needs_attention(&rita.caller).unwrap();
    assert!(attention[0].refusal.as_deref().unwrap().contains("changed on another desk"), "{attention:?}");
    assert!(attention[1].refusal.as_deref().unwrap().contains("already registered"), "{attention:?}");
    let shown = front.clinic.patients().get(&rita.caller, ana).unwrap();
    assert_eq!((shown.phone.as_str(), shown.sms_consent), ("+447400123456", false), "the desk shows the server's copy");
    assert_eq!(
        c.pg.psql(
            "clinic",
            &format!(
                "SELECT string_agg(actor_label || ' ' || detail, ', ' ORDER BY seq) FROM audit_log
                 WHERE action = 'patient.consent' AND record_id = '{ana}'"
            )
        ),
        format!("desk@clinic.example patient {ana}; texts agreed, desk@clinic.example patient {ana}; texts refused"),
        "the answer about texts is in the server's audit log"
    );
}

/// Two people's changes on one desk: Ada books a patient Rita registered offline. Ada's booking
/// waits until Rita's registration has gone (with Rita's session), and each reaches the server
/// as the person who made it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_waits_for_another_persons_change_it_builds_on() {
    let c = support::clinic().await;
    let (address, _server) = support::serve(&c).await;
    let front = desk_computer(&c, address, "Front desk").await;
    let sync = front.clinic.desk_sync();
    let link = sync.link(None).unwrap();
    // Both have signed in here online before, so both may sign in offline.
    sync.sign_in(&link, "admin@clinic.example", "admin password 1", Channel::App).await.unwrap();
    let rita = sync.sign_in(&link, "desk@clinic.example", "desk password 1", Channel::App).await.unwrap();
    sync.pull(&link, Duration::ZERO).await.unwrap();

    front.relay.cut();
    let dara = front
        .clinic
        .patients()
        .add(
            &rita.caller,
            PatientInput {
                full_name: "Dara Quinn".into(),
                phone: "07400 123458".into(),
                date_of_birth: None,
                sms_consent: true,
            },
        )
        .unwrap();
    let ada = sync.sign_in(&link, "admin@clinic.example", "admin password 1", Channel::App).await.unwrap();
    assert!(!link.has_session(), "signed in offline");
    front.clinic.appointments().book(&ada.caller, support::booking(dara.id, c.doctors[1], "12:00", 15)).unwrap();
    front.clinic.appointments().book(&ada.caller, support::booking(c.patients[1], c.doctors[0], "09:00", 15)).unwrap();

    front.relay.heal();
    let ada = sync.sign_in(&link, "admin@clinic.example", "admin password 1", Channel::App).await.unwrap();
    let round = sync.sync_once(&link, ada.profile.user_id, Duration::ZERO).await.unwrap();
    assert_eq!(
        round.sent,
        Sent { accepted: 1, refused: 0 },
        "Ada's unrelated booking goes; Dara's waits for Rita's registration"
    );
    assert_eq!(sync.waiting(&ada.caller).unwrap().len(), 2);

    sync.sign_in(&link, "desk@clinic.example", "desk password 1", Channel::App).await.unwrap();
    let round = sync.sync_once(&link, rita.profile.user_id, Duration::ZERO).await.unwrap();
    assert_eq!(round.sent, Sent { accepted: 1, refused: 0 }, "only Rita's own change went with her session");
    let ada = sync.sign_in(&link, "admin@clinic.example", "admin password 1", Channel::App).await.unwrap();
    let round = sync.sync_once(&link, ada.profile.user_id, Duration::ZERO).await.unwrap();
    assert_eq!(round.sent, Sent { accepted: 1, refused: 0 });
    let actors = c.pg.psql(
        "clinic",
        "SELECT string_agg(action || ' ' || actor_label, ', ' ORDER BY seq) FROM audit_log
         WHERE action IN ('patient.create', 'appointment.book') AND record_id IN
           (SELECT id::text FROM patients WHERE full_name = 'Dara Quinn' UNION
            SELECT a.id::text FROM appointments a JOIN patients p ON p.id = a.patient_id WHERE p.full_name = 'Dara Quinn')",
    );
    assert_eq!(actors, "patient.create desk@clinic.example, appointment.book admin@clinic.example");

    // Rita leaves with a change still queued here; the administrator deactivates her and resets
    // Ada's password (compromised). Once the desk hears of both, Rita's change is refused for
    // reception to redo, and Ada's old password no longer opens this desk offline.
    front.relay.cut();
    let rita = sync.sign_in(&link, "desk@clinic.example", "desk password 1", Channel::App).await.unwrap();
    front.clinic.appointments().book(&rita.caller, support::booking(c.patients[2], c.doctors[0], "16:00", 15)).unwrap();
    {
        let db = c.pool.get().await.unwrap();
        clinicdesk_server::staff_accounts::deactivate(&**db, "desk@clinic.example", support::now()).await.unwrap();
        clinicdesk_server::staff_accounts::set_password(
            &**db,
            "admin@clinic.example",
            "a brand new password",
            support::now(),
        )
        .await
        .unwrap();
    }
    front.relay.heal();
    let ada = sync.sign_in(&link, "admin@clinic.example", "a brand new password", Channel::App).await.unwrap();
    sync.pull(&link, Duration::ZERO).await.unwrap();
    let round = sync.sync_once(&link, ada.profile.user_id, Duration::ZERO).await.unwrap();
    assert_eq!(round.sent, Sent { accepted: 0, refused: 1 });
    let attention = sync.needs_attention(&ada.caller).unwrap();
    assert!(attention[0].refusal.as_deref().unwrap().contains("Rita Reception's account was closed"), "{attention:?}");
    front.relay.cut();
    let old = sync.sign_in(&link, "admin@clinic.example", "admin password 1", Channel::App).await;
    assert!(old.is_err(), "the reset password opens no desk offline");
    assert!(sync.sign_in(&link, "admin@clinic.example", "a brand new password", Channel::App).await.is_ok());
}

/// What only the server changes (staff, clinic-wide settings, text wording, passwords) is refused
/// on a desk with a sentence saying where it is done; the desk's own idle time stays its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_leaves_staff_settings_and_texts_to_the_server() {
    use clinicdesk_core::settings::ClinicSettingsInput;
    use clinicdesk_core::sms::templates::TemplateName;
    use clinicdesk_core::users::NewStaffUser;
    let c = support::clinic().await;
    let (address, _server) = support::serve(&c).await;
    let front = desk_computer(&c, address, "Front desk").await;
    let (_link, ada) = support::sign_in_on(&front, "admin@clinic.example", "admin password 1").await;

    let new = NewStaffUser {
        email: "nurse@clinic.example".into(),
        full_name: "Nina Nurse".into(),
        role: clinicdesk_core::auth::Role::Reception,
        password: "a long enough password".into(),
    };
    let refused = front.clinic.users().add(&ada.caller, new).unwrap_err();
    assert_eq!(refused.code().as_str(), "forbidden");
    assert!(refused.to_string().contains("clinicdesk-server add-staff"), "{refused}");
    let wording = front.clinic.templates().set(&ada.caller, TemplateName::Confirmation, "Booked: {when}").unwrap_err();
    assert!(wording.to_string().contains("kept on the clinic server"), "{wording}");
    let password =
        front.clinic.auth().change_password(&ada.caller, "admin password 1", "another long password").unwrap_err();
    assert!(password.to_string().contains("Passwords are kept on the clinic server"), "{password}");

    let mut settings = ClinicSettingsInput {
        clinic_name: "Riverside Clinic".into(),
        time_zone: support::ZONE.into(),
        default_country: "GB".into(),
        idle_timeout_minutes: Some(30),
        sms_messages_per_second: None,
    };
    let kept = front.clinic.settings().update(&ada.caller, settings.clone()).unwrap();
    assert_eq!(kept.idle_timeout_minutes, 30, "this desk's own idle time is its own");
    settings.clinic_name = "Another name".into();
    let renamed = front.clinic.settings().update(&ada.caller, settings).unwrap_err();
    assert!(renamed.to_string().contains("name, time zone and country are kept on the clinic server"), "{renamed}");
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM users WHERE email = 'nurse@clinic.example'"), "0");
}

/// What was read and done on a desk, online or offline, reaches the server's audit log once, even
/// when the server's answer to the upload is lost and it is sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desks_reads_and_writes_reach_the_servers_audit_log_once() {
    let c = support::clinic().await;
    let (address, _server) = support::serve(&c).await;
    let front = desk_computer(&c, address, "Front desk").await;
    let sync = front.clinic.desk_sync();
    let link = sync.link(None).unwrap();
    let rita = sync.sign_in(&link, "desk@clinic.example", "desk password 1", Channel::App).await.unwrap();
    let person = rita.profile.user_id;
    sync.sync_once(&link, person, Duration::ZERO).await.unwrap();

    front.relay.cut();
    // Offline: Rita opens Ana's record (a read of clinical-adjacent data is audited) and books her.
    front.clinic.patients().get(&rita.caller, c.patients[0]).unwrap();
    front.clinic.appointments().book(&rita.caller, support::booking(c.patients[0], c.doctors[0], "13:00", 15)).unwrap();
    assert!(sync.sync_once(&link, person, Duration::ZERO).await.is_err());
    let reads = |c: &support::TestClinic| {
        c.pg.psql(
            "clinic",
            &format!("SELECT count(*) FROM audit_log WHERE action = 'patient.read' AND record_id = '{}' AND detail LIKE '%on desk Front desk,%'", c.patients[0]),
        )
    };
    assert_eq!(reads(&c), "0", "nothing reached the server while it was cut off");

    // Back: the booking, then the desk's trail, go.
    front.relay.heal();
    sync.sync_once(&link, person, Duration::ZERO).await.unwrap();
    assert_eq!(reads(&c), "1", "the desk's offline read is in the server's trail");
    // Ana's record is opened again; the server's answer to that upload is lost, so it is sent again.
    front.clinic.patients().get(&rita.caller, c.patients[0]).unwrap();
    front.relay.lose_next_answers(1);
    assert!(sync.sync_once(&link, person, Duration::ZERO).await.is_err());
    sync.sync_once(&link, person, Duration::ZERO).await.unwrap();
    assert_eq!(reads(&c), "2", "each read once, although one upload was sent twice");
    let twice = c.pg.psql(
        "clinic",
        "SELECT count(*) - count(DISTINCT (at, action, coalesce(record_id, ''))) FROM audit_log WHERE client_id IS NOT NULL",
    );
    assert_eq!(twice, "0", "no entry of the desk's is in the server's trail twice");
    let booked = c.pg.psql("clinic", "SELECT count(*) FROM audit_log WHERE action = 'appointment.book'");
    assert_eq!(booked, "1", "the booking made offline is in the trail once (the server's entry when it applied it)");

    // A desk cannot write entries in the name of someone who never signed in there, nor from
    // another database's trail.
    use clinicdesk_core::sync::wire::{AuditUpload, MigratedAuditEntry};
    let forged = MigratedAuditEntry {
        seq: 999_999,
        at: support::now(),
        actor_id: Some(c.doctor_staff.user_id()),
        actor_label: "grey@clinic.example".into(),
        action: "patient.read".into(),
        record_type: None,
        record_id: None,
        detail: None,
        patients: vec![c.patients[0]],
    };
    let source =
        uuid::Uuid::parse_str(&c.pg.psql("clinic", "SELECT audit_source FROM desks WHERE name = 'Front desk'"))
            .unwrap();
    let refused = link.send_audit(&AuditUpload { source, entries: vec![forged.clone()] }).await.unwrap_err();
    assert!(refused.to_string().contains("never signed in on this desk"), "{refused}");
    let elsewhere = MigratedAuditEntry { actor_id: Some(person), ..forged };
    let refused =
        link.send_audit(&AuditUpload { source: uuid::Uuid::new_v4(), entries: vec![elsewhere] }).await.unwrap_err();
    assert!(refused.to_string().contains("comes from another database"), "{refused}");
}
