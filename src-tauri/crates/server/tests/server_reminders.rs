//! Reminders on the clinic server: planned a day ahead by the sender, withdrawn when the
//! appointment moves or the clinic drops a reminder time, and left to the old computer for the
//! time before a clinic moved onto the server.

mod support;

use chrono::{DateTime, Duration as Days, NaiveTime, TimeZone, Utc};
use clinicdesk_core::appointments::RescheduleRequest;
use clinicdesk_core::sync::wire::DeskCommand;
use clinicdesk_server::{clinic_settings, commands, desks, reminders, settings};
use uuid::Uuid;

/// A clinic with these reminder times (quiet hours off) and Ana booked with the first doctor at
/// 10:00 three days ahead; returns the clinic and the appointment's start.
async fn booked_in_three_days(reminder_times: &str) -> (support::TestClinic, DateTime<Utc>) {
    let c = support::clinic().await;
    let db = c.pool.get().await.unwrap();
    settings::set(&**db, "sms.reminders", reminder_times).await.unwrap();
    settings::set(&**db, "sms.quiet_hours", "off").await.unwrap();
    let (desk, _) = desks::enroll(&**db, Some(&c.admin), "Front desk").await.unwrap();
    let zone: chrono_tz::Tz = support::ZONE.parse().unwrap();
    let day = (support::now().with_timezone(&zone) + Days::days(3)).date_naive();
    let starts = zone.from_local_datetime(&day.and_time(NaiveTime::from_hms_opt(10, 0, 0).unwrap())).unwrap();
    let mut booking = support::booking(c.patients[0], c.doctors[0], "10:00", 20);
    booking.date = day.to_string();
    let book = DeskCommand::Book { appointment_id: Uuid::new_v4(), booking };
    commands::apply(&c.pool, &desk, &c.reception, Uuid::new_v4(), &book, support::now()).await.unwrap();
    drop(db);
    (c, starts.with_timezone(&Utc))
}

