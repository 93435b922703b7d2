//! The clinic's Twilio account on the server. A server has no desktop keyring, so the secrets live
//! in a file only root and the service can read: systemd hands it to the service as a credential
//! (`LoadCredential=twilio:/etc/clinicdesk/twilio`, read from `$CREDENTIALS_DIRECTORY/twilio`), or
//! `CLINICDESK_TWILIO_FILE` names it. Never in the database, the environment or the logs.
//!
//! The file is `key=value` lines: `account_sid`, `api_key_sid`, `api_key_secret`, optionally
//! `auth_token`, and `from` (a number the account owns) or `messaging_service_sid`.

use crate::error::{Result, ServerError};
use clinicdesk_core::twilio::config::{check_sid, TwilioAccount, TwilioSettings};
use clinicdesk_core::twilio::http::{Endpoints, TwilioHttp};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const FILE_ENV: &str = "CLINICDESK_TWILIO_FILE";

/// What the sender needs to send texts.
pub struct Texting {
    pub http: TwilioHttp,
    pub account: TwilioAccount,
}

/// Where the Twilio file is, if anywhere: `CLINICDESK_TWILIO_FILE`, else systemd's credential.
pub fn file_from_env() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(FILE_ENV).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let credential = PathBuf::from(std::env::var_os("CREDENTIALS_DIRECTORY")?).join("twilio");
    credential.exists().then_some(credential)
}

/// Reads and checks the file. Refuses one that others can read: it holds the account's secrets.
pub fn load(path: &Path, endpoints: Endpoints) -> Result<Texting> {
    let problem = |what: String| ServerError::Setup(format!("Twilio settings in {}: {what}", path.display()));
    // systemd's private credential copy is the service's alone (its mode bits may show an ACL
    // mask); any other file is checked here.
    let from_systemd = std::env::var_os("CREDENTIALS_DIRECTORY")
        .filter(|dir| !dir.is_empty())
        .and_then(|dir| std::fs::canonicalize(dir).ok())
        .zip(std::fs::canonicalize(path).ok())
        .is_some_and(|(dir, file)| file.starts_with(dir));
    #[cfg(unix)]
    if !from_systemd {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(|e| problem(format!("cannot be read ({e})")))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(problem(format!(
                "other users can read it (mode {:o}); run chmod 600 on it, it holds the account's secrets",
                mode & 0o777
            )));
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| problem(format!("cannot be read ({e})")))?;
    let mut values = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').ok_or_else(|| problem(format!("line {} is not key=value", n + 1)))?;
        values.insert(key.trim().to_string(), value.trim().to_string());
    }
    let get = |key: &str| values.get(key).filter(|v| !v.is_empty()).cloned();
    let need = |key: &str| get(key).ok_or_else(|| problem(format!("{key}= is missing")));
    let sid = |key: &'static str, prefix: &str, what: &str| {
        check_sid(&need(key)?, prefix, key, what).map_err(|e| problem(e.to_string()))
    };
    let settings = TwilioSettings {
        account_sid: sid("account_sid", "AC", "An Account SID")?,
        api_key_sid: sid("api_key_sid", "SK", "An API Key SID")?,
        from: get("from"),
        messaging_service_sid: get("messaging_service_sid"),
        conversations_service_sid: get("conversations_service_sid"),
        media_region: get("media_region"),
    };
    if settings.from.is_none() && settings.messaging_service_sid.is_none() {
        return Err(problem("give from= (a number the account owns) or messaging_service_sid=".into()));
    }
    let account = TwilioAccount { settings, auth_token: get("auth_token"), api_key_secret: need("api_key_secret")? };
    Ok(Texting { http: TwilioHttp::new(endpoints), account })
}
