//! The server's HTTP side. Today: `/health`, which says whether this process is the clinic's text
//! sender (desks' sync and commands arrive on this router next; see issue 12's note).
//!
//! The sender loop runs beside it: a process that is not the sender tries to become it every few
//! seconds, so when the holder dies (its PostgreSQL session ends and the advisory lock with it) a
//! standby takes over without anyone deciding a timeout.

use crate::error::Result;
use crate::sender::SenderLease;
use axum::{extract::State, routing::get, Json, Router};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::RwLock;

/// How often a standby asks for the sender lease, and the holder checks it still has it.
const SENDER_CHECK: Duration = Duration::from_secs(1);

#[derive(Clone)]
struct Shared {
    name: Arc<str>,
    /// The generation this process sends under, while it is the sender.
    sender: Arc<RwLock<Option<i64>>>,
    pool: deadpool_postgres::Pool,
}

pub async fn serve(url: &str, listen: SocketAddr, name: String) -> Result<()> {
    let shared = Shared { name: name.clone().into(), sender: Arc::default(), pool: crate::db::pool(url, 16)? };
    tokio::spawn(sender_loop(url.to_string(), name, shared.sender.clone()));
    let app = Router::new().route("/health", get(health)).with_state(shared);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| crate::ServerError::Setup(format!("Could not listen on {listen}: {e}")))?;
    let address = listener.local_addr().map_err(|e| crate::ServerError::Setup(e.to_string()))?;
    // Tests and service managers read this line to find the port.
    eprintln!("clinicdesk-server listening on http://{address}");
    axum::serve(listener, app).await.map_err(|e| crate::ServerError::Setup(format!("The server stopped: {e}")))
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
