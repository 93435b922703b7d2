//! Serverless (v1) as far as publishing static assets goes: services (found by SID or unique name),
//! assets, asset versions uploaded as multipart (Twilio takes them on a host of their own; the fake
//! serves both on its one port), builds that stay "building" for a few polls and then complete or
//! fail, environments with a domain, and deployments. What an environment serves can be read back.

use crate::faults::{after, before, Route};
use crate::state::{sid, Shared};
use crate::video::page;
use crate::{error, Caller};
use axum::extract::{Multipart, OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use serde_json::{json, Value};
use std::collections::HashMap;

/// A file as deployed: what a browser would get at its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeAsset {
    pub path: String,
    pub content_type: String,
    pub visibility: String,
    pub content: Vec<u8>,
}

#[derive(Default)]
pub(crate) struct Serverless {
    services: Vec<Service>,
    /// How many status polls a new build answers "building" before it settles (Twilio takes
    /// seconds to a minute).
    pub build_polls: u32,
    /// The next build fails instead of completing.
    pub fail_next_build: bool,
}

struct Service {
    sid: String,
    unique_name: String,
    friendly_name: String,
    ui_editable: bool,
    assets: Vec<Asset>,
    builds: Vec<Build>,
    environments: Vec<Environment>,
}

struct Asset {
    sid: String,
    friendly_name: String,
    versions: Vec<(String, FakeAsset)>,
}

struct Build {
    sid: String,
    versions: Vec<String>,
    status: &'static str,
    polls_left: u32,
    fails: bool,
}

struct Environment {
    sid: String,
    unique_name: String,
    domain_name: String,
    deployments: Vec<(String, String)>,
}

/// Counts of what the account holds, for tests: (services, environments, builds, deployments).
pub type Counts = (usize, usize, usize, usize);

impl Serverless {
    pub fn new() -> Serverless {
        Serverless { build_polls: 2, ..Default::default() }
    }

    fn service(&mut self, key: &str) -> Option<&mut Service> {
        self.services.iter_mut().find(|s| s.sid == key || s.unique_name == key)
    }

    pub fn counts(&self) -> Counts {
        let sum = |f: &dyn Fn(&Service) -> usize| self.services.iter().map(f).sum::<usize>();
        (
            self.services.len(),
            sum(&|s| s.environments.len()),
            sum(&|s| s.builds.len()),
            sum(&|s| s.environments.iter().map(|e| e.deployments.len()).sum()),
        )
    }

    /// What `domain` serves at `path` now: the file of that path in the build deployed last.
    pub fn served(&self, domain: &str, path: &str) -> Option<FakeAsset> {
        let service = self.services.iter().find(|s| s.environments.iter().any(|e| e.domain_name == domain))?;
        let environment = service.environments.iter().find(|e| e.domain_name == domain)?;
        let (_, build_sid) = environment.deployments.last()?;
        let build = service.builds.iter().find(|b| &b.sid == build_sid)?;
        service
            .assets
            .iter()
            .flat_map(|a| a.versions.iter())
            .filter(|(sid, _)| build.versions.contains(sid))
            .map(|(_, file)| file)
            .find(|file| file.path == path)
            .cloned()
    }
}

fn needs_key(caller: Caller) -> Option<Response> {
    (caller != Caller::ApiKey).then(|| error(StatusCode::UNAUTHORIZED, 20003, "Authenticate"))
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, 20404, "The requested resource was not found")
}

fn render_service(s: &Service) -> Value {
    json!({ "sid": s.sid, "account_sid": crate::ACCOUNT_SID, "unique_name": s.unique_name, "friendly_name": s.friendly_name,
            "ui_editable": s.ui_editable, "include_credentials": true, "url": format!("https://serverless.twilio.com/v1/Services/{}", s.sid) })
}

fn render_build(service: &str, b: &Build) -> Value {
    json!({ "sid": b.sid, "account_sid": crate::ACCOUNT_SID, "service_sid": service, "status": b.status,
            "asset_versions": b.versions.iter().map(|v| json!({ "sid": v })).collect::<Vec<_>>() })
}

fn render_environment(service: &str, e: &Environment) -> Value {
    json!({ "sid": e.sid, "account_sid": crate::ACCOUNT_SID, "service_sid": service, "unique_name": e.unique_name,
            "domain_name": e.domain_name, "build_sid": e.deployments.last().map(|(_, b)| b) })
}

