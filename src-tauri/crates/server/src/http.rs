//! The server's HTTP side: `/health` (is the database reachable, is this process the clinic's text
//! sender) and the desks' API under `/v1` (api.rs).
//!
//! The sender loop runs beside it: a process that is not the sender tries to become it every few
//! seconds, so when the holder dies (its PostgreSQL session ends and the advisory lock with it) a
//! standby takes over without anyone deciding a timeout.

use crate::consultation_api;
use crate::error::{Result, ServerError};
use crate::rate_limit::{DeskLimits, Limiter};
use crate::sender::SenderLease;
use crate::twilio_setup::Texting;
use axum::routing::{get, post};
use axum::{extract::State, Json, Router};
use axum_server::tls_openssl::{OpenSSLAcceptor, OpenSSLConfig};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::RwLock;

/// How often a standby asks for the sender lease, and the holder checks it still has it.
const SENDER_CHECK: Duration = Duration::from_secs(1);
/// How often the sender plans the coming day's reminders.
const REMINDER_PLANNING: Duration = Duration::from_secs(60);
/// How often the sender compacts the sync feed (changes::compact).
const COMPACT_EVERY: Duration = Duration::from_secs(3600);
/// How often the sender looks for chat attachments to fetch.
const ATTACHMENTS_EVERY: Duration = Duration::from_secs(20);

/// The sender's once-a-minute work. Each step stands alone: one failing (logged) never skips the
/// others, and the chat retention runs whether or not this server has the clinic's Twilio account.
async fn minute_work(url: &str, pool: &deadpool_postgres::Pool, texting: Option<&Texting>) {
    let warn = |what: &str, e: ServerError| tracing::warn!(error = %e, "{what} failed; the next minute tries again");
    let mut client = match crate::db::connect(url, true).await {
        Ok(client) => client,
        Err(e) => return warn("connecting for the minute's work", e),
    };
    if let Some(texting) = texting {
        // Patients' replies (STOP, START) first: they decide who may be texted below.
        if let Err(e) = crate::replies::read(&mut client, texting, chrono::Utc::now()).await {
            warn("reading patients' replies", e);
        }
        // One transaction: planning and a change of the reminder times take turns (reminders.rs).
        let planned = async {
            let tx = client.transaction().await?;
            crate::reminders::plan(&tx, chrono::Utc::now()).await?;
            tx.commit().await?;
            Ok::<_, ServerError>(())
        };
        if let Err(e) = planned.await {
            warn("planning reminders", e);
        }
        // A video appointment's link goes with its last reminder.
        if let Err(e) = crate::consultations::send_links_with_last_reminder(pool, texting, chrono::Utc::now()).await {
            warn("texting video links with the last reminder", e);
        }
        // Consultations that ended while Twilio could not be reached: their records, now.
        if let Err(e) = crate::consultations::fetch_late_records(&mut client, texting, chrono::Utc::now()).await {
            warn("fetching late consultation records", e);
        }
    }
    // The clinic's chat retention (no Twilio needed).
    if let Err(e) = crate::consultations::remove_expired_chats(&mut client, chrono::Utc::now()).await {
        warn("removing expired consultation chats", e);
    }
}

#[derive(Clone)]
pub struct Shared {
    name: Arc<str>,
    /// The clinic's Twilio account, if this process has it (without it, it sends no texts and
    /// runs no video consultations).
    pub(crate) twilio: Option<Arc<Texting>>,
    /// The generation this process sends under, while it is the sender.
    sender: Arc<RwLock<Option<i64>>>,
    pub(crate) pool: deadpool_postgres::Pool,
    /// Ticks when a commit added changes (wake.rs).
    pub(crate) wake: tokio::sync::watch::Receiver<u64>,
    /// What the waiting rooms' patients last reported (consultations/waiting.rs).
    pub(crate) waiting: crate::consultations::WaitingCache,
    /// Each desk's pace (rate_limit.rs).
    pub(crate) limiter: Limiter,
}

