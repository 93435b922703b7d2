mod common;

use chrono::Duration;
use clinicdesk_core::auth::{Channel, Role, SetupRequest};
use clinicdesk_core::error::SessionEnd;
use clinicdesk_core::settings::ClinicSettingsInput;
use clinicdesk_core::users::{NewStaffUser, StaffUserChange};
use clinicdesk_core::CoreError;
use common::*;

fn codes(err: &CoreError) -> &'static str {
    err.code().as_str()
}

#[test]
fn first_run_needs_setup_and_setup_happens_only_once() {
    let t = TestClinic::fresh();
    assert!(t.clinic.needs_setup().unwrap());
    let err = t.clinic.auth().sign_in(ADMIN_EMAIL, PASSWORD, Channel::App).err().unwrap();
    assert_eq!(codes(&err), "not_initialized");

    let t = TestClinic::set_up();
    assert!(!t.clinic.needs_setup().unwrap());
    let again = t.clinic.auth().set_up(SetupRequest {
        clinic: ClinicSettingsInput {
            clinic_name: "Other".into(),
            time_zone: "UTC".into(),
            default_country: "US".into(),
            idle_timeout_minutes: None,
            sms_messages_per_second: None,
        },
        admin_email: "second@clinic.example".into(),
        admin_name: "Second".into(),
        admin_password: PASSWORD.into(),
    });
    assert_eq!(codes(&again.err().unwrap()), "already_initialized");
}

#[test]
fn setup_refuses_a_bad_time_zone_naming_the_field() {
    let t = TestClinic::fresh();
    let err = t
        .clinic
        .auth()
        .set_up(SetupRequest {
            clinic: ClinicSettingsInput {
                clinic_name: "X".into(),
                time_zone: "Mars/Olympus".into(),
                default_country: "GB".into(),
                idle_timeout_minutes: None,
                sms_messages_per_second: None,
            },
            admin_email: ADMIN_EMAIL.into(),
            admin_name: "Ada".into(),
            admin_password: PASSWORD.into(),
        })
        .unwrap_err();
    assert_eq!(err.field(), Some("time_zone"));
    assert!(t.clinic.needs_setup().unwrap(), "nothing may be half-created");
}

#[test]
fn a_session_token_identifies_the_caller_until_sign_out() {
    let t = TestClinic::set_up();
    let signed = t.clinic.auth().sign_in(" Admin@Clinic.Example ", PASSWORD, Channel::App).unwrap();
    assert_eq!(signed.profile.role, Role::Admin);
    let caller = t.clinic.auth().caller(&signed.token).unwrap();
    assert_eq!(caller.email(), ADMIN_EMAIL);

    t.clinic.auth().sign_out(&signed.token, SessionEnd::SignedOut).unwrap();
    let err = t.clinic.auth().caller(&signed.token).unwrap_err();
    assert!(matches!(err, CoreError::SessionEnded(SessionEnd::SignedOut)), "{err:?}");
}

#[test]
fn a_forged_or_tampered_token_is_refused() {
    let t = TestClinic::set_up();
    let signed = t.clinic.auth().sign_in(ADMIN_EMAIL, PASSWORD, Channel::App).unwrap();
    let mut tampered = signed.token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(t.clinic.auth().caller(&tampered).unwrap_err().code(), "not_signed_in");
    assert_eq!(t.clinic.auth().caller("not.a.token").unwrap_err().code(), "not_signed_in");
}

#[test]
fn idle_sessions_end_after_the_configured_minutes_but_activity_keeps_them_alive() {
    let t = TestClinic::set_up();
    let signed = t.clinic.auth().sign_in(ADMIN_EMAIL, PASSWORD, Channel::App).unwrap();
    for _ in 0..4 {
        t.advance(Duration::minutes(14));
        t.clinic.auth().caller(&signed.token).expect("used within 15 minutes");
    }
    t.advance(Duration::minutes(16));
    let err = t.clinic.auth().caller(&signed.token).unwrap_err();
    assert!(matches!(err, CoreError::SessionEnded(SessionEnd::Idle)), "{err:?}");
    assert!(err.to_string().contains("not used for a while"));
}

