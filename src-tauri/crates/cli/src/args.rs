//! The command line, as clap reads it.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

// The video consultations' commands (the longest group) live in their own file.
mod consultations;
pub use consultations::{CallPageCommand, ConsultationCommand};

#[derive(Parser)]
#[command(
    name = "clinicdesk",
    version,
    about = "ClinicDesk from a terminal: staff, patients, doctors and appointments."
)]
#[command(
    after_help = "Passwords come from CLINICDESK_PASSWORD (yours, with --as) and CLINICDESK_NEW_PASSWORD (for a new account or `password change`), or a hidden prompt."
)]
pub struct Cli {
    /// The clinic's data folder (default: $CLINICDESK_DATA_DIR, else the app's data folder).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Machine-readable output; errors as {"code","message"} on stderr.
    #[arg(long, global = true)]
    pub json: bool,
    /// Act as this member of staff (password from CLINICDESK_PASSWORD); audited as them.
    #[arg(long = "as", global = true, value_name = "EMAIL")]
    pub as_user: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// First-time setup: create the clinic's settings and its first administrator.
    Init(InitArgs),
    /// Staff accounts (administrators only).
    #[command(subcommand)]
    User(UserCommand),
    /// Your own password.
    #[command(subcommand)]
    Password(PasswordCommand),
    #[command(subcommand)]
    Patient(PatientCommand),
    #[command(subcommand)]
    Doctor(DoctorCommand),
    #[command(subcommand)]
    Appointment(AppointmentCommand),
    /// Clinic settings.
    #[command(subcommand)]
    Settings(SettingsCommand),
    /// Fill an empty clinic with sample doctors, patients and three months of appointments.
    DemoSeed,
    /// Connect and check the clinic's Twilio account.
    #[command(subcommand)]
    Twilio(TwilioCommand),
    /// Print a Twilio Access Token for any identity (administrators' diagnostic; doctors use
    /// `consultation token`).
    Token {
        /// An opaque id (no emails or names).
        #[arg(long)]
        identity: String,
        /// Grant access to this video room.
        #[arg(long)]
        room: Option<String>,
        /// Grant chat on the clinic's Conversations service.
        #[arg(long)]
        chat: bool,
        /// Lifetime in seconds (default 3600, at most 14400).
        #[arg(long)]
        ttl: Option<u32>,
    },
    /// Video consultations: the appointment's doctor starts, joins, chats, notes and ends them.
    #[command(subcommand)]
    Consultation(ConsultationCommand),
    /// The patients' call page: publish it to the clinic's Twilio account, or export it for the
    /// clinic's own website.
    #[command(subcommand)]
    CallPage(CallPageCommand),
    /// Text messages.
    #[command(subcommand)]
    Sms(SmsCommand),
    /// The wording of the clinic's texts (changing it: administrators).
    #[command(subcommand)]
    Templates(TemplatesCommand),
    /// The outbox worker: send what is due, follow up on delivery, keep chat attachments.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// A clinic with several desks: move this one-desk clinic onto a clinic server.
    #[command(subcommand)]
    Server(ServerCommand),
    /// The audit trail, newest first (administrators).
    Audit {
        /// Only entries about this record (a patient, appointment or user id).
        #[arg(long, value_name = "ID")]
        record: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Args)]
pub struct InitArgs {
    #[arg(long, value_name = "EMAIL")]
    pub admin_email: String,
    #[arg(long, value_name = "NAME", default_value = "Administrator")]
    pub admin_name: String,
    #[arg(long, value_name = "NAME", default_value = "ClinicDesk Clinic")]
    pub clinic_name: String,
    /// IANA time zone, e.g. Europe/London (default: this computer's).
    #[arg(long, value_name = "ZONE")]
    pub time_zone: Option<String>,
    /// Country for phone numbers typed without +code, e.g. GB.
    #[arg(long, value_name = "CC", default_value = "GB")]
    pub country: String,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a staff account (its password from CLINICDESK_NEW_PASSWORD).
    Add {
        #[arg(long)]
        email: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        #[arg(long)]
        name: String,
    },
    List,
    /// Unlock an account locked after failed sign-ins.
    Unlock {
        email: String,
    },
}

