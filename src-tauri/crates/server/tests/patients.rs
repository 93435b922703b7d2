//! Patients on the server: the core's patient rules over the PostgreSQL store (the SQLite store's
//! side of the same rules is in the core's tests/patient_search.rs).

mod support;

use chrono::{DateTime, Utc};
use clinicdesk_core::patients::PatientInput;
use clinicdesk_server::patients::{add_patient, add_patient_in, record_consent_in, update_patient_in};
use clinicdesk_server::ServerError;

fn input(name: &str, phone: &str, date_of_birth: Option<&str>, sms_consent: bool) -> PatientInput {
    PatientInput {
        full_name: name.into(),
        phone: phone.into(),
        date_of_birth: date_of_birth.map(Into::into),
        sms_consent,
    }
}

fn sentence(err: ServerError) -> String {
    match err {
        ServerError::Rule(rule) => rule.to_string(),
        other => panic!("expected a rule's refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn registering_and_editing_follow_the_desk_rules_and_leave_the_same_audit_trail() {
    let c = support::clinic().await;
    let now: DateTime<Utc> = "2026-06-30T23:30:00Z".parse().unwrap();

    // Half past midnight on 1 July in London: a baby born today (London's date, not UTC's) is
    // registered. Checked by the clinic's time zone, as on a desk.
    let baby = add_patient(&c.pool, &c.reception, &input("Mia Lima", "07400 555111", Some("2026-07-01"), true), now)
        .await
        .expect("born today in the clinic's time zone");
    let future = add_patient(&c.pool, &c.reception, &input("Leo Lima", "07400 555112", Some("2026-07-02"), false), now)
        .await
        .unwrap_err();
    assert!(sentence(future).contains("cannot be in the future"));

    // The same name (in any case, accents included) and number is one patient.
    let twice =
        add_patient(&c.pool, &c.reception, &input("MIA LIMA", "+447400555111", None, false), now).await.unwrap_err();
    assert!(sentence(twice).contains("MIA LIMA is already registered with this phone number"));
    // Upper case accented letters, and an accent typed as a separate mark ("e" + U+0301), are the
    // same name: decided by the core's rule, not the database's locale (this cluster's is C).
    for same in ["CHLOÉ DUBOIS", "Chloe\u{301} Dubois"] {
        let again =
            add_patient(&c.pool, &c.reception, &input(same, "07911 000111", None, false), now).await.unwrap_err();
        assert!(sentence(again).contains("already registered"), "{same}");
    }
    let family = input("Chloé Dubois-Martin", "07911 000111", None, false);
    let other = add_patient(&c.pool, &c.reception, &family, now).await;
    assert!(other.is_ok(), "another name on the same number (a family's phone) is another patient");
    let bad = add_patient(&c.pool, &c.reception, &input("Mia <b>", "12", None, false), now).await.unwrap_err();
    assert!(sentence(bad).contains("no symbols"));

    // An edit on a stale copy is refused with the patient's name; a current one lands.
    let client = c.pool.get().await.unwrap();
    let edit = input("Mia Lima", "07400 555111", Some("2026-07-01"), false);
    let stale = update_patient_in(&**client, &c.reception, baby, &edit, Some(7), now).await.unwrap_err();
    assert!(sentence(stale).contains("Mia Lima's details were changed on another desk"));
    let row = update_patient_in(&**client, &c.reception, baby, &edit, Some(1), now).await.unwrap();
    assert_eq!((row["sms_consent"].as_bool(), row["version"].as_i64()), (Some(false), Some(2)));
    let row = record_consent_in(&**client, &c.reception, baby, true, Some(2), now).await.unwrap();
    assert_eq!((row["sms_consent"].as_bool(), row["version"].as_i64()), (Some(true), Some(3)));
    let missing = record_consent_in(&**client, &c.reception, uuid::Uuid::new_v4(), true, None, now).await.unwrap_err();
    assert!(sentence(missing).contains("could not be found"));

    // The trail the core's rules ask for, in order: registered (agreeing to texts), corrected
    // (withdrawing, so a consent entry first), consent given again. Nothing for the refusals.
    let trail = c.pg.psql(
        "clinic",
        &format!(
            "SELECT string_agg(action || coalesce(' ' || split_part(detail, '; ', 2), ''), ', ' ORDER BY seq)
             FROM audit_log WHERE record_id = '{baby}'"
        ),
    );
    assert_eq!(
        trail,
        "patient.create, patient.consent texts agreed, patient.consent texts refused, patient.update, patient.consent texts agreed"
    );
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM patients WHERE full_name ILIKE '%lima%'"), "2");
}

/// Two desks registering the same walk-in at the same moment: the server takes them in turn, so
/// the second sees the first and is refused (without holding the number, both would be saved).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_walk_in_registered_at_once_on_two_desks_is_registered_once() {
    let c = support::clinic().await;
    let now = Utc::now();
    let walk_in = input("Eve Stone", "07400 999000", None, false);
    let mut first = c.pool.get().await.unwrap();
    let first_tx = first.transaction().await.unwrap();
    add_patient_in(&*first_tx, &c.reception, uuid::Uuid::new_v4(), &walk_in, now).await.unwrap();

    let (pool, reception, again) = (c.pool.clone(), c.reception.clone(), walk_in.clone());
    let second = tokio::spawn(async move {
        let mut client = pool.get().await.unwrap();
        let tx = client.transaction().await.unwrap();
        let added = add_patient_in(&*tx, &reception, uuid::Uuid::new_v4(), &again, now).await;
        tx.commit().await.unwrap();
        added
    });
    // The second registration waits for the first's hold on the number (seen in pg_locks), and
    // only then does the first commit.
    support::until_waiting_on_an_advisory_lock(&c.pool, &second, "the second registration").await;
    first_tx.commit().await.unwrap();
    let refused = second.await.unwrap().unwrap_err();
    assert!(sentence(refused).contains("Eve Stone is already registered with this phone number"));
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM patients WHERE full_name = 'Eve Stone'"), "1");
}
