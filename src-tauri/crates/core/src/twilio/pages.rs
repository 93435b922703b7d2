//! Following Twilio's paging (`meta.next_page_url`) without ever leaving the configured host: the
//! next page's path and query are kept, its scheme and host replaced by ours, so basic-auth
//! credentials are only ever sent where ClinicDesk was told to send them.

use super::error::TwilioError;
use super::http::{Auth, TwilioHttp};
use serde::de::DeserializeOwned;
use serde::Deserialize;

#[derive(Deserialize)]
struct Meta {
    next_page_url: Option<String>,
}

#[derive(Deserialize)]
struct Page {
    meta: Meta,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

/// `next` re-rooted at `base` (path and query kept).
pub fn rebase(base: &str, next: &str) -> String {
    let after_scheme = next.split_once("://").map(|(_, rest)| rest).unwrap_or(next);
    let path = after_scheme.find('/').map(|i| &after_scheme[i..]).unwrap_or("/");
    format!("{}{}", base.trim_end_matches('/'), path)
}

/// Every item under `key` across all pages, starting at `first_url` with `query`.
pub async fn all<T: DeserializeOwned>(
    http: &TwilioHttp,
    base: &str,
    first_url: &str,
    query: &[(&str, String)],
    auth: &Auth<'_>,
    key: &str,
    max_pages: usize,
) -> Result<Vec<T>, TwilioError> {
    let mut items = Vec::new();
    let mut page: Page = http.get(first_url, auth, query).await?;
    for _ in 0..max_pages {
        let batch = page.rest.remove(key).unwrap_or(serde_json::Value::Array(vec![]));
        items.extend(serde_json::from_value::<Vec<T>>(batch).map_err(|e| TwilioError::Unreadable(e.to_string()))?);
        match page.meta.next_page_url.filter(|u| !u.is_empty()) {
            Some(next) => page = http.get(&rebase(base, &next), auth, &[]).await?,
            None => return Ok(items),
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    #[test]
    fn next_pages_stay_on_the_configured_host() {
        assert_eq!(
            super::rebase(
                "http://127.0.0.1:4012",
                "https://video.twilio.com/v1/Rooms/RM1/Participants?PageSize=50&Page=1&PageToken=PA2"
            ),
            "http://127.0.0.1:4012/v1/Rooms/RM1/Participants?PageSize=50&Page=1&PageToken=PA2"
        );
        assert_eq!(
            super::rebase("https://video.twilio.com/", "https://evil.example/v1/x?a=1"),
            "https://video.twilio.com/v1/x?a=1"
        );
    }
}
