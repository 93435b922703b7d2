//! Several desks on one clinic server (issue 12): how long a booking on one desk takes to reach
//! another, how many commands per second the server takes with 20 desks long-polling, and how long a
//! new desk takes to copy a clinic of 500,000 appointments into its encrypted cache. A real
//! PostgreSQL (a throwaway cluster), the real server over loopback HTTP, real desk databases.

use clinicdesk_core::appointments::{AppointmentKind, BookingRequest};
use clinicdesk_core::auth::{Channel, Role};
use clinicdesk_core::patients::PatientInput;
use clinicdesk_core::sync::wire::DeskCommand;
use clinicdesk_core::sync::ServerLink;
use clinicdesk_core::Clinic;
use clinicdesk_server::staff::{signed_in_for_tests, Staff};
use clinicdesk_server::testing::TempPostgres;
use clinicdesk_server::{db, desks, directory, http, schema, settings};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

const ZONE: &str = "Europe/London";
const PASSWORD: &str = "bench password 1";
const DESKS_PULLING: usize = 20;
const SENDERS: usize = 8;

struct Server {
    url: String,
    base: url::Url,
    admin: Staff,
    doctors: Vec<Uuid>,
    patients: Vec<Uuid>,
}

async fn clinic_server(pg: &TempPostgres, name: &str, doctors: usize, patients: usize) -> Server {
    let url = pg.create_database(name);
    let mut login = db::connect(&url, false).await.expect("connect");
    schema::migrate(&mut login).await.expect("migrate");
    settings::set(&login, settings::TIME_ZONE, ZONE).await.unwrap();
    settings::set(&login, settings::COUNTRY, "GB").await.unwrap();
    settings::set(&login, settings::CLINIC_NAME, "Bench Clinic").await.unwrap();
    let admin = directory::add_user(&login, "admin@bench.example", "Ada Admin", Role::Admin, PASSWORD).await.unwrap();
    directory::add_user(&login, "desk@bench.example", "Rita Reception", Role::Reception, PASSWORD).await.unwrap();
    let mut doctor_ids = Vec::new();
    for d in 0..doctors {
        let user = directory::add_user(
            &login,
            &format!("doctor{d}@bench.example"),
            &format!("Dr Number {d}"),
            Role::Doctor,
            PASSWORD,
        )
        .await
        .unwrap();
        doctor_ids.push(directory::add_doctor(&login, user, "General practice").await.unwrap());
    }
    let pool = db::pool(&url, 4).unwrap();
    let reception = signed_in_for_tests(Uuid::nil(), Role::Reception, "desk@bench.example");
    let mut patient_ids = Vec::new();
    for p in 0..patients {
        let input = PatientInput {
            full_name: format!("Patient Number {p}"),
            phone: format!("+4474001{p:05}"),
            date_of_birth: None,
            sms_consent: true,
        };
        patient_ids.push(
            clinicdesk_server::patients::add_patient(&pool, &reception, &input, chrono::Utc::now()).await.unwrap(),
        );
    }
    let (address, _) = http::start(&url, "127.0.0.1:0".parse().unwrap(), name.into(), None).await.unwrap();
    Server {
        url,
        base: format!("http://{address}").parse().unwrap(),
        admin: signed_in_for_tests(admin, Role::Admin, "admin@bench.example"),
        doctors: doctor_ids,
        patients: patient_ids,
    }
}

async fn desk_link(server: &Server, name: &str) -> ServerLink {
    let pool = db::pool(&server.url, 1).unwrap();
    let (_, credential) = desks::enroll(&**pool.get().await.unwrap(), Some(&server.admin), name).await.unwrap();
    let link = ServerLink::new(&server.base, &credential, None).unwrap();
    let signed = link.sign_in("desk@bench.example", PASSWORD).await.expect("sign in");
    link.set_person(&signed);
    link
}

/// Booking k of a run: a distinct slot per (doctor, day, time) and a patient free at that time.
fn booking(server: &Server, k: usize, first_day: i64) -> BookingRequest {
    let doctor = k % server.doctors.len();
    let slot = k / server.doctors.len();
    let day = first_day + (slot / 32) as i64;
    let minute = 8 * 60 + (slot % 32) * 15;
    let date = (chrono::Utc::now().with_timezone(&ZONE.parse::<chrono_tz::Tz>().unwrap())
        + chrono::Duration::days(day))
    .format("%Y-%m-%d")
    .to_string();
    BookingRequest {
        patient_id: server.patients[k % server.patients.len()],
        doctor_id: server.doctors[doctor],
        date,
        time: format!("{:02}:{:02}", minute / 60, minute % 60),
        minutes: 15,
        kind: AppointmentKind::InPerson,
    }
}