#[derive(Subcommand)]
pub enum PasswordCommand {
    /// Change your own password. The current one is the one you sign in with (CLINICDESK_PASSWORD
    /// or a prompt); the new one comes from CLINICDESK_NEW_PASSWORD or a hidden prompt, asked twice.
    /// Your other ClinicDesk sessions are signed out.
    Change,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Admin,
    Reception,
    Doctor,
}

#[derive(Subcommand)]
pub enum PatientCommand {
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        phone: String,
        /// Date of birth, YYYY-MM-DD.
        #[arg(long, value_name = "YYYY-MM-DD")]
        dob: Option<String>,
        /// Record that the patient does not want text messages.
        #[arg(long)]
        no_sms: bool,
    },
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    Search {
        text: String,
    },
    /// Record whether the patient agrees to text messages (with when and by whom).
    Consent {
        /// The patient's id.
        patient: String,
        #[arg(long, value_name = "yes|no", value_parser = ["yes", "no"])]
        sms: String,
    },
}

#[derive(Subcommand)]
pub enum DoctorCommand {
    /// List a staff account with the doctor role as bookable.
    Add {
        #[arg(long, value_name = "EMAIL")]
        user: String,
        #[arg(long)]
        specialization: String,
    },
    List,
}

#[derive(Subcommand)]
pub enum AppointmentCommand {
    Book {
        #[arg(long, value_name = "PATIENT_ID")]
        patient: String,
        #[arg(long, value_name = "DOCTOR_ID")]
        doctor: String,
        /// Clinic-local time, "YYYY-MM-DD HH:MM".
        #[arg(long, value_name = "YYYY-MM-DD HH:MM")]
        at: String,
        /// Length in minutes (5 to 480); checked by the core, so any text gets a sentence back.
        #[arg(long, default_value = "30")]
        minutes: String,
        /// A video consultation instead of an in-person visit.
        #[arg(long)]
        video: bool,
    },
    List {
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: String,
        #[arg(long, value_name = "DOCTOR_ID")]
        doctor: Option<String>,
    },
    /// Move an appointment (by id or booking reference).
    Reschedule {
        appointment: String,
        #[arg(long, value_name = "YYYY-MM-DD HH:MM")]
        at: String,
        #[arg(long)]
        minutes: Option<String>,
    },
    /// Cancel an appointment (by id or booking reference).
    Cancel {
        appointment: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
pub enum SettingsCommand {
    List,
    Set {
        key: String,
        value: String,
        /// Accept what a new clinic.time_zone does to upcoming appointments (their clock times change).
        #[arg(long)]
        confirm: bool,
    },
}

#[derive(Subcommand)]
pub enum TwilioCommand {
    /// Save the account's identifiers; the Auth Token and API Key Secret come from
    /// TWILIO_AUTH_TOKEN / TWILIO_API_KEY_SECRET (or a hidden prompt) and go to the keyring only.
    Configure {
        #[arg(long, value_name = "AC...")]
        account_sid: String,
        #[arg(long, value_name = "SK...")]
        api_key_sid: String,
        /// The number texts come from (E.164).
        #[arg(
            long,
            value_name = "+E164",
            required_unless_present = "messaging_service",
            conflicts_with = "messaging_service"
        )]
        from: Option<String>,
        #[arg(long, value_name = "MG...")]
        messaging_service: Option<String>,
        #[arg(long, value_name = "IS...")]
        conversations_service: Option<String>,
        #[arg(long, value_name = "REGION")]
        media_region: Option<String>,
    },
    /// Check the account, API key, sender and Conversations service.
    Check,
}

