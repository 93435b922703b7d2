//! The outbox test rig: a live clinic with Twilio configured against a fresh fake Twilio, an
//! HTTP client with short timeouts, and a worker configuration that waits milliseconds.
#![allow(dead_code)]

use super::common::*;
use clinicdesk_core::sms::worker::{OutboxConfig, OutboxWorker};
use clinicdesk_core::twilio::http::RetryPolicy;
use clinicdesk_core::twilio::{Endpoints, TwilioHttp};
use clinicdesk_twilio_fake::FakeTwilio;
use std::time::Duration;

pub const PATIENT: &str = "+447400123456";

pub struct Rig {
    pub t: TestClinic,
    pub fake: FakeTwilio,
    pub http: TwilioHttp,
    pub config: OutboxConfig,
}

pub fn fast_config() -> OutboxConfig {
    OutboxConfig {
        messages_per_second: 0,
        concurrency: 1,
        max_attempts: 4,
        retry_base: Duration::from_millis(20),
        first_poll: Duration::from_millis(10),
        max_poll: Duration::from_millis(40),
        lock_stale_after: Duration::from_secs(60),
        reconcile_recheck: Duration::from_millis(50),
        hold_recheck: Duration::from_millis(100),
    }
}

pub async fn rig() -> Rig {
    let t = TestClinic::set_up_live();
    let fake = FakeTwilio::start().await;
    t.configure_fake_twilio();
    let mut http =
        TwilioHttp::with_timeouts(Endpoints::all_at(&fake.url()), Duration::from_secs(2), Duration::from_millis(800));
    http.retry =
        RetryPolicy { max_attempts: 3, base_delay: Duration::from_millis(10), max_delay: Duration::from_millis(100) };
    Rig { t, fake, http, config: fast_config() }
}

impl Rig {
    pub fn send(&self, body: &str) -> uuid::Uuid {
        let desk = self.t.admin();
        self.t.clinic.texts().send(&desk, PATIENT, body).unwrap().id
    }
    pub fn state(&self, id: uuid::Uuid) -> clinicdesk_core::sms::TextMessage {
        self.t.clinic.texts().get(&self.t.admin(), id).unwrap()
    }
    pub async fn drain(&self) {
        OutboxWorker::new(&self.t.clinic, &self.http, self.config.clone())
            .unwrap()
            .run_until_empty(Duration::from_secs(20))
            .await
            .unwrap();
    }
    pub async fn once(&self) {
        OutboxWorker::new(&self.t.clinic, &self.http, self.config.clone()).unwrap().run_once().await.unwrap();
    }
}
