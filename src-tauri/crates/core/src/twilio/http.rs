//! The one HTTP client for Twilio: form-encoded requests, basic auth, connect and request timeouts,
//! and bounded retries with exponential backoff, jitter and a capped `Retry-After`.
//!
//! Which failures are retried depends on the method. A GET may be repeated after any failure. A
//! POST creates something (a text, a room), and a 5xx, a timeout or a dropped connection may come
//! AFTER Twilio created it, so a POST is only repeated when Twilio certainly did not act: 429, or a
//! connection that was never made. Everything else is the caller's "outcome unknown" to resolve.
//!
//! Every answer's `Date` header tells Twilio's clock; the last offset seen is kept so that
//! reconciliation can compare Twilio's timestamps with ours even when this computer's clock is off.

use super::error::TwilioError;
use rand::Rng;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The longest `Retry-After` honoured. Twilio asks for seconds; anything longer (a misbehaving
/// proxy asking for hours) would leave a worker asleep, so it is capped and the text rescheduled.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The longest a file download may take (a chat attachment is at most 10 MB).
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(180);

/// Marks "no `Date` header seen yet" in `TwilioHttp::clock_offset_ms`.
const UNKNOWN_OFFSET: i64 = i64::MIN;

pub const API_URL_ENV: &str = "CLINICDESK_TWILIO_API_URL";
pub const VIDEO_URL_ENV: &str = "CLINICDESK_TWILIO_VIDEO_URL";
pub const CONVERSATIONS_URL_ENV: &str = "CLINICDESK_TWILIO_CONVERSATIONS_URL";
pub const MESSAGING_URL_ENV: &str = "CLINICDESK_TWILIO_MESSAGING_URL";
pub const SERVERLESS_URL_ENV: &str = "CLINICDESK_TWILIO_SERVERLESS_URL";
pub const SERVERLESS_UPLOAD_URL_ENV: &str = "CLINICDESK_TWILIO_SERVERLESS_UPLOAD_URL";
pub const MEDIA_URL_ENV: &str = "CLINICDESK_TWILIO_MEDIA_URL";

/// Where Twilio's REST APIs live. Overridable so tests reach a fake or a Prism mock; the
/// defaults are Twilio's own hosts and no test host appears in production code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub api: String,
    pub video: String,
    pub conversations: String,
    /// Messaging Services (the numbers a service sends from, where replies arrive).
    pub messaging: String,
    /// Serverless (where the patient's call page is published).
    pub serverless: String,
    /// Where Serverless takes asset files: a host of its own, not in the spec.
    pub serverless_upload: String,
    /// The Media Content Service (chat attachments): not in Twilio's OpenAPI specs.
    pub media: String,
}

impl Endpoints {
    pub fn twilio() -> Self {
        Endpoints {
            api: "https://api.twilio.com".into(),
            video: "https://video.twilio.com".into(),
            conversations: "https://conversations.twilio.com".into(),
            messaging: "https://messaging.twilio.com".into(),
            serverless: "https://serverless.twilio.com".into(),
            serverless_upload: "https://serverless-upload.twilio.com".into(),
            media: "https://mcs.us1.twilio.com".into(),
        }
    }

    /// Twilio's hosts, with any `CLINICDESK_TWILIO_*_URL` override applied.
    pub fn from_env() -> Self {
        let pick = |var: &str, default: String| {
            std::env::var(var)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(|v| v.trim().trim_end_matches('/').to_owned())
                .unwrap_or(default)
        };
        let defaults = Self::twilio();
        Endpoints {
            api: pick(API_URL_ENV, defaults.api),
            video: pick(VIDEO_URL_ENV, defaults.video),
            conversations: pick(CONVERSATIONS_URL_ENV, defaults.conversations),
            messaging: pick(MESSAGING_URL_ENV, defaults.messaging),
            serverless: pick(SERVERLESS_URL_ENV, defaults.serverless),
            serverless_upload: pick(SERVERLESS_UPLOAD_URL_ENV, defaults.serverless_upload),
            media: pick(MEDIA_URL_ENV, defaults.media),
        }
    }

    /// All of them at one base URL (the fake Twilio serves every API on one port).
    pub fn all_at(base: &str) -> Self {
        let base = base.trim_end_matches('/').to_owned();
        Endpoints {
            api: base.clone(),
            video: base.clone(),
            conversations: base.clone(),
            messaging: base.clone(),
            serverless: base.clone(),
            serverless_upload: base.clone(),
            media: base,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, including the first.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_attempts: 4, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(30) }
    }
}

