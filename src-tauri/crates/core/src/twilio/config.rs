//! The clinic's Twilio account: identifiers in the settings table, the two secrets in the keyring.
//! Nothing here ever hands a secret to the UI; `TwilioStatus` says only what is configured.

use crate::audit::{self, Actor, AuditAction};
use crate::auth::{Caller, Permission};
use crate::error::{CoreError, Result};
use crate::secrets::SecretName;
use crate::Clinic;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub const MEDIA_REGIONS: [&str; 10] = ["gll", "au1", "br1", "de1", "ie1", "in1", "jp1", "sg1", "us1", "us2"];

const KEY_ACCOUNT: &str = "twilio.account_sid";
const KEY_API_KEY: &str = "twilio.api_key_sid";
const KEY_FROM: &str = "twilio.from";
const KEY_MESSAGING_SERVICE: &str = "twilio.messaging_service_sid";
const KEY_CONVERSATIONS: &str = "twilio.conversations_service_sid";
const KEY_REGION: &str = "twilio.media_region";

/// What an administrator types to connect the clinic's Twilio account.
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct TwilioSettingsInput {
    pub account_sid: String,
    pub api_key_sid: String,
    /// A phone number the account owns (E.164) — or use a Messaging Service instead.
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub conversations_service_sid: Option<String>,
    pub media_region: Option<String>,
    /// Secrets: written to the keyring only. Absent keeps the stored one.
    pub auth_token: Option<String>,
    pub api_key_secret: Option<String>,
}

/// The non-secret half, safe to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct TwilioSettings {
    pub account_sid: String,
    pub api_key_sid: String,
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub conversations_service_sid: Option<String>,
    pub media_region: Option<String>,
}

/// Everything needed to call Twilio. Debug never prints the secrets.
#[derive(Clone)]
pub struct TwilioAccount {
    pub settings: TwilioSettings,
    pub auth_token: Option<String>,
    pub api_key_secret: String,
}

impl TwilioAccount {
    /// The key Access Tokens are signed with: the account's API key and its secret.
    pub fn token_key(&self) -> super::token::TokenKey<'_> {
        super::token::TokenKey {
            account_sid: &self.settings.account_sid,
            api_key_sid: &self.settings.api_key_sid,
            api_key_secret: &self.api_key_secret,
            region: None,
        }
    }
}

impl std::fmt::Debug for TwilioAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioAccount").field("settings", &self.settings).field("secrets", &"<redacted>").finish()
    }
}

impl TwilioAccount {
    /// Messages are sent with the Auth Token when there is one, otherwise the API key.
    pub fn messages_auth(&self) -> super::http::Auth<'_> {
        match &self.auth_token {
            Some(token) => super::http::Auth { user: &self.settings.account_sid, password: token },
            None => self.key_auth(),
        }
    }
    pub fn key_auth(&self) -> super::http::Auth<'_> {
        super::http::Auth { user: &self.settings.api_key_sid, password: &self.api_key_secret }
    }
}

