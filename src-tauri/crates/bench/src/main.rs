//! `clinicdesk-bench`: prints figures as JSON lines; asserts nothing (speed is not a test).
//! Run through `scripts/bench.sh`, which supplies the fake Twilio's URL and the Python figures.
//!
//! 1. tokens/s minted by the core (grants identical to the official test vector);
//! 2. the fake Twilio's own ceiling (raw concurrent POSTs, no database);
//! 3. outbox throughput with pacing off, every text durable in SQLCipher before and after its
//!    send (enqueue + send + SID recorded), sequential and concurrent.

mod desks;
mod review;
mod scale;

use clinicdesk_core::auth::{Channel, SetupRequest};
use clinicdesk_core::settings::ClinicSettingsInput;
use clinicdesk_core::sms::worker::{OutboxConfig, OutboxWorker};
use clinicdesk_core::sms::{NewText, TextKind};
use clinicdesk_core::twilio::config::TwilioSettingsInput;
use clinicdesk_core::twilio::token::{TokenKey, TokenMinter, TokenRequest, DEFAULT_MAX_TTL_SECONDS};
use clinicdesk_core::twilio::{Endpoints, TwilioHttp};
use clinicdesk_core::Clinic;
use std::time::{Duration, Instant};

const ACCOUNT: &str = "AC00000000000000000000000000000000";
const KEY: &str = "SK11111111111111111111111111111111";
const SECRET: &str = "test-api-key-secret-0123456789abcdef";
const AUTH_TOKEN: &str = "fake-auth-token-0123456789abcdef";

fn report(name: &str, count: usize, elapsed: Duration, extra: serde_json::Value) {
    let per_second = count as f64 / elapsed.as_secs_f64();
    println!(
        "{}",
        serde_json::json!({ "bench": name, "count": count, "seconds": elapsed.as_secs_f64(), "per_second": per_second, "detail": extra })
    );
}

fn tokens(count: usize) {
    let key = TokenKey { account_sid: ACCOUNT, api_key_sid: KEY, api_key_secret: SECRET, region: None };
    let request = TokenRequest {
        identity: "dr.smith".into(),
        video_room: Some("appt-42".into()),
        chat_service_sid: Some("IS22222222222222222222222222222222".into()),
        ttl_seconds: 3600,
    };
    let started = Instant::now();
    let minter = TokenMinter::new(&key, DEFAULT_MAX_TTL_SECONDS);
    let mut bytes = 0;
    for i in 0..count {
        bytes += minter.mint(&request, 1_700_000_000 + i as i64).expect("mint").len();
    }
    report("rust_tokens", count, started.elapsed(), serde_json::json!({ "bytes": bytes }));
}

async fn fake_ceiling(url: &str, count: usize, in_flight: usize) {
    let client = reqwest::Client::new();
    let endpoint = format!("{url}/2010-04-01/Accounts/{ACCOUNT}/Messages.json");
    let started = Instant::now();
    let sends = (0..count).map(|i| {
        let (client, endpoint) = (client.clone(), endpoint.clone());
        async move {
            let form = [
                ("To", "+447400000001".to_owned()),
                ("From", "+15005550006".to_owned()),
                ("Body", format!("ceiling {i}")),
            ];
            let answer = client
                .post(&endpoint)
                .basic_auth(ACCOUNT, Some(AUTH_TOKEN))
                .form(&form)
                .send()
                .await
                .expect("fake answers");
            assert!(answer.status().is_success());
        }
    });
    futures_util::stream::iter(sends).for_each_concurrent(in_flight, |f| f).await;
    report("fake_ceiling", count, started.elapsed(), serde_json::json!({ "in_flight": in_flight }));
}

use futures_util::StreamExt;

fn clinic(dir: &std::path::Path, url: &str) -> Clinic {
    let clinic = Clinic::open(dir).expect("open clinic (needs the Secret Service: scripts/bench.sh)");
    clinic
        .auth()
        .set_up(SetupRequest {
            clinic: ClinicSettingsInput {
                clinic_name: "Bench".into(),
                time_zone: "UTC".into(),
                default_country: "GB".into(),
                idle_timeout_minutes: None,
                sms_messages_per_second: Some(0),
            },
            admin_email: "bench@clinic.example".into(),
            admin_name: "Bench".into(),
            admin_password: "bench password 1".into(),
        })
        .expect("set up");
    let admin =
        clinic.auth().sign_in("bench@clinic.example", "bench password 1", Channel::Cli).expect("sign in").caller;
    clinic
        .twilio()
        .configure(
            &admin,
            TwilioSettingsInput {
                account_sid: ACCOUNT.into(),
                api_key_sid: KEY.into(),
                from: Some("+15005550006".into()),
                messaging_service_sid: None,
                conversations_service_sid: None,
                media_region: None,
                auth_token: Some(AUTH_TOKEN.into()),
                api_key_secret: Some(SECRET.into()),
            },
        )
        .expect("configure");
    let _ = url;
    clinic
}

