//! Booking on the clinic server: the core's rules and sentences, and double bookings refused by
//! PostgreSQL itself when desks race.

mod support;

use clinicdesk_core::error::CoreError;
use clinicdesk_server::{appointments, ServerError};
use support::{booking, clinic, now};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn desks_booking_the_same_slot_at_once_exactly_one_wins() {
    let c = clinic().await;
    // Twelve desks at once, each for a different patient, all the same doctor at 10:00. Without the
    // engine's constraint, several would pass the friendly check before any had committed.
    let attempts: Vec<_> = (0..12)
        .map(|i| {
            let pool = c.pool.clone();
            let staff = c.reception.clone();
            let request = booking(c.patients[i % 3], c.doctors[0], "10:00", 30);
            tokio::spawn(async move { appointments::book(&pool, &staff, &request, None, now()).await })
        })
        .collect();
    let mut won = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(a) => {
                won += 1;
                assert_eq!(a.local_start, "10:00");
            }
            Err(ServerError::Rule(CoreError::Conflict(sentence))) => {
                assert!(
                    sentence.contains("already") || sentence.contains("Someone else booked that time"),
                    "a refusal reception can act on: {sentence}"
                );
            }
            Err(other) => panic!("a race must end in a booking or a conflict, not {other:?}"),
        }
    }
    assert_eq!(won, 1, "exactly one desk gets the slot");
    let held = c.pg.psql("clinic", "SELECT count(*) FROM appointments WHERE status <> 'cancelled'");
    assert_eq!(held, "1");
}

#[tokio::test]
async fn the_engine_refuses_an_overlap_that_skipped_the_servers_check() {
    let c = clinic().await;
    let first =
        appointments::book(&c.pool, &c.reception, &booking(c.patients[0], c.doctors[0], "09:00", 30), None, now())
            .await
            .unwrap();
    // A writer that bypasses the server's rules (a script, a bug) is still refused by PostgreSQL.
    let overlap = format!(
        "INSERT INTO appointments (id, booking_ref, patient_id, doctor_id, starts_at, ends_at, kind)
         VALUES (gen_random_uuid(), 'CD-BYPASS', '{}', '{}', '{}'::timestamptz + interval '15 minutes',
                 '{}'::timestamptz + interval '15 minutes', 'in_person')",
        c.patients[1],
        c.doctors[0],
        first.starts_at.to_rfc3339(),
        first.ends_at.to_rfc3339()
    );
    let client = c.pool.get().await.unwrap();
    let refused = client.execute(overlap.as_str(), &[]).await.unwrap_err();
    assert_eq!(refused.code().unwrap().code(), "23P01", "exclusion_violation");
    // Back to back is not an overlap: [08:30, 09:00) then [09:00, 09:30).
    appointments::book(&c.pool, &c.reception, &booking(c.patients[1], c.doctors[0], "08:30", 30), None, now())
        .await
        .expect("back-to-back appointments are fine");
    // A cancelled appointment no longer holds its slot, for the engine as for the rules.
    client.execute("UPDATE appointments SET status = 'cancelled' WHERE id = $1", &[&first.id]).await.unwrap();
    client.execute(overlap.as_str(), &[]).await.expect("the slot is free once cancelled");
}

#[tokio::test]
async fn refusals_use_the_cores_words() {
    let c = clinic().await;
    let booked =
        appointments::book(&c.pool, &c.reception, &booking(c.patients[0], c.doctors[0], "11:00", 30), None, now())
            .await
            .unwrap();
    // The doctor is busy: named, with the clinic's wall-clock times and the booking reference.
    let busy =
        appointments::book(&c.pool, &c.reception, &booking(c.patients[1], c.doctors[0], "11:15", 30), None, now())
            .await
            .unwrap_err();
    assert_eq!(
        busy.to_string(),
        format!(
            "Dr Meredith Grey is already booked from 11:00 to 11:30 on {} ({}). Choose another time or another doctor.",
            booked.local_date, booked.booking_ref
        )
    );
    // The patient is busy with another doctor.
    let patient_busy =
        appointments::book(&c.pool, &c.reception, &booking(c.patients[0], c.doctors[1], "11:10", 20), None, now())
            .await
            .unwrap_err();
    assert!(patient_busy
        .to_string()
        .starts_with("Ana Lima already has an appointment with Dr Meredith Grey from 11:00"));
    // In the past.
    let mut past = booking(c.patients[2], c.doctors[1], "09:00", 30);
    past.date = "2020-01-06".into();
    let past = appointments::book(&c.pool, &c.reception, &past, None, now()).await.unwrap_err();
    assert!(matches!(past, ServerError::Rule(CoreError::Invalid { .. })), "{past:?}");
    // A doctor may not book (the core's permission table), and the refusal is audited.
    let refused =
        appointments::book(&c.pool, &c.doctor_staff, &booking(c.patients[2], c.doctors[0], "15:00", 30), None, now())
            .await
            .unwrap_err();
    assert!(matches!(refused, ServerError::Rule(CoreError::Forbidden(_))));
    assert!(refused.to_string().starts_with("Your role (Doctor) is not allowed to"), "{refused}");
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM audit_log WHERE action = 'access.refused'"), "1");
    // Nothing refused was stored; the one booking is audited and in the sync feed.
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM appointments"), "1");
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM audit_log WHERE action = 'appointment.book'"), "1");
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM changes WHERE entity = 'appointment'"), "1");
}

