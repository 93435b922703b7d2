//! Ending a video consultation at Twilio, and fetching later the record of one ended without it:
//! the steps, the decision on Twilio's answer and the trail's words written once, for a one-desk
//! clinic (end.rs and late.rs, over SQLite) and the clinic server (`clinicdesk-server`'s
//! consultations/end.rs, over PostgreSQL), each implementing [`EndStore`] and
//! [`LateRecordStore`].
//!
//! Invariants:
//! - Until the store's last transaction commits the consultation stays in progress, so an end
//!   stopped half-way is simply asked for again: completing a completed room, closing a closed
//!   conversation and fetching again are all harmless, and the kept record is replaced whole.
//! - No database transaction, and no pooled connection, is held across a request to Twilio.
//! - With no answer from Twilio at all the consultation ends all the same, marked to have its
//!   record fetched later (by the sending worker or the server's sender: nobody needs to do
//!   anything when the network returns); Twilio refusing stops the end, in words.
//! - An end whose consultation was opened again in another room meanwhile (the doctor's other
//!   window rejoined after Twilio closed an empty room) keeps nothing and asks to be pressed again.
//!   The chat was closed by then and is not opened again: the call goes on without it until End
//!   is pressed again, which keeps the whole chat.

use super::end::kept_record;
use super::store::{KeptMessage, KeptParticipant};
use super::waiting::DeviceCheck;
use super::words::{self, Step};
use crate::error::CoreError;
use crate::twilio::config::TwilioAccount;
use crate::twilio::conversations::ChatMessage;
use crate::twilio::rooms::{self, RoomParticipant};
use crate::twilio::{conversations, TwilioError, TwilioHttp};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Twilio's answers for a room or conversation that is already finished or gone count as done: the
/// end's goal is reached all the same (20404 not found, 53118 room not in progress, 50377
/// conversation already closed).
pub fn done_already<T>(answer: Result<T, TwilioError>) -> Result<(), TwilioError> {
    match answer {
        Err(err) if !matches!(err.code(), Some(20404 | 53118 | 50377)) => Err(err),
        _ => Ok(()),
    }
}

/// What the steps need of a consultation's stored row.
#[derive(Debug, Clone)]
pub struct EndPlan {
    pub doctor_identity: String,
    pub patient_identity: String,
    /// In progress (or ended offline) means both SIDs are recorded.
    pub room_sid: Option<String>,
    /// Rooms Twilio closed before the end, oldest first.
    pub earlier_room_sids: Vec<String>,
    pub conversation_sid: Option<String>,
    /// Read what the patient's page reported while waiting (a store that keeps it).
    pub read_waiting_report: bool,
}

/// Who was in the room and the whole chat as the clinic keeps them, and what the patient's page
/// reported while waiting.
#[derive(Debug, Clone)]
pub struct KeptRecord {
    pub people: Vec<KeptParticipant>,
    pub chat: Vec<KeptMessage>,
    pub waiting: Option<(DateTime<Utc>, DeviceCheck)>,
}

/// How a store's completing transaction ended.
#[derive(Debug)]
pub enum Completed<T> {
    /// Completed now, or already by another end (reported as it stands).
    Ended(T),
    /// Still in progress, but in a room the plan did not have: nothing was written.
    RoomReopened,
}

/// Where an end is recorded (see the module's invariants).
#[allow(async_fn_in_trait)] // used with concrete stores only
pub trait EndStore {
    /// The store's own error; every rule's refusal converts into it.
    type Error: From<CoreError>;
    /// What the store answers once the consultation is completed.
    type Ended;
    /// The consultation as stored, read without holding anything: refused with
    /// [`refusal`](super::refusal)`("end", …)` unless it is in progress.
    async fn plan_end(&mut self) -> Result<EndPlan, Self::Error>;
    /// In one transaction, if still in progress in the plan's rooms: completed now by the caller
    /// with `record` kept (`None`: marked to have it fetched later), recording off, the
    /// appointment completed, one trail entry with `detail`.
    async fn complete(
        &mut self,
        plan: &EndPlan,
        record: Option<&KeptRecord>,
        detail: &str,
    ) -> Result<Completed<Self::Ended>, Self::Error>;
}

/// Ends a consultation for everyone and keeps its record. The caller has checked who may end it,
/// taken the `plan` ([`EndStore::plan_end`]: refused unless in progress) and then the clinic's
/// Twilio account, in that order (a state's refusal is said before "no Twilio account").
pub async fn end<S: EndStore>(
    store: &mut S,
    plan: EndPlan,
    http: &TwilioHttp,
    account: &TwilioAccount,
    patient: Uuid,
    now: DateTime<Utc>,
) -> Result<S::Ended, S::Error> {
    let record = match fetch(http, account, &plan, now).await {
        Ok(record) => Some(record),
        Err(err @ TwilioError::NoAnswer { .. }) => {
            tracing::warn!(code = ?err.code(), "ending a consultation without Twilio; its record is fetched later");
            None
        }
        Err(err) => return Err(words::failed(&err, Step::End).into()),
    };
    let detail = match &record {
        Some(r) => format!(
            "patient {patient}; {} participant connection(s), {} chat message(s) kept",
            r.people.len(),
            r.chat.len()
        ),
        None => format!(
            "patient {patient}; ended without a connection to Twilio: the room and the chat are fetched when the network returns"
        ),
    };
    match store.complete(&plan, record.as_ref(), &detail).await? {
        Completed::Ended(ended) => Ok(ended),
        Completed::RoomReopened => Err(CoreError::Conflict(
            "The consultation's room was opened again while it was ending. Press End again.".into(),
        )
        .into()),
    }
}

