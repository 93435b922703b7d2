//! Connections to the clinic's PostgreSQL database.
//!
//! Two connection strings. The working one (CLINICDESK_DATABASE_URL) logs in as a role that owns
//! nothing and is a member of `clinicdesk_writer`, which the migrations grant only SELECT and INSERT
//! on the audit log; every pooled connection also switches to that role at start-up. The owner's
//! (CLINICDESK_DATABASE_OWNER_URL) is used only to run migrations. Both come from the server's
//! root-only environment file, never from a desk.

use crate::error::{Result, ServerError};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::{Client, Config, NoTls};

/// The role every pooled connection switches to (migrations/0001_clinic.sql).
pub const WORKING_ROLE: &str = "clinicdesk_writer";

/// Parses a libpq-style connection string ("host=/run/postgresql dbname=clinic user=clinicdesk"
/// or a postgres:// URL). Only unix sockets and loopback are expected: the server and PostgreSQL
/// share a machine, so no TLS between them.
pub fn config(url: &str) -> Result<Config> {
    url.parse::<Config>().map_err(|e| ServerError::Setup(format!("The database connection string is not valid: {e}")))
}

/// A pool whose connections work as `clinicdesk_writer`.
pub fn pool(url: &str, size: usize) -> Result<Pool> {
    let mut config = config(url)?;
    config.options(format!("-c role={WORKING_ROLE}"));
    config.application_name("clinicdesk-server");
    let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    Pool::builder(manager)
        .max_size(size)
        .build()
        .map_err(|e| ServerError::Setup(format!("The database pool could not be set up: {e}")))
}

/// Start-up options of every working connection: the restricted role, and no transaction left
/// idle for long (a forgotten open transaction would hold back every desk's change feed, whose
/// horizon is the oldest running transaction).
pub(crate) fn working_options() -> String {
    format!("-c role={WORKING_ROLE} -c idle_in_transaction_session_timeout=60000")
}

/// One connection outside the pool, as the login role (migrations) or as the working role
/// (`working = true`: the sender's long-lived session that holds the advisory lock).
pub async fn connect(url: &str, working: bool) -> Result<Client> {
    let mut config = config(url)?;
    if working {
        config.options(working_options());
    }
    config.application_name("clinicdesk-server");
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "database connection closed");
        }
    });
    Ok(client)
}
