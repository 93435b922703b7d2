//! `Clinic`: one opened installation — its data directory, encrypted database, keyring entries and
//! clock. Both front doors (the Tauri shell and the CLI) open one of these and call its domains.

use crate::clock::{Clock, SystemClock};
use crate::db::{Database, DatabaseKey};
use crate::error::{CoreError, Result};
use crate::secrets::{random_key_hex, SecretName, SecretStore};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const DATA_DIR_ENV: &str = "CLINICDESK_DATA_DIR";
const DATABASE_FILE: &str = "clinicdesk.db";
const INSTALLATION_FILE: &str = "installation.json";

/// Where the clinic's data lives: the explicit choice, else `CLINICDESK_DATA_DIR`, else the
/// platform's app-data dir (the same one the desktop app uses, so the CLI sees the same clinic).
pub fn resolve_data_dir(explicit: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(dir) = explicit {
        return Ok(dir);
    }
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    platform_data_dir().map(|base| base.join(crate::secrets::SERVICE)).ok_or_else(|| {
        CoreError::Database(
            "No data folder could be found for this user. Set CLINICDESK_DATA_DIR to a writable folder.".into(),
        )
    })
}

fn platform_data_dir() -> Option<PathBuf> {
    // Same rules as Tauri's app_data_dir: XDG_DATA_HOME or ~/.local/share on Linux,
    // ~/Library/Application Support on macOS, %APPDATA% on Windows.
    if cfg!(target_os = "macos") {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join("Library/Application Support"))
    } else if cfg!(windows) {
        std::env::var_os("APPDATA").map(PathBuf::from)
    } else {
        std::env::var_os("XDG_DATA_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
    }
}

/// Not secret: it only names this installation's keyring entries, so moving the data folder keeps
/// its keys, and two data folders never share them.
#[derive(Debug, Serialize, Deserialize)]
struct Installation {
    id: String,
    created_at: DateTime<Utc>,
}

pub struct Clinic {
    db: Database,
    secrets: SecretStore,
    session_key: Vec<u8>,
    clock: Arc<dyn Clock>,
    data_dir: PathBuf,
}

impl Clinic {
    pub fn open(data_dir: &Path) -> Result<Clinic> {
        Self::open_with_clock(data_dir, Arc::new(SystemClock))
    }

    pub fn open_with_clock(data_dir: &Path, clock: Arc<dyn Clock>) -> Result<Clinic> {
        std::fs::create_dir_all(data_dir).map_err(|err| {
            tracing::error!(error = %err, "cannot create the data folder");
            CoreError::Database(format!(
                "The data folder {} could not be created. Check that it is writable.",
                data_dir.display()
            ))
        })?;
        let db_path = data_dir.join(DATABASE_FILE);
        let db_exists = db_path.exists();
        let installation = load_or_create_installation(data_dir, db_exists, clock.now())?;
        let secrets = SecretStore::for_installation(&installation.id);

        let key_hex = if db_exists {
            secrets.get(SecretName::DatabaseKey)?.ok_or_else(|| CoreError::Database(
                "The key for this clinic database is not in this computer's keyring, so it cannot be opened. If you moved the data folder from another computer or user account, move the keyring entry too. Nothing was changed.".into(),
            ))?
        } else {
            secrets.get_or_create(SecretName::DatabaseKey, random_key_hex)?
        };
        let db = Database::open(&db_path, DatabaseKey::from_hex(&key_hex)?)?;
        let session_key =
            hex::decode(secrets.get_or_create(SecretName::SessionSigningKey, random_key_hex)?).map_err(|_| {
                CoreError::SecretStore("The session key in the system keyring is damaged. Contact support.".into())
            })?;
        tracing::info!(installation = %installation.id, "clinic opened");
        Ok(Clinic { db, secrets, session_key, clock, data_dir: data_dir.to_owned() })
    }