pub(crate) async fn create_service(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let (Some(unique_name), Some(friendly_name)) = (form.get("UniqueName"), form.get("FriendlyName")) else {
        return error(StatusCode::BAD_REQUEST, 21200, "UniqueName and FriendlyName are required");
    };
    let mut s = state.lock().unwrap();
    if s.serverless.service(unique_name).is_some() {
        return error(StatusCode::CONFLICT, 20409, "Service with this UniqueName already exists");
    }
    let service = Service {
        sid: sid("ZS"),
        unique_name: unique_name.clone(),
        friendly_name: friendly_name.clone(),
        ui_editable: form.get("UiEditable").map(String::as_str) == Some("true"),
        assets: Vec::new(),
        builds: Vec::new(),
        environments: Vec::new(),
    };
    let body = render_service(&service);
    s.serverless.services.push(service);
    (StatusCode::CREATED, Json(body)).into_response()
}

pub(crate) async fn fetch_service(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(service): Path<String>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    match state.lock().unwrap().serverless.service(&service) {
        Some(s) => Json(render_service(s)).into_response(),
        None => not_found(),
    }
}

pub(crate) async fn create_asset(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(service): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let Some(friendly_name) = form.get("FriendlyName") else {
        return error(StatusCode::BAD_REQUEST, 21200, "FriendlyName is required");
    };
    let mut s = state.lock().unwrap();
    let Some(service) = s.serverless.service(&service) else { return not_found() };
    let asset = Asset { sid: sid("ZH"), friendly_name: friendly_name.clone(), versions: Vec::new() };
    let body = json!({ "sid": asset.sid, "service_sid": service.sid, "friendly_name": asset.friendly_name });
    service.assets.push(asset);
    (StatusCode::CREATED, Json(body)).into_response()
}

pub(crate) async fn list_assets(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(service): Path<String>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let mut s = state.lock().unwrap();
    let Some(service) = s.serverless.service(&service) else { return not_found() };
    let items = service
        .assets
        .iter()
        .map(|a| json!({ "sid": a.sid, "service_sid": service.sid, "friendly_name": a.friendly_name }))
        .collect();
    Json(page(&headers, &uri.to_string(), "assets", items, &query)).into_response()
}

/// `POST …/Assets/{asset}/Versions`, multipart: `Path`, `Visibility` and the file as `Content`.
pub(crate) async fn upload_version(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((service, asset)): Path<(String, String)>,
    mut multipart: Multipart,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let fault = match before(&state, Route::UploadAssetVersion).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (mut path, mut visibility, mut content) = (None, None, None);
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_owned();
                let content_type = field.content_type().map(str::to_owned);
                let Ok(bytes) = field.bytes().await else {
                    return error(StatusCode::BAD_REQUEST, 20001, "Unreadable multipart body");
                };
                match name.as_str() {
                    "Path" => path = Some(String::from_utf8_lossy(&bytes).into_owned()),
                    "Visibility" => visibility = Some(String::from_utf8_lossy(&bytes).into_owned()),
                    "Content" => content = Some((content_type.unwrap_or_default(), bytes.to_vec())),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(_) => return error(StatusCode::BAD_REQUEST, 20001, "Unreadable multipart body"),
        }
    }
    let (Some(path), Some(visibility), Some((content_type, content))) = (path, visibility, content) else {
        return error(StatusCode::BAD_REQUEST, 21200, "Path, Visibility and Content are required");
    };
    if !path.starts_with('/') {
        return error(StatusCode::BAD_REQUEST, 20001, "Path must start with /");
    }
    if !["public", "protected", "private"].contains(&visibility.as_str()) {
        return error(StatusCode::BAD_REQUEST, 20001, "Visibility must be public, protected or private");
    }
    if content_type.is_empty() {
        return error(StatusCode::BAD_REQUEST, 20001, "Content needs a content type");
    }
    let body = {
        let mut s = state.lock().unwrap();
        let Some(service) = s.serverless.service(&service) else { return not_found() };
        let service_sid = service.sid.clone();
        let Some(asset) = service.assets.iter_mut().find(|a| a.sid == asset) else { return not_found() };
        let version_sid = sid("ZN");
        let body = json!({ "sid": version_sid, "service_sid": service_sid, "asset_sid": asset.sid, "path": path, "visibility": visibility });
        asset.versions.push((version_sid, FakeAsset { path, content_type, visibility, content }));
        body
    };
    after(fault, (StatusCode::CREATED, Json(body)).into_response()).await
}