#[test]
fn the_idle_time_is_a_setting() {
    let t = TestClinic::set_up();
    let admin = t.admin();
    t.clinic.settings().set(&admin, "security.idle_timeout_minutes", "60").unwrap();
    let signed = t.clinic.auth().sign_in(ADMIN_EMAIL, PASSWORD, Channel::App).unwrap();
    assert_eq!(signed.profile.idle_timeout_minutes, 60);
    t.advance(Duration::minutes(45));
    assert!(t.clinic.auth().caller(&signed.token).is_ok());
}

#[test]
fn sessions_expire_after_twelve_hours_even_when_active() {
    let t = TestClinic::set_up();
    let admin = t.admin();
    t.clinic.settings().set(&admin, "security.idle_timeout_minutes", "240").unwrap();
    let s = t.clinic.auth().sign_in(ADMIN_EMAIL, PASSWORD, Channel::App).unwrap();
    for _ in 0..3 {
        t.advance(Duration::hours(3));
        t.clinic.auth().caller(&s.token).expect("active within the idle limit");
    }
    t.advance(Duration::hours(3)); // 12 hours after sign-in
    let err = t.clinic.auth().caller(&s.token).unwrap_err();
    assert!(matches!(err, CoreError::SessionEnded(SessionEnd::Expired)), "{err:?}");
}

#[test]
fn five_wrong_passwords_lock_the_account_for_fifteen_minutes() {
    let t = TestClinic::set_up();
    for attempt in 1..=4 {
        let err = t.clinic.auth().sign_in(ADMIN_EMAIL, "wrong password!", Channel::App).err().unwrap();
        assert_eq!(err.code(), "bad_credentials", "attempt {attempt}");
    }
    let err = t.clinic.auth().sign_in(ADMIN_EMAIL, "wrong password!", Channel::App).err().unwrap();
    assert_eq!(err.code(), "account_locked");
    assert!(err.to_string().contains("08:15"), "says until when, in clinic time: {err}");

    // Even the right password is refused while locked...
    t.advance(Duration::minutes(14));
    assert_eq!(t.clinic.auth().sign_in(ADMIN_EMAIL, PASSWORD, Channel::App).err().unwrap().code(), "account_locked");
    // ...and accepted once the lock has passed.
    t.advance(Duration::minutes(2));
    assert!(t.clinic.auth().sign_in(ADMIN_EMAIL, PASSWORD, Channel::App).is_ok());
}

#[test]
fn a_successful_sign_in_resets_the_failure_count() {
    let t = TestClinic::set_up();
    for _ in 0..4 {
        let _ = t.clinic.auth().sign_in(ADMIN_EMAIL, "wrong password!", Channel::App);
    }
    t.clinic.auth().sign_in(ADMIN_EMAIL, PASSWORD, Channel::App).unwrap();
    for _ in 0..4 {
        assert_eq!(
            t.clinic.auth().sign_in(ADMIN_EMAIL, "wrong password!", Channel::App).err().unwrap().code(),
            "bad_credentials"
        );
    }
}

#[test]
fn an_admin_can_unlock_a_locked_account() {
    let t = TestClinic::set_up();
    let admin = t.admin();
    t.add_user("desk@clinic.example", Role::Reception);
    for _ in 0..5 {
        let _ = t.clinic.auth().sign_in("desk@clinic.example", "wrong password!", Channel::App);
    }
    let locked = t.clinic.users().find_by_email(&admin, "desk@clinic.example").unwrap();
    assert!(locked.locked_until.is_some());
    t.clinic.users().unlock(&admin, locked.id).unwrap();
    assert!(t.clinic.auth().sign_in("desk@clinic.example", PASSWORD, Channel::App).is_ok());
}

#[test]
fn unknown_emails_and_wrong_passwords_get_the_same_answer() {
    let t = TestClinic::set_up();
    let a = t.clinic.auth().sign_in("nobody@clinic.example", PASSWORD, Channel::App).err().unwrap();
    let b = t.clinic.auth().sign_in(ADMIN_EMAIL, "wrong password!", Channel::App).err().unwrap();
    assert_eq!(a.to_string(), b.to_string());
}