    pub fn db(&self) -> &Database {
        &self.db
    }
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
    pub fn secrets(&self) -> &SecretStore {
        &self.secrets
    }
    /// For records made outside a domain call (a refused action is audited by the `Caller`).
    pub(crate) fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }
    pub(crate) fn session_key(&self) -> &[u8] {
        &self.session_key
    }

    /// True until the first administrator has been created.
    pub fn needs_setup(&self) -> Result<bool> {
        let conn = self.db.conn()?;
        let users: i64 = conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
        // A desk joined to a clinic server learns its staff from the server: nothing to set up.
        Ok(users == 0 && !crate::sync::pending::is_desk(&conn)?)
    }

    pub fn auth(&self) -> crate::auth::Auth<'_> {
        crate::auth::Auth { clinic: self }
    }
    pub fn users(&self) -> crate::users::Users<'_> {
        crate::users::Users { clinic: self }
    }
    /// This computer as a desk of a clinic server (server mode).
    pub fn desk_sync(&self) -> crate::sync::DeskSync<'_> {
        crate::sync::DeskSync { clinic: self }
    }
    pub fn settings(&self) -> crate::settings::Settings<'_> {
        crate::settings::Settings { clinic: self }
    }
    pub fn patients(&self) -> crate::patients::Patients<'_> {
        crate::patients::Patients { clinic: self }
    }
    pub fn doctors(&self) -> crate::doctors::Doctors<'_> {
        crate::doctors::Doctors { clinic: self }
    }
    /// Background upkeep, for the app's background task (every few seconds): links screen reads
    /// to their patients in the audit index (audit/reads.rs), then checkpoints the WAL (db/mod.rs).
    /// Returns the entries linked.
    pub fn housekeeping(&self) -> Result<u32> {
        let mut linked = 0;
        // Batch after batch, each its own short transaction, so clicks get the lock in between.
        loop {
            let n = crate::audit::index_pending(&*self.db().conn()?)?;
            linked += n;
            if n == 0 {
                break;
            }
        }
        self.db().checkpoint()?;
        Ok(linked)
    }

    pub fn import(&self) -> crate::import::Import<'_> {
        crate::import::Import { clinic: self }
    }
    pub fn appointments(&self) -> crate::appointments::Appointments<'_> {
        crate::appointments::Appointments { clinic: self }
    }
    pub fn texts(&self) -> crate::sms::Texts<'_> {
        crate::sms::Texts { clinic: self }
    }
    pub fn templates(&self) -> crate::sms::templates::Templates<'_> {
        crate::sms::templates::Templates { clinic: self }
    }
    /// Texts patients sent back that wait for a person to read them.
    pub fn inbox(&self) -> crate::sms::inbox::Inbox<'_> {
        crate::sms::inbox::Inbox { clinic: self }
    }
    /// Video consultations: start, join, chat, notes, end (doctors, for their own appointments).
    pub fn call_page(&self) -> crate::call_page::CallPage<'_> {
        crate::call_page::CallPage { clinic: self }
    }
    pub fn consultations(&self) -> crate::consultations::Consultations<'_> {
        crate::consultations::Consultations { clinic: self }
    }
    pub fn twilio(&self) -> crate::twilio::config::TwilioSetup<'_> {
        crate::twilio::config::TwilioSetup { clinic: self }
    }
    pub fn audit(&self) -> crate::audit::AuditTrail<'_> {
        crate::audit::AuditTrail { clinic: self }
    }
}

fn load_or_create_installation(dir: &Path, db_exists: bool, now: DateTime<Utc>) -> Result<Installation> {
    let path = dir.join(INSTALLATION_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|_| CoreError::Database(format!(
            "The file {} is damaged, so ClinicDesk cannot find this clinic's keys. Contact support; do not delete the data folder.", path.display()
        ))),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            if db_exists {
                return Err(CoreError::Database(format!(
                    "The clinic database exists but {} is missing, so its key cannot be found. Restore that file from the backup of this folder. Nothing was changed.", path.display()
                )));
            }
            let installation = Installation { id: uuid::Uuid::new_v4().to_string(), created_at: now };
            let tmp = dir.join(format!("{INSTALLATION_FILE}.tmp"));
            let body = serde_json::to_string_pretty(&installation).expect("installation serialises");
            std::fs::write(&tmp, body).and_then(|_| std::fs::rename(&tmp, &path)).map_err(|err| {
                tracing::error!(error = %err, "cannot write the installation file");
                CoreError::Database(format!("ClinicDesk could not write to {}. Check that the folder is writable.", dir.display()))
            })?;
            Ok(installation)
        }
        Err(err) => {
            tracing::error!(error = %err, "cannot read the installation file");
            Err(CoreError::Database(format!("ClinicDesk could not read {}. Check the folder's permissions.", path.display())))
        }
    }
}
