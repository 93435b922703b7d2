//! Conversations (chat): make sure the consultation's conversation exists, add participants, and
//! fetch the whole transcript for the record.

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
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ChatMessage {
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
    let url = format!("{}/v1/Conversations/{}/Participants", http.endpoints.conversations, conversation);
    match http.post::<serde_json::Value>(&url, &account.key_auth(), &[("Identity", identity.to_owned())]).await {
        Ok(_) => Ok(()),
        Err(err) if err.code() == Some(50433) => Ok(()),
        Err(err) => Err(err),
    }
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
