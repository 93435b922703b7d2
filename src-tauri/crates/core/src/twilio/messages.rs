//! Twilio's Messages resource: send, fetch (to poll delivery), and list (to reconcile an attempt
//! that ended without an answer, and to read the texts patients send back).

use super::config::TwilioAccount;
use super::error::TwilioError;
use super::http::TwilioHttp;
use chrono::{DateTime, Utc};
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
    /// RFC 2822; for an incoming text, when Twilio received it.
    #[serde(default)]
    pub date_sent: Option<String>,
    /// "inbound" for a text sent to the clinic; "outbound-api" (and others) for its own.
    #[serde(default)]
    pub direction: Option<String>,
}

impl Message {
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        rfc2822(self.date_created.as_deref())
    }
    pub fn sent_at(&self) -> Option<DateTime<Utc>> {
        rfc2822(self.date_sent.as_deref())
    }
    /// A text a patient sent to the clinic, fully received (an MMS may still be "receiving").
    pub fn is_received_reply(&self) -> bool {
        self.direction.as_deref() == Some("inbound") && self.status == "received"
    }
    /// Twilio's terminal states: no further status change will come.
    pub fn is_final(&self) -> bool {
        crate::sms::TextState::from_twilio(&self.status).is_final()
    }
}

fn rfc2822(date: Option<&str>) -> Option<DateTime<Utc>> {
    date.and_then(|d| DateTime::parse_from_rfc2822(d).ok()).map(|d| d.with_timezone(&Utc))
}

#[derive(Deserialize)]
struct MessagePage {
    messages: Vec<Message>,
    /// The 2010 API's paging: a path (with query) on the same host, or null on the last page.
    #[serde(default)]
    next_page_uri: Option<String>,
}

/// What a trial account puts before every text; what Twilio keeps is the longer body.
pub const TRIAL_PREFIX: &str = "Sent from your Twilio trial account - ";

/// True when `theirs` (a body in Twilio's records) is the text ClinicDesk asked to send as
/// `ours`, allowing for the trial account's notice.
pub fn same_body(ours: &str, theirs: &str) -> bool {
    theirs == ours || theirs.strip_prefix(TRIAL_PREFIX) == Some(ours)
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
    // Exactly one request: a create that failed in an unknown way is reconciled, never repeated here.
    http.post_once(&collection_url(http, account), &account.messages_auth(), &form).await
}

pub async fn fetch(http: &TwilioHttp, account: &TwilioAccount, sid: &str) -> Result<Message, TwilioError> {
    let url =
        format!("{}/2010-04-01/Accounts/{}/Messages/{}.json", http.endpoints.api, account.settings.account_sid, sid);
    http.get(&url, &account.messages_auth(), &[]).await
}

/// Every message to `to` created at or after `not_before` (by Twilio's clock), newest first,
/// across as many pages as that takes (at most `max_pages` of 100). Twilio lists newest first,
/// so paging stops at the first page that reaches back before `not_before`. No `DateSent`
/// filter: it would hide messages still queued, which have no send date yet.
pub async fn list_to_since(
    http: &TwilioHttp,
    account: &TwilioAccount,
    to: &str,
    not_before: DateTime<Utc>,
    max_pages: usize,
) -> Result<Vec<Message>, TwilioError> {
    let query = vec![("To", to.to_owned()), ("PageSize", "100".to_owned())];
    newest_first(http, account, query, |m| m.created_at(), not_before, max_pages)
        .await?
        // Pages left unread: "not found" would not be proof that Twilio never got the text.
        .ok_or_else(|| TwilioError::Unreadable(format!("more than {max_pages} pages of messages to one number")))
}

/// Texts received at `to` (one of the clinic's numbers) sent at or after `not_before` (Twilio's
/// clock), newest first, at most `max_pages` of 200. `DateSent>` is sent as the spec's date-time
/// (as the official libraries do), but Twilio narrows by whole days only, so the rest of that
/// day is listed too: paging stops at the first page that reaches back before `not_before`, and
/// the caller de-duplicates by SID. `None` when the pages ran out before reaching back that far.
pub async fn list_received(
    http: &TwilioHttp,
    account: &TwilioAccount,
    to: &str,
    not_before: DateTime<Utc>,
    max_pages: usize,
) -> Result<Option<Vec<Message>>, TwilioError> {
    let query = vec![
        ("To", to.to_owned()),
        ("DateSent>", not_before.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        ("PageSize", "200".to_owned()),
    ];
    let found = newest_first(http, account, query, |m| m.sent_at(), not_before, max_pages).await?;
    Ok(found.map(|all| all.into_iter().filter(Message::is_received_reply).collect()))
}

/// The list from `query`, newest first, kept while `date_of` is at or after `not_before` (or
/// unknown), following `next_page_uri` until a page reaches back before `not_before`. `None`:
/// `max_pages` were read and the list went on.
async fn newest_first(
    http: &TwilioHttp,
    account: &TwilioAccount,
    query: Vec<(&str, String)>,
    date_of: impl Fn(&Message) -> Option<DateTime<Utc>>,
    not_before: DateTime<Utc>,
    max_pages: usize,
) -> Result<Option<Vec<Message>>, TwilioError> {
    let auth = account.messages_auth();
    let mut page: MessagePage = http.get(&collection_url(http, account), &auth, &query).await?;
    let mut found = Vec::new();
    for _ in 0..max_pages.max(1) {
        let reached_back = page.messages.iter().any(|m| date_of(m).is_some_and(|d| d < not_before));
        found.extend(page.messages.into_iter().filter(|m| date_of(m).is_none_or(|d| d >= not_before)));
        match page.next_page_uri.filter(|next| !next.is_empty() && !reached_back) {
            Some(next) => page = http.get(&super::pages::rebase(&http.endpoints.api, &next), &auth, &[]).await?,
            None => return Ok(Some(found)),
        }
    }
    Ok(None)
}
