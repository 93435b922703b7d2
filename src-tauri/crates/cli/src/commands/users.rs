//! Staff accounts.

use crate::args::{RoleArg, UserCommand};
use crate::commands::{secret_from_env, NEW_PASSWORD_ENV};
use crate::output::{show, table};
use clinicdesk_core::auth::{Caller, Role};
use clinicdesk_core::users::NewStaffUser;
use clinicdesk_core::{Clinic, CoreError, Result};

fn role(arg: RoleArg) -> Role {
    match arg {
        RoleArg::Admin => Role::Admin,
        RoleArg::Reception => Role::Reception,
        RoleArg::Doctor => Role::Doctor,
    }
}

pub(super) fn user(clinic: &Clinic, caller: &Caller, json: bool, command: UserCommand) -> Result<()> {
    match command {
        UserCommand::Add { email, role: r, name } => {
            caller.require(clinicdesk_core::auth::Permission::ManageUsers)?;
            let password = secret_from_env(NEW_PASSWORD_ENV, &format!("Password for the new account {email}: "))?;
            let user = clinic.users().add(caller, NewStaffUser { email, full_name: name, role: role(r), password })?;
            show(json, &user, |u| format!("Added {} ({}) as {}.\nid: {}", u.full_name, u.email, u.role.label(), u.id));
        }
        UserCommand::List => {
            let users = clinic.users().list(caller)?;
            show(json, &users, |users| {
                table(
                    &["ID", "NAME", "EMAIL", "ROLE", "STATUS"],
                    users
                        .iter()
                        .map(|u| {
                            let status = if !u.active {
                                "deactivated".into()
                            } else if let Some(t) = u.locked_until {
                                format!("locked until {}", t.format("%H:%M UTC"))
                            } else {
                                "active".into()
                            };
                            vec![u.id.to_string(), u.full_name.clone(), u.email.clone(), u.role.label().into(), status]
                        })
                        .collect(),
                )
            });
        }
        UserCommand::Unlock { email } => {
            let user = clinic.users().find_by_email(caller, &email)?;
            let user = clinic.users().unlock(caller, user.id)?;
            show(json, &user, |u| format!("Unlocked {}.", u.email));
        }
    }
    Ok(())
}

/// `password change`: the new password from CLINICDESK_NEW_PASSWORD, or typed twice at a hidden prompt.
pub(super) fn change_own_password(clinic: &Clinic, caller: &Caller, current: &str, json: bool) -> Result<()> {
    let new = new_password_twice()?;
    clinic.auth().change_password(caller, current, &new)?;
    let result = serde_json::json!({ "email": caller.email(), "password_changed": true });
    show(json, &result, |_| {
        "Your password was changed. Any other ClinicDesk sessions of yours were signed out.".into()
    });
    Ok(())
}

fn new_password_twice() -> Result<String> {
    if let Some(password) = std::env::var(NEW_PASSWORD_ENV).ok().filter(|p| !p.is_empty()) {
        return Ok(password);
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(CoreError::invalid(
            "new_password",
            format!("Set {NEW_PASSWORD_ENV} to the new password (no terminal to ask on)."),
        ));
    }
    let unreadable = |_| CoreError::invalid("new_password", "Could not read the password from the terminal.");
    let first = rpassword::prompt_password("New password: ").map_err(unreadable)?;
    let again = rpassword::prompt_password("The new password again: ").map_err(unreadable)?;
    if first != again {
        return Err(CoreError::invalid("new_password", "The two new passwords are different. Nothing was changed."));
    }
    Ok(first)
}
