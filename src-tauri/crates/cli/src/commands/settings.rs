//! Clinic settings and the sample clinic.

use crate::args::SettingsCommand;
use crate::commands::NEW_PASSWORD_ENV;
use crate::output::{show, table};
use clinicdesk_core::appointment_texts::{rules, TextingSettings};
use clinicdesk_core::auth::Caller;
use clinicdesk_core::settings;
use clinicdesk_core::{Clinic, CoreError, Result};

/// Every setting, for `settings list` (the clinic's keys as before, the texting keys beside them).
#[derive(serde::Serialize)]
struct AllSettings {
    #[serde(flatten)]
    clinic: settings::ClinicSettings,
    #[serde(flatten)]
    texting: TextingSettings,
    /// `video.call_page_url`: settable with `settings set` like the rest, so listed with them.
    #[serde(rename = "video.call_page_url")]
    call_page_url: String,
}

pub(super) fn settings_cmd(clinic: &Clinic, caller: &Caller, json: bool, command: SettingsCommand) -> Result<()> {
    match command {
        SettingsCommand::List => {}
        SettingsCommand::Set { key, value, .. } if rules::KEYS.contains(&key.as_str()) => {
            clinic.set_texting_setting(caller, &key, &value)?;
        }
        SettingsCommand::Set { key, value, confirm } => {
            let zone_change = settings::TimeZoneChange::confirmed_if(confirm);
            clinic.settings().set_with(caller, &key, &value, zone_change).map_err(|err| match err {
                CoreError::Unconfirmed { field, message } => CoreError::Unconfirmed {
                    field,
                    message: format!("{message} To change it anyway, run the command again with --confirm."),
                },
                other => other,
            })?;
        }
    }
    let all = AllSettings {
        clinic: clinic.settings().get(caller)?,
        texting: clinic.texting_settings()?,
        call_page_url: clinic.consultations().video_settings(caller)?.call_page_url,
    };
    show(json, &all, |all| {
        let (s, t) = (&all.clinic, &all.texting);
        table(
            &["KEY", "VALUE"],
            vec![
                vec![settings::KEY_NAME.into(), s.clinic_name.clone()],
                vec![settings::KEY_TIME_ZONE.into(), s.time_zone.clone()],
                vec![settings::KEY_COUNTRY.into(), s.default_country.clone()],
                vec![settings::KEY_IDLE.into(), s.idle_timeout_minutes.to_string()],
                vec![settings::KEY_SMS_RATE.into(), s.sms_messages_per_second.to_string()],
                vec![rules::KEY_REMINDERS.into(), t.reminders.clone()],
                vec![rules::KEY_QUIET_HOURS.into(), t.quiet_hours.clone()],
                vec![rules::KEY_SETTLE.into(), t.settle_seconds.to_string()],
                vec![rules::KEY_PRICE.into(), t.price_per_segment.clone()],
                vec![rules::KEY_CLINIC_PHONE.into(), t.clinic_phone.clone()],
                vec![clinicdesk_core::consultations::KEY_CALL_PAGE_URL.into(), all.call_page_url.clone()],
            ],
        )
    });
    Ok(())
}

pub(super) fn demo_seed(clinic: &Clinic, caller: &Caller, json: bool) -> Result<()> {
    let doctor_password = std::env::var(NEW_PASSWORD_ENV).ok().filter(|p| !p.is_empty());
    let summary = clinicdesk_core::demo::seed(clinic, caller, doctor_password.as_deref())?;
    show(json, &summary, |s| {
        let login = if doctor_password.is_some() {
            "with the password in CLINICDESK_NEW_PASSWORD"
        } else {
            "without a known password (set one with the app's Staff screen)"
        };
        format!(
            "Loaded the sample clinic: {} doctors ({login}), {} patients, {} appointments.",
            s.doctors, s.patients, s.appointments
        )
    });
    Ok(())
}