impl RetryPolicy {
    /// Delay before attempt `attempt + 1`: exponential with "equal jitter", never shorter than what
    /// Twilio asked for in Retry-After, never longer than `max_delay`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exponential = self.base_delay.saturating_mul(2u32.saturating_pow(attempt)).min(self.max_delay);
        let half = exponential / 2;
        let jittered = half + half.mul_f64(rand::thread_rng().gen_range(0.0..=1.0));
        jittered.max(retry_after.unwrap_or_default()).min(self.max_delay.max(retry_after.unwrap_or_default()))
    }
}

/// What a request carries.
enum Body<'a> {
    Form(&'a [(&'a str, String)]),
    /// Built afresh for each attempt (a multipart body is consumed by sending it).
    Multipart(&'a (dyn Fn() -> reqwest::multipart::Form + Sync)),
}

pub struct Auth<'a> {
    pub user: &'a str,
    pub password: &'a str,
}

/// Cheap to clone: clones share the connection pool and the clock offset. The app keeps one.
#[derive(Clone)]
pub struct TwilioHttp {
    client: reqwest::Client,
    /// For pre-signed file links: no credentials ever, and a redirect is followed only to another
    /// https address (at most three), so a link cannot lead the download to plain http or elsewhere.
    downloads: reqwest::Client,
    pub endpoints: Endpoints,
    pub retry: RetryPolicy,
    /// Twilio's clock minus ours, in milliseconds, from the last answer's `Date` header.
    clock_offset_ms: Arc<AtomicI64>,
}

impl TwilioHttp {
    pub fn new(endpoints: Endpoints) -> Self {
        Self::with_timeouts(endpoints, Duration::from_secs(5), Duration::from_secs(20))
    }

