//! Exactly one text sender per clinic: the advisory-lock lease, claims, and the generation fence,
//! with sessions cut and real server processes killed.

mod support;

use clinicdesk_server::sender::{Outcome, SenderLease};
use clinicdesk_server::testing::TempPostgres;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn queue_texts(c: &support::TestClinic, n: usize) {
    for i in 0..n {
        c.pg.psql(
            "clinic",
            &format!(
                "INSERT INTO sms_notifications (id, kind, to_phone, body, idempotency_key, next_attempt_at)
                 VALUES (gen_random_uuid(), 'custom', '+447400123456', 'Text {i}', 'test:{i}', now() - interval '1 minute')"
            ),
        );
    }
}

/// Ends the database session holding the sender's advisory lock, as a crash or a cut cable would.
fn cut_sender_session(c: &support::TestClinic) {
    let ended = c.pg.psql(
        "clinic",
        "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND classid = 1128551237 AND objid = 1313097042",
    );
    assert_eq!(ended, "1", "exactly one session held the sender lock");
}

#[tokio::test]
async fn one_sender_at_a_time_and_a_standby_takes_over_what_was_in_flight() {
    let c = support::clinic().await;
    queue_texts(&c, 3);
    let mut first =
        SenderLease::try_acquire(&c.url, "desk-server-1").await.unwrap().expect("the first takes the lease");
    assert!(SenderLease::try_acquire(&c.url, "desk-server-2").await.unwrap().is_none(), "a second process stands by");
    let claimed = first.claim(support::now(), 10).await.unwrap();
    assert_eq!(claimed.len(), 3);
    assert!(claimed.iter().all(|t| t.attempts == 1 && !t.was_in_flight));
    assert!(first
        .finish(claimed[0].id, &Outcome::Sent { sid: "SM00000000000000000000000000000001".into() }, support::now())
        .await
        .unwrap());
    // The holder's session ends with two texts mid-send.
    cut_sender_session(&c);
    assert!(!first.still_held().await);
    let mut second = SenderLease::try_acquire(&c.url, "desk-server-2").await.unwrap().expect("the standby takes over");
    assert_eq!(second.generation(), first.generation() + 1);
    // The new sender gets the two in-flight texts to reconcile, not to send blindly, and they are
    // not counted as new attempts.
    let mut inherited = second.claim(support::now(), 10).await.unwrap();
    inherited.sort_by_key(|t| t.body.clone());
    assert_eq!(inherited.iter().map(|t| t.body.as_str()).collect::<Vec<_>>(), ["Text 1", "Text 2"]);
    assert!(inherited.iter().all(|t| t.was_in_flight && t.attempts == 1));
    // The old holder can write nothing any more.
    assert!(first
        .finish(claimed[1].id, &Outcome::Sent { sid: "SM0000000000000000000000000000000X".into() }, support::now())
        .await
        .is_err());
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM sms_notifications WHERE state = 'sent'"), "1");
    assert_eq!(
        c.pg.psql(
            "clinic",
            &format!(
                "SELECT count(*) FROM sms_notifications WHERE state = 'sending' AND claimed_generation = {}",
                second.generation()
            )
        ),
        "2"
    );
    second.release().await.unwrap();
    assert!(
        SenderLease::try_acquire(&c.url, "desk-server-3").await.unwrap().is_some(),
        "a released lease is free at once"
    );
}

#[tokio::test]
async fn a_holder_fenced_off_by_a_newer_generation_writes_nothing() {
    let c = support::clinic().await;
    queue_texts(&c, 1);
    let mut lease = SenderLease::try_acquire(&c.url, "one").await.unwrap().unwrap();
    let claimed = lease.claim(support::now(), 10).await.unwrap();
    // A newer generation took the lease (the fence does not rely on the advisory lock alone).
    c.pg.psql("clinic", "UPDATE sender_lease SET generation = generation + 1");
    let written = lease
        .finish(claimed[0].id, &Outcome::Failed { code: Some(21211), message: "not a number".into() }, support::now())
        .await
        .unwrap();
    assert!(!written, "a stale generation's result is refused");
    assert!(lease.claim(support::now(), 10).await.unwrap().is_empty(), "and it claims nothing more");
    assert_eq!(c.pg.psql("clinic", "SELECT state FROM sms_notifications"), "sending");
}

struct ServerProcess {
    child: Child,
    url: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(database: &str, name: &str) -> ServerProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_clinicdesk-server"))
        .args(["run", "--listen", "127.0.0.1:0", "--name", name])
        .env("CLINICDESK_DATABASE_URL", database)
        .env("CLINICDESK_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("the server prints where it listens").unwrap();
        if let Some(url) = line.strip_prefix("clinicdesk-server listening on ") {
            break url.to_string();
        }
    };
    // Keep draining its log so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    ServerProcess { child, url }
}

async fn health(server: &ServerProcess) -> serde_json::Value {
    reqwest::get(format!("{}/health", server.url)).await.unwrap().json().await.unwrap()
}

/// `clinicdesk-server init` for a Paris clinic with `admin` as its first administrator.
fn init_clinic(url: &str, admin: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_clinicdesk-server"))
        .args(["init", "--clinic-name", "Clinique du Parc", "--time-zone", "Europe/Paris", "--country", "FR"])
        .args(["--admin-email", admin])
        .env("CLINICDESK_DATABASE_URL", url)
        .env("CLINICDESK_PASSWORD", "a long admin password")
        .output()
        .unwrap()
}

#[tokio::test]
async fn two_server_processes_elect_one_sender_and_the_standby_takes_over_when_it_is_killed() {
    let pg = TempPostgres::start();
    let url = pg.create_database("clinic");
    let init = init_clinic(&url, "admin@clinic.example");
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    assert!(String::from_utf8_lossy(&init.stdout).contains("admin@clinic.example as its administrator"));
    let again = init_clinic(&url, "other@clinic.example");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already set up"));

    let mut servers = vec![start_server(&url, "one"), start_server(&url, "two")];
    // Exactly one becomes the sender (the standby keeps asking every second).
    let sender = wait_for(&servers, |states| states.iter().filter(|s| s["sender"] == true).count() == 1).await;
    let holder = sender.iter().position(|s| s["sender"] == true).unwrap();
    let generation = sender[holder]["sender_generation"].as_i64().unwrap();
    assert!(sender.iter().all(|s| s["database"] == "reachable"));
    // Kill it outright: its database session ends, the lock goes with it, the other takes over.
    let killed = servers.remove(holder);
    drop(killed);
    let after = wait_for(&servers, |states| states[0]["sender"] == true).await;
    assert!(after[0]["sender_generation"].as_i64().unwrap() > generation);
    assert_eq!(pg.psql("clinic", "SELECT holder FROM sender_lease"), after[0]["name"].as_str().unwrap());
}

/// Polls every server's /health until `done` holds (a liveness check with a generous ceiling, not
/// a timing assertion).
async fn wait_for(servers: &[ServerProcess], done: impl Fn(&[serde_json::Value]) -> bool) -> Vec<serde_json::Value> {
    let mut states = Vec::new();
    for _ in 0..600 {
        states = Vec::new();
        for server in servers {
            states.push(health(server).await);
        }
        if done(&states) {
            return states;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the servers never reached the expected state: {states:?}");
}
