//! `clinicdesk-server init` sets up a clinic's PostgreSQL database; `clinicdesk-server run` serves it.
//! The database connection string comes from CLINICDESK_DATABASE_URL (systemd reads it from a
//! root-only environment file; see the README's "Several desks" section), never from a desk.

use clap::{Parser, Subcommand};
use clinicdesk_server::{
    clinic_settings, http, schema, settings, staff_accounts, text_wording, twilio_setup, ServerError,
};
use std::net::SocketAddr;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "clinicdesk-server",
    version,
    about = "The ClinicDesk clinic server (several desks, one PostgreSQL database)"
)]
struct Args {
    /// libpq connection string or postgres:// URL of the clinic's database, as the role the server
    /// works as (a member of clinicdesk_writer that owns nothing).
    #[arg(long, env = "CLINICDESK_DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The same database as its owner, for schema migrations only (default: the working one, for
    /// a single-role setup such as a test).
    #[arg(long, env = "CLINICDESK_DATABASE_OWNER_URL", hide_env_values = true)]
    database_owner_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Creates the schema and the first administrator (the password is read from
    /// CLINICDESK_PASSWORD or asked for).
    Init {
        /// The clinic's name, as patients read it in texts.
        #[arg(long)]
        clinic_name: String,
        /// IANA time zone, e.g. Europe/London.
        #[arg(long)]
        time_zone: String,
        /// The country phone numbers are written in when they lack +code (ISO 3166, e.g. GB).
        #[arg(long)]
        country: String,
        #[arg(long)]
        admin_email: String,
        #[arg(long, default_value = "Administrator")]
        admin_name: String,
    },
    /// Enrols a computer as a desk of this clinic and prints its credential once (enter it in
    /// that computer's "Join a clinic server" setup; it is kept in its keyring).
    EnrollDesk {
        #[arg(long)]
        name: String,
    },
    /// Revokes a desk (a stolen or retired computer): its credential and sessions stop at once.
    RevokeDesk {
        #[arg(long)]
        name: String,
    },
    /// Lists the enrolled desks and when each was last heard from.
    ListDesks,
    /// Adds a staff account (reception, doctor or admin); a doctor can be booked at once. The
    /// password is read from CLINICDESK_NEW_PASSWORD or asked for; they sign in with it on any desk.
    AddStaff {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// reception, doctor or admin.
        #[arg(long, value_parser = ["reception", "doctor", "admin"])]
        role: String,
        /// A doctor's speciality, shown to reception when booking (e.g. "General practice").
        #[arg(long, default_value = "")]
        specialization: String,
    },
    /// Sets a new password for a staff member (forgotten, or locked out): their sessions end, and
    /// no desk lets the old one sign in offline. Read from CLINICDESK_NEW_PASSWORD or asked for.
    SetPassword {
        #[arg(long)]
        email: String,
    },
    /// Deactivates a staff member who left: they can no longer sign in on any desk, even offline.
    DeactivateStaff {
        #[arg(long)]
        email: String,
    },
    /// Lists the staff accounts.
    ListStaff,
    /// The clinic's settings: `settings list`, or `settings set KEY VALUE` (reminders, quiet
    /// hours, the clinic's phone and name, how long a change text waits).
    Settings {
        #[command(subcommand)]
        action: SettingsAction,
    },
    /// The wording of the clinic's texts: `templates list`, `templates set KIND --body TEXT`,
    /// `templates reset KIND` (KIND as listed, e.g. confirmation, reminder, video_invite).
    Templates {
        #[command(subcommand)]
        action: TemplatesAction,
    },
    /// Applies pending schema migrations and serves the clinic; one of the running servers
    /// becomes the text sender.
    Run {
        #[arg(long, env = "CLINICDESK_SERVER_LISTEN", default_value = "127.0.0.1:8640")]
        listen: SocketAddr,
        /// A name for this process in the sender lease (default: host name and process id).
        #[arg(long)]
        name: Option<String>,
        /// The TLS certificate chain desks see (PEM). Required unless --listen is a loopback address.
        #[arg(long, env = "CLINICDESK_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<std::path::PathBuf>,
        /// The certificate's private key (PEM), readable by the server's user only.
        #[arg(long, env = "CLINICDESK_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum SettingsAction {
    /// Every setting with its value.
    List,
    /// Checks and sets one setting, e.g. `settings set sms.quiet_hours 20:00-08:00`.
    Set { key: String, value: String },
}

#[derive(Subcommand)]
enum TemplatesAction {
    /// Every kind of text with the wording in use.
    List,
    /// Checks and saves the clinic's wording for one kind ({placeholders} as listed).
    Set {
        kind: String,
        #[arg(long)]
        body: String,
    },
    /// Goes back to the built-in wording for one kind.
    Reset { kind: String },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CLINICDESK_LOG").unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: under systemd they would litter the journal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(ServerError::Database(db)) => {
            // Here the reader is whoever runs the server: say what to check, not "try again".
            let said = schema::describe(&db);
            eprintln!("The clinic database refused or could not be reached: {said}");
            if said.contains("authentication failed") || said.contains("role \"") && said.contains("does not exist") {
                eprintln!("Run this as the server's user with its settings, for example:\n  runuser -u clinicdesk --preserve-environment -- clinicdesk-server …\nand check CLINICDESK_DATABASE_URL (README, \"Several desks\").");
            } else if said.contains("permission denied") {
                eprintln!("Schema changes need the database's owner: set CLINICDESK_DATABASE_OWNER_URL (README, \"Several desks\").");
            } else {
                eprintln!(
                    "Check that PostgreSQL is running and that CLINICDESK_DATABASE_URL names the clinic's database."
                );
            }
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

async fn run(args: Args) -> Result<(), ServerError> {
    let owner_url = args.database_owner_url.clone().unwrap_or_else(|| args.database_url.clone());
    match args.command {
        Command::Init { clinic_name, time_zone, country, admin_email, admin_name } => {
            // The desk's own rule: a code the phone-number library knows (GB, not UK).
            let country = clinicdesk_core::settings::parse_country(&country)
                .map_err(|e| ServerError::Setup(format!("--country: {e}")))?;
            let clinic_name = clinicdesk_core::users::check_name(&clinic_name)
                .map_err(|_| ServerError::Setup("Give the clinic a name of up to 120 characters.".into()))?;
            let zone: chrono_tz::Tz = time_zone.parse().map_err(|_| {
                ServerError::Setup(format!("'{time_zone}' is not a time zone: use a name such as Europe/London."))
            })?;
            let mut client = clinicdesk_server::db::connect(&owner_url, false).await?;
            schema::migrate(&mut client).await?;
            let tx = client.transaction().await?;
            if settings::get(&tx, settings::TIME_ZONE).await?.is_some() {
                return Err(ServerError::Setup("This clinic database is already set up.".into()));
            }
            let password = new_password("CLINICDESK_PASSWORD", "Password for the first administrator: ")?;
            settings::set(&tx, settings::TIME_ZONE, zone.name()).await?;
            settings::set(&tx, settings::CLINIC_NAME, &clinic_name).await?;
            settings::set(&tx, settings::COUNTRY, &country).await?;
            clinicdesk_server::directory::add_user(
                &tx,
                &admin_email,
                &admin_name,
                clinicdesk_core::auth::Role::Admin,
                &password,
            )
            .await?;
            tx.commit().await?;
            println!(
                "The clinic database is ready (schema {}), with {admin_email} as its administrator.",
                schema::latest()
            );
            Ok(())
        }
        Command::EnrollDesk { name } => {
            let client = clinicdesk_server::db::connect(&args.database_url, true).await?;
            let (desk, credential) = clinicdesk_server::desks::enroll(&client, None, &name).await?;
            println!("Desk \"{}\" enrolled (id {}).", desk.name, desk.id);
            // On a line of its own, so it can be copied whole into the desk's "Join" form.
            println!("Its credential (shown only this once; paste it into that desk's first screen):");
            println!("{credential}");
            Ok(())
        }
        Command::RevokeDesk { name } => {
            let client = clinicdesk_server::db::connect(&args.database_url, true).await?;
            let desk = clinicdesk_server::desks::revoke(&client, &name, chrono::Utc::now()).await?;
            println!("Desk \"{}\" is revoked; enrol the computer again to use it.", desk.name);
            Ok(())
        }
        Command::ListDesks => {
            let client = clinicdesk_server::db::connect(&args.database_url, true).await?;
            for (name, seen) in clinicdesk_server::desks::list(&client).await? {
                let seen = seen.map(|s| s.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| "never".into());
                println!("{name}\tlast seen {seen}");
            }
            Ok(())
        }
        Command::AddStaff { email, name, role, specialization } => {
            let role = clinicdesk_core::auth::Role::parse(&role)
                .ok_or_else(|| ServerError::Setup("--role is reception, doctor or admin.".into()))?;
            let password = new_password("CLINICDESK_NEW_PASSWORD", &format!("Password for {email}: "))?;
            let mut client = clinicdesk_server::db::connect(&args.database_url, true).await?;
            let tx = client.transaction().await?;
            staff_accounts::add_staff(&tx, &email, &name, role, &password, &specialization).await?;
            tx.commit().await?;
            println!("{name} ({email}) can now sign in on the clinic's desks as {}.", role.as_str());
            Ok(())
        }
        Command::SetPassword { email } => {
            let password = new_password("CLINICDESK_NEW_PASSWORD", &format!("New password for {email}: "))?;
            let mut client = clinicdesk_server::db::connect(&args.database_url, true).await?;
            let tx = client.transaction().await?;
            staff_accounts::set_password(&tx, &email, &password, chrono::Utc::now()).await?;
            tx.commit().await?;
            println!("The password for {email} is changed; they sign in again on their desk.");
            Ok(())
        }
        Command::DeactivateStaff { email } => {
            let mut client = clinicdesk_server::db::connect(&args.database_url, true).await?;
            let tx = client.transaction().await?;
            staff_accounts::deactivate(&tx, &email, chrono::Utc::now()).await?;
            tx.commit().await?;
            println!("{email} is deactivated: signed out everywhere, and no desk lets them sign in.");
            Ok(())
        }
        Command::ListStaff => {
            let client = clinicdesk_server::db::connect(&args.database_url, true).await?;
            for account in staff_accounts::list(&client).await? {
                let state = if account.active { "active" } else { "deactivated" };
                let speciality =
                    account.specialization.filter(|s| !s.is_empty()).map(|s| format!(" ({s})")).unwrap_or_default();
                println!("{}\t{}\t{}{speciality}\t{state}", account.email, account.full_name, account.role);
            }
            Ok(())
        }
        Command::Settings { action: SettingsAction::List } => {
            let client = clinicdesk_server::db::connect(&args.database_url, true).await?;
            for (key, value) in clinic_settings::list(&client).await? {
                let meaning = clinic_settings::KEYS.iter().find(|(k, _)| *k == key).map(|(_, m)| *m).unwrap_or("");
                println!("{key}\t{value}\t({meaning})");
            }
            Ok(())
        }
        Command::Settings { action: SettingsAction::Set { key, value } } => {
            let mut client = clinicdesk_server::db::connect(&args.database_url, true).await?;
            let tx = client.transaction().await?;
            let withdrawn = clinic_settings::set(&tx, &key, &value).await?;
            tx.commit().await?;
            println!("{key} is now {}.", value.trim());
            if withdrawn > 0 {
                println!("{withdrawn} waiting reminder(s) of times no longer in the list were withdrawn.");
            }
            Ok(())
        }
        Command::Templates { action: TemplatesAction::List } => {
            let client = clinicdesk_server::db::connect(&args.database_url, true).await?;
            for (name, body, own) in text_wording::list(&client).await? {
                let whose = if own { "the clinic's wording" } else { "built-in" };
                println!("{}\t({}, {whose})\n  {}", name.as_str(), name.label(), body.replace('\n', "\n  "));
            }
            Ok(())
        }
        Command::Templates { action: TemplatesAction::Set { kind, body } } => {
            let name = clinicdesk_core::sms::templates::TemplateName::parse(&kind)?;
            let mut client = clinicdesk_server::db::connect(&args.database_url, true).await?;
            let tx = client.transaction().await?;
            let saved = text_wording::set(&tx, name, &body).await?;
            tx.commit().await?;
            println!("{} now reads:\n  {}", name.as_str(), saved.replace('\n', "\n  "));
            Ok(())
        }
        Command::Templates { action: TemplatesAction::Reset { kind } } => {
            let name = clinicdesk_core::sms::templates::TemplateName::parse(&kind)?;
            let mut client = clinicdesk_server::db::connect(&args.database_url, true).await?;
            let tx = client.transaction().await?;
            text_wording::reset(&tx, name).await?;
            tx.commit().await?;
            println!("{} is back to the built-in wording.", name.as_str());
            Ok(())
        }
        Command::Run { listen, name, tls_cert, tls_key } => {
            let mut client = clinicdesk_server::db::connect(&owner_url, false).await?;
            schema::migrate(&mut client).await?;
            drop(client);
            let name = name.unwrap_or_else(|| format!("{}:{}", hostname(), std::process::id()));
            let tls = tls_cert.zip(tls_key).map(|(cert, key)| http::Tls { cert, key });
            let endpoints = clinicdesk_core::twilio::http::Endpoints::from_env();
            let texting = twilio_setup::file_from_env().map(|path| twilio_setup::load(&path, endpoints)).transpose()?;
            http::serve(&args.database_url, listen, name, tls, texting).await
        }
    }
}

/// A new password from `variable` (scripts) or a hidden prompt, typed twice so a typo is caught;
/// checked with the core's rule either way. `init` reads CLINICDESK_PASSWORD (the administrator's
/// own); `add-staff` and `set-password` read CLINICDESK_NEW_PASSWORD, so an administrator's
/// password still exported in the shell never silently becomes someone else's.
fn new_password(variable: &str, prompt: &str) -> Result<String, ServerError> {
    if let Ok(password) = std::env::var(variable) {
        clinicdesk_core::auth::check_new_password(&password).map_err(|e| ServerError::Setup(e.to_string()))?;
        return Ok(password);
    }
    ask_password_twice(variable, prompt)
}

fn ask_password_twice(variable: &str, prompt: &str) -> Result<String, ServerError> {
    let unreadable = |e: std::io::Error| {
        ServerError::Setup(format!("Could not read the password ({e}). Run this from a terminal, or set {variable}."))
    };
    let first = rpassword::prompt_password(prompt).map_err(unreadable)?;
    clinicdesk_core::auth::check_new_password(&first).map_err(|e| ServerError::Setup(e.to_string()))?;
    let again = rpassword::prompt_password("The same password again: ").map_err(unreadable)?;
    if first != again {
        return Err(ServerError::Setup(
            "The two passwords are not the same. Nothing was changed; run the command again.".into(),
        ));
    }
    Ok(first)
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "server".into())
}