/// The sender plans reminders a day ahead: one per rule per appointment time, none twice, the
/// old time's withdrawn when the appointment moves, and none in quiet hours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_are_planned_once_per_rule_and_follow_a_move() {
    let c = support::clinic().await;
    let db = c.pool.get().await.unwrap();
    settings::set(&**db, "sms.reminders", "24h,2h").await.unwrap();
    settings::set(&**db, "sms.quiet_hours", "off").await.unwrap();
    let (desk, _) = desks::enroll(&**db, Some(&c.admin), "Front desk").await.unwrap();
    let zone: chrono_tz::Tz = support::ZONE.parse().unwrap();
    let day = (support::now().with_timezone(&zone) + Days::days(3)).date_naive();
    let at = |time: &str| {
        let local = day.and_time(NaiveTime::parse_from_str(time, "%H:%M").unwrap());
        zone.from_local_datetime(&local).unwrap().with_timezone(&chrono::Utc)
    };
    let mut booking = support::booking(c.patients[0], c.doctors[0], "10:00", 20);
    booking.date = day.to_string();
    let id = Uuid::new_v4();
    commands::apply(
        &c.pool,
        &desk,
        &c.reception,
        Uuid::new_v4(),
        &DeskCommand::Book { appointment_id: id, booking },
        support::now(),
    )
    .await
    .unwrap();
    let planned = |sql: &str| c.pg.psql("clinic", sql);
    let due_24h = at("10:00") - Days::days(1);

    assert_eq!(reminders::plan(&**db, due_24h - Days::hours(25)).await.unwrap(), 0, "not yet within the day ahead");
    assert_eq!(reminders::plan(&**db, due_24h - Days::hours(1)).await.unwrap(), 2);
    assert_eq!(reminders::plan(&**db, due_24h - Days::hours(1)).await.unwrap(), 0, "planned once");
    assert_eq!(
        planned("SELECT string_agg(to_char(next_attempt_at AT TIME ZONE 'Europe/London', 'DD HH24:MI'), ', ' ORDER BY next_attempt_at)
                 FROM sms_notifications WHERE kind = 'reminder' AND state = 'pending'"),
        format!("{} 10:00, {} 08:00", (day - Days::days(1)).format("%d"), day.format("%d"))
    );
    let body = planned("SELECT body FROM sms_notifications WHERE kind = 'reminder' LIMIT 1");
    assert!(body.starts_with("Riverside Clinic: reminder, you see Dr Meredith Grey on"), "{body}");

    // The clinic drops the day-before reminder: the one waiting is withdrawn, saying why; the
    // two-hour one stays, and planning again queues nothing twice.
    assert_eq!(clinicdesk_server::clinic_settings::set(&**db, "sms.reminders", "2h").await.unwrap(), 1);
    assert_eq!(
        planned("SELECT to_char(next_attempt_at AT TIME ZONE 'Europe/London', 'HH24:MI') || ' ' || state || coalesce(': ' || error_message, '')
                 FROM sms_notifications WHERE kind = 'reminder' ORDER BY next_attempt_at"),
        "10:00 skipped: Withdrawn: the clinic's reminder times changed and 24h is no longer one of them.\n08:00 pending"
    );
    assert_eq!(
        planned("SELECT actor_label || ': ' || detail FROM audit_log WHERE action = 'settings.update'"),
        "clinic server: sms.reminders \"24h,2h\" to \"2h\"",
        "the change is in the clinic's trail"
    );
    assert_eq!(reminders::plan(&**db, due_24h - Days::hours(1)).await.unwrap(), 0, "planned once");

    // Moved to 08:30 with quiet hours until 08:00: the old reminders are withdrawn; the new 2h
    // reminder (06:30) waits for the end of quiet hours, which still comes first.
    settings::set(&**db, "sms.quiet_hours", "21:00-08:00").await.unwrap();
    let change =
        RescheduleRequest { date: day.to_string(), time: "08:30".into(), minutes: None, expected_version: Some(1) };
    commands::apply(
        &c.pool,
        &desk,
        &c.reception,
        Uuid::new_v4(),
        &DeskCommand::Move { appointment_id: id, change },
        support::now(),
    )
    .await
    .unwrap();
    assert_eq!(planned("SELECT count(*) FROM sms_notifications WHERE kind = 'reminder' AND state = 'skipped'"), "2");
    assert_eq!(
        reminders::plan(&**db, at("08:30") - Days::hours(3)).await.unwrap(),
        1,
        "only the 2h rule is still ahead"
    );
    assert_eq!(
        planned(
            "SELECT to_char(next_attempt_at AT TIME ZONE 'Europe/London', 'HH24:MI') FROM sms_notifications
                 WHERE kind = 'reminder' AND state = 'pending'"
        ),
        "08:00"
    );

    // Ana withdraws her consent after the reminder was planned: the sender does not send it.
    c.pg.psql("clinic", &format!("UPDATE patients SET sms_consent = false WHERE id = '{}'", c.patients[0]));
    let mut lease = clinicdesk_server::sender::SenderLease::try_acquire(&c.url, "test").await.unwrap().unwrap();
    assert!(lease.claim(at("08:30"), 10).await.unwrap().is_empty());
    assert_eq!(
        planned("SELECT error_message FROM sms_notifications WHERE kind = 'reminder' ORDER BY updated_at DESC LIMIT 1"),
        "Not sent: the patient no longer agrees to texts."
    );
}

/// A clinic that moved onto the server: a reminder that fell due before the move ended was its old
/// computer's to send, so the server's catch-up (reminders up to an hour late) leaves it alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_due_before_a_clinic_moved_here_are_left_to_its_old_computer() {
    let (c, starts) = booked_in_three_days("2h").await;
    let db = c.pool.get().await.unwrap();
    let due = starts - Days::hours(2);

    // The move finished ten minutes after the reminder fell due; the server plans twenty after.
    settings::set(&**db, "migration.finished", &(due + Days::minutes(10)).to_rfc3339()).await.unwrap();
    assert_eq!(reminders::plan(&**db, due + Days::minutes(20)).await.unwrap(), 0);
    // A clinic that started on the server catches the same reminder up.
    c.pg.psql("clinic", "DELETE FROM settings WHERE key = 'migration.finished'");
    assert_eq!(reminders::plan(&**db, due + Days::minutes(20)).await.unwrap(), 1);
}

