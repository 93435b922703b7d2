//! Staff change their own password.

mod common;

use clinicdesk_core::auth::{Channel, Role};
use clinicdesk_core::error::SessionEnd;
use clinicdesk_core::CoreError;
use common::*;

const DESK: &str = "desk@clinic.example";
const NEW: &str = "a brand new passphrase";

#[test]
fn a_wrong_current_password_is_refused_with_a_sentence_under_that_field() {
    let t = TestClinic::set_up();
    let desk = t.add_user(DESK, Role::Reception);
    let err = t.clinic.auth().change_password(&desk, "not my password", NEW).unwrap_err();
    assert_eq!(err.field(), Some("current_password"));
    assert_eq!(err.to_string(), "That is not your current password.");
    // Nothing changed: the old password still signs in, the new one does not.
    assert!(t.clinic.auth().sign_in(DESK, PASSWORD, Channel::App).is_ok());
    assert_eq!(t.clinic.auth().sign_in(DESK, NEW, Channel::App).err().unwrap().code(), "bad_credentials");
}

#[test]
fn a_change_ends_the_persons_other_sessions_but_keeps_this_one() {
    let t = TestClinic::set_up();
    let someone_else = t.add_user(DESK, Role::Reception); // also leaves an administrator session open
    let other_desk = t.clinic.auth().sign_in(ADMIN_EMAIL, PASSWORD, Channel::App).unwrap();
    let this_desk = t.clinic.auth().sign_in(ADMIN_EMAIL, PASSWORD, Channel::App).unwrap();

    t.clinic.auth().change_password(&this_desk.caller, PASSWORD, NEW).unwrap();

    let err = t.clinic.auth().caller(&other_desk.token).unwrap_err();
    assert!(matches!(err, CoreError::SessionEnded(SessionEnd::PasswordChanged)), "{err:?}");
    assert!(err.to_string().contains("sign in with the new password"), "{err}");
    let admin = t.clinic.auth().caller(&this_desk.token).expect("the session that changed it stays");
    let theirs = t.clinic.auth().sign_in(DESK, PASSWORD, Channel::App).unwrap();
    assert!(t.clinic.auth().caller(&theirs.token).is_ok(), "other people are not affected");
    assert_eq!(someone_else.email(), DESK);
    assert_eq!(t.clinic.auth().sign_in(ADMIN_EMAIL, PASSWORD, Channel::App).err().unwrap().code(), "bad_credentials");
    assert!(t.clinic.auth().sign_in(ADMIN_EMAIL, NEW, Channel::App).is_ok());

    let entry =
        t.clinic.audit().recent(&admin, None, 50).unwrap().into_iter().find(|e| e.action == "auth.password_changed");
    let entry = entry.expect("the change is audited");
    assert_eq!(entry.actor, ADMIN_EMAIL);
    assert_eq!(entry.detail.as_deref(), Some("2 other session(s) ended"));
}

#[test]
fn the_new_password_follows_the_usual_rules_and_must_differ() {
    let t = TestClinic::set_up();
    let desk = t.add_user(DESK, Role::Reception);
    let short = t.clinic.auth().change_password(&desk, PASSWORD, "short").unwrap_err();
    assert_eq!(short.field(), Some("new_password"));
    assert!(short.to_string().contains("at least 10 characters"), "{short}");
    let same = t.clinic.auth().change_password(&desk, PASSWORD, PASSWORD).unwrap_err();
    assert_eq!(same.field(), Some("new_password"));
    assert!(same.to_string().contains("different"), "{same}");
}

#[test]
fn guessing_the_current_password_locks_the_account_and_ends_its_sessions() {
    let t = TestClinic::set_up();
    t.add_user(DESK, Role::Reception);
    let unattended = t.clinic.auth().sign_in(DESK, PASSWORD, Channel::App).unwrap();
    for _ in 1..5 {
        let err = t.clinic.auth().change_password(&unattended.caller, "a guess at it", NEW).unwrap_err();
        assert_eq!(err.field(), Some("current_password"));
    }
    let err = t.clinic.auth().change_password(&unattended.caller, "a guess at it", NEW).unwrap_err();
    assert_eq!(err.code(), "account_locked");
    assert!(matches!(
        t.clinic.auth().caller(&unattended.token).unwrap_err(),
        CoreError::SessionEnded(SessionEnd::AccountLocked)
    ));
    assert_eq!(t.clinic.auth().sign_in(DESK, PASSWORD, Channel::App).err().unwrap().code(), "account_locked");
}

/// A folder whose clinic moved onto a clinic server keeps its old passwords (staff sign in to the
/// server with theirs): a change there is refused with the sentence pointing to the server.
#[test]
fn a_clinic_that_moved_onto_a_server_keeps_the_old_passwords() {
    let t = TestClinic::set_up();
    t.add_user(DESK, Role::Reception);
    t.clinic.desk_sync().mark_moved(&t.admin(), "https://clinic-server.example:8640/").unwrap();
    let desk = t.clinic.auth().sign_in(DESK, PASSWORD, Channel::App).unwrap().caller;
    let err = t.clinic.auth().change_password(&desk, PASSWORD, NEW).unwrap_err();
    assert!(err.to_string().contains("moved onto the clinic server at https://clinic-server.example:8640/"), "{err}");
    assert!(t.clinic.auth().sign_in(DESK, PASSWORD, Channel::App).is_ok(), "the old password still opens it to read");
}
