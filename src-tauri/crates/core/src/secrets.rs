//! The one place ClinicDesk keeps secrets: the operating system's keyring (Secret Service on Linux,
//! Keychain on macOS, Credential Manager on Windows) through the `keyring` crate.
//!
//! Invariant: a secret read from here is never written to the database, a config file or a log line.
//! Entries are namespaced by installation id so that several data directories (a clinic's real one,
//! a test's, a demo's) never share keys.

use crate::error::{CoreError, Result};
use keyring::v1::{Entry, Error as KeyringError};

/// The keyring "service" all ClinicDesk entries live under (matches the app identifier).
pub const SERVICE: &str = "org.clinicdesk.app";

#[derive(Debug, Clone)]
pub struct SecretStore {
    installation: String,
}

/// Names of the secrets ClinicDesk keeps. A closed set, so no caller can invent a stray entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretName {
    /// 32 random bytes (hex) that unlock the SQLCipher database.
    DatabaseKey,
    /// 32 random bytes (hex) that sign staff sessions.
    SessionSigningKey,
    /// The Twilio account's Auth Token (account checks, Messages).
    TwilioAuthToken,
    /// The Twilio API Key's secret (tokens, Video, Conversations).
    TwilioApiKeySecret,
    /// This computer's credential with the clinic server (a desk of a multi-desk clinic).
    DeskCredential,
}

impl SecretName {
    fn as_str(self) -> &'static str {
        match self {
            SecretName::DatabaseKey => "database-key",
            SecretName::SessionSigningKey => "session-signing-key",
            SecretName::TwilioAuthToken => "twilio-auth-token",
            SecretName::TwilioApiKeySecret => "twilio-api-key-secret",
            SecretName::DeskCredential => "desk-credential",
        }
    }
}

impl SecretStore {
    /// The store for one installation (one data directory).
    pub fn for_installation(installation_id: &str) -> Self {
        SecretStore { installation: installation_id.to_owned() }
    }

    fn entry(&self, name: SecretName) -> Result<Entry> {
        let user = format!("{}/{}", self.installation, name.as_str());
        Entry::new(SERVICE, &user).map_err(unavailable)
    }

    pub fn get(&self, name: SecretName) -> Result<Option<String>> {
        match self.entry(name)?.get_password() {
            Ok(value) => Ok(Some(value)),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(err) => Err(unavailable(err)),
        }
    }

    pub fn set(&self, name: SecretName, value: &str) -> Result<()> {
        self.entry(name)?.set_password(value).map_err(unavailable)
    }

    pub fn delete(&self, name: SecretName) -> Result<()> {
        match self.entry(name)?.delete_credential() {
            Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
            Err(err) => Err(unavailable(err)),
        }
    }

    /// The secret, created with `make` and stored first if it does not exist yet.
    pub fn get_or_create(&self, name: SecretName, make: impl FnOnce() -> String) -> Result<String> {
        if let Some(existing) = self.get(name)? {
            return Ok(existing);
        }
        let value = make();
        self.set(name, &value)?;
        // Read back: a keyring that silently drops writes must fail here, not after the
        // database has been encrypted with a key nobody kept.
        match self.get(name)? {
            Some(stored) if stored == value => Ok(value),
            _ => Err(CoreError::SecretStore(
                "The system keyring did not keep a new secret. Check that the keyring is unlocked and try again."
                    .into(),
            )),
        }
    }
}

/// Random bytes as hex, for keys.
pub fn random_key_hex() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn unavailable(err: KeyringError) -> CoreError {
    tracing::error!(error = %err, "keyring error");
    let hint = match err {
        KeyringError::NoStorageAccess(_) => "The system keyring is locked or refused access. Unlock it (for example by signing in to the desktop) and start ClinicDesk again.",
        KeyringError::NoDefaultStore | KeyringError::PlatformFailure(_) => "The system keyring is not available. On Linux, ClinicDesk needs a Secret Service such as GNOME Keyring or KWallet running and unlocked.",
        _ => "The system keyring could not be used. Check that it is running and unlocked.",
    };
    CoreError::SecretStore(hint.into())
}