/// A change of the reminder times while the planner is queueing: the change waits for the plan
/// under way, then withdraws what it queued for a dropped time (without taking turns, that reminder
/// would be queued after the withdrawal and sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_of_reminder_times_waits_for_a_plan_under_way_and_withdraws_what_it_queued() {
    let (c, starts) = booked_in_three_days("24h,2h").await;

    // The planner queues both reminders in its transaction, not yet committed...
    let mut planner = c.pool.get().await.unwrap();
    let planning = planner.transaction().await.unwrap();
    let now = starts - Days::hours(25);
    assert_eq!(reminders::plan(&*planning, now).await.unwrap(), 2);
    // ...while an administrator drops the 2h reminder: the change waits for the plan.
    let pool = c.pool.clone();
    let change = tokio::spawn(async move {
        let mut client = pool.get().await.unwrap();
        let tx = client.transaction().await.unwrap();
        let withdrawn = clinic_settings::set(&*tx, "sms.reminders", "24h").await.unwrap();
        tx.commit().await.unwrap();
        withdrawn
    });
    support::until_waiting_on_an_advisory_lock(&c.pool, &change, "the change of reminder times").await;
    planning.commit().await.unwrap();
    assert_eq!(change.await.unwrap(), 1, "the 2h reminder the plan had just queued is withdrawn");
    assert_eq!(
        c.pg.psql("clinic", "SELECT count(*) FROM sms_notifications WHERE kind = 'reminder' AND state = 'pending'"),
        "1"
    );
}

/// A patient who answers the day-before reminder with "C" confirms the visit, which moves the
/// appointment's version on: the reminder already sent for that time is not planned again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_confirmed_after_its_reminder_is_not_reminded_twice() {
    let (c, starts) = booked_in_three_days("24h").await;
    let db = c.pool.get().await.unwrap();
    let due = starts - Days::days(1);
    assert_eq!(reminders::plan(&**db, due - Days::minutes(5)).await.unwrap(), 1);
    // The sender sends it; the patient replies C a few minutes later (the reply rule's write).
    c.pg.psql(
        "clinic",
        "UPDATE sms_notifications SET state = 'delivered', sent_at = next_attempt_at WHERE kind = 'reminder'",
    );
    c.pg.psql("clinic", "UPDATE appointments SET status = 'confirmed', version = version + 1");
    assert_eq!(reminders::plan(&**db, due + Days::minutes(10)).await.unwrap(), 0, "one reminder per time");
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM sms_notifications WHERE kind = 'reminder'"), "1");
}

/// Quiet hours until 08:00 and an 08:30 visit: the 2h and 1h reminders would both go at 08:00.
/// As on one desk, one reminder, not two: the one nearer the visit goes, the other is withdrawn
/// saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_reminders_that_would_go_together_send_one() {
    let c = support::clinic().await;
    let db = c.pool.get().await.unwrap();
    settings::set(&**db, "sms.reminders", "2h,1h").await.unwrap();
    settings::set(&**db, "sms.quiet_hours", "21:00-08:00").await.unwrap();
    let (desk, _) = desks::enroll(&**db, Some(&c.admin), "Front desk").await.unwrap();
    let zone: chrono_tz::Tz = support::ZONE.parse().unwrap();
    let day = (support::now().with_timezone(&zone) + Days::days(3)).date_naive();
    let at = |time: &str| {
        let local = day.and_time(NaiveTime::parse_from_str(time, "%H:%M").unwrap());
        zone.from_local_datetime(&local).unwrap().with_timezone(&Utc)
    };
    let mut booking = support::booking(c.patients[0], c.doctors[0], "08:30", 20);
    booking.date = day.to_string();
    let book = DeskCommand::Book { appointment_id: Uuid::new_v4(), booking };
    commands::apply(&c.pool, &desk, &c.reception, Uuid::new_v4(), &book, support::now()).await.unwrap();

    // The 2h reminder (due 06:30, in quiet hours: 08:00) comes within the day ahead first.
    assert_eq!(reminders::plan(&**db, at("06:30") - Days::hours(24) + Days::minutes(5)).await.unwrap(), 1);
    // Then the 1h one (due 07:30, also 08:00): it goes, the 2h one is withdrawn.
    assert_eq!(reminders::plan(&**db, at("07:30") - Days::hours(24) + Days::minutes(5)).await.unwrap(), 1);
    assert_eq!(
        c.pg.psql(
            "clinic",
            "SELECT string_agg(split_part(idempotency_key, ':', 5) || ' ' || state || coalesce(': ' || error_message, ''), '\n'
                    ORDER BY idempotency_key)
             FROM sms_notifications WHERE kind = 'reminder'"
        ),
        "1h pending\n2h skipped: Not sent: the 1h reminder for the same appointment goes at the same time (one reminder, not two)."
    );
    assert_eq!(reminders::plan(&**db, at("07:30") - Days::hours(23)).await.unwrap(), 0, "and stays one");
}

