//! The CLI and a clinic server (a real PostgreSQL, the server in-process): `server migrate-from
//! DATA_DIR` moves a one-desk clinic onto an empty server (ids, staff passwords and the audit trail
//! kept; the old folder is then kept to read; a second clinic cannot be mixed in), and the CLI on a desk
//! (`cli_on_desk.rs`).
//!
//! Needs the OS keyring (scripts/test.sh runs the suite inside an unlocked test keyring).

mod clinic_server_support;

use clinic_server_support::{clinicdesk, empty_server, json, ADMIN, PASSWORD};
use clinicdesk_core::auth::Role;
use clinicdesk_core::sync::ServerLink;
use clinicdesk_server::{desks, directory, http};
use serde_json::Value;

/// A one-desk London clinic: its administrator, a doctor, two patients, two appointments.
fn one_desk_clinic() -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    clinicdesk(
        d,
        &[
            "init",
            "--admin-email",
            ADMIN,
            "--time-zone",
            "Europe/London",
            "--country",
            "GB",
            "--clinic-name",
            "Riverside Clinic",
        ],
    )
    .assert()
    .success();
    clinicdesk(
        d,
        &["--as", ADMIN, "user", "add", "--email", "okafor@clinic.example", "--role", "doctor", "--name", "Dr Okafor"],
    )
    .env("CLINICDESK_NEW_PASSWORD", "doctor password 1")
    .assert()
    .success();
    let doctor = json(d, &["doctor", "add", "--user", "okafor@clinic.example", "--specialization", "GP"]);
    let day = (chrono::Utc::now().date_naive() + chrono::Duration::days(30)).to_string();
    let mut appointments = Vec::new();
    for (name, phone, time, video) in
        [("Olivia Smith", "07400 123456", "09:00", false), ("Noah Jones", "07400 123457", "10:00", true)]
    {
        let patient = json(d, &["patient", "add", "--name", name, "--phone", phone]);
        let mut book = vec![
            "appointment",
            "book",
            "--patient",
            patient["id"].as_str().unwrap(),
            "--doctor",
            doctor["id"].as_str().unwrap(),
            "--at",
        ];
        let at = format!("{day} {time}");
        book.extend([at.as_str(), "--minutes", "20"]);
        if video {
            book.push("--video");
        }
        let booked = json(d, &book);
        appointments.push(booked["appointment"]["id"].as_str().or(booked["id"].as_str()).unwrap().to_string());
    }
    // The doctor's notes for the video appointment (written ahead, as a doctor may).
    clinicdesk(
        d,
        &["--as", "okafor@clinic.example", "consultation", "note", &appointments[1], "--text", "Bring the inhaler."],
    )
    .env("CLINICDESK_PASSWORD", "doctor password 1")
    .assert()
    .success();
    (dir, appointments)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_desk_clinic_moves_onto_an_empty_server_with_its_ids_passwords_and_trail() {
    let (clinic, appointment_ids) = one_desk_clinic();
    let (pg, url, owner) = empty_server().await;
    let admin = directory::add_user(&owner, ADMIN, "Ada Admin", Role::Admin, PASSWORD).await.unwrap();
    let (_, credential) = desks::enroll(&owner, None, "Migration").await.unwrap();
    let (address, _server) = http::start(&url, "127.0.0.1:0".parse().unwrap(), "test".into(), None).await.unwrap();
    let server = format!("http://{address}");
    let line = format!("Its credential: {credential}");
    let migrate = |dir: &std::path::Path| {
        clinicdesk(
            dir,
            &[
                "--json",
                "--as",
                ADMIN,
                "server",
                "migrate-from",
                dir.to_str().unwrap(),
                "--server",
                &server,
                "--credential",
                &line,
            ],
        )
        .output()
        .unwrap()
    };

    // Its history: a video consultation held (who joined, the chat with a photo), two texts (a
    // link with its key) and a patient's reply, made here as the app would have kept them.
    let (photo, reply) = (format!("ME{}", "1".repeat(32)), format!("SM{}", "2".repeat(32)));
    {
        let old = clinicdesk_core::Clinic::open(clinic.path()).unwrap();
        let conn = old.db().conn().unwrap();
        let video = &appointment_ids[1];
        conn.execute_batch(&format!(
            "UPDATE consultations SET status = 'completed', room_name = 'cd-moved', doctor_identity = 'd-1', patient_identity = 'p-1',
                    room_sid = 'RM{rm}', conversation_sid = 'CH{rm}', chat_service_sid = 'IS{rm}',
                    started_at = '2026-11-01T10:00:00.000Z', ended_at = '2026-11-01T10:20:00.000Z',
                    recording_consent_at = '2026-11-01T10:01:00.000Z' WHERE appointment_id = '{video}';
             INSERT INTO consultation_note_versions VALUES
               ('{video}', 0, 'Bring the inhaler.', '2026-11-01T10:20:00.000Z', (SELECT id FROM users WHERE email = 'okafor@clinic.example')),
               ('{video}', 1, 'Bring the inhaler. Technique shown.', '2026-11-01T11:00:00.000Z', (SELECT id FROM users WHERE email = 'okafor@clinic.example'));
             UPDATE consultations SET notes = 'Bring the inhaler. Technique shown.' WHERE appointment_id = '{video}';
             INSERT INTO consultation_participants VALUES ('{video}', 'PA{rm}', 'd-1', 'doctor', '2026-11-01T10:00:00.000Z', '2026-11-01T10:20:00.000Z', 1200),
                                                          ('{video}', 'PB{rm}', 'p-1', 'patient', '2026-11-01T10:02:00.000Z', '2026-11-01T10:19:00.000Z', 1020);
             INSERT INTO chat_messages VALUES ('{video}', 0, 'IM{rm}', 'p-1', 'patient', 'Here is the rash.',
                                               '[{{\"sid\":\"{photo}\",\"content_type\":\"image/png\",\"filename\":\"rash.png\",\"size\":2000}}]', '2026-11-01T10:05:00.000Z'),
                                              ('{video}', 1, 'IN{rm}', 'd-1', 'doctor', 'Thank you.', NULL, '2026-11-01T10:06:00.000Z');
             INSERT INTO chat_attachments (media_sid, appointment_id, message_index, filename, content_type, size, state, content, kept_at)
               VALUES ('{photo}', '{video}', 0, 'rash.png', 'image/png', 2000, 'kept', zeroblob(2000), '2026-11-01T10:30:00.000Z');
             INSERT INTO sms_notifications (id, appointment_id, kind, to_e164, body, segments, encoding, idempotency_key, state, twilio_sid,
                                            attempts, created_at, updated_at, sent_at)
               VALUES ('{t1}', '{video}', 'invite', '+447400123457', 'Join: https://call.example/join#t=SECRET-TOKEN see you', 1, 'gsm7',
                       'invite-moved', 'delivered', 'SM{rm}', 1, '2026-11-01T09:50:00.000Z', '2026-11-01T09:51:00.000Z', '2026-11-01T09:50:05.000Z'),
                      ('{t2}', '{video}', 'confirmation', '+447400123457', 'You are booked.', 1, 'gsm7',
                       'confirm-moved', 'undelivered', 'SN{rm}', 1, '2026-10-30T09:00:00.000Z', '2026-10-30T09:01:00.000Z', '2026-10-30T09:00:05.000Z');
             INSERT INTO sms_notifications (id, appointment_id, kind, to_e164, body, segments, encoding, idempotency_key, state,
                                            attempts, next_attempt_at, created_at, updated_at)
               VALUES ('{t3}', '{video}', 'reminder', '+447400123457', 'Reminder: tomorrow.', 1, 'gsm7', 'reminder-waiting', 'pending',
                       0, '2099-01-01T09:00:00.000Z', '2026-11-01T09:00:00.000Z', '2026-11-01T09:00:00.000Z');
             INSERT INTO sms_inbound (sid, from_e164, to_e164, body, received_at, handling, read_at, read_by, recorded_at)
               VALUES ('{reply}', '+447400123457', '+15005550006', 'Can I bring my son?', '2026-11-02T08:00:00.000Z', 'inbox',
                       '2026-11-02T09:00:00.000Z', (SELECT id FROM users WHERE email = '{ADMIN}'), '2026-11-02T08:00:30.000Z');",
            rm = "a".repeat(32),
            t1 = uuid::Uuid::new_v4(),
            t2 = uuid::Uuid::new_v4(),
            t3 = uuid::Uuid::new_v4(),
        ))
        .unwrap();
    }

    let out = migrate(clinic.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let moved: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (moved["consultations"].as_u64(), moved["texts"].as_u64(), moved["replies"].as_u64(), moved["files"].as_u64()),
        (Some(1), Some(2), Some(1), Some(1)),
        "{moved}"
    );
    let video = &appointment_ids[1];
    assert_eq!(
        pg.psql(
            "clinic",
            &format!(
                "SELECT status || ' ' || jsonb_array_length(participants) || ' ' || jsonb_array_length(chat) || ' ' || (recording_consent_at IS NOT NULL)
                 FROM consultations WHERE appointment_id = '{video}'"
            )
        ),
        "completed 2 2 true"
    );
    // Fed as if made here: the state to every desk, who joined and the chat to the doctor's only.
    let doctor = pg.psql("clinic", &format!("SELECT doctor_id FROM appointments WHERE id = '{video}'"));
    assert_eq!(
        pg.psql("clinic", &format!("SELECT string_agg(entity || ' ' || audience, ',' ORDER BY entity) FROM changes WHERE entity_id = '{video}' AND entity LIKE 'consultation%'")),
        format!("consultation all,consultation_note_history doctor:{doctor},consultation_notes doctor:{doctor},consultation_record doctor:{doctor}")
    );
    assert_eq!(
        pg.psql(
            "clinic",
            &format!(
                "SELECT state || ' ' || length(content) FROM consultation_attachments WHERE media_sid = '{photo}'"
            )
        ),
        "kept 2000",
        "the photo the clinic kept moves with it (no need for Twilio to still have it)"
    );
    assert_eq!(
        pg.psql(
            "clinic",
            "SELECT string_agg(kind || ' ' || state || ' ' || body, ' | ' ORDER BY created_at) FROM sms_notifications"
        ),
        "confirmation undelivered You are booked. | invite delivered Join: https://call.example/join#… see you",
        "a link's key never leaves the old folder; a reminder still waiting stays (the server plans its own)"
    );
    assert_eq!(pg.psql("clinic", "SELECT count(*) FROM changes WHERE entity = 'text'"), "2", "every desk sees them");
    assert_eq!(
        pg.psql(
            "clinic",
            &format!(
                "SELECT handling || ' ' || body || ' ' || (read_by = '{admin}') FROM sms_inbound WHERE sid = '{reply}'"
            )
        ),
        "inbox Can I bring my son? true",
        "read by the administrator, under the server's id for them"
    );
    assert_eq!(pg.psql("clinic", "SELECT count(*) FROM changes WHERE entity = 'text_reply'"), "1");
    assert_eq!((moved["patients"].as_u64(), moved["appointments"].as_u64()), (Some(2), Some(2)), "{moved}");
    assert!(moved["audit"].as_u64().unwrap() >= 6, "the clinic's trail came along: {moved}");
    // The doctor's notes came too, for that doctor's desks (and administrators') only.
    assert_eq!(moved["notes"].as_u64(), Some(1), "{moved}");
    let notes = pg.psql(
        "clinic",
        &format!("SELECT notes FROM consultation_notes WHERE appointment_id = '{}'", appointment_ids[1]),
    );
    assert_eq!(notes, "Bring the inhaler. Technique shown.");
    // With their history after the end: who amended them and when, as kept on the desk.
    assert_eq!(
        pg.psql(
            "clinic",
            &format!(
                "SELECT string_agg(v.version || ' ' || v.text || ' ' || u.email || ' ' || to_char(v.saved_at AT TIME ZONE 'UTC', 'HH24:MI'), ' | ' ORDER BY v.version)
                 FROM consultation_note_versions v JOIN users u ON u.id = v.saved_by WHERE v.appointment_id = '{}'",
                appointment_ids[1]
            )
        ),
        "0 Bring the inhaler. okafor@clinic.example 10:20 | 1 Bring the inhaler. Technique shown. okafor@clinic.example 11:00"
    );
    assert_eq!(
        pg.psql("clinic", "SELECT audience LIKE 'doctor:%' FROM changes WHERE entity = 'consultation_notes'"),
        "t"
    );
    for id in &appointment_ids {
        let created_by = pg.psql("clinic", &format!("SELECT created_by FROM appointments WHERE id = '{id}'"));
        assert_eq!(created_by, admin.to_string(), "same id, booked by the server's own administrator");
    }
    // The doctor keeps their password: they sign in on the server with it.
    let link = ServerLink::new(&server.parse().unwrap(), &credential, None).unwrap();
    let doctor = link.sign_in("okafor@clinic.example", "doctor password 1").await.unwrap();
    assert_eq!(doctor.role, "doctor");
    assert!(doctor.doctor_id.is_some(), "still a bookable doctor");

    // The old folder is kept to read: its records are there, changes and a second move are
    // refused with a sentence pointing to the server (and its outbox sends nothing: core's
    // outbox tests). Nothing arrived twice.
    let listed = json(clinic.path(), &["patient", "search", "Olivia"]);
    assert!(listed.to_string().contains("Olivia Smith"), "{listed}");
    let again = migrate(clinic.path());
    assert!(!again.status.success());
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(said.contains(&format!("moved onto the clinic server at {server}")), "{said}");
    let add = clinicdesk(
        clinic.path(),
        &["--as", ADMIN, "patient", "add", "--name", "Late Comer", "--phone", "07400 123458"],
    )
    .output()
    .unwrap();
    assert!(!add.status.success());
    assert!(
        String::from_utf8_lossy(&add.stderr).contains("kept to read only"),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    assert_eq!(pg.psql("clinic", "SELECT count(*) FROM appointments"), "2");
    // Its outbox is the server's now: `outbox run` says so (not that another program is sending).
    let run = clinicdesk(clinic.path(), &["--as", ADMIN, "outbox", "run"]).output().unwrap();
    assert!(!run.status.success());
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(said.contains("kept to read only") && !said.contains("Another ClinicDesk"), "{said}");

    // The last answer lost (or the folder's marking failed): run again, nothing more is sent and
    // the folder is marked moved, so it never texts beside the server.
    {
        let old = clinicdesk_core::Clinic::open(clinic.path()).unwrap();
        old.db().conn().unwrap().execute("DELETE FROM settings WHERE key = 'clinic.moved_to'", []).unwrap();
    }
    let rerun = migrate(clinic.path());
    assert!(rerun.status.success(), "{}", String::from_utf8_lossy(&rerun.stderr));
    let rerun: Value = serde_json::from_slice(&rerun.stdout).unwrap();
    assert_eq!(rerun["already_finished"], true, "{rerun}");
    let add = clinicdesk(
        clinic.path(),
        &["--as", ADMIN, "patient", "add", "--name", "Late Comer", "--phone", "07400 123458"],
    )
    .output()
    .unwrap();
    assert!(
        String::from_utf8_lossy(&add.stderr).contains("kept to read only"),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    assert_eq!(pg.psql("clinic", "SELECT count(*) FROM appointments"), "2");
    // The server's trail says who came with the clinic, and that the move finished.
    let came = pg.psql(
        "clinic",
        "SELECT count(*) FROM audit_log WHERE action = 'user.add' AND detail LIKE '%moved with clinic%'",
    );
    assert_eq!(came, "1", "the doctor (the administrator was known by email)");
    assert_eq!(pg.psql("clinic", "SELECT count(*) FROM settings WHERE key = 'migration.finished'"), "1");

    // Another clinic cannot be mixed in.
    let (other, _) = one_desk_clinic();
    let refused = migrate(other.path());
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("already holds another clinic"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

/// Changes pause while a move runs, so none made meanwhile is missing on the server. A move that
/// stops before the server has the clinic lets them go on; one cut short (the CLI killed midway,
/// its folder left marked as moving) keeps them paused until it is run again and finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_pause_while_a_clinic_moves_and_go_on_if_the_move_stops_early() {
    let (clinic, _) = one_desk_clinic();
    let (pg, url, owner) = empty_server().await;
    directory::add_user(&owner, ADMIN, "Ada Admin", Role::Admin, PASSWORD).await.unwrap();
    let (_, credential) = desks::enroll(&owner, None, "Migration").await.unwrap();
    let (address, _server) = http::start(&url, "127.0.0.1:0".parse().unwrap(), "test".into(), None).await.unwrap();
    let server = format!("http://{address}");
    let migrate = |credential: &str| {
        let args = ["--json", "--as", ADMIN, "server", "migrate-from", clinic.path().to_str().unwrap()];
        clinicdesk(clinic.path(), &args).args(["--server", &server, "--credential", credential]).output().unwrap()
    };
    let add = |name: &str, phone: &str| {
        clinicdesk(clinic.path(), &["--as", ADMIN, "patient", "add", "--name", name, "--phone", phone])
            .output()
            .unwrap()
    };

    // The server refuses the desk credential: nothing reached it, and this folder carries on.
    let refused = migrate("not-the-credential");
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("carries on as before"), "{said}");
    assert_eq!(pg.psql("clinic", "SELECT count(*) FROM patients"), "0");
    let early = add("Early Bird", "07400 123460");
    assert!(early.status.success(), "{}", String::from_utf8_lossy(&early.stderr));

    // A run killed midway leaves the folder marked as moving: changes wait, with a sentence
    // saying why and who to ask; the outbox waits too (core's outbox tests).
    {
        let old = clinicdesk_core::Clinic::open(clinic.path()).unwrap();
        let mark = serde_json::json!({ "url": server, "at": chrono::Utc::now(), "finished": false }).to_string();
        old.db()
            .conn()
            .unwrap()
            .execute("INSERT INTO settings (key, value, updated_at) VALUES ('clinic.moved_to', ?1, 'now')", [mark])
            .unwrap();
    }
    let paused = add("Late Comer", "07400 123461");
    assert!(!paused.status.success());
    let said = String::from_utf8_lossy(&paused.stderr);
    assert!(said.contains(&format!("is being moved onto the clinic server at {server}")), "{said}");
    assert!(said.contains("paused until the move finishes"), "{said}");
    // That earlier run may have left parts on the server: a re-run that fails at once (here the
    // credential) must not let changes go on beside them.
    let failed_again = migrate("not-the-credential");
    assert!(!failed_again.status.success());
    assert!(String::from_utf8_lossy(&failed_again.stderr).contains("stay paused"));
    let still = add("Late Comer", "07400 123461");
    assert!(String::from_utf8_lossy(&still.stderr).contains("paused until the move finishes"));

    // Run again: it finishes, with the patient added before the pause; the folder is kept to read.
    let line = format!("Its credential: {credential}");
    let done = migrate(&line);
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    assert_eq!(pg.psql("clinic", "SELECT count(*) FROM patients WHERE full_name = 'Early Bird'"), "1");
    assert_eq!(pg.psql("clinic", "SELECT count(*) FROM patients WHERE full_name = 'Late Comer'"), "0");
    let after = add("Late Comer", "07400 123461");
    assert!(String::from_utf8_lossy(&after.stderr).contains("kept to read only"));

    // This folder's own trail tells the story: started, stopped and went on; the re-run after the
    // killed one, stopped but still paused; the last run, moved.
    let trail = json(clinic.path(), &["audit", "--limit", "50"]);
    let moves: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "clinic.move_to_server")
        .filter_map(|e| e["detail"].as_str())
        .collect();
    let story: Vec<&str> = moves
        .iter()
        .rev()
        .map(|d| match d {
            d if d.starts_with("moving onto the clinic server at http://127.0.0.1") => "paused",
            d if d.contains("read to move onto a clinic server") => "read out",
            d if d.starts_with("the move onto a clinic server stopped before it finished") => "went on",
            d if d.starts_with("moved onto the clinic server at http://127.0.0.1") => "moved",
            other => other,
        })
        .collect();
    assert_eq!(story, ["paused", "read out", "went on", "paused", "read out", "paused", "read out", "moved"]);
}
