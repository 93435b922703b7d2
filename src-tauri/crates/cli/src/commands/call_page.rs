//! `clinicdesk call-page publish|export`: the patients' call page, from the built UI.

use crate::messaging::{http, runtime};
use crate::output::show;
use clinicdesk_core::auth::Caller;
use clinicdesk_core::call_page::{self, PublishOptions, PublishProgress};
use clinicdesk_core::{Clinic, CoreError, Result};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Where the built UI is looked for when `--from` is not given.
pub const UI_DIR_ENV: &str = "CLINICDESK_UI_DIR";

/// `--from`, else `$CLINICDESK_UI_DIR`, else the `ui/dist` of the source tree this was built from.
fn built_ui(from: Option<&Path>) -> Result<PathBuf> {
    let dir = from
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(UI_DIR_ENV).filter(|v| !v.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../ui/dist"));
    if dir.join(call_page::MANIFEST).is_file() {
        return Ok(dir);
    }
    Err(CoreError::invalid(
        "from",
        format!(
            "No built call page in {} (it needs {} and call.html). Build the UI (cd ui && npm run build) or give --from DIR.",
            dir.display(),
            call_page::MANIFEST
        ),
    ))
}

pub fn export(dir: &Path, from: Option<&Path>, json: bool) -> Result<()> {
    let files = call_page::files(&call_page::folder_assets(&built_ui(from)?))?;
    let written = call_page::export(&files, dir)?;
    let summary = json!({ "dir": dir, "files": written.files, "bytes": written.bytes });
    show(json, &summary, |_| {
        format!(
            "Wrote the call page to {} ({} files, {} kB). Serve the folder at the root of an https address (the page loads /assets/...) and set video.call_page_url to the address of its call.html.",
            dir.display(),
            written.files,
            written.bytes.div_ceil(1024)
        )
    });
    Ok(())
}

pub fn publish(clinic: &Clinic, caller: &Caller, json: bool, from: Option<PathBuf>) -> Result<()> {
    // Check the caller before reading files, so a refusal is the first thing said.
    caller.require(clinicdesk_core::auth::Permission::ManageSettings)?;
    let files = call_page::files(&call_page::folder_assets(&built_ui(from.as_deref())?))?;
    // Progress goes to stderr, so stdout holds only the result (or its JSON).
    let mut last_building = u32::MAX;
    let progress = |step: PublishProgress| match step {
        PublishProgress::Preparing { files } => eprintln!("Preparing {files} files…"),
        PublishProgress::Uploading { done, total } if done > 0 => eprintln!("Uploaded {done} of {total}"),
        PublishProgress::Uploading { .. } => {}
        PublishProgress::Building { seconds } => {
            // One line every ten seconds is enough to show it has not stopped.
            if last_building == u32::MAX || seconds / 10 != last_building / 10 {
                eprintln!("Twilio is building the page ({seconds} s)…");
                last_building = seconds;
            }
        }
        PublishProgress::Deploying => eprintln!("Putting the new page in place…"),
    };
    let published =
        runtime().block_on(clinic.call_page().publish(caller, &http(), &files, PublishOptions::default(), progress))?;
    show(json, &published, |p| format!("Published: {}\nPatients' links now open this page.", p.url));
    Ok(())
}
