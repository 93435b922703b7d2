//! The OS keyring daemon exiting and being started again by D-Bus under a running ClinicDesk process
//! (a desk app runs for days) must not leave the app unable to read its keys.
//!
//! Ignored by default and alone in this binary: it kills this test session's keyring daemon, which
//! would fail any other test using the keyring at that moment. `scripts/test.sh` runs it on its own,
//! after the other tests, inside the private keyring session of `scripts/with-keyring.sh`.

#![cfg(target_os = "linux")] // the Secret Service and D-Bus are Linux's

use clinicdesk_core::secrets::{SecretName, SecretStore};
use std::process::Command;
use std::time::{Duration, Instant};

/// The process id of this session's Secret Service, asked of the session bus.
fn keyring_daemon_pid() -> Option<u32> {
    let out = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/",
            "org.freedesktop.DBus.GetConnectionUnixProcessID",
            "string:org.freedesktop.secrets",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().skip_while(|w| *w != "uint32").nth(1)?.parse().ok()
}

fn is_running(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
#[ignore = "kills this session's keyring daemon: scripts/test.sh runs it alone, after the other tests"]
fn keys_are_still_read_after_the_keyring_daemon_restarts_under_a_running_process() {
    assert_eq!(
        std::env::var("CLINICDESK_IN_KEYRING_SESSION").as_deref(),
        Ok("1"),
        "only inside scripts/with-keyring.sh's private session: this test kills the keyring daemon"
    );
    let secrets = SecretStore::for_installation(&format!("keyring-restart-test-{}", uuid::Uuid::new_v4()));
    secrets.set(SecretName::SessionSigningKey, "kept across a restart").unwrap();
    let pid = keyring_daemon_pid().expect("the Secret Service of this session has a process");

    // The daemon exits while this process holds its store (a connection and a Secret Service
    // session with the old daemon); D-Bus starts a new one on the next call.
    Command::new("kill").arg(pid.to_string()).status().unwrap();
    let waited = Instant::now();
    while is_running(pid) && waited.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!is_running(pid), "the keyring daemon {pid} did not exit");

    assert_eq!(secrets.get(SecretName::SessionSigningKey).unwrap().as_deref(), Some("kept across a restart"));
    let new_pid = keyring_daemon_pid().expect("D-Bus started the Secret Service again");
    assert_ne!(new_pid, pid, "a new keyring daemon answers");
    secrets.set(SecretName::SessionSigningKey, "written to the new daemon").unwrap();
    assert_eq!(secrets.get(SecretName::SessionSigningKey).unwrap().as_deref(), Some("written to the new daemon"));
    secrets.delete(SecretName::SessionSigningKey).unwrap();
}
