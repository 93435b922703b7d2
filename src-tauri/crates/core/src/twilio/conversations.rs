//! Conversations (chat): make sure the consultation's conversation exists, add participants, send
//! and list messages, move a participant's read horizon, close it, and fetch the whole transcript
//! for the record.

use super::config::TwilioAccount;
use super::error::TwilioError;
use super::http::TwilioHttp;
use super::pages;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Conversation {
    pub sid: String,
    #[serde(default)]
    pub unique_name: Option<String>,
    #[serde(default)]
    pub chat_service_sid: Option<String>,
    /// active, inactive or closed.
    #[serde(default)]
    pub state: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ChatParticipant {
    pub sid: String,
    #[serde(default)]
    pub identity: Option<String>,
    /// A JSON string (ClinicDesk writes `{"role":"doctor"}` or `{"role":"patient"}`).
    #[serde(default)]
    pub attributes: Option<String>,
    /// The participant's read horizon: the last message index they have read.
    #[serde(default)]
    pub last_read_message_index: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ChatMessage {
    #[serde(default)]
    pub sid: Option<String>,
    pub index: i64,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    /// ISO 8601.
    pub date_created: String,
    #[serde(default)]
    pub media: Option<serde_json::Value>,
    #[serde(default)]
    pub participant_sid: Option<String>,
}

/// How long a conversation stays open without activity (ISO 8601 duration).
pub const CLOSED_AFTER: &str = "P2D";

/// A conversation-scoped role, as Twilio lists it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Role {
    pub sid: String,
    pub friendly_name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// The conversation role named `friendly_name` with exactly `permissions`: found, corrected if its
/// permissions differ (an older ClinicDesk made it), or created. Returns its SID (RL…).
pub async fn ensure_role(
    http: &TwilioHttp,
    account: &TwilioAccount,
    friendly_name: &str,
    permissions: &[&str],
) -> Result<String, TwilioError> {
    let url = format!("{}/v1/Roles", http.endpoints.conversations);
    let query = [("PageSize", "50".to_owned())];
    let roles: Vec<Role> =
        pages::all(http, &http.endpoints.conversations, &url, &query, &account.key_auth(), "roles", 10).await?;
    let form = role_form(permissions);
    match roles.into_iter().find(|r| r.friendly_name == friendly_name && r.kind == "conversation") {
        Some(role) => {
            let mut have: Vec<&str> = role.permissions.iter().map(String::as_str).collect();
            let mut want = permissions.to_vec();
            have.sort_unstable();
            want.sort_unstable();
            if have != want {
                http.post::<Role>(&format!("{url}/{}", role.sid), &account.key_auth(), &form).await?;
            }
            Ok(role.sid)
        }
        None => {
            let mut create = vec![("FriendlyName", friendly_name.to_owned()), ("Type", "conversation".to_owned())];
            create.extend(form);
            Ok(http.post::<Role>(&url, &account.key_auth(), &create).await?.sid)
        }
    }
}

/// `Permission` once per permission, as Twilio takes an array field.
pub fn role_form(permissions: &[&str]) -> Vec<(&'static str, String)> {
    permissions.iter().map(|p| ("Permission", (*p).to_owned())).collect()
}

/// The conversation named `unique_name`, created if it does not exist yet (50353 = it does).
pub async fn ensure(
    http: &TwilioHttp,
    account: &TwilioAccount,
    unique_name: &str,
    friendly_name: &str,
    attributes: &serde_json::Value,
) -> Result<Conversation, TwilioError> {
    let url = format!("{}/v1/Conversations", http.endpoints.conversations);
    let form = [
        ("UniqueName", unique_name.to_owned()),
        ("FriendlyName", friendly_name.to_owned()),
        ("Attributes", attributes.to_string()),
        // A conversation nobody ends (a waiting room for an appointment that was moved, cancelled or
        // never started) closes by itself after two quiet days; the end closes the others at once.
        ("Timers.Closed", CLOSED_AFTER.to_owned()),
    ];
    match http.post::<Conversation>(&url, &account.key_auth(), &form).await {
        Err(err) if err.code() == Some(50353) => {
            http.get(&format!("{url}/{unique_name}"), &account.key_auth(), &[]).await
        }
        other => other,
    }
}

/// Adds `identity` to the conversation; already being a participant (50433) is fine.
pub async fn add_participant(
    http: &TwilioHttp,
    account: &TwilioAccount,
    conversation: &str,
    identity: &str,
) -> Result<(), TwilioError> {
    join(http, account, conversation, identity, None, None).await.map(|_| ())
}

/// Adds `identity` (with `attributes`, a JSON object) and returns the participant. If it is a
/// participant already (50433: an earlier attempt got through but its answer was lost), the
/// existing participant is looked up instead, so a retried start never adds anyone twice.
pub async fn join(
    http: &TwilioHttp,
    account: &TwilioAccount,
    conversation: &str,
    identity: &str,
    attributes: Option<&serde_json::Value>,
    role_sid: Option<&str>,
) -> Result<ChatParticipant, TwilioError> {
    let url = format!("{}/v1/Conversations/{}/Participants", http.endpoints.conversations, conversation);
    let mut form = vec![("Identity", identity.to_owned())];
    if let Some(attributes) = attributes {
        form.push(("Attributes", attributes.to_string()));
    }
    if let Some(role) = role_sid {
        form.push(("RoleSid", role.to_owned()));
    }
    match http.post::<ChatParticipant>(&url, &account.key_auth(), &form).await {
        Err(err) if err.code() == Some(50433) => participants(http, account, conversation)
            .await?
            .into_iter()
            .find(|p| p.identity.as_deref() == Some(identity))
            .ok_or_else(|| TwilioError::Unreadable(format!("participant {identity} exists but is not listed"))),
        other => other,
    }
}

/// Everyone in the conversation, with their read horizons.
pub async fn participants(
    http: &TwilioHttp,
    account: &TwilioAccount,
    conversation: &str,
) -> Result<Vec<ChatParticipant>, TwilioError> {
    let url = format!("{}/v1/Conversations/{}/Participants", http.endpoints.conversations, conversation);
    let query = [("PageSize", "100".to_owned())];
    pages::all(http, &http.endpoints.conversations, &url, &query, &account.key_auth(), "participants", 20).await
}

/// Posts `body` as `author`. Made once (a POST): a lost answer may still have posted it, which
/// the caller says rather than posting it again.
pub async fn send(
    http: &TwilioHttp,
    account: &TwilioAccount,
    conversation: &str,
    author: &str,
    body: &str,
) -> Result<ChatMessage, TwilioError> {
    let url = format!("{}/v1/Conversations/{}/Messages", http.endpoints.conversations, conversation);
    http.post(&url, &account.key_auth(), &[("Author", author.to_owned()), ("Body", body.to_owned())]).await
}

/// The newest message, if any (one page of one, newest first).
pub async fn latest(
    http: &TwilioHttp,
    account: &TwilioAccount,
    conversation: &str,
) -> Result<Option<ChatMessage>, TwilioError> {
    #[derive(Deserialize)]
    struct Page {
        messages: Vec<ChatMessage>,
    }
    let url = format!("{}/v1/Conversations/{}/Messages", http.endpoints.conversations, conversation);
    let query = [("Order", "desc".to_owned()), ("PageSize", "1".to_owned())];
    let page: Page = http.get(&url, &account.key_auth(), &query).await?;
    Ok(page.messages.into_iter().next())
}

/// Moves a participant's read horizon (what the other side sees as "read").
pub async fn mark_read(
    http: &TwilioHttp,
    account: &TwilioAccount,
    conversation: &str,
    participant_sid: &str,
    index: i64,
) -> Result<ChatParticipant, TwilioError> {
    let url =
        format!("{}/v1/Conversations/{}/Participants/{}", http.endpoints.conversations, conversation, participant_sid);
    http.post(&url, &account.key_auth(), &[("LastReadMessageIndex", index.to_string())]).await
}

/// Closes the conversation: nobody can post any more; the history stays readable.
pub async fn close(
    http: &TwilioHttp,
    account: &TwilioAccount,
    conversation: &str,
) -> Result<Conversation, TwilioError> {
    let url = format!("{}/v1/Conversations/{}", http.endpoints.conversations, conversation);
    http.post(&url, &account.key_auth(), &[("State", "closed".to_owned())]).await
}

/// Every message, oldest first, across all pages.
pub async fn transcript(
    http: &TwilioHttp,
    account: &TwilioAccount,
    conversation_sid: &str,
) -> Result<Vec<ChatMessage>, TwilioError> {
    let url = format!("{}/v1/Conversations/{}/Messages", http.endpoints.conversations, conversation_sid);
    let query = [("Order", "asc".to_owned()), ("PageSize", "100".to_owned())];
    pages::all(http, &http.endpoints.conversations, &url, &query, &account.key_auth(), "messages", 1000).await
}
