//! Wakes desks waiting on the sync feed: one LISTEN session per server process, reconnected when it
//! drops, counting `clinicdesk_changes` notifications into a watch channel handlers wait on.

use crate::db;
use futures_util::StreamExt;
use std::time::Duration;
use tokio::sync::watch;
use tokio_postgres::AsyncMessage;

pub fn start(url: String) -> watch::Receiver<u64> {
    let (tx, rx) = watch::channel(0u64);
    tokio::spawn(async move {
        loop {
            if let Err(e) = listen(&url, &tx).await {
                tracing::warn!(error = %e, "change notifications paused; desks still poll every second");
            }
            if tx.is_closed() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    rx
}

async fn listen(url: &str, tx: &watch::Sender<u64>) -> crate::Result<()> {
    let mut config = db::config(url)?;
    config.options(db::working_options());
    config.application_name("clinicdesk-server (changes)");
    let (client, mut connection) = config.connect(tokio_postgres::NoTls).await?;
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    {
        let listening = client.batch_execute("LISTEN clinicdesk_changes");
        tokio::pin!(listening);
        // The connection must be driven for LISTEN itself to complete.
        loop {
            tokio::select! {
                done = &mut listening => { done?; break; }
                message = messages.next() => match message {
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.into()),
                    None => return Ok(()),
                }
            }
        }
    }
    while let Some(message) = messages.next().await {
        if let AsyncMessage::Notification(_) = message? {
            tx.send_modify(|n| *n += 1);
        }
    }
    // The session (and its LISTEN) lives as long as `client`.
    drop(client);
    Ok(())
}
