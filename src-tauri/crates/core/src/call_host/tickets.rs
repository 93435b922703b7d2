//! One-time codes and the tickets they open. A code is kept only as its SHA-256 (a lookup by hash
//! compares nothing secret byte by byte), works once, and expires.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use ts_rs::TS;
use uuid::Uuid;

/// Seconds a link may wait before the page opens it: the browser opens within seconds, and a link
/// found later in the browser's history must be useless.
pub const CODE_LIFETIME_SECONDS: i64 = 120;

/// What the call page gets for its code: the doctor's token for the room, and whom they are calling
/// (named from the clinic's records).
#[derive(Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CallTicket {
    pub appointment_id: Uuid,
    pub token: String,
    pub identity: String,
    pub room: String,
    pub remote_name: String,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for CallTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallTicket")
            .field("appointment_id", &self.appointment_id)
            .field("room", &self.room)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum CallHostPhase {
    Opened,
    Joining,
    Connected,
    Reconnecting,
    Disconnected,
}

/// The state a call page reported, for the app window to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CallReport {
    pub appointment_id: Uuid,
    pub phase: CallHostPhase,
    /// The page's sentence (why it disconnected), at most a short line.
    pub message: Option<String>,
    pub at: DateTime<Utc>,
}

/// Why a code opened nothing (each has a sentence for the page).
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    Unknown,
    Used,
    Expired,
}

struct Pending {
    ticket: CallTicket,
    issued_at: DateTime<Utc>,
    used: bool,
}

#[derive(Default)]
pub(crate) struct Tickets {
    /// By SHA-256 of the code.
    codes: HashMap<[u8; 32], Pending>,
    /// Report keys (by hash) handed out with exchanged tickets: appointment they report for.
    report_keys: HashMap<[u8; 32], Uuid>,
}

fn random_code() -> String {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hash(code: &str) -> [u8; 32] {
    Sha256::digest(code.as_bytes()).into()
}

impl Tickets {
    pub(crate) fn issue(&mut self, ticket: CallTicket, now: DateTime<Utc>) -> String {
        let appointment = ticket.appointment_id;
        // One live link per appointment; used ones are kept a while to answer "already used".
        self.codes.retain(|_, p| {
            now - p.issued_at < Duration::minutes(30) && (p.used || p.ticket.appointment_id != appointment)
        });
        // A page opened from an earlier link stops reporting: only the newest page speaks for the call.
        self.report_keys.retain(|_, a| *a != appointment);
        let code = random_code();
        self.codes.insert(hash(&code), Pending { ticket, issued_at: now, used: false });
        code
    }

    /// The ticket for `code` and a fresh report key, once.
    pub(crate) fn exchange(&mut self, code: &str, now: DateTime<Utc>) -> Result<(CallTicket, String), Refused> {
        let pending = self.codes.get_mut(&hash(code)).ok_or(Refused::Unknown)?;
        if pending.used {
            return Err(Refused::Used);
        }
        if now - pending.issued_at > Duration::seconds(CODE_LIFETIME_SECONDS) {
            return Err(Refused::Expired);
        }
        pending.used = true;
        let key = random_code();
        self.report_keys.insert(hash(&key), pending.ticket.appointment_id);
        Ok((pending.ticket.clone(), key))
    }

    /// Forgets every link and report key of `appointment` (the consultation ended, or its doctor
    /// signed out): a page still open can no longer report, a link not yet opened no longer works.
    pub(crate) fn revoke(&mut self, appointment: Uuid) {
        self.codes.retain(|_, p| p.ticket.appointment_id != appointment);
        self.report_keys.retain(|_, a| *a != appointment);
    }

    /// Forgets every link and report key (the doctor signed out).
    pub(crate) fn revoke_all(&mut self) {
        self.codes.clear();
        self.report_keys.clear();
    }

    pub(crate) fn reporter(&self, key: &str) -> Option<Uuid> {
        self.report_keys.get(&hash(key)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(appointment: Uuid) -> CallTicket {
        CallTicket {
            appointment_id: appointment,
            token: "secret.jwt.token".into(),
            identity: "d-1".into(),
            room: "cd-room".into(),
            remote_name: "Olivia Smith".into(),
            expires_at: Utc::now(),
        }
    }

    #[test]
    fn a_code_opens_its_ticket_once_and_a_new_code_revokes_the_old() {
        let now = Utc::now();
        let mut tickets = Tickets::default();
        let appointment = Uuid::new_v4();
        let old = tickets.issue(ticket(appointment), now);
        let code = tickets.issue(ticket(appointment), now);
        assert!(code.len() >= 32 && code != old);
        assert_eq!(tickets.exchange(&old, now).unwrap_err(), Refused::Unknown);
        let (got, key) = tickets.exchange(&code, now).unwrap();
        assert_eq!(got.room, "cd-room");
        assert_eq!(tickets.reporter(&key), Some(appointment));
        assert_eq!(tickets.exchange(&code, now).unwrap_err(), Refused::Used);
        assert!(!format!("{got:?}").contains("secret.jwt.token"), "Debug never prints the token");
        let later = tickets.issue(ticket(appointment), now);
        assert_eq!(tickets.reporter(&key), None, "a newer link silences the page opened from the older one");
        let (_, key) = tickets.exchange(&later, now).unwrap();
        let other = tickets.issue(ticket(Uuid::new_v4()), now);
        tickets.revoke_all();
        assert_eq!((tickets.reporter(&key), tickets.exchange(&other, now).unwrap_err()), (None, Refused::Unknown));
        let later = tickets.issue(ticket(appointment), now);
        tickets.revoke(appointment);
        assert_eq!(tickets.reporter(&key), None, "the page can no longer report");
        assert_eq!(tickets.exchange(&later, now).unwrap_err(), Refused::Unknown);
    }

    #[test]
    fn a_code_dies_after_its_lifetime() {
        let now = Utc::now();
        let mut tickets = Tickets::default();
        let code = tickets.issue(ticket(Uuid::new_v4()), now);
        let late = now + Duration::seconds(CODE_LIFETIME_SECONDS + 1);
        assert_eq!(tickets.exchange(&code, late).unwrap_err(), Refused::Expired);
        assert_eq!(tickets.reporter("anything"), None);
    }
}
