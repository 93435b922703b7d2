//! Everything ClinicDesk says to Twilio: the account configuration, access tokens, the one HTTP
//! client, and the Messages, Rooms and Conversations resources.

pub mod config;
pub mod error;
pub mod http;
pub mod messages;
pub mod token;

pub use error::TwilioError;
pub use http::{Endpoints, TwilioHttp};
