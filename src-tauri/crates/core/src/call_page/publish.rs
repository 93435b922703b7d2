//! Publishing the call page to the clinic's own Twilio account, so a clinic needs no web server:
//! the page's files become public assets of a Serverless service ClinicDesk owns, built and
//! deployed to one environment, whose address becomes `video.call_page_url`.
//!
//! Invariants:
//! - Repeatable: the service and the environment are found by their unique names, assets by their
//!   paths, so publishing again makes no second service or environment; it uploads new versions,
//!   builds them and deploys that build, which replaces the page served before.
//! - Nothing changes for patients until the last step: a failure anywhere before the deployment
//!   (a build Twilio could not finish included) leaves the page they use, and the address in the
//!   settings, as they were.
//! - Administrators only; the publication is audited with its build.

use super::{PageFile, ENTRY};
use crate::audit::{self, Actor, AuditAction};
use crate::auth::{Caller, Permission};
use crate::error::{CoreError, Result};
use crate::twilio::serverless::{self, BuildStatus};
use crate::twilio::{TwilioError, TwilioHttp};
use serde::Serialize;
use std::time::Duration;
use ts_rs::TS;

/// The Serverless service that holds the page (one per Twilio account).
pub const SERVICE_NAME: &str = "clinicdesk-call-page";
/// Its one environment; also the end of its address (`…-patients.twil.io`).
pub const ENVIRONMENT_NAME: &str = "patients";
/// When the page was last published (RFC 3339), for Settings.
pub const KEY_PUBLISHED_AT: &str = "video.call_page_published_at";

/// How far publishing has got, for a progress display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "step", rename_all = "snake_case")]
#[ts(export)]
pub enum PublishProgress {
    /// Finding (or making) the service and a place for each file.
    Preparing { files: u32 },
    /// `done` of `total` files uploaded.
    Uploading { done: u32, total: u32 },
    /// Twilio is building the page; `seconds` since it began.
    Building { seconds: u32 },
    /// Putting the new build in place of the old one.
    Deploying,
}

/// A published page.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct PublishedPage {
    /// The call page's address, now in `video.call_page_url`.
    pub url: String,
    pub files: u32,
    #[ts(type = "number")]
    pub bytes: u64,
}

/// How patiently to wait for Twilio's build.
#[derive(Debug, Clone, Copy)]
pub struct PublishOptions {
    pub poll_every: Duration,
    pub give_up_after: Duration,
}

impl Default for PublishOptions {
    fn default() -> Self {
        // Twilio builds a handful of static files in seconds to a minute.
        PublishOptions { poll_every: Duration::from_secs(2), give_up_after: Duration::from_secs(300) }
    }
}

/// The clinic's call page.
pub struct CallPage<'a> {
    pub(crate) clinic: &'a crate::Clinic,
}

/// True the first time (no page yet: no links are sent) and after (links keep the earlier page).
const NOT_PUBLISHED: &str = "so the call page was not published and nothing changed for patients' links.";