/// Whether Twilio is set up on this computer.
#[derive(Debug)]
pub enum AccountState {
    /// Never set up: texts are recorded as "SMS not configured".
    NotConfigured,
    /// Set up, but a secret is gone from the keyring: texts wait until an administrator restores it.
    MissingSecret(&'static str),
    Ready(TwilioAccount),
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct TwilioStatus {
    pub configured: bool,
    pub settings: Option<TwilioSettings>,
    pub has_auth_token: bool,
}

pub fn check_sid(value: &str, prefix: &str, field: &'static str, what: &str) -> Result<String> {
    let v = value.trim();
    let ok = v.len() == 34 && v.starts_with(prefix) && v[2..].chars().all(|c| c.is_ascii_hexdigit());
    if ok {
        Ok(v.to_owned())
    } else {
        Err(CoreError::invalid(field, format!("{what} starts with {prefix} followed by 32 letters and digits (0-9, a-f). Copy it from the Twilio Console.")))
    }
}

fn optional(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

pub struct TwilioSetup<'a> {
    pub(crate) clinic: &'a Clinic,
}

impl TwilioSetup<'_> {
    pub fn configure(&self, caller: &Caller, input: TwilioSettingsInput) -> Result<TwilioStatus> {
        caller.require(Permission::ManageSettings)?;
        crate::sync::pending::refuse_on_desk(&*self.clinic.db().conn()?, crate::sync::pending::ServerKeeps::Twilio)?;
        let account_sid = check_sid(&input.account_sid, "AC", "account_sid", "An Account SID")?;
        let api_key_sid = check_sid(&input.api_key_sid, "SK", "api_key_sid", "An API Key SID")?;
        let from = optional(input.from.as_deref())
            .map(|f| {
                if f.starts_with('+') {
                    crate::patients::phone::normalise(f, "US").map_err(|_| {
                        CoreError::invalid(
                            "from",
                            "The sender must be a phone number in +country format, e.g. +447400123456.",
                        )
                    })
                } else {
                    Err(CoreError::invalid(
                        "from",
                        "The sender must be a phone number in +country format, e.g. +447400123456.",
                    ))
                }
            })
            .transpose()?;
        let messaging_service_sid = optional(input.messaging_service_sid.as_deref())
            .map(|v| check_sid(v, "MG", "messaging_service_sid", "A Messaging Service SID"))
            .transpose()?;
        if from.is_none() && messaging_service_sid.is_none() {
            return Err(CoreError::invalid(
                "from",
                "Give the phone number texts come from, or a Messaging Service SID.",
            ));
        }
        let conversations_service_sid = optional(input.conversations_service_sid.as_deref())
            .map(|v| check_sid(v, "IS", "conversations_service_sid", "A Conversations Service SID"))
            .transpose()?;
        let media_region = optional(input.media_region.as_deref()).map(str::to_ascii_lowercase);
        if let Some(region) = &media_region {
            if !MEDIA_REGIONS.contains(&region.as_str()) {
                return Err(CoreError::invalid(
                    "media_region",
                    format!("Choose a media region from: {}.", MEDIA_REGIONS.join(", ")),
                ));
            }
        }
        let secrets = self.clinic.secrets();
        let api_key_secret = optional(input.api_key_secret.as_deref());
        if api_key_secret.is_none() && secrets.get(SecretName::TwilioApiKeySecret)?.is_none() {
            return Err(CoreError::invalid(
                "api_key_secret",
                "Give the API Key's secret (shown once by Twilio when the key was created).",
            ));
        }
        if let Some(secret) = api_key_secret {
            secrets.set(SecretName::TwilioApiKeySecret, secret)?;
        }
        if let Some(token) = optional(input.auth_token.as_deref()) {
            secrets.set(SecretName::TwilioAuthToken, token)?;
        }
        let now = self.clinic.now();
        let conn = self.clinic.db().conn()?;
        for (key, value) in [
            (KEY_ACCOUNT, Some(account_sid)),
            (KEY_API_KEY, Some(api_key_sid)),
            (KEY_FROM, from),
            (KEY_MESSAGING_SERVICE, messaging_service_sid),
            (KEY_CONVERSATIONS, conversations_service_sid),
            (KEY_REGION, media_region),
        ] {
            crate::settings::write(&conn, key, value.as_deref(), now)?;
        }
        // If sending was paused for a setup problem, the worker checks the new setup at once.
        crate::sms::hold::check_soon(&conn, now)?;
        audit::record(&conn, now, Actor::Staff(caller), AuditAction::TwilioConfigured, None, None)?;
        drop(conn);
        self.status(caller)
    }

    /// The configured account with its secrets, or `None` when Twilio is not (completely) set up.
    pub fn account(&self) -> Result<Option<TwilioAccount>> {
        Ok(match self.account_state()? {
            AccountState::Ready(account) => Some(account),
            _ => None,
        })
    }

    /// True once an administrator has set Twilio up, even if a secret has since gone missing:
    /// texts are then queued (and wait), not skipped as "not configured".
    pub fn is_configured(&self) -> Result<bool> {
        let conn = self.clinic.db().conn()?;
        Ok(conn.query_row(
            "SELECT count(*) = 2 FROM settings WHERE key IN (?1, ?2)",
            params![KEY_ACCOUNT, KEY_API_KEY],
            |r| r.get(0),
        )?)
    }

    /// Whether Twilio is set up here, and with what.
    pub fn account_state(&self) -> Result<AccountState> {
        let conn = self.clinic.db().conn()?;
        let get = |key: &str| -> Result<Option<String>> {
            Ok(conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0)).optional()?)
        };
        let (Some(account_sid), Some(api_key_sid)) = (get(KEY_ACCOUNT)?, get(KEY_API_KEY)?) else {
            return Ok(AccountState::NotConfigured);
        };
        let settings = TwilioSettings {
            account_sid,
            api_key_sid,
            from: get(KEY_FROM)?,
            messaging_service_sid: get(KEY_MESSAGING_SERVICE)?,
            conversations_service_sid: get(KEY_CONVERSATIONS)?,
            media_region: get(KEY_REGION)?,
        };
        drop(conn);
        let secrets = self.clinic.secrets();
        let Some(api_key_secret) = secrets.get(SecretName::TwilioApiKeySecret)? else {
            return Ok(AccountState::MissingSecret(
                "The Twilio API Key Secret is missing from this computer's keyring. An administrator should enter it again in Settings (Twilio).",
            ));
        };
        Ok(AccountState::Ready(TwilioAccount {
            settings,
            auth_token: secrets.get(SecretName::TwilioAuthToken)?,
            api_key_secret,
        }))
    }

    /// Keeps the account's default Conversations service (found by the check) when none is set.
    pub fn remember_conversations_service(&self, sid: &str) -> Result<()> {
        let sid = check_sid(sid, "IS", "conversations_service_sid", "A Conversations Service SID")?;
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction()?;
        let known: Option<String> =
            tx.query_row("SELECT value FROM settings WHERE key = ?1", [KEY_CONVERSATIONS], |r| r.get(0)).optional()?;
        if known.is_none() {
            crate::settings::write(&tx, KEY_CONVERSATIONS, Some(&sid), self.clinic.now())?;
        }
        tx.commit()?;
        Ok(())
    }

    /// An Access Token for the JS SDKs, minted for an opaque identity (see `token::mint`).
    pub fn access_token(
        &self,
        caller: &Caller,
        identity: &str,
        room: Option<&str>,
        chat: bool,
        ttl_seconds: Option<u32>,
    ) -> Result<String> {
        caller.require(Permission::MintTokens)?;
        let account = self.account()?.ok_or_else(|| {
            CoreError::invalid(
                "twilio",
                "Twilio is not set up on this computer. An administrator can set it up in Settings.",
            )
        })?;
        let chat_service_sid = if chat {
            Some(account.settings.conversations_service_sid.clone().ok_or_else(|| {
                CoreError::invalid("chat", "No Conversations service is known yet. Run the Twilio check (Settings, or `clinicdesk twilio check`) to find the account's default.")
            })?)
        } else {
            None
        };
        let request = super::token::TokenRequest {
            identity: identity.to_owned(),
            video_room: room.map(str::to_owned),
            chat_service_sid,
            ttl_seconds: ttl_seconds.unwrap_or(super::token::DEFAULT_TTL_SECONDS),
        };
        let key = account.token_key();
        let token =
            super::token::mint(&key, &request, self.clinic.now().timestamp(), super::token::DEFAULT_MAX_TTL_SECONDS)?;
        let conn = self.clinic.db().conn()?;
        audit::record(
            &conn,
            self.clinic.now(),
            Actor::Staff(caller),
            AuditAction::TokenMinted,
            None,
            Some(&format!("identity {identity}")),
        )?;
        Ok(token)
    }

    /// The non-secret settings: for administrators (everyone else sees only the indicator).
    pub fn status(&self, caller: &Caller) -> Result<TwilioStatus> {
        caller.require(Permission::ManageSettings)?;
        let account = self.account()?;
        Ok(TwilioStatus {
            configured: account.is_some(),
            has_auth_token: account.as_ref().is_some_and(|a| a.auth_token.is_some()),
            settings: account.map(|a| a.settings),
        })
    }
}