fn book(server: &Server, k: usize, first_day: i64) -> DeskCommand {
    DeskCommand::Book { appointment_id: Uuid::new_v4(), booking: booking(server, k, first_day) }
}

pub async fn run(scale: f64) {
    let pg = TempPostgres::start();
    let server = clinic_server(&pg, "desks", 20, 200).await;

    // 1. From a booking on one desk to its appearance on another (the other long-polls).
    let front = desk_link(&server, "Front desk").await;
    let room = Arc::new(desk_link(&server, "Room 1").await);
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<(Uuid, Instant)>();
    let watcher = tokio::spawn({
        let room = room.clone();
        async move {
            let mut cursor = String::new();
            loop {
                let Ok(page) = room.pull(&cursor, Duration::from_secs(20)).await else { continue };
                let now = Instant::now();
                for change in &page.changes {
                    if change.entity == "appointment" && seen_tx.send((change.entity_id, now)).is_err() {
                        return;
                    }
                }
                cursor = page.cursor;
            }
        }
    });
    // Let the watcher catch up with the setup's changes first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let count = ((400.0 * scale) as usize).max(50);
    let mut samples = Vec::with_capacity(count);
    for k in 0..count {
        let command = book(&server, k, 1);
        let DeskCommand::Book { appointment_id, .. } = &command else { unreachable!() };
        let started = Instant::now();
        let outcome = front.command(Uuid::new_v4(), &command).await.expect("command");
        assert!(outcome.get("ok").is_some(), "{outcome}");
        loop {
            let (id, at) = seen_rx.recv().await.expect("the watcher runs");
            if id == *appointment_id {
                samples.push(at - started);
                break;
            }
        }
    }
    watcher.abort();
    crate::scale::report(
        "desks_booking_seen_on_another_desk",
        &mut samples,
        serde_json::json!({ "bookings": count, "transport": "loopback HTTP, long-poll" }),
    );

    // 2. Commands per second with 20 desks long-polling the feed.
    let mut pullers = Vec::new();
    for d in 0..DESKS_PULLING {
        let link = desk_link(&server, &format!("Desk {d}")).await;
        pullers.push(tokio::spawn(async move {
            let mut cursor = String::new();
            loop {
                if let Ok(page) = link.pull(&cursor, Duration::from_secs(20)).await {
                    cursor = page.cursor;
                }
            }
        }));
    }
    let senders: Vec<Arc<ServerLink>> = {
        let mut v = Vec::new();
        for s in 0..SENDERS {
            v.push(Arc::new(desk_link(&server, &format!("Sender {s}")).await));
        }
        v
    };
    let total = ((4_000.0 * scale) as usize).max(400);
    let server = Arc::new(server);
    let started = Instant::now();
    let tasks: Vec<_> = (0..SENDERS)
        .map(|s| {
            let (link, server) = (senders[s].clone(), server.clone());
            tokio::spawn(async move {
                for k in (s..total).step_by(SENDERS) {
                    // Days 40 onwards: clear of part 1's bookings.
                    let outcome = link.command(Uuid::new_v4(), &book(&server, k, 40)).await.expect("command");
                    assert!(outcome.get("ok").is_some(), "{outcome}");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    for puller in pullers {
        puller.abort();
    }
    crate::scale::figure(
        "desks_commands_per_second",
        total as f64 / elapsed.as_secs_f64(),
        "per s",
        serde_json::json!({ "commands": total, "senders": SENDERS, "desks_long_polling": DESKS_PULLING }),
    );

    // 3. A new desk's first copy of a large clinic.
    let appointments = ((500_000.0 * scale) as i64).max(10_000);
    let patients = (appointments / 10).max(1_000);
    let big = clinic_server(&pg, "large", 20, 0).await;
    let loaded = Instant::now();
    bulk_load(&pg, &big, patients, appointments);
    eprintln!("(loaded {appointments} appointments into PostgreSQL in {:.1} s)", loaded.elapsed().as_secs_f64());
    let dir = tempfile::tempdir().unwrap();
    let desk = Clinic::open(dir.path()).expect("the desk's database (run inside scripts/with-keyring.sh)");
    let pool = db::pool(&big.url, 1).unwrap();
    let (_, credential) = desks::enroll(&**pool.get().await.unwrap(), Some(&big.admin), "New desk").await.unwrap();
    desk.desk_sync().join(big.base.as_str(), &credential).unwrap();
    let link = desk.desk_sync().link(None).unwrap();
    desk.desk_sync().sign_in(&link, "desk@bench.example", PASSWORD, Channel::Cli).await.expect("sign in");
    // The same loop as DeskSync::pull, timed in its two halves: the server's answers and the
    // desk's writes.
    let (sync, stream) = (desk.desk_sync(), link.stream());
    let (mut fetching, mut applying, mut applied) = (Duration::ZERO, Duration::ZERO, 0usize);
    let started = Instant::now();
    loop {
        let asked = Instant::now();
        let page = link.pull(&sync.cursor(&stream).unwrap(), Duration::ZERO).await.expect("pull");
        fetching += asked.elapsed();
        if page.changes.is_empty() {
            break;
        }
        let writing = Instant::now();
        applied += sync.apply(&stream, &page).expect("apply");
        applying += writing.elapsed();
    }
    let seconds = started.elapsed().as_secs_f64();
    crate::scale::figure(
        "desks_initial_sync_seconds",
        seconds,
        "s",
        serde_json::json!({
            "appointments": appointments, "patients": patients, "changes_applied": applied,
            "rows_per_second": applied as f64 / seconds,
            "server_answers_s": fetching.as_secs_f64(), "desk_writes_s": applying.as_secs_f64(),
        }),
    );

    // 4. The hourly compaction of that feed after a fifth of the appointments were each changed
    // three more times (rows as the server writes them: the whole record, its version moved on),
    // then again with nothing left to remove (what every later hour costs).
    pg.psql(
        "large",
        "INSERT INTO changes (entity, entity_id, audience, row_data)
           SELECT 'appointment', a.id, 'all', jsonb_set(c.row_data, '{version}', to_jsonb(1 + k))
           FROM appointments a JOIN changes c ON c.entity = 'appointment' AND c.entity_id = a.id,
                generate_series(1, 3) k
           WHERE abs(hashtext(a.id::text)) % 5 = 0;
         ANALYZE changes;",
    );
    let rows_before: i64 = pg.psql("large", "SELECT count(*) FROM changes").parse().unwrap();
    let client = pool.get().await.unwrap();
    let compacting = Instant::now();
    let removed = clinicdesk_server::changes::compact(&**client).await.expect("compact");
    let first = compacting.elapsed().as_secs_f64();
    let again = Instant::now();
    let nothing = clinicdesk_server::changes::compact(&**client).await.expect("compact again");
    crate::scale::figure(
        "feed_compaction_seconds",
        first,
        "s",
        serde_json::json!({
            "feed_rows_before": rows_before, "rows_removed": removed,
            "again_with_nothing_to_remove_s": again.elapsed().as_secs_f64(), "removed_again": nothing,
        }),
    );
}

/// Patients and appointments straight into PostgreSQL, with their feed rows (the server's own
/// booking path would take hours at this size; the desk's side, which is measured, is the same).
fn bulk_load(pg: &TempPostgres, server: &Server, patients: i64, appointments: i64) {
    let doctors: Vec<String> = server.doctors.iter().map(|d| format!("'{d}'::uuid")).collect();
    pg.psql(
        "large",
        &format!(
            "BEGIN;
             INSERT INTO patients (id, full_name, phone, sms_consent)
               SELECT gen_random_uuid(), 'Bulk Patient ' || i, '+447400' || lpad(i::text, 6, '0'), true
               FROM generate_series(1, {patients}) i;
             CREATE TEMP TABLE numbered AS SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM patients;
             INSERT INTO appointments (id, booking_ref, patient_id, doctor_id, starts_at, ends_at, kind)
               SELECT gen_random_uuid(), 'CD-' || lpad(i::text, 7, '0'), p.id, (ARRAY[{doctors}])[1 + i % {nd}],
                      date_trunc('day', now()) + interval '1 day' * (1 + (i / {nd}) / 32) + interval '8 hours'
                        + interval '15 minutes' * ((i / {nd}) % 32),
                      date_trunc('day', now()) + interval '1 day' * (1 + (i / {nd}) / 32) + interval '8 hours 15 minutes'
                        + interval '15 minutes' * ((i / {nd}) % 32),
                      'in_person'
               FROM generate_series(0, {last}) i JOIN numbered p ON p.n = i % {patients};
             INSERT INTO changes (entity, entity_id, audience, row_data)
               SELECT 'patient', id, 'all', jsonb_build_object('id', id, 'full_name', full_name, 'phone', phone,
                      'date_of_birth', null, 'sms_consent', true, 'opted_out_at', null) FROM patients;
             INSERT INTO changes (entity, entity_id, audience, row_data)
               SELECT 'appointment', id, 'all', jsonb_build_object('id', id, 'booking_ref', booking_ref,
                      'patient_id', patient_id, 'doctor_id', doctor_id, 'starts_at', starts_at, 'ends_at', ends_at,
                      'kind', kind, 'status', status, 'cancel_reason', cancel_reason, 'version', version)
               FROM appointments;
             COMMIT;
             -- What autovacuum does within a minute of a load this size; without statistics the
             -- planner would sort each page instead of reading the feed's index in order.
             ANALYZE;",
            doctors = doctors.join(","),
            nd = server.doctors.len(),
            last = appointments - 1,
        ),
    );
}
