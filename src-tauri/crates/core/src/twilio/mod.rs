//! Everything ClinicDesk says to Twilio: access tokens, and (below) the REST client, messages, rooms
//! and conversations.

pub mod token;
