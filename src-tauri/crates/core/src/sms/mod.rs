//! Text messages to patients: segment counting, the outbox that never loses or repeats a text, and
//! the worker that sends it through Twilio.

pub mod segments;
