//! Roles and what each may do. This table is the single source of truth: the shell and the CLI only
//! ever ask `Caller::require`, so a rule cannot differ between the two front doors.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Role {
    Admin,
    Reception,
    Doctor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reception => "reception",
            Role::Doctor => "doctor",
        }
    }
    pub fn parse(text: &str) -> Option<Role> {
        match text.trim().to_ascii_lowercase().as_str() {
            "admin" => Some(Role::Admin),
            "reception" => Some(Role::Reception),
            "doctor" => Some(Role::Doctor),
            _ => None,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Administrator",
            Role::Reception => "Reception",
            Role::Doctor => "Doctor",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ManageUsers,
    ManageSettings,
    ReadAudit,
    ReadPatients,
    WritePatients,
    ManageDoctors,
    ReadSchedule,
    WriteSchedule,
    SendTexts,
    /// A free-form Twilio token (`clinicdesk token`): an administrator's diagnostic. Doctors get
    /// tokens only through their consultation (`RunConsultations`), for its room and identity.
    MintTokens,
    /// Start, join, chat in, document and end a video consultation; the core also checks that the
    /// caller is the appointment's own doctor.
    RunConsultations,
    /// Read past consultations' notes and chat (search, the record): doctors their own (the core
    /// also checks the appointment's doctor), administrators all; never reception.
    ReadConsultationRecords,
    /// See that past consultations happened and the texts sent for them (the review list, a
    /// record without its clinical parts): everyone who sees the schedule.
    ReviewConsultations,
    SeedDemoData,
    ImportRecords,
}

impl Permission {
    pub fn allows(self, role: Role) -> bool {
        use Permission::*;
        use Role::*;
        match self {
            ManageUsers | ManageSettings | ReadAudit | ManageDoctors | SeedDemoData | ImportRecords => role == Admin,
            ReadPatients | ReadSchedule | ReviewConsultations => true,
            MintTokens => role == Admin,
            RunConsultations => role == Doctor,
            ReadConsultationRecords => matches!(role, Admin | Doctor),
            WritePatients | WriteSchedule | SendTexts => matches!(role, Admin | Reception),
        }
    }

    /// Whether the permission only reads (what a folder kept to read still allows).
    pub fn only_reads(self) -> bool {
        use Permission::*;
        matches!(self, ReadAudit | ReadPatients | ReadSchedule | ReadConsultationRecords | ReviewConsultations)
    }

    /// A stable name for the audit trail (`access.refused` rows).
    pub fn as_str(self) -> &'static str {
        use Permission::*;
        match self {
            ManageUsers => "manage_users",
            ManageSettings => "manage_settings",
            ReadAudit => "read_audit",
            ReadPatients => "read_patients",
            WritePatients => "write_patients",
            ManageDoctors => "manage_doctors",
            ReadSchedule => "read_schedule",
            WriteSchedule => "write_schedule",
            SendTexts => "send_texts",
            MintTokens => "mint_tokens",
            RunConsultations => "run_consultations",
            ReadConsultationRecords => "read_consultation_records",
            ReviewConsultations => "review_consultations",
            SeedDemoData => "seed_demo_data",
            ImportRecords => "import_records",
        }
    }

    /// What the person was trying to do, for the refusal message.
    pub fn describe(self) -> &'static str {
        use Permission::*;
        match self {
            ManageUsers => "manage staff accounts",
            ManageSettings => "change clinic settings",
            ReadAudit => "read the audit log",
            ReadPatients => "view patients",
            WritePatients => "add or change patients",
            ManageDoctors => "manage doctors",
            ReadSchedule => "view appointments",
            WriteSchedule => "book, move or cancel appointments",
            SendTexts => "send text messages",
            MintTokens => "mint diagnostic Twilio tokens",
            RunConsultations => "run video consultations",
            ReadConsultationRecords => "read consultation notes and chats",
            ReviewConsultations => "see past consultations",
            SeedDemoData => "load the sample clinic",
            ImportRecords => "import patients and appointments",
        }
    }
}