#[derive(Subcommand)]
pub enum SmsCommand {
    /// Put a text in the outbox; without --no-wait, also make the first attempt and report it.
    Send {
        #[arg(long, value_name = "NUMBER")]
        to: String,
        #[arg(long)]
        body: String,
        #[arg(long)]
        no_wait: bool,
    },
    List {
        /// pending, sending, sent, delivered, undelivered, failed or skipped.
        #[arg(long, value_name = "S")]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Texts patients sent back that no rule handled (C/YES, STOP, START and HELP are handled).
    Inbox {
        /// Only those nobody has marked read.
        #[arg(long)]
        unread: bool,
        /// Mark this text (its SID) read, then list.
        #[arg(long, value_name = "SID")]
        mark_read: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Subcommand)]
pub enum OutboxCommand {
    /// One pass, then the files patients sent in consultation chats; with --until-empty, keep going
    /// until nothing is pending or awaiting a final status.
    Run {
        #[arg(long)]
        until_empty: bool,
        /// Give up (exit 1) after this many seconds with --until-empty.
        #[arg(long, default_value_t = 900)]
        max_wait: u64,
    },
}

#[derive(Subcommand)]
pub enum TemplatesCommand {
    /// Every template, with whether it is the clinic's own wording or the default.
    List,
    /// Change a template's wording. Placeholders: {first_name}, {clinic_name}, {clinic_phone},
    /// {doctor}, {date}, {time}, {booking_ref}, {video_link} (video invite only).
    Set {
        /// confirmation, reschedule, cancellation, reminder, video_invite, or a quick text (quick.please_call).
        kind: String,
        #[arg(long)]
        body: String,
        /// Swap curly quotes, dashes and the ellipsis for their GSM-7 look-alikes before saving.
        #[arg(long)]
        replace_look_alikes: bool,
    },
    /// The exact text with sample data, its segments, encoding and cost.
    Preview {
        kind: String,
        /// Preview this wording instead of the saved one.
        #[arg(long)]
        body: Option<String>,
    },
    /// Go back to the built-in wording.
    Reset { kind: String },
}

/// Where a clinic server is and how this computer proves itself to it.
#[derive(Args)]
pub struct ServerAddress {
    /// The clinic server's address, e.g. https://clinic-server:8640.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// A desk credential from `clinicdesk-server enroll-desk` (the whole line is fine).
    // A credential may begin with '-' (one in 64 do): it is the value, not another option.
    #[arg(long, value_name = "CREDENTIAL", allow_hyphen_values = true)]
    pub credential: String,
    /// The clinic's own certificate (PEM file), when the server's is not from a public authority.
    #[arg(long, value_name = "FILE")]
    pub certificate: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum ServerCommand {
    /// Makes this (empty) data folder a desk of a clinic server, once the server has recognised
    /// the credential at that address. Staff then use the CLI with their server accounts.
    Join {
        #[command(flatten)]
        to: ServerAddress,
    },
    /// On a desk: the server's address, changes waiting for it and changes it refused.
    Status,
    /// On a desk: sends your waiting changes and this desk's audit trail, and brings the server's news.
    Sync,
    /// Moves the one-desk clinic in DATA_DIR onto an empty clinic server, keeping ids, staff and
    /// their passwords, patients, appointments and the audit trail. `--as` is an administrator of
    /// both (same email and password, from CLINICDESK_PASSWORD). Safe to run again if cut short.
    MigrateFrom {
        /// The one-desk clinic's data folder.
        data_dir: PathBuf,
        #[command(flatten)]
        to: ServerAddress,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn a_desk_credential_beginning_with_a_dash_is_taken_as_the_credential() {
        let cli = Cli::try_parse_from([
            "clinicdesk",
            "server",
            "join",
            "--server",
            "https://clinic-server:8640",
            "--credential",
            "-CzQ3x_secret",
        ])
        .expect("parsed");
        let Command::Server(ServerCommand::Join { to }) = cli.command else { panic!("not a join") };
        assert_eq!(to.credential, "-CzQ3x_secret");
    }
}
