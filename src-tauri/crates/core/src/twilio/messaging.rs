//! Twilio's Messaging Services (API v1 on its own host): the numbers a service sends from, which
//! are also the numbers patients' replies arrive at.

use super::config::TwilioAccount;
use super::error::TwilioError;
use super::http::TwilioHttp;
use serde::Deserialize;

/// A service with more numbers than this is not a clinic's: stop rather than page for ever.
const MAX_PAGES: usize = 20;

#[derive(Deserialize)]
struct ServiceNumber {
    phone_number: String,
}

/// Every number in the Messaging Service `service_sid` (MG...), E.164.
pub async fn service_numbers(
    http: &TwilioHttp,
    account: &TwilioAccount,
    service_sid: &str,
) -> Result<Vec<String>, TwilioError> {
    let base = &http.endpoints.messaging;
    let url = format!("{base}/v1/Services/{service_sid}/PhoneNumbers");
    let query = [("PageSize", "100".to_owned())];
    let numbers: Vec<ServiceNumber> =
        super::pages::all(http, base, &url, &query, &account.messages_auth(), "phone_numbers", MAX_PAGES).await?;
    Ok(numbers.into_iter().map(|n| n.phone_number).collect())
}
