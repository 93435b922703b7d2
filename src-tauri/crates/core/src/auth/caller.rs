//! The caller identity every core operation is checked against.

use crate::auth::Permission;
use crate::auth::Role;
use crate::error::{CoreError, Result};
use uuid::Uuid;

/// A verified, live session. Only the core can make one (from a checked token or a fresh sign-in),
/// so holding a `Caller` proves who is asking.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: Uuid,
    pub role: Role,
    pub email: String,
    pub full_name: String,
    pub(super) session_id: String,
}

impl Caller {
    pub fn require(&self, permission: Permission) -> Result<()> {
        if permission.allows(self.role) {
            Ok(())
        } else {
            Err(CoreError::Forbidden(format!(
                "Your role ({}) is not allowed to {}. Ask an administrator if you need this.",
                self.role.label(),
                permission.describe()
            )))
        }
    }
}

impl Caller {
    pub fn session_id(&self) -> &str {
        &self.session_id
    }
}