pub(crate) async fn create_build(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(service): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let versions: Vec<String> = form.into_iter().filter(|(k, _)| k == "AssetVersions").map(|(_, v)| v).collect();
    let mut s = state.lock().unwrap();
    let polls = s.serverless.build_polls;
    let fails = std::mem::take(&mut s.serverless.fail_next_build);
    let Some(service) = s.serverless.service(&service) else { return not_found() };
    let known = |v: &String| service.assets.iter().any(|a| a.versions.iter().any(|(sid, _)| sid == v));
    if versions.is_empty() || !versions.iter().all(known) {
        return error(StatusCode::BAD_REQUEST, 20001, "AssetVersions must name this service's asset versions");
    }
    let build = Build { sid: sid("ZB"), versions, status: "building", polls_left: polls, fails };
    let body = render_build(&service.sid, &build);
    service.builds.push(build);
    (StatusCode::CREATED, Json(body)).into_response()
}

/// `GET …/Builds/{build}/Status`: "building" for the first polls, then completed (or failed).
pub(crate) async fn build_status(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((service, build)): Path<(String, String)>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    if let Err(r) = before(&state, Route::BuildStatus).await {
        return r;
    }
    let mut s = state.lock().unwrap();
    let Some(service) = s.serverless.service(&service) else { return not_found() };
    let service_sid = service.sid.clone();
    let Some(build) = service.builds.iter_mut().find(|b| b.sid == build) else { return not_found() };
    if build.status == "building" {
        if build.polls_left == 0 {
            build.status = if build.fails { "failed" } else { "completed" };
        } else {
            build.polls_left -= 1;
        }
    }
    Json(json!({ "sid": build.sid, "account_sid": crate::ACCOUNT_SID, "service_sid": service_sid, "status": build.status }))
        .into_response()
}

pub(crate) async fn create_environment(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(service): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let Some(unique_name) = form.get("UniqueName") else {
        return error(StatusCode::BAD_REQUEST, 21200, "UniqueName is required");
    };
    let mut s = state.lock().unwrap();
    let Some(service) = s.serverless.service(&service) else { return not_found() };
    if service.environments.iter().any(|e| &e.unique_name == unique_name) {
        return error(StatusCode::CONFLICT, 20409, "Environment with this UniqueName already exists");
    }
    // Twilio's shape: <service unique name>-<4 digits>[-<suffix>].twil.io
    let digits = 1000 + rand::random::<u16>() % 9000;
    let suffix = form.get("DomainSuffix").map(|s| format!("-{s}")).unwrap_or_default();
    let environment = Environment {
        sid: sid("ZE"),
        unique_name: unique_name.clone(),
        domain_name: format!("{}-{digits}{suffix}.twil.io", service.unique_name),
        deployments: Vec::new(),
    };
    let body = render_environment(&service.sid, &environment);
    service.environments.push(environment);
    (StatusCode::CREATED, Json(body)).into_response()
}

pub(crate) async fn list_environments(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(service): Path<String>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let mut s = state.lock().unwrap();
    let Some(service) = s.serverless.service(&service) else { return not_found() };
    let items = service.environments.iter().map(|e| render_environment(&service.sid, e)).collect();
    Json(page(&headers, &uri.to_string(), "environments", items, &query)).into_response()
}

/// Deploys a completed build; any other build is refused, as Twilio refuses it.
pub(crate) async fn deploy(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((service, environment)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = needs_key(caller) {
        return r;
    }
    let mut s = state.lock().unwrap();
    let Some(service) = s.serverless.service(&service) else { return not_found() };
    let Some(build_sid) = form.get("BuildSid").cloned() else {
        return error(StatusCode::BAD_REQUEST, 21200, "BuildSid is required");
    };
    match service.builds.iter().find(|b| b.sid == build_sid) {
        Some(b) if b.status == "completed" => {}
        Some(_) => return error(StatusCode::BAD_REQUEST, 20001, "Build is not completed"),
        None => return not_found(),
    }
    let service_sid = service.sid.clone();
    let Some(env) = service.environments.iter_mut().find(|e| e.sid == environment) else { return not_found() };
    let deployment = sid("ZD");
    env.deployments.push((deployment.clone(), build_sid.clone()));
    let body =
        json!({ "sid": deployment, "service_sid": service_sid, "environment_sid": env.sid, "build_sid": build_sid });
    (StatusCode::CREATED, Json(body)).into_response()
}
