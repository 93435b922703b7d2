//! Clinic settings: name, IANA time zone, default phone country, idle sign-out. Stored as key/value
//! rows so later issues can add keys (quiet hours, SMS pace) without a schema change. Settings
//! changed one at a time go through the rule in store.rs, shared with the clinic server.

pub mod store;

use crate::audit::{self, Actor, AuditAction};
use crate::auth::{Caller, Permission};
use crate::db::ts;
use crate::error::{CoreError, Result};
use crate::Clinic;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub const KEY_NAME: &str = "clinic.name";
pub const KEY_TIME_ZONE: &str = "clinic.time_zone";
pub const KEY_COUNTRY: &str = "clinic.default_country";
pub const KEY_IDLE: &str = "security.idle_timeout_minutes";
pub const KEY_SMS_RATE: &str = "sms.messages_per_second";
pub const DEFAULT_IDLE_MINUTES: u32 = 15;

/// Whether the person has seen and accepted what a time-zone change does to the appointments
/// already booked (they keep their moment in time, so their clock times change).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TimeZoneChange {
    /// Refuse a change that affects upcoming appointments, explaining what it would do.
    #[default]
    Unconfirmed,
    Confirmed,
}

impl TimeZoneChange {
    pub fn confirmed_if(confirmed: bool) -> TimeZoneChange {
        if confirmed {
            TimeZoneChange::Confirmed
        } else {
            TimeZoneChange::Unconfirmed
        }
    }
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ClinicSettings {
    pub clinic_name: String,
    /// IANA name, e.g. "Europe/London".
    pub time_zone: String,
    /// ISO 3166 alpha-2, e.g. "GB": numbers typed without +country are read as this country's.
    pub default_country: String,
    pub idle_timeout_minutes: u32,
    /// The most texts sent in any one second (0 = no pacing, for testing only).
    pub sms_messages_per_second: u32,
}

/// The same fields as typed by a person, before validation.
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct ClinicSettingsInput {
    pub clinic_name: String,
    pub time_zone: String,
    pub default_country: String,
    pub idle_timeout_minutes: Option<u32>,
    pub sms_messages_per_second: Option<u32>,
}

impl ClinicSettingsInput {
    pub fn validate(&self) -> Result<ClinicSettings> {
        let name = self.clinic_name.trim();
        if name.is_empty() || name.chars().count() > 120 || name.chars().any(char::is_control) {
            return Err(CoreError::invalid("clinic_name", "Enter the clinic's name (up to 120 characters)."));
        }
        let tz = parse_time_zone(&self.time_zone)?;
        let country = parse_country(&self.default_country)?;
        let idle = self.idle_timeout_minutes.unwrap_or(DEFAULT_IDLE_MINUTES);
        if !(1..=240).contains(&idle) {
            return Err(CoreError::invalid(
                "idle_timeout_minutes",
                "Automatic sign-out must be between 1 and 240 minutes.",
            ));
        }
        let rate = self.sms_messages_per_second.unwrap_or(1);
        if rate > 100 {
            return Err(CoreError::invalid(
                "sms_messages_per_second",
                "Send at most 100 texts a second (a single phone number carries about 1).",
            ));
        }
        Ok(ClinicSettings {
            clinic_name: name.to_owned(),
            time_zone: tz.name().to_owned(),
            default_country: country,
            idle_timeout_minutes: idle,
            sms_messages_per_second: rate,
        })
    }
}

pub fn parse_time_zone(text: &str) -> Result<Tz> {
    text.trim().parse::<Tz>().map_err(|_| {
        CoreError::invalid(
            "time_zone",
            format!(
                "\"{}\" is not a time zone ClinicDesk knows. Use a name such as Europe/London or America/New_York.",
                text.trim()
            ),
        )
    })
}

pub fn parse_country(text: &str) -> Result<String> {
    let code = text.trim().to_ascii_uppercase();
    code.parse::<phonenumber::country::Id>().map(|_| code.clone()).map_err(|_| {
        CoreError::invalid(
            "default_country",
            format!("\"{}\" is not a two-letter country code ClinicDesk knows (for example GB, US, IE).", text.trim()),
        )
    })
}

/// The computer's own time zone, as a sensible first suggestion during setup.
pub fn system_time_zone() -> String {
    iana_time_zone::get_timezone().ok().filter(|z| z.parse::<Tz>().is_ok()).unwrap_or_else(|| "UTC".to_owned())
}

pub(crate) fn write_all(conn: &Connection, s: &ClinicSettings, now: DateTime<Utc>) -> Result<()> {
    for (key, value) in [
        (KEY_NAME, s.clinic_name.clone()),
        (KEY_TIME_ZONE, s.time_zone.clone()),
        (KEY_COUNTRY, s.default_country.clone()),
        (KEY_IDLE, s.idle_timeout_minutes.to_string()),
        (KEY_SMS_RATE, s.sms_messages_per_second.to_string()),
    ] {
        write(conn, key, Some(&value), now)?;
    }
    Ok(())
}

/// The one writer of the `settings` table (clinic settings and the Twilio identifiers alike):
/// `Some` stores the value, `None` removes the key. Callers validate first and audit the change.
pub(crate) fn write(conn: &Connection, key: &str, value: Option<&str>, now: DateTime<Utc>) -> Result<()> {
    match value {
        Some(value) => conn.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            params![key, value, ts(now)],
        )?,
        None => conn.execute("DELETE FROM settings WHERE key = ?1", [key])?,
    };
    Ok(())
}

