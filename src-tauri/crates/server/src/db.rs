//! Connections to the clinic's PostgreSQL database.
//!
//! Every pooled connection works as `clinicdesk_writer` (set at connection start-up), the role the
//! migrations grant only SELECT and INSERT on the audit log; the login role is needed only to run
//! migrations. Connection strings come from the server's config file, never from a desk.

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

/// One connection outside the pool, as the login role (migrations) or as the working role
/// (`working = true`: the sender's long-lived session that holds the advisory lock).
pub async fn connect(url: &str, working: bool) -> Result<Client> {
    let mut config = config(url)?;
    if working {
        config.options(format!("-c role={WORKING_ROLE}"));
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
