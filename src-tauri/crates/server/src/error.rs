//! The server's errors. Rule failures are the core's own (`CoreError`, same sentences and codes as a
//! one-desk clinic); storage failures are logged in full and shown to staff in words.

use clinicdesk_core::error::CoreError;

pub type Result<T> = std::result::Result<T, ServerError>;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A rule said no (invalid input, a double booking, a stale edit, no permission).
    #[error(transparent)]
    Rule(#[from] CoreError),
    #[error("The clinic database could not be reached or refused the request. Try again; if it keeps happening, tell whoever looks after the clinic server.")]
    Database(#[from] tokio_postgres::Error),
    #[error("The clinic database could not be reached. Check that PostgreSQL is running.")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("{0}")]
    Setup(String),
}

impl ServerError {
    /// The SQLSTATE a database refusal carried (`23P01` for an exclusion constraint, ...).
    pub fn sql_state(&self) -> Option<&str> {
        match self {
            ServerError::Database(e) => e.code().map(|c| c.code()),
            _ => None,
        }
    }

    pub fn conflict(&self) -> bool {
        matches!(self, ServerError::Rule(CoreError::Conflict(_)))
    }
}
