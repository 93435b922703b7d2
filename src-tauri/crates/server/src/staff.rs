//! Who is asking. The server makes a `Staff` only from a checked session (sessions arrive with the
//! desk protocol); every operation checks it against the core's permission table, and a refusal is
//! audited in the same words as on a one-desk clinic.

use crate::audit;
use crate::error::Result;
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::auth::{refusal, Permission, Role};
use tokio_postgres::GenericClient;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Staff {
    pub(crate) user_id: Uuid,
    pub(crate) role: Role,
    pub(crate) email: String,
}

impl Staff {
    /// Only the server's own session checks (and tests in this crate) make one.
    pub(crate) fn new(user_id: Uuid, role: Role, email: String) -> Staff {
        Staff { user_id, role, email }
    }

    pub fn user_id(&self) -> Uuid {
        self.user_id
    }
    pub fn role(&self) -> Role {
        self.role
    }

    /// Allows the action or refuses it, writing `access.refused` to the audit log.
    pub async fn require(&self, db: &impl GenericClient, permission: Permission) -> Result<()> {
        if permission.allows(self.role) {
            return Ok(());
        }
        audit::record(db, Some(self), AuditAction::AccessRefused, None, Some(permission.as_str())).await?;
        Err(refusal(self.role, permission).into())
    }
}

/// For tests and the benchmark: a staff member as if signed in (the user must exist for audit rows
/// to name them, but nothing here checks a password).
#[doc(hidden)]
pub fn signed_in_for_tests(user_id: Uuid, role: Role, email: &str) -> Staff {
    Staff::new(user_id, role, email.to_string())
}
