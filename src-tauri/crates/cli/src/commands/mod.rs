//! One function per command: sign in if needed, call the core, print the result. The commands
//! themselves live beside this file, one file per domain.

mod appointments;
mod audit;
pub mod call_page;
mod consultations;
mod directory;
mod review;
mod server;
mod settings;
mod templates;
mod users;

use crate::args::*;
use crate::output::show;
use clinicdesk_core::auth::{Caller, Channel, SetupRequest};
use clinicdesk_core::error::SessionEnd;
use clinicdesk_core::settings::{system_time_zone, ClinicSettingsInput};
use clinicdesk_core::{resolve_data_dir, Clinic, CoreError, Result};

pub const PASSWORD_ENV: &str = "CLINICDESK_PASSWORD";
pub const NEW_PASSWORD_ENV: &str = "CLINICDESK_NEW_PASSWORD";

pub fn run(cli: Cli) -> Result<()> {
    // Exporting the call page reads only the built UI: no clinic, no sign-in.
    if let Command::CallPage(CallPageCommand::Export { dir, from }) = &cli.command {
        return call_page::export(dir, from.as_deref(), cli.json);
    }
    // Moving a clinic onto a server opens the folder it names, and signs in on both ends.
    if let Command::Server(command @ ServerCommand::MigrateFrom { .. }) = cli.command {
        return server::server(cli.as_user.as_deref(), cli.json, command);
    }
    let clinic = Clinic::open(&resolve_data_dir(cli.data_dir.clone())?)?;
    let json = cli.json;
    if let Command::Init(args) = &cli.command {
        return init(&clinic, json, args);
    }
    if let Command::Server(ServerCommand::Join { to }) = &cli.command {
        return server::join(&clinic, json, to);
    }
    let email = cli.as_user.as_deref().ok_or_else(|| {
        CoreError::invalid("as", "Say who you are with --as EMAIL (your password goes in CLINICDESK_PASSWORD).")
    })?;
    let password = secret_from_env(PASSWORD_ENV, &format!("Password for {email}: "))?;
    // On a desk of a clinic server the server checks the password when it can be reached (and
    // this desk's copy is brought up to date first); otherwise the clinic here does.
    let link = match clinic.desk_sync().is_joined()? {
        true => Some(clinic.desk_sync().link(None)?),
        false => None,
    };
    let signed = match &link {
        Some(link) => server::block_on(async {
            let signed = clinic.desk_sync().sign_in(link, email, &password, Channel::Cli).await?;
            if link.has_session() {
                clinic.desk_sync().pull(link, std::time::Duration::ZERO).await?;
            }
            Ok(signed)
        })?,
        None => clinic.auth().sign_in(email, &password, Channel::Cli)?,
    };
    let result = match cli.command {
        // The password just used to sign in is the current one the change is checked against.
        Command::Password(PasswordCommand::Change) => {
            users::change_own_password(&clinic, &signed.caller, &password, json)
        }
        Command::Server(ServerCommand::Status) => server::status(&clinic, &signed.caller, json),
        Command::Server(ServerCommand::Sync) => match &link {
            Some(link) => server::sync(&clinic, link, signed.profile.user_id, json),
            None => {
                Err(CoreError::NotFound("This data folder is a one-desk clinic, not a desk of a clinic server.".into()))
            }
        },
        command => dispatch(&clinic, &signed.caller, json, command),
    };
    if let Some(link) = &link {
        // What this command changed goes to the server now, if it can be reached; if not, it waits
        // (queued, "not yet confirmed") for the next command, `server sync`, or the app.
        if result.is_ok() && link.has_session() {
            if let Err(e) =
                server::block_on(clinic.desk_sync().sync_once(link, signed.profile.user_id, std::time::Duration::ZERO))
            {
                eprintln!("Saved on this desk; not sent to the clinic server yet ({e}).");
            }
        }
        server::block_on(async {
            link.sign_out().await;
            Ok(())
        })?;
    }
    // One command, one session: close it so it never lingers as an open session.
    let _ = clinic.auth().sign_out(&signed.token, SessionEnd::SignedOut);
    result
}

fn dispatch(clinic: &Clinic, caller: &Caller, json: bool, command: Command) -> Result<()> {
    match command {
        Command::Init(_) => unreachable!("handled before sign-in"),
        Command::Password(_) => unreachable!("handled with the password used to sign in"),
        Command::User(c) => users::user(clinic, caller, json, c),
        Command::Patient(c) => directory::patient(clinic, caller, json, c),
        Command::Doctor(c) => directory::doctor(clinic, caller, json, c),
        Command::Appointment(c) => appointments::appointment(clinic, caller, json, c),
        Command::Settings(c) => settings::settings_cmd(clinic, caller, json, c),
        Command::Twilio(c) => crate::messaging::twilio(clinic, caller, json, c),
        Command::Token { identity, room, chat, ttl } => {
            crate::messaging::token(clinic, caller, &identity, room.as_deref(), chat, ttl)
        }
        Command::Consultation(c) => consultations::consultation(clinic, caller, json, c),
        Command::CallPage(CallPageCommand::Publish { from }) => call_page::publish(clinic, caller, json, from),
        Command::CallPage(CallPageCommand::Export { .. }) => unreachable!("handled before sign-in"),
        Command::Sms(c) => crate::messaging::sms(clinic, caller, json, c),
        Command::Templates(c) => templates::templates(clinic, caller, json, c),
        Command::Outbox(c) => {
            caller.require(clinicdesk_core::auth::Permission::SendTexts)?;
            crate::messaging::outbox(clinic, caller, json, c)
        }
        Command::Audit { record, limit } => audit::audit(clinic, caller, json, record, limit),
        Command::DemoSeed => settings::demo_seed(clinic, caller, json),
        Command::Server(_) => unreachable!("handled before dispatch"),
    }
}

/// A password from the environment, or typed at a hidden prompt when a person is at the terminal.
pub fn secret_from_env(var: &str, prompt: &str) -> Result<String> {
    if let Ok(value) = std::env::var(var) {
        if !value.is_empty() {
            return Ok(value);
        }
    }
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return rpassword::prompt_password(prompt)
            .map_err(|_| CoreError::invalid("password", "Could not read the password from the terminal."));
    }
    Err(CoreError::invalid("password", format!("Set {var} to the password (no terminal to ask on).")))
}

fn init(clinic: &Clinic, json: bool, args: &InitArgs) -> Result<()> {
    let password = secret_from_env(PASSWORD_ENV, "New administrator password: ")?;
    let profile = clinic.auth().set_up(SetupRequest {
        clinic: ClinicSettingsInput {
            clinic_name: args.clinic_name.clone(),
            time_zone: args.time_zone.clone().unwrap_or_else(system_time_zone),
            default_country: args.country.clone(),
            idle_timeout_minutes: None,
            sms_messages_per_second: None,
        },
        admin_email: args.admin_email.clone(),
        admin_name: args.admin_name.clone(),
        admin_password: password,
    })?;
    show(json, &profile, |p| {
        format!("ClinicDesk is set up in {}. Administrator: {}.", clinic.data_dir().display(), p.email)
    });
    Ok(())
}
