//! The fake's memory: one account, its numbers, messages, rooms and conversations.

use crate::faults::Faults;
use chrono::{DateTime, Utc};
use rand::Rng;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub(crate) type Shared = Arc<Mutex<State>>;

/// What becomes of a text sent to a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// queued -> sending -> sent -> delivered, one step per poll.
    Delivered,
    /// ... -> undelivered with this carrier code (e.g. 30003).
    Undelivered(u32),
    /// ... -> failed with this code.
    Failed(u32),
    /// Refused when sent, with this HTTP status and code (e.g. 400 / 21610 for STOP).
    Refused { status: u16, code: u32, message: String },
    /// Stays "sending" however often it is polled.
    Stuck,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FakeMessage {
    pub sid: String,
    pub to: String,
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    /// "outbound-api" for texts sent through the API, "inbound" for texts patients sent in.
    pub direction: String,
    pub body: String,
    pub status: String,
    pub error_code: Option<u32>,
    pub date_created: DateTime<Utc>,
    pub date_sent: Option<DateTime<Utc>>,
    pub num_segments: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Room {
    pub sid: String,
    pub unique_name: String,
    pub status: String,
    pub kind: String,
    pub max_participants: u32,
    pub media_region: String,
    pub created: DateTime<Utc>,
    pub ended: Option<DateTime<Utc>>,
    pub participants: Vec<Participant>,
    /// Minutes (as asked at creation; the fake does not close rooms by itself).
    pub empty_timeout: Option<u32>,
    pub unused_timeout: Option<u32>,
    /// `RecordParticipantsOnConnect` at creation.
    pub record_on_connect: bool,
    /// The room's Recording Rules, as last set (`[]` until set).
    pub recording_rules: serde_json::Value,
    /// One audio and one video track recording per participant for each stretch of recording.
    pub recordings: Vec<Recording>,
}

/// A track recording: open (`end` None, Twilio's status "processing") while the room records it.
#[derive(Debug, Clone)]
pub(crate) struct Recording {
    pub sid: String,
    pub kind: &'static str,
    pub participant_sid: String,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

impl Room {
    /// Recording now: only while in progress; the last rule that applies to everything decides;
    /// without rules, the creation setting does.
    pub fn recording(&self) -> bool {
        if self.status != "in-progress" {
            return false;
        }
        let all = |r: &&serde_json::Value| r.get("all").and_then(|a| a.as_bool()) == Some(true);
        match self.recording_rules.as_array().and_then(|rules| rules.iter().rev().find(all)) {
            Some(rule) => rule.get("type").and_then(|t| t.as_str()) == Some("include"),
            None => self.record_on_connect,
        }
    }

    /// Brings the recordings in step with the rules and who is connected: each connected participant
    /// is recorded (audio and video) while recording is on; everything open closes when it goes off.
    pub fn sync_recordings(&mut self, now: DateTime<Utc>) {
        let on = self.recording();
        for rec in self.recordings.iter_mut().filter(|r| r.end.is_none()) {
            let connected = self.participants.iter().any(|p| p.sid == rec.participant_sid && p.end.is_none());
            if !on || !connected {
                rec.end = Some(now);
            }
        }
        if on {
            for p in self.participants.iter().filter(|p| p.end.is_none()) {
                if !self.recordings.iter().any(|r| r.participant_sid == p.sid && r.end.is_none()) {
                    for kind in ["audio", "video"] {
                        self.recordings.push(Recording {
                            sid: sid("RT"),
                            kind,
                            participant_sid: p.sid.clone(),
                            start: now,
                            end: None,
                        });
                    }
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Participant {
    pub sid: String,
    pub identity: String,
    pub start: DateTime<Utc>,
    /// `None` while connected.
    pub end: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Conversation {
    pub sid: String,
    pub unique_name: Option<String>,
    pub friendly_name: Option<String>,
    pub attributes: String,
    /// active, inactive or closed (closed is final: no more messages or changes, 50377).
    pub state: String,
    pub created: DateTime<Utc>,
    pub participants: Vec<ChatParticipant>,
    pub messages: Vec<ChatMessage>,
}

#[derive(Debug, Clone)]
pub(crate) struct ChatParticipant {
    pub sid: String,
    pub identity: String,
    pub attributes: String,
    pub last_read_message_index: Option<i64>,
    /// The conversation role it was added with (`RoleSid`), if any.
    pub role_sid: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct ChatMessage {
    pub sid: String,
    pub index: u32,
    pub author: String,
    pub body: Option<String>,
    /// Twilio's media list (sid, content_type, filename, size), metadata only.
    pub media: Option<serde_json::Value>,
    pub created: DateTime<Utc>,
}

pub(crate) struct State {
    pub account_status: String,
    pub account_type: String,
    pub numbers: Vec<String>,
    /// Messaging Services (MG...) and the account's numbers in each.
    pub services: HashMap<String, Vec<String>>,
    pub messages: Vec<FakeMessage>,
    pub outcomes: HashMap<String, Outcome>,
    pub rooms: Vec<Room>,
    pub conversations: Vec<Conversation>,
    pub faults: Faults,
    pub requests: Vec<String>,
    /// The same requests with their query strings ("GET /…/Messages.json?To=%2B44…").
    pub requests_with_query: Vec<String>,
    /// How far Twilio's clock is from this computer's (its `Date` header and timestamps use it).
    pub clock_offset: chrono::Duration,
    /// A new message shows in the Messages list only this long after it was created, as Twilio's
    /// list can lag just after a send.
    pub list_lag: chrono::Duration,
    /// While true every request is refused with 401 / 20003, as after a rotated Auth Token.
    pub credentials_rejected: bool,
    /// Serverless services, their assets, builds and environments.
    pub serverless: crate::serverless::Serverless,
    /// Conversation roles of the default Conversation Service.
    pub roles: Vec<crate::roles::Role>,
    /// Chat attachments in the Media Content Service.
    pub media: Vec<crate::media::Media>,
}

/// What a trial account puts before every text (TWILIO.md: trial accounts prefix a notice).
pub const TRIAL_PREFIX: &str = "Sent from your Twilio trial account - ";

pub(crate) fn sid(prefix: &str) -> String {
    let mut rng = rand::thread_rng();
    format!("{prefix}{}", (0..32).map(|_| format!("{:x}", rng.gen_range(0..16u8))).collect::<String>())
}

impl State {
    pub fn new() -> State {
        State {
            account_status: "active".into(),
            account_type: "Full".into(),
            numbers: vec![crate::FROM_NUMBER.into()],
            services: HashMap::new(),
            messages: Vec::new(),
            outcomes: HashMap::new(),
            rooms: Vec::new(),
            conversations: Vec::new(),
            faults: Faults::default(),
            requests: Vec::new(),
            requests_with_query: Vec::new(),
            clock_offset: chrono::Duration::zero(),
            list_lag: chrono::Duration::zero(),
            credentials_rejected: false,
            serverless: crate::serverless::Serverless::new(),
            roles: Vec::new(),
            media: Vec::new(),
        }
    }

    /// Twilio's idea of the time.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    /// The Messaging Service that owns `number`, if any.
    pub fn service_of(&self, number: &str) -> Option<String> {
        let mut owners: Vec<&String> = self
            .services
            .iter()
            .filter(|(_, numbers)| numbers.iter().any(|n| n == number))
            .map(|(sid, _)| sid)
            .collect();
        owners.sort();
        owners.first().map(|sid| (*sid).clone())
    }

    /// A text a patient sent to one of the account's numbers, as Twilio records it: direction
    /// "inbound", status "received", sent and created at `at` (Twilio's clock).
    pub fn receive(&mut self, from: &str, to: &str, body: &str, at: DateTime<Utc>) -> String {
        let message = FakeMessage {
            sid: sid("SM"),
            to: to.into(),
            from: Some(from.into()),
            messaging_service_sid: self.service_of(to),
            direction: "inbound".into(),
            num_segments: crate::messages::segments(body),
            body: body.into(),
            status: "received".into(),
            error_code: None,
            date_created: at,
            date_sent: Some(at),
        };
        let sid = message.sid.clone();
        self.messages.push(message);
        sid
    }

    pub fn add_participant(&mut self, room: &str, identity: &str, seconds: u32) {
        if let Some(r) = self.rooms.iter_mut().find(|r| r.sid == room || r.unique_name == room) {
            let start = r.created;
            let end = Some(start + chrono::Duration::seconds(i64::from(seconds)));
            r.participants.push(Participant { sid: sid("PA"), identity: identity.into(), start, end });
        }
    }

    /// The conversation by SID or unique name.
    pub fn conversation(&mut self, key: &str) -> Option<&mut Conversation> {
        self.conversations.iter_mut().find(|c| c.sid == key || c.unique_name.as_deref() == Some(key))
    }

    /// Appends a message; `None` when there is no such conversation or it is closed.
    pub fn add_chat_message(
        &mut self,
        conversation: &str,
        author: &str,
        body: Option<&str>,
        media: Option<serde_json::Value>,
    ) -> Option<ChatMessage> {
        let now = self.now();
        let c = self.conversation(conversation).filter(|c| c.state != "closed")?;
        let message = ChatMessage {
            sid: sid("IM"),
            index: c.messages.len() as u32,
            author: author.into(),
            body: body.map(Into::into),
            media,
            created: now,
        };
        c.messages.push(message.clone());
        Some(message)
    }

    /// Moves a message one step along its road to a final state (called on each fetch).
    pub fn advance(&mut self, index: usize) {
        let outcome = self.outcomes.get(&self.messages[index].to).cloned().unwrap_or(Outcome::Delivered);
        let m = &mut self.messages[index];
        let next = match (m.status.as_str(), &outcome) {
            ("queued" | "accepted", _) => "sending",
            ("sending", Outcome::Stuck) => "sending",
            ("sending", _) => "sent",
            ("sent", Outcome::Delivered) => "delivered",
            ("sent", Outcome::Undelivered(_)) => "undelivered",
            ("sent", Outcome::Failed(_)) => "failed",
            (other, _) => other,
        }
        .to_owned();
        if next == "sent" && m.date_sent.is_none() {
            m.date_sent = Some(Utc::now() + self.clock_offset);
        }
        m.error_code = match (&next[..], &outcome) {
            ("undelivered", Outcome::Undelivered(code)) | ("failed", Outcome::Failed(code)) => Some(*code),
            _ => m.error_code,
        };
        m.status = next;
    }
}