pub struct Settings<'a> {
    pub(crate) clinic: &'a Clinic,
}

impl Settings<'_> {
    /// Settings as stored, with defaults for anything not yet set (before setup, for example).
    /// One query on one connection: this runs on every command (idle time, time zone, country).
    pub(crate) fn current(&self) -> Result<ClinicSettings> {
        let conn = self.clinic.db().conn()?;
        let mut stmt = conn.prepare_cached("SELECT key, value FROM settings WHERE key IN (?1, ?2, ?3, ?4, ?5)")?;
        let stored: std::collections::HashMap<String, String> = stmt
            .query_map([KEY_NAME, KEY_TIME_ZONE, KEY_COUNTRY, KEY_IDLE, KEY_SMS_RATE], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let text = |key: &str, default: &str| stored.get(key).cloned().unwrap_or_else(|| default.to_owned());
        let number = |key: &str, default: u32| stored.get(key).and_then(|v| v.parse().ok()).unwrap_or(default);
        Ok(ClinicSettings {
            clinic_name: text(KEY_NAME, "ClinicDesk"),
            time_zone: text(KEY_TIME_ZONE, "UTC"),
            default_country: text(KEY_COUNTRY, "GB"),
            idle_timeout_minutes: number(KEY_IDLE, DEFAULT_IDLE_MINUTES),
            sms_messages_per_second: number(KEY_SMS_RATE, 1),
        })
    }

    pub fn get(&self, _caller: &Caller) -> Result<ClinicSettings> {
        // Every signed-in role needs the time zone and country to read the schedule correctly.
        self.current()
    }

    /// The clinic's name for the sign-in screen; nothing else is readable before sign-in.
    pub fn clinic_name(&self) -> Result<String> {
        Ok(self.current()?.clinic_name)
    }

    /// Saves the settings; a time-zone change that affects upcoming appointments is refused with
    /// an explanation (see [`Settings::update_with`]).
    pub fn update(&self, caller: &Caller, input: ClinicSettingsInput) -> Result<ClinicSettings> {
        self.update_with(caller, input, TimeZoneChange::Unconfirmed)
    }

    /// Saves the settings. Changing the time zone while upcoming appointments exist needs
    /// `TimeZoneChange::Confirmed`; without it the refusal (a conflict on `time_zone`) says how
    /// many appointments are affected and how a real one's clock time changes. The check and the
    /// write share one IMMEDIATE transaction, so the explanation matches what is changed.
    pub fn update_with(
        &self,
        caller: &Caller,
        input: ClinicSettingsInput,
        zone_change: TimeZoneChange,
    ) -> Result<ClinicSettings> {
        caller.require(Permission::ManageSettings)?;
        let settings = input.validate()?;
        let before = self.current()?;
        let clinic_wide = |s: &ClinicSettings| (s.clinic_name.clone(), s.time_zone.clone(), s.default_country.clone());
        if clinic_wide(&settings) != clinic_wide(&before) {
            // This desk's own settings (idle time, texting pace) stay its own to change.
            crate::sync::pending::refuse_on_desk(
                &*self.clinic.db().conn()?,
                crate::sync::pending::ServerKeeps::ClinicSettings,
            )?;
        }
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stored: Option<String> =
            tx.query_row("SELECT value FROM settings WHERE key = ?1", [KEY_TIME_ZONE], |r| r.get(0)).optional()?;
        // Before setup nothing is stored and appointments are shown in UTC (see `current`).
        let from = stored.as_deref().and_then(|z| z.parse::<Tz>().ok()).unwrap_or(Tz::UTC);
        let to = parse_time_zone(&settings.time_zone)?;
        let impact = crate::appointments::zone_change::impact(&tx, now, from, to)?;
        if let (Some(message), TimeZoneChange::Unconfirmed) = (&impact, zone_change) {
            return Err(CoreError::Unconfirmed { field: "time_zone", message: message.clone() });
        }
        write_all(&tx, &settings, now)?;
        let detail = (from != to).then(|| format!("time zone {} to {}", from.name(), to.name()));
        audit::record(&tx, now, Actor::Staff(caller), AuditAction::SettingsUpdated, None, detail.as_deref())?;
        tx.commit()?;
        Ok(settings)
    }

    /// Sets one setting by its key, as `clinicdesk settings set KEY VALUE` does.
    pub fn set(&self, caller: &Caller, key: &str, value: &str) -> Result<ClinicSettings> {
        self.set_with(caller, key, value, TimeZoneChange::Unconfirmed)
    }

    /// Like [`Settings::set`], with the confirmation a time-zone change may need (`--confirm`).
    pub fn set_with(
        &self,
        caller: &Caller,
        key: &str,
        value: &str,
        zone_change: TimeZoneChange,
    ) -> Result<ClinicSettings> {
        if crate::appointment_texts::rules::KEYS.contains(&key) {
            self.clinic.set_texting_setting(caller, key, value)?;
            return self.current();
        }
        if key == crate::consultations::KEY_CALL_PAGE_URL {
            crate::consultations::set_call_page_url(self.clinic, caller, value)?;
            return self.current();
        }
        if key == crate::consultations::KEY_CHAT_RETENTION_DAYS {
            crate::consultations::set_chat_retention(self.clinic, caller, value)?;
            return self.current();
        }
        let current = self.current()?;
        let mut input = ClinicSettingsInput {
            clinic_name: current.clinic_name,
            time_zone: current.time_zone,
            default_country: current.default_country,
            idle_timeout_minutes: Some(current.idle_timeout_minutes),
            sms_messages_per_second: Some(current.sms_messages_per_second),
        };
        match key {
            KEY_NAME => input.clinic_name = value.to_owned(),
            KEY_TIME_ZONE => input.time_zone = value.to_owned(),
            KEY_COUNTRY => input.default_country = value.to_owned(),
            KEY_IDLE => {
                input.idle_timeout_minutes = Some(
                    value
                        .trim()
                        .parse()
                        .map_err(|_| CoreError::invalid("idle_timeout_minutes", "Enter a whole number of minutes."))?,
                )
            }
            KEY_SMS_RATE => {
                input.sms_messages_per_second = Some(value.trim().parse().map_err(|_| {
                    CoreError::invalid("sms_messages_per_second", "Enter a whole number of texts per second.")
                })?)
            }
            other => {
                let texting = crate::appointment_texts::rules::KEYS.join(", ");
                return Err(CoreError::invalid("key", format!("There is no setting called \"{other}\". Known settings: {KEY_NAME}, {KEY_TIME_ZONE}, {KEY_COUNTRY}, {KEY_IDLE}, {KEY_SMS_RATE}, {texting}, {}, {}.", crate::consultations::KEY_CALL_PAGE_URL, crate::consultations::KEY_CHAT_RETENTION_DAYS)));
            }
        }
        self.update_with(caller, input, zone_change)
    }

    pub fn time_zone(&self) -> Result<Tz> {
        parse_time_zone(&self.current()?.time_zone)
    }

    pub fn idle_timeout_minutes(&self) -> Result<u32> {
        Ok(self.current()?.idle_timeout_minutes)
    }

    /// "14:05 on Tue 3 Mar" in the clinic's time zone.
    pub fn local_time_label(&self, instant: DateTime<Utc>) -> Result<String> {
        Ok(instant.with_timezone(&self.time_zone()?).format("%H:%M on %a %-d %b").to_string())
    }
}
