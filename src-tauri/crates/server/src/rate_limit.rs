//! How fast one desk may call the server: a token bucket per enrolled desk, checked before
//! anything reads the database, so a desk gone wrong (or a stolen credential in a loop) slows down
//! itself and not the clinic. A desk sending its offline queue, taking its first copy of a large
//! clinic or a receptionist clicking fast stays far below the limit; a desk over it is answered 429
//! in words with `Retry-After`, which desks treat as "the server cannot be reached now" and try
//! again by themselves.
//!
//! Invariants:
//! - Only enrolled desks have a bucket of their own (the server keeps the SHA-256 of each
//!   credential; the set is read at start, every half minute, soon after an unknown credential
//!   came, and whenever a desk is recognised). Every other request shares one bucket: guessed
//!   credentials, however many, can never take an enrolled desk's share, and cost no database
//!   look beyond that bucket.
//! - Memory is bounded by the enrolled desks.
//! - `/health` and a clinic moving in (`/v1/migrate`, an administrator's parts) are not limited.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use clinicdesk_core::error::ErrorCode;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How often the enrolled desks are read again (and, at the soonest, after an unknown credential).
const REFRESH_EVERY: Duration = Duration::from_secs(30);
const REFRESH_SOONEST: Duration = Duration::from_secs(5);

/// The bucket every request without an enrolled desk's credential shares.
const UNKNOWN: [u8; 32] = [0; 32];

/// How many requests one desk may make: `burst` at once, then `per_second`.
#[derive(Debug, Clone, Copy)]
pub struct DeskLimits {
    pub per_second: f64,
    pub burst: f64,
}

impl Default for DeskLimits {
    /// A desk's normal use is a few requests a second; a burst covers an offline queue sent at
    /// once or a first copy of a large clinic, page after page.
    fn default() -> Self {
        DeskLimits { per_second: 100.0, burst: 1000.0 }
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of the enrolled desks, and the one everyone else shares.
#[derive(Clone)]
pub struct Limiter {
    limits: DeskLimits,
    buckets: Arc<Mutex<HashMap<[u8; 32], Bucket>>>,
    enrolled: Arc<RwLock<HashSet<[u8; 32]>>>,
    /// Rung when an unknown credential was seen: the enrolled desks are read again soon.
    pub(crate) look_again: Arc<tokio::sync::Notify>,
}

fn key_of(credential: &[u8]) -> [u8; 32] {
    Sha256::digest(credential).into()
}

impl Limiter {
    pub fn new(limits: DeskLimits) -> Limiter {
        Limiter { limits, buckets: Arc::default(), enrolled: Arc::default(), look_again: Arc::default() }
    }

    /// Replaces the enrolled desks (the SHA-256 of each credential, as the server stores it);
    /// the buckets of desks no longer enrolled go.
    pub fn set_enrolled(&self, digests: impl IntoIterator<Item = [u8; 32]>) {
        let set: HashSet<[u8; 32]> = digests.into_iter().collect();
        self.buckets.lock().unwrap_or_else(|p| p.into_inner()).retain(|k, _| *k == UNKNOWN || set.contains(k));
        *self.enrolled.write().unwrap_or_else(|p| p.into_inner()) = set;
    }

    /// A desk the server just recognised (enrolled since the last read).
    pub fn recognised(&self, credential: &str) {
        self.enrolled.write().unwrap_or_else(|p| p.into_inner()).insert(key_of(credential.as_bytes()));
    }

    /// Takes one request from the bucket of the desk with `credential` at `now`; `false` when it
    /// is empty.
    pub fn allow(&self, credential: &[u8], now: Instant) -> bool {
        let mut key = key_of(credential);
        if !self.enrolled.read().unwrap_or_else(|p| p.into_inner()).contains(&key) {
            key = UNKNOWN;
            self.look_again.notify_one();
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
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

/// Reads the enrolled desks now, then every half minute, and soon after an unknown credential.
pub async fn keep_enrolled(limiter: Limiter, pool: deadpool_postgres::Pool) {
    loop {
        if let Err(e) = read_enrolled(&limiter, &pool).await {
            tracing::warn!(error = %e, "could not read the enrolled desks for the rate limit; trying again later");
        }
        tokio::time::sleep(REFRESH_SOONEST).await;
        let _ = tokio::time::timeout(REFRESH_EVERY - REFRESH_SOONEST, limiter.look_again.notified()).await;
    }
}

/// Reads the enrolled desks once.
pub async fn read_enrolled(limiter: &Limiter, pool: &deadpool_postgres::Pool) -> crate::error::Result<()> {
    let client = pool.get().await?;
    let rows = client.query("SELECT credential_hash FROM desks WHERE revoked_at IS NULL", &[]).await?;
    let digests = rows.iter().filter_map(|r| {
        let hex: String = r.get(0);
        hex::decode(hex).ok().and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
    });
    limiter.set_enrolled(digests);
    Ok(())
}

/// The middleware: every limited request is counted against its desk.
pub async fn limit(State(limiter): State<Limiter>, request: Request, next: Next) -> Response {
    let credential = request.headers().get("x-clinicdesk-desk").map(HeaderValue::as_bytes).unwrap_or_default();
    if limiter.allow(credential, Instant::now()) {
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
    fn an_enrolled_desk_gets_its_burst_then_its_rate_and_never_another_desks_share() {
        let limiter = Limiter::new(DeskLimits { per_second: 2.0, burst: 3.0 });
        limiter.set_enrolled([key_of(b"desk-a"), key_of(b"desk-b")]);
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
    fn guessed_credentials_share_one_bucket_and_never_an_enrolled_desks() {
        let limiter = Limiter::new(DeskLimits { per_second: 1.0, burst: 2.0 });
        limiter.set_enrolled([key_of(b"front")]);
        let t0 = Instant::now();
        let guesses = (0..1000).filter(|i| limiter.allow(format!("guess {i}").as_bytes(), t0)).count();
        assert_eq!(guesses, 2, "a thousand different guesses share one burst");
        assert!(limiter.allow(b"front", t0) && limiter.allow(b"front", t0), "the desk keeps its whole share");
        assert_eq!(limiter.buckets.lock().unwrap().len(), 2, "memory: the desk's bucket and the shared one");
        // A desk enrolled since the last read shares until it is recognised.
        assert!(!limiter.allow(b"new desk", t0));
        limiter.recognised("new desk");
        assert!(limiter.allow(b"new desk", t0));
        // A desk removed loses its bucket at the next read.
        limiter.set_enrolled([key_of(b"new desk")]);
        assert!(!limiter.allow(b"front", t0), "front is a stranger now");
    }
}
