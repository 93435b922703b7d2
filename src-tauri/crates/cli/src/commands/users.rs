//! Staff accounts.

use crate::args::{RoleArg, UserCommand};
use crate::commands::{secret_from_env, NEW_PASSWORD_ENV};
use crate::output::{show, table};
use clinicdesk_core::auth::{Caller, Role};
use clinicdesk_core::users::NewStaffUser;
use clinicdesk_core::{Clinic, Result};

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