    pub fn with_timeouts(endpoints: Endpoints, connect: Duration, request: Duration) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(connect)
            .timeout(request)
            .user_agent(concat!("ClinicDesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("HTTP client configuration is valid");
        let downloads = reqwest::Client::builder()
            .connect_timeout(connect)
            .user_agent(concat!("ClinicDesk/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                if attempt.url().scheme() == "https" && attempt.previous().len() <= 3 {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }))
            .build()
            .expect("HTTP client configuration is valid");
        TwilioHttp {
            client,
            downloads,
            endpoints,
            retry: RetryPolicy::default(),
            clock_offset_ms: Arc::new(AtomicI64::new(UNKNOWN_OFFSET)),
        }
    }

    /// How far Twilio's clock is ahead of this computer's (negative: behind), as last seen in an
    /// answer's `Date` header (whole seconds, so about a second of error). `None` before any answer.
    pub fn twilio_clock_offset(&self) -> Option<chrono::Duration> {
        match self.clock_offset_ms.load(Ordering::Relaxed) {
            UNKNOWN_OFFSET => None,
            ms => Some(chrono::Duration::milliseconds(ms)),
        }
    }

    fn note_twilio_clock(&self, headers: &reqwest::header::HeaderMap) {
        let twilio_now = headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok());
        if let Some(twilio_now) = twilio_now {
            let offset = twilio_now.with_timezone(&chrono::Utc) - chrono::Utc::now();
            self.clock_offset_ms.store(offset.num_milliseconds(), Ordering::Relaxed);
        }
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        url: &str,
        auth: &Auth<'_>,
        query: &[(&str, String)],
    ) -> Result<T, TwilioError> {
        self.call(Method::GET, url, auth, query, Body::Form(&[])).await
    }

    /// A GET made exactly once: for a caller that tries again later by itself rather than waiting
    /// here (the chat attachments' fetch, which must not sit out a long `Retry-After`).
    pub async fn get_once<T: DeserializeOwned>(&self, url: &str, auth: &Auth<'_>) -> Result<T, TwilioError> {
        self.once(Method::GET, url, auth, &[], &Body::Form(&[])).await
    }

    /// A POST, repeated only when Twilio certainly did not act on it (429, no connection).
    pub async fn post<T: DeserializeOwned>(
        &self,
        url: &str,
        auth: &Auth<'_>,
        form: &[(&str, String)],
    ) -> Result<T, TwilioError> {
        self.call(Method::POST, url, auth, &[], Body::Form(form)).await
    }

    /// A multipart POST (a file upload), repeated under the same rule as [`Self::post`].
    pub async fn post_multipart<T: DeserializeOwned>(
        &self,
        url: &str,
        auth: &Auth<'_>,
        form: &(dyn Fn() -> reqwest::multipart::Form + Sync),
    ) -> Result<T, TwilioError> {
        self.call(Method::POST, url, auth, &[], Body::Multipart(form)).await
    }

    /// A POST made exactly once: the caller decides about any retry (the outbox does, so that it
    /// can check its lock and reschedule instead of waiting here).
    pub async fn post_once<T: DeserializeOwned>(
        &self,
        url: &str,
        auth: &Auth<'_>,
        form: &[(&str, String)],
    ) -> Result<T, TwilioError> {
        self.once(Method::POST, url, auth, &[], &Body::Form(form)).await
    }

    /// Downloads a file from a pre-signed link (a chat attachment's direct link), sending no
    /// credentials: the link is its own authorisation and may be on another company's host.
    /// Stops reading, and answers `Ok(None)`, as soon as the file proves larger than `max_bytes`.
    /// One attempt; the caller tries again later (with a fresh link: they expire in minutes).
    pub async fn download(&self, url: &str, max_bytes: u64) -> Result<Option<Vec<u8>>, TwilioError> {
        // A file may take longer than an API answer on a slow line; still not forever.
        let mut response = self.downloads.get(url).timeout(DOWNLOAD_TIMEOUT).send().await.map_err(no_answer)?;
        let status = response.status();
        if !status.is_success() {
            // Enough of the answer to say why; never the whole of whatever a server sends.
            let mut body = Vec::new();
            while let Ok(Some(chunk)) = response.chunk().await {
                body.extend_from_slice(&chunk);
                if body.len() >= 4096 {
                    break;
                }
            }
            return Err(TwilioError::from_answer(status.as_u16(), &body, None));
        }
        if response.content_length().is_some_and(|length| length > max_bytes) {
            return Ok(None);
        }
        let mut file = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|err| TwilioError::NoAnswer {
            maybe_processed: true,
            detail: format!("download cut off: {err}"),
        })? {
            if (file.len() + chunk.len()) as u64 > max_bytes {
                return Ok(None);
            }
            file.extend_from_slice(&chunk);
        }
        Ok(Some(file))
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        auth: &Auth<'_>,
        query: &[(&str, String)],
        body: Body<'_>,
    ) -> Result<T, TwilioError> {
        let idempotent = method == Method::GET;
        let mut attempt = 0;
        loop {
            let result = self.once(method.clone(), url, auth, query, &body).await;
            let err = match result {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            // A GET may always be repeated; anything else only when Twilio certainly did not act.
            let may_retry = err.is_retryable()
                || (idempotent && (err.is_server_error() || matches!(err, TwilioError::NoAnswer { .. })));
            attempt += 1;
            if !may_retry || attempt >= self.retry.max_attempts {
                return Err(err);
            }
            let retry_after = match &err {
                TwilioError::Api { retry_after, .. } => *retry_after,
                _ => None,
            };
            let delay = self.retry.delay(attempt - 1, retry_after);
            tracing::warn!(attempt, delay_ms = delay.as_millis() as u64, code = ?err.code(), "Twilio request will be retried");
            tokio::time::sleep(delay).await;
        }
    }

    async fn once<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        auth: &Auth<'_>,
        query: &[(&str, String)],
        body: &Body<'_>,
    ) -> Result<T, TwilioError> {
        let mut request = self.client.request(method, url).basic_auth(auth.user, Some(auth.password));
        if !query.is_empty() {
            request = request.query(query);
        }
        match body {
            Body::Form(form) if !form.is_empty() => request = request.form(form),
            Body::Form(_) => {}
            Body::Multipart(make) => request = request.multipart(make()),
        }
        let response = request.send().await.map_err(no_answer)?;
        let status = response.status();
        self.note_twilio_clock(response.headers());
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|secs| Duration::from_secs(secs).min(MAX_RETRY_AFTER));
        let body = response
            .bytes()
            .await
            .map_err(|err| TwilioError::NoAnswer { maybe_processed: true, detail: format!("answer cut off: {err}") })?;
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return serde_json::from_slice(&body).map_err(|err| TwilioError::Unreadable(err.to_string()));
        }
        Err(TwilioError::from_answer(status.as_u16(), &body, retry_after))
    }
}

/// Classifies a transport failure: a request that never left (connect failure) was certainly not
/// processed; one that timed out or lost its connection afterwards might have been.
fn no_answer(err: reqwest::Error) -> TwilioError {
    let never_sent = err.is_connect() || err.is_builder();
    TwilioError::NoAnswer { maybe_processed: !never_sent, detail: err.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_jittered_bounded_and_honours_retry_after() {
        let policy =
            RetryPolicy { max_attempts: 6, base_delay: Duration::from_millis(100), max_delay: Duration::from_secs(2) };
        for attempt in 0..6 {
            let full = Duration::from_millis(100 * 2u64.pow(attempt)).min(Duration::from_secs(2));
            let d = policy.delay(attempt, None);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?} not within [{:?}, {full:?}]", full / 2);
        }
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(5))),
            Duration::from_secs(5),
            "Retry-After wins over the ceiling"
        );
    }

    #[test]
    fn endpoints_default_to_twilio_and_trim_overrides() {
        assert_eq!(Endpoints::twilio().api, "https://api.twilio.com");
        assert_eq!(Endpoints::all_at("http://127.0.0.1:9/").video, "http://127.0.0.1:9");
    }
}