/// The certificate (chain) and private key desks see, both PEM files. The key file should be
/// readable by the server's user only.
#[derive(Debug, Clone)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Tls {
    /// Reads and checks both files, naming the one at fault in words.
    fn config(&self) -> Result<OpenSSLConfig> {
        let read = |path: &PathBuf, what: &str| {
            std::fs::read(path).map_err(|e| {
                ServerError::Setup(format!("The TLS {what} {} cannot be read by this user: {e}.", path.display()))
            })
        };
        let (cert, key) = (read(&self.cert, "certificate")?, read(&self.key, "key")?);
        if openssl::x509::X509::stack_from_pem(&cert).map(|c| c.is_empty()).unwrap_or(true) {
            return Err(ServerError::Setup(format!(
                "{} is not a PEM certificate (is it the key? --tls-cert takes the certificate chain, --tls-key the key).",
                self.cert.display()
            )));
        }
        if openssl::pkey::PKey::private_key_from_pem(&key).is_err() {
            return Err(ServerError::Setup(format!(
                "{} is not a PEM private key (is it the certificate? --tls-key takes the key).",
                self.key.display()
            )));
        }
        OpenSSLConfig::from_pem_chain_file(&self.cert, &self.key).map_err(|e| {
            ServerError::Setup(format!(
                "The TLS certificate ({}) and key ({}) could not be used together: {e}",
                self.cert.display(),
                self.key.display()
            ))
        })
    }
}

/// Serves until the process ends.
pub async fn serve(
    url: &str,
    listen: SocketAddr,
    name: String,
    tls: Option<Tls>,
    texting: Option<Texting>,
) -> Result<()> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let (address, server) = start_with(url, listen, name, tls, texting).await?;
    // Tests and service managers read this line to find the port.
    eprintln!("clinicdesk-server listening on {scheme}://{address}");
    server.await.map_err(|e| ServerError::Setup(format!("The server stopped: {e}")))?
}

/// Binds and starts serving in the background (tests run the server in-process this way).
///
/// Without TLS only a loopback address is accepted: desks send passwords and patients' details,
/// so anything reachable from the network is served over TLS.
pub async fn start(
    url: &str,
    listen: SocketAddr,
    name: String,
    tls: Option<Tls>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<Result<()>>)> {
    start_with(url, listen, name, tls, None).await
}

/// `start`, sending the clinic's texts through `texting` while this process is the sender.
pub async fn start_with(
    url: &str,
    listen: SocketAddr,
    name: String,
    tls: Option<Tls>,
    texting: Option<Texting>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<Result<()>>)> {
    start_limited(url, listen, name, tls, texting, DeskLimits::default()).await
}

/// `start_with`, each desk limited to `limits` (rate_limit.rs).
pub async fn start_limited(
    url: &str,
    listen: SocketAddr,
    name: String,
    tls: Option<Tls>,
    texting: Option<Texting>,
    limits: DeskLimits,
) -> Result<(SocketAddr, tokio::task::JoinHandle<Result<()>>)> {
    if tls.is_none() && !listen.ip().is_loopback() {
        return Err(ServerError::Setup(format!(
            "Refusing to serve {listen} without TLS: desks send passwords and patient details. Give the server a certificate (--tls-cert and --tls-key, or CLINICDESK_TLS_CERT and CLINICDESK_TLS_KEY), or listen on 127.0.0.1 behind a TLS proxy."
        )));
    }
    let tls = match tls {
        Some(tls) => Some(tls.config()?),
        None => None,
    };
    let texting = texting.map(Arc::new);
    let shared = Shared {
        name: name.clone().into(),
        twilio: texting.clone(),
        sender: Arc::default(),
        pool: crate::db::pool(url, 16)?,
        wake: crate::wake::start(url.to_string()),
        waiting: Default::default(),
        limiter: Limiter::new(limits),
    };
    // The enrolled desks are known before the first request is served.
    crate::rate_limit::read_enrolled(&shared.limiter, &shared.pool).await?;
    tokio::spawn(crate::rate_limit::keep_enrolled(shared.limiter.clone(), shared.pool.clone()));
    if let Some(texting) = &texting {
        tokio::spawn(attachment_loop(shared.pool.clone(), shared.sender.clone(), texting.clone()));
    }
    tokio::spawn(sender_loop(url.to_string(), name, shared.sender.clone(), shared.pool.clone(), texting));
    let app = router(shared);
    let listener = std::net::TcpListener::bind(listen)
        .and_then(|l| l.set_nonblocking(true).map(|_| l))
        .map_err(|e| ServerError::Setup(format!("Could not listen on {listen}: {e}")))?;
    let address = listener.local_addr().map_err(|e| ServerError::Setup(e.to_string()))?;
    let stopped = |e: std::io::Error| ServerError::Setup(format!("The server stopped: {e}"));
    let server = match tls {
        Some(config) => tokio::spawn(async move {
            axum_server::from_tcp(listener)
                .acceptor(OpenSSLAcceptor::new(config))
                .serve(app.into_make_service())
                .await
                .map_err(stopped)
        }),
        None => tokio::spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).map_err(stopped)?;
            axum::serve(listener, app).await.map_err(stopped)
        }),
    };
    Ok((address, server))
}

