//! Chat attachments at Twilio's Media Content Service (MCS). A kept chat message lists its
//! attachments by SID (ME...); the file itself is fetched in two steps: the media's metadata, with
//! the API key, at `GET {media}/v1/Services/{IS}/Media/{ME}`, whose `links.content_direct_temporary`
//! is a pre-signed link valid for a few minutes; then the bytes from that link, with no credentials
//! (it may be on a cloud store's host, which must never see the clinic's key).
//!
//! MCS is not in Twilio's OpenAPI specs, so Prism cannot check these requests; the fake Twilio
//! (`twilio-fake/src/media.rs`) follows Twilio's documented Media resource.

use super::config::TwilioAccount;
use super::error::TwilioError;
use super::http::TwilioHttp;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct MediaInfo {
    pub sid: String,
    #[serde(default)]
    pub size: Option<i64>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub filename: Option<String>,
    #[serde(default)]
    pub links: MediaLinks,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct MediaLinks {
    /// The pre-signed link to the bytes (minutes of life).
    #[serde(default)]
    pub content_direct_temporary: Option<String>,
}

/// The media's metadata and a fresh direct link.
pub async fn info(
    http: &TwilioHttp,
    account: &TwilioAccount,
    service_sid: &str,
    media_sid: &str,
) -> Result<MediaInfo, TwilioError> {
    let url = format!("{}/v1/Services/{service_sid}/Media/{media_sid}", http.endpoints.media);
    // Once: the caller tries again on its next pass instead of sitting out a long Retry-After.
    http.get_once(&url, &account.key_auth()).await
}

/// Whether `sid` has the shape of a Twilio SID with `prefix` (two letters, 32 hex digits): only
/// such SIDs are ever put into an address called with the clinic's key.
pub fn is_sid(sid: &str, prefix: &str) -> bool {
    sid.len() == 34 && sid.starts_with(prefix) && sid[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether a direct link may be followed: https, or plain http only when the Media Content Service
/// itself is reached over plain http (a test's fake on a loopback port). Anything else (a `file:`
/// link, an http link in production) is refused before any request.
pub fn link_allowed(http: &TwilioHttp, link: &str) -> bool {
    link.starts_with("https://") || (link.starts_with("http://") && http.endpoints.media.starts_with("http://"))
}