/// Quiet hours until 08:00 and a 07:30 visit: its 2h reminder (05:30) would go at night or after
/// the visit began, so it is kept skipped with the words reception reads on every desk, as on one
/// desk (the core's `reminders::timing`), and never sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_whose_quiet_hours_last_past_the_visit_is_kept_skipped_saying_why() {
    let c = support::clinic().await;
    let db = c.pool.get().await.unwrap();
    settings::set(&**db, "sms.reminders", "2h").await.unwrap();
    settings::set(&**db, "sms.quiet_hours", "21:00-08:00").await.unwrap();
    let (desk, _) = desks::enroll(&**db, Some(&c.admin), "Front desk").await.unwrap();
    let zone: chrono_tz::Tz = support::ZONE.parse().unwrap();
    let day = (support::now().with_timezone(&zone) + Days::days(3)).date_naive();
    let due = zone
        .from_local_datetime(&day.and_time(NaiveTime::from_hms_opt(5, 30, 0).unwrap()))
        .unwrap()
        .with_timezone(&Utc);
    let mut booking = support::booking(c.patients[0], c.doctors[0], "07:30", 20);
    booking.date = day.to_string();
    let book = DeskCommand::Book { appointment_id: Uuid::new_v4(), booking };
    commands::apply(&c.pool, &desk, &c.reception, Uuid::new_v4(), &book, support::now()).await.unwrap();

    assert_eq!(reminders::plan(&**db, due - Days::hours(20)).await.unwrap(), 1);
    assert_eq!(
        c.pg.psql("clinic", "SELECT state || ': ' || error_message FROM sms_notifications WHERE kind = 'reminder'"),
        "skipped: Not sent: this reminder fell due in quiet hours, which end at 08:00 — after the appointment starts."
    );
    assert_eq!(reminders::plan(&**db, due - Days::hours(10)).await.unwrap(), 0, "kept once");
    let mut lease = clinicdesk_server::sender::SenderLease::try_acquire(&c.url, "test").await.unwrap().unwrap();
    let reminder = c.pg.psql("clinic", "SELECT id FROM sms_notifications WHERE kind = 'reminder'");
    let claimed = lease.claim(due + Days::hours(1), 10).await.unwrap();
    assert!(!claimed.iter().any(|t| t.id.to_string() == reminder), "never sent");
    drop(lease);
    // Reception's desk shows it with its words, as the planner's own (nothing to deal with: not in
    // "needs attention" with a Resend), as on one desk.
    let (address, _server) = support::serve(&c).await;
    let front = support::desk_computer(&c, address, "Reception").await;
    let (_, rita) = support::sign_in_on(&front, "desk@clinic.example", "desk password 1").await;
    let handled: bool = front
        .clinic
        .db()
        .conn()
        .unwrap()
        .query_row("SELECT handled_at IS NOT NULL FROM sms_notifications WHERE kind = 'reminder'", [], |r| r.get(0))
        .unwrap();
    assert!(handled, "kept on the desk as the planner's own");
    let attention = front.clinic.appointment_texts().needs_attention(&rita.caller, 50).unwrap();
    assert!(
        attention.iter().all(|item| item.text.text.kind != clinicdesk_core::sms::TextKind::Reminder),
        "{attention:?}"
    );
}