fn router(shared: Shared) -> Router {
    use crate::api;
    Router::new()
        .route("/v1/desk", get(api::whoami))
        .route("/v1/sign-in", post(api::sign_in))
        .route("/v1/sign-out", post(api::sign_out))
        .route("/v1/changes", get(api::pull))
        .route("/v1/commands", post(api::command))
        .route("/v1/audit", post(api::audit))
        .route("/v1/texts/{sid}/read", post(api::text_read))
        .route("/v1/waiting-room", get(consultation_api::waiting_room))
        .route("/v1/consultations/{id}/start", post(consultation_api::consultation_start))
        .route("/v1/consultations/{id}/token", post(consultation_api::consultation_token))
        .route("/v1/consultations/{id}/end", post(consultation_api::consultation_end))
        .route("/v1/consultations/{id}/invite", post(consultation_api::consultation_invite))
        .route("/v1/consultations/{id}/messages", post(consultation_api::consultation_messages))
        .route("/v1/consultations/{id}/send", post(consultation_api::consultation_send))
        .route("/v1/consultations/{id}/read", post(consultation_api::consultation_read))
        .route("/v1/consultations/{id}/consent", post(consultation_api::consultation_consent))
        .route("/v1/consultations/{id}/recording", post(consultation_api::consultation_recording))
        .route("/v1/consultations/{id}/recordings", post(consultation_api::consultation_recordings))
        .route("/v1/consultations/{id}/attachments/{media_sid}", get(consultation_api::consultation_attachment))
        // Each desk at its own pace (rate_limit.rs), before anything reads the database.
        .layer(axum::middleware::from_fn_with_state(shared.limiter.clone(), crate::rate_limit::limit))
        // A monitor's look is not a desk's request.
        .route("/health", get(health))
        // A clinic moving in (an administrator's parts, sent one after another, each checked)
        // comes in parts bigger than a command (audit reads list their patients).
        .route("/v1/migrate", post(api::migrate).layer(axum::extract::DefaultBodyLimit::max(16 * 1024 * 1024)))
        // Commands and sign-ins are small; nothing a desk sends needs more.
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024))
        .with_state(shared)
}

/// 200 when the database answers, 503 when it does not (so a monitor that reads only status codes
/// notices), with the details in the body either way.
async fn health(State(shared): State<Shared>) -> (axum::http::StatusCode, Json<Value>) {
    let generation = *shared.sender.read().await;
    let database = match shared.pool.get().await {
        Ok(client) => client.query_one("SELECT 1", &[]).await.is_ok(),
        Err(_) => false,
    };
    let status = if database { axum::http::StatusCode::OK } else { axum::http::StatusCode::SERVICE_UNAVAILABLE };
    (
        status,
        Json(json!({
            "name": &*shared.name,
            "database": if database { "reachable" } else { "unreachable" },
            "schema": crate::schema::latest(),
            "sender": generation.is_some(),
            "sender_generation": generation,
            "texting": if shared.twilio.is_some() { "twilio configured" } else { "no Twilio settings: no texts are sent" },
        })),
    )
}

