//! A consultation's record taken out of ClinicDesk: JSON (for another system) or PDF (to print or
//! send). Both carry a notice that they contain personal health information, and every export is
//! audited (who, which record, which format) beside the read itself.

use super::review::ConsultationRecord;
use super::Consultations;
use crate::audit::{self, AuditAction};
use crate::auth::Caller;
use crate::error::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// What every export says first.
pub const PHI_NOTICE: &str = "This file contains personal health information. Keep it as safely as the clinic's own records: store it encrypted, send it only to those who need it, and delete it when done.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Json,
    Pdf,
}

impl ExportFormat {
    pub fn parse(text: &str) -> Option<ExportFormat> {
        match text.trim().to_ascii_lowercase().as_str() {
            "json" => Some(ExportFormat::Json),
            "pdf" => Some(ExportFormat::Pdf),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Json => "json",
            ExportFormat::Pdf => "pdf",
        }
    }
}

/// An export's bytes and the name it suggests for its file (without the extension).
pub struct Exported {
    pub bytes: Vec<u8>,
    /// "consultation-BOOKINGREF-2026-03-02": no patient name, so a file list shows nothing clinical.
    pub file_stem: String,
}

#[derive(Serialize)]
struct JsonExport<'a> {
    notice: &'a str,
    exported_at: DateTime<Utc>,
    exported_by: &'a str,
    clinic: &'a str,
    time_zone: &'a str,
    record: &'a ConsultationRecord,
}

impl Consultations<'_> {
    /// The record is being printed from the screen (the webview's print): audited as an export
    /// beside the read, since the paper leaves ClinicDesk as a file would. Checks the same access.
    pub fn printed(&self, caller: &Caller, appointment: Uuid) -> Result<()> {
        let record = self.read_record(caller, appointment, "consultation print")?;
        let conn = self.clinic.db().conn()?;
        audit::record_for_patient(
            &conn,
            self.clinic.now(),
            caller,
            AuditAction::ConsultationExported,
            ("appointment", &appointment.to_string()),
            record.patient_id,
            Some(&format!("patient {}; printed{}", record.patient_id, if record.full { "" } else { " (texts only)" })),
        )?;
        Ok(())
    }

    /// The record as a file's bytes, as the caller may see it. Audited as an export.
    pub fn export(&self, caller: &Caller, appointment: Uuid, format: ExportFormat) -> Result<Exported> {
        let record = self.read_record(caller, appointment, "consultation export")?;
        let now = self.clinic.now();
        let settings = self.clinic.settings().current()?;
        let bytes = match format {
            ExportFormat::Json => serde_json::to_vec_pretty(&JsonExport {
                notice: PHI_NOTICE,
                exported_at: now,
                exported_by: caller.email(),
                clinic: &settings.clinic_name,
                time_zone: &settings.time_zone,
                record: &record,
            })
            .expect("a record serialises"),
            ExportFormat::Pdf => super::pdf::render(&record, &settings.clinic_name, &settings.time_zone, now)?,
        };
        let conn = self.clinic.db().conn()?;
        audit::record_for_patient(
            &conn,
            now,
            caller,
            AuditAction::ConsultationExported,
            ("appointment", &appointment.to_string()),
            record.patient_id,
            Some(&format!(
                "patient {}; exported as {}{}",
                record.patient_id,
                format.as_str(),
                if record.full { "" } else { " (texts only)" }
            )),
        )?;
        let day =
            record.starts_at.with_timezone(&settings.time_zone.parse().unwrap_or(chrono_tz::Tz::UTC)).date_naive();
        Ok(Exported { bytes, file_stem: format!("consultation-{}-{day}", record.booking_ref) })
    }
}