async fn outbox(url: &str, count: usize, concurrency: u32) {
    let dir = tempfile::tempdir().expect("temp dir");
    let clinic = clinic(dir.path(), url);
    let admin =
        clinic.auth().sign_in("bench@clinic.example", "bench password 1", Channel::Cli).expect("sign in").caller;
    let http = TwilioHttp::new(Endpoints::all_at(url));
    let config = OutboxConfig { messages_per_second: 0, concurrency, ..Default::default() };
    let now = chrono::Utc::now();
    let texts: Vec<NewText> = (0..count)
        .map(|i| NewText {
            kind: TextKind::Confirmation,
            to: format!("+4474001{:05}", i % 100_000),
            body: format!("Your appointment is confirmed ({i})."),
            patient_id: None,
            appointment_id: None,
            idempotency_key: format!("bench:{concurrency}:{i}"),
            due_at: now,
            about_starts_at: None,
            reminder_rule: None,
        })
        .collect();
    let started = Instant::now();
    clinic.texts().enqueue(&admin, &texts).expect("enqueue");
    let enqueued = started.elapsed();
    let mut worker = OutboxWorker::new(&clinic, &http, config).expect("worker");
    loop {
        worker.run_once().await.expect("pass");
        let waiting = clinic.texts().list(&admin, Some(clinicdesk_core::sms::TextState::Pending), 1).expect("list");
        if waiting.is_empty() {
            break;
        }
    }
    let elapsed = started.elapsed();
    let sent = clinic.texts().list(&admin, Some(clinicdesk_core::sms::TextState::Sent), 1000).expect("list").len();
    let name = if concurrency > 1 { "rust_outbox_concurrent" } else { "rust_outbox_sequential" };
    report(
        name,
        count,
        elapsed,
        serde_json::json!({ "concurrency": concurrency, "enqueue_seconds": enqueued.as_secs_f64(), "with_sid_in_db": sent.min(count) }),
    );
}

/// The core's Twilio client alone, one text after another, no database: the like-for-like
/// counterpart of the Python library's plain sequential sending.
async fn plain_sequential(url: &str, count: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let clinic = clinic(dir.path(), url);
    let account = clinic.twilio().account().expect("account").expect("configured");
    let http = TwilioHttp::new(Endpoints::all_at(url));
    let started = Instant::now();
    for i in 0..count {
        clinicdesk_core::twilio::messages::create(&http, &account, "+447400300001", &format!("Plain {i}"), None)
            .await
            .expect("send");
    }
    report("rust_plain_sequential_send", count, started.elapsed(), serde_json::json!({}));
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let clinic_scale: f64 =
        std::env::var("CLINICDESK_BENCH_CLINIC_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    if std::env::var("CLINICDESK_BENCH_ONLY").as_deref() == Ok("scale") {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = std::env::var_os("CLINICDESK_BENCH_CLINIC_DIR").map(std::path::PathBuf::from);
        let dir = dir.unwrap_or_else(|| temp.path().to_owned());
        return tokio::task::block_in_place(|| scale::run(&dir, clinic_scale));
    }
    // The review figures alone, on a clinic an earlier scale run left in CLINICDESK_BENCH_CLINIC_DIR
    // (with CLINICDESK_BENCH_CLINIC_REUSE=1 its consultations are reused too), for profiling.
    if std::env::var("CLINICDESK_BENCH_ONLY").as_deref() == Ok("review") {
        let dir = std::env::var_os("CLINICDESK_BENCH_CLINIC_DIR")
            .map(std::path::PathBuf::from)
            .expect("CLINICDESK_BENCH_CLINIC_DIR");
        return tokio::task::block_in_place(|| review::run(&dir, clinic_scale));
    }
    // The reminder planner alone, on a clinic an earlier scale run left in CLINICDESK_BENCH_CLINIC_DIR
    // (with its keyring: CLINICDESK_KEYRING_HOME), for profiling.
    if std::env::var("CLINICDESK_BENCH_ONLY").as_deref() == Ok("reminders") {
        let dir = std::env::var_os("CLINICDESK_BENCH_CLINIC_DIR")
            .map(std::path::PathBuf::from)
            .expect("CLINICDESK_BENCH_CLINIC_DIR");
        return tokio::task::block_in_place(|| scale::reminders_only(&dir));
    }
    // Several desks on one clinic server (a throwaway PostgreSQL; desk databases need the keyring).
    if std::env::var("CLINICDESK_BENCH_ONLY").as_deref() == Ok("desks") {
        return desks::run(clinic_scale).await;
    }
    let url = std::env::var("CLINICDESK_BENCH_FAKE_URL")
        .expect("CLINICDESK_BENCH_FAKE_URL (scripts/bench.sh starts the fake)");
    let scale: usize = std::env::var("CLINICDESK_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    if std::env::var("CLINICDESK_BENCH_ONLY").as_deref() == Ok("outbox_sequential") {
        return outbox(&url, 1_000 * scale, 1).await;
    }
    tokens(200_000 * scale);
    fake_ceiling(&url, 5_000 * scale, 32).await;
    plain_sequential(&url, 1_000 * scale).await;
    outbox(&url, 1_000 * scale, 1).await;
    outbox(&url, 1_000 * scale, 32).await;
}