/// A move by reception in its own transaction, as a desk's command runs.
async fn move_to(
    c: &support::TestClinic,
    id: uuid::Uuid,
    change: &clinicdesk_core::appointments::RescheduleRequest,
) -> Result<clinicdesk_core::appointments::Appointment, ServerError> {
    let mut client = c.pool.get().await.unwrap();
    let tx = client.transaction().await.unwrap();
    let done = appointments::move_in(&*tx, &c.reception, id, change, now()).await;
    if done.is_ok() {
        tx.commit().await.unwrap();
    }
    done
}

/// A cancellation by reception in its own transaction.
async fn cancel(
    c: &support::TestClinic,
    id: uuid::Uuid,
    reason: &str,
    version: Option<i64>,
) -> Result<clinicdesk_core::appointments::Appointment, ServerError> {
    let mut client = c.pool.get().await.unwrap();
    let tx = client.transaction().await.unwrap();
    let done = appointments::cancel_in(&*tx, &c.reception, id, reason, version, now()).await;
    if done.is_ok() {
        tx.commit().await.unwrap();
    }
    done
}

#[tokio::test]
async fn moves_and_cancellations_follow_the_desks_rules_words_and_trail() {
    use clinicdesk_core::appointments::RescheduleRequest;
    let c = clinic().await;
    let booked =
        appointments::book(&c.pool, &c.reception, &booking(c.patients[0], c.doctors[0], "09:00", 30), None, now())
            .await
            .unwrap();
    let to_ten = |version| RescheduleRequest {
        date: booked.local_date.clone(),
        time: "10:00".into(),
        minutes: None,
        expected_version: Some(version),
    };
    let moved = move_to(&c, booked.id, &to_ten(booked.version)).await.unwrap();
    assert_eq!((moved.local_start.as_str(), moved.minutes, moved.version), ("10:00", 30, booked.version + 1));
    // The trail says which patient and the old time, in the desk's form (linked to the patient).
    let detail = c.pg.psql("clinic", "SELECT detail FROM audit_log WHERE action = 'appointment.reschedule'");
    assert_eq!(
        detail,
        format!("patient {}; from {}", c.patients[0], clinicdesk_core::db::ts(booked.starts_at)),
        "the desk's detail"
    );
    // A move made on the copy from before is refused in the desk's words.
    let stale = move_to(&c, booked.id, &to_ten(booked.version)).await.unwrap_err();
    assert!(stale.to_string().starts_with("Someone else changed this appointment a moment ago."), "{stale}");
    // A cancellation needs a reason.
    let no_reason = cancel(&c, booked.id, "  ", Some(moved.version)).await.unwrap_err();
    assert!(matches!(no_reason, ServerError::Rule(CoreError::Invalid { .. })), "{no_reason:?}");
    let cancelled = cancel(&c, booked.id, "Patient called to cancel", Some(moved.version)).await.unwrap();
    assert_eq!(cancelled.cancel_reason.as_deref(), Some("Patient called to cancel"));
    // Once cancelled it can no longer be moved or cancelled again.
    let late = move_to(&c, booked.id, &to_ten(cancelled.version)).await.unwrap_err();
    assert_eq!(late.to_string(), "This appointment is cancelled and can no longer be moved.");
    let again = cancel(&c, booked.id, "Twice", None).await.unwrap_err();
    assert_eq!(again.to_string(), "This appointment is already cancelled.");
    // An appointment that does not exist.
    let missing = cancel(&c, uuid::Uuid::new_v4(), "Gone", None).await.unwrap_err();
    assert_eq!(missing.to_string(), "That appointment could not be found.");
    // Nothing refused reached the trail or the desks' feed: one booking, one move, one cancellation.
    assert_eq!(
        c.pg.psql(
            "clinic",
            "SELECT string_agg(action, ',' ORDER BY seq) FROM audit_log WHERE record_type = 'appointment'"
        ),
        "appointment.book,appointment.reschedule,appointment.cancel"
    );
}

#[tokio::test]
async fn a_doctor_whose_staff_account_is_closed_takes_no_new_appointments() {
    let c = clinic().await;
    let client = c.pool.get().await.unwrap();
    // The doctor's record is still active; only their staff account was closed (they left).
    clinicdesk_server::staff_accounts::deactivate(&**client, "grey@clinic.example", now()).await.unwrap();
    let refused =
        appointments::book(&c.pool, &c.reception, &booking(c.patients[0], c.doctors[0], "09:00", 30), None, now())
            .await
            .unwrap_err();
    assert_eq!(refused.to_string(), "Dr Meredith Grey is not taking appointments at the moment.");
    appointments::book(&c.pool, &c.reception, &booking(c.patients[0], c.doctors[1], "09:00", 30), None, now())
        .await
        .expect("the other doctor still takes appointments");
}