#[test]
fn changing_a_role_or_deactivating_ends_that_persons_sessions() {
    let t = TestClinic::set_up();
    let admin = t.admin();
    t.add_user("desk@clinic.example", Role::Reception);
    let signed = t.clinic.auth().sign_in("desk@clinic.example", PASSWORD, Channel::App).unwrap();
    t.clinic
        .users()
        .update(&admin, signed.caller.user_id(), StaffUserChange { role: Some(Role::Doctor), ..Default::default() })
        .unwrap();
    assert!(matches!(
        t.clinic.auth().caller(&signed.token).unwrap_err(),
        CoreError::SessionEnded(SessionEnd::AccountChanged)
    ));

    t.clinic
        .users()
        .update(&admin, signed.caller.user_id(), StaffUserChange { active: Some(false), ..Default::default() })
        .unwrap();
    let err = t.clinic.auth().sign_in("desk@clinic.example", PASSWORD, Channel::App).err().unwrap();
    assert_eq!(err.code(), "forbidden");
    assert!(err.to_string().contains("deactivated"));
}

#[test]
fn the_last_administrator_cannot_be_removed() {
    let t = TestClinic::set_up();
    let admin = t.admin();
    let err = t
        .clinic
        .users()
        .update(&admin, admin.user_id(), StaffUserChange { role: Some(Role::Reception), ..Default::default() })
        .unwrap_err();
    assert_eq!(err.code(), "conflict");
    let err = t
        .clinic
        .users()
        .update(&admin, admin.user_id(), StaffUserChange { active: Some(false), ..Default::default() })
        .unwrap_err();
    assert_eq!(err.code(), "conflict");
}

#[test]
fn only_administrators_manage_users() {
    let t = TestClinic::set_up();
    let desk = t.add_user("desk@clinic.example", Role::Reception);
    let doctor = t.add_user("doc@clinic.example", Role::Doctor);
    for caller in [&desk, &doctor] {
        let err = t.clinic.users().list(caller).unwrap_err();
        assert_eq!(err.code(), "forbidden");
        let err = t
            .clinic
            .users()
            .add(
                caller,
                NewStaffUser {
                    email: "x@clinic.example".into(),
                    full_name: "X".into(),
                    role: Role::Admin,
                    password: PASSWORD.into(),
                },
            )
            .unwrap_err();
        assert_eq!(err.code(), "forbidden");
    }
}

#[test]
fn duplicate_emails_and_bad_emails_are_refused() {
    let t = TestClinic::set_up();
    let admin = t.admin();
    let add = |email: &str| {
        t.clinic.users().add(
            &admin,
            NewStaffUser {
                email: email.into(),
                full_name: "Someone".into(),
                role: Role::Reception,
                password: PASSWORD.into(),
            },
        )
    };
    assert_eq!(add("ADMIN@clinic.example").unwrap_err().field(), Some("email"));
    assert_eq!(add("no-at-sign").unwrap_err().field(), Some("email"));
    assert_eq!(add("a b@clinic.example").unwrap_err().field(), Some("email"));
}

#[test]
fn sign_ins_and_failures_are_audited() {
    let t = TestClinic::set_up();
    let _ = t.clinic.auth().sign_in(ADMIN_EMAIL, "wrong password!", Channel::App);
    let _ = t.clinic.auth().sign_in("nobody@clinic.example", "wrong password!", Channel::App);
    let admin = t.admin();
    let actions: Vec<String> = t
        .clinic
        .audit()
        .recent(&admin, None, 50)
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.action, e.actor))
        .collect();
    assert!(actions.contains(&format!("auth.sign_in {ADMIN_EMAIL}")), "{actions:?}");
    assert!(actions.contains(&format!("auth.sign_in_failed {ADMIN_EMAIL}")), "{actions:?}");
    assert!(actions.contains(&"auth.sign_in_failed nobody@clinic.example".to_string()), "{actions:?}");
}
