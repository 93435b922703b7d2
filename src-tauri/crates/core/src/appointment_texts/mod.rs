//! Texts driven by appointments: the confirmation, reschedule or cancellation written in the same
//! transaction as the change, reminders scheduled by rule, quiet hours, and what reception sees of
//! an appointment's texts. Built on the outbox (`sms::outbox`): nothing here talks to Twilio.

pub mod rules;

pub use rules::TextingSettings;
