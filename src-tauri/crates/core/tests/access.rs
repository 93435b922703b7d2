//! Roles through every door: refused actions leave a trace, and the trail cannot be forged.

mod common;

use clinicdesk_core::audit::MAX_ACTOR_LABEL_CHARS;
use clinicdesk_core::auth::{Channel, Role};
use clinicdesk_core::users::{NewStaffUser, StaffUserChange};
use common::*;

fn refusals(t: &TestClinic) -> Vec<(String, String)> {
    let admin = t.admin();
    t.clinic
        .audit()
        .recent(&admin, None, 500)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "access.refused")
        .map(|e| (e.actor, e.detail.unwrap_or_default()))
        .collect()
}

#[test]
fn a_reception_user_trying_an_admin_action_leaves_an_audit_row() {
    let t = TestClinic::set_up();
    let desk = t.add_user("desk@clinic.example", Role::Reception);
    assert!(refusals(&t).is_empty());

    let err = t.clinic.users().list(&desk).unwrap_err();
    assert_eq!(err.code(), "forbidden");
    assert!(err.to_string().contains("not allowed to manage staff accounts"), "{err}");

    assert_eq!(refusals(&t), vec![("desk@clinic.example".to_string(), "manage_users".to_string())]);
}

#[test]
fn every_staff_and_audit_door_refuses_other_roles_and_records_it() {
    let t = TestClinic::set_up();
    let admin = t.admin();
    let admin_id = admin.user_id();
    let desk = t.add_user("desk@clinic.example", Role::Reception);
    let doctor = t.add_user("doc@clinic.example", Role::Doctor);
    let new_user = || NewStaffUser {
        email: "x@clinic.example".into(),
        full_name: "X".into(),
        role: Role::Admin,
        password: PASSWORD.into(),
    };
    for caller in [&desk, &doctor] {
        let attempts = [
            t.clinic.users().list(caller).err(),
            t.clinic.users().get(caller, admin_id).err(),
            t.clinic.users().add(caller, new_user()).err(),
            t.clinic.users().update(caller, admin_id, StaffUserChange::default()).err(),
            t.clinic.users().reset_password(caller, admin_id, "a new password 1").err(),
            t.clinic.users().unlock(caller, admin_id).err(),
            t.clinic.users().find_by_email(caller, ADMIN_EMAIL).err(),
            t.clinic.audit().recent(caller, None, 10).err(),
            t.clinic.doctors().add(caller, "doc@clinic.example", "General practice").err(),
        ];
        for (i, err) in attempts.iter().enumerate() {
            assert_eq!(
                err.as_ref().map(|e| e.code().as_str()),
                Some("forbidden"),
                "attempt {i} by {:?}",
                caller.role()
            );
        }
    }
    let rows = refusals(&t);
    assert_eq!(rows.len(), 18, "{rows:?}");
    assert!(rows.contains(&("doc@clinic.example".into(), "read_audit".into())));
    assert!(rows.contains(&("desk@clinic.example".into(), "manage_doctors".into())));
    // Allowed actions leave no refusal.
    t.clinic.users().list(&admin).unwrap();
    assert_eq!(refusals(&t).len(), 18);
}

#[test]
fn a_typed_email_cannot_forge_or_flood_audit_lines() {
    let t = TestClinic::set_up();
    let forged = format!(
        "eve@clinic.example\n2026-03-02 08:00:00  admin@clinic.example  user.add\u{1b}[2K\r\u{202E}{}",
        "x".repeat(10_000)
    );
    let _ = t.clinic.auth().sign_in(&forged, "wrong password!", Channel::App);
    let admin = t.admin();
    let entry = t
        .clinic
        .audit()
        .recent(&admin, None, 20)
        .unwrap()
        .into_iter()
        .find(|e| e.action == "auth.sign_in_failed")
        .expect("the failed sign-in is audited");
    assert!(!entry.actor.chars().any(|c| c.is_control() || c == '\u{202E}'), "{:?}", entry.actor);
    assert!(entry.actor.chars().count() <= MAX_ACTOR_LABEL_CHARS + 1, "{}", entry.actor.len());
    assert!(entry.actor.starts_with("eve@clinic.example2026-03-02"), "{:?}", &entry.actor[..40]);
    assert!(entry.actor.ends_with('…'));
}
