//! `clinicdesk consultation …` and `clinicdesk call-page …`: video consultations, their review and
//! export, and the patients' call page.

use clap::Subcommand;
use std::path::PathBuf;

/// APPT is an appointment id or its booking reference (e.g. CD-7KQ2XM).
#[derive(Subcommand)]
pub enum ConsultationCommand {
    /// Past consultations (those that started), newest first, a page at a time. Everyone sees the
    /// list; whether each has notes or chat only those who may read them. No network needed.
    List {
        /// The doctor's id (`clinicdesk doctor list`).
        #[arg(long, value_name = "DOCTOR_ID")]
        doctor: Option<String>,
        /// The patient's id (`clinicdesk patient search`).
        #[arg(long, value_name = "PATIENT_ID")]
        patient: Option<String>,
        /// From this clinic day on.
        #[arg(long, value_name = "YYYY-MM-DD")]
        from: Option<String>,
        /// Up to and including this clinic day.
        #[arg(long, value_name = "YYYY-MM-DD")]
        to: Option<String>,
        /// Only those with notes (doctors: their own).
        #[arg(long)]
        has_notes: bool,
        /// Only those with a kept chat (doctors: their own).
        #[arg(long)]
        has_chat: bool,
        /// Go on after this mark (printed under the previous page).
        #[arg(long, value_name = "MARK")]
        after: Option<String>,
        #[arg(long, default_value = "50")]
        limit: u32,
    },
    /// A consultation's record: its texts, the waiting room, who joined and for how long, the chat,
    /// the notes and every amendment (the clinical parts for its doctor and administrators only).
    Show {
        #[arg(value_name = "APPT")]
        appointment: String,
    },
    /// Save the record as a PDF or JSON file. It holds personal health information; the export is
    /// audited. Never overwrites a file.
    Export {
        #[arg(value_name = "APPT")]
        appointment: String,
        #[arg(long, value_name = "pdf|json")]
        format: String,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Save a chat attachment kept with the record (its doctor and administrators; `show` lists
    /// them with their IDs). It holds personal health information; saving is audited. Never
    /// overwrites a file.
    Attachment {
        #[arg(value_name = "APPT")]
        appointment: String,
        /// The attachment's ID (ME...), as `consultation show` lists it.
        #[arg(value_name = "ID")]
        media: String,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Search past consultations' notes and chat (your own as a doctor; all as an administrator):
    /// every word, the last one whole first and as a word start when that does not fill a page;
    /// accents and case ignored. No network needed.
    Search {
        #[arg(value_name = "TEXT")]
        text: String,
    },
    /// Start the video consultation (or continue a start that stopped half-way): its room and chat.
    Start {
        #[arg(value_name = "APPT")]
        appointment: String,
    },
    /// Where the consultation stands; its doctor also sees the notes and who was in the room.
    Status {
        #[arg(value_name = "APPT")]
        appointment: String,
    },
    /// End it for everyone, and keep who was in the room and the whole chat (its doctor, or an
    /// administrator ending one left running).
    End {
        #[arg(value_name = "APPT")]
        appointment: String,
    },
    /// Your Access Token for the consultation's room and chat (with --json: identity, room, expiry);
    /// the room is opened again first if Twilio closed it while it was empty.
    Token {
        #[arg(value_name = "APPT")]
        appointment: String,
    },
    /// Send a chat message to the patient.
    Send {
        #[arg(value_name = "APPT")]
        appointment: String,
        #[arg(long)]
        body: String,
    },
    /// The chat, oldest first.
    Messages {
        #[arg(value_name = "APPT")]
        appointment: String,
    },
    /// Mark the chat read (the patient sees the read receipt).
    Read {
        #[arg(value_name = "APPT")]
        appointment: String,
    },
    /// Record that the patient agreed to the consultation being recorded.
    Consent {
        #[arg(value_name = "APPT")]
        appointment: String,
        /// Agreement to recording (the only consent recorded here).
        #[arg(long, required = true)]
        recording: bool,
    },
    /// Save your notes (the whole text, as typed).
    Note {
        #[arg(value_name = "APPT")]
        appointment: String,
        #[arg(long)]
        text: String,
    },
    /// The consultation's recordings (metadata only; the media stays in the clinic's Twilio account).
    Recordings {
        #[arg(value_name = "APPT")]
        appointment: String,
    },
    /// Texts the patient a new link to the video consultation (the video invite template). Needs a
    /// call page (setting video.call_page_url) and the patient's agreement to texts.
    Invite {
        #[arg(value_name = "APPT")]
        appointment: String,
    },
}

#[derive(Subcommand)]
pub enum CallPageCommand {
    /// Publish the call page to the clinic's Twilio account as public assets (administrators) and
    /// point patients' links at it (setting video.call_page_url). Publishing again replaces it.
    Publish {
        /// The built UI (default: $CLINICDESK_UI_DIR, else this build's ui/dist).
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
    },
    /// Write the call page's files into DIR, for a clinic serving it from its own website (then set
    /// video.call_page_url to the address of DIR/call.html). Needs no sign-in.
    Export {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// The built UI (default: $CLINICDESK_UI_DIR, else this build's ui/dist).
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
    },
}
