//! The audit trail.

use crate::output::{show, table};
use clinicdesk_core::auth::Caller;
use clinicdesk_core::{Clinic, Result};

pub(super) fn audit(clinic: &Clinic, caller: &Caller, json: bool, record: Option<String>, limit: u32) -> Result<()> {
    let entries = clinic.audit().recent(caller, record.as_deref(), limit)?;
    show(json, &entries, |entries| {
        table(
            &["WHEN (UTC)", "WHO", "ACTION", "RECORD", "DETAIL"],
            entries
                .iter()
                .map(|e| {
                    let record = match (&e.record_type, &e.record_id) {
                        (Some(t), Some(id)) => format!("{t} {id}"),
                        _ => String::new(),
                    };
                    vec![
                        e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        e.actor.clone(),
                        e.action.clone(),
                        record,
                        e.detail.clone().unwrap_or_default(),
                    ]
                })
                .collect(),
        )
    });
    Ok(())
}
