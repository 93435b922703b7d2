//! The server's HTTP side: `/health` (is the database reachable, is this process the clinic's text
//! sender) and the desks' API under `/v1` (api.rs).
//!
//! The sender loop runs beside it: a process that is not the sender tries to become it every few
//! seconds, so when the holder dies (its PostgreSQL session ends and the advisory lock with it) a
//! standby takes over without anyone deciding a timeout.

use crate::error::Result;
use crate::sender::SenderLease;
use axum::routing::{get, post};
use axum::{extract::State, Json, Router};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::RwLock;

/// How often a standby asks for the sender lease, and the holder checks it still has it.
const SENDER_CHECK: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Shared {
    name: Arc<str>,
    /// The generation this process sends under, while it is the sender.
    sender: Arc<RwLock<Option<i64>>>,
    pub(crate) pool: deadpool_postgres::Pool,
    /// Ticks when a commit added changes (wake.rs).
    pub(crate) wake: tokio::sync::watch::Receiver<u64>,
}

/// Serves until the process ends.
pub async fn serve(url: &str, listen: SocketAddr, name: String) -> Result<()> {
    let (address, server) = start(url, listen, name).await?;
    // Tests and service managers read this line to find the port.
    eprintln!("clinicdesk-server listening on http://{address}");
    server.await.map_err(|e| crate::ServerError::Setup(format!("The server stopped: {e}")))?
}

/// Binds and starts serving in the background (tests run the server in-process this way).
pub async fn start(
    url: &str,
    listen: SocketAddr,
    name: String,
) -> Result<(SocketAddr, tokio::task::JoinHandle<Result<()>>)> {
    let shared = Shared {
        name: name.clone().into(),
        sender: Arc::default(),
        pool: crate::db::pool(url, 16)?,
        wake: crate::wake::start(url.to_string()),
    };
    tokio::spawn(sender_loop(url.to_string(), name, shared.sender.clone()));
    let app = router(shared);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| crate::ServerError::Setup(format!("Could not listen on {listen}: {e}")))?;
    let address = listener.local_addr().map_err(|e| crate::ServerError::Setup(e.to_string()))?;
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.map_err(|e| crate::ServerError::Setup(format!("The server stopped: {e}")))
    });
    Ok((address, server))
}

fn router(shared: Shared) -> Router {
    use crate::api;
    Router::new()
        .route("/health", get(health))
        .route("/v1/sign-in", post(api::sign_in))
        .route("/v1/changes", get(api::pull))
        .route("/v1/commands", post(api::command))
        // Commands and sign-ins are small; nothing a desk sends needs more.
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024))
        .with_state(shared)
}

async fn health(State(shared): State<Shared>) -> Json<Value> {
    let generation = *shared.sender.read().await;
    let database = match shared.pool.get().await {
        Ok(client) => client.query_one("SELECT 1", &[]).await.is_ok(),
        Err(_) => false,
    };
    Json(json!({
        "name": &*shared.name,
        "database": if database { "reachable" } else { "unreachable" },
        "schema": crate::schema::latest(),
        "sender": generation.is_some(),
        "sender_generation": generation,
    }))
}

async fn sender_loop(url: String, name: String, status: Arc<RwLock<Option<i64>>>) {
    let mut lease: Option<SenderLease> = None;
    loop {
        match &lease {
            Some(held) if held.still_held().await => {}
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
