//! Twilio's Messages resource: send, fetch (to poll delivery), and list (to reconcile an attempt
//! that ended without an answer).

use super::config::TwilioAccount;
use super::error::TwilioError;
use super::http::TwilioHttp;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

/// The fields ClinicDesk reads from a Message (a subset of Twilio's answer).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Message {
    pub sid: String,
    pub status: String,
    pub to: String,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub error_code: Option<i64>,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub num_segments: Option<String>,
    /// RFC 2822, e.g. "Wed, 18 Aug 2010 20:01:40 +0000".
    #[serde(default)]
    pub date_created: Option<String>,
}

impl Message {
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        self.date_created.as_deref().and_then(|d| DateTime::parse_from_rfc2822(d).ok()).map(|d| d.with_timezone(&Utc))
    }
    /// Twilio's terminal states: no further status change will come.
    pub fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "delivered" | "undelivered" | "failed" | "canceled" | "read")
    }
}

#[derive(Deserialize)]
struct MessagePage {
    messages: Vec<Message>,
}

/// Who the text is from: a number the account owns, or a Messaging Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    Number(String),
    MessagingService(String),
}

impl Sender {
    pub fn of(account: &TwilioAccount) -> Option<Sender> {
        let s = &account.settings;
        s.messaging_service_sid.clone().map(Sender::MessagingService).or_else(|| s.from.clone().map(Sender::Number))
    }
}

fn collection_url(http: &TwilioHttp, account: &TwilioAccount) -> String {
    format!("{}/2010-04-01/Accounts/{}/Messages.json", http.endpoints.api, account.settings.account_sid)
}

/// `ValidityPeriod` keeps a reminder from arriving hours late after a carrier backlog.
pub async fn create(
    http: &TwilioHttp,
    account: &TwilioAccount,
    to: &str,
    body: &str,
    validity_seconds: Option<u32>,
) -> Result<Message, TwilioError> {
    let sender = Sender::of(account).ok_or(TwilioError::NotConfigured)?;
    let mut form = vec![("To", to.to_owned()), ("Body", body.to_owned())];
    match sender {
        Sender::Number(from) => form.push(("From", from)),
        Sender::MessagingService(sid) => form.push(("MessagingServiceSid", sid)),
    }
    if let Some(v) = validity_seconds {
        form.push(("ValidityPeriod", v.clamp(1, 36_000).to_string()));
    }
    http.post(&collection_url(http, account), &account.messages_auth(), &form).await
}

pub async fn fetch(http: &TwilioHttp, account: &TwilioAccount, sid: &str) -> Result<Message, TwilioError> {
    let url =
        format!("{}/2010-04-01/Accounts/{}/Messages/{}.json", http.endpoints.api, account.settings.account_sid, sid);
    http.get(&url, &account.messages_auth(), &[]).await
}

/// Messages to `to` sent on or after `since_date` (Twilio's `DateSent>` filter is by day), newest first.
pub async fn list_to(
    http: &TwilioHttp,
    account: &TwilioAccount,
    to: &str,
    since_date: Option<NaiveDate>,
    page_size: u32,
) -> Result<Vec<Message>, TwilioError> {
    let mut query = vec![("To", to.to_owned()), ("PageSize", page_size.clamp(1, 1000).to_string())];
    if let Some(date) = since_date {
        query.push(("DateSent>", date.format("%Y-%m-%d").to_string()));
    }
    let page: MessagePage = http.get(&collection_url(http, account), &account.messages_auth(), &query).await?;
    Ok(page.messages)
}
