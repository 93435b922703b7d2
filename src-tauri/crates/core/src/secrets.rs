//! The one place ClinicDesk keeps secrets: the operating system's keyring (Secret Service on Linux,
//! Keychain on macOS, Credential Manager on Windows) through `keyring-core` and the platform stores
//! the `keyring` crate is built from.
//!
//! Invariant: a secret read from here is never written to the database, a config file or a log line.
//! Entries are namespaced by installation id so that several data directories (a clinic's real one,
//! a test's, a demo's) never share keys.
//!
//! The platform store is opened here rather than through the `keyring` crate's v1 facade, which
//! opens it once per process and keeps the outcome for good: a desk started a second before the
//! keyring daemon (at login), or running on after the daemon restarted, would then fail every
//! keyring call until it was closed. Here a store that fails is dropped and opened again.

use crate::error::{CoreError, Result};
use keyring_core::{CredentialStore, Entry, Error as KeyringError};
use std::sync::{Arc, Mutex};

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

    fn entry(&self, store: &CredentialStore, name: SecretName) -> Result<Entry, KeyringError> {
        let user = format!("{}/{}", self.installation, name.as_str());
        store.build(SERVICE, &user, None)
    }

    pub fn get(&self, name: SecretName) -> Result<Option<String>> {
        match patiently(|store| self.entry(store, name)?.get_password()) {
            Ok(value) => Ok(Some(value)),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(err) => Err(unavailable(err)),
        }
    }

    pub fn set(&self, name: SecretName, value: &str) -> Result<()> {
        patiently(|store| self.entry(store, name)?.set_password(value)).map_err(unavailable)
    }

    pub fn delete(&self, name: SecretName) -> Result<()> {
        match patiently(|store| self.entry(store, name)?.delete_credential()) {
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

/// The platform's store, shared by every entry while it works. `None` until first used and again
/// after a call found the keyring service gone, so the next call connects afresh (on Linux a new
/// D-Bus connection and Secret Service session: the old session died with the old daemon).
static STORE: Mutex<Option<Arc<CredentialStore>>> = Mutex::new(None);

fn platform_store() -> Result<Arc<CredentialStore>, KeyringError> {
    if let Some(store) = STORE.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).as_ref() {
        return Ok(store.clone());
    }
    // Connected without holding the lock: a keyring that is slow to answer holds up this call, not
    // every other thread's. Two threads connecting at once keep the first store made.
    let opened = open_platform_store()?;
    let mut open = STORE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    Ok(open.get_or_insert(opened).clone())
}

/// Drops the shared store after a call through `failed` found the keyring service gone, so the
/// next call opens a new one; a store another thread opened since is kept.
fn forget_platform_store(failed: &Arc<CredentialStore>) {
    let mut open = STORE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if open.as_ref().is_some_and(|current| Arc::ptr_eq(current, failed)) {
        open.take();
    }
}

#[cfg(all(unix, not(any(target_os = "macos", target_os = "ios", target_os = "android"))))]
fn open_platform_store() -> Result<Arc<CredentialStore>, KeyringError> {
    Ok(zbus_secret_service_keyring_store::Store::new()?)
}

#[cfg(target_os = "macos")]
fn open_platform_store() -> Result<Arc<CredentialStore>, KeyringError> {
    Ok(apple_native_keyring_store::keychain::Store::new()?)
}

#[cfg(target_os = "windows")]
fn open_platform_store() -> Result<Arc<CredentialStore>, KeyringError> {
    Ok(windows_native_keyring_store::Store::new()?)
}

/// Runs a keyring call on the platform's store, asking again for a few seconds while the keyring
/// service is absent. On Linux the Secret Service is started on demand by D-Bus (at login, or again
/// after it exited), and calls made while it starts fail as "not available"; giving up at once would
/// tell staff the keyring is missing when it is a second away. A store that failed is dropped, so
/// the next try reconnects (a store opened against an old daemon never works again). A locked
/// keyring or a missing entry is answered at once.
fn patiently<T>(mut call: impl FnMut(&CredentialStore) -> Result<T, KeyringError>) -> Result<T, KeyringError> {
    // About twelve seconds in all: a keyring daemon started on a busy machine at login can take
    // several seconds to answer, and a keyring that really is missing is still reported.
    retrying(&[100, 250, 500, 1000, 2000, 3000, 5000], || {
        let store = platform_store()?;
        call(store.as_ref()).inspect_err(|err| {
            if is_unavailable(err) {
                forget_platform_store(&store);
            }
        })
    })
}

fn is_unavailable(err: &KeyringError) -> bool {
    matches!(err, KeyringError::PlatformFailure(_) | KeyringError::NoDefaultStore)
}

/// `call` again after each pause while it answers "unavailable"; any other answer at once.
fn retrying<T>(pauses_ms: &[u64], mut call: impl FnMut() -> Result<T, KeyringError>) -> Result<T, KeyringError> {
    let mut pauses = pauses_ms.iter();
    loop {
        match call() {
            Err(err) if is_unavailable(&err) => match pauses.next() {
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

    const QUICK: [u64; 7] = [1; 7];

    fn failure() -> KeyringError {
        KeyringError::PlatformFailure(Box::new(std::io::Error::other("the service is starting")))
    }

    #[test]
    fn a_keyring_that_is_starting_is_asked_again() {
        let calls = Cell::new(0);
        let answer = retrying(&QUICK, || {
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
        let locked = retrying::<()>(&QUICK, || {
            calls.set(calls.get() + 1);
            Err(KeyringError::NoStorageAccess(Box::new(std::io::Error::other("locked"))))
        });
        assert!(matches!(locked, Err(KeyringError::NoStorageAccess(_))));
        assert_eq!(calls.get(), 1);
        let calls = Cell::new(0);
        let missing = retrying::<()>(&QUICK, || {
            calls.set(calls.get() + 1);
            Err(KeyringError::NoEntry)
        });
        assert!(matches!(missing, Err(KeyringError::NoEntry)));
        assert_eq!(calls.get(), 1);
        let calls = Cell::new(0);
        let dead = retrying::<()>(&QUICK, || {
            calls.set(calls.get() + 1);
            Err(failure())
        });
        assert!(matches!(dead, Err(KeyringError::PlatformFailure(_))));
        assert_eq!(calls.get(), 8, "the first call and seven more");
    }
}
