//! The caller identity every core operation is checked against.

use crate::audit::{self, Actor, AuditAction};
use crate::auth::{Permission, Role};
use crate::clock::Clock;
use crate::db::Database;
use crate::error::{CoreError, Result};
use std::sync::Arc;
use uuid::Uuid;

/// A verified, live session. Only the core can make one (from a checked token or a fresh sign-in),
/// so holding a `Caller` proves who is asking. Its fields are readable but not writable outside the
/// core, so no front door can turn a receptionist into an administrator:
///
/// ```compile_fail
/// fn promote(caller: &mut clinicdesk_core::auth::Caller) {
///     caller.role = clinicdesk_core::auth::Role::Admin;
/// }
/// ```
#[derive(Clone)]
pub struct Caller {
    pub(crate) user_id: Uuid,
    pub(crate) role: Role,
    pub(crate) email: String,
    pub(crate) full_name: String,
    session_id: String,
    refusals: RefusalLog,
    /// Set when this folder's clinic moved onto a clinic server, or is moving (sync/migration.rs):
    /// the sentence every change is refused with; reading stays allowed.
    moved: Option<Arc<str>>,
    /// The move is under way, not finished: the mover's own steps go on (`require_to_move`).
    moving: bool,
}

/// Where a refused action is written down: the clinic's database and clock. A refusal is recorded
/// where it happens, inside `require`, so neither a front door nor a domain can forget to.
#[derive(Clone)]
struct RefusalLog {
    db: Database,
    clock: Arc<dyn Clock>,
}

impl Caller {
    pub(super) fn new(
        clinic: &crate::Clinic,
        user_id: Uuid,
        role: Role,
        email: String,
        full_name: String,
        session_id: String,
        moved: Option<crate::sync::migration::MoveNotice>,
    ) -> Caller {
        let refusals = RefusalLog { db: clinic.db().clone(), clock: clinic.clock() };
        let moving = moved.as_ref().is_some_and(|m| !m.finished);
        let moved = moved.map(|m| Arc::from(m.sentence));
        Caller { user_id, role, email, full_name, session_id, refusals, moved, moving }
    }

    pub fn user_id(&self) -> Uuid {
        self.user_id
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn email(&self) -> &str {
        &self.email
    }
    pub fn full_name(&self) -> &str {
        &self.full_name
    }
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// Allows the action or refuses it with a sentence; a refusal is written to the audit trail as
    /// `access.refused` with the permission's name.
    ///
    /// Call it before opening a transaction (every operation checks first): the refusal is written
    /// on a connection of its own and must not wait behind the caller's own write lock.
    pub fn require(&self, permission: Permission) -> Result<()> {
        if !permission.only_reads() {
            self.refuse_if_moved()?;
        }
        self.require_role(permission)
    }

    /// `require(ImportRecords)` for the steps of moving this clinic onto a clinic server (reading
    /// it out, marking the folder): they go on while the move is under way, when every other change
    /// is paused, and are refused once it finished.
    pub(crate) fn require_to_move(&self) -> Result<()> {
        if !self.moving {
            self.refuse_if_moved()?;
        }
        self.require_role(Permission::ImportRecords)
    }

    fn require_role(&self, permission: Permission) -> Result<()> {
        if permission.allows(self.role) {
            return Ok(());
        }
        self.record_refusal(permission);
        Err(refusal(self.role, permission))
    }

    /// Refuses any change in a folder whose clinic moved onto a clinic server. `require` does it
    /// for every permission that changes something; a check that allows by the record instead of
    /// by a permission (a doctor's own appointment) calls it itself.
    pub(crate) fn refuse_if_moved(&self) -> Result<()> {
        match self.moved.as_deref() {
            Some(moved) => Err(CoreError::Forbidden(moved.to_string())),
            None => Ok(()),
        }
    }

    /// Refuses an action the role allows but this record does not (a doctor acting on another
    /// doctor's consultation): audited like a refused permission, with `why` as the sentence.
    pub(crate) fn refuse(&self, permission: Permission, why: impl Into<String>) -> CoreError {
        self.record_refusal(permission);
        CoreError::Forbidden(why.into())
    }

    /// A failure to write the row is logged, never turned into a different answer: the action
    /// stays refused either way.
    fn record_refusal(&self, permission: Permission) {
        let now = self.refusals.clock.now();
        let written = self.refusals.db.conn().and_then(|conn| {
            audit::record(&conn, now, Actor::Staff(self), AuditAction::AccessRefused, None, Some(permission.as_str()))
        });
        if let Err(err) = written {
            tracing::error!(code = %err.code(), permission = permission.as_str(), "a refused action was not audited");
        }
    }
}

/// What staff read when their role may not do something (the same words on a desk and on the
/// clinic server).
pub fn refusal(role: Role, permission: Permission) -> CoreError {
    CoreError::Forbidden(format!(
        "Your role ({}) is not allowed to {}. Ask an administrator if you need this.",
        role.label(),
        permission.describe()
    ))
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("user_id", &self.user_id)
            .field("role", &self.role)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}