impl CallPage<'_> {
    /// Publishes `files` (from [`super::files`]) and points patients' links at the result.
    pub async fn publish(
        &self,
        caller: &Caller,
        http: &TwilioHttp,
        files: &[PageFile],
        options: PublishOptions,
        mut progress: impl FnMut(PublishProgress) + Send,
    ) -> Result<PublishedPage> {
        caller.require(Permission::ManageSettings)?;
        if !files.iter().any(|f| f.path == ENTRY) {
            return Err(CoreError::Unavailable(format!("The call page to publish has no {ENTRY}.")));
        }
        let account = self.clinic.twilio().account()?.ok_or_else(|| {
            CoreError::Twilio(format!(
                "Twilio is not set up on this computer, {NOT_PUBLISHED} An administrator connects Twilio in Settings (Twilio)."
            ))
        })?;
        let total = files.len() as u32;
        progress(PublishProgress::Preparing { files: total });

        let service = match serverless::find_service(http, &account, SERVICE_NAME).await.map_err(failed)? {
            Some(service) => service,
            None => serverless::create_service(http, &account, SERVICE_NAME, "ClinicDesk call page for patients")
                .await
                .map_err(failed)?,
        };
        let known = serverless::list_assets(http, &account, &service.sid).await.map_err(failed)?;

        let mut versions = Vec::with_capacity(files.len());
        progress(PublishProgress::Uploading { done: 0, total });
        for (done, file) in files.iter().enumerate() {
            let path = format!("/{}", file.path);
            let asset = match known.iter().find(|a| a.friendly_name.as_deref() == Some(path.as_str())) {
                Some(asset) => asset.sid.clone(),
                None => serverless::create_asset(http, &account, &service.sid, &path).await.map_err(failed)?.sid,
            };
            let version =
                serverless::upload_version(http, &account, &service.sid, &asset, &path, &file.bytes, &file.mime)
                    .await
                    .map_err(failed)?;
            versions.push(version.sid);
            progress(PublishProgress::Uploading { done: done as u32 + 1, total });
        }

        let build = serverless::create_build(http, &account, &service.sid, &versions).await.map_err(failed)?;
        let began = tokio::time::Instant::now();
        loop {
            match serverless::build_status(http, &account, &service.sid, &build.sid).await.map_err(failed)? {
                BuildStatus::Completed => break,
                BuildStatus::Failed => {
                    tracing::warn!(build = %build.sid, "Twilio could not build the call page");
                    return Err(CoreError::Twilio(format!(
                        "Twilio could not build the page, {NOT_PUBLISHED} Publish again; if it fails again, Twilio's Console shows why (Functions and Assets, service {SERVICE_NAME})."
                    )));
                }
                BuildStatus::Building if began.elapsed() >= options.give_up_after => {
                    return Err(CoreError::Twilio(format!(
                        "Twilio was still building the page after {} minutes, {NOT_PUBLISHED} Publish again later.",
                        options.give_up_after.as_secs().div_ceil(60)
                    )));
                }
                BuildStatus::Building => {
                    progress(PublishProgress::Building { seconds: began.elapsed().as_secs() as u32 });
                    tokio::time::sleep(options.poll_every).await;
                }
            }
        }

        progress(PublishProgress::Deploying);
        let environment = match serverless::find_environment(http, &account, &service.sid, ENVIRONMENT_NAME)
            .await
            .map_err(failed)?
        {
            Some(environment) => environment,
            None => serverless::create_environment(http, &account, &service.sid, ENVIRONMENT_NAME, ENVIRONMENT_NAME)
                .await
                .map_err(failed)?,
        };
        let domain = environment
            .domain_name
            .filter(|d| !d.is_empty() && !d.contains(['/', '?', '#', '@']))
            .ok_or_else(|| failed(TwilioError::Unreadable("the environment has no domain name".into())))?;
        serverless::deploy(http, &account, &service.sid, &environment.sid, &build.sid).await.map_err(failed)?;

        let url = format!("https://{domain}/{ENTRY}");
        self.remember(caller, &url, &build.sid, total)?;
        Ok(PublishedPage { url, files: total, bytes: files.iter().map(|f| f.bytes.len() as u64).sum() })
    }

    /// Points patients' links at the published page, and records when and which build.
    fn remember(&self, caller: &Caller, url: &str, build: &str, files: u32) -> Result<()> {
        super::super::consultations::set_call_page_url(self.clinic, caller, url)?;
        let now = self.clinic.now();
        let conn = self.clinic.db().conn()?;
        crate::settings::write(&conn, KEY_PUBLISHED_AT, Some(&now.to_rfc3339()), now)?;
        let detail = format!("build {build}, {files} files, at {url}");
        audit::record(&conn, now, Actor::Staff(caller), AuditAction::CallPagePublished, None, Some(&detail))?;
        Ok(())
    }
}

/// A Twilio failure while publishing, in an administrator's words.
fn failed(err: TwilioError) -> CoreError {
    tracing::warn!(code = ?err.code(), "Twilio failed while publishing the call page");
    let what = match &err {
        TwilioError::NoAnswer { maybe_processed: false, .. } => {
            "ClinicDesk could not reach Twilio (no internet connection?)".to_owned()
        }
        _ if err.is_server_error() || err.outcome_unknown() => "Twilio did not answer properly".to_owned(),
        TwilioError::Api { status: 429, .. } => "Twilio is busy and asked ClinicDesk to wait".to_owned(),
        other => other.explain().trim_end_matches('.').to_owned(),
    };
    CoreError::Twilio(format!("{what}, {NOT_PUBLISHED} Try again in a moment."))
}
