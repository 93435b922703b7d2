//! Everything ClinicDesk says to Twilio: the account configuration, access tokens, the one HTTP
//! client, and the Messages, Rooms and Conversations resources.

pub mod check;
pub mod config;
pub mod conversations;
pub mod error;
pub mod http;
pub mod messages;
pub mod pages;
pub mod rooms;
pub mod token;

pub use error::TwilioError;
pub use http::{Endpoints, TwilioHttp};
