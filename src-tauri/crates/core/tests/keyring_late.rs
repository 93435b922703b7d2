//! A desk app started a moment before the OS keyring answers (at login, on a busy machine) uses the
//! keyring once it answers, without being restarted: the failed first try is not kept for the life of
//! the process. The test is alone in this binary because it is about the process's first keyring call
//! and it changes the process's D-Bus address.

#![cfg(target_os = "linux")] // the Secret Service and D-Bus are Linux's

use clinicdesk_core::secrets::{SecretName, SecretStore};
use clinicdesk_core::CoreError;

#[test]
fn a_keyring_that_was_not_there_when_first_asked_is_used_once_it_answers() {
    assert_eq!(
        std::env::var("CLINICDESK_IN_KEYRING_SESSION").as_deref(),
        Ok("1"),
        "only inside scripts/with-keyring.sh's private session: this test points the process at another bus"
    );
    let bus = std::env::var("DBUS_SESSION_BUS_ADDRESS").expect("a D-Bus session");
    let secrets = SecretStore::for_installation(&format!("keyring-late-test-{}", uuid::Uuid::new_v4()));

    // No Secret Service at all (a bus that does not exist): the answer is a sentence, after the
    // patient retries, not a hang or a panic.
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/clinicdesk-test-bus");
    let err = secrets.get(SecretName::DatabaseKey).unwrap_err();
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &bus);
    match err {
        CoreError::SecretStore(sentence) => assert!(sentence.contains("keyring is not available"), "{sentence}"),
        other => panic!("expected a keyring sentence, got {other:?}"),
    }

    // The keyring is back: the same process uses it (the failed start is not kept for good).
    secrets.set(SecretName::DatabaseKey, "after the keyring came").unwrap();
    assert_eq!(secrets.get(SecretName::DatabaseKey).unwrap().as_deref(), Some("after the keyring came"));
    secrets.delete(SecretName::DatabaseKey).unwrap();
}
