//! Everything ClinicDesk says to Twilio: the account configuration, access tokens, the one HTTP
//! client, and the Messages, Messaging Services, Rooms, Conversations, chat media and Serverless resources.

pub mod check;
pub mod config;
pub mod conversations;
pub mod error;
pub mod http;
pub mod media;
pub mod messages;
pub mod messaging;
pub mod pages;
pub mod rooms;
pub mod serverless;
pub mod token;

pub use error::TwilioError;
pub use http::{Endpoints, TwilioHttp};
