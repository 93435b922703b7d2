//! Sessions end when the person stops using ClinicDesk, not when the window stops polling.

mod common;

use chrono::Duration;
use clinicdesk_core::auth::{Channel, Touch};
use clinicdesk_core::error::SessionEnd;
use clinicdesk_core::CoreError;
use common::*;

fn is_idle_end(err: &CoreError) -> bool {
    matches!(err, CoreError::SessionEnded(SessionEnd::Idle))
}

#[test]
fn a_passive_check_does_not_extend_the_idle_deadline_but_an_active_one_does() {
    let t = TestClinic::set_up();
    let polled = t.clinic.auth().sign_in(ADMIN_EMAIL, PASSWORD, Channel::App).unwrap();
    let used = t.clinic.auth().sign_in(ADMIN_EMAIL, PASSWORD, Channel::App).unwrap();

    t.advance(Duration::minutes(10));
    t.clinic.auth().caller_passive(&polled.token).expect("still within 15 minutes of sign-in");
    t.clinic.auth().caller(&used.token).expect("still within 15 minutes of sign-in");

    // 16 minutes after sign-in: the polled session was never used, the other was used 6 minutes ago.
    t.advance(Duration::minutes(6));
    let err = t.clinic.auth().check(&polled.token, Touch::No).unwrap_err();
    assert!(is_idle_end(&err), "{err:?}");
    assert!(t.clinic.auth().caller_passive(&used.token).is_ok());
    // The session that was ended stays ended, whichever way it is asked.
    assert!(is_idle_end(&t.clinic.auth().caller(&polled.token).unwrap_err()));
}

#[test]
fn polling_alone_never_keeps_a_session_alive() {
    let t = TestClinic::set_up();
    let signed = t.clinic.auth().sign_in(ADMIN_EMAIL, PASSWORD, Channel::App).unwrap();
    for _ in 0..15 {
        t.advance(Duration::minutes(1));
        assert!(t.clinic.auth().caller_passive(&signed.token).is_ok());
    }
    t.advance(Duration::seconds(30));
    assert!(is_idle_end(&t.clinic.auth().caller_passive(&signed.token).unwrap_err()));
}

#[test]
fn lowering_the_idle_timeout_ends_open_sessions_idle_longer_than_the_new_value() {
    let t = TestClinic::set_up();
    let admin = t.admin();
    t.clinic.settings().set(&admin, "security.idle_timeout_minutes", "60").unwrap();
    let idle_desk = t.clinic.auth().sign_in(ADMIN_EMAIL, PASSWORD, Channel::App).unwrap();
    t.advance(Duration::minutes(12));
    let busy_desk = t.clinic.auth().sign_in(ADMIN_EMAIL, PASSWORD, Channel::App).unwrap();
    t.advance(Duration::minutes(8));

    // 20 and 8 minutes without use: both fine under 60; only the first is past a new limit of 10.
    t.clinic.settings().set(&admin, "security.idle_timeout_minutes", "10").unwrap();
    let err = t.clinic.auth().caller(&idle_desk.token).unwrap_err();
    assert!(is_idle_end(&err), "{err:?}");
    let still = t.clinic.auth().caller(&busy_desk.token).expect("idle 8 minutes, under the new 10");
    assert_eq!(t.clinic.auth().profile(&still).unwrap().idle_timeout_minutes, 10);
}

#[test]
fn a_session_the_core_ends_for_idleness_is_audited_once() {
    let t = TestClinic::set_up();
    let signed = t.clinic.auth().sign_in(ADMIN_EMAIL, PASSWORD, Channel::App).unwrap();
    t.advance(Duration::minutes(16));
    assert!(t.clinic.auth().caller_passive(&signed.token).is_err());
    // The window's own idle timer signs out too; that must not add a second row.
    t.clinic.auth().sign_out(&signed.token, SessionEnd::Idle).unwrap();
    let admin = t.admin();
    let idle_rows: Vec<_> = t
        .clinic
        .audit()
        .recent(&admin, None, 100)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "auth.signed_out_idle")
        .collect();
    assert_eq!(idle_rows.len(), 1, "{idle_rows:?}");
    assert_eq!(idle_rows[0].actor, ADMIN_EMAIL);
}
