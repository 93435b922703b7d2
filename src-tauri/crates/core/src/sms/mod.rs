//! Text messages to patients: segment counting, the outbox that never loses or repeats a text, the
//! worker that sends it through Twilio, and the replies patients send back (the inbox).

mod claim;
pub mod hold;
pub mod inbox;
mod lock;
mod model;
pub mod outbox;
pub mod pacer;
mod poll;
mod reconcile;
mod record;
mod replies;
pub mod reply_actions;
mod reply_store;
pub mod segments;
pub mod smart_encoding;
pub mod templates;
mod tuning;
pub mod worker;

pub use hold::SendingPaused;
pub use inbox::{IncomingText, ReplyHandling};
pub use model::{NewText, TextKind, TextMessage, TextState};

use crate::audit::{self, Actor, AuditAction};
use crate::auth::{Caller, Permission};
use crate::error::Result;
use crate::Clinic;
use uuid::Uuid;

pub struct Texts<'a> {
    pub(crate) clinic: &'a Clinic,
}

impl Texts<'_> {
    /// Puts a one-off text to `to` in the outbox (the worker sends it). Text pasted from other
    /// programs is normalised first (line ends, tabs, odd spaces: see `smart_encoding`), so what is
    /// stored and sent is what the person saw, without characters phones cannot show.
    pub fn send(&self, caller: &Caller, to: &str, body: &str) -> Result<TextMessage> {
        caller.require(Permission::SendTexts)?;
        crate::sync::pending::refuse_on_desk(&*self.clinic.db().conn()?, crate::sync::pending::ServerKeeps::Texts)?;
        let country = self.clinic.settings().current()?.default_country;
        let to = crate::patients::phone::normalise(to, &country)?;
        let body = smart_encoding::normalise(body);
        outbox::check_body(&body)?;
        let configured = self.clinic.twilio().is_configured()?;
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction()?;
        let patient: Option<Uuid> = tx
            .query_row("SELECT id FROM patients WHERE phone_e164 = ?1 ORDER BY created_at LIMIT 1", [&to], |r| {
                crate::db::uuid_at(r, 0)
            })
            .ok();
        let text = NewText {
            kind: TextKind::Custom,
            to,
            body,
            patient_id: patient,
            appointment_id: None,
            idempotency_key: format!("custom:{}", Uuid::new_v4()),
            due_at: now,
            about_starts_at: None,
            reminder_rule: None,
        };
        let (id, _) = outbox::enqueue(&tx, now, Some(caller.user_id), &text, configured)?;
        audit::record(
            &tx,
            now,
            Actor::Staff(caller),
            AuditAction::TextSent,
            Some(("sms", &id.to_string())),
            patient.map(|p| format!("patient {p}")).as_deref(),
        )?;
        let stored = outbox::find(&tx, id)?;
        tx.commit()?;
        Ok(stored)
    }

    /// Puts many texts in the outbox in one transaction (schedulers, imports). Each is a no-op if
    /// its idempotency key is already there; returns (id, newly added) for each.
    pub fn enqueue(&self, caller: &Caller, texts: &[NewText]) -> Result<Vec<(Uuid, bool)>> {
        caller.require(Permission::SendTexts)?;
        let configured = self.clinic.twilio().is_configured()?;
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction()?;
        let results = texts
            .iter()
            .map(|t| outbox::enqueue(&tx, now, Some(caller.user_id), t, configured))
            .collect::<Result<Vec<_>>>()?;
        let added = results.iter().filter(|(_, new)| *new).count();
        audit::record(
            &tx,
            now,
            Actor::Staff(caller),
            AuditAction::TextsQueued,
            None,
            Some(&format!("{added} of {} texts added", texts.len())),
        )?;
        tx.commit()?;
        Ok(results)
    }

    /// The outbox, newest first. Audited as a screen read of the patients the texts are to (the
    /// window refreshes it: once while it shows the same patients).
    pub fn list(&self, caller: &Caller, state: Option<TextState>, limit: u32) -> Result<Vec<TextMessage>> {
        caller.require(Permission::ReadPatients)?;
        let conn = self.clinic.db().conn()?;
        let texts: Vec<TextMessage> =
            outbox::list(&conn, state, limit)?.into_iter().map(TextMessage::as_shown).collect();
        audit::record_polled_screen_read(
            &conn,
            self.clinic.now(),
            caller,
            "texts list",
            texts.iter().filter_map(|t| t.patient_id),
        )?;
        Ok(texts)
    }

    pub fn get(&self, caller: &Caller, id: Uuid) -> Result<TextMessage> {
        caller.require(Permission::ReadPatients)?;
        let conn = self.clinic.db().conn()?;
        outbox::find(&conn, id).map(TextMessage::as_shown)
    }

    /// Why sending is paused, if it is (the clinic's Twilio setup is broken). Every signed-in
    /// member of staff may know that texts are waiting and why; the setup's details are for admins.
    pub fn sending_paused(&self, _caller: &Caller) -> Result<Option<SendingPaused>> {
        let conn = self.clinic.db().conn()?;
        hold::current(&conn)
    }

    /// After a passing setup check: a paused worker checks again at its next pass, instead of
    /// waiting out its own interval.
    pub fn setup_checked_ok(&self) -> Result<()> {
        let conn = self.clinic.db().conn()?;
        hold::check_soon(&conn, self.clinic.now())
    }

    /// Texts waiting to be sent or awaiting a final status.
    pub fn list_unfinished_count(&self) -> Result<u32> {
        let conn = self.clinic.db().conn()?;
        outbox::unfinished(&conn)
    }

    /// The worker's configuration from the clinic's settings.
    pub fn worker_config(&self) -> Result<worker::OutboxConfig> {
        Ok(worker::OutboxConfig {
            messages_per_second: self.clinic.settings().current()?.sms_messages_per_second,
            ..Default::default()
        })
    }
}
