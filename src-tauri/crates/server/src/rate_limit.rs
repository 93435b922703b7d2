//! How fast one desk may call the server: a token bucket per desk credential (the
//! `X-ClinicDesk-Desk` header), checked before anything reads the database, so a desk gone wrong
//! (or a stolen credential in a loop) slows down itself and not the clinic. A desk sending its
//! offline queue or a receptionist clicking fast stays far below the limit; a desk over it is
//! answered 429 in words with `Retry-After`, which desks treat as "the server cannot be reached
//! now" and try again by themselves.
//!
//! Invariants:
//! - One desk's bucket never limits another desk. Requests without the header share one bucket
//!   (they are refused anyway, but each would cost a database look).
//! - Memory stays bounded: at most [`MAX_DESKS`] buckets (and one shared by newcomers while they
//!   are all taken); the idle ones are dropped first.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use clinicdesk_core::error::ErrorCode;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The most buckets kept (desks and guessed credentials alike).
pub const MAX_DESKS: usize = 10_000;

/// The bucket newcomers share while every place is taken.
const OVERFLOW: [u8; 32] = [0; 32];

/// How many requests one desk may make: `burst` at once, then `per_second`.
#[derive(Debug, Clone, Copy)]
pub struct DeskLimits {
    pub per_second: f64,
    pub burst: f64,
}

impl Default for DeskLimits {
    /// A desk's normal use is a few requests a second (a long-poll every 30 s, a command per
    /// click, its offline queue one change at a time); 20 desks benchmarking stay under it.
    fn default() -> Self {
        DeskLimits { per_second: 40.0, burst: 200.0 }
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of every desk that called lately.
#[derive(Clone)]
pub struct Limiter {
    limits: DeskLimits,
    buckets: Arc<Mutex<HashMap<[u8; 32], Bucket>>>,
}

impl Limiter {
    pub fn new(limits: DeskLimits) -> Limiter {
        Limiter { limits, buckets: Arc::default() }
    }

    /// Takes one request from `desk`'s bucket at `now`; `false` when it is empty.
    pub fn allow(&self, desk: &[u8], now: Instant) -> bool {
        let mut key: [u8; 32] = Sha256::digest(desk).into();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_DESKS && !buckets.contains_key(&key) {
            // Buckets idle long enough to be full again lose nothing by going.
            let idle = Duration::from_secs_f64(self.limits.burst / self.limits.per_second.max(0.001));
            buckets.retain(|_, b| now.saturating_duration_since(b.at) < idle);
            if buckets.len() >= MAX_DESKS {
                // Still full (thousands of credentials in a minute): newcomers share one bucket.
                key = OVERFLOW;
            }
        }
        let bucket = buckets.entry(key).or_insert(Bucket { tokens: self.limits.burst, at: now });
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * self.limits.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.limits.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The middleware: every `/v1` request is counted against its desk.
pub async fn limit(State(limiter): State<Limiter>, request: Request, next: Next) -> Response {
    let desk = request.headers().get("x-clinicdesk-desk").map(HeaderValue::as_bytes).unwrap_or_default().to_vec();
    if limiter.allow(&desk, Instant::now()) {
        return next.run(request).await;
    }
    tracing::warn!("a desk is sending too many requests; answering 429");
    let body = serde_json::json!({
        "code": ErrorCode::Unavailable,
        "message": "The clinic server is busy: this computer sent too many requests at once. It tries again by itself in a moment.",
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_desk_gets_its_burst_then_its_rate_and_never_another_desks_share() {
        let limiter = Limiter::new(DeskLimits { per_second: 2.0, burst: 3.0 });
        let t0 = Instant::now();
        let allowed = (0..5).filter(|_| limiter.allow(b"desk-a", t0)).count();
        assert_eq!(allowed, 3, "the burst, then nothing at the same instant");
        assert!(limiter.allow(b"desk-b", t0), "another desk has its own bucket");
        assert!(!limiter.allow(b"desk-a", t0 + Duration::from_millis(400)), "0.8 of a request refilled");
        assert!(limiter.allow(b"desk-a", t0 + Duration::from_millis(600)), "one request a half second");
        assert!(!limiter.allow(b"desk-a", t0 + Duration::from_millis(600)));
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..5).filter(|_| limiter.allow(b"desk-a", later)).count(), 3, "refilled up to the burst only");
    }

    #[test]
    fn the_buckets_stay_bounded_and_idle_desks_go_first() {
        let limiter = Limiter::new(DeskLimits { per_second: 1.0, burst: 1.0 });
        let t0 = Instant::now();
        for i in 0..MAX_DESKS {
            assert!(limiter.allow(&i.to_le_bytes(), t0));
        }
        assert!(limiter.allow(b"newcomer", t0), "no room while every desk is recent: a shared bucket");
        assert!(!limiter.allow(b"another newcomer", t0), "which they share");
        assert!(!limiter.allow(&0usize.to_le_bytes(), t0), "a known desk keeps its own bucket (spent here)");
        assert_eq!(limiter.buckets.lock().unwrap().len(), MAX_DESKS + 1);
        let later = t0 + Duration::from_secs(5);
        assert!(limiter.allow(b"one more", later), "idle buckets make room");
        assert_eq!(limiter.buckets.lock().unwrap().len(), 1);
    }
}