/// Fetches the files patients sent in kept chats, while this process is the sender, on a loop of
/// its own: a download (up to minutes for 10 MB on a slow line) never holds up a text. Another
/// process fetching the same file for a moment after a takeover stores it once (only a waiting
/// file is stored).
async fn attachment_loop(pool: deadpool_postgres::Pool, sender: Arc<RwLock<Option<i64>>>, texting: Arc<Texting>) {
    let mut listed_before = false;
    loop {
        tokio::time::sleep(ATTACHMENTS_EVERY).await;
        if sender.read().await.is_none() {
            continue;
        }
        let mut client = match pool.get().await {
            Ok(client) => client,
            Err(e) => {
                tracing::warn!(error = %e, "could not connect to fetch chat attachments; trying again later");
                continue;
            }
        };
        if !listed_before {
            match crate::consultations::list_kept_before(&mut client).await {
                Ok(listed) => {
                    listed_before = true;
                    if listed > 0 {
                        tracing::info!(listed, "listed the chat attachments of consultations kept before");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not list earlier chat attachments; trying again later"),
            }
        }
        match crate::consultations::fetch_attachments(&client, &texting, chrono::Utc::now()).await {
            Ok(0) => {}
            Ok(kept) => tracing::info!(kept, "chat attachments kept"),
            Err(e) => tracing::warn!(error = %e, "fetching chat attachments failed; trying again later"),
        }
    }
}

async fn sender_loop(
    url: String,
    name: String,
    status: Arc<RwLock<Option<i64>>>,
    pool: deadpool_postgres::Pool,
    texting: Option<Arc<Texting>>,
) {
    if texting.is_none() {
        tracing::warn!("no Twilio settings: this server sends no texts (README, \"Several desks\", Twilio)");
    }
    let mut lease: Option<SenderLease> = None;
    let mut planned_at: Option<tokio::time::Instant> = None;
    // The first compaction an hour after this process started (a test's or a restart's feed is
    // left as it is meanwhile); then hourly while this process is the sender.
    let mut compacted_at = Some(tokio::time::Instant::now());
    let mut compacting: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        match &mut lease {
            Some(held) if held.still_held().await => {
                // Reminders, replies, links, late records and retention: the sender only, about
                // once a minute.
                if planned_at.is_none_or(|at| at.elapsed() >= REMINDER_PLANNING) {
                    planned_at = Some(tokio::time::Instant::now());
                    minute_work(&url, &pool, texting.as_deref()).await;
                }
                // The feed keeps each record's first and newest rows only (changes::compact), in
                // a task of its own: texts never wait for it, and one runs at a time.
                if compacted_at.is_none_or(|at| at.elapsed() >= COMPACT_EVERY)
                    && compacting.as_ref().is_none_or(|task| task.is_finished())
                {
                    compacted_at = Some(tokio::time::Instant::now());
                    let pool = pool.clone();
                    compacting = Some(tokio::spawn(async move {
                        match pool.get().await {
                            Ok(client) => match crate::changes::compact(&**client).await {
                                Ok(removed) => tracing::info!(removed, "compacted the sync feed"),
                                Err(e) => {
                                    tracing::warn!(error = %e, "compacting the sync feed failed; the next hour tries again")
                                }
                            },
                            Err(e) => tracing::warn!(error = %e, "no connection to compact the sync feed"),
                        }
                    }));
                }
                if let Some(texting) = &texting {
                    if let Err(e) = crate::sending::pass(held, texting, chrono::Utc::now()).await {
                        tracing::warn!(error = %e, "a sending pass failed; the next one tries again");
                    }
                }
            }
            Some(_) => {
                tracing::warn!("this server lost the sender lease (its database session ended)");
                lease = None;
                *status.write().await = None;
            }
            None => match SenderLease::try_acquire(&url, &name).await {
                Ok(Some(acquired)) => {
                    *status.write().await = Some(acquired.generation());
                    lease = Some(acquired);
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "could not ask for the sender lease"),
            },
        }
        tokio::time::sleep(SENDER_CHECK).await;
    }
}
