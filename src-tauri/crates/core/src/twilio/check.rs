//! The credential check behind `clinicdesk twilio check`, the setup screen and the health
//! indicator: each part of the Twilio setup, proven by the cheapest call that can prove it, and
//! reported in words with what to do.

use super::config::TwilioAccount;
use super::error::TwilioError;
use super::http::TwilioHttp;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Health {
    Ok,
    Warning,
    Problem,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct CheckItem {
    /// "Account", "API key", "Sender", "Conversations".
    pub part: String,
    pub health: Health,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct TwilioHealth {
    pub checked_at: DateTime<Utc>,
    pub overall: Health,
    pub items: Vec<CheckItem>,
    /// The Conversations service chat tokens use (configured, or the account's default).
    pub conversations_service_sid: Option<String>,
    /// Twilio could not be reached at all (no answer): this computer is offline, or Twilio is.
    /// Everything kept in the clinic database still works; the app says so once, quietly.
    pub offline: bool,
}

#[derive(Deserialize)]
struct AccountInfo {
    status: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct NumberList {
    incoming_phone_numbers: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Configuration {
    default_chat_service_sid: Option<String>,
}

fn item(part: &str, health: Health, message: impl Into<String>) -> CheckItem {
    CheckItem { part: part.into(), health, message: message.into() }
}

fn unreachable(part: &str, err: &TwilioError) -> CheckItem {
    match err {
        TwilioError::NoAnswer { .. } => item(
            part,
            Health::Problem,
            "Twilio could not be reached. Check this computer's internet connection, then check again.",
        ),
        _ => item(part, Health::Problem, err.explain()),
    }
}

/// The first problem in `health` that stops texts going out (the account or the sender), in
/// words; `None` when texts can be sent. Chat and video problems do not hold texts back.
pub fn sending_problem(health: &TwilioHealth) -> Option<String> {
    health
        .items
        .iter()
        .find(|i| i.health == Health::Problem && matches!(i.part.as_str(), "Account" | "Sender"))
        .map(|i| i.message.clone())
}

pub async fn check(http: &TwilioHttp, account: &TwilioAccount, now: DateTime<Utc>) -> TwilioHealth {
    let s = &account.settings;
    let mut items = Vec::new();

    // 1. The account, with the Auth Token (API keys cannot read /Accounts).
    match &account.auth_token {
        None => items.push(item(
            "Account",
            Health::Warning,
            "No Auth Token was given, so the account's status could not be checked. Texts are sent with the API key.",
        )),
        Some(_) => {
            let url = format!("{}/2010-04-01/Accounts/{}.json", http.endpoints.api, s.account_sid);
            items.push(match http.get::<AccountInfo>(&url, &account.messages_auth(), &[]).await {
                Ok(a) if a.status != "active" => item("Account", Health::Problem, format!("The Twilio account is {}. Texts cannot be sent until it is active again; contact Twilio.", a.status)),
                Ok(a) if a.kind.eq_ignore_ascii_case("trial") => item(
                    "Account",
                    Health::Warning,
                    "This is a Twilio trial account: texts go only to phone numbers verified in Twilio, and begin with a trial notice. Upgrade the account before texting patients.",
                ),
                Ok(_) => item("Account", Health::Ok, "The Twilio account is active."),
                Err(TwilioError::Api { code: Some(20003), .. }) => item("Account", Health::Problem, "Twilio refused the Account SID and Auth Token (Twilio 20003). Re-enter them from the Twilio Console."),
                Err(err) => unreachable("Account", &err),
            });
        }
    }

    // 2. The API key, by a cheap call it may make.
    let rooms = format!("{}/v1/Rooms", http.endpoints.video);
    let answer = http.get::<serde_json::Value>(&rooms, &account.key_auth(), &[("PageSize", "1".into())]).await;
    // Every account gets this request: no answer to it means no network to Twilio.
    let offline = matches!(answer, Err(TwilioError::NoAnswer { .. }));
    items.push(match answer {
        Ok(_) => item("API key", Health::Ok, "The API key and its secret work."),
        Err(TwilioError::Api { code: Some(20003), .. }) => item(
            "API key",
            Health::Problem,
            "Twilio refused the API key or its secret (Twilio 20003). Create a new Standard API key in the Twilio Console and enter its SID and secret.",
        ),
        Err(err) => unreachable("API key", &err),
    });

    // 3. The sender belongs to the account.
    items.push(match (&s.from, &s.messaging_service_sid) {
        (_, Some(service)) => item("Sender", Health::Ok, format!("Texts are sent through the Messaging Service {service}.")),
        (Some(from), None) => {
            let url = format!("{}/2010-04-01/Accounts/{}/IncomingPhoneNumbers.json", http.endpoints.api, s.account_sid);
            match http.get::<NumberList>(&url, &account.messages_auth(), &[("PhoneNumber", from.clone())]).await {
                Ok(list) if !list.incoming_phone_numbers.is_empty() => item("Sender", Health::Ok, format!("Texts are sent from {from}, which the account owns.")),
                Ok(_) => item("Sender", Health::Problem, format!("The account does not own {from}, so Twilio will refuse texts from it. Enter a number listed under Phone Numbers in the Twilio Console.")),
                Err(err) => unreachable("Sender", &err),
            }
        }
        (None, None) => item("Sender", Health::Problem, "No sender is set: give a phone number or a Messaging Service."),
    });

    // 4. The Conversations service for chat (the account's default unless one is configured).
    let mut service = s.conversations_service_sid.clone();
    let config_url = format!("{}/v1/Configuration", http.endpoints.conversations);
    items.push(match http.get::<Configuration>(&config_url, &account.key_auth(), &[]).await {
        Ok(c) => {
            service = service.or(c.default_chat_service_sid);
            match &service {
                Some(sid) => item("Conversations", Health::Ok, format!("Chat uses the Conversations service {sid}.")),
                None => item("Conversations", Health::Problem, "The account has no Conversations service. Create one in the Twilio Console (Conversations > Services)."),
            }
        }
        Err(err) => unreachable("Conversations", &err),
    });

    let overall = items.iter().map(|i| i.health).max().unwrap_or(Health::Ok);
    TwilioHealth { checked_at: now, overall, items, conversations_service_sid: service, offline }
}
