//! Texts patients send back. (Scaffold: the reply reader comes with issue 8's replies work.) The
//! worker calls [`OutboxWorker::read_replies`] once per pass, after sending and polling.

use super::worker::{OutboxWorker, RunReport};
use crate::error::Result;
use crate::twilio::config::TwilioAccount;

impl OutboxWorker<'_> {
    pub(super) async fn read_replies(&self, _account: &TwilioAccount, _report: &mut RunReport) -> Result<()> {
        Ok(())
    }
}