/// A consultation ended offline whose record is due to be fetched.
#[derive(Debug, Clone)]
pub struct LateRecord {
    pub appointment: Uuid,
    pub patient: Uuid,
    pub plan: EndPlan,
}

/// Where records fetched late are kept.
#[allow(async_fn_in_trait)] // used with concrete stores only
pub trait LateRecordStore {
    /// The store's own error.
    type Error: From<CoreError>;
    /// Up to `limit` consultations ended offline whose next try is due, longest waiting first.
    async fn due(&mut self, limit: u32) -> Result<Vec<LateRecord>, Self::Error>;
    /// Twilio refused this one's fetch: the next try waits 1, 2, 4 … minutes, at most six hours.
    async fn fetch_later(&mut self, appointment: Uuid) -> Result<(), Self::Error>;
    /// In one transaction, if still marked: the record kept, the mark cleared, one trail entry
    /// with `detail` by the clinic's automatic actor. `false`: fetched meanwhile by another.
    async fn keep_late(&mut self, appointment: Uuid, record: &KeptRecord, detail: &str) -> Result<bool, Self::Error>;
}

/// Fetches the records of consultations that ended while Twilio could not be reached, as the end
/// would have. Stops at the first that still cannot reach Twilio; one that Twilio refuses waits
/// for a later pass without holding up the others. Returns how many were kept.
pub async fn fetch_late_records<S: LateRecordStore>(
    store: &mut S,
    http: &TwilioHttp,
    account: &TwilioAccount,
    limit: u32,
    now: DateTime<Utc>,
) -> Result<u32, S::Error> {
    let mut done = 0;
    for late in store.due(limit).await? {
        let record = match fetch(http, account, &late.plan, now).await {
            Ok(record) => record,
            Err(err @ TwilioError::NoAnswer { .. }) => {
                tracing::info!(code = ?err.code(), "Twilio still unreachable; late consultation records wait");
                break;
            }
            Err(err) => {
                tracing::warn!(code = ?err.code(), "could not fetch a consultation's record late; trying again later");
                store.fetch_later(late.appointment).await?;
                continue;
            }
        };
        let detail = format!(
            "patient {}; fetched after an offline end: {} participant connection(s), {} chat message(s) kept",
            late.patient,
            record.people.len(),
            record.chat.len()
        );
        if store.keep_late(late.appointment, &record, &detail).await? {
            done += 1;
        }
    }
    Ok(done)
}

/// Completes the room (for everyone in it) and closes the conversation, then fetches who was in
/// every room the consultation had (a rejoin after Twilio closed an empty room opens a new one
/// under the same name), the whole chat, and what the patient's page reported; kept as the clinic
/// keeps them (roles beside identities). Each step is harmless to repeat.
async fn fetch(
    http: &TwilioHttp,
    account: &TwilioAccount,
    plan: &EndPlan,
    now: DateTime<Utc>,
) -> Result<KeptRecord, TwilioError> {
    let room_sid = plan.room_sid.clone().unwrap_or_default();
    let chat_sid = plan.conversation_sid.clone().unwrap_or_default();
    done_already(rooms::complete(http, account, &room_sid).await)?;
    done_already(conversations::close(http, account, &chat_sid).await)?;
    let mut people: Vec<RoomParticipant> = Vec::new();
    for sid in plan.earlier_room_sids.iter().chain([&room_sid]) {
        people.extend(rooms::participants(http, account, sid).await?);
    }
    let transcript: Vec<ChatMessage> = conversations::transcript(http, account, &chat_sid).await?;
    // The waiting room is a nicety of the record: its failure does not hold up the end.
    let waiting = if !plan.read_waiting_report {
        None
    } else {
        match conversations::participants(http, account, &chat_sid).await {
            Ok(members) => members
                .iter()
                .find(|m| m.identity.as_deref() == Some(plan.patient_identity.as_str()))
                .and_then(|m| m.attributes.as_deref())
                .and_then(super::waiting::reported),
            Err(err) => {
                tracing::warn!(code = ?err.code(), "could not read the waiting room for the record");
                None
            }
        }
    };
    let (people, chat) = kept_record(&plan.doctor_identity, &plan.patient_identity, &people, &transcript, now);
    Ok(KeptRecord { people, chat, waiting })
}
