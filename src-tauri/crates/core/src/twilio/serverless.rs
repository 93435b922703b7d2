//! Serverless: the resources that publish the patient's call page as public assets in the clinic's
//! own Twilio account (TWILIO.md, "Serverless"). Service → Assets → Asset Versions (uploaded as
//! multipart to a host of their own) → Build (polled until it completes or fails) → Environment →
//! Deployment. The orchestration, and what staff read, live in `crate::call_page`.

use super::config::TwilioAccount;
use super::error::TwilioError;
use super::http::TwilioHttp;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Service {
    pub sid: String,
    #[serde(default)]
    pub unique_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Asset {
    pub sid: String,
    #[serde(default)]
    pub friendly_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct AssetVersion {
    pub sid: String,
    #[serde(default)]
    pub path: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Build {
    pub sid: String,
    /// building, completed or failed.
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Environment {
    pub sid: String,
    #[serde(default)]
    pub unique_name: Option<String>,
    /// Where the environment's assets are served, e.g. `clinicdesk-call-page-1234-patients.twil.io`.
    #[serde(default)]
    pub domain_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Deployment {
    pub sid: String,
    #[serde(default)]
    pub build_sid: Option<String>,
}

/// How a build stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildStatus {
    Building,
    Completed,
    Failed,
}

#[derive(Deserialize)]
struct StatusAnswer {
    status: Option<String>,
}

fn services(http: &TwilioHttp) -> String {
    format!("{}/v1/Services", http.endpoints.serverless)
}

/// The service named `unique_name`, or `None` when the account has none (20404).
pub async fn find_service(
    http: &TwilioHttp,
    account: &TwilioAccount,
    unique_name: &str,
) -> Result<Option<Service>, TwilioError> {
    match http.get(&format!("{}/{unique_name}", services(http)), &account.key_auth(), &[]).await {
        Ok(service) => Ok(Some(service)),
        Err(TwilioError::Api { status: 404, .. }) => Ok(None),
        Err(err) => Err(err),
    }
}

/// A new service. Not editable in the Console's editor, which would otherwise let someone change
/// the page patients open without ClinicDesk knowing.
pub async fn create_service(
    http: &TwilioHttp,
    account: &TwilioAccount,
    unique_name: &str,
    friendly_name: &str,
) -> Result<Service, TwilioError> {
    let form = [
        ("UniqueName", unique_name.to_owned()),
        ("FriendlyName", friendly_name.to_owned()),
        ("UiEditable", "false".to_owned()),
    ];
    http.post(&services(http), &account.key_auth(), &form).await
}

/// Every asset of the service (all pages of the list).
pub async fn list_assets(http: &TwilioHttp, account: &TwilioAccount, service: &str) -> Result<Vec<Asset>, TwilioError> {
    let first = format!("{}/{service}/Assets", services(http));
    all_pages(http, account, &first, "assets").await
}

pub async fn create_asset(
    http: &TwilioHttp,
    account: &TwilioAccount,
    service: &str,
    friendly_name: &str,
) -> Result<Asset, TwilioError> {
    let url = format!("{}/{service}/Assets", services(http));
    http.post(&url, &account.key_auth(), &[("FriendlyName", friendly_name.to_owned())]).await
}

/// Uploads one file as a new public version of `asset`, served at `path` (which starts with `/`).
pub async fn upload_version(
    http: &TwilioHttp,
    account: &TwilioAccount,
    service: &str,
    asset: &str,
    path: &str,
    content: &[u8],
    content_type: &str,
) -> Result<AssetVersion, TwilioError> {
    let url = format!("{}/v1/Services/{service}/Assets/{asset}/Versions", http.endpoints.serverless_upload);
    let file_name = path.rsplit('/').next().unwrap_or("file").to_owned();
    let make = || {
        let part = reqwest::multipart::Part::bytes(content.to_vec())
            .file_name(file_name.clone())
            .mime_str(content_type)
            .unwrap_or_else(|_| reqwest::multipart::Part::bytes(content.to_vec()).file_name(file_name.clone()));
        reqwest::multipart::Form::new().text("Path", path.to_owned()).text("Visibility", "public").part("Content", part)
    };
    http.post_multipart(&url, &account.key_auth(), &make).await
}

/// A build of exactly these asset versions.
pub async fn create_build(
    http: &TwilioHttp,
    account: &TwilioAccount,
    service: &str,
    asset_versions: &[String],
) -> Result<Build, TwilioError> {
    let url = format!("{}/{service}/Builds", services(http));
    http.post(&url, &account.key_auth(), &build_form(asset_versions)).await
}

/// The build's form: one `AssetVersions` field per version, repeated, as Twilio's own SDKs send an
/// array (Prism reads only `AssetVersions[]`, which Twilio does not: see the contract test).
pub fn build_form(asset_versions: &[String]) -> Vec<(&'static str, String)> {
    asset_versions.iter().map(|sid| ("AssetVersions", sid.clone())).collect()
}

pub async fn build_status(
    http: &TwilioHttp,
    account: &TwilioAccount,
    service: &str,
    build: &str,
) -> Result<BuildStatus, TwilioError> {
    let url = format!("{}/{service}/Builds/{build}/Status", services(http));
    let answer: StatusAnswer = http.get(&url, &account.key_auth(), &[]).await?;
    match answer.status.as_deref() {
        Some("completed") => Ok(BuildStatus::Completed),
        Some("failed") => Ok(BuildStatus::Failed),
        Some("building") => Ok(BuildStatus::Building),
        other => Err(TwilioError::Unreadable(format!("unknown build status {other:?}"))),
    }
}

/// The environment named `unique_name`, if the service has one.
pub async fn find_environment(
    http: &TwilioHttp,
    account: &TwilioAccount,
    service: &str,
    unique_name: &str,
) -> Result<Option<Environment>, TwilioError> {
    let first = format!("{}/{service}/Environments", services(http));
    let all: Vec<Environment> = all_pages(http, account, &first, "environments").await?;
    Ok(all.into_iter().find(|e| e.unique_name.as_deref() == Some(unique_name)))
}

pub async fn create_environment(
    http: &TwilioHttp,
    account: &TwilioAccount,
    service: &str,
    unique_name: &str,
    domain_suffix: &str,
) -> Result<Environment, TwilioError> {
    let url = format!("{}/{service}/Environments", services(http));
    let form = [("UniqueName", unique_name.to_owned()), ("DomainSuffix", domain_suffix.to_owned())];
    http.post(&url, &account.key_auth(), &form).await
}

/// Serves `build` in `environment` (replacing whatever it served before).
pub async fn deploy(
    http: &TwilioHttp,
    account: &TwilioAccount,
    service: &str,
    environment: &str,
    build: &str,
) -> Result<Deployment, TwilioError> {
    let url = format!("{}/{service}/Environments/{environment}/Deployments", services(http));
    http.post(&url, &account.key_auth(), &[("BuildSid", build.to_owned())]).await
}

/// Every item of a list (pages of 50, at most 20: a call page has a handful of files).
async fn all_pages<T: serde::de::DeserializeOwned>(
    http: &TwilioHttp,
    account: &TwilioAccount,
    first: &str,
    key: &str,
) -> Result<Vec<T>, TwilioError> {
    let query = [("PageSize", "50".to_owned())];
    super::pages::all(http, &http.endpoints.serverless, first, &query, &account.key_auth(), key, 20).await
}
