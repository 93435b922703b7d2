//! What a test may look at and do from outside, as a patient's browser or Twilio itself would:
//! copies of the rooms and conversations, people joining and leaving rooms, the patient's chat
//! messages (with attachments) and read horizon.

use crate::FakeTwilio;

#[derive(Debug, Clone, PartialEq)]
pub struct FakeRoom {
    pub sid: String,
    pub unique_name: String,
    /// in-progress or completed.
    pub status: String,
    pub kind: String,
    pub max_participants: u32,
    pub media_region: String,
    pub empty_timeout: Option<u32>,
    pub unused_timeout: Option<u32>,
    pub record_on_connect: bool,
    /// Recording now, by the Recording Rules (or the creation setting without rules).
    pub recording: bool,
    /// Identities, in the order they joined (one entry per connection).
    pub participants: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FakeConversation {
    pub sid: String,
    pub unique_name: Option<String>,
    pub friendly_name: Option<String>,
    pub attributes: String,
    /// active, inactive or closed.
    pub state: String,
    pub participants: Vec<FakeChatParticipant>,
    pub messages: Vec<FakeChatMessage>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FakeChatParticipant {
    pub sid: String,
    pub identity: String,
    pub attributes: String,
    pub last_read_message_index: Option<i64>,
    pub role_sid: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FakeChatMessage {
    pub index: u32,
    pub author: String,
    pub body: Option<String>,
    pub media: Option<serde_json::Value>,
}

impl FakeTwilio {
    pub fn rooms(&self) -> Vec<FakeRoom> {
        let s = self.state.lock().unwrap();
        s.rooms
            .iter()
            .map(|r| FakeRoom {
                sid: r.sid.clone(),
                unique_name: r.unique_name.clone(),
                status: r.status.clone(),
                kind: r.kind.clone(),
                max_participants: r.max_participants,
                media_region: r.media_region.clone(),
                empty_timeout: r.empty_timeout,
                unused_timeout: r.unused_timeout,
                record_on_connect: r.record_on_connect,
                recording: r.recording(),
                participants: r.participants.iter().map(|p| p.identity.clone()).collect(),
            })
            .collect()
    }

    pub fn conversations(&self) -> Vec<FakeConversation> {
        let s = self.state.lock().unwrap();
        s.conversations
            .iter()
            .map(|c| FakeConversation {
                sid: c.sid.clone(),
                unique_name: c.unique_name.clone(),
                friendly_name: c.friendly_name.clone(),
                attributes: c.attributes.clone(),
                state: c.state.clone(),
                participants: c
                    .participants
                    .iter()
                    .map(|p| FakeChatParticipant {
                        sid: p.sid.clone(),
                        identity: p.identity.clone(),
                        attributes: p.attributes.clone(),
                        last_read_message_index: p.last_read_message_index,
                        role_sid: p.role_sid.clone(),
                    })
                    .collect(),
                messages: c
                    .messages
                    .iter()
                    .map(|m| FakeChatMessage {
                        index: m.index,
                        author: m.author.clone(),
                        body: m.body.clone(),
                        media: m.media.clone(),
                    })
                    .collect(),
            })
            .collect()
    }

    /// `identity` connects to the in-progress room `room` (SID or unique name) now.
    pub fn connect(&self, room: &str, identity: &str) {
        let mut s = self.state.lock().unwrap();
        let now = s.now();
        if let Some(r) =
            s.rooms.iter_mut().rev().find(|r| r.sid == room || (r.unique_name == room && r.status == "in-progress"))
        {
            r.participants.push(crate::state::Participant {
                sid: crate::state::sid("PA"),
                identity: identity.into(),
                start: now,
                end: None,
            });
            r.sync_recordings(now);
        }
    }

    /// `identity` leaves the room `room` (SID or unique name) now, `seconds` after joining (so
    /// tests need not wait for a duration to pass).
    pub fn disconnect(&self, room: &str, identity: &str, seconds: i64) {
        let mut s = self.state.lock().unwrap();
        if let Some(r) = s.rooms.iter_mut().rev().find(|r| r.sid == room || r.unique_name == room) {
            if let Some(p) = r.participants.iter_mut().find(|p| p.identity == identity && p.end.is_none()) {
                p.end = Some(p.start + chrono::Duration::seconds(seconds));
                let left = p.end.unwrap_or(p.start);
                r.sync_recordings(left);
            }
        }
    }

    /// Twilio closes the room by itself (as after its empty-room timeout): completed, everyone out.
    pub fn close_room(&self, room_sid: &str) {
        let mut s = self.state.lock().unwrap();
        let now = s.now();
        if let Some(r) = s.rooms.iter_mut().find(|r| r.sid == room_sid && r.status == "in-progress") {
            r.status = "completed".into();
            r.ended = Some(now);
            for p in r.participants.iter_mut().filter(|p| p.end.is_none()) {
                p.end = Some(now);
            }
            r.sync_recordings(now);
        }
    }

    /// A message with attachments (Twilio's media list: sid, content_type, filename, size), as the
    /// patient's page would post it. `false` when the conversation is missing or closed.
    pub fn add_chat_media(
        &self,
        conversation: &str,
        author: &str,
        body: Option<&str>,
        media: serde_json::Value,
    ) -> bool {
        self.state.lock().unwrap().add_chat_message(conversation, author, body, Some(media)).is_some()
    }

    /// Adds a message with one attachment to a conversation, as a participant's browser does
    /// (the SDK uploads the file to the Media Content Service, then sends the message). Returns
    /// the media SID (ME...), or `None` if the conversation is unknown or closed.
    pub fn add_chat_file(
        &self,
        conversation_sid: &str,
        author: &str,
        filename: &str,
        content_type: &str,
        content: &[u8],
    ) -> Option<String> {
        let mut s = self.state.lock().unwrap();
        let created = s.now();
        let mut media = crate::media::Media {
            sid: crate::state::sid("ME"),
            service_sid: crate::CHAT_SERVICE_SID.into(),
            content_type: content_type.into(),
            filename: Some(filename.into()),
            content: content.to_vec(),
            message_sid: None,
            conversation_sid: None,
            author: author.into(),
            created,
        };
        let message = s.add_chat_message(conversation_sid, author, None, Some(serde_json::json!([media.listed()])))?;
        media.message_sid = Some(message.sid);
        media.conversation_sid = s.conversation(conversation_sid).map(|c| c.sid.clone());
        let sid = media.sid.clone();
        s.media.push(media);
        Some(sid)
    }

    /// Deletes an attachment from the Media Content Service (the message still lists it).
    pub fn delete_chat_media(&self, media_sid: &str) {
        self.state.lock().unwrap().media.retain(|m| m.sid != media_sid);
    }

    /// `identity` has read the conversation up to `index` (what the patient's app reports).
    pub fn read_up_to(&self, conversation: &str, identity: &str, index: i64) {
        let mut s = self.state.lock().unwrap();
        if let Some(c) = s.conversation(conversation) {
            if let Some(p) = c.participants.iter_mut().find(|p| p.identity == identity) {
                p.last_read_message_index = Some(index);
            }
        }
    }
}
