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

    fn entry(&self, name: SecretName) -> Result<Entry, KeyringError> {
        let user = format!("{}/{}", self.installation, name.as_str());
        Entry::new(SERVICE, &user)
    }

    pub fn get(&self, name: SecretName) -> Result<Option<String>> {
        match patiently(|| self.entry(name)?.get_password()) {
            Ok(value) => Ok(Some(value)),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(err) => Err(unavailable(err)),
        }
    }

    pub fn set(&self, name: SecretName, value: &str) -> Result<()> {
        patiently(|| self.entry(name)?.set_password(value)).map_err(unavailable)
    }

    pub fn delete(&self, name: SecretName) -> Result<()> {
        match patiently(|| self.entry(name)?.delete_credential()) {
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

/// Runs a keyring call, asking again for a few seconds while the keyring service is absent. On
/// Linux the Secret Service is started on demand by D-Bus (at login, or again after it exited), and
/// calls made while it starts fail as "not available"; giving up at once would tell staff the keyring
/// is missing when it is a second away. A locked keyring or a missing entry is answered at once.
fn patiently<T>(mut call: impl FnMut() -> Result<T, KeyringError>) -> Result<T, KeyringError> {
    const PAUSES_MS: [u64; 5] = [100, 250, 500, 1000, 2000];
    let mut pauses = PAUSES_MS.iter();
    loop {
        match call() {
            Err(err @ (KeyringError::PlatformFailure(_) | KeyringError::NoDefaultStore)) => match pauses.next() {
                Some(ms) => {
                    tracing::warn!(error = %err, retry_in_ms = ms, "the keyring is not answering; asking again");
                    std::thread::sleep(std::time::Duration::from_millis(*ms));
                }
                None => return Err(err),
            },
            other => return other,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn failure() -> KeyringError {
        KeyringError::PlatformFailure(Box::new(std::io::Error::other("the service is starting")))
    }

    #[test]
    fn a_keyring_that_is_starting_is_asked_again() {
        let calls = Cell::new(0);
        let answer = patiently(|| {
            calls.set(calls.get() + 1);
            if calls.get() < 3 {
                Err(failure())
            } else {
                Ok("key")
            }
        });
        assert_eq!(answer.unwrap(), "key");
        assert_eq!(calls.get(), 3);
    }

    #[test]
    fn a_locked_keyring_or_a_missing_entry_is_answered_at_once_and_a_dead_one_in_the_end() {
        let calls = Cell::new(0);
        let locked = patiently::<()>(|| {
            calls.set(calls.get() + 1);
            Err(KeyringError::NoStorageAccess(Box::new(std::io::Error::other("locked"))))
        });
        assert!(matches!(locked, Err(KeyringError::NoStorageAccess(_))));
        assert_eq!(calls.get(), 1);
        let calls = Cell::new(0);
        let missing = patiently::<()>(|| {
            calls.set(calls.get() + 1);
            Err(KeyringError::NoEntry)
        });
        assert!(matches!(missing, Err(KeyringError::NoEntry)));
        assert_eq!(calls.get(), 1);
        let calls = Cell::new(0);
        let dead = patiently::<()>(|| {
            calls.set(calls.get() + 1);
            Err(failure())
        });
        assert!(matches!(dead, Err(KeyringError::PlatformFailure(_))));
        assert_eq!(calls.get(), 6, "the first call and five more");
    }
}
