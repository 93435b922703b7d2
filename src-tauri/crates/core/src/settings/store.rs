//! Changing one of the clinic's settings: the rule once, over a small store trait.
//!
//! Two stores keep settings: the embedded SQLite file (a one-desk clinic; [`SqliteSettings`]) and
//! the clinic server's PostgreSQL (`clinicdesk-server`'s `PgSettings`). Each implements
//! [`SettingsStore`]: read a key, write or remove it, write a trail entry; no rules. The rule
//! ([`change`]) checks the value with that key's own check ([`check`], the same sentences on both),
//! stores it only when it differs, and writes one trail entry saying from what to what.
//!
//! Invariant: the store's methods run inside the caller's transaction, so a setting and its trail
//! entry commit together. What follows a change (the server's feed of it, reminders withdrawn,
//! chats removed under a new retention) is the caller's, after the rule.

use crate::appointment_texts::rules::{
    parse_clinic_phone, parse_quiet_hours, parse_reminders, KEY_CLINIC_PHONE, KEY_QUIET_HOURS, KEY_REMINDERS,
    KEY_SETTLE,
};
use crate::audit::{self, Actor, AuditAction};
use crate::auth::Caller;
use crate::consultations::{
    check_call_page_url, check_chat_retention_days, KEY_CALL_PAGE_URL, KEY_CHAT_RETENTION_DAYS,
};
use crate::error::{CoreError, Result};
use chrono::{DateTime, Utc};
use rusqlite::Connection;

/// Where a clinic keeps its settings.
#[allow(async_fn_in_trait)]
pub trait SettingsStore {
    /// The store's own error; every refusal of the rule converts into it.
    type Error: From<CoreError>;

    /// The stored value, if any (none: the setting's default applies).
    async fn get(&mut self, key: &str) -> std::result::Result<Option<String>, Self::Error>;
    /// Stores `value`; `None` removes the key (its default applies again).
    async fn put(&mut self, key: &str, value: Option<&str>) -> std::result::Result<(), Self::Error>;
    /// Writes the trail entry of a change (`settings.update`), by whoever the store acts for.
    async fn audit(&mut self, detail: &str) -> std::result::Result<(), Self::Error>;
}

/// The settings changed one at a time with [`change`], on a one-desk clinic and a clinic server.
pub const CHANGED_ONE_AT_A_TIME: [&str; 7] = [
    super::KEY_NAME,
    KEY_CLINIC_PHONE,
    KEY_REMINDERS,
    KEY_QUIET_HOURS,
    KEY_SETTLE,
    KEY_CALL_PAGE_URL,
    KEY_CHAT_RETENTION_DAYS,
];

/// The value to store for `key`, checked (`None`: remove it, so the default applies); refused in
/// the words staff read on either kind of clinic.
pub fn check(key: &str, value: &str) -> Result<Option<String>> {
    let value = value.trim();
    Ok(match key {
        k if k == super::KEY_NAME => Some(
            crate::users::check_name(value)
                .map_err(|_| CoreError::invalid("clinic.name", "Give the clinic a name of up to 120 characters."))?,
        ),
        // No phone given: none (the default), not an empty one.
        KEY_CLINIC_PHONE => Some(parse_clinic_phone(value)?).filter(|phone| !phone.is_empty()),
        KEY_REMINDERS => {
            parse_reminders(value)?;
            Some(value.to_owned())
        }
        KEY_QUIET_HOURS => {
            parse_quiet_hours(value)?;
            Some(value.to_owned())
        }
        KEY_SETTLE => match value.parse::<u32>() {
            Ok(seconds) if seconds <= 3600 => Some(seconds.to_string()),
            _ => return Err(CoreError::invalid("sms.settle_seconds", "Enter a whole number of seconds, 0 to 3600.")),
        },
        KEY_CALL_PAGE_URL if value.is_empty() => None,
        KEY_CALL_PAGE_URL => Some(check_call_page_url(value)?),
        KEY_CHAT_RETENTION_DAYS => check_chat_retention_days(value)?.map(|days| days.to_string()),
        other => {
            return Err(CoreError::invalid(
                "key",
                format!("{other} is not a setting. Known: {}.", CHANGED_ONE_AT_A_TIME.join(", ")),
            ))
        }
    })
}

/// How the trail says a value: a setting never set reads as its default ("kept" for a
/// retention left empty).
fn shown(key: &str, value: Option<&str>) -> String {
    use crate::appointment_texts::rules::{DEFAULT_QUIET_HOURS, DEFAULT_REMINDERS, DEFAULT_SETTLE_SECONDS};
    match (key, value) {
        (KEY_CHAT_RETENTION_DAYS, None) => "kept".into(),
        (KEY_CHAT_RETENTION_DAYS, Some(days)) => format!("{days} days"),
        (KEY_REMINDERS, None) => format!("{DEFAULT_REMINDERS:?}"),
        (KEY_QUIET_HOURS, None) => format!("{DEFAULT_QUIET_HOURS:?}"),
        (KEY_SETTLE, None) => format!("\"{DEFAULT_SETTLE_SECONDS}\""),
        (_, value) => format!("{:?}", value.unwrap_or_default()),
    }
}

/// Changes one setting: checked, stored when it differs, audited "key from to". Returns whether
/// anything changed.
pub async fn change<S: SettingsStore>(store: &mut S, key: &str, value: &str) -> std::result::Result<bool, S::Error> {
    let checked = check(key, value)?;
    let stored = store.get(key).await?;
    // Unchanged as stored, or as a store that keeps a removal as an empty value sees it.
    if stored == checked {
        return Ok(false);
    }
    let before = stored.filter(|v| !v.is_empty());
    if before == checked {
        return Ok(false);
    }
    store.put(key, checked.as_deref()).await?;
    store.audit(&format!("{key} {} to {}", shown(key, before.as_deref()), shown(key, checked.as_deref()))).await?;
    Ok(true)
}

/// Settings in the embedded SQLite file, in the caller's transaction, changed by `caller`.
pub struct SqliteSettings<'a> {
    pub conn: &'a Connection,
    pub caller: &'a Caller,
    pub now: DateTime<Utc>,
}

impl SettingsStore for SqliteSettings<'_> {
    type Error = CoreError;

    async fn get(&mut self, key: &str) -> Result<Option<String>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    async fn put(&mut self, key: &str, value: Option<&str>) -> Result<()> {
        super::write(self.conn, key, value, self.now)
    }

    async fn audit(&mut self, detail: &str) -> Result<()> {
        audit::record(
            self.conn,
            self.now,
            Actor::Staff(self.caller),
            AuditAction::SettingsUpdated,
            None,
            Some(detail),
        )?;
        Ok(())
    }
}
